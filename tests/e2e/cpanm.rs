//! End to end with the real installer: a small pure-perl dist with a known
//! bug is patched by `patchkit apply`, put on a local CPAN-style mirror
//! (`authors/id/T/TE/TESTER/…`, `modules/02packages.details.txt.gz`,
//! `authors/01mailrc.txt.gz`) and installed by the real `cpanm` (Debian's
//! cpanminus) into a temporary library. cpanm writes
//! `LIB/lib/perl5/<archname>/.meta/<dist>/{install.json,MYMETA.json}`, and
//! ExtUtils::MakeMaker carries META.json's `x_patchkit` into MYMETA.json
//! (CPAN::Meta keeps `x_` keys when it converts META). Then `audit LIB`
//! must see the patch as genuine; an unpatched install shows it MISSING;
//! editing the installed file shows it tampered.
//!
//! No network: the mirror is a `file://` URL with `--mirror-only`,
//! `PERL_CPANM_HOME` is a temporary directory, and proxies are unset.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const BUGGY_PM: &str = "package Acme::Buggy;\nuse strict;\nuse warnings;\nour $VERSION = '1.0';\n\n# Adds two numbers.\nsub add {\n    my ($x, $y) = @_;\n    return $x - $y;\n}\n\n1;\n";
const FIXED_PM: &str = "package Acme::Buggy;\nuse strict;\nuse warnings;\nour $VERSION = '1.0';\n\n# Adds two numbers.\nsub add {\n    my ($x, $y) = @_;\n    return $x + $y;\n}\n\n1;\n";

const META_JSON: &str = r#"{
   "abstract" : "a dist with a known bug",
   "author" : [
      "A. Tester <tester@example.org>"
   ],
   "dynamic_config" : 0,
   "generated_by" : "patchkit tests",
   "license" : [
      "perl_5"
   ],
   "meta-spec" : {
      "url" : "http://search.cpan.org/perldoc?CPAN::Meta::Spec",
      "version" : 2
   },
   "name" : "Acme-Buggy",
   "prereqs" : {
      "configure" : {
         "requires" : {
            "ExtUtils::MakeMaker" : "0"
         }
      }
   },
   "release_status" : "stable",
   "version" : "1.0"
}
"#;

fn buggy_dist() -> DistBuilder {
    DistBuilder::new("Acme-Buggy", "1.0")
        .file("lib/Acme/Buggy.pm", BUGGY_PM)
        .file(
            "Makefile.PL",
            "use strict;\nuse ExtUtils::MakeMaker;\nWriteMakefile(\n    NAME => 'Acme::Buggy',\n    VERSION_FROM => 'lib/Acme/Buggy.pm',\n);\n",
        )
        .file("t/add.t", "use Test::More tests => 1;\nuse Acme::Buggy;\nis(Acme::Buggy::add(2, 3), 5);\n")
        .file("MANIFEST", "MANIFEST\nMakefile.PL\nMETA.json\nMETA.yml\nlib/Acme/Buggy.pm\nt/add.t\n")
        .file("META.json", META_JSON)
}

/// A CPAN-style mirror holding one tarball under TESTER.
fn mirror(root: &Path, tarball: &Path) -> PathBuf {
    let file = tarball.file_name().unwrap().to_str().unwrap();
    let authors = root.join("authors/id/T/TE/TESTER");
    std::fs::create_dir_all(&authors).unwrap();
    std::fs::copy(tarball, authors.join(file)).unwrap();
    std::fs::create_dir_all(root.join("modules")).unwrap();
    let packages = format!(
        "File:         02packages.details.txt\n\
         URL:          http://www.perl.com/CPAN/modules/02packages.details.txt\n\
         Description:  Package names found in directory $CPAN/authors/id/\n\
         Columns:      package name, version, path\n\
         Intended-For: Automated fetch routines, namespace documentation.\n\
         Written-By:   patchkit e2e tests\n\
         Line-Count:   1\n\
         Last-Updated: Thu, 01 Jan 2026 00:00:00 GMT\n\
         \n\
         Acme::Buggy                        1.0  T/TE/TESTER/{file}\n"
    );
    std::fs::write(
        root.join("modules/02packages.details.txt.gz"),
        gzip(packages.as_bytes()),
    )
    .unwrap();
    let mailrc = "alias TESTER \"A. Tester <tester@example.org>\"\n";
    std::fs::write(
        root.join("authors/01mailrc.txt.gz"),
        gzip(mailrc.as_bytes()),
    )
    .unwrap();
    root.to_path_buf()
}

/// `cpanm --mirror file://MIRROR --mirror-only --notest -L LIB Acme::Buggy`.
fn cpanm_install(env: &TestEnv, mirror: &Path, lib: &Path) {
    let mut cmd = Command::new("cpanm");
    cmd.arg("--mirror")
        .arg(format!("file://{}", mirror.display()))
        .arg("--mirror-only")
        .arg("--notest")
        .arg("-L")
        .arg(lib)
        .arg("Acme::Buggy")
        .env("PERL_CPANM_HOME", env.path("cpanm-home"))
        .env("HOME", env.dir());
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "PERL5LIB",
        "PERL_LOCAL_LIB_ROOT",
        "PERL_MM_OPT",
        "PERL_MB_OPT",
        "PERL_CPANM_OPT",
    ] {
        cmd.env_remove(var);
    }
    let out = run_cmd(cmd, env.dir());
    assert_eq!(
        out.code, 0,
        "cpanm failed (is cpanminus installed? .ci/run installs it)\n{}\n{}",
        out.stdout, out.stderr
    );
}

fn meta_dir(lib: &Path) -> PathBuf {
    let perl5 = lib.join("lib/perl5");
    for e in std::fs::read_dir(&perl5).unwrap() {
        let d = e.unwrap().path().join(".meta/Acme-Buggy-1.0");
        if d.is_dir() {
            return d;
        }
    }
    panic!(
        "cpanm wrote no .meta/Acme-Buggy-1.0 under {}",
        perl5.display()
    );
}

fn perl_add(lib: &Path) -> String {
    let mut cmd = Command::new("perl");
    cmd.arg(format!("-I{}", lib.join("lib/perl5").display()))
        .args(["-MAcme::Buggy", "-e", "print Acme::Buggy::add(2, 3)"])
        .env_remove("PERL5LIB");
    run_cmd(cmd, lib).stdout
}

#[test]
fn cpanm_installs_a_patched_dist_and_audit_sees_it() {
    let env = TestEnv::new();
    let src = SourceBuilder::new(env.path("patches"));
    src.add(
        "PK-2026-0001",
        "Acme-Buggy",
        "<= 1.0",
        &udiff("lib/Acme/Buggy.pm", BUGGY_PM, FIXED_PM),
    );
    let pristine = buggy_dist().tarball(&env.path("upstream"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "patched",
        pristine.to_str().unwrap(),
    ]);
    let patched = env.path("patched/Acme-Buggy-1.0.tar.gz");

    // Install the patched tarball with the real cpanm.
    let lib = env.path("lib-patched");
    cpanm_install(&env, &mirror(&env.path("mirror-patched"), &patched), &lib);
    assert_eq!(perl_add(&lib), "5", "the installed module is the fixed one");
    let meta = meta_dir(&lib);
    let install: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta.join("install.json")).unwrap()).unwrap();
    assert_eq!(install["pathname"], "T/TE/TESTER/Acme-Buggy-1.0.tar.gz");
    // MakeMaker kept x_patchkit from META.json in MYMETA.json.
    let mymeta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta.join("MYMETA.json")).unwrap()).unwrap();
    assert_eq!(mymeta["x_patchkit"]["applied"][0]["id"], "PK-2026-0001");

    let doc = env
        .run_ok(&[
            "audit",
            "--json",
            "--source",
            "patches",
            lib.to_str().unwrap(),
        ])
        .json();
    let d = &doc["dists"][0];
    assert_eq!(d["kind"], "installed");
    assert_eq!(d["purl"], "pkg:cpan/Acme-Buggy@1.0?author=TESTER");
    assert_eq!(d["patches"][0]["id"], "PK-2026-0001");
    assert_eq!(d["patches"][0]["status"], "genuine");
    assert_eq!(d["findings"], serde_json::json!([]), "{d:#}");
    env.run_ok(&[
        "audit",
        "--source",
        "patches",
        "--fail-on",
        "missing,withdrawn,unknown,tampered",
        lib.to_str().unwrap(),
    ]);

    // The same dist installed unpatched: the fix is MISSING.
    let lib2 = env.path("lib-unpatched");
    cpanm_install(
        &env,
        &mirror(&env.path("mirror-upstream"), &pristine),
        &lib2,
    );
    assert_eq!(perl_add(&lib2), "-1", "the upstream bug");
    let out = env.run_code(
        &[
            "audit",
            "--source",
            "patches",
            "--fail-on",
            "missing",
            lib2.to_str().unwrap(),
        ],
        1,
    );
    assert!(out.stdout.contains("PK-2026-0001"), "{}", out.stdout);
    assert!(out.stdout.contains("MISSING"), "{}", out.stdout);

    // Editing the installed patched file: tampered.
    let pm = lib.join("lib/perl5/Acme/Buggy.pm");
    std::fs::write(&pm, BUGGY_PM).unwrap();
    let out = env.run_code(
        &[
            "audit",
            "--json",
            "--source",
            "patches",
            "--fail-on",
            "tampered",
            lib.to_str().unwrap(),
        ],
        1,
    );
    let d = &out.json()["dists"][0];
    assert_eq!(d["findings"], serde_json::json!(["tampered"]));
    assert_eq!(d["tampered"][0]["path"], "lib/Acme/Buggy.pm");
    assert_eq!(d["patches"][0]["status"], "genuine");
}
