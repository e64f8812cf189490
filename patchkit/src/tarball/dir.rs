//! Unpacked distribution directories: read one into a [`Tree`] with the
//! same refusals and limits as an archive, and apply [`Change`]s to one in
//! place, all or nothing (docs/ARCHITECTURE.md: "Nothing half-done").
//!
//! **Through directory handles.** Every operation starts from one handle
//! on the distribution directory, opened once, and goes down one component
//! at a time with `O_NOFOLLOW` (`openat`, `statat`, `renameat`, `unlinkat`
//! through `rustix`): no path is ever resolved again from its text, so a
//! folder swapped for a symlink while patchkit runs cannot make it read or
//! write outside the distribution — at worst the operation fails, or lands
//! in the folder the handle still names. The walk never follows symlinks:
//! each symlink is checked like an archive's (inside the tree, not
//! absolute, not through another symlink) and recorded, not entered.
//! Devices, FIFOs and sockets are refused. Nothing is skipped, `.git/`
//! included: the caller decides what matters.
//!
//! **The journal.** [`write_dir`] takes an exclusive `flock` on the
//! directory, writes `.patchkit/journal` (docs/formats.md) naming every
//! temporary file it will create, stages the new content under those names
//! (synced), marks the journal committed (the commit point), then renames
//! into place: the code first, the record (`META.json`, `META.yml`,
//! `MANIFEST`, `.patchkit/…`) last, `.patchkit/applied.json` the very last.
//! A process killed at any instant leaves a journal that [`recover_dir`]
//! (run by the next `apply`) rolls back (not yet committed) or finishes
//! (committed); [`read_dir`] refuses a directory with a pending journal, so
//! no command judges a half-written tree.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    ancestors, check_symlink, show, ChangeProblem, EntryProblem, Error, InputProblem, Limits,
};
use crate::tree::{sha256_hex, Change, FileEntry, InTreePath, Tree};

#[cfg(unix)]
use rustix::fs::{self as rfs, AtFlags, FileType, FlockOperation, Mode, OFlags, CWD};
#[cfg(unix)]
use std::os::fd::OwnedFd;

/// Where the journal of an in-place apply lives, inside the directory.
pub const JOURNAL: &str = ".patchkit/journal";
/// The largest journal [`recover_dir`] reads.
const MAX_JOURNAL_BYTES: u64 = 16 * 1024 * 1024;
/// Prefixes of staged new content and of originals moved aside.
const NEW_PREFIX: &str = ".patchkit-new-";
const OLD_PREFIX: &str = ".patchkit-old-";

/// What [`recover_dir`] did with an interrupted apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recovered {
    /// The apply had not reached its commit point: undone.
    RolledBack,
    /// The apply had committed: its remaining renames were done.
    Finished,
}

/// The journal of one in-place apply (docs/formats.md, "the apply
/// journal").
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Journal {
    /// Always `patchkit-apply-journal`.
    format: String,
    /// `1`.
    version: u32,
    /// `staging` (roll back) or `committed` (roll forward).
    state: String,
    /// Whether `.patchkit/` was created for this apply.
    patchkit_dir_created: bool,
    /// Directories this apply creates, parents first.
    mkdirs: Vec<String>,
    /// The renames, in the order they are made.
    steps: Vec<Step>,
}

/// One path of the change set.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    /// The in-tree path.
    path: String,
    /// Temporary name of the new content, beside `path` (absent: delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    staged: Option<String>,
    /// sha256 of the new content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// Temporary name the original is moved to (absent: an addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

/// Rank of a path in the rename order: the code first, then the META
/// files and MANIFEST, then `.patchkit/`, and `.patchkit/applied.json`
/// last — so that a record never claims code that is not in place.
fn record_rank(path: &str) -> u8 {
    match path {
        ".patchkit/applied.json" => 3,
        p if p.starts_with(".patchkit/") => 2,
        "META.json" | "META.yml" | "MANIFEST" => 1,
        _ => 0,
    }
}

fn io_error(action: &'static str, path: PathBuf) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// `root` joined with an in-tree path, one component at a time (for
/// messages only: nothing is opened through it).
fn on_disk(root: &Path, path: &str) -> PathBuf {
    let mut out = root.to_path_buf();
    if !path.is_empty() {
        out.extend(path.split('/'));
    }
    out
}

/// The parent directory and the last component of an in-tree path.
fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

#[cfg(unix)]
mod handles {
    //! The directory-handle primitives: every open below the root goes one
    //! component at a time, never following a symlink.
    use super::*;

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    /// Opens the distribution directory itself, refusing a symlink.
    pub(super) fn open_root(path: &Path, input: &str) -> Result<OwnedFd, Error> {
        match rfs::openat(CWD, path, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(fd),
            Err(e) if e == rustix::io::Errno::NOTDIR || e == rustix::io::Errno::LOOP => {
                Err(Error::Input {
                    input: input.to_string(),
                    problem: InputProblem::NotADirectory,
                    near: None,
                })
            }
            Err(e) => Err(Error::Io {
                action: "open",
                path: path.to_path_buf(),
                source: e.into(),
            }),
        }
    }

    /// Opens the directory `rel` below `root` ("" is the root itself).
    pub(super) fn open_beneath(root: &OwnedFd, rel: &str) -> io::Result<OwnedFd> {
        let mut fd = rfs::openat(root, ".", DIR_FLAGS, Mode::empty())?;
        if rel.is_empty() {
            return Ok(fd);
        }
        for component in rel.split('/') {
            fd = rfs::openat(&fd, component, DIR_FLAGS, Mode::empty())?;
        }
        Ok(fd)
    }

    /// What `name` in `dir` is, without following a symlink; `None` when
    /// absent.
    pub(super) fn kind_of(dir: &OwnedFd, name: &str) -> io::Result<Option<rfs::Stat>> {
        match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn file_type(st: &rfs::Stat) -> FileType {
        FileType::from_raw_mode(st.st_mode)
    }

    /// Opens the regular file `name` in `dir` for reading: no symlink, no
    /// blocking on a FIFO swapped in.
    pub(super) fn open_file(dir: &OwnedFd, name: &str) -> io::Result<std::fs::File> {
        let fd = rfs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        Ok(std::fs::File::from(fd))
    }

    /// Creates `name` in `dir` (it must not exist) with `data` and `mode`,
    /// synced.
    pub(super) fn create_file(dir: &OwnedFd, name: &str, data: &[u8], mode: u32) -> io::Result<()> {
        let fd = rfs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        let mut file = std::fs::File::from(fd);
        file.write_all(data)?;
        rfs::fchmod(&file, Mode::from_raw_mode(mode & 0o7777))?;
        file.sync_all()
    }

    /// Removes `name` from `dir`; an absent one is fine.
    pub(super) fn remove_file(dir: &OwnedFd, name: &str) -> io::Result<()> {
        match rfs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the directory's exclusive lock, or says who holds it.
    pub(super) fn lock(root: &OwnedFd, path: &Path) -> Result<(), Error> {
        match rfs::flock(root, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(Error::Io {
                action: "lock",
                path: path.to_path_buf(),
                source: io::Error::other("another patchkit is changing this directory"),
            }),
            Err(e) => Err(Error::Io {
                action: "lock",
                path: path.to_path_buf(),
                source: e.into(),
            }),
        }
    }

    pub(super) fn sync(fd: &OwnedFd) -> io::Result<()> {
        Ok(rfs::fsync(fd)?)
    }

    pub(super) fn rename(dir: &OwnedFd, from: &str, to: &str) -> io::Result<()> {
        Ok(rfs::renameat(dir, from, dir, to)?)
    }

    pub(super) fn mkdir(dir: &OwnedFd, name: &str) -> io::Result<()> {
        Ok(rfs::mkdirat(dir, name, Mode::from_raw_mode(0o755))?)
    }

    pub(super) fn rmdir(dir: &OwnedFd, name: &str) -> io::Result<()> {
        Ok(rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
    }

    /// The names in `dir`, sorted, without `.` and `..`.
    pub(super) fn list(dir: &OwnedFd) -> io::Result<Vec<Vec<u8>>> {
        let mut names = Vec::new();
        for entry in rfs::Dir::read_from(dir)? {
            let name = entry?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                names.push(name);
            }
        }
        // Sorted, so that which entry is refused first does not depend on
        // the file system's order.
        names.sort();
        Ok(names)
    }

    pub(super) fn read_link(dir: &OwnedFd, name: &str) -> io::Result<Vec<u8>> {
        Ok(rfs::readlinkat(dir, name, Vec::new())?.into_bytes())
    }
}

#[cfg(unix)]
use handles::*;

/// A journal, if `root` holds one, with the path to name in messages.
#[cfg(unix)]
fn read_journal(root: &OwnedFd, dir: &Path) -> Result<Option<Journal>, Error> {
    let shown = on_disk(dir, JOURNAL);
    let Ok(patchkit) = open_beneath(root, ".patchkit") else {
        return Ok(None);
    };
    let file = match open_file(&patchkit, "journal") {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("open", shown)(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_JOURNAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error("read", shown.clone()))?;
    let bad = |reason: String| Error::Io {
        action: "recover from",
        path: shown.clone(),
        source: io::Error::other(reason),
    };
    if bytes.len() as u64 > MAX_JOURNAL_BYTES {
        return Err(bad("the journal is larger than 16 MiB".into()));
    }
    let journal: Journal = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("the journal is not a patchkit apply journal ({e})")))?;
    // A journal may come from anywhere (an upstream tarball can ship one):
    // every name in it is checked before it is acted on.
    let temp_name = |n: &str, prefix: &str| {
        n.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    };
    let ok = journal.format == "patchkit-apply-journal"
        && journal.version == 1
        && (journal.state == "staging" || journal.state == "committed")
        && journal.mkdirs.iter().all(|d| InTreePath::parse(d).is_ok())
        && journal.steps.iter().all(|s| {
            InTreePath::parse(&s.path).is_ok()
                && s.staged.as_deref().is_none_or(|n| temp_name(n, NEW_PREFIX))
                && s.backup.as_deref().is_none_or(|n| temp_name(n, OLD_PREFIX))
                && s.staged.is_some() == s.sha256.is_some()
        });
    if !ok {
        return Err(bad(
            "the journal names a path or file patchkit never writes".into(),
        ));
    }
    Ok(Some(journal))
}

/// Read the unpacked distribution directory at `path` (its top directory).
///
/// A directory with a pending journal (an apply that was interrupted) is
/// refused: the next `apply` finishes or undoes it first.
pub fn read_dir(path: &Path, limits: &Limits) -> Result<Tree, Error> {
    #[cfg(unix)]
    {
        read_dir_unix(path, limits)
    }
    #[cfg(not(unix))]
    {
        let _ = limits;
        Err(unsupported(path))
    }
}

#[cfg(not(unix))]
fn unsupported(path: &Path) -> Error {
    Error::Io {
        action: "open",
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::Unsupported,
            "unpacked directories need a Unix system (directory handles)",
        ),
    }
}

#[cfg(unix)]
fn read_dir_unix(path: &Path, limits: &Limits) -> Result<Tree, Error> {
    let input = path.display().to_string();
    let refuse = |entry: &str, problem| Error::Entry {
        input: input.clone(),
        entry: show(entry.as_bytes()),
        problem,
    };
    // The distribution directory itself must be a real directory: through
    // a symlink, "inside the tree" would mean inside somewhere else.
    let root = open_root(path, &input)?;
    if kind_of(&root, ".patchkit")
        .ok()
        .flatten()
        .is_some_and(|st| file_type(&st) == FileType::Directory)
    {
        if let Ok(patchkit) = open_beneath(&root, ".patchkit") {
            if kind_of(&patchkit, "journal").ok().flatten().is_some() {
                return Err(Error::Io {
                    action: "read",
                    path: on_disk(path, JOURNAL),
                    source: io::Error::other(
                        "an interrupted apply is pending; `patchkit apply` on this directory \
                         finishes or undoes it",
                    ),
                });
            }
        }
    }
    let mut tree = Tree::default();
    let mut entries = 0usize;
    let mut total = 0u64;
    // An explicit stack, not recursion: a hostile tree may be deep. It
    // holds in-tree paths, not handles, so that a wide tree cannot run out
    // of file descriptors; each is opened again from the root, one
    // component at a time, never through a symlink.
    let mut stack: Vec<Option<InTreePath>> = vec![None];
    while let Some(rel) = stack.pop() {
        let rel_str = rel.as_ref().map_or("", InTreePath::as_str);
        let shown_dir = on_disk(path, rel_str);
        let dir = open_beneath(&root, rel_str).map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
                || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error())
            {
                refuse(rel_str, EntryProblem::Raced)
            } else {
                io_error("open", shown_dir.clone())(e)
            }
        })?;
        let listing = list(&dir).map_err(io_error("list", shown_dir.clone()))?;
        for raw in listing {
            let shown_rel = |name: &str| match &rel {
                Some(r) => format!("{r}/{name}"),
                None => name.to_string(),
            };
            let Ok(name) = std::str::from_utf8(&raw) else {
                return Err(refuse(
                    &shown_rel(&String::from_utf8_lossy(&raw)),
                    EntryProblem::NotUtf8,
                ));
            };
            let rel_name = shown_rel(name);
            // File names may still hold a backslash or control character,
            // which would become an unsafe name once packed or patched.
            let rel_path = InTreePath::parse(&rel_name)
                .map_err(|e| refuse(&rel_name, EntryProblem::Path(e)))?;
            entries += 1;
            if entries > limits.max_entries {
                return Err(refuse(
                    &rel_name,
                    EntryProblem::TooManyEntries {
                        limit: limits.max_entries,
                    },
                ));
            }
            let full = on_disk(path, &rel_name);
            let Some(listed) = kind_of(&dir, name).map_err(io_error("inspect", full.clone()))?
            else {
                return Err(refuse(&rel_name, EntryProblem::Raced));
            };
            match file_type(&listed) {
                FileType::Directory => {
                    tree.dirs.insert(rel_path.clone());
                    stack.push(Some(rel_path));
                }
                FileType::Symlink => {
                    let target = read_link(&dir, name).map_err(io_error("read the link", full))?;
                    let target = String::from_utf8(target).map_err(|e| {
                        refuse(
                            &rel_name,
                            EntryProblem::SymlinkBadTarget {
                                target: show(e.as_bytes()),
                            },
                        )
                    })?;
                    tree.symlinks.insert(rel_path, target);
                }
                FileType::RegularFile => {
                    let len = u64::try_from(listed.st_size).unwrap_or(u64::MAX);
                    if len > limits.max_file_bytes {
                        return Err(refuse(
                            &rel_name,
                            EntryProblem::FileTooLarge {
                                limit: limits.max_file_bytes,
                            },
                        ));
                    }
                    let file = open_file(&dir, name).map_err(|e| {
                        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                            refuse(&rel_name, EntryProblem::Raced)
                        } else {
                            io_error("open", full.clone())(e)
                        }
                    })?;
                    let opened = rfs::fstat(&file)
                        .map_err(|e| io_error("inspect", full.clone())(e.into()))?;
                    // The name could have been swapped between listing and
                    // opening; refuse unless it is the same regular file.
                    if opened.st_dev != listed.st_dev
                        || opened.st_ino != listed.st_ino
                        || file_type(&opened) != FileType::RegularFile
                    {
                        return Err(refuse(&rel_name, EntryProblem::Raced));
                    }
                    // Read at most one byte over the limit: the file may
                    // have grown since it was listed.
                    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                    file.take(limits.max_file_bytes + 1)
                        .read_to_end(&mut data)
                        .map_err(io_error("read", full))?;
                    if data.len() as u64 > limits.max_file_bytes {
                        return Err(refuse(
                            &rel_name,
                            EntryProblem::FileTooLarge {
                                limit: limits.max_file_bytes,
                            },
                        ));
                    }
                    total += data.len() as u64;
                    if total > limits.unpacked_cap() {
                        return Err(refuse(
                            &rel_name,
                            EntryProblem::UnpackedTooLarge {
                                limit: limits.unpacked_cap(),
                            },
                        ));
                    }
                    tree.files.insert(
                        rel_path,
                        FileEntry {
                            data,
                            mode: opened.st_mode & 0o7777,
                        },
                    );
                }
                FileType::Fifo => return Err(refuse(&rel_name, EntryProblem::Fifo)),
                FileType::Socket => return Err(refuse(&rel_name, EntryProblem::Socket)),
                _ => return Err(refuse(&rel_name, EntryProblem::Device)),
            }
        }
    }
    // The same portable-name rules as archives: a directory is packed and
    // unpacked elsewhere too (`portable.rs`).
    let mut names = super::portable::Names::default();
    let all: std::collections::BTreeSet<&InTreePath> = tree
        .files
        .keys()
        .chain(tree.symlinks.keys())
        .chain(tree.dirs.iter())
        .collect();
    for path in all {
        names
            .add(path.as_str())
            .map_err(|problem| refuse(path.as_str(), problem))?;
    }
    super::check_symlink_work(&tree, limits).map_err(|problem| Error::Input {
        input: path.display().to_string(),
        problem,
        near: None,
    })?;
    for (link, target) in &tree.symlinks {
        check_symlink(link, target, |p| {
            InTreePath::parse(p).is_ok_and(|p| tree.symlinks.contains_key(&p))
        })
        .map_err(|problem| refuse(link.as_str(), problem))?;
    }
    Ok(tree)
}

#[cfg(test)]
thread_local! {
    /// Test hook: make the n-th rename of the commit phase fail.
    pub(super) static FAIL_RENAME_AT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Handles on the directories of one apply, opened once each from the
/// root and kept: later steps never resolve a path again.
#[cfg(unix)]
struct Handles<'a> {
    root: &'a OwnedFd,
    dir: &'a Path,
    open: BTreeMap<String, OwnedFd>,
}

#[cfg(unix)]
impl Handles<'_> {
    fn get(&mut self, rel: &str) -> Result<&OwnedFd, Error> {
        if !self.open.contains_key(rel) {
            let fd =
                open_beneath(self.root, rel).map_err(io_error("open", on_disk(self.dir, rel)))?;
            self.open.insert(rel.to_string(), fd);
        }
        self.open.get(rel).ok_or_else(|| Error::Io {
            action: "open",
            path: on_disk(self.dir, rel),
            source: io::Error::other("directory handle lost"),
        })
    }

    /// Syncs every directory opened so far, so that renames in them are
    /// durable.
    fn sync_all(&self) -> Result<(), Error> {
        for (rel, fd) in &self.open {
            sync(fd).map_err(io_error("sync", on_disk(self.dir, rel)))?;
        }
        Ok(())
    }
}

/// Finish or undo an apply to the directory at `path` that was
/// interrupted (its `.patchkit/journal` is still there); `None` when there
/// was none. `apply` runs this before reading a directory.
///
/// # Errors
/// A journal that is not patchkit's, staged content whose hash differs
/// from the journal's, or a failing file system.
pub fn recover_dir(path: &Path) -> Result<Option<Recovered>, Error> {
    #[cfg(unix)]
    {
        let input = path.display().to_string();
        let root = open_root(path, &input)?;
        lock(&root, path)?;
        recover_locked(&root, path)
    }
    #[cfg(not(unix))]
    {
        Err(unsupported(path))
    }
}

#[cfg(unix)]
fn recover_locked(root: &OwnedFd, path: &Path) -> Result<Option<Recovered>, Error> {
    let Some(journal) = read_journal(root, path)? else {
        // A journal's temporary file alone: the apply died before its
        // journal existed, so nothing else was written.
        if let Ok(patchkit) = open_beneath(root, ".patchkit") {
            let _ = remove_file(&patchkit, "journal.tmp");
        }
        return Ok(None);
    };
    let mut handles = Handles {
        root,
        dir: path,
        open: BTreeMap::new(),
    };
    if journal.state == "committed" {
        roll_forward(&mut handles, &journal)?;
        finish(&mut handles, &journal)?;
        Ok(Some(Recovered::Finished))
    } else {
        roll_back(&mut handles, &journal)?;
        Ok(Some(Recovered::RolledBack))
    }
}

/// Completes every step of a committed journal that is not yet done.
#[cfg(unix)]
fn roll_forward(h: &mut Handles<'_>, journal: &Journal) -> Result<(), Error> {
    for step in &journal.steps {
        let (parent, name) = split(&step.path);
        let dest = on_disk(h.dir, &step.path);
        let dir = h.get(parent)?;
        match (&step.staged, &step.sha256) {
            (Some(staged), Some(sha)) => {
                // Staged content still there: this rename was not made.
                let Some(st) = kind_of(dir, staged).map_err(io_error("inspect", dest.clone()))?
                else {
                    continue;
                };
                let mut data = Vec::new();
                if file_type(&st) == FileType::RegularFile {
                    open_file(dir, staged)
                        .and_then(|f| f.take(MAX_JOURNAL_BYTES * 64).read_to_end(&mut data))
                        .map_err(io_error("read", dest.clone()))?;
                }
                if file_type(&st) != FileType::RegularFile
                    || !sha256_hex(&data).eq_ignore_ascii_case(sha)
                {
                    return Err(Error::Io {
                        action: "recover",
                        path: dest,
                        source: io::Error::other(format!(
                            "its staged content {staged} does not match the journal {JOURNAL}"
                        )),
                    });
                }
                rename(dir, staged, name).map_err(io_error("rename into place", dest))?;
            }
            _ => {
                // A deletion: the original goes (to its backup name, or
                // it is already gone).
                if let Some(backup) = &step.backup {
                    if kind_of(dir, name).ok().flatten().is_some() {
                        rename(dir, name, backup).map_err(io_error("remove", dest))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// After a committed apply: removes the originals moved aside and the
/// journal, each durable.
#[cfg(unix)]
fn finish(h: &mut Handles<'_>, journal: &Journal) -> Result<(), Error> {
    h.sync_all()?;
    for step in &journal.steps {
        if let Some(backup) = &step.backup {
            let (parent, _) = split(&step.path);
            let dir = h.get(parent)?;
            remove_file(dir, backup).map_err(io_error("remove", on_disk(h.dir, &step.path)))?;
        }
    }
    remove_journal(h)
}

#[cfg(unix)]
fn remove_journal(h: &mut Handles<'_>) -> Result<(), Error> {
    let base = h.dir;
    let patchkit = h.get(".patchkit")?;
    remove_file(patchkit, "journal").map_err(io_error("remove", on_disk(base, JOURNAL)))?;
    sync(patchkit).map_err(io_error("sync", on_disk(base, ".patchkit")))
}

/// Undoes an apply that had not committed: staged files and the
/// directories it made go; the originals were never touched.
#[cfg(unix)]
fn roll_back(h: &mut Handles<'_>, journal: &Journal) -> Result<(), Error> {
    for step in &journal.steps {
        if let Some(staged) = &step.staged {
            let (parent, _) = split(&step.path);
            // A parent that was never created holds nothing to remove.
            if let Ok(dir) = h.get(parent) {
                remove_file(dir, staged).map_err(io_error("remove", on_disk(h.dir, &step.path)))?;
            }
        }
    }
    for rel in journal.mkdirs.iter().rev() {
        let (parent, name) = split(rel);
        h.open.remove(rel.as_str());
        if let Ok(dir) = h.get(parent) {
            // Only if empty: a directory someone else filled is left alone.
            let _ = rmdir(dir, name);
        }
    }
    h.sync_all()?;
    remove_journal(h)?;
    if journal.patchkit_dir_created {
        h.open.remove(".patchkit");
        let _ = rmdir(h.root, ".patchkit");
    }
    Ok(())
}

/// Writes `journal` as `.patchkit/journal`: a temporary file, synced, then
/// renamed, then the directory synced — the rename is the commit point.
#[cfg(unix)]
fn write_journal(h: &mut Handles<'_>, journal: &Journal) -> Result<(), Error> {
    let shown = on_disk(h.dir, JOURNAL);
    let bytes = serde_json::to_vec_pretty(journal)
        .map_err(|e| io_error("write", shown.clone())(e.into()))?;
    let patchkit = h.get(".patchkit")?;
    remove_file(patchkit, "journal.tmp").map_err(io_error("write", shown.clone()))?;
    create_file(patchkit, "journal.tmp", &bytes, 0o644)
        .map_err(io_error("write", shown.clone()))?;
    rename(patchkit, "journal.tmp", "journal").map_err(io_error("write", shown.clone()))?;
    sync(patchkit).map_err(io_error("sync", shown))
}

/// Apply `changes` to the directory at `path`, in place, all or nothing,
/// through directory handles and the journal (see the module docs).
///
/// On a failure in this process everything done so far is undone (staged
/// files and created directories removed, originals moved back) and the
/// error returned; after a crash, [`recover_dir`] does the same or
/// finishes the apply.
pub fn write_dir(path: &Path, changes: &[Change]) -> Result<(), Error> {
    #[cfg(unix)]
    {
        write_dir_unix(path, changes)
    }
    #[cfg(not(unix))]
    {
        let _ = changes;
        Err(unsupported(path))
    }
}

#[cfg(unix)]
fn write_dir_unix(path: &Path, changes: &[Change]) -> Result<(), Error> {
    let input = path.display().to_string();
    let refuse = |p: &InTreePath, problem| Error::Change {
        input: input.clone(),
        entry: show(p.as_str().as_bytes()),
        problem,
    };
    let mut plan: BTreeMap<&InTreePath, &Change> = BTreeMap::new();
    for change in changes {
        if plan.insert(change.path(), change).is_some() {
            return Err(refuse(change.path(), ChangeProblem::ChangedTwice));
        }
    }
    let root = open_root(path, &input)?;
    lock(&root, path)?;
    if read_journal(&root, path)?.is_some() {
        return Err(Error::Io {
            action: "change",
            path: on_disk(path, JOURNAL),
            source: io::Error::other("an interrupted apply is pending"),
        });
    }
    // Check everything before touching anything. Parents must be real
    // directories (never symlinks); what is missing is created.
    let mut mkdirs: Vec<String> = Vec::new();
    for (p, change) in &plan {
        let mut missing = false;
        for dir in ancestors(p) {
            if missing {
                if !mkdirs.iter().any(|d| d == dir) {
                    mkdirs.push(dir.to_string());
                }
                continue;
            }
            let (parent, name) = split(dir);
            let parent_fd =
                open_beneath(&root, parent).map_err(|_| refuse(p, ChangeProblem::BelowNonDir))?;
            match kind_of(&parent_fd, name).map_err(io_error("inspect", on_disk(path, dir)))? {
                Some(st) if file_type(&st) == FileType::Directory => {}
                Some(_) => return Err(refuse(p, ChangeProblem::BelowNonDir)),
                None => {
                    missing = true;
                    if !mkdirs.iter().any(|d| d == dir) {
                        mkdirs.push(dir.to_string());
                    }
                }
            }
        }
        let (parent, name) = split(p.as_str());
        let meta = if missing {
            None
        } else {
            let parent_fd =
                open_beneath(&root, parent).map_err(|_| refuse(p, ChangeProblem::BelowNonDir))?;
            kind_of(&parent_fd, name).map_err(io_error("inspect", on_disk(path, p.as_str())))?
        };
        match (change, meta) {
            (Change::Add(..), None) => {}
            (Change::Add(..), Some(_)) => return Err(refuse(p, ChangeProblem::AlreadyExists)),
            (_, Some(st)) if file_type(&st) == FileType::RegularFile => {}
            _ => return Err(refuse(p, ChangeProblem::NotAFile)),
        }
    }
    // Parents before children (a parent's name is a prefix, so sorts first).
    mkdirs.sort();
    mkdirs.retain(|d| d != ".patchkit");

    // The steps, in rename order, with fresh temporary names: unique to
    // this process and numbered, created exclusively.
    let token = format!("{:x}", std::process::id());
    let mut ordered: Vec<(&InTreePath, &Change)> = plan.into_iter().collect();
    ordered.sort_by(|a, b| (record_rank(a.0.as_str()), a.0).cmp(&(record_rank(b.0.as_str()), b.0)));
    let steps: Vec<Step> = ordered
        .iter()
        .enumerate()
        .map(|(i, (p, change))| {
            let content = match change {
                Change::Modify(_, f) | Change::Add(_, f) => Some(f),
                Change::Delete(_) => None,
            };
            Step {
                path: p.as_str().to_string(),
                staged: content.map(|_| format!("{NEW_PREFIX}{token}-{i}")),
                sha256: content.map(|f| sha256_hex(&f.data)),
                backup: (!matches!(change, Change::Add(..)))
                    .then(|| format!("{OLD_PREFIX}{token}-{i}")),
            }
        })
        .collect();

    let mut handles = Handles {
        root: &root,
        dir: path,
        open: BTreeMap::new(),
    };
    let patchkit_dir_created = kind_of(&root, ".patchkit")
        .map_err(io_error("inspect", on_disk(path, ".patchkit")))?
        .is_none();
    if patchkit_dir_created {
        mkdir(&root, ".patchkit").map_err(io_error("create", on_disk(path, ".patchkit")))?;
    }
    let mut journal = Journal {
        format: "patchkit-apply-journal".into(),
        version: 1,
        state: "staging".into(),
        patchkit_dir_created,
        mkdirs,
        steps,
    };
    // Intent first: from here on a crash leaves a journal that says what
    // to remove.
    if let Err(e) = write_journal(&mut handles, &journal) {
        if patchkit_dir_created {
            let _ = rmdir(&root, ".patchkit");
        }
        return Err(e);
    }
    let staged = stage(&mut handles, &journal, &ordered);
    let outcome = staged.and_then(|()| {
        journal.state = "committed".into();
        write_journal(&mut handles, &journal)
    });
    if let Err(e) = outcome {
        let _ = roll_back(&mut handles, &journal);
        return Err(e);
    }
    commit(&mut handles, &journal)
}

/// Phase 1: the directories, then the new content under temporary names,
/// each synced, and their directories synced.
#[cfg(unix)]
fn stage(
    h: &mut Handles<'_>,
    journal: &Journal,
    ordered: &[(&InTreePath, &Change)],
) -> Result<(), Error> {
    for rel in &journal.mkdirs {
        let (parent, name) = split(rel);
        let dir = h.get(parent)?;
        mkdir(dir, name).map_err(io_error("create", on_disk(h.dir, rel)))?;
    }
    for (step, (_, change)) in journal.steps.iter().zip(ordered) {
        let (Change::Modify(_, file) | Change::Add(_, file)) = change else {
            continue;
        };
        let Some(staged) = &step.staged else {
            continue;
        };
        let (parent, _) = split(&step.path);
        let shown = on_disk(h.dir, &step.path);
        let dir = h.get(parent)?;
        create_file(dir, staged, &file.data, file.mode).map_err(io_error("write", shown))?;
    }
    h.sync_all()
}

#[cfg(unix)]
fn rename_step(
    h: &mut Handles<'_>,
    parent: &str,
    from: &str,
    to: &str,
    step: usize,
    shown: &Path,
) -> Result<(), Error> {
    #[cfg(test)]
    if FAIL_RENAME_AT.with(|f| f.get()) == Some(step) {
        return Err(Error::Io {
            action: "rename into place",
            path: shown.to_path_buf(),
            source: io::Error::other("injected rename failure"),
        });
    }
    let _ = step;
    let dir = h.get(parent)?;
    rename(dir, from, to).map_err(io_error("rename into place", shown.to_path_buf()))
}

/// Phase 2, after the commit point: originals aside and new content into
/// place, in the journal's order; on a failure, undo in reverse and roll
/// back. Then the originals and the journal go.
#[cfg(unix)]
fn commit(h: &mut Handles<'_>, journal: &Journal) -> Result<(), Error> {
    // (parent, from, to) of each rename made, to undo in reverse.
    let mut done: Vec<(String, String, String)> = Vec::new();
    let mut n = 0;
    let mut outcome = Ok(());
    'steps: for step in &journal.steps {
        let (parent, name) = split(&step.path);
        let shown = on_disk(h.dir, &step.path);
        let moves = [
            step.backup.as_deref().map(|b| (name, b)),
            step.staged.as_deref().map(|s| (s, name)),
        ];
        for (from, to) in moves.into_iter().flatten() {
            n += 1;
            outcome = rename_step(h, parent, from, to, n, &shown);
            if outcome.is_err() {
                break 'steps;
            }
            done.push((parent.to_string(), from.to_string(), to.to_string()));
        }
    }
    if let Err(e) = outcome {
        // Undo in reverse order; best effort: a rename back within one
        // directory fails only if the file system itself is failing. A
        // crash meanwhile leaves the committed journal, which finishes
        // the apply instead.
        for (parent, from, to) in done.iter().rev() {
            if let Ok(dir) = h.get(parent) {
                let _ = rename(dir, to, from);
            }
        }
        let _ = h.sync_all();
        // Staged files are all back under their names: undo from here.
        let mut undo = Journal {
            state: "staging".into(),
            format: journal.format.clone(),
            version: journal.version,
            patchkit_dir_created: journal.patchkit_dir_created,
            mkdirs: journal.mkdirs.clone(),
            steps: Vec::new(),
        };
        undo.steps = journal
            .steps
            .iter()
            .map(|s| Step {
                path: s.path.clone(),
                staged: s.staged.clone(),
                sha256: s.sha256.clone(),
                backup: s.backup.clone(),
            })
            .collect();
        if write_journal(h, &undo).is_ok() {
            let _ = roll_back(h, &undo);
        }
        return Err(e);
    }
    finish(h, journal)?;
    if journal.patchkit_dir_created {
        // Created only for the journal, when nothing else went there.
        let _ = rmdir(h.root, ".patchkit");
    }
    Ok(())
}
