//! Judging the claims a scanned distribution makes (`.patchkit/applied.json`,
//! `x_patchkit`, MYMETA.json) with [`crate::catalog::claims::check`]: which
//! carried patches the content does not back (docs/security.md, "What a
//! tarball says about itself").

use super::scan::{DistKind, RecordSource, ScannedDist};
use crate::catalog::claims::{check, Claim, Scope, Verdict};
use crate::catalog::Catalog;

/// The carried patches of `d` whose claim its content does not back, by
/// index into `d.patches`, each with one sentence for the user.
pub fn refuted(d: &ScannedDist, catalog: &Catalog) -> Vec<(usize, String)> {
    let claims: Vec<Claim<'_>> = d
        .patches
        .iter()
        .map(|p| Claim {
            id: &p.id,
            patch_sha256: &p.patch_sha256,
            files: &p.files,
        })
        .collect();
    let scope = match d.kind {
        DistKind::Installed => Scope::Installed,
        DistKind::Tarball | DistKind::Directory => Scope::Whole,
    };
    let source = match d.record_source {
        Some(RecordSource::AppliedJson) => ".patchkit/applied.json",
        Some(RecordSource::MetaJson) => "x_patchkit in META.json",
        Some(RecordSource::MymetaJson) => "x_patchkit in MYMETA.json",
        None => "the record",
    };
    check(&claims, catalog, &d.content, scope)
        .into_iter()
        .enumerate()
        .filter_map(|(i, verdict)| match verdict {
            Verdict::NotCarried(why) => Some((
                i,
                format!(
                    "{source} claims {} is applied, but {why}: the claim is not believed",
                    d.patches[i].id
                ),
            )),
            _ => None,
        })
        .collect()
}
