//! The patch engine: parse unified and git diffs, and apply them to an
//! in-memory [`Tree`].
//!
//! What it owns:
//! - [`parse()`]: a patch file (plain `diff -u`/`diff -Naur` output, or
//!   `git diff` output with its extended headers, optionally below free text
//!   or DEP-3 headers) becomes a [`ParsedPatch`] whose every path is an
//!   [`InTreePath`]. Parsing of the diff syntax itself is diffy's
//!   (`diffy::patch_set`); this module turns diffy's raw paths and modes into
//!   checked values and adds the refusals below.
//! - [`apply()`]: places each hunk the way GNU patch does (same search order,
//!   same offsets, same output bytes), with fuzz only when asked, and detects
//!   a patch that is already applied.
//!
//! What it refuses (each as one sentence naming the file):
//! - any path that, after stripping, is absolute, contains `..`, a control
//!   character or a backslash: "no path outside the distribution";
//! - binary patches, symlink and submodule modes, and any patch that touches
//!   a symbolic link in the tree;
//! - hunk headers that do not belong to a file diff (text between diffs
//!   that hides a hunk), and hunks that change nothing.
//!
//! docs/ARCHITECTURE.md invariants kept here:
//! - **Strict by default**: context must match byte for byte (a `\r` is part
//!   of the line); a hunk may move but not fuzz unless [`Fuzz::Lines`] says so.
//! - **Nothing half-done**: [`apply`] stages every change aside and writes
//!   the tree only when every file of the patch applied.
//! - **Already applied is reported, not applied twice**: when the patch does
//!   not apply but the tree carries it — its exact reverse fits where the
//!   patch puts its lines, or at an offset only once the lines it replaces
//!   are gone from the file ([`carries`]) — the result is
//!   [`Outcome::AlreadyApplied`] and the tree is untouched. A copy of the
//!   fixed lines elsewhere (a decoy after `__END__`) is not the fix.

pub mod coexist;
pub mod dep3;
mod engine;
mod parse;
pub mod record;
#[cfg(test)]
mod tests;

pub use engine::{
    apply, apply_after, carries, Applied, ApplyError, ApplyOptions, FileReport, Fuzz, HunkReport,
    Outcome,
};
pub use parse::{parse, ParseError};

use crate::tree::{InTreePath, Tree};

/// A whole patch file: the text above the diffs and one entry per file diff,
/// in the order they appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPatch {
    /// Text above the first file diff: free text, DEP-3 headers or an email
    /// header. Bytes that are not UTF-8 are replaced (it is for people).
    pub preamble: String,
    /// The file diffs, in patch order. The same file may appear more than
    /// once; the diffs then apply in sequence.
    pub files: Vec<FilePatch>,
}

/// What one file diff does to its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Change an existing file (content, mode or both).
    Modify,
    /// Create a file that must not exist yet (`--- /dev/null`, git's
    /// `new file mode`, or a plain diff whose only hunk is `-0,0`).
    Create,
    /// Delete a file whose content must match the patch exactly
    /// (`+++ /dev/null`, git's `deleted file mode`, or a plain diff whose
    /// only hunk is `+0,0`).
    Delete,
    /// git's `rename from`/`rename to`: the file moves, with or without hunks.
    Rename {
        /// The path the file had before.
        from: InTreePath,
    },
    /// git's `copy from`/`copy to`: a new file made from an existing one.
    Copy {
        /// The path that is copied; it stays as it is.
        from: InTreePath,
    },
}

/// The file modes a patch may set. git's other modes (symlink `120000`,
/// submodule `160000`) are refused at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// `100644`: no executable bits.
    Regular,
    /// `100755`: executable.
    Executable,
}

impl FileMode {
    /// The git spelling, for messages.
    pub fn as_git_str(self) -> &'static str {
        match self {
            FileMode::Regular => "100644",
            FileMode::Executable => "100755",
        }
    }
}

/// One file's diff, with checked paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// What happens to the file.
    pub op: Operation,
    /// The path before the change. For [`Operation::Create`] it equals
    /// `new_path` (the file that must not exist yet).
    pub old_path: InTreePath,
    /// The path after the change. For [`Operation::Delete`] it equals
    /// `old_path`. For a plain [`Operation::Modify`] it may differ from
    /// `old_path` (`--- a/x.orig` / `+++ b/x`); the engine then picks the
    /// file that exists, as GNU patch does.
    pub new_path: InTreePath,
    /// Mode before, from git's `old mode` or `deleted file mode`.
    pub old_mode: Option<FileMode>,
    /// Mode after, from git's `new mode` or `new file mode`.
    pub new_mode: Option<FileMode>,
    /// The hunks, in file order.
    pub hunks: Vec<Hunk>,
}

impl FilePatch {
    /// Whether the diff changes the file's mode (git `old mode`/`new mode`).
    pub fn changes_mode(&self) -> bool {
        !matches!(self.op, Operation::Create | Operation::Delete)
            && self.new_mode.is_some()
            && self.new_mode != self.old_mode
    }
}

/// One hunk, owned (diffy's hunks borrow the patch text; a [`ParsedPatch`]
/// must outlive it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// Start line in the old file as written in the header (`-start,len`).
    pub old_start: usize,
    /// Number of old lines (context and removed).
    pub old_len: usize,
    /// Start line in the new file as written in the header.
    pub new_start: usize,
    /// Number of new lines (context and added).
    pub new_len: usize,
    /// The lines, in patch order.
    pub lines: Vec<HunkLine>,
}

/// A line of a hunk. The bytes include the line ending (`\n`, or `\r\n`
/// for CRLF text) unless the patch marks the line `\ No newline at end of
/// file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    /// Present in old and new.
    Context(Vec<u8>),
    /// Removed.
    Delete(Vec<u8>),
    /// Added.
    Insert(Vec<u8>),
}

impl Hunk {
    /// The same hunk seen from the other side: what turns the new text back
    /// into the old one. Used to recognise an already-applied patch.
    pub fn reversed(&self) -> Hunk {
        Hunk {
            old_start: self.new_start,
            old_len: self.new_len,
            new_start: self.old_start,
            new_len: self.old_len,
            lines: self
                .lines
                .iter()
                .map(|line| match line {
                    HunkLine::Context(t) => HunkLine::Context(t.clone()),
                    HunkLine::Delete(t) => HunkLine::Insert(t.clone()),
                    HunkLine::Insert(t) => HunkLine::Delete(t.clone()),
                })
                .collect(),
        }
    }

    /// The old side: context and removed lines, in order (what must match).
    pub(crate) fn old_lines(&self) -> impl Iterator<Item = &[u8]> {
        self.lines.iter().filter_map(|line| match line {
            HunkLine::Context(t) | HunkLine::Delete(t) => Some(t.as_slice()),
            HunkLine::Insert(_) => None,
        })
    }
}

/// A unified diff (`a/`, `b/` prefixes, 3 lines of context) from `old` to
/// `new`, one file diff per file whose bytes differ, in path order: what
/// `export` and a Debian tree's quilt patch carry. Text files only.
pub fn unified_diff(old: &Tree, new: &Tree) -> Vec<u8> {
    let paths: std::collections::BTreeSet<&InTreePath> =
        old.files.keys().chain(new.files.keys()).collect();
    let mut out = Vec::new();
    for path in paths {
        let (o, n) = (old.files.get(path), new.files.get(path));
        if o.map(|f| &f.data) == n.map(|f| &f.data) {
            continue;
        }
        let empty: &[u8] = &[];
        let (from, old_data) = match o {
            Some(f) => (format!("a/{path}"), f.data.as_slice()),
            None => ("/dev/null".to_string(), empty),
        };
        let (to, new_data) = match n {
            Some(f) => (format!("b/{path}"), f.data.as_slice()),
            None => ("/dev/null".to_string(), empty),
        };
        let mut opts = diffy::DiffOptions::new();
        opts.set_context_len(3)
            .set_original_filename(from)
            .set_modified_filename(to);
        let p = opts.create_patch_bytes(old_data, new_data);
        let _ = diffy::PatchFormatter::new()
            .suppress_blank_empty(false)
            .write_patch_into(&p, &mut out);
    }
    out
}
