//! `audit` of libraries that real installers filled without install
//! metadata: `cpanm ./file.tar.gz` (cpanm writes `.meta/` only for dists it
//! resolved from an index) and CPAN.pm (which never does). The dists are
//! found by their `.packlist` and `perllocal.pod`, or by their modules'
//! content (the `[[tested]]` `files` hashes that `lint --record-results`
//! writes); a module nothing accounts for is reported unknown.
//!
//! No network: cpanm installs local files, CPAN.pm reads a `file://`
//! mirror the test lays out.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::cpan::{
    cpan_pm_config, cpan_pm_install, dep_dist, have, isolate, perl_add, upstream, BUGGY_PM,
    FIXED_PM,
};
use crate::support::*;

/// Acme-Buggy 1.0 without prerequisites: `add` subtracts.
fn lone_buggy() -> DistBuilder {
    let strip_dep = |s: &str| s.replace("use Acme::Dep;\n", "");
    DistBuilder::new("Acme-Buggy", "1.0")
        .file("lib/Acme/Buggy.pm", &strip_dep(BUGGY_PM))
        .file(
            "Makefile.PL",
            "use strict;\nuse ExtUtils::MakeMaker;\nWriteMakefile(\n    NAME => 'Acme::Buggy',\n    VERSION_FROM => 'lib/Acme/Buggy.pm',\n);\n",
        )
        .file("MANIFEST", "MANIFEST\nMakefile.PL\nlib/Acme/Buggy.pm\n")
        .no_meta()
}

/// The fix, recorded with `lint --against --record-results` on the
/// pristine tarball (so the record knows the module's sha256 before and
/// after), and the patched tarball `apply` makes.
fn fix_and_tarballs(
    env: &TestEnv,
    dist: &DistBuilder,
    pm_old: &str,
    pm_new: &str,
) -> (PathBuf, PathBuf) {
    SourceBuilder::new(env.path("patches")).add(
        "PK-2026-0001",
        "Acme-Buggy",
        "<= 1.0",
        &udiff("lib/Acme/Buggy.pm", pm_old, pm_new),
    );
    let pristine = dist.tarball(&env.path("upstream"));
    let out = env.run_ok(&[
        "lint",
        "--source",
        "patches",
        "--against",
        "upstream",
        "--record-results",
    ]);
    assert!(out.stdout.contains("[recorded]"), "{}", out.stdout);
    let record = std::fs::read_to_string(env.path("patches/Acme-Buggy/PK-2026-0001.toml")).unwrap();
    assert!(
        record.contains("before = ") && record.contains("after = "),
        "{record}"
    );
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "patched",
        pristine.to_str().unwrap(),
    ]);
    (pristine, env.path("patched/Acme-Buggy-1.0.tar.gz"))
}

/// `cpanm --notest -L LIB ./TARBALL`: no index, so no `.meta/`.
fn cpanm_file(env: &TestEnv, tarball: &Path, lib: &Path) {
    let mut cmd = Command::new("cpanm");
    cmd.args(["--notest", "-L"])
        .arg(lib)
        .arg(tarball)
        .env("PERL_CPANM_HOME", env.path("cpanm-home"));
    isolate(&mut cmd, env);
    let out = run_cmd(cmd, env.dir());
    assert_eq!(out.code, 0, "cpanm failed\n{}\n{}", out.stdout, out.stderr);
}

fn audit_json(env: &TestEnv, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = vec!["audit", "--json", "--source", "patches"];
    all.extend_from_slice(args);
    env.run_code(&all, code).json()
}

fn buggy(doc: &serde_json::Value) -> &serde_json::Value {
    doc["dists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dist"] == "Acme-Buggy")
        .unwrap_or_else(|| panic!("no Acme-Buggy in {doc:#}"))
}

/// Every file below `dir` whose name is `name`.
fn remove_named(dir: &Path, name: &str) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            remove_named(&p, name);
        } else if e.file_name() == name {
            std::fs::remove_file(&p).unwrap();
        }
    }
}

#[test]
fn cpanm_from_a_file_vulnerable_is_missing_and_patched_is_genuine() {
    if !have("cpanm") {
        return;
    }
    let env = TestEnv::new();
    let dist = lone_buggy();
    let old = BUGGY_PM.replace("use Acme::Dep;\n", "");
    let new = FIXED_PM.replace("use Acme::Dep;\n", "");
    let (pristine, patched) = fix_and_tarballs(&env, &dist, &old, &new);

    // The vulnerable dist: found by its packlist, the fix MISSING.
    let vuln = env.path("vuln");
    cpanm_file(&env, &pristine, &vuln);
    assert_eq!(perl_add(&vuln.join("lib/perl5")), "-1");
    assert!(
        !vuln
            .join("lib/perl5")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.path().join(".meta").exists()),
        "cpanm wrote no .meta/ for a file install"
    );
    let out = env.run_code(
        &[
            "audit",
            "--source",
            "patches",
            "--fail-on",
            "missing",
            "vuln",
        ],
        1,
    );
    assert!(
        out.stdout.contains("PK-2026-0001") && out.stdout.contains("MISSING"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("auto/Acme/Buggy/.packlist"),
        "{}",
        out.stdout
    );
    let doc = audit_json(&env, &["--fail-on", "missing", "vuln"], 1);
    let d = buggy(&doc);
    assert_eq!(d["found_by"], "packlist", "{d:#}");
    assert_eq!(d["version"], "1.0", "perllocal.pod's version: {d:#}");
    assert_eq!(d["missing"][0]["id"], "PK-2026-0001", "{d:#}");
    // The library root itself is the same library, never one damaged dist.
    let doc = audit_json(&env, &["--fail-on", "missing", "vuln/lib/perl5"], 1);
    assert_eq!(doc["summary"]["dists"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["damaged"], 0, "{doc:#}");

    // The patched dist: the installed module carries the fix: genuine.
    let fixed = env.path("fixed");
    cpanm_file(&env, &patched, &fixed);
    assert_eq!(perl_add(&fixed.join("lib/perl5")), "5");
    let doc = audit_json(&env, &["--fail-on", "missing,unknown,damaged", "fixed"], 0);
    let d = buggy(&doc);
    assert_eq!(d["patches"][0]["id"], "PK-2026-0001", "{d:#}");
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
    assert_eq!(d["patches"][0]["by_content"], true, "{d:#}");
    assert_eq!(d["findings"], serde_json::json!([]), "{d:#}");
    assert_eq!(doc["summary"]["unattributed"], 0, "{doc:#}");

    // Without packlist and perllocal.pod, the content alone tells both:
    // the module is byte for byte the tested tarball's, before or after.
    for lib in [&vuln, &fixed] {
        remove_named(lib, ".packlist");
        remove_named(lib, "perllocal.pod");
    }
    let doc = audit_json(&env, &["--fail-on", "missing", "vuln"], 1);
    let d = buggy(&doc);
    assert_eq!(d["found_by"], "content", "{d:#}");
    assert_eq!(d["missing"][0]["id"], "PK-2026-0001", "{d:#}");
    assert!(
        d["warnings"].to_string().contains("before PK-2026-0001"),
        "{d:#}"
    );
    let doc = audit_json(&env, &["--fail-on", "missing", "fixed"], 0);
    let d = buggy(&doc);
    assert_eq!(d["found_by"], "content", "{d:#}");
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
}

#[test]
fn a_module_no_dist_accounts_for_is_unknown_and_can_fail_the_gate() {
    if !have("cpanm") {
        return;
    }
    let env = TestEnv::new();
    let dist = lone_buggy();
    let old = BUGGY_PM.replace("use Acme::Dep;\n", "");
    let new = FIXED_PM.replace("use Acme::Dep;\n", "");
    let (_, patched) = fix_and_tarballs(&env, &dist, &old, &new);
    let lib = env.path("local");
    cpanm_file(&env, &patched, &lib);
    // Copied in by hand: no packlist, no metadata, content nobody knows.
    std::fs::create_dir_all(lib.join("lib/perl5/Stray")).unwrap();
    std::fs::write(
        lib.join("lib/perl5/Stray/Thing.pm"),
        "package Stray::Thing;\n1;\n",
    )
    .unwrap();
    // Reported, counted, but not failing unless asked.
    let out = env.run_code(
        &[
            "audit",
            "--source",
            "patches",
            "--fail-on",
            "missing",
            "local",
        ],
        0,
    );
    assert!(
        out.stdout.contains("Stray/Thing.pm") && out.stdout.contains("UNKNOWN"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("1 unattributed module file"),
        "{}",
        out.stdout
    );
    let doc = audit_json(&env, &["--fail-on", "unknown", "local"], 1);
    assert_eq!(doc["failing"], serde_json::json!(["unknown"]), "{doc:#}");
    assert_eq!(doc["summary"]["unattributed"], 1, "{doc:#}");
    assert_eq!(
        doc["libraries"][0]["unattributed"][0]["path"], "Stray/Thing.pm",
        "{doc:#}"
    );
    assert_eq!(buggy(&doc)["findings"], serde_json::json!([]), "{doc:#}");
    // sbom, sharing the discovery, names it too.
    let out = env.run(&["sbom", "--source", "patches", "local"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Stray/Thing.pm"), "{}", out.stderr);
    assert!(
        out.stdout.contains("pkg:cpan/Acme-Buggy@1.0"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_empty_library_is_never_silent() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add(
        "PK-2026-0001",
        "Acme-Buggy",
        "<= 1.0",
        &udiff("lib/Acme/Buggy.pm", "a\n", "b\n"),
    );
    std::fs::create_dir_all(env.path("site_perl")).unwrap();
    let out = env.run_code(&["audit", "--source", "patches", "site_perl"], 0);
    assert!(
        out.stderr
            .contains("no installed distribution and no module found"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stdout.contains("damaged\n") || out.stdout.contains("0 damaged"),
        "{}",
        out.stdout
    );
}

#[test]
fn cpan_pm_installs_of_a_vulnerable_dist_are_missing_in_the_library() {
    if !have("cpan") {
        return;
    }
    let env = TestEnv::new();
    let dist = crate::support::cpan::buggy_dist();
    let (_, _) = fix_and_tarballs(&env, &dist, BUGGY_PM, FIXED_PM);
    let mirror = upstream(
        &env.path("mirror"),
        &[(dist, &["Acme::Buggy"]), (dep_dist(), &["Acme::Dep"])],
    );
    let lib = env.path("inst");
    let conf = env.path("cpan-home");
    cpan_pm_config(&conf, &format!("file://{}/", mirror.display()), &lib, None);
    let out = cpan_pm_install(&env, &conf, "Acme::Buggy");
    assert_eq!(
        out.code, 0,
        "CPAN.pm failed\n{}\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(perl_add(&lib.join("lib/perl5")), "-1", "the upstream bug");
    for path in ["inst", "inst/lib/perl5"] {
        let out = env.run_code(
            &["audit", "--source", "patches", "--fail-on", "missing", path],
            1,
        );
        assert!(
            out.stdout.contains("PK-2026-0001") && out.stdout.contains("MISSING"),
            "{}",
            out.stdout
        );
        let doc = audit_json(&env, &[path], 0);
        assert_eq!(buggy(&doc)["found_by"], "packlist", "{doc:#}");
        assert_eq!(
            doc["summary"]["dists"], 2,
            "Acme-Buggy and Acme-Dep: {doc:#}"
        );
        assert_eq!(doc["summary"]["damaged"], 0, "{doc:#}");
        assert_eq!(doc["summary"]["unattributed"], 0, "{doc:#}");
    }
}
