//! Tests of the patch engine: unit tests per feature, then the text cases
//! of `tests/cases/`.
//!
//! # Adding a text case
//!
//! A case is a folder `tests/cases/<name>/`:
//! - `in/` holds the original files of a distribution (below its top
//!   directory), the patch as `in/patch.diff` (paths as in a real patch, so
//!   `a/lib/Foo.pm` with the default strip of 1) and optionally
//!   `in/options`, `key=value` lines (`#` starts a comment):
//!   - `tool=gnu` (default): GNU patch is the reference, run as
//!     `patch -p1 --fuzz=N --no-backup-if-mismatch --forward --batch
//!     --reject-file=- -i patch.diff` (`--forward --batch` only keep it from
//!     asking questions; they change no output);
//!   - `tool=git`: `git apply -p1 patch.diff` is the reference (renames,
//!     copies and mode changes, which GNU patch handles differently);
//!   - `tool=none`: no reference tool (e.g. "already applied", which GNU
//!     patch only offers to reverse);
//!   - `fuzz=N`: passed to our engine as [`Fuzz::Lines`] and to GNU patch;
//!   - `strip=N`: path components to strip (default 1);
//!   - `expect=already-applied`: our engine must report
//!     [`Outcome::AlreadyApplied`] and leave the files as they are;
//!   - `error=TEXT`: the case must fail, and our error message must
//!     contain TEXT.
//! - `out/` holds the expected files after the patch, byte for byte, with
//!   the executable bit where the result has it. A case that must fail has
//!   no `out/`.
//!
//! Make `out/` with the reference tool, never with our engine: copy `in/`
//! (without `patch.diff` and `options`) to a scratch directory, run the
//! command above there, look at the result, and copy it to `out/`. Then run
//! `cargo test -p patchkit --lib patch`: the harness runs every case through
//! our engine and through the reference tool and requires both results to
//! equal `out/` (for failing cases: both must fail, and the tree must be
//! untouched). `tests/cases/.gitattributes` keeps git from changing line
//! endings in the fixtures.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::*;
use crate::tree::{FileEntry, InTreePath, Tree};

fn p(path: &str) -> InTreePath {
    InTreePath::parse(path).unwrap()
}

fn tree(files: &[(&str, &str)]) -> Tree {
    let mut t = Tree::default();
    for (path, data) in files {
        t.files.insert(
            p(path),
            FileEntry {
                data: data.as_bytes().to_vec(),
                mode: 0o644,
            },
        );
    }
    t
}

fn text(t: &Tree, path: &str) -> String {
    String::from_utf8(t.files[&p(path)].data.clone()).unwrap()
}

fn numbered(prefix: &str, n: usize) -> String {
    (1..=n).map(|i| format!("{prefix} {i}\n")).collect()
}

fn apply_str(t: &mut Tree, patch: &str) -> Result<Applied, ApplyError> {
    let parsed = parse(patch.as_bytes(), 1).unwrap();
    apply(t, &parsed, &ApplyOptions::default())
}

fn applied_reports(result: &Applied) -> &[FileReport] {
    match &result.outcome {
        Outcome::Applied(reports) => reports,
        Outcome::AlreadyApplied => panic!("expected Applied, got AlreadyApplied"),
    }
}

const SIMPLE: &str = "\
--- a/lib/Foo.pm
+++ b/lib/Foo.pm
@@ -4,7 +4,7 @@
 line 4
 line 5
 line 6
-line 7
+line seven
 line 8
 line 9
 line 10
";

// ---------------------------------------------------------------- parsing

#[test]
fn parse_plain_diff_strips_and_keeps_preamble() {
    let patch = format!("Description: fix\nAuthor: me\n---\n{SIMPLE}");
    let parsed = parse(patch.as_bytes(), 1).unwrap();
    assert_eq!(parsed.preamble, "Description: fix\nAuthor: me\n---\n");
    assert_eq!(parsed.files.len(), 1);
    let file = &parsed.files[0];
    assert_eq!(file.op, Operation::Modify);
    assert_eq!(file.old_path, p("lib/Foo.pm"));
    assert_eq!(file.new_path, p("lib/Foo.pm"));
    assert_eq!(file.hunks.len(), 1);
    assert_eq!(
        (file.hunks[0].old_start, file.hunks[0].old_len),
        (4, 7),
        "hunk header kept as written"
    );
}

#[test]
fn parse_keeps_diff_command_line_out_of_preamble() {
    let patch = format!("Some words.\n\ndiff -Naur a/lib/Foo.pm b/lib/Foo.pm\n{SIMPLE}");
    let parsed = parse(patch.as_bytes(), 1).unwrap();
    assert_eq!(parsed.preamble, "Some words.\n\n");
}

#[test]
fn parse_strip_zero_and_two() {
    let parsed = parse(SIMPLE.as_bytes(), 0).unwrap();
    assert_eq!(parsed.files[0].new_path, p("b/lib/Foo.pm"));
    let parsed = parse(SIMPLE.as_bytes(), 2).unwrap();
    assert_eq!(parsed.files[0].new_path, p("Foo.pm"));
    let err = parse(SIMPLE.as_bytes(), 3).unwrap_err();
    assert!(
        err.to_string()
            .contains("nothing is left after stripping 3"),
        "{err}"
    );
}

#[test]
fn parse_refuses_paths_leaving_the_distribution() {
    for (path, reason) in [
        ("a/../../etc/passwd", "`..`"),
        ("a/lib/../../x", "`..`"),
        ("/etc/passwd", "absolute"),
        ("a/C:/x", "absolute"),
        ("\"a/x\\033[2J\"", "control character"),
    ] {
        let patch = format!("--- {path}\n+++ {path}\n@@ -1 +1 @@\n-a\n+b\n");
        let err = parse(patch.as_bytes(), 1).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("leaves the distribution"), "{msg}");
        assert!(msg.contains(reason), "{msg}");
        assert!(matches!(err, ParseError::PathEscapes { .. }));
    }
}

#[test]
fn parse_refuses_backslash_paths() {
    // diffy already refuses an unquoted backslash; a quoted one reaches
    // InTreePath, which refuses it.
    for path in ["a/lib\\..\\x", "\"a/lib\\\\..\\\\x\""] {
        let patch = format!("--- {path}\n+++ {path}\n@@ -1 +1 @@\n-a\n+b\n");
        assert!(parse(patch.as_bytes(), 1).is_err(), "{path}");
    }
}

#[test]
fn parse_refusal_quotes_only_a_bounded_excerpt() {
    let long = format!("a/{}/../x", "d".repeat(500));
    let patch = format!("--- {long}\n+++ {long}\n@@ -1 +1 @@\n-a\n+b\n");
    let msg = parse(patch.as_bytes(), 1).unwrap_err().to_string();
    assert!(msg.len() < 200, "{msg}");
    assert!(msg.contains('…'));
}

#[test]
fn parse_refuses_git_rename_out_of_tree() {
    let patch = "diff --git a/x b/x\nsimilarity index 100%\nrename from x\nrename to ../x\n";
    let err = parse(patch.as_bytes(), 1).unwrap_err();
    assert!(
        err.to_string().contains("\"../x\" leaves the distribution"),
        "{err}"
    );
}

#[test]
fn parse_refuses_binary_patches() {
    let git = "diff --git a/logo.png b/logo.png\nindex 1..2 100644\nGIT binary patch\nliteral 1\nIcmZ?l000001\n\n";
    let err = parse(git.as_bytes(), 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "b/logo.png: binary patches are not supported"
    );
    let plain = "diff -Naur a/x.png b/x.png\nBinary files a/x.png and b/x.png differ\n";
    let err = parse(plain.as_bytes(), 1).unwrap_err();
    assert_eq!(err.to_string(), "a/x.png: binary patches are not supported");
    // Mixed with a text diff, the binary part is still refused.
    let mixed =
        format!("{SIMPLE}diff -Naur a/x.png b/x.png\nBinary files a/x.png and b/x.png differ\n");
    assert!(matches!(
        parse(mixed.as_bytes(), 1).unwrap_err(),
        ParseError::Binary { .. }
    ));
}

#[test]
fn parse_refuses_empty_input_and_prose() {
    assert!(matches!(parse(b"", 1).unwrap_err(), ParseError::NoDiff));
    let err = parse(b"Just a description, no diff.\n", 1).unwrap_err();
    assert_eq!(err.to_string(), "the patch contains no file diffs");
}

#[test]
fn parse_refuses_hunk_hidden_behind_text() {
    // diffy (like GNU patch) stops at the first non-hunk line and would
    // silently drop the second hunk; a reviewer would think it applies.
    let patch = format!("{SIMPLE}some trailing words\n@@ -20,3 +20,3 @@\n a\n-b\n+c\n d\n");
    let err = parse(patch.as_bytes(), 1).unwrap_err();
    assert!(
        matches!(
            err,
            ParseError::StrayHunks {
                found: 2,
                parsed: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn parse_refuses_hunk_without_changes() {
    let patch = "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n b\n";
    let err = parse(patch.as_bytes(), 1).unwrap_err();
    assert_eq!(err.to_string(), "x: hunk 1 changes nothing");
}

#[test]
fn parse_refuses_symlink_modes() {
    let patch = "diff --git a/link b/link\nnew file mode 120000\nindex 0..1\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+target\n\\ No newline at end of file\n";
    let err = parse(patch.as_bytes(), 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "link: symbolic links are not supported in patches"
    );
}

#[test]
fn parse_reports_malformed_hunks() {
    let patch = "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n";
    let err = parse(patch.as_bytes(), 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the hunk header at byte 16 declares 3 lines, but only 2 lines follow it"
    );
    let patch = "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n?bad\n?bad\n";
    let err = parse(patch.as_bytes(), 1).unwrap_err();
    assert!(
        err.to_string().starts_with("the patch is malformed"),
        "{err}"
    );
}

#[test]
fn parse_refuses_hunk_counts_the_patch_cannot_hold() {
    // Billions of lines declared in a few bytes: refused before diffy or
    // the engine would work for each one.
    let patch = "--- a/x\n+++ b/x\n@@ -1,1372266989 +1,1372266989 @@\n a\n";
    let err = parse(patch.as_bytes(), 1).unwrap_err();
    assert!(
        err.to_string()
            .contains("declares 1372266989 lines, but only 1 lines follow it"),
        "{err}"
    );
    let huge = "--- a/x\n+++ b/x\n@@ -1,99999999999999999999999 +1 @@\n a\n";
    assert!(parse(huge.as_bytes(), 1).is_err());
}

#[test]
fn parse_classifies_plain_creation_and_deletion() {
    let patch = "\
--- /dev/null
+++ b/new.txt
@@ -0,0 +1 @@
+hi
--- a/epoch.txt\t1970-01-01 00:00:00.000000000 +0000
+++ b/epoch.txt\t2025-01-01 00:00:00.000000000 +0000
@@ -0,0 +1 @@
+hi
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
--- a/gone.txt\t2025-01-01 00:00:00.000000000 +0000
+++ b/gone.txt\t1970-01-01 00:00:00.000000000 +0000
@@ -1 +0,0 @@
-bye
";
    let parsed = parse(patch.as_bytes(), 1).unwrap();
    let ops: Vec<_> = parsed.files.iter().map(|f| f.op.clone()).collect();
    assert_eq!(
        ops,
        [
            Operation::Create,
            Operation::Create,
            Operation::Delete,
            Operation::Delete
        ]
    );
    assert_eq!(parsed.files[1].old_path, p("epoch.txt"));
    assert_eq!(parsed.files[3].new_path, p("gone.txt"));
}

#[test]
fn parse_git_headers() {
    let patch = "\
From 1234 Mon Sep 17 00:00:00 2001
Subject: [PATCH] fix

---
 x | 1 +
diff --git a/bin/tool b/bin/tool
old mode 100644
new mode 100755
diff --git a/old/A.pm b/new/B.pm
similarity index 90%
rename from old/A.pm
rename to new/B.pm
index 1..2 100644
--- a/old/A.pm
+++ b/new/B.pm
@@ -1,3 +1,3 @@
 a
-b
+B
 c
diff --git a/src/O.pm b/src/C.pm
similarity index 100%
copy from src/O.pm
copy to src/C.pm
diff --git a/empty b/empty
new file mode 100755
index 0000000..e69de29
diff --git a/dead.pm b/dead.pm
deleted file mode 100644
index 1..0
--- a/dead.pm
+++ /dev/null
@@ -1 +0,0 @@
-x
-- 
2.39.0
";
    let parsed = parse(patch.as_bytes(), 1).unwrap();
    assert!(parsed.preamble.starts_with("From 1234"));
    assert!(parsed.preamble.contains("Subject: [PATCH] fix"));
    let f = &parsed.files;
    assert_eq!(f.len(), 5);
    assert_eq!(f[0].op, Operation::Modify);
    assert_eq!(
        (f[0].old_mode, f[0].new_mode),
        (Some(FileMode::Regular), Some(FileMode::Executable))
    );
    assert!(f[0].changes_mode());
    assert!(f[0].hunks.is_empty());
    assert_eq!(
        f[1].op,
        Operation::Rename {
            from: p("old/A.pm")
        }
    );
    assert_eq!(
        (&f[1].old_path, &f[1].new_path),
        (&p("old/A.pm"), &p("new/B.pm"))
    );
    assert_eq!(f[1].hunks.len(), 1);
    assert_eq!(
        f[2].op,
        Operation::Copy {
            from: p("src/O.pm")
        }
    );
    assert_eq!(f[2].new_path, p("src/C.pm"));
    assert_eq!(f[3].op, Operation::Create);
    assert_eq!(f[3].new_mode, Some(FileMode::Executable));
    assert_eq!(f[4].op, Operation::Delete);
}

#[test]
fn parse_keeps_crlf_and_non_utf8_bytes() {
    let patch = b"--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\r\n-\xff\xfe\r\n+ok\r\n";
    let parsed = parse(patch, 1).unwrap();
    assert_eq!(
        parsed.files[0].hunks[0].lines,
        vec![
            HunkLine::Context(b"a\r\n".to_vec()),
            HunkLine::Delete(b"\xff\xfe\r\n".to_vec()),
            HunkLine::Insert(b"ok\r\n".to_vec()),
        ]
    );
}

// ---------------------------------------------------------------- applying

#[test]
fn apply_exact_place_reports_zero_offset() {
    let mut t = tree(&[("lib/Foo.pm", &numbered("line", 12))]);
    let result = apply_str(&mut t, SIMPLE).unwrap();
    let reports = applied_reports(&result);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].path, p("lib/Foo.pm"));
    assert_eq!(reports[0].op, Operation::Modify);
    assert_eq!(
        reports[0].hunks,
        vec![HunkReport {
            number: 1,
            offset: 0,
            fuzz: 0
        }]
    );
    assert!(text(&t, "lib/Foo.pm").contains("line 6\nline seven\nline 8\n"));
    assert_eq!(result.touched, BTreeSet::from([p("lib/Foo.pm")]));
}

#[test]
fn apply_positive_and_negative_offsets() {
    let grown = format!("{}{}", numbered("new", 5), numbered("line", 12));
    let mut t = tree(&[("lib/Foo.pm", &grown)]);
    let result = apply_str(&mut t, SIMPLE).unwrap();
    assert_eq!(applied_reports(&result)[0].hunks[0].offset, 5);

    let shrunk = numbered("line", 12).replacen("line 1\nline 2\n", "", 1);
    let mut t = tree(&[("lib/Foo.pm", &shrunk)]);
    let result = apply_str(&mut t, SIMPLE).unwrap();
    assert_eq!(applied_reports(&result)[0].hunks[0].offset, -2);
    assert!(text(&t, "lib/Foo.pm").contains("line seven"));
}

#[test]
fn apply_prefers_forward_offset_on_a_tie() {
    // The same context appears 1 line before and 1 line after the expected
    // place: GNU patch tries +1 before -1.
    let patch = "--- a/f\n+++ b/f\n@@ -3,3 +3,3 @@\n x\n-y\n+Y\n z\n";
    let mut t = tree(&[("f", "x\ny\nz\nq\nx\ny\nz\n")]);
    // Expected at line 3: not there (q at 4). Candidates: line 1 (-2) and
    // line 5 (+2); +2 wins.
    let result = apply_str(&mut t, patch).unwrap();
    assert_eq!(applied_reports(&result)[0].hunks[0].offset, 2);
    assert_eq!(text(&t, "f"), "x\ny\nz\nq\nx\nY\nz\n");
}

#[test]
fn apply_carries_offset_to_next_hunk() {
    let original = numbered("r", 40);
    let patch = "\
--- a/f
+++ b/f
@@ -4,7 +4,7 @@
 r 4
 r 5
 r 6
-r 7
+r seven
 r 8
 r 9
 r 10
@@ -30,7 +30,7 @@
 r 30
 r 31
 r 32
-r 33
+r thirty-three
 r 34
 r 35
 r 36
";
    let grown = original.replace("r 1\n", "r 1\nextra\nextra\nextra\n");
    let mut t = tree(&[("f", &grown)]);
    let result = apply_str(&mut t, patch).unwrap();
    let offsets: Vec<isize> = applied_reports(&result)[0]
        .hunks
        .iter()
        .map(|h| h.offset)
        .collect();
    assert_eq!(offsets, [3, 3]);
}

#[test]
fn apply_hunk_at_start_must_match_start() {
    // Less context before the change than after: the hunk was cut short by
    // the start of the file and may only apply there (GNU patch's rule).
    let patch = "--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n+head\n a\n b\n c\n";
    let mut t = tree(&[("f", "a\nb\nc\nd\n")]);
    apply_str(&mut t, patch).unwrap();
    assert_eq!(text(&t, "f"), "head\na\nb\nc\nd\n");
    let mut t = tree(&[("f", "zero\na\nb\nc\nd\n")]);
    let err = apply_str(&mut t, patch).unwrap_err();
    assert_eq!(err.to_string(), "f: hunk 1 context not found near line 1");
}

#[test]
fn apply_error_names_file_hunk_and_shows_context() {
    let patch = "\
--- a/lib/Foo.pm
+++ b/lib/Foo.pm
@@ -2,3 +2,3 @@
 line 2
-line 3
+line three
 line 4
@@ -40,3 +40,3 @@
 line 40
-line 41
+line forty-one
 line 42
";
    let mut t = tree(&[("lib/Foo.pm", &numbered("line", 39))]);
    let before = t.clone();
    let err = apply_str(&mut t, patch).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lib/Foo.pm: hunk 2 context not found near line 40"
    );
    assert_eq!(err.path(), &p("lib/Foo.pm"));
    assert_eq!(err.hunk(), Some(2));
    match &err {
        ApplyError::HunkFailed { expected, .. } => {
            assert_eq!(expected, &["line 40", "line 41", "line 42"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(t, before, "nothing half-done");
}

#[test]
fn apply_error_context_is_bounded() {
    let long = "x".repeat(300);
    let old: String = (0..10).map(|i| format!(" {long}{i}\n")).collect();
    let patch = format!("--- a/f\n+++ b/f\n@@ -1,11 +1,11 @@\n{old}-gone\n+new\n");
    let mut t = tree(&[("f", "nothing like it\n")]);
    match apply_str(&mut t, &patch).unwrap_err() {
        ApplyError::HunkFailed { expected, .. } => {
            assert_eq!(expected.len(), 6);
            assert!(expected.iter().all(|l| l.chars().count() <= 81));
            assert!(expected[0].ends_with('…'));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn apply_is_strict_by_default_and_fuzzes_when_asked() {
    let original = numbered("c", 20);
    let patch = "\
--- a/f
+++ b/f
@@ -7,7 +7,7 @@
 c 7
 c 8
 c 9
-c 10
+c ten
 c 11
 c 12
 c 13
";
    let drifted = original.replace("c 7\n", "c 7 changed\n");
    let parsed = parse(patch.as_bytes(), 1).unwrap();

    let mut t = tree(&[("f", &drifted)]);
    let err = apply(&mut t, &parsed, &ApplyOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "f: hunk 1 context not found near line 7");

    let opts = ApplyOptions {
        fuzz: Fuzz::Lines(1),
    };
    let result = apply(&mut t, &parsed, &opts).unwrap();
    assert_eq!(applied_reports(&result)[0].hunks[0].fuzz, 1);
    // Fuzzed context keeps the file's text, not the patch's.
    assert!(
        text(&t, "f").starts_with("c 1\nc 2\nc 3\nc 4\nc 5\nc 6\nc 7 changed\nc 8\nc 9\nc ten\n")
    );
}

#[test]
fn apply_crlf_is_part_of_the_line() {
    let patch = b"--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n";
    let parsed = parse(patch, 1).unwrap();
    let mut t = tree(&[("f", "a\r\nb\r\nc\r\n")]);
    apply(&mut t, &parsed, &ApplyOptions::default()).unwrap();
    assert_eq!(text(&t, "f"), "a\r\nB\r\nc\r\n");

    // LF file, CRLF patch: a failure that says why, not a silent fix.
    let mut t = tree(&[("f", "a\nb\nc\n")]);
    let err = apply(&mut t, &parsed, &ApplyOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "f: hunk 1 context not found near line 1 (the patch and the file use different line endings)"
    );
}

#[test]
fn apply_no_newline_at_end_of_file_both_ways() {
    let add = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n";
    let mut t = tree(&[("f", "a\nb")]);
    apply_str(&mut t, add).unwrap();
    assert_eq!(text(&t, "f"), "a\nb\n");

    let remove = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n";
    let mut t = tree(&[("f", "a\nb\n")]);
    apply_str(&mut t, remove).unwrap();
    assert_eq!(text(&t, "f"), "a\nb");

    // The patch's line ends in a newline, the file's does not: a mismatch,
    // as in GNU patch.
    let change = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n";
    let mut t = tree(&[("f", "a\nb")]);
    let err = apply_str(&mut t, change).unwrap_err();
    assert_eq!(err.to_string(), "f: hunk 1 context not found near line 1");
}

#[test]
fn apply_adds_back_newline_when_text_follows() {
    // GNU patch's copy_till: an added line marked "no newline" that ends up
    // followed by more of the file gets its newline back.
    let patch = "--- a/f\n+++ b/f\n@@ -1,0 +2 @@\n+x\n\\ No newline at end of file\n";
    let mut t = tree(&[("f", "a\nb\n")]);
    apply_str(&mut t, patch).unwrap();
    assert_eq!(text(&t, "f"), "a\nx\nb\n");
}

#[test]
fn parse_refuses_context_after_no_newline_marker() {
    let patch = "--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n b\n\\ No newline at end of file\n+c\n";
    assert!(matches!(
        parse(patch.as_bytes(), 1).unwrap_err(),
        ParseError::Syntax { .. }
    ));
}

#[test]
fn apply_create_and_delete() {
    let patch = "\
--- /dev/null
+++ b/lib/New.pm
@@ -0,0 +1,2 @@
+package New;
+1;
--- a/lib/Old.pm
+++ /dev/null
@@ -1,2 +0,0 @@
-package Old;
-1;
";
    let mut t = tree(&[("lib/Old.pm", "package Old;\n1;\n")]);
    let result = apply_str(&mut t, patch).unwrap();
    assert_eq!(text(&t, "lib/New.pm"), "package New;\n1;\n");
    assert_eq!(t.files[&p("lib/New.pm")].mode, 0o644);
    assert!(!t.files.contains_key(&p("lib/Old.pm")));
    assert_eq!(
        result.touched,
        BTreeSet::from([p("lib/New.pm"), p("lib/Old.pm")])
    );
    let reports = applied_reports(&result);
    assert_eq!(reports[0].op, Operation::Create);
    assert_eq!(reports[0].mode, Some(FileMode::Regular));
    assert_eq!(reports[1].op, Operation::Delete);
}

#[test]
fn apply_refuses_create_over_existing_file() {
    let patch = "--- /dev/null\n+++ b/x\n@@ -0,0 +1 @@\n+new\n";
    let mut t = tree(&[("x", "old\n")]);
    let err = apply_str(&mut t, patch).unwrap_err();
    assert_eq!(
        err.to_string(),
        "x: cannot create the file, it already exists"
    );
}

#[test]
fn apply_refuses_modify_or_delete_of_missing_file() {
    let mut t = tree(&[("other", "x\n")]);
    let err = apply_str(&mut t, SIMPLE).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lib/Foo.pm: the file to patch does not exist"
    );
    // Deleting a file that is not there: the reverse (creating it) fits,
    // so the deletion counts as already applied.
    let delete = "--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n";
    assert_eq!(
        apply_str(&mut t, delete).unwrap().outcome,
        Outcome::AlreadyApplied
    );
    // A git rename whose source is missing and whose target is missing too.
    let rename = "diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to y\n";
    let err = apply_str(&mut t, rename).unwrap_err();
    assert_eq!(err.to_string(), "x: the file to patch does not exist");
}

#[test]
fn apply_delete_requires_exact_content() {
    let delete = "--- a/gone\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n";
    let mut t = tree(&[("gone", "x\ny\nz\n")]);
    let err = apply_str(&mut t, delete).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gone: not deleted, its content differs from the patch"
    );
    // Git deletion of an empty file: no hunks, the file must be empty.
    let git = "diff --git a/e b/e\ndeleted file mode 100644\nindex e69de29..0000000\n";
    let mut t = tree(&[("e", "not empty\n")]);
    assert!(matches!(
        apply_str(&mut t, git).unwrap_err(),
        ApplyError::DeleteMismatch { .. }
    ));
    let mut t = tree(&[("e", "")]);
    apply_str(&mut t, git).unwrap();
    assert!(t.files.is_empty());
}

#[test]
fn apply_creation_via_minus_zero_hunk() {
    let patch = "--- a/t/new.t\n+++ b/t/new.t\n@@ -0,0 +1,2 @@\n+use Test::More;\n+ok 1;\n";
    let mut t = tree(&[]);
    apply_str(&mut t, patch).unwrap();
    assert_eq!(text(&t, "t/new.t"), "use Test::More;\nok 1;\n");
}

#[test]
fn apply_git_new_file_modes() {
    let patch = "\
diff --git a/bin/run b/bin/run
new file mode 100755
index 0000000..1
--- /dev/null
+++ b/bin/run
@@ -0,0 +1 @@
+#!/bin/sh
diff --git a/empty b/empty
new file mode 100644
index 0000000..e69de29
";
    let mut t = tree(&[]);
    let result = apply_str(&mut t, patch).unwrap();
    assert_eq!(t.files[&p("bin/run")].mode, 0o755);
    assert_eq!(t.files[&p("empty")].data, b"");
    assert_eq!(t.files[&p("empty")].mode, 0o644);
    assert_eq!(applied_reports(&result)[0].mode, Some(FileMode::Executable));
}

#[test]
fn apply_git_mode_change_sets_and_clears_exec_bits() {
    let to_exec = "diff --git a/t b/t\nold mode 100644\nnew mode 100755\n";
    let mut t = tree(&[("t", "x\n")]);
    t.files.get_mut(&p("t")).unwrap().mode = 0o640;
    let result = apply_str(&mut t, to_exec).unwrap();
    assert_eq!(t.files[&p("t")].mode, 0o751);
    assert_eq!(applied_reports(&result)[0].mode, Some(FileMode::Executable));
    // Applying it again: already applied, thanks to the old-mode check.
    let again = apply_str(&mut t, to_exec).unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyApplied);

    let to_plain = "diff --git a/t b/t\nold mode 100755\nnew mode 100644\n";
    apply_str(&mut t, to_plain).unwrap();
    assert_eq!(t.files[&p("t")].mode, 0o640);
}

#[test]
fn apply_git_mode_mismatch_names_modes() {
    let patch = "diff --git a/t b/t\nold mode 100755\nnew mode 100644\nindex 1..2\n--- a/t\n+++ b/t\n@@ -1 +1 @@\n-x\n+y\n";
    let mut t = tree(&[("t", "z\n")]);
    let err = apply_str(&mut t, patch).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t: the file has mode 100644 but the patch expects 100755"
    );
}

#[test]
fn apply_git_rename_with_and_without_hunks() {
    let patch = "\
diff --git a/old/A.pm b/new/A.pm
similarity index 100%
rename from old/A.pm
rename to new/A.pm
diff --git a/x b/y
similarity index 80%
rename from x
rename to y
index 1..2 100755
--- a/x
+++ b/y
@@ -1,3 +1,3 @@
 a
-b
+B
 c
";
    let mut t = tree(&[("old/A.pm", "keep\n"), ("x", "a\nb\nc\n")]);
    t.files.get_mut(&p("x")).unwrap().mode = 0o755;
    let result = apply_str(&mut t, patch).unwrap();
    assert_eq!(text(&t, "new/A.pm"), "keep\n");
    assert!(!t.files.contains_key(&p("old/A.pm")));
    assert_eq!(text(&t, "y"), "a\nB\nc\n");
    assert_eq!(t.files[&p("y")].mode, 0o755, "a rename keeps the mode");
    assert_eq!(
        result.touched,
        BTreeSet::from([p("new/A.pm"), p("old/A.pm"), p("x"), p("y")])
    );
    // Again: already applied.
    assert_eq!(
        apply_str(&mut t, patch).unwrap().outcome,
        Outcome::AlreadyApplied
    );
}

#[test]
fn apply_git_rename_onto_existing_file_fails() {
    let patch = "diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to y\n";
    let mut t = tree(&[("x", "1\n"), ("y", "2\n")]);
    let err = apply_str(&mut t, patch).unwrap_err();
    assert_eq!(
        err.to_string(),
        "y: cannot create the file, it already exists"
    );
}

#[test]
fn apply_git_copy() {
    let patch = "\
diff --git a/A.pm b/B.pm
similarity index 90%
copy from A.pm
copy to B.pm
index 1..2 100644
--- a/A.pm
+++ b/B.pm
@@ -1,2 +1,2 @@
-package A;
+package B;
 1;
";
    let mut t = tree(&[("A.pm", "package A;\n1;\n")]);
    apply_str(&mut t, patch).unwrap();
    assert_eq!(text(&t, "A.pm"), "package A;\n1;\n");
    assert_eq!(text(&t, "B.pm"), "package B;\n1;\n");
    assert_eq!(
        apply_str(&mut t, patch).unwrap().outcome,
        Outcome::AlreadyApplied
    );
    // A copy whose target differs from what the patch makes is a conflict.
    t.files.get_mut(&p("B.pm")).unwrap().data = b"package B;\n2;\n".to_vec();
    let err = apply_str(&mut t, patch).unwrap_err();
    assert_eq!(
        err.to_string(),
        "B.pm: cannot create the file, it already exists"
    );
}

#[test]
fn apply_same_file_twice_in_sequence() {
    let patch = "\
--- a/f
+++ b/f
@@ -1,3 +1,3 @@
 a
-b
+B
 c
--- a/f
+++ b/f
@@ -1,3 +1,3 @@
 a
-B
+BB
 c
";
    let mut t = tree(&[("f", "a\nb\nc\n")]);
    let result = apply_str(&mut t, patch).unwrap();
    assert_eq!(text(&t, "f"), "a\nBB\nc\n");
    assert_eq!(applied_reports(&result).len(), 2);
    // And the reverse of the pair is recognised too.
    assert_eq!(
        apply_str(&mut t, patch).unwrap().outcome,
        Outcome::AlreadyApplied
    );
}

#[test]
fn apply_plain_diff_with_backup_name_patches_the_existing_file() {
    let patch = "--- a/lib/Foo.pm.orig\n+++ b/lib/Foo.pm\n@@ -1 +1 @@\n-x\n+y\n";
    let mut t = tree(&[("lib/Foo.pm", "x\n")]);
    let result = apply_str(&mut t, patch).unwrap();
    assert_eq!(text(&t, "lib/Foo.pm"), "y\n");
    assert_eq!(result.touched, BTreeSet::from([p("lib/Foo.pm")]));
}

#[test]
fn apply_already_applied_leaves_tree_alone() {
    let mut t = tree(&[("lib/Foo.pm", &numbered("line", 12))]);
    apply_str(&mut t, SIMPLE).unwrap();
    let once = t.clone();
    let result = apply_str(&mut t, SIMPLE).unwrap();
    assert_eq!(result.outcome, Outcome::AlreadyApplied);
    assert!(result.touched.is_empty());
    assert_eq!(t, once);
}

#[test]
fn apply_already_applied_creation_and_deletion() {
    let create = "--- /dev/null\n+++ b/n\n@@ -0,0 +1 @@\n+new\n";
    let mut t = tree(&[("n", "new\n")]);
    assert_eq!(
        apply_str(&mut t, create).unwrap().outcome,
        Outcome::AlreadyApplied
    );
    let delete = "--- a/n\n+++ /dev/null\n@@ -1 +0,0 @@\n-new\n";
    let mut t = tree(&[]);
    assert_eq!(
        apply_str(&mut t, delete).unwrap().outcome,
        Outcome::AlreadyApplied
    );
}

#[test]
fn already_applied_at_an_offset_only_once_the_old_lines_are_gone() {
    // The fix two lines lower than the header says (upstream added two
    // lines at the top), and "line 7" gone: already applied.
    let fixed = numbered("line", 12).replace("line 7\n", "line seven\n");
    let mut t = tree(&[("lib/Foo.pm", &format!("# a\n# b\n{fixed}"))]);
    assert_eq!(
        apply_str(&mut t, SIMPLE).unwrap().outcome,
        Outcome::AlreadyApplied
    );
    // A decoy: the fixed lines copied further down, context changed where
    // the fix goes so the patch does not apply, "line 7" still there.
    let decoy = format!(
        "{}{fixed}",
        numbered("line", 12).replace("line 8\n", "line 8 changed\n")
    );
    let mut t = tree(&[("lib/Foo.pm", &decoy)]);
    let before = t.clone();
    let err = apply_str(&mut t, SIMPLE).unwrap_err();
    assert!(
        err.to_string().contains("hunk 1 context not found"),
        "{err}"
    );
    assert_eq!(t, before);
    // The strict check alone says why.
    let parsed = parse(SIMPLE.as_bytes(), 1).unwrap();
    assert_eq!(
        crate::patch::carries(&t, &parsed, &[]),
        Err(ApplyError::PreImagePresent {
            path: p("lib/Foo.pm"),
            hunk: 1
        })
    );
}

#[test]
fn an_insertion_at_an_offset_needs_its_neighbours_apart() {
    let insert = "--- a/x\n+++ b/x\n@@ -2,2 +2,3 @@\n b\n+check\n c\n";
    // Fixed upstream, moved down by one: already applied.
    let mut t = tree(&[("x", "0\na\nb\ncheck\nc\nd\n")]);
    assert_eq!(
        apply_str(&mut t, insert).unwrap().outcome,
        Outcome::AlreadyApplied
    );
    // "b" and "c" still adjacent somewhere: the insertion is missing there.
    let mut t = tree(&[("x", "a\nB\nb\nc\nz\nb\ncheck\nc\n")]);
    let parsed = parse(insert.as_bytes(), 1).unwrap();
    assert!(crate::patch::carries(&t, &parsed, &[]).is_err());
    assert!(
        apply_str(&mut t, insert).is_ok(),
        "the forward patch applies"
    );
}

#[test]
fn a_later_patch_moved_by_an_earlier_one_is_found_where_it_was_moved() {
    let top =
        "--- a/lib/Foo.pm\n+++ b/lib/Foo.pm\n@@ -1,2 +1,4 @@\n line 1\n+# one\n+# two\n line 2\n";
    let mut t = tree(&[("lib/Foo.pm", &numbered("line", 12))]);
    apply_str(&mut t, top).unwrap();
    apply_str(&mut t, SIMPLE).unwrap();
    let first = parse(top.as_bytes(), 1).unwrap();
    let second = parse(SIMPLE.as_bytes(), 1).unwrap();
    // At the header's line it is not; moved by the first patch's two
    // lines it is, exactly.
    assert!(crate::patch::carries(&t, &second, &[&first]).is_ok());
    let r = crate::patch::apply_after(&mut t, &second, &[&first], &ApplyOptions::default());
    assert_eq!(r.unwrap().outcome, Outcome::AlreadyApplied);
}

#[test]
fn apply_partially_applied_is_a_conflict() {
    let patch = "\
--- a/a
+++ b/a
@@ -1 +1 @@
-old
+new
--- a/b
+++ b/b
@@ -1 +1 @@
-old
+new
";
    // a already patched, b not: neither direction applies everywhere.
    let mut t = tree(&[("a", "new\n"), ("b", "old\n")]);
    let before = t.clone();
    let err = apply_str(&mut t, patch).unwrap_err();
    // The error is the first failure of the forward patch.
    assert_eq!(err.to_string(), "a: hunk 1 context not found near line 1");
    assert_eq!(t, before);
}

#[test]
fn apply_failure_in_later_file_leaves_earlier_files_untouched() {
    let patch = "\
--- a/a
+++ b/a
@@ -1 +1 @@
-old
+new
--- /dev/null
+++ b/c
@@ -0,0 +1 @@
+c
--- a/b
+++ b/b
@@ -1 +1 @@
-old
+new
";
    let mut t = tree(&[("a", "old\n"), ("b", "something else\n")]);
    let before = t.clone();
    let err = apply_str(&mut t, patch).unwrap_err();
    assert_eq!(err.to_string(), "b: hunk 1 context not found near line 1");
    assert_eq!(t, before);
}

#[test]
fn apply_refuses_symlinks() {
    let mut t = tree(&[]);
    t.symlinks.insert(p("lib/Link.pm"), "Real.pm".into());
    t.symlinks.insert(p("linkdir"), "lib".into());
    let modify = "--- a/lib/Link.pm\n+++ b/lib/Link.pm\n@@ -1 +1 @@\n-x\n+y\n";
    let err = apply_str(&mut t, modify).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lib/Link.pm: patches may not touch symbolic links"
    );
    // Writing through a linked directory is refused too.
    let through = "--- /dev/null\n+++ b/linkdir/New.pm\n@@ -0,0 +1 @@\n+x\n";
    let err = apply_str(&mut t, through).unwrap_err();
    assert!(matches!(err, ApplyError::Symlink { .. }), "{err}");
    // And replacing the link by a file.
    let replace = "--- /dev/null\n+++ b/linkdir\n@@ -0,0 +1 @@\n+x\n";
    assert!(matches!(
        apply_str(&mut t, replace).unwrap_err(),
        ApplyError::Symlink { .. }
    ));
}

#[test]
fn apply_refuses_file_where_directory_is_and_vice_versa() {
    let mut t = tree(&[("lib/Foo.pm", "x\n"), ("lib.pm", "y\n")]);
    let onto_dir = "--- /dev/null\n+++ b/lib\n@@ -0,0 +1 @@\n+x\n";
    let err = apply_str(&mut t, onto_dir).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lib: cannot create the file, a directory has that name"
    );
    let under_file = "--- /dev/null\n+++ b/lib/Foo.pm/x\n@@ -0,0 +1 @@\n+x\n";
    let err = apply_str(&mut t, under_file).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lib/Foo.pm/x: cannot create the file, lib/Foo.pm is a file"
    );
    t.dirs.insert(p("empty"));
    let onto_empty_dir = "--- /dev/null\n+++ b/empty\n@@ -0,0 +1 @@\n+x\n";
    assert!(matches!(
        apply_str(&mut t, onto_empty_dir).unwrap_err(),
        ApplyError::IsADirectory { .. }
    ));
}

#[test]
fn apply_touches_only_named_files() {
    let mut t = tree(&[("lib/Foo.pm", &numbered("line", 12))]);
    for i in 0..200 {
        t.files.insert(
            p(&format!("lib/Other{i}.pm")),
            FileEntry {
                data: b"1;\n".to_vec(),
                mode: 0o644,
            },
        );
    }
    let result = apply_str(&mut t, SIMPLE).unwrap();
    assert_eq!(result.touched.len(), 1);
    assert_eq!(t.files.len(), 201);
}

#[test]
fn reversed_hunk_swaps_sides() {
    let parsed = parse(SIMPLE.as_bytes(), 1).unwrap();
    let hunk = &parsed.files[0].hunks[0];
    let back = hunk.reversed();
    assert_eq!(
        (back.old_start, back.old_len),
        (hunk.new_start, hunk.new_len)
    );
    assert_eq!(back.reversed(), *hunk);
    assert!(back
        .lines
        .contains(&HunkLine::Delete(b"line seven\n".to_vec())));
}

// ---------------------------------------------------------------- text cases

/// What a case expects, from its `in/options` file.
#[derive(Debug, Default)]
struct CaseOptions {
    tool: String,
    fuzz: usize,
    strip: usize,
    already_applied: bool,
    error: Option<String>,
}

fn case_options(dir: &Path) -> CaseOptions {
    let mut opts = CaseOptions {
        tool: "gnu".into(),
        strip: 1,
        ..CaseOptions::default()
    };
    let Ok(text) = fs::read_to_string(dir.join("in/options")) else {
        return opts;
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{}: bad options line {line:?}", dir.display()));
        match key {
            "tool" => opts.tool = value.to_string(),
            "fuzz" => opts.fuzz = value.parse().unwrap(),
            "strip" => opts.strip = value.parse().unwrap(),
            "expect" => {
                assert_eq!(value, "already-applied", "{}", dir.display());
                opts.already_applied = true;
            }
            "error" => opts.error = Some(value.to_string()),
            other => panic!("{}: unknown option {other:?}", dir.display()),
        }
    }
    opts
}

/// Files below `root` (recursively), by relative path: bytes and whether
/// executable. `skip` names top-level entries to leave out.
fn read_dir_files(root: &Path, skip: &[&str]) -> BTreeMap<String, (Vec<u8>, bool)> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<String, (Vec<u8>, bool)>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if skip.contains(&rel.as_str()) {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(root, &path, skip, out);
            } else {
                let exec = meta.permissions().mode() & 0o111 != 0;
                out.insert(rel, (fs::read(&path).unwrap(), exec));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, skip, &mut out);
    out
}

const CASE_INPUTS: &[&str] = &["patch.diff", "options"];

fn tree_from_dir(dir: &Path) -> Tree {
    let mut t = Tree::default();
    for (rel, (data, exec)) in read_dir_files(dir, CASE_INPUTS) {
        let mode = if exec { 0o755 } else { 0o644 };
        t.files.insert(p(&rel), FileEntry { data, mode });
    }
    t
}

fn tree_files(t: &Tree) -> BTreeMap<String, (Vec<u8>, bool)> {
    t.files
        .iter()
        .map(|(k, v)| (k.to_string(), (v.data.clone(), v.is_executable())))
        .collect()
}

/// Describe how two file sets differ, for a readable failure.
fn diff_summary(
    got: &BTreeMap<String, (Vec<u8>, bool)>,
    want: &BTreeMap<String, (Vec<u8>, bool)>,
) -> String {
    let names: BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    let mut out = String::new();
    for name in names {
        match (got.get(name), want.get(name)) {
            (Some(g), Some(w)) if g == w => {}
            (Some(g), Some(w)) => out.push_str(&format!(
                "  {name}: got {:?} (exec {}), want {:?} (exec {})\n",
                String::from_utf8_lossy(&g.0),
                g.1,
                String::from_utf8_lossy(&w.0),
                w.1
            )),
            (Some(_), None) => out.push_str(&format!("  {name}: unexpected file\n")),
            (None, Some(_)) => out.push_str(&format!("  {name}: missing\n")),
            (None, None) => {}
        }
    }
    out
}

/// Run the reference tool on a copy of `in/`; the resulting files, or
/// `None` if the tool failed.
fn run_reference(dir: &Path, opts: &CaseOptions) -> Option<BTreeMap<String, (Vec<u8>, bool)>> {
    let work = tempfile::tempdir().unwrap();
    for (rel, (data, exec)) in read_dir_files(&dir.join("in"), CASE_INPUTS) {
        let dest = work.path().join(&rel);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(&dest, data).unwrap();
        let mode = if exec { 0o755 } else { 0o644 };
        fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).unwrap();
    }
    let patch_file = dir.join("in/patch.diff");
    let status = match opts.tool.as_str() {
        "gnu" => Command::new("patch")
            .arg(format!("-p{}", opts.strip))
            .arg(format!("--fuzz={}", opts.fuzz))
            .args([
                "--no-backup-if-mismatch",
                "--forward",
                "--batch",
                "--reject-file=-",
                "-i",
            ])
            .arg(&patch_file)
            .current_dir(work.path())
            .stdin(Stdio::null())
            .output(),
        "git" => {
            // A repository of its own, so that no enclosing one (or the
            // user's git configuration) changes what `git apply` does.
            let git = |args: &[&str]| {
                let mut cmd = Command::new("git");
                cmd.args(args)
                    .current_dir(work.path())
                    .env("GIT_CONFIG_GLOBAL", "/dev/null")
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .stdin(Stdio::null());
                cmd
            };
            let init = git(&["init", "-q"]).output();
            match init {
                Ok(out) if out.status.success() => {}
                Ok(out) => panic!("git init failed: {}", String::from_utf8_lossy(&out.stderr)),
                Err(e) => panic!("cannot run git (is it installed?): {e}"),
            }
            let strip = format!("-p{}", opts.strip);
            let mut cmd = git(&["apply", &strip]);
            cmd.arg(&patch_file).output()
        }
        other => panic!("{}: unknown tool {other:?}", dir.display()),
    };
    let output = status.unwrap_or_else(|e| {
        panic!(
            "cannot run the reference tool {:?} (is it installed?): {e}",
            opts.tool
        )
    });
    if !output.status.success() {
        return None;
    }
    let _ = fs::remove_dir_all(work.path().join(".git"));
    Some(read_dir_files(work.path(), &[]))
}

fn cases_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/cases"))
}

/// Run one case; return a description of what went wrong, if anything.
fn run_case(dir: &Path) -> Result<(), String> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let opts = case_options(dir);
    let mut t = tree_from_dir(&dir.join("in"));
    let before = t.clone();
    let patch_text = fs::read(dir.join("in/patch.diff")).map_err(|e| format!("{name}: {e}"))?;
    let apply_opts = ApplyOptions {
        fuzz: if opts.fuzz == 0 {
            Fuzz::None
        } else {
            Fuzz::Lines(opts.fuzz)
        },
    };
    let result = parse(&patch_text, opts.strip)
        .map_err(|e| e.to_string())
        .and_then(|parsed| apply(&mut t, &parsed, &apply_opts).map_err(|e| e.to_string()));

    let out_dir = dir.join("out");
    let want = out_dir.exists().then(|| read_dir_files(&out_dir, &[]));
    match (&want, &result, &opts.error) {
        (None, Err(message), Some(expected)) => {
            if !message.contains(expected.as_str()) {
                return Err(format!(
                    "{name}: error {message:?} does not contain {expected:?}"
                ));
            }
            if t != before {
                return Err(format!("{name}: failed but changed the tree"));
            }
        }
        (None, _, None) => return Err(format!("{name}: no out/ and no error= option")),
        (None, Ok(_), Some(_)) => return Err(format!("{name}: applied but must fail")),
        (Some(_), _, Some(_)) => return Err(format!("{name}: has out/ and error=")),
        (Some(_), Err(message), None) => return Err(format!("{name}: failed: {message}")),
        (Some(want), Ok(applied), None) => {
            let already = applied.outcome == Outcome::AlreadyApplied;
            if already != opts.already_applied {
                return Err(format!("{name}: outcome {:?}", applied.outcome));
            }
            if already && t != before {
                return Err(format!("{name}: already applied but changed the tree"));
            }
            let got = tree_files(&t);
            if &got != want {
                return Err(format!(
                    "{name}: our result differs from out/:\n{}",
                    diff_summary(&got, want)
                ));
            }
        }
    }

    if opts.tool != "none" {
        let reference = run_reference(dir, &opts);
        match (&reference, &want) {
            (Some(got), Some(want)) if got != want => {
                return Err(format!(
                    "{name}: {} result differs from out/:\n{}",
                    opts.tool,
                    diff_summary(got, want)
                ))
            }
            (Some(_), None) => return Err(format!("{name}: {} applied a failing case", opts.tool)),
            (None, Some(_)) => return Err(format!("{name}: {} failed on the case", opts.tool)),
            _ => {}
        }
    }
    Ok(())
}

#[test]
fn text_cases_match_reference_tools() {
    let mut dirs: Vec<PathBuf> = fs::read_dir(cases_dir())
        .expect("tests/cases is missing")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 20,
        "expected the text cases, found {}",
        dirs.len()
    );
    let failures: Vec<String> = dirs.iter().filter_map(|d| run_case(d).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}
