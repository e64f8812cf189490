//! The project's own signed repository (`repository/`, published from
//! `patches/` with the maintainers' keys): it verifies against its pinned
//! root, it holds exactly the records in `patches/` (so an edit to
//! `patches/` that was not republished fails here), and its patches apply
//! where their records say they were reviewed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::*;

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn published_repository_verifies_and_matches_patches() {
    let env = TestEnv::new();
    let root = project();
    let repo = root.join("repository");
    env.run_ok(&[
        "repo",
        "add",
        "project",
        repo.to_str().unwrap(),
        "--root",
        repo.join("metadata/1.root.json").to_str().unwrap(),
    ]);
    let out = env.run_ok(&["update", "project"]);
    assert!(
        out.stdout.contains("project: verified version"),
        "{}",
        out.stdout
    );
    let records = std::fs::read_dir(root.join("patches"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|d| d.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "toml")
        })
        .count();
    assert!(
        out.stdout.contains(&format!(": {records} fixes for ")),
        "{}",
        out.stdout
    );

    // The newest targets metadata lists exactly the records of patches/.
    let newest = std::fs::read_dir(repo.join("metadata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| {
            n.strip_suffix(".targets.json")
                .and_then(|v| v.parse::<u64>().ok())
        })
        .max()
        .unwrap();
    let targets: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo.join(format!("metadata/{newest}.targets.json"))).unwrap(),
    )
    .unwrap();
    let published: BTreeMap<String, String> = targets["signed"]["targets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v["hashes"]["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut source = BTreeMap::new();
    for dist in std::fs::read_dir(root.join("patches")).unwrap() {
        let dist = dist.unwrap();
        if !dist.file_type().unwrap().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dist.path()).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".toml") || name.ends_with(".patch") {
                let key = format!("{}/{name}", dist.file_name().to_string_lossy());
                source.insert(key, crate::apply::sha256(&std::fs::read(f.path()).unwrap()));
            }
        }
    }
    assert!(!source.is_empty());
    assert_eq!(
        published, source,
        "repository/ is not patches/ as published: run `bash scripts/publish-repository.sh` \
         (see docs/publishing.md)"
    );
}

#[test]
fn published_repository_metadata_outlives_a_clone_by_months() {
    // repository/ is served from a git checkout, where nothing re-signs the
    // timestamp daily: published with TUF's default lifetimes (timestamp 1
    // day, snapshot 7) every clone would stop verifying a day later.
    // scripts/publish-repository.sh publishes it with the year-long
    // lifetimes docs/security.md ("Lifetimes") explains; this refuses a
    // republish that forgot them.
    let meta = project().join("repository/metadata");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(meta.join(name)).unwrap()).unwrap()
    };
    let timestamp = read("timestamp.json");
    let snapshot_version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
        .as_u64()
        .unwrap();
    let snapshot = read(&format!("{snapshot_version}.snapshot.json"));
    let targets_version = snapshot["signed"]["meta"]["targets.json"]["version"]
        .as_u64()
        .unwrap();
    let targets = read(&format!("{targets_version}.targets.json"));
    let newest_root = std::fs::read_dir(&meta)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".root.json")?.parse::<u64>().ok()
        })
        .max()
        .unwrap();
    let root = read(&format!("{newest_root}.root.json"));
    let horizon = chrono::Utc::now() + chrono::Duration::days(90);
    for (role, doc) in [
        ("timestamp.json", &timestamp),
        (&*format!("{snapshot_version}.snapshot.json"), &snapshot),
        (&*format!("{targets_version}.targets.json"), &targets),
        (&*format!("{newest_root}.root.json"), &root),
    ] {
        let expires: chrono::DateTime<chrono::Utc> =
            doc["signed"]["expires"].as_str().unwrap().parse().unwrap();
        assert!(
            expires > horizon,
            "repository/metadata/{role} expires {expires}, within 90 days: republish with \
             `bash scripts/publish-repository.sh` (year-long lifetimes, docs/security.md)"
        );
    }
}

#[test]
fn project_records_lint_clean_through_check() {
    // Every record of patches/ loads (ids, ranges, paths, diffs) without a
    // network: the same validation every client runs.
    let env = TestEnv::new();
    let tb = DistBuilder::new("Nothing-Here", "1.0").tarball(&env.path("in"));
    let patches = project().join("patches");
    let out = env.run_ok(&[
        "check",
        "--source",
        patches.to_str().unwrap(),
        tb.to_str().unwrap(),
    ]);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn python_tuf_verifies_the_project_repository() {
    // The reference TUF client (python-tuf's ngclient, from PyPI; .ci/run
    // installs it) refreshes the committed repository served on 127.0.0.1
    // and downloads every target, checking each sha256 against patches/.
    let env = TestEnv::new();
    let root = project();
    let repo = root.join("repository");
    let server = crate::support::server::Server::serve(&repo);
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(root.join("tests/tuf/ngclient_refresh.py"))
        .arg(repo.join("metadata/1.root.json"))
        .arg(&server.url)
        .arg(env.path("ngclient"));
    for dist in std::fs::read_dir(root.join("patches")).unwrap() {
        let dist = dist.unwrap();
        if !dist.file_type().unwrap().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dist.path()).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".toml") || name.ends_with(".patch") {
                let sha = crate::apply::sha256(&std::fs::read(f.path()).unwrap());
                cmd.arg(format!(
                    "{}/{name}={sha}",
                    dist.file_name().to_string_lossy()
                ));
            }
        }
    }
    let out = run_cmd(cmd, env.dir());
    assert_eq!(
        out.code, 0,
        "python-tuf refused the project repository (pip install -r tests/requirements.txt):\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(out.stdout.contains("PK-2026-0001.patch"), "{}", out.stdout);
}

#[test]
fn project_repository_knows_html_stripscripts_by_content() {
    // A library holding only HTML/StripScripts.pm — no packlist, no
    // perllocal.pod, no .meta/ — is identified from the project's signed
    // repository alone: the module's sha256 is a `before` of PK-2026-0004's
    // `[[tested]] files` for the shipped example tarball (the fix MISSING),
    // and once the repository's patch is applied, an `after` (genuine).
    let env = TestEnv::new();
    let root = project();
    let repo = root.join("repository");
    env.run_ok(&[
        "repo",
        "add",
        "project",
        repo.to_str().unwrap(),
        "--root",
        repo.join("metadata/1.root.json").to_str().unwrap(),
    ]);
    env.run_ok(&["update", "project"]);
    let example = root.join("examples/HTML-StripScripts-1.06.tar.gz");
    let member = "HTML-StripScripts-1.06/lib/HTML/StripScripts.pm";
    let install = |tarball: &Path, lib: &str| -> Vec<u8> {
        let (pm, _) = tarball_files(tarball)
            .remove(member)
            .unwrap_or_else(|| panic!("no {member} in {}", tarball.display()));
        let dir = env.path(lib).join("lib/perl5/HTML");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("StripScripts.pm"), &pm).unwrap();
        pm
    };
    let dist = |doc: &serde_json::Value| -> serde_json::Value {
        doc["dists"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dist"] == "HTML-StripScripts")
            .unwrap_or_else(|| panic!("no HTML-StripScripts in {doc:#}"))
            .clone()
    };

    // The pristine module: the fix is MISSING, and the gate fails.
    let pristine = install(&example, "vuln");
    let out = env.run_code(&["audit", "--fail-on", "missing", "vuln"], 1);
    assert!(
        out.stdout.contains("known by content")
            && out.stdout.contains("PK-2026-0004")
            && out.stdout.contains("MISSING"),
        "{}",
        out.stdout
    );
    let doc = env
        .run_code(&["audit", "--json", "--fail-on", "missing", "vuln"], 1)
        .json();
    let d = dist(&doc);
    assert_eq!(d["found_by"], "content", "{d:#}");
    assert_eq!(d["version"], "1.06", "{d:#}");
    assert_eq!(d["missing"][0]["id"], "PK-2026-0004", "{d:#}");
    assert_eq!(doc["summary"]["unattributed"], 0, "{doc:#}");

    // The module of the tarball the repository's patch was applied to:
    // PK-2026-0004 is carried, genuine, shown by the installed file.
    env.run_ok(&["apply", "-o", "patched", example.to_str().unwrap()]);
    let patched = install(&env.path("patched/HTML-StripScripts-1.06.tar.gz"), "fixed");
    assert_ne!(pristine, patched, "apply changed StripScripts.pm");
    let doc = env
        .run_code(
            &[
                "audit",
                "--json",
                "--fail-on",
                "missing,unknown,damaged",
                "fixed",
            ],
            0,
        )
        .json();
    let d = dist(&doc);
    assert_eq!(d["found_by"], "content", "{d:#}");
    assert_eq!(d["patches"][0]["id"], "PK-2026-0004", "{d:#}");
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
    assert_eq!(d["patches"][0]["by_content"], true, "{d:#}");
    assert_eq!(d["missing"], serde_json::json!([]), "{d:#}");
    assert_eq!(d["findings"], serde_json::json!([]), "{d:#}");
}
