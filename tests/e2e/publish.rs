//! `patchkit key generate`, `publish` and `sign`.

use crate::support::server::*;
use crate::support::*;

#[test]
fn key_generate_writes_a_private_key_only_its_owner_reads() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let out = env
        .run_ok(&["key", "generate", "k/maintainer", "--json"])
        .json();
    assert_eq!(out["private"], "k/maintainer.pem");
    let mode = std::fs::metadata(env.path("k/maintainer.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // OpenSSL reads both halves.
    for (file, args) in [
        ("k/maintainer.pem", vec!["pkey", "-noout", "-in"]),
        (
            "k/maintainer.pub.pem",
            vec!["pkey", "-pubin", "-noout", "-in"],
        ),
    ] {
        let mut cmd = std::process::Command::new("openssl");
        cmd.args(&args).arg(env.path(file));
        let o = run_cmd(cmd, env.dir());
        assert_eq!(o.code, 0, "openssl cannot read {file}: {}", o.stderr);
    }
    // Never overwrites a key.
    env.run_code(&["key", "generate", "k/maintainer"], 2);
}

#[test]
fn publish_twice_without_change_changes_nothing() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let before = snapshot_dir(&repo.out());
    let out = repo.publish(&["--json"]).json();
    assert_eq!(out["written"], serde_json::json!([]));
    assert_eq!(out["versions"]["targets"], 1);
    assert_eq!(snapshot_dir(&repo.out()), before);
    // A new record bumps targets, snapshot and timestamp, not root.
    repo.add_record("PK-2");
    let out = repo.publish(&["--json"]).json();
    assert_eq!(out["versions"]["root"], 1);
    assert_eq!(out["versions"]["targets"], 2);
    assert_eq!(out["versions"]["snapshot"], 2);
    assert_eq!(out["versions"]["timestamp"], 2);
    assert_eq!(out["targets"], 4);
}

#[test]
fn publish_refuses_invalid_records_and_publishes_nothing() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let before = snapshot_dir(&repo.out());
    // A record whose dist does not match its folder.
    std::fs::write(
        env.path("patches/Foo/PK-9.toml"),
        "id = \"PK-9\"\ndist = \"Bar\"\nversions = \"1\"\npatch = \"PK-1.patch\"\ntitle = \"x\"\naliases = []\n",
    )
    .unwrap();
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
        2,
    );
    assert!(out.stderr.contains("PK-9.toml"), "{}", out.stderr);
    assert_eq!(snapshot_dir(&repo.out()), before);
}

/// `packs/` holds the hash bins' packs (docs/formats.md, "Packs"): a
/// record there is refused by `lint` and `publish`, before anything is
/// signed.
#[test]
fn publish_and_lint_refuse_a_record_under_packs() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let before = snapshot_dir(&repo.out());
    SourceBuilder::new(env.path("patches")).add("PK-9", "packs", "1", &udiff("x", "a\n", "b\n"));
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
        2,
    );
    assert!(
        out.stderr
            .contains("packs/PK-9.toml: the folder packs/ is reserved for the packs"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot_dir(&repo.out()), before);
    let out = env.run_code(&["lint", "--json"], 1);
    assert!(
        out.stdout.contains("the folder packs/ is reserved"),
        "{}",
        out.stdout
    );
}

#[test]
fn threshold_signing_stages_then_publishes_once_signed() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    // A second targets maintainer whose private key is elsewhere.
    env.run_ok(&["key", "generate", "other/targets-2"]);
    std::fs::copy(
        env.path("other/targets-2.pub.pem"),
        env.path("keys/targets-2.pub.pem"),
    )
    .unwrap();
    // Root lists the new key (signed by root alone: root's threshold is 1).
    std::fs::write(
        env.path("keys/keys.toml"),
        "[root]\nkeys = [\"root.pem\"]\n[targets]\nkeys = [\"targets.pem\"]\n\
         public = [\"targets-2.pub.pem\"]\nthreshold = 2\n\
         [snapshot]\nkeys = [\"snapshot.pem\"]\n[timestamp]\nkeys = [\"timestamp.pem\"]\n",
    )
    .unwrap();
    let out = env
        .run_code(
            &[
                "publish",
                "--source",
                "patches",
                "--out",
                "pub",
                "--keys",
                "keys/keys.toml",
                "--json",
            ],
            1,
        )
        .json();
    let file = out["pending"]["file"].as_str().unwrap().to_string();
    assert_eq!(out["pending"]["role"], "targets");
    assert!(file.ends_with("pub.staged/2.targets.json"), "{file}");
    // The other maintainer signs; publishing again completes it.
    env.run_ok(&["sign", &file, "--key", "other/targets-2.pem"]);
    let out = repo.publish(&["--json"]).json();
    assert!(out["pending"].is_null(), "{out}");
    assert_eq!(out["versions"]["targets"], 2);
    // And a client verifies the two-key targets role.
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
}

#[test]
fn keys_toml_typos_are_refused() {
    let env = TestEnv::new();
    let _repo = PubRepo::new(&env, &[]);
    std::fs::write(
        env.path("keys/bad.toml"),
        "[root]\nkeys = [\"root.pem\"]\ntreshold = 1\n[targets]\nkeys = [\"targets.pem\"]\n\
         [snapshot]\nkeys = [\"snapshot.pem\"]\n[timestamp]\nkeys = [\"timestamp.pem\"]\n",
    )
    .unwrap();
    let out = env.run_code(
        &[
            "publish",
            "--source",
            "patches",
            "--out",
            "pub",
            "--keys",
            "keys/bad.toml",
        ],
        2,
    );
    assert!(out.stderr.contains("treshold"), "{}", out.stderr);
}
