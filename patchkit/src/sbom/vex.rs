//! VEX in CycloneDX (`sbom --vex`): the document's `vulnerabilities`, one
//! per CVE/GHSA id per distribution, saying whether the patches the
//! distribution carries resolve it (docs/auditing.md).
//!
//! The states, from the audit of each distribution against the verified
//! catalog (`audit::report::audit`):
//! - `resolved_with_pedigree`: a carried patch that the repository serves
//!   byte for byte (`genuine`) lists the id, and no file it records was
//!   changed since; the component's `pedigree.patches` is the evidence.
//! - `exploitable`: a published patch for this version lists the id and
//!   the distribution does not carry it (`MISSING`): the release is in the
//!   range the record claims to be affected, so it is affected, and a fix
//!   exists (`response`: `workaround_available`, plus `update` when the
//!   record names the release that fixed it). `in_triage` was rejected for
//!   this: the record is a reviewed claim that the version is affected, not
//!   an open question.
//! - `in_triage`: a carried patch lists the id but can no longer be
//!   vouched for: withdrawn, superseded by another diff, unknown to the
//!   repository, or files changed since it was applied.
//! - `resolved`: a published patch lists the id and the distribution does
//!   not carry it, but its fix is there by other means (a distribution's
//!   patch naming the CVE, or the patch's code changes already present),
//!   as `audit` re-checked against the content (`fixed_otherwise`); the
//!   detail says how it is known. Not `resolved_with_pedigree`: the
//!   component's pedigree does not hold the fix.
//!
//! When one id has several states in one distribution (two patches for
//! one CVE, one missing), the least reassuring wins: exploitable, then
//! in_triage, then resolved, then resolved_with_pedigree. Nothing here reads a clock; the
//! output is sorted, so it is deterministic.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::audit::report::{self, PatchStatus};
use crate::audit::scan::ScannedDist;
use crate::catalog::Catalog;

/// A VEX analysis state, least reassuring first (the order decides which
/// wins when one id has several).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Exploitable,
    InTriage,
    ResolvedOtherwise,
    Resolved,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Exploitable => "exploitable",
            State::InTriage => "in_triage",
            State::ResolvedOtherwise => "resolved",
            State::Resolved => "resolved_with_pedigree",
        }
    }
}

/// What one id's entry says, before it becomes JSON.
struct Analysis {
    state: State,
    detail: String,
    responses: Vec<&'static str>,
    title: Option<String>,
}

/// The `vulnerabilities` array for `components` (each component's
/// `bom-ref` and the scan it came from).
pub(super) fn vulnerabilities(
    components: &[(String, &ScannedDist)],
    catalog: &Catalog,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (bom_ref, d) in components {
        let audited = report::audit(d, catalog);
        let mut by_id: BTreeMap<String, Analysis> = BTreeMap::new();
        let mut note = |id: &str, a: Analysis| match by_id.get(id) {
            Some(have) if have.state <= a.state => {}
            _ => {
                by_id.insert(id.to_string(), a);
            }
        };
        for p in &audited.patches {
            let (state, why) = match p.status {
                PatchStatus::Genuine if audited.tampered.is_empty() => (
                    State::Resolved,
                    format!(
                        "fixed by patch {} (carried and verified against the repository; \
                         see this component's pedigree.patches)",
                        p.id
                    ),
                ),
                PatchStatus::Genuine => (
                    State::InTriage,
                    format!(
                        "patch {} is carried, but files it recorded were changed since it \
                         was applied",
                        p.id
                    ),
                ),
                PatchStatus::Withdrawn => (
                    State::InTriage,
                    format!(
                        "patch {} is carried but was withdrawn: {}",
                        p.id,
                        p.withdrawn_reason.as_deref().unwrap_or("no reason given")
                    ),
                ),
                PatchStatus::Superseded => (
                    State::InTriage,
                    format!(
                        "patch {} is carried, but the repository now publishes a different \
                         diff under that id",
                        p.id
                    ),
                ),
                PatchStatus::Unknown => (
                    State::InTriage,
                    format!(
                        "patch {} is carried, but the repository does not know it",
                        p.id
                    ),
                ),
            };
            for alias in &p.aliases {
                note(
                    alias,
                    Analysis {
                        state,
                        detail: why.clone(),
                        responses: Vec::new(),
                        title: p.title.clone(),
                    },
                );
            }
        }
        for f in &audited.fixed_otherwise {
            let detail = format!(
                "fixed by other means: patch {} is not carried, and {}",
                f.id, f.reason
            );
            for alias in &f.aliases {
                note(
                    alias,
                    Analysis {
                        state: State::ResolvedOtherwise,
                        detail: detail.clone(),
                        responses: Vec::new(),
                        title: Some(f.title.clone()),
                    },
                );
            }
        }
        for m in &audited.missing {
            let fixed_in = catalog
                .get(&m.id)
                .ok()
                .flatten()
                .and_then(|e| e.record.fixed_in.as_ref().map(|v| v.to_string()));
            let mut responses = vec!["workaround_available"];
            if fixed_in.is_some() {
                responses.push("update");
            }
            let detail = format!(
                "this release is in the range of patch {} ({}), which it does not carry; \
                 `patchkit apply` applies it{}",
                m.id,
                m.versions,
                fixed_in
                    .map(|v| format!(", or update to {v}"))
                    .unwrap_or_default()
            );
            for alias in &m.aliases {
                note(
                    alias,
                    Analysis {
                        state: State::Exploitable,
                        detail: detail.clone(),
                        responses: responses.clone(),
                        title: Some(m.title.clone()),
                    },
                );
            }
        }
        for (id, a) in by_id {
            let mut v = Map::new();
            v.insert("bom-ref".into(), json!(format!("vex:{id}:{bom_ref}")));
            v.insert("id".into(), json!(id));
            if let Some(source) = source_of(&id) {
                v.insert("source".into(), source);
            }
            if let Some(t) = a.title {
                v.insert("description".into(), json!(t));
            }
            let mut analysis = Map::new();
            analysis.insert("state".into(), json!(a.state.as_str()));
            if !a.responses.is_empty() {
                analysis.insert("response".into(), json!(a.responses));
            }
            analysis.insert("detail".into(), json!(a.detail));
            v.insert("analysis".into(), Value::Object(analysis));
            v.insert("affects".into(), json!([{ "ref": bom_ref }]));
            out.push(Value::Object(v));
        }
    }
    out
}

/// Where an id is described: NVD for CVEs, GitHub for GHSAs.
fn source_of(id: &str) -> Option<Value> {
    if id.starts_with("CVE-") {
        Some(json!({ "name": "NVD", "url": format!("https://nvd.nist.gov/vuln/detail/{id}") }))
    } else if id.starts_with("GHSA-") {
        Some(
            json!({ "name": "GitHub Advisories", "url": format!("https://github.com/advisories/{id}") }),
        )
    } else {
        None
    }
}
