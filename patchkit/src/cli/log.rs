//! `log`: the application log of this home, as a table or JSON.

use super::{output, Context};
use patchkit::error::Error;
use patchkit::state::log;

/// Run `log`; returns the exit status.
pub(super) fn run(ctx: &Context) -> Result<i32, Error> {
    let path = ctx.home.log_path();
    let contents = log::read(&path)?;
    output::emit(ctx, &output::Log::new(&path, &contents))
}
