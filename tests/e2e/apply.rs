//! `patchkit apply`: tarballs and directories, several dists and patches,
//! offsets, git-style file operations, CRLF, missing final newlines,
//! already-applied input, conflicts, ranges, the record and the binding.

use crate::support::*;

const FOO_PM: &str = "package Foo;\nuse strict;\n\nsub load {\n    my ($file) = @_;\n    open(my $fh, $file) or die;\n    return <$fh>;\n}\n\nsub helper { 1 }\n\n1;\n";
const FOO_PM_FIXED: &str = "package Foo;\nuse strict;\n\nsub load {\n    my ($file) = @_;\n    open(my $fh, '<', $file) or die;\n    return <$fh>;\n}\n\nsub helper { 1 }\n\n1;\n";
const FOO_PM_FIXED2: &str = "package Foo;\nuse strict;\n\nsub load {\n    my ($file) = @_;\n    open(my $fh, '<', $file) or die;\n    return <$fh>;\n}\n\nsub helper { 2 }\n\n1;\n";

fn foo_dist(version: &str) -> DistBuilder {
    DistBuilder::new("Foo-Bar", version)
        .file("lib/Foo.pm", FOO_PM)
        .file("README", "Foo-Bar\n")
        .file(
            "Makefile.PL",
            "use ExtUtils::MakeMaker;\nWriteMakefile(NAME => 'Foo');\n",
        )
}

/// The two-patch series of Foo-Bar: the second builds on the first.
fn foo_source(env: &TestEnv) -> SourceBuilder {
    let src = SourceBuilder::new(env.path("patches"));
    src.record(RecordSpec {
        id: "PK-0002",
        dist: "Foo-Bar",
        versions: ">= 1.0, < 2",
        patch: &udiff("lib/Foo.pm", FOO_PM_FIXED, FOO_PM_FIXED2),
        extra: "order = 2\n",
    });
    src.record(RecordSpec {
        id: "PK-0001",
        dist: "Foo-Bar",
        versions: ">= 1.0, < 2",
        patch: &udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED),
        extra: "order = 1\n",
    });
    src
}

#[test]
fn applies_a_series_in_order_and_writes_the_record() {
    let env = TestEnv::new();
    foo_source(&env);
    let tb = foo_dist("1.5").tarball(&env.path("in"));
    let out = env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    assert!(out.stderr.contains("UNSIGNED"), "{}", out.stderr);
    assert!(out.stdout.contains("2 patches applied"), "{}", out.stdout);
    let files = tarball_files(&env.path("out/Foo-Bar-1.5.tar.gz"));
    assert_eq!(files["Foo-Bar-1.5/lib/Foo.pm"].0, FOO_PM_FIXED2.as_bytes());
    // The output is an ordinary file, not a private temporary one.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.path("out/Foo-Bar-1.5.tar.gz"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    // The record: applied.json lists both, in order, with the final sha256.
    let applied: serde_json::Value =
        serde_json::from_slice(&files["Foo-Bar-1.5/.patchkit/applied.json"].0).unwrap();
    let ids: Vec<&str> = applied["patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["PK-0001", "PK-0002"]);
    assert_eq!(
        applied["patches"][0]["files"][0]["sha256"]
            .as_str()
            .unwrap(),
        sha256(FOO_PM_FIXED2.as_bytes())
    );
    assert_eq!(
        files["Foo-Bar-1.5/.patchkit/patches/PK-0001.patch"].0,
        std::fs::read(env.path("patches/Foo-Bar/PK-0001.patch")).unwrap()
    );
    // x_patchkit in both META files, everything else kept.
    let meta: serde_json::Value =
        serde_json::from_slice(&files["Foo-Bar-1.5/META.json"].0).unwrap();
    assert_eq!(meta["x_patchkit"]["applied"][1]["id"], "PK-0002");
    assert_eq!(meta["version"], "1.5");
    let yml = String::from_utf8(files["Foo-Bar-1.5/META.yml"].0.clone()).unwrap();
    assert!(yml.starts_with("---\nabstract: 'test dist'\n"), "{yml}");
    assert!(yml.contains("x_patchkit:\n"), "{yml}");
    // Untouched files keep their bytes.
    assert_eq!(files["Foo-Bar-1.5/README"].0, b"Foo-Bar\n");
}

#[test]
fn several_dists_in_one_call_each_get_a_line() {
    let env = TestEnv::new();
    foo_source(&env);
    let dir = env.path("in");
    let a = foo_dist("1.0").tarball(&dir);
    let b = foo_dist("2.0").tarball(&dir); // outside the range
    let c = DistBuilder::new("Other", "0.01")
        .file("lib/Other.pm", "1;\n")
        .tarball(&dir);
    let out = env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    ]);
    let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    // Each line names the target as given (here an absolute path).
    let starts = |line: &str, path: &std::path::Path, rest: &str| {
        assert!(
            line.starts_with(&format!("{}: {rest}", path.display())),
            "{line}"
        );
    };
    starts(lines[0], &a, "Foo-Bar 1.0: 2 patches applied");
    starts(lines[1], &b, "Foo-Bar 2.0: no patches match");
    starts(lines[2], &c, "Other 0.01: no patches match");
    // Unmatched tarballs are copied unchanged so the build finds them.
    assert_eq!(
        std::fs::read(env.path("out/Foo-Bar-2.0.tar.gz")).unwrap(),
        std::fs::read(&b).unwrap()
    );
    assert_eq!(
        std::fs::read(env.path("out/Other-0.01.tar.gz")).unwrap(),
        std::fs::read(&c).unwrap()
    );
}

#[test]
fn one_failure_does_not_stop_the_others_and_sets_the_status() {
    let env = TestEnv::new();
    foo_source(&env);
    let dir = env.path("in");
    let bad = DistBuilder::new("Foo-Bar", "1.1")
        .file("lib/Foo.pm", "package Foo;\n# rewritten upstream\n1;\n")
        .tarball(&dir);
    let good = foo_dist("1.2").tarball(&dir);
    let out = env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "-o",
            "out",
            "--json",
            bad.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        1,
    );
    let doc = out.json();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["targets"][0]["result"], "failed");
    assert_eq!(doc["targets"][1]["result"], "patched");
    let err = doc["targets"][0]["error"].as_str().unwrap();
    assert!(
        err.contains("Foo-Bar-1.1.tar.gz")
            && err.contains("PK-0001")
            && err.contains("lib/Foo.pm")
            && err.contains("hunk 1"),
        "{err}"
    );
    assert!(out.stderr.contains("PK-0001"), "{}", out.stderr);
    assert!(
        !env.path("out/Foo-Bar-1.1.tar.gz").exists(),
        "a failed target must write nothing"
    );
    assert!(env.path("out/Foo-Bar-1.2.tar.gz").exists());
}

#[test]
fn a_conflicting_second_patch_writes_nothing() {
    let env = TestEnv::new();
    let src = SourceBuilder::new(env.path("patches"));
    src.record(RecordSpec {
        id: "PK-1",
        dist: "Foo-Bar",
        versions: "1.0",
        patch: &udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED),
        extra: "",
    });
    // PK-2 expects content that is not there after PK-1.
    src.record(RecordSpec {
        id: "PK-2",
        dist: "Foo-Bar",
        versions: "1.0",
        patch: &udiff(
            "lib/Foo.pm",
            FOO_PM,
            &FOO_PM.replace("open(my $fh, $file)", "open(my $fh, '<:raw', $file)"),
        ),
        extra: "order = 1\n",
    });
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    let before = std::fs::read(&tb).unwrap();
    let out = env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "-o",
            "out",
            tb.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        out.stderr.contains("PK-2") && out.stderr.contains("lib/Foo.pm"),
        "{}",
        out.stderr
    );
    assert!(!env.path("out/Foo-Bar-1.0.tar.gz").exists());
    assert_eq!(std::fs::read(&tb).unwrap(), before);
}

#[test]
fn applying_twice_says_already_applied_and_changes_nothing() {
    let env = TestEnv::new();
    foo_source(&env);
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out1",
        tb.to_str().unwrap(),
    ]);
    let once = env.path("out1/Foo-Bar-1.0.tar.gz");
    let out = env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out2",
        once.to_str().unwrap(),
    ]);
    assert!(
        out.stdout.contains("already carries every matching patch"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches("already applied").count(),
        2,
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(&once).unwrap(),
        std::fs::read(env.path("out2/Foo-Bar-1.0.tar.gz")).unwrap()
    );
}

#[test]
fn a_fix_already_present_upstream_is_detected_by_reverse_application() {
    let env = TestEnv::new();
    foo_source(&env);
    // Upstream (or a distro) already carries PK-0001's change, without our record.
    let tb = DistBuilder::new("Foo-Bar", "1.3")
        .file("lib/Foo.pm", FOO_PM_FIXED)
        .tarball(&env.path("in"));
    let out = env.run_ok(&[
        "check",
        "--source",
        "patches",
        "--json",
        tb.to_str().unwrap(),
    ]);
    let doc = out.json();
    assert_eq!(doc["targets"][0]["patches"][0]["status"], "already_applied");
    assert_eq!(doc["targets"][0]["patches"][1]["status"], "would_apply");
}

#[test]
fn output_is_deterministic_and_keeps_unchanged_members() {
    let env = TestEnv::new();
    foo_source(&env);
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "a",
        tb.to_str().unwrap(),
    ]);
    // A different time zone and a second run must not change a byte.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_patchkit"));
    cmd.args([
        "--home",
        env.home().to_str().unwrap(),
        "apply",
        "--source",
        "patches",
        "-o",
        "b",
        tb.to_str().unwrap(),
    ])
    .env("TZ", "Pacific/Kiritimati");
    assert_eq!(run_cmd(cmd, env.dir()).code, 0);
    let a = std::fs::read(env.path("a/Foo-Bar-1.0.tar.gz")).unwrap();
    assert_eq!(a, std::fs::read(env.path("b/Foo-Bar-1.0.tar.gz")).unwrap());
    // Members the patches did not change keep their exact headers, in order.
    let before = tarball_headers(&tb);
    let after = tarball_headers(&env.path("a/Foo-Bar-1.0.tar.gz"));
    let kept: Vec<_> = after
        .iter()
        .filter(|(p, _)| before.iter().any(|(q, _)| q == p))
        .collect();
    assert_eq!(kept.len(), before.len());
    for ((p, h), (q, g)) in before.iter().zip(kept) {
        assert_eq!(p, q, "member order changed");
        if !p.ends_with("lib/Foo.pm") && !p.contains("META.") {
            assert_eq!(h, g, "header of {p} changed");
        }
    }
    // New members take their metadata from the top directory, not the clock.
    let (_, rec) = after
        .iter()
        .find(|(p, _)| p.ends_with(".patchkit/applied.json"))
        .unwrap();
    let hdr = tar::Header::from_byte_slice(rec);
    assert_eq!(hdr.mtime().unwrap(), 1_700_000_000);
    assert_eq!(hdr.uid().unwrap(), 1000);
}

#[test]
fn git_style_new_deleted_renamed_and_mode_changes() {
    let env = TestEnv::new();
    let patch = "\
Description: restructure
diff --git a/lib/Old.pm b/lib/New.pm
similarity index 100%
rename from lib/Old.pm
rename to lib/New.pm
diff --git a/t/gone.t b/t/gone.t
deleted file mode 100644
--- a/t/gone.t
+++ /dev/null
@@ -1,2 +0,0 @@
-use Test::More;
-ok(1);
diff --git a/t/new.t b/t/new.t
new file mode 100755
--- /dev/null
+++ b/t/new.t
@@ -0,0 +1,2 @@
+use Test::More;
+ok(2);
diff --git a/script/run b/script/run
old mode 100644
new mode 100755
";
    SourceBuilder::new(env.path("patches")).add("PK-GIT", "Git-Ops", "0.1", patch);
    let tb = DistBuilder::new("Git-Ops", "0.1")
        .file("lib/Old.pm", "package Old;\n1;\n")
        .file("t/gone.t", "use Test::More;\nok(1);\n")
        .file("script/run", "#!/usr/bin/perl\n")
        .tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    let files = tarball_files(&env.path("out/Git-Ops-0.1.tar.gz"));
    assert!(!files.contains_key("Git-Ops-0.1/lib/Old.pm"));
    assert_eq!(files["Git-Ops-0.1/lib/New.pm"].0, b"package Old;\n1;\n");
    assert!(!files.contains_key("Git-Ops-0.1/t/gone.t"));
    assert_eq!(
        files["Git-Ops-0.1/t/new.t"],
        (b"use Test::More;\nok(2);\n".to_vec(), 0o755)
    );
    assert_eq!(files["Git-Ops-0.1/script/run"].1 & 0o777, 0o755);
}

#[test]
fn crlf_files_and_missing_final_newlines_survive() {
    let env = TestEnv::new();
    let old_crlf = "line one\r\nline two\r\nline three\r\n";
    let new_crlf = "line one\r\nline 2\r\nline three\r\n";
    let old_nonl = "alpha\nbeta";
    let new_nonl = "alpha\nBETA";
    let patch = format!(
        "{}{}",
        udiff("win.txt", old_crlf, new_crlf),
        udiff("nonl.txt", old_nonl, new_nonl)
    );
    SourceBuilder::new(env.path("patches")).add("PK-EOL", "Eol-Dist", "1", &patch);
    let tb = DistBuilder::new("Eol-Dist", "1.00")
        .file("win.txt", old_crlf)
        .file("nonl.txt", old_nonl)
        .tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    let files = tarball_files(&env.path("out/Eol-Dist-1.00.tar.gz"));
    assert_eq!(files["Eol-Dist-1.00/win.txt"].0, new_crlf.as_bytes());
    assert_eq!(files["Eol-Dist-1.00/nonl.txt"].0, new_nonl.as_bytes());
}

#[test]
fn offsets_are_reported_and_fuzz_needs_asking() {
    let env = TestEnv::new();
    let shifted = format!("# a comment\n# another\n# and a third\n{FOO_PM}");
    SourceBuilder::new(env.path("patches")).add(
        "PK-OFF",
        "Foo-Bar",
        "0",
        &udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED),
    );
    let tb = DistBuilder::new("Foo-Bar", "1.0")
        .file("lib/Foo.pm", &shifted)
        .tarball(&env.path("in"));
    let out = env.run_ok(&[
        "check",
        "--source",
        "patches",
        "--json",
        tb.to_str().unwrap(),
    ]);
    let hunk = &out.json()["targets"][0]["patches"][0]["moved_hunks"][0];
    assert_eq!(hunk["offset"], 3);
    assert_eq!(hunk["fuzz"], 0);
    let text = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(
        text.stdout.contains("lib/Foo.pm hunk 1 offset +3"),
        "{}",
        text.stdout
    );

    // A changed first context line needs fuzz 1.
    let drifted = FOO_PM.replace("use strict;\n\nsub load", "use strict;\n# drift\nsub load");
    let tb2 = DistBuilder::new("Foo-Bar", "1.1")
        .file("lib/Foo.pm", &drifted)
        .tarball(&env.path("in"));
    env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "-o",
            "strict",
            tb2.to_str().unwrap(),
        ],
        1,
    );
    assert!(!env.path("strict/Foo-Bar-1.1.tar.gz").exists());
    let fuzzed = env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "--fuzz",
        "1",
        "-o",
        "fuzzy",
        "--json",
        tb2.to_str().unwrap(),
    ]);
    assert_eq!(
        fuzzed.json()["targets"][0]["patches"][0]["moved_hunks"][0]["fuzz"],
        1
    );
}

#[test]
fn directories_are_patched_in_place_all_or_nothing() {
    let env = TestEnv::new();
    foo_source(&env);
    let dir = foo_dist("1.0").unpack(&env.path("build"));
    env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(dir.join("lib/Foo.pm")).unwrap(),
        FOO_PM_FIXED2
    );
    assert!(dir.join(".patchkit/applied.json").exists());
    // Again: already applied, nothing changes.
    let before = snapshot_dir(&dir);
    let out = env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);
    assert!(out.stdout.contains("already"), "{}", out.stdout);
    assert_eq!(snapshot_dir(&dir), before);
    // A failing dir is left exactly as it was.
    let bad = DistBuilder::new("Foo-Bar", "1.1")
        .file("lib/Foo.pm", "other\n")
        .unpack(&env.path("build"));
    let before = snapshot_dir(&bad);
    env.run_code(&["apply", "--source", "patches", bad.to_str().unwrap()], 1);
    assert_eq!(snapshot_dir(&bad), before);
}

#[test]
fn the_binding_to_reviewed_output_is_enforced() {
    let env = TestEnv::new();
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    let input_sha = sha256(&std::fs::read(&tb).unwrap());
    let patch = udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED);
    // First learn the real digest from check, then record it.
    SourceBuilder::new(env.path("p1")).add("PK-B", "Foo-Bar", "1.0", &patch);
    let digest = env
        .run_ok(&["check", "--source", "p1", "--json", tb.to_str().unwrap()])
        .json()["targets"][0]["tree_digest"]
        .as_str()
        .unwrap()
        .to_string();
    let good = format!("[[tested]]\nsha256 = \"{input_sha}\"\npatched_tree = \"{digest}\"\n");
    SourceBuilder::new(env.path("p2")).record(RecordSpec {
        id: "PK-B",
        dist: "Foo-Bar",
        versions: "1.0",
        patch: &patch,
        extra: &good,
    });
    let out = env.run_ok(&["apply", "--source", "p2", "-o", "ok", tb.to_str().unwrap()]);
    assert!(
        out.stdout.contains("output matches the reviewed tree"),
        "{}",
        out.stdout
    );
    // A record whose reviewed digest differs: refused with status 3.
    let bad = format!(
        "[[tested]]\nsha256 = \"{input_sha}\"\npatched_tree = \"{}\"\n",
        "0".repeat(64)
    );
    SourceBuilder::new(env.path("p3")).record(RecordSpec {
        id: "PK-B",
        dist: "Foo-Bar",
        versions: "1.0",
        patch: &patch,
        extra: &bad,
    });
    let out = env.run_code(
        &["apply", "--source", "p3", "-o", "bad", tb.to_str().unwrap()],
        3,
    );
    assert!(
        out.stderr.contains("PK-B") && out.stderr.contains("reviewed"),
        "{}",
        out.stderr
    );
    assert!(!env.path("bad/Foo-Bar-1.0.tar.gz").exists());
}

#[test]
fn withdrawn_records_are_not_applied_and_check_says_why() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).record(RecordSpec {
        id: "PK-W", dist: "Foo-Bar", versions: "1.0",
        patch: &udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED),
        extra: "withdrawn = { date = \"2026-01-02\", reason = \"upstream 1.01 fixes it differently\" }\n",
    });
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    let out = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("no patches match"), "{}", out.stdout);
    assert!(
        out.stdout.contains("PK-W") && out.stdout.contains("upstream 1.01 fixes it differently"),
        "{}",
        out.stdout
    );
}

#[test]
fn apply_is_logged_in_the_home() {
    let env = TestEnv::new();
    foo_source(&env);
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    let log = std::fs::read_to_string(env.home().join("log.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(entry["result"], "applied");
    assert_eq!(entry["dist"], "Foo-Bar-1.0");
    assert_eq!(entry["input_sha256"], sha256(&std::fs::read(&tb).unwrap()));
    assert_eq!(
        entry["output_sha256"],
        sha256(&std::fs::read(env.path("out/Foo-Bar-1.0.tar.gz")).unwrap())
    );
}

#[test]
fn meta_yml_stays_readable_by_the_toolchain() {
    let env = TestEnv::new();
    foo_source(&env);
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    let files = tarball_files(&env.path("out/Foo-Bar-1.0.tar.gz"));
    let dir = env.path("meta");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("META.yml"), &files["Foo-Bar-1.0/META.yml"].0).unwrap();
    std::fs::write(dir.join("META.json"), &files["Foo-Bar-1.0/META.json"].0).unwrap();
    // CPAN::Meta (core perl) must load both and see x_patchkit.
    let script = "use CPAN::Meta; for my $f (qw(META.yml META.json)) { my $m = CPAN::Meta->load_file($f); \
                  my $x = $m->custom('x_patchkit') or die qq{no x_patchkit in $f}; \
                  print $f, ' ', $m->version, ' ', join(',', map { $_->{id} } @{$x->{applied}}), qq{\\n}; }";
    let mut cmd = std::process::Command::new("perl");
    cmd.args(["-e", script]);
    let out = run_cmd(cmd, &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "META.yml 1.0 PK-0001,PK-0002\nMETA.json 1.0 PK-0001,PK-0002\n"
    );
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn the_binding_of_a_later_patch_is_checked_on_that_patch_alone() {
    // Two independent patches; the second lists a reviewed digest, which is
    // of the pristine tarball with *that* patch alone (docs/formats.md).
    let env = TestEnv::new();
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    let input_sha = sha256(&std::fs::read(&tb).unwrap());
    let first = udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED);
    let second = udiff("README", "Foo-Bar\n", "Foo-Bar, patched\n");
    SourceBuilder::new(env.path("alone")).add("PK-2", "Foo-Bar", "1.0", &second);
    let alone = env
        .run_ok(&["check", "--source", "alone", "--json", tb.to_str().unwrap()])
        .json()["targets"][0]["tree_digest"]
        .as_str()
        .unwrap()
        .to_string();
    for (dir, digest, code) in [("good", alone.as_str(), 0), ("bad", &"0".repeat(64)[..], 3)] {
        let src = SourceBuilder::new(env.path(dir));
        src.record(RecordSpec {
            id: "PK-1",
            dist: "Foo-Bar",
            versions: "1.0",
            patch: &first,
            extra: "order = 1\n",
        });
        let tested = format!(
            "order = 2\n[[tested]]\nsha256 = \"{input_sha}\"\npatched_tree = \"{digest}\"\n"
        );
        src.record(RecordSpec {
            id: "PK-2",
            dist: "Foo-Bar",
            versions: "1.0",
            patch: &second,
            extra: &tested,
        });
        let out = env.run_code(
            &[
                "apply",
                "--source",
                dir,
                "-o",
                &format!("out-{dir}"),
                "--json",
                tb.to_str().unwrap(),
            ],
            code,
        );
        let t = &out.json()["targets"][0];
        if code == 0 {
            assert_eq!(t["patches"][1]["binding_checked"], true, "{t:#}");
            assert_ne!(
                t["tree_digest"].as_str().unwrap(),
                alone,
                "the series differs from PK-2 alone"
            );
        } else {
            assert!(t["error"].as_str().unwrap().contains("PK-2"), "{t:#}");
            assert!(!env.path(&format!("out-{dir}/Foo-Bar-1.0.tar.gz")).exists());
        }
    }
}
