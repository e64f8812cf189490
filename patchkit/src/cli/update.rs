//! `update`: run the TUF client workflow for one or every configured
//! repository and download every patch into the verified cache.

use clap::Args;

use super::{output, Context};
use patchkit::client::store;
use patchkit::error::Error;

/// Arguments of `update`.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The repository to update (default: every configured repository).
    #[arg(value_name = "NAME")]
    pub(crate) name: Option<String>,
}

pub(super) fn run(ctx: &Context, args: &UpdateArgs) -> Result<i32, Error> {
    let names = match &args.name {
        Some(n) => vec![n.clone()],
        None => store::names(&ctx.home)?,
    };
    if names.is_empty() {
        return Err(Error::Usage(
            "no repositories configured: run `patchkit repo add NAME URL --root ROOT.json`".into(),
        ));
    }
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for name in &names {
        let bar = super::progress::Bar::new(ctx);
        match patchkit::client::update(&ctx.home, &ctx.config, name, chrono::Utc::now(), &bar) {
            Ok(o) => outcomes.push(o),
            // One repository failing does not stop the others (the report
            // names each failure); a single repository's failure is the
            // command's error.
            Err(e) if names.len() == 1 => return Err(e.into()),
            Err(e) => failures.push(Error::from(e)),
        }
    }
    output::emit(
        ctx,
        &output::Updated::new(
            outcomes,
            failures,
            ctx.verbosity == output::Verbosity::Verbose,
        ),
    )
}
