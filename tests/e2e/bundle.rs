//! `patchkit bundle create` and `--bundle FILE` on an air-gapped machine.

use crate::support::server::*;
use crate::support::*;

fn bundled(env: &TestEnv) -> PubRepo<'_> {
    let repo = PubRepo::new(env, &[]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    env.run_ok(&["bundle", "create", "patches.bundle"]);
    std::fs::copy(repo.meta("1.root.json"), env.path("root.json")).unwrap();
    repo
}

/// Runs with a fresh, empty home (the air-gapped machine).
fn run_elsewhere(env: &TestEnv, args: &[&str], code: i32) -> Output {
    let mut all = vec!["--home", "airgap"];
    all.extend_from_slice(args);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_patchkit"));
    cmd.args(&all);
    let out = run_cmd(cmd, env.dir());
    assert_eq!(out.code, code, "{args:?}: {}\n{}", out.stdout, out.stderr);
    out
}

#[test]
fn bundle_applies_offline_in_a_fresh_home() {
    let env = TestEnv::new();
    let repo = bundled(&env);
    // The published repository is gone: only the bundle and the root travel.
    std::fs::remove_dir_all(repo.out()).unwrap();
    let tb = repo.dist();
    let out = run_elsewhere(
        &env,
        &[
            "apply",
            "--bundle",
            "patches.bundle",
            "--root",
            "root.json",
            "-o",
            "out",
            "--json",
            tb.to_str().unwrap(),
        ],
        0,
    );
    let doc = out.json();
    assert_eq!(doc["repository"]["kind"], "signed");
    assert_eq!(doc["repository"]["name"], "main");
    assert!(
        out.stderr.contains("freshness is as of that time"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("ago"), "{}", out.stderr);
    let files = tarball_files(&env.path("out/Foo-1.0.tar.gz"));
    assert_eq!(files["Foo-1.0/lib/Foo.pm"].0, b"sub f { 2 }\n");
}

#[test]
fn tampered_bundle_is_refused() {
    let env = TestEnv::new();
    let repo = bundled(&env);
    let mut bytes = std::fs::read(env.path("patches.bundle")).unwrap();
    // Flip a byte inside the patch text ("sub f { 2 }" → "sub f { 3 }").
    let at = bytes.windows(11).position(|w| w == b"sub f { 2 }").unwrap();
    bytes[at + 8] = b'3';
    std::fs::write(env.path("patches.bundle"), bytes).unwrap();
    let tb = repo.dist();
    let out = run_elsewhere(
        &env,
        &[
            "check",
            "--bundle",
            "patches.bundle",
            "--root",
            "root.json",
            tb.to_str().unwrap(),
        ],
        3,
    );
    assert!(
        out.stderr.contains("targets/Foo/PK-1.patch"),
        "{}",
        out.stderr
    );
}

#[test]
fn bundle_against_another_root_is_refused() {
    let env = TestEnv::new();
    let repo = bundled(&env);
    // Someone else's repository root.
    let other = TestEnv::new();
    let other_repo = PubRepo::new(&other, &[]);
    std::fs::copy(other_repo.meta("1.root.json"), env.path("other-root.json")).unwrap();
    let tb = repo.dist();
    let out = run_elsewhere(
        &env,
        &[
            "check",
            "--bundle",
            "patches.bundle",
            "--root",
            "other-root.json",
            tb.to_str().unwrap(),
        ],
        3,
    );
    assert!(out.stderr.contains("timestamp"), "{}", out.stderr);
}

#[test]
fn bundle_uses_the_configured_root_without_root_flag() {
    let env = TestEnv::new();
    let repo = bundled(&env);
    let tb = repo.dist();
    let out = env.run_ok(&["check", "--bundle", "patches.bundle", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("1 patch would apply"), "{}", out.stdout);
}

/// Rewrites every entry of the bundle `path` through `edit(name, bytes)`.
fn rewrite_bundle(path: &std::path::Path, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut builder = tar::Builder::new(Vec::new());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        let data = edit(&name, data);
        let mut header = entry.header().clone();
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data.as_slice()).unwrap();
    }
    std::fs::write(path, builder.into_inner().unwrap()).unwrap();
}

#[test]
fn bundle_re_dated_into_the_past_does_not_revive_expired_metadata() {
    let env = TestEnv::new();
    let repo = bundled(&env);
    // An old bundle: its timestamp (validly signed) expired in 2001; the
    // unsigned time it says it was made is moved back to 2000, before that
    // expiry. This home has updated today, so it has seen a later time.
    let timestamp_key = repo.key("timestamp");
    rewrite_bundle(&env.path("patches.bundle"), |name, data| {
        if name != "metadata/timestamp.json" && name != "patchkit-bundle.json" {
            return data;
        }
        let mut doc: serde_json::Value = serde_json::from_slice(&data).unwrap();
        if name == "metadata/timestamp.json" {
            doc["signed"]["expires"] = serde_json::json!("2001-01-01T00:00:00Z");
            let v = doc["signed"]["version"].as_u64().unwrap();
            doc["signed"]["version"] = serde_json::json!(v + 1);
            return signed_bytes(&mut doc, &[&timestamp_key]);
        }
        if name == "patchkit-bundle.json" {
            doc["created"] = serde_json::json!("2000-06-01T00:00:00Z");
            return serde_json::to_vec(&doc).unwrap();
        }
        data
    });
    let tb = repo.dist();
    let out = env.run_code(
        &["check", "--bundle", "patches.bundle", tb.to_str().unwrap()],
        3,
    );
    assert!(
        out.stderr.contains("timestamp: expired at 2001-01-01"),
        "{}",
        out.stderr
    );
    // The home remembers the newest time it has seen.
    let seen = std::fs::read_to_string(env.home().join("newest-time")).unwrap();
    assert!(
        seen.starts_with("20") && !seen.starts_with("2000"),
        "{seen}"
    );
}
