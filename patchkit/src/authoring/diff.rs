//! `patchkit diff`: the `.patch` that turns a pristine distribution into an
//! edited copy, as patch-package does from an edited `node_modules`.
//!
//! The output is a git-style unified diff: `a/`/`b/` prefixes (strip 1),
//! three lines of context, files in sorted path order, `diff --git`
//! headers with `new file mode`, `deleted file mode` and `old mode`/`new
//! mode`. A rename is written as a delete and a create (every engine and
//! GNU patch apply that; rename detection would only save bytes). Hunks are
//! diffy's (`DiffOptions::create_patch_bytes`), line endings and missing
//! final newlines included, so CRLF files round-trip.
//!
//! Left out (the ignore list of docs/publishing.md), for files that are NOT
//! in the original — a file the distribution ships is always compared, so
//! a real fix can never be silently dropped:
//! - editor and merge leftovers: `*~`, `*.orig`, `*.rej`, `*.bak`,
//!   `.*.swp`, `.*.swo`, `.#*`, `#*#`, `.DS_Store`;
//! - build products: `blib/`, `_build/`, `pm_to_blib`, `MYMETA.*`,
//!   `Makefile` and `Makefile.old` (when `Makefile.PL` exists), `Build`
//!   (when `Build.PL` exists), `*.o`, `*.so`, `*.bs`, `*.dll`, and `X.c`
//!   when `X.xs` exists beside it (xsubpp's output);
//! - version control and patchkit's own record: any `.git/`, `.svn/`,
//!   `.hg/`, `CVS/`, `.patchkit/` directory.
//!
//! Refused, naming the file: a binary change (content with NUL bytes or
//! not UTF-8), a change to a symbolic link, a changed path that would need
//! quoting in a diff header (spaces, quotes, non-ASCII).
//!
//! Before anything is written the diff is checked: parsed back with
//! [`crate::patch::parse`] and applied with our engine to the original, it
//! must give exactly the edited tree (ignored files aside).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{find_record, set_str, Error, Today};
use crate::catalog::MAX_PATCH_BYTES;
use crate::patch::{self, dep3, ApplyOptions};
use crate::state;
use crate::state::read_bounded;
use crate::tarball::{self, Archive, Limits};
use crate::tree::{FileEntry, InTreePath, Tree};

/// What happened to one file in a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    /// Content changed (maybe the mode too).
    Modified,
    /// Only the executable bit changed.
    ModeChanged,
    /// A new file.
    Created,
    /// A removed file.
    Deleted,
}

/// One file of a made diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffFile {
    /// The path below the top directory.
    pub path: String,
    /// What changed.
    pub change: FileChange,
}

/// A diff made from two trees.
#[derive(Debug, Clone)]
pub struct MadeDiff {
    /// The diff text (no preamble).
    pub text: Vec<u8>,
    /// The files it changes, in order.
    pub files: Vec<DiffFile>,
    /// Paths left out by the ignore list.
    pub ignored: Vec<String>,
}

/// Directories never compared, wherever they are.
const IGNORED_DIRS: &[&str] = &[".git", ".svn", ".hg", "CVS", ".patchkit"];
/// Top-level build directories.
const BUILD_DIRS: &[&str] = &["blib", "_build"];
/// Suffixes of build products, anywhere.
const BUILD_SUFFIXES: &[&str] = &[".o", ".so", ".bs", ".dll"];
/// Suffixes of editor and merge leftovers, anywhere.
const BACKUP_SUFFIXES: &[&str] = &["~", ".orig", ".rej", ".bak"];

fn has(original: &Tree, edited: &Tree, path: &str) -> bool {
    InTreePath::parse(path)
        .map(|p| original.files.contains_key(&p) || edited.files.contains_key(&p))
        .unwrap_or(false)
}

/// Whether `path` is noise to leave out of a diff (see the module docs).
pub fn is_ignored(path: &InTreePath, original: &Tree, edited: &Tree) -> bool {
    if original.files.contains_key(path) || original.symlinks.contains_key(path) {
        return false;
    }
    let parts: Vec<&str> = path.as_str().split('/').collect();
    let (dirs, name) = parts.split_at(parts.len().saturating_sub(1));
    let name = name.first().copied().unwrap_or("");
    if dirs.iter().any(|d| IGNORED_DIRS.contains(d)) {
        return true;
    }
    if dirs.first().is_some_and(|d| BUILD_DIRS.contains(d)) {
        return true;
    }
    if BACKUP_SUFFIXES.iter().any(|s| name.ends_with(s))
        || BUILD_SUFFIXES.iter().any(|s| name.ends_with(s))
        || name.starts_with(".#")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
        || (name.starts_with('.') && (name.ends_with(".swp") || name.ends_with(".swo")))
        || name == ".DS_Store"
    {
        return true;
    }
    if dirs.is_empty() {
        let top = |f: &str| has(original, edited, f);
        if name == "pm_to_blib"
            || name.starts_with("MYMETA.")
            || ((name == "Makefile" || name == "Makefile.old") && top("Makefile.PL"))
            || (name == "Build" && top("Build.PL"))
        {
            return true;
        }
    }
    if let Some(stem) = path.as_str().strip_suffix(".c") {
        if has(original, edited, &format!("{stem}.xs")) {
            return true;
        }
    }
    false
}

/// Whether a path can stand in a diff header without quoting.
fn plain_path(path: &InTreePath) -> bool {
    path.as_str()
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"')
}

fn is_text(data: &[u8]) -> bool {
    !data.contains(&0) && std::str::from_utf8(data).is_ok()
}

/// Make the diff from `original` to `edited`. `label` names the edited
/// input in refusals.
pub fn make_diff(original: &Tree, edited: &Tree, label: &str) -> Result<MadeDiff, Error> {
    let refuse = |path: &InTreePath, reason: &str| Error::Input {
        input: label.to_string(),
        reason: format!("refusing {path}: {reason}"),
    };
    let mut ignored = Vec::new();
    // Symbolic links cannot be expressed by a patch our engine applies.
    let links: BTreeSet<&InTreePath> = original
        .symlinks
        .keys()
        .chain(edited.symlinks.keys())
        .collect();
    for path in links {
        if original.symlinks.get(path) != edited.symlinks.get(path)
            || original.files.contains_key(path) != edited.files.contains_key(path)
        {
            if is_ignored(path, original, edited) {
                ignored.push(path.to_string());
                continue;
            }
            return Err(refuse(path, "symbolic links cannot be changed by a patch"));
        }
    }
    let paths: BTreeSet<&InTreePath> = original.files.keys().chain(edited.files.keys()).collect();
    let mut text = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        let old = original.files.get(path);
        let new = edited.files.get(path);
        if old == new
            || matches!((old, new), (Some(o), Some(n)) if o.data == n.data && o.git_mode() == n.git_mode())
        {
            continue;
        }
        if is_ignored(path, original, edited) {
            ignored.push(path.to_string());
            continue;
        }
        if original.symlinks.contains_key(path) || edited.symlinks.contains_key(path) {
            return Err(refuse(
                path,
                "it is a file on one side and a symbolic link on the other",
            ));
        }
        if !plain_path(path) {
            return Err(refuse(
                path,
                "the path has spaces, quotes or non-ASCII characters, which patchkit does not \
                 write in diff headers",
            ));
        }
        let content_changes = old.map(|f| &f.data) != new.map(|f| &f.data);
        if content_changes
            && (old.is_some_and(|f| !is_text(&f.data)) || new.is_some_and(|f| !is_text(&f.data)))
        {
            return Err(refuse(
                path,
                "binary files (NUL bytes or not UTF-8) cannot go in a patch",
            ));
        }
        let change = write_file_diff(&mut text, path, old, new);
        files.push(DiffFile {
            path: path.to_string(),
            change,
        });
    }
    if files.is_empty() {
        return Err(Error::Refused(format!(
            "{label}: no differences from the original (ignored: {})",
            if ignored.is_empty() {
                "nothing".to_string()
            } else {
                ignored.join(", ")
            }
        )));
    }
    verify_round_trip(original, edited, &text, label)?;
    Ok(MadeDiff {
        text,
        files,
        ignored,
    })
}

/// Write one file's diff: the git header lines and diffy's hunks.
fn write_file_diff(
    out: &mut Vec<u8>,
    path: &InTreePath,
    old: Option<&FileEntry>,
    new: Option<&FileEntry>,
) -> FileChange {
    out.extend_from_slice(format!("diff --git a/{path} b/{path}\n").as_bytes());
    let empty: &[u8] = &[];
    let (old_name, new_name, old_data, new_data, change) = match (old, new) {
        (None, Some(n)) => {
            out.extend_from_slice(format!("new file mode {:o}\n", n.git_mode()).as_bytes());
            (
                "/dev/null".to_string(),
                format!("b/{path}"),
                empty,
                n.data.as_slice(),
                FileChange::Created,
            )
        }
        (Some(o), None) => {
            out.extend_from_slice(format!("deleted file mode {:o}\n", o.git_mode()).as_bytes());
            (
                format!("a/{path}"),
                "/dev/null".to_string(),
                o.data.as_slice(),
                empty,
                FileChange::Deleted,
            )
        }
        (Some(o), Some(n)) => {
            let mut change = FileChange::Modified;
            if o.git_mode() != n.git_mode() {
                out.extend_from_slice(
                    format!("old mode {:o}\nnew mode {:o}\n", o.git_mode(), n.git_mode())
                        .as_bytes(),
                );
                if o.data == n.data {
                    change = FileChange::ModeChanged;
                }
            }
            (
                format!("a/{path}"),
                format!("b/{path}"),
                o.data.as_slice(),
                n.data.as_slice(),
                change,
            )
        }
        // Both absent cannot happen (the path came from one of the trees).
        (None, None) => return FileChange::Modified,
    };
    if old_data != new_data {
        let mut opts = diffy::DiffOptions::new();
        opts.set_context_len(3)
            .set_original_filename(old_name)
            .set_modified_filename(new_name);
        let patch = opts.create_patch_bytes(old_data, new_data);
        // Writing into a Vec cannot fail; an empty context line keeps its
        // leading space (GNU diff's default, what every reader expects).
        let _ = diffy::PatchFormatter::new()
            .suppress_blank_empty(false)
            .write_patch_into(&patch, &mut *out);
    }
    change
}

/// Apply `text` to `original` with our engine and require exactly the
/// edited tree for every file that is not ignored.
fn verify_round_trip(
    original: &Tree,
    edited: &Tree,
    text: &[u8],
    label: &str,
) -> Result<(), Error> {
    let fail = |reason: String| Error::Input {
        input: label.to_string(),
        reason: format!("internal check failed, nothing written: {reason}"),
    };
    let parsed =
        patch::parse(text, 1).map_err(|e| fail(format!("the diff does not parse: {e}")))?;
    let mut tree = original.clone();
    patch::apply(&mut tree, &parsed, &ApplyOptions::default())
        .map_err(|e| fail(format!("the diff does not apply: {e}")))?;
    let view = |t: &Tree| -> Vec<(InTreePath, Vec<u8>, bool)> {
        t.files
            .iter()
            .filter(|(p, _)| !is_ignored(p, original, edited))
            .map(|(p, f)| (p.clone(), f.data.clone(), f.is_executable()))
            .collect()
    };
    if view(&tree) != view(edited) {
        return Err(fail(
            "applying the diff to the original does not give the edited tree".into(),
        ));
    }
    Ok(())
}

/// Read a tarball or a distribution directory into a tree.
pub fn read_input(path: &Path, limits: &Limits) -> Result<Tree, Error> {
    let label = path.display().to_string();
    if path.is_dir() {
        return tarball::read_dir(path, limits).map_err(|e| Error::Input {
            input: label,
            reason: e.to_string(),
        });
    }
    let bytes = read_bounded(path, limits.max_compressed_bytes).map_err(|e| Error::Input {
        input: label.clone(),
        reason: format!("cannot read: {e}"),
    })?;
    let name = crate::dist::target_name(path);
    let archive = Archive::read(&name, &bytes, limits).map_err(|e| Error::Input {
        input: label,
        reason: e.to_string(),
    })?;
    Ok(archive.into_tree())
}

/// What `patchkit diff` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// The record id.
    pub id: String,
    /// The patch file written.
    pub patch: PathBuf,
    /// The files the patch changes.
    pub files: Vec<DiffFile>,
    /// Paths left out by the ignore list.
    pub ignored: Vec<String>,
    /// Whether the existing patch's header (DEP-3) was kept.
    pub kept_header: bool,
}

/// `patchkit diff ORIGINAL EDITED --record ID`: write the record's patch.
pub fn write_diff(
    dir: &Path,
    id: &str,
    original: &Path,
    edited: &Path,
    today: Today,
) -> Result<DiffReport, Error> {
    let rec = find_record(dir, id)?;
    if rec.record.strip != 1 {
        return Err(Error::BadRecord {
            file: rec.path.clone(),
            reason: format!(
                "strip is {}, but `patchkit diff` writes a/ and b/ paths (strip 1); set strip = 1",
                rec.record.strip
            ),
        });
    }
    let limits = Limits::default();
    let old = read_input(original, &limits)?;
    let new = read_input(edited, &limits)?;
    let made = make_diff(&old, &new, &edited.display().to_string())?;
    let patch_path = rec.patch_path();
    // Keep the header of an existing patch (DEP-3 or free text): it was
    // written by a person or by `import`.
    let header = match std::fs::read(&patch_path) {
        Ok(existing) => dep3::preamble_of(&existing),
        Err(_) => String::new(),
    };
    let mut text = header.clone().into_bytes();
    text.extend_from_slice(&made.text);
    if text.len() > MAX_PATCH_BYTES {
        return Err(Error::Refused(format!(
            "{id}: the patch would be larger than {MAX_PATCH_BYTES} bytes"
        )));
    }
    patch::parse(&text, 1).map_err(|e| Error::Input {
        input: patch_path.display().to_string(),
        reason: format!("the kept header breaks the patch: {e}"),
    })?;
    state::write_atomic(&patch_path, &text, None)?;
    let mut doc = rec.document()?;
    set_str(&mut doc, "updated", &today.iso());
    rec.write(&doc)?;
    Ok(DiffReport {
        id: rec.record.id.to_string(),
        patch: patch_path,
        files: made.files,
        ignored: made.ignored,
        kept_header: !header.trim().is_empty(),
    })
}

#[cfg(test)]
mod tests;
