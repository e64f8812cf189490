//! `patchkit new`: scaffolding records, and its refusals.

use crate::support::*;

#[test]
fn new_scaffolds_a_record_with_the_next_free_id() {
    let env = TestEnv::new();
    let out = env.run_ok(&[
        "new",
        "Foo-Bar",
        "--versions",
        ">= 1.0, < 1.5",
        "--alias",
        "CVE-2026-1111",
        "--title",
        "Foo::Bar::load opens files with 2-arg open",
        "--json",
    ]);
    let doc = out.json();
    assert_eq!(doc["command"], "new");
    let id = doc["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("PK-") && id.ends_with("-0001"), "{id}");
    let toml = std::fs::read_to_string(env.path(&format!("patches/Foo-Bar/{id}.toml"))).unwrap();
    for want in [
        "dist = \"Foo-Bar\"",
        "versions = \">= 1.0, < 1.5\"",
        "aliases = [\"CVE-2026-1111\"]",
        "# severity",
        "# fixed_in",
        "kind = \"unofficial\"",
    ] {
        assert!(toml.contains(want), "{want} missing in\n{toml}");
    }
    // The next one, for another dist, counts on across the tree.
    let out = env.run_ok(&["new", "Other", "--versions", "2", "--json"]);
    let second = out.json()["id"].as_str().unwrap().to_string();
    assert_eq!(second, id.replace("-0001", "-0002"));
    // Until the patch exists and the title is real, lint says what is left.
    let out = env.run_code(&["lint"], 1);
    assert!(
        out.stdout.contains(&format!("{second}.patch is missing")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("patchkit diff ORIGINAL EDITED --record"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("placeholder"), "{}", out.stdout);
}

#[test]
fn new_refuses_bad_input_and_writes_nothing() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches"));
    let before = snapshot_dir(env.dir());
    for (args, want) in [
        (vec!["Foo::Bar", "--versions", "1"], "did you mean Foo-Bar"),
        (
            vec!["Foo/../x", "--versions", "1"],
            "not a CPAN distribution name",
        ),
        (
            vec!["Foo", "--versions", ">= 1,, < 2"],
            "not a CPAN::Meta::Requirements range",
        ),
        (vec!["Foo", "--versions", "< 0"], "matches no version"),
        (
            vec!["Foo", "--versions", "1", "--alias", "CVE-1"],
            "neither a CVE id",
        ),
    ] {
        let mut full = vec!["new"];
        full.extend(args);
        let out = env.run_code(&full, 2);
        assert!(out.stderr.contains(want), "{full:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.lines().count(),
            1,
            "one sentence: {}",
            out.stderr
        );
    }
    assert_eq!(snapshot_dir(env.dir()), before);
}
