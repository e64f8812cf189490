//! The trust store's index: which files of the verified repository belong
//! to which distribution, so that a call that looks at one tarball reads
//! that dist's records and nothing else (docs/formats.md, "the trust
//! store's index").
//!
//! ```text
//! trusted/index/manifest.json    {"format":2,"stamp":…,"targets":N,"records":R,"dists":D,"shards":{"0a":SHA256,…}}
//! trusted/index/<xx>.<sha256>.json   {"<Dist>":{"records":{"<ID>":"<range>"},"targets":["<Dist>/<file>",…]},…}
//! ```
//!
//! A dist sits in shard `xx`, the first byte of the sha256 of its name (256
//! shards). Shard files are content-addressed: the manifest names each by
//! its sha256, and a shard is used only when its bytes hash to that name.
//! The manifest's `stamp` is a digest of the verified snapshot's list of
//! targets files and versions (`targets.json` and every hash bin): the
//! index is used only when it was built from exactly the targets files the
//! verified snapshot lists. Otherwise it is rebuilt (in memory for an
//! offline load, on disk at the next `update`).
//!
//! The index is derived data, never a source of trust: a lookup still
//! verifies the bins that list the dist's files and every file against its
//! signed length and hashes. What the index decides is which files make up
//! a dist; it is written only from verified metadata, by `update`, and
//! checked as above (docs/security.md, "the index").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::tree::sha256_hex;
use crate::tuf::metadata::MetaFile;

/// Format version of the manifest (2: with the record and dist counts; a
/// manifest of another format is rebuilt).
pub(crate) const FORMAT: u32 = 2;
/// Number of shards.
pub(crate) const SHARDS: usize = 256;

/// What the index knows about one dist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DistIndex {
    /// Record id → its `versions` range as written (`None` when the record
    /// does not parse: the catalog reports why when the dist is opened).
    pub(crate) records: BTreeMap<String, Option<String>>,
    /// Every target in the dist's folder.
    pub(crate) targets: BTreeSet<String>,
}

/// One shard: dist name → what it has.
pub(crate) type Shard = BTreeMap<String, DistIndex>;

/// `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// [`FORMAT`].
    pub(crate) format: u32,
    /// [`stamp`] of the snapshot the index was built from.
    pub(crate) stamp: String,
    /// Number of targets the repository lists.
    pub(crate) targets: u64,
    /// Number of records (`Dist/ID.toml`) among them, counted from the
    /// verified target names when the index was built.
    pub(crate) records: u64,
    /// Number of dists with at least one target.
    pub(crate) dists: u64,
    /// Shard key → sha256 of the shard file (empty shards are absent).
    pub(crate) shards: BTreeMap<String, String>,
}

/// The digest of a snapshot's list of targets files and their versions:
/// what the index must have been built from.
pub(crate) fn stamp(meta: &BTreeMap<String, MetaFile>) -> String {
    let mut text = String::new();
    for (name, m) in meta {
        text.push_str(name);
        text.push('\0');
        text.push_str(&m.version.to_string());
        text.push('\n');
    }
    sha256_hex(text.as_bytes())
}

/// The shard key of `dist`: the first byte of the sha256 of its name, in
/// hex.
pub(crate) fn shard_key(dist: &str) -> String {
    sha256_hex(dist.as_bytes())[..2].to_string()
}

/// The shard number of `dist` (0 to 255).
pub(crate) fn shard_number(dist: &str) -> usize {
    usize::from_str_radix(&shard_key(dist), 16).unwrap_or(0)
}

/// The key of shard number `n`.
pub(crate) fn key_of(n: usize) -> String {
    format!("{n:02x}")
}

/// The dist folder a target sits in (`Dist/...`), if any.
pub(crate) fn dist_of(target: &str) -> Option<&str> {
    target.split_once('/').map(|(d, _)| d)
}

/// The record id of a target that is a record (`Dist/ID.toml`).
pub(crate) fn record_id(target: &str) -> Option<&str> {
    let (_, file) = target.split_once('/')?;
    if file.contains('/') {
        return None;
    }
    file.strip_suffix(".toml")
}

/// The `versions` range of a record's bytes, as written, when it parses.
pub(crate) fn range_of(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    crate::patch::record::Record::from_toml(text)
        .ok()
        .map(|(r, _)| r.versions)
}

/// The index folder of a trusted directory.
pub(crate) fn dir(trusted: &Path) -> PathBuf {
    trusted.join("index")
}

/// The file of shard `key` with content digest `sha256`.
pub(crate) fn shard_file(trusted: &Path, key: &str, sha256: &str) -> PathBuf {
    dir(trusted).join(format!("{key}.{sha256}.json"))
}

/// Reads the manifest; `None` when absent or unreadable (then the index is
/// rebuilt).
pub(crate) fn read_manifest(trusted: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(dir(trusted).join("manifest.json")).ok()?;
    serde_json::from_slice::<Manifest>(&bytes)
        .ok()
        .filter(|m| m.format == FORMAT)
}

/// Reads shard `key` as the manifest names it, checking its digest. An
/// absent shard is empty.
///
/// # Errors
/// A sentence naming the file when it is missing, damaged or unparsable.
pub(crate) fn read_shard(trusted: &Path, manifest: &Manifest, key: &str) -> Result<Shard, String> {
    let Some(sha) = manifest.shards.get(key) else {
        return Ok(Shard::new());
    };
    let path = shard_file(trusted, key, sha);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if &sha256_hex(&bytes) != sha {
        return Err(format!(
            "{}: does not match its digest in the index manifest",
            path.display()
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The bytes of a shard file (compact JSON).
pub(crate) fn shard_bytes(shard: &Shard) -> Vec<u8> {
    serde_json::to_vec(shard).unwrap_or_default()
}

/// `(dists, records)` in `shard`.
pub(crate) fn counts(shard: &Shard) -> (u64, u64) {
    let records = shard.values().map(|d| d.records.len() as u64).sum();
    (shard.len() as u64, records)
}

/// Builds every shard from scratch out of all target names and the ranges
/// of the records among them.
pub(crate) fn build<'a>(
    targets: impl Iterator<Item = &'a String>,
    ranges: &BTreeMap<String, Option<String>>,
) -> BTreeMap<String, Shard> {
    let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
    for name in targets {
        add(&mut shards, name, ranges.get(name).cloned().flatten());
    }
    shards
}

/// Adds target `name` (and its record, with `range`, when it is one).
pub(crate) fn add(shards: &mut BTreeMap<String, Shard>, name: &str, range: Option<String>) {
    let Some(dist) = dist_of(name) else {
        return;
    };
    // A hash bin's pack belongs to no dist (`tuf::pack`).
    if crate::tuf::pack::is_pack_name(name) {
        return;
    }
    let entry = shards
        .entry(shard_key(dist))
        .or_default()
        .entry(dist.to_string())
        .or_default();
    entry.targets.insert(name.to_string());
    if let Some(id) = record_id(name) {
        entry.records.insert(id.to_string(), range);
    }
}

/// Removes target `name` (and its record).
pub(crate) fn remove(shards: &mut BTreeMap<String, Shard>, name: &str) {
    let Some(dist) = dist_of(name) else {
        return;
    };
    let key = shard_key(dist);
    let Some(shard) = shards.get_mut(&key) else {
        return;
    };
    if let Some(entry) = shard.get_mut(dist) {
        entry.targets.remove(name);
        if let Some(id) = record_id(name) {
            entry.records.remove(id);
        }
        if entry.targets.is_empty() {
            shard.remove(dist);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_go_to_their_dist_and_records_keep_their_range() {
        let names = [
            "Foo/A.toml".to_string(),
            "Foo/A.patch".to_string(),
            "Bar/B.toml".to_string(),
            "top.txt".to_string(),
        ];
        let ranges = BTreeMap::from([("Foo/A.toml".to_string(), Some(">= 1".to_string()))]);
        let mut shards = build(names.iter(), &ranges);
        let foo = &shards[&shard_key("Foo")]["Foo"];
        assert_eq!(foo.targets.len(), 2);
        assert_eq!(foo.records["A"], Some(">= 1".into()));
        assert_eq!(shards[&shard_key("Bar")]["Bar"].records["B"], None);
        remove(&mut shards, "Foo/A.toml");
        remove(&mut shards, "Foo/A.patch");
        assert!(!shards[&shard_key("Foo")].contains_key("Foo"));
        assert_eq!(record_id("Foo/x/A.toml"), None);
    }
}
