//! What a patched distribution carries, and what it should.
//!
//! The record patchkit leaves inside a patched distribution (applied.json,
//! the diffs, `x_patchkit` in META) is plain data in [`crate::applied`].
//!
//! - [`scan`]: reading that record back from a tarball, an unpacked
//!   distribution or an installed Perl library, and comparing the recorded
//!   files with what is there now.
//! - [`verify`]: checking a record's claims against the verified diffs and
//!   the content (a record found in a target is a claim, not proof; `apply`
//!   uses it too, before it believes an existing applied.json).
//! - [`report`]: judging what was found against a repository's catalog
//!   (genuine, superseded, withdrawn, unknown; missing patches).
//!
//! Audit only reads: it never writes into the paths it is given, and a
//! problem with one distribution is reported for that distribution while
//! the rest are still audited.

pub mod content;
pub mod library;
pub mod report;
pub mod scan;
pub mod verify;

use std::path::PathBuf;

use rayon::prelude::*;

use crate::catalog::Catalog;
use crate::tarball::Limits;

/// Scan every PATH (in parallel) and, with a catalog, recognise installed
/// modules by their content ([`content::attribute`]): the one discovery
/// `audit` and `sbom` share.
pub fn scan_paths(
    paths: &[PathBuf],
    limits: &Limits,
    catalog: Option<&Catalog>,
) -> Vec<Result<scan::PathScan, scan::PathError>> {
    paths
        .par_iter()
        .map(|p| {
            let mut s = scan::scan(p, limits)?;
            if let Some(c) = catalog {
                content::attribute(&mut s, c, limits);
            }
            Ok(s)
        })
        .collect()
}
