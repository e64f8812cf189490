//! Checking what a distribution says it carries: a record found in a
//! target (`.patchkit/applied.json`, `x_patchkit` in META.json, MYMETA.json)
//! is a claim, not proof (docs/security.md, "What a tarball says about
//! itself").
//!
//! A claim that a patch is applied holds only when
//! - the repository's catalog has that id with exactly the recorded diff
//!   sha256 (otherwise the patch is `superseded` or `unknown` anyway, and
//!   never genuine);
//! - every file it lists still has the content the record gives (else the
//!   record and the content disagree: `audit` reports the file
//!   `tampered`, as before, and `apply` does not believe the record);
//! - the record lists every file the verified diff changes; and
//! - the content carries the verified diff: its exact reverse applies with
//!   every hunk where the diff puts its lines ([`patch::carries`]), after
//!   the claims before it in the record's order.
//!
//! Anybody can write a record — an upstream author who ships
//! `.patchkit/applied.json` in a tarball, or `x_patchkit` in META.json,
//! which `perl Makefile.PL` copies into MYMETA.json — so `apply` never
//! skips a patch because a record names it, and `audit` and `sbom` never
//! call a claim genuine that the content does not back.
//!
//! The content checked is that of the files the record lists (all a
//! genuine record needs); a diff that copies a file (git `copy from`)
//! needs its source too, which the record does not list, so such a claim
//! is not believed by `audit` (re-apply to verify it).
//!
//! In an installed library only modules under `lib/` are installed as
//! such; the check then covers the diff's files below `lib/`, and a patch
//! that changes none of them cannot be shown by the installed files, so
//! its claim is not believed either.

use super::Catalog;
use crate::applied::ChangedFile;
use crate::patch::{self, Operation, ParsedPatch};
use crate::tree::{InTreePath, Tree};

/// Which files of a distribution the content check can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A tarball or an unpacked directory: every file.
    Whole,
    /// An installed library: only modules below `lib/`.
    Installed,
}

/// One claim: a record says this patch is applied.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The record id.
    pub id: &'a str,
    /// The diff sha256 the record gives.
    pub patch_sha256: &'a str,
    /// The files the record lists for it.
    pub files: &'a [ChangedFile],
}

/// Check `claims`, in the record's order, against the verified diffs of
/// `catalog` and `content` (the files as they are now, under their paths
/// below the distribution's top directory; for an installed library the
/// installed modules, under their recorded `lib/` paths).
///
/// What the content says about one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The catalog has no entry with that id and that diff: the claim is
    /// judged `unknown` or `superseded`, never genuine.
    NotPublished,
    /// A file the claim lists no longer has the content the record gives
    /// for it: the record and the content disagree, which audit reports as
    /// `tampered` (and `apply` does not believe).
    Tampered(String),
    /// The content carries the verified diff.
    Carried,
    /// The content does not carry it; one clause saying why.
    NotCarried(String),
}

/// One [`Verdict`] per claim, in order.
pub fn check(
    claims: &[Claim<'_>],
    catalog: &Catalog,
    content: &Tree,
    scope: Scope,
) -> Vec<Verdict> {
    let mut earlier: Vec<&ParsedPatch> = Vec::new();
    let mut out = Vec::with_capacity(claims.len());
    for claim in claims {
        // A record the repository cannot be read for backs no claim: the
        // claim is not believed (apply and audit report the lookup error
        // themselves when they look the same record or dist up).
        let Some(entry) = catalog
            .get(claim.id)
            .ok()
            .flatten()
            .filter(|e| e.patch_sha256 == claim.patch_sha256)
        else {
            out.push(Verdict::NotPublished);
            continue;
        };
        out.push(check_one(claim, &entry.parsed, &earlier, content, scope));
        earlier.push(&entry.parsed);
    }
    out
}

fn in_scope(path: &InTreePath, scope: Scope) -> bool {
    scope == Scope::Whole || path.as_str().starts_with("lib/")
}

fn check_one(
    claim: &Claim<'_>,
    verified: &ParsedPatch,
    earlier: &[&ParsedPatch],
    content: &Tree,
    scope: Scope,
) -> Verdict {
    for f in claim.files {
        let Ok(p) = InTreePath::parse(&f.path) else {
            return Verdict::NotCarried(format!(
                "it names the path {:?}, which is not in the distribution",
                f.path
            ));
        };
        // An installed library keeps only the modules, and may keep a
        // file a patch deleted (an older install left it).
        if !in_scope(&p, scope) || (scope == Scope::Installed && f.sha256.is_none()) {
            continue;
        }
        let now = content.file_sha256(&p);
        if now != f.sha256 {
            return Verdict::Tampered(format!("{p} no longer has the content the record lists"));
        }
    }
    match carried(claim, verified, earlier, content, scope) {
        Ok(()) => Verdict::Carried,
        Err(why) => Verdict::NotCarried(why),
    }
}

fn carried(
    claim: &Claim<'_>,
    verified: &ParsedPatch,
    earlier: &[&ParsedPatch],
    content: &Tree,
    scope: Scope,
) -> Result<(), String> {
    let listed = |p: &InTreePath| claim.files.iter().any(|f| f.path == p.as_str());
    // The part of the diff the content can show.
    let mut diff = verified.clone();
    diff.files
        .retain(|f| in_scope(&f.old_path, scope) && in_scope(&f.new_path, scope));
    if diff.files.is_empty() {
        return Err("it changes no installed module, so the installed files cannot show it".into());
    }
    // patchkit lists every path it wrote or removed: the new path (also
    // of a rename or copy, whose source is removed or left alone), or for
    // a plain diff with two names the one that existed.
    for f in &diff.files {
        let old_named = matches!(f.op, Operation::Modify) && listed(&f.old_path);
        if !listed(&f.new_path) && !old_named {
            return Err(format!(
                "the record does not list {}, which the patch changes",
                f.new_path
            ));
        }
    }
    patch::carries(content, &diff, earlier).map_err(|e| match e.hunk() {
        Some(hunk) => format!(
            "{} does not carry hunk {hunk} of the patch where the patch puts it",
            e.path()
        ),
        None => format!("{e}"),
    })
}
