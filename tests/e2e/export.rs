//! `export distroprefs` and `export quilt`, checked by the real tools:
//! CPAN.pm applies the exported distroprefs while it installs from an
//! unpatched mirror, and `quilt push -a` applies the exported series to an
//! unpacked orig tarball that `dpkg-source -b` then builds. Either way the
//! tree is the one `patchkit apply` makes (record included), and `audit`
//! finds the patch genuine.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::cpan::*;
use crate::support::*;

/// `apply`'s tree for Acme-Buggy 1.0: path below the top dir → bytes.
fn applied_tree(env: &TestEnv, pristine: &Path) -> BTreeMap<String, Vec<u8>> {
    env.run_ok(&[
        "apply",
        "--offline",
        "-o",
        "applied",
        pristine.to_str().unwrap(),
    ]);
    tarball_files(&env.path("applied/Acme-Buggy-1.0.tar.gz"))
        .into_iter()
        .map(|(p, (b, _))| (p.trim_start_matches("Acme-Buggy-1.0/").to_string(), b))
        .collect()
}

/// Every file below `dir` except what the build or the tools add.
fn tree_of(dir: &Path, ignore: &[&str]) -> BTreeMap<String, Vec<u8>> {
    snapshot_dir(dir)
        .into_iter()
        .map(|(p, b)| (p.to_string_lossy().into_owned(), b))
        .filter(|(p, _)| {
            !ignore
                .iter()
                .any(|i| p == i || p.starts_with(&format!("{i}/")))
        })
        .collect()
}

#[test]
fn exported_distroprefs_applied_by_real_cpan_pm_give_the_tree_apply_makes() {
    if !have("cpan") || !have("patch") {
        return;
    }
    let env = TestEnv::new();
    patch_source(&env, false);
    signed_repo(&env, &[]);
    let up = standard_upstream(&env);
    let pristine = up.join(AUTHOR_DIR).join("Acme-Buggy-1.0.tar.gz");
    let want = applied_tree(&env, &pristine);

    let doc = env
        .run_ok(&[
            "export",
            "distroprefs",
            "--json",
            "--offline",
            "prefs",
            up.to_str().unwrap(),
        ])
        .json();
    assert_eq!(
        doc["releases"][0]["file"], "patchkit-Acme-Buggy-1.0.yml",
        "{doc:#}"
    );
    assert_eq!(doc["unpatched"], serde_json::json!(["Acme-Dep-1.0.tar.gz"]));
    let yml = std::fs::read_to_string(env.path("prefs/patchkit-Acme-Buggy-1.0.yml")).unwrap();
    assert!(
        yml.contains("distribution: '^[^/]+/Acme-Buggy-1\\.0\\.tar\\.gz$'"),
        "{yml}"
    );

    // CPAN.pm, from the unpatched mirror, with the distroprefs.
    let lib = env.path("inst");
    let conf = env.path("cpan-home");
    cpan_pm_config(
        &conf,
        &format!("file://{}/", up.display()),
        &lib,
        Some(&env.path("prefs")),
    );
    let out = cpan_pm_install(&env, &conf, "Acme::Buggy");
    assert_eq!(
        out.code, 0,
        "CPAN.pm failed\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(out.stdout.contains("Applying 2 patches"), "{}", out.stdout);
    assert_eq!(
        perl_add(&lib.join("lib/perl5")),
        "5",
        "the fix is installed"
    );

    let build = cpan_build_dir(&conf, "Acme-Buggy-1.0");
    let got = tree_of(
        &build,
        &[
            "blib",
            "Makefile",
            "MYMETA.json",
            "MYMETA.yml",
            "pm_to_blib",
        ],
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(got == want, "CPAN.pm's tree differs from apply's");
    let d = audit_buggy(&env, &build);
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
    assert_eq!(d["findings"], serde_json::json!([]), "{d:#}");
}

#[test]
fn exported_quilt_series_pushed_by_quilt_and_built_by_dpkg_source_gives_the_tree_apply_makes() {
    if !have("quilt") || !have("dpkg-source") {
        return;
    }
    let env = TestEnv::new();
    patch_source(&env, false);
    signed_repo(&env, &[]);
    let pristine = buggy_dist().tarball(&env.path("in"));
    let want = applied_tree(&env, &pristine);

    // A minimal Debian source package around the pristine tarball.
    let pkg = env.path("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::copy(&pristine, pkg.join("libacme-buggy-perl_1.0.orig.tar.gz")).unwrap();
    let mut tar = Command::new("tar");
    tar.args(["xzf", "libacme-buggy-perl_1.0.orig.tar.gz"]);
    assert_eq!(run_cmd(tar, &pkg).code, 0);
    let src = pkg.join("libacme-buggy-perl-1.0");
    std::fs::rename(pkg.join("Acme-Buggy-1.0"), &src).unwrap();
    write(&src.join("debian/source/format"), b"3.0 (quilt)\n");
    write(
        &src.join("debian/control"),
        b"Source: libacme-buggy-perl\nSection: perl\nPriority: optional\nMaintainer: A. Tester <tester@example.org>\nBuild-Depends: debhelper-compat (= 13)\nStandards-Version: 4.6.2\n\nPackage: libacme-buggy-perl\nArchitecture: all\nDepends: ${misc:Depends}, ${perl:Depends}\nDescription: a test dist\n a test dist\n",
    );
    write(
        &src.join("debian/changelog"),
        b"libacme-buggy-perl (1.0-1) unstable; urgency=medium\n\n  * Test package.\n\n -- A. Tester <tester@example.org>  Thu, 01 Jan 2026 00:00:00 +0000\n",
    );
    write(
        &src.join("debian/rules"),
        b"#!/usr/bin/make -f\n%:\n\tdh $@\n",
    );
    set_mode(&src.join("debian/rules"), 0o755);

    let doc = env
        .run_ok(&[
            "export",
            "quilt",
            "--json",
            "--offline",
            pristine.to_str().unwrap(),
            src.join("debian/patches").to_str().unwrap(),
        ])
        .json();
    assert_eq!(
        doc["patches"],
        serde_json::json!(["PK-2026-0001.patch", "patchkit-record-Acme-Buggy-1.0.patch"]),
        "{doc:#}"
    );
    let first = std::fs::read_to_string(src.join("debian/patches/PK-2026-0001.patch")).unwrap();
    assert!(
        first.starts_with("Description: Fix for PK-2026-0001\n"),
        "{first}"
    );
    assert!(first.contains("\nX-Patchkit-Id: PK-2026-0001\n"), "{first}");

    let mut quilt = Command::new("quilt");
    quilt
        .args(["push", "-a"])
        .env("QUILT_PATCHES", "debian/patches")
        .env("QUILTRC", "/dev/null");
    let out = run_cmd(quilt, &src);
    assert_eq!(out.code, 0, "quilt push -a\n{}\n{}", out.stdout, out.stderr);
    let got = tree_of(&src, &["debian", ".pc"]);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(got == want, "quilt's tree differs from apply's");

    let mut dpkg = Command::new("dpkg-source");
    dpkg.args(["-b", "libacme-buggy-perl-1.0"]);
    let out = run_cmd(dpkg, &pkg);
    assert_eq!(
        out.code, 0,
        "dpkg-source -b\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(pkg.join("libacme-buggy-perl_1.0-1.dsc").is_file());
    let d = audit_buggy(&env, &src);
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");

    // A second export adds nothing to the series.
    let doc = env
        .run_ok(&[
            "export",
            "quilt",
            "--json",
            "--offline",
            pristine.to_str().unwrap(),
            src.join("debian/patches").to_str().unwrap(),
        ])
        .json();
    assert_eq!(doc["series_added"], serde_json::json!([]));
}
