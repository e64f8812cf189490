//! The TUF updater: TUF 1.0 §5.3–5.7, the "detailed client workflow", over
//! a small [`Transport`], in the four phases of tough's loader:
//! `load_root` follows root rotations (`N+1.root.json`, each signed by a
//! threshold of the old *and* the new root keys), then `load_timestamp`,
//! `load_snapshot` and `load_targets` verify each role against
//! signatures, versions (no rollback), hashes and lengths from the role
//! above, and expiry. Every download is bounded: metadata by [`Limits`] or
//! by the length the role above signed, targets by their signed length
//! (docs/ARCHITECTURE.md, invariant "untrusted input is bounded").
//!
//! The updater is pure: it reads the trusted state it is given
//! ([`TrustedState`]) and the transport, and returns what verified
//! ([`Verified`]): the bytes of every role file that changed, in the order
//! they must be committed. It writes nothing. Persisting is the trust
//! store's job (`client::store`), in one commit, so that verification can
//! run on the cache in place, on a bundle, or against a repository without
//! any staging copy.
//!
//! Not supported, and refused cleanly: delegated targets roles (a targets
//! file with delegated roles is an error), hash algorithms other than
//! sha256 and sha512. Intermediate roots are not checked for expiry (only
//! the final one is), as the specification says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::metadata::{
    tuf_time, BinAsSent, Envelope, Hashes, MetaFile, MetadataError, Role, RoleMetadata, Root,
    Snapshot, SuccinctRoles, TargetFile, Targets, Timestamp, VerifyRoleError,
};
use super::transport::{read_bounded, Bounded, Transport, TransportError};
use super::{check_target_path, hashed_target_path};

/// Download limits of each role (as tough's `Limits`): the bound of a file
/// no signed role gives a length for, and a cap on a signed length too, so
/// that a stolen online key cannot sign an 8 GiB snapshot and make a client
/// read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Any `N.root.json`; default 512 KiB.
    pub max_root_size: u64,
    /// `timestamp.json`; default 16 KiB.
    pub max_timestamp_size: u64,
    /// `snapshot.json`, whatever length timestamp signs; default 2 MB
    /// (python-tuf's `snapshot_max_length`).
    pub max_snapshot_size: u64,
    /// `targets.json` and each hash bin, whatever length snapshot signs;
    /// default 5 MB (python-tuf's `targets_max_length`).
    pub max_targets_size: u64,
    /// Each target (a record's TOML or diff), whatever length its bin or
    /// targets signs; default 16 MiB.
    pub max_target_size: u64,
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
            max_target_size: 16 * 1024 * 1024,
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
        name: String,
    },
    /// A delegated role (a hash bin) was refused; `source` names the check.
    #[error("{role}: {source}")]
    Delegated {
        /// The delegated role's name, e.g. `bins-0a`.
        role: String,
        /// What failed.
        #[source]
        source: Box<VerifyError>,
    },
    /// A hash bin lists a target that belongs to another bin: only the bin
    /// the target's path hashes to may describe it (TAP 15).
    /// (Reported inside [`VerifyError::Delegated`], which names the bin.)
    #[error("lists target {target}, which belongs to {expected}")]
    WrongBin {
        /// The bin that listed it.
        role: String,
        /// The target (bounded).
        target: String,
        /// The bin it belongs to.
        expected: String,
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
    /// A hash bin's pack (docs/formats.md, "Packs") is refused: not a tar
    /// of exactly the bin's other targets, each as the bin signs it; or
    /// the bin lists a name under `packs/` that is not its pack.
    #[error("{bin}: pack targets/{pack}: {reason}")]
    Pack {
        /// The bin (bounded).
        bin: String,
        /// The pack's target name (bounded).
        pack: String,
        /// What is wrong.
        reason: String,
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

/// The trusted state an update starts from: the bytes of the files a
/// client cached, as read from its store. Only the root is trusted as it
/// stands (it was pinned, or verified by an earlier update); the others are
/// verified again before they are used for anything, rollback checks
/// included.
#[derive(Debug, Clone, Default)]
pub struct TrustedState {
    /// `root.json`.
    pub root: Vec<u8>,
    /// `timestamp.json`, when cached.
    pub timestamp: Option<Vec<u8>>,
    /// `snapshot.json`, when cached.
    pub snapshot: Option<Vec<u8>>,
    /// `targets.json`, when cached.
    pub targets: Option<Vec<u8>>,
}

impl TrustedState {
    /// Reads the cached role files of a trusted directory (python-tuf's
    /// layout: `root.json`, `timestamp.json`, `snapshot.json`,
    /// `targets.json`), each bounded by `limits`. A missing or unreadable
    /// cached file other than the root is simply absent: it is fetched
    /// again, as python-tuf does.
    ///
    /// # Errors
    /// [`VerifyError::NoTrustedRoot`] without a root, [`VerifyError::Io`] or
    /// [`VerifyError::TooLarge`] when it cannot be read.
    pub fn read_dir(dir: &Path, limits: &Limits) -> Result<TrustedState, VerifyError> {
        let root_path = dir.join(Role::Root.file_name());
        let root = read_local(&root_path, limits.max_root_size)?
            .ok_or(VerifyError::NoTrustedRoot { path: root_path })?;
        let cached = |role: Role, max: u64| read_local(&dir.join(role.file_name()), max).ok()?;
        Ok(TrustedState {
            root,
            timestamp: cached(Role::Timestamp, limits.max_timestamp_size),
            snapshot: cached(Role::Snapshot, limits.max_snapshot_size),
            targets: cached(Role::Targets, limits.max_targets_size),
        })
    }
}

/// What a successful [`update`] verified. Nothing was written: the caller
/// commits [`Verified::changed`] (and the targets it fetches through
/// [`Verified::fetch_target`]) to its store, in the order that type states.
#[derive(Debug, Clone)]
pub struct Verified {
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
    /// Expiry of each top-level role.
    pub expires: BTreeMap<Role, DateTime<Utc>>,
    /// Every root fetched in this update (`N.root.json` bytes, ascending
    /// versions): the chain a store keeps for bundles.
    pub new_roots: Vec<(u64, Vec<u8>)>,
    /// The role files whose cached copy must be replaced, with their bytes
    /// as received, in commit order: root, targets, snapshot, timestamp
    /// (timestamp last, so a crash between two writes leaves a state whose
    /// timestamp still points at what it verified before).
    pub changed: Vec<(Role, Vec<u8>)>,
    /// The `meta` of the snapshot trusted before this update, when there
    /// was a valid one (and the snapshot keys did not rotate): what the
    /// store's cache was last committed against.
    pub previous_meta: Option<BTreeMap<String, MetaFile>>,
    consistent_snapshot: bool,
    targets: Targets,
    snapshot_meta: BTreeMap<String, MetaFile>,
}

/// What a verified bin will be used for, which decides whether every
/// target it lists is checked to belong to it (see [`Verified::load_bin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinScope {
    /// Every target it lists will be used (an update, an index rebuilt from
    /// every bin, a bundle): each must hash to this bin.
    EveryTarget,
    /// Only the targets a lookup names, each found through the bin its path
    /// hashes to ([`Verified::role_for_target`]): a target of another bin
    /// listed here is never read, so the per-entry check (a sha256 of every
    /// path, already made when the bin was first verified) is skipped —
    /// unless the bin is fetched now rather than read from the cache.
    Lookup,
}

/// A hash bin verified for a lookup ([`Verified::lookup_bin`]).
#[derive(Debug)]
pub enum LookupBin {
    /// Read as sent: entries parsed when looked up.
    AsSent(BinAsSent),
    /// Read through the canonical form, every entry parsed.
    Parsed(BTreeMap<String, TargetFile>),
}

impl LookupBin {
    /// The signed description of target `name`, if this bin lists it.
    ///
    /// # Errors
    /// [`VerifyError::Metadata`] if its entry is not a target description.
    pub fn target(&self, name: &str) -> Result<Option<TargetFile>, VerifyError> {
        match self {
            LookupBin::AsSent(b) => b.target(name).map_err(|source| VerifyError::Metadata {
                role: "delegated targets",
                source,
            }),
            LookupBin::Parsed(t) => Ok(t.get(name).cloned()),
        }
    }

    /// The names of the targets it lists that start with `prefix`.
    pub fn names_under(&self, prefix: &str) -> Vec<String> {
        match self {
            LookupBin::AsSent(b) => b.names_under(prefix).map(str::to_string).collect(),
            LookupBin::Parsed(t) => t
                .range::<str, _>((
                    std::ops::Bound::Included(prefix),
                    std::ops::Bound::Unbounded,
                ))
                .map(|(n, _)| n)
                .take_while(|n| n.starts_with(prefix))
                .cloned()
                .collect(),
        }
    }
}

/// A verified hash bin (a delegated targets role).
#[derive(Debug, Clone)]
pub struct LoadedBin {
    /// Its role name, e.g. `bins-0a`.
    pub name: String,
    /// The file's bytes as received (or as cached).
    pub bytes: Vec<u8>,
    /// Its version.
    pub version: u64,
    /// The targets it lists.
    pub targets: BTreeMap<String, TargetFile>,
    /// Whether it came from the transport rather than the cached copy.
    pub is_new: bool,
}

impl Verified {
    /// The targets the top-level targets role lists itself (with hash bins,
    /// none: see [`Verified::bins`]).
    pub fn targets(&self) -> &BTreeMap<String, TargetFile> {
        &self.targets.targets
    }

    /// The hash-bin delegation of the top-level targets role, if any.
    pub fn bins(&self) -> Option<&SuccinctRoles> {
        self.targets
            .delegations
            .as_ref()
            .and_then(|d| d.succinct_roles.as_ref())
    }

    /// The verified snapshot's `meta`: every targets file and its version.
    pub fn snapshot_meta(&self) -> &BTreeMap<String, MetaFile> {
        &self.snapshot_meta
    }

    /// Whether targets are fetched as `HASH.name` (consistent snapshots).
    pub fn consistent_snapshot(&self) -> bool {
        self.consistent_snapshot
    }

    /// The role that describes target `name` in TUF's search order: the
    /// top-level targets role when it lists it, else the hash bin its path
    /// belongs to, else none.
    pub fn role_for_target(&self, name: &str) -> Option<String> {
        if self.targets.targets.contains_key(name) {
            return Some(Role::Targets.as_str().to_string());
        }
        self.bins().map(|b| b.bin_for_target(name))
    }

    /// Phase five (TUF §5.6.7, delegations): verifies hash bin `bin` at the
    /// version the snapshot lists — the `cached` copy when it is that
    /// version, matches and verifies, else `metadata/V.bin.json` from the
    /// transport, bounded by the signed length or
    /// [`Limits::max_targets_size`]. Checks: listed in the snapshot, length
    /// and hashes when listed, a threshold of signatures by the delegation's
    /// keys, the version listed, expiry at `now`, every target listed
    /// belongs to this bin, no further delegation.
    ///
    /// # Errors
    /// [`VerifyError::Delegated`] naming the bin and the check.
    pub fn load_bin(
        &self,
        bin: &str,
        cached: Option<&[u8]>,
        transport: &dyn Transport,
        now: DateTime<Utc>,
        limits: &Limits,
        scope: BinScope,
    ) -> Result<LoadedBin, VerifyError> {
        self.load_bin_inner(bin, cached, transport, now, limits, scope)
            .map_err(|source| VerifyError::Delegated {
                role: bin.chars().take(80).collect(),
                source: Box::new(source),
            })
    }

    fn load_bin_inner(
        &self,
        bin: &str,
        cached: Option<&[u8]>,
        transport: &dyn Transport,
        now: DateTime<Utc>,
        limits: &Limits,
        scope: BinScope,
    ) -> Result<LoadedBin, VerifyError> {
        const ROLE: &str = "delegated targets";
        let Some(roles) = self.bins() else {
            return Err(VerifyError::Unsupported {
                role: ROLE,
                what: "hash bins without a delegation",
            });
        };
        if !roles.is_bin(bin) {
            return Err(VerifyError::Unsupported {
                role: ROLE,
                what: "roles outside the hash-bin delegation",
            });
        }
        let file = format!("{bin}.json");
        let listed = self
            .snapshot_meta
            .get(&file)
            .ok_or(VerifyError::MissingMeta {
                role: Role::Snapshot.as_str(),
                name: file.clone(),
            })?;
        let (keys, threshold) = self.bin_keys(roles);
        let verify = |bytes: &[u8]| -> Result<Targets, VerifyError> {
            check_meta(ROLE, listed, "snapshot", bytes)?;
            let env = envelope(ROLE, bytes)?;
            let t: Targets = parse(ROLE, &env)?;
            let canonical = env.canonical_signed(ROLE).map_err(meta_error(ROLE))?;
            patchkit_signing::verify_threshold(&keys, threshold, &env.signatures, &canonical)
                .map_err(|source| VerifyError::Signature { role: ROLE, source })?;
            if t.version != listed.version {
                return Err(VerifyError::VersionMismatch {
                    role: ROLE,
                    found: t.version,
                    expected: listed.version,
                    listed_in: "snapshot",
                });
            }
            Ok(t)
        };
        let from_cache = cached.and_then(|b| verify(b).ok().map(|t| (b.to_vec(), t)));
        let (bytes, meta, is_new) = match from_cache {
            Some((bytes, t)) => (bytes, t, false),
            None => {
                let path = if self.consistent_snapshot {
                    format!("metadata/{}.{bin}.json", listed.version)
                } else {
                    format!("metadata/{bin}.json")
                };
                let max = bounded_length(ROLE, &path, listed, limits.max_targets_size)?;
                let bytes = fetch_meta(ROLE, transport, &path, max)?;
                let t = verify(&bytes)?;
                (bytes, t, true)
            }
        };
        check_expiry(ROLE, &meta, now)?;
        if meta.delegations.is_some() {
            return Err(VerifyError::Unsupported {
                role: ROLE,
                what: "delegations from a hash bin",
            });
        }
        // A bin just downloaded, or read to use every target it lists, is
        // checked entry by entry; a lookup reads only targets whose path
        // hashes to this bin (`role_for_target`), so another bin's target
        // listed here could never be read through it.
        let every = is_new || scope == BinScope::EveryTarget;
        for name in meta.targets.keys().filter(|_| every) {
            let expected = roles.bin_for_target(name);
            if expected != bin {
                return Err(VerifyError::WrongBin {
                    role: bin.to_string(),
                    target: name.chars().take(120).collect(),
                    expected,
                });
            }
        }
        Ok(LoadedBin {
            name: bin.to_string(),
            bytes,
            version: meta.version,
            targets: meta.targets,
            is_new,
        })
    }

    /// The keys and threshold the top-level targets role gives its bins.
    fn bin_keys(
        &self,
        roles: &SuccinctRoles,
    ) -> (
        BTreeMap<patchkit_signing::KeyId, patchkit_signing::PublicKey>,
        u32,
    ) {
        let none = BTreeMap::new();
        roles.role_keys(self.targets.delegations.as_ref().map_or(&none, |d| &d.keys))
    }

    /// Hash bin `bin` verified for a lookup of some of its targets (one
    /// tarball's files): the `cached` copy read as sent ([`BinAsSent`]:
    /// signatures over `signed` as written, each target's entry parsed when
    /// asked for) when it is the version the snapshot lists, matches its
    /// listed length and hashes, verifies that way, is unexpired and
    /// delegates nothing; otherwise [`Verified::load_bin`] with
    /// [`BinScope::Lookup`], which says why it refuses.
    ///
    /// # Errors
    /// [`VerifyError::Delegated`] naming the bin and the check.
    pub fn lookup_bin(
        &self,
        bin: &str,
        cached: Option<&[u8]>,
        transport: &dyn Transport,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<LookupBin, VerifyError> {
        if let Some(b) = cached.and_then(|bytes| self.bin_as_sent(bin, bytes, now)) {
            return Ok(LookupBin::AsSent(b));
        }
        self.load_bin(bin, cached, transport, now, limits, BinScope::Lookup)
            .map(|b| LookupBin::Parsed(b.targets))
    }

    fn bin_as_sent(&self, bin: &str, bytes: &[u8], now: DateTime<Utc>) -> Option<BinAsSent> {
        let roles = self.bins()?;
        if !roles.is_bin(bin) {
            return None;
        }
        let listed = self.snapshot_meta.get(&format!("{bin}.json"))?;
        check_meta("delegated targets", listed, "snapshot", bytes).ok()?;
        let (keys, threshold) = self.bin_keys(roles);
        let b = BinAsSent::read(bytes, &keys, threshold)?;
        // python-tuf: expired when the reference time is at or past `expires`.
        (b.version == listed.version && now < b.expires && !b.delegates).then_some(b)
    }

    /// The verified targets metadata (custom fields included).
    pub fn targets_metadata(&self) -> &Targets {
        &self.targets
    }

    /// The names of the cached role files this update replaces
    /// (`root.json`, ...), in commit order.
    pub fn updated(&self) -> Vec<&'static str> {
        self.changed.iter().map(|(r, _)| r.file_name()).collect()
    }

    /// Where target `name` is cached and fetched under consistent
    /// snapshots: `<dirs>/<sha256>.<name>`, after checking the name and that
    /// a sha256 is listed.
    ///
    /// # Errors
    /// [`VerifyError`] for an unknown target, a bad name or no sha256.
    pub fn hashed_name(&self, name: &str) -> Result<String, VerifyError> {
        hashed_name_of(name, self.target_info(name)?)
    }

    fn target_info(&self, name: &str) -> Result<&TargetFile, VerifyError> {
        self.targets
            .targets
            .get(name)
            .ok_or_else(|| VerifyError::UnknownTarget {
                name: name.chars().take(120).collect(),
            })
    }

    /// Checks `bytes` against target `name`'s signed length and every
    /// signed hash (a cached copy passes the same checks as a download).
    ///
    /// # Errors
    /// [`VerifyError`] naming the target and the failed check.
    pub fn check_target(&self, name: &str, bytes: &[u8]) -> Result<(), VerifyError> {
        check_target(name, self.target_info(name)?, bytes)
    }

    /// The signed length of target `name`: the bound for reading a cached
    /// copy.
    ///
    /// # Errors
    /// [`VerifyError::UnknownTarget`].
    pub fn target_length(&self, name: &str) -> Result<u64, VerifyError> {
        Ok(self.target_info(name)?.length)
    }

    /// Downloads target `name`, bounded by its signed length, and checks its
    /// length and every hash against the verified targets metadata. With
    /// consistent snapshots it is fetched as `targets/<dirs>/<sha256>.<name>`.
    /// Nothing is written.
    ///
    /// # Errors
    /// [`VerifyError`] naming the target and the failed check.
    pub fn fetch_target(
        &self,
        transport: &dyn Transport,
        name: &str,
        limits: &Limits,
    ) -> Result<Vec<u8>, VerifyError> {
        self.fetch_described(transport, name, self.target_info(name)?, limits)
    }

    /// Target `name` as `info` (from the top-level role or a verified bin)
    /// describes it: [`fetch_target_of`] under this repository's naming
    /// (consistent snapshots or not).
    ///
    /// # Errors
    /// As [`fetch_target_of`].
    pub fn fetch_described(
        &self,
        transport: &dyn Transport,
        name: &str,
        info: &TargetFile,
        limits: &Limits,
    ) -> Result<Vec<u8>, VerifyError> {
        fetch_target_of(transport, name, info, self.consistent_snapshot, limits)
    }
}

/// Where target `name` (described by `info`) is fetched under consistent
/// snapshots, `<dirs>/<sha256>.<name>`, after checking the name and that a
/// sha256 is listed.
///
/// # Errors
/// [`VerifyError`] for a bad name or no sha256.
pub fn hashed_name_of(name: &str, info: &TargetFile) -> Result<String, VerifyError> {
    let bounded: String = name.chars().take(120).collect();
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
    Ok(hashed_target_path(name, sha256))
}

/// Downloads target `name`, described by verified `info` (from the
/// top-level targets role or a verified bin), bounded by its signed length,
/// and checks its length and every hash. Nothing is written. A signed
/// length above [`Limits::max_target_size`] is refused before fetching.
///
/// # Errors
/// [`VerifyError`] naming the target and the failed check.
pub fn fetch_target_of(
    transport: &dyn Transport,
    name: &str,
    info: &TargetFile,
    consistent_snapshot: bool,
    limits: &Limits,
) -> Result<Vec<u8>, VerifyError> {
    let bounded: String = name.chars().take(120).collect();
    if info.length > limits.max_target_size {
        return Err(VerifyError::TooLarge {
            role: "targets",
            path: bounded,
            max_len: limits.max_target_size,
        });
    }
    let hashed = hashed_name_of(name, info)?;
    let remote = if consistent_snapshot {
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
    Ok(bytes)
}

/// Checks `bytes` against target `name`'s signed length and every signed
/// hash in `info`.
///
/// # Errors
/// [`VerifyError`] naming the target and the failed check.
pub fn check_target(name: &str, info: &TargetFile, bytes: &[u8]) -> Result<(), VerifyError> {
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
/// later hash checks hold), the parsed role, and whether it is newer than
/// the cached copy (and so must be committed).
#[derive(Clone)]
struct Loaded<T> {
    bytes: Vec<u8>,
    meta: T,
    is_new: bool,
}

/// The outcome of the root phase (§5.3).
struct RootPhase {
    /// The root trusted now.
    root: Root,
    /// Roots fetched, ascending.
    new_roots: Vec<(u64, Vec<u8>)>,
    /// Whether timestamp or snapshot keys rotated: cached copies are then
    /// useless for rollback checks (§5.3.11, fast-forward recovery).
    forget_cached: bool,
}

/// Runs the TUF client workflow against `transport`, starting from
/// `trusted`, with `now` as the reference time for expiry: the four phases
/// of tough's loader (`load_root`, `load_timestamp`,
/// `load_snapshot`, `load_targets`) in turn. See the module docs.
///
/// # Errors
/// The first [`VerifyError`]; nothing was written anywhere.
pub fn update(
    trusted: &TrustedState,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Verified, VerifyError> {
    let roots = load_root(trusted, transport, now, limits)?;
    let timestamp = load_timestamp(trusted, &roots, transport, now, limits)?;
    let snapshot = load_snapshot(trusted, &roots, &timestamp.meta, transport, now, limits)?;
    let targets = load_targets(trusted, &roots.root, &snapshot.meta, transport, now, limits)?;

    let consistent = roots.root.consistent_snapshot.unwrap_or(false);
    let mut changed = Vec::new();
    if let Some((_, bytes)) = roots.new_roots.last() {
        changed.push((Role::Root, bytes.clone()));
    }
    for (role, bytes, is_new) in [
        (Role::Targets, &targets.bytes, targets.is_new),
        (Role::Snapshot, &snapshot.bytes, snapshot.is_new),
        (Role::Timestamp, &timestamp.bytes, timestamp.is_new),
    ] {
        if is_new {
            changed.push((role, bytes.clone()));
        }
    }
    let expires = BTreeMap::from([
        (Role::Root, roots.root.expires),
        (Role::Timestamp, timestamp.meta.expires),
        (Role::Snapshot, snapshot.meta.expires),
        (Role::Targets, targets.meta.expires),
    ]);
    let previous_meta = if roots.forget_cached {
        None
    } else {
        load_cached::<Snapshot>(trusted.snapshot.as_deref(), Role::Snapshot, &roots.root)
            .map(|s| s.meta.meta)
    };
    Ok(Verified {
        previous_meta,
        snapshot_meta: snapshot.meta.meta.clone(),
        root_version: roots.root.version,
        root_rotations: u32::try_from(roots.new_roots.len()).unwrap_or(u32::MAX),
        timestamp_version: timestamp.meta.version,
        snapshot_version: snapshot.meta.version,
        targets_version: targets.meta.version,
        expires,
        new_roots: roots.new_roots,
        changed,
        consistent_snapshot: consistent,
        targets: targets.meta,
    })
}

/// §5.2–5.3: the trusted root (signed by its own threshold), then every
/// newer `N+1.root.json`, each signed by a threshold of the old *and* the
/// new root keys; the final root must be fresh.
fn load_root(
    trusted: &TrustedState,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<RootPhase, VerifyError> {
    const ROOT: &str = Role::Root.as_str();
    let trusted_root: Root = {
        let env = envelope(ROOT, &trusted.root)?;
        let root: Root = parse(ROOT, &env)?;
        check_signatures(ROOT, &root, Role::Root, &env)?;
        root
    };
    let mut root = trusted_root.clone();
    let mut new_roots = Vec::new();
    while new_roots.len() < limits.max_root_rotations as usize {
        let Some(next) = root.version.checked_add(1) else {
            break;
        };
        let path = format!("metadata/{next}.root.json");
        let bytes = match transport.fetch(&path, limits.max_root_size) {
            Ok(b) => b,
            Err(TransportError::NotFound { .. }) => break,
            Err(e) => return Err(transport_error(ROOT, e)),
        };
        let env = envelope(ROOT, &bytes)?;
        // Signed by a threshold of the trusted root's root keys (§5.3.4)...
        root.verify_role(Role::Root, &env)
            .map_err(|e| root_signature_error(e, next, "the trusted"))?;
        let new: Root = parse(ROOT, &env)?;
        // ...and by a threshold of its own.
        new.verify_role(Role::Root, &env)
            .map_err(|e| root_signature_error(e, next, "its own"))?;
        // §5.3.5: exactly N+1, so an old root cannot be replayed as new.
        if new.version != next {
            return Err(VerifyError::RootVersion {
                expected: next,
                found: new.version,
            });
        }
        root = new;
        new_roots.push((next, bytes));
    }
    // §5.3.10: the final root must be fresh (intermediate ones need not be).
    if now >= root.expires {
        return Err(VerifyError::Expired {
            role: ROOT,
            expires: root.expires,
        });
    }
    // §5.3.11: when timestamp or snapshot keys rotated, the cached files
    // cannot be used for rollback checks any more: a compromised key may have
    // pushed their versions to the maximum (fast-forward attack recovery).
    let rotated =
        |role: Role| trusted_root.roles.get(role.as_str()) != root.roles.get(role.as_str());
    let forget_cached =
        !new_roots.is_empty() && (rotated(Role::Timestamp) || rotated(Role::Snapshot));
    Ok(RootPhase {
        root,
        new_roots,
        forget_cached,
    })
}

fn root_signature_error(e: VerifyRoleError, version: u64, by: &'static str) -> VerifyError {
    match e {
        VerifyRoleError::Metadata(source) => VerifyError::Metadata {
            role: Role::Root.as_str(),
            source,
        },
        VerifyRoleError::Signature(source) => VerifyError::RootSignature {
            version,
            by,
            source,
        },
    }
}

/// §5.4: the timestamp, never older than the cached one, nor listing an
/// older snapshot; the same version keeps the cached copy.
fn load_timestamp(
    trusted: &TrustedState,
    roots: &RootPhase,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Loaded<Timestamp>, VerifyError> {
    const TS: &str = Role::Timestamp.as_str();
    let root = &roots.root;
    let cached_ts = if roots.forget_cached {
        None
    } else {
        load_cached::<Timestamp>(trusted.timestamp.as_deref(), Role::Timestamp, root)
    };
    let ts_bytes = fetch_meta(
        TS,
        transport,
        "metadata/timestamp.json",
        limits.max_timestamp_size,
    )?;
    let ts_env = envelope(TS, &ts_bytes)?;
    let ts: Timestamp = parse(TS, &ts_env)?;
    check_signatures(TS, root, Role::Timestamp, &ts_env)?;
    let new_snap_meta = meta_of(TS, &ts.meta, Role::Snapshot.file_name())?.clone();
    let mut timestamp = Loaded {
        bytes: ts_bytes,
        meta: ts,
        is_new: true,
    };
    if let Some(old) = cached_ts {
        if timestamp.meta.version < old.meta.version {
            return Err(VerifyError::Rollback {
                role: TS.into(),
                version: timestamp.meta.version,
                trusted: old.meta.version,
            });
        }
        if timestamp.meta.version == old.meta.version {
            // Same version: keep what we trust (python-tuf does the same).
            timestamp = old;
        } else {
            let old_snap = meta_of(TS, &old.meta.meta, Role::Snapshot.file_name())?;
            if new_snap_meta.version < old_snap.version {
                return Err(VerifyError::Rollback {
                    role: "timestamp: snapshot.json".into(),
                    version: new_snap_meta.version,
                    trusted: old_snap.version,
                });
            }
        }
    }
    check_expiry(TS, &timestamp.meta, now)?;
    Ok(timestamp)
}

/// §5.5: the snapshot the timestamp lists (the cached copy when it is that
/// version and matches), with no role removed or rolled back.
fn load_snapshot(
    trusted: &TrustedState,
    roots: &RootPhase,
    timestamp: &Timestamp,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Loaded<Snapshot>, VerifyError> {
    const SNAP: &str = Role::Snapshot.as_str();
    let root = &roots.root;
    let snap_meta = meta_of(
        Role::Timestamp.as_str(),
        &timestamp.meta,
        Role::Snapshot.file_name(),
    )?;
    let cached_snap = if roots.forget_cached {
        None
    } else {
        load_cached::<Snapshot>(trusted.snapshot.as_deref(), Role::Snapshot, root)
    };
    let reusable = cached_snap.as_ref().filter(|c| {
        c.meta.version == snap_meta.version
            && check_meta(SNAP, snap_meta, "timestamp", &c.bytes).is_ok()
    });
    let snapshot = match reusable {
        Some(cached) => cached.clone(),
        None => fetch_listed(
            Role::Snapshot,
            snap_meta,
            Role::Timestamp,
            root,
            transport,
            limits.max_snapshot_size,
        )?,
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
    check_expiry(SNAP, &snapshot.meta, now)?;
    Ok(snapshot)
}

/// §5.6: the targets metadata the snapshot lists (the cached copy when it
/// is that version and matches). Delegations are refused.
fn load_targets(
    trusted: &TrustedState,
    root: &Root,
    snapshot: &Snapshot,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Loaded<Targets>, VerifyError> {
    const TARGETS: &str = Role::Targets.as_str();
    let targets_meta = meta_of(
        Role::Snapshot.as_str(),
        &snapshot.meta,
        Role::Targets.file_name(),
    )?;
    let cached = load_cached::<Targets>(trusted.targets.as_deref(), Role::Targets, root);
    let reusable = cached.filter(|c| {
        c.meta.version == targets_meta.version
            && check_meta(TARGETS, targets_meta, "snapshot", &c.bytes).is_ok()
    });
    let targets = match reusable {
        Some(cached) => cached,
        None => fetch_listed(
            Role::Targets,
            targets_meta,
            Role::Snapshot,
            root,
            transport,
            limits.max_targets_size,
        )?,
    };
    check_expiry(TARGETS, &targets.meta, now)?;
    if let Some(d) = &targets.meta.delegations {
        if d.roles.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(VerifyError::Unsupported {
                role: TARGETS,
                what: "delegated targets roles other than succinct hash bins",
            });
        }
        if let Some(bins) = &d.succinct_roles {
            bins.check().map_err(|reason| VerifyError::Metadata {
                role: TARGETS,
                source: MetadataError::Malformed {
                    role: TARGETS.into(),
                    reason,
                },
            })?;
        }
    }
    Ok(targets)
}

/// Downloads the `role` file that `listed_in` lists as `listed`
/// (`metadata/V.role.json` under consistent snapshots), bounded by the
/// listed length or else `default_max`, and verifies it: length and hashes
/// as listed, a threshold of the keys `root` gives the role, and exactly
/// the listed version. The one download path of snapshot and targets.
fn fetch_listed<T: RoleMetadata>(
    role: Role,
    listed: &MetaFile,
    listed_in: Role,
    root: &Root,
    transport: &dyn Transport,
    default_max: u64,
) -> Result<Loaded<T>, VerifyError> {
    let name = role.as_str();
    let path = if root.consistent_snapshot.unwrap_or(false) {
        format!("metadata/{}.{}", listed.version, role.file_name())
    } else {
        format!("metadata/{}", role.file_name())
    };
    let max = bounded_length(name, &path, listed, default_max)?;
    let bytes = fetch_meta(name, transport, &path, max)?;
    check_meta(name, listed, listed_in.as_str(), &bytes)?;
    let env = envelope(name, &bytes)?;
    let meta: T = parse(name, &env)?;
    check_signatures(name, root, role, &env)?;
    if meta.version() != listed.version {
        return Err(VerifyError::VersionMismatch {
            role: name,
            found: meta.version(),
            expected: listed.version,
            listed_in: listed_in.as_str(),
        });
    }
    Ok(Loaded {
        bytes,
        meta,
        is_new: true,
    })
}

/// The bound of a download that `listed` describes: its signed length, or
/// `max` when none is signed; a signed length above `max` is refused before
/// anything is fetched.
fn bounded_length(
    role: &'static str,
    path: &str,
    listed: &MetaFile,
    max: u64,
) -> Result<u64, VerifyError> {
    match listed.length {
        Some(n) if n > max => Err(VerifyError::TooLarge {
            role,
            path: path.to_string(),
            max_len: max,
        }),
        Some(n) => Ok(n),
        None => Ok(max),
    }
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

/// Signatures of `env` (reported as `role`) against the keys and
/// threshold `root` gives `keys_of`, over the canonical bytes of `signed` as
/// received.
fn check_signatures(
    role: &'static str,
    root: &Root,
    keys_of: Role,
    env: &Envelope,
) -> Result<(), VerifyError> {
    root.verify_role(keys_of, env).map_err(|e| match e {
        VerifyRoleError::Metadata(source) => VerifyError::Metadata { role, source },
        VerifyRoleError::Signature(source) => VerifyError::Signature { role, source },
    })
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
    meta.get(name).ok_or_else(|| VerifyError::MissingMeta {
        role,
        name: name.to_string(),
    })
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

/// A cached role, if it is there and still signed by the current root's
/// keys. Unusable cached copies are ignored (as in python-tuf): they are
/// re-fetched, and rollback protection comes from whatever valid copy
/// remains. Expiry is not checked: an expired cached file still guards
/// against rollback.
fn load_cached<T: RoleMetadata>(
    bytes: Option<&[u8]>,
    role: Role,
    root: &Root,
) -> Option<Loaded<T>> {
    let bytes = bytes?;
    let env = Envelope::from_slice(role.as_str(), bytes).ok()?;
    let meta: T = env.parse_signed().ok()?;
    check_signatures(role.as_str(), root, role, &env).ok()?;
    Some(Loaded {
        bytes: bytes.to_vec(),
        meta,
        is_new: false,
    })
}
