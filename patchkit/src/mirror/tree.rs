//! `patchkit mirror SRC DEST`: a patched copy of a CPAN mirror directory
//! (a minicpan, a Carton `vendor/cache`), for offline and container builds.
//!
//! Every file of SRC is answered by the same [`Mirror`] `serve` uses, with
//! SRC as its upstream, so a static copy holds exactly the bytes `serve`
//! would send. A file is written (through `state::write_atomic`) only when
//! DEST does not already hold those bytes: a second run after a repository
//! update rewrites only the tarballs (and CHECKSUMS) whose result changed.
//! Symbolic links and special files in SRC are skipped and listed, never
//! followed out of the tree.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use super::{Error, Mirror, Outcome};
use crate::state;

/// What one run did, file by file (paths relative to SRC, sorted).
#[derive(Debug, Default, Serialize)]
pub struct TreeReport {
    /// Files looked at.
    pub files: usize,
    /// Files written because DEST lacked these bytes.
    pub written: Vec<String>,
    /// Files DEST already held byte for byte.
    pub unchanged: usize,
    /// Tarballs served patched, with the record ids.
    pub patched: Vec<PatchedFile>,
    /// Files that could not be produced (nothing written for them).
    pub failed: Vec<FailedFile>,
    /// Symbolic links and special files, not copied.
    pub skipped: Vec<String>,
}

/// A tarball written patched.
#[derive(Debug, Serialize)]
pub struct PatchedFile {
    /// Its path.
    pub path: String,
    /// The records applied.
    pub ids: Vec<String>,
}

/// A file that failed.
#[derive(Debug, Serialize)]
pub struct FailedFile {
    /// Its path.
    pub path: String,
    /// Why.
    pub error: String,
}

/// Told how far [`mirror_tree`] is, from every thread (the binary draws a
/// progress bar from it).
pub trait TreeProgress: Sync {
    /// The walk found `files` files to answer.
    fn start(&self, files: u64) {
        let _ = files;
    }
    /// One more file is done.
    fn file_done(&self) {}
    /// Every file is done.
    fn finish(&self) {}
}

/// No progress reports.
impl TreeProgress for () {}

/// Relative paths (`/`-separated) of every regular file below `src`,
/// sorted, and of the entries skipped: symbolic links and special files,
/// never followed. `mirror` and `check`/`apply --recursive` walk a tree
/// with it.
///
/// # Errors
/// A directory that cannot be listed.
pub fn walk(src: &Path) -> Result<(Vec<String>, Vec<String>), state::Error> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = src.join(&rel);
        let entries = std::fs::read_dir(&dir).map_err(|e| state::Error::io("read", &dir, e))?;
        for e in entries {
            let e = e.map_err(|e| state::Error::io("read", &dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            // Our own temporary files from an interrupted run.
            if name.starts_with(".patchkit-") {
                continue;
            }
            let child = rel.join(&name);
            let shown = child.to_string_lossy().replace('\\', "/");
            let ft = e
                .file_type()
                .map_err(|err| state::Error::io("read", &e.path(), err))?;
            if ft.is_dir() {
                stack.push(child);
            } else if ft.is_file() {
                files.push(shown);
            } else {
                skipped.push(shown);
            }
        }
    }
    files.sort();
    skipped.sort();
    Ok((files, skipped))
}

/// Mirror every file of `src` into `dest` (which may be `src`, for
/// `--in-place`) through `mirror`, whose upstream must be `src`.
///
/// # Errors
/// Only when `src` cannot be listed; each file's failure is reported in
/// [`TreeReport::failed`] and the others still proceed.
pub fn mirror_tree(
    mirror: &Mirror,
    src: &Path,
    dest: &Path,
    now: DateTime<Utc>,
    progress: &dyn TreeProgress,
) -> Result<TreeReport, Error> {
    let (files, skipped) = walk(src)?;
    progress.start(files.len() as u64);
    enum Done {
        Written(Option<Vec<String>>),
        Unchanged(Option<Vec<String>>),
        Failed(String),
    }
    let results: Vec<(String, Done)> = files
        .par_iter()
        .map(|rel| {
            let done = (|| -> Result<Done, Error> {
                let served = mirror.get(rel, now)?;
                let ids = match &served.outcome {
                    Outcome::Patched { ids, .. } => Some(ids.clone()),
                    _ => None,
                };
                let out = dest.join(rel);
                if std::fs::read(&out).is_ok_and(|old| old == *served.body) {
                    return Ok(Done::Unchanged(ids));
                }
                state::write_atomic(&out, &served.body, None)?;
                Ok(Done::Written(ids))
            })();
            progress.file_done();
            (
                rel.clone(),
                done.unwrap_or_else(|e| Done::Failed(e.to_string())),
            )
        })
        .collect();
    progress.finish();
    let mut report = TreeReport {
        files: files.len(),
        skipped,
        ..TreeReport::default()
    };
    for (path, done) in results {
        let ids = match done {
            Done::Written(ids) => {
                report.written.push(path.clone());
                ids
            }
            Done::Unchanged(ids) => {
                report.unchanged += 1;
                ids
            }
            Done::Failed(error) => {
                report.failed.push(FailedFile { path, error });
                continue;
            }
        };
        if let Some(ids) = ids {
            report.patched.push(PatchedFile { path, ids });
        }
    }
    Ok(report)
}
