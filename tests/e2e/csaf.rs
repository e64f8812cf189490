//! `patchkit export csaf`: one CSAF 2.0 advisory per record, validated by
//! the `csaf` validator from PyPI (tests/requirements.txt) — the CSAF 2.0
//! JSON schema and every mandatory test (6.1.x), offline — plus a mutation
//! proving that the validator rejects a broken advisory, and the project's
//! own `patches/` exported and validated.

use std::path::Path;
use std::process::Command;

use crate::support::server::read_json;
use crate::support::*;

/// Run `csaf validate --spec-version v20` on `files`; (passed, output).
/// A validator that did not run fails the test.
fn validate(files: &[&Path]) -> (bool, String) {
    let mut cmd = Command::new("csaf");
    cmd.args(["validate", "--spec-version", "v20", "--no-network"])
        .args(files);
    let out = cmd.output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("the csaf validator did not run (install tests/requirements.txt): {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code().unwrap_or(-1);
    assert!(
        (code == 0 && text.contains("Overall: PASS")) || (code == 1 && text.contains("FAIL")),
        "the csaf validator did not run properly (exit {code}):\n{text}"
    );
    // The mandatory tests really ran, not the schema alone.
    assert!(
        text.contains("6.1.1 - Missing Definition of Product ID"),
        "{text}"
    );
    (code == 0, text)
}

fn records(env: &TestEnv) {
    let src = SourceBuilder::new(env.path("patches"));
    src.record(RecordSpec {
        id: "PK-2026-0001",
        dist: "Foo-Bar",
        versions: ">= 1.0, < 2",
        patch: &udiff("lib/Foo.pm", "a\n", "b\n"),
        extra: "kind = \"cherry-pick\"\nfixed_in = \"1.5\"\nseverity = \"high\"\n\
                description = \"Foo ran a shell.\"\npublished = \"2026-01-02\"\n\
                updated = \"2026-02-03\"\n\
                references = [\"https://github.com/example/foo/commit/abc\"]\n",
    });
    src.record(RecordSpec {
        id: "PK-2026-0002",
        dist: "Baz",
        versions: "0.29",
        patch: &udiff("lib/Baz.pm", "a\n", "b\n"),
        extra: "",
    });
    src.record(RecordSpec {
        id: "PK-2026-0003",
        dist: "Baz",
        versions: "<= 0.1",
        patch: &udiff("lib/Baz2.pm", "a\n", "b\n"),
        extra: "[withdrawn]\ndate = \"2026-03-01\"\nreason = \"wrong fix\"\n",
    });
}

#[test]
fn export_csaf_writes_one_valid_advisory_per_record() {
    let env = TestEnv::new();
    records(&env);
    let out = env.run_ok(&["export", "csaf", "-o", "advisories", "--json"]);
    let doc = out.json();
    assert_eq!(
        doc["written"],
        serde_json::json!(["pk-2026-0001.json", "pk-2026-0002.json"])
    );
    assert_eq!(
        doc["skipped"],
        serde_json::json!(["PK-2026-0003 (withdrawn)"])
    );
    let one = env.path("advisories/pk-2026-0001.json");
    let two = env.path("advisories/pk-2026-0002.json");
    let (ok, text) = validate(&[&one, &two]);
    assert!(ok, "{text}");

    let a = read_json(&one);
    assert_eq!(a["document"]["tracking"]["id"], "PK-2026-0001");
    assert_eq!(a["document"]["tracking"]["version"], "2");
    assert_eq!(a["document"]["aggregate_severity"]["text"], "high");
    let range = &a["product_tree"]["branches"][0]["branches"][0]["branches"][0];
    assert_eq!(range["category"], "product_version_range");
    assert_eq!(range["name"], "vers:cpan/>=1.0|<1.5");
    assert_eq!(
        range["product"]["product_identification_helper"]["purl"],
        "pkg:cpan/Foo-Bar"
    );
    let v = &a["vulnerabilities"][0];
    assert_eq!(v["cve"], "CVE-2025-0001");
    assert_eq!(v["remediations"][0]["category"], "vendor_fix");
    assert!(v["remediations"][0]["details"]
        .as_str()
        .unwrap()
        .contains("PK-2026-0001"));
    assert_eq!(v["product_status"]["fixed"][0], "Foo-Bar:1.5");
    // The security team's own fix is a workaround, not a vendor fix.
    let b = read_json(&two);
    assert_eq!(
        b["vulnerabilities"][0]["remediations"][0]["category"],
        "workaround"
    );
    // Deterministic: a second export gives the same bytes.
    env.run_ok(&["export", "csaf", "-o", "again"]);
    assert_eq!(
        std::fs::read(&one).unwrap(),
        std::fs::read(env.path("again/pk-2026-0001.json")).unwrap()
    );
}

#[test]
fn the_csaf_validator_rejects_an_undefined_product() {
    let env = TestEnv::new();
    records(&env);
    env.run_ok(&["export", "csaf", "-o", "advisories"]);
    let file = env.path("advisories/pk-2026-0001.json");
    let mut doc = read_json(&file);
    doc["vulnerabilities"][0]["product_status"]["known_affected"] =
        serde_json::json!(["no-such-product"]);
    let bad = env.path("bad.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let (ok, text) = validate(&[&bad]);
    assert!(!ok, "{text}");
    assert!(text.contains("6.1.1"), "{text}");
}

#[test]
fn the_projects_own_patches_export_as_valid_csaf() {
    let env = TestEnv::new();
    let patches = Path::new(env!("CARGO_MANIFEST_DIR")).join("../patches");
    let out = env.run_ok(&[
        "export",
        "csaf",
        "--source",
        patches.to_str().unwrap(),
        "-o",
        "advisories",
        "--json",
    ]);
    let written = out.json()["written"].as_array().unwrap().clone();
    assert!(!written.is_empty());
    let files: Vec<std::path::PathBuf> = written
        .iter()
        .map(|w| env.path(&format!("advisories/{}", w.as_str().unwrap())))
        .collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (ok, text) = validate(&refs);
    assert!(ok, "{text}");
}

#[test]
fn export_csaf_refuses_a_namespace_that_is_not_a_url() {
    let env = TestEnv::new();
    records(&env);
    let out = env.run_code(
        &[
            "export",
            "csaf",
            "-o",
            "advisories",
            "--namespace",
            "cpansec",
        ],
        2,
    );
    assert!(out.stderr.contains("is not a URL"), "{}", out.stderr);
    assert!(!env.path("advisories").exists());
}
