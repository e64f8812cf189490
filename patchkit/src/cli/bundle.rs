//! `bundle create`: one file with the verified metadata and every patch,
//! for machines without network access (`check`/`apply --bundle FILE`).

use std::path::PathBuf;

use clap::Subcommand;

use super::{output, Context};
use patchkit::client::{bundle, store};
use patchkit::error::Error;

/// `patchkit bundle …`.
#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Write the verified repository (all roots from the pinned one,
    /// timestamp, snapshot, targets, every patch) into one file.
    ///
    /// The cached state is verified again first, so run `patchkit update`
    /// before. On the air-gapped machine, `patchkit check --bundle OUT
    /// --root ROOT.json …` verifies it exactly as an online update would,
    /// as of the time the bundle was made.
    Create {
        /// The bundle file to write.
        #[arg(value_name = "OUT")]
        out: PathBuf,
        /// The repository (default: the only one configured).
        #[arg(long, value_name = "NAME")]
        repo: Option<String>,
    },
}

pub(super) fn run(ctx: &Context, cmd: &BundleCommand) -> Result<i32, Error> {
    match cmd {
        BundleCommand::Create { out, repo } => {
            let name = store::choose(&ctx.home, repo.as_deref())?;
            let made = bundle::create(
                &ctx.home,
                &name,
                out,
                chrono::Utc::now(),
                &ctx.config.metadata,
            )?;
            output::emit(ctx, &output::BundleCreated::new(out, &name, &made))
        }
    }
}
