//! A command line that fits CI: one JSON document even on a fatal error,
//! `-o` collisions and directory targets refused up front, an SBOM that
//! never passes silently, completion scripts that the shells parse, and a
//! man page that `man` renders.

use crate::audit::{foo_dist, source_with};
use crate::support::*;

#[test]
fn json_prints_one_document_on_a_fatal_error() {
    let env = TestEnv::new();
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    // No repository configured: a fatal error (exit 2).
    let out = env.run_code(&["--json", "check", tb.to_str().unwrap()], 2);
    let doc = out.json();
    assert_eq!(doc["command"], "check");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 2);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("no signed repository"),
        "{doc}"
    );
    // The same sentence still goes to stderr for people.
    assert!(
        out.stderr.contains("error: no signed repository"),
        "{}",
        out.stderr
    );
    // Nested commands are named in full.
    let out = env.run(&["--json", "repo", "remove", "nosuch"]);
    assert_ne!(out.code, 0);
    assert_eq!(out.json()["command"], "repo remove");
}

#[test]
fn apply_refuses_two_inputs_with_the_same_output_name() {
    let env = TestEnv::new();
    source_with(&env, "");
    let a = foo_dist("1.0").tarball(&env.path("one"));
    let b = foo_dist("1.0")
        .file("extra", "x\n")
        .tarball(&env.path("two"));
    let out = env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "-o",
            "out",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        out.stderr.contains("would both be written as"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Foo-Bar-1.0.tar.gz"), "{}", out.stderr);
    // Refused before anything was written.
    assert!(!env.path("out").exists());
}

#[test]
fn apply_refuses_out_dir_with_a_directory_target() {
    let env = TestEnv::new();
    source_with(&env, "");
    let dir = foo_dist("1.0").unpack(&env.path("src"));
    let before = snapshot_dir(&dir);
    let out = env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "-o",
            "out",
            dir.to_str().unwrap(),
        ],
        2,
    );
    assert!(out.stderr.contains("is a directory"), "{}", out.stderr);
    assert!(out.stderr.contains(dir.to_str().unwrap()), "{}", out.stderr);
    assert_eq!(snapshot_dir(&dir), before, "the directory was not patched");
    assert!(!env.path("out").exists());
}

#[test]
fn sbom_warns_when_it_finds_nothing() {
    let env = TestEnv::new();
    source_with(&env, "");
    std::fs::create_dir_all(env.path("empty-lib")).unwrap();
    let out = env.run_ok(&["sbom", "--source", "patches", "empty-lib"]);
    assert!(
        out.stderr.contains("no distribution found in empty-lib"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["components"].as_array().map(Vec::len), Some(0));
}

#[test]
fn completions_for_bash_zsh_and_fish_parse() {
    let env = TestEnv::new();
    for (shell, check) in [
        ("bash", vec!["bash", "-n"]),
        ("zsh", vec!["zsh", "-n"]),
        ("fish", vec!["fish", "--no-execute"]),
    ] {
        let out = env.run_ok(&["completions", shell]);
        assert!(out.stdout.contains("patchkit"), "{shell}");
        let file = env.path(&format!("patchkit.{shell}"));
        std::fs::write(&file, &out.stdout).unwrap();
        let mut cmd = std::process::Command::new(check[0]);
        cmd.args(&check[1..]).arg(&file);
        let res = run_cmd(cmd, env.dir());
        assert_eq!(
            res.code, 0,
            "{shell} does not parse its script: {}",
            res.stderr
        );
    }
    // Every command is offered.
    let bash = env.run_ok(&["completions", "bash"]).stdout;
    for c in ["check", "apply", "audit", "sbom", "update", "publish"] {
        assert!(bash.contains(c), "{c}");
    }
}

#[test]
fn man_page_renders() {
    let env = TestEnv::new();
    let page = env.run_ok(&["man"]).stdout;
    assert!(
        page.starts_with(".ie") || page.contains(".TH patchkit 1"),
        "{page}"
    );
    let file = env.path("patchkit.1");
    std::fs::write(&file, &page).unwrap();
    let mut cmd = std::process::Command::new("groff");
    cmd.args(["-man", "-Tutf8"]).arg(&file);
    let res = run_cmd(cmd, env.dir());
    assert_eq!(res.code, 0, "{}", res.stderr);
    assert!(res.stdout.contains("apply"), "{}", res.stdout);
}
