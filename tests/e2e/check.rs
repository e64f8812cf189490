//! `patchkit check`: reports without writing.

use crate::support::*;

#[test]
fn check_writes_nothing_and_reports_json() {
    let env = TestEnv::new();
    let old = "sub f { 1 }\n";
    SourceBuilder::new(env.path("patches")).add(
        "PK-C",
        "Chk",
        ">= 1, != 1.5",
        &udiff("lib/Chk.pm", old, "sub f { 2 }\n"),
    );
    let dir = env.path("in");
    let a = DistBuilder::new("Chk", "1.2")
        .file("lib/Chk.pm", old)
        .tarball(&dir);
    let b = DistBuilder::new("Chk", "1.5")
        .file("lib/Chk.pm", old)
        .tarball(&dir);
    let before = snapshot_dir(env.dir());
    let out = env.run_ok(&[
        "check",
        "--source",
        "patches",
        "--json",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let doc = out.json();
    assert_eq!(doc["command"], "check");
    assert_eq!(doc["repository"]["kind"], "unsigned");
    assert_eq!(doc["targets"][0]["result"], "patched");
    assert_eq!(doc["targets"][0]["patches"][0]["status"], "would_apply");
    assert_eq!(doc["targets"][0]["purl"], "pkg:cpan/Chk@1.2");
    assert_eq!(doc["targets"][1]["result"], "nothing_matched");
    assert_eq!(snapshot_dir(env.dir()), before, "check must not write");
}

#[test]
fn a_tarball_without_meta_is_identified_by_name() {
    let env = TestEnv::new();
    let old = "x\n";
    SourceBuilder::new(env.path("patches")).add(
        "PK-N",
        "No-Meta",
        "0.5",
        &udiff("x.txt", old, "y\n"),
    );
    let tb = DistBuilder::new("No-Meta", "0.5")
        .no_meta()
        .file("x.txt", old)
        .tarball(&env.path("in"));
    let out = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(
        out.stdout.contains("No-Meta 0.5: 1 patch would apply"),
        "{}",
        out.stdout
    );
}

#[test]
fn meta_disagreeing_with_the_name_wins_with_a_warning() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add(
        "PK-M",
        "Real-Name",
        "2.0",
        &udiff("x.txt", "x\n", "y\n"),
    );
    let d = DistBuilder::new("Real-Name", "2.0").file("x.txt", "x\n");
    let bytes = d.tarball_bytes();
    std::fs::create_dir_all(env.path("in")).unwrap();
    let tb = env.path("in/Renamed-1.0.tar.gz");
    std::fs::write(&tb, bytes).unwrap();
    let out = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(
        out.stdout.contains("Real-Name 2.0: 1 patch would apply"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("using META"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches"));
    let tb = DistBuilder::new("A", "1").tarball(&env.path("in"));
    // apply to a tarball without -o
    env.run_code(&["apply", "--source", "patches", tb.to_str().unwrap()], 2);
    // unknown flag
    env.run_code(&["check", "--bogus"], 2);
    // a target that does not exist
    let out = env.run_code(&["check", "--source", "patches", "missing-1.0.tar.gz"], 2);
    assert!(out.stderr.contains("missing-1.0.tar.gz"), "{}", out.stderr);
}

#[test]
fn home_is_accepted_before_or_after_the_command() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches"));
    let tb = DistBuilder::new("A", "1").tarball(&env.path("in"));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_patchkit"));
    cmd.args([
        "check",
        "--source",
        "patches",
        "--home",
        "h2",
        tb.to_str().unwrap(),
    ]);
    assert_eq!(run_cmd(cmd, env.dir()).code, 0);
}

/// Messages name each target by the path given on the command line, so
/// two tarballs of the same name in different folders are told apart.
#[test]
fn messages_name_the_path_as_given() {
    let env = TestEnv::new();
    crate::audit::source_with(&env, "");
    crate::audit::foo_dist("1.0").tarball(&env.path("a"));
    std::fs::create_dir_all(env.path("b")).unwrap();
    std::fs::write(
        env.path("b/Foo-Bar-1.0.tar.gz"),
        b"\x1f\x8b not really gzip",
    )
    .unwrap();
    let out = env.run_code(
        &[
            "check",
            "--source",
            "patches",
            "a/Foo-Bar-1.0.tar.gz",
            "b/../b/Foo-Bar-1.0.tar.gz",
        ],
        2,
    );
    assert!(
        out.stdout
            .contains("a/Foo-Bar-1.0.tar.gz: Foo-Bar 1.0: 1 patch would apply"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("error: refusing b/../b/Foo-Bar-1.0.tar.gz: the compressed data is corrupt"),
        "{}",
        out.stderr
    );
    let out = env.run_code(&["check", "--source", "patches", "c/Missing-1.0.tar.gz"], 2);
    assert!(
        out.stderr.contains("c/Missing-1.0.tar.gz"),
        "{}",
        out.stderr
    );
}

/// A mirror-like tree: two vulnerable dists and one without records, in
/// nested author folders, beside files that are not archives and a symbolic
/// link to an archive.
fn mirror_tree(env: &TestEnv, root: &str) -> std::path::PathBuf {
    let old = "sub f { 1 }\n";
    SourceBuilder::new(env.path("patches"))
        .add(
            "PK-R1",
            "Rec-One",
            ">= 1",
            &udiff("lib/One.pm", old, "sub f { 2 }\n"),
        )
        .add(
            "PK-R2",
            "Rec-Two",
            ">= 1",
            &udiff("lib/Two.pm", old, "sub f { 3 }\n"),
        );
    let tree = env.path(root);
    let a = DistBuilder::new("Rec-One", "1.0")
        .file("lib/One.pm", old)
        .tarball(&tree.join("authors/id/A/AU/AUTHOR"));
    DistBuilder::new("Rec-Two", "2.0")
        .file("lib/Two.pm", old)
        .tarball(&tree.join("authors/id/B/BO/BOB/sub"));
    DistBuilder::new("Unrelated", "0.1")
        .file("lib/U.pm", old)
        .tarball(&tree.join("authors/id/C/CA/CAROL"));
    std::fs::write(tree.join("authors/01mailrc.txt"), "alias X \"x\"\n").unwrap();
    std::fs::write(
        tree.join("authors/id/A/AU/AUTHOR/CHECKSUMS"),
        "$cksum = {};\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&a, tree.join("authors/Linked-1.0.tar.gz")).unwrap();
    tree
}

#[test]
fn recursive_check_and_apply_walk_a_tree_of_archives_and_keep_its_layout() {
    let env = TestEnv::new();
    let tree = mirror_tree(&env, "cpan");
    let doc = env
        .run_ok(&[
            "check",
            "--source",
            "patches",
            "--json",
            "--recursive",
            "cpan",
        ])
        .json();
    let targets: Vec<(String, String)> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["target"].as_str().unwrap().to_string(),
                t["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Every archive, in path order; not the text files, not the link.
    assert_eq!(
        targets,
        [
            ("cpan/authors/id/A/AU/AUTHOR/Rec-One-1.0.tar.gz", "patched"),
            ("cpan/authors/id/B/BO/BOB/sub/Rec-Two-2.0.tar.gz", "patched"),
            (
                "cpan/authors/id/C/CA/CAROL/Unrelated-0.1.tar.gz",
                "nothing_matched"
            ),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // Without --recursive a directory is one unpacked dist, as before.
    let plain = env.run(&["check", "--source", "patches", "--json", "cpan"]);
    assert_ne!(
        plain.json()["targets"][0]["result"],
        "patched",
        "{}",
        plain.stdout
    );

    let before = snapshot_dir(&tree);
    env.run_ok(&["apply", "--source", "patches", "-r", "-o", "out", "cpan"]);
    assert_eq!(
        snapshot_dir(&tree),
        before,
        "the tree is read, never written"
    );
    let one = tarball_files(&env.path("out/authors/id/A/AU/AUTHOR/Rec-One-1.0.tar.gz"));
    assert_eq!(one["Rec-One-1.0/lib/One.pm"].0, b"sub f { 2 }\n");
    let two = tarball_files(&env.path("out/authors/id/B/BO/BOB/sub/Rec-Two-2.0.tar.gz"));
    assert_eq!(two["Rec-Two-2.0/lib/Two.pm"].0, b"sub f { 3 }\n");
    // A tarball with nothing to apply is copied as it was, at its place.
    assert_eq!(
        std::fs::read(env.path("out/authors/id/C/CA/CAROL/Unrelated-0.1.tar.gz")).unwrap(),
        std::fs::read(tree.join("authors/id/C/CA/CAROL/Unrelated-0.1.tar.gz")).unwrap()
    );
    let written: Vec<_> = snapshot_dir(&env.path("out")).into_keys().collect();
    assert_eq!(written.len(), 3, "{written:?}");
}

#[test]
fn recursive_refuses_a_tree_without_archives_and_two_trees_writing_one_path() {
    let env = TestEnv::new();
    mirror_tree(&env, "one");
    mirror_tree(&env, "two");
    std::fs::create_dir_all(env.path("empty/authors")).unwrap();
    std::fs::write(env.path("empty/authors/README"), "no archives\n").unwrap();
    let out = env.run_code(&["check", "--source", "patches", "-r", "empty"], 2);
    assert!(
        out.stderr
            .contains("empty: --recursive found no distribution archive below it"),
        "{}",
        out.stderr
    );
    // The same layout below two trees would land on the same files of DIR.
    let out = env.run_code(
        &[
            "apply", "--source", "patches", "-r", "-o", "out", "one", "two",
        ],
        2,
    );
    assert!(
        out.stderr.contains(
            "one/authors/id/A/AU/AUTHOR/Rec-One-1.0.tar.gz and \
             two/authors/id/A/AU/AUTHOR/Rec-One-1.0.tar.gz would both be written as \
             out/authors/id/A/AU/AUTHOR/Rec-One-1.0.tar.gz"
        ),
        "{}",
        out.stderr
    );
    assert!(!env.path("out").exists(), "refused before writing anything");
}

#[test]
fn recursive_check_and_mirror_draw_a_progress_bar_only_on_a_terminal() {
    let env = TestEnv::new();
    mirror_tree(&env, "cpan");
    let in_terminal = |args: &str| run_in_terminal(&env, args);
    let drawn = in_terminal("check -r --source patches cpan");
    assert!(drawn.contains("checking"), "{drawn:?}");
    assert!(
        drawn.contains("Rec-Two 2.0: 1 patch would apply"),
        "{drawn:?}"
    );
    let drawn = in_terminal("mirror --source patches cpan copy");
    assert!(drawn.contains("mirroring"), "{drawn:?}");
    let quiet = in_terminal("-q check -r --source patches cpan");
    assert!(!quiet.contains("checking"), "{quiet:?}");
    // Not a terminal: no bar.
    let out = env.run_ok(&["check", "-r", "--source", "patches", "cpan"]);
    assert!(!out.stderr.contains("checking"), "{}", out.stderr);
}
