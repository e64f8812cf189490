//! `patchkit lint` edges from issue 14: `.tar.xz` orig tarballs read by
//! `--against` (compressed by the real `xz`), Debian-named tarballs
//! recorded under their CPAN name, open-ended ranges, and a `fixed_in`
//! that excludes a `[[tested]]` release.

use std::io::Read;
use std::process::Command;

use crate::support::*;

const OLD: &str = "line 1;\nline 2;\nline 3;\nline 4;\n";
const NEW: &str = "line 1;\nline 2 fixed;\nline 3;\nline 4;\n";

fn record(env: &TestEnv, versions: &str, extra: &str) {
    SourceBuilder::new(env.path("patches")).record(RecordSpec {
        id: "PK-2026-0001",
        dist: "Foo",
        versions,
        patch: &udiff("lib/Foo.pm", OLD, NEW),
        extra,
    });
}

fn toml_of(env: &TestEnv) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(env.path("patches/Foo/PK-2026-0001.toml")).unwrap())
        .unwrap()
}

/// `DIR/NAME` holding the dist compressed by the real `xz`.
fn xz_tarball(dist: &DistBuilder, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&dist.tarball_bytes()[..])
        .read_to_end(&mut tar)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let plain = dir.join("plain.tar");
    std::fs::write(&plain, &tar).unwrap();
    let status = Command::new("xz")
        .args(["-6", "-z", "-q"])
        .arg(&plain)
        .status()
        .expect("xz");
    assert!(status.success());
    let path = dir.join(name);
    std::fs::rename(dir.join("plain.tar.xz"), &path).unwrap();
    path
}

#[test]
fn lint_against_reads_a_debian_tar_xz_and_records_the_cpan_name() {
    let env = TestEnv::new();
    record(&env, ">= 1.0, <= 1.2", "");
    let dist = DistBuilder::new("Foo", "1.2").file("lib/Foo.pm", OLD);
    xz_tarball(&dist, &env.path("orig"), "libfoo-perl_1.2.orig.tar.xz");
    let out = env.run_ok(&["lint", "--against", "orig", "--record-results", "--json"]);
    let doc = out.json();
    assert_eq!(doc["tarballs"], 1, "{doc}");
    assert_eq!(doc["results"][0]["status"], "clean", "{doc}");
    assert_eq!(doc["results"][0]["tarball"], "libfoo-perl_1.2.orig.tar.xz");
    assert_eq!(doc["results"][0]["cpan_tarball"], "Foo-1.2.tar.xz");
    let rec = toml_of(&env);
    assert_eq!(rec["tested"][0]["tarball"].as_str(), Some("Foo-1.2.tar.xz"));
    // The recorded binding is the one apply checks: lint stays clean.
    env.run_ok(&["lint"]);
}

#[test]
fn lint_records_a_debian_named_tar_gz_under_its_cpan_name() {
    let env = TestEnv::new();
    record(&env, ">= 1.0, <= 1.2", "");
    let dist = DistBuilder::new("Foo", "1.2").file("lib/Foo.pm", OLD);
    let dir = env.path("orig");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("libfoo-perl_1.2.orig.tar.gz"),
        dist.tarball_bytes(),
    )
    .unwrap();
    env.run_ok(&["lint", "--against", "orig", "--record-results"]);
    let rec = toml_of(&env);
    assert_eq!(rec["tested"][0]["tarball"].as_str(), Some("Foo-1.2.tar.gz"));
    // The sha256 is the file's own, whatever its name.
    let sha = sha256_hex_of(&std::fs::read(dir.join("libfoo-perl_1.2.orig.tar.gz")).unwrap());
    assert_eq!(rec["tested"][0]["sha256"].as_str(), Some(sha.as_str()));
}

fn sha256_hex_of(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn lint_warns_about_a_skipped_archive() {
    let env = TestEnv::new();
    record(&env, ">= 1.0, <= 1.2", "");
    std::fs::create_dir_all(env.path("orig")).unwrap();
    std::fs::write(env.path("orig/Foo-1.2.tar.zst"), b"x").unwrap();
    let out = env.run_ok(&["lint", "--against", "orig"]);
    assert!(
        out.stdout
            .contains("warning: Foo-1.2.tar.zst: skipped: lint --against reads"),
        "{}",
        out.stdout
    );
}

#[test]
fn lint_warns_about_open_ended_ranges() {
    for (versions, says) in [
        ("0.29", "(a bare version means >= 0.29)"),
        ("0", "(a bare version means >= 0)"),
        (">= 1.0, != 1.5", "open-ended"),
    ] {
        let env = TestEnv::new();
        record(&env, versions, "");
        let out = env.run_ok(&["lint"]);
        assert!(
            out.stdout.contains("is open-ended") && out.stdout.contains(says),
            "{versions}: {}",
            out.stdout
        );
    }
    // Bounded by the range or by fixed_in: no warning.
    for (versions, extra) in [("< 0.30", ""), ("0.29", "fixed_in = \"0.31\"\n")] {
        let env = TestEnv::new();
        record(&env, versions, extra);
        let out = env.run_ok(&["lint"]);
        assert!(!out.stdout.contains("open-ended"), "{}", out.stdout);
    }
}

#[test]
fn lint_fails_when_fixed_in_excludes_a_tested_release() {
    let env = TestEnv::new();
    record(&env, ">= 1.0, <= 1.2", "");
    DistBuilder::new("Foo", "1.2")
        .file("lib/Foo.pm", OLD)
        .tarball(&env.path("orig"));
    env.run_ok(&["lint", "--against", "orig", "--record-results"]);
    // fixed_in 1.2 says 1.2 is not affected, yet the patch was tested on it.
    let path = env.path("patches/Foo/PK-2026-0001.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("aliases =", "fixed_in = \"1.2\"\naliases ="),
    )
    .unwrap();
    let out = env.run_code(&["lint"], 1);
    assert!(
        out.stdout.contains(
            "error: Foo/PK-2026-0001.toml: [[tested]] Foo-1.2.tar.gz is version 1.2, \
             outside versions \">= 1.0, <= 1.2\" with fixed_in 1.2"
        ),
        "{}",
        out.stdout
    );
}
