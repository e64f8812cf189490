//! The catalog: every patch record of one repository, validated, with its
//! diff parsed — whether it came from an unsigned source tree (`--source`)
//! or from verified TUF targets.
//!
//! Both ways in go through [`Catalog::from_files`], which takes the
//! repository's files as `"<Dist>/<name>"` → bytes. One builder means one
//! set of checks: a record whose dist does not match its folder, an id that
//! does not match its file name, a missing or unparsable patch (including a
//! path that leaves the distribution), and duplicate ids are each refused
//! with the file named.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::applied::RepositoryRef;
use crate::dist::DistInfo;
use crate::patch::record::{PatchId, Record};
use crate::patch::{self, ApplyOptions, ParsedPatch};
use crate::tree::{sha256_hex, Tree};

/// Largest record TOML accepted (bytes).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Largest patch accepted (bytes).
pub const MAX_PATCH_BYTES: usize = 4 * 1024 * 1024;

pub mod claims;
pub mod source;

/// One problem with one file of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the repository root (`Dist/ID.toml`).
    pub file: String,
    /// What is wrong, one sentence.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// Where a catalog's records came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// An unsigned source tree given with `--source`.
    Unsigned {
        /// The directory, as given.
        dir: String,
    },
    /// A verified TUF repository.
    Signed {
        /// The repository's name in this home.
        name: String,
        /// The targets metadata version the records came from.
        version: u64,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Unsigned { dir } => write!(f, "unsigned source {dir}"),
            Origin::Signed { name, version } => write!(f, "{name} (targets version {version})"),
        }
    }
}

impl From<&Origin> for RepositoryRef {
    fn from(o: &Origin) -> Self {
        match o {
            Origin::Unsigned { .. } => RepositoryRef::Unsigned,
            Origin::Signed { name, version } => RepositoryRef::Signed {
                name: name.clone(),
                version: *version,
            },
        }
    }
}

/// A record with its diff.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The validated record.
    pub record: Record,
    /// `Dist/ID.toml`.
    pub record_file: String,
    /// The diff as published.
    pub patch_text: Vec<u8>,
    /// sha256 of `patch_text`.
    pub patch_sha256: String,
    /// The diff, parsed with the record's `strip`.
    pub parsed: ParsedPatch,
}

/// All records of one repository.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Where they came from.
    pub origin: Origin,
    entries: Vec<Entry>,
    /// Non-fatal notes (unknown keys, stray files).
    pub warnings: Vec<Problem>,
}

/// What the catalog has for one distribution release.
#[derive(Debug, Default)]
pub struct Matches<'a> {
    /// Records to apply, in application order (`order`, then id).
    pub apply: Vec<&'a Entry>,
    /// Withdrawn records whose range includes the version.
    pub withdrawn: Vec<&'a Entry>,
    /// Records of the same dist whose range excludes the version.
    pub out_of_range: Vec<&'a Entry>,
}

impl Entry {
    /// Apply this patch alone to a copy of `pristine`: what the engine did,
    /// and the tree digest of the result — the `patched_tree` of a
    /// `[[tested]]` entry (docs/formats.md). `apply`'s binding check and
    /// `patchkit lint --record-results` both call this, so the digest
    /// written and the digest checked cannot drift apart.
    ///
    /// # Errors
    /// The engine's [`patch::ApplyError`].
    pub fn patched_tree_digest(
        &self,
        pristine: &Tree,
        engine: &ApplyOptions,
    ) -> Result<(patch::Applied, String), patch::ApplyError> {
        let mut alone = pristine.clone();
        let applied = patch::apply(&mut alone, &self.parsed, engine)?;
        Ok((applied, alone.digest()))
    }
}

impl Catalog {
    /// Build a catalog from a repository's files. `files` maps
    /// `"<Dist>/<file>"` to content; files at other depths are ignored with
    /// a warning. All problems are returned, not just the first.
    pub fn from_files(
        origin: Origin,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Catalog, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let mut entries = Vec::new();
        let mut used_patches = BTreeSet::new();
        let problem = |file: &str, message: String| Problem {
            file: file.to_string(),
            message,
        };
        for (name, data) in files {
            let Some((folder, file)) = name.split_once('/') else {
                continue;
            };
            if file.contains('/') {
                warnings.push(problem(
                    name,
                    "ignored: not directly in a dist folder".into(),
                ));
                continue;
            }
            let Some(stem) = file.strip_suffix(".toml") else {
                continue;
            };
            if data.len() > MAX_RECORD_BYTES {
                problems.push(problem(
                    name,
                    format!("record is larger than {MAX_RECORD_BYTES} bytes"),
                ));
                continue;
            }
            let Ok(text) = std::str::from_utf8(data) else {
                problems.push(problem(name, "record is not UTF-8".into()));
                continue;
            };
            let (record, unknown) = match Record::from_toml(text) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(problem(name, e.to_string()));
                    continue;
                }
            };
            for key in unknown {
                warnings.push(problem(name, format!("unknown field `{key}`")));
            }
            if record.dist.as_str() != folder {
                problems.push(problem(
                    name,
                    format!(
                        "record is for dist {} but sits in folder {folder}",
                        record.dist
                    ),
                ));
                continue;
            }
            if record.id.as_str() != stem {
                problems.push(problem(
                    name,
                    format!("record id {} does not match its file name", record.id),
                ));
                continue;
            }
            let patch_name = format!("{folder}/{}", record.patch);
            let Some(patch_text) = files.get(&patch_name) else {
                problems.push(problem(
                    name,
                    format!("patch file {} is missing", record.patch),
                ));
                continue;
            };
            used_patches.insert(patch_name.clone());
            if patch_text.len() > MAX_PATCH_BYTES {
                problems.push(problem(
                    &patch_name,
                    format!("patch is larger than {MAX_PATCH_BYTES} bytes"),
                ));
                continue;
            }
            let parsed = match patch::parse(patch_text, record.strip) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(problem(&patch_name, e.to_string()));
                    continue;
                }
            };
            entries.push(Entry {
                record_file: name.clone(),
                patch_sha256: sha256_hex(patch_text),
                patch_text: patch_text.clone(),
                parsed,
                record,
            });
        }
        // Duplicate ids across folders: every copy is named.
        let mut seen: BTreeMap<&PatchId, &str> = BTreeMap::new();
        for e in &entries {
            if let Some(first) = seen.insert(&e.record.id, &e.record_file) {
                problems.push(problem(
                    &e.record_file,
                    format!("duplicate id {} (also in {first})", e.record.id),
                ));
            }
        }
        for name in files.keys() {
            if name.ends_with(".patch") && !used_patches.contains(name) {
                warnings.push(problem(name, "no record refers to this patch".into()));
            }
        }
        if problems.is_empty() {
            Ok(Catalog {
                origin,
                entries,
                warnings,
            })
        } else {
            Err(problems)
        }
    }

    /// Every record.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Look a record up by id.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.record.id.as_str() == id)
    }

    /// The records for `dist`, split into what applies (in application
    /// order), what is withdrawn, and what is out of range.
    pub fn matching(&self, dist: &DistInfo) -> Matches<'_> {
        let mut m = Matches::default();
        for e in self.entries.iter().filter(|e| e.record.dist == dist.name) {
            if !e.record.range.contains(&dist.version) {
                m.out_of_range.push(e);
            } else if e.record.is_withdrawn() {
                m.withdrawn.push(e);
            } else {
                m.apply.push(e);
            }
        }
        // docs/formats.md: ascending `order`, ties broken by id.
        m.apply
            .sort_by(|a, b| (a.record.order, &a.record.id).cmp(&(b.record.order, &b.record.id)));
        m
    }
}
