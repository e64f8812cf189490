//! `HOME/config.toml`, the environment and `patchkit config`.

use crate::support::server::PubRepo;
use crate::support::*;

fn write_config(env: &TestEnv, text: &str) {
    std::fs::create_dir_all(env.home()).unwrap();
    std::fs::write(env.home().join("config.toml"), text).unwrap();
}

#[test]
fn config_shows_each_setting_and_where_it_came_from() {
    let env = TestEnv::new();
    write_config(
        &env,
        "[limits]\nhttp_stall = \"5s\"\nentries = 100\n[apply]\nskip = [\"PK-2025-0001\"]\n",
    );
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("--home")
        .arg(env.home())
        .args(["config", "--json", "--set", "limits.entries=7"])
        .env("PATCHKIT_LIMITS_FILE_SIZE", "1 MiB");
    let out = run_cmd(cmd, env.dir());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = out.json();
    let setting = |key: &str| {
        doc["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .clone()
    };
    assert_eq!(setting("limits.http_stall")["value"], "\"5s\"");
    assert_eq!(setting("limits.http_stall")["source"], "config file");
    assert_eq!(setting("limits.file_size")["value"], "\"1 MiB\"");
    assert_eq!(setting("limits.file_size")["source"], "environment");
    assert_eq!(setting("limits.entries")["value"], "7");
    assert_eq!(setting("limits.entries")["source"], "command line");
    assert_eq!(setting("limits.archive_size")["source"], "default");
    assert_eq!(setting("apply.skip")["value"], "[\"PK-2025-0001\"]");
    // Every limit the code has is shown.
    for key in [
        "archive_size",
        "unpacked_size",
        "file_size",
        "entries",
        "compression_ratio",
        "extension_size",
        "memory_per_target",
        "symlink_work",
        "root_size",
        "timestamp_size",
        "snapshot_size",
        "targets_size",
        "record_size",
        "root_rotations",
        "http_connect",
        "http_stall",
        "http_request",
        "update_deadline",
    ] {
        setting(&format!("limits.{key}"));
    }
    // The text form names the file and the source of each line.
    let text = env.run_ok(&["config"]);
    assert!(text.stdout.contains("config.toml"), "{}", text.stdout);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("limits.http_stall") && l.contains("config file")),
        "{}",
        text.stdout
    );
}

#[test]
fn config_refuses_an_unknown_key_naming_the_file_and_key() {
    let env = TestEnv::new();
    write_config(&env, "[limits]\nhttp_stal = \"5s\"\n");
    // Every command reads the configuration, and refuses it the same way.
    for args in [&["config"][..], &["repo", "list"][..]] {
        let out = env.run_code(args, 2);
        assert!(
            out.stderr.contains("config.toml")
                && out.stderr.contains("unknown key limits.http_stal"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn config_lists_the_repositories_in_their_precedence() {
    let env = TestEnv::new();
    let none = env.run_ok(&["config"]);
    assert!(
        none.stdout.contains("repositories: none"),
        "{}",
        none.stdout
    );
    let repo = PubRepo::new(&env, &[]);
    let url = format!("file://{}", repo.out().display());
    // Added in this order: "zeta" first, so precedence is not by name.
    env.run_ok(&["repo", "add", "zeta", &url, "--root", &repo.root1()]);
    env.run_ok(&["repo", "add", "alpha", &url, "--root", &repo.root1()]);
    let doc = env.run_ok(&["config", "--json"]).json();
    let repos = doc["repositories"].as_array().unwrap();
    assert_eq!(repos.len(), 2, "{doc:#}");
    assert_eq!(repos[0]["name"], "zeta");
    assert_eq!(repos[0]["precedence"], 1);
    assert_eq!(repos[1]["name"], "alpha");
    assert!(repos[1]["source"]
        .as_str()
        .unwrap()
        .ends_with("config.toml"));
}
