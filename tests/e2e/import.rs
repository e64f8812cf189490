//! `patchkit import`: from a git repository made by the test (an upstream
//! fix commit) and from a DEP-3 patch; and the refusals.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const OLD: &str = "package Im;\nsub run {\n    system(\"ls $_[0]\");\n}\n1;\n";
const FIXED: &str = "package Im;\nsub run {\n    system('ls', $_[0]);\n}\n1;\n";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Up Stream",
            "-c",
            "user.email=up@example.org",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An upstream repository: a release commit, the fix, a test for it.
fn upstream(env: &TestEnv) -> PathBuf {
    let repo = env.path("upstream");
    std::fs::create_dir_all(repo.join("lib")).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("lib/Im.pm"), OLD).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "Release 1.0"]);
    git(&repo, &["tag", "v1.0"]);
    std::fs::write(repo.join("lib/Im.pm"), FIXED).unwrap();
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-am",
            "Avoid the shell in run()\n\nCVE-2026-3333: a file name with ; ran commands.",
        ],
    );
    std::fs::create_dir_all(repo.join("t")).unwrap();
    std::fs::write(
        repo.join("t/run.t"),
        "use Test::More; ok 1; done_testing;\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(
        &repo,
        &["commit", "-q", "-m", "Test run() with hostile names"],
    );
    repo
}

fn new_record(env: &TestEnv) -> String {
    let out = env.run_ok(&[
        "new",
        "Im",
        "--versions",
        "1.0",
        "--alias",
        "CVE-2026-3333",
        "--json",
    ]);
    out.json()["id"].as_str().unwrap().to_string()
}

fn record(env: &TestEnv, id: &str) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(env.path(&format!("patches/Im/{id}.toml"))).unwrap())
        .unwrap()
}

#[test]
fn import_git_takes_one_upstream_commit() {
    let env = TestEnv::new();
    let repo = upstream(&env);
    let id = new_record(&env);
    let out = env.run_ok(&[
        "import",
        "--git",
        repo.to_str().unwrap(),
        "HEAD~1",
        "--record",
        &id,
        "--json",
    ]);
    assert_eq!(out.json()["files"], serde_json::json!(["lib/Im.pm"]));
    let rec = record(&env, &id);
    assert_eq!(rec["title"].as_str(), Some("Avoid the shell in run()"));
    assert_eq!(rec["kind"].as_str(), Some("cherry-pick"));
    assert_eq!(
        rec["authors"][0].as_str(),
        Some("Up Stream <up@example.org>")
    );
    assert!(rec["description"]
        .as_str()
        .unwrap()
        .contains("CVE-2026-3333"));
    assert!(rec["origin"].as_str().unwrap().starts_with("commit:"));
    let patch = std::fs::read_to_string(env.path(&format!("patches/Im/{id}.patch"))).unwrap();
    assert!(
        patch.starts_with("Description: Avoid the shell in run()\n"),
        "{patch}"
    );
    assert!(
        patch.contains("\nAuthor: Up Stream <up@example.org>\n"),
        "{patch}"
    );
    assert!(patch.contains("\nOrigin: upstream, commit:"), "{patch}");
    assert!(patch.contains("\nLast-Update: "), "{patch}");
    // Comments of the scaffold survive the edit.
    let toml = std::fs::read_to_string(env.path(&format!("patches/Im/{id}.toml"))).unwrap();
    assert!(toml.contains("# severity = \"high\""), "{toml}");
    // It applies to the released tarball.
    env.run_ok(&["lint"]);
    let tb = DistBuilder::new("Im", "1.0")
        .file("lib/Im.pm", OLD)
        .tarball(&env.path("in"));
    let out = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("1 patch would apply"), "{}", out.stdout);
}

#[test]
fn import_git_takes_a_range_as_one_backport() {
    let env = TestEnv::new();
    let repo = upstream(&env);
    let id = new_record(&env);
    let url = format!("file://{}", repo.display());
    let out = env.run_ok(&[
        "import",
        "--git",
        &url,
        "v1.0..main",
        "--record",
        &id,
        "--json",
    ]);
    let doc = out.json();
    assert_eq!(doc["files"], serde_json::json!(["lib/Im.pm", "t/run.t"]));
    assert_eq!(doc["commits"].as_array().unwrap().len(), 2);
    let rec = record(&env, &id);
    assert_eq!(rec["kind"].as_str(), Some("backport"));
    assert_eq!(rec["title"].as_str(), Some("Avoid the shell in run()"));
    env.run_ok(&["lint"]);
}

#[test]
fn import_git_refuses_a_revision_that_does_not_exist() {
    let env = TestEnv::new();
    let repo = upstream(&env);
    let id = new_record(&env);
    let before = snapshot_dir(&env.path("patches"));
    let out = env.run_code(
        &[
            "import",
            "--git",
            repo.to_str().unwrap(),
            "no-such-rev",
            "--record",
            &id,
        ],
        2,
    );
    assert!(
        out.stderr.contains("revision \"no-such-rev\" not found"),
        "{}",
        out.stderr
    );
    let out = env.run_code(
        &[
            "import",
            "--git",
            repo.to_str().unwrap(),
            "v1.0..nope",
            "--record",
            &id,
        ],
        2,
    );
    assert!(out.stderr.contains("\"nope\" not found"), "{}", out.stderr);
    let out = env.run_code(
        &[
            "import",
            "--git",
            "https://example.org/x.git",
            "HEAD",
            "--record",
            &id,
        ],
        2,
    );
    assert!(
        out.stderr.contains("only local repositories"),
        "{}",
        out.stderr
    );
    let out = env.run_code(
        &[
            "import",
            "--git",
            env.path("nothing").to_str().unwrap(),
            "HEAD",
            "--record",
            &id,
        ],
        2,
    );
    assert!(
        out.stderr.contains("not a git repository"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot_dir(&env.path("patches")), before);
}

const DEP3_PATCH: &str = "\
Description: Avoid the shell in run()
 run() passed its argument to a shell.
 .
 Use the list form of system.
Origin: upstream, https://github.com/example/im/commit/0123456789abcdef
Bug: https://github.com/example/im/issues/7
Bug-Debian: 1098765
Author: Up Stream <up@example.org>
Forwarded: not-needed
Applied-Upstream: 1.1, https://github.com/example/im/commit/0123456789abcdef
Last-Update: 2026-01-03

";

#[test]
fn import_patch_reads_dep3_headers_into_the_record() {
    let env = TestEnv::new();
    let id = new_record(&env);
    let text = format!("{DEP3_PATCH}{}", udiff("lib/Im.pm", OLD, FIXED));
    std::fs::write(env.path("fix.patch"), &text).unwrap();
    env.run_ok(&["import", "--patch", "fix.patch", "--record", &id]);
    assert_eq!(
        std::fs::read_to_string(env.path(&format!("patches/Im/{id}.patch"))).unwrap(),
        text
    );
    let rec = record(&env, &id);
    assert_eq!(rec["title"].as_str(), Some("Avoid the shell in run()"));
    assert_eq!(
        rec["description"].as_str(),
        Some("run() passed its argument to a shell.\n\nUse the list form of system.")
    );
    // Last-Update (2026-01-03) is older than the new record: `updated` stays.
    assert_ne!(rec["updated"].as_str(), Some("2026-01-03"));
    assert_eq!(rec["kind"].as_str(), Some("cherry-pick"));
    assert_eq!(
        rec["authors"][0].as_str(),
        Some("Up Stream <up@example.org>")
    );
    let refs: Vec<&str> = rec["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        vec![
            "https://github.com/example/im/issues/7",
            "https://bugs.debian.org/1098765",
            "https://github.com/example/im/commit/0123456789abcdef",
        ]
    );
    env.run_ok(&["lint"]);
}

#[test]
fn import_patch_refuses_paths_outside_the_dist() {
    let env = TestEnv::new();
    let id = new_record(&env);
    std::fs::write(
        env.path("evil.patch"),
        "--- a/../../etc/profile\n+++ b/../../etc/profile\n@@ -1 +1 @@\n-x\n+y\n",
    )
    .unwrap();
    let before = snapshot_dir(env.dir());
    let out = env.run_code(&["import", "--patch", "evil.patch", "--record", &id], 2);
    assert!(
        out.stderr.contains("evil.patch") && out.stderr.contains("leaves the distribution"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot_dir(env.dir()), before);
}
