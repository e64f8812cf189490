//! The client: TUF 1.0 §5.3–5.7, the "detailed client workflow", over a
//! small [`Transport`].
//!
//! [`update`] starts from the trusted `root.json` in a local directory,
//! follows root rotations (`N+1.root.json`, each signed by a threshold of
//! the old *and* the new root keys), then verifies timestamp, snapshot and
//! targets against signatures, versions (no rollback), hashes and lengths
//! from the role above, and expiry. Every download is bounded: metadata by
//! [`Limits`] or by the length the role above signed, targets by their
//! signed length (DESIGN.md "Untrusted input is bounded").
//!
//! Nothing in the trusted directory changes until everything verified; then
//! each changed file is replaced through a temporary file and a rename. A
//! failed update leaves the directory byte-for-byte as it was (DESIGN.md
//! "Nothing half-done").
//!
//! Not supported, and refused cleanly: delegated targets roles (a targets
//! file with delegated roles is an error), hash algorithms other than
//! sha256 and sha512. Intermediate roots are not checked for expiry (only
//! the final one is), as the specification says.
//!
//! The cache layout in the trusted directory follows python-tuf's:
//! `root.json`, `timestamp.json`, `snapshot.json`, `targets.json`, plus
//! verified targets under `targets/<dirs>/<sha256>.<name>`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use patchkit_signing::verify_threshold;

use super::metadata::{
    tuf_time, Envelope, Hashes, MetaFile, MetadataError, RoleMetadata, Root, Snapshot, TargetFile,
    Targets, Timestamp,
};
use super::publish::role_keys_of;
use super::{check_target_path, hashed_target_path, write_atomic};

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The repository has no such file (HTTP 403/404, or no file).
    #[error("{path} was not found on the repository")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The file is longer than the caller allowed.
    #[error("{path} is larger than the {max_len}-byte limit")]
    TooLarge {
        /// The path asked for.
        path: String,
        /// The limit.
        max_len: u64,
    },
    /// Reading failed.
    #[error("{path} could not be read: {source}")]
    Io {
        /// The path asked for.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else (bad URL, HTTP status, refused path).
    #[error("{path}: {reason}")]
    Other {
        /// The path asked for.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Where metadata and targets come from. `path` is relative to the
/// repository base, e.g. `metadata/timestamp.json` or
/// `targets/Foo/<sha256>.X.patch`; implementations must not return more
/// than `max_len` bytes (return [`TransportError::TooLarge`] instead).
pub trait Transport {
    /// Fetches one file, at most `max_len` bytes.
    ///
    /// # Errors
    /// [`TransportError::NotFound`] when the file does not exist; the other
    /// variants for every other failure.
    fn fetch(&self, path: &str, max_len: u64) -> Result<Vec<u8>, TransportError>;
}

/// A repository on the local file system: a directory or a `file://` URL.
#[derive(Debug, Clone)]
pub struct FilesystemTransport {
    base: PathBuf,
}

impl FilesystemTransport {
    /// A repository whose base directory (holding `metadata/` and
    /// `targets/`) is `base`.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        FilesystemTransport { base: base.into() }
    }

    /// A repository at a `file:///abs/path` URL (no host, no
    /// percent-escapes).
    ///
    /// # Errors
    /// [`TransportError::Other`] for anything but a plain absolute file URL.
    pub fn from_url(url: &str) -> Result<Self, TransportError> {
        let path = url
            .strip_prefix("file://")
            .filter(|p| p.starts_with('/') && !p.contains('%'))
            .ok_or_else(|| TransportError::Other {
                path: url.chars().take(80).collect(),
                reason: "is not a file:///absolute/path URL".into(),
            })?;
        Ok(Self::new(path))
    }
}

impl Transport for FilesystemTransport {
    fn fetch(&self, path: &str, max_len: u64) -> Result<Vec<u8>, TransportError> {
        // Paths come from metadata (target names); never leave the base.
        check_target_path(path).map_err(|reason| TransportError::Other {
            path: path.chars().take(80).collect(),
            reason,
        })?;
        let full = self.base.join(path);
        let file = std::fs::File::open(&full).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                TransportError::NotFound {
                    path: path.to_string(),
                }
            } else {
                TransportError::Io {
                    path: path.to_string(),
                    source,
                }
            }
        })?;
        read_bounded(file, max_len).map_err(|e| match e {
            Bounded::TooLarge => TransportError::TooLarge {
                path: path.to_string(),
                max_len,
            },
            Bounded::Io(source) => TransportError::Io {
                path: path.to_string(),
                source,
            },
        })
    }
}

enum Bounded {
    TooLarge,
    Io(std::io::Error),
}

/// Reads at most `max_len` bytes; one byte more means "too large", without
/// ever reading the rest (endless-data attack, TUF §5.2).
fn read_bounded(reader: impl Read, max_len: u64) -> Result<Vec<u8>, Bounded> {
    let mut out = Vec::new();
    reader
        .take(max_len.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(Bounded::Io)?;
    if out.len() as u64 > max_len {
        return Err(Bounded::TooLarge);
    }
    Ok(out)
}

/// Download limits for metadata whose length no signed role gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Any `N.root.json`; default 512 KiB.
    pub max_root_size: u64,
    /// `timestamp.json`; default 16 KiB.
    pub max_timestamp_size: u64,
    /// `snapshot.json` when timestamp gives no length; default 2 MB
    /// (python-tuf's `snapshot_max_length`).
    pub max_snapshot_size: u64,
    /// `targets.json` when snapshot gives no length; default 5 MB
    /// (python-tuf's `targets_max_length`).
    pub max_targets_size: u64,
    /// Root versions followed in one update; default 32.
    pub max_root_rotations: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_root_size: 512 * 1024,
            max_timestamp_size: 16 * 1024,
            max_snapshot_size: 2_000_000,
            max_targets_size: 5_000_000,
            max_root_rotations: 32,
        }
    }
}

/// Why an update or a target download was refused. Every message names the
/// role (or target) and the check that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No `root.json` to start from.
    #[error("no trusted root: {} does not exist (add the repository's root.json first)", path.display())]
    NoTrustedRoot {
        /// Where it was expected.
        path: PathBuf,
    },
    /// A required file is not on the repository.
    #[error("{role}: {path} was not found on the repository")]
    Missing {
        /// The role.
        role: &'static str,
        /// The path asked for.
        path: String,
    },
    /// A download exceeded its bound.
    #[error("{role}: {path} is larger than the {max_len}-byte limit")]
    TooLarge {
        /// The role.
        role: &'static str,
        /// The path asked for.
        path: String,
        /// The limit.
        max_len: u64,
    },
    /// The transport failed.
    #[error("{role}: {source}")]
    Transport {
        /// The role.
        role: &'static str,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// The document is not valid metadata of its role.
    #[error("{role}: {source}")]
    Metadata {
        /// The role.
        role: &'static str,
        /// What is wrong.
        #[source]
        source: MetadataError,
    },
    /// Not enough valid signatures.
    #[error("{role}: {source}")]
    Signature {
        /// The role.
        role: &'static str,
        /// The count.
        #[source]
        source: patchkit_signing::VerifyError,
    },
    /// A new root is not signed by a threshold of the trusted root's keys,
    /// or not by a threshold of its own.
    #[error("root: version {version} has {source} of {by} root keys")]
    RootSignature {
        /// The new root's version.
        version: u64,
        /// "the trusted" or "its own".
        by: &'static str,
        /// The count.
        #[source]
        source: patchkit_signing::VerifyError,
    },
    /// `N.root.json` holds another version.
    #[error("root: {expected}.root.json holds version {found}")]
    RootVersion {
        /// N.
        expected: u64,
        /// The version in the file.
        found: u64,
    },
    /// A version older than the trusted one.
    #[error("{role}: version {version} is older than trusted version {trusted} (rollback)")]
    Rollback {
        /// The role (or `timestamp: snapshot.json` style location).
        role: String,
        /// Offered version.
        version: u64,
        /// Trusted version.
        trusted: u64,
    },
    /// The new snapshot dropped a role the trusted one listed.
    #[error("snapshot: {name} is missing although the trusted snapshot lists it")]
    MetaRemoved {
        /// The file name, e.g. `targets.json`.
        name: String,
    },
    /// The role above lists no entry for this file.
    #[error("{role}: no entry for {name}")]
    MissingMeta {
        /// The listing role.
        role: &'static str,
        /// The missing file name.
        name: &'static str,
    },
    /// The version does not match what the role above lists.
    #[error("{role}: version {found} does not match version {expected} listed in {listed_in}")]
    VersionMismatch {
        /// The role.
        role: &'static str,
        /// The version found.
        found: u64,
        /// The version listed.
        expected: u64,
        /// The listing role.
        listed_in: &'static str,
    },
    /// Length differs from what the role above signed.
    #[error("{role}: length {found} does not match length {expected} listed in {listed_in}")]
    MetaLength {
        /// The role.
        role: &'static str,
        /// Bytes received.
        found: u64,
        /// Bytes listed.
        expected: u64,
        /// The listing role.
        listed_in: &'static str,
    },
    /// A hash differs from what the role above signed.
    #[error("{role}: {algorithm} does not match {listed_in} metadata")]
    MetaHash {
        /// The role.
        role: &'static str,
        /// The algorithm.
        algorithm: String,
        /// The listing role.
        listed_in: &'static str,
    },
    /// Expired.
    #[error("{role}: expired at {}", tuf_time::format(expires))]
    Expired {
        /// The role.
        role: &'static str,
        /// Its expiry.
        expires: DateTime<Utc>,
    },
    /// Something this client does not implement.
    #[error("{role}: {what} are not supported")]
    Unsupported {
        /// The role.
        role: &'static str,
        /// What.
        what: &'static str,
    },
    /// A hash algorithm we cannot check, or no hashes at all.
    #[error("{role}: hash algorithm {algorithm:?} is not supported (sha256, sha512 are)")]
    UnsupportedHash {
        /// The role or `targets/NAME`.
        role: String,
        /// The algorithm (bounded).
        algorithm: String,
    },
    /// The target is not listed.
    #[error("targets/{name}: not listed in targets metadata")]
    UnknownTarget {
        /// The name (bounded).
        name: String,
    },
    /// The target name is not a safe relative path.
    #[error("targets/{name}: refused name, it {reason}")]
    BadTargetName {
        /// The name (bounded).
        name: String,
        /// Why.
        reason: String,
    },
    /// The target's length differs from the signed one.
    #[error(
        "targets/{name}: length {found} does not match the {expected} bytes in targets metadata"
    )]
    TargetLength {
        /// The name.
        name: String,
        /// Bytes received (or at least this many).
        found: u64,
        /// Bytes listed.
        expected: u64,
    },
    /// The target's hash differs from the signed one.
    #[error("targets/{name}: {algorithm} does not match targets metadata")]
    TargetHash {
        /// The name.
        name: String,
        /// The algorithm.
        algorithm: String,
    },
    /// The target could not be fetched.
    #[error("targets/{name}: {source}")]
    TargetTransport {
        /// The name.
        name: String,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// The trusted directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What a successful [`update`] verified; fetch targets through it.
#[derive(Debug, Clone)]
pub struct UpdateReport {
    /// Trusted root version after the update.
    pub root_version: u64,
    /// Root versions followed in this update.
    pub root_rotations: u32,
    /// Timestamp version.
    pub timestamp_version: u64,
    /// Snapshot version.
    pub snapshot_version: u64,
    /// Targets version.
    pub targets_version: u64,
    /// Expiry of each top-level role, by role name.
    pub expires: BTreeMap<&'static str, DateTime<Utc>>,
    /// Cached files replaced in the trusted directory (`root.json`, ...).
    pub updated: Vec<&'static str>,
    consistent_snapshot: bool,
    targets: Targets,
    trusted_dir: PathBuf,
}

impl UpdateReport {
    /// The verified target list.
    pub fn targets(&self) -> &BTreeMap<String, TargetFile> {
        &self.targets.targets
    }

    /// The verified targets metadata (custom fields included).
    pub fn targets_metadata(&self) -> &Targets {
        &self.targets
    }

    /// Downloads target `name` (or takes it from the local target cache),
    /// checks its length and every hash against the verified targets
    /// metadata, caches it, and returns its bytes. With consistent
    /// snapshots it is fetched as `targets/<dirs>/<sha256>.<name>`.
    ///
    /// # Errors
    /// [`VerifyError`] naming the target and the failed check.
    pub fn fetch_target(
        &self,
        transport: &dyn Transport,
        name: &str,
    ) -> Result<Vec<u8>, VerifyError> {
        let bounded: String = name.chars().take(120).collect();
        let info = self
            .targets
            .targets
            .get(name)
            .ok_or_else(|| VerifyError::UnknownTarget {
                name: bounded.clone(),
            })?;
        check_target_path(name).map_err(|reason| VerifyError::BadTargetName {
            name: bounded.clone(),
            reason,
        })?;
        let sha256 = info
            .sha256()
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| VerifyError::UnsupportedHash {
                role: format!("targets/{bounded}"),
                algorithm: "(no sha256)".into(),
            })?;
        let hashed = hashed_target_path(name, sha256);
        let cache_path = self.trusted_dir.join("targets").join(&hashed);
        // The cache is only a shortcut: cached bytes pass the same checks.
        if let Ok(file) = std::fs::File::open(&cache_path) {
            if let Ok(bytes) = read_bounded(file, info.length) {
                if check_target(name, info, &bytes).is_ok() {
                    return Ok(bytes);
                }
            }
        }
        let remote = if self.consistent_snapshot {
            format!("targets/{hashed}")
        } else {
            format!("targets/{name}")
        };
        let bytes = transport
            .fetch(&remote, info.length)
            .map_err(|source| match source {
                TransportError::TooLarge { .. } => VerifyError::TargetLength {
                    name: bounded.clone(),
                    found: info.length.saturating_add(1),
                    expected: info.length,
                },
                source => VerifyError::TargetTransport {
                    name: bounded.clone(),
                    source,
                },
            })?;
        check_target(name, info, &bytes)?;
        write_atomic(&cache_path, &bytes).map_err(|source| VerifyError::Io {
            path: cache_path,
            source,
        })?;
        Ok(bytes)
    }
}

fn check_target(name: &str, info: &TargetFile, bytes: &[u8]) -> Result<(), VerifyError> {
    let bounded: String = name.chars().take(120).collect();
    if bytes.len() as u64 != info.length {
        return Err(VerifyError::TargetLength {
            name: bounded,
            found: bytes.len() as u64,
            expected: info.length,
        });
    }
    check_hashes(&info.hashes, bytes).map_err(|e| match e {
        HashFailure::Mismatch(algorithm) => VerifyError::TargetHash {
            name: bounded.clone(),
            algorithm,
        },
        HashFailure::Unsupported(algorithm) => VerifyError::UnsupportedHash {
            role: format!("targets/{bounded}"),
            algorithm,
        },
    })
}

enum HashFailure {
    Mismatch(String),
    Unsupported(String),
}

/// Checks every listed hash; an empty list or an unknown algorithm is a
/// failure (python-tuf refuses both), never a pass.
fn check_hashes(hashes: &Hashes, bytes: &[u8]) -> Result<(), HashFailure> {
    use sha2::{Digest, Sha256, Sha512};
    if hashes.is_empty() {
        return Err(HashFailure::Unsupported("(none listed)".into()));
    }
    for (algorithm, expected) in hashes {
        let actual = match algorithm.as_str() {
            "sha256" => hex::encode(Sha256::digest(bytes)),
            "sha512" => hex::encode(Sha512::digest(bytes)),
            other => return Err(HashFailure::Unsupported(other.chars().take(20).collect())),
        };
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(HashFailure::Mismatch(algorithm.clone()));
        }
    }
    Ok(())
}

/// A verified metadata file: the bytes as received (cached verbatim, so
/// later hash checks hold) and the parsed role.
struct Loaded<T> {
    bytes: Vec<u8>,
    meta: T,
}

/// Runs the TUF client workflow against `transport`, starting from the
/// trusted `root.json` in `trusted_dir`, with `now` as the reference time
/// for expiry. See the module docs.
///
/// # Errors
/// The first [`VerifyError`]; `trusted_dir` is then unchanged.
pub fn update(
    trusted_dir: &Path,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<UpdateReport, VerifyError> {
    // §5.2: load the trusted root; it must be signed by its own threshold.
    let root_path = trusted_dir.join("root.json");
    let root_bytes = read_local(&root_path, limits.max_root_size)?.ok_or_else(|| {
        VerifyError::NoTrustedRoot {
            path: root_path.clone(),
        }
    })?;
    let trusted_root: Root = {
        let env = envelope("root", &root_bytes)?;
        let root: Root = parse("root", &env)?;
        check_signatures("root", &root, "root", &env)?;
        root
    };

    // §5.3: follow root rotations, each cross-signed.
    let mut root = trusted_root.clone();
    let mut new_root_bytes = None;
    let mut rotations = 0;
    while rotations < limits.max_root_rotations {
        let Some(next) = root.version.checked_add(1) else {
            break;
        };
        let path = format!("metadata/{next}.root.json");
        let bytes = match transport.fetch(&path, limits.max_root_size) {
            Ok(b) => b,
            Err(TransportError::NotFound { .. }) => break,
            Err(e) => return Err(transport_error("root", e)),
        };
        let env = envelope("root", &bytes)?;
        let canonical = env.canonical_signed("root").map_err(meta_error("root"))?;
        // Signed by a threshold of the trusted root's root keys (§5.3.4)...
        let (keys, threshold) = role_keys_of(&root, "root").map_err(meta_error("root"))?;
        verify_threshold(&keys, threshold, &env.signatures, &canonical).map_err(|source| {
            VerifyError::RootSignature {
                version: next,
                by: "the trusted",
                source,
            }
        })?;
        let new: Root = parse("root", &env)?;
        // ...and by a threshold of its own.
        let (keys, threshold) = role_keys_of(&new, "root").map_err(meta_error("root"))?;
        verify_threshold(&keys, threshold, &env.signatures, &canonical).map_err(|source| {
            VerifyError::RootSignature {
                version: next,
                by: "its own",
                source,
            }
        })?;
        // §5.3.5: exactly N+1, so an old root cannot be replayed as new.
        if new.version != next {
            return Err(VerifyError::RootVersion {
                expected: next,
                found: new.version,
            });
        }
        root = new;
        new_root_bytes = Some(bytes);
        rotations += 1;
    }
    // §5.3.10: the final root must be fresh (intermediate ones need not be).
    if now >= root.expires {
        return Err(VerifyError::Expired {
            role: "root",
            expires: root.expires,
        });
    }
    // §5.3.11: when timestamp or snapshot keys rotated, the cached files
    // cannot be used for rollback checks any more: a compromised key may have
    // pushed their versions to the maximum (fast-forward attack recovery).
    let rotated = |role: &str| trusted_root.roles.get(role) != root.roles.get(role);
    let forget_cached = rotations > 0 && (rotated("timestamp") || rotated("snapshot"));

    // §5.4: timestamp.
    let cached_ts = if forget_cached {
        None
    } else {
        load_cached::<Timestamp>(trusted_dir, "timestamp", &root, limits.max_timestamp_size)
    };
    let ts_path = "metadata/timestamp.json";
    let ts_bytes = fetch_meta("timestamp", transport, ts_path, limits.max_timestamp_size)?;
    let ts_env = envelope("timestamp", &ts_bytes)?;
    let ts: Timestamp = parse("timestamp", &ts_env)?;
    check_signatures("timestamp", &root, "timestamp", &ts_env)?;
    let new_snap_meta = meta_of("timestamp", &ts.meta, "snapshot.json")?.clone();
    let mut timestamp = Loaded {
        bytes: ts_bytes,
        meta: ts,
    };
    let mut timestamp_is_new = true;
    if let Some(old) = cached_ts {
        if timestamp.meta.version < old.meta.version {
            return Err(VerifyError::Rollback {
                role: "timestamp".into(),
                version: timestamp.meta.version,
                trusted: old.meta.version,
            });
        }
        if timestamp.meta.version == old.meta.version {
            // Same version: keep what we trust (python-tuf does the same).
            timestamp = old;
            timestamp_is_new = false;
        } else {
            let old_snap = meta_of("timestamp", &old.meta.meta, "snapshot.json")?;
            if new_snap_meta.version < old_snap.version {
                return Err(VerifyError::Rollback {
                    role: "timestamp: snapshot.json".into(),
                    version: new_snap_meta.version,
                    trusted: old_snap.version,
                });
            }
        }
    }
    check_expiry("timestamp", &timestamp.meta, now)?;
    let snap_meta = meta_of("timestamp", &timestamp.meta.meta, "snapshot.json")?.clone();

    // §5.5: snapshot.
    let cached_snap = if forget_cached {
        None
    } else {
        load_cached::<Snapshot>(trusted_dir, "snapshot", &root, limits.max_snapshot_size)
    };
    let consistent = root.consistent_snapshot.unwrap_or(false);
    let (snapshot, snapshot_is_new) = match cached_snap.as_ref().filter(|c| {
        c.meta.version == snap_meta.version
            && check_meta("snapshot", &snap_meta, "timestamp", &c.bytes).is_ok()
    }) {
        Some(cached) => (
            Loaded {
                bytes: cached.bytes.clone(),
                meta: cached.meta.clone(),
            },
            false,
        ),
        None => {
            let path = if consistent {
                format!("metadata/{}.snapshot.json", snap_meta.version)
            } else {
                "metadata/snapshot.json".to_string()
            };
            let max = snap_meta.length.unwrap_or(limits.max_snapshot_size);
            let bytes = fetch_meta("snapshot", transport, &path, max)?;
            check_meta("snapshot", &snap_meta, "timestamp", &bytes)?;
            let env = envelope("snapshot", &bytes)?;
            let snap: Snapshot = parse("snapshot", &env)?;
            check_signatures("snapshot", &root, "snapshot", &env)?;
            if snap.version != snap_meta.version {
                return Err(VerifyError::VersionMismatch {
                    role: "snapshot",
                    found: snap.version,
                    expected: snap_meta.version,
                    listed_in: "timestamp",
                });
            }
            (Loaded { bytes, meta: snap }, true)
        }
    };
    if let Some(old) = &cached_snap {
        // §5.5.5: no role may disappear or go back in version.
        for (name, old_meta) in &old.meta.meta {
            let new_meta = snapshot
                .meta
                .meta
                .get(name)
                .ok_or_else(|| VerifyError::MetaRemoved { name: name.clone() })?;
            if new_meta.version < old_meta.version {
                return Err(VerifyError::Rollback {
                    role: format!("snapshot: {name}"),
                    version: new_meta.version,
                    trusted: old_meta.version,
                });
            }
        }
    }
    check_expiry("snapshot", &snapshot.meta, now)?;
    let targets_meta = meta_of("snapshot", &snapshot.meta.meta, "targets.json")?.clone();

    // §5.6: targets.
    let cached_targets =
        load_cached::<Targets>(trusted_dir, "targets", &root, limits.max_targets_size);
    let (targets, targets_is_new) = match cached_targets.filter(|c| {
        c.meta.version == targets_meta.version
            && check_meta("targets", &targets_meta, "snapshot", &c.bytes).is_ok()
    }) {
        Some(cached) => (cached, false),
        None => {
            let path = if consistent {
                format!("metadata/{}.targets.json", targets_meta.version)
            } else {
                "metadata/targets.json".to_string()
            };
            let max = targets_meta.length.unwrap_or(limits.max_targets_size);
            let bytes = fetch_meta("targets", transport, &path, max)?;
            check_meta("targets", &targets_meta, "snapshot", &bytes)?;
            let env = envelope("targets", &bytes)?;
            let t: Targets = parse("targets", &env)?;
            check_signatures("targets", &root, "targets", &env)?;
            if t.version != targets_meta.version {
                return Err(VerifyError::VersionMismatch {
                    role: "targets",
                    found: t.version,
                    expected: targets_meta.version,
                    listed_in: "snapshot",
                });
            }
            (Loaded { bytes, meta: t }, true)
        }
    };
    check_expiry("targets", &targets.meta, now)?;
    if has_delegated_roles(&targets.meta) {
        return Err(VerifyError::Unsupported {
            role: "targets",
            what: "delegated targets roles",
        });
    }

    // Everything verified: now, and only now, replace the cached files.
    // Root first, timestamp last, each atomically.
    let mut updated = Vec::new();
    let writes: [(&'static str, Option<&Vec<u8>>); 4] = [
        ("root.json", new_root_bytes.as_ref()),
        ("targets.json", targets_is_new.then_some(&targets.bytes)),
        ("snapshot.json", snapshot_is_new.then_some(&snapshot.bytes)),
        (
            "timestamp.json",
            timestamp_is_new.then_some(&timestamp.bytes),
        ),
    ];
    for (name, bytes) in writes {
        if let Some(bytes) = bytes {
            let path = trusted_dir.join(name);
            write_atomic(&path, bytes).map_err(|source| VerifyError::Io { path, source })?;
            updated.push(name);
        }
    }

    let mut expires = BTreeMap::new();
    expires.insert("root", root.expires);
    expires.insert("timestamp", timestamp.meta.expires);
    expires.insert("snapshot", snapshot.meta.expires);
    expires.insert("targets", targets.meta.expires);
    Ok(UpdateReport {
        root_version: root.version,
        root_rotations: rotations,
        timestamp_version: timestamp.meta.version,
        snapshot_version: snapshot.meta.version,
        targets_version: targets.meta.version,
        expires,
        updated,
        consistent_snapshot: consistent,
        targets: targets.meta,
        trusted_dir: trusted_dir.to_path_buf(),
    })
}

fn has_delegated_roles(targets: &Targets) -> bool {
    let Some(d) = &targets.delegations else {
        return false;
    };
    let roles_nonempty = d
        .get("roles")
        .and_then(|r| r.as_array())
        .is_some_and(|r| !r.is_empty());
    roles_nonempty || d.get("succinct_roles").is_some()
}

fn meta_error(role: &'static str) -> impl Fn(MetadataError) -> VerifyError {
    move |source| VerifyError::Metadata { role, source }
}

fn transport_error(role: &'static str, e: TransportError) -> VerifyError {
    match e {
        TransportError::NotFound { path } => VerifyError::Missing { role, path },
        TransportError::TooLarge { path, max_len } => VerifyError::TooLarge {
            role,
            path,
            max_len,
        },
        source => VerifyError::Transport { role, source },
    }
}

fn fetch_meta(
    role: &'static str,
    transport: &dyn Transport,
    path: &str,
    max_len: u64,
) -> Result<Vec<u8>, VerifyError> {
    transport
        .fetch(path, max_len)
        .map_err(|e| transport_error(role, e))
}

fn envelope(role: &'static str, bytes: &[u8]) -> Result<Envelope, VerifyError> {
    Envelope::from_slice(role, bytes).map_err(meta_error(role))
}

fn parse<T: RoleMetadata>(role: &'static str, env: &Envelope) -> Result<T, VerifyError> {
    env.parse_signed::<T>().map_err(meta_error(role))
}

/// Signatures of `env` (role `role`) against the keys and threshold `root`
/// gives `role`, over the canonical bytes of `signed` as received.
fn check_signatures(
    role: &'static str,
    root: &Root,
    keys_of: &str,
    env: &Envelope,
) -> Result<(), VerifyError> {
    let canonical = env.canonical_signed(role).map_err(meta_error(role))?;
    let (keys, threshold) = role_keys_of(root, keys_of).map_err(meta_error(role))?;
    verify_threshold(&keys, threshold, &env.signatures, &canonical)
        .map(|_| ())
        .map_err(|source| VerifyError::Signature { role, source })
}

fn check_expiry<T: RoleMetadata>(
    role: &'static str,
    meta: &T,
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    // python-tuf: expired when the reference time is at or past `expires`.
    if now >= meta.expires() {
        return Err(VerifyError::Expired {
            role,
            expires: meta.expires(),
        });
    }
    Ok(())
}

fn meta_of<'a>(
    role: &'static str,
    meta: &'a BTreeMap<String, MetaFile>,
    name: &'static str,
) -> Result<&'a MetaFile, VerifyError> {
    meta.get(name)
        .ok_or(VerifyError::MissingMeta { role, name })
}

/// Length and hashes of a metadata file against what the role above lists,
/// when it lists them (both are optional in TUF; version always is).
fn check_meta(
    role: &'static str,
    listed: &MetaFile,
    listed_in: &'static str,
    bytes: &[u8],
) -> Result<(), VerifyError> {
    if let Some(expected) = listed.length {
        if bytes.len() as u64 != expected {
            return Err(VerifyError::MetaLength {
                role,
                found: bytes.len() as u64,
                expected,
                listed_in,
            });
        }
    }
    if let Some(hashes) = &listed.hashes {
        check_hashes(hashes, bytes).map_err(|e| match e {
            HashFailure::Mismatch(algorithm) => VerifyError::MetaHash {
                role,
                algorithm,
                listed_in,
            },
            HashFailure::Unsupported(algorithm) => VerifyError::UnsupportedHash {
                role: role.to_string(),
                algorithm,
            },
        })?;
    }
    Ok(())
}

/// Reads a local file of at most `max_len` bytes; `None` when absent.
fn read_local(path: &Path, max_len: u64) -> Result<Option<Vec<u8>>, VerifyError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(VerifyError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    match read_bounded(file, max_len) {
        Ok(b) => Ok(Some(b)),
        Err(Bounded::Io(source)) => Err(VerifyError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Err(Bounded::TooLarge) => Err(VerifyError::TooLarge {
            role: "root",
            path: path.display().to_string(),
            max_len,
        }),
    }
}

/// A cached role from the trusted directory, if it is there and still
/// signed by the current root's keys. Unusable cache files are ignored (as
/// in python-tuf): they are re-fetched, and rollback protection comes from
/// whatever valid copy remains. Expiry is not checked: an expired cached
/// file still guards against rollback.
fn load_cached<T: RoleMetadata>(
    trusted_dir: &Path,
    role: &'static str,
    root: &Root,
    max_len: u64,
) -> Option<Loaded<T>> {
    let path = trusted_dir.join(format!("{role}.json"));
    let bytes = read_local(&path, max_len).ok()??;
    let env = Envelope::from_slice(role, &bytes).ok()?;
    let meta: T = env.parse_signed().ok()?;
    check_signatures(role, root, role, &env).ok()?;
    Some(Loaded { bytes, meta })
}
