//! Turning patch text into a [`ParsedPatch`].
//!
//! diffy's `patch_set` parser does the diff syntax (file headers, git
//! extended headers, quoted names, hunks, `\ No newline at end of file`) on
//! bytes, so CRLF and non-UTF-8 content survive. On top of it this module:
//! - splits off the preamble (free text or DEP-3 headers above the first
//!   diff);
//! - strips `strip` leading components from every path and turns the rest
//!   into an [`InTreePath`], refusing any path that would leave the
//!   distribution;
//! - refuses binary diffs, symlink/submodule modes, empty hunks, and hunk
//!   headers that diffy skipped as "trailing garbage" (GNU patch and diffy
//!   both ignore text after a file's hunks; a reviewer reading the patch
//!   would still believe such a hunk is applied, so we refuse the patch).

use diffy::patch_set::{FileMode as DiffyMode, FileOperation, ParseOptions, PatchKind, PatchSet};

use super::{FileMode, FilePatch, Hunk, HunkLine, Operation, ParsedPatch};
use crate::tree::{InTreePath, PathError};

/// Longest excerpt of a raw path quoted in an error (characters).
const PATH_EXCERPT: usize = 60;

/// Why a patch file was refused before anything was applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No `---`/`+++` or `diff --git` file diff at all.
    #[error("the patch contains no file diffs")]
    NoDiff,
    /// diffy could not parse the diff syntax. diffy counts bytes from the
    /// first diff, i.e. after the preamble.
    #[error("the patch is malformed (the diffs start at byte {diffs_start}): {source}")]
    Syntax {
        /// Length of the preamble: add it to diffy's byte offset.
        diffs_start: usize,
        /// diffy's error.
        #[source]
        source: diffy::patch_set::PatchSetParseError,
    },
    /// A path would name something outside the distribution (or cannot be
    /// a path at all once stripped).
    #[error("patch path \"{path}\" leaves the distribution: {reason}")]
    PathEscapes {
        /// Bounded excerpt of the path as written in the patch.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `GIT binary patch` or `Binary files ... differ`.
    #[error("{path}: binary patches are not supported")]
    Binary {
        /// The file, as named in the patch (bounded excerpt).
        path: String,
    },
    /// A git mode this tool does not handle (symlink, submodule).
    #[error("{path}: {what} are not supported in patches")]
    UnsupportedMode {
        /// The file.
        path: InTreePath,
        /// "symbolic links" or "submodules".
        what: &'static str,
    },
    /// A hunk with no added or removed line (GNU patch calls it malformed).
    #[error("{path}: hunk {hunk} changes nothing")]
    EmptyHunk {
        /// The file.
        path: InTreePath,
        /// 1-based hunk number within the file diff.
        hunk: usize,
    },
    /// A plain (non-git) file diff without any hunk.
    #[error("{path}: the file diff has no hunks")]
    NoHunks {
        /// The file.
        path: InTreePath,
    },
    /// A hunk header declaring more lines than the rest of the patch holds
    /// (a header can declare billions of lines in a few bytes).
    #[error(
        "the hunk header at byte {offset} declares {declared} lines, but only {available} \
         lines follow it"
    )]
    HunkTooLong {
        /// Byte offset of the header in the patch file.
        offset: usize,
        /// The larger of the two counts it declares.
        declared: u64,
        /// Lines left in the patch after it.
        available: u64,
    },
    /// Hunk headers that belong to no file diff (hidden behind other text).
    #[error(
        "the patch has {found} hunk headers but only {parsed} belong to a file diff; \
         text between the hunks of a file is not allowed"
    )]
    StrayHunks {
        /// `@@ ` lines in the patch body.
        found: usize,
        /// Hunks diffy attached to a file.
        parsed: usize,
    },
}

/// Parse `text` (a patch file, bytes as read) stripping `strip` leading
/// path components, like `patch -p<strip>`.
///
/// git's `rename from`/`copy from` lines carry no `a/` prefix, so they are
/// stripped by one component less, as `git apply -p<strip>` does.
pub fn parse(text: &[u8], strip: usize) -> Result<ParsedPatch, ParseError> {
    // A patch is a git patch as soon as one `diff --git` line appears: then
    // the extended headers (renames, modes) matter and diffy's git mode
    // must read them. Plain `diff -u` output has none.
    let git = lines(text).any(|(_, line)| line.starts_with(b"diff --git "));
    let Some(start) = first_diff_offset(text, git) else {
        // `diff -r` output of binary files only has no `---` line at all.
        refuse_binary(text)?;
        return Err(ParseError::NoDiff);
    };
    let (head, body) = text.split_at(start);
    let preamble = String::from_utf8_lossy(head).into_owned();

    refuse_binary(body)?;
    check_hunk_counts(body, start)?;

    let options = if git {
        ParseOptions::gitdiff()
    } else {
        ParseOptions::unidiff()
    };
    let mut files = Vec::new();
    for file in PatchSet::parse_bytes(body, options) {
        let file = file.map_err(|source| ParseError::Syntax {
            diffs_start: start,
            source,
        })?;
        files.push(convert(file, strip, git)?);
    }
    if files.is_empty() {
        return Err(ParseError::NoDiff);
    }

    let found = lines(body)
        .filter(|(_, line)| line.starts_with(b"@@ "))
        .count();
    let parsed: usize = files.iter().map(|f| f.hunks.len()).sum();
    if found != parsed {
        return Err(ParseError::StrayHunks { found, parsed });
    }
    Ok(ParsedPatch { preamble, files })
}

/// Refuses a hunk header (`@@ -a,b +c,d @@`) whose counts `b` or `d` are
/// larger than the number of lines after it: no patch text can hold them,
/// and trusting them would make the parser or engine work for each
/// declared line. `start` is `body`'s offset in the file, for the message.
fn check_hunk_counts(body: &[u8], start: usize) -> Result<(), ParseError> {
    let total = lines(body).count() as u64;
    for (index, (offset, line)) in lines(body).enumerate() {
        let Some(rest) = line.strip_prefix(b"@@ ") else {
            continue;
        };
        let available = total - index as u64 - 1;
        // `-a[,b] +c[,d]`: a count is what follows the comma (1 without).
        let declared = rest
            .split(|&b| b == b' ')
            .take(2)
            .filter_map(|range| {
                let range = range.strip_prefix(b"-").or(range.strip_prefix(b"+"))?;
                let count = range.split(|&b| b == b',').nth(1)?;
                let digits: Vec<u8> = count
                    .iter()
                    .copied()
                    .take_while(u8::is_ascii_digit)
                    .collect();
                // More digits than u64 holds is more than any patch has.
                Some(
                    std::str::from_utf8(&digits)
                        .ok()
                        .and_then(|d| d.parse::<u64>().ok())
                        .unwrap_or(u64::MAX),
                )
            })
            .max()
            .unwrap_or(0);
        if declared > available {
            return Err(ParseError::HunkTooLong {
                offset: start + offset,
                declared,
                available,
            });
        }
    }
    Ok(())
}

/// Lines of `text` with their byte offsets, each including its `\n`.
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut offset = 0;
    text.split_inclusive(|&b| b == b'\n').map(move |line| {
        let at = offset;
        offset += line.len();
        (at, line)
    })
}

/// Byte offset where the first file diff starts: its `diff --git` line for
/// git patches; for plain ones the `diff ...`/`Index:` line above the first
/// `---`/`+++` pair, or the `---` line itself.
fn first_diff_offset(text: &[u8], git: bool) -> Option<usize> {
    let all: Vec<(usize, &[u8])> = lines(text).collect();
    if git {
        return all
            .iter()
            .find(|(_, l)| l.starts_with(b"diff --git "))
            .map(|(at, _)| *at);
    }
    let header = all
        .windows(2)
        .position(|pair| pair[0].1.starts_with(b"--- ") && pair[1].1.starts_with(b"+++ "))?;
    // Keep a `diff -Naur a/x b/x` or `Index: x` line (and the `=====`
    // separator that follows `Index:`) with the diff, not the preamble.
    let mut first = header;
    while first > 0 {
        let above = all[first - 1].1;
        if above.starts_with(b"diff ")
            || above.starts_with(b"Index: ")
            || above.starts_with(b"=====")
        {
            first -= 1;
        } else {
            break;
        }
    }
    Some(all[first].0)
}

/// Refuse binary diffs before diffy sees them, with the file's name. In
/// plain mode diffy would skip `Binary files ... differ` as noise, and the
/// patch would silently do less than it says.
fn refuse_binary(body: &[u8]) -> Result<(), ParseError> {
    let mut last_git_line: &[u8] = b"";
    for (_, line) in lines(body) {
        let line = trim_eol(line);
        if let Some(rest) = line.strip_prefix(b"diff --git ") {
            last_git_line = rest;
        } else if line.starts_with(b"GIT binary patch") {
            // git names the file only on its `diff --git a/x b/x` line.
            let name = match find(last_git_line, b" b/") {
                Some(at) => &last_git_line[at + 1..],
                None => last_git_line,
            };
            return Err(ParseError::Binary {
                path: excerpt(name),
            });
        } else if let Some(rest) = line.strip_prefix(b"Binary files ") {
            if rest.ends_with(b" differ") {
                let name = match find(rest, b" and ") {
                    Some(at) => &rest[..at],
                    None => rest,
                };
                return Err(ParseError::Binary {
                    path: excerpt(name),
                });
            }
        }
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A bounded, printable excerpt of raw bytes for an error message.
pub(crate) fn excerpt(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out: String = text
        .chars()
        .take(PATH_EXCERPT)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > PATH_EXCERPT {
        out.push('…');
    }
    out
}

/// Turn one of diffy's file diffs into ours.
fn convert(
    file: diffy::patch_set::FilePatch<'_, [u8]>,
    strip: usize,
    git: bool,
) -> Result<FilePatch, ParseError> {
    let operation = file.operation().clone();
    let (old_mode, new_mode) = (file.old_mode().copied(), file.new_mode().copied());
    let patch = match file.into_patch() {
        PatchKind::Text(patch) => patch,
        // refuse_binary catches these first; diffy may still classify a
        // diff as binary on its own.
        PatchKind::Binary(_) => {
            let name = match &operation {
                FileOperation::Delete(p) | FileOperation::Create(p) => p.as_ref(),
                FileOperation::Modify { modified, .. } => modified.as_ref(),
                FileOperation::Rename { to, .. } | FileOperation::Copy { to, .. } => to.as_ref(),
            };
            return Err(ParseError::Binary {
                path: excerpt(name),
            });
        }
    };

    // git's `rename from`/`copy from` paths carry no `a/`/`b/` prefix.
    let header_strip = strip.saturating_sub(1);
    let (mut op, old_path, new_path) = match &operation {
        FileOperation::Create(p) => {
            let p = tree_path(p, strip)?;
            (Operation::Create, p.clone(), p)
        }
        FileOperation::Delete(p) => {
            let p = tree_path(p, strip)?;
            (Operation::Delete, p.clone(), p)
        }
        FileOperation::Modify { original, modified } => (
            Operation::Modify,
            tree_path(original, strip)?,
            tree_path(modified, strip)?,
        ),
        FileOperation::Rename { from, to } => {
            let from = tree_path(from, header_strip)?;
            (
                Operation::Rename { from: from.clone() },
                from,
                tree_path(to, header_strip)?,
            )
        }
        FileOperation::Copy { from, to } => {
            let from = tree_path(from, header_strip)?;
            (
                Operation::Copy { from: from.clone() },
                from,
                tree_path(to, header_strip)?,
            )
        }
    };

    let old_mode = old_mode.map(|m| mode(m, &old_path)).transpose()?;
    let new_mode = new_mode.map(|m| mode(m, &new_path)).transpose()?;

    let mut hunks = Vec::with_capacity(patch.hunks().len());
    for (i, hunk) in patch.hunks().iter().enumerate() {
        let lines: Vec<HunkLine> = hunk
            .lines()
            .iter()
            .map(|line| match line {
                diffy::Line::Context(t) => HunkLine::Context(t.to_vec()),
                diffy::Line::Delete(t) => HunkLine::Delete(t.to_vec()),
                diffy::Line::Insert(t) => HunkLine::Insert(t.to_vec()),
            })
            .collect();
        if lines.iter().all(|l| matches!(l, HunkLine::Context(_))) {
            return Err(ParseError::EmptyHunk {
                path: new_path,
                hunk: i + 1,
            });
        }
        hunks.push(Hunk {
            old_start: hunk.old_range().start(),
            old_len: hunk.old_range().len(),
            new_start: hunk.new_range().start(),
            new_len: hunk.new_range().len(),
            lines,
        });
    }

    if !git {
        if hunks.is_empty() {
            return Err(ParseError::NoHunks { path: new_path });
        }
        // Plain diffs have no "new file"/"deleted file" header; `diff -N`
        // marks them with a `-0,0` (or `+0,0`) hunk and an epoch timestamp.
        // Treating those as creations/deletions (not as "prepend to an
        // existing file", which GNU patch does when the file exists) means
        // applying such a patch twice is detected as already applied.
        if op == Operation::Modify && hunks.len() == 1 {
            let h = &hunks[0];
            if h.old_start == 0 && h.old_len == 0 {
                op = Operation::Create;
                return Ok(FilePatch {
                    op,
                    old_path: new_path.clone(),
                    new_path,
                    old_mode,
                    new_mode,
                    hunks,
                });
            }
            if h.new_start == 0 && h.new_len == 0 {
                op = Operation::Delete;
                return Ok(FilePatch {
                    op,
                    new_path: old_path.clone(),
                    old_path,
                    old_mode,
                    new_mode,
                    hunks,
                });
            }
        }
    }

    Ok(FilePatch {
        op,
        old_path,
        new_path,
        old_mode,
        new_mode,
        hunks,
    })
}

fn mode(m: DiffyMode, path: &InTreePath) -> Result<FileMode, ParseError> {
    match m {
        DiffyMode::Regular => Ok(FileMode::Regular),
        DiffyMode::Executable => Ok(FileMode::Executable),
        DiffyMode::Symlink => Err(ParseError::UnsupportedMode {
            path: path.clone(),
            what: "symbolic links",
        }),
        DiffyMode::Gitlink => Err(ParseError::UnsupportedMode {
            path: path.clone(),
            what: "submodules",
        }),
    }
}

/// Strip `strip` leading components from a raw patch path and check what is
/// left. GNU patch counts runs of slashes as one separator; so do we.
fn tree_path(raw: &[u8], strip: usize) -> Result<InTreePath, ParseError> {
    let refuse = |reason: String| ParseError::PathEscapes {
        path: excerpt(raw),
        reason,
    };
    let text = std::str::from_utf8(raw).map_err(|_| refuse("it is not UTF-8".into()))?;
    // An absolute name is refused before stripping: `-p1` would turn
    // `/etc/passwd` into `etc/passwd`, which hides what the author wrote.
    if text.starts_with('/') {
        return Err(refuse("it is absolute".into()));
    }
    let mut rest = text;
    for _ in 0..strip {
        match rest.split_once('/') {
            Some((_, tail)) => rest = tail.trim_start_matches('/'),
            None => {
                return Err(refuse(format!(
                    "nothing is left after stripping {strip} component(s)"
                )))
            }
        }
    }
    InTreePath::parse(rest).map_err(|e| {
        refuse(match e {
            PathError::Empty => "nothing is left after stripping".into(),
            PathError::Absolute => "it is absolute".into(),
            PathError::ParentDir => "it has a `..` component".into(),
            PathError::BadChar => "it contains a control character or backslash".into(),
            PathError::TooLong => "it is too long".into(),
        })
    })
}
