//! `publish`: a source tree of patch records → a signed TUF repository.
//! The records are validated first (the same checks as every client), so an
//! invalid record is never signed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::TimeDelta;
use clap::Args;

use super::{output, Context};
use patchkit::catalog::source;
use patchkit::error::Error;
use patchkit::tuf::keyring::Keyring;
use patchkit::tuf::publish::{default_staged_dir, publish_staged, Expiry};

/// Arguments of `publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The repository source: the folder holding one folder per
    /// distribution (this project's is patches/).
    #[arg(long, value_name = "DIR")]
    pub(crate) source: PathBuf,
    /// Where the published repository lives: OUT/metadata/ and
    /// OUT/targets/ (created, or updated in place).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// KEYS.toml: each role's key files (relative to KEYS.toml) and
    /// threshold. See docs/security.md.
    #[arg(long, value_name = "KEYS.toml")]
    pub(crate) keys: PathBuf,
    /// Where a role that lacks signatures is staged for the other key
    /// holders (default: OUT.staged/ beside OUT; never inside OUT, which is
    /// served as it is).
    #[arg(long, value_name = "DIR")]
    pub(crate) staged: Option<PathBuf>,
    /// Lifetime of a new root: N days, or N followed by d, h, m or s.
    /// 0 makes metadata that is already expired (for testing clients).
    #[arg(long, value_name = "LIFETIME", default_value = "365d", value_parser = parse_lifetime)]
    pub(crate) expires_root: TimeDelta,
    /// Lifetime of new targets metadata.
    #[arg(long, value_name = "LIFETIME", default_value = "90d", value_parser = parse_lifetime)]
    pub(crate) expires_targets: TimeDelta,
    /// Lifetime of a new snapshot.
    #[arg(long, value_name = "LIFETIME", default_value = "7d", value_parser = parse_lifetime)]
    pub(crate) expires_snapshot: TimeDelta,
    /// Lifetime of a new timestamp.
    #[arg(long, value_name = "LIFETIME", default_value = "1d", value_parser = parse_lifetime)]
    pub(crate) expires_timestamp: TimeDelta,
}

/// `30`, `30d`, `12h`, `15m`, `10s`.
fn parse_lifetime(s: &str) -> Result<TimeDelta, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "d"),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a lifetime like 30, 30d, 12h, 15m or 10s"))?;
    let seconds = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => None,
    }
    .filter(|s| *s <= 100 * 365 * 86_400)
    .ok_or_else(|| {
        format!("{s:?} is not a lifetime like 30, 30d, 12h, 15m or 10s (at most 100 years)")
    })?;
    Ok(TimeDelta::seconds(seconds))
}

pub(super) fn run(ctx: &Context, args: &PublishArgs) -> Result<i32, Error> {
    // Refuse invalid records before anything is signed.
    let catalog = source::load(&args.source)?;
    for w in &catalog.warnings {
        output::warn(&w.to_string());
    }
    let files = source::read_files(&args.source)?;
    // The targets are exactly the records and their diffs; stray files are
    // not published.
    let mut wanted = BTreeSet::new();
    for e in catalog.entries() {
        wanted.insert(e.record_file.clone());
        if let Some((dist, _)) = e.record_file.split_once('/') {
            wanted.insert(format!("{dist}/{}", e.record.patch));
        }
    }
    let targets: BTreeMap<String, Vec<u8>> = files
        .into_iter()
        .filter(|(k, _)| wanted.contains(k))
        .collect();
    let keyring = Keyring::load(&args.keys)?;
    let expiry = Expiry {
        root: args.expires_root,
        targets: args.expires_targets,
        snapshot: args.expires_snapshot,
        timestamp: args.expires_timestamp,
    };
    let staged = args
        .staged
        .clone()
        .unwrap_or_else(|| default_staged_dir(&args.out));
    // Older patchkit staged into OUT/staged/, which a web server serving
    // OUT publishes: say so until it is gone.
    let old_staged = args.out.join("staged");
    if old_staged.is_dir() {
        output::warn(&format!(
            "{} is inside the published site and is served with it; move what it holds to {} \
             (staged files live there now) and delete it",
            old_staged.display(),
            staged.display()
        ));
    }
    let report = publish_staged(
        &targets,
        &args.out,
        &staged,
        &keyring.role_keys(),
        &expiry,
        chrono::Utc::now(),
    )?;
    output::emit(
        ctx,
        &output::Published::new(&args.out, targets.len(), &report),
    )
}
