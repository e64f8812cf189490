//! `patchkit diff`: the patch from a pristine tarball and an edited copy,
//! applied by `apply` and by GNU patch to give the edited tree.

use std::path::Path;

use crate::support::*;

const OLD: &str = "package Df;\nsub load {\n    my ($f) = @_;\n    open(my $fh, $f) or die;\n    return <$fh>;\n}\n1;\n";
const NEW: &str = "package Df;\nsub load {\n    my ($f) = @_;\n    open(my $fh, '<', $f) or die;\n    return <$fh>;\n}\n1;\n";

fn dist() -> DistBuilder {
    DistBuilder::new("Df", "1.0")
        .file("lib/Df.pm", OLD)
        .file("Makefile.PL", "use ExtUtils::MakeMaker;\n")
        .file("Changes", "1.0 first\r\n")
        .bytes("bin/df", b"#!perl\nprint 1;", 0o644)
}

fn new_record(env: &TestEnv) -> String {
    let out = env.run_ok(&[
        "new",
        "Df",
        "--versions",
        "<= 1.0",
        "--alias",
        "CVE-2026-2222",
        "--title",
        "Df::load uses 2-arg open",
        "--json",
    ]);
    out.json()["id"].as_str().unwrap().to_string()
}

fn edit(top: &Path) {
    std::fs::write(top.join("lib/Df.pm"), NEW).unwrap();
    std::fs::write(top.join("Changes"), "1.0 first\r\n1.0.1 fix\r\n").unwrap();
    std::fs::write(top.join("bin/df"), b"#!perl\nprint 2;").unwrap();
    set_mode(&top.join("bin/df"), 0o755);
    std::fs::create_dir_all(top.join("t")).unwrap();
    std::fs::write(
        top.join("t/open.t"),
        "use Test::More;\nok 1;\ndone_testing;\n",
    )
    .unwrap();
    // Noise: an editor backup, a build, a swap file.
    std::fs::write(top.join("lib/Df.pm~"), OLD).unwrap();
    std::fs::write(top.join("lib/.Df.pm.swp"), "swap").unwrap();
    std::fs::write(top.join("Makefile"), "all:\n").unwrap();
    std::fs::write(top.join("MYMETA.json"), "{}\n").unwrap();
    std::fs::create_dir_all(top.join("blib/lib")).unwrap();
    std::fs::write(top.join("blib/lib/Df.pm"), NEW).unwrap();
}

#[test]
fn diff_makes_a_patch_that_apply_and_gnu_patch_agree_on() {
    let env = TestEnv::new();
    let d = dist();
    let tb = d.tarball(&env.path("in"));
    let top = d.unpack(&env.path("work"));
    edit(&top);
    let id = new_record(&env);
    let out = env.run_ok(&[
        "diff",
        tb.to_str().unwrap(),
        top.to_str().unwrap(),
        "--record",
        &id,
        "--json",
    ]);
    let doc = out.json();
    let files: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, vec!["Changes", "bin/df", "lib/Df.pm", "t/open.t"]);
    let ignored = doc["ignored"].to_string();
    for noise in [
        "Df.pm~",
        ".Df.pm.swp",
        "Makefile",
        "MYMETA.json",
        "blib/lib/Df.pm",
    ] {
        assert!(ignored.contains(noise), "{noise} not ignored: {ignored}");
    }
    let patch = std::fs::read_to_string(env.path(&format!("patches/Df/{id}.patch"))).unwrap();
    assert!(
        patch.contains("diff --git a/bin/df b/bin/df\nold mode 100644\nnew mode 100755\n"),
        "{patch}"
    );
    assert!(
        patch.contains("new file mode 100644\n--- /dev/null\n+++ b/t/open.t\n"),
        "{patch}"
    );
    assert!(patch.contains("\\ No newline at end of file"), "{patch}");

    // The record is now valid and `apply` reproduces the edit.
    env.run_ok(&["lint"]);
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    let got = tarball_files(&env.path("out/Df-1.0.tar.gz"));
    assert_eq!(got["Df-1.0/lib/Df.pm"].0, NEW.as_bytes());
    assert_eq!(got["Df-1.0/Changes"].0, b"1.0 first\r\n1.0.1 fix\r\n");
    assert_eq!(got["Df-1.0/bin/df"], (b"#!perl\nprint 2;".to_vec(), 0o755));
    assert!(got.contains_key("Df-1.0/t/open.t"));
    assert!(!got.contains_key("Df-1.0/Makefile"));

    // GNU patch -p1 on a fresh copy agrees.
    let fresh = d.unpack(&env.path("gnu"));
    let status = std::process::Command::new("patch")
        .args(["-p1", "--batch", "-i"])
        .arg(env.path(&format!("patches/Df/{id}.patch")))
        .current_dir(&fresh)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(fresh.join("lib/Df.pm")).unwrap(),
        NEW
    );
    assert_eq!(
        std::fs::read(fresh.join("bin/df")).unwrap(),
        b"#!perl\nprint 2;"
    );
}

#[test]
fn diff_keeps_the_dep3_header_of_the_existing_patch() {
    let env = TestEnv::new();
    let d = dist();
    let orig = d.unpack(&env.path("orig"));
    let top = d.unpack(&env.path("work"));
    std::fs::write(top.join("lib/Df.pm"), NEW).unwrap();
    let id = new_record(&env);
    let header = "Description: use 3-arg open\nAuthor: Jane Doe <jane@example.org>\n\n";
    std::fs::write(
        env.path(&format!("patches/Df/{id}.patch")),
        format!("{header}{}", udiff("lib/Df.pm", OLD, "stale\n")),
    )
    .unwrap();
    env.run_ok(&[
        "diff",
        orig.to_str().unwrap(),
        top.to_str().unwrap(),
        "--record",
        &id,
    ]);
    let patch = std::fs::read_to_string(env.path(&format!("patches/Df/{id}.patch"))).unwrap();
    assert!(
        patch.starts_with(&format!("{header}diff --git a/lib/Df.pm b/lib/Df.pm\n")),
        "{patch}"
    );
    assert!(!patch.contains("stale"), "{patch}");
}

#[test]
fn diff_refuses_binary_changes_and_writes_nothing() {
    let env = TestEnv::new();
    let d = dist().bytes("share/logo.png", b"\x89PNG\r\n\x1a\n\0\0", 0o644);
    let orig = d.unpack(&env.path("orig"));
    let top = d.unpack(&env.path("work"));
    std::fs::write(top.join("share/logo.png"), b"\x89PNG\r\n\x1a\n\0\x01").unwrap();
    std::fs::write(top.join("lib/Df.pm"), NEW).unwrap();
    let id = new_record(&env);
    let before = snapshot_dir(&env.path("patches"));
    let out = env.run_code(
        &[
            "diff",
            orig.to_str().unwrap(),
            top.to_str().unwrap(),
            "--record",
            &id,
        ],
        2,
    );
    assert!(
        out.stderr.contains("share/logo.png") && out.stderr.contains("binary"),
        "{}",
        out.stderr
    );
    // No differences at all is an error too.
    let out = env.run_code(
        &[
            "diff",
            orig.to_str().unwrap(),
            orig.to_str().unwrap(),
            "--record",
            &id,
        ],
        1,
    );
    assert!(out.stderr.contains("no differences"), "{}", out.stderr);
    // An unknown record.
    let out = env.run_code(
        &[
            "diff",
            orig.to_str().unwrap(),
            top.to_str().unwrap(),
            "--record",
            "PK-1999-0001",
        ],
        2,
    );
    assert!(
        out.stderr.contains("no record PK-1999-0001"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot_dir(&env.path("patches")), before);
}
