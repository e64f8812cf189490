//! Judging the claims a scanned distribution makes (`.patchkit/applied.json`,
//! `x_patchkit`, MYMETA.json) with [`crate::catalog::claims::check`]: which
//! carried patches the content does not back (docs/security.md, "What a
//! tarball says about itself").

use super::scan::{DistKind, RecordSource, ScannedDist};
use crate::applied::ChangedFile;
use crate::catalog::claims::{check, Claim, Scope, Verdict};
use crate::catalog::Catalog;
use crate::tree::sha256_hex;

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

/// For an installed distribution that carries no record (found by its
/// packlist or its content, or a `.meta/` dist installed without one): the
/// ids of the applicable patches its installed modules carry, judged as a
/// record listing the modules as they are would be
/// ([`crate::catalog::claims::check`], `Scope::Installed`: the verified
/// diff's exact reverse applies to the installed `lib/` files, which
/// [`super::content::attribute`] loaded into `d.content`).
pub fn carried_by_content(d: &ScannedDist, catalog: &Catalog) -> Vec<String> {
    if d.kind != DistKind::Installed || d.record_source.is_some() || !d.record_readable {
        return Vec::new();
    }
    let Some(info) = &d.info else {
        return Vec::new();
    };
    let Ok(matches) = catalog.matching(info) else {
        return Vec::new();
    };
    let files: Vec<Vec<ChangedFile>> = matches
        .apply
        .iter()
        .map(|e| {
            e.parsed
                .files
                .iter()
                .flat_map(|f| [&f.old_path, &f.new_path])
                .map(|p| ChangedFile {
                    path: p.to_string(),
                    sha256: d.content.files.get(p).map(|f| sha256_hex(&f.data)),
                })
                .collect()
        })
        .collect();
    let claims: Vec<Claim<'_>> = matches
        .apply
        .iter()
        .zip(&files)
        .map(|(e, files)| Claim {
            id: e.record.id.as_str(),
            patch_sha256: &e.patch_sha256,
            files,
        })
        .collect();
    check(&claims, catalog, &d.content, Scope::Installed)
        .into_iter()
        .zip(&matches.apply)
        .filter(|(v, _)| *v == Verdict::Carried)
        .map(|(_, e)| e.record.id.to_string())
        .collect()
}
