//! `patchkit repo add`, `repo list`, `repo remove`.

use crate::support::server::*;
use crate::support::*;

#[test]
fn repo_add_list_remove() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let url = format!("file://{}", repo.out().display());
    env.run_ok(&["repo", "add", "main", &url, "--root", &repo.root1()]);
    env.run_code(&["repo", "add", "main", &url, "--root", &repo.root1()], 2);
    let list = env.run_ok(&["repo", "list", "--json"]).json();
    let r = &list["repositories"][0];
    assert_eq!(r["name"], "main");
    assert_eq!(r["url"], url.as_str());
    assert_eq!(r["root_version"], 1);
    assert_eq!(r["freshness"], "never updated");
    env.run_ok(&["update"]);
    let text = env.run_ok(&["repo", "list"]).stdout;
    assert!(text.contains("version:         1"), "{text}");
    assert!(text.contains("freshness:       fresh"), "{text}");
    env.run_ok(&["repo", "remove", "main"]);
    assert!(!env.home().join("repos/main").exists());
    let list = env.run_ok(&["repo", "list", "--json"]).json();
    assert_eq!(list["repositories"], serde_json::json!([]));
    env.run_code(&["repo", "remove", "main"], 2);
}

#[test]
fn repo_add_refuses_a_root_not_signed_by_its_own_keys() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let mut root = read_json(&repo.meta("1.root.json"));
    root["signed"]["version"] = serde_json::json!(7);
    std::fs::write(env.path("forged.json"), serde_json::to_vec(&root).unwrap()).unwrap();
    let out = env.run_code(&["repo", "add", "main", "pub", "--root", "forged.json"], 3);
    assert!(
        out.stderr.contains("not signed by its own keys"),
        "{}",
        out.stderr
    );
    assert!(!env.home().join("repos/main").exists());
}

/// Several repositories layered in one run: every configured one by
/// default, in the order added, or those `--repo` names, in that order. A
/// patch id published by two: the first wins, stderr says so, and the
/// record inside the patched dist names the repository of each patch.
#[test]
fn layered_repositories_first_wins_and_each_patch_names_its_repository() {
    use crate::support::server::*;
    let env = TestEnv::new();
    let one = PubRepo::new(&env, &[]);
    let other = TestEnv::new();
    let two = PubRepo::new(&other, &[]);
    SourceBuilder::new(other.path("patches")).add(
        "PK-7",
        "Foo",
        ">= 1",
        &udiff("lib/Bar.pm", "a\n", "b\n"),
    );
    two.publish(&[]);
    // Added in this order: "zeta" first, so precedence is not by name.
    env.run_ok(&["repo", "add", "zeta", "pub", "--root", &one.root1()]);
    let two_pub = two.out();
    env.run_ok(&[
        "repo",
        "add",
        "alpha",
        two_pub.to_str().unwrap(),
        "--root",
        &two.root1(),
    ]);
    let out = env.run_ok(&["update"]).stdout;
    assert!(out.starts_with("zeta: "), "{out}");
    assert!(out.contains("\nalpha: "), "{out}");
    let tb = DistBuilder::new("Foo", "1.0")
        .file("lib/Foo.pm", OLD)
        .file("lib/Bar.pm", "a\n")
        .tarball(&env.path("in"));
    let tb = tb.to_str().unwrap();

    let repos_of = |out_dir: &str| -> Vec<(String, String)> {
        let files = tarball_files(&env.path(&format!("{out_dir}/Foo-1.0.tar.gz")));
        let applied: serde_json::Value =
            serde_json::from_slice(&files["Foo-1.0/.patchkit/applied.json"].0).unwrap();
        applied["patches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_string(),
                    p["repository"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    // Default: all, in the order added.
    let out = env.run_ok(&["apply", "--json", "-o", "out", tb]);
    assert!(
        out.stderr.contains(
            "PK-1 is published by both zeta (version 1) and alpha (version 2): using zeta \
             (version 1)'s (the first repository wins)"
        ),
        "{}",
        out.stderr
    );
    let doc = out.json();
    assert_eq!(doc["repositories"][0]["name"], "zeta");
    assert_eq!(doc["repositories"][1]["name"], "alpha");
    assert_eq!(
        repos_of("out"),
        [
            ("PK-1".to_string(), "zeta".to_string()),
            ("PK-7".to_string(), "alpha".to_string())
        ]
    );
    // audit names every repository it judged against, in order.
    let out = env.run_ok(&["audit", "--offline", "out/Foo-1.0.tar.gz"]);
    assert!(
        out.stdout
            .contains("audited against zeta (version 1) + alpha (version 2)"),
        "{}",
        out.stdout
    );
    let doc = env
        .run_ok(&["audit", "--offline", "--json", "out/Foo-1.0.tar.gz"])
        .json();
    assert_eq!(doc["repositories"][1]["name"], "alpha", "{doc:#}");
    // --repo, repeated: the order given decides.
    let out = env.run_ok(&[
        "apply",
        "--offline",
        "--repo",
        "alpha",
        "--repo",
        "zeta",
        "-o",
        "rev",
        tb,
    ]);
    assert!(
        out.stderr.contains("using alpha (version 2)'s"),
        "{}",
        out.stderr
    );
    assert_eq!(
        repos_of("rev"),
        [
            ("PK-1".to_string(), "alpha".to_string()),
            ("PK-7".to_string(), "alpha".to_string())
        ]
    );
    // One repository: no layering, nothing to say.
    let out = env.run_ok(&["check", "--offline", "--repo", "zeta", "--json", tb]);
    assert!(!out.stderr.contains("published by both"), "{}", out.stderr);
    assert!(out.json().get("repositories").is_none());
    // The log names both.
    let log = env.run_ok(&["log", "--json", "-n", "1"]).json();
    assert_eq!(
        log["entries"][0]["repository"],
        "alpha (version 2) + zeta (version 1)"
    );
    env.run_code(&["check", "--repo", "nope", tb], 2);
}
