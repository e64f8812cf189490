//! Snapshots (insta) of what users read: the human and `--json` output of
//! `check`, `apply` and `audit` on one fixed scene. A change to any of them
//! shows up in review as a snapshot diff; accept it with
//! `INSTA_UPDATE=always cargo test -p patchkit --test e2e snapshots` (or
//! `cargo insta review`). The scratch directory is replaced by `[TMP]`.

use crate::audit::{foo_dist, source_with};
use crate::support::*;

fn scrub(env: &TestEnv, text: &str) -> String {
    text.replace(env.dir().to_str().unwrap(), "[TMP]")
}

/// Stdout, then stderr, of one run.
fn both(env: &TestEnv, out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code,
        scrub(env, &out.stdout),
        scrub(env, &out.stderr)
    )
}

#[test]
fn check_and_apply_output() {
    let env = TestEnv::new();
    source_with(&env, "");
    let a = foo_dist("1.0").tarball(&env.path("in"));
    let b = foo_dist("2.0").tarball(&env.path("in"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    insta::assert_snapshot!(
        "check_text",
        both(&env, &env.run(&["check", "--source", "patches", a, b]))
    );
    insta::assert_snapshot!(
        "check_json",
        both(
            &env,
            &env.run(&["check", "--source", "patches", "--json", a, b])
        )
    );
    insta::assert_snapshot!(
        "apply_text",
        both(
            &env,
            &env.run(&["apply", "--source", "patches", "-o", "out", a, b])
        )
    );
    let patched = env.path("out/Foo-Bar-1.0.tar.gz");
    let patched = patched.to_str().unwrap();
    insta::assert_snapshot!(
        "apply_again_text",
        both(
            &env,
            &env.run(&["apply", "--source", "patches", "-o", "out2", patched])
        )
    );
    insta::assert_snapshot!(
        "audit_text",
        both(
            &env,
            &env.run(&["audit", "--source", "patches", patched, b])
        )
    );
    insta::assert_snapshot!(
        "audit_json",
        both(
            &env,
            &env.run(&["audit", "--source", "patches", "--json", patched, b])
        )
    );
}
