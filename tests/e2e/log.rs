//! `patchkit log`: the application log as a table and as JSON, with a
//! damaged (torn) line reported and every other entry kept.

use crate::audit::{foo_dist, patched_tarball, source_with};
use crate::support::*;

#[test]
fn log_shows_every_apply_as_a_table_and_as_json() {
    let env = TestEnv::new();
    let empty = env.run_ok(&["log"]);
    assert!(
        empty.stdout.contains("no apply recorded"),
        "{}",
        empty.stdout
    );
    assert_eq!(
        env.run_ok(&["log", "--json"]).json()["entries"],
        serde_json::json!([])
    );

    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    // Applying again to the patched output: unchanged, already applied.
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "again",
        out.to_str().unwrap(),
    ]);
    let dir = foo_dist("1.1").unpack(&env.path("build"));
    env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);

    let text = env.run_ok(&["log"]);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(lines[0].starts_with("TIME"), "{}", text.stdout);
    assert!(
        text.stdout.contains("applied    Foo-Bar-1.0"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("unchanged  Foo-Bar-1.0"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("(already: PK-0001)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("Foo-Bar-1.1"), "{}", text.stdout);
    assert!(
        text.stdout.contains("from unsigned source patches"),
        "{}",
        text.stdout
    );
    assert!(text.stderr.is_empty(), "{}", text.stderr);

    let doc = env.run_ok(&["log", "--json"]).json();
    assert_eq!(doc["command"], "log");
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let first = &entries[0];
    assert_eq!(first["dist"], "Foo-Bar-1.0");
    assert_eq!(first["result"], "applied");
    assert_eq!(first["applied"], serde_json::json!(["PK-0001"]));
    assert_eq!(
        first["output_sha256"].as_str().unwrap(),
        crate::apply::sha256(&std::fs::read(&out).unwrap())
    );
    assert!(first["input_sha256"].is_string());
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(entries[1]["result"], "unchanged");
    assert_eq!(entries[2]["dist"], "Foo-Bar-1.1");
    assert_eq!(doc["damaged_lines"], serde_json::json!([]));
}

#[test]
fn a_damaged_log_line_is_named_and_the_other_entries_are_shown() {
    let env = TestEnv::new();
    source_with(&env, "");
    patched_tarball(&env, "1.0");
    // A writer killed mid-line, then another apply.
    let log = env.home().join("log.jsonl");
    let mut data = std::fs::read(&log).unwrap();
    data.extend_from_slice(br#"{"time":"2026-01-0"#);
    std::fs::write(&log, data).unwrap();
    patched_tarball(&env, "1.1");

    let text = env.run_ok(&["log"]);
    assert!(text.stderr.contains("line 2 is damaged"), "{}", text.stderr);
    assert!(text.stdout.contains("Foo-Bar-1.0"), "{}", text.stdout);
    assert!(text.stdout.contains("Foo-Bar-1.1"), "{}", text.stdout);

    let run = env.run_ok(&["log", "--json"]);
    assert!(run.stderr.contains("line 2 is damaged"), "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["damaged_lines"], serde_json::json!([2]));
    assert_eq!(doc["entries"].as_array().unwrap().len(), 2);
}

/// Entries name files by absolute path and the host, whatever the working
/// directory; `log` filters by `--since`, `--dist` and `-n`.
#[test]
fn log_entries_are_absolute_with_the_host_and_filter_by_since_dist_and_count() {
    let env = TestEnv::new();
    source_with(&env, "");
    // Relative paths on the command line (the test runs in ENV).
    let a = foo_dist("1.0").tarball(&env.path("in"));
    let b = foo_dist("1.1").tarball(&env.path("in"));
    let other = DistBuilder::new("Foo-Bar-Baz", "2.0")
        .file("lib/Baz.pm", "1;\n")
        .tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        "in/Foo-Bar-1.0.tar.gz",
    ]);
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        "in/Foo-Bar-1.1.tar.gz",
    ]);
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        "in/Foo-Bar-Baz-2.0.tar.gz",
    ]);
    let doc = env.run_ok(&["log", "--json"]).json();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["target"], a.to_str().unwrap());
    assert_eq!(
        entries[0]["output"],
        env.path("out/Foo-Bar-1.0.tar.gz").to_str().unwrap()
    );
    assert_eq!(entries[2]["target"], other.to_str().unwrap());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(entries[0]["host"], host.trim());
    let text = env.run_ok(&["log"]).stdout;
    assert!(text.contains(&format!("on {}", host.trim())), "{text}");

    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["log", "--json"];
        all.extend_from_slice(args);
        env.run_ok(&all).json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["dist"].as_str().unwrap().to_string())
            .collect()
    };
    // Foo-Bar (any version), not Foo-Bar-Baz.
    assert_eq!(ids(&["--dist", "Foo-Bar"]), ["Foo-Bar-1.0", "Foo-Bar-1.1"]);
    assert_eq!(ids(&["--dist", "Foo-Bar-1.1"]), ["Foo-Bar-1.1"]);
    assert_eq!(ids(&["--dist", "Foo-Bar-Baz"]), ["Foo-Bar-Baz-2.0"]);
    assert_eq!(ids(&["-n", "1"]), ["Foo-Bar-Baz-2.0"]);
    assert_eq!(ids(&["--dist", "Foo-Bar", "-n", "1"]), ["Foo-Bar-1.1"]);
    assert_eq!(ids(&["--since", "2000-01-01"]).len(), 3);
    assert!(ids(&["--since", "2999-01-01T00:00:00Z"]).is_empty());
    let out = env.run_code(&["log", "--since", "last tuesday"], 2);
    assert!(out.stderr.contains("is not a date"), "{}", out.stderr);
    let _ = b;
}
