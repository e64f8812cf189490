//! Authoring the repository source tree: what the security team runs
//! between "a CVE lands" and "the fix is published" (docs/publishing.md).
//!
//! - [`scaffold`]: `patchkit new` — a fresh id and a record with every field;
//! - [`diff`]: `patchkit diff` — the `.patch` from a pristine and an edited
//!   tree, without build and editor noise;
//! - [`import`]: `patchkit import` — the `.patch` and metadata from upstream
//!   git commits or from an existing (DEP-3) patch;
//! - [`lint`]: `patchkit lint` — every record checked, and optionally tried
//!   on real tarballs, recording the binding `apply` checks;
//! - [`withdraw`]: `patchkit withdraw`.
//!
//! Each is a library function that returns a report; printing is `cli/`'s.
//! Nothing here reads the clock: today's date is passed in by the CLI, so
//! that the functions are deterministic and testable.
//!
//! Records are edited with `toml_edit`, so that the comments and layout a
//! person wrote survive every command (the one exception, `[[tested]]`
//! tables, is regenerated as a whole by `lint --record-results`). Every
//! edited record is validated again with [`Record::from_toml`] before it is
//! written, and every file goes through [`state::write_atomic`]: a command
//! never leaves a half-written or invalid record behind (docs/ARCHITECTURE.md "Nothing
//! half-done").

pub mod csaf;
pub mod diff;
pub mod import;
pub mod lint;
pub mod mbox;
pub mod scaffold;
pub mod withdraw;

use std::path::{Path, PathBuf};

use crate::patch::record::{self, PatchId, Record};
use crate::state;

/// A calendar date, `YYYY-MM-DD`, passed in by the caller (the CLI reads
/// the clock; the library never does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Today(pub chrono::NaiveDate);

impl Today {
    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }

    /// The year, for ids.
    pub fn year(&self) -> i32 {
        chrono::Datelike::year(&self.0)
    }
}

/// Why an authoring command refused or failed. Nothing was written in any
/// case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is not acceptable (a dist name, a range, an alias, a
    /// version, a reason).
    #[error("{0}")]
    Invalid(String),
    /// No record with this id in the source tree.
    #[error("no record {id} in {dir} (looked for {dir}/<Dist>/{id}.toml)")]
    UnknownRecord {
        /// The id asked for.
        id: String,
        /// The source directory.
        dir: PathBuf,
    },
    /// The record exists but cannot be used as it is.
    #[error("{file}: {reason}")]
    BadRecord {
        /// The record file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// An input (tree, tarball, patch, repository) was refused.
    #[error("{input}: {reason}")]
    Input {
        /// The input as given.
        input: String,
        /// Why, one sentence.
        reason: String,
    },
    /// The operation cannot go on (no differences, already withdrawn).
    #[error("{0}")]
    Refused(String),
    /// A git operation failed (a revision that does not exist, a damaged
    /// repository).
    #[error("{repo}: {reason}")]
    Git {
        /// The repository as given.
        repo: String,
        /// git's message.
        reason: String,
    },
    /// Reading the source tree failed.
    #[error(transparent)]
    Source(#[from] crate::catalog::source::Error),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] state::Error),
}

impl Error {
    /// The exit status (docs/ARCHITECTURE.md): 2 for refused or unreadable input, 1
    /// for an operation that could not be done.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_)
            | Error::UnknownRecord { .. }
            | Error::BadRecord { .. }
            | Error::Input { .. }
            | Error::Git { .. }
            | Error::Source(_) => 2,
            Error::Refused(_) | Error::Write(_) => 1,
        }
    }
}

/// A record file found in the source tree, read but not yet edited.
#[derive(Debug, Clone)]
pub struct RecordFile {
    /// `DIR/<Dist>/<ID>.toml`.
    pub path: PathBuf,
    /// The folder holding it (`DIR/<Dist>`).
    pub folder: PathBuf,
    /// The text as read.
    pub text: String,
    /// The record, validated.
    pub record: Record,
}

impl RecordFile {
    /// The `.patch` beside the record.
    pub fn patch_path(&self) -> PathBuf {
        self.folder.join(&self.record.patch)
    }

    /// Parse the text for editing.
    pub(crate) fn document(&self) -> Result<toml_edit::DocumentMut, Error> {
        self.text
            .parse::<toml_edit::DocumentMut>()
            .map_err(|e| Error::BadRecord {
                file: self.path.clone(),
                reason: e.message().to_string(),
            })
    }

    /// Validate the edited document and write it in place of the record.
    pub(crate) fn write(&self, doc: &toml_edit::DocumentMut) -> Result<Record, Error> {
        let text = doc.to_string();
        let (record, _) = Record::from_toml(&text).map_err(|e| Error::BadRecord {
            file: self.path.clone(),
            reason: format!("the edited record would be invalid ({e}); nothing written"),
        })?;
        state::write_atomic(&self.path, text.as_bytes(), None)?;
        Ok(record)
    }
}

/// Find the record `id` in the source tree `dir` (in any dist folder) and
/// read it. The id is checked first, so it can never name a path outside
/// `dir`.
pub fn find_record(dir: &Path, id: &str) -> Result<RecordFile, Error> {
    let id = PatchId::parse(id).map_err(|e| Error::Invalid(format!("record {e}")))?;
    let entries = std::fs::read_dir(dir).map_err(|source| {
        Error::Source(crate::catalog::source::Error::Io {
            path: dir.to_path_buf(),
            source,
        })
    })?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let folder = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') || !folder.is_dir() {
            continue;
        }
        let path = folder.join(format!("{id}.toml"));
        if path.is_file() {
            found.push((folder, path));
        }
    }
    found.sort();
    let Some((folder, path)) = found.first().cloned() else {
        return Err(Error::UnknownRecord {
            id: id.to_string(),
            dir: dir.to_path_buf(),
        });
    };
    if found.len() > 1 {
        return Err(Error::BadRecord {
            file: path,
            reason: format!("id {id} exists in {} dist folders", found.len()),
        });
    }
    let bad = |reason: String| Error::BadRecord {
        file: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let (record, _) = Record::from_toml(&text).map_err(|e| bad(e.to_string()))?;
    let folder_name = folder.file_name().map(|n| n.to_string_lossy().into_owned());
    if folder_name.as_deref() != Some(record.dist.as_str()) {
        return Err(bad(format!(
            "record is for dist {} but sits in another folder",
            record.dist
        )));
    }
    if record.id != id {
        return Err(bad(format!(
            "record id {} does not match its file name",
            record.id
        )));
    }
    Ok(RecordFile {
        path,
        folder,
        text,
        record,
    })
}

/// The title `patchkit new` writes when none is given; `lint` refuses a
/// record that still carries it, and `import` replaces it.
pub const PLACEHOLDER_TITLE: &str = "TODO: one line saying what the patch fixes";

/// Whether a title is still the scaffold's placeholder.
pub fn is_placeholder_title(title: &str) -> bool {
    title.trim_start().starts_with("TODO")
}

/// Set a string key, keeping the key's comments when it already exists.
pub(crate) fn set_str(doc: &mut toml_edit::DocumentMut, key: &str, value: &str) {
    set_value(doc, key, toml_edit::Value::from(value));
}

/// Set a key to a value, keeping the comments around an existing key.
pub(crate) fn set_value(doc: &mut toml_edit::DocumentMut, key: &str, value: toml_edit::Value) {
    match doc.get_mut(key).and_then(|item| item.as_value_mut()) {
        Some(existing) => {
            // Keep the comment after the value (`updated = "…"  # note`).
            let decor = existing.decor().clone();
            *existing = value;
            *existing.decor_mut() = decor;
        }
        None => {
            doc.insert(key, toml_edit::Item::Value(value));
        }
    }
}

/// A string array value, one element per line when long.
pub(crate) fn str_array(values: &[String]) -> toml_edit::Value {
    let mut arr = toml_edit::Array::new();
    for v in values {
        arr.push(v.as_str());
    }
    toml_edit::Value::Array(arr)
}

/// The record's validation error type, for messages.
pub(crate) fn record_error(e: record::Error) -> Error {
    Error::Invalid(e.to_string())
}
