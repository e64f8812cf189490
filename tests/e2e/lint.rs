//! `patchkit lint`: record checks, the `--against` table, recording the
//! binding `apply` checks, and the project's own `patches/`.

use crate::support::*;

fn body(n: usize) -> String {
    (1..=n).map(|i| format!("line {i};\n")).collect()
}

#[test]
fn lint_against_tarballs_reports_a_table_and_records_results() {
    let env = TestEnv::new();
    let old = body(12);
    let new = old.replace("line 6;\n", "line 6 fixed;\n");
    SourceBuilder::new(env.path("patches")).add(
        "PK-2026-0001",
        "Ln",
        ">= 1.0, < 2",
        &udiff("lib/Ln.pm", &old, &new),
    );
    let good = env.path("good");
    DistBuilder::new("Ln", "1.0")
        .file("lib/Ln.pm", &old)
        .tarball(&good);
    // Two lines more at the top: the hunk moves.
    DistBuilder::new("Ln", "1.1")
        .file("lib/Ln.pm", &format!("# a\n# b\n{old}"))
        .tarball(&good);
    DistBuilder::new("Ln", "1.2")
        .file("lib/Ln.pm", &new)
        .tarball(&good);
    DistBuilder::new("Ln", "2.0")
        .file("lib/Ln.pm", &old)
        .tarball(&good); // out of range
    let all = env.path("all");
    std::fs::create_dir_all(&all).unwrap();
    for f in std::fs::read_dir(&good).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), all.join(f.file_name())).unwrap();
    }
    DistBuilder::new("Ln", "1.3")
        .file("lib/Ln.pm", &old.replace("line 5;\n", "line five;\n"))
        .tarball(&all);

    let before = snapshot_dir(env.dir());
    let out = env.run_code(&["lint", "--against", "all"], 1);
    assert!(out.stdout.contains("RECORD"), "{}", out.stdout);
    let row = |v: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(&format!("Ln-{v}.tar.gz")))
            .unwrap_or("")
            .to_string()
    };
    assert!(row("1.0").ends_with("clean"), "{}", out.stdout);
    assert!(
        row("1.1").contains("offsets (lib/Ln.pm hunk 1 offset +2)"),
        "{}",
        out.stdout
    );
    assert!(row("1.2").contains("already applied"), "{}", out.stdout);
    assert!(row("1.3").contains("FAILED ("), "{}", out.stdout);
    assert!(row("2.0").is_empty(), "{}", out.stdout);
    assert_eq!(
        snapshot_dir(env.dir()),
        before,
        "lint without --record-results writes nothing"
    );

    let out = env.run_ok(&["lint", "--against", "good", "--record-results", "--json"]);
    let doc = out.json();
    assert_eq!(doc["ok"], true);
    let statuses: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["clean", "offsets", "already_applied"]);
    let rec: toml::Value =
        toml::from_str(&std::fs::read_to_string(env.path("patches/Ln/PK-2026-0001.toml")).unwrap())
            .unwrap();
    let tested = rec["tested"].as_array().unwrap();
    assert_eq!(tested.len(), 2);
    assert_eq!(tested[0]["tarball"].as_str(), Some("Ln-1.0.tar.gz"));

    // Recording again replaces, not duplicates; and apply checks the
    // binding for those tarballs.
    env.run_ok(&["lint", "--against", "good", "--record-results"]);
    let rec: toml::Value =
        toml::from_str(&std::fs::read_to_string(env.path("patches/Ln/PK-2026-0001.toml")).unwrap())
            .unwrap();
    assert_eq!(rec["tested"].as_array().unwrap().len(), 2);
    let out = env.run_ok(&[
        "check",
        "--source",
        "patches",
        "--json",
        good.join("Ln-1.0.tar.gz").to_str().unwrap(),
        good.join("Ln-1.1.tar.gz").to_str().unwrap(),
    ]);
    let doc = out.json();
    assert_eq!(doc["targets"][0]["patches"][0]["binding_checked"], true);
    assert_eq!(doc["targets"][1]["patches"][0]["binding_checked"], true);
}

#[test]
fn lint_reports_invalid_records_and_warnings() {
    let env = TestEnv::new();
    let src = SourceBuilder::new(env.path("patches"));
    src.add("PK-2026-0001", "Ok", "1", &udiff("x", "a\n", "b\n"));
    src.record(RecordSpec {
        id: "PK-2026-0002",
        dist: "Ok",
        versions: ">= 2",
        patch: &udiff("x", "a\n", "b\n"),
        extra: "sevrity = \"high\"\nfixed_in = \"1.0\"\n",
    });
    src.add(
        "PK-2026-0003",
        "Bad",
        "1",
        "--- a/../../x\n+++ b/../../x\n@@ -1 +1 @@\n-a\n+b\n",
    );
    std::fs::write(env.path("patches/Ok/stray.patch"), udiff("x", "a\n", "c\n")).unwrap();
    let before = snapshot_dir(env.dir());
    let out = env.run_code(&["lint", "--json"], 1);
    let doc = out.json();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["records"], 3);
    assert_eq!(doc["valid_records"], 2);
    let findings = doc["findings"].as_array().unwrap();
    let has = |level: &str, file: &str, text: &str| {
        findings.iter().any(|f| {
            f["level"] == level
                && f["file"] == file
                && f["message"].as_str().unwrap().contains(text)
        })
    };
    assert!(
        has("error", "Bad/PK-2026-0003.patch", "leaves the distribution"),
        "{findings:#?}"
    );
    assert!(
        has("error", "Ok/PK-2026-0002.toml", "matches no version"),
        "{findings:#?}"
    );
    assert!(
        has("warning", "Ok/PK-2026-0002.toml", "unknown field `sevrity`"),
        "{findings:#?}"
    );
    assert!(
        has("warning", "Ok/stray.patch", "no record refers"),
        "{findings:#?}"
    );
    assert_eq!(snapshot_dir(env.dir()), before);
}

/// CI lints this project's own `patches/` without network: whatever valid
/// records are there must pass.
#[test]
fn lint_passes_on_the_projects_own_patches() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../patches");
    if !dir.is_dir() {
        eprintln!("no patches/ folder yet; nothing to lint");
        return;
    }
    let env = TestEnv::new();
    let out = env.run(&["lint", "--source", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}
