//! The trust store: the signed repositories a home trusts — which are
//! configured, their pinned roots and verified caches — and the one way a
//! verified [`Catalog`] is built from them.
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
//! HOME/repos/NAME/root.sha256     sha256 of trusted/root.json as this home
//!                                 last pinned or verified it
//! HOME/repos/NAME/commit.journal  only while a commit is under way
//!                                 (state::commit)
//! ```
//!
//! Writers (`add`, `remove`, `update`) hold the home's exclusive lock,
//! readers (`load_cached`, `list`) a shared one (`state::lock`). A
//! `trusted/root.json` whose sha256 is not `root.sha256` was replaced
//! outside patchkit and is refused.
//!
//! Invariants (docs/ARCHITECTURE.md, "nothing half-done", "strict by
//! default"):
//! - The updater ([`crate::tuf::updater`]) verifies and writes nothing. Only
//!   when the whole chain *and every target* verified does [`update`] write,
//!   in one commit in one stated order (see `commit`), each file
//!   atomically, timestamp last. A refused update leaves `trusted/`
//!   byte-for-byte as it was. There is no staging copy of the store.
//! - Offline loads verify the cached chain again, in place, signatures,
//!   hashes and expiry included, through the same updater as online, with
//!   the cache itself as the transport. Cached targets are re-hashed against
//!   the verified targets metadata before use; a damaged cached target is
//!   downloaded again by the next update. Expired cached metadata is
//!   refused as stale: there is no flag to accept it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Error;
use crate::catalog::{Catalog, Origin};
use crate::state::{self, commit as journal, write_atomic, Home, LockKind};
use crate::tree::sha256_hex;
use crate::tuf::metadata::{tuf_time, Envelope, Role, Root};
use crate::tuf::transport::{read_bounded, FilesystemTransport, Transport, TransportError};
use crate::tuf::updater::{self, Limits, TrustedState, Verified, VerifyError};

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
pub struct VerifiedCatalog {
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

/// The digest of the trusted root this home last pinned or verified.
const ROOT_DIGEST: &str = "root.sha256";

/// Refuses a `trusted/root.json` that is not the one this home last
/// trusted (replaced by hand or by another user). A store from before the
/// digest was kept has none: the next update writes it.
fn check_pinned_root(dir: &Path) -> Result<(), Error> {
    let Ok(want) = std::fs::read_to_string(dir.join(ROOT_DIGEST)) else {
        return Ok(());
    };
    let path = dir.join("trusted").join(Role::Root.file_name());
    let bytes = std::fs::read(&path).map_err(|e| state::Error::io("read", &path, e))?;
    if sha256_hex(&bytes).eq_ignore_ascii_case(want.trim()) {
        Ok(())
    } else {
        Err(Error::BadRoot {
            path,
            reason: format!(
                "the pinned root changed outside `patchkit update` (its sha256 is not the one in \
                 {ROOT_DIGEST}); if the change is intended, `patchkit repo remove` the repository \
                 and `repo add` it again with a root you trust"
            ),
            signature: true,
        })
    }
}

/// Finishes a commit a killed update left behind (exclusive lock held).
fn recover_commit(dir: &Path) -> Result<(), Error> {
    journal::recover(dir)?;
    Ok(())
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
    let env =
        Envelope::from_slice(Role::Root.as_str(), bytes).map_err(|e| bad(e.to_string(), false))?;
    let root: Root = env.parse_signed().map_err(|e| bad(e.to_string(), false))?;
    root.verify_role(Role::Root, &env).map_err(|e| match e {
        crate::tuf::metadata::VerifyRoleError::Signature(e) => {
            bad(format!("root is not signed by its own keys: {e}"), true)
        }
        crate::tuf::metadata::VerifyRoleError::Metadata(e) => bad(e.to_string(), false),
    })?;
    Ok(root)
}

/// `repo add`: pins `root_file` as the trusted root of a new repository
/// `name` at `url`. Nothing is fetched; run [`update`] next.
///
/// # Errors
/// [`Error`] for a bad name, URL or root, or an existing repository.
pub fn add(home: &Home, name: &str, url: &str, root_file: &Path) -> Result<u64, Error> {
    check_name(name)?;
    crate::tuf::http::transport_for(url)
        .map_err(|e| Error::BadArgument(format!("repository URL {e}")))?;
    let _lock = home.lock(LockKind::Exclusive)?;
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
    // The cache is private like the home, whatever the umask.
    for d in [
        home.repos_dir(),
        dir.clone(),
        dir.join("trusted"),
        dir.join("roots"),
    ] {
        state::lock::create_private_dir(&d)?;
    }
    write_atomic(&dir.join("trusted/root.json"), &bytes, None)?;
    write_atomic(
        &dir.join(format!("roots/{}.root.json", root.version)),
        &bytes,
        None,
    )?;
    write_atomic(&dir.join(ROOT_DIGEST), sha256_hex(&bytes).as_bytes(), None)?;
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
    let _lock = home.lock(LockKind::Exclusive)?;
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
    let _lock = home.lock(LockKind::Shared)?;
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

/// Serves the cached, previously verified files of `trusted/` as if they
/// were the repository, so that offline verification runs the same updater
/// as online, in place: nothing is copied and nothing is written.
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
        FilesystemTransport::new(&self.trusted).fetch(&file, max_len)
    }
}

/// Every target's bytes, and the names of those to (re)write to the cache.
type CollectedTargets = (BTreeMap<String, Vec<u8>>, Vec<String>);

/// Every target of a verified chain: the cached copy when it is there and
/// passes the signed length and hashes, else a download through
/// `transport`. Returns the bytes of every target and the names of those
/// that must be (re)written to the cache — a damaged cached copy is
/// replaced, never trusted.
fn collect_targets(
    name: &str,
    verified: &Verified,
    trusted: &Path,
    transport: &dyn Transport,
) -> Result<CollectedTargets, Error> {
    let verify = |source| Error::Verify {
        repo: name.to_string(),
        source,
    };
    let mut files = BTreeMap::new();
    let mut to_write = Vec::new();
    for target in verified.targets().keys() {
        let hashed = verified.hashed_name(target).map_err(verify)?;
        let cached = std::fs::File::open(trusted.join("targets").join(&hashed))
            .ok()
            .and_then(|f| read_bounded(f, verified.target_length(target).ok()?).ok())
            .filter(|bytes| verified.check_target(target, bytes).is_ok());
        let bytes = match cached {
            Some(bytes) => bytes,
            None => {
                to_write.push(target.clone());
                verified.fetch_target(transport, target).map_err(verify)?
            }
        };
        files.insert(target.clone(), bytes);
    }
    Ok((files, to_write))
}

/// Runs the updater from the trusted state in `trusted` against
/// `transport` at `now`.
fn verify(
    name: &str,
    trusted: &TrustedState,
    transport: &dyn Transport,
    now: DateTime<Utc>,
) -> Result<Verified, Error> {
    updater::update(trusted, transport, now, &Limits::default()).map_err(|source| Error::Verify {
        repo: name.to_string(),
        source,
    })
}

fn read_trusted(name: &str, trusted: &Path) -> Result<TrustedState, Error> {
    TrustedState::read_dir(trusted, &Limits::default()).map_err(|source| Error::Verify {
        repo: name.to_string(),
        source,
    })
}

fn status_of(verified: &Verified, now: DateTime<Utc>) -> Status {
    Status {
        last_update: tuf_time::format(&now),
        root_version: verified.root_version,
        timestamp_version: verified.timestamp_version,
        snapshot_version: verified.snapshot_version,
        targets_version: verified.targets_version,
    }
}

/// `update`: the TUF updater against the repository's URL through
/// `transport`, then every target taken from the cache or downloaded, and
/// verified. Only then is the trusted state written, in one commit (see
/// the module docs for the order). Returns what changed and every verified
/// target's bytes, so that a command that updates first needs no second
/// verification of the cache.
///
/// # Errors
/// [`Error::Verify`] naming the role and the check; the trusted state is
/// unchanged then.
pub fn update(
    home: &Home,
    name: &str,
    transport: &dyn Transport,
    now: DateTime<Utc>,
) -> Result<(UpdateOutcome, BTreeMap<String, Vec<u8>>), Error> {
    let _lock = home.lock(LockKind::Exclusive)?;
    config(home, name)?;
    let dir = repo_dir(home, name);
    recover_commit(&dir)?;
    check_pinned_root(&dir)?;
    let trusted = dir.join("trusted");
    let before: Status = read_toml(&dir.join("status.toml"))?.unwrap_or_default();
    let state = read_trusted(name, &trusted)?;
    let verified = verify(name, &state, transport, now)?;
    let (files, to_write) = collect_targets(name, &verified, &trusted, transport)?;
    let after = status_of(&verified, now);
    commit(&dir, &verified, &files, &to_write, &after)?;
    Ok((
        UpdateOutcome {
            name: name.to_string(),
            before,
            after,
            root_rotations: verified.root_rotations,
            targets: files.len(),
        },
        files,
    ))
}

/// The one commit of a verified update, in this order, each file atomic:
///
/// 1. the roots of the chain (`roots/N.root.json`: history, for bundles);
/// 2. target files not yet (or not validly) cached: content-addressed, so
///    a new one never replaces what the current metadata points at;
/// 3. together, through the commit journal (`state::commit`): the role
///    files the updater says changed (`root.json`, `targets.json`,
///    `snapshot.json`, `timestamp.json` last), `status.toml` and
///    `root.sha256`.
///
/// A crash before step 3's commit point leaves extra content-addressed
/// files and the previous metadata set; a crash after it leaves a journal
/// that the next reader or writer finishes. Never a mix of the two sets:
/// that would make `--offline` fail until the next online update.
fn commit(
    dir: &Path,
    verified: &Verified,
    files: &BTreeMap<String, Vec<u8>>,
    to_write: &[String],
    status: &Status,
) -> Result<(), Error> {
    let trusted = dir.join("trusted");
    for (version, bytes) in &verified.new_roots {
        write_atomic(&dir.join(format!("roots/{version}.root.json")), bytes, None)?;
    }
    for target in to_write {
        if let (Some(bytes), Ok(hashed)) = (files.get(target), verified.hashed_name(target)) {
            write_atomic(&trusted.join("targets").join(hashed), bytes, None)?;
        }
    }
    let status_text = toml::to_string(status).map_err(|e| Error::StateFile {
        path: dir.join("status.toml"),
        reason: e.to_string(),
    })?;
    let root_bytes = match verified.changed.iter().find(|(r, _)| *r == Role::Root) {
        Some((_, bytes)) => bytes.clone(),
        None => {
            let path = trusted.join(Role::Root.file_name());
            std::fs::read(&path).map_err(|e| state::Error::io("read", &path, e))?
        }
    };
    let digest = sha256_hex(&root_bytes);
    let names: Vec<String> = verified
        .changed
        .iter()
        .map(|(role, _)| format!("trusted/{}", role.file_name()))
        .collect();
    let mut set: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&verified.changed)
        .map(|(n, (_, bytes))| (n.as_str(), bytes.as_slice()))
        .collect();
    set.push(("status.toml", status_text.as_bytes()));
    set.push((ROOT_DIGEST, digest.as_bytes()));
    Ok(journal::commit_files(dir, &set)?)
}

/// Builds the verified catalog of repository `name` from its cache,
/// verifying the cached chain (signatures, hashes, expiry at `now`) and
/// every cached target again, in place and without any network or write.
///
/// # Errors
/// [`Error::Stale`] when cached metadata expired; [`Error::Verify`] when
/// the cache does not verify (or a target was never downloaded).
pub fn load_cached(home: &Home, name: &str, now: DateTime<Utc>) -> Result<VerifiedCatalog, Error> {
    let mut lock = home.lock(LockKind::Shared)?;
    config(home, name)?;
    let dir = repo_dir(home, name);
    if journal::pending(&dir) {
        // An update was killed after its commit point: finish it first.
        drop(lock);
        let writer = home.lock(LockKind::Exclusive)?;
        recover_commit(&dir)?;
        drop(writer);
        lock = home.lock(LockKind::Shared)?;
    }
    let _lock = lock;
    check_pinned_root(&dir)?;
    let trusted = dir.join("trusted");
    let status: Option<Status> = read_toml(&dir.join("status.toml"))?;
    if status.is_none() {
        return Err(Error::Choose(format!(
            "repository {name} has never been updated: run `patchkit update {name}`"
        )));
    }
    let stale = |e| match e {
        Error::Verify {
            repo,
            source: VerifyError::Expired { role, expires },
        } => Error::Stale {
            repo,
            role,
            expires: tuf_time::format(&expires),
        },
        e => e,
    };
    let transport = CacheTransport {
        trusted: trusted.clone(),
    };
    let state = read_trusted(name, &trusted)?;
    let verified = verify(name, &state, &transport, now).map_err(stale)?;
    let (files, _) = collect_targets(name, &verified, &trusted, &transport)?;
    let catalog = catalog_of(name, verified.targets_version, &files)?;
    let as_of = status
        .as_ref()
        .and_then(|s| tuf_time::parse(&s.last_update));
    Ok(VerifiedCatalog { catalog, as_of })
}

/// Verifies a repository given as a transport (a bundle) from `trusted`
/// at `now`, with every target, and returns its catalog. Nothing is
/// written.
pub(crate) fn verify_all(
    name: &str,
    trusted: &TrustedState,
    transport: &dyn Transport,
    now: DateTime<Utc>,
) -> Result<Catalog, Error> {
    let verified = verify(name, trusted, transport, now)?;
    let mut files = BTreeMap::new();
    for target in verified.targets().keys() {
        let bytes = verified
            .fetch_target(transport, target)
            .map_err(|source| Error::Verify {
                repo: name.to_string(),
                source,
            })?;
        files.insert(target.clone(), bytes);
    }
    catalog_of(name, verified.targets_version, &files)
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
