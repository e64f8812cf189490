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
//!
//! A catalog is built whole ([`Catalog::from_files`]: a source tree, a
//! bundle) or per distribution ([`Catalog::per_dist`]: the trust store,
//! where a call that looks at one tarball must not read every record of a
//! large repository). A per-dist catalog asks its [`DistSource`] for one
//! dist's verified files the first time that dist is looked up, and builds
//! that dist's entries with the same `from_files`; so lookups can fail
//! ([`LoadError`]) where a whole catalog failed when it was built.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::applied::RepositoryRef;
use crate::dist::DistInfo;
use crate::patch::record::{PatchId, Record, TestedFile};
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
        /// The repository's version the records came from: its snapshot
        /// version, which moves whenever any record changes.
        version: u64,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Unsigned { dir } => write!(f, "unsigned source {dir}"),
            Origin::Signed { name, version } => write!(f, "{name} (version {version})"),
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
    /// The repository it came from (with layered repositories, each record
    /// names its own).
    pub origin: Origin,
}

/// All records of one repository.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Where they came from.
    pub origin: Origin,
    entries: Vec<Entry>,
    /// Non-fatal notes (unknown keys, stray files). For a per-dist catalog,
    /// those of the dists looked up are in [`Catalog::dist_warnings`].
    pub warnings: Vec<Problem>,
    per_dist: Option<Arc<PerDist>>,
    /// Further repositories, in precedence order after this one
    /// ([`Catalog::layered`]).
    layers: Vec<Catalog>,
}

/// Why the records of one distribution could not be looked up in a
/// per-dist catalog.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The dist's files could not be read or did not verify against the
    /// signed metadata (exit status 3): one sentence naming the repository,
    /// the file and the check.
    #[error("{0}")]
    Unverified(String),
    /// The dist's verified records are invalid.
    #[error("{}", .0.iter().map(|p| format!("invalid record {p}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

impl LoadError {
    /// 3 when something did not verify, 1 for invalid records.
    pub fn exit_code(&self) -> i32 {
        match self {
            LoadError::Unverified(_) => 3,
            LoadError::Invalid(_) => 1,
        }
    }
}

/// Where a per-dist catalog gets one distribution's files. The dists are
/// spread over `shard_count()` shards, so that a lookup reads one shard of
/// the index, not all of it.
pub trait DistSource: Send + Sync {
    /// How many shards the dists are spread over.
    fn shard_count(&self) -> usize;
    /// The shard of `dist`.
    fn shard_of(&self, dist: &str) -> usize;
    /// The dists of shard `shard` that have files.
    ///
    /// # Errors
    /// [`LoadError`] when the index cannot be read.
    fn dists_in_shard(&self, shard: usize) -> Result<Vec<String>, LoadError>;
    /// Every file of `dist`'s folder (`"<Dist>/<file>"` → bytes), verified.
    ///
    /// # Errors
    /// [`LoadError::Unverified`] naming the file and the check.
    fn files_of(&self, dist: &str) -> Result<BTreeMap<String, Vec<u8>>, LoadError>;
    /// The dist whose folder holds record `id` (`<Dist>/<id>.toml`).
    ///
    /// # Errors
    /// [`LoadError`] when the index cannot be read.
    fn dist_of_record(&self, id: &str) -> Result<Option<String>, LoadError>;
}

type DistSlot = OnceLock<Result<(Vec<Entry>, Vec<Problem>), LoadError>>;
type ShardSlot = OnceLock<Result<BTreeMap<String, DistSlot>, LoadError>>;

/// The lazily filled part of a per-dist catalog: every slot is filled once
/// and never moves, so entries can be lent out for as long as the catalog.
struct PerDist {
    source: Box<dyn DistSource>,
    shards: Vec<ShardSlot>,
}

impl fmt::Debug for PerDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerDist")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl PerDist {
    fn dist(&self, origin: &Origin, dist: &str) -> Result<&[Entry], LoadError> {
        Ok(&self.loaded(origin, dist)?.0)
    }

    fn loaded(
        &self,
        origin: &Origin,
        dist: &str,
    ) -> Result<&(Vec<Entry>, Vec<Problem>), LoadError> {
        let n = self.source.shard_of(dist);
        let Some(slot) = self.shards.get(n) else {
            return Err(LoadError::Unverified(format!(
                "the index has no shard {n} for dist {dist}"
            )));
        };
        let shard = slot
            .get_or_init(|| {
                let dists = self.source.dists_in_shard(n)?;
                Ok(dists.into_iter().map(|d| (d, OnceLock::new())).collect())
            })
            .as_ref()
            .map_err(Clone::clone)?;
        static EMPTY: (Vec<Entry>, Vec<Problem>) = (Vec::new(), Vec::new());
        let Some(slot) = shard.get(dist) else {
            return Ok(&EMPTY);
        };
        slot.get_or_init(|| {
            let files = self.source.files_of(dist)?;
            let c = Catalog::from_files(origin.clone(), &files).map_err(LoadError::Invalid)?;
            Ok((c.entries, c.warnings))
        })
        .as_ref()
        .map_err(Clone::clone)
    }
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
    /// With layered repositories: records hidden by a record of the same
    /// id in an earlier repository (the first wins), with the winner.
    pub shadowed: Vec<(&'a Entry, &'a Entry)>,
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

    /// Apply this patch alone to a copy of `pristine` and list every file
    /// it changes with its sha256 before and after: the `files` of a
    /// `[[tested]]` entry (docs/formats.md), by which `audit` knows an
    /// installed module's content. Empty when the tarball already carries
    /// the patch.
    ///
    /// # Errors
    /// The engine's [`patch::ApplyError`].
    pub fn tested_files(
        &self,
        pristine: &Tree,
        engine: &ApplyOptions,
    ) -> Result<Vec<TestedFile>, patch::ApplyError> {
        let mut alone = pristine.clone();
        let applied = patch::apply(&mut alone, &self.parsed, engine)?;
        let hash = |t: &Tree, p| t.files.get(p).map(|f| sha256_hex(&f.data));
        Ok(applied
            .touched
            .iter()
            .map(|p| TestedFile {
                path: p.to_string(),
                before: hash(pristine, p),
                after: hash(&alone, p),
            })
            .filter(|f| f.before != f.after)
            .collect())
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
            // The signed repository publishes its hash bins' packs under
            // packs/ (`tuf::pack::PACKS_DIR`): no dist may take that name.
            if folder == "packs" {
                problems.push(problem(
                    name,
                    "the folder packs/ is reserved for the packs of a signed repository's hash \
                     bins; no record can be published there"
                        .into(),
                ));
                continue;
            }
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
                origin: origin.clone(),
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
                per_dist: None,
                layers: Vec::new(),
            })
        } else {
            Err(problems)
        }
    }

    /// A catalog that loads each distribution's records from `source` the
    /// first time that dist is looked up ([`Catalog::matching`],
    /// [`Catalog::get`]), through [`Catalog::from_files`].
    pub fn per_dist(origin: Origin, source: Box<dyn DistSource>) -> Catalog {
        let shards = (0..source.shard_count()).map(|_| OnceLock::new()).collect();
        Catalog {
            origin,
            entries: Vec::new(),
            warnings: Vec::new(),
            per_dist: Some(Arc::new(PerDist { source, shards })),
            layers: Vec::new(),
        }
    }

    /// Several repositories used as one, in precedence order: a record id
    /// found in an earlier repository hides the same id in later ones (the
    /// first wins; [`Matches::shadowed`] says which). Each entry keeps its
    /// own [`Entry::origin`]. The combined catalog's [`Catalog::origin`] is
    /// the first one's; [`Catalog::origins`] lists all.
    pub fn layered(first: Catalog, rest: Vec<Catalog>) -> Catalog {
        let mut first = first;
        first.layers.extend(rest);
        first
    }

    /// Every repository of this catalog, in precedence order.
    pub fn origins(&self) -> Vec<&Origin> {
        std::iter::once(&self.origin)
            .chain(self.layers.iter().map(|l| &l.origin))
            .collect()
    }

    /// The repositories, for messages and the log: `a (version 3) + b
    /// (version 9)`.
    pub fn origins_text(&self) -> String {
        self.origins()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// Whether the catalog has records for `dist`, without loading them: a
    /// per-dist catalog reads one shard of its index.
    ///
    /// # Errors
    /// [`LoadError`] when the index cannot be read.
    pub fn has_dist(&self, dist: &str) -> Result<bool, LoadError> {
        for layer in &self.layers {
            if layer.has_dist(dist)? {
                return Ok(true);
            }
        }
        match &self.per_dist {
            None => Ok(self.entries.iter().any(|e| e.record.dist.as_str() == dist)),
            Some(p) => Ok(p
                .source
                .dists_in_shard(p.source.shard_of(dist))?
                .iter()
                .any(|d| d == dist)),
        }
    }

    /// A digest of everything this catalog holds for `dist`, in every
    /// layer: each record whole and its patch's digest, and the
    /// repositories' names (not their versions). Equal digests mean a build of one of the dist's tarballs
    /// gives the same patches: the mirror's cache key, so that a new
    /// repository version rebuilds only the dists whose records changed.
    ///
    /// # Errors
    /// [`LoadError`] as for [`Catalog::of_dist`].
    pub fn dist_digest(&self, dist: &str) -> Result<String, LoadError> {
        let mut text = String::new();
        for layer in std::iter::once(self).chain(&self.layers) {
            let name = match &layer.origin {
                Origin::Signed { name, .. } => format!("signed:{name}"),
                Origin::Unsigned { dir } => format!("unsigned:{dir}"),
            };
            text.push_str(&name);
            text.push('\n');
            for e in layer.of_dist(dist)? {
                // The whole record (its title and aliases end up in the
                // tarball's applied.json too), and the patch by digest.
                text.push_str(&format!(
                    "{}\0{}\0{}\n",
                    e.record_file,
                    e.patch_sha256,
                    serde_json::to_string(&e.record).unwrap_or_default()
                ));
            }
        }
        Ok(sha256_hex(text.as_bytes()))
    }

    /// Every record of `dist`, whatever its range or status (a per-dist
    /// catalog loads that dist's records).
    ///
    /// # Errors
    /// [`LoadError`] as for [`Catalog::matching`].
    pub fn of_dist(&self, dist: &str) -> Result<Vec<&Entry>, LoadError> {
        let entries = match &self.per_dist {
            None => &self.entries[..],
            Some(p) => p.dist(&self.origin, dist)?,
        };
        Ok(entries
            .iter()
            .filter(|e| e.record.dist.as_str() == dist)
            .collect())
    }

    /// Every record of a catalog built whole ([`Catalog::from_files`]: a
    /// source tree, a bundle). A per-dist catalog has none here: look
    /// records up with [`Catalog::matching`] and [`Catalog::get`].
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The non-fatal notes about `dist`'s records (for a whole catalog, the
    /// ones of [`Catalog::warnings`] naming files of that dist).
    ///
    /// # Errors
    /// [`LoadError`] as for [`Catalog::matching`].
    pub fn dist_warnings(&self, dist: &str) -> Result<Vec<Problem>, LoadError> {
        let mut out = match &self.per_dist {
            Some(p) => p.loaded(&self.origin, dist)?.1.clone(),
            None => self
                .warnings
                .iter()
                .filter(|w| w.file.split_once('/').is_some_and(|(d, _)| d == dist))
                .cloned()
                .collect(),
        };
        for layer in &self.layers {
            out.extend(layer.dist_warnings(dist)?);
        }
        Ok(out)
    }

    /// Look a record up by id.
    ///
    /// # Errors
    /// [`LoadError`] when the dist holding it cannot be loaded (per-dist
    /// catalogs only).
    pub fn get(&self, id: &str) -> Result<Option<&Entry>, LoadError> {
        let entries = match &self.per_dist {
            None => &self.entries[..],
            Some(p) => match p.source.dist_of_record(id)? {
                Some(dist) => p.dist(&self.origin, &dist)?,
                None => &[],
            },
        };
        if let Some(e) = entries.iter().find(|e| e.record.id.as_str() == id) {
            return Ok(Some(e));
        }
        for layer in &self.layers {
            if let Some(e) = layer.get(id)? {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// The records for `dist`, split into what applies (in application
    /// order), what is withdrawn, and what is out of range.
    ///
    /// # Errors
    /// [`LoadError`] when the dist's records cannot be loaded (per-dist
    /// catalogs only).
    pub fn matching(&self, dist: &DistInfo) -> Result<Matches<'_>, LoadError> {
        let mut m = Matches::default();
        // The first repository that has an id wins it.
        let mut winners: BTreeMap<&PatchId, &Entry> = BTreeMap::new();
        for layer in std::iter::once(self).chain(&self.layers) {
            let entries = match &layer.per_dist {
                None => &layer.entries[..],
                Some(p) => p.dist(&layer.origin, dist.name.as_str())?,
            };
            for e in entries.iter().filter(|e| e.record.dist == dist.name) {
                if let Some(first) = winners.get(&e.record.id) {
                    m.shadowed.push((e, first));
                    continue;
                }
                winners.insert(&e.record.id, e);
                layer_match(&mut m, e, dist);
            }
        }
        // docs/formats.md: ascending `order`, ties broken by id.
        m.apply
            .sort_by(|a, b| (a.record.order, &a.record.id).cmp(&(b.record.order, &b.record.id)));
        Ok(m)
    }
}

/// Sorts one matching entry into what applies, is withdrawn or is out of
/// range.
fn layer_match<'a>(m: &mut Matches<'a>, e: &'a Entry, dist: &DistInfo) {
    if !e.record.range.contains(&dist.version) {
        m.out_of_range.push(e);
    } else if e.record.is_withdrawn() {
        m.withdrawn.push(e);
    } else {
        m.apply.push(e);
    }
}
