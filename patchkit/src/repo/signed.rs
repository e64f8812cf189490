//! The client side of signed repositories in the home directory: which
//! repositories are configured, their pinned roots and verified caches, and
//! the one way a verified [`Catalog`] is built from them.
//!
//! Layout, one folder per repository:
//!
//! ```text
//! HOME/repos/NAME/config.toml     name and URL
//! HOME/repos/NAME/status.toml     last successful update and versions
//! HOME/repos/NAME/trusted/        root.json, timestamp.json, snapshot.json,
//!                                 targets.json, targets/<dirs>/<sha256>.<name>
//! HOME/repos/NAME/roots/N.root.json  every root version trusted so far
//!                                    (the chain a bundle carries)
//! ```
//!
//! Invariants (DESIGN.md "Nothing half-done", "Strict by default"):
//! - Every update and every load runs in a private staging copy of
//!   `trusted/`. Only when the whole chain *and every target* verified are
//!   the changed files copied back, each atomically, timestamp last. A
//!   refused update leaves `trusted/` byte-for-byte as it was.
//! - Offline loads verify the cached chain again, signatures, hashes and
//!   expiry included, through the same [`client::update`] as online, with
//!   the cache itself as the transport. Cached targets are re-hashed against
//!   the verified targets metadata before use. Expired cached metadata is
//!   refused as stale: there is no flag to accept it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalog::{Catalog, Origin, Problem};
use super::tuf::client::{self, Limits, Transport, TransportError, UpdateReport, VerifyError};
use super::tuf::metadata::{tuf_time, Envelope, Root};
use crate::state::{self, write_atomic, Home};

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
}

impl Error {
    /// Exit status: 3 for verification and freshness failures, 1 when the
    /// repository could not be reached or the home not written, 2 for bad
    /// usage and unreadable input.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Verify { source, .. } => verify_exit_code(source),
            Error::Stale { .. } => 3,
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
        }
    }
}

/// Exit status of a client error: network and local I/O failures are 1
/// (try again), a missing trusted root is 2 (configure first), everything
/// that is a refusal of data is 3.
pub fn verify_exit_code(e: &VerifyError) -> i32 {
    match e {
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

/// `config.toml` of one repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Its name in this home.
    pub name: String,
    /// Base URL or directory (holding `metadata/` and `targets/`).
    pub url: String,
}

/// `status.toml`: what the last successful update verified.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    /// When (TUF time format).
    pub last_update: String,
    /// Root version.
    pub root_version: u64,
    /// Timestamp version.
    pub timestamp_version: u64,
    /// Snapshot version.
    pub snapshot_version: u64,
    /// Targets version.
    pub targets_version: u64,
}

/// One configured repository, as `repo list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RepoInfo {
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
    /// Trusted root version.
    pub root_version: u64,
    /// Last successful update, if any.
    pub last_update: Option<String>,
    /// Targets version of the cache, if updated.
    pub targets_version: Option<u64>,
    /// Earliest expiry among the cached timestamp, snapshot, targets and
    /// root (TUF time), if updated.
    pub expires: Option<String>,
    /// `fresh`, `expired` or `never updated`.
    pub freshness: String,
}

/// What a successful update did.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateOutcome {
    /// The repository.
    pub name: String,
    /// Versions before (0 when never updated).
    pub before: Status,
    /// Versions after.
    pub after: Status,
    /// Root versions followed.
    pub root_rotations: u32,
    /// Number of targets verified.
    pub targets: usize,
}

/// A catalog from a verified repository, and how fresh it is.
#[derive(Debug)]
pub struct Loaded {
    /// The records.
    pub catalog: Catalog,
    /// When its metadata was last verified against the repository (for
    /// bundles: when the bundle was made).
    pub as_of: Option<DateTime<Utc>>,
}

/// Checks a repository name: `[A-Za-z0-9._-]+`, not starting with `.`.
///
/// # Errors
/// [`Error::BadArgument`].
pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::BadArgument(format!(
            "repository name {:?} must be 1-64 of A-Z a-z 0-9 . _ - and not start with a dot",
            name.chars().take(20).collect::<String>()
        )))
    }
}

fn repo_dir(home: &Home, name: &str) -> PathBuf {
    home.repos_dir().join(name)
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|e| Error::StateFile {
                path: path.to_path_buf(),
                reason: e.message().to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(state::Error::io("read", path, e).into()),
    }
}

fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = toml::to_string(value).map_err(|e| Error::StateFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(write_atomic(path, text.as_bytes(), None)?)
}

/// The configuration of repository `name`.
///
/// # Errors
/// [`Error::NotConfigured`] when there is none.
pub fn config(home: &Home, name: &str) -> Result<RepoConfig, Error> {
    check_name(name)?;
    read_toml(&repo_dir(home, name).join("config.toml"))?
        .ok_or_else(|| Error::NotConfigured(name.to_string()))
}

/// Names of the configured repositories, sorted.
///
/// # Errors
/// [`Error::State`] when the repos folder cannot be read.
pub fn names(home: &Home) -> Result<Vec<String>, Error> {
    let dir = home.repos_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(state::Error::io("read", &dir, e).into()),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| state::Error::io("read", &dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if check_name(&name).is_ok() && e.path().join("config.toml").is_file() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// The repository a client command uses: `requested`, else the only one
/// configured.
///
/// # Errors
/// [`Error::NoneConfigured`] when none is configured, [`Error::Choose`] when
/// several are and none was named.
pub fn choose(home: &Home, requested: Option<&str>) -> Result<String, Error> {
    if let Some(name) = requested {
        config(home, name)?;
        return Ok(name.to_string());
    }
    let all = names(home)?;
    match all.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::NoneConfigured),
        _ => Err(Error::Choose(format!(
            "several repositories are configured ({}): choose one with --repo NAME",
            all.join(", ")
        ))),
    }
}

/// Parses `bytes` as a root and checks that it is signed by a threshold of
/// its own root keys (TUF §5.2: the trusted root is trusted because it was
/// pinned, but it must at least be a consistent root).
fn check_self_signed(path: &Path, bytes: &[u8]) -> Result<Root, Error> {
    let bad = |reason: String, signature: bool| Error::BadRoot {
        path: path.to_path_buf(),
        reason,
        signature,
    };
    let env = Envelope::from_slice("root", bytes).map_err(|e| bad(e.to_string(), false))?;
    let root: Root = env.parse_signed().map_err(|e| bad(e.to_string(), false))?;
    let canonical = env
        .canonical_signed("root")
        .map_err(|e| bad(e.to_string(), false))?;
    let (keys, threshold) =
        super::tuf::publish::role_keys_of(&root, "root").map_err(|e| bad(e.to_string(), false))?;
    patchkit_signing::verify_threshold(&keys, threshold, &env.signatures, &canonical)
        .map_err(|e| bad(format!("root is not signed by its own keys: {e}"), true))?;
    Ok(root)
}

/// `repo add`: pins `root_file` as the trusted root of a new repository
/// `name` at `url`. Nothing is fetched; run [`update`] next.
///
/// # Errors
/// [`Error`] for a bad name, URL or root, or an existing repository.
pub fn add(home: &Home, name: &str, url: &str, root_file: &Path) -> Result<u64, Error> {
    check_name(name)?;
    crate::network::transport_for(url)
        .map_err(|e| Error::BadArgument(format!("repository URL {e}")))?;
    let dir = repo_dir(home, name);
    if dir.join("config.toml").exists() {
        return Err(Error::AlreadyConfigured(name.to_string()));
    }
    let bytes = std::fs::read(root_file).map_err(|e| Error::BadRoot {
        path: root_file.to_path_buf(),
        reason: e.to_string(),
        signature: false,
    })?;
    let root = check_self_signed(root_file, &bytes)?;
    // A plain directory is stored absolute, so the config keeps working
    // from any working directory.
    let url = if url.contains("://") {
        url.to_string()
    } else {
        std::path::absolute(url)
            .map_err(|e| Error::BadArgument(format!("repository path {url}: {e}")))?
            .display()
            .to_string()
    };
    write_atomic(&dir.join("trusted/root.json"), &bytes, None)?;
    write_atomic(
        &dir.join(format!("roots/{}.root.json", root.version)),
        &bytes,
        None,
    )?;
    // config.toml last: a repository exists once its root is in place.
    write_toml(
        &dir.join("config.toml"),
        &RepoConfig {
            name: name.to_string(),
            url,
        },
    )?;
    Ok(root.version)
}

/// `repo remove`: deletes the repository's folder (config, trusted state,
/// cache).
///
/// # Errors
/// [`Error::NotConfigured`], or an I/O error.
pub fn remove(home: &Home, name: &str) -> Result<(), Error> {
    config(home, name)?;
    let dir = repo_dir(home, name);
    // Remove config.toml first: a half-removed folder is then ignored.
    let cfg = dir.join("config.toml");
    std::fs::remove_file(&cfg).map_err(|e| state::Error::io("remove", &cfg, e))?;
    std::fs::remove_dir_all(&dir).map_err(|e| state::Error::io("remove", &dir, e))?;
    Ok(())
}

/// Expiry of a cached role, without verifying it (for `repo list` only).
fn cached_expiry(trusted: &Path, role: &str) -> Option<DateTime<Utc>> {
    let bytes = std::fs::read(trusted.join(format!("{role}.json"))).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    tuf_time::parse(value.get("signed")?.get("expires")?.as_str()?)
}

/// `repo list`.
///
/// # Errors
/// An unreadable state file.
pub fn list(home: &Home, now: DateTime<Utc>) -> Result<Vec<RepoInfo>, Error> {
    let mut out = Vec::new();
    for name in names(home)? {
        let cfg = config(home, &name)?;
        let dir = repo_dir(home, &name);
        let status: Option<Status> = read_toml(&dir.join("status.toml"))?;
        let trusted = dir.join("trusted");
        let root_version = std::fs::read(trusted.join("root.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("signed")?.get("version")?.as_u64())
            .unwrap_or(0);
        let expires = status.as_ref().and_then(|_| {
            ["root", "timestamp", "snapshot", "targets"]
                .iter()
                .filter_map(|r| cached_expiry(&trusted, r))
                .min()
        });
        let freshness = match (&status, expires) {
            (None, _) => "never updated",
            (Some(_), Some(e)) if e > now => "fresh",
            _ => "expired",
        };
        out.push(RepoInfo {
            name,
            url: cfg.url,
            root_version,
            last_update: status.as_ref().map(|s| s.last_update.clone()),
            targets_version: status.as_ref().map(|s| s.targets_version),
            expires: expires.map(|e| tuf_time::format(&e)),
            freshness: freshness.into(),
        });
    }
    Ok(out)
}

/// A transport that remembers every root it served, so that the chain of
/// roots an update followed can be kept for bundles.
struct RecordingTransport<'a> {
    inner: &'a dyn Transport,
    roots: RefCell<BTreeMap<u64, Vec<u8>>>,
}

impl Transport for RecordingTransport<'_> {
    fn fetch(&self, path: &str, max_len: u64) -> Result<Vec<u8>, TransportError> {
        let bytes = self.inner.fetch(path, max_len)?;
        if let Some(v) = path
            .strip_prefix("metadata/")
            .and_then(|p| p.strip_suffix(".root.json"))
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.roots.borrow_mut().insert(v, bytes.clone());
        }
        Ok(bytes)
    }
}

/// Serves the cached, previously verified files of `trusted/` as if they
/// were the repository: offline verification runs the same client code.
struct CacheTransport {
    trusted: PathBuf,
}

impl Transport for CacheTransport {
    fn fetch(&self, path: &str, max_len: u64) -> Result<Vec<u8>, TransportError> {
        let file = match path.strip_prefix("metadata/") {
            Some(meta) => {
                let role = meta
                    .strip_suffix(".json")
                    .and_then(|s| s.rsplit('.').next())
                    .unwrap_or("");
                match role {
                    // A new root cannot come from the cache.
                    "timestamp" | "snapshot" | "targets" => format!("{role}.json"),
                    _ => {
                        return Err(TransportError::NotFound {
                            path: path.to_string(),
                        })
                    }
                }
            }
            None => path.to_string(),
        };
        client::FilesystemTransport::new(&self.trusted).fetch(&file, max_len)
    }
}

/// Copies the regular files below `from` into `to` (same relative paths).
fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = from.join(&rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(state::Error::io("read", &dir, e).into()),
        };
        let target_dir = to.join(&rel);
        std::fs::create_dir_all(&target_dir)
            .map_err(|e| state::Error::io("create directory", &target_dir, e))?;
        for e in entries {
            let e = e.map_err(|e| state::Error::io("read", &dir, e))?;
            let ft = e
                .file_type()
                .map_err(|e| state::Error::io("read", &dir, e))?;
            let child = rel.join(e.file_name());
            if ft.is_dir() {
                stack.push(child);
            } else if ft.is_file() {
                let src = from.join(&child);
                std::fs::copy(&src, to.join(&child))
                    .map_err(|e| state::Error::io("copy", &src, e))?;
            }
        }
    }
    Ok(())
}

/// Runs the client in a staging copy of `trusted` and fetches every target
/// into it.
pub(crate) fn verify_in_staging(
    name: &str,
    trusted: &Path,
    scratch_parent: &Path,
    transport: &dyn Transport,
    now: DateTime<Utc>,
) -> Result<Verified, Error> {
    std::fs::create_dir_all(scratch_parent)
        .map_err(|e| state::Error::io("create directory", scratch_parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(scratch_parent)
        .map_err(|e| state::Error::io("create a temporary directory in", scratch_parent, e))?;
    copy_tree(trusted, staging.path())?;
    let verify = |source| Error::Verify {
        repo: name.to_string(),
        source,
    };
    let report =
        client::update(staging.path(), transport, now, &Limits::default()).map_err(verify)?;
    let mut files = BTreeMap::new();
    for target in report.targets().keys() {
        let bytes = report.fetch_target(transport, target).map_err(verify)?;
        files.insert(target.clone(), bytes);
    }
    Ok(Verified {
        staging,
        report,
        files,
    })
}

/// A chain verified in a staging directory (deleted on drop), and every
/// target's bytes.
pub(crate) struct Verified {
    staging: tempfile::TempDir,
    pub(crate) report: UpdateReport,
    pub(crate) files: BTreeMap<String, Vec<u8>>,
}

impl Verified {
    fn staging_path(&self) -> &Path {
        self.staging.path()
    }
}

fn status_of(report: &UpdateReport, now: DateTime<Utc>) -> Status {
    Status {
        last_update: tuf_time::format(&now),
        root_version: report.root_version,
        timestamp_version: report.timestamp_version,
        snapshot_version: report.snapshot_version,
        targets_version: report.targets_version,
    }
}

/// `update`: the TUF client workflow against the repository's URL through
/// `transport`, then every target downloaded and verified. Only then is the
/// trusted state replaced (see the module docs).
///
/// # Errors
/// [`Error::Verify`] naming the role and the check; the trusted state is
/// unchanged then.
pub fn update(
    home: &Home,
    name: &str,
    transport: &dyn Transport,
    now: DateTime<Utc>,
) -> Result<UpdateOutcome, Error> {
    config(home, name)?;
    let dir = repo_dir(home, name);
    let trusted = dir.join("trusted");
    let before: Status = read_toml(&dir.join("status.toml"))?.unwrap_or_default();
    let recorder = RecordingTransport {
        inner: transport,
        roots: RefCell::new(BTreeMap::new()),
    };
    let verified = verify_in_staging(name, &trusted, &dir, &recorder, now)?;
    let (report, files) = (&verified.report, &verified.files);
    let staging = verified.staging_path();

    // Commit. Roots of the chain first (history only), then target files,
    // then the metadata in the order the client writes it, timestamp last.
    for (version, bytes) in recorder.roots.borrow().iter() {
        if *version <= report.root_version {
            write_atomic(&dir.join(format!("roots/{version}.root.json")), bytes, None)?;
        }
    }
    for (target, info) in report.targets() {
        let Some(sha) = info.sha256() else { continue };
        let rel = Path::new("targets").join(super::tuf::hashed_target_path(target, sha));
        let dest = trusted.join(&rel);
        if !dest.exists() {
            if let Some(bytes) = files.get(target) {
                write_atomic(&dest, bytes, None)?;
            }
        }
    }
    for file in [
        "root.json",
        "targets.json",
        "snapshot.json",
        "timestamp.json",
    ] {
        if report.updated.contains(&file) {
            let src = staging.join(file);
            let bytes = std::fs::read(&src).map_err(|e| state::Error::io("read", &src, e))?;
            write_atomic(&trusted.join(file), &bytes, None)?;
        }
    }
    let after = status_of(report, now);
    write_toml(&dir.join("status.toml"), &after)?;
    Ok(UpdateOutcome {
        name: name.to_string(),
        before,
        after,
        root_rotations: report.root_rotations,
        targets: files.len(),
    })
}

/// Builds the verified catalog of repository `name` from its cache,
/// verifying the cached chain (signatures, hashes, expiry at `now`) and
/// every cached target again, without any network.
///
/// # Errors
/// [`Error::Stale`] when cached metadata expired; [`Error::Verify`] when
/// the cache does not verify (or a target was never downloaded).
pub fn load_cached(home: &Home, name: &str, now: DateTime<Utc>) -> Result<Loaded, Error> {
    config(home, name)?;
    let dir = repo_dir(home, name);
    let trusted = dir.join("trusted");
    let status: Option<Status> = read_toml(&dir.join("status.toml"))?;
    if status.is_none() {
        return Err(Error::Choose(format!(
            "repository {name} has never been updated: run `patchkit update {name}`"
        )));
    }
    let transport = CacheTransport {
        trusted: trusted.clone(),
    };
    let verified =
        verify_in_staging(name, &trusted, &dir, &transport, now).map_err(|e| match e {
            Error::Verify {
                repo,
                source: VerifyError::Expired { role, expires },
            } => Error::Stale {
                repo,
                role,
                expires: tuf_time::format(&expires),
            },
            e => e,
        })?;
    let catalog = catalog_of(name, verified.report.targets_version, &verified.files)?;
    let as_of = status
        .as_ref()
        .and_then(|s| tuf_time::parse(&s.last_update));
    Ok(Loaded { catalog, as_of })
}

/// The catalog of verified target files.
pub(crate) fn catalog_of(
    name: &str,
    targets_version: u64,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Catalog, Error> {
    Catalog::from_files(
        Origin::Signed {
            name: name.to_string(),
            version: targets_version,
        },
        files,
    )
    .map_err(|problems| Error::Catalog {
        repo: name.to_string(),
        problems,
    })
}

/// The trusted directory of repository `name` (for bundles).
pub(crate) fn trusted_dir(home: &Home, name: &str) -> PathBuf {
    repo_dir(home, name).join("trusted")
}

/// The folder of saved roots of repository `name` (for bundles).
pub(crate) fn roots_dir(home: &Home, name: &str) -> PathBuf {
    repo_dir(home, name).join("roots")
}

/// Checks a root file given on the command line (`--root`) and returns its
/// bytes.
///
/// # Errors
/// [`Error::BadRoot`].
pub fn read_pinned_root(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::BadRoot {
        path: path.to_path_buf(),
        reason: e.to_string(),
        signature: false,
    })?;
    check_self_signed(path, &bytes)?;
    Ok(bytes)
}
