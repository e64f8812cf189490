//! `patchkit sbom`: CycloneDX 1.5 and 1.6 documents, validated against the
//! official JSON schemas by a real validator (python `jsonschema` with the
//! schemas shipped by PyPI's cyclonedx-python-lib; see
//! support/validate_cyclonedx.py), plus a mutation test proving that the
//! validator does reject an invalid document.

use std::path::Path;
use std::process::Command;

use crate::audit::{install_like_cpanm, patched_tarball, source_with};
use crate::support::*;

/// Validate `doc` as CycloneDX `spec`; returns (valid, validator output).
fn validate(doc: &serde_json::Value, spec: &str) -> (bool, String) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bom.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/support/validate_cyclonedx.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(spec).arg(&file);
    let out = run_cmd(cmd, tmp.path());
    // Anything but "valid" or "invalid" (a missing module, a crash) must
    // fail the test rather than pass it: the validator has to be real.
    assert!(
        out.code == 0 || (out.code == 1 && out.stderr.contains("invalid at")),
        "the schema validator did not run (install tests/requirements.txt):\n{}",
        out.stderr
    );
    (out.code == 0, format!("{}{}", out.stdout, out.stderr))
}

fn assert_valid(doc: &serde_json::Value, spec: &str) {
    let (ok, msg) = validate(doc, spec);
    assert!(ok, "CycloneDX {spec} invalid:\n{msg}\n{doc:#}");
}

const EXTRA: &str =
    "kind = \"backport\"\nreferences = [\"https://github.com/example/foo/commit/abc123\"]\n";

#[test]
fn sbom_of_a_patched_tarball_is_valid_cyclonedx_1_6_and_1_5() {
    let env = TestEnv::new();
    source_with(&env, EXTRA);
    let out = patched_tarball(&env, "1.0");
    let patch_text = std::fs::read_to_string(env.path("patches/Foo-Bar/PK-0001.patch")).unwrap();
    for spec in ["1.6", "1.5"] {
        let doc = env
            .run_ok(&[
                "sbom",
                "--spec",
                spec,
                "--source",
                "patches",
                out.to_str().unwrap(),
            ])
            .json();
        assert_valid(&doc, spec);
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], spec);
        assert_eq!(doc["version"], 1);
        assert!(doc["serialNumber"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:"));
        assert_eq!(
            doc["metadata"]["tools"]["components"][0]["name"],
            "patchkit"
        );
        let c = &doc["components"][0];
        assert_eq!(c["type"], "library");
        assert_eq!(c["name"], "Foo-Bar");
        assert_eq!(c["version"], "1.0");
        assert_eq!(c["purl"], "pkg:cpan/Foo-Bar@1.0");
        assert_eq!(c["hashes"][0]["alg"], "SHA-256");
        // The component is the upstream release: the hash is the original
        // tarball's, which the patch record carries, not the patched one's.
        assert_eq!(
            c["hashes"][0]["content"].as_str().unwrap(),
            crate::apply::sha256(&std::fs::read(env.path("in/Foo-Bar-1.0.tar.gz")).unwrap())
        );
        assert_ne!(
            c["hashes"][0]["content"].as_str().unwrap(),
            crate::apply::sha256(&std::fs::read(&out).unwrap())
        );
        let p = &c["pedigree"]["patches"][0];
        assert_eq!(p["type"], "backport");
        assert_eq!(p["diff"]["text"]["content"].as_str().unwrap(), patch_text);
        let issue = &p["resolves"][0];
        assert_eq!(issue["type"], "security");
        assert_eq!(issue["id"], "CVE-2025-0001");
        assert_eq!(issue["name"], "CVE-2025-0001");
        let refs: Vec<&str> = issue["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(
            refs.contains(&"https://github.com/example/foo/commit/abc123"),
            "{refs:?}"
        );
        assert!(refs.contains(&"https://nvd.nist.gov/vuln/detail/CVE-2025-0001"));
        assert!(c["properties"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"name": "patchkit:patch:PK-0001", "value": "genuine"})));
    }
}

#[test]
fn sbom_of_an_installed_library_takes_the_author_and_the_genuine_diff() {
    let env = TestEnv::new();
    source_with(&env, "kind = \"cherry-pick\"\n");
    let out = patched_tarball(&env, "1.0");
    let local = env.path("local");
    install_like_cpanm(&local, &out, "TESTER");
    let plain = DistBuilder::new("Plain-Dist", "2.5").file("lib/Plain.pm", "1;\n");
    install_like_cpanm(&local, &plain.tarball(&env.path("plain")), "OTHER");
    let patch_text = std::fs::read_to_string(env.path("patches/Foo-Bar/PK-0001.patch")).unwrap();
    for spec in ["1.6", "1.5"] {
        let doc = env
            .run_ok(&[
                "sbom",
                "--spec",
                spec,
                "--source",
                "patches",
                local.to_str().unwrap(),
            ])
            .json();
        assert_valid(&doc, spec);
        let comps = doc["components"].as_array().unwrap();
        assert_eq!(comps.len(), 2);
        let foo = comps.iter().find(|c| c["name"] == "Foo-Bar").unwrap();
        assert_eq!(foo["purl"], "pkg:cpan/Foo-Bar@1.0?author=TESTER");
        // MYMETA.json's x_patchkit names the original tarball.
        assert_eq!(
            foo["hashes"][0]["content"].as_str().unwrap(),
            crate::apply::sha256(&std::fs::read(env.path("in/Foo-Bar-1.0.tar.gz")).unwrap()),
            "{foo:#}"
        );
        let plain = comps.iter().find(|c| c["name"] == "Plain-Dist").unwrap();
        assert!(
            plain.get("hashes").is_none(),
            "no record, no tarball, no hash: {plain:#}"
        );
        let p = &foo["pedigree"]["patches"][0];
        assert_eq!(p["type"], "cherry-pick");
        // Installed libraries do not keep .patchkit/; the diff comes from
        // the repository because its sha256 is the one recorded.
        assert_eq!(p["diff"]["text"]["content"].as_str().unwrap(), patch_text);
        let plain = comps.iter().find(|c| c["name"] == "Plain-Dist").unwrap();
        assert_eq!(plain["purl"], "pkg:cpan/Plain-Dist@2.5?author=OTHER");
        assert!(plain.get("pedigree").is_none());
    }
}

#[test]
fn sbom_without_a_repository_describes_patches_from_the_record() {
    let env = TestEnv::new();
    source_with(&env, EXTRA);
    let out = patched_tarball(&env, "1.0");
    let run = env.run_ok(&["sbom", out.to_str().unwrap()]);
    assert!(
        run.stderr.contains("from the records alone"),
        "{}",
        run.stderr
    );
    let doc = run.json();
    assert_valid(&doc, "1.6");
    let p = &doc["components"][0]["pedigree"]["patches"][0];
    // Without the catalog, the kind is not known: unofficial.
    assert_eq!(p["type"], "unofficial");
    assert!(p["diff"]["text"]["content"]
        .as_str()
        .unwrap()
        .contains("@@"));
}

#[test]
fn sbom_is_byte_for_byte_reproducible_and_names_its_content() {
    let env = TestEnv::new();
    source_with(&env, EXTRA);
    let out = patched_tarball(&env, "1.0");
    let args = ["sbom", "--source", "patches", out.to_str().unwrap()];
    let a = env.run_ok(&args).stdout;
    let b = env.run_ok(&args).stdout;
    assert_eq!(a, b);
    let plain = crate::audit::foo_dist("1.5").tarball(&env.path("plain"));
    let c = env
        .run_ok(&["sbom", "--source", "patches", plain.to_str().unwrap()])
        .json();
    let a: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_ne!(a["serialNumber"], c["serialNumber"]);
}

#[test]
fn the_validator_rejects_invalid_documents() {
    let env = TestEnv::new();
    source_with(&env, EXTRA);
    let out = patched_tarball(&env, "1.0");
    let doc = env
        .run_ok(&["sbom", "--source", "patches", out.to_str().unwrap()])
        .json();
    assert_valid(&doc, "1.6");
    type Mutation = (&'static str, fn(&mut serde_json::Value));
    let mutations: [Mutation; 4] = [
        ("bad patch type", |d| {
            d["components"][0]["pedigree"]["patches"][0]["type"] = "hotfix".into()
        }),
        ("no bomFormat", |d| {
            d.as_object_mut().unwrap().remove("bomFormat");
        }),
        ("bad serial number", |d| d["serialNumber"] = "1234".into()),
        ("bad hash", |d| {
            d["components"][0]["hashes"][0]["content"] = "not-hex".into()
        }),
    ];
    for (what, mutate) in mutations {
        for spec in ["1.6", "1.5"] {
            let mut bad = doc.clone();
            bad["specVersion"] = spec.into();
            mutate(&mut bad);
            let (ok, msg) = validate(&bad, spec);
            assert!(!ok, "{what}: accepted by the {spec} schema:\n{msg}");
        }
    }
}

#[test]
fn sbom_refuses_an_unsupported_spec_version() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    let run = env.run_code(&["sbom", "--spec", "1.4", out.to_str().unwrap()], 2);
    assert!(run.stderr.contains("1.4"), "{}", run.stderr);
}
