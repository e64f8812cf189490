//! Hardening against the content being patched (issue 11): a tarball must
//! not be able to talk patchkit out of a fix, nor make `audit` and `sbom`
//! vouch for a fix it does not carry, nor show patchkit one archive and
//! another tar reader a different one.
//!
//! One test per attack, each run on the real binary; where another
//! reader's behaviour is the point (Archive::Tar ignoring PAX, JSON::PP
//! and `perl Makefile.PL` keeping the last of two duplicate keys), the
//! test runs real perl to show that reader's view.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::apply::sha256;
use crate::audit::{
    dist_of, foo_dist, install_like_cpanm, source_with, ARCH, FOO_PM, FOO_PM_FIXED,
};
use crate::support::*;

/// The diff of PK-0001 exactly as `source_with` publishes it.
fn pk0001_patch() -> String {
    udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED)
}

/// An `applied.json` claiming PK-0001 (with the published diff's sha256),
/// listing lib/Foo.pm with the sha256 of `foo_pm` — what a forger writes
/// after looking at the vulnerable file.
fn forged_applied_json(id: &str, title: &str, foo_pm: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "format": 1,
        "tool": "patchkit 0.1.0",
        "dist": "Foo-Bar",
        "version": "1.0",
        "patches": [{
            "id": id,
            "title": title,
            "aliases": ["CVE-2025-0001"],
            "patch_sha256": sha256(pk0001_patch().as_bytes()),
            "patch_file": format!(".patchkit/patches/{id}.patch"),
            "repository": {"kind": "unsigned"},
            "files": [{"path": "lib/Foo.pm", "sha256": sha256(foo_pm.as_bytes())}],
        }],
    }))
    .unwrap()
}

/// Foo-Bar 1.0, still vulnerable, shipping a forged record of PK-0001.
fn forged_dist() -> DistBuilder {
    foo_dist("1.0")
        .file(
            ".patchkit/applied.json",
            &forged_applied_json("PK-0001", "Fix for PK-0001", FOO_PM),
        )
        .file(".patchkit/patches/PK-0001.patch", &pk0001_patch())
}

fn apply_json(env: &TestEnv, target: &Path, code: i32) -> Output {
    env.run_code(
        &[
            "apply",
            "--json",
            "--source",
            "patches",
            "-o",
            "out",
            target.to_str().unwrap(),
        ],
        code,
    )
}

fn output_file(env: &TestEnv, tarball: &str, path: &str) -> Option<String> {
    let files = tarball_files(&env.path(&format!("out/{tarball}")));
    files
        .get(path)
        .map(|(data, _)| String::from_utf8(data.clone()).unwrap())
}

fn statuses(d: &serde_json::Value) -> Vec<(String, String)> {
    d["patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

// --- finding 1: a forged record -------------------------------------------

#[test]
fn apply_ignores_a_forged_applied_json_and_applies_the_fix() {
    let env = TestEnv::new();
    source_with(&env, "");
    let tb = forged_dist().tarball(&env.path("in"));
    let out = apply_json(&env, &tb, 0);
    let doc = out.json();
    let t = &doc["targets"][0];
    assert_eq!(t["result"], "patched", "{doc:#}");
    assert_eq!(t["patches"][0]["status"], "applied", "{doc:#}");
    assert_eq!(
        output_file(&env, "Foo-Bar-1.0.tar.gz", "Foo-Bar-1.0/lib/Foo.pm").as_deref(),
        Some(FOO_PM_FIXED),
        "the fix must be in the output"
    );
    assert!(
        out.stderr.contains(".patchkit/applied.json") && out.stderr.contains("PK-0001"),
        "the ignored claim is named on stderr: {}",
        out.stderr
    );
    // The record now written is patchkit's own and holds up in audit.
    let audited = env.run_ok(&[
        "audit",
        "--json",
        "--source",
        "patches",
        env.path("out/Foo-Bar-1.0.tar.gz").to_str().unwrap(),
    ]);
    let doc = audited.json();
    let d = dist_of(&doc, "Foo-Bar-1.0.tar.gz");
    assert_eq!(statuses(d), [("PK-0001".into(), "genuine".into())], "{d:#}");
}

#[test]
fn audit_and_sbom_do_not_call_a_forged_record_genuine() {
    let env = TestEnv::new();
    source_with(&env, "");
    let tb = forged_dist().tarball(&env.path("in"));
    let doc = env
        .run_ok(&[
            "audit",
            "--json",
            "--source",
            "patches",
            tb.to_str().unwrap(),
        ])
        .json();
    let d = dist_of(&doc, "Foo-Bar-1.0.tar.gz");
    assert!(
        !statuses(d).iter().any(|(_, s)| s == "genuine"),
        "a forged claim is not genuine: {d:#}"
    );
    assert!(
        strings(&d["findings"]).contains(&"missing".to_string()),
        "{d:#}"
    );
    assert_eq!(d["missing"][0]["id"], "PK-0001", "{d:#}");
    assert!(
        strings(&d["problems"])
            .iter()
            .any(|p| p.contains("PK-0001")),
        "the forged claim is reported: {d:#}"
    );

    let sbom = env.run_ok(&["sbom", "--source", "patches", tb.to_str().unwrap()]);
    let bom: serde_json::Value = serde_json::from_str(&sbom.stdout).unwrap();
    let c = &bom["components"][0];
    assert!(
        c["pedigree"].is_null(),
        "no patch may be listed as resolving anything: {c:#}"
    );
    let props = c["properties"].as_array().unwrap();
    assert!(
        props
            .iter()
            .any(|p| p["name"] == "patchkit:missing" && p["value"] == "PK-0001"),
        "{c:#}"
    );
}

// --- finding 2: a decoy ----------------------------------------------------

#[test]
fn a_decoy_copy_of_the_fixed_lines_is_not_already_applied() {
    let env = TestEnv::new();
    source_with(&env, "");
    // The vulnerable line stays where the fix goes; one context line is
    // changed so that the fix does not apply, and a copy of the fixed file
    // sits after __END__ where the reverse patch would match at an offset.
    let decoy = format!(
        "{}__END__\n{FOO_PM_FIXED}",
        FOO_PM.replace("    return <$fh>;\n", "    return <$fh>; # read it\n")
    );
    let tb = foo_dist("1.0")
        .file("lib/Foo.pm", &decoy)
        .tarball(&env.path("in"));
    let out = apply_json(&env, &tb, 1);
    let t = &out.json()["targets"][0];
    assert_eq!(t["result"], "failed", "{t:#}");
    assert!(t["error"].as_str().unwrap().contains("PK-0001"), "{t:#}");
    assert!(!env.path("out/Foo-Bar-1.0.tar.gz").exists());
}

#[test]
fn a_fix_moved_by_an_earlier_patch_of_the_same_file_is_still_already_applied() {
    // The positional rule must not break re-applying: PK-0000 inserts two
    // lines at the top of lib/Foo.pm, so PK-0001 (made against the pristine
    // file) lands two lines lower; applying again to the output must say
    // "already applied" for both.
    let env = TestEnv::new();
    let src = source_with(&env, "");
    let top = FOO_PM.replace("package Foo;\n", "package Foo;\n# patched\n# twice\n");
    src.record(RecordSpec {
        id: "PK-0000",
        dist: "Foo-Bar",
        versions: ">= 1.0, < 2",
        patch: &udiff("lib/Foo.pm", FOO_PM, &top),
        extra: "order = -1\n",
    });
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    apply_json(&env, &tb, 0);
    let again = env.run_code(
        &[
            "apply",
            "--json",
            "--source",
            "patches",
            "-o",
            "again",
            env.path("out/Foo-Bar-1.0.tar.gz").to_str().unwrap(),
        ],
        0,
    );
    let t = &again.json()["targets"][0];
    assert_eq!(t["result"], "already_patched", "{t:#}");
}

// --- finding 3: identity ---------------------------------------------------

#[test]
fn apply_matches_the_patches_of_both_names_when_meta_disagrees() {
    let env = TestEnv::new();
    source_with(&env, "");
    for (name, version) in [("Foo-Bar", "9.9"), ("Not-Foo", "1.0")] {
        let meta = format!(
            "{{\n   \"abstract\" : \"x\",\n   \"name\" : \"{name}\",\n   \"version\" : \"{version}\"\n}}\n"
        );
        let tb = foo_dist("1.0")
            .file("META.json", &meta)
            .tarball(&env.path(&format!("in-{name}")));
        let _ = std::fs::remove_dir_all(env.path("out"));
        let out = apply_json(&env, &tb, 0);
        let t = &out.json()["targets"][0];
        assert_eq!(t["result"], "patched", "META {name} {version}: {t:#}");
        assert_eq!(t["patches"][0]["id"], "PK-0001", "{t:#}");
        let warnings = strings(&t["warnings"]).join("\n");
        assert!(
            warnings.contains("Foo-Bar 1.0") && warnings.contains("both"),
            "the disagreement and what was done are said: {warnings}"
        );
        assert_eq!(
            output_file(&env, "Foo-Bar-1.0.tar.gz", "Foo-Bar-1.0/lib/Foo.pm").as_deref(),
            Some(FOO_PM_FIXED)
        );
    }
}

#[test]
fn installed_audit_matches_the_release_name_when_mymeta_lies() {
    let env = TestEnv::new();
    source_with(&env, "");
    let meta = "{\n   \"name\" : \"Foo-Bar\",\n   \"version\" : \"9.9\"\n}\n";
    let tb = foo_dist("1.0")
        .file("META.json", meta)
        .tarball(&env.path("in"));
    let local = env.path("local");
    install_like_cpanm(&local, &tb, "AUTHOR");
    let doc = env
        .run_ok(&[
            "audit",
            "--json",
            "--source",
            "patches",
            local.to_str().unwrap(),
        ])
        .json();
    let d = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert_eq!(d["missing"][0]["id"], "PK-0001", "{d:#}");
}

// --- finding 4: installed audit and duplicate keys ------------------------

#[test]
fn installed_audit_checks_the_module_content_not_just_mymeta() {
    let env = TestEnv::new();
    source_with(&env, "");
    // META.json (hence MYMETA.json) claims PK-0001 with the vulnerable
    // file's digest; the installed Foo.pm is the vulnerable one.
    let x = serde_json::json!({
        "record": ".patchkit/applied.json",
        "tool": "patchkit 0.1.0",
        "applied": [{
            "id": "PK-0001",
            "aliases": ["CVE-2025-0001"],
            "patch_sha256": sha256(pk0001_patch().as_bytes()),
            "repository": {"kind": "unsigned"},
            "files": [{"path": "lib/Foo.pm", "sha256": sha256(FOO_PM.as_bytes())}],
        }],
    });
    let meta = serde_json::json!({"name": "Foo-Bar", "version": "1.0", "x_patchkit": x});
    let tb = foo_dist("1.0")
        .file("META.json", &serde_json::to_string_pretty(&meta).unwrap())
        .tarball(&env.path("in"));
    let local = env.path("local");
    install_like_cpanm(&local, &tb, "AUTHOR");
    let doc = env
        .run_ok(&[
            "audit",
            "--json",
            "--source",
            "patches",
            local.to_str().unwrap(),
        ])
        .json();
    let d = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert!(
        !statuses(d).iter().any(|(_, s)| s == "genuine"),
        "MYMETA's claim alone is not genuine: {d:#}"
    );
    assert_eq!(d["missing"][0]["id"], "PK-0001", "{d:#}");
}

/// META.json text with `x_patchkit` twice: first a harmless value, then a
/// forged claim (the one JSON::PP, hence MakeMaker, keeps).
fn meta_with_two_x_patchkit() -> String {
    let forged = serde_json::json!({
        "applied": [{
            "id": "PK-0001",
            "patch_sha256": sha256(pk0001_patch().as_bytes()),
            "files": [{"path": "lib/Foo.pm", "sha256": sha256(FOO_PM.as_bytes())}],
        }],
    });
    format!(
        "{{\n   \"abstract\" : \"x\",\n   \"license\" : [\"perl_5\"],\n   \"meta-spec\" : {{\"version\" : 2}},\n   \"name\" : \"Foo-Bar\",\n   \"version\" : \"1.0\",\n   \"x_patchkit\" : {{\"applied\" : []}},\n   \"x_patchkit\" : {forged}\n}}\n"
    )
}

#[test]
fn apply_refuses_meta_json_with_a_duplicate_key() {
    let env = TestEnv::new();
    source_with(&env, "");
    let dist = foo_dist("1.0").file("META.json", &meta_with_two_x_patchkit());
    // What the toolchain makes of it: `perl Makefile.PL` writes MYMETA.json
    // through CPAN::Meta / JSON::PP, which keep the *last* duplicate.
    let dir = dist.unpack(&env.path("unpacked"));
    let made = Command::new("perl")
        .arg("Makefile.PL")
        .current_dir(&dir)
        .env("PERL_MM_USE_DEFAULT", "1")
        .output()
        .expect("perl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mymeta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("MYMETA.json")).unwrap()).unwrap();
    assert_eq!(
        mymeta["x_patchkit"]["applied"][0]["id"], "PK-0001",
        "MakeMaker keeps the last duplicate: {mymeta:#}"
    );

    let tb = dist.tarball(&env.path("in"));
    let out = apply_json(&env, &tb, 2);
    let err = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    assert!(
        err.contains("Foo-Bar-1.0.tar.gz")
            && err.contains("META.json")
            && err.contains("x_patchkit"),
        "{}",
        out.stderr
    );
    assert!(!env.path("out/Foo-Bar-1.0.tar.gz").exists());
}

#[test]
fn audit_refuses_mymeta_with_a_duplicate_key() {
    let env = TestEnv::new();
    source_with(&env, "");
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    let local = env.path("local");
    let meta_dir = install_like_cpanm(&local, &tb, "AUTHOR");
    std::fs::write(meta_dir.join("MYMETA.json"), meta_with_two_x_patchkit()).unwrap();
    let doc = env
        .run_ok(&[
            "audit",
            "--json",
            "--source",
            "patches",
            local.to_str().unwrap(),
        ])
        .json();
    let d = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert!(statuses(d).is_empty(), "{d:#}");
    let problems = strings(&d["problems"]).join("\n");
    assert!(
        problems.contains("MYMETA.json") && problems.contains("x_patchkit"),
        "{d:#}"
    );
}

// --- finding 5: one view of an archive -------------------------------------

/// One raw ustar block for `name` (≤ 100 bytes) of type `kind`.
fn ustar_header(name: &str, kind: u8, size: usize) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(if kind == b'5' { b"0000755" } else { b"0000644" });
    h[108..115].copy_from_slice(b"0001750");
    h[116..123].copy_from_slice(b"0001750");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"14524451400");
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn push_member(out: &mut Vec<u8>, header: [u8; 512], data: &[u8]) {
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A PAX record `"%d key=value\n"`, its length counting itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

#[test]
fn apply_refuses_a_pax_path_that_differs_from_the_header_name() {
    let env = TestEnv::new();
    source_with(&env, "");
    // The member's header says lib/Foo.pm (what Archive::Tar, which
    // ignores PAX, extracts); its PAX path says lib/Bar.pm. lib/Foo.pm
    // also appears as a normal member for patchkit to patch.
    let mut tar = Vec::new();
    push_member(&mut tar, ustar_header("Foo-Bar-1.0/", b'5', 0), b"");
    push_member(&mut tar, ustar_header("Foo-Bar-1.0/lib/", b'5', 0), b"");
    push_member(
        &mut tar,
        ustar_header("Foo-Bar-1.0/lib/Foo.pm", b'0', FOO_PM.len()),
        FOO_PM.as_bytes(),
    );
    let pax = pax_record("path", "Foo-Bar-1.0/lib/Bar.pm");
    push_member(
        &mut tar,
        ustar_header("Foo-Bar-1.0/PaxHeaders/Foo.pm", b'x', pax.len()),
        pax.as_bytes(),
    );
    let evil = "package Foo; system('id'); 1;\n";
    push_member(
        &mut tar,
        ustar_header("Foo-Bar-1.0/lib/Foo.pm", b'0', evil.len()),
        evil.as_bytes(),
    );
    tar.resize(tar.len() + 1024, 0);
    std::fs::create_dir_all(env.path("in")).unwrap();
    let tb = env.path("in/Foo-Bar-1.0.tar.gz");
    std::fs::write(&tb, gzip(&tar)).unwrap();

    // Archive::Tar's view: no Bar.pm, and the last Foo.pm is the evil one.
    let seen = Command::new("perl")
        .args([
            "-MArchive::Tar",
            "-e",
            "my $t = Archive::Tar->new($ARGV[0]) or die; print join(',', sort map { $_->full_path } $t->get_files)",
        ])
        .arg(&tb)
        .output()
        .expect("perl");
    let seen = String::from_utf8_lossy(&seen.stdout);
    assert!(!seen.contains("Bar.pm"), "Archive::Tar ignores PAX: {seen}");

    let out = apply_json(&env, &tb, 2);
    let err = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    assert!(
        err.contains("Foo-Bar-1.0.tar.gz") && err.contains("PAX") && err.contains("lib/Bar.pm"),
        "{}",
        out.stderr
    );
    assert!(!env.path("out/Foo-Bar-1.0.tar.gz").exists());
}

/// Apply to a Foo-Bar tarball holding the extra file `path`; it must be
/// refused (exit 2) with an error naming the file, the entry and `why`.
fn refuse_member(path: &str, why: &str) {
    let env = TestEnv::new();
    source_with(&env, "");
    let tb = foo_dist("1.0").file(path, "1;\n").tarball(&env.path("in"));
    let out = apply_json(&env, &tb, 2);
    let err = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    // The entry, or the directory of it that is at fault, is named.
    let last = path.rsplit('/').next().unwrap();
    let first = path.split('/').next().unwrap();
    assert!(
        err.contains("Foo-Bar-1.0.tar.gz")
            && (err.contains(last) || err.contains(&format!("/{first}\"")))
            && err.contains(why),
        "{path}: {}",
        out.stderr
    );
    assert!(!env.path("out/Foo-Bar-1.0.tar.gz").exists(), "{path}");
}

#[test]
fn apply_refuses_names_that_collide_under_case_folding() {
    refuse_member("lib/FOO.pm", "case");
    refuse_member("LIB/Other.pm", "case");
}

#[test]
fn apply_refuses_names_with_a_trailing_dot_or_space() {
    refuse_member("lib/Foo.pm.", "Windows");
    refuse_member("lib/Foo.pm ", "Windows");
}

#[test]
fn apply_refuses_alternate_data_stream_names() {
    refuse_member("lib/Foo.pm::$DATA", "Windows");
}

#[test]
fn apply_refuses_reserved_device_names() {
    for name in ["lib/CON", "lib/nul.pm", "AUX/x.pm", "lib/COM1.txt"] {
        refuse_member(name, "Windows");
    }
}

// --- finding 8: a FIFO in a library, raw record strings --------------------

/// Run the binary with a deadline: a hang is a failure, not a stuck suite.
fn run_with_deadline(env: &TestEnv, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patchkit"))
        .arg("--home")
        .arg(env.home())
        .args(args)
        .current_dir(env.dir())
        .env_remove("PATCHKIT_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("patchkit {args:?} still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Output {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success());
}

#[test]
fn audit_does_not_hang_on_a_fifo_in_a_library() {
    let env = TestEnv::new();
    source_with(&env, "");
    let tb = foo_dist("1.0").tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    let local = env.path("local");
    install_like_cpanm(&local, &env.path("out/Foo-Bar-1.0.tar.gz"), "AUTHOR");
    mkfifo(&local.join("lib/perl5/Foo.pm"));
    // A second dist whose MYMETA.json is a FIFO.
    let other: PathBuf = local.join(format!("lib/perl5/{ARCH}/.meta/Other-Dist-1.0"));
    std::fs::create_dir_all(&other).unwrap();
    mkfifo(&other.join("MYMETA.json"));

    let out = run_with_deadline(
        &env,
        &[
            "audit",
            "--json",
            "--source",
            "patches",
            local.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let d = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert!(
        strings(&d["problems"])
            .join("\n")
            .contains("not a regular file"),
        "{d:#}"
    );
    let o = dist_of(&doc, ".meta/Other-Dist-1.0");
    assert!(
        strings(&o["problems"])
            .join("\n")
            .contains("not a regular file"),
        "{o:#}"
    );
}

#[test]
fn audit_escapes_control_characters_from_records() {
    let env = TestEnv::new();
    source_with(&env, "");
    let id = "PK-9\nFoo-Bar 1.0: ok\u{1b}[2K";
    let title = "Fix\r\n  PK-0001              genuine     \u{1b}[1A";
    let tb = foo_dist("1.0")
        .file(
            ".patchkit/applied.json",
            &forged_applied_json(id, title, FOO_PM),
        )
        .tarball(&env.path("in"));
    let out = env.run_ok(&["audit", "--source", "patches", tb.to_str().unwrap()]);
    for stream in [&out.stdout, &out.stderr] {
        assert!(!stream.contains('\u{1b}'), "raw escape: {stream:?}");
        assert!(!stream.contains('\r'), "raw carriage return: {stream:?}");
        assert!(
            !stream.lines().any(|l| l.starts_with("Foo-Bar 1.0: ok")),
            "a forged line: {stream}"
        );
        assert!(
            !stream
                .lines()
                .any(|l| l.trim_start().starts_with("PK-0001") && l.contains("genuine")),
            "a forged line: {stream}"
        );
    }
}
