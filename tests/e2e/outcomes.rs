//! Per-patch outcomes (docs/applying.md, "Per-patch outcomes"): a patch
//! fixed by other means (a distribution's patch naming the CVE with other
//! bytes; the identical code fix without the test file), skipped by
//! request, failed with `--partial`; the record names each with its reason,
//! and `audit` shows a fix by other means instead of MISSING. The Debian
//! flow runs real `dpkg-source -b` / `-x` on a 3.0 (quilt) package the test
//! builds; the MANIFEST test runs real `perl Makefile.PL && make distdir`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::cpan::{have, write};
use crate::support::*;

const VULN_PM: &str = "package Acme::Vuln;\nuse strict;\nour $VERSION = '1.0';\n\n\
sub run_cmd {\n    my ($arg) = @_;\n    return system(\"echo $arg\");\n}\n\n1;\n";
/// PK-0001's fix: the list form of system.
const VULN_PM_FIXED: &str = "package Acme::Vuln;\nuse strict;\nour $VERSION = '1.0';\n\n\
sub run_cmd {\n    my ($arg) = @_;\n    return system('echo', $arg);\n}\n\n1;\n";
/// Debian's own fix of the same flaw: other bytes.
const VULN_PM_DEBIAN: &str = "package Acme::Vuln;\nuse strict;\nour $VERSION = '1.0';\n\n\
sub run_cmd {\n    my ($arg) = @_;\n    die \"bad argument\\n\" if $arg =~ /[^\\w.-]/;\n    return system(\"echo $arg\");\n}\n\n1;\n";
const OTHER_PM: &str = "package Acme::Vuln::Other;\nuse strict;\n\nsub path {\n    my ($p) = @_;\n    return \"/tmp/$p\";\n}\n\n1;\n";
const OTHER_PM_FIXED: &str = "package Acme::Vuln::Other;\nuse strict;\n\nsub path {\n    my ($p) = @_;\n    $p =~ s{\\.\\./}{}g;\n    return \"/tmp/$p\";\n}\n\n1;\n";
const TEST_T: &str = "use Test::More tests => 1;\nuse Acme::Vuln;\nok(1, 'no shell');\n";
const MANIFEST: &str =
    "lib/Acme/Vuln.pm\nlib/Acme/Vuln/Other.pm\nMakefile.PL\nMANIFEST\nt/basic.t\n";
const MAKEFILE_PL: &str =
    "use ExtUtils::MakeMaker;\nWriteMakefile(NAME => 'Acme::Vuln', VERSION => '1.0');\n";

fn dist() -> DistBuilder {
    DistBuilder::new("Acme-Vuln", "1.0")
        .file("lib/Acme/Vuln.pm", VULN_PM)
        .file("lib/Acme/Vuln/Other.pm", OTHER_PM)
        .file("t/basic.t", "use Test::More tests => 1;\nok(1);\n")
        .file("Makefile.PL", MAKEFILE_PL)
        .file("MANIFEST", MANIFEST)
}

/// A diff that creates `path` with `content` (GNU diff -N output).
fn create_diff(path: &str, content: &str) -> String {
    let n = content.lines().count();
    let mut d = format!("--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{n} @@\n");
    for l in content.lines() {
        d.push('+');
        d.push_str(l);
        d.push('\n');
    }
    d
}

/// `patches/` with PK-0001 (CVE-2025-1111: the code fix and a new test)
/// and the independent PK-0002 (CVE-2025-2222, another file).
fn source(env: &TestEnv) {
    let dir = env.path("patches/Acme-Vuln");
    std::fs::create_dir_all(&dir).unwrap();
    let pk1 = format!(
        "{}{}",
        udiff("lib/Acme/Vuln.pm", VULN_PM, VULN_PM_FIXED),
        create_diff("t/cve-1111.t", TEST_T)
    );
    let pk2 = udiff("lib/Acme/Vuln/Other.pm", OTHER_PM, OTHER_PM_FIXED);
    for (id, cve, order, patch) in [
        ("PK-0001", "CVE-2025-1111", 1, pk1),
        ("PK-0002", "CVE-2025-2222", 2, pk2),
    ] {
        std::fs::write(
            dir.join(format!("{id}.toml")),
            format!(
                "id = \"{id}\"\ndist = \"Acme-Vuln\"\nversions = \"<= 1.0\"\npatch = \"{id}.patch\"\n\
                 title = \"Fix for {id}\"\naliases = [\"{cve}\"]\norder = {order}\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{id}.patch")), patch).unwrap();
    }
}

fn run(env: &TestEnv, args: &[&str], code: i32) -> Value {
    let mut all = vec![args[0], "--json", "--source", "patches"];
    all.extend_from_slice(&args[1..]);
    env.run_code(&all, code).json()
}

fn status<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["patches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} not reported: {t:#}"))
}

fn tool(cmd: &str, args: &[&str], cwd: &Path) -> Output {
    let mut c = Command::new(cmd);
    c.args(args);
    let out = run_cmd(c, cwd);
    assert_eq!(
        out.code, 0,
        "{cmd} {args:?}\n{}\n{}",
        out.stdout, out.stderr
    );
    out
}

/// A Debian 3.0 (quilt) source package of Acme-Vuln 1.0 whose series has
/// `debian_patch`, built with `dpkg-source -b` and unpacked again with
/// `dpkg-source -x` (patches applied, `.pc/` present), as a packager has
/// it. Returns (the package dir, the unpacked source tree).
fn debian_package(env: &TestEnv, debian_patch: &str) -> (PathBuf, PathBuf) {
    let pkg = env.path("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let orig = dist().tarball(&env.path("in"));
    std::fs::copy(&orig, pkg.join("libacme-vuln-perl_1.0.orig.tar.gz")).unwrap();
    let src = pkg.join("base");
    let top = dist().unpack(&src);
    write(&top.join("debian/source/format"), b"3.0 (quilt)\n");
    write(
        &top.join("debian/control"),
        b"Source: libacme-vuln-perl\nSection: perl\nPriority: optional\nMaintainer: A. Tester <tester@example.org>\nBuild-Depends: debhelper-compat (= 13)\nStandards-Version: 4.6.2\n\nPackage: libacme-vuln-perl\nArchitecture: all\nDepends: ${misc:Depends}, ${perl:Depends}\nDescription: a test dist\n a test dist\n",
    );
    write(
        &top.join("debian/changelog"),
        b"libacme-vuln-perl (1.0-1) unstable; urgency=medium\n\n  * Test package.\n\n -- A. Tester <tester@example.org>  Thu, 01 Jan 2026 00:00:00 +0000\n",
    );
    write(
        &top.join("debian/rules"),
        b"#!/usr/bin/make -f\n%:\n\tdh $@\n",
    );
    set_mode(&top.join("debian/rules"), 0o755);
    write(
        &top.join("debian/patches/fix-run-cmd.patch"),
        debian_patch.as_bytes(),
    );
    write(
        &top.join("debian/patches/series"),
        b"# Debian's own patches\nfix-run-cmd.patch\n",
    );
    std::fs::rename(&top, pkg.join("libacme-vuln-perl-1.0")).unwrap();
    tool("dpkg-source", &["-b", "libacme-vuln-perl-1.0"], &pkg);
    std::fs::remove_dir_all(pkg.join("libacme-vuln-perl-1.0")).unwrap();
    tool(
        "dpkg-source",
        &["-x", "libacme-vuln-perl_1.0-1.dsc", "unpacked"],
        &pkg,
    );
    let tree = pkg.join("unpacked");
    assert!(
        tree.join(".pc/applied-patches").is_file(),
        "dpkg-source -x applies the series"
    );
    (pkg, tree)
}

/// apply on the Debian tree, then audit it and rebuild it with dpkg-source;
/// returns apply's target report.
fn apply_audit_rebuild(env: &TestEnv, pkg: &Path, tree: &Path) -> Value {
    let doc = run(env, &["apply", tree.to_str().unwrap()], 0);
    let t = doc["targets"][0].clone();
    assert_eq!(status(&t, "PK-0002")["status"], "applied", "{t:#}");
    assert_eq!(
        t["quilt_patch"], "debian/patches/patchkit-Acme-Vuln-1.0.patch",
        "{t:#}"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("lib/Acme/Vuln/Other.pm")).unwrap(),
        OTHER_PM_FIXED
    );
    let series = std::fs::read_to_string(tree.join("debian/patches/series")).unwrap();
    assert_eq!(
        series,
        "# Debian's own patches\nfix-run-cmd.patch\npatchkit-Acme-Vuln-1.0.patch\n"
    );

    // The record names the outcome and its reason.
    let rec: Value =
        serde_json::from_slice(&std::fs::read(tree.join(".patchkit/applied.json")).unwrap())
            .unwrap();
    assert_eq!(rec["format"], 2, "{rec:#}");
    assert_eq!(rec["patches"][0]["id"], "PK-0002", "{rec:#}");
    assert_eq!(rec["outcomes"][0]["id"], "PK-0001", "{rec:#}");
    assert_eq!(
        rec["outcomes"][0]["status"], "fixed_by_other_means",
        "{rec:#}"
    );

    // audit: no MISSING, the fix by other means shown with its reason.
    let a = run(
        env,
        &["audit", "--fail-on", "missing", tree.to_str().unwrap()],
        0,
    );
    let d = &a["dists"][0];
    assert_eq!(d["missing"], serde_json::json!([]), "{a:#}");
    assert_eq!(d["fixed_otherwise"][0]["id"], "PK-0001", "{a:#}");
    assert_eq!(d["patches"][0]["status"], "genuine", "{a:#}");
    let text = env.run_ok(&["audit", "--source", "patches", tree.to_str().unwrap()]);
    assert!(
        text.stdout.contains("fixed by other means"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("MISSING"), "{}", text.stdout);

    // Real dpkg-source builds the result, and its unpacked source is the
    // tree apply made.
    std::fs::remove_file(pkg.join("libacme-vuln-perl_1.0-1.dsc")).unwrap();
    let dir_name = tree.file_name().unwrap().to_str().unwrap();
    tool("dpkg-source", &["-b", dir_name], pkg);
    tool(
        "dpkg-source",
        &["-x", "libacme-vuln-perl_1.0-1.dsc", "rebuilt"],
        pkg,
    );
    let strip = |m: std::collections::BTreeMap<PathBuf, Vec<u8>>| {
        m.into_iter()
            .filter(|(p, _)| !p.starts_with(".pc"))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert!(
        strip(snapshot_dir(&pkg.join("rebuilt"))) == strip(snapshot_dir(tree)),
        "the rebuilt source package differs from apply's tree"
    );
    // Applying again changes nothing.
    let before = snapshot_dir(tree);
    let again = run(env, &["apply", tree.to_str().unwrap()], 0);
    assert_eq!(
        again["targets"][0]["result"], "already_patched",
        "{again:#}"
    );
    assert!(
        snapshot_dir(tree) == before,
        "a second apply changed the tree"
    );
    t
}

#[test]
fn a_debian_patch_naming_the_cve_with_other_bytes_is_a_fix_by_other_means_and_dpkg_source_builds() {
    if !have("dpkg-source") {
        return;
    }
    let env = TestEnv::new();
    source(&env);
    let debian_patch = format!(
        "Description: refuse shell metacharacters in run_cmd\nAuthor: Debian Perl Group\n\
         Origin: vendor\nBug-Debian: https://bugs.debian.org/1234567\nCVE: CVE-2025-1111\n\
         Forwarded: not-needed\nLast-Update: 2026-01-01\n\n{}",
        udiff("lib/Acme/Vuln.pm", VULN_PM, VULN_PM_DEBIAN)
    );
    let (pkg, tree) = debian_package(&env, &debian_patch);
    let t = apply_audit_rebuild(&env, &pkg, &tree);
    let p1 = status(&t, "PK-0001");
    assert_eq!(p1["status"], "fixed_by_other_means", "{t:#}");
    assert_eq!(
        p1["reason"],
        "debian/patches/fix-run-cmd.patch (in debian/patches/series) names CVE-2025-1111 in \
         its CVE header",
        "{t:#}"
    );
    // Debian's bytes stay; ours were not forced on top.
    assert_eq!(
        std::fs::read_to_string(tree.join("lib/Acme/Vuln.pm")).unwrap(),
        VULN_PM_DEBIAN
    );
}

#[test]
fn a_debian_patch_with_the_identical_code_fix_but_no_test_is_a_fix_by_other_means() {
    if !have("dpkg-source") {
        return;
    }
    let env = TestEnv::new();
    source(&env);
    // No CVE header: only the content tells.
    let debian_patch = format!(
        "Description: use the list form of system\nOrigin: upstream\n\n{}",
        udiff("lib/Acme/Vuln.pm", VULN_PM, VULN_PM_FIXED)
    );
    let (pkg, tree) = debian_package(&env, &debian_patch);
    let t = apply_audit_rebuild(&env, &pkg, &tree);
    let p1 = status(&t, "PK-0001");
    assert_eq!(p1["status"], "fixed_by_other_means", "{t:#}");
    assert_eq!(
        p1["reason"],
        "the code already has the fixed content (lib/Acme/Vuln.pm); test t/cve-1111.t absent",
        "{t:#}"
    );
    assert!(!tree.join("t/cve-1111.t").exists());
}

#[test]
fn a_debian_directory_inside_a_tarball_is_not_evidence() {
    // Upstream's debian/ is upstream's word: only an unpacked source tree
    // (the packager's) counts.
    let env = TestEnv::new();
    source(&env);
    let debian_patch = format!(
        "Description: x\nCVE: CVE-2025-1111\n\n{}",
        udiff("lib/Acme/Vuln.pm", VULN_PM, VULN_PM_DEBIAN)
    );
    let tb = dist()
        .file("lib/Acme/Vuln.pm", VULN_PM_DEBIAN)
        .file("debian/source/format", "3.0 (quilt)\n")
        .file("debian/patches/series", "fix.patch\n")
        .file("debian/patches/fix.patch", &debian_patch)
        .tarball(&env.path("in"));
    let doc = run(&env, &["apply", "-o", "out", tb.to_str().unwrap()], 1);
    let t = &doc["targets"][0];
    assert_eq!(t["result"], "failed", "{t:#}");
    assert!(t["error"].as_str().unwrap().contains("PK-0001"), "{t:#}");
    assert!(!env.path("out/Acme-Vuln-1.0.tar.gz").exists());
}

#[test]
fn a_decoy_copy_of_the_fixed_code_with_the_test_absent_is_no_fix() {
    let env = TestEnv::new();
    source(&env);
    // The vulnerable line is still where the fix goes (one context line
    // changed so the patch does not apply); the fixed file sits after
    // __END__.
    let decoy = format!(
        "{}__END__\n{VULN_PM_FIXED}",
        VULN_PM.replace("my ($arg) = @_;", "my ($arg) = shift;")
    );
    let dir = dist()
        .file("lib/Acme/Vuln.pm", &decoy)
        .unpack(&env.path("in"));
    let doc = run(&env, &["apply", dir.to_str().unwrap()], 1);
    let t = &doc["targets"][0];
    assert_eq!(t["result"], "failed", "{t:#}");
    assert!(!dir.join(".patchkit").exists());
}

#[test]
fn skip_leaves_a_patch_out_records_why_and_audit_still_reports_it_missing() {
    let env = TestEnv::new();
    source(&env);
    let tb = dist().tarball(&env.path("in"));
    let doc = run(
        &env,
        &[
            "apply",
            "--skip",
            "PK-0001",
            "-o",
            "out",
            tb.to_str().unwrap(),
        ],
        0,
    );
    let t = &doc["targets"][0];
    assert_eq!(status(t, "PK-0001")["status"], "skipped", "{t:#}");
    assert_eq!(
        status(t, "PK-0001")["reason"],
        "skipped by request (--skip)"
    );
    assert_eq!(status(t, "PK-0002")["status"], "applied", "{t:#}");
    let out = env.path("out/Acme-Vuln-1.0.tar.gz");
    let files = tarball_files(&out);
    let rec: Value =
        serde_json::from_slice(&files["Acme-Vuln-1.0/.patchkit/applied.json"].0).unwrap();
    assert_eq!(rec["outcomes"][0]["status"], "skipped", "{rec:#}");
    assert_eq!(
        files["Acme-Vuln-1.0/lib/Acme/Vuln.pm"].0,
        VULN_PM.as_bytes()
    );

    // Missing by request is still missing: the gate sees it.
    let a = run(
        &env,
        &["audit", "--fail-on", "missing", out.to_str().unwrap()],
        1,
    );
    let m = &a["dists"][0]["missing"][0];
    assert_eq!(m["id"], "PK-0001", "{a:#}");
    assert_eq!(m["reason"], "skipped: skipped by request (--skip)", "{a:#}");

    // An alias names a patch too; check reports the same.
    let doc = run(
        &env,
        &["check", "--skip", "CVE-2025-2222", tb.to_str().unwrap()],
        0,
    );
    let t = &doc["targets"][0];
    assert_eq!(status(t, "PK-0002")["status"], "skipped", "{t:#}");
    assert_eq!(
        status(t, "PK-0002")["reason"],
        "skipped by request (--skip CVE-2025-2222)"
    );
    assert_eq!(status(t, "PK-0001")["status"], "would_apply", "{t:#}");
}

#[test]
fn the_config_skip_list_skips_like_skip_and_says_it_came_from_the_config() {
    let env = TestEnv::new();
    source(&env);
    let tb = dist().tarball(&env.path("in"));
    std::fs::create_dir_all(env.home()).unwrap();
    let config = env.home().join("config.toml");
    std::fs::write(&config, "[apply]\nskip = [\"PK-0001\"]\n").unwrap();
    let doc = run(&env, &["check", tb.to_str().unwrap()], 0);
    let t = &doc["targets"][0];
    assert_eq!(status(t, "PK-0001")["status"], "skipped", "{t:#}");
    assert_eq!(
        status(t, "PK-0001")["reason"],
        format!("skipped by request (config file {})", config.display()),
        "{t:#}"
    );
    assert_eq!(status(t, "PK-0002")["status"], "would_apply", "{t:#}");
    // The environment overrides the file.
    let mut cmd = Command::new(bin());
    cmd.env("PATCHKIT_APPLY_SKIP", "PK-0002")
        .arg("--home")
        .arg(env.home())
        .args([
            "check",
            "--json",
            "--source",
            "patches",
            tb.to_str().unwrap(),
        ]);
    let out = run_cmd(cmd, env.dir());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let t = &doc["targets"][0];
    assert_eq!(status(t, "PK-0001")["status"], "would_apply", "{t:#}");
    assert_eq!(
        status(t, "PK-0002")["reason"],
        "skipped by request (environment PATCHKIT_APPLY_SKIP)",
        "{t:#}"
    );
}

#[test]
fn partial_applies_the_independent_patches_and_records_the_failure() {
    let env = TestEnv::new();
    source(&env);
    // PK-0001's context is gone; PK-0002 is independent.
    let tb = dist()
        .file(
            "lib/Acme/Vuln.pm",
            &VULN_PM.replace("my ($arg) = @_;", "my ($arg) = shift;"),
        )
        .tarball(&env.path("in"));
    // Default: all or nothing.
    let doc = run(&env, &["apply", "-o", "out", tb.to_str().unwrap()], 1);
    assert_eq!(doc["targets"][0]["result"], "failed", "{doc:#}");
    assert!(!env.path("out/Acme-Vuln-1.0.tar.gz").exists());

    let doc = run(
        &env,
        &["apply", "--partial", "-o", "out", tb.to_str().unwrap()],
        1,
    );
    let t = &doc["targets"][0];
    assert_eq!(t["result"], "partial", "{t:#}");
    assert_eq!(status(t, "PK-0001")["status"], "failed", "{t:#}");
    assert!(
        status(t, "PK-0001")["reason"]
            .as_str()
            .unwrap()
            .contains("lib/Acme/Vuln.pm: hunk 1 context not found"),
        "{t:#}"
    );
    assert_eq!(status(t, "PK-0002")["status"], "applied", "{t:#}");
    assert!(t["error"].as_str().unwrap().contains("--partial"), "{t:#}");
    let out = env.path("out/Acme-Vuln-1.0.tar.gz");
    let files = tarball_files(&out);
    assert_eq!(
        files["Acme-Vuln-1.0/lib/Acme/Vuln/Other.pm"].0,
        OTHER_PM_FIXED.as_bytes()
    );
    let rec: Value =
        serde_json::from_slice(&files["Acme-Vuln-1.0/.patchkit/applied.json"].0).unwrap();
    assert_eq!(rec["outcomes"][0]["status"], "failed", "{rec:#}");
    let a = run(
        &env,
        &["audit", "--fail-on", "missing", out.to_str().unwrap()],
        1,
    );
    assert_eq!(a["dists"][0]["missing"][0]["id"], "PK-0001", "{a:#}");
    let text = env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "--partial",
            "-o",
            "out2",
            tb.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        text.stdout
            .contains("1 patch applied, 1 FAILED, the others written (--partial)"),
        "{}",
        text.stdout
    );
}

#[test]
fn audit_does_not_believe_a_recorded_fix_by_other_means_the_content_does_not_show() {
    // An upstream can ship any applied.json: one that calls PK-0001 fixed
    // by other means over vulnerable code stays MISSING.
    let env = TestEnv::new();
    source(&env);
    let forged = r#"{
  "format": 2,
  "tool": "patchkit 0.1.0",
  "dist": "Acme-Vuln",
  "version": "1.0",
  "patches": [],
  "outcomes": [
    {
      "id": "PK-0001",
      "title": "Fix for PK-0001",
      "aliases": ["CVE-2025-1111"],
      "patch_sha256": "00",
      "status": "fixed_by_other_means",
      "reason": "trust me"
    }
  ]
}
"#;
    let tb = dist()
        .file(".patchkit/applied.json", forged)
        .tarball(&env.path("in"));
    let a = run(
        &env,
        &["audit", "--fail-on", "missing", tb.to_str().unwrap()],
        1,
    );
    let d = &a["dists"][0];
    assert_eq!(d["fixed_otherwise"], serde_json::json!([]), "{a:#}");
    let m = d["missing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "PK-0001")
        .unwrap();
    assert!(
        m["reason"].as_str().unwrap().contains("not believed"),
        "{a:#}"
    );
}

#[test]
fn a_file_a_patch_adds_is_listed_in_manifest_and_make_distdir_keeps_it() {
    if !have("perl") || !have("make") {
        return;
    }
    let env = TestEnv::new();
    source(&env);
    let dir = dist().unpack(&env.path("in"));
    run(&env, &["apply", dir.to_str().unwrap()], 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("MANIFEST")).unwrap(),
        "lib/Acme/Vuln.pm\nlib/Acme/Vuln/Other.pm\nMakefile.PL\nMANIFEST\nt/basic.t\nt/cve-1111.t\n"
    );
    tool("perl", &["Makefile.PL"], &dir);
    tool("make", &["distdir"], &dir);
    let made = dir.join("Acme-Vuln-1.0");
    assert_eq!(
        std::fs::read_to_string(made.join("t/cve-1111.t")).unwrap(),
        TEST_T
    );
    assert_eq!(
        std::fs::read_to_string(made.join("lib/Acme/Vuln.pm")).unwrap(),
        VULN_PM_FIXED
    );
}

#[test]
fn a_patch_that_changes_debian_is_refused_in_a_debian_source_tree() {
    // A quilt patch may not change debian/ (dpkg-source refuses it).
    let env = TestEnv::new();
    let dir = env.path("patches/Acme-Vuln");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("PK-0009.toml"),
        "id = \"PK-0009\"\ndist = \"Acme-Vuln\"\nversions = \"<= 1.0\"\npatch = \"PK-0009.patch\"\n\
         title = \"x\"\naliases = [\"CVE-2025-9999\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("PK-0009.patch"),
        udiff(
            "debian/rules",
            "#!/usr/bin/make -f\n",
            "#!/usr/bin/make -f\n# x\n",
        ),
    )
    .unwrap();
    let tree = dist()
        .file("debian/source/format", "3.0 (quilt)\n")
        .file("debian/rules", "#!/usr/bin/make -f\n")
        .unpack(&env.path("in"));
    let before = snapshot_dir(&tree);
    let doc = run(&env, &["apply", tree.to_str().unwrap()], 1);
    let e = doc["targets"][0]["error"].as_str().unwrap().to_string();
    assert!(
        e.contains(
            "a patch changes debian/rules, which a Debian source tree's quilt patch may not change"
        ),
        "{doc:#}"
    );
    assert!(snapshot_dir(&tree) == before, "nothing written");
}

#[test]
fn config_defaults_for_partial_and_fail_on_hold_unless_a_flag_is_given() {
    let env = TestEnv::new();
    source(&env);
    std::fs::create_dir_all(env.home()).unwrap();
    std::fs::write(
        env.home().join("config.toml"),
        "[apply]\npartial = true\n[audit]\nfail_on = [\"missing\"]\n",
    )
    .unwrap();
    // PK-0001's context is gone: with the config's partial, PK-0002 is
    // still applied and the target is partial (exit 1 all the same).
    let tb = dist()
        .file(
            "lib/Acme/Vuln.pm",
            &VULN_PM.replace("my ($arg) = @_;", "my ($arg) = shift;"),
        )
        .tarball(&env.path("in"));
    let doc = run(&env, &["apply", "-o", "out", tb.to_str().unwrap()], 1);
    assert_eq!(doc["targets"][0]["result"], "partial", "{doc:#}");
    let out = env.path("out/Acme-Vuln-1.0.tar.gz");
    assert!(out.exists());

    // The config's fail_on makes the missing PK-0001 fail the audit…
    let a = run(&env, &["audit", out.to_str().unwrap()], 1);
    assert_eq!(a["dists"][0]["missing"][0]["id"], "PK-0001", "{a:#}");
    // …and a --fail-on on the command line replaces it.
    run(
        &env,
        &["audit", "--fail-on", "tampered", out.to_str().unwrap()],
        0,
    );

    // `patchkit config` says where each default came from.
    let shown = env.run_ok(&["config", "--json"]).json();
    let setting = |key: &str| {
        shown["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("no {key}: {shown:#}"))
            .clone()
    };
    assert_eq!(setting("apply.partial")["value"], "true");
    assert_eq!(setting("apply.partial")["source"], "config file");
    assert_eq!(setting("audit.fail_on")["value"], "[\"missing\"]");
    assert_eq!(setting("apply.fuzz")["source"], "default");

    // A finding the audit does not know is refused, naming file and key.
    std::fs::write(
        env.home().join("config.toml"),
        "[audit]\nfail_on = [\"misisng\"]\n",
    )
    .unwrap();
    let bad = env.run_code(&["config"], 2);
    assert!(
        bad.stderr.contains("config.toml") && bad.stderr.contains("audit.fail_on"),
        "{}",
        bad.stderr
    );
}

#[test]
fn vex_says_resolved_for_a_fix_by_other_means_and_how_it_is_known() {
    let env = TestEnv::new();
    source(&env);
    // Upstream already carries PK-0001's code fix (not its test).
    let tb = dist()
        .file("lib/Acme/Vuln.pm", VULN_PM_FIXED)
        .tarball(&env.path("in"));
    let doc = run(&env, &["apply", "-o", "out", tb.to_str().unwrap()], 0);
    let t = &doc["targets"][0];
    assert_eq!(
        status(t, "PK-0001")["status"],
        "fixed_by_other_means",
        "{t:#}"
    );
    let out = env.path("out/Acme-Vuln-1.0.tar.gz");
    let bom = run(&env, &["sbom", "--vex", out.to_str().unwrap()], 0);
    crate::vex::assert_valid(&bom, bom["specVersion"].as_str().unwrap());
    let vuln = |id: &str| {
        bom["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {bom:#}"))
            .clone()
    };
    let other = vuln("CVE-2025-1111");
    assert_eq!(other["analysis"]["state"], "resolved", "{other:#}");
    let detail = other["analysis"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("fixed by other means") && detail.contains("PK-0001"),
        "{detail}"
    );
    assert_eq!(
        vuln("CVE-2025-2222")["analysis"]["state"],
        "resolved_with_pedigree"
    );
}
