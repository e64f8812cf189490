//! Reading an archive: detect the compression, then walk the tar members
//! as they come out of a bounded decompressing reader, one pass, without
//! holding the tar: extension blocks (bounded by the limits) and the file
//! contents the caller holds are kept, every other file is only hashed.
//!
//! The walk is written here rather than with `tar::Archive::entries`
//! because the writer needs the exact byte span of every member *including*
//! its PAX and GNU extension blocks, and because a length-delimited PAX
//! parser is needed: `tar::PaxExtensions` splits records on newlines, which
//! a hostile value may contain. Header fields are still decoded by
//! [`tar::Header`] (octal and base-256 numbers, the ustar prefix).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io::{self, BufReader, Read};

use sha2::{Digest, Sha256};

use super::{
    ancestors, check_symlink, show, Compression, EntryProblem, Error, InputProblem, Limits,
};
use crate::tree::{FileEntry, InTreePath, PathError, Tree, Unloaded};

/// The tar block size.
pub(super) const BLOCK: usize = 512;

/// `n` rounded up to whole blocks, or `None` on overflow.
pub(super) fn padded(n: usize) -> Option<usize> {
    n.checked_add(BLOCK - 1).map(|x| x & !(BLOCK - 1))
}

/// The kind of an extension block that precedes a member's own header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExtKind {
    /// GNU `L`: the member's long name.
    LongName,
    /// GNU `K`: the member's long link target.
    LongLink,
    /// PAX `x`: extended records for the member.
    Pax,
}

/// One extension block: a header at `header`, `size` data bytes after it.
#[derive(Debug, Clone)]
pub(super) struct Ext {
    pub(super) kind: ExtKind,
    pub(super) header: usize,
    pub(super) size: usize,
}

/// What a member is, with its path below the top directory.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// A PAX global header (`git archive` writes one first). Kept as is.
    Global,
    /// The top directory's own entry.
    TopDir,
    /// A directory entry named `.` or `./`: harmless, kept as is.
    Unnamed,
    Dir(InTreePath),
    File(InTreePath),
    Symlink(InTreePath),
    /// A hard link and its target (an earlier regular file).
    HardLink(InTreePath, InTreePath),
}

/// One logical member: extension blocks, header, data and padding.
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// First byte of the first extension block, or of the header.
    pub(super) start: usize,
    /// The member's own header block.
    pub(super) header: usize,
    /// One past the padding after the data.
    pub(super) end: usize,
    pub(super) exts: Vec<Ext>,
    pub(super) kind: Kind,
}

/// How the archive spells names longer than the 100-byte header field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LongNames {
    /// GNU `././@LongLink` members.
    Gnu,
    /// POSIX PAX `path` records (and the ustar prefix field when it fits).
    Pax,
}

/// A distribution tarball, read and checked.
///
/// Holds the compressed input (so that [`Archive::write_to`] can stream the
/// unchanged members from it again, decompressing as it goes), the layout
/// of the tar members, and the [`Tree`] of the content below the top
/// directory. The decompressed tar itself is dropped once walked.
///
/// Hard links are materialised in the tree as regular files with their
/// target's content and mode (what unpacking them yields); in the written
/// archive they stay hard-link members unless they or their target change,
/// in which case they become regular files carrying their own content.
pub struct Archive {
    pub(super) name: String,
    pub(super) compression: Compression,
    /// The compressed input, exactly as given.
    pub(super) input: Vec<u8>,
    /// Length of the decompressed tar stream.
    pub(super) tar_len: usize,
    pub(super) members: Vec<Member>,
    /// Offset of the end-of-archive zero blocks (or of the end of data).
    pub(super) members_end: usize,
    pub(super) top_dir: String,
    pub(super) tree: Tree,
    pub(super) long_names: LongNames,
    /// The header block new members copy their metadata from (the top
    /// directory's, else the first member's).
    pub(super) template: Box<[u8; BLOCK]>,
    /// Whether the archive lists directories explicitly.
    pub(super) has_dir_entries: bool,
}

impl fmt::Debug for Archive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The tar bytes and file contents would swamp any log.
        f.debug_struct("Archive")
            .field("name", &self.name)
            .field("compression", &self.compression)
            .field("top_dir", &self.top_dir)
            .field("members", &self.members.len())
            .field("tar_bytes", &self.tar_len)
            .finish()
    }
}

impl Archive {
    /// Read and check a compressed distribution tarball, holding the
    /// content of every file.
    ///
    /// `name` is the file name for messages (e.g. `"Foo-Bar-1.23.tar.gz"`);
    /// the format is detected from magic bytes, not the name.
    pub fn read(name: &str, compressed: &[u8], limits: &Limits) -> Result<Archive, Error> {
        Self::read_holding(name, compressed.to_vec(), limits, u64::MAX, &[])
    }

    /// [`Archive::read`] with bounded memory, for `apply`: takes the
    /// compressed bytes without a copy, and holds the content of files in
    /// archive order until [`HOLD_BYTES`] are held, plus the files named
    /// in `always` (paths below the top directory, such as `META.json`);
    /// every other file is kept as its hash, mode and length
    /// ([`Tree::unloaded`]). [`Archive::hold_only`] then holds exactly the
    /// files a caller reads. The tree digest is the same either way.
    pub fn read_lean(
        name: &str,
        compressed: Vec<u8>,
        limits: &Limits,
        always: &[&str],
    ) -> Result<Archive, Error> {
        Self::read_holding(name, compressed, limits, HOLD_BYTES, always)
    }

    fn read_holding(
        name: &str,
        compressed: Vec<u8>,
        limits: &Limits,
        hold: u64,
        always: &[&str],
    ) -> Result<Archive, Error> {
        let input_err = |problem, near| Error::Input {
            input: name.to_string(),
            problem,
            near,
        };
        let compression = if compressed.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if compressed.starts_with(b"BZh") {
            Compression::Bzip2
        } else if compressed.starts_with(&super::xz::MAGIC) {
            Compression::Xz
        } else if super::zip::is_zip(&compressed) {
            Compression::Zip
        } else if compressed.get(257..262) == Some(b"ustar".as_slice()) {
            Compression::None
        } else {
            return Err(input_err(InputProblem::UnknownFormat, None));
        };
        if compressed.len() as u64 > limits.max_compressed_bytes {
            return Err(input_err(
                InputProblem::CompressedTooLarge {
                    limit: limits.max_compressed_bytes,
                },
                None,
            ));
        }
        let hold = Hold {
            bytes: hold,
            always,
        };
        // A zip becomes the tar stream it stands for, which the archive
        // then keeps as its input: the writer copies unchanged members
        // from it.
        let input = match compression {
            Compression::Zip => super::zip::to_tar(name, &compressed, limits)?,
            _ => compressed,
        };
        let (walked, tar_len) = walk_stream(name, compression, &input, limits, &hold)?;
        let template = walked
            .template
            .ok_or_else(|| input_err(InputProblem::Empty, None))?;
        let long_names = long_names(&walked.members, &template);
        let has_dir_entries = walked
            .members
            .iter()
            .any(|m| matches!(m.kind, Kind::TopDir | Kind::Dir(_)));
        Ok(Archive {
            name: name.to_string(),
            compression,
            input,
            tar_len,
            members: walked.members,
            members_end: walked.members_end,
            top_dir: walked.top_dir,
            tree: walked.tree,
            long_names,
            template: Box::new(template),
            has_dir_entries,
        })
    }

    /// The compressed input, exactly as given.
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// Hold the content of exactly the files in `keep` that exist (paths
    /// below the top directory), with the hard links among them and
    /// their targets, which share their content: files not held yet are
    /// read in one more pass over the input (only when there are some),
    /// every other file is dropped to its hash, mode and length. The tree
    /// digest does not change.
    pub fn hold_only(&mut self, keep: &BTreeSet<InTreePath>) -> Result<(), Error> {
        let keep = self.with_links(keep);
        self.load_exact(&keep)?;
        self.tree.hold_only(&keep);
        Ok(())
    }

    /// Hold the content of the files in `paths` that exist, as
    /// [`Archive::hold_only`] does, without dropping any other.
    pub fn load(&mut self, paths: &BTreeSet<InTreePath>) -> Result<(), Error> {
        let paths = self.with_links(paths);
        self.load_exact(&paths)
    }

    /// Each hard link member, as (its path, the path it links to).
    fn hard_links(&self) -> impl Iterator<Item = (&InTreePath, &InTreePath)> {
        self.members.iter().filter_map(|m| match &m.kind {
            Kind::HardLink(p, t) => Some((p, t)),
            _ => None,
        })
    }

    /// `keep` with the hard links among it and their targets.
    fn with_links(&self, keep: &BTreeSet<InTreePath>) -> BTreeSet<InTreePath> {
        let mut keep = keep.clone();
        let links: Vec<(&InTreePath, &InTreePath)> = self.hard_links().collect();
        // Targets only ever are regular files, so two steps close the set.
        for (p, t) in &links {
            if keep.contains(*p) {
                keep.insert((*t).clone());
            }
        }
        for (p, t) in &links {
            if keep.contains(*t) {
                keep.insert((*p).clone());
            }
        }
        keep
    }

    /// Read the content of the files of `keep` not held yet, in one pass.
    fn load_exact(&mut self, keep: &BTreeSet<InTreePath>) -> Result<(), Error> {
        let target_of: BTreeMap<&InTreePath, &InTreePath> = self.hard_links().collect();
        // Which member's data each missing file takes its content from.
        let mut wanted: BTreeMap<&InTreePath, Vec<InTreePath>> = BTreeMap::new();
        for p in keep.iter().filter(|p| self.tree.unloaded.contains_key(*p)) {
            let source = target_of.get(p).copied().unwrap_or(p);
            wanted.entry(source).or_default().push(p.clone());
        }
        let mut loaded: Vec<(InTreePath, FileEntry)> = Vec::new();
        let mut fill = |data: &[u8], dests: &[InTreePath], tree: &Tree| {
            for d in dests {
                if let Some(u) = tree.unloaded.get(d) {
                    loaded.push((
                        d.clone(),
                        FileEntry {
                            data: data.to_vec(),
                            mode: u.mode,
                        },
                    ));
                }
            }
        };
        // A source already held (a link was dropped, not its target).
        wanted.retain(|source, dests| match self.tree.files.get(*source) {
            Some(held) => {
                fill(&held.data, dests, &self.tree);
                false
            }
            None => true,
        });
        if !wanted.is_empty() {
            let corrupt = |why: String| Error::Input {
                input: self.name.clone(),
                problem: InputProblem::CompressedCorrupt(why),
                near: None,
            };
            let mut src = BufReader::with_capacity(
                STREAM_BUFFER,
                decoder(self.compression, &self.input).take(self.tar_len as u64),
            );
            let mut pos = 0usize;
            for member in &self.members {
                let Kind::File(q) = &member.kind else {
                    continue;
                };
                let Some(dests) = wanted.get(q) else {
                    continue;
                };
                let Some(want) = self.tree.unloaded.get(q) else {
                    continue;
                };
                let at = member.header + BLOCK;
                io::copy(&mut (&mut src).take((at - pos) as u64), &mut io::sink())
                    .map_err(|e| corrupt(e.to_string()))?;
                let mut data = Vec::with_capacity(usize::try_from(want.len).unwrap_or(0));
                (&mut src)
                    .take(want.len)
                    .read_to_end(&mut data)
                    .map_err(|e| corrupt(e.to_string()))?;
                pos = at + data.len();
                let sha: [u8; 32] = Sha256::digest(&data).into();
                if sha != want.sha256 {
                    return Err(corrupt(format!(
                        "entry \"{}/{q}\" read differently the second time",
                        show(self.top_dir.as_bytes())
                    )));
                }
                fill(&data, dests, &self.tree);
            }
        }
        for (path, entry) in loaded {
            self.tree.unloaded.remove(&path);
            self.tree.files.insert(path, entry);
        }
        Ok(())
    }

    /// The archive's file name, as given to [`Archive::read`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The single top directory, e.g. `"Foo-Bar-1.23"`.
    pub fn top_dir(&self) -> &str {
        &self.top_dir
    }

    /// The content below the top directory.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The content below the top directory, keeping nothing else (for
    /// readers that will not write the archive back).
    pub fn into_tree(self) -> Tree {
        self.tree
    }

    /// How the archive was compressed (and how [`Archive::write`] compresses).
    pub fn compression(&self) -> Compression {
        self.compression
    }
}

/// GNU style if the archive already uses GNU long names or a GNU-format
/// header as template; PAX otherwise (what POSIX and modern tars write).
fn long_names(members: &[Member], template: &[u8; BLOCK]) -> LongNames {
    let exts = members.iter().flat_map(|m| m.exts.iter());
    let mut pax = members.iter().any(|m| matches!(m.kind, Kind::Global));
    for ext in exts {
        match ext.kind {
            ExtKind::LongName | ExtKind::LongLink => return LongNames::Gnu,
            ExtKind::Pax => pax = true,
        }
    }
    let is_gnu_header = &template[257..265] == b"ustar  \0";
    if !pax && is_gnu_header {
        LongNames::Gnu
    } else {
        LongNames::Pax
    }
}

/// Bytes of file content [`Archive::read_lean`] holds while reading.
pub const HOLD_BYTES: u64 = 8 * 1024 * 1024;

/// The read buffer between the decompressor and the walk.
const STREAM_BUFFER: usize = 256 * 1024;

/// Which file contents the walk keeps.
struct Hold<'a> {
    /// Content bytes to hold, in archive order, before only hashing.
    bytes: u64,
    /// Paths below the top directory whose content is always held.
    always: &'a [&'a str],
}

/// The decompressed tar as a stream: counts what came out, stops at the
/// unpacked and ratio limits, and remembers why it stopped.
struct Stream<R> {
    inner: R,
    cap: u64,
    got: u64,
    /// What to report past `cap`.
    over: InputProblem,
    failure: Option<InputProblem>,
    /// The name of the last member whose header was read, for messages.
    last: Option<String>,
}

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("the decompressed stream stopped"));
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.got += n as u64;
                if self.got > self.cap {
                    self.failure = Some(self.over.clone());
                    return Err(io::Error::other("over the limit"));
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.failure = Some(if e.kind() == io::ErrorKind::UnexpectedEof {
                    InputProblem::CompressedTruncated
                } else {
                    InputProblem::CompressedCorrupt(e.to_string())
                });
                Err(e)
            }
        }
    }
}

impl<R: Read> Stream<R> {
    /// The refusal for a stream that stopped (corrupt, cut short, over a
    /// limit).
    fn stopped(&self, name: &str) -> Error {
        Error::Input {
            input: name.to_string(),
            problem: self
                .failure
                .clone()
                .unwrap_or(InputProblem::CompressedTruncated),
            near: self.last.clone(),
        }
    }

    /// Read until `buf` is full or the stream ends; the count read.
    fn fill(&mut self, name: &str, buf: &mut [u8]) -> Result<usize, Error> {
        let mut n = 0;
        while n < buf.len() {
            match self.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(self.stopped(name)),
            }
        }
        Ok(n)
    }

    /// Read `n` bytes into `out` in pieces; false if the stream ends first.
    fn pass(
        &mut self,
        name: &str,
        mut n: usize,
        scratch: &mut [u8],
        mut out: impl FnMut(&[u8]),
    ) -> Result<bool, Error> {
        while n > 0 {
            let want = n.min(scratch.len());
            let got = self.fill(name, &mut scratch[..want])?;
            out(&scratch[..got]);
            if got < want {
                return Ok(false);
            }
            n -= got;
        }
        Ok(true)
    }
}

/// What the walk kept of a member's data.
enum Body {
    Held(Vec<u8>),
    Hashed([u8; 32]),
    Skipped,
}

/// How to read a member's data.
#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Hold,
    Hash,
    Skip,
}

/// Read `size` bytes of data and the padding after it; `None` if the
/// stream ends first.
fn read_body<R: Read>(
    name: &str,
    src: &mut Stream<R>,
    size: usize,
    how: How,
    scratch: &mut [u8],
) -> Result<Option<Body>, Error> {
    let body = match how {
        How::Hold => {
            // Grown as the data comes, never reserved on the header's say-so.
            let mut data = Vec::with_capacity(size.min(1 << 20));
            if !src.pass(name, size, scratch, |d| data.extend_from_slice(d))? {
                return Ok(None);
            }
            Body::Held(data)
        }
        How::Hash => {
            let mut sha = Sha256::new();
            if !src.pass(name, size, scratch, |d| sha.update(d))? {
                return Ok(None);
            }
            Body::Hashed(sha.finalize().into())
        }
        How::Skip => {
            if !src.pass(name, size, scratch, |_| {})? {
                return Ok(None);
            }
            Body::Skipped
        }
    };
    let padding = padded(size).map_or(0, |p| p - size);
    if !src.pass(name, padding, scratch, |_| {})? {
        return Ok(None);
    }
    Ok(Some(body))
}

/// Walk the tar as it is decompressed, stopping as soon as the output
/// passes the unpacked limit or the ratio limit. The stream is read to its
/// end so that a truncated or corrupt trailer (CRC, length) is noticed
/// even if the tar inside looks complete; a stream that is corrupt, cut
/// short or over a limit is refused as such whatever the walk found first
/// (as if it had been decompressed whole before the walk). Returns the
/// walk and the length of the tar.
fn walk_stream(
    name: &str,
    compression: Compression,
    compressed: &[u8],
    limits: &Limits,
    hold: &Hold<'_>,
) -> Result<(Walked, usize), Error> {
    let by_ratio = limits
        .max_ratio
        .saturating_mul(compressed.len() as u64)
        .max(limits.ratio_free_bytes);
    let cap = limits.unpacked_cap().min(by_ratio);
    let over = if cap == limits.max_unpacked_bytes {
        InputProblem::UnpackedTooLarge {
            limit: limits.max_unpacked_bytes,
        }
    } else if cap == limits.unpacked_cap() {
        InputProblem::MemoryTooLarge {
            limit: limits.max_memory_bytes,
            cap,
        }
    } else {
        InputProblem::RatioTooHigh {
            ratio: limits.max_ratio,
        }
    };
    let mut src = Stream {
        inner: BufReader::with_capacity(STREAM_BUFFER, decoder(compression, compressed)),
        cap,
        got: 0,
        over,
        failure: None,
        last: None,
    };
    let walked = walk(name, &mut src, limits, hold);
    if walked.is_err() && src.failure.is_none() {
        let mut scratch = vec![0u8; 64 * 1024];
        while let Ok(n) = src.fill(name, &mut scratch) {
            if n < scratch.len() {
                break;
            }
        }
    }
    if src.failure.is_some() {
        return Err(src.stopped(name));
    }
    let tar_len = usize::try_from(src.got).map_err(|_| src.stopped(name))?;
    walked.map(|w| (w, tar_len))
}

/// A streaming decoder of `compressed`. Multi-member decoders: pigz and
/// pbzip2 write several streams, and reading only the first would silently
/// drop the rest of the archive.
pub(super) fn decoder(compression: Compression, compressed: &[u8]) -> Box<dyn Read + Send + '_> {
    match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(compressed)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(compressed)),
        Compression::Xz => Box::new(super::xz::decoder(compressed)),
        // A plain tar, or the tar stream a zip was turned into.
        Compression::None | Compression::Zip => Box::new(compressed),
    }
}

/// A header block as a [`tar::Header`] (copied: 512 bytes).
pub(super) fn to_header(block: &[u8]) -> Option<tar::Header> {
    let bytes: &[u8; BLOCK] = block.try_into().ok()?;
    let mut header = tar::Header::new_old();
    *header.as_mut_bytes() = *bytes;
    Some(header)
}

/// Up to the first NUL (GNU long names end with one).
fn trim_nul(data: &[u8]) -> &[u8] {
    data.iter()
        .position(|&b| b == 0)
        .map_or(data, |end| &data[..end])
}

/// Parse PAX records (`"%d %s=%s\n"`, the length counting the whole
/// record) strictly by their lengths, as POSIX requires: a value may
/// contain newlines. `None` if any record is malformed.
pub(super) fn pax_records(data: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut records = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let digits = &rest[..space];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let len: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
        if len <= space + 2 || len > rest.len() || rest[len - 1] != b'\n' {
            return None;
        }
        let kv = &rest[space + 1..len - 1];
        let eq = kv.iter().position(|&b| b == b'=')?;
        if eq == 0 {
            return None;
        }
        records.push((&kv[..eq], &kv[eq + 1..]));
        rest = &rest[len..];
    }
    Some(records)
}

/// The header checksum: GNU tar accepts both the unsigned and the
/// (historical) signed byte sum, and so do we.
fn checksum_ok(block: &[u8], stored: u32) -> bool {
    let mut unsigned: u32 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u32::from(b);
        signed += i64::from(b as i8);
    }
    unsigned == stored || signed == i64::from(stored)
}

/// Extension data seen since the last member, waiting for its member.
#[derive(Default)]
struct Pending {
    start: Option<usize>,
    exts: Vec<Ext>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: bool,
    pax_path: Option<Vec<u8>>,
    pax_linkpath: Option<Vec<u8>>,
    pax_size: Option<u64>,
    /// The stored name of the first extension block, for messages.
    start_name: Option<Vec<u8>>,
}

/// What the walk found.
struct Walked {
    members: Vec<Member>,
    members_end: usize,
    top_dir: String,
    tree: Tree,
    /// The header block new members copy (the top directory's, else the
    /// first member's).
    template: Option<[u8; BLOCK]>,
}

/// Walk every member of the tar stream `src`, refusing at the first
/// hostile one.
fn walk<R: Read>(
    name: &str,
    src: &mut Stream<R>,
    limits: &Limits,
    hold: &Hold<'_>,
) -> Result<Walked, Error> {
    let refuse = |entry: &[u8], problem: EntryProblem| Error::Entry {
        input: name.to_string(),
        entry: show(entry),
        problem,
    };
    let mut members = Vec::new();
    let mut pending = Pending::default();
    let mut top: Option<String> = None;
    let mut tree = Tree::default();
    // Paths of regular-file members: the only valid hard-link targets.
    let mut regular: HashSet<InTreePath> = HashSet::new();
    let mut seen: HashSet<InTreePath> = HashSet::new();
    let mut top_seen = false;
    // Logical members so far: a PAX or GNU extension block is part of its
    // member, so the limit means the same for every archiver.
    let mut entries = 0usize;
    let mut pos = 0usize;
    let mut hold_left = hold.bytes;
    // The top directory's header, else the first member's.
    let mut template: Option<[u8; BLOCK]> = None;
    let mut first_template: Option<[u8; BLOCK]> = None;
    let mut block = [0u8; BLOCK];
    let mut scratch = vec![0u8; 64 * 1024];
    let members_end = loop {
        // A stream that ends without the two zero blocks is accepted:
        // the compressed stream's own checksum already proved it whole,
        // and several old archivers omit them.
        let n = src.fill(name, &mut block)?;
        if n == 0 {
            break pos;
        }
        if n < BLOCK {
            if block[..n].iter().all(|&b| b == 0) {
                break pos;
            }
            return Err(Error::Input {
                input: name.to_string(),
                problem: InputProblem::TarTruncated,
                near: src.last.clone(),
            });
        }
        if block.iter().all(|&b| b == 0) {
            // End of archive. Only zero padding may follow: anything else
            // is data some other tool (with ignore-zeros) would unpack.
            let mut zeros = true;
            loop {
                let n = src.fill(name, &mut scratch)?;
                zeros &= scratch[..n].iter().all(|&b| b == 0);
                if n < scratch.len() {
                    break;
                }
            }
            if !zeros {
                return Err(Error::Input {
                    input: name.to_string(),
                    problem: InputProblem::TrailingGarbage,
                    near: None,
                });
            }
            break pos;
        }
        let block = &block;
        let header = to_header(block)
            .ok_or_else(|| refuse(b"?", EntryProblem::CorruptHeader("short block".into())))?;
        let header_name = header.path_bytes().into_owned();
        let shown_name = |p: &Pending| -> Vec<u8> {
            p.pax_path
                .as_deref()
                .or(p.long_name.as_deref())
                .map_or_else(|| header_name.clone(), <[u8]>::to_vec)
        };
        let typeflag = block[156];
        if !matches!(typeflag, b'L' | b'K' | b'x' | b'g') {
            src.last = Some(show(&shown_name(&pending)));
        }
        let corrupt =
            |e: std::io::Error| refuse(&header_name, EntryProblem::CorruptHeader(e.to_string()));
        let stored = header.cksum().map_err(corrupt)?;
        if !checksum_ok(block, stored) {
            return Err(refuse(
                &header_name,
                EntryProblem::CorruptHeader("checksum mismatch".into()),
            ));
        }
        // The member's span must lie wholly inside the stream, padding
        // included: a member cut short is the "truncated tar" attack, where
        // tools that pad with zeros and tools that stop see different files.
        let size64 = header.entry_size().map_err(corrupt)?;
        let data = pos + BLOCK;
        let Some((size, end)) = usize::try_from(size64)
            .ok()
            .and_then(|size| Some((size, data.checked_add(padded(size)?)?)))
        else {
            return Err(refuse(&shown_name(&pending), EntryProblem::Truncated));
        };
        // What to keep of the data: extension blocks within their limit;
        // a regular file's content while the hold lasts (or always, for
        // the files the caller names), else its hash; nothing of what is
        // refused below anyway.
        let how = if matches!(typeflag, b'L' | b'K' | b'x' | b'g') {
            if size64 <= limits.max_extension_bytes {
                How::Hold
            } else {
                How::Skip
            }
        } else if size64 > limits.max_file_bytes {
            How::Skip
        } else if size64 <= hold_left || always_held(&shown_name(&pending), hold.always) {
            How::Hold
        } else {
            How::Hash
        };
        let Some(body) = read_body(name, src, size, how, &mut scratch)? else {
            return Err(refuse(&shown_name(&pending), EntryProblem::Truncated));
        };
        let body_bytes: &[u8] = match &body {
            Body::Held(data) => data,
            _ => &[],
        };

        // Extension blocks: remember what they say about the next member.
        if matches!(typeflag, b'L' | b'K' | b'x' | b'g') && size64 > limits.max_extension_bytes {
            return Err(refuse(
                &header_name,
                EntryProblem::ExtensionTooLarge {
                    limit: limits.max_extension_bytes,
                },
            ));
        }
        match typeflag {
            b'L' | b'K' => {
                let (slot, kind) = if typeflag == b'L' {
                    (&mut pending.long_name, ExtKind::LongName)
                } else {
                    (&mut pending.long_link, ExtKind::LongLink)
                };
                if slot.is_some() {
                    return Err(refuse(
                        &header_name,
                        EntryProblem::BadExtension("two GNU long names for one entry"),
                    ));
                }
                *slot = Some(trim_nul(body_bytes).to_vec());
                pending.start.get_or_insert(pos);
                pending
                    .start_name
                    .get_or_insert_with(|| header_name.clone());
                pending.exts.push(Ext {
                    kind,
                    header: pos,
                    size,
                });
                pos = end;
                continue;
            }
            b'x' => {
                if pending.pax {
                    return Err(refuse(
                        &header_name,
                        EntryProblem::BadExtension("two PAX headers for one entry"),
                    ));
                }
                let records = pax_records(body_bytes).ok_or_else(|| {
                    refuse(
                        &header_name,
                        EntryProblem::BadExtension("malformed PAX record"),
                    )
                })?;
                for (key, value) in records {
                    let bad = |why| refuse(&header_name, EntryProblem::BadExtension(why));
                    match key {
                        b"path" | b"linkpath" => {
                            let slot = if key == b"path" {
                                &mut pending.pax_path
                            } else {
                                &mut pending.pax_linkpath
                            };
                            if slot.replace(value.to_vec()).is_some() {
                                return Err(bad("a PAX path record appears twice"));
                            }
                        }
                        b"size" => {
                            let parsed = std::str::from_utf8(value)
                                .ok()
                                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                                .and_then(|v| v.parse::<u64>().ok())
                                .ok_or_else(|| bad("a PAX size record is not a number"))?;
                            if pending.pax_size.replace(parsed).is_some() {
                                return Err(bad("a PAX size record appears twice"));
                            }
                        }
                        k if k.starts_with(b"GNU.sparse.") => {
                            return Err(bad("GNU sparse files are not supported"));
                        }
                        _ => {}
                    }
                }
                pending.pax = true;
                pending.start.get_or_insert(pos);
                pending
                    .start_name
                    .get_or_insert_with(|| header_name.clone());
                pending.exts.push(Ext {
                    kind: ExtKind::Pax,
                    header: pos,
                    size,
                });
                pos = end;
                continue;
            }
            b'g' => {
                if pending.start.is_some() {
                    return Err(refuse(
                        &header_name,
                        EntryProblem::BadExtension(
                            "a global header sits between an extended header and its entry",
                        ),
                    ));
                }
                // Readers disagree on whether a global path or size applies
                // to the following members; refuse rather than guess.
                let records = pax_records(body_bytes).ok_or_else(|| {
                    refuse(
                        &header_name,
                        EntryProblem::BadExtension("malformed PAX record"),
                    )
                })?;
                if records.iter().any(|(k, _)| {
                    matches!(*k, b"path" | b"linkpath" | b"size") || k.starts_with(b"GNU.sparse.")
                }) {
                    return Err(refuse(
                        &header_name,
                        EntryProblem::BadExtension("a global header sets a path or size"),
                    ));
                }
                entries += 1;
                if entries > limits.max_entries {
                    return Err(refuse(
                        &header_name,
                        EntryProblem::TooManyEntries {
                            limit: limits.max_entries,
                        },
                    ));
                }
                members.push(Member {
                    start: pos,
                    header: pos,
                    end,
                    exts: Vec::new(),
                    kind: Kind::Global,
                });
                pos = end;
                continue;
            }
            _ => {}
        }

        // A member proper. Its name comes from PAX, else GNU, else the header.
        let full_raw = shown_name(&pending);
        let problem = |p| refuse(&full_raw, p);
        entries += 1;
        if entries > limits.max_entries {
            return Err(problem(EntryProblem::TooManyEntries {
                limit: limits.max_entries,
            }));
        }
        if pending.pax_path.is_some() && pending.long_name.is_some()
            || pending.pax_linkpath.is_some() && pending.long_link.is_some()
        {
            return Err(problem(EntryProblem::BadExtension(
                "both a PAX record and a GNU long name give the name",
            )));
        }
        // tar-rs, GNU tar and libarchive disagree on which size wins when
        // they differ; a member whose size depends on the reader is refused.
        if pending.pax_size.is_some_and(|s| s != size64) {
            return Err(problem(EntryProblem::BadExtension(
                "the PAX size record disagrees with the header",
            )));
        }
        // One view of the archive: a reader that ignores PAX (Archive::Tar,
        // which cpanm and CPAN.pm fall back to) takes the name and link
        // name from the header itself; when PAX says otherwise the two
        // readers unpack different files, so the member is refused. This
        // also refuses names too long for the ustar header (prefix and
        // name), which such readers cannot see whole; no CPAN dist needs
        // them.
        if let Some(pax) = pending.pax_path.as_deref() {
            if !same_name(pax, &header_name) {
                return Err(problem(EntryProblem::PaxDiffers {
                    record: "path",
                    header: show(&header_name),
                }));
            }
        }
        if let Some(pax) = pending.pax_linkpath.as_deref() {
            let own = header
                .link_name_bytes()
                .map(Cow::into_owned)
                .unwrap_or_default();
            if !same_name(pax, &own) {
                return Err(problem(EntryProblem::PaxDiffers {
                    record: "linkpath",
                    header: show(&own),
                }));
            }
        }
        // Non-UTF-8 names cannot become an `InTreePath`, and a patch could
        // not name them anyway; CPAN's own tools expect UTF-8 or ASCII.
        let full = std::str::from_utf8(&full_raw).map_err(|_| problem(EntryProblem::NotUtf8))?;
        #[derive(PartialEq)]
        enum T {
            File,
            Dir,
            Symlink,
            HardLink,
        }
        let t = match typeflag {
            // Old (v7) archivers mark directories by a trailing slash only.
            b'0' | 0 | b'7' if full.ends_with('/') => T::Dir,
            b'0' | 0 | b'7' => T::File,
            b'5' => T::Dir,
            b'2' => T::Symlink,
            b'1' => T::HardLink,
            b'3' | b'4' => return Err(problem(EntryProblem::Device)),
            b'6' => return Err(problem(EntryProblem::Fifo)),
            other => return Err(problem(EntryProblem::UnsupportedType(char::from(other)))),
        };
        // Readers differ on whether a link or directory's data is skipped;
        // refusing non-zero sizes keeps every reader on the same block.
        if t != T::File && size != 0 {
            return Err(problem(EntryProblem::DataOnNonFile { size: size64 }));
        }
        if t == T::File && size64 > limits.max_file_bytes {
            return Err(problem(EntryProblem::FileTooLarge {
                limit: limits.max_file_bytes,
            }));
        }
        // The whole name must be a safe relative path (no root, no `..`,
        // no control characters) before its first component is taken as
        // the top directory: `Foo/../../x` must fail here, not later.
        let path = match InTreePath::parse(full) {
            Ok(path) => path,
            // `tar -C dir -cf x.tar .` writes a `./` entry first. It names
            // nothing new, so it is kept as is and otherwise ignored.
            Err(PathError::Empty) if t == T::Dir => {
                members.push(Member {
                    start: pending.start.unwrap_or(pos),
                    header: pos,
                    end,
                    exts: std::mem::take(&mut pending.exts),
                    kind: Kind::Unnamed,
                });
                pending = Pending::default();
                pos = end;
                continue;
            }
            Err(e) => return Err(problem(EntryProblem::Path(e))),
        };
        let (first, rest) = match path.as_str().split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (path.as_str(), None),
        };
        // Only directories may sit at the top level: a file there would
        // land beside the distribution, outside the directory we patch.
        if rest.is_none() && t != T::Dir {
            return Err(problem(EntryProblem::TopLevel));
        }
        match &top {
            None => top = Some(first.to_string()),
            Some(t) if t != first => {
                return Err(problem(EntryProblem::SecondTopDir { top: t.clone() }))
            }
            Some(_) => {}
        }
        let kind = match rest {
            None => {
                if std::mem::replace(&mut top_seen, true) {
                    return Err(problem(EntryProblem::Duplicate));
                }
                Kind::TopDir
            }
            Some(rest) => {
                let p = InTreePath::parse(rest).map_err(|e| problem(EntryProblem::Path(e)))?;
                // Compared after normalisation, so `a//b` and `./a/b`
                // count as the same path as `a/b`.
                if !seen.insert(p.clone()) {
                    return Err(problem(EntryProblem::Duplicate));
                }
                let link_raw: Vec<u8> = pending
                    .pax_linkpath
                    .as_deref()
                    .or(pending.long_link.as_deref())
                    .map_or_else(
                        || {
                            header
                                .link_name_bytes()
                                .map(Cow::into_owned)
                                .unwrap_or_default()
                        },
                        <[u8]>::to_vec,
                    );
                match t {
                    T::Dir => {
                        tree.dirs.insert(p.clone());
                        Kind::Dir(p)
                    }
                    T::File => {
                        let mode = header.mode().map_err(corrupt)? & 0o7777;
                        match body {
                            Body::Held(data) => {
                                hold_left = hold_left.saturating_sub(size64);
                                tree.files.insert(p.clone(), FileEntry { data, mode });
                            }
                            Body::Hashed(sha256) => {
                                tree.unloaded.insert(
                                    p.clone(),
                                    Unloaded {
                                        mode,
                                        sha256,
                                        len: size64,
                                    },
                                );
                            }
                            // Only the data of a file over the limit is
                            // skipped, and that was refused above.
                            Body::Skipped => {
                                return Err(problem(EntryProblem::FileTooLarge {
                                    limit: limits.max_file_bytes,
                                }))
                            }
                        }
                        regular.insert(p.clone());
                        Kind::File(p)
                    }
                    T::Symlink => {
                        // Checked in `check_layout`, once every symlink is
                        // known (a target may pass through a later one).
                        let target = String::from_utf8(link_raw).map_err(|e| {
                            problem(EntryProblem::SymlinkBadTarget {
                                target: show(e.as_bytes()),
                            })
                        })?;
                        tree.symlinks.insert(p.clone(), target);
                        Kind::Symlink(p)
                    }
                    T::HardLink => {
                        // Hard-link targets are archive names (with the top
                        // directory), not relative to the link. Only an
                        // *earlier regular* member is accepted, so the
                        // content is known now and links cannot chain.
                        let bad = || {
                            problem(EntryProblem::HardLinkBad {
                                target: show(&link_raw),
                            })
                        };
                        let target = std::str::from_utf8(&link_raw)
                            .ok()
                            .and_then(|s| InTreePath::parse(s).ok())
                            .and_then(|t| {
                                let (first, rest) = t.as_str().split_once('/')?;
                                if Some(first) != top.as_deref() {
                                    return None;
                                }
                                InTreePath::parse(rest).ok()
                            })
                            .filter(|t| regular.contains(t))
                            .ok_or_else(bad)?;
                        // The link's content is its target's: held while
                        // the hold lasts, else kept as its hash.
                        if let Some(content) = tree.files.get(&target) {
                            let len = content.data.len() as u64;
                            if len <= hold_left || always_held(&full_raw, hold.always) {
                                hold_left = hold_left.saturating_sub(len);
                                let content = content.clone();
                                tree.files.insert(p.clone(), content);
                            } else {
                                let unloaded = Unloaded {
                                    mode: content.mode,
                                    sha256: Sha256::digest(&content.data).into(),
                                    len,
                                };
                                tree.unloaded.insert(p.clone(), unloaded);
                            }
                        } else {
                            let unloaded = *tree.unloaded.get(&target).ok_or_else(bad)?;
                            tree.unloaded.insert(p.clone(), unloaded);
                        }
                        Kind::HardLink(p, target)
                    }
                }
            }
        };
        if matches!(kind, Kind::TopDir) {
            template = Some(*block);
        } else if template.is_none() {
            first_template.get_or_insert(*block);
        }
        members.push(Member {
            start: pending.start.unwrap_or(pos),
            header: pos,
            end,
            exts: std::mem::take(&mut pending.exts),
            kind,
        });
        pending = Pending::default();
        pos = end;
    };
    if pending.start.is_some() {
        let raw = pending.start_name.take().unwrap_or_default();
        return Err(refuse(
            &raw,
            EntryProblem::BadExtension("an extended header has no entry after it"),
        ));
    }
    let top_dir = top.ok_or_else(|| Error::Input {
        input: name.to_string(),
        problem: InputProblem::Empty,
        near: None,
    })?;
    super::check_symlink_work(&tree, limits).map_err(|problem| Error::Input {
        input: name.to_string(),
        problem,
        near: None,
    })?;
    check_layout(name, &top_dir, &members, &tree)?;
    Ok(Walked {
        members,
        members_end,
        top_dir,
        tree,
        template: template.or(first_template),
    })
}

/// Whether two member names unpack to the same place: equal once empty
/// and `.` components are dropped (`./a//b/` is `a/b`).
fn same_name(a: &[u8], b: &[u8]) -> bool {
    let parts = |n: &[u8]| -> Vec<Vec<u8>> {
        n.split(|&c| c == b'/')
            .filter(|p| !p.is_empty() && *p != b".")
            .map(<[u8]>::to_vec)
            .collect()
    };
    parts(a) == parts(b)
}

/// Checks that need the whole archive: nothing below a file or symlink
/// (else unpacking writes through the link), symlinks stay inside, and
/// every name unpacks the same on every file system (`portable.rs`).
fn check_layout(name: &str, top: &str, members: &[Member], tree: &Tree) -> Result<(), Error> {
    let mut names = super::portable::Names::default();
    names.add(top).map_err(|problem| Error::Entry {
        input: name.to_string(),
        entry: show(top.as_bytes()),
        problem,
    })?;
    let non_dirs: BTreeSet<&str> = tree
        .file_paths()
        .chain(tree.symlinks.keys())
        .map(InTreePath::as_str)
        .collect();
    for member in members {
        let path = match &member.kind {
            Kind::Dir(p) | Kind::File(p) | Kind::Symlink(p) | Kind::HardLink(p, _) => p,
            Kind::Global | Kind::TopDir | Kind::Unnamed => continue,
        };
        let refuse = |problem| Error::Entry {
            input: name.to_string(),
            entry: show(format!("{top}/{path}").as_bytes()),
            problem,
        };
        if ancestors(path).any(|a| non_dirs.contains(a)) {
            return Err(refuse(EntryProblem::BelowNonDir));
        }
        names.add(&format!("{top}/{path}")).map_err(refuse)?;
        if let Some(target) = tree.symlinks.get(path) {
            check_symlink(path, target, |p| {
                InTreePath::parse(p).is_ok_and(|p| tree.symlinks.contains_key(&p))
            })
            .map_err(refuse)?;
        }
    }
    Ok(())
}

/// Whether the member named `raw` (top directory included) is one of the
/// files below the top directory whose content is always held.
fn always_held(raw: &[u8], always: &[&str]) -> bool {
    if always.is_empty() {
        return false;
    }
    std::str::from_utf8(raw)
        .ok()
        .and_then(|full| InTreePath::parse(full).ok())
        .and_then(|p| {
            p.as_str()
                .split_once('/')
                .map(|(_, rest)| always.contains(&rest))
        })
        .unwrap_or(false)
}
