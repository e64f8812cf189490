//! The command line: clap fills raw arguments ([`Cli`]), each command's
//! file turns them into validated options, calls the library, and hands a
//! report to [`output`] to render as text or `--json`. Nothing outside
//! `cli/` writes to stdout or stderr.

mod apply;
pub(crate) mod audit;
mod bundle;
mod config;
mod diff;
mod export;
mod import;
mod key;
mod lint;
pub(crate) mod log;
mod mirror;
mod new;
pub(crate) mod output;
mod progress;
mod publish;
#[cfg(test)]
mod reference;
mod repo;
pub(crate) mod sbom;
mod serve;
mod shell;
mod update;
mod withdraw;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use patchkit::catalog::Catalog;
use patchkit::client::{self, Freshness, Notice, PatchSource};
use patchkit::config::Config;
use patchkit::error::Error;
use patchkit::patch::Fuzz;
use patchkit::state::Home;

pub(crate) use diff::DiffArgs;
pub(crate) use import::ImportArgs;
pub(crate) use lint::LintArgs;
pub(crate) use new::NewArgs;
pub(crate) use withdraw::WithdrawArgs;

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
      installers:     serve, mirror, export                    (docs/packaging.md)\n  \
      auditors:       audit, sbom, log                         (docs/auditing.md)\n  \
      security team:  new, diff, import, lint, publish, sign, withdraw, key, export   (docs/publishing.md)\n\n\
      Exit status: 0 success (also when nothing matched), 1 a patch did not apply or an operation \
      failed, 2 bad usage or unreadable input, 3 a signature, hash or freshness check failed."
)]
pub(crate) struct Cli {
    /// State directory (trusted roots, metadata cache, application log).
    /// Default: $PATCHKIT_HOME, else $XDG_DATA_HOME/patchkit, else
    /// ~/.local/share/patchkit.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,

    /// Print exactly one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// Quiet: no notices or progress on stderr (freshness, fall-back,
    /// progress bars); warnings, errors and the report itself still print.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Verbose: more detail in the text report (for `update`, the TUF
    /// versions of each role and the number of targets verified).
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,

    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
    /// holds, `publish` stages the file under OUT.staged/ (beside OUT,
    /// never served) and prints its path. Each other key holder signs it
    /// with this command, which refuses a key the role does not list; the
    /// signed file goes back into the staged directory, and the next
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
    /// Show every setting (limits, skipped patches), its value and where
    /// it came from: default, config file, environment or command line.
    ///
    /// Settings live in HOME/config.toml (`[limits]`, `[apply]`), and
    /// PATCHKIT_LIMITS_<KEY> or PATCHKIT_APPLY_SKIP override them. Unknown
    /// keys are refused. See docs/formats.md.
    Config(config::ConfigArgs),
    /// Fetch and verify the latest metadata and patches of one or every
    /// configured repository.
    ///
    /// Follows root rotations, checks signatures against thresholds,
    /// versions (no rollback), expiry, lengths and hashes, then downloads
    /// every patch. A refused update leaves the trusted state exactly as it
    /// was and names the role and the check (exit 3; 1 when the repository
    /// cannot be reached).
    Update(update::UpdateArgs),
    /// Serve a patching CPAN mirror over HTTP in front of an upstream one.
    ///
    /// Point cpanm, cpm, Carton or CPAN.pm at it: distribution tarballs
    /// come patched when verified patches match (the original otherwise),
    /// each CHECKSUMS is rewritten to describe the bytes served, and every
    /// other file passes through. Patched tarballs are built once and
    /// cached (content-addressed; the cache may be shared). One access-log
    /// line per request on stderr. See docs/packaging.md.
    Serve(serve::ServeArgs),
    /// Write a patched copy of a CPAN mirror directory (or patch a Carton
    /// vendor/cache in place): the bytes `serve` would send, layout kept.
    ///
    /// Only files whose bytes differ from DEST are written, so a second run
    /// after a repository update rewrites only what changed.
    Mirror(mirror::MirrorArgs),
    /// Write files for other tools: CPAN.pm distroprefs, a quilt series
    /// for debian/patches, CSAF 2.0 advisories.
    #[command(subcommand)]
    Export(export::ExportCommand),
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
    /// Show the application log of this home: every apply, when, on which
    /// host, on what (absolute paths), with which digests and result.
    Log(log::LogArgs),
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
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell) generated from this command line.
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff) generated from this command line.
    Man,
}

/// Where the patches come from, and how strictly they apply.
#[derive(Debug, Args)]
pub(crate) struct RepoArgs {
    /// Use an UNSIGNED repository source tree: the folder that holds one
    /// folder per distribution (this project's is patches/). For patch
    /// authors: nothing is verified.
    #[arg(long, value_name = "DIR")]
    pub(crate) source: Option<PathBuf>,

    /// The signed repository to use; repeat to layer several (the first
    /// that publishes a patch id wins it, and stderr says so). Default:
    /// every configured repository, in the order they were added.
    #[arg(long, value_name = "NAME", conflicts_with = "source")]
    pub(crate) repo: Vec<String>,

    /// Do not contact the repository: use the verified cache from the last
    /// `patchkit update` (verified again; refused once expired). Says how
    /// old the data is.
    #[arg(long, conflicts_with_all = ["source", "bundle"])]
    pub(crate) offline: bool,

    /// Use a bundle file made by `patchkit bundle create` instead of the
    /// network, verified against --root ROOT.json (or the configured
    /// repository's trusted root) as of the time it was made.
    #[arg(long, value_name = "FILE", conflicts_with = "source")]
    pub(crate) bundle: Option<PathBuf>,

    /// With --bundle: the pinned root to verify the bundle against.
    #[arg(long, value_name = "ROOT.json", requires = "bundle")]
    pub(crate) root: Option<PathBuf>,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// Repository options.
    #[command(flatten)]
    pub(crate) repo: RepoArgs,

    /// Allow up to N context lines to be ignored at each end of a hunk, as
    /// GNU patch's --fuzz does. Default 0 (or the config's apply.fuzz):
    /// context must match exactly (hunks may still move; the offset is
    /// reported).
    #[arg(long, value_name = "N")]
    pub(crate) fuzz: Option<usize>,

    /// Do not apply this patch (a record id, or a CVE / GHSA id it
    /// resolves); repeatable. The patch is reported and recorded as
    /// skipped, and `audit` still reports it missing (by request).
    #[arg(long, value_name = "ID")]
    pub(crate) skip: Vec<String>,

    /// When a patch does not apply, still apply the target's other patches
    /// and record the failure (exit status stays 1). Default: all or
    /// nothing, the target is left untouched (the config's apply.partial
    /// can change it).
    #[arg(long)]
    pub(crate) partial: bool,

    /// Treat each directory TARGET as a tree of archives (a CPAN mirror, a
    /// Carton vendor/cache, a download folder) instead of one unpacked
    /// distribution: every distribution archive below it, by file name, is
    /// a target (symbolic links are not followed). With `apply -o DIR`,
    /// each is written under DIR at its path below the tree, so the layout
    /// is kept (`patchkit mirror` also copies the other files and rewrites
    /// CHECKSUMS).
    #[arg(short = 'r', long)]
    pub(crate) recursive: bool,

    /// Distribution archives (.tar.gz, .tgz, .tar.bz2, .tar.xz, .tar, .zip;
    /// a patched one is written in its own format) or unpacked distribution
    /// directories (with --recursive: trees of archives).
    #[arg(value_name = "TARGET", required = true)]
    pub(crate) targets: Vec<PathBuf>,
}

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Targets and repository options.
    #[command(flatten)]
    pub(crate) common: TargetArgs,

    /// Write each patched tarball into DIR under its original file name
    /// (required for tarball targets; created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

impl TargetArgs {
    /// The engine's fuzz setting: `--fuzz`, else the config's `apply.fuzz`.
    pub(crate) fn fuzz(&self, config: &Config) -> Fuzz {
        match self.fuzz.unwrap_or(config.fuzz) {
            0 => Fuzz::None,
            n => Fuzz::Lines(n),
        }
    }

    /// The skip set: each id of the config's `apply.skip` and of `--skip`,
    /// with where it came from.
    ///
    /// The config's `apply.skip` list comes first; `--skip` names the same
    /// id again only to say where the request came from last.
    pub(crate) fn skip(&self, config: &Config) -> std::collections::BTreeMap<String, String> {
        let from_config = config.skip_origin();
        config
            .skip
            .iter()
            .map(|id| (id.to_string(), from_config.clone()))
            .chain(
                self.skip
                    .iter()
                    .map(|id| (id.clone(), "--skip".to_string())),
            )
            .collect()
    }

    /// All or nothing, or `--partial` (or the config's `apply.partial`).
    pub(crate) fn on_failure(&self, config: &Config) -> patchkit::apply::OnFailure {
        if self.partial || config.partial {
            patchkit::apply::OnFailure::Partial
        } else {
            patchkit::apply::OnFailure::AllOrNothing
        }
    }
}

/// Everything a command needs from the global options.
pub(crate) struct Context {
    /// The state directory.
    pub(crate) home: Home,
    /// `--json`.
    pub(crate) json: bool,
    /// The settings: defaults, `HOME/config.toml`, the environment.
    pub(crate) config: Config,
    /// `-q` / `-v`.
    pub(crate) verbosity: output::Verbosity,
}

/// Run the parsed command line; returns the exit status.
pub(crate) fn run(cli: Cli) -> Result<i32, Error> {
    let home = Home::resolve(cli.home.as_deref())?;
    // `config` shows a broken configuration's error itself, with --set.
    let config = match &cli.command {
        Command::Config(_) => Config::default(),
        _ => Config::load(&home, std::env::vars())?,
    };
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => output::Verbosity::Quiet,
        (false, true) => output::Verbosity::Verbose,
        (false, false) => output::Verbosity::Normal,
    };
    output::set_verbosity(verbosity);
    let ctx = Context {
        home,
        json: cli.json,
        config,
        verbosity,
    };
    match cli.command {
        Command::Check(args) => apply::run(&ctx, &args, None, patchkit::apply::Mode::Check),
        Command::Apply(args) => apply::run(
            &ctx,
            &args.common,
            args.out.as_deref(),
            patchkit::apply::Mode::Apply,
        ),
        Command::Key(cmd) => key::run(&ctx, &cmd),
        Command::Sign(args) => key::sign(&ctx, &args),
        Command::Publish(args) => publish::run(&ctx, &args),
        Command::Repo(cmd) => repo::run(&ctx, &cmd),
        Command::Update(args) => update::run(&ctx, &args),
        Command::Config(args) => config::run(&ctx, &args),
        Command::Bundle(cmd) => bundle::run(&ctx, &cmd),
        Command::Serve(args) => serve::run(&ctx, &args),
        Command::Mirror(args) => mirror::run(&ctx, &args),
        Command::Export(cmd) => export::run(&ctx, &cmd),
        Command::Audit(args) => audit::run(&ctx, &args),
        Command::Sbom(args) => sbom::run(&ctx, &args),
        Command::Log(args) => log::run(&ctx, &args),
        Command::New(args) => new::run(&ctx, &args),
        Command::Diff(args) => diff::run(&ctx, &args),
        Command::Import(args) => import::run(&ctx, &args),
        Command::Lint(args) => lint::run(&ctx, &args),
        Command::Withdraw(args) => withdraw::run(&ctx, &args),
        Command::Completions(args) => shell::completions(&args),
        Command::Man => shell::man(),
    }
}

/// Today's date from the local clock: read here, in the CLI layer only, so
/// that the library stays deterministic.
fn today() -> patchkit::authoring::Today {
    patchkit::authoring::Today(chrono::Local::now().date_naive())
}

/// Where the repository options say the patches come from.
pub(crate) fn patch_source(repo: &RepoArgs) -> Result<PatchSource<'_>, Error> {
    Ok(match (&repo.source, &repo.bundle) {
        (Some(dir), _) => PatchSource::Unsigned(dir),
        (None, Some(path)) => PatchSource::Bundle {
            path,
            root: repo.root.as_deref(),
            repo: match repo.repo.as_slice() {
                [] => None,
                [one] => Some(one.as_str()),
                _ => {
                    return Err(Error::Usage(
                        "--bundle holds one repository: give at most one --repo NAME".into(),
                    ))
                }
            },
        },
        (None, None) => PatchSource::Signed {
            repos: &repo.repo,
            freshness: if repo.offline {
                Freshness::Offline
            } else {
                Freshness::UpdateFirst
            },
        },
    })
}

/// Load the catalog the repository options name: `--source` (unsigned,
/// loudly), `--bundle` (verified as of its making), `--offline` (the
/// verified cache), else the configured repository, updated first
/// ([`patchkit::client::open`] decides; this prints its notices). Every
/// client command (check, apply, audit, sbom) goes through here.
pub(crate) fn load_catalog(ctx: &Context, repo: &RepoArgs) -> Result<Catalog, Error> {
    let source = patch_source(repo)?;
    // The unsigned banner comes first, even when the tree then fails to
    // load: a person must see it whatever happens next.
    if let PatchSource::Unsigned(dir) = source {
        output::notice(&Notice::Unsigned(dir.to_path_buf()).to_string());
    }
    let bar = progress::Bar::new(ctx);
    let opened = client::open(&ctx.home, &ctx.config, source, chrono::Utc::now(), &bar)?;
    for n in &opened.notices {
        match n {
            Notice::Unsigned(_) => {}
            Notice::Freshness(_) => output::notice(&n.to_string()),
            Notice::Warning(_) => output::warn(&n.to_string()),
        }
    }
    Ok(opened.catalog)
}
