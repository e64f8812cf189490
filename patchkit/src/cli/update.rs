//! `update`: run the TUF client workflow for one or every configured
//! repository and download every patch into the verified cache.

use clap::Args;
use serde_json::json;

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
    let mut text = String::new();
    let mut first_error = None;
    for name in &names {
        match patchkit::client::update(&ctx.home, name, chrono::Utc::now()) {
            Ok((o, _)) => {
                let (b, a) = (&o.before, &o.after);
                let changed = if b.targets_version == a.targets_version
                    && b.timestamp_version == a.timestamp_version
                    && b.root_version == a.root_version
                {
                    "up to date".to_string()
                } else {
                    format!(
                        "root {}→{}, timestamp {}→{}, snapshot {}→{}, targets {}→{}",
                        b.root_version,
                        a.root_version,
                        b.timestamp_version,
                        a.timestamp_version,
                        b.snapshot_version,
                        a.snapshot_version,
                        b.targets_version,
                        a.targets_version
                    )
                };
                text.push_str(&format!(
                    "{name}: {changed}; {} target{} verified\n",
                    o.targets,
                    if o.targets == 1 { "" } else { "s" }
                ));
                outcomes.push(o);
            }
            Err(e) => {
                // One repository failing does not stop the others; the
                // first failure decides the exit status.
                if names.len() > 1 {
                    output::error(&e.to_string());
                }
                first_error.get_or_insert(e);
            }
        }
    }
    if names.len() == 1 {
        if let Some(e) = first_error {
            return Err(e.into());
        }
    }
    output::report(
        ctx.json,
        &json!({"command": "update", "ok": first_error.is_none(), "repositories": outcomes}),
        text.trim_end(),
    )?;
    Ok(first_error.map_or(0, |e| e.exit_code()))
}
