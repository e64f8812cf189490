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
