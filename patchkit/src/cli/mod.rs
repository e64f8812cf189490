//! The command line: clap fills raw arguments ([`Cli`]), each command's
//! file turns them into validated options, calls the library, and hands a
//! report to [`output`] to render as text or `--json`. Nothing outside
//! `cli/` writes to stdout or stderr.

mod apply;
mod diff;
mod import;
mod lint;
mod new;
pub mod output;
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
    max_term_width = 100
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

    /// Allow up to N context lines to be ignored at each end of a hunk, as
    /// GNU patch's --fuzz does. Default 0: context must match exactly
    /// (hunks may still move; the offset is reported).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fuzz: usize,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Repository options.
    #[command(flatten)]
    pub repo: RepoArgs,

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

impl RepoArgs {
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

/// Load the catalog the repository options name.
pub(crate) fn load_catalog(repo: &RepoArgs) -> Result<Catalog, Error> {
    match &repo.source {
        Some(dir) => {
            output::unsigned_banner(dir);
            let catalog = crate::repo::source::load(dir)?;
            for w in &catalog.warnings {
                output::warn(&w.to_string());
            }
            Ok(catalog)
        }
        None => Err(Error::Usage(
            "no verified repository is configured yet: pass --source DIR to use an unsigned \
             source tree"
                .into(),
        )),
    }
}
