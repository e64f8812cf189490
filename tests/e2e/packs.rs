//! Hash-bin packs through the real binary (docs/formats.md, "Packs"): a
//! cold `update` fetches one pack per bin and keeps packs, not one file per
//! target; an update after one new record fetches the new files and
//! rebuilds the pack locally, or fetches the pack when its own rebuild does
//! not match; and every way a pack can disagree with its signed bin is
//! refused (exit 3, naming the bin and the pack, home unchanged).

use std::path::PathBuf;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::bins::big_repo;
use crate::support::server::*;
use crate::support::*;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bin a target name hashes to (eight bits: `bins-xx`).
fn bin_of(name: &str) -> String {
    format!("bins-{:02x}", Sha256::digest(name.as_bytes())[0])
}

/// A binned repository of `extra` more records, served and added.
fn served(env: &TestEnv, extra: usize) -> (PubRepo<'_>, Server) {
    let repo = big_repo(env, extra);
    let server = Server::serve(&repo.out());
    env.run_ok(&["repo", "add", "main", &server.url, "--root", &repo.root1()]);
    (repo, server)
}

/// Runs `update`, expecting a refusal (exit 3) whose message holds every
/// one of `words`, with the home unchanged.
fn refused(env: &TestEnv, words: &[&str]) {
    let before = snapshot_dir(&env.home());
    let out = env.run_code(&["update", "main"], 3);
    for w in words {
        assert!(
            out.stderr.contains(w),
            "stderr lacks {w:?}:\n{}",
            out.stderr
        );
    }
    assert_eq!(snapshot_dir(&env.home()), before, "trusted state changed");
}

/// Bin `bin` as the newest snapshot lists it: its file and document.
fn bin_doc(repo: &PubRepo<'_>, bin: &str) -> (PathBuf, Value) {
    let snap = read_json(&repo.meta(&format!("{}.snapshot.json", repo.version("snapshot"))));
    let v = snap["signed"]["meta"][format!("{bin}.json")]["version"]
        .as_u64()
        .unwrap();
    let path = repo.meta(&format!("{v}.{bin}.json"));
    let doc = read_json(&path);
    (path, doc)
}

/// The pack a bin lists: its target name and the served file.
fn pack_of(repo: &PubRepo<'_>, bin: &Value) -> (String, PathBuf) {
    let targets = bin["signed"]["targets"].as_object().unwrap();
    let (name, info) = targets
        .iter()
        .find(|(n, _)| n.starts_with("packs/"))
        .expect("the bin lists a pack");
    let sha = info["hashes"]["sha256"].as_str().unwrap();
    let (dir, base) = name.rsplit_once('/').unwrap();
    let file = repo
        .out()
        .join("targets")
        .join(dir)
        .join(format!("{sha}.{base}"));
    (name.clone(), file)
}

/// The members of a tar, in order.
fn members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    tar::Archive::new(bytes)
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

/// A plain tar of `members`, with mtime `mtime` (patchkit's own packs
/// have 0).
fn tar_of(members: &[(String, Vec<u8>)], mtime: u64) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// Serves `pack` as the pack of `bin` under the name `name`: the file is
/// written under its consistent-snapshot name, the bin's entry replaced
/// (length and sha256) and the bin re-signed with the targets key, so that
/// the bin itself verifies. The snapshot lists bins by version only.
fn serve_pack(repo: &PubRepo<'_>, bin: &str, name: &str, pack: &[u8]) {
    let (path, mut doc) = bin_doc(repo, bin);
    let (old, _) = pack_of(repo, &doc);
    let targets = doc["signed"]["targets"].as_object_mut().unwrap();
    targets.remove(&old);
    let sha = sha256(pack);
    targets.insert(
        name.to_string(),
        json!({"length": pack.len(), "hashes": {"sha256": sha}}),
    );
    let (dir, base) = name.rsplit_once('/').unwrap();
    let file = repo
        .out()
        .join("targets")
        .join(dir)
        .join(format!("{sha}.{base}"));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, pack).unwrap();
    std::fs::write(&path, signed_bytes(&mut doc, &[&repo.key("targets")])).unwrap();
}

/// Every bin (by name) whose pack holds at least `n` members.
fn bins_with(repo: &PubRepo<'_>, n: usize) -> Vec<String> {
    (0..256)
        .map(|i| format!("bins-{i:02x}"))
        .filter(|bin| {
            let (_, doc) = bin_doc(repo, bin);
            doc["signed"]["targets"].as_object().unwrap().len() > n
        })
        .collect()
}

/// The served members of `bin`'s pack.
fn served_members(repo: &PubRepo<'_>, bin: &str) -> Vec<(String, Vec<u8>)> {
    let (_, doc) = bin_doc(repo, bin);
    let (_, file) = pack_of(repo, &doc);
    members(&std::fs::read(file).unwrap())
}

#[test]
fn update_refuses_a_pack_whose_bytes_differ_from_its_bin() {
    let env = TestEnv::new();
    let (repo, _server) = served(&env, 40);
    let bin = &bins_with(&repo, 1)[0];
    let (_, doc) = bin_doc(&repo, bin);
    let (name, file) = pack_of(&repo, &doc);
    // Same length, one byte changed: only the hash can tell.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[600] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    refused(&env, &[&format!("targets/{name}: sha256 does not match")]);
}

#[test]
fn update_refuses_a_pack_member_that_differs_from_its_signed_hash() {
    let env = TestEnv::new();
    let (repo, _server) = served(&env, 40);
    let bin = bins_with(&repo, 1)[0].clone();
    let mut m = served_members(&repo, &bin);
    m[0].1[0] ^= 1;
    let (_, doc) = bin_doc(&repo, &bin);
    let (name, _) = pack_of(&repo, &doc);
    // The bin signs the new pack's hash; its entry for the member still
    // says what the member must be.
    serve_pack(&repo, &bin, &name, &tar_of(&m, 0));
    refused(
        &env,
        &[&format!(
            "{bin}: pack targets/{name}: member {:?}: sha256 does not match {bin}",
            m[0].0
        )],
    );
}

#[test]
fn update_refuses_a_pack_with_an_extra_member() {
    let env = TestEnv::new();
    let (repo, _server) = served(&env, 40);
    let bin = bins_with(&repo, 1)[0].clone();
    let mut m = served_members(&repo, &bin);
    m.push(("Foo/PK-666.toml".into(), b"id = \"PK-666\"\n".to_vec()));
    let (_, doc) = bin_doc(&repo, &bin);
    let (name, _) = pack_of(&repo, &doc);
    serve_pack(&repo, &bin, &name, &tar_of(&m, 0));
    refused(
        &env,
        &[&format!(
            "holds \"Foo/PK-666.toml\", which {bin} does not list"
        )],
    );
}

#[test]
fn update_refuses_a_pack_missing_a_member() {
    let env = TestEnv::new();
    let (repo, _server) = served(&env, 40);
    let bin = bins_with(&repo, 2)[0].clone();
    let mut m = served_members(&repo, &bin);
    let dropped = m.pop().unwrap().0;
    let (_, doc) = bin_doc(&repo, &bin);
    let (name, _) = pack_of(&repo, &doc);
    serve_pack(&repo, &bin, &name, &tar_of(&m, 0));
    refused(&env, &[&format!("lacks {dropped:?}, which {bin} lists")]);
}

#[test]
fn update_refuses_a_pack_member_named_like_a_target_of_another_bin() {
    let env = TestEnv::new();
    let (repo, _server) = served(&env, 40);
    let bins = bins_with(&repo, 1);
    let (bin, other) = (bins[0].clone(), bins[1].clone());
    // A genuine target of the other bin, with its genuine bytes.
    let stranger = served_members(&repo, &other).remove(0);
    let mut m = served_members(&repo, &bin);
    m.push(stranger.clone());
    let (_, doc) = bin_doc(&repo, &bin);
    let (name, _) = pack_of(&repo, &doc);
    serve_pack(&repo, &bin, &name, &tar_of(&m, 0));
    refused(
        &env,
        &[&format!(
            "holds {:?}, which {bin} does not list",
            stranger.0
        )],
    );
}

#[test]
fn update_refuses_a_pack_name_that_does_not_hash_into_its_bin() {
    let env = TestEnv::new();
    let (repo, _server) = served(&env, 40);
    let bin = bins_with(&repo, 1)[0].clone();
    let m = served_members(&repo, &bin);
    // A name under the bin's folder whose hash falls in another bin: the
    // bin may not list it (TAP 15).
    let elsewhere = (0..)
        .map(|n| format!("packs/{bin}/{n}.tar"))
        .find(|n| bin_of(n) != bin)
        .unwrap();
    serve_pack(&repo, &bin, &elsewhere, &tar_of(&m, 0));
    refused(
        &env,
        &[&format!(
            "{bin}: lists target {elsewhere}, which belongs to {}",
            bin_of(&elsewhere)
        )],
    );
}

#[test]
fn update_refuses_a_bin_listing_a_pack_other_than_its_own() {
    let env = TestEnv::new();
    let (repo, _server) = served(&env, 40);
    let bin = bins_with(&repo, 1)[0].clone();
    let m = served_members(&repo, &bin);
    let (_, doc) = bin_doc(&repo, &bin);
    let (name, _) = pack_of(&repo, &doc);
    // It hashes into the bin, but is not the first such name: not the
    // bin's pack, and no record may sit under packs/.
    let own: u64 = name
        .rsplit_once('/')
        .unwrap()
        .1
        .strip_suffix(".tar")
        .unwrap()
        .parse()
        .unwrap();
    let later = (own + 1..)
        .map(|n| format!("packs/{bin}/{n}.tar"))
        .find(|n| bin_of(n) == bin)
        .unwrap();
    serve_pack(&repo, &bin, &later, &tar_of(&m, 0));
    refused(
        &env,
        &[&format!(
            "{bin}: pack targets/{later}: is not a pack {bin} may list (its pack is {name})"
        )],
    );
}

/// Whether a request was for a pack.
fn is_pack(path: &str) -> bool {
    path.starts_with("targets/packs/")
}

/// 600 more records: about five targets per bin, so that one new record's
/// files land in bins whose other targets the client already holds.
const MANY: usize = 600;

#[test]
fn cold_update_fetches_packs_then_one_new_record_rebuilds_its_packs_locally() {
    let env = TestEnv::new();
    let (repo, server) = served(&env, MANY);
    env.run_ok(&["update"]);
    let cold: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|p| p.starts_with("targets/"))
        .collect();
    assert!(
        cold.iter().all(|p| is_pack(p)),
        "a cold update fetches no target on its own: {cold:?}"
    );
    assert_eq!(cold.len(), crate::bins::packed_bins(&repo));
    repo.add_record("PK-2");
    repo.publish(&[]);
    env.run_ok(&["update"]);
    let inc = server.requests();
    let targets: Vec<&String> = inc.iter().filter(|p| p.starts_with("targets/")).collect();
    assert!(
        !targets.is_empty() && targets.iter().all(|p| !is_pack(p)),
        "only the new files are fetched, the packs rebuilt: {inc:?}"
    );
    // The rebuilt packs are the published ones, byte for byte (the cache
    // is content-addressed by the signed sha256, and each verifies).
    for bin in [bin_of("Foo/PK-2.toml"), bin_of("Foo/PK-2.patch")] {
        let (_, doc) = bin_doc(&repo, &bin);
        let (_, file) = pack_of(&repo, &doc);
        let sha = file.file_name().unwrap().to_string_lossy();
        let sha = sha.split('.').next().unwrap();
        let cached = std::fs::read_dir(env.home().join("repos/main/trusted/targets"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(sha))
            .expect("the rebuilt pack is cached");
        assert_eq!(
            std::fs::read(env.home().join("repos/main/trusted/targets").join(cached)).unwrap(),
            std::fs::read(&file).unwrap()
        );
    }
    // PK-2 names a file Foo's tarball lacks: exit 1, but it is matched.
    let out = env.run_code(
        &[
            "check",
            "--offline",
            "--json",
            repo.dist().to_str().unwrap(),
        ],
        1,
    );
    assert!(out.stdout.contains("PK-2"), "{}", out.stdout);
}

#[test]
fn update_fetches_a_pack_it_cannot_rebuild_from_another_publisher() {
    let env = TestEnv::new();
    let (repo, server) = served(&env, MANY);
    env.run_ok(&["update"]);
    repo.add_record("PK-2");
    repo.publish(&[]);
    // Another publisher's construction of the same members (another
    // mtime): the client's rebuild cannot match its hash.
    let changed = [bin_of("Foo/PK-2.toml"), bin_of("Foo/PK-2.patch")];
    for bin in &changed {
        let m = served_members(&repo, bin);
        let (_, doc) = bin_doc(&repo, bin);
        let (name, _) = pack_of(&repo, &doc);
        serve_pack(&repo, bin, &name, &tar_of(&m, 1_700_000_000));
    }
    server.requests();
    env.run_ok(&["update"]);
    let packs: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|p| is_pack(p))
        .collect();
    for bin in &changed {
        assert!(
            packs
                .iter()
                .any(|p| p.starts_with(&format!("targets/packs/{bin}/"))),
            "the pack of {bin} is fetched: {packs:?}"
        );
    }
    let out = env.run_code(
        &[
            "check",
            "--offline",
            "--json",
            repo.dist().to_str().unwrap(),
        ],
        1,
    );
    assert!(out.stdout.contains("PK-2"), "{}", out.stdout);
}

/// A repository of hash bins without packs (published before them, or by
/// another tool) is cached file by file; once its publisher adds packs,
/// every bin changes, and the client builds each pack from the files it
/// holds — no pack and no file fetched — and drops the per-file copies.
#[test]
fn a_repository_that_gains_packs_is_followed_without_fetching_them() {
    let env = TestEnv::new();
    let (repo, server) = served(&env, 40);
    // The same bins without their packs, re-signed by the targets key.
    for i in 0..256 {
        let bin = format!("bins-{i:02x}");
        let (path, mut doc) = bin_doc(&repo, &bin);
        let targets = doc["signed"]["targets"].as_object_mut().unwrap();
        targets.retain(|name, _| !name.starts_with("packs/"));
        std::fs::write(&path, signed_bytes(&mut doc, &[&repo.key("targets")])).unwrap();
    }
    env.run_ok(&["update"]);
    let cached = |env: &TestEnv| -> Vec<String> {
        std::fs::read_dir(env.home().join("repos/main/trusted/targets"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let files = cached(&env);
    assert_eq!(files.len(), 82, "one file per target: {files:?}");
    assert!(files.iter().all(|f| !f.contains("packs%2F")), "{files:?}");
    let tb = repo.dist();
    env.run_ok(&["check", "--offline", tb.to_str().unwrap()]);
    // The publisher (this patchkit) publishes again: every bin gets its
    // pack, so a new version.
    repo.publish(&[]);
    server.requests();
    env.run_ok(&["update"]);
    let fetched: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|p| p.starts_with("targets/"))
        .collect();
    assert!(
        fetched.is_empty(),
        "nothing but metadata is fetched: {fetched:?}"
    );
    let packs = cached(&env);
    assert_eq!(packs.len(), crate::bins::packed_bins(&repo), "{packs:?}");
    assert!(
        packs.iter().all(|f| f.contains(".packs%2Fbins-")),
        "{packs:?}"
    );
    let out = env.run_ok(&["check", "--offline", tb.to_str().unwrap()]);
    assert!(out.stdout.contains("PK-1"), "{}", out.stdout);
}
