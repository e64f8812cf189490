//! A patch record: the `<ID>.toml` metadata beside its `<ID>.patch`.
//!
//! Parsed in two steps, as rustsec does: serde fills [`RawRecord`] (plain
//! strings, unknown keys collected), then [`Record::try_from`] builds the
//! real types ([`PatchId`], [`DistName`], [`VersionRange`], [`Alias`]) or
//! refuses the record. Nothing downstream ever sees an unchecked field.
//! The format is documented field by field in docs/formats.md.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dist::DistName;
use crate::text::{excerpt, EXCERPT};
use crate::version::{CpanVersion, VersionRange};

/// Why a record is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TOML does not parse or has a field of the wrong type.
    #[error("not a valid record: {0}")]
    Toml(String),
    /// A field has a value that is not allowed.
    #[error("field `{field}`: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
}

fn field(field: &'static str, reason: impl fmt::Display) -> Error {
    Error::Field {
        field,
        reason: reason.to_string(),
    }
}

/// A record id such as `CPANSEC-2025-0001`: `[A-Za-z0-9._-]+`, starting
/// with a letter or digit, at most 64 bytes (it names files and URLs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PatchId(String);

impl PatchId {
    /// Parse an id.
    pub fn parse(s: &str) -> Result<PatchId, Error> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(PatchId(s.to_string()))
        } else {
            Err(field(
                "id",
                format!("{} is not an id ([A-Za-z0-9._-]+)", excerpt(s, EXCERPT)),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PatchId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PatchId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A vulnerability id the patch resolves: `CVE-YYYY-NNNN…` or
/// `GHSA-xxxx-xxxx-xxxx`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Alias(String);

impl Alias {
    /// Parse a CVE or GHSA id.
    pub fn parse(s: &str) -> Result<Alias, Error> {
        if is_cve(s) || is_ghsa(s) {
            Ok(Alias(s.to_string()))
        } else {
            Err(field(
                "aliases",
                format!(
                    "{} is neither a CVE id (CVE-2025-12345) nor a GHSA id",
                    excerpt(s, EXCERPT)
                ),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a CVE id.
    pub fn is_cve(&self) -> bool {
        self.0.starts_with("CVE-")
    }
}

fn is_cve(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=19).contains(&num.len())
        && num.bytes().all(|b| b.is_ascii_digit())
}

fn is_ghsa(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("GHSA-") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('-').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            p.len() == 4
                && p.bytes()
                    .all(|b| matches!(b, b'2'..=b'9' | b'c'..=b'h' | b'j' | b'm' | b'p'..=b'r' | b'v'..=b'x'))
        })
}

/// What kind of change the patch is, for SBOM pedigree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchKind {
    /// Written by the security team (the default).
    #[default]
    Unofficial,
    /// An upstream fix adapted to an older release.
    Backport,
    /// An upstream commit taken as is.
    CherryPick,
}

/// A withdrawn record stays in the repository but is never applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawn {
    /// When (YYYY-MM-DD).
    pub date: String,
    /// Why, for `check` and `audit` to show.
    pub reason: String,
}

/// One tarball the record was reviewed on: the binding of input to output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tested {
    /// The tarball's file name (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tarball: Option<String>,
    /// sha256 of the pristine tarball.
    pub sha256: String,
    /// Tree digest (see `Tree::digest`) of that tarball's tree with this
    /// patch alone applied, before patchkit writes its own record.
    pub patched_tree: String,
    /// Every file the patch changes in that tarball, with its sha256
    /// before and after: what lets `audit` recognise an installed module
    /// by its content when no install metadata names its distribution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<TestedFile>,
}

/// One file a patch changes in a tested tarball.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestedFile {
    /// The path below the distribution's top directory (`lib/Foo/Bar.pm`).
    pub path: String,
    /// sha256 of the file in the pristine tarball (absent: the patch
    /// creates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// sha256 of the file with this patch alone applied (absent: the
    /// patch deletes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// The record as written in TOML, before validation.
#[derive(Debug, Clone, Deserialize)]
pub struct RawRecord {
    /// See [`Record::id`].
    pub id: String,
    /// See [`Record::dist`].
    pub dist: String,
    /// See [`Record::versions`].
    pub versions: String,
    /// See [`Record::patch`].
    pub patch: String,
    /// See [`Record::title`].
    pub title: String,
    /// See [`Record::aliases`].
    #[serde(default)]
    pub aliases: Vec<String>,
    /// See [`Record::strip`].
    #[serde(default)]
    pub strip: Option<i64>,
    /// See [`Record::order`].
    #[serde(default)]
    pub order: i64,
    /// See [`Record::description`].
    #[serde(default)]
    pub description: Option<String>,
    /// See [`Record::severity`].
    #[serde(default)]
    pub severity: Option<String>,
    /// See [`Record::authors`].
    #[serde(default)]
    pub authors: Vec<String>,
    /// See [`Record::references`].
    #[serde(default)]
    pub references: Vec<String>,
    /// See [`Record::published`].
    #[serde(default)]
    pub published: Option<String>,
    /// See [`Record::updated`].
    #[serde(default)]
    pub updated: Option<String>,
    /// See [`Record::fixed_in`].
    #[serde(default, alias = "fixed-in")]
    pub fixed_in: Option<String>,
    /// See [`Record::withdrawn`].
    #[serde(default)]
    pub withdrawn: Option<Withdrawn>,
    /// See [`Record::kind`].
    #[serde(default)]
    pub kind: PatchKind,
    /// See [`Record::origin`].
    #[serde(default)]
    pub origin: Option<String>,
    /// See [`Record::checked`].
    #[serde(default)]
    pub checked: Option<String>,
    /// See [`Record::tested`].
    #[serde(default)]
    pub tested: Vec<Tested>,
    /// Keys this version of patchkit does not know (lint reports them).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, toml::Value>,
}

/// A validated patch record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Unique in the repository.
    pub id: PatchId,
    /// The CPAN distribution it patches.
    pub dist: DistName,
    /// The versions it applies to, as written.
    pub versions: String,
    /// `versions`, narrowed by `fixed_in` (`< fixed_in`) when given.
    #[serde(skip)]
    pub range: VersionRange,
    /// The diff's file name, beside the record.
    pub patch: String,
    /// One line.
    pub title: String,
    /// CVE / GHSA ids resolved.
    pub aliases: Vec<Alias>,
    /// Leading path components to strip from the diff's paths (default 1).
    pub strip: usize,
    /// Position among the patches of one dist (ascending, ties by id).
    pub order: i64,
    /// Longer text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `low`, `medium`, `high` or `critical`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Who wrote the fix.
    pub authors: Vec<String>,
    /// URLs.
    pub references: Vec<String>,
    /// Date first published (YYYY-MM-DD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Date last changed (YYYY-MM-DD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// The upstream version that carries the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<CpanVersion>,
    /// Set when the record must no longer be applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<Withdrawn>,
    /// Unofficial, backport or cherry-pick.
    pub kind: PatchKind,
    /// Where the fix came from (an upstream commit URL, a bug).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// How the fix was checked, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<String>,
    /// Tarballs it was reviewed on, with their patched-tree digests.
    pub tested: Vec<Tested>,
}

impl Record {
    /// The CVE / GHSA ids as text, in the record's order (for reports and
    /// the applied record).
    pub fn alias_strings(&self) -> Vec<String> {
        self.aliases
            .iter()
            .map(|a| a.as_str().to_string())
            .collect()
    }

    /// Parse a record from TOML text.
    pub fn from_toml(text: &str) -> Result<(Record, Vec<String>), Error> {
        let raw: RawRecord = toml::from_str(text).map_err(|e| Error::Toml(one_line(&e)))?;
        let unknown: Vec<String> = raw.unknown.keys().cloned().collect();
        Ok((Record::try_from(raw)?, unknown))
    }

    /// Whether this record is withdrawn.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    /// The binding for a pristine tarball with this sha256, if listed.
    pub fn tested_for(&self, tarball_sha256: &str) -> Option<&Tested> {
        self.tested
            .iter()
            .find(|t| t.sha256.eq_ignore_ascii_case(tarball_sha256))
    }
}

fn one_line(e: &toml::de::Error) -> String {
    e.message()
        .lines()
        .next()
        .unwrap_or("syntax error")
        .to_string()
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl TryFrom<RawRecord> for Record {
    type Error = Error;

    fn try_from(raw: RawRecord) -> Result<Record, Error> {
        let id = PatchId::parse(&raw.id)?;
        let dist = DistName::parse(&raw.dist).map_err(|e| field("dist", e))?;
        let mut range = VersionRange::parse(&raw.versions).map_err(|e| field("versions", e))?;
        let fixed_in = match &raw.fixed_in {
            Some(v) => {
                let v = CpanVersion::parse(v).map_err(|e| field("fixed_in", e))?;
                range = range.with_upper_bound_exclusive(&v);
                Some(v)
            }
            None => None,
        };
        // The patch file must sit beside the record: a bare file name.
        if raw.patch.is_empty()
            || raw.patch.contains(['/', '\\'])
            || raw.patch.starts_with('.')
            || raw.patch.chars().any(char::is_control)
        {
            return Err(field(
                "patch",
                format!(
                    "{} is not a file name beside the record",
                    excerpt(&raw.patch, EXCERPT)
                ),
            ));
        }
        if raw.title.trim().is_empty() || raw.title.contains('\n') {
            return Err(field("title", "must be one non-empty line"));
        }
        let aliases = raw
            .aliases
            .iter()
            .map(|a| Alias::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        let strip = match raw.strip {
            None => 1,
            Some(n @ 0..=16) => n as usize,
            Some(n) => return Err(field("strip", format!("{n} is not between 0 and 16"))),
        };
        if let Some(sev) = &raw.severity {
            if !matches!(sev.as_str(), "low" | "medium" | "high" | "critical") {
                return Err(field(
                    "severity",
                    format!(
                        "{} is not low, medium, high or critical",
                        excerpt(sev, EXCERPT)
                    ),
                ));
            }
        }
        for (name, date) in [("published", &raw.published), ("updated", &raw.updated)] {
            if let Some(d) = date {
                if !is_date(d) {
                    let f = if name == "published" {
                        "published"
                    } else {
                        "updated"
                    };
                    return Err(field(
                        f,
                        format!("{} is not a YYYY-MM-DD date", excerpt(d, EXCERPT)),
                    ));
                }
            }
        }
        if let Some(w) = &raw.withdrawn {
            if !is_date(&w.date) {
                return Err(field("withdrawn", "date is not YYYY-MM-DD"));
            }
            if w.reason.trim().is_empty() {
                return Err(field("withdrawn", "a reason is required"));
            }
        }
        for t in &raw.tested {
            if !is_hex64(&t.sha256) || !is_hex64(&t.patched_tree) {
                return Err(field(
                    "tested",
                    "sha256 and patched_tree must be 64 hex digits",
                ));
            }
            for f in &t.files {
                if crate::tree::InTreePath::parse(&f.path).is_err() {
                    return Err(field(
                        "tested",
                        format!(
                            "files: {} is not a path inside the distribution",
                            excerpt(&f.path, EXCERPT)
                        ),
                    ));
                }
                let hashes = [&f.before, &f.after];
                if hashes.iter().all(|h| h.is_none())
                    || hashes
                        .iter()
                        .any(|h| h.as_ref().is_some_and(|h| !is_hex64(h)))
                {
                    return Err(field(
                        "tested",
                        format!(
                            "files: {} needs before or after, each 64 hex digits",
                            excerpt(&f.path, EXCERPT)
                        ),
                    ));
                }
            }
        }
        Ok(Record {
            id,
            dist,
            versions: raw.versions,
            range,
            patch: raw.patch,
            title: raw.title,
            aliases,
            strip,
            order: raw.order,
            description: raw.description,
            severity: raw.severity,
            authors: raw.authors,
            references: raw.references,
            published: raw.published,
            updated: raw.updated,
            fixed_in,
            withdrawn: raw.withdrawn,
            kind: raw.kind,
            origin: raw.origin,
            checked: raw.checked,
            tested: raw.tested,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "CPANSEC-2025-0001"
dist = "YAML-LibYAML"
versions = ">= 0.60, <= 0.89"
patch = "CPANSEC-2025-0001.patch"
title = "Load/LoadFile opens files with 2-arg open"
aliases = ["CVE-2025-40908", "GHSA-2x3f-8ww2-c9xj"]
"#;

    #[test]
    fn a_minimal_record_gets_defaults() {
        let (r, unknown) = Record::from_toml(GOOD).unwrap();
        assert_eq!(r.strip, 1);
        assert_eq!(r.order, 0);
        assert_eq!(r.kind, PatchKind::Unofficial);
        assert!(unknown.is_empty());
        assert!(r.range.contains(&CpanVersion::parse("0.89").unwrap()));
        assert!(!r.range.contains(&CpanVersion::parse("0.90").unwrap()));
    }

    #[test]
    fn fixed_in_ends_the_range() {
        let text = format!("{GOOD}fixed_in = \"0.85\"\n");
        let (r, _) = Record::from_toml(&text).unwrap();
        assert!(r.range.contains(&CpanVersion::parse("0.84").unwrap()));
        assert!(!r.range.contains(&CpanVersion::parse("0.85").unwrap()));
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            ("id = \"CPANSEC-2025-0001\"", "id = \"../x\"", "id"),
            (
                "versions = \">= 0.60, <= 0.89\"",
                "versions = \">= 0.60,, < 1\"",
                "versions",
            ),
            (
                "patch = \"CPANSEC-2025-0001.patch\"",
                "patch = \"../evil.patch\"",
                "patch",
            ),
            (
                "dist = \"YAML-LibYAML\"",
                "dist = \"YAML::LibYAML\"",
                "dist",
            ),
            ("\"CVE-2025-40908\"", "\"CVE-25-1\"", "aliases"),
        ];
        for (from, to, field) in cases {
            let text = GOOD.replace(from, to);
            let err = Record::from_toml(&text).unwrap_err().to_string();
            assert!(err.contains(field), "{to}: {err}");
        }
        let err = Record::from_toml("id = 1").unwrap_err();
        assert!(matches!(err, Error::Toml(_)));
    }

    #[test]
    fn tested_files_are_checked() {
        let h = "a".repeat(64);
        let tested = |files: &str| {
            format!(
                "{GOOD}[[tested]]\nsha256 = \"{h}\"\npatched_tree = \"{h}\"\nfiles = [{files}]\n"
            )
        };
        let ok = tested(&format!(
            "{{ path = \"lib/Foo.pm\", before = \"{h}\", after = \"{h}\" }}"
        ));
        let (r, _) = Record::from_toml(&ok).unwrap();
        assert_eq!(r.tested[0].files[0].path, "lib/Foo.pm");
        for bad in [
            format!("{{ path = \"../Foo.pm\", after = \"{h}\" }}"),
            "{ path = \"lib/Foo.pm\" }".to_string(),
            "{ path = \"lib/Foo.pm\", after = \"xyz\" }".to_string(),
        ] {
            let err = Record::from_toml(&tested(&bad)).unwrap_err().to_string();
            assert!(
                err.contains("tested") && err.contains("files"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_reported_not_fatal() {
        let (_, unknown) = Record::from_toml(&format!("{GOOD}sevrity = \"high\"\n")).unwrap();
        assert_eq!(unknown, vec!["sevrity".to_string()]);
    }
}
