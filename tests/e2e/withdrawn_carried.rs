//! `check` on a tarball that carries a patch withdrawn since it was
//! applied says so (as `audit` does), on stderr, in the text and in JSON.

use crate::support::*;

#[test]
fn check_says_a_tarball_carries_a_now_withdrawn_patch() {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add(
        "PK-1",
        "Foo",
        "<= 1.0",
        &udiff("lib/Foo.pm", "sub f { 1 }\n", "sub f { 2 }\n"),
    );
    let tb = DistBuilder::new("Foo", "1.0")
        .file("lib/Foo.pm", "sub f { 1 }\n")
        .tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    env.run_ok(&["withdraw", "PK-1", "--reason", "the fix breaks f()"]);
    let out = env.run_ok(&["check", "--source", "patches", "out/Foo-1.0.tar.gz"]);
    assert!(
        out.stderr
            .contains("warning: out/Foo-1.0.tar.gz carries PK-1, which was withdrawn on")
            && out.stderr.contains("rebuild it from the upstream tarball"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("this target CARRIES it"),
        "{}",
        out.stdout
    );
    let doc = env
        .run_ok(&[
            "check",
            "--source",
            "patches",
            "out/Foo-1.0.tar.gz",
            "--json",
        ])
        .json();
    assert_eq!(doc["targets"][0]["withdrawn"][0]["carried"], true, "{doc}");
    // The pristine tarball does not carry it: no such line.
    let out = env.run_ok(&["check", "--source", "patches", tb.to_str().unwrap()]);
    assert!(!out.stdout.contains("CARRIES"), "{}", out.stdout);
    assert!(!out.stderr.contains("carries PK-1"), "{}", out.stderr);
}
