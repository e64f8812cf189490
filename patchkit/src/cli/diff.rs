//! `patchkit diff`: write a record's patch from two trees (see
//! `patchkit::authoring::diff`).

use std::path::PathBuf;

use clap::Args;

use super::{output, today, Context};
use patchkit::authoring::diff;
use patchkit::error::Error;

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The pristine distribution: a tarball or an unpacked directory.
    #[arg(value_name = "ORIGINAL")]
    pub(crate) original: PathBuf,

    /// The edited copy: a tarball or a directory.
    #[arg(value_name = "EDITED")]
    pub(crate) edited: PathBuf,

    /// The record whose patch to write (made by `patchkit new`).
    #[arg(long, value_name = "ID")]
    pub(crate) record: String,

    /// The repository source tree.
    #[arg(long, value_name = "DIR", default_value = "patches")]
    pub(crate) source: PathBuf,
}

/// Run `diff`.
pub(super) fn run(ctx: &Context, args: &DiffArgs) -> Result<i32, Error> {
    let report = diff::write_diff(
        &args.source,
        &args.record,
        &args.original,
        &args.edited,
        today(),
    )?;
    output::emit(ctx, &output::Authored::new("diff", &report))
}
