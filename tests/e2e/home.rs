//! The home on a shared build host and across crashes: its mode and
//! owner, its lock, the pinned root, and an update killed midway.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::server::PubRepo;
use crate::support::*;

/// `patchkit --home HOME ARGS…` as a command, for tests that need an
/// environment variable or a shell around it.
fn command(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("--home")
        .arg(env.home())
        .args(args)
        .current_dir(env.dir())
        .env_remove("PATCHKIT_HOME")
        .stdin(Stdio::null());
    cmd
}

/// A new record for another distribution: every role gets a new version,
/// and `Foo`'s patches stay as they were.
pub fn add_other_record(env: &TestEnv, id: &str) {
    SourceBuilder::new(env.path("patches")).add(
        id,
        "Other",
        ">= 1",
        &udiff(&format!("lib/{id}.pm"), "a\n", "b\n"),
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn home_is_created_0700_under_umask_000() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let script = format!(
        "umask 000; exec \"$0\" --home \"$1\" repo add main pub --root {}",
        repo.root1()
    );
    let out = run_cmd(
        {
            let mut c = Command::new("sh");
            c.args(["-c", &script]).arg(bin()).arg(env.home());
            c
        },
        env.dir(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&env.home()), 0o700, "home mode");
    for cache in [
        "repos",
        "repos/main",
        "repos/main/trusted",
        "repos/main/roots",
    ] {
        assert_eq!(mode(&env.home().join(cache)), 0o700, "{cache} mode");
    }
}

#[test]
fn home_writable_by_others_is_refused() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    std::fs::set_permissions(env.home(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let tb = repo.dist();
    let out = env.run_code(&["check", "--offline", tb.to_str().unwrap()], 1);
    assert!(
        out.stderr.contains("writable by its group or by others"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(env.home().to_str().unwrap()),
        "{}",
        out.stderr
    );
}

/// Someone who can write the home swaps in their own root and their own
/// signed metadata: the home must notice that its pinned root changed.
#[test]
fn replaced_pinned_root_is_refused() {
    let victim = TestEnv::new();
    let repo = PubRepo::new(&victim, &[]);
    victim.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    victim.run_ok(&["update"]);
    let attacker = TestEnv::new();
    let theirs = PubRepo::new(&attacker, &[]);
    attacker.run_ok(&["repo", "add", "main", "pub", "--root", &theirs.root1()]);
    attacker.run_ok(&["update"]);
    let trusted = victim.home().join("repos/main/trusted");
    std::fs::remove_dir_all(&trusted).unwrap();
    copy_tree(&attacker.home().join("repos/main/trusted"), &trusted);
    let tb = repo.dist();
    let out = victim.run_code(&["check", "--offline", tb.to_str().unwrap()], 3);
    assert!(out.stderr.contains("changed outside"), "{}", out.stderr);
    assert!(out.stderr.contains("root.json"), "{}", out.stderr);
    let out = victim.run_code(&["update"], 3);
    assert!(out.stderr.contains("changed outside"), "{}", out.stderr);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn damaged_cached_patch_is_replaced_by_next_online_run() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    // One flat, content-addressed folder (docs/formats.md, "The trust
    // store"): <sha256>.Foo%2F<ID>.patch.
    let dir = env.home().join("repos/main/trusted/targets");
    let mut damaged = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".patch") && p.to_string_lossy().contains("Foo%2F") {
            let good = std::fs::read(&p).unwrap();
            std::fs::write(&p, b"damaged\n").unwrap();
            damaged.push((p, good));
        }
    }
    assert!(!damaged.is_empty());
    let tb = repo.dist();
    env.run_code(&["check", "--offline", tb.to_str().unwrap()], 3);
    // An update fetches what changed, not what it already holds; the next
    // online command that needs the damaged file fetches it again and
    // caches it (docs/security.md, "The trust store's index").
    env.run_ok(&["update"]);
    env.run_ok(&["check", tb.to_str().unwrap()]);
    for (p, good) in &damaged {
        assert_eq!(&std::fs::read(p).unwrap(), good, "{p:?} not replaced");
    }
    let out = env.run_ok(&["check", "--offline", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("1 patch would apply"), "{}", out.stdout);
}

#[test]
fn lock_held_too_long_is_refused_with_a_clear_message() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    // Another process holds the home's lock (as a long update would).
    let mut holder: Child = Command::new("flock")
        .arg(env.home().join("lock"))
        .args(["sleep", "30"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let out = run_cmd(
        {
            let mut c = command(&env, &["update"]);
            c.env("PATCHKIT_LOCK_TIMEOUT", "1");
            c
        },
        env.dir(),
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("another patchkit"), "{}", out.stderr);
    assert!(out.stderr.contains("lock"), "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(20));
    // Once the lock is free, the update goes through.
    env.run_ok(&["update"]);
}

/// Parallel jobs sharing one home while the repository moves on: writers
/// and offline readers all succeed, and the home ends on the newest state.
#[test]
fn parallel_jobs_sharing_a_home_do_not_fail() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    let tb = repo.dist();
    for round in 0..12 {
        add_other_record(&env, &format!("PK-R{round}"));
        repo.publish(&[]);
        let mut jobs: Vec<(String, Child)> = Vec::new();
        for i in 0..8 {
            let args: Vec<&str> = if i % 2 == 0 {
                vec!["update"]
            } else {
                vec!["check", "--offline", tb.to_str().unwrap()]
            };
            let child = command(&env, &args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            jobs.push((args.join(" "), child));
        }
        for (what, child) in jobs {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: `{what}` failed beside parallel jobs: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let doc = env
        .run_ok(&["check", "--offline", "--json", tb.to_str().unwrap()])
        .json();
    assert_eq!(doc["repository"]["version"], repo.version("targets"));
}

/// `kill -9` right after the update replaced its first role file: the
/// offline cache must still verify (the old or the new state).
#[test]
fn update_interrupted_keeps_offline_usable() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    let tb = repo.dist();
    let trusted = env.home().join("repos/main/trusted");
    for round in 0..4 {
        add_other_record(&env, &format!("PK-K{round}"));
        repo.publish(&[]);
        let before = std::fs::read(trusted.join("targets.json")).unwrap();
        let mut child = command(&env, &["update"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let changed = std::fs::read(trusted.join("targets.json"))
                .map(|b| b != before)
                .unwrap_or(false);
            if changed || start.elapsed() > Duration::from_secs(30) {
                child.kill().unwrap();
                child.wait().unwrap();
                break;
            }
        }
        let out = env.run(&["check", "--offline", tb.to_str().unwrap()]);
        assert_eq!(
            out.code, 0,
            "round {round}: --offline after a killed update:\n{}",
            out.stderr
        );
        env.run_ok(&["update"]);
    }
}
