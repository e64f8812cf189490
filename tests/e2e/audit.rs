//! `patchkit audit`: every kind of PATH (tarball, directory, cpanm `local/`,
//! site library, `lib/perl5` itself), every status (genuine, superseded,
//! withdrawn, unknown), tampered files, missing patches, each `--fail-on`
//! value, and each kind of bad input reported per dist while the rest is
//! still audited.
//!
//! Library trees are laid out here the way cpanm lays them out (checked
//! against the real cpanm in `cpanm.rs`): modules under `lib/perl5/`,
//! `lib/perl5/<archname>/.meta/<Dist-Ver>/{install.json,MYMETA.json}`, with
//! MYMETA.json carrying META.json's `x_patchkit`.

use std::path::{Path, PathBuf};

use crate::apply::sha256;
use crate::support::*;

pub const ARCH: &str = "x86_64-linux-gnu-thread-multi";

pub const FOO_PM: &str = "package Foo;\nuse strict;\n\nsub load {\n    my ($file) = @_;\n    open(my $fh, $file) or die;\n    return <$fh>;\n}\n\n1;\n";
pub const FOO_PM_FIXED: &str = "package Foo;\nuse strict;\n\nsub load {\n    my ($file) = @_;\n    open(my $fh, '<', $file) or die;\n    return <$fh>;\n}\n\n1;\n";
const FOO_PM_FIXED_V2: &str = "package Foo;\nuse strict;\n\nsub load {\n    my ($file) = @_;\n    open(my $fh, '<', $file) or die \"cannot open $file\";\n    return <$fh>;\n}\n\n1;\n";

pub fn foo_dist(version: &str) -> DistBuilder {
    DistBuilder::new("Foo-Bar", version)
        .file("lib/Foo.pm", FOO_PM)
        .file("t/basic.t", "use Test::More tests => 1; ok 1;\n")
        .file(
            "Makefile.PL",
            "use ExtUtils::MakeMaker;\nWriteMakefile(NAME => 'Foo');\n",
        )
}

/// A source with one record for Foo-Bar, PK-0001 (`extra` appended to its
/// TOML), and one for another dist so that the catalog is never empty.
pub fn source_with(env: &TestEnv, extra: &str) -> SourceBuilder {
    let root = env.path("patches");
    let _ = std::fs::remove_dir_all(&root);
    let src = SourceBuilder::new(root);
    src.record(RecordSpec {
        id: "PK-0001",
        dist: "Foo-Bar",
        versions: ">= 1.0, < 2",
        patch: &udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED),
        extra,
    });
    src.add(
        "PK-0900",
        "Other-Dist",
        ">= 0",
        &udiff("lib/Other.pm", "1;\n", "2;\n"),
    );
    src
}

/// Apply the source to a Foo-Bar tarball; returns the patched tarball.
pub fn patched_tarball(env: &TestEnv, version: &str) -> PathBuf {
    let tb = foo_dist(version).tarball(&env.path("in"));
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        tb.to_str().unwrap(),
    ]);
    env.path(&format!("out/Foo-Bar-{version}.tar.gz"))
}

/// Install a tarball's content into `lib` the way cpanm does: `lib/*`
/// files under `lib/perl5/`, and the .meta folder with install.json and a
/// MYMETA.json made from META.json (which is what MakeMaker does: it keeps
/// `x_` keys).
pub fn install_like_cpanm(lib: &Path, tarball: &Path, author: &str) -> PathBuf {
    let files = tarball_files(tarball);
    let mut release = String::new();
    let mut meta = None;
    for (path, (data, _)) in &files {
        let (top, rel) = path.split_once('/').unwrap();
        release = top.to_string();
        if let Some(module) = rel.strip_prefix("lib/") {
            let dest = lib.join("lib/perl5").join(module);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(dest, data).unwrap();
        }
        if rel == "META.json" {
            meta = Some(data.clone());
        }
    }
    let meta_dir = lib.join(format!("lib/perl5/{ARCH}/.meta/{release}"));
    std::fs::create_dir_all(&meta_dir).unwrap();
    let install = serde_json::json!({
        "name": "Foo",
        "target": "Foo",
        "version": release.rsplit('-').next().unwrap(),
        "dist": release,
        "pathname": format!("{}/{}/{author}/{release}.tar.gz", &author[..1], &author[..2]),
        "provides": {},
    });
    std::fs::write(meta_dir.join("install.json"), install.to_string()).unwrap();
    if let Some(meta) = meta {
        std::fs::write(meta_dir.join("MYMETA.json"), meta).unwrap();
    }
    meta_dir
}

/// One dist of a JSON audit, by dist-version or location suffix.
pub fn dist_of<'a>(doc: &'a serde_json::Value, location_ends: &str) -> &'a serde_json::Value {
    doc["dists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["location"].as_str().unwrap().ends_with(location_ends))
        .unwrap_or_else(|| panic!("no dist at {location_ends} in {doc:#}"))
}

fn statuses(d: &serde_json::Value) -> Vec<(String, String)> {
    d["patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn findings(d: &serde_json::Value) -> Vec<String> {
    d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

fn audit_json(env: &TestEnv, paths: &[&Path]) -> serde_json::Value {
    let mut args = vec!["audit", "--json", "--source", "patches"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    env.run_ok(&args).json()
}

fn pair(id: &str, status: &str) -> (String, String) {
    (id.to_string(), status.to_string())
}

// --- PATH kinds --------------------------------------------------------------

#[test]
fn audits_a_patched_tarball_as_genuine() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    let text = env.run_ok(&["audit", "--source", "patches", out.to_str().unwrap()]);
    assert!(
        text.stdout.contains("tarball: Foo-Bar 1.0: ok"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("PK-0001"), "{}", text.stdout);
    assert!(text.stdout.contains("genuine"), "{}", text.stdout);
    assert!(text.stderr.contains("UNSIGNED"), "{}", text.stderr);
    let doc = audit_json(&env, &[&out]);
    let d = dist_of(&doc, "Foo-Bar-1.0.tar.gz");
    assert_eq!(d["kind"], "tarball");
    assert_eq!(d["record"], "applied_json");
    assert_eq!(d["purl"], "pkg:cpan/Foo-Bar@1.0");
    assert_eq!(
        d["tarball_sha256"].as_str().unwrap(),
        sha256(&std::fs::read(&out).unwrap())
    );
    assert_eq!(statuses(d), [pair("PK-0001", "genuine")]);
    assert!(findings(d).is_empty(), "{d:#}");
    assert_eq!(doc["summary"]["genuine"], 1);
}

#[test]
fn audits_an_unpacked_directory_and_finds_a_tampered_file() {
    let env = TestEnv::new();
    source_with(&env, "");
    let dir = foo_dist("1.0").unpack(&env.path("build"));
    env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);
    let doc = audit_json(&env, &[&dir]);
    let d = dist_of(&doc, "Foo-Bar-1.0");
    assert_eq!(d["kind"], "directory");
    assert_eq!(statuses(d), [pair("PK-0001", "genuine")]);
    assert!(d["tampered"].as_array().unwrap().is_empty());

    // Someone edits the patched file after the fact.
    std::fs::write(dir.join("lib/Foo.pm"), FOO_PM).unwrap();
    let doc = audit_json(&env, &[&dir]);
    let d = dist_of(&doc, "Foo-Bar-1.0");
    assert_eq!(findings(d), ["tampered"]);
    let t = &d["tampered"][0];
    assert_eq!(t["path"], "lib/Foo.pm");
    assert_eq!(
        t["expected"].as_str().unwrap(),
        sha256(FOO_PM_FIXED.as_bytes())
    );
    assert_eq!(t["actual"].as_str().unwrap(), sha256(FOO_PM.as_bytes()));
    assert_eq!(t["patches"], serde_json::json!(["PK-0001"]));
    let text = env.run_ok(&["audit", "--source", "patches", dir.to_str().unwrap()]);
    assert!(text.stdout.contains("TAMPERED"), "{}", text.stdout);

    // A deleted file is tampered too.
    std::fs::remove_file(dir.join("lib/Foo.pm")).unwrap();
    let doc = audit_json(&env, &[&dir]);
    assert!(dist_of(&doc, "Foo-Bar-1.0")["tampered"][0]["actual"].is_null());
}

#[test]
fn audits_a_cpanm_local_tree_and_maps_lib_files_into_the_library() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    let local = env.path("local");
    install_like_cpanm(&local, &out, "TESTER");
    // An unpatched release of the same dist installed beside it (with its
    // own module file: installing it over lib/Foo.pm would overwrite the
    // patched file, which audit would rightly call tampered).
    let unpatched = DistBuilder::new("Foo-Bar", "1.1").file("lib/Foo/Old.pm", "1;\n");
    install_like_cpanm(&local, &unpatched.tarball(&env.path("plain")), "OTHER");
    let doc = audit_json(&env, &[&local]);
    assert_eq!(doc["summary"]["dists"], 2);
    let d = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert_eq!(d["kind"], "installed");
    assert_eq!(d["record"], "mymeta_json");
    assert_eq!(d["purl"], "pkg:cpan/Foo-Bar@1.0?author=TESTER");
    assert_eq!(statuses(d), [pair("PK-0001", "genuine")]);
    assert!(findings(d).is_empty(), "{d:#}");
    let plain = dist_of(&doc, ".meta/Foo-Bar-1.1");
    assert_eq!(findings(plain), ["missing"]);
    assert_eq!(plain["missing"][0]["id"], "PK-0001");

    // The installed module is `lib/perl5/Foo.pm`, recorded as lib/Foo.pm.
    std::fs::write(local.join("lib/perl5/Foo.pm"), "package Foo; 1;\n").unwrap();
    let doc = audit_json(&env, &[&local]);
    let d = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert_eq!(findings(d), ["tampered"]);
    assert!(d["tampered"][0]["installed_as"]
        .as_str()
        .unwrap()
        .ends_with("lib/perl5/Foo.pm"));
    let text = env.run_ok(&["audit", "--source", "patches", local.to_str().unwrap()]);
    assert!(text.stdout.contains("(library)"), "{}", text.stdout);
    assert!(text.stdout.contains("MISSING"), "{}", text.stdout);
    assert!(text.stdout.contains("TAMPERED"), "{}", text.stdout);
}

#[test]
fn audits_a_site_library_and_the_perl5_dir_and_the_arch_dir() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    let local = env.path("local");
    install_like_cpanm(&local, &out, "TESTER");
    // A site library is a directory holding <archname>/.meta/ directly:
    // `local/lib/perl5` is one; so is its arch dir's parent.
    let perl5 = local.join("lib/perl5");
    for path in [perl5.clone(), perl5.join(ARCH)] {
        let doc = audit_json(&env, &[&path]);
        let d = dist_of(&doc, ".meta/Foo-Bar-1.0");
        assert_eq!(statuses(d), [pair("PK-0001", "genuine")], "{path:?}");
        assert!(findings(d).is_empty(), "{path:?}: {d:#}");
    }
}

#[test]
fn audits_several_paths_of_different_kinds_in_one_call() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    let plain = foo_dist("1.2").tarball(&env.path("plain"));
    let dir = foo_dist("1.3").unpack(&env.path("build"));
    let local = env.path("local");
    install_like_cpanm(&local, &out, "TESTER");
    let doc = audit_json(&env, &[&out, &plain, &dir, &local]);
    assert_eq!(doc["summary"]["dists"], 4);
    assert_eq!(doc["summary"]["genuine"], 2);
    assert_eq!(doc["summary"]["missing"], 2);
}

// --- statuses ----------------------------------------------------------------

#[test]
fn an_unpatched_dist_in_range_is_missing_and_one_out_of_range_is_not() {
    let env = TestEnv::new();
    source_with(&env, "");
    let in_range = foo_dist("1.5").tarball(&env.path("in"));
    let out_of_range = foo_dist("2.0").tarball(&env.path("in"));
    let doc = audit_json(&env, &[&in_range, &out_of_range]);
    let d = dist_of(&doc, "Foo-Bar-1.5.tar.gz");
    assert_eq!(findings(d), ["missing"]);
    assert_eq!(d["missing"][0]["id"], "PK-0001");
    assert_eq!(d["missing"][0]["aliases"][0], "CVE-2025-0001");
    assert_eq!(d["missing"][0]["versions"], ">= 1.0, < 2");
    assert!(findings(dist_of(&doc, "Foo-Bar-2.0.tar.gz")).is_empty());
}

#[test]
fn a_republished_patch_makes_the_carried_one_superseded() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    // The team publishes a new version of PK-0001.
    std::fs::write(
        env.path("patches/Foo-Bar/PK-0001.patch"),
        udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED_V2),
    )
    .unwrap();
    let doc = audit_json(&env, &[&out]);
    let d = dist_of(&doc, "Foo-Bar-1.0.tar.gz");
    assert_eq!(statuses(d), [pair("PK-0001", "superseded")]);
    assert_eq!(findings(d), ["superseded"]);
    let p = &d["patches"][0];
    assert_ne!(p["patch_sha256"], p["published_sha256"]);
    // Superseded is not missing: it carries a version of the fix.
    assert!(d["missing"].as_array().unwrap().is_empty());
}

#[test]
fn a_withdrawn_patch_is_reported_with_its_reason() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    source_with(
        &env,
        "withdrawn = { date = \"2026-02-01\", reason = \"upstream 1.9 fixes it\" }\n",
    );
    let doc = audit_json(&env, &[&out]);
    let d = dist_of(&doc, "Foo-Bar-1.0.tar.gz");
    assert_eq!(statuses(d), [pair("PK-0001", "withdrawn")]);
    assert_eq!(findings(d), ["withdrawn"]);
    assert!(d["patches"][0]["withdrawn_reason"]
        .as_str()
        .unwrap()
        .contains("upstream 1.9 fixes it"));
    let text = env.run_ok(&["audit", "--source", "patches", out.to_str().unwrap()]);
    assert!(
        text.stdout.contains("upstream 1.9 fixes it"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_patch_the_repository_does_not_know_is_unknown() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    std::fs::remove_dir_all(env.path("patches/Foo-Bar")).unwrap();
    let doc = audit_json(&env, &[&out]);
    let d = dist_of(&doc, "Foo-Bar-1.0.tar.gz");
    assert_eq!(statuses(d), [pair("PK-0001", "unknown")]);
    assert_eq!(findings(d), ["unknown"]);
    assert!(d["patches"][0]["published_sha256"].is_null());
}

// --- --fail-on ---------------------------------------------------------------

/// A PATH with exactly one kind of finding, and the source set up for it.
fn scenario(env: &TestEnv, finding: &str) -> PathBuf {
    source_with(env, "");
    match finding {
        "missing" => foo_dist("1.5").tarball(&env.path("plain")),
        "withdrawn" => {
            let out = patched_tarball(env, "1.0");
            source_with(
                env,
                "withdrawn = { date = \"2026-02-01\", reason = \"fixed upstream\" }\n",
            );
            out
        }
        "superseded" => {
            let out = patched_tarball(env, "1.0");
            std::fs::write(
                env.path("patches/Foo-Bar/PK-0001.patch"),
                udiff("lib/Foo.pm", FOO_PM, FOO_PM_FIXED_V2),
            )
            .unwrap();
            out
        }
        "unknown" => {
            let out = patched_tarball(env, "1.0");
            std::fs::remove_dir_all(env.path("patches/Foo-Bar")).unwrap();
            out
        }
        "tampered" => {
            let dir = foo_dist("1.0").unpack(&env.path("build"));
            env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);
            std::fs::write(dir.join("lib/Foo.pm"), "edited\n").unwrap();
            dir
        }
        "damaged" => {
            let dir = foo_dist("1.0").unpack(&env.path("build"));
            std::fs::create_dir_all(dir.join(".patchkit")).unwrap();
            std::fs::write(dir.join(".patchkit/applied.json"), "{ not json").unwrap();
            dir
        }
        other => panic!("no scenario {other}"),
    }
}

const FINDINGS: [&str; 6] = [
    "missing",
    "withdrawn",
    "superseded",
    "unknown",
    "tampered",
    "damaged",
];

#[test]
fn fail_on_each_finding_exits_1_only_when_that_finding_is_present() {
    for present in FINDINGS {
        let env = TestEnv::new();
        let path = scenario(&env, present);
        let path = path.to_str().unwrap();
        // Reported, but not failing, without --fail-on.
        let doc = env
            .run_ok(&["audit", "--json", "--source", "patches", path])
            .json();
        assert_eq!(
            doc["dists"][0]["findings"],
            serde_json::json!([present]),
            "{doc:#}"
        );
        for asked in FINDINGS {
            let want = if asked == present { 1 } else { 0 };
            let out = env.run_code(
                &["audit", "--source", "patches", "--fail-on", asked, path],
                want,
            );
            if want == 1 {
                assert!(
                    out.stdout
                        .contains(&format!("failing because of --fail-on: {present}")),
                    "{}",
                    out.stdout
                );
            }
        }
        // A list works, and so does repeating the flag.
        env.run_code(
            &[
                "audit",
                "--source",
                "patches",
                "--fail-on",
                "missing,withdrawn,unknown,tampered",
                "--fail-on",
                "superseded,damaged",
                path,
            ],
            1,
        );
    }
}

#[test]
fn fail_on_refuses_an_unknown_finding_as_bad_usage() {
    let env = TestEnv::new();
    let path = scenario(&env, "missing");
    let out = env.run_code(
        &[
            "audit",
            "--source",
            "patches",
            "--fail-on",
            "everything",
            path.to_str().unwrap(),
        ],
        2,
    );
    assert!(out.stderr.contains("everything"), "{}", out.stderr);
}

#[test]
fn audit_without_a_repository_is_bad_usage() {
    let env = TestEnv::new();
    let path = scenario(&env, "missing");
    env.run_code(&["audit", path.to_str().unwrap()], 2);
}

// --- bad input, per dist -----------------------------------------------------

/// A library with one good patched dist, and the bad one made by `spoil`.
fn library_with_bad_neighbour(
    env: &TestEnv,
    spoil: impl Fn(&Path),
) -> (PathBuf, serde_json::Value) {
    source_with(env, "");
    let out = patched_tarball(env, "1.0");
    let local = env.path("local");
    install_like_cpanm(&local, &out, "TESTER");
    let bad = local.join(format!("lib/perl5/{ARCH}/.meta/Bad-Dist-0.01"));
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("install.json"),
        r#"{"dist":"Bad-Dist-0.01","pathname":"B/BA/BADGUY/Bad-Dist-0.01.tar.gz"}"#,
    )
    .unwrap();
    spoil(&bad);
    let doc = env
        .run_ok(&[
            "audit",
            "--json",
            "--source",
            "patches",
            local.to_str().unwrap(),
        ])
        .json();
    // The good neighbour is still fully audited.
    let good = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert_eq!(statuses(good), [pair("PK-0001", "genuine")]);
    assert!(findings(good).is_empty(), "{good:#}");
    (local, doc)
}

fn problems(d: &serde_json::Value) -> String {
    d["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn mymeta_that_is_not_json_is_reported_for_that_dist() {
    let env = TestEnv::new();
    let (_, doc) = library_with_bad_neighbour(&env, |bad| {
        std::fs::write(bad.join("MYMETA.json"), "---\nname: Bad-Dist\n").unwrap();
    });
    let d = dist_of(&doc, ".meta/Bad-Dist-0.01");
    assert_eq!(findings(d), ["damaged"]);
    assert!(problems(d).contains("MYMETA.json is not JSON"), "{d:#}");
    // Identified from install.json all the same.
    assert_eq!(d["purl"], "pkg:cpan/Bad-Dist@0.01?author=BADGUY");
}

#[test]
fn a_meta_folder_without_mymeta_is_reported_for_that_dist() {
    let env = TestEnv::new();
    let (local, doc) = library_with_bad_neighbour(&env, |_| {});
    let d = dist_of(&doc, ".meta/Bad-Dist-0.01");
    assert_eq!(findings(d), ["damaged"]);
    assert!(problems(d).contains("has no MYMETA.json"), "{d:#}");
    let text = env.run_ok(&["audit", "--source", "patches", local.to_str().unwrap()]);
    assert!(
        text.stdout
            .contains("problem: .meta/Bad-Dist-0.01 has no MYMETA.json"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_symlink_loop_in_a_library_tree_is_reported_for_that_dist() {
    let env = TestEnv::new();
    let (local, _) = library_with_bad_neighbour(&env, |_| {});
    let meta = local.join(format!("lib/perl5/{ARCH}/.meta"));
    std::fs::remove_dir_all(meta.join("Bad-Dist-0.01")).unwrap();
    // .meta/Loop-1.0 -> Loop-1.0: a folder that is a loop of itself.
    std::os::unix::fs::symlink("Loop-1.0", meta.join("Loop-1.0")).unwrap();
    let doc = env
        .run_ok(&[
            "audit",
            "--json",
            "--source",
            "patches",
            local.to_str().unwrap(),
        ])
        .json();
    let d = dist_of(&doc, ".meta/Loop-1.0");
    assert_eq!(findings(d), ["damaged"]);
    assert!(problems(d).contains("symlink loop"), "{d:#}");
    assert_eq!(d["dist"], "Loop");
    let good = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert_eq!(statuses(good), [pair("PK-0001", "genuine")]);
}

#[test]
fn a_symlink_loop_where_a_module_should_be_is_reported_for_that_dist() {
    let env = TestEnv::new();
    source_with(&env, "");
    let out = patched_tarball(&env, "1.0");
    let local = env.path("local");
    install_like_cpanm(&local, &out, "TESTER");
    install_like_cpanm(
        &local,
        &foo_dist("1.1").tarball(&env.path("plain")),
        "XAVIER",
    );
    let module = local.join("lib/perl5/Foo.pm");
    std::fs::remove_file(&module).unwrap();
    std::os::unix::fs::symlink("Foo.pm", &module).unwrap();
    let doc = audit_json(&env, &[&local]);
    let d = dist_of(&doc, ".meta/Foo-Bar-1.0");
    assert!(findings(d).contains(&"damaged".to_string()), "{d:#}");
    assert!(problems(d).contains("symlink loop"), "{d:#}");
    assert_eq!(findings(dist_of(&doc, ".meta/Foo-Bar-1.1")), ["missing"]);
}

#[test]
fn a_corrupt_applied_json_is_reported_and_the_other_paths_are_audited() {
    let env = TestEnv::new();
    let damaged = scenario(&env, "damaged");
    let good = patched_tarball(&env, "1.1");
    let doc = audit_json(&env, &[&damaged, &good]);
    let d = dist_of(&doc, "Foo-Bar-1.0");
    assert_eq!(findings(d), ["damaged"]);
    assert!(
        problems(d).contains(".patchkit/applied.json is not a valid record"),
        "{d:#}"
    );
    // Nothing is called missing when the record cannot be read.
    assert!(d["missing"].as_array().unwrap().is_empty());
    assert_eq!(
        statuses(dist_of(&doc, "Foo-Bar-1.1.tar.gz")),
        [pair("PK-0001", "genuine")]
    );
}

#[test]
fn a_hand_edited_applied_json_is_caught_by_its_own_cross_checks() {
    let env = TestEnv::new();
    source_with(&env, "");
    let dir = foo_dist("1.0").unpack(&env.path("build"));
    env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);
    let path = dir.join(".patchkit/applied.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // Someone "fixes" the sha256 of the recorded diff by hand.
    let published = sha256(&std::fs::read(env.path("patches/Foo-Bar/PK-0001.patch")).unwrap());
    std::fs::write(&path, text.replace(&published, &"0".repeat(64))).unwrap();
    let doc = audit_json(&env, &[&dir]);
    let d = dist_of(&doc, "Foo-Bar-1.0");
    let p = problems(d);
    assert!(p.contains("the carried diff hashes to"), "{p}");
    assert!(
        p.contains("x_patchkit and .patchkit/applied.json list different"),
        "{p}"
    );
    assert!(findings(d).contains(&"damaged".to_string()));
    // And an unknown field (deny_unknown_fields) is a damaged record.
    std::fs::write(&path, text.replace("\"format\"", "\"formats\"")).unwrap();
    let doc = audit_json(&env, &[&dir]);
    assert!(problems(dist_of(&doc, "Foo-Bar-1.0")).contains("not a valid record"));
}

#[test]
fn a_path_that_does_not_exist_exits_2_after_auditing_the_rest() {
    let env = TestEnv::new();
    source_with(&env, "");
    let good = patched_tarball(&env, "1.0");
    let out = env.run_code(
        &[
            "audit",
            "--json",
            "--source",
            "patches",
            "no-such.tar.gz",
            good.to_str().unwrap(),
        ],
        2,
    );
    let doc = out.json();
    assert_eq!(doc["errors"][0]["path"], "no-such.tar.gz");
    assert_eq!(statuses(&doc["dists"][0]), [pair("PK-0001", "genuine")]);
    assert!(out.stderr.contains("no-such.tar.gz"), "{}", out.stderr);
}

#[test]
fn a_dist_that_lost_its_record_dir_is_audited_from_meta() {
    let env = TestEnv::new();
    source_with(&env, "");
    let dir = foo_dist("1.0").unpack(&env.path("build"));
    env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(dir.join(".patchkit")).unwrap();
    let doc = audit_json(&env, &[&dir]);
    let d = dist_of(&doc, "Foo-Bar-1.0");
    assert_eq!(d["record"], "meta_json");
    assert_eq!(statuses(d), [pair("PK-0001", "genuine")]);
}
