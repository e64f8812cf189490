//! The attack suite: each test serves a tampered repository on 127.0.0.1,
//! runs the real `update` (or `apply`), and asserts exit status 3, a
//! message naming the role and the check, and a home whose trusted state
//! is byte-for-byte what it was before.

use crate::support::server::*;
use crate::support::*;
use serde_json::json;

/// A repository published once, served, added and updated successfully.
fn setup<'e>(env: &'e TestEnv, extra: &[&str]) -> (PubRepo<'e>, Server) {
    let repo = PubRepo::new(env, extra);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    (repo, server)
}

/// Runs `update`, expecting a refusal (exit 3) that mentions every word of
/// `words`, with the home unchanged.
fn refused(env: &TestEnv, words: &[&str]) -> String {
    let before = snapshot_dir(&env.home());
    let out = env.run_code(&["update", "main"], 3);
    for w in words {
        assert!(
            out.stderr.contains(w),
            "stderr lacks {w:?}:\n{}",
            out.stderr
        );
    }
    assert_eq!(snapshot_dir(&env.home()), before, "trusted state changed");
    out.stderr
}

#[test]
fn update_refuses_target_with_wrong_hash() {
    let env = TestEnv::new();
    let (repo, _server) = setup(&env, &[]);
    // Same length, other bytes: only the hash can tell.
    let dir = repo.out().join("targets/Foo");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".PK-1.patch") {
            let mut b = std::fs::read(&p).unwrap();
            let last = b.len() - 2;
            b[last] ^= 1;
            std::fs::write(&p, b).unwrap();
        }
    }
    refused(&env, &["targets/Foo/PK-1.patch", "sha256 does not match"]);
}

#[test]
fn update_refuses_target_with_wrong_length() {
    let env = TestEnv::new();
    let (repo, _server) = setup(&env, &[]);
    let dir = repo.out().join("targets/Foo");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".PK-1.toml") {
            let mut b = std::fs::read(&p).unwrap();
            b.extend_from_slice(b"# more\n");
            std::fs::write(&p, b).unwrap();
        }
    }
    refused(&env, &["targets/Foo/PK-1.toml", "length"]);
}

/// Baseline at version 2 of every role, plus a copy of version 1.
fn at_version_two(env: &TestEnv) -> (PubRepo<'_>, Server, std::path::PathBuf) {
    let (repo, server) = setup(env, &[]);
    let v1 = repo.copy_to("pub-v1");
    repo.add_record("PK-2");
    repo.publish(&[]);
    env.run_ok(&["update", "main"]);
    (repo, server, v1)
}

#[test]
fn update_refuses_rollback_of_timestamp() {
    let env = TestEnv::new();
    let (_repo, server, v1) = at_version_two(&env);
    server.switch(&v1);
    refused(&env, &["timestamp", "rollback"]);
}

#[test]
fn update_refuses_replay_of_an_old_validly_signed_set() {
    // A mirror that serves yesterday's repository: every file is
    // genuine, but older than what this home trusts.
    let env = TestEnv::new();
    let (_repo, server, v1) = at_version_two(&env);
    server.switch(&v1);
    let err = refused(&env, &["version 1 is older than trusted version 2"]);
    assert!(err.contains("timestamp"), "{err}");
}

#[test]
fn update_refuses_rollback_of_snapshot() {
    let env = TestEnv::new();
    let (repo, _server, _v1) = at_version_two(&env);
    // A new, validly signed timestamp that points at snapshot version 1.
    let snap1 = std::fs::read(repo.meta("1.snapshot.json")).unwrap();
    repo.write_timestamp(1, &snap1, 3, &[&repo.key("timestamp")]);
    refused(&env, &["timestamp: snapshot.json", "rollback"]);
}

#[test]
fn update_refuses_rollback_of_targets() {
    let env = TestEnv::new();
    let (repo, _server, _v1) = at_version_two(&env);
    // A new, validly signed snapshot that lists targets version 1.
    repo.rechain("1.targets.json", 1, 3, 3);
    refused(&env, &["snapshot: targets.json", "rollback"]);
}

#[test]
fn update_refuses_expired_timestamp() {
    let env = TestEnv::new();
    let (_repo, _server) = setup(&env, &["--expires-timestamp", "0"]);
    refused(&env, &["timestamp: expired"]);
}

#[test]
fn update_refuses_expired_snapshot() {
    let env = TestEnv::new();
    let (_repo, _server) = setup(&env, &["--expires-snapshot", "0"]);
    refused(&env, &["snapshot: expired"]);
}

#[test]
fn update_refuses_expired_targets() {
    let env = TestEnv::new();
    let (_repo, _server) = setup(&env, &["--expires-targets", "0"]);
    refused(&env, &["targets: expired"]);
}

#[test]
fn update_refuses_expired_root() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &["--expires-root", "0"]);
    let server = Server::serve(&repo.out());
    // The pinned root is self-signed, so it can be added; using it fails.
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    refused(&env, &["root: expired"]);
}

#[test]
fn update_refuses_frozen_mirror() {
    // A mirror that stops updating: its files stay genuine, but the
    // timestamp runs out and nothing newer comes.
    let env = TestEnv::new();
    let (_repo, _server) = setup(&env, &["--expires-timestamp", "2s"]);
    env.run_ok(&["update", "main"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    refused(&env, &["timestamp: expired"]);
}

#[test]
fn update_refuses_signatures_under_threshold() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    // Rotate to a timestamp role that needs two keys, both held here.
    env.run_ok(&["key", "generate", "keys/timestamp-2"]);
    std::fs::write(
        env.path("keys/keys.toml"),
        "[root]\nkeys = [\"root.pem\"]\n[targets]\nkeys = [\"targets.pem\"]\n\
         [snapshot]\nkeys = [\"snapshot.pem\"]\n\
         [timestamp]\nkeys = [\"timestamp.pem\", \"timestamp-2.pem\"]\nthreshold = 2\n",
    )
    .unwrap();
    repo.publish(&[]);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    // A timestamp signed by one of the two keys only.
    let mut ts = read_json(&repo.meta("timestamp.json"));
    let sigs = ts["signatures"].as_array().unwrap().clone();
    assert_eq!(sigs.len(), 2);
    ts["signatures"] = serde_json::Value::Array(vec![sigs[0].clone()]);
    std::fs::write(
        repo.meta("timestamp.json"),
        serde_json::to_vec(&ts).unwrap(),
    )
    .unwrap();
    refused(&env, &["timestamp", "1 valid signature of threshold 2"]);
}

#[test]
fn update_refuses_signature_by_a_key_that_is_not_the_roles() {
    let env = TestEnv::new();
    let (repo, _server) = setup(&env, &[]);
    // A timestamp signed by the snapshot key.
    let snap = std::fs::read(repo.meta("1.snapshot.json")).unwrap();
    repo.write_timestamp(1, &snap, 2, &[&repo.key("snapshot")]);
    refused(&env, &["timestamp", "0 valid signatures of threshold 1"]);
}

#[test]
fn update_refuses_mix_and_match() {
    // A snapshot that does not match the targets served: version 2's
    // snapshot, but the targets file of version 1 under version 2's name.
    let env = TestEnv::new();
    let (repo, _server) = setup(&env, &[]);
    let v1_targets = std::fs::read(repo.meta("1.targets.json")).unwrap();
    repo.add_record("PK-2");
    repo.publish(&[]);
    std::fs::write(repo.meta("2.targets.json"), v1_targets).unwrap();
    refused(&env, &["targets", "listed in snapshot"]);
}

#[test]
fn update_refuses_endless_metadata() {
    let env = TestEnv::new();
    let (_repo, server) = setup(&env, &[]);
    server.endless("metadata/timestamp.json");
    refused(&env, &["timestamp", "larger than the 16384-byte limit"]);
}

#[test]
fn update_refuses_endless_target() {
    let env = TestEnv::new();
    let (repo, server) = setup(&env, &[]);
    for e in std::fs::read_dir(repo.out().join("targets/Foo")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        server.endless(&format!("targets/Foo/{name}"));
    }
    refused(&env, &["targets/Foo/", "length"]);
}

/// KEYS.toml with a new root key; `previous` lists the old one when the
/// rotation is to be cross-signed.
fn rotate_root(env: &TestEnv, cross_signed: bool) {
    env.run_ok(&["key", "generate", "keys/root-2"]);
    let previous = if cross_signed {
        "previous = [\"root.pem\"]\n"
    } else {
        ""
    };
    std::fs::write(
        env.path("keys/keys.toml"),
        format!(
            "[root]\nkeys = [\"root-2.pem\"]\n{previous}[targets]\nkeys = [\"targets.pem\"]\n\
             [snapshot]\nkeys = [\"snapshot.pem\"]\n[timestamp]\nkeys = [\"timestamp.pem\"]\n"
        ),
    )
    .unwrap();
}

#[test]
fn update_accepts_cross_signed_root_rotation() {
    let env = TestEnv::new();
    let (repo, _server) = setup(&env, &[]);
    env.run_ok(&["update", "main"]);
    rotate_root(&env, true);
    repo.publish(&[]);
    assert!(repo.meta("2.root.json").exists());
    let out = env.run_ok(&["update", "-v", "main"]);
    assert!(out.stdout.contains("root 1→2"), "{}", out.stdout);
    assert!(
        out.stdout.contains("root keys rotated (root version 2)"),
        "{}",
        out.stdout
    );
    let list = env.run_ok(&["repo", "list", "--json"]).json();
    assert_eq!(list["repositories"][0]["root_version"], 2);
}

#[test]
fn update_refuses_root_rotation_not_signed_by_the_old_root() {
    let env = TestEnv::new();
    let (repo, _server) = setup(&env, &[]);
    env.run_ok(&["update", "main"]);
    // Without the old key, publish stages the new root instead.
    rotate_root(&env, false);
    let out = env.run_code(
        &[
            "publish",
            "--source",
            "patches",
            "--out",
            "pub",
            "--keys",
            "keys/keys.toml",
        ],
        1,
    );
    assert!(
        out.stdout.contains("nothing was published"),
        "{}",
        out.stdout
    );
    // An attacker holding only the new key publishes it anyway.
    let staged = env.path("pub.staged/2.root.json");
    std::fs::copy(&staged, repo.meta("2.root.json")).unwrap();
    refused(&env, &["root: version 2", "the trusted root keys"]);
}

#[test]
fn apply_refuses_tampered_repository_and_writes_nothing() {
    let env = TestEnv::new();
    let (repo, server, v1) = at_version_two(&env);
    server.switch(&v1);
    let tb = repo.dist();
    let before = snapshot_dir(env.dir());
    let out = env.run_code(&["apply", "-o", "out", tb.to_str().unwrap()], 3);
    assert!(out.stderr.contains("rollback"), "{}", out.stderr);
    assert_eq!(snapshot_dir(env.dir()), before);
}

// --- hash bins --------------------------------------------------------------

/// A delegating repository (hash bins), served and added.
fn binned(env: &TestEnv) -> (PubRepo<'_>, Server) {
    let repo = crate::bins::big_repo(env, 40);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    (repo, server)
}

/// The served bin files, with their paths.
fn bin_files(repo: &PubRepo<'_>) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(repo.out().join("metadata"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".bins-"))
        .collect();
    out.sort();
    out
}

/// The first bin that lists a target, its path and that target's name.
fn a_full_bin(repo: &PubRepo<'_>) -> (std::path::PathBuf, String) {
    for p in bin_files(repo) {
        let bin = read_json(&p);
        if let Some((name, _)) = bin["signed"]["targets"].as_object().unwrap().iter().next() {
            return (p, name.clone());
        }
    }
    panic!("no bin lists a target");
}

#[test]
fn update_refuses_hash_bin_signed_by_wrong_key() {
    let env = TestEnv::new();
    let (repo, _server) = binned(&env);
    let (path, _) = a_full_bin(&repo);
    let mut bin = read_json(&path);
    // The snapshot key is in root, but the delegation names the targets key.
    std::fs::write(&path, signed_bytes(&mut bin, &[&repo.key("snapshot")])).unwrap();
    refused(&env, &["bins-", "0 valid signatures of threshold 1"]);
}

#[test]
fn update_refuses_target_listed_in_the_wrong_hash_bin() {
    let env = TestEnv::new();
    let (repo, _server) = binned(&env);
    let (owner, name) = a_full_bin(&repo);
    let entry = read_json(&owner)["signed"]["targets"][&name].clone();
    let other = bin_files(&repo).into_iter().find(|p| *p != owner).unwrap();
    let mut bin = read_json(&other);
    bin["signed"]["targets"][&name] = entry;
    std::fs::write(&other, signed_bytes(&mut bin, &[&repo.key("targets")])).unwrap();
    refused(&env, &["lists target", "which belongs to"]);
}

#[test]
fn update_refuses_rollback_of_a_hash_bin() {
    let env = TestEnv::new();
    let (repo, _server) = binned(&env);
    env.run_ok(&["update", "main"]);
    repo.add_record("PK-2");
    repo.publish(&[]);
    env.run_ok(&["update", "main"]);
    // A new, validly signed snapshot listing a changed bin at its old
    // version.
    let snap_v = repo.version("snapshot");
    let mut snap = read_json(&repo.meta(&format!("{snap_v}.snapshot.json")));
    let bin = snap["signed"]["meta"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, v)| k.starts_with("bins-") && v["version"].as_u64().unwrap() >= 2)
        .map(|(k, _)| k.clone())
        .unwrap();
    let old = snap["signed"]["meta"][&bin]["version"].as_u64().unwrap() - 1;
    snap["signed"]["version"] = json!(snap_v + 1);
    snap["signed"]["meta"][&bin] = json!({ "version": old });
    let bytes = signed_bytes(&mut snap, &[&repo.key("snapshot")]);
    std::fs::write(repo.meta(&format!("{}.snapshot.json", snap_v + 1)), &bytes).unwrap();
    let ts_v = repo.version("timestamp");
    repo.write_timestamp(snap_v + 1, &bytes, ts_v + 1, &[&repo.key("timestamp")]);
    refused(&env, &[&format!("snapshot: {bin}"), "rollback"]);
}

#[test]
fn update_refuses_hash_bin_missing_from_snapshot() {
    let env = TestEnv::new();
    let (repo, _server) = binned(&env);
    let snap_v = repo.version("snapshot");
    let path = repo.meta(&format!("{snap_v}.snapshot.json"));
    let mut snap = read_json(&path);
    snap["signed"]["meta"]
        .as_object_mut()
        .unwrap()
        .remove("bins-00.json");
    let bytes = signed_bytes(&mut snap, &[&repo.key("snapshot")]);
    std::fs::write(&path, &bytes).unwrap();
    let ts_v = repo.version("timestamp");
    repo.write_timestamp(snap_v, &bytes, ts_v + 1, &[&repo.key("timestamp")]);
    refused(&env, &["bins-00", "no entry for bins-00.json"]);
}

/// Writes `HOME/config.toml`.
fn configure(env: &TestEnv, text: &str) {
    std::fs::write(env.home().join("config.toml"), text).unwrap();
}

#[test]
fn update_gives_up_on_a_server_that_stalls() {
    let env = TestEnv::new();
    let (_repo, server) = setup(&env, &[]);
    // Half of timestamp.json, then 45 s of nothing (then the rest). The
    // stall limit (default 30 s) is set to 2 s so that the test is quick.
    server.slowly("metadata/timestamp.json", 2, 45);
    configure(&env, "[limits]\nhttp_stall = \"2s\"\n");
    let before = snapshot_dir(&env.home());
    let out = env.run_code(&["update", "main"], 1);
    assert!(
        out.stderr.contains("timestamp") && out.stderr.contains("2 s without data"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot_dir(&env.home()), before, "trusted state changed");
}

#[test]
fn update_gives_up_at_the_update_deadline() {
    let env = TestEnv::new();
    let (_repo, server) = setup(&env, &[]);
    // timestamp.json in 15 parts, 3 s apart: never a stall, but 42 s in
    // all; the whole update may take 3 s here.
    server.slowly("metadata/timestamp.json", 15, 3);
    configure(
        &env,
        "[limits]\nhttp_stall = \"10s\"\nupdate_deadline = \"3s\"\n",
    );
    let out = env.run_code(&["update", "main"], 1);
    assert!(
        out.stderr.contains("timestamp") && out.stderr.contains("3 s per update"),
        "{}",
        out.stderr
    );
}

#[test]
fn update_refuses_a_signed_snapshot_length_over_the_limit() {
    // A stolen timestamp key signs an 8 GiB snapshot length, and the mirror
    // sends an endless snapshot: the client refuses before reading any of
    // it, whatever length is signed (`limits.snapshot_size`, 2 MB).
    let env = TestEnv::new();
    let (repo, server) = setup(&env, &[]);
    let snap = repo.version("snapshot");
    server.endless(&format!("metadata/{snap}.snapshot.json"));
    let mut ts = read_json(&repo.meta("timestamp.json"));
    ts["signed"]["meta"]["snapshot.json"]["length"] = json!(8u64 << 30);
    let bytes = signed_bytes(&mut ts, &[&repo.key("timestamp")]);
    std::fs::write(repo.meta("timestamp.json"), bytes).unwrap();
    refused(&env, &["snapshot", "larger than the 2000000-byte limit"]);
}

#[test]
fn update_counts_one_key_listed_under_two_key_ids_once() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    // A root whose timestamp role lists the timestamp key twice, under its
    // own id and another, with threshold 2 ...
    let mut root = read_json(&repo.meta("1.root.json"));
    let id = root["signed"]["roles"]["timestamp"]["keyids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let other = "ab".repeat(32);
    let key = root["signed"]["keys"][&id].clone();
    root["signed"]["keys"][&other] = key;
    root["signed"]["roles"]["timestamp"] = json!({"keyids": [id, other], "threshold": 2});
    let bytes = signed_bytes(&mut root, &[&repo.key("root")]);
    std::fs::write(repo.meta("1.root.json"), bytes).unwrap();
    // ... and a timestamp carrying its one signature under both ids.
    let mut ts = read_json(&repo.meta("timestamp.json"));
    let mut sig = ts["signatures"][0].clone();
    sig["keyid"] = json!(other);
    ts["signatures"].as_array_mut().unwrap().push(sig);
    std::fs::write(
        repo.meta("timestamp.json"),
        serde_json::to_vec(&ts).unwrap(),
    )
    .unwrap();
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    refused(&env, &["timestamp", "1 valid signature of threshold 2"]);
}

#[test]
fn update_reports_an_invalid_signed_record_and_other_dists_still_work() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    SourceBuilder::new(env.path("patches")).add(
        "PK-2",
        "Bar",
        ">= 1",
        &udiff("lib/Bar.pm", "a\n", "b\n"),
    );
    repo.publish(&[]);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    // Updated once before: the broken record arrives in an incremental
    // update (a first update checks every dist while it builds the index:
    // `cold`, below).
    env.run_ok(&["update", "main"]);
    // The targets key signs a broken record for Bar (a mistake, or a
    // stolen key): the signed metadata is valid, the record is not.
    let bad = b"id = \"PK-2\"\nthis is not TOML\n";
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bad));
    std::fs::write(repo.out().join(format!("targets/Bar/{sha}.PK-2.toml")), bad).unwrap();
    let tv = repo.version("targets");
    let mut t = read_json(&repo.meta(&format!("{tv}.targets.json")));
    t["signed"]["version"] = json!(tv + 1);
    t["signed"]["targets"]["Bar/PK-2.toml"] =
        json!({"length": bad.len(), "hashes": {"sha256": sha}});
    let bytes = signed_bytes(&mut t, &[&repo.key("targets")]);
    std::fs::write(repo.meta(&format!("{}.targets.json", tv + 1)), bytes).unwrap();
    repo.rechain(
        &format!("{}.targets.json", tv + 1),
        tv + 1,
        repo.version("snapshot") + 1,
        repo.version("timestamp") + 1,
    );
    let out = env.run_ok(&["update", "main"]);
    assert!(
        out.stderr.contains("warning:")
            && out.stderr.contains("Bar")
            && out.stderr.contains("invalid record"),
        "{}",
        out.stderr
    );
    let cold = TestEnv::new();
    cold.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    let first = cold.run_ok(&["update", "main"]);
    assert_eq!(
        first
            .stderr
            .lines()
            .filter(|l| l.contains("invalid record"))
            .collect::<Vec<_>>(),
        out.stderr
            .lines()
            .filter(|l| l.contains("invalid record"))
            .collect::<Vec<_>>(),
        "a first update reports the same"
    );
    // Foo's patch still applies; Bar's lookup fails, naming the record.
    let foo = repo.dist();
    let ok = env.run_ok(&["check", "--offline", foo.to_str().unwrap()]);
    assert!(ok.stdout.contains("1 patch would apply"), "{}", ok.stdout);
    let bar = DistBuilder::new("Bar", "1.0")
        .file("lib/Bar.pm", "a\n")
        .tarball(&env.path("in"));
    let failed = env.run_code(&["check", "--offline", bar.to_str().unwrap()], 1);
    assert!(failed.stderr.contains("Bar/PK-2.toml"), "{}", failed.stderr);
}
