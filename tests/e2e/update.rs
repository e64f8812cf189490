//! `patchkit update`, and `check`/`apply` with the verified repository,
//! online and `--offline`.

use crate::support::server::*;
use crate::support::*;

#[test]
fn publish_serve_update_apply_over_http() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let server = Server::serve(&repo.out());
    env.run_ok(&[
        "repo",
        "add",
        "cpansec",
        &server.url,
        "--root",
        &repo.root1(),
    ]);
    let out = env.run_ok(&["update", "--json"]).json();
    assert_eq!(out["repositories"][0]["after"]["targets_version"], 1);
    assert_eq!(out["repositories"][0]["targets"], 2);
    // apply updates first, then patches from the verified records.
    let tb = repo.dist();
    let out = env.run_ok(&["apply", "-o", "out", "--json", tb.to_str().unwrap()]);
    assert!(!out.stderr.contains("UNSIGNED"), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["repository"]["kind"], "signed");
    assert_eq!(doc["repository"]["name"], "cpansec");
    assert_eq!(doc["repository"]["version"], 1);
    let files = tarball_files(&env.path("out/Foo-1.0.tar.gz"));
    assert_eq!(files["Foo-1.0/lib/Foo.pm"].0, b"sub f { 2 }\n");
    let applied: serde_json::Value =
        serde_json::from_slice(&files["Foo-1.0/.patchkit/applied.json"].0).unwrap();
    let text = applied.to_string();
    assert!(text.contains(r#""kind":"signed""#), "{text}");
    assert!(text.contains(r#""name":"cpansec""#), "{text}");
    // A new record reaches the client on the next check (it does not
    // apply to this tarball, which is beside the point).
    repo.add_record("PK-2");
    repo.publish(&[]);
    let doc = env.run(&["check", "--json", tb.to_str().unwrap()]).json();
    assert_eq!(doc["repository"]["version"], 2);
}

#[test]
fn update_from_a_plain_directory() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "local", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update", "local"]);
    let tb = repo.dist();
    let out = env.run_ok(&["check", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("1 patch would apply"), "{}", out.stdout);
}

#[test]
fn offline_uses_the_cache_without_network_and_says_its_age() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    drop(server);
    let tb = repo.dist();
    // Offline does not need the server, and says how old the data is.
    let before = snapshot_dir(&env.home());
    let out = env.run_ok(&["check", "--offline", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("1 patch would apply"), "{}", out.stdout);
    assert!(out.stderr.contains("offline"), "{}", out.stderr);
    assert!(out.stderr.contains("ago"), "{}", out.stderr);
    assert_eq!(snapshot_dir(&env.home()), before);
}

#[test]
fn offline_refuses_expired_cached_metadata() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &["--expires-timestamp", "2s"]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let tb = repo.dist();
    let out = env.run_code(&["check", "--offline", tb.to_str().unwrap()], 3);
    assert!(out.stderr.contains("stale"), "{}", out.stderr);
    assert!(out.stderr.contains("patchkit update"), "{}", out.stderr);
}

#[test]
fn offline_refuses_a_tampered_cache() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    // The cache is flat: targets/<sha256>.<name, `/` escaped as %2F>.
    let dir = env.home().join("repos/main/trusted/targets");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with("Foo%2FPK-1.patch") {
            std::fs::write(&p, "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n").unwrap();
        }
    }
    let tb = repo.dist();
    let out = env.run_code(&["check", "--offline", tb.to_str().unwrap()], 3);
    assert!(
        out.stderr.contains("targets/Foo/PK-1.patch"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_without_any_repository_is_a_usage_error() {
    let env = TestEnv::new();
    let out = env.run_code(&["check", "x.tar.gz"], 2);
    assert!(out.stderr.contains("repo add"), "{}", out.stderr);
}

#[test]
fn quiet_silences_notices_but_not_the_report_or_errors() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    let tb = repo.dist();
    let tb = tb.to_str().unwrap();
    let loud = env.run_ok(&["check", "--offline", tb]);
    assert!(loud.stderr.contains("offline"), "{}", loud.stderr);
    let quiet = env.run_ok(&["check", "--offline", "-q", tb]);
    assert_eq!(quiet.stderr, "");
    assert_eq!(quiet.stdout, loud.stdout);
    // Errors still speak.
    let out = env.run_code(&["-q", "check", "--offline", "--repo", "nope", tb], 2);
    assert!(out.stderr.contains("nope"), "{}", out.stderr);
    // -q and -v together are a usage error.
    env.run_code(&["update", "-q", "-v"], 2);
}

/// The repository is down (connection refused) and the last verified state
/// is still fresh: `check` and `apply` go on with it, verified again, and
/// say so on stderr with its age and expiry; nothing is written to the
/// trust store.
#[test]
fn unreachable_repository_falls_back_to_the_fresh_verified_state() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    drop(server);
    let tb = repo.dist();
    let tb = tb.to_str().unwrap();
    let before = snapshot_dir(&env.home().join("repos"));
    let out = env.run_ok(&["check", tb]);
    assert!(out.stdout.contains("1 patch would apply"), "{}", out.stdout);
    assert!(
        out.stderr.contains("repository main unreachable ("),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("); using the state verified less than a minute ago (expires "),
        "{}",
        out.stderr
    );
    let out = env.run_ok(&["apply", "--json", "-o", "out", tb]);
    assert_eq!(out.json()["targets"][0]["result"], "patched");
    assert!(out.stderr.contains("unreachable"), "{}", out.stderr);
    assert!(env.path("out/Foo-1.0.tar.gz").is_file());
    // -q silences the notice, not the work.
    let out = env.run_ok(&["-q", "check", tb]);
    assert_eq!(out.stderr, "");
    assert_eq!(snapshot_dir(&env.home().join("repos")), before);
    // `update` itself has nothing to fall back to: it fails (exit 1).
    let out = env.run_code(&["update"], 1);
    assert!(out.stderr.contains("main"), "{}", out.stderr);
}

/// The repository is down and the last verified state has expired: no
/// fall-back; exit 3 with a hint (`update` when reachable, a bundle,
/// `--offline` refuses it too), as one JSON document with `--json`.
#[test]
fn unreachable_repository_with_an_expired_state_fails_with_a_hint() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &["--expires-timestamp", "2s"]);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    drop(server);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let tb = repo.dist();
    let tb = tb.to_str().unwrap();
    let out = env.run_code(&["check", tb], 3);
    assert!(
        out.stderr.contains("repository main is unreachable ("),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("expired at"), "{}", out.stderr);
    assert!(out.stderr.contains("patchkit update"), "{}", out.stderr);
    assert!(out.stderr.contains("--offline"), "{}", out.stderr);
    let out = env.run_code(&["apply", "--json", "-o", "out", tb], 3);
    let doc = out.json();
    assert_eq!(doc["exit_code"], 3);
    assert!(
        doc["error"].as_str().unwrap().contains("expired at"),
        "{doc}"
    );
    assert!(!env.path("out").exists());
}

/// A repository that answers but refuses (here: 404 for everything) is no
/// reason to fall back: the failure stands.
#[test]
fn a_repository_that_answers_wrongly_is_not_unreachable() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    server.switch(&env.path("empty"));
    let tb = repo.dist();
    let out = env.run(&["check", tb.to_str().unwrap()]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("using the state"), "{}", out.stderr);
}
