//! The packager's side: the trust store of signed repositories in the home
//! ([`store`]), bundles for air-gapped machines ([`bundle`]), and [`open`],
//! which turns "where do the patches come from" — an unsigned source tree,
//! a bundle, the verified cache, or the repository updated first — into a
//! [`Catalog`] plus the notices a person should read. Every client command
//! (check, apply, audit, sbom) opens its catalog here, so the rules live in
//! one place:
//!
//! - `--source` is unsigned and says so loudly, every time;
//! - a bundle is verified as of the time it was made, and says so;
//! - `--offline` verifies the cache again and says how old it is;
//! - otherwise the repository is updated (verified) first.
//!
//! This module never prints: notices come back as values.

pub mod bundle;
mod index;
pub mod store;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::catalog::{self, Catalog, Problem};
use crate::config::Config;
use crate::state::{self, Home};
use crate::tuf::metadata::tuf_time;
use crate::tuf::transport::TransportError;
use crate::tuf::updater::VerifyError;

pub use store::{UpdateOutcome, VerifiedCatalog};

/// Why a repository command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Verification failed (signature, hash, length, threshold, expiry,
    /// rollback, mix-and-match, endless data) or the repository could not
    /// be reached.
    #[error("repository {repo}: {source}")]
    Verify {
        /// The repository name.
        repo: String,
        /// What failed, naming the role and the check.
        #[source]
        source: VerifyError,
    },
    /// Cached metadata expired: `--offline` refuses it.
    #[error(
        "repository {repo} is stale: the cached {role} metadata expired at {expires}; \
         run `patchkit update`"
    )]
    Stale {
        /// The repository name.
        repo: String,
        /// The expired role.
        role: &'static str,
        /// When it expired.
        expires: String,
    },
    /// The repository could not be reached and its last verified state has
    /// expired, so there is nothing fresh to fall back to.
    #[error(
        "repository {repo} is unreachable ({reason}) and its last verified state ({age}) \
         expired at {expires}: run `patchkit update` once it is reachable, or pass \
         --bundle FILE made on a connected machine (--offline refuses expired data too)"
    )]
    UnreachableStale {
        /// The repository name.
        repo: String,
        /// Why it could not be reached.
        reason: String,
        /// When the state was verified, as an age ("3 days ago").
        age: String,
        /// When it expired.
        expires: String,
    },
    /// The pinned root is not usable.
    #[error("{}: {reason}", path.display())]
    BadRoot {
        /// The root file given.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
        /// True when it is a signature problem (exit 3), false when the
        /// file is unreadable or not a root (exit 2).
        signature: bool,
    },
    /// No repository of that name.
    #[error("no repository named {0:?} is configured (see `patchkit repo list`)")]
    NotConfigured(String),
    /// A repository of that name exists.
    #[error("a repository named {0:?} is already configured (remove it first)")]
    AlreadyConfigured(String),
    /// Several configured and no `--repo`.
    #[error("{0}")]
    Choose(String),
    /// No repository is configured in this home.
    #[error(
        "no signed repository is configured: run `patchkit repo add NAME URL --root \
         ROOT.json` (or pass --source DIR to use an unsigned source tree)"
    )]
    NoneConfigured,
    /// A bad repository name or URL.
    #[error("{0}")]
    BadArgument(String),
    /// The verified records are not valid patch records.
    #[error("repository {repo}: {}", problems.iter().map(|p| format!("invalid record {p}")).collect::<Vec<_>>().join("; "))]
    Catalog {
        /// The repository.
        repo: String,
        /// Every problem.
        problems: Vec<Problem>,
    },
    /// A state file is unreadable.
    #[error("{}: {reason}", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A bundle is unreadable or malformed.
    #[error("bundle {}: {reason}", path.display())]
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// Reading or writing the home failed.
    #[error(transparent)]
    State(#[from] state::Error),
    /// The unsigned source tree (`--source`) could not be read or has
    /// invalid records.
    #[error(transparent)]
    Source(#[from] crate::catalog::source::Error),
}

impl Error {
    /// Exit status: 3 for verification and freshness failures, 1 when the
    /// repository could not be reached or the home not written, 2 for bad
    /// usage and unreadable input.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Verify { source, .. } => verify_exit_code(source),
            Error::Stale { .. } | Error::UnreachableStale { .. } => 3,
            Error::BadRoot { signature, .. } => {
                if *signature {
                    3
                } else {
                    2
                }
            }
            Error::NotConfigured(_)
            | Error::AlreadyConfigured(_)
            | Error::Choose(_)
            | Error::NoneConfigured
            | Error::BadArgument(_) => 2,
            Error::Catalog { .. } => 1,
            Error::StateFile { .. } => 2,
            Error::Bundle { .. } => 3,
            Error::State(_) => 1,
            Error::Source(_) => 2,
        }
    }
}

/// Exit status of a client error: network and local I/O failures are 1
/// (try again), a missing trusted root is 2 (configure first), everything
/// that is a refusal of data is 3.
pub fn verify_exit_code(e: &VerifyError) -> i32 {
    match e {
        VerifyError::Delegated { source, .. } => verify_exit_code(source),
        VerifyError::NoTrustedRoot { .. } => 2,
        VerifyError::Missing { .. } | VerifyError::Io { .. } => 1,
        VerifyError::Transport { source, .. } | VerifyError::TargetTransport { source, .. } => {
            match source {
                TransportError::TooLarge { .. } => 3,
                _ => 1,
            }
        }
        _ => 3,
    }
}

/// Told how a long piece of work advances, so that the CLI can draw a
/// progress bar; the library never draws. Called from several threads.
pub trait Progress: Sync {
    /// A stage of `total` steps begins (`what`: "verifying patches").
    fn start(&self, what: &str, total: u64) {
        let _ = (what, total);
    }
    /// `n` more steps are done.
    fn advance(&self, n: u64) {
        let _ = n;
    }
    /// The stage is over.
    fn finish(&self) {}
}

/// No progress reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}

/// Where a command's patches come from.
#[derive(Debug, Clone, Copy)]
pub enum PatchSource<'a> {
    /// An unsigned source tree (`--source DIR`): nothing is verified.
    Unsigned(&'a Path),
    /// A bundle file (`--bundle FILE`), verified against `root` (a pinned
    /// root file) or else the trusted root of the home's repository `repo`
    /// (or of the bundle's own repository name).
    Bundle {
        /// The bundle file.
        path: &'a Path,
        /// `--root ROOT.json`.
        root: Option<&'a Path>,
        /// `--repo NAME`.
        repo: Option<&'a str>,
    },
    /// Configured signed repositories, layered: `--repo NAME` (repeatable,
    /// in precedence order), or every configured one in the order added.
    Signed {
        /// `--repo NAME`, each time given.
        repos: &'a [String],
        /// Update first, or use the verified cache as it is.
        freshness: Freshness,
    },
}

/// Whether a signed repository is updated before use. The safe choice is
/// the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Freshness {
    /// Fetch and verify the latest metadata first.
    #[default]
    UpdateFirst,
    /// Use the verified cache (`--offline`), verified again and refused
    /// once expired.
    Offline,
}

/// Something a person should read about the catalog in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// An unsigned source tree is in use: shown loudly, every time.
    Unsigned(PathBuf),
    /// A non-fatal problem with a record (unknown key, stray file).
    Warning(Problem),
    /// How fresh the verified data is (bundle, offline cache).
    Freshness(String),
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Unsigned(dir) => write!(
                f,
                "WARNING: using the UNSIGNED patch source {}: nothing is verified. \
                 This is for patch authors; builds should use the signed repository.",
                dir.display()
            ),
            Notice::Warning(p) => write!(f, "{p}"),
            Notice::Freshness(s) => f.write_str(s),
        }
    }
}

/// A catalog and what to tell the user about it.
#[derive(Debug)]
pub struct Opened {
    /// The records.
    pub catalog: Catalog,
    /// Notices, in the order they arose.
    pub notices: Vec<Notice>,
}

/// Opens the catalog `source` names, at `now`. See the module docs.
///
/// # Errors
/// [`Error`]: an unreadable or invalid source tree, a bundle or repository
/// that does not verify, a stale cache, no repository configured.
pub fn open(
    home: &Home,
    config: &Config,
    source: PatchSource<'_>,
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<Opened, Error> {
    let limits = &config.metadata;
    match source {
        PatchSource::Unsigned(dir) => {
            let mut notices = vec![Notice::Unsigned(dir.to_path_buf())];
            let catalog = catalog::source::load(dir)?;
            notices.extend(catalog.warnings.iter().cloned().map(Notice::Warning));
            Ok(Opened { catalog, notices })
        }
        PatchSource::Bundle { path, root, repo } => {
            let b = bundle::open(path)?;
            let root = root.map(store::read_pinned_root).transpose()?;
            // Without --root, the home's repository of the bundle's name (or
            // --repo) pins it.
            let home_repo = match (&root, repo) {
                (Some(_), _) => None,
                (None, Some(n)) => Some(store::choose(home, Some(n))?),
                (None, None) => store::config(home, &b.description.repository)
                    .ok()
                    .map(|c| c.name),
            };
            let loaded = bundle::verify(
                &b,
                path,
                root.as_deref(),
                home,
                home_repo.as_deref(),
                now,
                limits,
            )?;
            let as_of = loaded.as_of.unwrap_or(b.created);
            let notice = if as_of > b.created {
                format!(
                    "using bundle {} of repository {}: verified as of {} ({}), the newest time \
                     this home has seen, which is later than the {} the bundle says it was made; \
                     its freshness is as of that time, not now",
                    path.display(),
                    b.description.repository,
                    tuf_time::format(&as_of),
                    age_text(now, as_of),
                    b.description.created,
                )
            } else {
                format!(
                    "using bundle {} of repository {}: verified as of {}, when it was made ({}); \
                     its freshness is as of that time, not now",
                    path.display(),
                    b.description.repository,
                    b.description.created,
                    age_text(now, b.created),
                )
            };
            Ok(Opened {
                catalog: loaded.catalog,
                notices: vec![Notice::Freshness(notice)],
            })
        }
        PatchSource::Signed { repos, freshness } => {
            let names = store::chosen(home, repos)?;
            let mut catalogs = Vec::new();
            let mut notices = Vec::new();
            for name in &names {
                let opened = open_signed(home, config, name, freshness, now, progress)?;
                catalogs.push(opened.catalog);
                notices.extend(opened.notices);
            }
            let mut catalogs = catalogs.into_iter();
            let first = catalogs.next().ok_or(Error::NoneConfigured)?;
            Ok(Opened {
                catalog: Catalog::layered(first, catalogs.collect()),
                notices,
            })
        }
    }
}

/// Opens one configured repository: updated first (falling back to the
/// fresh verified state when it is unreachable), or the verified cache.
fn open_signed(
    home: &Home,
    config: &Config,
    name: &str,
    freshness: Freshness,
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<Opened, Error> {
    let limits = &config.metadata;
    if freshness == Freshness::UpdateFirst {
        let transport = transport_of(home, name, config)?;
        return match store::update(home, name, transport.as_ref(), now, limits, progress) {
            Ok((_, updated)) => Ok(Opened {
                catalog: store::updated_catalog(home, name, updated, now, transport, limits)?,
                notices: Vec::new(),
            }),
            Err(e) => match unreachable_reason(&e) {
                Some(reason) => fall_back(home, name, e, &reason, now, limits),
                None => Err(e),
            },
        };
    }
    let loaded = store::load_cached(home, name, now, limits)?;
    let when = loaded.as_of.map_or("an unknown time".to_string(), |t| {
        format!("{} ({})", tuf_time::format(&t), age_text(now, t))
    });
    Ok(Opened {
        catalog: loaded.catalog,
        notices: vec![Notice::Freshness(format!(
            "offline: using the verified cache of repository {name}, last updated {when}"
        ))],
    })
}

/// Why an update failed to reach the repository at all (connection refused,
/// host not found, timeout), or `None` when it failed otherwise (a refusal
/// of data is never a reason to fall back).
fn unreachable_reason(e: &Error) -> Option<String> {
    fn of(e: &VerifyError) -> Option<String> {
        match e {
            VerifyError::Delegated { source, .. } => of(source),
            VerifyError::Transport { source, .. } | VerifyError::TargetTransport { source, .. } => {
                match source {
                    TransportError::Unreachable { reason, .. } => Some(reason.clone()),
                    _ => None,
                }
            }
            _ => None,
        }
    }
    match e {
        Error::Verify { source, .. } => of(source),
        _ => None,
    }
}

/// The repository is unreachable: use the last verified state when it is
/// still fresh (verified again, as `--offline` does), saying so; refuse
/// when it expired (exit 3), and report the original failure when there is
/// no verified state at all.
fn fall_back(
    home: &Home,
    name: &str,
    failure: Error,
    reason: &str,
    now: DateTime<Utc>,
    limits: &crate::tuf::updater::Limits,
) -> Result<Opened, Error> {
    match store::load_cached(home, name, now, limits) {
        Ok(loaded) => {
            let age = loaded
                .as_of
                .map_or("at an unknown time".to_string(), |t| age_text(now, t));
            let expires = loaded
                .expires
                .map_or("unknown".to_string(), |t| tuf_time::format(&t));
            Ok(Opened {
                catalog: loaded.catalog,
                notices: vec![Notice::Freshness(format!(
                    "repository {name} unreachable ({reason}); using the state verified {age} \
                     (expires {expires})"
                ))],
            })
        }
        Err(Error::Stale { repo, expires, .. }) => Err(Error::UnreachableStale {
            age: store::last_verified(home, name).map_or("at an unknown time".to_string(), |t| {
                format!("verified {}", age_text(now, t))
            }),
            repo,
            reason: reason.to_string(),
            expires,
        }),
        // Never updated, or a cache that does not verify: the failure to
        // reach the repository is what the user must fix first.
        Err(_) => Err(failure),
    }
}

/// Updates repository `name` over the network (or file system) its URL
/// names, within `config`'s limits and deadline, and returns what changed.
///
/// The update is committed when the signed metadata verifies, even when
/// some dist's signed records are invalid (the security team published a
/// broken record): that dist's patches cannot be used — every command
/// looking at it fails, naming the record — while every other dist's can.
/// Such dists are listed in [`UpdateOutcome::invalid_records`], for the
/// caller to warn about; one broken record must neither block every dist
/// nor pass unnoticed.
///
/// # Errors
/// [`Error`] from the store; a URL the transports do not support is
/// [`Error::BadArgument`].
pub fn update(
    home: &Home,
    config: &Config,
    name: &str,
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<UpdateOutcome, Error> {
    let limits = &config.metadata;
    let transport = transport_of(home, name, config)?;
    let (mut outcome, updated) =
        store::update(home, name, transport.as_ref(), now, limits, progress)?;
    // A first update (or a rebuilt index) checked every dist already.
    if let Some(invalid) = updated.invalid_records {
        outcome.invalid_records = invalid;
        return Ok(outcome);
    }
    let dists: Vec<String> = updated.changed_dists.iter().cloned().collect();
    let catalog = store::updated_catalog(home, name, updated, now, transport, limits)?;
    // Every changed dist is opened, on every core: each is its own catalog
    // slot.
    use rayon::prelude::*;
    outcome.invalid_records = dists
        .par_iter()
        .filter_map(|dist| {
            catalog
                .dist_warnings(dist)
                .err()
                .map(|e| format!("{dist}: {e}"))
        })
        .collect();
    Ok(outcome)
}

/// The transport for repository `name`'s URL, with `config`'s timeouts
/// (the update's deadline starts now).
fn transport_of(
    home: &Home,
    name: &str,
    config: &Config,
) -> Result<Box<dyn crate::tuf::transport::Transport>, Error> {
    let cfg = store::config(home, name)?;
    crate::tuf::http::transport_for(&cfg.url, &config.timeouts)
        .map_err(|e| Error::BadArgument(format!("repository {name}: URL {e}")))
}

/// "3 days ago", "5 hours ago", "less than a minute ago".
pub fn age_text(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    if secs < 0 {
        return "in the future".into();
    }
    let (n, unit) = match secs {
        0..=59 => return "less than a minute ago".into(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}
