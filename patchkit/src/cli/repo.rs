//! `repo add`, `repo list`, `repo remove`: which signed repositories this
//! home trusts, and the root each one is pinned to.

use std::path::PathBuf;

use clap::Subcommand;

use super::{output, Context};
use patchkit::client::store;
use patchkit::error::Error;

/// `patchkit repo …`.
#[derive(Debug, Subcommand)]
pub(crate) enum RepoCommand {
    /// Trust a signed repository, pinned to its root.json.
    ///
    /// URL is the repository's base (it holds metadata/ and targets/):
    /// http://…, https://…, file:///abs/path or a plain directory. ROOT.json
    /// is the repository's root metadata, obtained out of band (for this
    /// project's repository: the root.json shipped in the source tree); it
    /// must be signed by its own root keys. Nothing is downloaded: run
    /// `patchkit update NAME` next.
    Add {
        /// A short name for the repository in this home ([A-Za-z0-9._-]).
        #[arg(value_name = "NAME")]
        name: String,
        /// The repository's base URL or directory.
        #[arg(value_name = "URL")]
        url: String,
        /// The initial trusted root to pin (N.root.json of the repository).
        #[arg(long, value_name = "ROOT.json")]
        root: PathBuf,
    },
    /// List the configured repositories: URL, trusted root version, last
    /// update, version (the snapshot version) and whether the cached data is still fresh.
    List,
    /// Forget a repository: its configuration, pinned root and cache.
    Remove {
        /// The repository's name.
        #[arg(value_name = "NAME")]
        name: String,
    },
}

pub(super) fn run(ctx: &Context, cmd: &RepoCommand) -> Result<i32, Error> {
    match cmd {
        RepoCommand::Add { name, url, root } => {
            let version = store::add(&ctx.home, name, url, root)?;
            output::emit(ctx, &output::RepoAdded::new(name, url, version))
        }
        RepoCommand::List => {
            let repos = store::list(&ctx.home, chrono::Utc::now())?;
            output::emit(ctx, &output::RepoList::new(repos))
        }
        RepoCommand::Remove { name } => {
            store::remove(&ctx.home, name)?;
            output::emit(ctx, &output::RepoRemoved::new(name))
        }
    }
}
