//! `log`: the application log of this home, as a table or JSON, filtered
//! by time (`--since`), distribution (`--dist`) and count (`-n`).

use clap::Args;

use super::{output, Context};
use patchkit::error::Error;
use patchkit::state::log;

/// Arguments of `log`.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Only entries at or after DATE: `YYYY-MM-DD` (midnight UTC) or an
    /// RFC 3339 time (`2026-03-01T12:00:00Z`, `…+02:00`).
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub(crate) since: Option<chrono::DateTime<chrono::Utc>>,

    /// Only entries of this distribution: `Name` (any version) or
    /// `Name-Version`.
    #[arg(long, value_name = "NAME")]
    pub(crate) dist: Option<String>,

    /// Only the last N entries (after the other filters).
    #[arg(short = 'n', value_name = "N")]
    pub(crate) last: Option<usize>,
}

/// `--since`: a date or an RFC 3339 time.
fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!(
                "{:?} is not a date (YYYY-MM-DD) or an RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ)",
                text.chars().take(40).collect::<String>()
            )
        })
}

/// Run `log`; returns the exit status.
pub(super) fn run(ctx: &Context, args: &LogArgs) -> Result<i32, Error> {
    let path = ctx.home.log_path();
    let mut contents = log::read(&path)?;
    let filter = log::Filter {
        since: args.since,
        dist: args.dist.clone(),
        last: args.last,
    };
    contents.entries = filter.apply(std::mem::take(&mut contents.entries));
    output::emit(ctx, &output::Log::new(&path, &contents))
}

/// The name of the machine, for the log (`None` when it cannot be read).
pub(crate) fn host_name() -> Option<String> {
    #[cfg(unix)]
    {
        let uname = rustix::system::uname();
        let name = uname.nodename().to_string_lossy().into_owned();
        (!name.is_empty()).then_some(name)
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").ok()
    }
}
