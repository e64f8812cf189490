//! The real CPAN release shipped in `examples/` for the quick start
//! (`examples/quickstart.sh`, described in `examples/README.md`): it is
//! byte for byte the tarball a record of `patches/` was reviewed on, so
//! applying the project's signed repository to it runs the binding check
//! of `docs/formats.md` (`[[tested]]`: the input's sha256 and the patched
//! tree's digest) and the quick start shows "output matches the reviewed
//! tree".

use std::path::{Path, PathBuf};

use crate::support::*;

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The releases shipped in `examples/`: every `*.tar.gz` there.
fn shipped_releases() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(project().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "examples/ ships no release for the quick start (see examples/README.md)"
    );
    found
}

/// Every `[[tested]]` entry of `patches/*/*.toml` naming `file_name`, as
/// (record path, sha256 it binds).
fn bindings_for(file_name: &str) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for dist in std::fs::read_dir(project().join("patches")).unwrap() {
        let dist = dist.unwrap();
        if !dist.file_type().unwrap().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dist.path()).unwrap() {
            let path = f.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let record: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
            let Some(tested) = record.get("tested").and_then(|t| t.as_array()) else {
                continue;
            };
            for t in tested {
                if t.get("tarball").and_then(|v| v.as_str()) == Some(file_name) {
                    let sha = t["sha256"].as_str().unwrap().to_string();
                    out.push((path.clone(), sha));
                }
            }
        }
    }
    out
}

#[test]
fn shipped_release_sha256_equals_the_binding_in_its_record() {
    for release in shipped_releases() {
        let name = release.file_name().unwrap().to_string_lossy().into_owned();
        let bindings = bindings_for(&name);
        assert!(
            !bindings.is_empty(),
            "examples/{name} is named in no [[tested]] entry of patches/*/*.toml"
        );
        let actual = crate::apply::sha256(&std::fs::read(&release).unwrap());
        for (record, bound) in bindings {
            assert_eq!(
                actual,
                bound,
                "examples/{name} is not the tarball {} was reviewed on",
                record.display()
            );
        }
    }
}

#[test]
fn shipped_release_applies_from_the_signed_repository_with_the_binding_checked() {
    // What the quick start does: pin repository/, verify it, apply to the
    // shipped release; every patch applied must have passed the binding
    // check (a patch that did not would print no "matches the reviewed
    // tree" line).
    let root = project();
    let repo = root.join("repository");
    for release in shipped_releases() {
        let env = TestEnv::new();
        env.run_ok(&[
            "repo",
            "add",
            "cpansec",
            repo.to_str().unwrap(),
            "--root",
            repo.join("metadata/1.root.json").to_str().unwrap(),
        ]);
        env.run_ok(&["update"]);
        let out = env.run_ok(&[
            "apply",
            "--json",
            "-o",
            env.path("out").to_str().unwrap(),
            release.to_str().unwrap(),
        ]);
        let report = out.json();
        let patches = report["targets"][0]["patches"].as_array().unwrap();
        assert!(!patches.is_empty(), "{}", out.stdout);
        for p in patches {
            assert_eq!(p["status"], "applied", "{}", out.stdout);
            assert_eq!(p["binding_checked"], true, "{}", out.stdout);
        }
        assert!(env.path("out").join(release.file_name().unwrap()).is_file());
    }
}
