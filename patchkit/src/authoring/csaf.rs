//! `patchkit export csaf`: one CSAF 2.0 security advisory per patch record,
//! for the vulnerability indexes auditors use (docs/publishing.md,
//! docs/auditing.md).
//!
//! Each advisory (profile `csaf_security_advisory`, OASIS CSAF 2.0) holds:
//! - `document`: the record's title, its description and severity
//!   (`aggregate_severity`), the publisher given by the caller, `tracking`
//!   with the record id, `published` and `updated` as the revision history
//!   (version 1, or 2 when the record was updated after it was published),
//!   and patchkit as the generator; references to the CVE/GHSA pages and
//!   the record's own `references`;
//! - `product_tree`: the distribution (vendor branch `CPAN`), its affected
//!   range as a `product_version_range` in `vers:cpan/…` form with the
//!   purl `pkg:cpan/Dist`, and, when the record names the release that
//!   fixed it (`fixed_in`), that release as a `product_version` with its
//!   purl;
//! - `vulnerabilities`: one per CVE (and one per GHSA id without a CVE,
//!   under `ids`), each `known_affected` for the range (`fixed` for the
//!   fixed release) and remediated by the patch: `vendor_fix` when the
//!   patch is upstream's own change (`kind` = `cherry-pick` or
//!   `backport`), `workaround` when the security team wrote it
//!   (`unofficial`: not "an official fix issued by the original author",
//!   which is what CSAF calls a vendor fix), plus `vendor_fix` "update to
//!   FIXED" when there is a fixed release.
//!
//! Withdrawn records are not exported (CSAF 2.0 has no withdrawn status);
//! the report names them. Records without a date take `today`, passed in
//! by the caller. The output is deterministic: the same records give the
//! same bytes. Validity under the CSAF 2.0 JSON schema and its mandatory
//! tests (6.1) is checked in CI by the `csaf` validator from PyPI
//! (tests/e2e/csaf.rs).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{Error, Today};
use crate::catalog::{source, Entry};
use crate::patch::record::PatchKind;
use crate::state;
use crate::version::CpanVersion;

/// Who publishes the advisories (CSAF `document.publisher`).
#[derive(Debug, Clone)]
pub struct Publisher {
    /// `name`, e.g. "CPAN Security Group".
    pub name: String,
    /// `namespace`: the publisher's URL, e.g. `https://security.metacpan.org`.
    pub namespace: String,
}

/// What `export csaf` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct CsafReport {
    /// The output directory.
    pub out: PathBuf,
    /// Files written, one per exported record (`pk-2026-0001.json`).
    pub written: Vec<String>,
    /// Records not exported, with why (`PK-… (withdrawn)`).
    pub skipped: Vec<String>,
}

/// The file name CSAF 2.0 §5.1 gives a document: the tracking id in lower
/// case, every run of characters other than `+`, `-`, `a-z`, `0-9`
/// replaced by `_`, then `.json`.
pub fn file_name(id: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in id.to_ascii_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '+' || c == '-' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out + ".json"
}

/// A CPAN::Meta::Requirements range (`>= 1.0, < 2, != 1.5`) with `fixed_in`
/// as `vers:cpan/>=1.0|!=1.5|<2`: constraints sorted by version as the
/// vers specification asks, a bare version read as `>=`.
pub fn vers_of(versions: &str, fixed_in: Option<&CpanVersion>) -> String {
    let mut constraints: Vec<(Option<CpanVersion>, String)> = Vec::new();
    for clause in versions.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (op, v) = ["==", ">=", "<=", "!=", ">", "<"]
            .iter()
            .find_map(|op| clause.strip_prefix(op).map(|v| (*op, v.trim())))
            .unwrap_or((">=", clause));
        let op = if op == "==" { "" } else { op };
        constraints.push((CpanVersion::parse(v).ok(), format!("{op}{v}")));
    }
    if let Some(f) = fixed_in {
        // `< fixed_in` makes every upper bound at or above it redundant.
        constraints.retain(|(v, c)| !(c.starts_with('<') && v.as_ref().is_some_and(|v| v >= f)));
        let bounded_below_fix = constraints
            .iter()
            .any(|(v, c)| c.starts_with('<') && v.as_ref().is_some_and(|v| v < f));
        if !bounded_below_fix {
            constraints.push((Some(f.clone()), format!("<{f}")));
        }
    }
    constraints.sort_by(|a, b| a.0.cmp(&b.0));
    let parts: Vec<String> = constraints.into_iter().map(|(_, c)| c).collect();
    format!("vers:cpan/{}", parts.join("|"))
}

/// `YYYY-MM-DD` → the CSAF date-time `YYYY-MM-DDT00:00:00.000Z`.
fn date_time(day: &str) -> String {
    format!("{day}T00:00:00.000Z")
}

fn alias_url(alias: &str) -> Option<String> {
    if alias.starts_with("CVE-") {
        Some(format!("https://nvd.nist.gov/vuln/detail/{alias}"))
    } else if alias.starts_with("GHSA-") {
        Some(format!("https://github.com/advisories/{alias}"))
    } else {
        None
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// The advisory for one record (not withdrawn).
pub fn advisory(entry: &Entry, publisher: &Publisher, today: Today) -> Value {
    let rec = &entry.record;
    let id = rec.id.as_str();
    let dist = rec.dist.as_str();
    let today = today.iso();
    let published = rec
        .published
        .clone()
        .or_else(|| rec.updated.clone())
        .unwrap_or_else(|| today.clone());
    let updated = rec
        .updated
        .clone()
        .filter(|u| *u > published)
        .unwrap_or_else(|| published.clone());
    let mut history = vec![json!({
        "date": date_time(&published),
        "number": "1",
        "summary": "Initial version.",
    })];
    if updated != published {
        history.push(json!({
            "date": date_time(&updated),
            "number": "2",
            "summary": "Record updated.",
        }));
    }
    let version = history.len().to_string();

    // References: the ids' pages first, then the record's URLs.
    let mut references: Vec<Value> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut add_ref = |url: String, summary: String| {
        if !seen.contains(&url) {
            seen.push(url.clone());
            references.push(json!({ "category": "external", "summary": summary, "url": url }));
        }
    };
    for a in &rec.aliases {
        if let Some(url) = alias_url(a.as_str()) {
            add_ref(url, a.as_str().to_string());
        }
    }
    for r in rec.references.iter().filter(|r| is_url(r)) {
        add_ref(r.clone(), "Reference given by the patch record".into());
    }
    if let Some(o) = rec.origin.as_deref().filter(|o| is_url(o)) {
        add_ref(o.to_string(), "Origin of the patch".into());
    }

    // Products: the affected range, and the fixed release when known.
    let affected_id = format!("{dist}:affected");
    let range = vers_of(&rec.versions, rec.fixed_in.as_ref());
    let mut version_branches = vec![json!({
        "category": "product_version_range",
        "name": range.clone(),
        "product": {
            "name": format!("{dist} {}", range.trim_start_matches("vers:cpan/")),
            "product_id": affected_id,
            "product_identification_helper": { "purl": format!("pkg:cpan/{dist}") },
        },
    })];
    let fixed_id = rec.fixed_in.as_ref().map(|v| format!("{dist}:{v}"));
    if let (Some(v), Some(pid)) = (&rec.fixed_in, &fixed_id) {
        version_branches.push(json!({
            "category": "product_version",
            "name": v.to_string(),
            "product": {
                "name": format!("{dist} {v}"),
                "product_id": pid,
                "product_identification_helper": { "purl": format!("pkg:cpan/{dist}@{v}") },
            },
        }));
    }
    let product_tree = json!({
        "branches": [{
            "category": "vendor",
            "name": "CPAN",
            "branches": [{
                "category": "product_name",
                "name": dist,
                "branches": version_branches,
            }],
        }],
    });

    // The patch as the remediation.
    let (category, who) = match rec.kind {
        PatchKind::CherryPick | PatchKind::Backport => ("vendor_fix", "upstream's fix"),
        PatchKind::Unofficial => ("workaround", "a third-party fix"),
    };
    let patch_file = entry
        .record_file
        .rsplit_once('/')
        .map(|(d, _)| format!("{d}/{}", rec.patch))
        .unwrap_or_else(|| rec.patch.clone());
    let mut remediations = vec![json!({
        "category": category,
        "details": format!(
            "Apply patch {id}, {who} ({patch_file} in the patchkit repository, sha256 {}), \
             to the distribution before it is built: `patchkit apply -o OUT {dist}-VERSION.tar.gz`.",
            entry.patch_sha256
        ),
        "product_ids": [affected_id],
    })];
    if let Some(v) = &rec.fixed_in {
        remediations.push(json!({
            "category": "vendor_fix",
            "details": format!("Update {dist} to {v} or later."),
            "product_ids": [affected_id],
            "url": format!("https://metacpan.org/release/{dist}"),
        }));
    }
    let mut status = Map::new();
    status.insert("known_affected".into(), json!([affected_id]));
    if let Some(pid) = &fixed_id {
        status.insert("fixed".into(), json!([pid]));
    }
    let description = rec.description.clone().unwrap_or_else(|| rec.title.clone());

    // One vulnerability per CVE; a GHSA id goes with the CVE when there is
    // exactly one, else on its own under `ids`.
    let cves: Vec<&str> = rec
        .aliases
        .iter()
        .map(|a| a.as_str())
        .filter(|a| a.starts_with("CVE-"))
        .collect();
    let ghsas: Vec<&str> = rec
        .aliases
        .iter()
        .map(|a| a.as_str())
        .filter(|a| a.starts_with("GHSA-"))
        .collect();
    let ids_of = |list: &[&str]| -> Value {
        json!(list
            .iter()
            .map(|g| json!({ "system_name": "GitHub Security Advisories", "text": g }))
            .collect::<Vec<_>>())
    };
    let vulnerability = |cve: Option<&str>, ghsa: &[&str]| -> Value {
        let mut v = Map::new();
        if let Some(c) = cve {
            v.insert("cve".into(), json!(c));
        }
        if !ghsa.is_empty() {
            v.insert("ids".into(), ids_of(ghsa));
        }
        v.insert("title".into(), json!(rec.title));
        v.insert(
            "notes".into(),
            json!([{ "category": "description", "text": description, "title": "Vulnerability description" }]),
        );
        v.insert("product_status".into(), Value::Object(status.clone()));
        v.insert("remediations".into(), json!(remediations));
        let refs: Vec<Value> = cve
            .into_iter()
            .chain(ghsa.iter().copied())
            .filter_map(|a| alias_url(a).map(|u| (a, u)))
            .map(|(a, u)| json!({ "category": "external", "summary": a, "url": u }))
            .collect();
        if !refs.is_empty() {
            v.insert("references".into(), json!(refs));
        }
        Value::Object(v)
    };
    let mut vulnerabilities = Vec::new();
    if cves.is_empty() {
        vulnerabilities.push(vulnerability(None, &ghsas));
    } else if cves.len() == 1 {
        vulnerabilities.push(vulnerability(Some(cves[0]), &ghsas));
    } else {
        for c in &cves {
            vulnerabilities.push(vulnerability(Some(c), &[]));
        }
        if !ghsas.is_empty() {
            vulnerabilities.push(vulnerability(None, &ghsas));
        }
    }

    let mut notes = vec![json!({ "category": "summary", "text": rec.title, "title": "Summary" })];
    if let Some(d) = &rec.description {
        notes.push(json!({ "category": "details", "text": d, "title": "Details" }));
    }
    notes.push(json!({
        "category": "general",
        "text": format!(
            "{id} is a patch for the CPAN distribution {dist} ({}), published in a signed \
             patchkit repository. `patchkit apply` applies it to a distribution tarball before \
             it is built, and records that it did.",
            rec.versions
        ),
        "title": "How to apply",
    }));
    let mut document = Map::new();
    if let Some(sev) = &rec.severity {
        document.insert("aggregate_severity".into(), json!({ "text": sev }));
    }
    document.insert("category".into(), json!("csaf_security_advisory"));
    document.insert("csaf_version".into(), json!("2.0"));
    document.insert("lang".into(), json!("en"));
    document.insert("notes".into(), json!(notes));
    document.insert(
        "publisher".into(),
        json!({
            "category": "coordinator",
            "name": publisher.name,
            "namespace": publisher.namespace,
        }),
    );
    if !references.is_empty() {
        document.insert("references".into(), json!(references));
    }
    document.insert("title".into(), json!(format!("{dist}: {}", rec.title)));
    document.insert(
        "tracking".into(),
        json!({
            "current_release_date": date_time(&updated),
            "generator": {
                "engine": { "name": "patchkit", "version": env!("CARGO_PKG_VERSION") },
            },
            "id": id,
            "initial_release_date": date_time(&published),
            "revision_history": history,
            "status": "final",
            "version": version,
        }),
    );
    json!({
        "document": Value::Object(document),
        "product_tree": product_tree,
        "vulnerabilities": vulnerabilities,
    })
}

/// Write one advisory per record of the source tree at `dir` into `out`.
///
/// # Errors
/// An invalid source tree (nothing written), or a file that cannot be
/// written.
pub fn export(
    dir: &Path,
    out: &Path,
    publisher: &Publisher,
    today: Today,
) -> Result<CsafReport, Error> {
    let catalog = source::load(dir)?;
    let mut report = CsafReport {
        out: out.to_path_buf(),
        written: Vec::new(),
        skipped: Vec::new(),
    };
    let mut entries: Vec<&Entry> = catalog.entries().iter().collect();
    entries.sort_by(|a, b| a.record.id.cmp(&b.record.id));
    let mut docs = Vec::new();
    for e in entries {
        if e.record.is_withdrawn() {
            report.skipped.push(format!("{} (withdrawn)", e.record.id));
            continue;
        }
        let name = file_name(e.record.id.as_str());
        let mut bytes = serde_json::to_vec_pretty(&advisory(e, publisher, today))
            .map_err(|e| Error::Refused(format!("cannot serialise an advisory: {e}")))?;
        bytes.push(b'\n');
        docs.push((name, bytes));
    }
    std::fs::create_dir_all(out)
        .map_err(|e| crate::state::Error::io("create directory", out, e))?;
    for (name, bytes) in docs {
        state::write_atomic(&out.join(&name), &bytes, None)?;
        report.written.push(name);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_csaf_5_1() {
        assert_eq!(file_name("PK-2026-0001"), "pk-2026-0001.json");
        assert_eq!(file_name("CPANSEC-2025.0001"), "cpansec-2025_0001.json");
        assert_eq!(file_name("a..b"), "a_b.json");
    }

    #[test]
    fn ranges_become_sorted_vers() {
        let v = |s: &str| CpanVersion::parse(s).unwrap();
        assert_eq!(vers_of(">= 1.0, < 2", None), "vers:cpan/>=1.0|<2");
        assert_eq!(
            vers_of("< 2, != 1.5, >= 1.0", None),
            "vers:cpan/>=1.0|!=1.5|<2"
        );
        assert_eq!(vers_of("0.29", Some(&v("0.31"))), "vers:cpan/>=0.29|<0.31");
        assert_eq!(vers_of("== 1.2", None), "vers:cpan/1.2");
        assert_eq!(
            vers_of(">= 1.0, < 2", Some(&v("1.5"))),
            "vers:cpan/>=1.0|<1.5"
        );
        assert_eq!(
            vers_of(">= 1.0, < 1.2", Some(&v("1.5"))),
            "vers:cpan/>=1.0|<1.2"
        );
    }
}
