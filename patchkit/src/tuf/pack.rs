//! Hash-bin packs: one more target per hash bin, a plain tar of every other
//! target that bin lists, so that a client fetches a bin's targets in one
//! request and keeps one file per bin instead of one per target
//! (docs/formats.md, "Packs").
//!
//! - Name: `packs/<bin>/<n>.tar` with the smallest `n ≥ 0` whose path
//!   hashes into `<bin>` ([`pack_name`]): a bin may only list targets whose
//!   path hash falls in it (TAP 15), and the pack is listed, signed, in its
//!   own bin like any target.
//! - Construction ([`build`], the one way, used by `publish` and by the
//!   client that rebuilds a pack locally): an uncompressed GNU tar, members
//!   sorted by target name, each named by its target name, regular files of
//!   mode 0644, mtime 0, uid and gid 0, no user or group names, then the
//!   two zero blocks that end an archive. The same members give the same
//!   bytes.
//! - Reading ([`unpack`]): bounded by the bytes given (already checked
//!   against the pack's signed length and hashes), regular files only, and
//!   the members must be exactly the bin's other targets, each matching the
//!   length and hashes the bin signs for it.
//!
//! Target names under `packs/` are reserved: `publish` refuses a record or
//! patch there.

use std::collections::BTreeMap;
use std::io::Read;

use super::metadata::{SuccinctRoles, TargetFile};
use super::updater::{check_target, VerifyError};

/// The folder of pack target names; nothing else may be published there.
pub const PACKS_DIR: &str = "packs";

/// Whether target `name` is under [`PACKS_DIR`] (a pack, or a name no
/// record may take).
pub fn is_pack_name(name: &str) -> bool {
    name.strip_prefix(PACKS_DIR)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The pack name of `bin`: `packs/<bin>/<n>.tar` with the smallest `n`
/// whose path hashes into `bin` (on average `n` is about the number of
/// bins; the search always ends, every bin being hit by some `n`).
pub fn pack_name(roles: &SuccinctRoles, bin: &str) -> String {
    (0u64..)
        .map(|n| format!("{PACKS_DIR}/{bin}/{n}.tar"))
        .find(|name| roles.bin_for_target(name) == bin)
        .unwrap_or_default()
}

/// The pack of `members` (target name, bytes), in any order: see the
/// module docs for the construction.
pub fn build<'a>(members: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut sorted: Vec<(&str, &[u8])> = members.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in sorted {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(bytes.len() as u64);
        // Writing to a Vec cannot fail; a name the header cannot hold gets
        // a GNU long-name entry (append_data writes it).
        let _ = builder.append_data(&mut header, name, bytes);
    }
    builder.into_inner().unwrap_or_default()
}

/// Every member of `bytes` as (name, bytes), in archive order, without
/// checking them against anything: for a pack whose bytes were already
/// checked against its signed hashes, each member used being checked
/// against its own signed hashes by the caller.
///
/// # Errors
/// A reason (not naming the pack) when it is not a tar of regular files.
pub fn members(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    read(std::io::Cursor::new(bytes), bytes.len() as u64, None)
}

/// The bytes of member `name` of the pack `reader` reads (`len` bytes),
/// if it holds one, reading no other member's data (a seek past each):
/// for a lookup, which checks the member against its own signed hashes
/// (the pack's own hash is not needed for that).
///
/// # Errors
/// As [`members`], for the members before it.
pub fn member(
    reader: impl Read + std::io::Seek,
    len: u64,
    name: &str,
) -> Result<Option<Vec<u8>>, String> {
    Ok(read(reader, len, Some(name))?.pop().map(|(_, data)| data))
}

/// Every member (`want` `None`), or only member `want`, of the `len`
/// bytes `reader` reads.
fn read(
    reader: impl Read + std::io::Seek,
    len: u64,
    want: Option<&str>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries_with_seek()
        .map_err(|e| format!("is not a tar archive ({e})"))?;
    let mut out = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("is not a tar archive ({e})"))?;
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| "holds a member whose name is not UTF-8".to_string())?;
        let shown = crate::text::excerpt(&name, 120);
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(format!("member {shown} is not a regular file"));
        }
        if want.is_some_and(|w| w != name) {
            continue;
        }
        // The size is the header's claim; the read is bounded by the bytes
        // that are really there.
        let size = entry.header().size().unwrap_or(u64::MAX);
        if size > len {
            return Err(format!(
                "member {shown} claims more bytes than the pack has"
            ));
        }
        let mut data = Vec::new();
        entry
            .by_ref()
            .take(size)
            .read_to_end(&mut data)
            .map_err(|e| format!("member {shown} cannot be read ({e})"))?;
        out.push((name, data));
        if want.is_some() {
            break;
        }
    }
    Ok(out)
}

/// The members of pack `pack` of hash bin `bin`, checked: exactly the
/// targets `listed` (the bin's, the pack's own entry excepted), each
/// matching the length and hashes the bin signs for it. `bytes` must
/// already match the pack's signed length and hashes.
///
/// # Errors
/// [`VerifyError::Pack`] naming the bin, the pack and the reason.
pub fn unpack(
    bin: &str,
    pack: &str,
    bytes: &[u8],
    listed: &BTreeMap<String, TargetFile>,
) -> Result<BTreeMap<String, Vec<u8>>, VerifyError> {
    let refuse = |reason: String| VerifyError::Pack {
        bin: bin.chars().take(80).collect(),
        pack: pack.chars().take(120).collect(),
        reason,
    };
    let mut out = BTreeMap::new();
    for (name, data) in members(bytes).map_err(refuse)? {
        let shown = crate::text::excerpt(&name, 120);
        let info = match listed.get(&name) {
            Some(info) if name != pack => info,
            _ => return Err(refuse(format!("holds {shown}, which {bin} does not list"))),
        };
        check_target(&name, info, &data).map_err(|e| {
            refuse(match e {
                VerifyError::TargetLength {
                    found, expected, ..
                } => format!("member {shown} is {found} bytes, not the {expected} {bin} signs"),
                VerifyError::TargetHash { algorithm, .. } => {
                    format!("member {shown}: {algorithm} does not match {bin}")
                }
                e => format!("member {shown}: {e}"),
            })
        })?;
        if out.insert(name, data).is_some() {
            return Err(refuse(format!("holds {shown} twice")));
        }
    }
    if let Some(missing) = listed
        .keys()
        .find(|n| n.as_str() != pack && !out.contains_key(*n))
    {
        return Err(refuse(format!(
            "lacks {}, which {bin} lists",
            crate::text::excerpt(missing, 120)
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> SuccinctRoles {
        SuccinctRoles {
            keyids: Vec::new(),
            threshold: 1,
            bit_length: 8,
            name_prefix: "bins".into(),
            unrecognized: BTreeMap::new(),
        }
    }

    fn info(bytes: &[u8]) -> TargetFile {
        TargetFile {
            length: bytes.len() as u64,
            hashes: BTreeMap::from([("sha256".into(), crate::tree::sha256_hex(bytes))]),
            custom: None,
            unrecognized: BTreeMap::new(),
        }
    }

    #[test]
    fn every_bin_gets_a_pack_name_that_hashes_into_it() {
        let r = roles();
        for bin in r.bin_names() {
            let name = pack_name(&r, &bin);
            assert_eq!(r.bin_for_target(&name), bin);
            assert!(is_pack_name(&name), "{name}");
        }
        assert!(!is_pack_name("packsX/a"));
        assert!(!is_pack_name("Foo/packs/a"));
    }

    #[test]
    fn build_is_deterministic_and_unpack_checks_every_member() {
        let long = format!("Dist/{}.toml", "x".repeat(150));
        let files: Vec<(String, Vec<u8>)> = vec![
            ("B/2.patch".into(), b"two".to_vec()),
            ("A/1.toml".into(), b"one".to_vec()),
            (long.clone(), b"long".to_vec()),
        ];
        let pack = build(files.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
        let again = build(files.iter().rev().map(|(n, b)| (n.as_str(), b.as_slice())));
        assert_eq!(pack, again);
        let names: Vec<String> = members(&pack).unwrap().into_iter().map(|m| m.0).collect();
        assert_eq!(names, ["A/1.toml", "B/2.patch", long.as_str()]);
        let member = |name: &str| {
            super::member(std::io::Cursor::new(&pack), pack.len() as u64, name).unwrap()
        };
        assert_eq!(member("B/2.patch"), Some(b"two".to_vec()));
        assert_eq!(member(&long), Some(b"long".to_vec()));
        assert_eq!(member("C/3.toml"), None);
        let mut listed: BTreeMap<String, TargetFile> =
            files.iter().map(|(n, b)| (n.clone(), info(b))).collect();
        listed.insert("packs/bins-00/0.tar".into(), info(&pack));
        let got = unpack("bins-00", "packs/bins-00/0.tar", &pack, &listed).unwrap();
        assert_eq!(got.len(), 3);
        listed.insert("C/3.toml".into(), info(b"three"));
        let err = unpack("bins-00", "packs/bins-00/0.tar", &pack, &listed).unwrap_err();
        assert!(err.to_string().contains("lacks \"C/3.toml\""), "{err}");
        listed.remove("C/3.toml");
        listed.insert("A/1.toml".into(), info(b"ONE"));
        let err = unpack("bins-00", "packs/bins-00/0.tar", &pack, &listed).unwrap_err();
        assert!(err.to_string().contains("\"A/1.toml\": sha256"), "{err}");
        assert!(unpack("bins-00", "p", b"not a tar at all", &listed).is_err());
    }
}
