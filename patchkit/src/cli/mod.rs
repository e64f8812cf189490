//! The command line: clap fills raw arguments ([`Cli`]), each command's
//! file turns them into validated options, calls the library, and hands a
//! report to [`output`] to render as text or `--json`. Nothing outside
//! `cli/` writes to stdout or stderr.

mod apply;
pub mod audit;
pub mod log;
pub mod output;
pub mod sbom;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Error;
use crate::patch::Fuzz;
use crate::repo::catalog::Catalog;
use crate::state::Home;

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
        Command::Audit(args) => audit::run(&ctx, &args),
        Command::Sbom(args) => sbom::run(&ctx, &args),
        Command::Log => log::run(&ctx),
    }
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
