//! `patchkit new`: a fresh record with every field.
//!
//! The id scheme (docs/publishing.md): `PK-<YEAR>-<NNNN>`, the year being
//! today's and the number the next one free for that year across the whole
//! source tree (every dist folder, every `.toml` and `.patch` name), four
//! digits at least. Ids are never reused: a withdrawn record keeps its id.
//!
//! Only the `.toml` is written. The `.patch` is made by `patchkit diff` or
//! `patchkit import`; until then `lint` (and every command that reads the
//! source tree) names the missing file and the command that writes it. An
//! empty placeholder `.patch` would not parse either, and a fake one could
//! be published by mistake.
//!
//! Refused before anything is written: a dist name that is not a CPAN
//! distribution name (a module name `Foo::Bar` gets a hint), a range that
//! does not parse or matches no version, an alias that is not a CVE or
//! GHSA id, a title on several lines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Error, Today, PLACEHOLDER_TITLE};
use crate::dist::DistName;
use crate::patch::record::{Alias, PatchId, Record};
use crate::state;
use crate::version::VersionRange;

/// What `new` is asked to make.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The distribution name, as typed.
    pub dist: String,
    /// The range, as typed.
    pub versions: String,
    /// CVE / GHSA ids, as typed.
    pub aliases: Vec<String>,
    /// One-line title; the placeholder when absent.
    pub title: Option<String>,
}

/// What `new` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct NewReport {
    /// The fresh id.
    pub id: String,
    /// The dist.
    pub dist: String,
    /// The record file written.
    pub record: PathBuf,
    /// The patch file still to be made.
    pub patch: PathBuf,
    /// Whether the title is still the placeholder.
    pub title_placeholder: bool,
}

/// The next free id for `year` in the source tree `dir` (which may not
/// exist yet).
pub fn next_id(dir: &Path, year: i32) -> Result<PatchId, Error> {
    let prefix = format!("PK-{year}-");
    let mut used = BTreeSet::new();
    if let Ok(folders) = std::fs::read_dir(dir) {
        for folder in folders.flatten() {
            let Ok(files) = std::fs::read_dir(folder.path()) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let stem = name
                    .strip_suffix(".toml")
                    .or_else(|| name.strip_suffix(".patch"));
                if let Some(n) = stem
                    .and_then(|s| s.strip_prefix(&prefix))
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    used.insert(n);
                }
            }
        }
    }
    let next = used.last().map_or(1, |n| n + 1);
    PatchId::parse(&format!("{prefix}{next:04}")).map_err(super::record_error)
}

/// Check the request, pick an id, write `DIR/<Dist>/<ID>.toml`.
pub fn create(dir: &Path, req: &NewRecord, today: Today) -> Result<NewReport, Error> {
    let dist = DistName::parse(&req.dist).map_err(|e| {
        let hint = if req.dist.contains("::") {
            format!(
                " (a distribution name uses '-': did you mean {}?)",
                req.dist.replace("::", "-")
            )
        } else {
            String::new()
        };
        Error::Invalid(format!("cannot create a record: {e}{hint}"))
    })?;
    let range = VersionRange::parse(&req.versions).map_err(|e| {
        Error::Invalid(format!(
            "cannot create a record: --versions {:?} is not a CPAN::Meta::Requirements range: {e}",
            req.versions
        ))
    })?;
    if range.matches_nothing() {
        return Err(Error::Invalid(format!(
            "cannot create a record: --versions {:?} matches no version",
            req.versions
        )));
    }
    let aliases = req
        .aliases
        .iter()
        .map(|a| Alias::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Invalid(format!("cannot create a record: --alias: {e}")))?;
    let title = req.title.as_deref().unwrap_or(PLACEHOLDER_TITLE);
    if title.trim().is_empty() || title.contains(['\n', '\r']) {
        return Err(Error::Invalid(
            "cannot create a record: --title must be one non-empty line".into(),
        ));
    }
    let id = next_id(dir, today.year())?;
    let text = render(&id, &dist, &req.versions, title, &aliases, today);
    // The scaffold must be a valid record itself (nothing downstream ever
    // sees an unchecked field, and lint explains what is left to do).
    Record::from_toml(&text).map_err(|e| {
        Error::Invalid(format!(
            "cannot create a record: the scaffold is invalid: {e}"
        ))
    })?;
    let folder = dir.join(dist.as_str());
    let record = folder.join(format!("{id}.toml"));
    state::write_atomic(&record, text.as_bytes(), None)?;
    Ok(NewReport {
        id: id.to_string(),
        dist: dist.to_string(),
        patch: folder.join(format!("{id}.patch")),
        record,
        title_placeholder: req.title.is_none(),
    })
}

/// TOML-quote a string (basic string with escapes).
fn quote(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_string()
}

fn render(
    id: &PatchId,
    dist: &DistName,
    versions: &str,
    title: &str,
    aliases: &[Alias],
    today: Today,
) -> String {
    let aliases = aliases
        .iter()
        .map(|a| quote(a.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let date = today.iso();
    format!(
        r#"# Patch record scaffolded by `patchkit new` on {date}; every field is
# described in docs/formats.md. Next steps (docs/publishing.md):
#   patchkit diff ORIGINAL EDITED --record {id}      (or `patchkit import`)
#   patchkit lint --against TARBALLS --record-results
id = {qid}
dist = {qdist}
versions = {qversions}
patch = {qpatch}
title = {qtitle}
aliases = [{aliases}]
# severity = "high"            # low | medium | high | critical
# description = """
# What is wrong, who is affected, what the patch changes.
# """
authors = []
references = []
# published = "{date}"       # set when first published
updated = {qdate}
# fixed_in = "1.23"            # upstream release with the fix; the range ends below it
kind = "unofficial"            # unofficial | backport | cherry-pick
# origin = "https://…"         # where the fix came from
# checked = "how the fix was checked"
strip = 1
order = 0
# withdrawn = {{ date = "…", reason = "…" }}   # set by `patchkit withdraw`
# [[tested]] tables are written by `patchkit lint --against DIR --record-results`.
"#,
        qid = quote(id.as_str()),
        qdist = quote(dist.as_str()),
        qversions = quote(versions),
        qpatch = quote(&format!("{id}.patch")),
        qtitle = quote(title),
        qdate = quote(&date),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Today {
        Today(chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap())
    }

    fn req(dist: &str, versions: &str, alias: &str) -> NewRecord {
        NewRecord {
            dist: dist.into(),
            versions: versions.into(),
            aliases: vec![alias.into()],
            title: Some("Fix \"quoted\" title".into()),
        }
    }

    #[test]
    fn ids_count_up_per_year_across_folders() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_id(dir.path(), 2026).unwrap().as_str(), "PK-2026-0001");
        std::fs::create_dir_all(dir.path().join("A")).unwrap();
        std::fs::create_dir_all(dir.path().join("B")).unwrap();
        std::fs::write(dir.path().join("A/PK-2026-0007.patch"), "").unwrap();
        std::fs::write(dir.path().join("B/PK-2025-0099.toml"), "").unwrap();
        assert_eq!(next_id(dir.path(), 2026).unwrap().as_str(), "PK-2026-0008");
        assert_eq!(next_id(dir.path(), 2025).unwrap().as_str(), "PK-2025-0100");
    }

    #[test]
    fn the_scaffold_is_a_valid_record() {
        let dir = tempfile::tempdir().unwrap();
        let r = create(
            dir.path(),
            &req("Foo-Bar", ">= 1.0, < 2", "CVE-2026-1234"),
            today(),
        )
        .unwrap();
        let text = std::fs::read_to_string(&r.record).unwrap();
        let (rec, unknown) = Record::from_toml(&text).unwrap();
        assert!(unknown.is_empty());
        assert_eq!(rec.title, "Fix \"quoted\" title");
        assert_eq!(rec.updated.as_deref(), Some("2026-03-04"));
        assert_eq!(r.id, "PK-2026-0001");
    }

    #[test]
    fn bad_requests_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for (dist, versions, alias, want) in [
            ("Foo::Bar", "1", "CVE-2026-1234", "did you mean Foo-Bar"),
            ("Foo", ">= 1,, < 2", "CVE-2026-1234", "not a CPAN::Meta"),
            ("Foo", "< 0", "CVE-2026-1234", "matches no version"),
            ("Foo", "1", "CVE-26-1", "--alias"),
        ] {
            let err = create(dir.path(), &req(dist, versions, alias), today())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
