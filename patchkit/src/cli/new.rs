//! `patchkit new`: scaffold a record (see `patchkit::authoring::scaffold`).

use std::path::PathBuf;

use clap::Args;

use super::{output, today, Context};
use patchkit::authoring::scaffold::{self, NewRecord};
use patchkit::error::Error;

/// Arguments of `new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The CPAN distribution name (Foo-Bar, not Foo::Bar).
    #[arg(value_name = "DIST")]
    pub(crate) dist: String,

    /// The affected versions, as a CPAN::Meta::Requirements range
    /// (">= 1.0, < 1.5").
    #[arg(long, value_name = "RANGE")]
    pub(crate) versions: String,

    /// A CVE or GHSA id the patch resolves (repeatable).
    #[arg(long = "alias", value_name = "ID")]
    pub(crate) aliases: Vec<String>,

    /// One-line title (default: a placeholder that lint refuses until
    /// replaced).
    #[arg(long)]
    pub(crate) title: Option<String>,

    /// The repository source tree (the folder holding one folder per
    /// distribution).
    #[arg(long, value_name = "DIR", default_value = "patches")]
    pub(crate) source: PathBuf,
}

/// Run `new`.
pub(super) fn run(ctx: &Context, args: &NewArgs) -> Result<i32, Error> {
    let req = NewRecord {
        dist: args.dist.clone(),
        versions: args.versions.clone(),
        aliases: args.aliases.clone(),
        title: args.title.clone(),
    };
    let report = scaffold::create(&args.source, &req, today())?;
    output::emit(ctx, &output::Authored::new("new", &report))
}
