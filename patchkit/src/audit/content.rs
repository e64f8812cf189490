//! Knowing installed modules by their content, with a repository's
//! catalog: the part of the library scan that needs the patches.
//!
//! - A module file no install metadata accounts for is looked up among the
//!   records of the dists its path could belong to (`Foo/Bar/Baz.pm`:
//!   Foo-Bar-Baz, Foo-Bar, Foo): when its sha256 is one a record's
//!   `[[tested]]` `files` give for that path, before or after the patch,
//!   it belongs to that tested release (name and version from the tested
//!   tarball's name), and becomes an installed dist found by content.
//!   The rest stays unattributed: `audit` reports it as unknown.
//! - An installed dist that carries no record (found by its packlist or its
//!   content, or a `.meta/` dist installed unpatched) gets the current
//!   content of the modules its applicable patches change, under their
//!   `lib/` paths ([`super::scan::ScannedDist::content`]), so that
//!   [`super::verify::carried_by_content`] can tell which fixes the
//!   installed files carry; a file that is byte for byte a tested
//!   tarball's file before or after a patch is named in a note.
//!
//! Reads are bounded by the archive limits' per-file size.

use std::collections::BTreeMap;

use super::library::InstalledFile;
use super::scan::{DistKind, FoundBy, PathScan, ScannedDist};
use crate::catalog::{Catalog, Entry};
use crate::dist::{self, DistInfo, DistName, IdentitySource};
use crate::state::read_bounded;
use crate::tarball::Limits;
use crate::text::printable;
use crate::tree::{sha256_hex, FileEntry, InTreePath};

/// Whether a record path (`lib/Foo/Bar.pm`, or a top-level `Bar.pm` that
/// MakeMaker installs as `Foo/Bar.pm`) is the installed `module`.
fn same_module(record_path: &str, module: &str) -> bool {
    record_path.strip_prefix("lib/") == Some(module)
        || (!record_path.contains('/')
            && module
                .rsplit_once('/')
                .map_or(module == record_path, |(_, base)| base == record_path))
}

/// The dists a module path could belong to, longest name first.
fn candidate_dists(module: &str) -> Vec<DistName> {
    let stem = module.strip_suffix(".pm").unwrap_or(module);
    let parts: Vec<&str> = stem.split('/').collect();
    (1..=parts.len())
        .rev()
        .filter_map(|n| DistName::parse(&parts[..n].join("-")).ok())
        .collect()
}

/// Which side of a patch a file's content is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Before,
    After,
}

/// A tested tarball's file that has this content.
struct Known<'a> {
    entry: &'a Entry,
    tarball: String,
    info: Option<DistInfo>,
    side: Side,
}

/// Every tested file of `entries` with the path `module` and the sha256
/// `sha`.
fn known<'a>(entries: &[&'a Entry], module: &str, sha: &str) -> Vec<Known<'a>> {
    let mut out = Vec::new();
    for e in entries {
        for t in &e.record.tested {
            for f in t.files.iter().filter(|f| same_module(&f.path, module)) {
                let side = if f.before.as_deref() == Some(sha) {
                    Side::Before
                } else if f.after.as_deref() == Some(sha) {
                    Side::After
                } else {
                    continue;
                };
                let tarball = t.tarball.clone().unwrap_or_else(|| t.sha256.clone());
                let info = t
                    .tarball
                    .as_deref()
                    .and_then(dist::split_file_name)
                    .filter(|(name, _)| *name == e.record.dist)
                    .map(|(name, version)| DistInfo {
                        name,
                        version,
                        source: IdentitySource::FileName,
                        author: None,
                    });
                out.push(Known {
                    entry: e,
                    tarball,
                    info,
                    side,
                });
            }
        }
    }
    out
}

fn note(k: &Known<'_>, module: &str) -> String {
    match k.side {
        Side::Before => format!(
            "{module} is byte for byte {}'s file before {} (vulnerable)",
            k.tarball, k.entry.record.id
        ),
        Side::After => format!(
            "{module} is byte for byte {}'s file with {} applied",
            k.tarball, k.entry.record.id
        ),
    }
}

/// Recognise what can be recognised of `scan`'s unattributed modules, and
/// load the content the patch checks need (see the module documentation).
pub fn attribute(scan: &mut PathScan, catalog: &Catalog, limits: &Limits) {
    let mut found: BTreeMap<(String, String), ScannedDist> = BTreeMap::new();
    let mut left = Vec::new();
    for f in std::mem::take(&mut scan.unattributed) {
        match recognise(&f, catalog, limits) {
            Some((info, notes)) => {
                let key = (info.name.to_string(), info.version.to_string());
                let d = found.entry(key).or_insert_with(|| {
                    let mut d = ScannedDist::new_installed(&scan.target, &f.path, FoundBy::Content);
                    d.info = Some(info);
                    d
                });
                d.warnings.extend(notes.into_iter().map(|n| printable(&n)));
                d.installed.push(f);
            }
            None => left.push(f),
        }
    }
    scan.unattributed = left;
    scan.dists.extend(found.into_values());
    for d in &mut scan.dists {
        load_content(d, catalog, limits);
    }
}

/// The tested release a loose module is a file of, with a note saying so.
fn recognise(
    f: &InstalledFile,
    catalog: &Catalog,
    limits: &Limits,
) -> Option<(DistInfo, Vec<String>)> {
    let mut sha: Option<String> = None;
    for name in candidate_dists(&f.module) {
        let Ok(entries) = catalog.of_dist(name.as_str()) else {
            continue;
        };
        if entries.is_empty() {
            continue;
        }
        let sha = match &sha {
            Some(s) => s.clone(),
            None => {
                let data = read_bounded(&f.path, limits.max_file_bytes).ok()?;
                let s = sha256_hex(&data);
                sha = Some(s.clone());
                s
            }
        };
        let hits = known(&entries, &f.module, &sha);
        if let Some(info) = hits.iter().find_map(|k| k.info.clone()) {
            let notes = hits
                .iter()
                .filter(|k| k.info.as_ref() == Some(&info))
                .map(|k| note(k, &f.module))
                .collect();
            return Some((info, notes));
        }
    }
    None
}

/// Read the installed modules the applicable patches of an installed dist
/// without a record change.
fn load_content(d: &mut ScannedDist, catalog: &Catalog, limits: &Limits) {
    if d.kind != DistKind::Installed || d.record_source.is_some() || !d.record_readable {
        return;
    }
    let Some(info) = d.info.clone() else { return };
    let Ok(matches) = catalog.matching(&info) else {
        return;
    };
    let mut notes = Vec::new();
    for e in &matches.apply {
        for fp in &e.parsed.files {
            for p in [&fp.old_path, &fp.new_path] {
                let Some(module) = p.as_str().strip_prefix("lib/") else {
                    continue;
                };
                if d.content.files.contains_key(p) {
                    continue;
                }
                let Some(data) = installed_module(d, module, limits) else {
                    continue;
                };
                let sha = sha256_hex(&data);
                let all = catalog.of_dist(info.name.as_str()).unwrap_or_default();
                for k in known(&all, module, &sha) {
                    if k.info.as_ref().is_none_or(|i| i.version == info.version) {
                        notes.push(note(&k, module));
                    }
                }
                d.content
                    .files
                    .insert(InTreePath::clone(p), FileEntry { data, mode: 0o644 });
            }
        }
    }
    notes.sort();
    notes.dedup();
    for n in notes {
        let n = printable(&n);
        if !d.warnings.contains(&n) {
            d.warnings.push(n);
        }
    }
}

/// The bytes of `module` (`Foo/Bar.pm`) as installed for `d`: one of the
/// files it owns (its packlist, cpanm's `provides`, its record, or the
/// file its content was known by). A file it does not own may be
/// another dist's, or another release's: it shows nothing about `d`.
fn installed_module(d: &ScannedDist, module: &str, limits: &Limits) -> Option<Vec<u8>> {
    d.installed
        .iter()
        .filter(|f| f.module == module)
        .find_map(|f| {
            let md = std::fs::symlink_metadata(&f.path).ok()?;
            if !md.is_file() {
                return None;
            }
            read_bounded(&f.path, limits.max_file_bytes).ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_name_their_candidate_dists() {
        let names: Vec<String> = candidate_dists("Apache/Session/Generate/MD5.pm")
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "Apache-Session-Generate-MD5",
                "Apache-Session-Generate",
                "Apache-Session",
                "Apache"
            ]
        );
    }

    #[test]
    fn record_paths_map_to_installed_modules() {
        assert!(same_module("lib/Foo/Bar.pm", "Foo/Bar.pm"));
        assert!(same_module("Bar.pm", "Foo/Bar.pm"));
        assert!(!same_module("t/Bar.pm", "Foo/Bar.pm"));
        assert!(!same_module("lib/Bar.pm", "Foo/Bar.pm"));
    }
}
