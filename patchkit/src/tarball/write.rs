//! Writing the patched archive: unchanged members byte for byte, changed
//! members with their own header fields, new members with metadata taken
//! from the archive, then compressed with no time, name or host in it.
//!
//! This is where docs/ARCHITECTURE.md's "Tar members that did not change keep their
//! bytes, mode, mtime, owners and order; changed members keep their header
//! fields; new members take their metadata from the input" and
//! "Deterministic output" are kept.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use super::read::{padded, pax_records, to_header, ExtKind, Kind, LongNames, Member, BLOCK};
use super::{ancestors, show, Archive, ChangeProblem, Compression, Error};
use crate::tree::{Change, FileEntry, InTreePath, Tree};

/// GNU tar's (and bsdtar's) default record size: archives it writes are
/// padded with zeros to a multiple of this.
const RECORD: usize = 10240;

/// gzip level. 9 is what CPAN dists are usually made with (MakeMaker's
/// `gzip --best`, Archive::Tar's default), so the patched tarball stays
/// the size of the original; on source text it costs well under a second
/// more than 6 even for the perl core tarball.
const GZIP_LEVEL: u32 = 9;

/// The gzip OS byte: 3 (Unix), what `gzip -n` on any Unix writes, fixed so
/// the output does not depend on the machine.
const GZIP_OS_UNIX: u8 = 3;

// Byte ranges of the ustar header fields (POSIX.1-1988 layout).
const NAME: std::ops::Range<usize> = 0..100;
const MODE: std::ops::Range<usize> = 100..108;
const SIZE: std::ops::Range<usize> = 124..136;
const CHKSUM: std::ops::Range<usize> = 148..156;
const TYPEFLAG: usize = 156;
const LINKNAME: std::ops::Range<usize> = 157..257;
const MAGIC: std::ops::Range<usize> = 257..265;
const DEV: std::ops::Range<usize> = 329..345;
const PREFIX: std::ops::Range<usize> = 345..500;

type Plan<'c> = BTreeMap<&'c InTreePath, &'c Change>;

impl Archive {
    /// The new archive, compressed like the input, with `changes` applied.
    ///
    /// Unchanged members keep their exact bytes and order. A
    /// [`Change::Modify`] keeps the member's header fields but sets its size
    /// and permission bits; a [`Change::Delete`] drops the member with its
    /// extension blocks; [`Change::Add`]s are appended in path order (with
    /// directory entries for missing parents when the archive lists
    /// directories), their metadata copied from the top directory's entry.
    pub fn write(&self, changes: &[Change]) -> Result<Vec<u8>, Error> {
        let tar = self.write_tar(changes)?;
        compress(&self.name, self.compression, &tar)
    }

    /// The uncompressed tar bytes of [`Archive::write`].
    pub(super) fn write_tar(&self, changes: &[Change]) -> Result<Vec<u8>, Error> {
        let plan = self.plan(changes)?;
        let added: usize = changes
            .iter()
            .map(|c| match c {
                Change::Add(_, f) | Change::Modify(_, f) => f.data.len() + 3 * BLOCK,
                Change::Delete(_) => 0,
            })
            .sum();
        let mut out = Vec::with_capacity(self.tar.len() + added);
        for member in &self.members {
            let raw = self.tar.get(member.start..member.end).unwrap_or_default();
            match &member.kind {
                Kind::File(p) | Kind::HardLink(p, _) => match plan.get(p) {
                    Some(Change::Delete(_)) => {}
                    Some(Change::Modify(_, f)) => self.rewrite_as_file(&mut out, member, f)?,
                    _ => match &member.kind {
                        // A hard link whose target changes or goes away must
                        // keep the content the tree says it has.
                        Kind::HardLink(_, target) if plan.contains_key(target) => {
                            match self.tree.files.get(p) {
                                Some(f) => self.rewrite_as_file(&mut out, member, f)?,
                                None => out.extend_from_slice(raw),
                            }
                        }
                        _ => out.extend_from_slice(raw),
                    },
                },
                _ => out.extend_from_slice(raw),
            }
        }
        self.append_adds(&mut out, &plan)?;
        // End of archive: keep the original's trailer, at least the two
        // zero blocks POSIX requires, padded to its record size if it was.
        let trailer = self.tar.len() - self.members_end;
        if self.tar.len() % RECORD == 0 && trailer >= 2 * BLOCK {
            let want = (out.len() + 2 * BLOCK).div_ceil(RECORD) * RECORD;
            out.resize(want, 0);
        } else {
            out.resize(out.len() + trailer.max(2 * BLOCK), 0);
        }
        Ok(out)
    }

    /// Check `changes` against the archive and index them by path.
    fn plan<'c>(&self, changes: &'c [Change]) -> Result<Plan<'c>, Error> {
        let refuse = |p: &InTreePath, problem| Error::Change {
            input: self.name.clone(),
            entry: show(format!("{}/{}", self.top_dir, p).as_bytes()),
            problem,
        };
        let mut plan = Plan::new();
        for change in changes {
            if plan.insert(change.path(), change).is_some() {
                return Err(refuse(change.path(), ChangeProblem::ChangedTwice));
            }
        }
        let tree = &self.tree;
        let added: BTreeSet<&str> = plan
            .values()
            .filter(|c| matches!(c, Change::Add(..)))
            .map(|c| c.path().as_str())
            .collect();
        // Every directory that exists, with or without its own entry, or
        // that an added file creates.
        let mut dirs = existing_dirs(tree);
        dirs.extend(
            added
                .iter()
                .flat_map(|a| a.match_indices('/').map(|(i, _)| &a[..i])),
        );
        for (path, change) in &plan {
            match change {
                Change::Modify(_, f) | Change::Add(_, f)
                    if f.data.len() as u64 > 0o77_777_777_777 =>
                {
                    return Err(refuse(path, ChangeProblem::TooLarge));
                }
                Change::Modify(..) | Change::Delete(_) if !tree.files.contains_key(*path) => {
                    return Err(refuse(path, ChangeProblem::NotAFile));
                }
                Change::Add(..) if !self.name_fits(path) => {
                    return Err(refuse(path, ChangeProblem::NameTooLong));
                }
                Change::Add(..) => {
                    if tree.files.contains_key(*path)
                        || tree.symlinks.contains_key(*path)
                        || dirs.contains(path.as_str())
                    {
                        return Err(refuse(path, ChangeProblem::AlreadyExists));
                    }
                    let is_non_dir = |a: &str| {
                        added.contains(a)
                            || InTreePath::parse(a).is_ok_and(|a| {
                                tree.files.contains_key(&a) || tree.symlinks.contains_key(&a)
                            })
                    };
                    if ancestors(path).any(is_non_dir) {
                        return Err(refuse(path, ChangeProblem::BelowNonDir));
                    }
                }
                _ => {}
            }
        }
        Ok(plan)
    }

    /// Whether a new member at `path` (and every directory it may need)
    /// can be named so that readers that ignore PAX (Archive::Tar) see the
    /// same name: in the header's name field, or split over the ustar
    /// prefix and name. GNU long names are read by those readers too. The
    /// reader refuses a PAX path that differs from the header's name, so
    /// the writer never makes one.
    fn name_fits(&self, path: &InTreePath) -> bool {
        if self.long_names == LongNames::Gnu {
            return true;
        }
        let is_ustar = &self.template()[MAGIC] == b"ustar\x0000";
        let fits = |name: &str| {
            name.len() <= NAME.len() || (is_ustar && ustar_split(name.as_bytes()).is_some())
        };
        let full = format!("{}/{}", self.top_dir, path);
        fits(&full) && ancestors(path).all(|a| fits(&format!("{}/{}/", self.top_dir, a)))
    }

    /// Write `member` as a regular file holding `file`: its extension blocks
    /// and header fields are kept, except the size (also in a PAX `size`
    /// record), the permission bits, the type (a hard link becomes a
    /// regular file) and the checksum.
    fn rewrite_as_file(
        &self,
        out: &mut Vec<u8>,
        member: &Member,
        file: &FileEntry,
    ) -> Result<(), Error> {
        let size = file.data.len();
        for ext in &member.exts {
            let body_start = ext.header + BLOCK;
            let ext_end = body_start + padded(ext.size).unwrap_or(ext.size);
            match ext.kind {
                ExtKind::LongName => out.extend_from_slice(&self.tar[ext.header..ext_end]),
                // A regular file has no link target.
                ExtKind::LongLink => {}
                ExtKind::Pax => {
                    let body = &self.tar[body_start..body_start + ext.size];
                    let mut records = Vec::with_capacity(body.len() + 8);
                    for (key, value) in pax_records(body).unwrap_or_default() {
                        match key {
                            b"linkpath" => {}
                            b"size" => push_record(&mut records, key, size.to_string().as_bytes()),
                            _ => push_record(&mut records, key, value),
                        }
                    }
                    if records.is_empty() {
                        continue;
                    }
                    let mut header = block_at(&self.tar, ext.header);
                    put_octal(&mut header[SIZE], records.len() as u64);
                    set_checksum(&mut header);
                    push_padded(out, &header, &records);
                }
            }
        }
        let mut header = block_at(&self.tar, member.header);
        if header[TYPEFLAG] == b'1' {
            header[TYPEFLAG] = b'0';
            header[LINKNAME].fill(0);
        }
        put_octal(&mut header[SIZE], size as u64);
        // Only the permission bits change; some archivers store the file
        // type bits (0o100000) in the mode field too, and those stay.
        let old_mode = to_header(&header).and_then(|h| h.mode().ok()).unwrap_or(0);
        let new_mode = (old_mode & !0o7777) | (file.mode & 0o7777);
        if new_mode != old_mode {
            put_octal(&mut header[MODE], u64::from(new_mode));
        }
        set_checksum(&mut header);
        push_padded(out, &header, &file.data);
        Ok(())
    }

    /// Append the added files in path order, preceded by entries for any
    /// parent directory that does not exist yet (only if the archive lists
    /// directories at all; otherwise unpacking creates them anyway).
    fn append_adds(&self, out: &mut Vec<u8>, plan: &Plan<'_>) -> Result<(), Error> {
        let tree = &self.tree;
        let mut known: BTreeSet<String> = existing_dirs(tree)
            .into_iter()
            .map(str::to_string)
            .collect();
        for change in plan.values() {
            let Change::Add(path, file) = change else {
                continue;
            };
            if self.has_dir_entries {
                for dir in ancestors(path) {
                    if known.insert(dir.to_string()) {
                        let name = format!("{}/{dir}/", self.top_dir);
                        self.push_new(out, &name, b'5', 0o755, &[]);
                    }
                }
            }
            let name = format!("{}/{path}", self.top_dir);
            self.push_new(out, &name, b'0', file.mode & 0o7777, &file.data);
        }
        Ok(())
    }

    /// The header new members copy: the top directory's (or first member's),
    /// so mtime, uid, gid, uname, gname and the ustar/GNU magic come from
    /// the archive, never from the clock or the user running patchkit.
    fn template(&self) -> [u8; BLOCK] {
        let mut header = self
            .members
            .get(self.template)
            .map_or([0; BLOCK], |m| block_at(&self.tar, m.header));
        let old_mode = to_header(&header).and_then(|h| h.mode().ok()).unwrap_or(0);
        header[NAME].fill(0);
        header[LINKNAME].fill(0);
        // ustar: device numbers and prefix; GNU: atime, ctime, sparse map;
        // v7: padding. None of it describes a new regular file.
        if header[MAGIC].starts_with(b"ustar") {
            header[DEV].fill(0);
        }
        header[PREFIX.start..].fill(0);
        // Remember whether the template stored type bits in its mode.
        header[MODE].fill(0);
        put_octal(&mut header[MODE], u64::from(old_mode & !0o7777));
        header
    }

    /// Append one new member (with a long-name extension block if needed).
    fn push_new(&self, out: &mut Vec<u8>, name: &str, typeflag: u8, perm: u32, data: &[u8]) {
        let mut header = self.template();
        let type_bits = to_header(&header).and_then(|h| h.mode().ok()).unwrap_or(0);
        let mode = if type_bits == 0 {
            perm
        } else if typeflag == b'5' {
            0o040000 | perm
        } else {
            0o100000 | perm
        };
        header[TYPEFLAG] = typeflag;
        put_octal(&mut header[MODE], u64::from(mode));
        put_octal(&mut header[SIZE], data.len() as u64);
        let bytes = name.as_bytes();
        let is_ustar = &header[MAGIC] == b"ustar\x0000";
        if bytes.len() <= NAME.len() {
            header[..bytes.len()].copy_from_slice(bytes);
        } else if let Some(split) =
            ustar_split(bytes).filter(|_| is_ustar && self.long_names == LongNames::Pax)
        {
            header[PREFIX.start..PREFIX.start + split].copy_from_slice(&bytes[..split]);
            let rest = &bytes[split + 1..];
            header[..rest.len()].copy_from_slice(rest);
        } else {
            let short = truncate(name, NAME.len());
            header[..short.len()].copy_from_slice(short.as_bytes());
            let mut ext = self.template();
            match self.long_names {
                LongNames::Gnu => {
                    // GNU tar's own spelling of a long-name block.
                    let mut body = bytes.to_vec();
                    body.push(0);
                    let ext_name = b"././@LongLink";
                    ext[..ext_name.len()].copy_from_slice(ext_name);
                    ext[TYPEFLAG] = b'L';
                    put_octal(&mut ext[MODE], 0o644);
                    put_octal(&mut ext[SIZE], body.len() as u64);
                    set_checksum(&mut ext);
                    push_padded(out, &ext, &body);
                }
                LongNames::Pax => {
                    let mut body = Vec::new();
                    push_record(&mut body, b"path", bytes);
                    // Like GNU tar's "%d/PaxHeaders.%p/%f", minus the pid.
                    let (dir, base) = name.rsplit_once('/').unwrap_or((".", name));
                    let ext_name = format!("{}/PaxHeaders/{}", truncate(dir, 40), base);
                    let ext_name = truncate(&ext_name, NAME.len());
                    ext[..ext_name.len()].copy_from_slice(ext_name.as_bytes());
                    ext[TYPEFLAG] = b'x';
                    put_octal(&mut ext[MODE], 0o644);
                    put_octal(&mut ext[SIZE], body.len() as u64);
                    set_checksum(&mut ext);
                    push_padded(out, &ext, &body);
                }
            }
        }
        set_checksum(&mut header);
        push_padded(out, &header, data);
    }
}

/// The longest prefix of `s` of at most `max` bytes ending on a character
/// boundary.
/// Every directory of `tree`: those with their own entry and every parent
/// of a file, symlink or directory.
fn existing_dirs(tree: &Tree) -> BTreeSet<&str> {
    tree.files
        .keys()
        .chain(tree.symlinks.keys())
        .chain(tree.dirs.iter())
        .flat_map(ancestors)
        .chain(tree.dirs.iter().map(InTreePath::as_str))
        .collect()
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Where to split a long name into ustar prefix (≤155) and name (≤100):
/// the first `/` that leaves a short enough name.
fn ustar_split(name: &[u8]) -> Option<usize> {
    (1..name.len())
        .filter(|&i| name[i] == b'/')
        .find(|&i| i <= PREFIX.len() && name.len() - i - 1 <= NAME.len() && name.len() - i > 1)
}

/// The 512-byte block at `at` (the walk proved it exists).
fn block_at(tar: &[u8], at: usize) -> [u8; BLOCK] {
    let mut block = [0; BLOCK];
    if let Some(src) = tar.get(at..at + BLOCK) {
        block.copy_from_slice(src);
    }
    block
}

/// Write `value` as zero-padded octal filling all but the last byte of
/// `field`, then a NUL: the form GNU tar and POSIX ustar use. Sizes are
/// bounded well below 8 GiB by the limits, so base-256 is never needed.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let text = text.as_bytes();
    let take = text.len().min(digits);
    field[..take].copy_from_slice(&text[text.len() - take..]);
    field[digits] = 0;
}

/// Recompute the header checksum, written as GNU tar does: six octal
/// digits, NUL, space.
fn set_checksum(header: &mut [u8; BLOCK]) {
    header[CHKSUM].fill(b' ');
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{:06o}\0 ", sum & 0o777_777);
    header[CHKSUM].copy_from_slice(text.as_bytes());
}

/// Append a header, its data and zero padding to the next block.
fn push_padded(out: &mut Vec<u8>, header: &[u8; BLOCK], data: &[u8]) {
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    let pad = padded(data.len()).unwrap_or(data.len()) - data.len();
    out.resize(out.len() + pad, 0);
}

/// Append one PAX record `"<len> <key>=<value>\n"`, where `<len>` counts
/// the whole record including its own digits.
fn push_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let base = key.len() + value.len() + 3;
    let mut len = base + base.to_string().len();
    if (len).to_string().len() + base != len {
        len = base + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Compress `tar` deterministically: no file name, mtime 0, fixed OS byte
/// and level, so equal input gives equal bytes on any machine at any time.
fn compress(name: &str, compression: Compression, tar: &[u8]) -> Result<Vec<u8>, Error> {
    let fail = |source| Error::Io {
        action: "compress",
        path: name.into(),
        source,
    };
    let out = Vec::with_capacity(tar.len() / 4);
    match compression {
        Compression::Gzip => {
            let mut enc = flate2::GzBuilder::new()
                .mtime(0)
                .operating_system(GZIP_OS_UNIX)
                .write(out, flate2::Compression::new(GZIP_LEVEL));
            enc.write_all(tar).map_err(fail)?;
            enc.finish().map_err(fail)
        }
        Compression::Bzip2 => {
            // Level 9 (900 kB blocks) is the bzip2 default; bzip2 streams
            // carry no time or name.
            let mut enc = bzip2::write::BzEncoder::new(out, bzip2::Compression::best());
            enc.write_all(tar).map_err(fail)?;
            enc.finish().map_err(fail)
        }
        Compression::Xz => super::xz::encode(tar).map_err(fail),
    }
}
