//! The command line: clap fills raw arguments ([`Cli`]), each command's
//! file turns them into validated options, calls the library, and hands a
//! report to [`output`] to render as text or `--json`. Nothing outside
//! `cli/` writes to stdout or stderr.

mod apply;
pub mod audit;
mod bundle;
mod diff;
mod import;
mod key;
mod lint;
pub mod log;
mod new;
pub mod output;
mod publish;
pub mod reference;
mod repo;
pub mod sbom;
mod update;
mod withdraw;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Error;
use crate::patch::Fuzz;
use crate::repo::catalog::Catalog;
use crate::state::Home;

pub use diff::DiffArgs;
pub use import::ImportArgs;
pub use lint::LintArgs;
pub use new::NewArgs;
pub use withdraw::WithdrawArgs;

/// Signed third-party security patches for CPAN distributions.
///
/// patchkit applies the CPAN Security Group's patches to a distribution
/// tarball (or an unpacked distribution) before it is built and installed,
/// and leaves a record inside it that auditors can read later.
#[derive(Debug, Parser)]
#[command(
    name = "patchkit",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "By task:\n  \
      packagers:      repo add, update, check, apply, bundle   (docs/applying.md)\n  \
      auditors:       audit, sbom, log                         (docs/auditing.md)\n  \
      security team:  new, diff, import, lint, publish, sign, withdraw, key   (docs/publishing.md)\n\n\
      Exit status: 0 success (also when nothing matched), 1 a patch did not apply or an operation \
      failed, 2 bad usage or unreadable input, 3 a signature, hash or freshness check failed."
)]
pub struct Cli {
    /// State directory (trusted roots, metadata cache, application log).
    /// Default: $PATCHKIT_HOME, else $XDG_DATA_HOME/patchkit, else
    /// ~/.local/share/patchkit.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Print exactly one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show which patches match each target and whether they would apply.
    ///
    /// Writes nothing. For each target: the distribution it is, the patches
    /// that match its version, and for each whether it would apply (and
    /// with which offsets), is already applied, or is withdrawn.
    Check(TargetArgs),
    /// Apply the matching patches to each target.
    ///
    /// A tarball is written patched into -o DIR under its original file
    /// name (copied unchanged when nothing matches); a directory is patched
    /// in place. All or nothing per target: when one hunk of one patch
    /// fails, nothing of that target is written. Each target gets its own
    /// line; one failure does not stop the others.
    Apply(ApplyArgs),
    /// Manage signing keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Add one signature to a staged metadata file (threshold signing).
    ///
    /// When a role needs more signatures than the keys one maintainer
    /// holds, `publish` stages the file under OUT/staged/ and prints its
    /// path. Each other key holder signs it with this command; the next
    /// `publish` picks it up once the threshold is met.
    Sign(key::SignArgs),
    /// Build or update the signed repository (TUF 1.0) from a source tree.
    ///
    /// Validates every record first, then writes OUT/metadata/ and
    /// OUT/targets/ (static files for any web server, CDN or mirror). A
    /// role gets a new version only when its content changed, it nears
    /// expiry, or its keys changed. Rotating root: list the new root keys
    /// in KEYS.toml and the old ones under `[root] previous = [...]`.
    Publish(publish::PublishArgs),
    /// Configure the signed repositories this home trusts.
    #[command(subcommand)]
    Repo(repo::RepoCommand),
    /// Fetch and verify the latest metadata and patches of one or every
    /// configured repository.
    ///
    /// Follows root rotations, checks signatures against thresholds,
    /// versions (no rollback), expiry, lengths and hashes, then downloads
    /// every patch. A refused update leaves the trusted state exactly as it
    /// was and names the role and the check (exit 3; 1 when the repository
    /// cannot be reached).
    Update(update::UpdateArgs),
    /// Carry a verified repository to machines without network access.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Show which patches each tarball, directory or installed library
    /// carries, whether they are genuine, and which it is missing.
    ///
    /// PATH is a tarball, an unpacked distribution, or a Perl library tree
    /// (cpanm/Carton `local/`, a site library). Each carried patch is
    /// genuine, superseded, withdrawn or unknown; recorded files whose
    /// content changed are tampered; published patches in range that are
    /// not carried are MISSING. Problems with one distribution are reported
    /// for it and the rest is still audited. See docs/auditing.md.
    Audit(audit::AuditArgs),
    /// Write a CycloneDX SBOM (JSON) of the distributions in each PATH,
    /// with each applied patch as pedigree.
    Sbom(sbom::SbomArgs),
    /// Show the application log of this home: every apply, when, on what,
    /// with which digests and result.
    Log,
    /// Scaffold a new patch record with a fresh id (PK-YEAR-NNNN).
    ///
    /// Writes `SOURCE/<Dist>/<ID>.toml` with every field; the patch itself is
    /// written next by `diff` or `import`.
    New(NewArgs),
    /// Write a record's patch from a pristine and an edited distribution.
    ///
    /// ORIGINAL and EDITED are tarballs or directories. Editor backups,
    /// build products and VCS folders are left out (docs/publishing.md);
    /// binary changes are refused. The patch is checked by applying it to
    /// ORIGINAL before it is written.
    Diff(DiffArgs),
    /// Fill a record from upstream git commits or an existing patch.
    Import(ImportArgs),
    /// Check every record; with --against, try each patch on real tarballs.
    ///
    /// Exit status 1 when a record is invalid or a patch does not apply.
    Lint(LintArgs),
    /// Mark a record withdrawn: it stays in the history, is never applied
    /// again, and `check` says why.
    Withdraw(WithdrawArgs),
}

/// Where the patches come from, and how strictly they apply.
#[derive(Debug, Args)]
pub struct RepoArgs {
    /// Use an UNSIGNED repository source tree: the folder that holds one
    /// folder per distribution (this project's is patches/). For patch
    /// authors: nothing is verified.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,

    /// The signed repository to use (default: the only one configured).
    #[arg(long, value_name = "NAME", conflicts_with = "source")]
    pub repo: Option<String>,

    /// Do not contact the repository: use the verified cache from the last
    /// `patchkit update` (verified again; refused once expired). Says how
    /// old the data is.
    #[arg(long, conflicts_with_all = ["source", "bundle"])]
    pub offline: bool,

    /// Use a bundle file made by `patchkit bundle create` instead of the
    /// network, verified against --root ROOT.json (or the configured
    /// repository's trusted root) as of the time it was made.
    #[arg(long, value_name = "FILE", conflicts_with = "source")]
    pub bundle: Option<PathBuf>,

    /// With --bundle: the pinned root to verify the bundle against.
    #[arg(long, value_name = "ROOT.json", requires = "bundle")]
    pub root: Option<PathBuf>,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Repository options.
    #[command(flatten)]
    pub repo: RepoArgs,

    /// Allow up to N context lines to be ignored at each end of a hunk, as
    /// GNU patch's --fuzz does. Default 0: context must match exactly
    /// (hunks may still move; the offset is reported).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fuzz: usize,

    /// Distribution tarballs (.tar.gz, .tgz, .tar.bz2) or unpacked
    /// distribution directories.
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<PathBuf>,
}

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Targets and repository options.
    #[command(flatten)]
    pub common: TargetArgs,

    /// Write each patched tarball into DIR under its original file name
    /// (required for tarball targets; created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl TargetArgs {
    /// The engine's fuzz setting.
    pub fn fuzz(&self) -> Fuzz {
        match self.fuzz {
            0 => Fuzz::None,
            n => Fuzz::Lines(n),
        }
    }
}

/// Everything a command needs from the global options.
pub struct Context {
    /// The state directory.
    pub home: Home,
    /// `--json`.
    pub json: bool,
}

/// Run the parsed command line; returns the exit status.
pub fn run(cli: Cli) -> Result<i32, Error> {
    let ctx = Context {
        home: Home::resolve(cli.home.as_deref())?,
        json: cli.json,
    };
    match cli.command {
        Command::Check(args) => apply::run(&ctx, &args, None, crate::apply::Mode::Check),
        Command::Apply(args) => apply::run(
            &ctx,
            &args.common,
            args.out.as_deref(),
            crate::apply::Mode::Apply,
        ),
        Command::Key(cmd) => key::run(&ctx, &cmd),
        Command::Sign(args) => key::sign(&ctx, &args),
        Command::Publish(args) => publish::run(&ctx, &args),
        Command::Repo(cmd) => repo::run(&ctx, &cmd),
        Command::Update(args) => update::run(&ctx, &args),
        Command::Bundle(cmd) => bundle::run(&ctx, &cmd),
        Command::Audit(args) => audit::run(&ctx, &args),
        Command::Sbom(args) => sbom::run(&ctx, &args),
        Command::Log => log::run(&ctx),
        Command::New(args) => new::run(&ctx, &args),
        Command::Diff(args) => diff::run(&ctx, &args),
        Command::Import(args) => import::run(&ctx, &args),
        Command::Lint(args) => lint::run(&ctx, &args),
        Command::Withdraw(args) => withdraw::run(&ctx, &args),
    }
}

/// Today's date from the local clock: read here, in the CLI layer only, so
/// that the library stays deterministic.
fn today() -> crate::repo::authoring::Today {
    crate::repo::authoring::Today(chrono::Local::now().date_naive())
}

/// Load the catalog the repository options name: `--source` (unsigned,
/// loudly), `--bundle` (verified as of its making), `--offline` (the
/// verified cache), else the configured repository, updated first. Every
/// client command (check, apply, audit) goes through here.
pub(crate) fn load_catalog(ctx: &Context, repo: &RepoArgs) -> Result<Catalog, Error> {
    match &repo.source {
        Some(dir) => {
            output::unsigned_banner(dir);
            let catalog = crate::repo::source::load(dir)?;
            for w in &catalog.warnings {
                output::warn(&w.to_string());
            }
            Ok(catalog)
        }
        None => signed_catalog(ctx, repo),
    }
}

/// The signed branch of [`load_catalog`].
fn signed_catalog(ctx: &Context, repo: &RepoArgs) -> Result<Catalog, Error> {
    use crate::repo::{bundle, signed};
    let now = chrono::Utc::now();
    if let Some(path) = &repo.bundle {
        let b = bundle::open(path)?;
        let root = repo
            .root
            .as_deref()
            .map(signed::read_pinned_root)
            .transpose()?;
        // Without --root, the home's repository of the bundle's name (or
        // --repo) pins it.
        let home_repo = match (&root, &repo.repo) {
            (Some(_), _) => None,
            (None, Some(n)) => Some(signed::choose(&ctx.home, Some(n))?),
            (None, None) => signed::config(&ctx.home, &b.description.repository)
                .ok()
                .map(|c| c.name),
        };
        let loaded = bundle::verify(
            &b,
            path,
            root.as_deref(),
            &ctx.home,
            home_repo.as_deref(),
            now,
        )?;
        output::notice(&format!(
            "using bundle {} of repository {}: verified as of {}, when it was made ({}); \
             its freshness is as of that time, not now",
            path.display(),
            b.description.repository,
            b.description.created,
            age_text(now, b.created),
        ));
        return Ok(loaded.catalog);
    }
    let name = signed::choose(&ctx.home, repo.repo.as_deref())?;
    if !repo.offline {
        update::update_one(ctx, &name)?;
    }
    let loaded = signed::load_cached(&ctx.home, &name, now)?;
    if repo.offline {
        let when = loaded.as_of.map_or("an unknown time".to_string(), |t| {
            format!(
                "{} ({})",
                crate::repo::tuf::metadata::tuf_time::format(&t),
                age_text(now, t)
            )
        });
        output::notice(&format!(
            "offline: using the verified cache of repository {name}, last updated {when}"
        ));
    }
    Ok(loaded.catalog)
}

/// "3 days ago", "5 hours ago", "just now".
fn age_text(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (now - then).num_seconds();
    if secs < 0 {
        return "in the future".into();
    }
    let (n, unit) = match secs {
        0..=59 => return "less than a minute ago".into(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}
