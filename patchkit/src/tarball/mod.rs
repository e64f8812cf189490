//! Distribution archives and unpacked distribution directories: the only
//! way patchkit reads a CPAN tarball or writes a patched one.
//!
//! **What it owns.** [`Archive::read`] decompresses a `.tar.gz`,
//! `.tar.bz2` or `.tar.xz` once (reads a plain `.tar` as it is, and turns a
//! `.zip` into the tar stream it stands for: `zip.rs`), in memory, through a bounded reader, and walks the tar
//! members itself (headers parsed with the `tar` crate's [`tar::Header`],
//! never `unpack`) into a [`Tree`]; it keeps the compressed input, not the
//! decompressed tar. [`Archive::write_file`] (and [`Archive::write_to`])
//! stream the patched tarball: the input is decompressed again, unchanged
//! members are copied through byte for byte, changed and new ones written
//! from a list of [`Change`]s, and the result is compressed as the input was
//! (gzip over all cores by `gzip.rs`, one standard, deterministic gzip
//! member, into which `reuse.rs` copies the input's own deflate blocks
//! that decode to unchanged members; bzip2; xz; none for a plain tar; a
//! zip for a zip) into a temporary file renamed into place.
//! [`read_dir`] and [`write_dir`] do the same for an unpacked directory.
//!
//! **What it refuses** (each with one sentence naming the file and the
//! entry, see [`Error`]): absolute names, `..`, control characters, names
//! that are not UTF-8, anything outside the single top directory, symlinks
//! that are absolute, leave the tree or pass through another symlink, hard
//! links to anything but an earlier regular file, devices, FIFOs, sockets,
//! sparse and other exotic member types, the same path twice, a path below a
//! file or symlink, PAX records that disagree with the header (a `size`, or
//! a `path`/`linkpath` other than the header's own name, which readers that
//! ignore PAX such as Archive::Tar would use), names that collide under
//! case folding or that Windows reads differently (`portable.rs`), truncated or
//! corrupt compressed data, truncated members, non-zero data after the end
//! of the archive, and anything past the [`Limits`].
//!
//! **Invariants kept (docs/ARCHITECTURE.md).** "Untrusted input is bounded": every
//! limit is checked while streaming, before the data is trusted.
//! "Deterministic output" and "members that did not change keep their
//! bytes": unchanged members are copied byte for byte (extension headers,
//! data and padding included), changed ones keep their header fields, new
//! ones take their metadata from the archive itself, and the compressor
//! writes no time, name or host. "Nothing half-done": [`write_dir`] stages
//! every file under a temporary name and renames all or none.

use std::io;
use std::path::PathBuf;

#[cfg(doc)]
use crate::tree::{Change, Tree};
use crate::tree::{InTreePath, PathError, MAX_PATH_LEN};

mod dir;
mod gzip;
mod limits;
mod portable;
mod read;
mod reuse;
mod write;
mod xz;
mod zip;

#[cfg(test)]
mod tests;

pub use dir::{read_dir, recover_dir, write_dir, Recovered, JOURNAL};
pub use limits::Limits;
pub use read::{Archive, HOLD_BYTES};
pub use write::Written;

/// How an archive is compressed; the output is compressed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (`.tar.gz`, `.tgz`): magic bytes `1f 8b`.
    Gzip,
    /// bzip2 (`.tar.bz2`): magic bytes `BZh`.
    Bzip2,
    /// xz (`.tar.xz`, `.txz`): magic bytes `FD 37 7A 58 5A 00` (`xz.rs`).
    Xz,
    /// None (`.tar`): `ustar` at offset 257 of the first header.
    None,
    /// A zip (`.zip`, `zip.rs`): read as the tar stream it stands for,
    /// written back as a zip.
    Zip,
}

/// Why an archive, a directory or a change set was refused.
///
/// Every message is one sentence that names the input (the archive's file
/// name or the directory) and, where there is one, the entry at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One entry of the input is hostile, corrupt or over a limit.
    #[error("refusing {input}: entry \"{entry}\" {problem}")]
    Entry {
        /// The archive file name or directory path.
        input: String,
        /// The entry's full name as stored (escaped, bounded in length).
        entry: String,
        /// What is wrong with it.
        problem: EntryProblem,
    },
    /// The input as a whole is refused (compression, limits, layout).
    #[error("refusing {input}: {problem}{}", at_entry(.near))]
    Input {
        /// The archive file name or directory path.
        input: String,
        /// What is wrong.
        problem: InputProblem,
        /// The entry being unpacked when the problem showed, if known.
        near: Option<String>,
    },
    /// A change does not fit the archive or directory it is applied to.
    #[error("cannot change {input}: entry \"{entry}\" {problem}")]
    Change {
        /// The archive file name or directory path.
        input: String,
        /// The path inside the distribution.
        entry: String,
        /// Why the change cannot be made.
        problem: ChangeProblem,
    },
    /// A file-system or compressor operation failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done ("read", "rename", …).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn at_entry(near: &Option<String>) -> String {
    match near {
        Some(entry) => format!(", inside entry \"{entry}\""),
        None => String::new(),
    }
}

/// What is wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryProblem {
    /// The name is not a safe in-tree path (absolute, `..`, control
    /// character, empty, too long).
    #[error("{0}")]
    Path(#[from] PathError),
    /// The name is not valid UTF-8.
    #[error("has a name that is not UTF-8")]
    NotUtf8,
    /// The entry lies outside the archive's single top directory.
    #[error("is outside the top directory \"{top}\" (an archive must hold exactly one)")]
    SecondTopDir {
        /// The top directory established by the first entry.
        top: String,
    },
    /// A file, link or special entry directly at the top level.
    #[error("lies at the top level, outside any distribution directory")]
    TopLevel,
    /// The same path appears twice.
    #[error("appears twice, so different tools could see different content")]
    Duplicate,
    /// The path lies below a file or symlink of the same input.
    #[error("lies below a file or symlink, so unpacking it could write elsewhere")]
    BelowNonDir,
    /// A symlink with an absolute target.
    #[error("is a symlink to the absolute path \"{target}\"")]
    SymlinkAbsolute {
        /// The link target (escaped, bounded).
        target: String,
    },
    /// A symlink whose target, resolved from the link's directory, leaves
    /// the tree.
    #[error("is a symlink to \"{target}\", which leaves the distribution directory")]
    SymlinkEscapes {
        /// The link target (escaped, bounded).
        target: String,
    },
    /// A symlink whose target goes through another symlink, where `..`
    /// could resolve differently than it reads.
    #[error("is a symlink to \"{target}\", which passes through another symlink")]
    SymlinkThroughSymlink {
        /// The link target (escaped, bounded).
        target: String,
    },
    /// A symlink target that is empty, too long or has control characters.
    #[error("is a symlink to \"{target}\", which is not a usable path")]
    SymlinkBadTarget {
        /// The link target (escaped, bounded).
        target: String,
    },
    /// A hard link to something other than an earlier regular file.
    #[error(
        "is a hard link to \"{target}\", which is not an earlier regular file of the distribution"
    )]
    HardLinkBad {
        /// The link target (escaped, bounded).
        target: String,
    },
    /// A character or block device.
    #[error("is a device file")]
    Device,
    /// A named pipe.
    #[error("is a FIFO")]
    Fifo,
    /// An encrypted zip entry.
    #[error("is encrypted")]
    Encrypted,
    /// A Unix socket (directories and zips).
    #[error("is a socket")]
    Socket,
    /// A tar member type patchkit does not accept (sparse, multi-volume…).
    #[error("has the unsupported tar entry type {0:?}")]
    UnsupportedType(char),
    /// A directory, link or device that claims to carry data: tools
    /// disagree on whether to skip it, so the members after it are ambiguous.
    #[error("is not a regular file but claims {size} bytes of data")]
    DataOnNonFile {
        /// The size in the header.
        size: u64,
    },
    /// The archive ends before the member's data does.
    #[error("is cut short: the archive ends before its data does")]
    Truncated,
    /// A header whose checksum or numeric fields are corrupt.
    #[error("has a corrupt header ({0})")]
    CorruptHeader(String),
    /// A PAX extended header or GNU long name that cannot be parsed, is
    /// repeated, disagrees with the header, or describes nothing.
    #[error("has a bad extended header ({0})")]
    BadExtension(&'static str),
    /// A PAX or GNU extension block larger than the limit.
    #[error("has an extended header of more than {limit} bytes")]
    ExtensionTooLarge {
        /// [`Limits::max_extension_bytes`].
        limit: u64,
    },
    /// A single file over [`Limits::max_file_bytes`].
    #[error("is larger than the per-file limit of {limit} bytes")]
    FileTooLarge {
        /// The limit.
        limit: u64,
    },
    /// One entry too many.
    #[error("is past the limit of {limit} entries")]
    TooManyEntries {
        /// [`Limits::max_entries`].
        limit: usize,
    },
    /// The unpacked content of a directory passes [`Limits::max_unpacked_bytes`].
    #[error("brings the unpacked size past the limit of {limit} bytes")]
    UnpackedTooLarge {
        /// The limit.
        limit: u64,
    },
    /// A PAX `path` or `linkpath` that differs from the header's own name
    /// or link name, which readers that ignore PAX (Archive::Tar, used by
    /// cpanm and CPAN.pm) would use instead.
    #[error(
        "has a PAX {record} record that differs from the {record} in its header (\"{header}\"), \
         which tar readers that ignore PAX (Archive::Tar) would use instead"
    )]
    PaxDiffers {
        /// `path` or `linkpath`.
        record: &'static str,
        /// The header's own name (escaped, bounded).
        header: String,
    },
    /// Two paths that differ only in letter case.
    #[error(
        "has the path \"{this}\", which differs only in letter case from \"{other}\", so \
         case-insensitive file systems (Windows, macOS) would unpack one over the other"
    )]
    CaseCollision {
        /// The entry's path, or the directory above it, that collides.
        this: String,
        /// The path seen first (escaped, bounded).
        other: String,
    },
    /// A name Windows reads differently (see `portable.rs`).
    #[error("{0}")]
    NotPortable(&'static str),
    /// A file changed between listing and reading (directories only).
    #[error("changed while it was being read")]
    Raced,
}

/// What is wrong with an input as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputProblem {
    /// No known magic bytes.
    #[error("it is not a .tar.gz, .tar.bz2, .tar.xz, .tar or .zip archive")]
    UnknownFormat,
    /// The zip does not parse, or uses a feature patchkit does not read.
    #[error("the zip data is corrupt or unsupported ({0})")]
    ZipCorrupt(String),
    /// A zip whose central directory lists a name twice.
    #[error(
        "its central directory lists {listed} entries under {names} names: it holds a name \
         twice, so different tools could see different content"
    )]
    ZipDuplicate {
        /// Records listed.
        listed: u64,
        /// Distinct names.
        names: usize,
    },
    /// More entries than [`Limits::max_entries`] (zip central directory).
    #[error("it has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: usize,
    },
    /// The compressed file is over [`Limits::max_compressed_bytes`].
    #[error("it is larger than the limit of {limit} compressed bytes")]
    CompressedTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The compressed stream stops before its end marker.
    #[error("the compressed data ends early (a truncated download?)")]
    CompressedTruncated,
    /// The compressed stream is corrupt.
    #[error("the compressed data is corrupt ({0})")]
    CompressedCorrupt(String),
    /// More than [`Limits::max_unpacked_bytes`] came out.
    #[error("it unpacks to more than the limit of {limit} bytes")]
    UnpackedTooLarge {
        /// The limit.
        limit: u64,
    },
    /// More unpacked bytes than [`Limits::max_memory_bytes`] allows.
    #[error(
        "it unpacks to more than {cap} bytes, which would take more than the memory limit of \
         {limit} bytes per target (limits.memory_per_target)"
    )]
    MemoryTooLarge {
        /// [`Limits::max_memory_bytes`].
        limit: u64,
        /// The unpacked bytes that limit allows.
        cap: u64,
    },
    /// Symlink targets longer in total than [`Limits::max_symlink_bytes`].
    #[error(
        "its symlink targets add up to more than the limit of {limit} bytes \
         (limits.symlink_work), too much work to check that each stays inside"
    )]
    SymlinkWork {
        /// The limit.
        limit: u64,
    },
    /// Unpacked/compressed ratio over [`Limits::max_ratio`].
    #[error("it expands more than {ratio} times its compressed size, like a decompression bomb")]
    RatioTooHigh {
        /// The limit.
        ratio: u64,
    },
    /// The tar stream stops in the middle of a header block.
    #[error("the tar data ends in the middle of a header")]
    TarTruncated,
    /// Something other than zero blocks after the end-of-archive marker.
    #[error("there is non-zero data after the end of the tar archive")]
    TrailingGarbage,
    /// No top directory at all (no entries).
    #[error("it holds no distribution directory")]
    Empty,
    /// A directory input that is not a directory.
    #[error("it is not a directory")]
    NotADirectory,
}

/// Why a [`Change`] cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeProblem {
    /// A Modify or Delete of something that is not a regular file.
    #[error("is not a regular file of the distribution")]
    NotAFile,
    /// An Add of a path that exists.
    #[error("already exists")]
    AlreadyExists,
    /// Two changes name the same path.
    #[error("is changed twice in one change set")]
    ChangedTwice,
    /// The path lies below a file or symlink.
    #[error("lies below a file or symlink")]
    BelowNonDir,
    /// The content does not fit a tar header.
    #[error("is too large for a tar member")]
    TooLarge,
    /// The name does not fit the ustar header, and a PAX name would be
    /// seen differently by readers that ignore PAX.
    #[error("has a name too long for a ustar header (255 bytes, split at a '/')")]
    NameTooLong,
}

/// Entry names in messages: lossy UTF-8, control characters and quotes
/// escaped, at most 200 characters, so a hostile name can neither forge
/// terminal output nor flood the log.
pub(crate) fn show(raw: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

/// Check a symlink at `link` pointing to `target` against the tree's
/// other `symlinks`. Resolution is lexical from the link's directory; a
/// component that is itself a symlink and is followed by more components
/// is refused, because the file system would follow it first and a later
/// `..` would then climb from somewhere else (`d -> .`, `e -> d/../x`).
pub(crate) fn check_symlink(
    link: &InTreePath,
    target: &str,
    is_symlink: impl Fn(&str) -> bool,
) -> Result<(), EntryProblem> {
    let shown = || show(target.as_bytes());
    if target.is_empty()
        || target.len() > MAX_PATH_LEN
        || target.chars().any(|c| c.is_control() || c == '\\')
    {
        return Err(EntryProblem::SymlinkBadTarget { target: shown() });
    }
    let bytes = target.as_bytes();
    if target.starts_with('/')
        || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
    {
        return Err(EntryProblem::SymlinkAbsolute { target: shown() });
    }
    let mut stack: Vec<&str> = match link.as_str().rsplit_once('/') {
        Some((parent, _)) => parent.split('/').collect(),
        None => Vec::new(),
    };
    let parts: Vec<&str> = target.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        match *part {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(EntryProblem::SymlinkEscapes { target: shown() });
                }
            }
            name => {
                stack.push(name);
                if i + 1 < parts.len() && is_symlink(&stack.join("/")) {
                    return Err(EntryProblem::SymlinkThroughSymlink { target: shown() });
                }
            }
        }
    }
    Ok(())
}

/// Refuses a tree whose symlink targets are longer in total than
/// [`Limits::max_symlink_bytes`], before any of them is checked (each check
/// looks up every component of the target, so the work grows with the
/// square of a target's length).
pub(crate) fn check_symlink_work(
    tree: &crate::tree::Tree,
    limits: &Limits,
) -> Result<(), InputProblem> {
    let total = tree
        .symlinks
        .values()
        .fold(0u64, |sum, t| sum.saturating_add(t.len() as u64));
    if total > limits.max_symlink_bytes {
        return Err(InputProblem::SymlinkWork {
            limit: limits.max_symlink_bytes,
        });
    }
    Ok(())
}

/// The ancestors of `path`, outermost first (`a`, `a/b` for `a/b/c`).
pub(crate) fn ancestors(path: &InTreePath) -> impl Iterator<Item = &str> {
    let s = path.as_str();
    s.match_indices('/').map(move |(i, _)| &s[..i])
}
