//! Publishing: turns a set of target files into a signed TUF repository in
//! `OUT/metadata/` and `OUT/targets/`, laid out as python-tuf's repository
//! examples do with consistent snapshots (`N.root.json`, `timestamp.json`,
//! `V.snapshot.json`, `V.targets.json`, `targets/<dirs>/<sha256>.<name>`).
//!
//! # When a role gets a new version
//!
//! Publishing twice with the same input at the same time writes nothing the
//! second time. A role is re-signed with version + 1 only when
//! - its content changed (targets: the target list; snapshot: the version,
//!   length or hash of the targets file; timestamp: those of the snapshot
//!   file; root: keys, thresholds, consistent_snapshot), or
//! - it expires within half of its lifetime (see [`Expiry`]), or
//! - the signatures it carries no longer meet the threshold of its role
//!   (its keys were rotated).
//!
//! A new targets file therefore leads to a new snapshot and a new timestamp;
//! an expiring timestamp alone leads to a new timestamp only.
//!
//! # Hash bins
//!
//! From [`BINS_FROM_TARGETS`] targets on (see [`HashBins`]), `targets.json`
//! lists no target itself: it delegates to `2^b` succinct hash bins (TAP
//! 15) named `bins-00` … `bins-ff`, each a targets role listing the targets
//! whose path's sha256 starts with its number, signed with the targets keys
//! and threshold (a KEYS.toml naming the four top-level roles is enough).
//! Every bin follows the versioning rule above, so one new record rewrites
//! the one or two bins its files fall in, the snapshot and the timestamp,
//! and nothing else. Every bin with targets also lists its pack
//! ([`super::pack`]): a tar of its other targets, written under
//! `targets/packs/` like any target, so that a client fetches a bin's
//! targets in one request; target names under `packs/` are refused. Bins and a delegating snapshot are written compact
//! (no white space): they are what clients download on every update. The
//! snapshot lists bins by version only.
//!
//! # Threshold signing by several maintainers
//!
//! When the keys at hand do not reach a role's threshold, nothing under
//! `OUT/metadata/` changes: the partly signed file goes to
//! `STAGED/V.role.json` (every changed bin, for the targets keys, as
//! `STAGED/V.bins-NN.json`) and [`PublishReport::pending`] names the first.
//! `STAGED` is outside the published site ([`default_staged_dir`]:
//! `OUT.staged/` beside `OUT/`), so a web server publishing OUT never serves
//! a half-signed file. Beside it goes a copy of the root that lists the
//! role's keys (`N.root.json`; for a staged root, the root it replaces), so
//! that [`sign_staged_file`] refuses a key the role does not list. Each
//! maintainer then runs [`sign_staged_file`] on it. A signature by a key
//! the role does not list is dropped when the file is picked up, so it never
//! reaches a published file. The next `publish`
//! with the same input picks the staged file up (same content, version
//! `published + 1`, not near expiry), adds the signatures of the keys at
//! hand, and publishes it once the threshold is met.
//!
//! # Root rotation
//!
//! A new root version must be signed by a threshold of the *previous* root's
//! keys and a threshold of its own (TUF §5.3.4): pass the old root keys
//! among the `root` signers; each signer is used where the old or new root
//! lists it.
//!
//! Every file goes through a temporary file and a rename; target files,
//! content-addressed, are synced once per folder rather than one by one,
//! before any metadata names them; `timestamp.json` is written last, so a
//! client never sees a timestamp that points at a file not yet written (docs/ARCHITECTURE.md "Nothing half-done", "Deterministic output").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use patchkit_signing::{sign, verify_threshold, KeyId, PublicKey, SigningKey};
use serde_json::Value;

use super::metadata::{
    Delegations, Envelope, Key, MetaFile, MetadataError, RoleDef, RoleMetadata, Root, Snapshot,
    SuccinctRoles, TargetFile, Targets, Timestamp, SPEC_VERSION,
};
use super::{check_target_path, hashed_target_path, sha256_hex, write_atomic};

/// Errors of [`publish`] and [`sign_metadata_file`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An existing metadata file is unreadable.
    #[error("{}: {source}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: MetadataError,
    },
    /// The published repository in OUT is inconsistent.
    #[error("{}: {reason}", path.display())]
    PreviousState {
        /// The file at fault.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A target name is not a safe relative path.
    #[error("target {name:?} {reason}")]
    BadTargetPath {
        /// The name (bounded).
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// `sign` was given a key that the role of the file does not list.
    #[error("refusing to sign {}: key {keyid} is not a {role} key of {}", path.display(), root.display())]
    KeyNotListed {
        /// The staged file.
        path: PathBuf,
        /// The key offered.
        keyid: String,
        /// The role of the file.
        role: String,
        /// The root that lists the role's keys.
        root: PathBuf,
    },
    /// The staged directory would be served with the repository.
    #[error("refusing to stage metadata in {}: it is inside the published repository {}", staged.display(), out.display())]
    StagedInsideOut {
        /// The staged directory.
        staged: PathBuf,
        /// OUT.
        out: PathBuf,
    },
    /// A role's key setup cannot produce valid metadata.
    #[error("{role}: {reason}")]
    BadRoleSetup {
        /// The role.
        role: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The keys of one role: who is listed in root, how many must sign, and the
/// private keys available to this run (possibly fewer than the threshold).
#[derive(Debug, Clone)]
pub struct RoleSetup<'k> {
    /// Public keys listed for the role in root.
    pub keys: Vec<PublicKey>,
    /// Signatures required (at least 1, at most `keys.len()`).
    pub threshold: u32,
    /// Private keys at hand. For `root` this may include keys of the
    /// previous root, which cross-sign a rotation.
    pub signers: Vec<&'k SigningKey>,
}

impl<'k> RoleSetup<'k> {
    /// One key, threshold 1, and that key at hand.
    pub fn single(key: &'k SigningKey) -> Self {
        RoleSetup {
            keys: vec![key.public_key().clone()],
            threshold: 1,
            signers: vec![key],
        }
    }
}

/// The key setup of the four top-level roles.
#[derive(Debug, Clone)]
pub struct RoleKeys<'k> {
    /// Signs root.
    pub root: RoleSetup<'k>,
    /// Signs the list of targets.
    pub targets: RoleSetup<'k>,
    /// Signs snapshot (an online key in most setups).
    pub snapshot: RoleSetup<'k>,
    /// Signs timestamp (an online key in most setups).
    pub timestamp: RoleSetup<'k>,
}

/// Lifetimes of freshly signed metadata. A role is re-signed once less than
/// half of its lifetime remains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// Default 365 days.
    pub root: TimeDelta,
    /// Default 90 days ("3 months").
    pub targets: TimeDelta,
    /// Default 7 days.
    pub snapshot: TimeDelta,
    /// Default 1 day.
    pub timestamp: TimeDelta,
}

impl Default for Expiry {
    fn default() -> Self {
        Expiry {
            root: TimeDelta::days(365),
            targets: TimeDelta::days(90),
            snapshot: TimeDelta::days(7),
            timestamp: TimeDelta::days(1),
        }
    }
}

/// A role left below its threshold; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Role name.
    pub role: &'static str,
    /// The staged file, to pass to [`sign_metadata_file`].
    pub path: PathBuf,
    /// Valid signatures so far (the smaller count for a cross-signed root).
    pub valid: usize,
    /// Threshold to reach.
    pub threshold: u32,
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// Root version now published (or the one before, when pending).
    pub root_version: u64,
    /// Targets version now published.
    pub targets_version: u64,
    /// Snapshot version now published.
    pub snapshot_version: u64,
    /// Timestamp version now published.
    pub timestamp_version: u64,
    /// Files written, relative to OUT, in the order written.
    pub written: Vec<String>,
    /// Set when a role lacks signatures and nothing was published.
    pub pending: Option<Pending>,
}

/// Whether targets are listed in `targets.json` itself or delegated to
/// succinct hash bins (TAP 15; see the module docs). The default, `Auto`,
/// is what `patchkit publish` uses.
///
/// Once published, the bins stay: a client (python-tuf's as well as ours)
/// refuses a snapshot that stops listing a file the previous one listed, so
/// neither the number of bins nor the choice to delegate can be undone
/// without every client starting afresh. That is why `Auto` picks one size
/// for the life of the repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashBins {
    /// Everything in `targets.json` while the repository has fewer than
    /// [`BINS_FROM_TARGETS`] targets; from then on [`AUTO_BIT_LENGTH`]
    /// bits (256 bins), kept for good.
    #[default]
    Auto,
    /// Everything in `targets.json` (refused once bins are published).
    Never,
    /// Exactly `2^bits` bins, 1 to 16 bits (refused when the published
    /// repository has another number).
    Bits(u32),
}

/// Target count from which [`HashBins::Auto`] delegates to hash bins.
pub const BINS_FROM_TARGETS: usize = 64;

/// The bit length [`HashBins::Auto`] delegates with: 256 bins. With one
/// record's two files in two bins, an update after one new record fetches
/// the snapshot (one short entry per bin) and two bins (1/256 of the
/// targets each): at 10,000 records about 7 KB + 2 × 9 KB, and both halves
/// grow slowly enough that 256 stays near the optimum from a few thousand
/// to a few tens of thousands of records.
pub const AUTO_BIT_LENGTH: u32 = 8;

/// Name prefix of the hash bins publish writes (`bins-00`, `bins-01`, ...).
pub const BIN_PREFIX: &str = "bins";

impl HashBins {
    /// The bit length to publish with, given the target count and the bit
    /// length of the published repository (`None`: no bins).
    fn bits(self, targets: usize, published: Option<u32>) -> Result<Option<u32>, PublishError> {
        let refuse = |reason: String| PublishError::BadRoleSetup {
            role: "targets",
            reason,
        };
        match (self, published) {
            (HashBins::Auto, Some(p)) => Ok(Some(p)),
            (HashBins::Auto, None) if targets >= BINS_FROM_TARGETS => Ok(Some(AUTO_BIT_LENGTH)),
            (HashBins::Auto | HashBins::Never, None) => Ok(None),
            (HashBins::Never, Some(_)) => Err(refuse(
                "the published repository delegates to hash bins, and clients refuse a \
                 snapshot that drops them"
                    .into(),
            )),
            (HashBins::Bits(b), _) if !(1..=16).contains(&b) => {
                Err(refuse(format!("{b} hash-bin bits is not between 1 and 16")))
            }
            (HashBins::Bits(b), Some(p)) if p != b => Err(refuse(format!(
                "the published repository has {p}-bit hash bins; clients refuse a snapshot \
                 that drops them, so it cannot change to {b}"
            ))),
            (HashBins::Bits(b), _) => Ok(Some(b)),
        }
    }
}

/// Where [`publish`] stages files by default: `OUT.staged/`, beside OUT
/// (`repository/` → `repository.staged/`), never inside the published site.
pub fn default_staged_dir(out: &Path) -> PathBuf {
    match out.file_name() {
        Some(name) => {
            let mut n = name.to_os_string();
            n.push(".staged");
            out.with_file_name(n)
        }
        None => out.join("..").join("staged"),
    }
}

/// Publishes `targets` (target path → bytes) into `out` with the default
/// layout ([`HashBins::Auto`]), staging into [`default_staged_dir`]; see
/// [`publish_staged_with`].
///
/// # Errors
/// As [`publish_staged`].
pub fn publish(
    targets: &BTreeMap<String, Vec<u8>>,
    out: &Path,
    keys: &RoleKeys<'_>,
    expiry: &Expiry,
    now: DateTime<Utc>,
) -> Result<PublishReport, PublishError> {
    publish_staged_with(
        targets,
        out,
        &default_staged_dir(out),
        keys,
        expiry,
        now,
        HashBins::Auto,
    )
}

/// Publishes `targets` into `out` with the hash-bin layout `bins`, staging
/// into [`default_staged_dir`]; see [`publish_staged_with`].
///
/// # Errors
/// As [`publish_staged_with`].
pub fn publish_with(
    targets: &BTreeMap<String, Vec<u8>>,
    out: &Path,
    keys: &RoleKeys<'_>,
    expiry: &Expiry,
    now: DateTime<Utc>,
    bins: HashBins,
) -> Result<PublishReport, PublishError> {
    publish_staged_with(
        targets,
        out,
        &default_staged_dir(out),
        keys,
        expiry,
        now,
        bins,
    )
}

/// Publishes `targets` into `out` with the default layout
/// ([`HashBins::Auto`]), staging into `staged_dir`; see
/// [`publish_staged_with`].
///
/// # Errors
/// As [`publish_staged_with`].
pub fn publish_staged(
    targets: &BTreeMap<String, Vec<u8>>,
    out: &Path,
    staged_dir: &Path,
    keys: &RoleKeys<'_>,
    expiry: &Expiry,
    now: DateTime<Utc>,
) -> Result<PublishReport, PublishError> {
    publish_staged_with(targets, out, staged_dir, keys, expiry, now, HashBins::Auto)
}

/// Publishes `targets` (target path → bytes) into `out`, with roles (and
/// hash bins) that lack signatures staged in `staged_dir` (refused inside
/// `out`); see the module docs for the versioning rule, hash bins, staging
/// and root rotation.
///
/// # Errors
/// [`PublishError`] naming the file or role at fault; nothing under
/// `out/metadata/` has changed then.
pub fn publish_staged_with(
    targets: &BTreeMap<String, Vec<u8>>,
    out: &Path,
    staged_dir: &Path,
    keys: &RoleKeys<'_>,
    expiry: &Expiry,
    now: DateTime<Utc>,
    bins: HashBins,
) -> Result<PublishReport, PublishError> {
    if inside(staged_dir, out) {
        return Err(PublishError::StagedInsideOut {
            staged: staged_dir.to_path_buf(),
            out: out.to_path_buf(),
        });
    }
    // Sub-second parts never reach metadata: the same second gives the same
    // bytes.
    let now = now.trunc_subsecs(0);
    for (name, setup) in [
        ("root", &keys.root),
        ("targets", &keys.targets),
        ("snapshot", &keys.snapshot),
        ("timestamp", &keys.timestamp),
    ] {
        check_setup(name, setup)?;
    }
    let meta_dir = out.join("metadata");
    let prev = Previous::load(&meta_dir)?;

    // Versions start as published, so that a pending report still says what
    // clients currently see (0: nothing published yet).
    let mut report = PublishReport {
        root_version: prev.root.as_ref().map_or(0, |r| r.meta.version),
        targets_version: prev.targets.as_ref().map_or(0, |t| t.meta.version),
        snapshot_version: prev.snapshot.as_ref().map_or(0, |s| s.meta.version),
        timestamp_version: prev.timestamp.as_ref().map_or(0, |t| t.meta.version),
        written: Vec::new(),
        pending: None,
    };
    // Files to write under OUT, in this order, once every role is complete.
    let mut writes: Vec<(String, Vec<u8>)> = Vec::new();

    // --- root -----------------------------------------------------------
    let new_root = desired_root(keys)?;
    let root_roles = keys_of(&new_root, "root")?;
    let mut root_checks = vec![root_roles];
    if let Some(prev_root) = &prev.root {
        // A rotation must also satisfy the previous root's threshold.
        root_checks.push(keys_of(&prev_root.meta, "root")?);
    }
    let root_plan = plan_role(
        "root",
        "root",
        envelope_of(&new_root)?,
        prev.root.as_ref().map(Published::as_prev),
        staged_dir,
        expiry.root,
        now,
        &keys.root.signers,
        &root_checks,
        Format::Pretty,
    )?;
    if let Some(p) = root_plan.pending {
        let v = root_plan.version;
        let reference = prev.root.as_ref().map(|r| (r.meta.version, &r.env));
        return stage(
            report,
            staged_dir,
            "root",
            &[("root".to_string(), v, &root_plan.envelope, p)],
            reference,
            out,
        );
    }
    report.root_version = root_plan.version;
    let root_bytes = root_plan.bytes.clone();
    let root_write = root_plan.changed.then(|| {
        (
            format!("metadata/{}.root.json", root_plan.version),
            root_bytes,
        )
    });

    // --- targets --------------------------------------------------------
    let mut target_files = BTreeMap::new();
    let mut target_writes: Vec<(String, &Vec<u8>)> = Vec::new();
    for (name, bytes) in targets {
        check_target_path(name).map_err(|reason| PublishError::BadTargetPath {
            name: name.chars().take(80).collect(),
            reason,
        })?;
        if super::pack::is_pack_name(name) {
            return Err(PublishError::BadTargetPath {
                name: name.chars().take(80).collect(),
                reason: format!(
                    "is under {}/, which is reserved for the packs of hash bins",
                    super::pack::PACKS_DIR
                ),
            });
        }
        let digest = sha256_hex(bytes);
        let mut hashes = BTreeMap::new();
        hashes.insert("sha256".to_string(), digest.clone());
        target_files.insert(
            name.clone(),
            TargetFile {
                length: bytes.len() as u64,
                hashes,
                custom: None,
                unrecognized: BTreeMap::new(),
            },
        );
        let path = format!("targets/{}", hashed_target_path(name, &digest));
        // Content-addressed: an existing file with this name already holds
        // these bytes unless someone tampered with OUT; rewrite if so.
        if std::fs::read(out.join(&path)).ok().as_deref() != Some(bytes.as_slice()) {
            target_writes.push((path, bytes));
        }
    }
    // --- hash bins (TAP 15), when the repository is large ----------------
    let published_bits = prev
        .targets
        .as_ref()
        .and_then(|t| t.meta.delegations.as_ref())
        .and_then(|d| d.succinct_roles.as_ref())
        .map(|s| s.bit_length);
    let (targets_keys, targets_threshold) = keys_of(&new_root, "targets")?;
    let succinct = bins
        .bits(target_files.len(), published_bits)?
        .map(|bit_length| SuccinctRoles {
            keyids: targets_keys.keys().cloned().collect(),
            threshold: targets_threshold,
            bit_length,
            name_prefix: BIN_PREFIX.into(),
            unrecognized: BTreeMap::new(),
        });
    let mut pack_writes: Vec<(String, Vec<u8>)> = Vec::new();
    let (top_targets, delegations, mut bin_targets) = match &succinct {
        None => (target_files, None, BTreeMap::new()),
        Some(roles) => {
            let mut bins: BTreeMap<String, BTreeMap<String, TargetFile>> =
                roles.bin_names().map(|n| (n, BTreeMap::new())).collect();
            for (name, info) in target_files {
                bins.entry(roles.bin_for_target(&name))
                    .or_default()
                    .insert(name, info);
            }
            // Every bin with targets lists one more: its pack, a tar of
            // the others, named to hash into the bin (see `pack`).
            for (bin, listed) in &mut bins {
                if listed.is_empty() {
                    continue;
                }
                let pack = super::pack::build(
                    listed
                        .keys()
                        .filter_map(|n| targets.get(n).map(|b| (n.as_str(), b.as_slice()))),
                );
                let name = super::pack::pack_name(roles, bin);
                let digest = sha256_hex(&pack);
                let path = format!("targets/{}", hashed_target_path(&name, &digest));
                listed.insert(
                    name,
                    TargetFile {
                        length: pack.len() as u64,
                        hashes: BTreeMap::from([("sha256".to_string(), digest)]),
                        custom: None,
                        unrecognized: BTreeMap::new(),
                    },
                );
                if std::fs::read(out.join(&path)).ok().as_deref() != Some(pack.as_slice()) {
                    pack_writes.push((path, pack));
                }
            }
            let delegations = Delegations {
                keys: keys
                    .targets
                    .keys
                    .iter()
                    .map(|k| (k.key_id(), Key::from_public(k)))
                    .collect(),
                roles: None,
                succinct_roles: Some(roles.clone()),
                unrecognized: BTreeMap::new(),
            };
            (BTreeMap::new(), Some(delegations), bins)
        }
    };
    let new_targets = Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires: now,
        targets: top_targets,
        delegations,
        unrecognized: BTreeMap::new(),
    };
    let targets_plan = plan_role(
        "targets",
        "targets",
        envelope_of(&new_targets)?,
        prev.targets.as_ref().map(Published::as_prev),
        staged_dir,
        expiry.targets,
        now,
        &keys.targets.signers,
        &[(targets_keys.clone(), targets_threshold)],
        Format::Pretty,
    )?;
    if let Some(p) = targets_plan.pending {
        let v = targets_plan.version;
        return stage(
            report,
            staged_dir,
            "targets",
            &[("targets".to_string(), v, &targets_plan.envelope, p)],
            Some((root_plan.version, &root_plan.envelope)),
            out,
        );
    }
    report.targets_version = targets_plan.version;
    let targets_bytes = targets_plan.bytes.clone();

    // Every bin is planned like a role of its own (a new version only when
    // its share of the targets changed or it nears expiry) and signed with
    // the targets keys, which the delegation names.
    let mut bin_plans: BTreeMap<String, Plan> = BTreeMap::new();
    for (bin, listed) in std::mem::take(&mut bin_targets) {
        let desired = Targets {
            type_: "targets".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires: now,
            targets: listed,
            delegations: None,
            unrecognized: BTreeMap::new(),
        };
        let published = prev.bin(&meta_dir, &bin)?;
        let plan = plan_role(
            "targets",
            &bin,
            envelope_of(&desired)?,
            published.as_ref().map(Published::as_prev),
            staged_dir,
            expiry.targets,
            now,
            &keys.targets.signers,
            &[(targets_keys.clone(), targets_threshold)],
            Format::Compact,
        )?;
        bin_plans.insert(bin, plan);
    }
    let pending_bins: Vec<(String, u64, &Envelope, (usize, u32))> = bin_plans
        .iter()
        .filter_map(|(bin, p)| {
            p.pending
                .map(|pd| (bin.clone(), p.version, &p.envelope, pd))
        })
        .collect();
    if !pending_bins.is_empty() {
        return stage(
            report,
            staged_dir,
            "targets",
            &pending_bins,
            Some((root_plan.version, &root_plan.envelope)),
            out,
        );
    }

    // --- snapshot -------------------------------------------------------
    let mut snapshot_meta = meta_entry("targets.json", targets_plan.version, &targets_bytes);
    // Bins are listed by version only (TUF allows it; python-tuf does the
    // same): a length and hash per bin would triple the snapshot, which
    // every update downloads, and the bin's signature and version already
    // pin it.
    for (bin, plan) in &bin_plans {
        snapshot_meta.insert(
            format!("{bin}.json"),
            MetaFile {
                version: plan.version,
                length: None,
                hashes: None,
                unrecognized: BTreeMap::new(),
            },
        );
    }
    let new_snapshot = Snapshot {
        type_: "snapshot".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires: now,
        meta: snapshot_meta,
        unrecognized: BTreeMap::new(),
    };
    let snapshot_plan = plan_role(
        "snapshot",
        "snapshot",
        envelope_of(&new_snapshot)?,
        prev.snapshot.as_ref().map(Published::as_prev),
        staged_dir,
        expiry.snapshot,
        now,
        &keys.snapshot.signers,
        &[keys_of(&new_root, "snapshot")?],
        if succinct.is_some() {
            Format::Compact
        } else {
            Format::Pretty
        },
    )?;
    if let Some(p) = snapshot_plan.pending {
        let v = snapshot_plan.version;
        return stage(
            report,
            staged_dir,
            "snapshot",
            &[("snapshot".to_string(), v, &snapshot_plan.envelope, p)],
            Some((root_plan.version, &root_plan.envelope)),
            out,
        );
    }
    report.snapshot_version = snapshot_plan.version;
    let snapshot_bytes = snapshot_plan.bytes.clone();

    // --- timestamp ------------------------------------------------------
    let new_timestamp = Timestamp {
        type_: "timestamp".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires: now,
        meta: meta_entry("snapshot.json", snapshot_plan.version, &snapshot_bytes),
        unrecognized: BTreeMap::new(),
    };
    let timestamp_plan = plan_role(
        "timestamp",
        "timestamp",
        envelope_of(&new_timestamp)?,
        prev.timestamp.as_ref().map(Published::as_prev),
        staged_dir,
        expiry.timestamp,
        now,
        &keys.timestamp.signers,
        &[keys_of(&new_root, "timestamp")?],
        Format::Pretty,
    )?;
    if let Some(p) = timestamp_plan.pending {
        let v = timestamp_plan.version;
        return stage(
            report,
            staged_dir,
            "timestamp",
            &[("timestamp".to_string(), v, &timestamp_plan.envelope, p)],
            Some((root_plan.version, &root_plan.envelope)),
            out,
        );
    }
    report.timestamp_version = timestamp_plan.version;

    // --- write, timestamp last -----------------------------------------
    // Targets first, without a sync each: they are content-addressed, no
    // published metadata names them yet, and a torn one is found (its bytes
    // differ) and rewritten by the next publish; then one sync per folder
    // before any metadata names them.
    let mut target_dirs = std::collections::BTreeSet::new();
    let target_writes = target_writes
        .into_iter()
        .chain(pack_writes.iter().map(|(p, b)| (p.clone(), b)));
    for (rel, bytes) in target_writes {
        let path = out.join(&rel);
        super::write_unsynced(&path, bytes).map_err(|source| PublishError::Io {
            path: path.clone(),
            source,
        })?;
        if let Some(dir) = path.parent() {
            target_dirs.insert(dir.to_path_buf());
        }
        report.written.push(rel);
    }
    // One sync per folder (a folder per dist), several at once.
    let dirs: Vec<PathBuf> = target_dirs.into_iter().collect();
    for (dir, r) in dirs
        .iter()
        .zip(super::par_map(&dirs, |d| super::sync_dir(d)))
    {
        r.map_err(|source| PublishError::Io {
            path: dir.clone(),
            source,
        })?;
    }
    // New bin versions are new files no published snapshot names yet:
    // written like the targets, then one sync of the folder.
    let mut bins_written = false;
    for (bin, plan) in &bin_plans {
        if plan.changed {
            let rel = format!("metadata/{}.{bin}.json", plan.version);
            let path = out.join(&rel);
            super::write_unsynced(&path, &plan.bytes).map_err(|source| PublishError::Io {
                path: path.clone(),
                source,
            })?;
            report.written.push(rel);
            bins_written = true;
        }
    }
    if bins_written {
        let dir = out.join("metadata");
        super::sync_dir(&dir).map_err(|source| PublishError::Io { path: dir, source })?;
    }
    if targets_plan.changed {
        let path = format!("metadata/{}.targets.json", targets_plan.version);
        writes.push((path, targets_bytes));
    }
    if snapshot_plan.changed {
        let path = format!("metadata/{}.snapshot.json", snapshot_plan.version);
        writes.push((path, snapshot_bytes));
    }
    writes.extend(root_write);
    if timestamp_plan.changed {
        writes.push(("metadata/timestamp.json".into(), timestamp_plan.bytes));
    }
    for (rel, bytes) in writes {
        let path = out.join(&rel);
        write_atomic(&path, &bytes).map_err(|source| PublishError::Io { path, source })?;
        report.written.push(rel);
    }
    // Staged files that were published (or superseded) are no longer needed.
    let top = [
        ("root", &root_plan),
        ("targets", &targets_plan),
        ("snapshot", &snapshot_plan),
    ];
    let staged_roles = top
        .iter()
        .map(|(r, p)| (*r, *p))
        .chain(bin_plans.iter().map(|(b, p)| (b.as_str(), p)));
    for (role, plan) in staged_roles {
        let staged = staged_dir.join(format!("{}.{role}.json", plan.version));
        if plan.changed && staged.exists() {
            std::fs::remove_file(&staged).map_err(|source| PublishError::Io {
                path: staged,
                source,
            })?;
        }
    }
    Ok(report)
}

/// Adds `key`'s signature to the metadata file at `path` (typically one
/// in the staged directory, `OUT.staged/`), in place, atomically. Returns false, writing
/// nothing, when that key had already signed.
///
/// The signature covers the canonical JSON of `signed` exactly as found in
/// the file, so fields this tool does not know are signed too.
///
/// # Errors
/// [`PublishError`] naming the file.
pub fn sign_metadata_file(path: &Path, key: &SigningKey) -> Result<bool, PublishError> {
    let bytes = std::fs::read(path).map_err(|source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let role = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".json"))
        .and_then(|n| n.rsplit('.').next())
        .unwrap_or("metadata")
        .to_string();
    let meta_err = |source| PublishError::Metadata {
        path: path.to_path_buf(),
        source,
    };
    let mut envelope = Envelope::from_slice(&role, &bytes).map_err(meta_err)?;
    if envelope.signatures.iter().any(|s| &s.keyid == key.key_id()) {
        return Ok(false);
    }
    let canonical = envelope.canonical_signed(&role).map_err(meta_err)?;
    envelope.signatures.push(sign(key, &canonical));
    envelope.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    write_atomic(path, &envelope.to_bytes()).map_err(|source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(true)
}

/// Adds `key`'s signature to a file staged by [`publish`], after checking
/// that the file's role lists the key: for `V.root.json`, the root's own
/// root keys or those of `(V-1).root.json` beside it (cross-signing a
/// rotation); for another role, that role's keys in the newest
/// `N.root.json` beside it (staged there by [`publish`]). Returns false,
/// writing nothing, when that key had already signed.
///
/// # Errors
/// [`PublishError::KeyNotListed`] for a key of another role or of no role;
/// [`PublishError`] naming the file when it or its root cannot be read.
pub fn sign_staged_file(path: &Path, key: &SigningKey) -> Result<bool, PublishError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".json"))
        .unwrap_or("");
    let (version, role) = match name.split_once('.') {
        Some((v, r)) => (v.parse::<u64>().ok(), r),
        None => (None, name),
    };
    let role: &'static str = match role {
        "root" => "root",
        "targets" => "targets",
        "snapshot" => "snapshot",
        "timestamp" => "timestamp",
        // A hash bin is signed by the targets keys (see the module docs).
        r if r
            .strip_prefix(BIN_PREFIX)
            .is_some_and(|n| n.starts_with('-')) =>
        {
            "targets"
        }
        _ => {
            return Err(PublishError::PreviousState {
                path: path.to_path_buf(),
                reason: "is not a staged V.ROLE.json file (root, targets, a hash bin, snapshot or \
                         timestamp)"
                    .into(),
            })
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut roots: Vec<PathBuf> = Vec::new();
    if role == "root" {
        roots.push(path.to_path_buf());
        if let Some(v) = version.filter(|v| *v > 1) {
            let prev = dir.join(format!("{}.root.json", v - 1));
            if prev.exists() {
                roots.push(prev);
            }
        }
    } else {
        let newest = std::fs::read_dir(dir)
            .map_err(|source| PublishError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name();
                n.to_str()?.strip_suffix(".root.json")?.parse::<u64>().ok()
            })
            .max();
        match newest {
            Some(v) => roots.push(dir.join(format!("{v}.root.json"))),
            None => {
                return Err(PublishError::PreviousState {
                    path: path.to_path_buf(),
                    reason: format!(
                        "no N.root.json beside it names the {role} keys; stage it again with `patchkit publish`"
                    ),
                })
            }
        }
    }
    let mut listed = false;
    for root_path in &roots {
        let root = read_role::<Root>(root_path)?
            .ok_or_else(|| missing(root_path))?
            .meta;
        let (keys, _) = keys_of(&root, role)?;
        listed |= keys.contains_key(key.key_id());
    }
    if !listed {
        return Err(PublishError::KeyNotListed {
            path: path.to_path_buf(),
            keyid: key.key_id().to_string(),
            role: role.to_string(),
            root: roots.last().cloned().unwrap_or_default(),
        });
    }
    sign_metadata_file(path, key)
}

/// Whether `dir` is `out` or inside it, compared on absolute paths with
/// `.` and `..` resolved lexically (neither needs to exist yet).
fn inside(dir: &Path, out: &Path) -> bool {
    fn normal(p: &Path) -> PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut n = PathBuf::new();
        for c in abs.components() {
            match c {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    n.pop();
                }
                other => n.push(other),
            }
        }
        n
    }
    normal(dir).starts_with(normal(out))
}

/// What to publish for one role.
struct Plan {
    envelope: Envelope,
    /// The file's bytes: as published when unchanged, else as serialised.
    bytes: Vec<u8>,
    version: u64,
    /// A new version (to be written); false when the published file stays.
    changed: bool,
    pending: Option<(usize, u32)>,
}

/// How a role's file is written: indented (the four top-level roles of a
/// small repository, read by people) or compact (the files that grow with
/// the repository: a delegating snapshot and the hash bins).
#[derive(Clone, Copy)]
enum Format {
    Pretty,
    Compact,
}

impl Format {
    fn bytes(self, env: &Envelope) -> Vec<u8> {
        match self {
            Format::Pretty => env.to_bytes(),
            Format::Compact => env.to_compact_bytes(),
        }
    }
}

/// A published role file, as [`plan_role`] compares it: envelope, bytes,
/// version and expiry.
type PrevRole<'a> = (&'a Envelope, &'a [u8], u64, DateTime<Utc>);

/// Decides whether `role` (named `file_role` in file names: the role, or a
/// bin) keeps its published file or gets a new version, and signs the new
/// version with the signers the checks know.
#[allow(clippy::too_many_arguments)]
fn plan_role(
    role: &'static str,
    file_role: &str,
    desired: Envelope,
    prev: Option<PrevRole<'_>>,
    staged_dir: &Path,
    lifetime: TimeDelta,
    now: DateTime<Utc>,
    signers: &[&SigningKey],
    checks: &[(BTreeMap<KeyId, PublicKey>, u32)],
    format: Format,
) -> Result<Plan, PublishError> {
    let fresh_enough = |expires: DateTime<Utc>| expires - now > lifetime / 2;
    if let Some((env, bytes, version, expires)) = prev {
        // The last check is the role itself in the new root (for root, the
        // first is the new root's own role and the second the old one: the
        // published root only needs its own).
        let still_valid = match (checks.first(), env.canonical_signed(role)) {
            (Some((keys, threshold)), Ok(canonical)) => {
                verify_threshold(keys, *threshold, &env.signatures, &canonical).is_ok()
            }
            _ => false,
        };
        if same_content(role, &env.signed, &desired.signed)? && fresh_enough(expires) && still_valid
        {
            return Ok(Plan {
                envelope: env.clone(),
                bytes: bytes.to_vec(),
                version,
                changed: false,
                pending: None,
            });
        }
    }
    let version = prev.map_or(1, |(_, _, v, _)| v + 1);
    let staged_path = staged_dir.join(format!("{version}.{file_role}.json"));
    let staged = read_staged(role, &staged_path)?;
    let mut envelope = match staged {
        Some((env, expires))
            if same_content(role, &env.signed, &desired.signed)? && fresh_enough(expires) =>
        {
            // A signature by a key the role does not list (a wrong key
            // given to `sign`, or a tampered staged file) never reaches a
            // published file.
            let mut env = env;
            env.signatures
                .retain(|s| checks.iter().any(|(keys, _)| keys.contains_key(&s.keyid)));
            env
        }
        _ => {
            let mut env = desired;
            if let Value::Object(map) = &mut env.signed {
                map.insert("version".into(), Value::from(version));
                let expires = super::metadata::tuf_time::format(&(now + lifetime));
                map.insert("expires".into(), Value::String(expires));
            }
            env
        }
    };
    let canonical =
        envelope
            .canonical_signed(role)
            .map_err(|source| PublishError::BadRoleSetup {
                role,
                reason: source.to_string(),
            })?;
    for signer in signers {
        let listed = checks
            .iter()
            .any(|(keys, _)| keys.contains_key(signer.key_id()));
        let signed = envelope
            .signatures
            .iter()
            .any(|s| &s.keyid == signer.key_id());
        if listed && !signed {
            envelope.signatures.push(sign(signer, &canonical));
        }
    }
    envelope.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    let mut pending = None;
    for (keys, threshold) in checks {
        if let Err(patchkit_signing::VerifyError::BelowThreshold { valid, threshold }) =
            verify_threshold(keys, *threshold, &envelope.signatures, &canonical)
        {
            if pending.is_none_or(|(v, _)| valid < v) {
                pending = Some((valid, threshold));
            }
        }
    }
    Ok(Plan {
        bytes: format.bytes(&envelope),
        envelope,
        version,
        changed: true,
        pending,
    })
}

/// Writes the role files that lack signatures (`(file role, version,
/// envelope, (valid, threshold))`: one role, or every hash bin that
/// changed) to the staged directory, with the root that lists their keys
/// (`reference`: version and file) beside them, and returns the report,
/// naming the first; `OUT/metadata/` is untouched.
fn stage(
    mut report: PublishReport,
    staged_dir: &Path,
    role: &'static str,
    files: &[(String, u64, &Envelope, (usize, u32))],
    reference: Option<(u64, &Envelope)>,
    out: &Path,
) -> Result<PublishReport, PublishError> {
    let mut writes = Vec::new();
    for (file_role, version, envelope, (valid, threshold)) in files {
        let path = staged_dir.join(format!("{version}.{file_role}.json"));
        writes.push((path.clone(), envelope.to_bytes()));
        if report.pending.is_none() {
            report.pending = Some(Pending {
                role,
                path,
                valid: *valid,
                threshold: *threshold,
            });
        }
    }
    if let Some((v, root)) = reference {
        writes.push((staged_dir.join(format!("{v}.root.json")), root.to_bytes()));
    }
    for (file, bytes) in writes {
        write_atomic(&file, &bytes).map_err(|source| PublishError::Io {
            path: file.clone(),
            source,
        })?;
        // Relative to OUT when under it (never, unless a caller asked);
        // else the path as it is.
        report.written.push(match file.strip_prefix(out) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => file.display().to_string(),
        });
    }
    Ok(report)
}

fn read_staged(role: &str, path: &Path) -> Result<Option<(Envelope, DateTime<Utc>)>, PublishError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PublishError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let meta_err = |source| PublishError::Metadata {
        path: path.to_path_buf(),
        source,
    };
    let env = Envelope::from_slice(role, &bytes).map_err(meta_err)?;
    let expires = env
        .signed
        .get("expires")
        .and_then(Value::as_str)
        .and_then(super::metadata::tuf_time::parse)
        .ok_or_else(|| PublishError::PreviousState {
            path: path.to_path_buf(),
            reason: "has no valid expires".into(),
        })?;
    Ok(Some((env, expires)))
}

/// True when two `signed` objects differ at most in `version` and
/// `expires`.
fn same_content(role: &'static str, a: &Value, b: &Value) -> Result<bool, PublishError> {
    let strip = |v: &Value| -> Result<Vec<u8>, PublishError> {
        let mut v = v.clone();
        if let Value::Object(map) = &mut v {
            map.remove("version");
            map.remove("expires");
        }
        patchkit_signing::canonical_json(&v).map_err(|e| PublishError::BadRoleSetup {
            role,
            reason: e.to_string(),
        })
    };
    Ok(strip(a)? == strip(b)?)
}

fn envelope_of<T: RoleMetadata>(signed: &T) -> Result<Envelope, PublishError> {
    Envelope::unsigned(signed).map_err(|e| PublishError::BadRoleSetup {
        role: T::TYPE,
        reason: e.to_string(),
    })
}

fn meta_entry(name: &str, version: u64, bytes: &[u8]) -> BTreeMap<String, MetaFile> {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_string(), sha256_hex(bytes));
    let mut meta = BTreeMap::new();
    meta.insert(
        name.to_string(),
        MetaFile {
            version,
            length: Some(bytes.len() as u64),
            hashes: Some(hashes),
            unrecognized: BTreeMap::new(),
        },
    );
    meta
}

fn check_setup(role: &'static str, setup: &RoleSetup<'_>) -> Result<(), PublishError> {
    let mut ids: Vec<KeyId> = setup.keys.iter().map(PublicKey::key_id).collect();
    ids.sort();
    ids.dedup();
    let reason = if setup.threshold == 0 {
        Some("threshold 0 is invalid, it must be at least 1".to_string())
    } else if ids.len() != setup.keys.len() {
        Some("the same key is listed twice".to_string())
    } else if u64::from(setup.threshold) > ids.len() as u64 {
        Some(format!(
            "threshold {} is higher than its {} key(s)",
            setup.threshold,
            ids.len()
        ))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(PublishError::BadRoleSetup { role, reason }),
        None => Ok(()),
    }
}

/// The root the key setup describes (version and expiry filled in later).
fn desired_root(keys: &RoleKeys<'_>) -> Result<Root, PublishError> {
    let mut all_keys = BTreeMap::new();
    let mut roles = BTreeMap::new();
    for (name, setup) in [
        ("root", &keys.root),
        ("targets", &keys.targets),
        ("snapshot", &keys.snapshot),
        ("timestamp", &keys.timestamp),
    ] {
        let mut keyids = Vec::new();
        for key in &setup.keys {
            let id = key.key_id();
            all_keys.insert(id.clone(), Key::from_public(key));
            keyids.push(id);
        }
        // Sorted, so that the order keys were passed in does not change root.
        keyids.sort();
        roles.insert(
            name.to_string(),
            RoleDef {
                keyids,
                threshold: setup.threshold,
                unrecognized: BTreeMap::new(),
            },
        );
    }
    Ok(Root {
        type_: "root".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires: DateTime::<Utc>::UNIX_EPOCH,
        consistent_snapshot: Some(true),
        keys: all_keys,
        roles,
        unrecognized: BTreeMap::new(),
    })
}

/// One published role file: envelope, parsed role and bytes as on disk.
struct Published<T> {
    env: Envelope,
    meta: T,
    bytes: Vec<u8>,
}

impl<T: RoleMetadata> Published<T> {
    fn as_prev(&self) -> PrevRole<'_> {
        (
            &self.env,
            &self.bytes,
            self.meta.version(),
            self.meta.expires(),
        )
    }
}

/// The published state found in `OUT/metadata/`, unverified: it is our own
/// output, used only to decide what changed.
struct Previous {
    root: Option<Published<Root>>,
    timestamp: Option<Published<Timestamp>>,
    snapshot: Option<Published<Snapshot>>,
    targets: Option<Published<Targets>>,
}

impl Previous {
    /// The published version of hash bin `bin`, if the published snapshot
    /// lists one.
    fn bin(&self, meta_dir: &Path, bin: &str) -> Result<Option<Published<Targets>>, PublishError> {
        let Some(version) = self
            .snapshot
            .as_ref()
            .and_then(|s| s.meta.meta.get(&format!("{bin}.json")))
            .map(|m| m.version)
        else {
            return Ok(None);
        };
        let path = meta_dir.join(format!("{version}.{bin}.json"));
        read_role::<Targets>(&path)?
            .map(Some)
            .ok_or_else(|| missing(&path))
    }

    fn load(meta_dir: &Path) -> Result<Self, PublishError> {
        let mut prev = Previous {
            root: None,
            timestamp: None,
            snapshot: None,
            targets: None,
        };
        let entries = match std::fs::read_dir(meta_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(prev),
            Err(source) => {
                return Err(PublishError::Io {
                    path: meta_dir.to_path_buf(),
                    source,
                })
            }
        };
        let mut newest_root: Option<u64> = None;
        for entry in entries {
            let entry = entry.map_err(|source| PublishError::Io {
                path: meta_dir.to_path_buf(),
                source,
            })?;
            let name = entry.file_name();
            let Some(v) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".root.json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            newest_root = newest_root.max(Some(v));
        }
        let Some(root_version) = newest_root else {
            return Ok(prev);
        };
        let root_path = meta_dir.join(format!("{root_version}.root.json"));
        let root = read_role::<Root>(&root_path)?.ok_or_else(|| missing(&root_path))?;
        prev.root = Some(root);

        let ts_path = meta_dir.join("timestamp.json");
        let Some(timestamp) = read_role::<Timestamp>(&ts_path)? else {
            // Root was written but the first timestamp never was: start the
            // other roles afresh.
            return Ok(prev);
        };
        let snap_version = timestamp
            .meta
            .meta
            .get("snapshot.json")
            .map(|m| m.version)
            .ok_or_else(|| PublishError::PreviousState {
                path: ts_path.clone(),
                reason: "lists no snapshot.json".into(),
            })?;
        prev.timestamp = Some(timestamp);
        let snap_path = meta_dir.join(format!("{snap_version}.snapshot.json"));
        let snapshot = read_role::<Snapshot>(&snap_path)?.ok_or_else(|| missing(&snap_path))?;
        let targets_version = snapshot
            .meta
            .meta
            .get("targets.json")
            .map(|m| m.version)
            .ok_or_else(|| PublishError::PreviousState {
                path: snap_path.clone(),
                reason: "lists no targets.json".into(),
            })?;
        prev.snapshot = Some(snapshot);
        let targets_path = meta_dir.join(format!("{targets_version}.targets.json"));
        prev.targets =
            Some(read_role::<Targets>(&targets_path)?.ok_or_else(|| missing(&targets_path))?);
        Ok(prev)
    }
}

fn missing(path: &Path) -> PublishError {
    PublishError::PreviousState {
        path: path.to_path_buf(),
        reason: "is referenced by the published metadata but missing".into(),
    }
}

fn read_role<T: RoleMetadata>(path: &Path) -> Result<Option<Published<T>>, PublishError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PublishError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let meta_err = |source| PublishError::Metadata {
        path: path.to_path_buf(),
        source,
    };
    let env = Envelope::from_slice(T::TYPE, &bytes).map_err(meta_err)?;
    let meta = env.parse_signed::<T>().map_err(meta_err)?;
    Ok(Some(Published { env, meta, bytes }))
}

fn keys_of(
    root: &Root,
    role: &'static str,
) -> Result<(BTreeMap<KeyId, PublicKey>, u32), PublishError> {
    root.role_keys(role)
        .map_err(|e| PublishError::BadRoleSetup {
            role,
            reason: e.to_string(),
        })
}
