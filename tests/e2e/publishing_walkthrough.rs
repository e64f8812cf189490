//! docs/publishing.md run as written: every ```sh block of the page, in
//! order, is a new member's walk with a made-up distribution and throwaway
//! keys (new → diff → lint → publish with 2-of-2 root signing → repo add →
//! update → apply → withdraw). The test takes the blocks from the page
//! itself, so the page cannot drift from what works, and runs them with
//! `bash -e` in an empty folder with the real binary first on PATH.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// The ```sh blocks of `markdown`, concatenated in order.
fn sh_blocks(markdown: &str) -> (String, usize) {
    let mut script = String::new();
    let mut count = 0;
    let mut inside = false;
    for line in markdown.lines() {
        if !inside && line.trim_end() == "```sh" {
            inside = true;
            count += 1;
            continue;
        }
        if inside && line.trim_end() == "```" {
            inside = false;
            script.push('\n');
            continue;
        }
        if inside {
            script.push_str(line);
            script.push('\n');
        }
    }
    assert!(!inside, "an unclosed ```sh block in docs/publishing.md");
    (script, count)
}

#[test]
fn publishing_md_walkthrough_runs_as_written() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/publishing.md");
    let (script, blocks) = sh_blocks(&std::fs::read_to_string(page).unwrap());
    assert!(blocks >= 6, "docs/publishing.md has {blocks} sh blocks");
    let env = TestEnv::new();
    let work = env.path("new-member");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("walk.sh"), &script).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_patchkit"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-e", "walk.sh"]).env("PATH", path);
    let out = run_cmd(cmd, &work);
    assert_eq!(
        out.code, 0,
        "the walk-through failed:\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
    // Each step did what the page says it does.
    for (said, what) in [
        (&out.stdout, "clean  [recorded]"),
        (
            &out.stderr,
            "error: root has 1 of 2 signatures: nothing was published",
        ),
        (&out.stdout, "site.staged/1.root.json: signed with key"),
        (
            &out.stdout,
            "site: root 1, targets 1, snapshot 1, timestamp 1",
        ),
        (
            &out.stdout,
            "1 patch applied -> patched/Acme-Walk-1.0.tar.gz",
        ),
        (&out.stdout, "output matches the reviewed tree"),
        (&out.stdout, "walk: verified version 2 ("),
        (&out.stdout, "this target CARRIES it"),
    ] {
        assert!(
            said.contains(what),
            "missing {what:?}:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
    // The root was staged outside the site (and removed once published);
    // the site holds the published repository only. The try-out kept to
    // its own home.
    assert!(work.join("site.staged").is_dir());
    let mut served: Vec<String> = std::fs::read_dir(work.join("site"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    served.sort();
    assert_eq!(served, vec!["metadata", "targets"]);
    assert!(work.join("home").is_dir());
}
