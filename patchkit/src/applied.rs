//! The record of what was applied, which travels with the patched
//! distribution (docs/formats.md, "the record left in a patched
//! distribution"). Not to be confused with a *patch record*, the TOML file
//! of the repository ([`crate::patch::record`]): this is what a patched
//! dist says about itself. Plain data: it knows nothing of catalogs or
//! repositories beyond the [`RepositoryRef`] it stores.
//!
//! - `<top>/.patchkit/applied.json` — ids, patch sha256, files changed with
//!   their new sha256, the repository and its version, the tool version;
//! - `<top>/.patchkit/patches/<id>.patch` — the diffs themselves;
//! - an `x_patchkit` key in the META.json and META.yml the dist ships (and
//!   only those: none is created), which installers carry into MYMETA.json
//!   and cpanm keeps under `<lib>/<archname>/.meta/<dist>/`.
//!
//! The record holds no wall-clock time and no local path, so the same
//! inputs give the same bytes anywhere (docs/ARCHITECTURE.md, "deterministic
//! output").
//! Every key is snake_case and every map is ordered.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::dist::meta;
use crate::tree::{Change, FileEntry, InTreePath, Tree};

/// Directory of the record inside the top directory.
pub const RECORD_DIR: &str = ".patchkit";
/// The record file.
pub const APPLIED_JSON: &str = ".patchkit/applied.json";
/// Version of the applied.json format: 2 adds [`Applied::outcomes`]. A
/// record without outcomes is still written as format 1, which older
/// readers accept; this reader accepts both.
pub const FORMAT: u32 = 2;
/// The format written when the record has no outcomes.
pub const FORMAT_WITHOUT_OUTCOMES: u32 = 1;

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
    /// The matching patches that were not applied, each with its outcome
    /// and the reason (format 2; absent in format 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<Outcome>,
}

/// Why a matching patch is not among [`Applied::patches`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// The content already carries this exact diff (its reverse fits), but
    /// patchkit did not put it there.
    AlreadyApplied,
    /// The flaw is fixed by other means (docs/applying.md): the code has
    /// the fixed content though a test the patch adds is absent, or a
    /// distribution patch names the flaw.
    FixedByOtherMeans,
    /// Skipped by request (`--skip`, or a skip list).
    Skipped,
    /// Withdrawn by the repository.
    Withdrawn,
    /// Did not apply (`--partial`: the others were applied).
    Failed,
}

impl OutcomeStatus {
    /// The word shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::AlreadyApplied => "already applied",
            OutcomeStatus::FixedByOtherMeans => "fixed by other means",
            OutcomeStatus::Skipped => "skipped",
            OutcomeStatus::Withdrawn => "withdrawn",
            OutcomeStatus::Failed => "failed",
        }
    }
}

/// One matching patch that was not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The record id.
    pub id: String,
    /// The record title.
    pub title: String,
    /// CVE / GHSA ids.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// sha256 of the diff as published, as it was judged.
    pub patch_sha256: String,
    /// What happened.
    pub status: OutcomeStatus,
    /// How patchkit knows, in one sentence.
    pub reason: String,
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
        /// Its version: the snapshot version, which moves whenever any
        /// record changes.
        version: u64,
    },
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
    let Some(f) = tree.files.get(&path) else {
        return Ok(None);
    };
    let applied: Applied = serde_json::from_slice(&f.data)
        .map_err(|e| format!("{APPLIED_JSON} is not a valid record: {e}"))?;
    if applied.format == 0 || applied.format > FORMAT {
        return Err(format!(
            "{APPLIED_JSON} has format {}, which this patchkit does not read (1 to {FORMAT})",
            applied.format
        ));
    }
    Ok(Some(applied))
}

/// A patch just applied, for [`record_changes`].
pub struct NewlyApplied<'a> {
    /// The patch record's id.
    pub id: &'a str,
    /// Its title.
    pub title: &'a str,
    /// CVE / GHSA ids it resolves.
    pub aliases: Vec<String>,
    /// sha256 of the diff as published.
    pub patch_sha256: &'a str,
    /// The diff as published.
    pub patch_text: &'a [u8],
    /// The repository it came from.
    pub repository: RepositoryRef,
    /// Paths it touched (changed, created or deleted).
    pub paths: Vec<InTreePath>,
}

fn path(s: &str) -> Result<InTreePath, String> {
    InTreePath::parse(s).map_err(|e| format!("internal path {s:?} {e}"))
}

/// The changes that write the record into `patched` (the tree after the
/// patches): applied.json (merged with an existing one), the diffs, and
/// `x_patchkit` in whichever META files exist. `dist`/`version` name the
/// distribution.
pub fn record_changes(
    patched: &Tree,
    previous: Option<Applied>,
    newly: &[NewlyApplied<'_>],
    outcomes: Vec<Outcome>,
    dist: &str,
    version: &str,
    input_sha256: Option<&str>,
) -> Result<Vec<Change>, String> {
    // A target that already carries a record is not pristine: its original
    // is whatever that record says, never the patched input's own digest.
    let mut applied = previous.unwrap_or(Applied {
        format: FORMAT_WITHOUT_OUTCOMES,
        tool: String::new(),
        dist: dist.to_string(),
        version: version.to_string(),
        original_sha256: input_sha256.map(str::to_string),
        patches: Vec::new(),
        outcomes: Vec::new(),
    });
    applied.tool = tool_version();
    // The outcomes are this run's: a patch applied since is no longer one.
    applied.outcomes = outcomes
        .into_iter()
        .filter(|o| !newly.iter().any(|n| n.id == o.id))
        .collect();
    applied.format = if applied.outcomes.is_empty() {
        FORMAT_WITHOUT_OUTCOMES
    } else {
        FORMAT
    };
    let mut changes = Vec::new();
    for n in newly {
        let patch_file = format!("{RECORD_DIR}/patches/{}.patch", n.id);
        let mut files: Vec<ChangedFile> = n
            .paths
            .iter()
            .map(|p| ChangedFile {
                path: p.to_string(),
                sha256: patched.file_sha256(p),
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        applied.patches.retain(|p| p.id != n.id);
        applied.patches.push(AppliedPatch {
            id: n.id.to_string(),
            title: n.title.to_string(),
            aliases: n.aliases.clone(),
            patch_sha256: n.patch_sha256.to_string(),
            patch_file: patch_file.clone(),
            repository: n.repository.clone(),
            files,
        });
        changes.push(upsert(patched, path(&patch_file)?, n.patch_text.to_vec()));
    }
    // A later patch may have changed a file an earlier one changed: every
    // listed sha256 is of the final content, so that audit can compare.
    for p in &mut applied.patches {
        for f in &mut p.files {
            if let Ok(ip) = InTreePath::parse(&f.path) {
                if let Some(sha256) = patched.file_sha256(&ip) {
                    f.sha256 = Some(sha256);
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
    let mode = match (tree.files.get(&p), tree.unloaded.get(&p)) {
        (Some(f), _) => Some(f.mode),
        (None, Some(u)) => Some(u.mode),
        (None, None) => None,
    };
    match mode {
        Some(mode) => Change::Modify(p, FileEntry { data, mode }),
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
    if let (false, Some(map)) = (applied.outcomes.is_empty(), x.as_object_mut()) {
        map.insert("outcomes".into(), json!(applied.outcomes));
    }
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
    /// The matching patches not applied, with the reason (format 2).
    #[serde(default)]
    pub outcomes: Vec<Outcome>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::FileEntry;

    fn tree_with(json: &str) -> Tree {
        let mut t = Tree::default();
        t.files.insert(
            InTreePath::parse(APPLIED_JSON).unwrap(),
            FileEntry {
                data: json.as_bytes().to_vec(),
                mode: 0o644,
            },
        );
        t
    }

    #[test]
    fn a_format_1_record_is_still_read_and_a_newer_one_refused() {
        let v1 = r#"{"format": 1, "tool": "patchkit 0.1.0", "dist": "Foo", "version": "1.0",
                     "patches": []}"#;
        let a = read_applied(&tree_with(v1)).unwrap().unwrap();
        assert_eq!((a.format, a.outcomes.len()), (1, 0));
        let v9 = v1.replace("\"format\": 1", "\"format\": 9");
        let e = read_applied(&tree_with(&v9)).unwrap_err();
        assert!(e.contains("has format 9"), "{e}");
    }

    #[test]
    fn outcomes_make_format_2_and_reach_x_patchkit_only_when_present() {
        let o = Outcome {
            id: "PK-1".into(),
            title: "t".into(),
            aliases: vec!["CVE-2025-1".into()],
            patch_sha256: "00".into(),
            status: OutcomeStatus::FixedByOtherMeans,
            reason: "why".into(),
        };
        let tree = Tree::default();
        let changes = record_changes(&tree, None, &[], vec![o], "Foo", "1.0", None).unwrap();
        let Change::Add(_, f) = &changes[0] else {
            panic!("{changes:?}")
        };
        let a: Applied = serde_json::from_slice(&f.data).unwrap();
        assert_eq!(a.format, FORMAT);
        assert_eq!(
            x_patchkit_value(&a)["outcomes"][0]["status"],
            "fixed_by_other_means"
        );
        let none = record_changes(&tree, None, &[], vec![], "Foo", "1.0", None).unwrap();
        let Change::Add(_, f) = &none[0] else {
            panic!("{none:?}")
        };
        let a: Applied = serde_json::from_slice(&f.data).unwrap();
        assert_eq!(a.format, FORMAT_WITHOUT_OUTCOMES);
        assert!(x_patchkit_value(&a).get("outcomes").is_none());
    }
}
