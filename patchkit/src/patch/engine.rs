//! Applying a [`ParsedPatch`] to a [`Tree`], the way GNU patch would.
//!
//! Why this is hand-written on top of diffy rather than `diffy::apply`:
//! diffy places a hunk only where its header says (or fails), reports no
//! offsets, has no fuzz and cannot tell "already applied" from "conflict".
//! The reference for placement and output bytes is GNU patch 2.7
//! (`patch -p1 --fuzz=0 --no-backup-if-mismatch`): `locate_hunk`,
//! `patch_match`, `apply_hunk` and `copy_till` in its `patch.c`, and the
//! text cases in `tests/cases/` compare our output with the real tool.
//!
//! Invariants kept here (docs/ARCHITECTURE.md):
//! - **Strict by default**: a line matches only if its bytes, line ending
//!   included, are equal. Fuzz is used only when [`Fuzz::Lines`] asks.
//! - **A patch that is already applied is detected and reported**, by the
//!   content alone and strictly ([`carries`]): the fixed lines where the
//!   patch puts them, not a copy of them anywhere in the file.
//! - **Nothing half-done**: every change goes into a [`Stage`] (only the
//!   files the patch names are copied); the tree is written once, at the
//!   end, when every file diff applied.
//! - **No path outside the distribution**: paths are [`InTreePath`]s from
//!   [`parse()`](super::parse()); here we also refuse to write through or onto a
//!   symbolic link, or to put a file where a directory is.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::{FileMode, FilePatch, Hunk, HunkLine, Operation, ParsedPatch};
use crate::tree::{FileEntry, InTreePath, Tree};

/// Lines of expected context quoted in a [`ApplyError::HunkFailed`].
const EXPECTED_LINES: usize = 6;
/// Characters kept of each quoted line.
const EXPECTED_WIDTH: usize = 80;

/// How far a hunk's context may be ignored to make it fit.
///
/// The safe default is [`Fuzz::None`]: every context line must match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fuzz {
    /// Context must match exactly (GNU `--fuzz=0`).
    #[default]
    None,
    /// Up to this many leading and trailing context lines may be ignored
    /// when the exact match fails (GNU `--fuzz=N`).
    Lines(usize),
}

impl Fuzz {
    fn max(self) -> usize {
        match self {
            Fuzz::None => 0,
            Fuzz::Lines(n) => n,
        }
    }
}

/// Options for [`apply`]; the default is the strict behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Fuzz factor; [`Fuzz::None`] unless the patch record asks for more.
    pub fuzz: Fuzz,
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The patch applied; one report per file diff, in patch order.
    Applied(Vec<FileReport>),
    /// The patch did not apply, but the tree already carries it (see
    /// [`carries`]). Nothing was changed.
    AlreadyApplied,
}

/// How one file diff applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file written (or deleted).
    pub path: InTreePath,
    /// What was done to it.
    pub op: Operation,
    /// The mode the patch set, if it set one.
    pub mode: Option<FileMode>,
    /// One report per hunk.
    pub hunks: Vec<HunkReport>,
}

/// Where one hunk landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HunkReport {
    /// 1-based hunk number within its file diff.
    pub number: usize,
    /// Lines between where the header said and where the hunk applied,
    /// counted from the original file and carried over from the previous
    /// hunk of the file: the number GNU patch prints as "(offset N lines)".
    pub offset: isize,
    /// Context lines ignored at each end to make the hunk fit (0 unless
    /// fuzz was allowed).
    pub fuzz: usize,
}

/// The result of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Applied, or found already applied.
    pub outcome: Outcome,
    /// Every path whose entry was written or removed (empty when already
    /// applied). Pass it to [`Tree::changes_from`] to list the changes
    /// without walking the whole tree.
    pub touched: BTreeSet<InTreePath>,
}

/// Why a patch did not apply. The tree is unchanged in every case.
///
/// The caller adds the patch id and the distribution by wrapping this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A hunk's context (or removed lines) was not found.
    #[error(
        "{path}: hunk {hunk} context not found near line {line}{}",
        if *line_endings_differ { " (the patch and the file use different line endings)" } else { "" }
    )]
    HunkFailed {
        /// The file.
        path: InTreePath,
        /// 1-based hunk number within its file diff.
        hunk: usize,
        /// The line where the hunk was expected, in the file as it was.
        line: usize,
        /// The first lines the hunk expected (context and removed lines),
        /// at most 6, each cut at 80 characters; for the caller to show.
        expected: Vec<String>,
        /// The hunk's first line and the file's line there differ only in
        /// CRLF versus LF (the classic cause of a "missing" context).
        line_endings_differ: bool,
    },
    /// The reverse of the patch fits only at an offset while the lines the
    /// patch removes (its pre-image) are still in the file: not applied.
    #[error(
        "{path}: hunk {hunk}'s fixed lines appear only away from where the patch puts them, \
         and the lines it replaces are still in the file"
    )]
    PreImagePresent {
        /// The file.
        path: InTreePath,
        /// 1-based hunk number.
        hunk: usize,
    },
    /// A hunk would land before the end of the previous one.
    #[error("{path}: hunk {hunk} would apply before the end of the previous hunk")]
    HunkOutOfOrder {
        /// The file.
        path: InTreePath,
        /// 1-based hunk number.
        hunk: usize,
    },
    /// A hunk without old lines points past the end of the file.
    #[error("{path}: hunk {hunk} starts at line {line}, past the end of the file")]
    HunkPastEnd {
        /// The file.
        path: InTreePath,
        /// 1-based hunk number.
        hunk: usize,
        /// Where it would start.
        line: usize,
    },
    /// The file to modify, delete, rename or copy does not exist.
    #[error("{path}: the file to patch does not exist")]
    Missing {
        /// The file.
        path: InTreePath,
    },
    /// The file to create (or rename/copy onto) already exists.
    #[error("{path}: cannot create the file, it already exists")]
    Exists {
        /// The file.
        path: InTreePath,
    },
    /// A directory is in the way of a file to create.
    #[error("{path}: cannot create the file, a directory has that name")]
    IsADirectory {
        /// The file.
        path: InTreePath,
    },
    /// A regular file is in the way of a directory the new file needs.
    #[error("{path}: cannot create the file, {parent} is a file")]
    ParentIsFile {
        /// The file to create.
        path: InTreePath,
        /// The file that would have to be a directory.
        parent: InTreePath,
    },
    /// The file, or a directory above it, is a symbolic link.
    #[error("{path}: patches may not touch symbolic links")]
    Symlink {
        /// The file.
        path: InTreePath,
    },
    /// A file to delete has content the patch does not remove.
    #[error("{path}: not deleted, its content differs from the patch")]
    DeleteMismatch {
        /// The file.
        path: InTreePath,
    },
    /// git's `old mode` (or `deleted file mode`) disagrees with the file.
    #[error("{path}: the file has mode {} but the patch expects {}", found.as_git_str(), expected.as_git_str())]
    ModeMismatch {
        /// The file.
        path: InTreePath,
        /// What the patch says the mode is.
        expected: FileMode,
        /// What it is.
        found: FileMode,
    },
}

impl ApplyError {
    /// The file the error is about.
    pub fn path(&self) -> &InTreePath {
        match self {
            ApplyError::HunkFailed { path, .. }
            | ApplyError::HunkOutOfOrder { path, .. }
            | ApplyError::HunkPastEnd { path, .. }
            | ApplyError::PreImagePresent { path, .. }
            | ApplyError::Missing { path }
            | ApplyError::Exists { path }
            | ApplyError::IsADirectory { path }
            | ApplyError::ParentIsFile { path, .. }
            | ApplyError::Symlink { path }
            | ApplyError::DeleteMismatch { path }
            | ApplyError::ModeMismatch { path, .. } => path,
        }
    }

    /// The 1-based hunk number, when a hunk is at fault.
    pub fn hunk(&self) -> Option<usize> {
        match self {
            ApplyError::HunkFailed { hunk, .. }
            | ApplyError::PreImagePresent { hunk, .. }
            | ApplyError::HunkOutOfOrder { hunk, .. }
            | ApplyError::HunkPastEnd { hunk, .. } => Some(*hunk),
            _ => None,
        }
    }
}

/// Apply `patch` to `tree` in place.
///
/// Every file diff applies, in order, or none does: on error `tree` is
/// unchanged. When the patch does not apply but the tree already carries
/// it (see [`carries`]), the result is [`Outcome::AlreadyApplied`] and
/// `tree` is unchanged; when neither holds, the error is the first
/// failure of the forward patch. A partly applied patch is therefore an
/// error, not "already applied".
pub fn apply(
    tree: &mut Tree,
    patch: &ParsedPatch,
    opts: &ApplyOptions,
) -> Result<Applied, ApplyError> {
    apply_after(tree, patch, &[], opts)
}

/// [`apply`] for a patch that comes after `earlier` in the application
/// order of one target: their hunks explain where this patch's lines sit
/// in a tree that carries them all (see [`carries`]).
pub fn apply_after(
    tree: &mut Tree,
    patch: &ParsedPatch,
    earlier: &[&ParsedPatch],
    opts: &ApplyOptions,
) -> Result<Applied, ApplyError> {
    let forward = run(tree, patch, Direction::Forward, opts.fuzz.max(), None);
    let (changes, reports) = match forward {
        Ok(done) => done,
        Err(error) => {
            // Only now look at the reverse: a patch that applies forward is
            // applied, even if (unusually) its reverse would fit too.
            return match carries(tree, patch, earlier) {
                Ok(()) => Ok(Applied {
                    outcome: Outcome::AlreadyApplied,
                    touched: BTreeSet::new(),
                }),
                Err(_) => Err(error),
            };
        }
    };
    let mut touched = BTreeSet::new();
    for (path, entry) in changes {
        match entry {
            Some(entry) => {
                tree.unloaded.remove(&path);
                tree.files.insert(path.clone(), entry);
            }
            None => {
                tree.unloaded.remove(&path);
                tree.files.remove(&path);
            }
        }
        touched.insert(path);
    }
    Ok(Applied {
        outcome: Outcome::Applied(reports),
        touched,
    })
}

/// Whether `tree` already carries `patch`. The rule (docs/security.md,
/// "What a tarball says about itself"):
///
/// 1. its exact reverse (no fuzz) applies to every file with every hunk
///    **exactly where the patch puts its lines** — the new-side line of
///    the hunk header, or that line moved by the hunks of `earlier`
///    patches of the same target above it (a patch made against the
///    pristine file lands two lines lower after an earlier patch added two
///    lines at the top); or
/// 2. its exact reverse applies at an offset found by GNU patch's search
///    (upstream moved the fixed lines), **and** the forward patch's
///    pre-image is gone from every file it changes: no hunk's removed
///    lines (from its first to its last removed line), and for a hunk that
///    only adds lines no pair of the lines around the insertion point,
///    appear anywhere in the file.
///
/// So a copy of the fixed lines elsewhere (after `__END__`, in POD) does
/// not pass while the vulnerable lines are still in the file. This is
/// stricter than GNU patch, which guesses "Reversed (or previously
/// applied) patch detected" when the *first* hunk's reverse matches
/// anywhere its offset search reaches, and with `-N` skips the patch on
/// that guess alone.
pub fn carries(
    tree: &Tree,
    patch: &ParsedPatch,
    earlier: &[&ParsedPatch],
) -> Result<(), ApplyError> {
    let exact = run(tree, patch, Direction::Reverse, 0, Some(earlier));
    let Err(error) = exact else {
        return Ok(());
    };
    run(tree, patch, Direction::Reverse, 0, None).map_err(|_| error.clone())?;
    match pre_image_left(tree, patch) {
        None => Ok(()),
        Some((path, hunk)) => Err(ApplyError::PreImagePresent { path, hunk }),
    }
}

/// The first file and hunk of `patch` whose pre-image (see [`carries`])
/// is still in `tree`.
fn pre_image_left(tree: &Tree, patch: &ParsedPatch) -> Option<(InTreePath, usize)> {
    for file in &patch.files {
        if matches!(file.op, Operation::Create | Operation::Delete) {
            continue;
        }
        let Some(entry) = tree
            .files
            .get(&file.new_path)
            .or_else(|| tree.files.get(&file.old_path))
        else {
            continue;
        };
        let lines: Vec<&[u8]> = entry.data.split_inclusive(|&b| b == b'\n').collect();
        for (i, hunk) in file.hunks.iter().enumerate() {
            if pre_image(hunk)
                .iter()
                .any(|core| contains_run(&lines, core))
            {
                return Some((file.new_path.clone(), i + 1));
            }
        }
    }
    None
}

/// The runs of old lines that only the unpatched file has: the removed
/// lines from the first to the last (context between them included); for
/// a hunk that removes nothing, each pair of old lines around an
/// insertion point.
fn pre_image(hunk: &Hunk) -> Vec<Vec<&[u8]>> {
    let old: Vec<(bool, &[u8])> = hunk
        .lines
        .iter()
        .filter_map(|l| match l {
            HunkLine::Context(t) => Some((false, t.as_slice())),
            HunkLine::Delete(t) => Some((true, t.as_slice())),
            HunkLine::Insert(_) => None,
        })
        .collect();
    let first = old.iter().position(|(deleted, _)| *deleted);
    let last = old.iter().rposition(|(deleted, _)| *deleted);
    if let (Some(first), Some(last)) = (first, last) {
        return vec![old[first..=last].iter().map(|(_, t)| *t).collect()];
    }
    // Only insertions: the old lines on either side of each insertion.
    let mut cores = Vec::new();
    let mut before: Option<&[u8]> = None;
    let mut inserting = false;
    for line in &hunk.lines {
        match line {
            HunkLine::Insert(_) => inserting = true,
            HunkLine::Context(t) | HunkLine::Delete(t) => {
                if inserting {
                    if let Some(b) = before {
                        cores.push(vec![b, t.as_slice()]);
                    }
                    inserting = false;
                }
                before = Some(t.as_slice());
            }
        }
    }
    cores
}

/// Whether `run` appears as consecutive lines of `lines`.
fn contains_run(lines: &[&[u8]], run: &[&[u8]]) -> bool {
    !run.is_empty() && lines.windows(run.len()).any(|w| w == run)
}

/// The lines by which the hunks of `earlier` patches that touch `file`
/// and start above `hunk` move it: the sum of their line-count changes.
fn shift_from(earlier: &[&ParsedPatch], file: &FilePatch, hunk: &Hunk) -> isize {
    let mut shift = 0isize;
    for e in earlier {
        for f in e.files.iter().filter(|f| f.new_path == file.new_path) {
            for h in f.hunks.iter().filter(|h| h.old_start < hunk.old_start) {
                let delta = isize::try_from(h.new_len).unwrap_or(0)
                    - isize::try_from(h.old_len).unwrap_or(0);
                shift = shift.saturating_add(delta);
            }
        }
    }
    shift
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    /// Undo the patch: files in reverse order, each diff reversed.
    Reverse,
}

type Changes = BTreeMap<InTreePath, Option<FileEntry>>;

/// Apply every file diff to a stage over `tree`; return the staged changes.
fn run(
    tree: &Tree,
    patch: &ParsedPatch,
    direction: Direction,
    max_fuzz: usize,
    exact: Option<&[&ParsedPatch]>,
) -> Result<(Changes, Vec<FileReport>), ApplyError> {
    let mut stage = Stage {
        tree,
        changes: BTreeMap::new(),
    };
    let mut reports = Vec::with_capacity(patch.files.len());
    match direction {
        Direction::Forward => {
            for file in &patch.files {
                reports.push(apply_file(&mut stage, file, direction, max_fuzz, None)?);
            }
        }
        Direction::Reverse => {
            for file in patch.files.iter().rev() {
                // Where each reversed hunk must sit: exactly at its header
                // line, or moved by the earlier patches (see `carries`).
                let shifts: Option<Vec<isize>> = exact.map(|earlier| {
                    file.hunks
                        .iter()
                        .map(|h| shift_from(earlier, file, h))
                        .collect()
                });
                apply_file(&mut stage, file, direction, max_fuzz, shifts.as_deref())?;
            }
        }
    }
    Ok((stage.changes, reports))
}

/// The view of the tree with the changes made so far. Only files a patch
/// names are ever copied into `changes`; the tree itself is read-only here.
struct Stage<'t> {
    tree: &'t Tree,
    /// `None` marks a deleted file.
    changes: Changes,
}

impl Stage<'_> {
    fn file(&self, path: &InTreePath) -> Option<&FileEntry> {
        match self.changes.get(path) {
            Some(change) => change.as_ref(),
            None => self.tree.files.get(path),
        }
    }

    /// Whether a regular file is at `path`, its content held or not
    /// (the content of every file a patch names is held: see
    /// [`Tree::unloaded`]).
    fn exists(&self, path: &InTreePath) -> bool {
        match self.changes.get(path) {
            Some(change) => change.is_some(),
            None => self.tree.has_file(path),
        }
    }

    fn put(&mut self, path: InTreePath, entry: FileEntry) {
        self.changes.insert(path, Some(entry));
    }

    fn remove(&mut self, path: &InTreePath) {
        self.changes.insert(path.clone(), None);
    }

    /// Refuse `path` if it, or a directory above it, is a symbolic link:
    /// writing through a link could change a file the patch does not name.
    fn check_no_symlink(&self, path: &InTreePath) -> Result<(), ApplyError> {
        let mut at = Some(path.clone());
        while let Some(p) = at {
            if self.tree.symlinks.contains_key(&p) {
                return Err(ApplyError::Symlink { path: path.clone() });
            }
            at = p.parent();
        }
        Ok(())
    }

    fn existing(&self, path: &InTreePath) -> Result<&FileEntry, ApplyError> {
        self.check_no_symlink(path)?;
        self.file(path)
            .ok_or_else(|| ApplyError::Missing { path: path.clone() })
    }

    /// Check that a new file may be written at `path`.
    fn check_creatable(&self, path: &InTreePath) -> Result<(), ApplyError> {
        self.check_no_symlink(path)?;
        if self.exists(path) {
            return Err(ApplyError::Exists { path: path.clone() });
        }
        if self.tree.dirs.contains(path) || self.has_entries_under(path) {
            return Err(ApplyError::IsADirectory { path: path.clone() });
        }
        let mut parent = path.parent();
        while let Some(p) = parent {
            if self.exists(&p) {
                return Err(ApplyError::ParentIsFile {
                    path: path.clone(),
                    parent: p,
                });
            }
            parent = p.parent();
        }
        Ok(())
    }

    /// Whether any file or link lives below `dir/`. Keys below `dir/` sort
    /// between `dir` and `dir0` (`0` follows `/`), so only that range is read.
    fn has_entries_under(&self, dir: &InTreePath) -> bool {
        let prefix = format!("{dir}/");
        let upper = format!("{dir}0");
        let below = |key: &InTreePath| key.as_str().starts_with(&prefix);
        let range = (Bound::Excluded(dir), Bound::Unbounded);
        let in_tree = self
            .tree
            .files
            .range::<InTreePath, _>(range)
            .map(|(k, _)| k)
            .take_while(|k| k.as_str() < upper.as_str())
            .any(|k| below(k) && self.exists(k));
        let unloaded = self
            .tree
            .unloaded
            .range::<InTreePath, _>(range)
            .map(|(k, _)| k)
            .take_while(|k| k.as_str() < upper.as_str())
            .any(|k| below(k) && self.exists(k));
        let staged = self
            .changes
            .range::<InTreePath, _>(range)
            .take_while(|(k, _)| k.as_str() < upper.as_str())
            .any(|(k, v)| below(k) && v.is_some());
        let links = self
            .tree
            .symlinks
            .range::<InTreePath, _>(range)
            .take_while(|(k, _)| k.as_str() < upper.as_str())
            .any(|(k, _)| below(k));
        in_tree || unloaded || staged || links
    }

    /// For a plain diff whose two names differ (`x.orig` / `x`), pick the
    /// file to patch like GNU patch: the one that exists; if both do, the
    /// one with fewest components, then shortest base name, then shortest
    /// name, the old one on a tie.
    fn resolve(&self, old: &InTreePath, new: &InTreePath) -> Result<InTreePath, ApplyError> {
        if old == new {
            return Ok(old.clone());
        }
        self.check_no_symlink(old)?;
        self.check_no_symlink(new)?;
        let rank = |p: &InTreePath| {
            (
                p.as_str().split('/').count(),
                p.file_name().len(),
                p.as_str().len(),
            )
        };
        match (self.exists(old), self.exists(new)) {
            (true, false) => Ok(old.clone()),
            (false, true) => Ok(new.clone()),
            (true, true) if rank(new) < rank(old) => Ok(new.clone()),
            (true, true) => Ok(old.clone()),
            (false, false) => Err(ApplyError::Missing { path: new.clone() }),
        }
    }
}

/// One file diff as seen in a direction: what to do, and with which hunks.
enum Step<'p> {
    Modify {
        old: &'p InTreePath,
        new: &'p InTreePath,
    },
    Create(&'p InTreePath),
    Delete(&'p InTreePath),
    Rename {
        from: &'p InTreePath,
        to: &'p InTreePath,
    },
    Copy {
        from: &'p InTreePath,
        to: &'p InTreePath,
    },
    /// The reverse of a copy: `to` must equal `from` once the hunks are
    /// undone, and is then removed.
    Uncopy {
        from: &'p InTreePath,
        to: &'p InTreePath,
    },
}

fn apply_file(
    stage: &mut Stage<'_>,
    file: &FilePatch,
    direction: Direction,
    max_fuzz: usize,
    shifts: Option<&[isize]>,
) -> Result<FileReport, ApplyError> {
    let (old, new) = (&file.old_path, &file.new_path);
    let reversed_hunks: Vec<Hunk>;
    let (step, old_mode, new_mode, hunks): (Step<'_>, _, _, &[Hunk]) = match direction {
        Direction::Forward => {
            let step = match &file.op {
                Operation::Modify => Step::Modify { old, new },
                Operation::Create => Step::Create(new),
                Operation::Delete => Step::Delete(old),
                Operation::Rename { .. } => Step::Rename { from: old, to: new },
                Operation::Copy { .. } => Step::Copy { from: old, to: new },
            };
            (step, file.old_mode, file.new_mode, &file.hunks)
        }
        Direction::Reverse => {
            let step = match &file.op {
                Operation::Modify => Step::Modify { old: new, new: old },
                Operation::Create => Step::Delete(new),
                Operation::Delete => Step::Create(old),
                Operation::Rename { .. } => Step::Rename { from: new, to: old },
                Operation::Copy { .. } => Step::Uncopy { from: old, to: new },
            };
            reversed_hunks = file.hunks.iter().map(Hunk::reversed).collect();
            (step, file.new_mode, file.old_mode, &reversed_hunks)
        }
    };

    // GNU patch's search (offsets, fuzz when asked), or for the first
    // test of `carries` only the exact places it allows.
    let put_hunks = |path: &InTreePath, input: &[u8], hunks: &[Hunk], max_fuzz: usize| match shifts
    {
        None => place(path, input, hunks, max_fuzz),
        Some(shifts) => place_exact(path, input, hunks, shifts),
    };
    let (path, hunk_reports) = match step {
        Step::Modify { old, new } => {
            let target = stage.resolve(old, new)?;
            let entry = stage.existing(&target)?;
            check_mode(&target, entry, old_mode)?;
            let placed = put_hunks(&target, &entry.data, hunks, max_fuzz)?;
            let mode = set_mode(entry.mode, new_mode);
            stage.put(
                target.clone(),
                FileEntry {
                    data: placed.data,
                    mode,
                },
            );
            (target, placed.reports)
        }
        Step::Create(path) => {
            stage.check_creatable(path)?;
            let placed = put_hunks(path, b"", hunks, max_fuzz)?;
            // New files are 0644 unless the patch says 100755, like git.
            let mode = match new_mode {
                Some(FileMode::Executable) => 0o755,
                _ => 0o644,
            };
            stage.put(
                path.clone(),
                FileEntry {
                    data: placed.data,
                    mode,
                },
            );
            (path.clone(), placed.reports)
        }
        Step::Delete(path) => {
            let entry = stage.existing(path)?;
            check_mode(path, entry, old_mode)?;
            let placed = put_hunks(path, &entry.data, hunks, max_fuzz)?;
            // Whatever the hunks leave is content the patch did not expect.
            if !placed.data.is_empty() {
                return Err(ApplyError::DeleteMismatch { path: path.clone() });
            }
            stage.remove(path);
            (path.clone(), placed.reports)
        }
        Step::Rename { from, to } => {
            let entry = stage.existing(from)?.clone();
            check_mode(from, &entry, old_mode)?;
            let placed = put_hunks(to, &entry.data, hunks, max_fuzz)?;
            stage.remove(from);
            if from != to {
                stage.check_creatable(to)?;
            }
            let mode = set_mode(entry.mode, new_mode);
            stage.put(
                to.clone(),
                FileEntry {
                    data: placed.data,
                    mode,
                },
            );
            (to.clone(), placed.reports)
        }
        Step::Copy { from, to } => {
            let entry = stage.existing(from)?;
            check_mode(from, entry, old_mode)?;
            stage.check_creatable(to)?;
            let placed = put_hunks(to, &entry.data, hunks, max_fuzz)?;
            let mode = set_mode(entry.mode, new_mode);
            stage.put(
                to.clone(),
                FileEntry {
                    data: placed.data,
                    mode,
                },
            );
            (to.clone(), placed.reports)
        }
        Step::Uncopy { from, to } => {
            let original = stage.existing(from)?;
            let copy = stage.existing(to)?;
            let placed = put_hunks(to, &copy.data, hunks, max_fuzz)?;
            if placed.data != original.data {
                return Err(ApplyError::DeleteMismatch { path: to.clone() });
            }
            stage.remove(to);
            (to.clone(), placed.reports)
        }
    };

    let mode = match file.op {
        Operation::Create => Some(file.new_mode.unwrap_or(FileMode::Regular)),
        Operation::Delete => None,
        _ => file.new_mode.filter(|_| file.changes_mode()),
    };
    Ok(FileReport {
        path,
        op: file.op.clone(),
        mode,
        hunks: hunk_reports,
    })
}

fn mode_of(entry: &FileEntry) -> FileMode {
    if entry.is_executable() {
        FileMode::Executable
    } else {
        FileMode::Regular
    }
}

/// git's `old mode` must describe the file (only the executable bit counts,
/// as in git). Checking it is what lets a mode-only patch be recognised as
/// already applied instead of "applying" again.
fn check_mode(
    path: &InTreePath,
    entry: &FileEntry,
    expected: Option<FileMode>,
) -> Result<(), ApplyError> {
    match expected {
        Some(expected) if expected != mode_of(entry) => Err(ApplyError::ModeMismatch {
            path: path.clone(),
            expected,
            found: mode_of(entry),
        }),
        _ => Ok(()),
    }
}

/// Set or clear the executable bits; other permission bits are kept.
fn set_mode(mode: u32, new: Option<FileMode>) -> u32 {
    match new {
        Some(FileMode::Executable) => mode | 0o111,
        Some(FileMode::Regular) => mode & !0o111,
        None => mode,
    }
}

/// The patched bytes of one file and where each hunk went.
struct Placed {
    data: Vec<u8>,
    reports: Vec<HunkReport>,
}

/// Apply `hunks` to `input` (one file's bytes), or say which hunk failed.
fn place(
    path: &InTreePath,
    input: &[u8],
    hunks: &[Hunk],
    max_fuzz: usize,
) -> Result<Placed, ApplyError> {
    let mut out = Output::new(input);
    let mut reports = Vec::with_capacity(hunks.len());
    for (i, hunk) in hunks.iter().enumerate() {
        let number = i + 1;
        let shape = Shape::of(hunk);
        // GNU patch never ignores more context than the hunk has.
        let max = max_fuzz.min(shape.prefix_context.max(shape.suffix_context));
        let first_guess = shape.first + out.in_offset;
        let mut found = None;
        for fuzz in 0..=max {
            if let Some(at) = out.locate(&shape, fuzz) {
                found = Some((at, fuzz));
                break;
            }
        }
        let Some((at, fuzz)) = found else {
            return Err(hunk_failed(path, number, &shape, &out, first_guess));
        };
        // A hunk without old lines lands where its header says, which may
        // be before the previous hunk; apply_hunk catches the other cases.
        let Ok(at) = usize::try_from(at) else {
            return Err(ApplyError::HunkOutOfOrder {
                path: path.clone(),
                hunk: number,
            });
        };
        if at == 0 {
            return Err(ApplyError::HunkOutOfOrder {
                path: path.clone(),
                hunk: number,
            });
        }
        // Only a hunk without old lines can land anywhere (GNU patch then
        // appends at end of file); refuse a start beyond the file's end.
        if at > out.input.len() + 1 {
            return Err(ApplyError::HunkPastEnd {
                path: path.clone(),
                hunk: number,
                line: at,
            });
        }
        if !out.apply_hunk(hunk, at) {
            return Err(ApplyError::HunkOutOfOrder {
                path: path.clone(),
                hunk: number,
            });
        }
        reports.push(HunkReport {
            number,
            offset: out.in_offset,
            fuzz,
        });
    }
    out.finish();
    Ok(Placed {
        data: out.out,
        reports,
    })
}

/// Apply `hunks` with hunk `i` exactly at its header line, or at that
/// line moved by `shifts[i]`; no search, no fuzz (see [`carries`]).
fn place_exact(
    path: &InTreePath,
    input: &[u8],
    hunks: &[Hunk],
    shifts: &[isize],
) -> Result<Placed, ApplyError> {
    let mut out = Output::new(input);
    let mut reports = Vec::with_capacity(hunks.len());
    for (i, hunk) in hunks.iter().enumerate() {
        let number = i + 1;
        let shape = Shape::of(hunk);
        let shift = shifts.get(i).copied().unwrap_or(0);
        let free = |at: isize| at > out.last_frozen as isize;
        let found = [0, shift]
            .into_iter()
            .map(|s| (s, shape.first + s))
            .find(|&(_, at)| {
                free(at) && (shape.pattern.is_empty() || out.matches(&shape, at, 0, 0))
            });
        let Some((offset, at)) = found else {
            return Err(hunk_failed(path, number, &shape, &out, shape.first));
        };
        let at = usize::try_from(at).unwrap_or(0);
        if at == 0 || at > out.input.len() + 1 || !out.apply_hunk(hunk, at) {
            return Err(hunk_failed(path, number, &shape, &out, shape.first));
        }
        reports.push(HunkReport {
            number,
            offset,
            fuzz: 0,
        });
    }
    out.finish();
    Ok(Placed {
        data: out.out,
        reports,
    })
}

fn hunk_failed(
    path: &InTreePath,
    number: usize,
    shape: &Shape<'_>,
    out: &Output<'_>,
    first_guess: isize,
) -> ApplyError {
    let line = usize::try_from(first_guess.max(1)).unwrap_or(1);
    // As GNU patch's check_line_endings: compare the hunk's first line with
    // the file's line at the expected place (or its last line).
    let is_crlf = |l: &[u8]| l.ends_with(b"\r\n");
    let line_endings_differ = match (shape.pattern.first(), out.input.len()) {
        (Some(first), n) if n > 0 => {
            let at = line.min(n) - 1;
            is_crlf(first) != is_crlf(out.input[at])
        }
        _ => false,
    };
    let expected = shape
        .pattern
        .iter()
        .take(EXPECTED_LINES)
        .map(|l| show_line(l))
        .collect();
    ApplyError::HunkFailed {
        path: path.clone(),
        hunk: number,
        line,
        expected,
        line_endings_differ,
    }
}

/// A patch line for a person: line ending dropped (a CR shown as `\r`),
/// cut at [`EXPECTED_WIDTH`] characters.
fn show_line(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let (line, cr) = match line.strip_suffix(b"\r") {
        Some(l) => (l, true),
        None => (line, false),
    };
    let text = String::from_utf8_lossy(line);
    let mut shown: String = text.chars().take(EXPECTED_WIDTH).collect();
    if text.chars().count() > EXPECTED_WIDTH {
        shown.push('…');
    } else if cr {
        shown.push_str("\\r");
    }
    shown
}

/// What [`Output::locate`] needs to know about a hunk, in GNU patch's terms.
struct Shape<'h> {
    /// `pch_first`: the old start line; one more for a hunk without old
    /// lines (its header names the line *after which* to insert).
    first: isize,
    /// The old side (context and removed lines): what must match.
    pattern: Vec<&'h [u8]>,
    /// Context lines before the first change.
    prefix_context: usize,
    /// Context lines after the last change.
    suffix_context: usize,
}

impl<'h> Shape<'h> {
    fn of(hunk: &'h Hunk) -> Self {
        let is_context = |l: &&HunkLine| matches!(l, HunkLine::Context(_));
        let prefix_context = hunk.lines.iter().take_while(is_context).count();
        let suffix_context = hunk.lines.iter().rev().take_while(is_context).count();
        let start = isize::try_from(hunk.old_start).unwrap_or(isize::MAX);
        Shape {
            first: if hunk.old_len == 0 {
                start.saturating_add(1)
            } else {
                start
            },
            pattern: hunk.old_lines().collect(),
            prefix_context,
            suffix_context,
        }
    }
}

/// GNU patch's output state for one file: the input split in lines, the
/// output so far, and how much of the input has been consumed.
struct Output<'a> {
    /// Input lines, each with its `\n` (the last one may lack it).
    input: Vec<&'a [u8]>,
    out: Vec<u8>,
    /// Whether the output so far ends with a newline (GNU's
    /// `after_newline`): a line without one that is followed by more text
    /// gets its newline back, as GNU patch does.
    after_newline: bool,
    /// Input lines 1..=last_frozen are copied or deleted already; no later
    /// hunk may match them (GNU's `last_frozen_line`).
    last_frozen: usize,
    /// Offset of the previous hunk of this file (GNU's `in_offset`): the
    /// next hunk is first looked for where its header says plus this.
    in_offset: isize,
}

impl<'a> Output<'a> {
    fn new(input: &'a [u8]) -> Self {
        Output {
            input: input.split_inclusive(|&b| b == b'\n').collect(),
            out: Vec::with_capacity(input.len() + input.len() / 8),
            after_newline: true,
            last_frozen: 0,
            in_offset: 0,
        }
    }

    fn lines(&self) -> isize {
        isize::try_from(self.input.len()).unwrap_or(isize::MAX)
    }

    /// Input line `n` (1-based), if it exists.
    fn line(&self, n: isize) -> Option<&'a [u8]> {
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        self.input.get(index).copied()
    }

    /// GNU patch's `locate_hunk`: the line where the hunk's pattern starts,
    /// trying the expected line first, then +1, -1, +2, -2, … within the
    /// part of the file that is still free. Updates `in_offset`.
    fn locate(&mut self, shape: &Shape<'_>, fuzz: usize) -> Option<isize> {
        let fuzz = isize::try_from(fuzz).unwrap_or(isize::MAX);
        let first_guess = shape.first + self.in_offset;
        let pat_lines = shape.pattern.len() as isize;
        let prefix_context = shape.prefix_context as isize;
        let suffix_context = shape.suffix_context as isize;
        let context = prefix_context.max(suffix_context);
        let mut prefix_fuzz = fuzz + prefix_context - context;
        let suffix_fuzz = fuzz + suffix_context - context;
        let input_lines = self.lines();
        let last_frozen = self.last_frozen as isize;
        let max_where = input_lines - (pat_lines - suffix_fuzz) + 1;
        // GNU patch 2.7 lets nothing match lines already written out.
        let min_where = last_frozen + 1;
        let max_pos_offset = max_where - first_guess;
        let mut max_neg_offset = first_guess - min_where;
        let max_offset = max_pos_offset.max(max_neg_offset);

        if pat_lines == 0 {
            // Nothing to match: the header decides.
            return Some(first_guess);
        }
        if first_guess <= max_neg_offset {
            max_neg_offset = first_guess - 1;
        }

        // A hunk with less context before than after its changes was cut
        // short by the start of the file: it may only match there. (And
        // less context after: only at the end.) This is GNU's rule; it
        // keeps such hunks from sliding to a look-alike place.
        if prefix_fuzz < 0 && shape.first <= 1 {
            if suffix_fuzz < 0 && (pat_lines != input_lines || prefix_context < last_frozen) {
                return None;
            }
            let offset = 1 - first_guess;
            if last_frozen <= prefix_context
                && offset <= max_pos_offset
                && self.matches(shape, first_guess + offset, 0, suffix_fuzz)
            {
                self.in_offset += offset;
                return Some(first_guess + offset);
            }
            return None;
        } else if prefix_fuzz < 0 {
            prefix_fuzz = 0;
        }

        if suffix_fuzz < 0 {
            let offset = first_guess - (input_lines - pat_lines + 1);
            if offset <= max_neg_offset && self.matches(shape, first_guess - offset, prefix_fuzz, 0)
            {
                self.in_offset -= offset;
                return Some(first_guess - offset);
            }
            return None;
        }

        // A header naming a line far past the end of the file (a hunk at
        // line 1,372,266,989 of a 3-line file) leaves nothing to try on the
        // positive side and nothing on the negative side until the file's
        // end: start there rather than step through every line in between
        // (the same candidates, in the same order).
        let skip = if max_pos_offset < 0 {
            (first_guess - max_where).max(0)
        } else {
            0
        };
        for offset in skip..=max_offset {
            if offset <= max_pos_offset
                && self.matches(shape, first_guess + offset, prefix_fuzz, suffix_fuzz)
            {
                self.in_offset += offset;
                return Some(first_guess + offset);
            }
            if 0 < offset
                && offset <= max_neg_offset
                && self.matches(shape, first_guess - offset, prefix_fuzz, suffix_fuzz)
            {
                self.in_offset -= offset;
                return Some(first_guess - offset);
            }
        }
        None
    }

    /// GNU patch's `patch_match`: does the pattern, less `prefix_fuzz`
    /// lines at the start and `suffix_fuzz` at the end, equal the input
    /// from line `at` on, byte for byte?
    fn matches(
        &self,
        shape: &Shape<'_>,
        at: isize,
        prefix_fuzz: isize,
        suffix_fuzz: isize,
    ) -> bool {
        let end = shape.pattern.len() as isize - suffix_fuzz;
        (prefix_fuzz..end).all(|p| {
            let expected = shape.pattern[p as usize];
            self.line(at + p) == Some(expected)
        })
    }

    /// GNU patch's `copy_till`: copy input lines up to `last` (1-based,
    /// inclusive). False if they were consumed already (hunks out of order).
    fn copy_till(&mut self, last: usize) -> bool {
        if self.last_frozen > last {
            return false;
        }
        while self.last_frozen < last {
            self.last_frozen += 1;
            if let Some(line) = self.input.get(self.last_frozen - 1).copied() {
                if !self.after_newline {
                    self.out.push(b'\n');
                }
                self.out.extend_from_slice(line);
                self.after_newline = line.ends_with(b"\n");
            }
        }
        true
    }

    fn write(&mut self, line: &[u8]) {
        self.out.extend_from_slice(line);
        self.after_newline = line.ends_with(b"\n");
    }

    /// GNU patch's `apply_hunk` for a hunk whose pattern starts at input
    /// line `at`: context comes from the input (so fuzzed context keeps the
    /// file's text), added lines from the patch. The walk over the old and
    /// new sides in parallel, and when input is copied, follow GNU exactly,
    /// because `last_frozen` decides where the next hunk may go.
    fn apply_hunk(&mut self, hunk: &Hunk, at: usize) -> bool {
        let old: Vec<(bool, &[u8])> = hunk
            .lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(t) => Some((false, t.as_slice())),
                HunkLine::Delete(t) => Some((true, t.as_slice())),
                HunkLine::Insert(_) => None,
            })
            .collect();
        let new: Vec<(bool, &[u8])> = hunk
            .lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(t) => Some((false, t.as_slice())),
                HunkLine::Insert(t) => Some((true, t.as_slice())),
                HunkLine::Delete(_) => None,
            })
            .collect();
        let base = at - 1;
        let (mut o, mut n) = (0, 0);
        while o < old.len() {
            if old[o].0 {
                // A removed line: copy what is before it, then skip it.
                if !self.copy_till(base + o) {
                    return false;
                }
                self.last_frozen += 1;
                o += 1;
            } else if n >= new.len() {
                break;
            } else if new[n].0 {
                if !self.copy_till(base + o) {
                    return false;
                }
                self.write(new[n].1);
                n += 1;
            } else {
                // Context on both sides: copied later, from the input.
                o += 1;
                n += 1;
            }
        }
        if n < new.len() && new[n].0 {
            if !self.copy_till(base + o) {
                return false;
            }
            while n < new.len() && new[n].0 {
                if !self.after_newline {
                    self.out.push(b'\n');
                }
                self.write(new[n].1);
                n += 1;
            }
        }
        true
    }

    /// GNU patch's `spew_output`: copy the rest of the input.
    fn finish(&mut self) {
        let all = self.input.len();
        // last_frozen never exceeds the input here, so this cannot fail.
        let _ = self.copy_till(all.max(self.last_frozen));
    }
}
