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
