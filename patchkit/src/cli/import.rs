//! `patchkit import`: a record's patch from upstream git commits or an
//! existing patch (see `patchkit::authoring::import`).

use std::path::PathBuf;

use clap::Args;

use super::{output, today, Context};
use patchkit::authoring::import;
use patchkit::error::Error;

/// Arguments of `import`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("from").required(true).args(["git", "patch"]))]
pub(crate) struct ImportArgs {
    /// Take the fix from a local git repository (a path or a file:// URL):
    /// `--git REPO REV` (one commit against its parent) or
    /// `--git REPO A..B` (the combined change from A to B).
    #[arg(long, num_args = 2, value_names = ["REPO", "REV"])]
    pub(crate) git: Option<Vec<String>>,

    /// Take an existing patch file, kept byte for byte: `git format-patch`
    /// output (one patch; From, Date, Subject without `[PATCH …]` and the
    /// message fill the record), a DEP-3 patch or a plain diff. Every
    /// header no record field takes is named in a warning; an mbox of
    /// several patches is refused.
    #[arg(long, value_name = "FILE")]
    pub(crate) patch: Option<PathBuf>,

    /// The record to fill (made by `patchkit new`).
    #[arg(long, value_name = "ID")]
    pub(crate) record: String,

    /// The repository source tree.
    #[arg(long, value_name = "DIR", default_value = "patches")]
    pub(crate) source: PathBuf,
}

/// Run `import`.
pub(super) fn run(ctx: &Context, args: &ImportArgs) -> Result<i32, Error> {
    let report = match (&args.git, &args.patch) {
        (Some(git), _) => match git.as_slice() {
            [repo, rev] => import::import_git(&args.source, &args.record, repo, rev, today())?,
            _ => return Err(Error::Usage("--git takes REPO and REV".into())),
        },
        (None, Some(file)) => import::import_patch(&args.source, &args.record, file, today())?,
        (None, None) => return Err(Error::Usage("give --git REPO REV or --patch FILE".into())),
    };
    output::emit(ctx, &output::Authored::new("import", &report))
}
