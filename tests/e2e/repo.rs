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

#[test]
fn several_repositories_need_repo_flag() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    env.run_ok(&["repo", "add", "a", "pub", "--root", &repo.root1()]);
    env.run_ok(&["repo", "add", "b", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    let tb = repo.dist();
    let out = env.run_code(&["check", "--offline", tb.to_str().unwrap()], 2);
    assert!(out.stderr.contains("--repo NAME"), "{}", out.stderr);
    env.run_ok(&["check", "--offline", "--repo", "b", tb.to_str().unwrap()]);
}
