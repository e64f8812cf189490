//! Unpacked distribution directories: read one into a [`Tree`] with the
//! same refusals and limits as an archive, and apply [`Change`]s to one in
//! place, all or nothing (docs/ARCHITECTURE.md: "Nothing half-done").
//!
//! The walk never follows symlinks: each symlink is checked like an
//! archive's (inside the tree, not absolute, not through another symlink)
//! and recorded, not entered. Devices, FIFOs and sockets are refused.
//! Nothing is skipped, `.git/` included: the caller decides what matters.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::{
    ancestors, check_symlink, show, ChangeProblem, EntryProblem, Error, InputProblem, Limits,
};
use crate::tree::{Change, FileEntry, InTreePath, Tree};

/// Read the unpacked distribution directory at `path` (its top directory).
pub fn read_dir(path: &Path, limits: &Limits) -> Result<Tree, Error> {
    let input = path.display().to_string();
    let refuse = |entry: &str, problem| Error::Entry {
        input: input.clone(),
        entry: show(entry.as_bytes()),
        problem,
    };
    let io_err = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    // The distribution directory itself must be a real directory: through
    // a symlink, "inside the tree" would mean inside somewhere else.
    if !fs::symlink_metadata(path)
        .map_err(io_err("inspect", path))?
        .is_dir()
    {
        return Err(Error::Input {
            input,
            problem: InputProblem::NotADirectory,
            near: None,
        });
    }
    let mut tree = Tree::default();
    let mut entries = 0usize;
    let mut total = 0u64;
    // An explicit stack, not recursion: a hostile tree may be deep.
    let mut stack: Vec<(PathBuf, Option<InTreePath>)> = vec![(path.to_path_buf(), None)];
    while let Some((dir, rel)) = stack.pop() {
        let mut listing = fs::read_dir(&dir)
            .map_err(io_err("list", &dir))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io_err("list", &dir))?;
        // Sorted, so that which entry is refused first does not depend on
        // the file system's order.
        listing.sort_by_key(fs::DirEntry::file_name);
        for item in listing {
            let os_name = item.file_name();
            let shown_rel = |name: &str| match &rel {
                Some(r) => format!("{r}/{name}"),
                None => name.to_string(),
            };
            let Some(name) = os_name.to_str() else {
                return Err(refuse(
                    &shown_rel(&os_name.to_string_lossy()),
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
            let full = item.path();
            // DirEntry::file_type does not follow symlinks.
            let file_type = item.file_type().map_err(io_err("inspect", &full))?;
            if file_type.is_dir() {
                tree.dirs.insert(rel_path.clone());
                stack.push((full, Some(rel_path)));
            } else if file_type.is_symlink() {
                let target = fs::read_link(&full).map_err(io_err("read the link", &full))?;
                let target = target.to_str().map(str::to_string).ok_or_else(|| {
                    refuse(
                        &rel_name,
                        EntryProblem::SymlinkBadTarget {
                            target: show(target.to_string_lossy().as_bytes()),
                        },
                    )
                })?;
                tree.symlinks.insert(rel_path, target);
            } else if file_type.is_file() {
                let listed = item.metadata().map_err(io_err("inspect", &full))?;
                if listed.len() > limits.max_file_bytes {
                    return Err(refuse(
                        &rel_name,
                        EntryProblem::FileTooLarge {
                            limit: limits.max_file_bytes,
                        },
                    ));
                }
                let file = fs::File::open(&full).map_err(io_err("open", &full))?;
                let opened = file.metadata().map_err(io_err("inspect", &full))?;
                // The name could have been swapped for a symlink between
                // listing and opening; refuse unless it is the same file.
                if !same_file(&listed, &opened) {
                    return Err(refuse(&rel_name, EntryProblem::Raced));
                }
                // Read at most one byte over the limit: the file may have
                // grown since it was listed.
                let mut data = Vec::with_capacity(usize::try_from(listed.len()).unwrap_or(0));
                file.take(limits.max_file_bytes + 1)
                    .read_to_end(&mut data)
                    .map_err(io_err("read", &full))?;
                if data.len() as u64 > limits.max_file_bytes {
                    return Err(refuse(
                        &rel_name,
                        EntryProblem::FileTooLarge {
                            limit: limits.max_file_bytes,
                        },
                    ));
                }
                total += data.len() as u64;
                if total > limits.max_unpacked_bytes {
                    return Err(refuse(
                        &rel_name,
                        EntryProblem::UnpackedTooLarge {
                            limit: limits.max_unpacked_bytes,
                        },
                    ));
                }
                tree.files.insert(
                    rel_path,
                    FileEntry {
                        data,
                        mode: mode_of(&opened),
                    },
                );
            } else {
                return Err(refuse(&rel_name, special_problem(&file_type)));
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
    for (link, target) in &tree.symlinks {
        check_symlink(link, target, |p| {
            InTreePath::parse(p).is_ok_and(|p| tree.symlinks.contains_key(&p))
        })
        .map_err(|problem| refuse(link.as_str(), problem))?;
    }
    Ok(tree)
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino() && b.is_file()
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, b: &fs::Metadata) -> bool {
    b.is_file()
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

#[cfg(unix)]
fn special_problem(file_type: &fs::FileType) -> EntryProblem {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        EntryProblem::Fifo
    } else if file_type.is_socket() {
        EntryProblem::Socket
    } else {
        EntryProblem::Device
    }
}

#[cfg(not(unix))]
fn special_problem(_: &fs::FileType) -> EntryProblem {
    EntryProblem::Device
}

#[cfg(unix)]
fn set_mode(file: &fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
}

#[cfg(not(unix))]
fn set_mode(_: &fs::File, _: u32) -> io::Result<()> {
    Ok(())
}

/// `root` joined with an in-tree path, one component at a time.
fn on_disk(root: &Path, path: &str) -> PathBuf {
    let mut out = root.to_path_buf();
    out.extend(path.split('/'));
    out
}

#[cfg(test)]
thread_local! {
    /// Test hook: make the n-th rename of the commit phase fail.
    pub(super) static FAIL_RENAME_AT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn rename(from: &Path, to: &Path, _step: usize) -> io::Result<()> {
    #[cfg(test)]
    if FAIL_RENAME_AT.with(|f| f.get()) == Some(_step) {
        return Err(io::Error::other("injected rename failure"));
    }
    fs::rename(from, to)
}

/// A staged change: content under a temporary name beside its destination,
/// and a reserved name to move the original to.
struct Staged {
    dest: PathBuf,
    new: Option<tempfile::TempPath>,
    backup: Option<tempfile::TempPath>,
}

/// Apply `changes` to the directory at `path`, in place, all or nothing.
///
/// Every new or modified file is first written to a temporary file beside
/// its destination (parent directories are created as needed), given its
/// mode, then all are renamed into place; originals of modified and
/// deleted files are moved aside and only removed once every rename has
/// succeeded. On any failure everything done so far is undone (temporary
/// files and created directories removed, originals moved back) and the
/// error returned.
pub fn write_dir(path: &Path, changes: &[Change]) -> Result<(), Error> {
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
    // Check everything before touching anything. Parents must be real
    // directories (not symlinks: a write must not leave the tree even if
    // the directory changed since it was read).
    for (p, change) in &plan {
        for dir in ancestors(p) {
            match fs::symlink_metadata(on_disk(path, dir)) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(refuse(p, ChangeProblem::BelowNonDir)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(source) => {
                    return Err(Error::Io {
                        action: "inspect",
                        path: on_disk(path, dir),
                        source,
                    })
                }
            }
        }
        let dest = on_disk(path, p.as_str());
        let meta = fs::symlink_metadata(&dest);
        match (change, meta) {
            (Change::Add(..), Err(e)) if e.kind() == io::ErrorKind::NotFound => {}
            (Change::Add(..), _) => return Err(refuse(p, ChangeProblem::AlreadyExists)),
            (_, Ok(meta)) if meta.is_file() => {}
            _ => return Err(refuse(p, ChangeProblem::NotAFile)),
        }
    }
    // Directories this call created, in creation order, so that a failure
    // can remove exactly those and nothing the user had.
    let mut created: Vec<PathBuf> = Vec::new();
    let result = stage(path, &plan, &mut created).and_then(commit);
    if result.is_err() {
        // Deepest first, and only if empty: a directory someone else filled
        // meanwhile is left alone.
        for dir in created.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
    result
}

/// Phase 1: temporary files with the new content, backups reserved.
fn stage(
    root: &Path,
    plan: &BTreeMap<&InTreePath, &Change>,
    created: &mut Vec<PathBuf>,
) -> Result<Vec<Staged>, Error> {
    let mut staged = Vec::with_capacity(plan.len());
    for (p, change) in plan {
        let dest = on_disk(root, p.as_str());
        let parent = dest
            .parent()
            .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
        let fail = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        for dir in ancestors(p) {
            let dir = on_disk(root, dir);
            if !dir.exists() {
                fs::create_dir(&dir).map_err(fail("create", &dir))?;
                created.push(dir);
            }
        }
        let temp = |prefix: &str| {
            tempfile::Builder::new()
                .prefix(prefix)
                .tempfile_in(&parent)
                .map_err(fail("create a temporary file in", &parent))
        };
        // Same directory as the destination, so the later rename is atomic
        // (never a copy across file systems). Synced before the rename so a
        // crash cannot leave a renamed but empty file.
        let new = match change {
            Change::Modify(_, file) | Change::Add(_, file) => {
                let mut tmp = temp(".patchkit-new-")?;
                tmp.write_all(&file.data)
                    .and_then(|()| tmp.as_file().sync_all())
                    .map_err(fail("write", tmp.path()))?;
                set_mode(tmp.as_file(), file.mode).map_err(fail("set the mode of", tmp.path()))?;
                Some(tmp.into_temp_path())
            }
            Change::Delete(_) => None,
        };
        // Originals are moved aside, not deleted, until every rename has
        // worked: that is what makes the commit phase reversible.
        let backup = match change {
            Change::Modify(..) | Change::Delete(_) => {
                Some(temp(".patchkit-old-")?.into_temp_path())
            }
            Change::Add(..) => None,
        };
        staged.push(Staged { dest, new, backup });
    }
    Ok(staged)
}

/// Phase 2: move originals aside and new files into place; undo on failure.
fn commit(staged: Vec<Staged>) -> Result<(), Error> {
    let mut done: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut step = 0;
    let mut run = |from: &Path, to: &Path, done: &mut Vec<(PathBuf, PathBuf)>| {
        step += 1;
        rename(from, to, step).map_err(|source| Error::Io {
            action: "rename into place",
            path: to.to_path_buf(),
            source,
        })?;
        done.push((from.to_path_buf(), to.to_path_buf()));
        Ok::<(), Error>(())
    };
    let mut outcome = Ok(());
    for item in &staged {
        if let Some(backup) = &item.backup {
            outcome = run(&item.dest, backup, &mut done);
            if outcome.is_err() {
                break;
            }
        }
        if let Some(new) = &item.new {
            outcome = run(new, &item.dest, &mut done);
            if outcome.is_err() {
                break;
            }
        }
    }
    if outcome.is_err() {
        // Undo in reverse order. Best effort: a rename back within one
        // directory fails only if the file system itself is failing.
        for (from, to) in done.iter().rev() {
            let _ = fs::rename(to, from);
        }
    }
    // Dropping `staged` removes what is left under temporary names: the
    // originals after success, the new content after a failure.
    drop(staged);
    outcome
}
