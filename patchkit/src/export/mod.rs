//! Files for other tools to apply the verified patches natively: CPAN.pm
//! distroprefs ([`distroprefs`]) and a Debian quilt series ([`quilt`]).
//!
//! Both are made per release (a tarball): the matching records' diffs in
//! application order, then one generated patch, `patchkit-record.patch`,
//! that adds the record `apply` leaves (`.patchkit/applied.json`, the patch
//! files, `x_patchkit` in the META files, the MANIFEST lines) — so a tree
//! patched by CPAN.pm or quilt is the tree `apply` makes, and `audit` finds
//! the patches genuine in what gets installed.
//!
//! The record patch is computed, not guessed: `apply::run` (the crate's one
//! patch path) makes the patched tarball, the records' diffs are applied to
//! the pristine tree by the same engine, and the difference between the two
//! is the record patch. Before anything is written, the whole series is
//! applied again to the pristine tree and must give `apply`'s tree exactly
//! (docs/ARCHITECTURE.md, "nothing half-done").

pub mod distroprefs;
pub mod quilt;

use std::path::Path;

use crate::apply::{self, Mode, Target, TargetResult};
use crate::catalog::{Catalog, Entry};
use crate::dist;
use crate::patch::{self, ApplyOptions};
use crate::state;
use crate::tarball::{Archive, Limits};
use crate::tree::Tree;

/// The generated last patch of every export.
pub const RECORD_PATCH: &str = "patchkit-record.patch";

/// Why an export failed; nothing was written for that target.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `apply` failed on the target (unreadable, refused, a patch failed).
    #[error("{target}: {reason}")]
    Apply {
        /// The target.
        target: String,
        /// What apply said.
        reason: String,
        /// Apply's exit status.
        code: i32,
    },
    /// The series did not reproduce `apply`'s tree (a bug: nothing written).
    #[error("{target}: internal check failed, nothing written: {reason}")]
    Check {
        /// The target.
        target: String,
        /// Why.
        reason: String,
    },
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] state::Error),
}

impl Error {
    /// Exit status: apply's own, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Apply { code, .. } => *code,
            _ => 1,
        }
    }
}

/// One patch of a series.
#[derive(Debug, Clone)]
pub struct SeriesPatch<'a> {
    /// The record (none for the generated record patch).
    pub entry: Option<&'a Entry>,
    /// The file name to write.
    pub file: String,
    /// The diff (the record's as published, or the generated one).
    pub text: Vec<u8>,
    /// Path components to strip.
    pub strip: usize,
}

/// The series for one release: its dist, version, and patches in order
/// (empty when nothing matches or everything is already applied).
#[derive(Debug)]
pub struct Series<'a> {
    /// The tarball's file name.
    pub file_name: String,
    /// The distribution.
    pub dist: String,
    /// The version.
    pub version: String,
    /// The patches, record patch last.
    pub patches: Vec<SeriesPatch<'a>>,
}

/// Make the series for the tarball `path`: see the module docs.
///
/// # Errors
/// [`Error::Apply`] when `apply` fails on it, [`Error::Check`] when the
/// series does not give `apply`'s tree.
pub fn series<'a>(
    path: &Path,
    catalog: &'a Catalog,
    engine: &ApplyOptions,
) -> Result<Series<'a>, Error> {
    let name = dist::target_name(path);
    let fail = |reason: String, code: i32| Error::Apply {
        target: name.clone(),
        reason,
        code,
    };
    let tmp = tempfile::tempdir()
        .map_err(|e| state::Error::io("create a temporary directory", path, e))?;
    let opts = apply::Options {
        mode: Mode::Apply,
        engine: engine.clone(),
        limits: Limits::default(),
        out_dir: Some(tmp.path().to_path_buf()),
        ..apply::Options::default()
    };
    let report = apply::run(&Target::Tarball(path.to_path_buf()), catalog, &opts);
    let mut out = Series {
        file_name: name.clone(),
        dist: report.dist.clone().unwrap_or_default(),
        version: report.version.clone().unwrap_or_default(),
        patches: Vec::new(),
    };
    match report.result {
        TargetResult::Patched => {}
        TargetResult::Failed => {
            return Err(fail(
                report.error.unwrap_or_else(|| "failed".into()),
                report.exit_code,
            ))
        }
        _ => return Ok(out),
    }
    let read = |p: &Path| -> Result<Tree, Error> {
        let bytes = state::read_bounded(p, Limits::default().max_compressed_bytes)
            .map_err(|e| state::Error::io("read", p, e))?;
        Archive::read(&name, &bytes, &Limits::default())
            .map(Archive::into_tree)
            .map_err(|e| fail(e.to_string(), 2))
    };
    let pristine = read(path)?;
    let patched = read(&tmp.path().join(&name))?;
    let applied: Vec<&str> = report
        .patches
        .iter()
        .filter(|p| p.status == apply::PatchStatus::Applied)
        .map(|p| p.id.as_str())
        .collect();
    let mut tree = pristine.clone();
    for id in &applied {
        let entry = catalog.get(id).map_err(|e| Error::Apply {
            target: name.clone(),
            reason: e.to_string(),
            code: e.exit_code(),
        })?;
        let Some(entry) = entry else {
            continue;
        };
        patch::apply(&mut tree, &entry.parsed, engine).map_err(|e| Error::Check {
            target: name.clone(),
            reason: e.to_string(),
        })?;
        out.patches.push(SeriesPatch {
            entry: Some(entry),
            file: format!("{id}.patch"),
            text: entry.patch_text.clone(),
            strip: entry.record.strip,
        });
    }
    let record = patch::unified_diff(&tree, &patched);
    // The check: the whole series on the pristine tree gives apply's tree.
    let parsed = patch::parse(&record, 1).map_err(|e| Error::Check {
        target: name.clone(),
        reason: format!("the record patch does not parse: {e}"),
    })?;
    patch::apply(&mut tree, &parsed, &ApplyOptions::default()).map_err(|e| Error::Check {
        target: name.clone(),
        reason: format!("the record patch does not apply: {e}"),
    })?;
    if tree.digest() != patched.digest() {
        return Err(Error::Check {
            target: name.clone(),
            reason: "the series does not give the tree `apply` makes".into(),
        });
    }
    out.patches.push(SeriesPatch {
        entry: None,
        file: RECORD_PATCH.into(),
        text: record,
        strip: 1,
    });
    Ok(out)
}
