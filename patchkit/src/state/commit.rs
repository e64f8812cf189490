//! Several files of one state directory replaced together: after a crash
//! at any instant a reader finds all the old files or, once
//! [`recover`] has run, all the new ones — never a mix (docs/ARCHITECTURE.md,
//! "nothing half-done").
//!
//! [`commit_files`] writes each new file under a staged name beside its
//! destination (`.patchkit-tmp-next-NAME`, through [`write_atomic`], so
//! synced), then the journal `commit.journal` listing them (the commit
//! point), then renames each into place and removes the journal. A
//! journal found later means a commit that was interrupted after its
//! commit point: [`recover`] finishes its renames. Without a journal,
//! staged files are leftovers of a commit that never reached its commit
//! point and are ignored (and overwritten by the next commit).
//! The format is in docs/formats.md ("the store's commit journal").

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{write_atomic, Error};

/// The journal's file name inside the committed directory.
pub const JOURNAL: &str = "commit.journal";
const STAGED_PREFIX: &str = ".patchkit-tmp-next-";
const MAX_JOURNAL_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Journal {
    /// `patchkit-commit-journal`.
    format: String,
    /// `1`.
    version: u32,
    /// Paths relative to the directory, renamed in this order.
    files: Vec<String>,
}

/// A relative path made of plain components only.
fn checked(rel: &str) -> Option<PathBuf> {
    let path = Path::new(rel);
    (!rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_))))
        .then(|| path.to_path_buf())
}

fn staged_path(dir: &Path, rel: &Path) -> Option<PathBuf> {
    let name = rel.file_name()?.to_str()?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    Some(dir.join(parent).join(format!("{STAGED_PREFIX}{name}")))
}

/// Replace the files `files` (paths relative to `dir`, with their new
/// bytes) together, in the order given.
///
/// # Errors
/// A write or rename that failed; a failure before the journal is written
/// leaves every file as it was, one after leaves a journal that
/// [`recover`] finishes.
pub fn commit_files(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), Error> {
    let mut names = Vec::with_capacity(files.len());
    for (rel, data) in files {
        let path = checked(rel).ok_or_else(|| Error::BadJournal {
            path: dir.join(JOURNAL),
            reason: format!("{rel:?} is not a plain relative path"),
        })?;
        let staged = staged_path(dir, &path).ok_or_else(|| Error::BadJournal {
            path: dir.join(JOURNAL),
            reason: format!("{rel:?} has no file name"),
        })?;
        write_atomic(&staged, data, None)?;
        names.push((*rel).to_string());
    }
    let journal = Journal {
        format: "patchkit-commit-journal".into(),
        version: 1,
        files: names,
    };
    let bytes = serde_json::to_vec_pretty(&journal)
        .map_err(|e| Error::io("write", &dir.join(JOURNAL), e.into()))?;
    write_atomic(&dir.join(JOURNAL), &bytes, None)?;
    finish(dir, &journal)
}

fn finish(dir: &Path, journal: &Journal) -> Result<(), Error> {
    for rel in &journal.files {
        let Some(path) = checked(rel) else { continue };
        let Some(staged) = staged_path(dir, &path) else {
            continue;
        };
        match std::fs::rename(&staged, dir.join(&path)) {
            Ok(()) => {}
            // Already renamed by an earlier, interrupted finish.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("rename into place", &dir.join(&path), e)),
        }
    }
    for d in journal
        .files
        .iter()
        .filter_map(|rel| dir.join(rel).parent().map(Path::to_path_buf))
        .chain([dir.to_path_buf()])
    {
        if let Ok(f) = std::fs::File::open(&d) {
            let _ = f.sync_all();
        }
    }
    let path = dir.join(JOURNAL);
    std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
    Ok(())
}

/// Whether `dir` holds the journal of an interrupted commit.
pub fn pending(dir: &Path) -> bool {
    dir.join(JOURNAL).exists()
}

/// Finish the commit that was interrupted in `dir`, if any; returns
/// whether there was one. The caller holds the exclusive lock.
///
/// # Errors
/// A journal that is not patchkit's, or a failing rename.
pub fn recover(dir: &Path) -> Result<bool, Error> {
    let path = dir.join(JOURNAL);
    let bytes = match super::read_bounded(&path, MAX_JOURNAL_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let bad = |reason: String| Error::BadJournal {
        path: path.clone(),
        reason,
    };
    let journal: Journal =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a commit journal ({e})")))?;
    if journal.format != "patchkit-commit-journal"
        || journal.version != 1
        || journal.files.iter().any(|f| checked(f).is_none())
    {
        return Err(bad("not a patchkit commit journal".into()));
    }
    finish(dir, &journal)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_commit_is_finished_by_recover() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        commit_files(d, &[("a/one", b"1"), ("two", b"2")]).unwrap();
        assert_eq!(std::fs::read(d.join("a/one")).unwrap(), b"1");
        assert!(!pending(d));
        // Simulate a crash right after the commit point.
        write_atomic(&d.join("a/.patchkit-tmp-next-one"), b"new1", None).unwrap();
        write_atomic(&d.join(".patchkit-tmp-next-two"), b"new2", None).unwrap();
        write_atomic(
            &d.join(JOURNAL),
            br#"{"format":"patchkit-commit-journal","version":1,"files":["a/one","two"]}"#,
            None,
        )
        .unwrap();
        // One rename done before the crash.
        std::fs::rename(d.join("a/.patchkit-tmp-next-one"), d.join("a/one")).unwrap();
        assert!(recover(d).unwrap());
        assert_eq!(std::fs::read(d.join("a/one")).unwrap(), b"new1");
        assert_eq!(std::fs::read(d.join("two")).unwrap(), b"new2");
        assert!(!pending(d));
        assert!(!recover(d).unwrap());
    }

    #[test]
    fn a_journal_naming_a_path_outside_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(
            &dir.path().join(JOURNAL),
            br#"{"format":"patchkit-commit-journal","version":1,"files":["../x"]}"#,
            None,
        )
        .unwrap();
        assert!(recover(dir.path()).is_err());
    }
}
