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
//!                                 targets.json (the top-level roles),
//!                                 delegated/V.<bin>.json (hash bins, by version),
//!                                 targets/<sha256>.<name, / as %2F> (one flat folder:
//!                                 each hash bin's pack, or each target of a
//!                                 repository or bin without packs),
//!                                 index/ (dist → its files: see `index`)
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
//! - An update fetches what changed: the top-level roles, the hash bins
//!   whose version the snapshot changed, and their targets (every bin and
//!   target the first time, several downloads at once). A bin that lists a
//!   pack (`tuf::pack`) is cached as that one file: fetched whole the
//!   first time, rebuilt locally from the previous pack and the few new
//!   targets after that when the rebuild matches the signed pack (see
//!   `Source::pack_work`). Files no longer used are removed after the
//!   commit.
//! - Offline loads verify the cached top-level chain again, in place,
//!   signatures, hashes and expiry included, through the same updater as
//!   online, with the cache itself as the transport. The catalog then loads
//!   per dist ([`Catalog::per_dist`]): the index says which files make up
//!   the dist; the bins listing them are verified against the verified
//!   snapshot and the delegation's keys, and each file (read out of its
//!   bin's pack, when the bin lists one) is re-hashed against its signed
//!   hashes before use. Only the dists a command looks up cost
//!   anything, so a check of one tarball costs the same against 100 or
//!   10,000 records. A damaged cached target is refused offline and fetched
//!   again by the next online lookup. Expired cached metadata is refused as
//!   stale: there is no flag to accept it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::index::{self, Manifest};
use super::Error;
use crate::catalog::{Catalog, DistSource, LoadError, Origin};
use crate::state::{self, commit as journal, write_atomic, Home, LockKind};
use crate::tree::sha256_hex;
use crate::tuf::metadata::{tuf_time, Envelope, Role, Root, TargetFile, Targets};
use crate::tuf::pack::{self, is_pack_name};
use crate::tuf::transport::{read_bounded, FilesystemTransport, Transport, TransportError};
use crate::tuf::updater::{
    self, BinScope, Limits, LoadedBin, LookupBin, TrustedState, Verified, VerifyError,
};

/// `config.toml` of one repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Its name in this home.
    pub name: String,
    /// Base URL or directory (holding `metadata/` and `targets/`).
    pub url: String,
    /// When it was added, as a sequence number in this home (1, 2, …):
    /// the precedence of layered repositories. 0 for repositories added
    /// before it was kept (they come first, by name).
    #[serde(default)]
    pub added: u64,
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
    /// The version of the cache (its snapshot version, as patched dists
    /// record it), if updated.
    pub version: Option<u64>,
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
    /// The dists whose signed records are invalid, each with why: their
    /// patches cannot be used (a command looking at one of them fails),
    /// every other dist's can (see `client::update`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_records: Vec<String>,
    /// The repository's version: its snapshot version, which moves
    /// whenever any record changes (the version patched dists record).
    pub version: u64,
    /// Number of records the verified repository lists.
    pub records: u64,
    /// Number of distributions they are for.
    pub dists: u64,
    /// The earliest expiry of the verified metadata (TUF time): past it,
    /// the cache is stale.
    pub expires: String,
}

/// A catalog from a verified repository, and how fresh it is.
#[derive(Debug)]
pub struct VerifiedCatalog {
    /// The records.
    pub catalog: Catalog,
    /// When its metadata was last verified against the repository (for
    /// bundles: when the bundle was made).
    pub as_of: Option<DateTime<Utc>>,
    /// The earliest expiry of its verified metadata.
    pub expires: Option<DateTime<Utc>>,
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

/// Names of the configured repositories, in the order they were added
/// (their precedence when layered).
///
/// # Errors
/// [`Error::State`] when the repos folder cannot be read.
pub fn names(home: &Home) -> Result<Vec<String>, Error> {
    let mut all = Vec::new();
    for name in names_sorted(home)? {
        all.push((config(home, &name)?.added, name));
    }
    all.sort();
    Ok(all.into_iter().map(|(_, n)| n).collect())
}

/// Names of the configured repositories, sorted by name.
fn names_sorted(home: &Home) -> Result<Vec<String>, Error> {
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

/// The repositories a client command uses, in precedence order: those
/// `requested` (each once, in the order given), else every configured one
/// in the order added.
///
/// # Errors
/// [`Error::NoneConfigured`] when none is configured,
/// [`Error::NotConfigured`] for a name that is not.
pub fn chosen(home: &Home, requested: &[String]) -> Result<Vec<String>, Error> {
    if requested.is_empty() {
        let all = names(home)?;
        if all.is_empty() {
            return Err(Error::NoneConfigured);
        }
        return Ok(all);
    }
    let mut out: Vec<String> = Vec::new();
    for name in requested {
        config(home, name)?;
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    Ok(out)
}

/// The repository a command about one repository uses (`bundle create`):
/// `requested`, else the only one configured.
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
    crate::tuf::http::transport_for(url, &crate::tuf::http::Timeouts::default())
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
    let added = names_sorted(home)?
        .iter()
        .filter_map(|n| config(home, n).ok())
        .map(|c| c.added)
        .max()
        .unwrap_or(0)
        + 1;
    // config.toml last: a repository exists once its root is in place.
    write_toml(
        &dir.join("config.toml"),
        &RepoConfig {
            name: name.to_string(),
            url,
            added,
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
            version: status.as_ref().map(|s| s.snapshot_version),
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
        let not_found = || TransportError::NotFound {
            path: path.to_string(),
        };
        let meta = path.strip_prefix("metadata/").ok_or_else(not_found)?;
        let file = meta.strip_suffix(".json").ok_or_else(not_found)?;
        let (version, role) = match file.split_once('.') {
            Some((v, r)) if v.bytes().all(|b| b.is_ascii_digit()) => (Some(v), r),
            _ => (None, file),
        };
        let local = match (role, version) {
            // A new root cannot come from the cache.
            ("timestamp" | "snapshot" | "targets", _) => format!("{role}.json"),
            ("root", _) => return Err(not_found()),
            // Hash bins are cached by version, as they are published.
            (bin, Some(v)) => format!("delegated/{v}.{bin}.json"),
            _ => return Err(not_found()),
        };
        FilesystemTransport::new(&self.trusted).fetch(&local, max_len)
    }
}

/// A transport that has nothing: for lookups that must use the cache only.
struct NoTransport;

impl Transport for NoTransport {
    fn fetch(&self, path: &str, _max_len: u64) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::NotFound {
            path: path.to_string(),
        })
    }
}

/// Where target `name` is cached: `trusted/targets/<sha256>.<name>`, one
/// flat folder (so one sync covers every target written), `/` and `%` of
/// the name escaped as `%2F` and `%25` (a name too long for a file name is
/// replaced by its own sha256). Content and name both address the file, so
/// two targets with the same bytes never share one, and pruning one never
/// removes the other.
fn cache_file(trusted: &Path, name: &str, info: &TargetFile) -> Result<PathBuf, VerifyError> {
    // Checks the name and the listed sha256.
    updater::hashed_name_of(name, info)?;
    let sha = info.sha256().unwrap_or_default();
    let escaped = name.replace('%', "%25").replace('/', "%2F");
    let escaped = if escaped.len() > 160 {
        crate::tree::sha256_hex(name.as_bytes())
    } else {
        escaped
    };
    Ok(trusted.join("targets").join(format!("{sha}.{escaped}")))
}

/// Where hash bin `bin` at `version` is cached.
fn bin_file(trusted: &Path, bin: &str, version: u64) -> PathBuf {
    trusted
        .join("delegated")
        .join(format!("{version}.{bin}.json"))
}

/// The cached copy of target `name` when it passes the signed length and
/// hashes of `info`.
fn read_cached_target(path: &Path, name: &str, info: &TargetFile) -> Option<Vec<u8>> {
    std::fs::File::open(path)
        .ok()
        .and_then(|f| read_bounded(f, info.length).ok())
        .filter(|bytes| updater::check_target(name, info, bytes).is_ok())
}

use crate::tuf::par_map;

/// The targets listed in a cached role file (unverified: our own commit,
/// used only to tell what changed).
fn listed_targets(bytes: Option<&[u8]>) -> Option<BTreeMap<String, TargetFile>> {
    let env = Envelope::from_slice("targets", bytes?).ok()?;
    let t: Targets = env.parse_signed().ok()?;
    Some(t.targets)
}

/// Everything a verified update writes, decided before anything is.
struct Refresh {
    /// Hash bins that changed, verified.
    bins: Vec<LoadedBin>,
    /// Target files to (re)write to the cache.
    targets: Vec<(PathBuf, Vec<u8>)>,
    /// Index shards to write: key → bytes.
    shards: Vec<(String, Vec<u8>)>,
    /// The new index manifest.
    manifest: Manifest,
    /// Whether it differs from the one on disk (else it is not rewritten).
    manifest_changed: bool,
    /// Files the new state no longer uses, removed after the commit.
    prune: Vec<PathBuf>,
    /// After a full rebuild: every file of `targets/`, `delegated/` and
    /// `index/` to keep (the rest is pruned).
    keep: Option<std::collections::BTreeSet<PathBuf>>,
    /// The dists with a target added or changed.
    changed_dists: std::collections::BTreeSet<String>,
    /// After a full refresh: every dist was checked (`check_dists`), and
    /// these have invalid signed records.
    invalid_records: Option<Vec<String>>,
}

/// On a full refresh every dist's files are at hand, verified: each dist's
/// catalog is built from them once (on every core), which gives the
/// records' ranges for the index and the dists whose signed records are
/// invalid (each as `client::update` reports it), so that no record is
/// parsed a second time after the commit.
fn check_dists(
    repo: &str,
    version: u64,
    files: Vec<(String, Vec<u8>)>,
) -> (BTreeMap<String, Option<String>>, Vec<String>) {
    use rayon::prelude::*;
    let mut by_dist: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (name, bytes) in files {
        if let Some(dist) = index::dist_of(&name).filter(|_| !is_pack_name(&name)) {
            by_dist
                .entry(dist.to_string())
                .or_default()
                .insert(name, bytes);
        }
    }
    let by_dist: Vec<(String, BTreeMap<String, Vec<u8>>)> = by_dist.into_iter().collect();
    let origin = Origin::Signed {
        name: repo.to_string(),
        version,
    };
    let checked: Vec<_> = by_dist
        .par_iter()
        .map(|(dist, files)| {
            let mut ranges = BTreeMap::new();
            let invalid = match Catalog::from_files(origin.clone(), files) {
                Ok(c) => {
                    for e in c.entries() {
                        ranges.insert(e.record_file.clone(), Some(e.record.versions.clone()));
                    }
                    None
                }
                Err(problems) => Some(format!("{dist}: {}", LoadError::Invalid(problems))),
            };
            // A record the catalog does not hold (its dist is invalid):
            // its range as the record says, when it parses.
            for (name, bytes) in files {
                if index::record_id(name).is_some() && !ranges.contains_key(name) {
                    ranges.insert(name.clone(), index::range_of(bytes));
                }
            }
            (ranges, invalid)
        })
        .collect();
    let mut ranges = BTreeMap::new();
    let mut invalid = Vec::new();
    for (r, i) in checked {
        ranges.extend(r);
        invalid.extend(i);
    }
    (ranges, invalid)
}

/// How [`refresh`] fetches: through `transport`, verifying at `now`,
/// within `limits`.
#[derive(Clone, Copy)]
struct Fetch<'a> {
    transport: &'a dyn Transport,
    now: DateTime<Utc>,
    limits: &'a Limits,
    /// Told how far the verification got (the CLI draws a bar).
    progress: &'a dyn super::Progress,
}

/// One piece of an update's work on targets.
enum Work<'a> {
    /// A target fetched and cached on its own (no pack lists it).
    File(&'a String, &'a TargetFile),
    /// Every target of a bin that lists a pack (`pack_work`).
    Pack {
        /// The bin, verified.
        bin: &'a LoadedBin,
        /// Its pack's target name.
        pack: String,
        /// Its pack's signed description.
        info: &'a TargetFile,
        /// The pack the previous state cached, when it differs.
        old: Option<&'a TargetFile>,
    },
}

/// Bin `bin`'s own pack, if it lists one (`tuf::pack`): its name and
/// signed description. A bin listing any other name under `packs/` is
/// refused.
fn pack_in<'t>(
    verified: &Verified,
    bin: &str,
    targets: &'t BTreeMap<String, TargetFile>,
) -> Result<Option<(String, &'t TargetFile)>, VerifyError> {
    let Some(roles) = verified.bins() else {
        return Ok(None);
    };
    let name = pack::pack_name(roles, bin);
    if let Some(other) = targets.keys().find(|n| is_pack_name(n) && **n != name) {
        return Err(VerifyError::Pack {
            bin: bin.chars().take(80).collect(),
            pack: other.chars().take(120).collect(),
            reason: format!("is not a pack {bin} may list (its pack is {name})"),
        });
    }
    Ok(targets.get(&name).map(|i| (name, i)))
}

/// Where an update finds a bin's pack and targets: the trusted cache,
/// else `transport`.
struct Source<'a> {
    trusted: &'a Path,
    transport: &'a dyn Transport,
    verified: &'a Verified,
    limits: &'a Limits,
    /// Whether `trusted/targets/` holds anything to rebuild a pack from.
    cache: bool,
}

/// A pack to cache, if any, and the members of its bin it verified.
type Unpacked = (Option<(PathBuf, Vec<u8>)>, BTreeMap<String, Vec<u8>>);

impl Source<'_> {
    /// The targets of `bin` (pack `pack`, signed as `info`), each checked
    /// against its signed length and hashes, and the pack to cache when it
    /// is not yet: the cached pack when it verifies; else the pack rebuilt
    /// locally (`rebuild`) when it matches the signed one byte for byte;
    /// else the pack fetched. A pack read or fetched must hold exactly the
    /// bin's other targets (`pack::unpack`).
    fn pack_work(
        &self,
        bin: &LoadedBin,
        pack: &str,
        info: &TargetFile,
        old: Option<&TargetFile>,
    ) -> Result<Unpacked, VerifyError> {
        let path = cache_file(self.trusted, pack, info)?;
        if let Some(bytes) = read_cached_target(&path, pack, info) {
            return Ok((None, pack::unpack(&bin.name, pack, &bytes, &bin.targets)?));
        }
        let rebuilt = if self.cache {
            self.rebuild(bin, pack, info, old)?
        } else {
            None
        };
        if let Some(members) = rebuilt {
            let bytes = pack::build(members.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
            if updater::check_target(pack, info, &bytes).is_ok() {
                return Ok((Some((path, bytes)), members));
            }
        }
        let bytes = self
            .verified
            .fetch_described(self.transport, pack, info, self.limits)?;
        let members = pack::unpack(&bin.name, pack, &bytes, &bin.targets)?;
        Ok((Some((path, bytes)), members))
    }

    /// The targets of `bin` other than its pack, for rebuilding the pack
    /// locally: each from a local copy that matches its signed hashes (a
    /// member of the previous pack `old`, or a per-file copy an older
    /// state cached), the rest fetched one by one — but only when fewer
    /// than half of them, and fewer bytes than half the pack, are missing
    /// (after one new record, a file or two); otherwise `None`: fetching
    /// the pack costs less.
    fn rebuild(
        &self,
        bin: &LoadedBin,
        pack: &str,
        info: &TargetFile,
        old: Option<&TargetFile>,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, VerifyError> {
        let previous: BTreeMap<String, Vec<u8>> = old
            .and_then(|o| {
                let bytes = read_cached_target(&cache_file(self.trusted, pack, o).ok()?, pack, o)?;
                pack::members(&bytes).ok()
            })
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        let wanted: Vec<(&String, &TargetFile)> =
            bin.targets.iter().filter(|(n, _)| *n != pack).collect();
        let mut have = BTreeMap::new();
        let mut missing = Vec::new();
        let mut missing_bytes = 0u64;
        for (name, target) in &wanted {
            let local = previous
                .get(*name)
                .filter(|b| updater::check_target(name, target, b).is_ok())
                .cloned()
                .or_else(|| {
                    read_cached_target(&cache_file(self.trusted, name, target).ok()?, name, target)
                });
            match local {
                Some(bytes) => {
                    have.insert((*name).clone(), bytes);
                }
                None => {
                    missing.push((*name, *target));
                    missing_bytes = missing_bytes.saturating_add(target.length);
                    if missing.len() * 2 >= wanted.len() || missing_bytes * 2 >= info.length {
                        return Ok(None);
                    }
                }
            }
        }
        for (name, target) in missing {
            let bytes = self
                .verified
                .fetch_described(self.transport, name, target, self.limits)?;
            have.insert(name.clone(), bytes);
        }
        Ok(Some(have))
    }
}

/// What an update must fetch and write beyond the top-level roles. When
/// the cache and index were committed against the snapshot trusted before
/// (the index stamp says so), only the targets files whose version changed
/// are loaded, with their targets, and the index shards of the dists they
/// touch are rewritten; otherwise (`full`, or no usable index) every bin
/// and target is verified — from the cache when valid, else downloaded —
/// and the index is built afresh.
fn refresh(
    name: &str,
    trusted: &Path,
    state: &TrustedState,
    verified: &Verified,
    fetch: &Fetch<'_>,
    full: bool,
) -> Result<Refresh, Error> {
    let Fetch {
        transport,
        now,
        limits,
        progress,
    } = *fetch;
    let verify_err = |source| Error::Verify {
        repo: name.to_string(),
        source,
    };
    let new_meta = verified.snapshot_meta();
    let prev_meta = verified.previous_meta.as_ref();
    let manifest = index::read_manifest(trusted);
    let on_disk = manifest.clone();
    let incremental = !full
        && match (prev_meta, &manifest) {
            (Some(prev), Some(m)) => m.stamp == index::stamp(prev),
            _ => false,
        };
    let prev_version = |file: &str| prev_meta.and_then(|m| m.get(file)).map(|m| m.version);
    let targets_file = Role::Targets.file_name();
    let top_changed =
        !incremental || prev_version(targets_file) != new_meta.get(targets_file).map(|m| m.version);
    let mut wanted = Vec::new();
    if let Some(roles) = verified.bins() {
        for bin in roles.bin_names() {
            let file = format!("{bin}.json");
            let Some(listed) = new_meta.get(&file) else {
                return Err(verify_err(VerifyError::Delegated {
                    role: bin,
                    source: Box::new(VerifyError::MissingMeta {
                        role: Role::Snapshot.as_str(),
                        name: file,
                    }),
                }));
            };
            if !incremental || prev_version(&file) != Some(listed.version) {
                wanted.push((bin, listed.version));
            }
        }
    }
    progress.start("verifying hash bins", wanted.len() as u64);
    let bins = par_map(&wanted, |(bin, version)| {
        let cached = std::fs::read(bin_file(trusted, bin, *version)).ok();
        let loaded = verified.load_bin(
            bin,
            cached.as_deref(),
            transport,
            now,
            limits,
            BinScope::EveryTarget,
        );
        progress.advance(1);
        loaded
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(verify_err)?;

    // What the changed targets files list now, and listed before.
    let mut new_list: BTreeMap<&String, &TargetFile> = BTreeMap::new();
    for b in &bins {
        new_list.extend(&b.targets);
    }
    if top_changed {
        new_list.extend(verified.targets());
    }
    let mut old_list: BTreeMap<String, TargetFile> = BTreeMap::new();
    let mut prune = Vec::new();
    if incremental {
        if top_changed {
            match listed_targets(state.targets.as_deref()) {
                Some(t) => old_list.extend(t),
                None => return refresh(name, trusted, state, verified, fetch, true),
            }
        }
        for b in &bins {
            let file = format!("{}.json", b.name);
            if let Some(v) = prev_version(&file) {
                let path = bin_file(trusted, &b.name, v);
                match listed_targets(std::fs::read(&path).ok().as_deref()) {
                    Some(t) => old_list.extend(t),
                    None => return refresh(name, trusted, state, verified, fetch, true),
                }
                if v != b.version {
                    prune.push(path);
                }
            }
        }
    }

    // Every target of a changed targets file: the cached copy when it
    // verifies, else a download, verified; a bin with a pack as one piece
    // of work (`pack_work`); records' ranges for the index.
    let mut work: Vec<Work<'_>> = Vec::new();
    if top_changed {
        work.extend(verified.targets().iter().map(|(n, i)| Work::File(n, i)));
    }
    for b in &bins {
        match pack_in(verified, &b.name, &b.targets).map_err(verify_err)? {
            Some((pack, info)) => {
                let old = old_list.get(&pack).filter(|o| *o != info);
                work.push(Work::Pack {
                    bin: b,
                    pack,
                    info,
                    old,
                });
            }
            None => work.extend(b.targets.iter().map(|(n, i)| Work::File(n, i))),
        }
    }
    // A cached file to write; records' ranges (incremental); every file's
    // bytes (a full refresh: see `check_dists`).
    type Checked = (
        Option<(PathBuf, Vec<u8>)>,
        Vec<(String, Option<String>)>,
        Vec<(String, Vec<u8>)>,
    );
    progress.finish();
    progress.start("verifying patches", work.len() as u64);
    let range_of =
        |target: &str, bytes: &[u8]| index::record_id(target).and_then(|_| index::range_of(bytes));
    let source = Source {
        trusted,
        transport,
        verified,
        limits,
        // A cold update has no cache to rebuild from (the folder does not
        // exist yet): not one lookup per target.
        cache: std::fs::read_dir(trusted.join("targets")).is_ok_and(|mut d| d.next().is_some()),
    };
    let checked = par_map(&work, |item| -> Result<Checked, VerifyError> {
        progress.advance(1);
        match item {
            Work::File(target, info) => {
                let path = cache_file(trusted, target, info)?;
                let (bytes, write) = match read_cached_target(&path, target, info) {
                    Some(b) => (b, false),
                    None => (
                        verified.fetch_described(transport, target, info, limits)?,
                        true,
                    ),
                };
                let (ranges, kept) = if incremental {
                    (
                        vec![((*target).clone(), range_of(target, &bytes))],
                        Vec::new(),
                    )
                } else {
                    (Vec::new(), vec![((*target).clone(), bytes.clone())])
                };
                Ok((write.then_some((path, bytes)), ranges, kept))
            }
            Work::Pack {
                bin,
                pack,
                info,
                old,
            } => {
                let (write, members) = source.pack_work(bin, pack, info, *old)?;
                if !incremental {
                    return Ok((write, Vec::new(), members.into_iter().collect()));
                }
                let ranges = members
                    .iter()
                    .filter_map(|(n, b)| index::record_id(n).map(|_| (n.clone(), range_of(n, b))))
                    .collect();
                Ok((write, ranges, Vec::new()))
            }
        }
    });
    progress.finish();
    let mut to_write = Vec::new();
    let mut ranges = BTreeMap::new();
    let mut kept = Vec::new();
    for result in checked {
        let (write, range, bytes) = result.map_err(verify_err)?;
        to_write.extend(write);
        ranges.extend(range);
        kept.extend(bytes);
    }
    let invalid_records = if incremental {
        None
    } else {
        let (dist_ranges, invalid) = check_dists(name, verified.snapshot_version, kept);
        ranges.extend(dist_ranges);
        Some(invalid)
    };
    // What the new state caches: a pack for a bin that has one (the
    // per-file copies of its targets an older state cached go), else each
    // target.
    let mut cached_files = std::collections::BTreeSet::new();
    for item in &work {
        match item {
            Work::File(target, info) => cached_files.extend(cache_file(trusted, target, info).ok()),
            Work::Pack {
                bin, pack, info, ..
            } => {
                cached_files.extend(cache_file(trusted, pack, info).ok());
                if incremental {
                    prune.extend(
                        bin.targets
                            .iter()
                            .filter(|(n, _)| *n != pack)
                            .filter_map(|(n, i)| cache_file(trusted, n, i).ok()),
                    );
                }
            }
        }
    }

    // The index: the dists touched, or all of it.
    let stamp = index::stamp(new_meta);
    let (shards, manifest, keep) = match (incremental, manifest) {
        (true, Some(mut m)) => {
            let mut touched: BTreeMap<String, index::Shard> = BTreeMap::new();
            // (dists, records) of the touched shards before the change.
            let mut before = (0u64, 0u64);
            let mut load = |touched: &mut BTreeMap<String, index::Shard>, target: &str| {
                let Some(dist) = index::dist_of(target) else {
                    return Ok(());
                };
                let key = index::shard_key(dist);
                if !touched.contains_key(&key) {
                    let shard = index::read_shard(trusted, &m, &key)?;
                    let (d, r) = index::counts(&shard);
                    before = (before.0 + d, before.1 + r);
                    touched.insert(key.clone(), shard);
                }
                Ok::<(), String>(())
            };
            let mut count = m.targets;
            let mut ok = true;
            for (target, info) in &old_list {
                match new_list.get(target) {
                    None => {
                        ok &= load(&mut touched, target).is_ok();
                        index::remove(&mut touched, target);
                        if !is_pack_name(target) {
                            count = count.saturating_sub(1);
                        }
                        prune.extend(cache_file(trusted, target, info).ok());
                    }
                    Some(new) if new.sha256() != info.sha256() => {
                        prune.extend(cache_file(trusted, target, info).ok());
                    }
                    Some(_) => {}
                }
            }
            for (target, info) in &new_list {
                match old_list.get(*target) {
                    Some(old) if old == *info => {}
                    old => {
                        ok &= load(&mut touched, target).is_ok();
                        index::add(&mut touched, target, ranges.get(*target).cloned().flatten());
                        if old.is_none() && !is_pack_name(target) {
                            count += 1;
                        }
                    }
                }
            }
            if !ok {
                return refresh(name, trusted, state, verified, fetch, true);
            }
            let after = touched
                .values()
                .map(index::counts)
                .fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
            m.dists = (m.dists + after.0).saturating_sub(before.0);
            m.records = (m.records + after.1).saturating_sub(before.1);
            let mut shards = Vec::new();
            for (key, shard) in touched {
                if let Some(old) = m.shards.remove(&key) {
                    prune.push(index::shard_file(trusted, &key, &old));
                }
                if !shard.is_empty() {
                    let bytes = index::shard_bytes(&shard);
                    m.shards
                        .insert(key.clone(), crate::tree::sha256_hex(&bytes));
                    shards.push((key, bytes));
                }
            }
            // A shard rewritten with the same content keeps its file.
            prune.retain(|p| {
                !shards
                    .iter()
                    .any(|(k, b)| *p == index::shard_file(trusted, k, &crate::tree::sha256_hex(b)))
            });
            m.stamp = stamp;
            m.targets = count;
            (shards, m, None)
        }
        _ => {
            let built = index::build(new_list.keys().copied(), &ranges);
            let (dists, records) = built
                .values()
                .map(index::counts)
                .fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
            let mut m = Manifest {
                format: index::FORMAT,
                stamp,
                targets: new_list.keys().filter(|n| !is_pack_name(n)).count() as u64,
                records,
                dists,
                shards: BTreeMap::new(),
            };
            let mut keep = std::collections::BTreeSet::new();
            let mut shards = Vec::new();
            for (key, shard) in built {
                let bytes = index::shard_bytes(&shard);
                let sha = crate::tree::sha256_hex(&bytes);
                keep.insert(index::shard_file(trusted, &key, &sha));
                m.shards.insert(key.clone(), sha);
                shards.push((key, bytes));
            }
            keep.insert(index::dir(trusted).join("manifest.json"));
            keep.extend(cached_files);
            for b in &bins {
                keep.insert(bin_file(trusted, &b.name, b.version));
            }
            (shards, m, Some(keep))
        }
    };
    let changed_dists = new_list
        .iter()
        .filter(|(target, info)| old_list.get(**target) != Some(**info) && !is_pack_name(target))
        .filter_map(|(target, _)| index::dist_of(target).map(str::to_string))
        .collect();
    Ok(Refresh {
        changed_dists,
        invalid_records,
        bins,
        targets: to_write,
        shards,
        manifest_changed: on_disk.as_ref() != Some(&manifest),
        manifest,
        prune,
        keep,
    })
}

/// Runs the updater from the trusted state in `trusted` against
/// `transport` at `now`.
fn verify(
    name: &str,
    trusted: &TrustedState,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Verified, Error> {
    updater::update(trusted, transport, now, limits).map_err(|source| Error::Verify {
        repo: name.to_string(),
        source,
    })
}

fn read_trusted(name: &str, trusted: &Path, limits: &Limits) -> Result<TrustedState, Error> {
    TrustedState::read_dir(trusted, limits).map_err(|source| Error::Verify {
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

/// What a successful [`update`] verified, for opening its catalog without
/// verifying the cache a second time.
#[derive(Debug)]
pub struct Updated {
    verified: Verified,
    manifest: Manifest,
    /// The dists with a target added or changed by this update.
    pub changed_dists: std::collections::BTreeSet<String>,
    /// When the update checked every dist already (a first update, or the
    /// index rebuilt): those with invalid signed records, each with why.
    pub invalid_records: Option<Vec<String>>,
}

/// `update`: the TUF updater against the repository's URL through
/// `transport`; then the hash bins and targets that changed (all of them
/// the first time), each taken from the cache when it verifies or
/// downloaded, several at once, and verified. Only then is the trusted
/// state written, in one commit (see `commit`), and files the new state no
/// longer uses are removed.
///
/// # Errors
/// [`Error::Verify`] naming the role and the check; the trusted state is
/// unchanged then.
pub fn update(
    home: &Home,
    name: &str,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
    progress: &dyn super::Progress,
) -> Result<(UpdateOutcome, Updated), Error> {
    let _lock = home.lock(LockKind::Exclusive)?;
    config(home, name)?;
    let dir = repo_dir(home, name);
    recover_commit(&dir)?;
    check_pinned_root(&dir)?;
    let trusted = dir.join("trusted");
    let before: Status = read_toml(&dir.join("status.toml"))?.unwrap_or_default();
    let state = read_trusted(name, &trusted, limits)?;
    let verified = verify(name, &state, transport, now, limits)?;
    let refresh = refresh(
        name,
        &trusted,
        &state,
        &verified,
        &Fetch {
            transport,
            now,
            limits,
            progress,
        },
        false,
    )?;
    let after = status_of(&verified, now);
    commit(&dir, &verified, &refresh, &after)?;
    prune(&trusted, &refresh);
    // The metadata verified as fresh at `now`: this home has seen `now`.
    raise_newest_time(home, now)?;
    Ok((
        UpdateOutcome {
            name: name.to_string(),
            before,
            after,
            root_rotations: verified.root_rotations,
            targets: usize::try_from(refresh.manifest.targets).unwrap_or(usize::MAX),
            invalid_records: Vec::new(),
            version: verified.snapshot_version,
            records: refresh.manifest.records,
            dists: refresh.manifest.dists,
            expires: verified
                .expires
                .values()
                .min()
                .map(tuf_time::format)
                .unwrap_or_default(),
        },
        Updated {
            verified,
            manifest: refresh.manifest,
            changed_dists: refresh.changed_dists,
            invalid_records: refresh.invalid_records,
        },
    ))
}

/// The one commit of a verified update, in this order:
///
/// 1. the roots of the chain (`roots/N.root.json`: history, for bundles);
/// 2. content-addressed files, written without a sync each: target files
///    and packs (`targets/<sha256>.<name>`), hash bins (`delegated/V.bin.json`) and
///    index shards (`index/xx.<sha256>.json`); none replaces a file the
///    current state uses;
/// 3. one sync of each of those folders;
/// 4. together, through the commit journal (`state::commit`): the index
///    manifest, then the role files the updater says changed (`root.json`,
///    `targets.json`, `snapshot.json`, `timestamp.json` last),
///    `status.toml` and `root.sha256`.
///
/// A crash before step 4's commit point leaves extra content-addressed
/// files (unused, pruned later) and the previous metadata set; a crash
/// after it leaves a journal that the next reader or writer finishes. Never
/// a mix of the two sets: that would make `--offline` fail until the next
/// online update. An index manifest whose stamp does not match the trusted
/// snapshot is rebuilt, and a file torn by a crash is never trusted: every
/// use checks it against the signed hashes.
fn commit(
    dir: &Path,
    verified: &Verified,
    refresh: &Refresh,
    status: &Status,
) -> Result<(), Error> {
    let trusted = dir.join("trusted");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| Error::from(state::Error::io("write", &path, e))
    };
    for (version, bytes) in &verified.new_roots {
        write_atomic(&dir.join(format!("roots/{version}.root.json")), bytes, None)?;
    }
    // The cache is private like the home, whatever the umask.
    for folder in ["targets", "delegated", "index"] {
        state::lock::create_private_dir(&trusted.join(folder))?;
    }
    let mut synced = std::collections::BTreeSet::new();
    let mut unsynced = |path: &Path, bytes: &[u8]| -> Result<(), Error> {
        crate::tuf::write_unsynced(path, bytes).map_err(io(path))?;
        if let Some(parent) = path.parent() {
            synced.insert(parent.to_path_buf());
        }
        Ok(())
    };
    for (path, bytes) in &refresh.targets {
        unsynced(path, bytes)?;
    }
    for bin in &refresh.bins {
        let path = bin_file(&trusted, &bin.name, bin.version);
        if bin.is_new || !path.is_file() {
            unsynced(&path, &bin.bytes)?;
        }
    }
    for (key, bytes) in &refresh.shards {
        let path = index::shard_file(&trusted, key, &crate::tree::sha256_hex(bytes));
        unsynced(&path, bytes)?;
    }
    for folder in &synced {
        crate::tuf::sync_dir(folder).map_err(io(folder))?;
    }
    let manifest = if refresh.manifest_changed {
        let path = index::dir(&trusted).join("manifest.json");
        let bytes = serde_json::to_vec(&refresh.manifest).map_err(|e| Error::StateFile {
            path,
            reason: e.to_string(),
        })?;
        Some(bytes)
    } else {
        None
    };
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
    // index::dir(trusted), relative to the repository's folder.
    let manifest_name = "trusted/index/manifest.json";
    let mut set: Vec<(&str, &[u8])> = Vec::new();
    if let Some(bytes) = &manifest {
        set.push((manifest_name, bytes.as_slice()));
    }
    set.extend(
        names
            .iter()
            .zip(&verified.changed)
            .map(|(n, (_, bytes))| (n.as_str(), bytes.as_slice())),
    );
    set.push(("status.toml", status_text.as_bytes()));
    set.push((ROOT_DIGEST, digest.as_bytes()));
    Ok(journal::commit_files(dir, &set)?)
}

/// Removes what the committed state no longer uses: old target revisions,
/// old bin versions, replaced index shards, and after a full rebuild
/// anything else in those folders (such as an older cache layout). Best
/// effort: a file left behind costs space, never correctness.
fn prune(trusted: &Path, refresh: &Refresh) {
    for path in &refresh.prune {
        let _ = std::fs::remove_file(path);
    }
    let Some(keep) = &refresh.keep else {
        return;
    };
    for folder in ["targets", "delegated", "index"] {
        let Ok(entries) = std::fs::read_dir(trusted.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if keep.contains(&path) {
                continue;
            }
            let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

/// A dist's files from the trust store, looked up through the index (see
/// [`index`]): the bins listing them verified against the verified
/// snapshot and the delegation's keys, each file against its signed
/// length and hashes.
struct StoreSource {
    name: String,
    trusted: PathBuf,
    verified: Verified,
    now: DateTime<Utc>,
    index: IndexView,
    bins: std::sync::Mutex<BTreeMap<String, std::sync::Arc<LookupBin>>>,
    /// The index shards read so far, by number.
    shards: std::sync::Mutex<BTreeMap<usize, std::sync::Arc<index::Shard>>>,
    /// The packs read so far, by bin (`None`: the bin lists no pack).
    packs: std::sync::Mutex<BTreeMap<String, Option<std::sync::Arc<CachedPack>>>>,
    /// Where a damaged cached target is fetched again (online opens only).
    repair: Option<Box<dyn Transport>>,
    /// Download limits.
    limits: Limits,
}

/// A bin's pack as a lookup reads it: from its cached copy, member by
/// member (not checked as a whole: each member used is).
struct CachedPack {
    /// Its target name.
    name: String,
    /// Its signed description.
    info: TargetFile,
    /// Its bytes when a lookup fetched it again (a damaged cached copy).
    fetched: Option<Vec<u8>>,
}

/// The index a lookup uses: on disk (its stamp matches the verified
/// snapshot), or rebuilt in memory from the verified targets files.
enum IndexView {
    OnDisk(Manifest),
    InMemory(BTreeMap<String, index::Shard>),
}

impl StoreSource {
    fn unverified(&self, what: impl std::fmt::Display) -> LoadError {
        LoadError::Unverified(format!("repository {}: {what}", self.name))
    }

    /// Index shard `n`, read (and checked against the manifest) once.
    fn shard(&self, n: usize) -> Result<std::sync::Arc<index::Shard>, LoadError> {
        if let Some(s) = self.shards.lock().ok().and_then(|m| m.get(&n).cloned()) {
            return Ok(s);
        }
        let key = index::key_of(n);
        let shard = match &self.index {
            IndexView::OnDisk(m) => index::read_shard(&self.trusted, m, &key)
                .map_err(|e| self.unverified(format!("index shard {e}; run `patchkit update`")))?,
            IndexView::InMemory(shards) => shards.get(&key).cloned().unwrap_or_default(),
        };
        let shard = std::sync::Arc::new(shard);
        if let Ok(mut m) = self.shards.lock() {
            m.insert(n, shard.clone());
        }
        Ok(shard)
    }

    fn bin(&self, bin: &str) -> Result<std::sync::Arc<LookupBin>, LoadError> {
        if let Some(b) = self.bins.lock().ok().and_then(|m| m.get(bin).cloned()) {
            return Ok(b);
        }
        let version = self
            .verified
            .snapshot_meta()
            .get(&format!("{bin}.json"))
            .map_or(0, |m| m.version);
        let cached = std::fs::read(bin_file(&self.trusted, bin, version)).ok();
        let loaded = self
            .verified
            .lookup_bin(
                bin,
                cached.as_deref(),
                self.repair.as_deref().unwrap_or(&NoTransport),
                self.now,
                &self.limits,
            )
            .map_err(|e| self.unverified(e))?;
        let targets = std::sync::Arc::new(loaded);
        if let Ok(mut m) = self.bins.lock() {
            m.insert(bin.to_string(), targets.clone());
        }
        Ok(targets)
    }

    /// The bytes of `target` (signed as `info`) out of the pack of the bin
    /// it hashes to, checked against `info`; `None` when that bin lists no
    /// pack (the target is cached on its own). Only that member is read and
    /// hashed, not the whole pack: the member's own signed hashes are what
    /// vouch for it. A pack that is missing, damaged or lacks it is fetched
    /// again online (verified against its signed length and hashes), and
    /// refused offline.
    fn packed(&self, target: &str, info: &TargetFile) -> Result<Option<Vec<u8>>, LoadError> {
        let Some(bin) = self
            .verified
            .role_for_target(target)
            .filter(|r| r != Role::Targets.as_str())
        else {
            return Ok(None);
        };
        let Some(cached) = self.pack_of(&bin)? else {
            return Ok(None);
        };
        let CachedPack {
            name: pack,
            info: pack_info,
            fetched,
        } = cached.as_ref();
        let good = |found: Result<Option<Vec<u8>>, String>| {
            found
                .ok()
                .flatten()
                .filter(|m| updater::check_target(target, info, m).is_ok())
        };
        let found = match fetched {
            Some(bytes) => pack::member(std::io::Cursor::new(bytes), pack_info.length, target),
            None => cache_file(&self.trusted, pack, pack_info)
                .map_err(|e| e.to_string())
                .and_then(|path| std::fs::File::open(path).map_err(|e| e.to_string()))
                .and_then(|f| pack::member(f, pack_info.length, target)),
        };
        if let Some(m) = good(found) {
            return Ok(Some(m));
        }
        let Some(transport) = &self.repair else {
            return Err(self.unverified(format!(
                "the cached pack targets/{pack} of {bin} is missing or damaged (it does not \
                 hold targets/{target} as {bin} signs it); run a command without --offline to \
                 fetch it again"
            )));
        };
        let bytes = self
            .verified
            .fetch_described(transport.as_ref(), pack, pack_info, &self.limits)
            .map_err(|e| self.unverified(e))?;
        // A repair is a fetch like any other: cached for next time.
        if let Ok(path) = cache_file(&self.trusted, pack, pack_info) {
            let _ = crate::tuf::write_unsynced(&path, &bytes);
        }
        let found = good(pack::member(
            std::io::Cursor::new(&bytes),
            pack_info.length,
            target,
        ));
        if let Ok(mut m) = self.packs.lock() {
            m.insert(
                bin.clone(),
                Some(std::sync::Arc::new(CachedPack {
                    name: pack.clone(),
                    info: pack_info.clone(),
                    fetched: Some(bytes),
                })),
            );
        }
        found.map(Some).ok_or_else(|| {
            self.unverified(VerifyError::Pack {
                bin: bin.clone(),
                pack: pack.clone(),
                reason: format!("does not hold targets/{target} as {bin} signs it"),
            })
        })
    }

    /// The pack bin `bin` lists, if any.
    fn pack_of(&self, bin: &str) -> Result<Option<std::sync::Arc<CachedPack>>, LoadError> {
        if let Some(p) = self.packs.lock().ok().and_then(|m| m.get(bin).cloned()) {
            return Ok(p);
        }
        // The name under packs/ the bin lists is its pack: `update` refused
        // a bin listing any other (`pack_in`). (Whatever pack is used, each
        // member taken out of it is checked against its own signed hashes.)
        let listed = self.bin(bin)?;
        let names = listed.names_under(&format!("{}/", pack::PACKS_DIR));
        let first = match names.first() {
            Some(name) => listed
                .target(name)
                .map_err(|e| self.unverified(e))?
                .map(|info| (name.clone(), info)),
            None => None,
        };
        let found = first.map(|(name, info)| {
            std::sync::Arc::new(CachedPack {
                name,
                info,
                fetched: None,
            })
        });
        if let Ok(mut m) = self.packs.lock() {
            m.insert(bin.to_string(), found.clone());
        }
        Ok(found)
    }

    fn info(&self, target: &str) -> Result<TargetFile, LoadError> {
        let role = self.verified.role_for_target(target);
        let found = match role.as_deref() {
            Some("targets") => self.verified.targets().get(target).cloned(),
            Some(bin) => self
                .bin(bin)?
                .target(target)
                .map_err(|e| self.unverified(e))?,
            None => None,
        };
        found.ok_or_else(|| {
            self.unverified(format!(
                "the index lists {target}, which the verified metadata does not; \
                 run `patchkit update`"
            ))
        })
    }
}

impl DistSource for StoreSource {
    fn shard_count(&self) -> usize {
        index::SHARDS
    }

    fn shard_of(&self, dist: &str) -> usize {
        index::shard_number(dist)
    }

    fn dists_in_shard(&self, shard: usize) -> Result<Vec<String>, LoadError> {
        Ok(self.shard(shard)?.keys().cloned().collect())
    }

    fn files_of(&self, dist: &str) -> Result<BTreeMap<String, Vec<u8>>, LoadError> {
        let shard = self.shard(index::shard_number(dist))?;
        let Some(entry) = shard.get(dist) else {
            return Ok(BTreeMap::new());
        };
        // The bins that list the dist's files (about one per file), verified
        // side by side: each is a signature check and a parse that would
        // otherwise run one after another.
        let bins: std::collections::BTreeSet<String> = entry
            .targets
            .iter()
            .filter_map(|t| self.verified.role_for_target(t))
            .filter(|role| role != Role::Targets.as_str())
            .filter(|bin| !self.bins.lock().is_ok_and(|m| m.contains_key(bin)))
            .collect();
        if bins.len() > 1 {
            use rayon::prelude::*;
            bins.par_iter()
                .map(|bin| self.bin(bin).map(|_| ()))
                .collect::<Result<(), LoadError>>()?;
        }
        let mut files = BTreeMap::new();
        for target in &entry.targets {
            let info = self.info(target)?;
            if let Some(bytes) = self.packed(target, &info)? {
                files.insert(target.clone(), bytes);
                continue;
            }
            let path = cache_file(&self.trusted, target, &info).map_err(|e| self.unverified(e))?;
            let bytes = match (read_cached_target(&path, target, &info), &self.repair) {
                (Some(b), _) => b,
                (None, Some(transport)) => {
                    let b = self
                        .verified
                        .fetch_described(transport.as_ref(), target, &info, &self.limits)
                        .map_err(|e| self.unverified(e))?;
                    // A repair is a fetch like any other: cached for next
                    // time (content-addressed, so never half-trusted).
                    let _ = crate::tuf::write_unsynced(&path, &b);
                    b
                }
                (None, None) => {
                    return Err(self.unverified(format!(
                        "the cached copy of targets/{target} is missing or does not match its \
                         signed hashes; run a command without --offline to fetch it again"
                    )))
                }
            };
            files.insert(target.clone(), bytes);
        }
        Ok(files)
    }

    fn dist_of_record(&self, id: &str) -> Result<Option<String>, LoadError> {
        for n in 0..index::SHARDS {
            for (dist, entry) in self.shard(n)?.iter() {
                if entry.records.contains_key(id) {
                    return Ok(Some(dist.clone()));
                }
            }
        }
        Ok(None)
    }
}

/// The per-dist catalog of a verified state: the on-disk index when its
/// stamp matches the verified snapshot, else one rebuilt in memory from
/// every verified targets file (slow, but as strict; the next update
/// rewrites the index).
fn per_dist_catalog(
    name: &str,
    trusted: &Path,
    verified: Verified,
    manifest: Option<Manifest>,
    now: DateTime<Utc>,
    repair: Option<Box<dyn Transport>>,
    limits: &Limits,
) -> Result<Catalog, Error> {
    let stamp = index::stamp(verified.snapshot_meta());
    let view = match manifest.filter(|m| m.stamp == stamp) {
        Some(m) => IndexView::OnDisk(m),
        None => {
            let cache = CacheTransport {
                trusted: trusted.to_path_buf(),
            };
            let all = all_targets(
                name,
                trusted,
                &verified,
                repair.as_deref().unwrap_or(&cache),
                now,
                limits,
            )?;
            IndexView::InMemory(index::build(all.keys(), &BTreeMap::new()))
        }
    };
    let origin = Origin::Signed {
        name: name.to_string(),
        version: verified.snapshot_version,
    };
    Ok(Catalog::per_dist(
        origin,
        Box::new(StoreSource {
            name: name.to_string(),
            trusted: trusted.to_path_buf(),
            verified,
            now,
            index: view,
            bins: std::sync::Mutex::new(BTreeMap::new()),
            shards: std::sync::Mutex::new(BTreeMap::new()),
            packs: std::sync::Mutex::new(BTreeMap::new()),
            repair,
            limits: limits.clone(),
        }),
    ))
}

/// Every target the verified state lists (top-level and every bin, each
/// bin verified; from the cache first, else through `transport`), packs
/// included.
fn all_targets(
    name: &str,
    trusted: &Path,
    verified: &Verified,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<BTreeMap<String, TargetFile>, Error> {
    let mut all = verified.targets().clone();
    for b in all_bins(name, trusted, verified, transport, now, limits)? {
        all.extend(b.targets);
    }
    Ok(all)
}

/// Every hash bin of the verified state, verified with every target it
/// lists (from the cache first, else through `transport`).
fn all_bins(
    name: &str,
    trusted: &Path,
    verified: &Verified,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Vec<LoadedBin>, Error> {
    let Some(roles) = verified.bins() else {
        return Ok(Vec::new());
    };
    let names: Vec<String> = roles.bin_names().collect();
    let meta = verified.snapshot_meta();
    par_map(&names, |bin| {
        let version = meta.get(&format!("{bin}.json")).map_or(0, |m| m.version);
        let cached = std::fs::read(bin_file(trusted, bin, version)).ok();
        verified.load_bin(
            bin,
            cached.as_deref(),
            transport,
            now,
            limits,
            BinScope::EveryTarget,
        )
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(|source| Error::Verify {
        repo: name.to_string(),
        source,
    })
}

/// The catalog of repository `name` right after [`update`] verified it:
/// per dist, damaged cached files fetched again through `transport`.
///
/// # Errors
/// [`Error`] when the index must be rebuilt and a bin does not verify.
pub fn updated_catalog(
    home: &Home,
    name: &str,
    updated: Updated,
    now: DateTime<Utc>,
    transport: Box<dyn Transport>,
    limits: &Limits,
) -> Result<Catalog, Error> {
    let trusted = repo_dir(home, name).join("trusted");
    per_dist_catalog(
        name,
        &trusted,
        updated.verified,
        Some(updated.manifest),
        now,
        Some(transport),
        limits,
    )
}

/// Builds the verified catalog of repository `name` from its cache,
/// verifying the cached chain (signatures, hashes, expiry at `now`) again,
/// in place and without any network or write. The catalog loads per dist:
/// a lookup verifies the bins listing that dist's files and re-hashes
/// those files only.
///
/// # Errors
/// [`Error::Stale`] when cached metadata expired; [`Error::Verify`] when
/// the cache does not verify.
pub fn load_cached(
    home: &Home,
    name: &str,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<VerifiedCatalog, Error> {
    let (verified, as_of) = verify_cached(home, name, now, limits)?;
    let expires = verified.expires.values().min().copied();
    let trusted = repo_dir(home, name).join("trusted");
    let manifest = index::read_manifest(&trusted);
    let catalog = per_dist_catalog(name, &trusted, verified, manifest, now, None, limits)?;
    Ok(VerifiedCatalog {
        catalog,
        as_of,
        expires,
    })
}

/// When repository `name` was last verified by a successful update
/// (`status.toml`), if ever; unverified, for messages only.
pub fn last_verified(home: &Home, name: &str) -> Option<DateTime<Utc>> {
    let status: Status = read_toml(&repo_dir(home, name).join("status.toml"))
        .ok()
        .flatten()?;
    tuf_time::parse(&status.last_update)
}

/// Verifies the cached top-level chain of repository `name` at `now`.
fn verify_cached(
    home: &Home,
    name: &str,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<(Verified, Option<DateTime<Utc>>), Error> {
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
    let state = read_trusted(name, &trusted, limits)?;
    let verified = verify(name, &state, &transport, now, limits).map_err(stale)?;
    let as_of = status
        .as_ref()
        .and_then(|s| tuf_time::parse(&s.last_update));
    Ok((verified, as_of))
}

/// Files in the repository layout: `(path, bytes)`.
pub(crate) type RepositoryFiles = Vec<(String, Vec<u8>)>;

/// Every file a bundle carries beyond the roots, verified from the cache
/// at `now`: `(path in the repository layout, bytes)` for the snapshot,
/// targets, every hash bin and every target.
pub(crate) fn cached_repository(
    home: &Home,
    name: &str,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<(u64, RepositoryFiles), Error> {
    let (verified, _) = verify_cached(home, name, now, limits)?;
    let trusted = repo_dir(home, name).join("trusted");
    let verify_err = |source| Error::Verify {
        repo: name.to_string(),
        source,
    };
    let consistent = verified.consistent_snapshot();
    let mut files = Vec::new();
    // What the bundle carries of the targets: a bin's pack when it lists
    // one (its members are read from it), else each target.
    let mut carried: Vec<(String, TargetFile)> = verified
        .targets()
        .iter()
        .map(|(n, i)| (n.clone(), i.clone()))
        .collect();
    for b in all_bins(name, &trusted, &verified, &NoTransport, now, limits)? {
        let path = if consistent {
            format!("metadata/{}.{}.json", b.version, b.name)
        } else {
            format!("metadata/{}.json", b.name)
        };
        match pack_in(&verified, &b.name, &b.targets).map_err(verify_err)? {
            Some((pack, info)) => carried.push((pack, info.clone())),
            None => carried.extend(b.targets),
        }
        files.push((path, b.bytes));
    }
    for (target, info) in &carried {
        let path = cache_file(&trusted, target, info).map_err(verify_err)?;
        let bytes = read_cached_target(&path, target, info).ok_or_else(|| {
            verify_err(VerifyError::Missing {
                role: "targets",
                path: format!("targets/{target} (cached)"),
            })
        })?;
        let remote = if consistent {
            format!(
                "targets/{}",
                updater::hashed_name_of(target, info).map_err(verify_err)?
            )
        } else {
            format!("targets/{target}")
        };
        files.push((remote, bytes));
    }
    Ok((verified.snapshot_version, files))
}

/// Verifies a repository given as a transport (a bundle) from `trusted`
/// at `now`, with every bin and every target, and returns its whole
/// catalog. Nothing is written.
pub(crate) fn verify_all(
    name: &str,
    trusted: &TrustedState,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Catalog, Error> {
    let verified = verify(name, trusted, transport, now, limits)?;
    let nowhere = Path::new("/nonexistent-patchkit-cache");
    let verify_err = |source| Error::Verify {
        repo: name.to_string(),
        source,
    };
    let fetch = |target: &str, info: &TargetFile| {
        verified
            .fetch_described(transport, target, info, limits)
            .map_err(verify_err)
    };
    let mut files = BTreeMap::new();
    for (target, info) in verified.targets() {
        files.insert(target.clone(), fetch(target, info)?);
    }
    for b in all_bins(name, nowhere, &verified, transport, now, limits)? {
        match pack_in(&verified, &b.name, &b.targets).map_err(verify_err)? {
            Some((pack, info)) => {
                let bytes = fetch(&pack, info)?;
                files.extend(pack::unpack(&b.name, &pack, &bytes, &b.targets).map_err(verify_err)?);
            }
            None => {
                for (target, info) in &b.targets {
                    files.insert(target.clone(), fetch(target, info)?);
                }
            }
        }
    }
    catalog_of(name, verified.snapshot_version, &files)
}

/// The catalog of verified target files; `version` is the repository's
/// (its snapshot version).
pub(crate) fn catalog_of(
    name: &str,
    version: u64,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Catalog, Error> {
    Catalog::from_files(
        Origin::Signed {
            name: name.to_string(),
            version,
        },
        files,
    )
    .map_err(|problems| Error::Catalog {
        repo: name.to_string(),
        problems,
    })
}

/// The file holding the newest time this home has seen (see
/// [`newest_time_seen`]).
const NEWEST_TIME_FILE: &str = "newest-time";

/// The newest time this home has seen: when an update last verified fresh
/// metadata, or the latest making time of a bundle it accepted. A bundle's
/// metadata is verified as of this time at least, so that re-dating a
/// bundle (its time is not signed) cannot revive expired metadata.
pub fn newest_time_seen(home: &Home) -> Option<DateTime<Utc>> {
    let bytes = crate::state::read_bounded(&home.root().join(NEWEST_TIME_FILE), 64).ok()?;
    tuf_time::parse(std::str::from_utf8(&bytes).ok()?.trim())
}

/// Raises [`newest_time_seen`] to `t` (never lowers it). The caller holds
/// the home's exclusive lock.
pub(crate) fn raise_newest_time(home: &Home, t: DateTime<Utc>) -> Result<(), Error> {
    if newest_time_seen(home).is_some_and(|seen| seen >= t) {
        return Ok(());
    }
    let text = format!("{}\n", tuf_time::format(&t));
    crate::state::write_atomic(&home.root().join(NEWEST_TIME_FILE), text.as_bytes(), None)?;
    Ok(())
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
