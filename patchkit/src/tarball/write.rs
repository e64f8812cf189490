//! Writing the patched archive: unchanged members byte for byte, changed
//! members with their own header fields, new members with metadata taken
//! from the archive, then compressed with no time, name or host in it.
//!
//! This is where docs/ARCHITECTURE.md's "Tar members that did not change keep their
//! bytes, mode, mtime, owners and order; changed members keep their header
//! fields; new members take their metadata from the input" and
//! "Deterministic output" are kept.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::mpsc;

use sha2::{Digest, Sha256};

use super::gzip::{ParallelGzip, Raw, BATCH};
use super::read::{
    decoder, padded, pax_records, to_header, ExtKind, Kind, LongNames, Member, BLOCK,
};
use super::reuse::{deflate_start, Splice};
use super::{ancestors, show, Archive, ChangeProblem, Compression, Error};
use crate::tree::{Change, FileEntry, InTreePath, Tree};

/// GNU tar's (and bsdtar's) default record size: archives it writes are
/// padded with zeros to a multiple of this.
const RECORD: usize = 10240;

/// gzip level: 5. Measured with flate2's zlib-rs backend
/// (docs/performance.md, "Level 5"): on the 15 real CPAN releases the
/// project's records are tested on, level 5 is 1.007–1.012 times the size
/// of GNU `gzip -6` (level 6: 1.004–1.007) for 0.81 times level 6's CPU; on
/// the generated benchmark corpus 1.029 times for 0.63 times. Issue 13
/// allows 1.05; level 4 (up to 1.046 on the corpus) leaves no margin, and
/// level 9, what most dists ship at, saves about 1 % for about twice the
/// CPU of level 6.
pub(super) const GZIP_LEVEL: u32 = 5;

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

/// What [`Archive::write_file`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Lowercase hex SHA-256 of the file written.
    pub sha256: String,
    /// Its length in bytes.
    pub len: u64,
}

/// What happens to one member on the way through.
enum Action<'a> {
    /// Copied byte for byte.
    Copy,
    /// Left out (deleted).
    Drop,
    /// Written again as a regular file with this content.
    Rewrite(&'a FileEntry),
}

impl Archive {
    /// The new archive, compressed like the input, with `changes` applied,
    /// in memory. See [`Archive::write_to`]; [`Archive::write_file`] is the
    /// form that does not hold the output.
    pub fn write(&self, changes: &[Change]) -> Result<Vec<u8>, Error> {
        self.write_to(changes, Vec::new())
    }

    /// Write the new archive to `path` through a temporary file in the same
    /// directory, renamed into place only once complete and synced
    /// (docs/ARCHITECTURE.md: "Nothing half-done"), without holding it in memory.
    pub fn write_file(&self, changes: &[Change], path: &Path) -> Result<Written, Error> {
        let io_err = |action, path: &Path, source| Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| io_err("create directory", dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".patchkit-tmp-")
            .tempfile_in(dir)
            .map_err(|e| io_err("create a temporary file in", dir, e))?;
        let sink = Hashing {
            inner: io::BufWriter::with_capacity(256 * 1024, tmp),
            sha: Sha256::new(),
            len: 0,
        };
        let sink = self.write_to(changes, sink)?;
        let sha256 = hex::encode(sink.sha.finalize());
        let len = sink.len;
        let tmp = sink
            .inner
            .into_inner()
            .map_err(|e| io_err("write", path, e.into_error()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| io_err("write", tmp.path(), e))?;
        set_readable(tmp.path()).map_err(|e| io_err("set permissions of", tmp.path(), e))?;
        tmp.persist(path)
            .map_err(|e| io_err("rename into place", path, e.error))?;
        Ok(Written { sha256, len })
    }

    /// Stream the new archive, compressed like the input, into `out`.
    ///
    /// Unchanged members keep their exact bytes and order. A
    /// [`Change::Modify`] keeps the member's header fields but sets its size
    /// and permission bits; a [`Change::Delete`] drops the member with its
    /// extension blocks; [`Change::Add`]s are appended in path order (with
    /// directory entries for missing parents when the archive lists
    /// directories), their metadata copied from the top directory's entry.
    ///
    /// One thread decompresses the input again and writes the tar stream
    /// while this one compresses it (gzip over all of rayon's threads), so
    /// memory stays at a few fixed buffers plus the changed files, whatever
    /// the size of the archive. For a gzip input, the deflate blocks of its
    /// first member that decode to unchanged members are copied rather
    /// than deflated again (`reuse.rs`).
    pub fn write_to<W: Write>(&self, changes: &[Change], out: W) -> Result<W, Error> {
        self.write_counting(changes, out).map(|(out, _)| out)
    }

    /// [`Archive::write_to`], and how many tar bytes of the output are
    /// copied deflate blocks of the input.
    pub(super) fn write_counting<W: Write>(
        &self,
        changes: &[Change],
        out: W,
    ) -> Result<(W, u64), Error> {
        let plan = self.plan(changes)?;
        let fail = |source| Error::Io {
            action: "compress",
            path: self.name.clone().into(),
            source,
        };
        let reuse = match self.compression {
            Compression::Gzip => deflate_start(&self.input),
            _ => None,
        };
        std::thread::scope(|scope| {
            // One batch in flight: the producer fills the next while the
            // compressor works on this one, and memory stays bounded.
            let (tx, rx) = mpsc::sync_channel::<Piece>(1);
            let plan = &plan;
            let producer = scope.spawn(move || match reuse {
                Some(start) => {
                    let mut splice = Splice::new(&self.input, start, tx);
                    self.write_tar_into(plan, &mut splice)?;
                    splice.finish()
                }
                None => {
                    let mut pass = Plain {
                        src: decoder(self.compression, &self.input).take(self.tar_len as u64),
                        out: Batches {
                            tx,
                            buf: Vec::with_capacity(BATCH),
                        },
                        len: 0,
                    };
                    self.write_tar_into(plan, &mut pass)?;
                    pass.out.send().map(|()| 0)
                }
            });
            let deflate = reuse.and_then(|start| self.input.get(start..));
            let consumed = (|| {
                let mut enc = Encoder::new(self.compression, out)?;
                for piece in &rx {
                    match piece {
                        Piece::Tar(batch) => enc.write_batch(batch)?,
                        Piece::Raw(raw) => enc.write_raw(deflate.unwrap_or_default(), raw)?,
                    }
                }
                Ok(enc)
            })();
            // If compressing failed, the producer's next send fails too.
            drop(rx);
            let produced = producer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the tar writer stopped")));
            let enc = consumed.map_err(fail)?;
            let reused = produced.map_err(fail)?;
            Ok((enc.finish().map_err(fail)?, reused))
        })
    }

    /// The uncompressed tar bytes of [`Archive::write`].
    #[cfg(test)]
    pub(super) fn write_tar(&self, changes: &[Change]) -> Result<Vec<u8>, Error> {
        let plan = self.plan(changes)?;
        let mut pass = Plain {
            src: decoder(self.compression, &self.input).take(self.tar_len as u64),
            out: Vec::new(),
            len: 0,
        };
        self.write_tar_into(&plan, &mut pass)
            .map_err(|source| Error::Io {
                action: "write",
                path: self.name.clone().into(),
                source,
            })?;
        Ok(pass.out)
    }

    /// Write the new tar stream: the input's members, decompressed again
    /// and copied through (or left out, or rewritten), then the added
    /// files and the end-of-archive blocks.
    fn write_tar_into(&self, plan: &Plan<'_>, out: &mut dyn TarPass) -> io::Result<()> {
        let mut pos = 0;
        let mut head = Vec::new();
        for member in &self.members {
            // Members are contiguous; copy any gap rather than lose it.
            out.copy(member.start.saturating_sub(pos))?;
            let action = match &member.kind {
                Kind::File(p) | Kind::HardLink(p, _) => match plan.get(p) {
                    Some(Change::Delete(_)) => Action::Drop,
                    Some(Change::Modify(_, f)) => Action::Rewrite(f),
                    _ => match &member.kind {
                        // A hard link whose target changes or goes away must
                        // keep the content the tree says it has.
                        Kind::HardLink(_, target) if plan.contains_key(target) => {
                            match self.tree.files.get(p) {
                                Some(f) => Action::Rewrite(f),
                                // `hold_only` holds a link with its target.
                                None => {
                                    return Err(io::Error::other(format!(
                                        "the content of hard link {p} is not held"
                                    )))
                                }
                            }
                        }
                        _ => Action::Copy,
                    },
                },
                _ => Action::Copy,
            };
            let len = member.end - member.start;
            match action {
                Action::Copy => out.copy(len)?,
                Action::Drop => out.skip(len)?,
                Action::Rewrite(file) => {
                    // Extension blocks and header: bounded by the limits.
                    let head_len = member.header + BLOCK - member.start;
                    head.clear();
                    head.resize(head_len, 0);
                    out.take(&mut head)?;
                    out.skip(len - head_len)?;
                    self.rewrite_as_file(out, member, &head, file)?;
                }
            }
            pos = member.end;
        }
        self.append_adds(out, plan)?;
        // End of archive: keep the original's trailer, at least the two
        // zero blocks POSIX requires, padded to its record size if it was.
        let written = out.written();
        let trailer = self.tar_len - self.members_end;
        let want = if self.tar_len % RECORD == 0 && trailer >= 2 * BLOCK {
            (written + 2 * BLOCK).div_ceil(RECORD) * RECORD
        } else {
            written + trailer.max(2 * BLOCK)
        };
        write_zeros(out, want - written)
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
                Change::Modify(..) | Change::Delete(_) if !tree.has_file(path) => {
                    return Err(refuse(path, ChangeProblem::NotAFile));
                }
                Change::Add(..) if !self.name_fits(path) => {
                    return Err(refuse(path, ChangeProblem::NameTooLong));
                }
                Change::Add(..) => {
                    if tree.has_file(path)
                        || tree.symlinks.contains_key(*path)
                        || dirs.contains(path.as_str())
                    {
                        return Err(refuse(path, ChangeProblem::AlreadyExists));
                    }
                    let is_non_dir = |a: &str| {
                        added.contains(a)
                            || InTreePath::parse(a)
                                .is_ok_and(|a| tree.has_file(&a) || tree.symlinks.contains_key(&a))
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
    /// regular file) and the checksum. `head` holds the member's bytes from
    /// its first extension block to the end of its header block.
    fn rewrite_as_file(
        &self,
        out: &mut dyn Write,
        member: &Member,
        head: &[u8],
        file: &FileEntry,
    ) -> io::Result<()> {
        let size = file.data.len();
        let at = |offset: usize| offset - member.start;
        for ext in &member.exts {
            let body_start = at(ext.header) + BLOCK;
            let ext_end = body_start + padded(ext.size).unwrap_or(ext.size);
            match ext.kind {
                ExtKind::LongName => out.write_all(&head[at(ext.header)..ext_end])?,
                // A regular file has no link target.
                ExtKind::LongLink => {}
                ExtKind::Pax => {
                    let body = &head[body_start..body_start + ext.size];
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
                    let mut header = block_at(head, at(ext.header));
                    put_octal(&mut header[SIZE], records.len() as u64);
                    set_checksum(&mut header);
                    push_padded(out, &header, &records)?;
                }
            }
        }
        let mut header = block_at(head, at(member.header));
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
        push_padded(out, &header, &file.data)
    }

    /// Append the added files in path order, preceded by entries for any
    /// parent directory that does not exist yet (only if the archive lists
    /// directories at all; otherwise unpacking creates them anyway).
    fn append_adds(&self, out: &mut dyn Write, plan: &Plan<'_>) -> io::Result<()> {
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
                        self.push_new(out, &name, b'5', 0o755, &[])?;
                    }
                }
            }
            let name = format!("{}/{path}", self.top_dir);
            self.push_new(out, &name, b'0', file.mode & 0o7777, &file.data)?;
        }
        Ok(())
    }

    /// The header new members copy: the top directory's (or first member's),
    /// so mtime, uid, gid, uname, gname and the ustar/GNU magic come from
    /// the archive, never from the clock or the user running patchkit.
    fn template(&self) -> [u8; BLOCK] {
        let mut header = *self.template;
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
    fn push_new(
        &self,
        out: &mut dyn Write,
        name: &str,
        typeflag: u8,
        perm: u32,
        data: &[u8],
    ) -> io::Result<()> {
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
                    push_padded(out, &ext, &body)?;
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
                    push_padded(out, &ext, &body)?;
                }
            }
        }
        set_checksum(&mut header);
        push_padded(out, &header, data)
    }
}

/// The longest prefix of `s` of at most `max` bytes ending on a character
/// boundary.
/// Every directory of `tree`: those with their own entry and every parent
/// of a file, symlink or directory.
fn existing_dirs(tree: &Tree) -> BTreeSet<&str> {
    tree.file_paths()
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

/// Write a header, its data and zero padding to the next block.
fn push_padded(out: &mut dyn Write, header: &[u8; BLOCK], data: &[u8]) -> io::Result<()> {
    out.write_all(header)?;
    out.write_all(data)?;
    let pad = padded(data.len()).unwrap_or(data.len()) - data.len();
    write_zeros(out, pad)
}

/// Write `n` zero bytes.
fn write_zeros(out: &mut dyn Write, mut n: usize) -> io::Result<()> {
    const ZEROS: [u8; BLOCK] = [0; BLOCK];
    while n > 0 {
        let take = n.min(BLOCK);
        out.write_all(&ZEROS[..take])?;
        n -= take;
    }
    Ok(())
}

/// Copy exactly `n` bytes from `src` to `out`. The input was walked
/// before, so it holds them; running short means it changed underneath.
fn copy_n(src: &mut impl Read, out: &mut dyn Write, n: usize) -> io::Result<()> {
    let copied = io::copy(&mut src.take(n as u64), out)?;
    if copied == n as u64 {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the archive ended early when read again",
        ))
    }
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

/// The compressor of the output: like the input's, deterministic (no file
/// name, mtime 0, fixed OS byte and level), so equal input gives equal
/// bytes on any machine at any time.
enum Encoder<W: Write> {
    Gzip(ParallelGzip<W>),
    Bzip2(bzip2::write::BzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
    None(W),
    Zip(super::zip::ZipSink<W>),
}

impl<W: Write> Encoder<W> {
    fn new(compression: Compression, out: W) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => Encoder::Gzip(ParallelGzip::new(out, GZIP_LEVEL)?),
            // Level 9 (900 kB blocks) is the bzip2 default; bzip2 streams
            // carry no time or name.
            Compression::Bzip2 => Encoder::Bzip2(bzip2::write::BzEncoder::new(
                out,
                bzip2::Compression::best(),
            )),
            Compression::Xz => Encoder::Xz(super::xz::encoder(out)),
            Compression::None => Encoder::None(out),
            Compression::Zip => Encoder::Zip(super::zip::ZipSink::new(out)),
        })
    }

    fn write_batch(&mut self, batch: Vec<u8>) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_batch(batch),
            Encoder::Bzip2(e) => e.write_all(&batch),
            Encoder::Xz(e) => e.write_all(&batch),
            Encoder::None(e) => e.write_all(&batch),
            Encoder::Zip(e) => {
                e.write_all(&batch);
                Ok(())
            }
        }
    }

    /// Copied deflate blocks of the input (gzip only; any other encoder
    /// compresses the bytes they stand for).
    fn write_raw(&mut self, deflate: &[u8], raw: Raw) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_raw(deflate, raw),
            _ => self.write_batch(raw.tar),
        }
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Bzip2(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::None(e) => Ok(e),
            Encoder::Zip(e) => e.finish(),
        }
    }
}

/// What the producer hands the compressor.
pub(super) enum Piece {
    /// Tar bytes to compress.
    Tar(Vec<u8>),
    /// Deflate blocks of the input to copy (`reuse.rs`).
    Raw(Raw),
}

/// The second pass's view of the input tar and of the new one: input
/// bytes are copied through, read or passed over in order, and new bytes
/// written ([`Write`]).
pub(super) trait TarPass: Write {
    /// Copy the next `n` bytes of the input to the output unchanged.
    fn copy(&mut self, n: usize) -> io::Result<()>;
    /// Read the next input bytes into `buf`, not copying them.
    fn take(&mut self, buf: &mut [u8]) -> io::Result<()>;
    /// Pass over the next `n` input bytes.
    fn skip(&mut self, n: usize) -> io::Result<()>;
    /// Bytes of output so far.
    fn written(&self) -> usize;
}

/// A [`TarPass`] reading the input tar from `src` and writing the new tar
/// to `out`.
struct Plain<R: Read, W: Write> {
    src: R,
    out: W,
    len: usize,
}

impl<R: Read, W: Write> TarPass for Plain<R, W> {
    fn copy(&mut self, n: usize) -> io::Result<()> {
        copy_n(&mut self.src, &mut self.out, n)?;
        self.len += n;
        Ok(())
    }

    fn take(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.src.read_exact(buf)
    }

    fn skip(&mut self, n: usize) -> io::Result<()> {
        copy_n(&mut self.src, &mut io::sink(), n)
    }

    fn written(&self) -> usize {
        self.len
    }
}

impl<R: Read, W: Write> Write for Plain<R, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.out.write(data)?;
        self.len += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The producer's end of the channel: the tar stream cut into batches of
/// the compressor's size.
struct Batches {
    tx: mpsc::SyncSender<Piece>,
    buf: Vec<u8>,
}

impl Batches {
    /// Hand over what is buffered.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        self.tx
            .send(Piece::Tar(full))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the compressor stopped"))
    }
}

impl Write for Batches {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let take = data.len().min(BATCH - self.buf.len());
        self.buf.extend_from_slice(&data[..take]);
        if self.buf.len() == BATCH {
            self.send()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hashes what goes through to the file (the report's output sha256).
struct Hashing<W: Write> {
    inner: W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.sha.update(&data[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Output tarballs are world-readable, like any download (0644), whatever
/// the temporary file was created with.
#[cfg(unix)]
fn set_readable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_path: &Path) -> io::Result<()> {
    Ok(())
}
