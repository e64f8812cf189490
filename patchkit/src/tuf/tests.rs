//! Publish → update → fetch round trips and the attack suite, on a
//! filesystem transport, with throwaway keys made per run. Every refused
//! update asserts that the trusted directory is byte-for-byte unchanged.
//!
//! Expiry tests publish in the year 2000 and pick `now` as a parameter, so no
//! clock is involved. Interop with python-tuf lives in `interop_tests.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use patchkit_signing::{canonical_json, sign, SigningKey};
use serde_json::{json, Value};

use super::transport::{FilesystemTransport, Transport};
use super::updater::{self, BinScope, Limits, LookupBin, TrustedState, Verified, VerifyError};

/// What the tests call an update: the pure updater from a trusted
/// directory, then the changed role files written back to it, the way the
/// trust store commits them (`client::store`). Targets are fetched through
/// [`UpdateReport::fetch_target`], which keeps the store's cache rules.
#[derive(Debug)]
pub(super) struct UpdateReport {
    verified: Verified,
    dir: std::path::PathBuf,
    /// Role files replaced, in commit order.
    pub(super) updated: Vec<&'static str>,
}

impl std::ops::Deref for UpdateReport {
    type Target = Verified;
    fn deref(&self) -> &Verified {
        &self.verified
    }
}

impl UpdateReport {
    /// The cached copy when it verifies, else a download, then cached.
    pub(super) fn fetch_target(
        &self,
        transport: &dyn Transport,
        name: &str,
    ) -> Result<Vec<u8>, VerifyError> {
        let path = self
            .dir
            .join("targets")
            .join(self.verified.hashed_name(name)?);
        if let Ok(bytes) = std::fs::read(&path) {
            if self.verified.check_target(name, &bytes).is_ok() {
                return Ok(bytes);
            }
        }
        let bytes = self
            .verified
            .fetch_target(transport, name, &Limits::default())?;
        crate::state::write_atomic(&path, &bytes, None).unwrap();
        Ok(bytes)
    }
}

pub(super) fn update(
    dir: &Path,
    transport: &dyn Transport,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<UpdateReport, VerifyError> {
    let state = TrustedState::read_dir(dir, limits)?;
    let verified = updater::update(&state, transport, now, limits)?;
    for (role, bytes) in &verified.changed {
        crate::state::write_atomic(&dir.join(role.file_name()), bytes, None).unwrap();
    }
    Ok(UpdateReport {
        updated: verified.updated(),
        verified,
        dir: dir.to_path_buf(),
    })
}
use super::metadata::{tuf_time, Envelope};
use super::publish::{publish, sign_metadata_file, Expiry, PublishReport, RoleKeys, RoleSetup};
use super::sha256_hex;

pub(super) struct Keys {
    pub(super) root: SigningKey,
    pub(super) targets: SigningKey,
    pub(super) snapshot: SigningKey,
    pub(super) timestamp: SigningKey,
}

impl Keys {
    pub(super) fn new() -> Self {
        Keys {
            root: SigningKey::generate(),
            targets: SigningKey::generate(),
            snapshot: SigningKey::generate(),
            timestamp: SigningKey::generate(),
        }
    }

    pub(super) fn setup(&self) -> RoleKeys<'_> {
        RoleKeys {
            root: RoleSetup::single(&self.root),
            targets: RoleSetup::single(&self.targets),
            snapshot: RoleSetup::single(&self.snapshot),
            timestamp: RoleSetup::single(&self.timestamp),
        }
    }
}

pub(super) fn t(s: &str) -> DateTime<Utc> {
    tuf_time::parse(s).unwrap()
}

/// Publication time of most tests.
fn t0() -> DateTime<Utc> {
    t("2000-01-01T00:00:00Z")
}

/// Long lifetimes, so that only the role a test shortens can expire.
fn long_expiry() -> Expiry {
    let century = TimeDelta::days(36_500);
    Expiry {
        root: century,
        targets: century,
        snapshot: century,
        timestamp: century,
    }
}

pub(super) fn sample_targets() -> BTreeMap<String, Vec<u8>> {
    let mut targets = BTreeMap::new();
    targets.insert(
        "YAML-LibYAML/CPANSEC-2025-0001.toml".to_string(),
        b"id = \"CPANSEC-2025-0001\"\n".to_vec(),
    );
    targets.insert(
        "YAML-LibYAML/CPANSEC-2025-0001.patch".to_string(),
        b"--- a/lib/YAML.pm\n+++ b/lib/YAML.pm\n".to_vec(),
    );
    targets.insert("top-level.txt".to_string(), b"hello".to_vec());
    targets
}

struct Fixture {
    _tmp: tempfile::TempDir,
    out: PathBuf,
    trusted: PathBuf,
    keys: Keys,
}

impl Fixture {
    /// A repository published at `t0()` and a trusted dir holding only its
    /// 1.root.json.
    fn new() -> Self {
        Self::with_expiry(&long_expiry())
    }

    fn with_expiry(expiry: &Expiry) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("repo");
        let trusted = tmp.path().join("trusted");
        let keys = Keys::new();
        publish(&sample_targets(), &out, &keys.setup(), expiry, t0()).unwrap();
        std::fs::create_dir_all(&trusted).unwrap();
        std::fs::copy(out.join("metadata/1.root.json"), trusted.join("root.json")).unwrap();
        Fixture {
            _tmp: tmp,
            out,
            trusted,
            keys,
        }
    }

    fn transport(&self) -> FilesystemTransport {
        FilesystemTransport::new(&self.out)
    }

    fn update_at(&self, now: DateTime<Utc>) -> Result<UpdateReport, VerifyError> {
        update(&self.trusted, &self.transport(), now, &Limits::default())
    }

    fn update(&self) -> Result<UpdateReport, VerifyError> {
        self.update_at(t("2000-01-02T00:00:00Z"))
    }

    /// Runs an update that must fail, checks the trusted dir did not change,
    /// and returns the error message.
    fn refused(&self, now: DateTime<Utc>) -> String {
        let before = dir_bytes(&self.trusted);
        let err = self.update_at(now).unwrap_err();
        assert_eq!(
            before,
            dir_bytes(&self.trusted),
            "trusted dir changed after: {err}"
        );
        err.to_string()
    }

    fn meta(&self, name: &str) -> PathBuf {
        self.out.join("metadata").join(name)
    }

    /// After editing a served targets or snapshot file, refresh the
    /// length/hashes listed above it and re-sign snapshot and timestamp with
    /// the legitimate keys, so that a test reaches the check it targets.
    fn relink(&self) {
        let ts = read_env(&self.meta("timestamp.json"));
        let snap_version = ts.signed["meta"]["snapshot.json"]["version"]
            .as_u64()
            .unwrap();
        let snap_path = self.meta(&format!("{snap_version}.snapshot.json"));
        let snap = read_env(&snap_path);
        let targets_version = snap.signed["meta"]["targets.json"]["version"]
            .as_u64()
            .unwrap();
        let targets_bytes =
            std::fs::read(self.meta(&format!("{targets_version}.targets.json"))).unwrap();
        resign(&snap_path, &[&self.keys.snapshot], |s| {
            s["meta"]["targets.json"] = meta_entry(targets_version, &targets_bytes);
        });
        let snap_bytes = std::fs::read(&snap_path).unwrap();
        resign(&self.meta("timestamp.json"), &[&self.keys.timestamp], |s| {
            s["meta"]["snapshot.json"] = meta_entry(snap_version, &snap_bytes);
        });
    }
}

fn meta_entry(version: u64, bytes: &[u8]) -> Value {
    json!({"version": version, "length": bytes.len(), "hashes": {"sha256": sha256_hex(bytes)}})
}

fn read_env(path: &Path) -> Envelope {
    Envelope::from_slice("test", &std::fs::read(path).unwrap()).unwrap()
}

/// Edits the `signed` part of a metadata file and replaces its signatures
/// with those of `signers`.
fn resign(path: &Path, signers: &[&SigningKey], edit: impl FnOnce(&mut Value)) {
    let mut env = read_env(path);
    edit(&mut env.signed);
    let canonical = canonical_json(&env.signed).unwrap();
    env.signatures = signers.iter().map(|k| sign(k, &canonical)).collect();
    std::fs::write(path, env.to_bytes()).unwrap();
}

/// Every file under `dir` with its bytes.
pub(super) fn dir_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for (path, bytes) in dir_bytes(from) {
        let dest = to.join(path.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, bytes).unwrap();
    }
}

// --- round trips and determinism ------------------------------------------

#[test]
fn publish_update_fetch_round_trip() {
    let f = Fixture::new();
    let report = f.update().unwrap();
    assert_eq!(
        (
            report.root_version,
            report.timestamp_version,
            report.snapshot_version,
            report.targets_version
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(
        report.updated,
        ["targets.json", "snapshot.json", "timestamp.json"]
    );
    for (name, bytes) in sample_targets() {
        assert_eq!(report.fetch_target(&f.transport(), &name).unwrap(), bytes);
        // Second time from the verified cache, even with the repo gone.
        let empty = FilesystemTransport::new(f.out.join("nowhere"));
        assert_eq!(report.fetch_target(&empty, &name).unwrap(), bytes);
    }
    // Consistent snapshot layout, as python-tuf writes it.
    let patch = &sample_targets()["YAML-LibYAML/CPANSEC-2025-0001.patch"];
    let hashed = f.out.join(format!(
        "targets/YAML-LibYAML/{}.CPANSEC-2025-0001.patch",
        sha256_hex(patch)
    ));
    assert!(hashed.is_file());
    for name in [
        "1.root.json",
        "1.targets.json",
        "1.snapshot.json",
        "timestamp.json",
    ] {
        assert!(f.meta(name).is_file(), "{name}");
    }
    // A second update with nothing new changes nothing.
    let again = f.update().unwrap();
    assert!(again.updated.is_empty());
}

#[test]
fn publish_twice_without_change_writes_identical_bytes() {
    let f = Fixture::new();
    let before = dir_bytes(&f.out);
    let report = publish(
        &sample_targets(),
        &f.out,
        &f.keys.setup(),
        &long_expiry(),
        t0(),
    )
    .unwrap();
    assert!(report.written.is_empty(), "{:?}", report.written);
    assert_eq!(before, dir_bytes(&f.out));
    // A later run, still far from expiry, changes nothing either.
    let later = t("2000-02-01T00:00:00Z");
    publish(
        &sample_targets(),
        &f.out,
        &f.keys.setup(),
        &long_expiry(),
        later,
    )
    .unwrap();
    assert_eq!(before, dir_bytes(&f.out));
    // Same input, same time, same keys, another directory: same bytes.
    let other = f.out.with_file_name("repo2");
    publish(
        &sample_targets(),
        &other,
        &f.keys.setup(),
        &long_expiry(),
        t0(),
    )
    .unwrap();
    let strip = |root: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        dir_bytes(root)
            .into_iter()
            .map(|(p, b)| (p.strip_prefix(root).unwrap().to_path_buf(), b))
            .collect()
    };
    assert_eq!(strip(&f.out), strip(&other));
}

#[test]
fn publish_bumps_only_what_changed() {
    let expiry = Expiry {
        timestamp: TimeDelta::days(1),
        ..long_expiry()
    };
    let f = Fixture::with_expiry(&expiry);
    let mut targets = sample_targets();
    targets.insert("New-Dist/CPANSEC-2025-0002.patch".into(), b"new".to_vec());
    let r = publish(&targets, &f.out, &f.keys.setup(), &expiry, t0()).unwrap();
    assert_eq!(
        (
            r.root_version,
            r.targets_version,
            r.snapshot_version,
            r.timestamp_version
        ),
        (1, 2, 2, 2)
    );
    assert!(!r.written.iter().any(|w| w.contains("root")));
    // 11 hours later nothing changed: the timestamp still has more than half
    // of its day left.
    let r = publish(
        &targets,
        &f.out,
        &f.keys.setup(),
        &expiry,
        t("2000-01-01T11:00:00Z"),
    )
    .unwrap();
    assert!(r.written.is_empty());
    // 13 hours later only the timestamp is re-signed.
    let later = t("2000-01-01T13:00:00Z");
    let r = publish(&targets, &f.out, &f.keys.setup(), &expiry, later).unwrap();
    assert_eq!(r.written, ["metadata/timestamp.json"]);
    assert_eq!(r.timestamp_version, 3);
    let report = f.update_at(later).unwrap();
    assert_eq!(report.targets_version, 2);
    assert_eq!(
        report.expires[&super::metadata::Role::Timestamp],
        t("2000-01-02T13:00:00Z")
    );
    assert_eq!(
        report
            .fetch_target(&f.transport(), "New-Dist/CPANSEC-2025-0002.patch")
            .unwrap(),
        b"new"
    );
}

#[test]
fn update_follows_new_versions_incrementally() {
    let f = Fixture::new();
    f.update().unwrap();
    let mut targets = sample_targets();
    targets.remove("top-level.txt");
    publish(&targets, &f.out, &f.keys.setup(), &long_expiry(), t0()).unwrap();
    let report = f.update().unwrap();
    assert_eq!(report.targets_version, 2);
    assert!(report.targets().get("top-level.txt").is_none());
    let err = report
        .fetch_target(&f.transport(), "top-level.txt")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "targets/top-level.txt: not listed in targets metadata"
    );
}

#[test]
fn publish_refuses_unsafe_target_paths() {
    let keys = Keys::new();
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["../x", "/abs", "a//b", "a/./b", "", "packs/bins-00/0.tar"] {
        let mut targets = BTreeMap::new();
        targets.insert(bad.to_string(), b"x".to_vec());
        let err = publish(&targets, tmp.path(), &keys.setup(), &long_expiry(), t0()).unwrap_err();
        assert!(err.to_string().starts_with("target "), "{err}");
    }
    assert!(!tmp.path().join("metadata").exists());
}

// --- threshold signing by several maintainers -------------------------------

#[test]
fn threshold_signing_one_maintainer_at_a_time() {
    let keys = Keys::new();
    let second = SigningKey::generate();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    fn setup<'k>(
        keys: &'k Keys,
        second: &SigningKey,
        signers: Vec<&'k SigningKey>,
    ) -> RoleKeys<'k> {
        RoleKeys {
            targets: RoleSetup {
                keys: vec![
                    keys.targets.public_key().clone(),
                    second.public_key().clone(),
                ],
                threshold: 2,
                signers,
            },
            ..keys.setup()
        }
    }
    // Maintainer 1 publishes: targets lacks a signature, nothing is published.
    let r = publish(
        &sample_targets(),
        &out,
        &setup(&keys, &second, vec![&keys.targets]),
        &long_expiry(),
        t0(),
    )
    .unwrap();
    let pending = r.pending.clone().unwrap();
    assert_eq!(
        (pending.role, pending.valid, pending.threshold),
        ("targets", 1, 2)
    );
    assert!(!out.join("metadata").exists());
    // Maintainer 2 adds a signature to the staged file; twice is a no-op.
    assert!(sign_metadata_file(&pending.path, &second).unwrap());
    assert!(!sign_metadata_file(&pending.path, &second).unwrap());
    // The next publish (online keys only) picks it up and publishes.
    let r: PublishReport = publish(
        &sample_targets(),
        &out,
        &setup(&keys, &second, vec![]),
        &long_expiry(),
        t0(),
    )
    .unwrap();
    assert!(r.pending.is_none(), "{r:?}");
    assert_eq!(r.targets_version, 1);
    assert!(
        !pending.path.exists(),
        "staged file is removed once published"
    );
    let targets = read_env(&out.join("metadata/1.targets.json"));
    assert_eq!(targets.signatures.len(), 2);
    // And a client accepts it.
    let trusted = tmp.path().join("trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::copy(out.join("metadata/1.root.json"), trusted.join("root.json")).unwrap();
    let report = update(
        &trusted,
        &FilesystemTransport::new(&out),
        t("2000-01-02T00:00:00Z"),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(report.targets().len(), 3);
}

// --- target attacks ---------------------------------------------------------

#[test]
fn fetch_target_refuses_hash_mismatch() {
    let f = Fixture::new();
    let report = f.update().unwrap();
    let name = "YAML-LibYAML/CPANSEC-2025-0001.patch";
    let bytes = &sample_targets()[name];
    let served = f.out.join(format!(
        "targets/YAML-LibYAML/{}.CPANSEC-2025-0001.patch",
        sha256_hex(bytes)
    ));
    let mut evil = bytes.clone();
    evil[0] ^= 1; // same length, other content
    std::fs::write(&served, &evil).unwrap();
    let before = dir_bytes(&f.trusted);
    let err = report.fetch_target(&f.transport(), name).unwrap_err();
    assert_eq!(
        err.to_string(),
        "targets/YAML-LibYAML/CPANSEC-2025-0001.patch: sha256 does not match targets metadata"
    );
    assert_eq!(before, dir_bytes(&f.trusted), "nothing cached");
}

#[test]
fn fetch_target_refuses_length_mismatch_and_endless_data() {
    let f = Fixture::new();
    let report = f.update().unwrap();
    let name = "top-level.txt";
    let served = f
        .out
        .join(format!("targets/{}.top-level.txt", sha256_hex(b"hello")));
    // Longer than signed: refused after reading length + 1 bytes at most.
    std::fs::write(&served, vec![b'x'; 10_000_000]).unwrap();
    let err = report.fetch_target(&f.transport(), name).unwrap_err();
    assert!(
        matches!(err, VerifyError::TargetLength { expected: 5, .. }),
        "{err}"
    );
    // Shorter than signed.
    std::fs::write(&served, b"hell").unwrap();
    let err = report.fetch_target(&f.transport(), name).unwrap_err();
    assert_eq!(
        err.to_string(),
        "targets/top-level.txt: length 4 does not match the 5 bytes in targets metadata"
    );
}

#[test]
fn fetch_target_ignores_a_tampered_cache() {
    let f = Fixture::new();
    let report = f.update().unwrap();
    report
        .fetch_target(&f.transport(), "top-level.txt")
        .unwrap();
    let cached = f
        .trusted
        .join(format!("targets/{}.top-level.txt", sha256_hex(b"hello")));
    std::fs::write(&cached, b"HELLO").unwrap();
    assert_eq!(
        report
            .fetch_target(&f.transport(), "top-level.txt")
            .unwrap(),
        b"hello"
    );
}

// --- rollback ---------------------------------------------------------------

/// A fixture whose trusted dir has version 2 of everything, plus a copy of
/// the version-1 repository.
fn at_version_two() -> (Fixture, PathBuf) {
    let f = Fixture::new();
    let old = f.out.with_file_name("repo-v1");
    copy_dir(&f.out, &old);
    let mut targets = sample_targets();
    targets.insert("v2.txt".into(), b"2".to_vec());
    publish(&targets, &f.out, &f.keys.setup(), &long_expiry(), t0()).unwrap();
    assert_eq!(f.update().unwrap().timestamp_version, 2);
    (f, old)
}

#[test]
fn update_refuses_timestamp_rollback() {
    let (f, old) = at_version_two();
    // Serve the whole old repository.
    std::fs::remove_dir_all(&f.out).unwrap();
    copy_dir(&old, &f.out);
    let err = f.refused(t("2000-01-02T00:00:00Z"));
    assert_eq!(
        err,
        "timestamp: version 1 is older than trusted version 2 (rollback)"
    );
}

#[test]
fn update_refuses_snapshot_rollback() {
    let (f, _old) = at_version_two();
    // A new timestamp (v3) pointing back at snapshot v1.
    let snap1 = std::fs::read(f.meta("1.snapshot.json")).unwrap();
    resign(&f.meta("timestamp.json"), &[&f.keys.timestamp], |s| {
        s["version"] = json!(3);
        s["meta"]["snapshot.json"] = meta_entry(1, &snap1);
    });
    let err = f.refused(t("2000-01-02T00:00:00Z"));
    assert_eq!(
        err,
        "timestamp: snapshot.json: version 1 is older than trusted version 2 (rollback)"
    );
}

#[test]
fn update_refuses_targets_rollback() {
    let (f, _old) = at_version_two();
    // Snapshot v3 lists targets v1 (validly signed, hashes right).
    let targets1 = std::fs::read(f.meta("1.targets.json")).unwrap();
    std::fs::copy(f.meta("2.snapshot.json"), f.meta("3.snapshot.json")).unwrap();
    resign(&f.meta("3.snapshot.json"), &[&f.keys.snapshot], |s| {
        s["version"] = json!(3);
        s["meta"]["targets.json"] = meta_entry(1, &targets1);
    });
    let snap3 = std::fs::read(f.meta("3.snapshot.json")).unwrap();
    resign(&f.meta("timestamp.json"), &[&f.keys.timestamp], |s| {
        s["version"] = json!(3);
        s["meta"]["snapshot.json"] = meta_entry(3, &snap3);
    });
    let err = f.refused(t("2000-01-02T00:00:00Z"));
    assert_eq!(
        err,
        "snapshot: targets.json: version 1 is older than trusted version 2 (rollback)"
    );
}

#[test]
fn update_refuses_snapshot_dropping_a_role() {
    let (f, _old) = at_version_two();
    std::fs::copy(f.meta("2.snapshot.json"), f.meta("3.snapshot.json")).unwrap();
    resign(&f.meta("3.snapshot.json"), &[&f.keys.snapshot], |s| {
        s["version"] = json!(3);
        s["meta"]["other.json"] = json!({"version": 1});
    });
    // Trust v3 (listing other.json) first.
    let snap3 = std::fs::read(f.meta("3.snapshot.json")).unwrap();
    resign(&f.meta("timestamp.json"), &[&f.keys.timestamp], |s| {
        s["version"] = json!(3);
        s["meta"]["snapshot.json"] = meta_entry(3, &snap3);
    });
    f.update().unwrap();
    // Then v4 without it.
    std::fs::copy(f.meta("2.snapshot.json"), f.meta("4.snapshot.json")).unwrap();
    resign(&f.meta("4.snapshot.json"), &[&f.keys.snapshot], |s| {
        s["version"] = json!(4);
    });
    let snap4 = std::fs::read(f.meta("4.snapshot.json")).unwrap();
    resign(&f.meta("timestamp.json"), &[&f.keys.timestamp], |s| {
        s["version"] = json!(4);
        s["meta"]["snapshot.json"] = meta_entry(4, &snap4);
    });
    let err = f.refused(t("2000-01-02T00:00:00Z"));
    assert_eq!(
        err,
        "snapshot: other.json is missing although the trusted snapshot lists it"
    );
}

// --- expiry -----------------------------------------------------------------

fn expiry_with(role: &str) -> Expiry {
    let day = TimeDelta::days(1);
    let mut e = long_expiry();
    match role {
        "root" => e.root = day,
        "timestamp" => e.timestamp = day,
        "snapshot" => e.snapshot = day,
        "targets" => e.targets = day,
        _ => unreachable!(),
    }
    e
}

#[test]
fn update_refuses_expired_root() {
    let f = Fixture::with_expiry(&expiry_with("root"));
    assert_eq!(
        f.refused(t("2000-06-01T00:00:00Z")),
        "root: expired at 2000-01-02T00:00:00Z"
    );
}

#[test]
fn update_refuses_expired_timestamp() {
    let f = Fixture::with_expiry(&expiry_with("timestamp"));
    assert_eq!(
        f.refused(t("2000-06-01T00:00:00Z")),
        "timestamp: expired at 2000-01-02T00:00:00Z"
    );
}

#[test]
fn update_refuses_expired_snapshot() {
    let f = Fixture::with_expiry(&expiry_with("snapshot"));
    assert_eq!(
        f.refused(t("2000-06-01T00:00:00Z")),
        "snapshot: expired at 2000-01-02T00:00:00Z"
    );
}

#[test]
fn update_refuses_expired_targets() {
    let f = Fixture::with_expiry(&expiry_with("targets"));
    assert_eq!(
        f.refused(t("2000-06-01T00:00:00Z")),
        "targets: expired at 2000-01-02T00:00:00Z"
    );
}

#[test]
fn update_refuses_everything_in_2999() {
    let f = Fixture::new();
    assert!(f
        .refused(t("2999-01-01T00:00:00Z"))
        .starts_with("root: expired at 2099-"));
}

// --- signatures ---------------------------------------------------------------

/// Targets role with two keys and threshold 2, fully signed.
fn two_key_targets() -> (Fixture, SigningKey) {
    let f = Fixture::new();
    let second = SigningKey::generate();
    let setup = RoleKeys {
        targets: RoleSetup {
            keys: vec![
                f.keys.targets.public_key().clone(),
                second.public_key().clone(),
            ],
            threshold: 2,
            signers: vec![&f.keys.targets, &second],
        },
        ..f.keys.setup()
    };
    // Same root key, root changes (new targets keys): root v2, cross-signed
    // by the same key.
    let r = publish(&sample_targets(), &f.out, &setup, &long_expiry(), t0()).unwrap();
    assert_eq!((r.root_version, r.targets_version), (2, 2));
    (f, second)
}

#[test]
fn update_refuses_below_threshold_signatures() {
    let (f, _second) = two_key_targets();
    resign(&f.meta("2.targets.json"), &[&f.keys.targets], |_| {});
    f.relink();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "targets: 1 valid signature of threshold 2"
    );
}

#[test]
fn update_refuses_duplicate_key_signatures() {
    let (f, _second) = two_key_targets();
    resign(
        &f.meta("2.targets.json"),
        &[&f.keys.targets, &f.keys.targets],
        |_| {},
    );
    f.relink();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "targets: 1 valid signature of threshold 2"
    );
}

#[test]
fn update_refuses_signature_by_non_role_key() {
    let f = Fixture::new();
    // The snapshot key is in root, but not a targets key.
    resign(&f.meta("1.targets.json"), &[&f.keys.snapshot], |_| {});
    f.relink();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "targets: 0 valid signatures of threshold 1"
    );
    // A stranger's key claiming the targets key id.
    let stranger = SigningKey::generate();
    let path = f.meta("1.targets.json");
    let mut env = read_env(&path);
    let mut sig = sign(&stranger, &canonical_json(&env.signed).unwrap());
    sig.keyid = f.keys.targets.key_id().clone();
    env.signatures = vec![sig];
    std::fs::write(&path, env.to_bytes()).unwrap();
    f.relink();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "targets: 0 valid signatures of threshold 1"
    );
}

#[test]
fn update_refuses_tampered_signed_content() {
    let f = Fixture::new();
    let path = f.meta("1.targets.json");
    let mut env = read_env(&path);
    env.signed["targets"]["top-level.txt"]["length"] = json!(6);
    std::fs::write(&path, env.to_bytes()).unwrap();
    f.relink();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "targets: 0 valid signatures of threshold 1"
    );
}

// --- mix and match, sizes -----------------------------------------------------

#[test]
fn update_refuses_mix_and_match() {
    let f = Fixture::new();
    // A validly signed targets v1 of another publication (other content).
    let other = f.out.with_file_name("other");
    // Same length (so the length check passes), other content.
    let mut targets = sample_targets();
    targets.insert("top-level.txt".into(), b"HELLO".to_vec());
    publish(&targets, &other, &f.keys.setup(), &long_expiry(), t0()).unwrap();
    std::fs::copy(
        other.join("metadata/1.targets.json"),
        f.meta("1.targets.json"),
    )
    .unwrap();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "targets: sha256 does not match snapshot metadata"
    );
    // A longer one is cut off at the length snapshot signed.
    targets.insert("evil.txt".into(), b"evil".to_vec());
    publish(&targets, &other, &f.keys.setup(), &long_expiry(), t0()).unwrap();
    std::fs::copy(
        other.join("metadata/2.targets.json"),
        f.meta("1.targets.json"),
    )
    .unwrap();
    assert!(f
        .refused(t("2000-01-02T00:00:00Z"))
        .starts_with("targets: metadata/1.targets.json is larger than the "));
}

#[test]
fn update_refuses_targets_version_other_than_listed() {
    let f = Fixture::new();
    resign(&f.meta("1.targets.json"), &[&f.keys.targets], |s| {
        s["version"] = json!(7);
    });
    f.relink();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "targets: version 7 does not match version 1 listed in snapshot"
    );
}

#[test]
fn update_refuses_oversized_timestamp() {
    let f = Fixture::new();
    resign(&f.meta("timestamp.json"), &[&f.keys.timestamp], |s| {
        s["padding"] = json!("x".repeat(20_000));
    });
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "timestamp: metadata/timestamp.json is larger than the 16384-byte limit"
    );
}

#[test]
fn update_refuses_oversized_snapshot_against_signed_length() {
    let f = Fixture::new();
    // Append endless data after the JSON: the signed length bounds the read.
    let path = f.meta("1.snapshot.json");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::iter::repeat_n(b' ', 5_000_000));
    std::fs::write(&path, bytes).unwrap();
    let err = f.refused(t("2000-01-02T00:00:00Z"));
    assert!(
        err.starts_with("snapshot: metadata/1.snapshot.json is larger than the "),
        "{err}"
    );
}

#[test]
fn update_refuses_oversized_root() {
    let f = Fixture::new();
    std::fs::write(f.meta("2.root.json"), vec![b' '; 600 * 1024]).unwrap();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "root: metadata/2.root.json is larger than the 524288-byte limit"
    );
}

#[test]
fn update_refuses_delegations_cleanly() {
    let f = Fixture::new();
    resign(&f.meta("1.targets.json"), &[&f.keys.targets], |s| {
        s["delegations"] = json!({"keys": {}, "roles": [{"name": "x", "keyids": [], "threshold": 1, "terminating": true, "paths": ["*"]}]});
    });
    f.relink();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "targets: delegated targets roles other than succinct hash bins are not supported"
    );
}

#[test]
fn update_without_trusted_root_says_so() {
    let f = Fixture::new();
    std::fs::remove_file(f.trusted.join("root.json")).unwrap();
    let err = f.update().unwrap_err();
    assert!(matches!(err, VerifyError::NoTrustedRoot { .. }), "{err}");
}

// --- root rotation ------------------------------------------------------------

#[test]
fn root_rotation_cross_signed_is_accepted_and_recovers_from_fast_forward() {
    let f = Fixture::new();
    f.update().unwrap();
    // A compromised timestamp key pushed the cached timestamp to v1000.
    resign(
        &f.trusted.join("timestamp.json"),
        &[&f.keys.timestamp],
        |s| {
            s["version"] = json!(1000);
        },
    );
    // Rotate root and timestamp keys; old root cross-signs.
    let new_root = SigningKey::generate();
    let new_ts = SigningKey::generate();
    let setup = RoleKeys {
        root: RoleSetup {
            keys: vec![new_root.public_key().clone()],
            threshold: 1,
            signers: vec![&f.keys.root, &new_root],
        },
        timestamp: RoleSetup::single(&new_ts),
        ..f.keys.setup()
    };
    let r = publish(&sample_targets(), &f.out, &setup, &long_expiry(), t0()).unwrap();
    assert_eq!((r.root_version, r.timestamp_version), (2, 2));
    let root2 = read_env(&f.meta("2.root.json"));
    assert_eq!(root2.signatures.len(), 2);
    let report = f.update().unwrap();
    assert_eq!((report.root_version, report.root_rotations), (2, 1));
    assert_eq!(report.timestamp_version, 2);
    assert_eq!(
        std::fs::read(f.trusted.join("root.json")).unwrap(),
        std::fs::read(f.meta("2.root.json")).unwrap()
    );
    // A further rotation signed by the new key alone is fine (it is the
    // trusted root key now).
    let newer_root = SigningKey::generate();
    let setup3 = RoleKeys {
        root: RoleSetup {
            keys: vec![newer_root.public_key().clone()],
            threshold: 1,
            signers: vec![&new_root, &newer_root],
        },
        timestamp: RoleSetup::single(&new_ts),
        ..f.keys.setup()
    };
    publish(&sample_targets(), &f.out, &setup3, &long_expiry(), t0()).unwrap();
    assert_eq!(f.update().unwrap().root_version, 3);
}

#[test]
fn root_rotation_signed_only_by_new_keys_is_refused() {
    let f = Fixture::new();
    f.update().unwrap();
    let new_root = SigningKey::generate();
    let setup = RoleKeys {
        root: RoleSetup::single(&new_root),
        ..f.keys.setup()
    };
    // publish itself will not publish it: the old root's threshold is unmet.
    let r = publish(&sample_targets(), &f.out, &setup, &long_expiry(), t0()).unwrap();
    let pending = r.pending.unwrap();
    assert_eq!(
        (pending.role, pending.valid, pending.threshold),
        ("root", 0, 1)
    );
    // The report still names what clients see.
    assert_eq!((r.root_version, r.timestamp_version), (1, 1));
    assert!(!f.meta("2.root.json").exists());
    // An attacker who holds only the new key serves it anyway.
    std::fs::copy(&pending.path, f.meta("2.root.json")).unwrap();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "root: version 2 has 0 valid signatures of threshold 1 of the trusted root keys"
    );
}

#[test]
fn root_rotation_refuses_wrong_version_in_file() {
    let f = Fixture::new();
    std::fs::copy(f.meta("1.root.json"), f.meta("2.root.json")).unwrap();
    resign(&f.meta("2.root.json"), &[&f.keys.root], |s| {
        s["version"] = json!(3);
    });
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "root: 2.root.json holds version 3"
    );
}

#[test]
fn root_rotation_replaying_the_trusted_root_is_refused() {
    let f = Fixture::new();
    // The same root (version 1) served as 2.root.json.
    std::fs::copy(f.meta("1.root.json"), f.meta("2.root.json")).unwrap();
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        "root: 2.root.json holds version 1"
    );
}

#[test]
fn filesystem_transport_refuses_paths_leaving_the_base() {
    let f = Fixture::new();
    let err = f
        .transport()
        .fetch("../trusted/root.json", 1000)
        .unwrap_err();
    assert!(err.to_string().contains("leaves"), "{err}");
    let url = format!("file://{}", f.out.display());
    let t = FilesystemTransport::from_url(&url).unwrap();
    assert!(t.fetch("metadata/1.root.json", 1 << 20).is_ok());
    assert!(FilesystemTransport::from_url("http://example.org/").is_err());
}

// --- hash bins (TAP 15 succinct delegation) -------------------------------------

use super::metadata::SuccinctRoles;
use super::publish::{default_staged_dir, publish_with, sign_staged_file, HashBins};
use super::updater::LoadedBin;

/// Three bits: eight bins.
const BITS: u32 = 3;

fn many_targets(n: usize) -> BTreeMap<String, Vec<u8>> {
    let mut targets = sample_targets();
    for i in 0..n {
        targets.insert(
            format!("Dist-{}/CPANSEC-2025-{i:04}.toml", i % 7),
            format!("id = {i}\n").into_bytes(),
        );
    }
    targets
}

/// The pack of `bin` publish writes for `targets`.
fn pack_of_bin(targets: &BTreeMap<String, Vec<u8>>, bin: &str) -> Vec<u8> {
    super::pack::build(
        targets
            .iter()
            .filter(|(n, _)| roles().bin_for_target(n) == bin)
            .map(|(n, b)| (n.as_str(), b.as_slice())),
    )
}

fn roles() -> SuccinctRoles {
    SuccinctRoles {
        keyids: Vec::new(),
        threshold: 1,
        bit_length: BITS,
        name_prefix: "bins".into(),
        unrecognized: BTreeMap::new(),
    }
}

/// A repository of 23 targets in eight bins, and a trusted dir with its
/// root.
fn bin_fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    let trusted = tmp.path().join("trusted");
    let keys = Keys::new();
    publish_with(
        &many_targets(20),
        &out,
        &keys.setup(),
        &long_expiry(),
        t0(),
        HashBins::Bits(BITS),
    )
    .unwrap();
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::copy(out.join("metadata/1.root.json"), trusted.join("root.json")).unwrap();
    Fixture {
        _tmp: tmp,
        out,
        trusted,
        keys,
    }
}

/// Every bin of a verified update, fetched and verified.
fn load_bins(f: &Fixture, report: &Verified) -> Result<Vec<LoadedBin>, VerifyError> {
    let bins = report.bins().expect("targets delegates to bins").clone();
    bins.bin_names()
        .map(|b| {
            report.load_bin(
                &b,
                None,
                &f.transport(),
                t("2000-01-02T00:00:00Z"),
                &Limits::default(),
                BinScope::EveryTarget,
            )
        })
        .collect()
}

/// The version the served snapshot lists for `file`.
fn listed_version(f: &Fixture, file: &str) -> u64 {
    let ts = read_env(&f.meta("timestamp.json"));
    let v = ts.signed["meta"]["snapshot.json"]["version"]
        .as_u64()
        .unwrap();
    read_env(&f.meta(&format!("{v}.snapshot.json"))).signed["meta"][file]["version"]
        .as_u64()
        .unwrap()
}

#[test]
fn bins_list_every_target_in_its_own_bin_and_verify() {
    let f = bin_fixture();
    let report = f.update().unwrap();
    assert!(
        report.targets().is_empty(),
        "top-level targets lists nothing"
    );
    let bins = load_bins(&f, &report).unwrap();
    assert_eq!(bins.len(), 8);
    let mut seen = 0;
    for b in &bins {
        for (name, info) in &b.targets {
            assert_eq!(roles().bin_for_target(name), b.name);
            let bytes = super::updater::fetch_target_of(
                &f.transport(),
                name,
                info,
                true,
                &Limits::default(),
            )
            .unwrap();
            if super::pack::is_pack_name(name) {
                // The bin's pack: its other targets, built the one way.
                assert_eq!(*name, super::pack::pack_name(&roles(), &b.name));
                assert_eq!(bytes, pack_of_bin(&many_targets(20), &b.name));
                continue;
            }
            assert_eq!(bytes, many_targets(20)[name]);
            seen += 1;
        }
    }
    assert_eq!(seen, many_targets(20).len());
    // Bins are published as `V.bins-N.json`, like any targets role.
    assert!(f.meta("1.bins-0.json").is_file());
}

#[test]
fn one_new_target_rewrites_one_bin_snapshot_and_timestamp_only() {
    let f = bin_fixture();
    f.update().unwrap();
    let mut targets = many_targets(20);
    let new = "New-Dist/CPANSEC-2026-0001.toml";
    targets.insert(new.into(), b"new".to_vec());
    let r = publish_with(
        &targets,
        &f.out,
        &f.keys.setup(),
        &long_expiry(),
        t0(),
        HashBins::Auto,
    )
    .unwrap();
    let bin = roles().bin_for_target(new);
    let mut written = r.written.clone();
    written.sort();
    let pack = super::pack::pack_name(&roles(), &bin);
    let (_, n) = pack.rsplit_once('/').unwrap();
    assert_eq!(
        written,
        [
            format!("metadata/2.{bin}.json"),
            "metadata/2.snapshot.json".to_string(),
            "metadata/timestamp.json".to_string(),
            format!(
                "targets/New-Dist/{}.CPANSEC-2026-0001.toml",
                sha256_hex(b"new")
            ),
            // The bin's new pack, and no other.
            format!(
                "targets/packs/{bin}/{}.{n}",
                sha256_hex(&pack_of_bin(&targets, &bin))
            ),
        ]
    );
    assert_eq!(r.targets_version, 1, "top-level targets is unchanged");
    let report = f.update().unwrap();
    assert_eq!(report.updated, ["snapshot.json", "timestamp.json"]);
    assert!(load_bins(&f, &report)
        .unwrap()
        .iter()
        .any(|b| b.targets.contains_key(new)));
}

#[test]
fn publish_refuses_to_change_the_number_of_bins() {
    let f = bin_fixture();
    for bins in [HashBins::Bits(BITS + 1), HashBins::Never] {
        let err = publish_with(
            &many_targets(20),
            &f.out,
            &f.keys.setup(),
            &long_expiry(),
            t0(),
            bins,
        )
        .unwrap_err();
        assert!(err.to_string().contains("refuse a snapshot"), "{err}");
    }
}

#[test]
fn auto_delegates_from_sixty_four_targets_and_keeps_its_bins() {
    let keys = Keys::new();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    publish(&many_targets(10), &out, &keys.setup(), &long_expiry(), t0()).unwrap();
    assert!(!out.join("metadata/1.bins-00.json").exists());
    publish(&many_targets(70), &out, &keys.setup(), &long_expiry(), t0()).unwrap();
    assert!(out.join("metadata/1.bins-00.json").is_file());
    assert!(out.join("metadata/1.bins-ff.json").is_file());
    // Back under the threshold, the bins stay (clients would refuse less).
    let r = publish(&many_targets(10), &out, &keys.setup(), &long_expiry(), t0()).unwrap();
    assert!(
        r.written.iter().any(|w| w.contains(".bins-")),
        "{:?}",
        r.written
    );
    let targets = read_env(&out.join("metadata/2.targets.json"));
    assert_eq!(
        targets.signed["delegations"]["succinct_roles"]["bit_length"],
        8
    );
}

#[test]
fn update_refuses_bin_signed_by_wrong_key() {
    let f = bin_fixture();
    let bin = roles().bin_for_target("top-level.txt");
    resign(
        &f.meta(&format!("1.{bin}.json")),
        &[&f.keys.snapshot],
        |_| {},
    );
    let report = f.update().unwrap();
    let err = load_bins(&f, &report).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{bin}: delegated targets: 0 valid signatures of threshold 1")
    );
}

#[test]
fn update_refuses_bin_rollback() {
    let f = bin_fixture();
    f.update().unwrap();
    let new = "New-Dist/CPANSEC-2026-0001.toml";
    let bin = roles().bin_for_target(new);
    let mut targets = many_targets(20);
    targets.insert(new.into(), b"new".to_vec());
    publish_with(
        &targets,
        &f.out,
        &f.keys.setup(),
        &long_expiry(),
        t0(),
        HashBins::Auto,
    )
    .unwrap();
    f.update().unwrap();
    assert_eq!(listed_version(&f, &format!("{bin}.json")), 2);
    // A validly signed snapshot v3 that lists the bin at version 1 again.
    std::fs::copy(f.meta("2.snapshot.json"), f.meta("3.snapshot.json")).unwrap();
    resign(&f.meta("3.snapshot.json"), &[&f.keys.snapshot], |s| {
        s["version"] = json!(3);
        s["meta"][format!("{bin}.json")] = json!({"version": 1});
    });
    let snap3 = std::fs::read(f.meta("3.snapshot.json")).unwrap();
    resign(&f.meta("timestamp.json"), &[&f.keys.timestamp], |s| {
        s["version"] = json!(3);
        s["meta"]["snapshot.json"] = meta_entry(3, &snap3);
    });
    assert_eq!(
        f.refused(t("2000-01-02T00:00:00Z")),
        format!("snapshot: {bin}.json: version 1 is older than trusted version 2 (rollback)")
    );
}

#[test]
fn update_refuses_bin_version_other_than_listed() {
    let f = bin_fixture();
    let bin = roles().bin_for_target("top-level.txt");
    resign(&f.meta(&format!("1.{bin}.json")), &[&f.keys.targets], |s| {
        s["version"] = json!(2);
    });
    let report = f.update().unwrap();
    assert_eq!(
        load_bins(&f, &report).unwrap_err().to_string(),
        format!("{bin}: delegated targets: version 2 does not match version 1 listed in snapshot")
    );
}

#[test]
fn update_refuses_target_listed_in_the_wrong_bin() {
    let f = bin_fixture();
    let name = "top-level.txt";
    let right = roles().bin_for_target(name);
    let wrong = roles().bin_names().find(|b| *b != right).unwrap();
    let entry = read_env(&f.meta(&format!("1.{right}.json"))).signed["targets"][name].clone();
    // The bin that does not own the name claims it, validly signed: a
    // client that looked there would take the wrong bin's word for it.
    resign(
        &f.meta(&format!("1.{wrong}.json")),
        &[&f.keys.targets],
        |s| {
            s["targets"][name] = entry;
        },
    );
    let report = f.update().unwrap();
    assert_eq!(
        report
            .load_bin(
                &wrong,
                None,
                &f.transport(),
                t("2000-01-02T00:00:00Z"),
                &Limits::default(),
                BinScope::EveryTarget,
            )
            .unwrap_err()
            .to_string(),
        format!("{wrong}: lists target {name}, which belongs to {right}")
    );
}

#[test]
fn a_bin_read_for_a_lookup_skips_the_entry_scan_only_from_the_cache() {
    // The same validly signed bin that claims another bin's target: read
    // from the cache for a lookup it loads (a lookup only ever reads a
    // target through the bin its path hashes to, so the foreign entry is
    // never consulted), but downloaded, or read to use every target, it is
    // refused.
    let f = bin_fixture();
    let name = "top-level.txt";
    let right = roles().bin_for_target(name);
    let wrong = roles().bin_names().find(|b| *b != right).unwrap();
    let entry = read_env(&f.meta(&format!("1.{right}.json"))).signed["targets"][name].clone();
    let wrong_file = f.meta(&format!("1.{wrong}.json"));
    resign(&wrong_file, &[&f.keys.targets], |s| {
        s["targets"][name] = entry;
    });
    let cached = std::fs::read(&wrong_file).unwrap();
    let report = f.update().unwrap();
    let load = |cached: Option<&[u8]>, scope| {
        report.load_bin(
            &wrong,
            cached,
            &f.transport(),
            t("2000-01-02T00:00:00Z"),
            &Limits::default(),
            scope,
        )
    };
    let looked = load(Some(&cached), BinScope::Lookup).unwrap();
    assert!(!looked.is_new);
    assert!(looked.targets.contains_key(name));
    assert_eq!(
        report.role_for_target(name).as_deref(),
        Some(right.as_str())
    );
    let refusal = format!("{wrong}: lists target {name}, which belongs to {right}");
    assert_eq!(
        load(Some(&cached), BinScope::EveryTarget)
            .unwrap_err()
            .to_string(),
        refusal
    );
    assert_eq!(
        load(None, BinScope::Lookup).unwrap_err().to_string(),
        refusal
    );
}

#[test]
fn a_lookup_reads_a_compact_bin_as_sent_and_any_other_through_the_canonical_form() {
    let f = bin_fixture();
    let name = "top-level.txt";
    let bin = roles().bin_for_target(name);
    let file = f.meta(&format!("1.{bin}.json"));
    let report = f.update().unwrap();
    let now = t("2000-01-02T00:00:00Z");
    let nowhere = tempfile::tempdir().unwrap();
    let lookup = |bytes: &[u8], now| {
        report.lookup_bin(
            &bin,
            Some(bytes),
            &FilesystemTransport::new(nowhere.path()),
            now,
            &Limits::default(),
        )
    };
    let expected = report
        .load_bin(
            &bin,
            None,
            &f.transport(),
            now,
            &Limits::default(),
            BinScope::EveryTarget,
        )
        .unwrap()
        .targets[name]
        .clone();

    // What publish writes: `signed` in canonical form, read as sent.
    let compact = std::fs::read(&file).unwrap();
    let as_sent = lookup(&compact, now).unwrap();
    assert!(matches!(as_sent, LookupBin::AsSent(_)), "{as_sent:?}");
    assert_eq!(as_sent.target(name).unwrap(), Some(expected.clone()));
    assert_eq!(as_sent.target("not-listed.txt").unwrap(), None);

    // The same signed content, indented: the signatures cover its
    // canonical form, not these bytes, so it is read the canonical way.
    let indented = read_env(&file).to_bytes();
    assert_ne!(indented, compact);
    let parsed = lookup(&indented, now).unwrap();
    assert!(matches!(parsed, LookupBin::Parsed(_)), "{parsed:?}");
    assert_eq!(parsed.target(name).unwrap(), Some(expected.clone()));

    // A listed hash changed after signing: never read. With nowhere to
    // fetch a good copy from the lookup is refused; with the repository
    // it fetches the signed bin again and reads the genuine entry.
    let sha = expected.sha256().unwrap().to_string();
    let forged = String::from_utf8(compact.clone())
        .unwrap()
        .replace(&sha, &"0".repeat(64));
    assert_ne!(forged.as_bytes(), compact.as_slice());
    let refused = lookup(forged.as_bytes(), now).unwrap_err().to_string();
    assert!(refused.starts_with(&format!("{bin}: ")), "{refused}");
    let repaired = report
        .lookup_bin(
            &bin,
            Some(forged.as_bytes()),
            &f.transport(),
            now,
            &Limits::default(),
        )
        .unwrap();
    assert_eq!(repaired.target(name).unwrap(), Some(expected.clone()));

    // Expired: not read as sent either.
    let late = t("2100-01-01T00:00:00Z");
    let expired = lookup(&compact, late).unwrap_err().to_string();
    assert!(expired.contains("expired"), "{expired}");
}

#[test]
fn update_refuses_bin_missing_from_snapshot() {
    let f = bin_fixture();
    let bin = roles().bin_for_target("top-level.txt");
    resign(&f.meta("1.snapshot.json"), &[&f.keys.snapshot], |s| {
        s["meta"]
            .as_object_mut()
            .unwrap()
            .remove(&format!("{bin}.json"));
    });
    let snap = std::fs::read(f.meta("1.snapshot.json")).unwrap();
    resign(&f.meta("timestamp.json"), &[&f.keys.timestamp], |s| {
        s["meta"]["snapshot.json"] = meta_entry(1, &snap);
    });
    let report = f.update().unwrap();
    assert_eq!(
        load_bins(&f, &report).unwrap_err().to_string(),
        format!("{bin}: snapshot: no entry for {bin}.json")
    );
}

#[test]
fn update_refuses_nested_delegation_from_a_bin() {
    let f = bin_fixture();
    let bin = roles().bin_for_target("top-level.txt");
    resign(&f.meta(&format!("1.{bin}.json")), &[&f.keys.targets], |s| {
        s["delegations"] = json!({"keys": {}, "roles": []});
    });
    let report = f.update().unwrap();
    assert_eq!(
        load_bins(&f, &report).unwrap_err().to_string(),
        format!("{bin}: delegated targets: delegations from a hash bin are not supported")
    );
}

#[test]
fn targets_key_rotation_re_signs_every_bin() {
    let f = bin_fixture();
    f.update().unwrap();
    let new_targets = SigningKey::generate();
    let setup = RoleKeys {
        targets: RoleSetup::single(&new_targets),
        ..f.keys.setup()
    };
    let r = publish_with(
        &many_targets(20),
        &f.out,
        &setup,
        &long_expiry(),
        t0(),
        HashBins::Auto,
    )
    .unwrap();
    assert_eq!((r.root_version, r.targets_version), (2, 2));
    let report = f.update().unwrap();
    let bins = load_bins(&f, &report).unwrap();
    assert!(bins.iter().all(|b| b.version == 2));
    // A bin still signed by the old targets key no longer verifies.
    let bin = roles().bin_for_target("top-level.txt");
    resign(
        &f.meta(&format!("2.{bin}.json")),
        &[&f.keys.targets],
        |_| {},
    );
    assert!(load_bins(&f, &report)
        .unwrap_err()
        .to_string()
        .ends_with("0 valid signatures of threshold 1"));
}

#[test]
fn threshold_signing_stages_every_changed_bin_until_signed() {
    let keys = Keys::new();
    let second = SigningKey::generate();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    fn two<'k>(keys: &'k Keys, second: &SigningKey) -> RoleKeys<'k> {
        RoleKeys {
            targets: RoleSetup {
                keys: vec![
                    keys.targets.public_key().clone(),
                    second.public_key().clone(),
                ],
                threshold: 2,
                signers: vec![&keys.targets],
            },
            ..keys.setup()
        }
    }
    let run = || {
        publish_with(
            &many_targets(20),
            &out,
            &two(&keys, &second),
            &long_expiry(),
            t0(),
            HashBins::Bits(BITS),
        )
        .unwrap()
    };
    // The top-level targets role first, then every bin: staged, nothing
    // published, until the second maintainer signed each staged file.
    let mut rounds = 0;
    loop {
        let r = run();
        let Some(pending) = r.pending else { break };
        assert_eq!(
            (pending.role, pending.valid, pending.threshold),
            ("targets", 1, 2)
        );
        assert!(!out.join("metadata/timestamp.json").exists());
        // Staged outside the site, with the root that lists the keys beside
        // the staged files (every bin too).
        for e in std::fs::read_dir(default_staged_dir(&out)).unwrap() {
            let path = e.unwrap().path();
            if !path.to_string_lossy().ends_with(".root.json") {
                sign_staged_file(&path, &second).unwrap();
            }
        }
        rounds += 1;
        assert!(rounds <= 2, "targets, then the bins, are staged once each");
    }
    assert_eq!(rounds, 2);
    assert!(!out.join("staged").exists());
    assert_eq!(
        std::fs::read_dir(default_staged_dir(&out)).unwrap().count(),
        0
    );
    let trusted = tmp.path().join("trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::copy(out.join("metadata/1.root.json"), trusted.join("root.json")).unwrap();
    let transport = FilesystemTransport::new(&out);
    let report = update(
        &trusted,
        &transport,
        t("2000-01-02T00:00:00Z"),
        &Limits::default(),
    )
    .unwrap();
    for bin in report.bins().unwrap().clone().bin_names() {
        let b = report
            .load_bin(
                &bin,
                None,
                &transport,
                t("2000-01-02T00:00:00Z"),
                &Limits::default(),
                BinScope::EveryTarget,
            )
            .unwrap();
        assert_eq!(b.version, 1);
    }
}
