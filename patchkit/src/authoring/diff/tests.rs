//! The `diff` round trip: for random edits of random trees, the patch that
//! [`make_diff`] writes, applied to the original by our engine (and, for a
//! sample, by GNU `patch -p1`), gives exactly the edited tree, ignored
//! files aside. The generator is a seeded xorshift, so a failure names a
//! seed that reproduces it.

use super::*;

/// xorshift64*: small, seeded, good enough to shuffle test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const WORDS: &[&str] = &[
    "use strict;",
    "my $x = 1;",
    "return;",
    "}",
    "sub f {",
    "",
    "# comment",
    "1;",
    "open(my $fh, '<', $f);",
];

fn random_text(rng: &mut Rng) -> Vec<u8> {
    let crlf = rng.chance(15);
    let lines = rng.below(40);
    let mut out = Vec::new();
    for _ in 0..lines {
        out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    // Sometimes no newline at the end of the file.
    if !out.is_empty() && rng.chance(20) {
        out.pop();
        if crlf && rng.chance(50) {
            out.pop();
        }
    }
    out
}

fn edit_text(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(data.to_vec()).unwrap();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    for _ in 0..=rng.below(4) {
        match rng.below(4) {
            0 if !lines.is_empty() => {
                let i = rng.below(lines.len());
                lines.remove(i);
            }
            1 => {
                let i = rng.below(lines.len() + 1);
                lines.insert(i, format!("{}\n", WORDS[rng.below(WORDS.len())]));
            }
            2 if !lines.is_empty() => {
                let i = rng.below(lines.len());
                lines[i] = format!("changed {i};\n");
            }
            _ => {
                // Toggle the final newline.
                if let Some(last) = lines.last_mut() {
                    if last.ends_with('\n') {
                        last.pop();
                    } else {
                        last.push('\n');
                    }
                }
            }
        }
    }
    lines.concat().into_bytes()
}

fn p(s: &str) -> InTreePath {
    InTreePath::parse(s).unwrap()
}

fn entry(data: Vec<u8>, exec: bool) -> FileEntry {
    FileEntry {
        data,
        mode: if exec { 0o755 } else { 0o644 },
    }
}

fn random_pair(seed: u64) -> (Tree, Tree) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut original = Tree::default();
    original.files.insert(
        p("Makefile.PL"),
        entry(b"use ExtUtils::MakeMaker;\n".to_vec(), false),
    );
    for i in 0..rng.below(8) + 1 {
        let dir = ["lib", "lib/Foo", "t", "bin", ""][rng.below(5)];
        let name = if dir.is_empty() {
            format!("F{i}.txt")
        } else {
            format!("{dir}/F{i}.pm")
        };
        original
            .files
            .insert(p(&name), entry(random_text(&mut rng), rng.chance(10)));
    }
    let mut edited = original.clone();
    let paths: Vec<InTreePath> = original.files.keys().cloned().collect();
    for path in &paths {
        match rng.below(8) {
            0 => {
                edited.files.remove(path);
            }
            1 | 2 => {
                let f = edited.files.get_mut(path).unwrap();
                f.data = edit_text(&mut rng, &f.data);
            }
            3 => {
                let f = edited.files.get_mut(path).unwrap();
                f.mode ^= 0o111;
            }
            4 => {
                // Rename (maybe with changes).
                let mut f = edited.files.remove(path).unwrap();
                if rng.chance(50) {
                    f.data = edit_text(&mut rng, &f.data);
                }
                edited
                    .files
                    .insert(p(&format!("moved/{}", path.file_name())), f);
            }
            _ => {}
        }
    }
    if rng.chance(50) {
        edited.files.insert(
            p(&format!("lib/New{}.pm", rng.below(100))),
            entry(random_text(&mut rng), rng.chance(20)),
        );
    }
    // Noise that must be left out.
    edited
        .files
        .insert(p("lib/F0.pm~"), entry(b"backup\n".to_vec(), false));
    edited
        .files
        .insert(p("blib/lib/F0.pm"), entry(b"built\n".to_vec(), false));
    edited
        .files
        .insert(p("Makefile"), entry(b"all:\n".to_vec(), false));
    edited
        .files
        .insert(p("MYMETA.json"), entry(b"{}\n".to_vec(), false));
    edited
        .files
        .insert(p(".git/HEAD"), entry(b"ref\n".to_vec(), false));
    (original, edited)
}

fn without_noise(t: &Tree, original: &Tree, edited: &Tree) -> Vec<(String, Vec<u8>, bool)> {
    t.files
        .iter()
        .filter(|(p, _)| !is_ignored(p, original, edited))
        .map(|(p, f)| (p.to_string(), f.data.clone(), f.is_executable()))
        .collect()
}

#[test]
fn random_edits_round_trip_through_our_engine() {
    for seed in 0..400 {
        let (original, edited) = random_pair(seed);
        let made = match make_diff(&original, &edited, "edited") {
            Ok(m) => m,
            Err(Error::Refused(_)) => continue, // no real change drawn
            Err(e) => panic!("seed {seed}: {e}"),
        };
        for noise in [
            "lib/F0.pm~",
            "blib/lib/F0.pm",
            "Makefile",
            "MYMETA.json",
            ".git/HEAD",
        ] {
            assert!(
                made.ignored.iter().any(|i| i == noise),
                "seed {seed}: {noise}"
            );
        }
        let parsed = patch::parse(&made.text, 1).unwrap();
        let mut tree = original.clone();
        patch::apply(&mut tree, &parsed, &ApplyOptions::default())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(
            without_noise(&tree, &original, &edited),
            without_noise(&edited, &original, &edited),
            "seed {seed}:\n{}",
            String::from_utf8_lossy(&made.text)
        );
        // Paths come in sorted order.
        let paths: Vec<&String> = made.files.iter().map(|f| &f.path).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
    }
}

fn write_tree(dir: &Path, tree: &Tree) {
    use std::os::unix::fs::PermissionsExt;
    for (path, f) in &tree.files {
        let p = dir.join(path.as_str());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &f.data).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)).unwrap();
    }
}

#[test]
fn gnu_patch_agrees_on_a_sample() {
    if std::process::Command::new("patch")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("GNU patch not installed; skipping");
        return;
    }
    let mut checked = 0;
    for seed in 1000..1040 {
        let (original, edited) = random_pair(seed);
        let Ok(made) = make_diff(&original, &edited, "edited") else {
            continue;
        };
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        write_tree(&work, &original);
        let patch_file = tmp.path().join("p.diff");
        std::fs::write(&patch_file, &made.text).unwrap();
        let out = std::process::Command::new("patch")
            .args(["-p1", "--batch", "--no-backup-if-mismatch", "-i"])
            .arg(&patch_file)
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "seed {seed}: GNU patch failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&made.text)
        );
        let mut got = tarball::read_dir(&work, &Limits::default()).unwrap();
        // GNU patch's one quirk here: a git diff deleting an EMPTY file
        // has no hunk, and GNU patch leaves the empty file in place.
        got.files.retain(|p, f| {
            edited.files.contains_key(p) || !(f.data.is_empty() && original.files.contains_key(p))
        });
        assert_eq!(
            without_noise(&got, &original, &edited),
            without_noise(&edited, &original, &edited),
            "seed {seed}"
        );
        checked += 1;
    }
    assert!(checked > 20, "only {checked} cases checked");
}

#[test]
fn shipped_files_are_compared_even_when_they_look_like_noise() {
    let mut original = Tree::default();
    original
        .files
        .insert(p("Foo.xs"), entry(b"x\n".to_vec(), false));
    original
        .files
        .insert(p("Foo.c"), entry(b"old\n".to_vec(), false));
    let mut edited = original.clone();
    edited
        .files
        .insert(p("Foo.c"), entry(b"new\n".to_vec(), false));
    edited
        .files
        .insert(p("Bar.c"), entry(b"generated\n".to_vec(), false));
    edited
        .files
        .insert(p("Bar.xs"), entry(b"x\n".to_vec(), false));
    let made = make_diff(&original, &edited, "e").unwrap();
    let paths: Vec<&str> = made.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["Bar.xs", "Foo.c"]);
    assert_eq!(made.ignored, vec!["Bar.c"]);
}

#[test]
fn binary_changes_and_symlinks_are_refused() {
    let mut original = Tree::default();
    original
        .files
        .insert(p("a.png"), entry(b"\x89PNG\0".to_vec(), false));
    let mut edited = original.clone();
    edited
        .files
        .insert(p("a.png"), entry(b"\x89PNG\0\x01".to_vec(), false));
    let err = make_diff(&original, &edited, "e").unwrap_err().to_string();
    assert!(err.contains("a.png") && err.contains("binary"), "{err}");

    let mut edited = original.clone();
    edited.symlinks.insert(p("link"), "a.png".into());
    let err = make_diff(&original, &edited, "e").unwrap_err().to_string();
    assert!(err.contains("link") && err.contains("symbolic"), "{err}");
}

#[test]
fn the_output_has_git_headers() {
    let mut original = Tree::default();
    original
        .files
        .insert(p("bin/tool"), entry(b"#!perl\n".to_vec(), false));
    original
        .files
        .insert(p("old.txt"), entry(b"bye\n".to_vec(), false));
    let mut edited = original.clone();
    edited.files.get_mut(&p("bin/tool")).unwrap().mode = 0o755;
    edited.files.remove(&p("old.txt"));
    edited
        .files
        .insert(p("new.txt"), entry(b"hi\n".to_vec(), false));
    let made = make_diff(&original, &edited, "e").unwrap();
    let text = String::from_utf8(made.text).unwrap();
    assert_eq!(
        text,
        "diff --git a/bin/tool b/bin/tool\nold mode 100644\nnew mode 100755\n\
         diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\n\
         diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
    );
}
