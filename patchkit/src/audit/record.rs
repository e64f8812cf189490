//! The record of what was applied, which travels with the patched
//! distribution (DESIGN.md "The record of what was applied"):
//!
//! - `<top>/.patchkit/applied.json` — ids, patch sha256, files changed with
//!   their new sha256, the repository and its version, the tool version;
//! - `<top>/.patchkit/patches/<id>.patch` — the diffs themselves;
//! - an `x_patchkit` key in the META.json and META.yml the dist ships (and
//!   only those: none is created), which installers carry into MYMETA.json
//!   and cpanm keeps under `<lib>/<archname>/.meta/<dist>/`.
//!
//! The record holds no wall-clock time and no local path, so the same
//! inputs give the same bytes anywhere (DESIGN.md "Deterministic output").
//! Every key is snake_case and every map is ordered.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::verify::{self, Claim, Scope, Verdict};
use crate::dist::{meta, printable};
use crate::error::{excerpt, EXCERPT};
use crate::repo::catalog::{Catalog, Entry, Origin};
use crate::tree::{sha256_hex, Change, FileEntry, InTreePath, Tree};

/// Directory of the record inside the top directory.
pub const RECORD_DIR: &str = ".patchkit";
/// The record file.
pub const APPLIED_JSON: &str = ".patchkit/applied.json";
/// Version of the applied.json format.
pub const FORMAT: u32 = 1;

/// `.patchkit/applied.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applied {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// `patchkit X.Y.Z` that last wrote the record.
    pub tool: String,
    /// The distribution name.
    pub dist: String,
    /// The distribution version.
    pub version: String,
    /// sha256 of the pristine upstream tarball the first patches were
    /// applied to (absent when a directory was patched); kept across later
    /// applies, so that an SBOM can name the original artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_sha256: Option<String>,
    /// Every patch carried, in application order.
    pub patches: Vec<AppliedPatch>,
}

/// One applied patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliedPatch {
    /// The record id.
    pub id: String,
    /// The record title.
    pub title: String,
    /// CVE / GHSA ids it resolves.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// sha256 of the diff as published.
    pub patch_sha256: String,
    /// Where the diff is kept in the dist (`.patchkit/patches/<id>.patch`).
    pub patch_file: String,
    /// The repository it came from.
    pub repository: RepositoryRef,
    /// Files the patch changed, with their sha256 after all patches (null
    /// when the patch deleted the file).
    pub files: Vec<ChangedFile>,
}

/// The repository a patch came from, without local paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RepositoryRef {
    /// An unsigned source tree (`--source`).
    Unsigned,
    /// A verified TUF repository.
    Signed {
        /// Its name in the home that applied it.
        name: String,
        /// Its targets metadata version.
        version: u64,
    },
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

/// A file a patch changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangedFile {
    /// Path below the top directory.
    pub path: String,
    /// sha256 of the content after patching; `None` when deleted.
    pub sha256: Option<String>,
}

/// Read the record a tree already carries, if any.
pub fn read_applied(tree: &Tree) -> Result<Option<Applied>, String> {
    let Ok(path) = InTreePath::parse(APPLIED_JSON) else {
        return Ok(None);
    };
    match tree.files.get(&path) {
        None => Ok(None),
        Some(f) => serde_json::from_slice(&f.data)
            .map(Some)
            .map_err(|e| format!("{APPLIED_JSON} is not a valid record: {e}")),
    }
}

/// The record `tree` carries, when it is believed: it parses, and the
/// content backs every patch it lists ([`super::verify::check`]: the
/// repository publishes that diff under that id, and the files carry it).
/// A record that fails either way is ignored — `apply` then treats the
/// target as carrying no record, so that an upstream that ships its own
/// `.patchkit/applied.json` can neither skip a patch nor have its claims
/// merged into the record patchkit writes — and `warnings` says why.
pub fn believed_record(
    tree: &Tree,
    catalog: &Catalog,
    warnings: &mut Vec<String>,
) -> Option<Applied> {
    let applied = match read_applied(tree) {
        Ok(applied) => applied?,
        Err(reason) => {
            warnings.push(printable(&format!(
                "ignoring {reason}; patches are applied as if it were absent"
            )));
            return None;
        }
    };
    let claims: Vec<Claim<'_>> = applied
        .patches
        .iter()
        .map(|p| Claim {
            id: &p.id,
            patch_sha256: &p.patch_sha256,
            files: &p.files,
        })
        .collect();
    let verdicts = verify::check(&claims, catalog, tree, Scope::Whole);
    let doubts: Vec<String> = applied
        .patches
        .iter()
        .zip(verdicts)
        .filter_map(|(p, verdict)| {
            let why = match verdict {
                Verdict::Carried => return None,
                Verdict::NotCarried(why) | Verdict::Tampered(why) => why,
                Verdict::NotPublished => {
                    "the repository publishes no such diff under that id".to_string()
                }
            };
            Some(format!("{}: {why}", excerpt(&p.id, EXCERPT)))
        })
        .collect();
    if doubts.is_empty() {
        return Some(applied);
    }
    warnings.push(printable(&format!(
        "ignoring {APPLIED_JSON}: it claims patches the content does not back ({}); patches \
         are applied as if it were absent",
        doubts.join("; ")
    )));
    None
}

/// A patch just applied, for [`record_changes`].
pub struct NewlyApplied<'a> {
    /// The catalog entry.
    pub entry: &'a Entry,
    /// Paths it touched (changed, created or deleted).
    pub paths: Vec<InTreePath>,
}

fn path(s: &str) -> Result<InTreePath, String> {
    InTreePath::parse(s).map_err(|e| format!("internal path {s:?} {e}"))
}

/// The changes that write the record into `patched` (the tree after the
/// patches): applied.json (merged with an existing one), the diffs, and
/// `x_patchkit` in whichever META files exist. `dist`/`version` name the
/// distribution; `origin` the repository.
pub fn record_changes(
    patched: &Tree,
    previous: Option<Applied>,
    newly: &[NewlyApplied<'_>],
    origin: &Origin,
    dist: &str,
    version: &str,
    input_sha256: Option<&str>,
) -> Result<Vec<Change>, String> {
    // A target that already carries a record is not pristine: its original
    // is whatever that record says, never the patched input's own digest.
    let mut applied = previous.unwrap_or(Applied {
        format: FORMAT,
        tool: String::new(),
        dist: dist.to_string(),
        version: version.to_string(),
        original_sha256: input_sha256.map(str::to_string),
        patches: Vec::new(),
    });
    applied.tool = tool_version();
    let mut changes = Vec::new();
    for n in newly {
        let rec = &n.entry.record;
        let patch_file = format!("{RECORD_DIR}/patches/{}.patch", rec.id);
        let mut files: Vec<ChangedFile> = n
            .paths
            .iter()
            .map(|p| ChangedFile {
                path: p.to_string(),
                sha256: patched.files.get(p).map(|f| sha256_hex(&f.data)),
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        applied.patches.retain(|p| p.id != rec.id.as_str());
        applied.patches.push(AppliedPatch {
            id: rec.id.to_string(),
            title: rec.title.clone(),
            aliases: rec.aliases.iter().map(|a| a.as_str().to_string()).collect(),
            patch_sha256: n.entry.patch_sha256.clone(),
            patch_file: patch_file.clone(),
            repository: origin.into(),
            files,
        });
        changes.push(upsert(
            patched,
            path(&patch_file)?,
            n.entry.patch_text.clone(),
        ));
    }
    // A later patch may have changed a file an earlier one changed: every
    // listed sha256 is of the final content, so that audit can compare.
    for p in &mut applied.patches {
        for f in &mut p.files {
            if let Ok(ip) = InTreePath::parse(&f.path) {
                if let Some(entry) = patched.files.get(&ip) {
                    f.sha256 = Some(sha256_hex(&entry.data));
                }
            }
        }
    }
    let mut json = serde_json::to_vec_pretty(&applied).map_err(|e| e.to_string())?;
    json.push(b'\n');
    changes.push(upsert(patched, path(APPLIED_JSON)?, json));

    let x = x_patchkit_value(&applied);
    for (name, is_json) in [("META.json", true), ("META.yml", false)] {
        let p = path(name)?;
        if let Some(f) = patched.files.get(&p) {
            let data = if is_json {
                meta::json_set_x_patchkit(&f.data, &x)
            } else {
                meta::yml_set_x_patchkit(&f.data, &x)
            }
            .map_err(|e| format!("{name}: {e}"))?;
            changes.push(Change::Modify(p, FileEntry { data, mode: f.mode }));
        }
    }
    Ok(changes)
}

fn upsert(tree: &Tree, p: InTreePath, data: Vec<u8>) -> Change {
    match tree.files.get(&p) {
        Some(f) => Change::Modify(p, FileEntry { data, mode: f.mode }),
        None => Change::Add(p, FileEntry { data, mode: 0o644 }),
    }
}

/// The `x_patchkit` value put in META: enough to audit an installed
/// library, which keeps MYMETA.json but not `.patchkit/`.
pub fn x_patchkit_value(applied: &Applied) -> serde_json::Value {
    let patches: Vec<serde_json::Value> = applied
        .patches
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "aliases": p.aliases,
                "patch_sha256": p.patch_sha256,
                "repository": p.repository,
                "files": p.files.iter().map(|f| json!({"path": f.path, "sha256": f.sha256}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut x = json!({
        "record": APPLIED_JSON,
        "tool": applied.tool,
        "applied": patches,
    });
    if let (Some(sha), Some(map)) = (&applied.original_sha256, x.as_object_mut()) {
        map.insert("original_sha256".into(), json!(sha));
    }
    x
}

/// `patchkit X.Y.Z`.
pub fn tool_version() -> String {
    format!("patchkit {}", env!("CARGO_PKG_VERSION"))
}

/// The `x_patchkit` value as read back from META.json or MYMETA.json: what
/// [`x_patchkit_value`] writes. Unknown keys are tolerated here (unlike
/// applied.json) because installers may re-serialise META and a later
/// patchkit may add keys; the fields audit relies on are required.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct XPatchkit {
    /// Where the full record sits in the distribution.
    #[serde(default)]
    pub record: Option<String>,
    /// `patchkit X.Y.Z` that wrote it.
    #[serde(default)]
    pub tool: Option<String>,
    /// sha256 of the pristine upstream tarball, when it was a tarball.
    #[serde(default)]
    pub original_sha256: Option<String>,
    /// The patches carried, in application order.
    pub applied: Vec<XPatchkitPatch>,
}

/// One patch in `x_patchkit.applied`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct XPatchkitPatch {
    /// The record id.
    pub id: String,
    /// CVE / GHSA ids it resolves.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// sha256 of the diff as published.
    pub patch_sha256: String,
    /// Files the patch changed, with their sha256 after all patches.
    #[serde(default)]
    pub files: Vec<ChangedFile>,
}

/// Read an `x_patchkit` value (from META.json or MYMETA.json).
pub fn parse_x_patchkit(value: &serde_json::Value) -> Result<XPatchkit, String> {
    XPatchkit::deserialize(value).map_err(|e| format!("x_patchkit is not a valid record: {e}"))
}
