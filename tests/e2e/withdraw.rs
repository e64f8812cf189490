//! `patchkit withdraw`: the record stays, is no longer applied, and
//! `check` says why.

use crate::support::*;

#[test]
fn withdraw_keeps_the_record_and_check_explains_it() {
    let env = TestEnv::new();
    let old = "sub f { 1 }\n";
    SourceBuilder::new(env.path("patches")).record(RecordSpec {
        id: "PK-2026-0001",
        dist: "Wd",
        versions: ">= 1.0",
        patch: &udiff("lib/Wd.pm", old, "sub f { 2 }\n"),
        extra: "# reviewed by the team\nseverity = \"high\" # keep me\n",
    });
    let tb = DistBuilder::new("Wd", "1.2")
        .file("lib/Wd.pm", old)
        .tarball(&env.path("in"));
    let out = env.run_ok(&[
        "withdraw",
        "PK-2026-0001",
        "--reason",
        "upstream 1.3 fixes it",
        "--fixed-in",
        "1.3",
    ]);
    assert!(
        out.stdout.contains("withdrew PK-2026-0001"),
        "{}",
        out.stdout
    );
    let toml = std::fs::read_to_string(env.path("patches/Wd/PK-2026-0001.toml")).unwrap();
    assert!(toml.contains("# reviewed by the team"), "{toml}");
    assert!(toml.contains("severity = \"high\" # keep me"), "{toml}");
    assert!(
        toml.contains("reason = \"upstream 1.3 fixes it\""),
        "{toml}"
    );
    assert!(toml.contains("fixed_in = \"1.3\""), "{toml}");
    let out = env.run_ok(&[
        "check",
        "--source",
        "patches",
        "--json",
        tb.to_str().unwrap(),
    ]);
    let doc = out.json();
    assert_eq!(
        doc["targets"][0]["withdrawn"][0]["reason"],
        "upstream 1.3 fixes it"
    );
    assert_eq!(doc["targets"][0]["result"], "nothing_matched");
    env.run_ok(&["lint"]);

    // Twice is refused; so is an unknown id. Nothing changes.
    let before = snapshot_dir(env.dir());
    let out = env.run_code(&["withdraw", "PK-2026-0001", "--reason", "again"], 1);
    assert!(out.stderr.contains("already withdrawn"), "{}", out.stderr);
    let out = env.run_code(&["withdraw", "PK-2026-0999", "--reason", "x"], 2);
    assert!(
        out.stderr.contains("no record PK-2026-0999"),
        "{}",
        out.stderr
    );
    let out = env.run_code(&["withdraw", "../../etc", "--reason", "x"], 2);
    assert!(out.stderr.contains("not an id"), "{}", out.stderr);
    assert_eq!(snapshot_dir(env.dir()), before);
}

#[test]
fn withdraw_refuses_a_fixed_in_below_the_range() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add(
        "PK-2026-0002",
        "Wd",
        ">= 2.0",
        &udiff("x", "a\n", "b\n"),
    );
    let before = snapshot_dir(env.dir());
    let out = env.run_code(
        &[
            "withdraw",
            "PK-2026-0002",
            "--reason",
            "r",
            "--fixed-in",
            "1.0",
        ],
        2,
    );
    assert!(out.stderr.contains("below every version"), "{}", out.stderr);
    assert_eq!(snapshot_dir(env.dir()), before);
}
