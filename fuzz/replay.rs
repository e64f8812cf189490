//! Replays every input kept under `fuzz/regressions/<target>/` through the
//! body of its fuzz target, in the normal test suite (no fuzzing toolchain
//! needed): an input that once crashed a parser stays fixed. Each target
//! also gets a few seed inputs of its own, so that the replay exercises
//! every body even where no regression was ever found.
//!
//! Add a crash found by `cargo fuzz run <target>` with
//! `cp fuzz/artifacts/<target>/crash-* fuzz/regressions/<target>/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs)]

#[path = "bodies.rs"]
mod bodies;

use std::path::Path;

/// A fuzz target: its name and its body.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 7] = [
    ("version", bodies::version),
    ("diff", bodies::diff),
    ("engine", bodies::engine),
    ("archive", bodies::archive),
    ("record", bodies::record),
    ("tuf_metadata", bodies::tuf_metadata),
    ("meta", bodies::meta),
];

#[test]
fn every_regression_input_replays_without_a_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut replayed = 0;
    for (name, body) in TARGETS {
        let dir = root.join(name);
        assert!(dir.is_dir(), "missing {}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".gitkeep") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            body(&data);
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} regression inputs");
}

#[test]
fn every_body_runs_on_seed_inputs() {
    let diff = b"--- a/lib/Foo.pm\n+++ b/lib/Foo.pm\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n";
    let mut engine_input = b"a\nb\n\0".to_vec();
    engine_input.extend_from_slice(diff);
    let seeds: [(&str, &[u8]); 7] = [
        ("version", b"1.2.3\n>= 1.0, < 2"),
        ("diff", diff),
        ("engine", &engine_input),
        ("archive", b"\x1f\x8b\x08\x00"),
        ("record", b"id = \"PK-1\"\ndist = \"Foo\"\nversions = \">= 1\"\npatch = \"PK-1.patch\"\ntitle = \"t\"\n"),
        ("tuf_metadata", br#"{"signed": {"_type": "root"}, "signatures": []}"#),
        ("meta", br#"{"name": "Foo", "version": "1.0"}"#),
    ];
    for ((name, body), (seed_name, seed)) in TARGETS.iter().zip(seeds) {
        assert_eq!(*name, seed_name);
        body(seed);
    }
}
