//! The bodies of the fuzz targets: one function per parser entry point,
//! shared by the libFuzzer targets (`fuzz_targets/*.rs`, built by
//! `cargo fuzz`) and by the regression replay that the normal test suite
//! runs (`replay.rs`), so that every input that once crashed is replayed in
//! CI without a fuzzing toolchain.
//!
//! A body must never panic on any input: the parsers it calls refuse bad
//! input with an error. Where a parse succeeds, the body checks a property
//! that must hold for every accepted input (a round trip, an ordering law).

#![allow(dead_code)]

use patchkit::patch::{self, ApplyOptions, Fuzz};
use patchkit::tarball::{Archive, Limits};
use patchkit::tree::{FileEntry, Tree};
use patchkit::version::{CpanVersion, VersionRange};

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// CPAN versions and CPAN::Meta::Requirements ranges: parse; an accepted
/// version compares equal to itself and to its own re-parse, and a range
/// that parsed can be asked about that version.
pub(crate) fn version(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let (left, right) = s.split_once('\n').unwrap_or((s, ""));
    if let Ok(v) = CpanVersion::parse(left) {
        assert_eq!(v.cmp(&v), std::cmp::Ordering::Equal);
        let again = CpanVersion::parse(v.as_str()).expect("an accepted version re-parses");
        assert_eq!(v.cmp(&again), std::cmp::Ordering::Equal);
        let _ = v.normal();
        if let Ok(r) = VersionRange::parse(right) {
            let _ = r.contains(&v);
            let _ = r.matches_nothing();
        }
    }
    let _ = VersionRange::parse(s);
}

/// The unified / git diff parser, with every strip level a record allows.
pub(crate) fn diff(data: &[u8]) {
    for strip in 0..3 {
        let _ = patch::parse(data, strip);
    }
    let _ = patch::dep3::Dep3::parse(&patch::dep3::preamble_of(data));
}

/// The engine: the first part of the input (up to a NUL byte) is the file
/// the patch applies to, named by the patch's own paths; the rest is the
/// patch. Applying must never panic, with or without fuzz, and a patch
/// that applied must then be detected as already applied.
pub(crate) fn engine(data: &[u8]) {
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let (content, diff) = (&data[..split], &data[split + 1..]);
    let Ok(parsed) = patch::parse(diff, 1) else {
        return;
    };
    let mut tree = Tree::default();
    for f in &parsed.files {
        for path in [&f.old_path, &f.new_path] {
            tree.files.insert(
                path.clone(),
                FileEntry {
                    data: content.to_vec(),
                    mode: 0o644,
                },
            );
        }
    }
    for fuzz in [Fuzz::None, Fuzz::Lines(2)] {
        let mut t = tree.clone();
        let _ = patch::apply(&mut t, &parsed, &ApplyOptions { fuzz });
    }
}

/// The bounded archive reader (gzip, bzip2, plain tar) with small limits,
/// so that bombs are cut short.
pub(crate) fn archive(data: &[u8]) {
    let limits = Limits {
        max_entries: 200,
        max_unpacked_bytes: 1 << 20,
        max_file_bytes: 1 << 18,
        ..Limits::default()
    };
    if let Ok(a) = Archive::read("Fuzz-Dist-1.0.tar.gz", data, &limits) {
        let _ = a.tree().digest();
    }
}

/// The patch record (TOML) reader.
pub(crate) fn record(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let _ = patch::record::Record::from_toml(s);
}

/// TUF metadata: the envelope, every role's document, canonical bytes, and
/// a root verifying a document (signatures are random, so almost always a
/// refusal — never a panic).
pub(crate) fn tuf_metadata(data: &[u8]) {
    use patchkit::tuf::metadata::{Envelope, Role, Root, Snapshot, Targets, Timestamp};
    for role in [Role::Root, Role::Timestamp, Role::Snapshot, Role::Targets] {
        let Ok(env) = Envelope::from_slice(role.as_str(), data) else {
            continue;
        };
        let _ = env.canonical_signed(role.as_str());
        match role {
            Role::Root => {
                if let Ok(root) = env.parse_signed::<Root>() {
                    for r in [Role::Root, Role::Timestamp, Role::Snapshot, Role::Targets] {
                        let _ = root.verify_role(r, &env);
                    }
                }
            }
            Role::Timestamp => {
                let _ = env.parse_signed::<Timestamp>();
            }
            Role::Snapshot => {
                let _ = env.parse_signed::<Snapshot>();
            }
            Role::Targets => {
                let _ = env.parse_signed::<Targets>();
            }
        }
    }
}

/// META.json / META.yml readers and the `x_patchkit` writers: a META that
/// was read must take an `x_patchkit` key and give it back.
pub(crate) fn meta(data: &[u8]) {
    use patchkit::dist::meta;
    let _ = meta::json_name_version(data);
    let _ = meta::yml_name_version(data);
    let _ = meta::json_get_x_patchkit(data);
    let x = serde_json::json!({"applied": [{"id": "PK-1"}]});
    if let Ok(out) = meta::json_set_x_patchkit(data, &x) {
        assert_eq!(
            meta::json_get_x_patchkit(&out).ok().flatten(),
            Some(x.clone()),
            "x_patchkit written into META.json reads back"
        );
    }
    let _ = meta::yml_set_x_patchkit(data, &x);
}
