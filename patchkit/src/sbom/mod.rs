//! CycloneDX output: one JSON document describing the scanned
//! distributions and the patches each carries.
//!
//! What it owns: the mapping from a scan (and, when available, the
//! repository's catalog) to CycloneDX 1.5 or 1.6 JSON:
//! - a `library` component per identified distribution, with the purl of
//!   docs/ARCHITECTURE.md (`pkg:cpan/Dist@1.23?author=AUTHOR`) and the sha256 of the
//!   original upstream tarball when known (`original_sha256` of the patch
//!   record, or an unpatched tarball's own digest);
//! - `pedigree.patches`, one per carried patch: `type` from the record's
//!   `kind` (`unofficial` when the catalog does not know the id), the diff
//!   as `diff.text`, and `resolves` with one `security` issue per alias;
//! - with [`Vex::Yes`] (`sbom --vex`), `vulnerabilities`: one per CVE/GHSA
//!   id per distribution, `resolved_with_pedigree`, `in_triage` or
//!   `exploitable` (see `vex.rs` for the rule);
//! - patchkit in `metadata.tools.components` (the shape both 1.5 and 1.6
//!   accept; the older tool array is deprecated in 1.5).
//!
//! What it refuses to do: invent data. No timestamp is written (CycloneDX
//! makes it optional, and a clock would break reproducibility), and the
//! serial number is derived from the document's own content, so the same
//! inputs give the same bytes (docs/ARCHITECTURE.md "Deterministic output").
//! Distributions that could not be identified are left out and named in
//! the warnings.
//!
//! Validity against the official schemas is proven by the e2e tests with
//! a real JSON-schema validator (tests/e2e/sbom.rs).

use std::collections::BTreeMap;

mod vex;

use serde_json::{json, Map, Value};

use crate::audit::report;
use crate::audit::scan::ScannedDist;
use crate::catalog::Catalog;
use crate::patch::record::PatchKind;
use crate::tree::sha256_hex;

/// The CycloneDX specification version to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecVersion {
    /// CycloneDX 1.5.
    V1_5,
    /// CycloneDX 1.6 (the default).
    #[default]
    V1_6,
}

impl SpecVersion {
    /// `"1.5"` or `"1.6"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V1_5 => "1.5",
            SpecVersion::V1_6 => "1.6",
        }
    }
}

impl std::str::FromStr for SpecVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.5" => Ok(SpecVersion::V1_5),
            "1.6" => Ok(SpecVersion::V1_6),
            other => Err(format!(
                "CycloneDX {} is not supported (use 1.5 or 1.6)",
                crate::text::excerpt(other, crate::text::EXCERPT)
            )),
        }
    }
}

/// The document and what was left out of it.
#[derive(Debug, Clone)]
pub struct Sbom {
    /// The CycloneDX document.
    pub document: Value,
    /// Notes for the user (dists left out, diffs not available).
    pub warnings: Vec<String>,
}

/// Whether the document carries VEX `vulnerabilities`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vex {
    /// Components and pedigree only (the default).
    #[default]
    No,
    /// Also a `vulnerabilities` entry per id per distribution; needs the
    /// catalog (what is missing comes from it).
    Yes,
}

/// Build the CycloneDX document for `dists`. `catalog`, when given,
/// supplies each patch's kind, references and (for genuine patches whose
/// diff the dist does not carry, as in installed libraries) the diff.
pub fn build(dists: &[ScannedDist], catalog: Option<&Catalog>, spec: SpecVersion) -> Sbom {
    build_with(dists, catalog, spec, Vex::No)
}

/// [`build`], with VEX `vulnerabilities` when `vex` is [`Vex::Yes`] and a
/// catalog is given (without one, a warning says they were left out).
pub fn build_with(
    dists: &[ScannedDist],
    catalog: Option<&Catalog>,
    spec: SpecVersion,
    vex: Vex,
) -> Sbom {
    let mut warnings = Vec::new();
    let mut vex_components: Vec<(String, &ScannedDist)> = Vec::new();
    let mut components = Vec::new();
    let mut refs_used: BTreeMap<String, usize> = BTreeMap::new();
    for d in dists {
        let Some(info) = &d.info else {
            warnings.push(format!(
                "{}: left out of the SBOM: the distribution could not be identified",
                d.location
            ));
            continue;
        };
        let purl = info.purl();
        // bom-ref must be unique; the same release found twice (a tarball
        // and its install) gets a numbered suffix.
        let n = refs_used.entry(purl.clone()).or_insert(0);
        *n += 1;
        let bom_ref = if *n == 1 {
            purl.clone()
        } else {
            format!("{purl}#{n}")
        };
        vex_components.push((bom_ref.clone(), d));
        let mut c = Map::new();
        c.insert("type".into(), json!("library"));
        c.insert("bom-ref".into(), json!(bom_ref));
        c.insert("name".into(), json!(info.name.as_str()));
        c.insert("version".into(), json!(info.version.as_str()));
        c.insert("purl".into(), json!(purl));
        // The component is the upstream release: its hash is the original
        // tarball's (from the patch record, or the tarball itself when it
        // carries none), never the patched tarball's.
        if let Some(sha) = &d.original_sha256 {
            c.insert(
                "hashes".into(),
                json!([{ "alg": "SHA-256", "content": sha }]),
            );
        }
        // A claim the content does not back resolves nothing: it is left
        // out of the pedigree (and shows as missing in the properties).
        let refuted = catalog
            .map(|c| crate::audit::verify::refuted(d, c))
            .unwrap_or_default();
        for (_, why) in &refuted {
            warnings.push(format!("{}: {why}", d.location));
        }
        let patches: Vec<Value> = d
            .patches
            .iter()
            .enumerate()
            .filter(|(i, _)| !refuted.iter().any(|(r, _)| r == i))
            .map(|(_, p)| patch_value(d, p, catalog, &mut warnings))
            .collect();
        if !patches.is_empty() {
            c.insert("pedigree".into(), json!({ "patches": patches }));
        }
        let props = properties(d, catalog);
        if !props.is_empty() {
            c.insert("properties".into(), Value::Array(props));
        }
        components.push(Value::Object(c));
    }

    let mut doc = Map::new();
    doc.insert(
        "$schema".into(),
        json!(format!(
            "http://cyclonedx.org/schema/bom-{}.schema.json",
            spec.as_str()
        )),
    );
    doc.insert("bomFormat".into(), json!("CycloneDX"));
    doc.insert("specVersion".into(), json!(spec.as_str()));
    doc.insert("version".into(), json!(1));
    doc.insert(
        "metadata".into(),
        json!({
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "patchkit",
                    "version": env!("CARGO_PKG_VERSION"),
                }]
            }
        }),
    );
    doc.insert("components".into(), Value::Array(components));
    if vex == Vex::Yes {
        match catalog {
            Some(catalog) => {
                let vulns = vex::vulnerabilities(&vex_components, catalog);
                doc.insert("vulnerabilities".into(), Value::Array(vulns));
            }
            None => warnings.push(
                "no vulnerabilities written: --vex needs a repository to know what is missing"
                    .into(),
            ),
        }
    }
    // The serial number names this exact content: hash the document
    // without it, then add it (key order means nothing to consumers, so it
    // simply goes last).
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    doc.insert(
        "serialNumber".into(),
        json!(format!("urn:uuid:{}", uuid_from_hash(&body))),
    );
    Sbom {
        document: Value::Object(doc),
        warnings,
    }
}

fn patch_value(
    d: &ScannedDist,
    p: &crate::audit::scan::CarriedPatch,
    catalog: Option<&Catalog>,
    warnings: &mut Vec<String>,
) -> Value {
    let entry = match catalog.map(|c| c.get(&p.id)) {
        Some(Ok(e)) => e,
        Some(Err(e)) => {
            warnings.push(format!("{}: cannot look {} up: {e}", d.location, p.id));
            None
        }
        None => None,
    };
    let kind = entry.map(|e| e.record.kind).unwrap_or_default();
    let mut patch = Map::new();
    patch.insert(
        "type".into(),
        json!(match kind {
            PatchKind::Unofficial => "unofficial",
            PatchKind::Backport => "backport",
            PatchKind::CherryPick => "cherry-pick",
        }),
    );
    // The diff: the one the dist carries; else the repository's, but only
    // when it is provably the same bytes (same sha256 as recorded).
    let text = p.patch_text.clone().or_else(|| {
        entry
            .filter(|e| e.patch_sha256 == p.patch_sha256)
            .map(|e| e.patch_text.clone())
    });
    match text {
        Some(text) => {
            let attachment = match String::from_utf8(text) {
                Ok(s) => json!({ "contentType": "text/x-diff", "content": s }),
                Err(e) => json!({
                    "contentType": "text/x-diff",
                    "encoding": "base64",
                    "content": base64(e.as_bytes()),
                }),
            };
            patch.insert("diff".into(), json!({ "text": attachment }));
        }
        None => warnings.push(format!(
            "{}: the diff of {} is not available (not carried, and no repository serves \
             that exact diff)",
            d.location, p.id
        )),
    }
    let title = p
        .title
        .clone()
        .or_else(|| entry.map(|e| e.record.title.clone()));
    let references: Vec<String> = entry
        .map(|e| {
            e.record
                .references
                .iter()
                .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let resolves: Vec<Value> = p
        .aliases
        .iter()
        .map(|alias| {
            let mut issue = Map::new();
            issue.insert("type".into(), json!("security"));
            issue.insert("id".into(), json!(alias));
            issue.insert("name".into(), json!(alias));
            if let Some(t) = &title {
                issue.insert("description".into(), json!(t));
            }
            if let Some(source) = issue_source(alias) {
                issue.insert("source".into(), source);
            }
            let mut refs = references.clone();
            if let Some(url) = alias_url(alias) {
                if !refs.contains(&url) {
                    refs.insert(0, url);
                }
            }
            if !refs.is_empty() {
                issue.insert("references".into(), json!(refs));
            }
            Value::Object(issue)
        })
        .collect();
    if !resolves.is_empty() {
        patch.insert("resolves".into(), Value::Array(resolves));
    }
    Value::Object(patch)
}

/// patchkit's own findings about a component, as namespaced properties
/// (CycloneDX's extension point): each patch's status when a catalog was
/// given, and tampered files.
fn properties(d: &ScannedDist, catalog: Option<&Catalog>) -> Vec<Value> {
    let mut props = Vec::new();
    if let Some(catalog) = catalog {
        let audited = report::audit(d, catalog);
        for p in &audited.patches {
            props.push(json!({
                "name": format!("patchkit:patch:{}", p.id),
                "value": p.status.as_str(),
            }));
        }
        for m in &audited.missing {
            props.push(json!({ "name": "patchkit:missing", "value": m.id }));
        }
    }
    for t in &d.tampered {
        props.push(json!({ "name": "patchkit:tampered", "value": t.path }));
    }
    props
}

fn issue_source(alias: &str) -> Option<Value> {
    if alias.starts_with("CVE-") {
        Some(json!({ "name": "NVD", "url": "https://nvd.nist.gov/" }))
    } else if alias.starts_with("GHSA-") {
        Some(json!({ "name": "GitHub Advisories", "url": "https://github.com/advisories" }))
    } else {
        None
    }
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

/// A UUID (RFC 4122 layout, version 5 bits, as the CycloneDX schema's
/// serialNumber pattern demands) from the SHA-256 of `data`.
fn uuid_from_hash(data: &[u8]) -> String {
    let hex = sha256_hex(data);
    let mut b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0))
        .collect();
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Standard base64 with padding (for a diff that is not UTF-8).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn serial_numbers_are_stable_version_5_uuids() {
        let a = uuid_from_hash(b"doc");
        assert_eq!(a, uuid_from_hash(b"doc"));
        assert_ne!(a, uuid_from_hash(b"other"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn spec_versions_parse() {
        assert_eq!("1.5".parse::<SpecVersion>(), Ok(SpecVersion::V1_5));
        assert_eq!("1.6".parse::<SpecVersion>(), Ok(SpecVersion::V1_6));
        assert!("1.4".parse::<SpecVersion>().is_err());
    }
}
