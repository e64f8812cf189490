//! `patchkit lint`: check every record, optionally against tarballs (see
//! `patchkit::authoring::lint`).

use std::path::PathBuf;

use clap::Args;

use super::{output, Context};
use patchkit::authoring::lint::{self, LintOptions, RecordResults};
use patchkit::error::Error;

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// The repository source tree.
    #[arg(long, value_name = "DIR", default_value = "patches")]
    pub(crate) source: PathBuf,

    /// Apply each record alone, without writing anything, to every tarball
    /// in DIR whose version is in its range, and report a table.
    #[arg(long, value_name = "DIR")]
    pub(crate) against: Option<PathBuf>,

    /// With --against: write each clean result (tarball sha256 and patched
    /// tree digest) into the record's `[[tested]]`, the binding `apply`
    /// checks.
    #[arg(long, requires = "against")]
    pub(crate) record_results: bool,
}

/// Run `lint`: exit 1 when a record is invalid or a patch failed.
pub(super) fn run(ctx: &Context, args: &LintArgs) -> Result<i32, Error> {
    let opts = LintOptions {
        against: args.against.clone(),
        record_results: if args.record_results {
            RecordResults::Yes
        } else {
            RecordResults::No
        },
        ..LintOptions::default()
    };
    let report = lint::lint(&args.source, &opts)?;
    output::emit(ctx, &output::Lint::new(&report))
}
