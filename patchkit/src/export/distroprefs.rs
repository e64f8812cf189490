//! `export distroprefs DIR TARGET…`: CPAN.pm distroprefs, so that CPAN.pm
//! applies the verified patches itself.
//!
//! For each release it writes `DIR/patchkit-<Dist-Ver>.yml`, a distroprefs
//! document (CPAN.pm's `match: distribution:` regular expression on the
//! `AUTHOR/Dist-Ver.tar.gz` path, and `patches:`), and the patch files
//! under `DIR/patchkit/<Dist-Ver>/`, named relative to DIR: set both
//! `prefs_dir` and `patches_dir` to DIR. A release is matched by its exact
//! file name, from any author: CPAN.pm's matcher is a regular expression
//! and cannot express a version range, and the record patch is made for
//! that exact tarball anyway.

use std::path::Path;

use serde::Serialize;

use super::{Error, Series};
use crate::state;

/// What was written for one release.
#[derive(Debug, Serialize)]
pub struct DistroprefsExport {
    /// The tarball.
    pub target: String,
    /// The distroprefs file (relative to DIR).
    pub file: String,
    /// The `distribution` regular expression.
    pub distribution: String,
    /// The patch files, relative to DIR, in order.
    pub patches: Vec<String>,
}

/// A regular expression matching `s` literally.
fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#/ ".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A YAML single-quoted scalar.
fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Writes the distroprefs of `series` into `dir`; `origin` names the
/// repository in the comment. Nothing is written for a release with no
/// patch to apply (returns `None`).
///
/// # Errors
/// [`Error::Write`].
pub fn export(
    series: &Series<'_>,
    origin: &str,
    dir: &Path,
) -> Result<Option<DistroprefsExport>, Error> {
    if series.patches.is_empty() {
        return Ok(None);
    }
    let release = format!("{}-{}", series.dist, series.version);
    let mut patches = Vec::new();
    for p in &series.patches {
        let rel = format!("patchkit/{release}/{}", p.file);
        state::write_atomic(&dir.join(&rel), &p.text, None)?;
        patches.push(rel);
    }
    let distribution = format!("^[^/]+/{}$", regex_escape(&series.file_name));
    let ids: Vec<&str> = series
        .patches
        .iter()
        .filter_map(|p| p.entry.map(|e| e.record.id.as_str()))
        .collect();
    let mut yml = String::from("---\n");
    yml.push_str(&format!(
        "comment: {}\n",
        yaml_quote(&format!(
            "patchkit: {} for {release} from {origin}; the last patch adds the record \
             that `patchkit audit` checks",
            ids.join(", ")
        ))
    ));
    yml.push_str("match:\n");
    yml.push_str(&format!("  distribution: {}\n", yaml_quote(&distribution)));
    yml.push_str("patches:\n");
    for p in &patches {
        yml.push_str(&format!("  - {}\n", yaml_quote(p)));
    }
    let file = format!("patchkit-{release}.yml");
    state::write_atomic(&dir.join(&file), yml.as_bytes(), None)?;
    Ok(Some(DistroprefsExport {
        target: series.file_name.clone(),
        file,
        distribution,
        patches,
    }))
}
