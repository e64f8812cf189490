//! `patchkit sbom --vex`: CycloneDX `vulnerabilities` with the analysis
//! state of each CVE per distribution — `resolved_with_pedigree` for a
//! carried, verified fix, `exploitable` for a MISSING one, `in_triage` for
//! a withdrawn one — validated against the official CycloneDX 1.6 and 1.5
//! schemas (support/validate_cyclonedx.py, schemas from PyPI).

use std::path::Path;
use std::process::Command;

use crate::support::*;

const A_OLD: &str = "sub a { 1 }\n";
const A_NEW: &str = "sub a { 2 }\n";
const B_OLD: &str = "sub b { 1 }\n";
const B_NEW: &str = "sub b { 2 }\n";

/// Validate `doc` as CycloneDX `spec` with the real validator.
pub(crate) fn assert_valid(doc: &serde_json::Value, spec: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bom.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/support/validate_cyclonedx.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(spec).arg(&file);
    let out = run_cmd(cmd, tmp.path());
    assert!(
        out.code == 0 || (out.code == 1 && out.stderr.contains("invalid at")),
        "the schema validator did not run (install tests/requirements.txt):\n{}",
        out.stderr
    );
    assert_eq!(
        out.code, 0,
        "CycloneDX {spec} invalid:\n{}\n{doc:#}",
        out.stderr
    );
}

/// PK-1 fixes CVE-2026-1111 in lib/A.pm; PK-2 (added after the apply)
/// fixes CVE-2026-2222 in lib/B.pm, with fixed_in 1.1.
fn scenario(env: &TestEnv) -> std::path::PathBuf {
    let src = SourceBuilder::new(env.path("patches"));
    src.add("PK-1", "Foo", "<= 1.0", &udiff("lib/A.pm", A_OLD, A_NEW));
    let path = env.path("patches/Foo/PK-1.toml");
    let t = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, t.replace("CVE-2025-0001", "CVE-2026-1111")).unwrap();
    let tb = DistBuilder::new("Foo", "1.0")
        .file("lib/A.pm", A_OLD)
        .file("lib/B.pm", B_OLD)
        .tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    src.add("PK-2", "Foo", "<= 1.0", &udiff("lib/B.pm", B_OLD, B_NEW));
    let path = env.path("patches/Foo/PK-2.toml");
    let t = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        t.replace("CVE-2025-0001", "CVE-2026-2222") + "fixed_in = \"1.1\"\n",
    )
    .unwrap();
    env.path("out/Foo-1.0.tar.gz")
}

fn vulns(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["analysis"]["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn sbom_vex_resolves_carried_fixes_and_flags_missing_ones() {
    let env = TestEnv::new();
    let patched = scenario(&env);
    let out = env.run_ok(&[
        "sbom",
        "--vex",
        "--source",
        "patches",
        patched.to_str().unwrap(),
    ]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        vulns(&doc),
        vec![
            ("CVE-2026-1111".into(), "resolved_with_pedigree".into()),
            ("CVE-2026-2222".into(), "exploitable".into()),
        ]
    );
    let v = &doc["vulnerabilities"];
    let component = doc["components"][0]["bom-ref"].as_str().unwrap();
    assert_eq!(v[0]["affects"][0]["ref"], component);
    assert_eq!(
        v[1]["analysis"]["response"],
        serde_json::json!(["workaround_available", "update"])
    );
    assert!(v[1]["analysis"]["detail"]
        .as_str()
        .unwrap()
        .contains("PK-2"));
    assert_eq!(
        v[0]["source"]["url"],
        "https://nvd.nist.gov/vuln/detail/CVE-2026-1111"
    );
    assert_valid(&doc, "1.6");
    let out = env.run_ok(&[
        "sbom",
        "--vex",
        "--spec",
        "1.5",
        "--source",
        "patches",
        patched.to_str().unwrap(),
    ]);
    assert_valid(&serde_json::from_str(&out.stdout).unwrap(), "1.5");
    // The pristine tarball carries nothing: both are exploitable.
    let out = env.run_ok(&["sbom", "--vex", "--source", "patches", "in/Foo-1.0.tar.gz"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        vulns(&doc),
        vec![
            ("CVE-2026-1111".into(), "exploitable".into()),
            ("CVE-2026-2222".into(), "exploitable".into()),
        ]
    );
    assert_valid(&doc, "1.6");
    // Without --vex, no vulnerabilities.
    let out = env.run_ok(&["sbom", "--source", "patches", patched.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(doc.get("vulnerabilities").is_none());
}

#[test]
fn sbom_vex_puts_a_withdrawn_carried_fix_in_triage() {
    let env = TestEnv::new();
    let patched = scenario(&env);
    env.run_ok(&["withdraw", "PK-1", "--reason", "the fix is incomplete"]);
    let out = env.run_ok(&[
        "sbom",
        "--vex",
        "--source",
        "patches",
        patched.to_str().unwrap(),
    ]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(vulns(&doc)[0], ("CVE-2026-1111".into(), "in_triage".into()));
    assert!(doc["vulnerabilities"][0]["analysis"]["detail"]
        .as_str()
        .unwrap()
        .contains("withdrawn: the fix is incomplete"));
    assert_valid(&doc, "1.6");
}

#[test]
fn sbom_vex_refuses_to_run_without_a_repository() {
    let env = TestEnv::new();
    let tb = DistBuilder::new("Foo", "1.0")
        .file("lib/A.pm", A_OLD)
        .tarball(&env.path("in"));
    let out = env.run_code(&["sbom", "--vex", tb.to_str().unwrap()], 2);
    assert!(
        out.stderr.contains("--vex needs a repository"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}
