//! Agreement with Debian's way of patching: for patch series the test
//! builds, the tree patchkit produces is byte-identical to what GNU
//! `patch -p1 --fuzz=0` gives when run in series order, and to what
//! `quilt push -a` gives. Both tools come from Debian's packages (.ci/run
//! installs them); a missing tool fails the test rather than skipping it.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn base_files() -> Vec<(&'static str, String)> {
    let mut big = String::new();
    for i in 1..=60 {
        big.push_str(&format!("line {i}\n"));
    }
    vec![
        ("lib/Series.pm", big),
        ("lib/Other.pm", "package Other;\nsub x { 1 }\n1;\n".into()),
        (
            "t/basic.t",
            "use Test::More;\nok(1);\ndone_testing;\n".into(),
        ),
    ]
}

/// A series of three patches: an edit near the top, an edit further down
/// made against a tree with extra lines (so it applies with an offset), and
/// a multi-file patch that also creates a file.
fn series() -> Vec<(&'static str, String)> {
    let files = base_files();
    let big = &files[0].1;
    let p1_new = big.replace("line 3\n", "line three\n");
    let p1 = udiff("lib/Series.pm", big, &p1_new);
    // p2 is made against a version of the file with 2 fewer lines at the
    // top, so the hunk lands at an offset of +2 on the real series state.
    let shifted_old = p1_new.replacen("line 1\nline 2\n", "", 1);
    let shifted_new = shifted_old.replace("line 40\n", "line forty\n");
    let p2 = udiff("lib/Series.pm", &shifted_old, &shifted_new);
    let other = &files[1].1;
    let p3 = format!(
        "{}{}",
        udiff(
            "lib/Other.pm",
            other,
            &other.replace("sub x { 1 }", "sub x { 2 }")
        ),
        "--- /dev/null\n+++ b/lib/New.pm\n@@ -0,0 +1,2 @@\n+package New;\n+1;\n"
    );
    vec![("S-1", p1), ("S-2", p2), ("S-3", p3)]
}

fn require(tool: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{tool} is required for this test (Debian package `{tool}`; .ci/run installs it)"
    );
}

fn run_in(dir: &Path, cmd: &mut Command) {
    let out = cmd.current_dir(dir).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn series_matches_gnu_patch_and_quilt() {
    require("patch");
    require("quilt");
    let env = TestEnv::new();
    let mut dist = DistBuilder::new("Series-Dist", "1.0").no_meta();
    for (p, c) in base_files() {
        dist = dist.file(p, &c);
    }
    let src = SourceBuilder::new(env.path("patches"));
    for (i, (id, patch)) in series().iter().enumerate() {
        src.record(RecordSpec {
            id,
            dist: "Series-Dist",
            versions: "1.0",
            patch,
            extra: &format!("order = {i}\n"),
        });
    }
    let tb = dist.tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    let ours: std::collections::BTreeMap<String, Vec<u8>> =
        tarball_files(&env.path("out/Series-Dist-1.0.tar.gz"))
            .into_iter()
            .filter(|(p, _)| !p.contains("/.patchkit/"))
            .map(|(p, (d, _))| (p.trim_start_matches("Series-Dist-1.0/").to_string(), d))
            .collect();

    // GNU patch, in series order, strict.
    let gnu = dist.unpack(&env.path("gnu"));
    for (id, _) in series() {
        run_in(
            &gnu,
            Command::new("patch")
                .args(["-p1", "--fuzz=0", "--no-backup-if-mismatch", "-s", "-i"])
                .arg(env.path(&format!("patches/Series-Dist/{id}.patch"))),
        );
    }
    // quilt, with a Debian-style series file.
    let q = dist.unpack(&env.path("quilt"));
    std::fs::create_dir_all(q.join("patches")).unwrap();
    let mut series_file = String::new();
    for (id, _) in series() {
        std::fs::copy(
            env.path(&format!("patches/Series-Dist/{id}.patch")),
            q.join(format!("patches/{id}.patch")),
        )
        .unwrap();
        series_file.push_str(&format!("{id}.patch\n"));
    }
    std::fs::write(q.join("patches/series"), series_file).unwrap();
    run_in(
        &q,
        Command::new("quilt")
            .args(["push", "-a", "-q", "--fuzz=0"])
            .env("QUILT_PATCHES", "patches"),
    );

    for (name, dir) in [("GNU patch", &gnu), ("quilt", &q)] {
        let theirs: std::collections::BTreeMap<String, Vec<u8>> = snapshot_dir(dir)
            .into_iter()
            .filter(|(p, _)| !p.starts_with("patches") && !p.starts_with(".pc"))
            .map(|(p, d)| (p.to_string_lossy().into_owned(), d))
            .collect();
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "file lists differ from {name}"
        );
        for (p, d) in &ours {
            assert_eq!(d, &theirs[p], "{p} differs from {name}");
        }
    }
    assert!(String::from_utf8_lossy(&ours["lib/Series.pm"]).contains("line forty"));
}
