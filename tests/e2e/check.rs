//! `patchkit check`: reports without writing.

use crate::support::*;

#[test]
fn check_writes_nothing_and_reports_json() {
    let env = TestEnv::new();
    let old = "sub f { 1 }\n";
    SourceBuilder::new(env.path("patches")).add(
        "PK-C",
        "Chk",
        ">= 1, != 1.5",
        &udiff("lib/Chk.pm", old, "sub f { 2 }\n"),
    );
    let dir = env.path("in");
    let a = DistBuilder::new("Chk", "1.2")
        .file("lib/Chk.pm", old)
        .tarball(&dir);
    let b = DistBuilder::new("Chk", "1.5")
        .file("lib/Chk.pm", old)
        .tarball(&dir);
    let before = snapshot_dir(env.dir());
    let out = env.run_ok(&[
        "check",
        "--source",
        "patches",
        "--json",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let doc = out.json();
    assert_eq!(doc["command"], "check");
    assert_eq!(doc["repository"]["kind"], "unsigned");
    assert_eq!(doc["targets"][0]["result"], "patched");
    assert_eq!(doc["targets"][0]["patches"][0]["status"], "would_apply");
    assert_eq!(doc["targets"][0]["purl"], "pkg:cpan/Chk@1.2");
    assert_eq!(doc["targets"][1]["result"], "nothing_matched");
    assert_eq!(snapshot_dir(env.dir()), before, "check must not write");
}

#[test]
fn a_tarball_without_meta_is_identified_by_name() {
    let env = TestEnv::new();
    let old = "x\n";
    SourceBuilder::new(env.path("patches")).add(
        "PK-N",
        "No-Meta",
        "0.5",
        &udiff("x.txt", old, "y\n"),
    );
    let tb = DistBuilder::new("No-Meta", "0.5")
        .no_meta()
        .file("x.txt", old)
        .tarball(&env.path("in"));
    let out = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(
        out.stdout.contains("No-Meta 0.5: 1 patch would apply"),
        "{}",
        out.stdout
    );
}

#[test]
fn meta_disagreeing_with_the_name_wins_with_a_warning() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add(
        "PK-M",
        "Real-Name",
        "2.0",
        &udiff("x.txt", "x\n", "y\n"),
    );
    let d = DistBuilder::new("Real-Name", "2.0").file("x.txt", "x\n");
    let bytes = d.tarball_bytes();
    std::fs::create_dir_all(env.path("in")).unwrap();
    let tb = env.path("in/Renamed-1.0.tar.gz");
    std::fs::write(&tb, bytes).unwrap();
    let out = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(
        out.stdout.contains("Real-Name 2.0: 1 patch would apply"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("using META"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches"));
    let tb = DistBuilder::new("A", "1").tarball(&env.path("in"));
    // apply to a tarball without -o
    env.run_code(&["apply", "--source", "patches", tb.to_str().unwrap()], 2);
    // unknown flag
    env.run_code(&["check", "--bogus"], 2);
    // a target that does not exist
    let out = env.run_code(&["check", "--source", "patches", "missing-1.0.tar.gz"], 2);
    assert!(out.stderr.contains("missing-1.0.tar.gz"), "{}", out.stderr);
}

#[test]
fn home_is_accepted_before_or_after_the_command() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches"));
    let tb = DistBuilder::new("A", "1").tarball(&env.path("in"));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_patchkit"));
    cmd.args([
        "check",
        "--source",
        "patches",
        "--home",
        "h2",
        tb.to_str().unwrap(),
    ]);
    assert_eq!(run_cmd(cmd, env.dir()).code, 0);
}

/// Messages name each target by the path given on the command line, so
/// two tarballs of the same name in different folders are told apart.
#[test]
fn messages_name_the_path_as_given() {
    let env = TestEnv::new();
    crate::audit::source_with(&env, "");
    crate::audit::foo_dist("1.0").tarball(&env.path("a"));
    std::fs::create_dir_all(env.path("b")).unwrap();
    std::fs::write(
        env.path("b/Foo-Bar-1.0.tar.gz"),
        b"\x1f\x8b not really gzip",
    )
    .unwrap();
    let out = env.run_code(
        &[
            "check",
            "--source",
            "patches",
            "a/Foo-Bar-1.0.tar.gz",
            "b/../b/Foo-Bar-1.0.tar.gz",
        ],
        2,
    );
    assert!(
        out.stdout
            .contains("a/Foo-Bar-1.0.tar.gz: Foo-Bar 1.0: 1 patch would apply"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("error: refusing b/../b/Foo-Bar-1.0.tar.gz: the compressed data is corrupt"),
        "{}",
        out.stderr
    );
    let out = env.run_code(&["check", "--source", "patches", "c/Missing-1.0.tar.gz"], 2);
    assert!(
        out.stderr.contains("c/Missing-1.0.tar.gz"),
        "{}",
        out.stderr
    );
}
