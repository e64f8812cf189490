//! The repository at scale, end to end: `publish` delegates to hash bins
//! once a repository has 64 targets, `update` follows them and fetches only
//! what changed, old revisions are pruned, and `check` reads only the dist
//! it looks at (through the trust store's index, rebuilt when it does not
//! match). Attacks on bins through the real binary are in `attacks.rs`.

use crate::support::server::*;
use crate::support::*;

/// `PubRepo` plus `extra` records of other dists (two files each), so that
/// 1 + 2 × extra targets pass the 64 that turn hash bins on.
pub fn big_repo(env: &TestEnv, extra: usize) -> PubRepo<'_> {
    let repo = PubRepo::new(env, &[]);
    let src = SourceBuilder::new(env.path("patches"));
    for i in 0..extra {
        src.add(
            &format!("BIG-{i}"),
            &format!("Other-{}", i % 9),
            ">= 1",
            &udiff(&format!("lib/B{i}.pm"), "a\n", "b\n"),
        );
    }
    repo.publish(&[]);
    repo
}

/// The number of bins with targets the published repository packs (one
/// folder per bin under `targets/packs/`).
pub fn packed_bins(repo: &PubRepo<'_>) -> usize {
    std::fs::read_dir(repo.out().join("targets/packs"))
        .unwrap()
        .count()
}

/// The member names of a tar.
pub fn tar_members(bytes: &[u8]) -> Vec<String> {
    tar::Archive::new(bytes)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The files of a home's trusted cache folder.
fn cached(env: &TestEnv, folder: &str) -> Vec<String> {
    let dir = env.home().join("repos/main/trusted").join(folder);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn publish_delegates_to_hash_bins_and_update_follows_them() {
    let env = TestEnv::new();
    let repo = big_repo(&env, 40);
    assert!(repo.meta("2.bins-00.json").is_file() || repo.meta("1.bins-00.json").is_file());
    let targets = read_json(&repo.meta(&format!("{}.targets.json", repo.version("targets"))));
    assert_eq!(
        targets["signed"]["delegations"]["succinct_roles"]["bit_length"],
        8
    );
    assert_eq!(targets["signed"]["targets"], serde_json::json!({}));
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    let out = env.run_ok(&["update", "--json"]);
    assert_eq!(
        out.json()["repositories"][0]["targets"],
        82,
        "{}",
        out.stdout
    );
    assert_eq!(cached(&env, "delegated").len(), 256);
    // The trust store keeps one pack per bin with targets, never the 82
    // targets one by one.
    let packs = cached(&env, "targets");
    assert_eq!(packs.len(), packed_bins(&repo), "{packs:?}");
    assert!(
        packs.iter().all(|p| p.contains(".packs%2Fbins-")),
        "{packs:?}"
    );
    let tb = repo.dist();
    let out = env.run_ok(&["check", "--offline", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("PK-1"), "{}", out.stdout);
    let out = env.run_ok(&["check", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("PK-1"), "{}", out.stdout);
}

#[test]
fn update_after_one_new_record_fetches_only_its_bins_and_prunes_old_revisions() {
    let env = TestEnv::new();
    let repo = big_repo(&env, 40);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    let before = cached(&env, "delegated");
    // One new record for Foo, and a changed patch for another record.
    repo.add_record("PK-2");
    SourceBuilder::new(env.path("patches")).add(
        "BIG-3",
        "Other-3",
        ">= 1",
        &udiff("lib/B3.pm", "a\n", "c\n"),
    );
    repo.publish(&[]);
    let out = env.run_ok(&["update", "--json"]);
    assert_eq!(
        out.json()["repositories"][0]["targets"],
        84,
        "{}",
        out.stdout
    );
    let after = cached(&env, "delegated");
    let changed: Vec<&String> = after.iter().filter(|b| !before.contains(b)).collect();
    assert!(
        (1..=4).contains(&changed.len()),
        "only the bins of the three changed files are new: {changed:?}"
    );
    assert_eq!(after.len(), 256, "old bin versions are pruned");
    let targets = cached(&env, "targets");
    assert_eq!(
        targets.len(),
        packed_bins(&repo),
        "the old packs of the changed bins are pruned: {targets:?}"
    );
    let tb = repo.dist();
    // PK-2 names a file Foo's tarball lacks: exit 1, but it is matched.
    let out = env.run_code(&["check", "--offline", "--json", tb.to_str().unwrap()], 1);
    assert!(out.stdout.contains("PK-2"), "{}", out.stdout);
}

#[test]
fn offline_check_reads_only_the_dist_it_looks_at() {
    let env = TestEnv::new();
    let repo = big_repo(&env, 40);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    // Damage every cached pack that holds none of Foo's files: a check of
    // Foo never reads them, so it still succeeds...
    let dir = env.home().join("repos/main/trusted/targets");
    for name in cached(&env, "targets") {
        let holds_foo = tar_members(&std::fs::read(dir.join(&name)).unwrap())
            .iter()
            .any(|m| m.starts_with("Foo/"));
        if !holds_foo {
            std::fs::write(dir.join(&name), b"damaged").unwrap();
        }
    }
    let tb = repo.dist();
    let out = env.run_ok(&["check", "--offline", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("PK-1"), "{}", out.stdout);
    // ...while a check of a dist whose files are damaged is refused (exit
    // 3), naming the file.
    // Other-1 holds BIG-1, BIG-10, BIG-19, BIG-28 and BIG-37.
    let mut other = DistBuilder::new("Other-1", "1.0");
    for i in [1, 10, 19, 28, 37] {
        other = other.file(&format!("lib/B{i}.pm"), "a\n");
    }
    let other = other.tarball(&env.path("other"));
    let out = env.run_code(&["check", "--offline", other.to_str().unwrap()], 3);
    assert!(
        out.stderr.contains("the cached pack targets/packs/bins-")
            && out.stderr.contains("run a command without --offline"),
        "{}",
        out.stderr
    );
    // Online, the damaged files are fetched again and verified.
    env.run_ok(&["check", other.to_str().unwrap()]);
    env.run_ok(&["check", "--offline", other.to_str().unwrap()]);
}

#[test]
fn a_missing_or_stale_index_is_rebuilt() {
    let env = TestEnv::new();
    let repo = big_repo(&env, 40);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    let index = env.home().join("repos/main/trusted/index");
    std::fs::remove_file(index.join("manifest.json")).unwrap();
    let tb = repo.dist();
    // Offline: rebuilt in memory from the verified bins, nothing written.
    let out = env.run_ok(&["check", "--offline", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("PK-1"), "{}", out.stdout);
    assert!(!index.join("manifest.json").exists());
    // The next update rebuilds it on disk.
    env.run_ok(&["update"]);
    assert!(index.join("manifest.json").is_file());
    // A shard that does not match the manifest is refused, not believed.
    for name in cached(&env, "index") {
        if name != "manifest.json" {
            std::fs::write(index.join(&name), b"{}").unwrap();
        }
    }
    let out = env.run_code(&["check", "--offline", tb.to_str().unwrap()], 3);
    assert!(out.stderr.contains("index"), "{}", out.stderr);
}

#[test]
fn bundle_of_a_delegated_repository_verifies_offline() {
    let env = TestEnv::new();
    let repo = big_repo(&env, 40);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    env.run_ok(&["bundle", "create", "b.tar"]);
    // It carries each bin's pack, not the bin's targets one by one.
    let names = tar_members(&std::fs::read(env.path("b.tar")).unwrap());
    assert!(
        names.iter().any(|n| n.starts_with("targets/packs/bins-")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("targets/Other-")),
        "{names:?}"
    );
    let other = TestEnv::new();
    let tb = repo.dist();
    let out = other.run_ok(&[
        "check",
        "--bundle",
        env.path("b.tar").to_str().unwrap(),
        "--root",
        &repo.root1(),
        tb.to_str().unwrap(),
    ]);
    assert!(out.stdout.contains("PK-1"), "{}", out.stdout);
}

/// `update` in plain words: the repository's version (its snapshot version,
/// which moves with every record change although the top-level targets
/// version stays 1 with hash bins), until when it is valid, and how many
/// fixes for how many distributions (counted at update, from verified
/// data, incremental updates included); the TUF detail with `-v` only.
/// Patched dists record the same version.
#[test]
fn update_says_the_version_and_counts_in_plain_words_and_records_name_a_version_that_moves() {
    let env = TestEnv::new();
    let repo = big_repo(&env, 40);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    let first = env.run_ok(&["update"]).stdout;
    let v1 = repo.version("snapshot");
    assert!(
        first.starts_with(&format!("main: verified version {v1} (valid until ")),
        "{first}"
    );
    assert!(
        first.contains("): 41 fixes for 10 distributions"),
        "{first}"
    );
    assert!(!first.contains("TUF"), "{first}");
    let again = env.run_ok(&["update"]).stdout;
    assert!(
        again.starts_with(&format!("main: up to date (version {v1}, valid until ")),
        "{again}"
    );
    assert!(again.contains("41 fixes for 10 distributions"), "{again}");

    SourceBuilder::new(env.path("patches")).add(
        "BIG-NEW",
        "Other-1",
        ">= 1",
        &udiff("lib/New.pm", "a\n", "b\n"),
    );
    repo.publish(&[]);
    let v2 = repo.version("snapshot");
    assert!(v2 > v1);
    let out = env.run_ok(&["update", "-v"]).stdout;
    assert!(
        out.starts_with(&format!("main: verified version {v2} (valid until ")),
        "{out}"
    );
    assert!(out.contains("42 fixes for 10 distributions"), "{out}");
    assert!(
        out.contains(&format!("TUF: root 1→1, timestamp {}", v1)),
        "{out}"
    );
    assert!(out.contains("; 84 targets verified"), "{out}");
    let doc = env.run_ok(&["update", "--json"]).json();
    let r = &doc["repositories"][0];
    assert_eq!(r["version"], v2);
    assert_eq!(r["records"], 42);
    assert_eq!(r["dists"], 10);
    assert_eq!(r["after"]["snapshot_version"], v2);

    let tb = repo.dist();
    env.run_ok(&["apply", "--offline", "-o", "out", tb.to_str().unwrap()]);
    let files = tarball_files(&env.path("out/Foo-1.0.tar.gz"));
    let applied: serde_json::Value =
        serde_json::from_slice(&files["Foo-1.0/.patchkit/applied.json"].0).unwrap();
    assert_eq!(
        applied["patches"][0]["repository"]["version"], v2,
        "{applied}"
    );
}

/// Progress bars: drawn on a terminal (here a pseudo-terminal made by
/// util-linux `script`), never when stderr is not one, nor with `-q` or
/// `--json`.
#[test]
fn progress_bars_only_on_a_terminal_and_never_with_quiet_or_json() {
    let env = TestEnv::new();
    let repo = big_repo(&env, 40);
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    let in_terminal = |args: &str| -> String {
        // The home is fresh for each run, so that every run downloads.
        let _ = std::fs::remove_dir_all(env.home().join("repos/main/trusted/targets"));
        let _ = std::fs::remove_dir_all(env.home().join("repos/main/trusted/index"));
        run_in_terminal(&env, args)
    };
    let drawn = in_terminal("update");
    assert!(drawn.contains("verifying patches"), "{drawn:?}");
    assert!(drawn.contains("main: verified version"), "{drawn:?}");
    let quiet = in_terminal("-q update");
    assert!(!quiet.contains("verifying"), "{quiet:?}");
    let json = in_terminal("update --json");
    assert!(!json.contains("verifying"), "{json:?}");
    // Not a terminal: nothing but the report.
    let _ = std::fs::remove_dir_all(env.home().join("repos/main/trusted/targets"));
    let _ = std::fs::remove_dir_all(env.home().join("repos/main/trusted/index"));
    let out = env.run_ok(&["update"]);
    assert_eq!(out.stderr, "");
}
