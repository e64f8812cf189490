//! `config`: every setting, its value and where it came from.

use clap::Args;

use super::{output, Context};
use patchkit::config::Config;
use patchkit::error::Error;

/// Arguments of `config`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Show the settings as they would be with KEY=VALUE given on the
    /// command line too (e.g. `limits.http_stall=10s`,
    /// `apply.skip=PK-2025-0001`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
}

pub(super) fn run(ctx: &Context, args: &ConfigArgs) -> Result<i32, Error> {
    let mut config = Config::load(&ctx.home, std::env::vars())?;
    for assignment in &args.set {
        config.set(assignment)?;
    }
    let repositories = patchkit::client::store::names(&ctx.home)?
        .iter()
        .map(|name| patchkit::client::store::config(&ctx.home, name))
        .collect::<Result<Vec<_>, _>>()?;
    output::emit(
        ctx,
        &output::Settings::new(&ctx.home, &config, repositories),
    )
}
