//! Interop with python-tuf (the reference implementation), both ways:
//!
//! - (a) python-tuf's ngclient `Updater` refreshes from a repository our
//!   [`publish`] wrote, served over HTTP by a tiny_http server in this test,
//!   and downloads every target (`tests/tuf/ngclient_refresh.py`);
//! - (b) python-tuf's Metadata API writes and signs a repository with its
//!   own keys, including a cross-signed root rotation and a 2-of-2 targets
//!   role (`tests/tuf/make_repo.py`), and our [`update`] verifies it and
//!   fetches every target;
//! - both again with succinct hash bins (TAP 15): ngclient follows the 256
//!   bins publish writes for 100 records, and for 10,000 (every target
//!   looked up in its bin, one in 40 downloaded), first cold then after
//!   one more record, and our client follows bins python-tuf's
//!   `SuccinctRoles` wrote (`make_repo.py --bins`).
//!
//! python-tuf is required: when `import tuf` fails these tests fail, saying
//! to `pip install tuf`; they never skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::Utc;

use super::publish::{publish, Expiry, RoleKeys, RoleSetup};
use super::sha256_hex;
use super::tests::update;
use super::tests::{sample_targets, Keys};
use super::transport::FilesystemTransport;
use super::updater::{BinScope, Limits};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/tuf")
        .join(name)
}

fn require_python_tuf() {
    let out = Command::new("python3")
        .args([
            "-c",
            "import tuf.ngclient, tuf.api.metadata, securesystemslib.signer",
        ])
        .output()
        .expect("python3 must be installed for the python-tuf interop tests");
    assert!(
        out.status.success(),
        "python-tuf is not importable: run `pip install tuf` (CI installs it)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Serves `root` read-only over HTTP on 127.0.0.1; returns the base URL
/// and the server (call `unblock()` to stop it).
fn serve(root: PathBuf) -> (String, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let worker = Arc::clone(&server);
    std::thread::spawn(move || {
        for request in worker.incoming_requests() {
            let path = percent_decode(request.url().trim_start_matches('/'));
            let safe = super::check_target_path(&path).is_ok();
            let response = match std::fs::read(root.join(&path)) {
                Ok(bytes) if safe => tiny_http::Response::from_data(bytes),
                _ => tiny_http::Response::from_data(Vec::new()).with_status_code(404),
            };
            let _ = request.respond(response);
        }
    });
    (format!("http://127.0.0.1:{port}"), server)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn python_ngclient_verifies_what_publish_wrote() {
    require_python_tuf();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    let keys = Keys::new();
    // ngclient checks expiry against the real clock, so publish "now".
    let now = Utc::now();
    let mut targets = sample_targets();
    // Non-ASCII and quotes inside signed strings exercise canonical JSON.
    targets.insert("Caf\u{e9}-Dist/\"quoted\".patch".into(), b"x".to_vec());
    publish(&targets, &out, &keys.setup(), &Expiry::default(), now).unwrap();
    // A second version with a cross-signed root rotation, so that ngclient
    // also follows 2.root.json and an update of every role.
    targets.insert("More/CPANSEC-2025-0003.patch".into(), b"more".to_vec());
    let new_root = patchkit_signing::SigningKey::generate();
    let rotated = RoleKeys {
        root: RoleSetup {
            keys: vec![new_root.public_key().clone()],
            threshold: 1,
            signers: vec![&keys.root, &new_root],
        },
        ..keys.setup()
    };
    let r = publish(&targets, &out, &rotated, &Expiry::default(), now).unwrap();
    assert_eq!((r.root_version, r.targets_version), (2, 2));

    let (base, server) = serve(out.clone());
    let report = ngclient(
        &out.join("metadata/1.root.json"),
        &base,
        &tmp.path().join("ngclient"),
        &targets,
    );
    server.unblock();
    assert_eq!(report["root_version"], 2);
    assert_eq!(report["timestamp_version"], 2);
    assert_eq!(
        report["downloaded"].as_object().unwrap().len(),
        targets.len()
    );
}

/// Runs `ngclient_refresh.py` against `base` with `root`, expecting every
/// target of `targets`; returns its report.
fn ngclient(
    root: &Path,
    base: &str,
    work: &Path,
    targets: &BTreeMap<String, Vec<u8>>,
) -> serde_json::Value {
    ngclient_every(root, base, work, targets, 1)
}

/// [`ngclient`] looking every target up but downloading only every
/// `every`-th (in name order); the list goes through a file.
fn ngclient_every(
    root: &Path,
    base: &str,
    work: &Path,
    targets: &BTreeMap<String, Vec<u8>>,
    every: usize,
) -> serde_json::Value {
    let list: String = targets
        .iter()
        .map(|(name, bytes)| format!("{name}={}\n", sha256_hex(bytes)))
        .collect();
    let list_file = work.with_extension("list");
    std::fs::create_dir_all(work).unwrap();
    std::fs::write(&list_file, list).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(script("ngclient_refresh.py"))
        .arg(root)
        .arg(base)
        .arg(work)
        .arg(format!("@{}", list_file.display()))
        .arg(every.to_string());
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "ngclient refused our repository:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `count` generated records (a record and its patch each), spread over
/// `dists` dists, numbered with `width` digits.
fn add_records(targets: &mut BTreeMap<String, Vec<u8>>, count: usize, dists: usize, width: usize) {
    for i in 0..count {
        let dist = format!("Dist-{}", i % dists);
        let id = format!("CPANSEC-2026-{i:0width$}");
        targets.insert(
            format!("{dist}/{id}.toml"),
            format!("id = \"{id}\"\n").into_bytes(),
        );
        targets.insert(
            format!("{dist}/{id}.patch"),
            format!("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-{i}\n+{i}!\n").into_bytes(),
        );
    }
}

#[test]
fn python_ngclient_follows_the_hash_bins_publish_wrote() {
    require_python_tuf();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    let keys = Keys::new();
    let now = Utc::now();
    // 100 records (200 targets): past the threshold, so publish delegates
    // to 256 succinct hash bins, as for the largest repositories.
    let mut targets = sample_targets();
    add_records(&mut targets, 100, 40, 4);
    publish(&targets, &out, &keys.setup(), &Expiry::default(), now).unwrap();
    assert!(out.join("metadata/1.bins-ff.json").is_file());
    let (base, server) = serve(out.clone());
    let work = tmp.path().join("ngclient");
    // Every target publish wrote: the records and each bin's pack.
    let all = with_packs(&targets);
    assert!(all.len() > targets.len());
    let report = ngclient(&out.join("metadata/1.root.json"), &base, &work, &all);
    assert_eq!(report["downloaded"].as_object().unwrap().len(), all.len());
    // One more record: ngclient refreshes incrementally from its cache
    // (the new snapshot and the two bins that changed) and finds it.
    targets.insert("New-Dist/CPANSEC-2026-9999.toml".into(), b"new".to_vec());
    targets.insert(
        "New-Dist/CPANSEC-2026-9999.patch".into(),
        b"new patch".to_vec(),
    );
    let r = publish(&targets, &out, &keys.setup(), &Expiry::default(), now).unwrap();
    assert_eq!(r.targets_version, 1, "top-level targets unchanged");
    let all = with_packs(&targets);
    let report = ngclient(&out.join("metadata/1.root.json"), &base, &work, &all);
    server.unblock();
    assert_eq!(report["timestamp_version"], 2);
    assert_eq!(report["downloaded"].as_object().unwrap().len(), all.len());
}

/// `targets` and the pack publish writes for each of the 256 bins that
/// has targets (`tuf::pack`), by name.
fn with_packs(targets: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    let roles = super::metadata::SuccinctRoles {
        keyids: Vec::new(),
        threshold: 1,
        bit_length: 8,
        name_prefix: "bins".into(),
        unrecognized: BTreeMap::new(),
    };
    let mut all = targets.clone();
    for bin in roles.bin_names() {
        let members: Vec<(&str, &[u8])> = targets
            .iter()
            .filter(|(n, _)| roles.bin_for_target(n) == bin)
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        if !members.is_empty() {
            all.insert(
                super::pack::pack_name(&roles, &bin),
                super::pack::build(members),
            );
        }
    }
    all
}

/// The same at the scale of CPAN (issue 13): 10,000 records (20,000
/// targets) in 256 bins, over 50 dists (few folders for publish to sync,
/// so the test costs seconds, not the disk). ngclient fetches and verifies
/// every bin and looks every target up in it (hash and length from the
/// signed bin); it downloads one target in 40, to keep the test's cost
/// to a few seconds. Then one more record, incrementally.
#[test]
fn python_ngclient_follows_the_hash_bins_at_10000_records() {
    require_python_tuf();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    let keys = Keys::new();
    let now = Utc::now();
    let mut targets = sample_targets();
    add_records(&mut targets, 10_000, 50, 5);
    publish(&targets, &out, &keys.setup(), &Expiry::default(), now).unwrap();
    let (base, server) = serve(out.clone());
    let work = tmp.path().join("ngclient");
    let root = out.join("metadata/1.root.json");
    let report = ngclient_every(&root, &base, &work, &targets, 40);
    assert_eq!(report["looked_up"], targets.len());
    assert_eq!(
        report["downloaded"].as_object().unwrap().len(),
        targets.len().div_ceil(40)
    );
    targets.insert("New-Dist/CPANSEC-2026-99999.toml".into(), b"new".to_vec());
    targets.insert(
        "New-Dist/CPANSEC-2026-99999.patch".into(),
        b"new patch".to_vec(),
    );
    let r = publish(&targets, &out, &keys.setup(), &Expiry::default(), now).unwrap();
    assert_eq!(r.targets_version, 1, "top-level targets unchanged");
    let report = ngclient_every(&root, &base, &work, &targets, 40);
    server.unblock();
    assert_eq!(report["timestamp_version"], 2);
    assert_eq!(report["looked_up"], targets.len());
    // The new record's files are looked up, so found in their bin.
    assert!(report["downloaded"].as_object().unwrap().len() > 1);
}

#[test]
fn our_client_verifies_hash_bins_python_tuf_wrote() {
    require_python_tuf();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    let output = Command::new("python3")
        .arg(script("make_repo.py"))
        .arg(&out)
        .arg("--bins")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "make_repo.py --bins failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let digests: BTreeMap<String, String> = serde_json::from_slice(&output.stdout).unwrap();
    let trusted = tmp.path().join("trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::copy(out.join("metadata/1.root.json"), trusted.join("root.json")).unwrap();
    let transport = FilesystemTransport::new(&out);
    let report = update(&trusted, &transport, Utc::now(), &Limits::default()).unwrap();
    let bins = report.bins().unwrap().clone();
    let mut found = BTreeMap::new();
    for bin in bins.bin_names() {
        let loaded = report
            .load_bin(
                &bin,
                None,
                &transport,
                Utc::now(),
                &Limits::default(),
                BinScope::EveryTarget,
            )
            .unwrap();
        for (name, info) in &loaded.targets {
            let bytes =
                super::updater::fetch_target_of(&transport, name, info, true, &Limits::default())
                    .unwrap();
            found.insert(name.clone(), sha256_hex(&bytes));
        }
    }
    assert_eq!(found, digests);
}

#[test]
fn our_client_verifies_what_python_tuf_wrote() {
    require_python_tuf();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repo");
    let output = Command::new("python3")
        .arg(script("make_repo.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "make_repo.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let digests: BTreeMap<String, String> = serde_json::from_slice(&output.stdout).unwrap();
    let trusted = tmp.path().join("trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::copy(out.join("metadata/1.root.json"), trusted.join("root.json")).unwrap();

    let transport = FilesystemTransport::new(&out);
    let report = update(&trusted, &transport, Utc::now(), &Limits::default()).unwrap();
    assert_eq!((report.root_version, report.root_rotations), (2, 1));
    assert_eq!(report.targets().len(), digests.len());
    assert_eq!(
        report.targets()["README.txt"].custom,
        Some(serde_json::json!({"x": [1, "\u{e9}"]}))
    );
    for (name, digest) in &digests {
        let bytes = report.fetch_target(&transport, name).unwrap();
        assert_eq!(&sha256_hex(&bytes), digest, "{name}");
    }
    // The cache holds python-tuf's bytes verbatim and verifies again.
    let again = update(&trusted, &transport, Utc::now(), &Limits::default()).unwrap();
    assert!(again.updated.is_empty());
}
