//! `patchkit import --patch` on what CPANSec posts: real `git format-patch`
//! output made by the test (one patch, and an mbox of several), and DEP-3
//! headers whose dates and origins used to be taken as they were.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const OLD: &str = "package Im;\nsub run {\n    system(\"ls $_[0]\");\n}\n1;\n";
const FIXED: &str = "package Im;\nsub run {\n    system('ls', $_[0]);\n}\n1;\n";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Jörg Up Stream",
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
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05+01:00")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05+01:00")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An upstream repository with a release, the fix, and a second commit.
fn upstream(env: &TestEnv) -> PathBuf {
    let repo = env.path("upstream");
    std::fs::create_dir_all(repo.join("lib")).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("lib/Im.pm"), OLD).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "Release 1.0"]);
    std::fs::write(repo.join("lib/Im.pm"), FIXED).unwrap();
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-am",
            "Avoid the shell in run()\n\nCVE-2026-3333: a file name with ; ran commands.\n\n\
             Signed-off-by: Jörg Up Stream <up@example.org>",
        ],
    );
    std::fs::write(repo.join("README"), "readme\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "Add a README"]);
    repo
}

fn new_record(env: &TestEnv, updated: &str) -> String {
    let out = env.run_ok(&[
        "new",
        "Im",
        "--versions",
        "1.0",
        "--alias",
        "CVE-2026-3333",
        "--json",
    ]);
    let id = out.json()["id"].as_str().unwrap().to_string();
    // As if the record had last been updated on `updated`.
    let path = env.path(&format!("patches/Im/{id}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("updated = ") {
                format!("updated = \"{updated}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, text + "\n").unwrap();
    id
}

fn record(env: &TestEnv, id: &str) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(env.path(&format!("patches/Im/{id}.toml"))).unwrap())
        .unwrap()
}

#[test]
fn import_patch_reads_git_format_patch_output_into_every_field() {
    let env = TestEnv::new();
    let repo = upstream(&env);
    let id = new_record(&env, "2025-06-01");
    let mail = git(&repo, &["format-patch", "-1", "HEAD~1", "--stdout"]);
    assert!(mail.starts_with("From "), "{mail}");
    assert!(mail.contains("Subject: [PATCH] Avoid the shell"), "{mail}");
    std::fs::write(env.path("Im-r1.patch"), &mail).unwrap();
    let out = env.run_ok(&[
        "import",
        "--patch",
        "Im-r1.patch",
        "--record",
        &id,
        "--json",
    ]);
    let doc = out.json();
    // The patch is kept byte for byte.
    assert_eq!(
        std::fs::read_to_string(env.path(&format!("patches/Im/{id}.patch"))).unwrap(),
        mail
    );
    let rec = record(&env, &id);
    assert_eq!(rec["title"].as_str(), Some("Avoid the shell in run()"));
    assert_eq!(
        rec["description"].as_str(),
        Some("CVE-2026-3333: a file name with ; ran commands.")
    );
    assert_eq!(
        rec["authors"][0].as_str(),
        Some("Jörg Up Stream <up@example.org>")
    );
    // The author date, later than the record's last update.
    assert_eq!(rec["updated"].as_str(), Some("2026-01-02"));
    // Every header and trailer the record did not take is named, on stderr
    // and in the JSON document.
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for dropped in ["MIME-Version", "Content-Type", "Signed-off-by"] {
        assert!(
            warnings.iter().any(|w| w.contains(dropped)),
            "{dropped}: {warnings:?}"
        );
        assert!(
            out.stderr.contains(&format!(
                "warning: Im-r1.patch: dropped mail header or trailer {dropped}"
            )),
            "{}",
            out.stderr
        );
    }
    // It lints and applies to the released tarball.
    env.run_ok(&["lint"]);
    let tb = DistBuilder::new("Im", "1.0")
        .file("lib/Im.pm", OLD)
        .tarball(&env.path("in"));
    let out = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("1 patch would apply"), "{}", out.stdout);
}

#[test]
fn import_patch_without_the_mbox_line_strips_the_patch_prefix() {
    let env = TestEnv::new();
    let repo = upstream(&env);
    let id = new_record(&env, "2025-06-01");
    let mail = git(
        &repo,
        &[
            "format-patch",
            "-1",
            "HEAD~1",
            "--stdout",
            "--subject-prefix=PATCH v2",
        ],
    );
    // The mbox separator removed, as when a patch is copied from a mail.
    let body = mail.split_once('\n').unwrap().1;
    std::fs::write(env.path("fix.patch"), body).unwrap();
    env.run_ok(&["import", "--patch", "fix.patch", "--record", &id]);
    let rec = record(&env, &id);
    assert_eq!(rec["title"].as_str(), Some("Avoid the shell in run()"));
    let description = rec["description"].as_str().unwrap();
    assert!(!description.contains("[PATCH"), "{description}");
    assert!(!description.contains("Subject:"), "{description}");
}

#[test]
fn import_patch_refuses_an_mbox_of_several_patches() {
    let env = TestEnv::new();
    let repo = upstream(&env);
    let id = new_record(&env, "2025-06-01");
    let mbox = git(&repo, &["format-patch", "-2", "HEAD", "--stdout"]);
    std::fs::write(env.path("series.mbox"), &mbox).unwrap();
    let before = snapshot_dir(&env.path("patches"));
    let out = env.run_code(&["import", "--patch", "series.mbox", "--record", &id], 2);
    assert!(
        out.stderr.contains("series.mbox")
            && out.stderr.contains("refusing an mbox of 2 patches")
            && out.stderr.contains("Avoid the shell in run()")
            && out.stderr.contains("git mailsplit"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot_dir(&env.path("patches")), before);
}

#[test]
fn import_patch_never_moves_updated_backwards_and_drops_the_origin_category() {
    let env = TestEnv::new();
    let id = new_record(&env, "2026-06-01");
    let text = format!(
        "Description: Avoid the shell in run()\n\
         Origin: other, https://lists.example.org/cpansec/42\n\
         Last-Update: 2026-01-03\n\
         X-Reviewed: by nobody\n\
         \n{}",
        udiff("lib/Im.pm", OLD, FIXED)
    );
    std::fs::write(env.path("fix.patch"), &text).unwrap();
    let out = env.run_ok(&["import", "--patch", "fix.patch", "--record", &id, "--json"]);
    let rec = record(&env, &id);
    assert_eq!(rec["updated"].as_str(), Some("2026-06-01"));
    assert_eq!(
        rec["origin"].as_str(),
        Some("https://lists.example.org/cpansec/42")
    );
    assert!(
        out.stderr.contains("dropped DEP-3 field X-Reviewed"),
        "{}",
        out.stderr
    );
    assert!(out.json()["warnings"][0]
        .as_str()
        .unwrap()
        .contains("X-Reviewed"));
    // A later Last-Update does move it forward; `upstream, URL` keeps the URL.
    let id = new_record(&env, "2025-01-01");
    let text = text
        .replace("other, ", "upstream, ")
        .replace("X-Reviewed: by nobody\n", "");
    std::fs::write(env.path("fix.patch"), &text).unwrap();
    let out = env.run_ok(&["import", "--patch", "fix.patch", "--record", &id]);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let rec = record(&env, &id);
    assert_eq!(rec["updated"].as_str(), Some("2026-01-03"));
    assert_eq!(rec["kind"].as_str(), Some("cherry-pick"));
    assert_eq!(
        rec["origin"].as_str(),
        Some("https://lists.example.org/cpansec/42")
    );
}

#[test]
fn import_patch_refuses_a_quoted_printable_message() {
    let env = TestEnv::new();
    let repo = upstream(&env);
    let id = new_record(&env, "2025-06-01");
    let mail = git(&repo, &["format-patch", "-1", "HEAD~1", "--stdout"]);
    // As some mail clients save it: the body in quoted-printable, where
    // `=3D` stands for `=` and the diff inside is not the one to apply.
    let mail = mail.replace(
        "Content-Transfer-Encoding: 8bit",
        "Content-Transfer-Encoding: quoted-printable",
    );
    assert!(mail.contains("quoted-printable"), "{mail}");
    std::fs::write(env.path("qp.patch"), &mail).unwrap();
    let before = snapshot_dir(&env.path("patches"));
    let out = env.run_code(&["import", "--patch", "qp.patch", "--record", &id], 2);
    assert!(
        out.stderr.contains("qp.patch")
            && out
                .stderr
                .contains("refusing a message in \"quoted-printable\" transfer encoding"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot_dir(&env.path("patches")), before);
}
