//! `patchkit withdraw`: mark a record withdrawn (see
//! `patchkit::authoring::withdraw`).

use std::path::PathBuf;

use clap::Args;

use super::{output, today, Context};
use patchkit::authoring::withdraw::{self, Withdrawal};
use patchkit::error::Error;

/// Arguments of `withdraw`.
#[derive(Debug, Args)]
pub(crate) struct WithdrawArgs {
    /// The record id.
    #[arg(value_name = "ID")]
    pub(crate) id: String,

    /// Why, shown by `check` and `audit` ("upstream 1.24 fixes it").
    #[arg(long)]
    pub(crate) reason: String,

    /// The upstream release that carries the fix; the record's range then
    /// ends below it.
    #[arg(long, value_name = "VERSION")]
    pub(crate) fixed_in: Option<String>,

    /// The repository source tree.
    #[arg(long, value_name = "DIR", default_value = "patches")]
    pub(crate) source: PathBuf,
}

/// Run `withdraw`.
pub(super) fn run(ctx: &Context, args: &WithdrawArgs) -> Result<i32, Error> {
    let req = Withdrawal {
        id: args.id.clone(),
        reason: args.reason.clone(),
        fixed_in: args.fixed_in.clone(),
    };
    let report = withdraw::withdraw(&args.source, &req, today())?;
    output::emit(ctx, &output::Authored::new("withdraw", &report))
}
