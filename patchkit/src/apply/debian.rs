//! `apply DIR` on a Debian 3.0 (quilt) source tree (docs/packaging.md,
//! "Debian: apply in the source tree").
//!
//! `dpkg-source -b` rebuilds the tree from the orig tarball and the series
//! in `debian/patches`, and aborts on any other difference ("unexpected
//! upstream changes"). So what `apply` changes in such a tree (the fixes
//! and the record) is also written as one quilt patch,
//! `debian/patches/patchkit-<Dist>-<Version>.patch` with a DEP-3 header,
//! appended to `series`; when the tree keeps quilt's state (`.pc/`, as
//! `dpkg-source -x` leaves it) the patch is registered there as applied,
//! with quilt's backups, so that `quilt pop` and `dpkg-source` see the tree
//! as it is. The changes go through the same all-or-nothing directory
//! writer as the rest.

use crate::dist::DistInfo;
use crate::patch::{self, coexist::DEBIAN_SERIES};
use crate::text::printable;
use crate::tree::{Change, FileEntry, InTreePath, Tree};

use super::{PatchReport, PatchStatus};

/// quilt's list of applied patches.
const APPLIED_PATCHES: &str = ".pc/applied-patches";

/// The extra changes for a Debian tree, and the patch's path.
pub(super) struct Quilt {
    /// `debian/patches/<name>`, `series`, `.pc/…`.
    pub changes: Vec<Change>,
    /// The patch written, below the tree.
    pub patch: String,
}

fn path(s: &str) -> Result<InTreePath, String> {
    InTreePath::parse(s).map_err(|e| format!("{s:?} {e}"))
}

/// The quilt patch for `changes` (to `pristine`), when `pristine` is a
/// Debian 3.0 (quilt) source tree and there are changes; see the module
/// docs. A change below `debian/` or `.pc/` is refused: a quilt patch may
/// not touch them.
pub(super) fn quilt_changes(
    pristine: &Tree,
    changes: &[Change],
    patches: &[PatchReport],
    info: &DistInfo,
) -> Result<Option<Quilt>, String> {
    if changes.is_empty() || !patch::coexist::is_debian_quilt_tree(pristine) {
        return Ok(None);
    }
    let (mut old, mut new) = (Tree::default(), Tree::default());
    for c in changes {
        let p = c.path();
        if p.as_str().starts_with("debian/") || p.as_str().starts_with(".pc/") {
            return Err(format!(
                "a patch changes {p}, which a Debian source tree's quilt patch may not change; \
                 nothing written"
            ));
        }
        if let Some(f) = pristine.files.get(p) {
            old.files.insert(p.clone(), f.clone());
        }
        if let Change::Modify(_, f) | Change::Add(_, f) = c {
            new.files.insert(p.clone(), f.clone());
        }
    }
    let series_path = path(DEBIAN_SERIES)?;
    let series = pristine
        .files
        .get(&series_path)
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default();
    let listed = patch::coexist::series_entries(&series);
    let base = format!("patchkit-{}-{}", info.name, info.version);
    let name = (1..)
        .map(|n| match n {
            1 => format!("{base}.patch"),
            n => format!("{base}-{n}.patch"),
        })
        .find(|n| {
            !listed.iter().any(|(l, _)| l == n)
                && !pristine.files.contains_key(
                    &InTreePath::parse(&format!("debian/patches/{n}"))
                        .unwrap_or_else(|_| series_path.clone()),
                )
        })
        .unwrap_or_else(|| format!("{base}.patch"));

    let mut text = header(patches, info).into_bytes();
    text.extend_from_slice(&patch::unified_diff(&old, &new));
    let patch_path = path(&format!("debian/patches/{name}"))?;
    let mut out = vec![Change::Add(
        patch_path.clone(),
        FileEntry {
            data: text,
            mode: 0o644,
        },
    )];
    out.push(appended(pristine, series_path, &series, &name));

    // quilt's state, when the tree keeps it: the patch is applied, and
    // `.pc/<name>/` holds each file as it was (empty for a new file).
    let applied_path = path(APPLIED_PATCHES)?;
    if let Some(f) = pristine.files.get(&applied_path) {
        let text = String::from_utf8_lossy(&f.data).into_owned();
        out.push(appended(pristine, applied_path, &text, &name));
        for p in old.files.keys().chain(new.files.keys()) {
            let backup = path(&format!(".pc/{name}/{p}"))?;
            let data = old.files.get(p).map(|f| f.data.clone()).unwrap_or_default();
            let mode = old.files.get(p).map_or(0o644, |f| f.mode);
            out.push(Change::Add(backup, FileEntry { data, mode }));
        }
        out.push(Change::Add(
            path(&format!(".pc/{name}/.timestamp"))?,
            FileEntry {
                data: Vec::new(),
                mode: 0o644,
            },
        ));
    }
    out.sort_by(|a, b| a.path().cmp(b.path()));
    out.dedup_by(|a, b| a.path() == b.path());
    Ok(Some(Quilt {
        changes: out,
        patch: patch_path.to_string(),
    }))
}

/// `text` (the file at `p`, if any) with the line `name` appended.
fn appended(tree: &Tree, p: InTreePath, text: &str, name: &str) -> Change {
    let mut data = text.to_string();
    if !data.is_empty() && !data.ends_with('\n') {
        data.push('\n');
    }
    data.push_str(name);
    data.push('\n');
    match tree.files.get(&p) {
        Some(f) => Change::Modify(
            p,
            FileEntry {
                data: data.into_bytes(),
                mode: f.mode,
            },
        ),
        None => Change::Add(
            p,
            FileEntry {
                data: data.into_bytes(),
                mode: 0o644,
            },
        ),
    }
}

/// The DEP-3 header: what was applied, and every other outcome.
fn header(patches: &[PatchReport], info: &DistInfo) -> String {
    // Record text is signed but still untrusted here: one line each, no
    // control characters, so no line can start a diff.
    let one = |s: &str| printable(&s.replace(['\n', '\r'], " "));
    let mut h = format!(
        "Description: security fixes applied by patchkit to {}-{}\n",
        info.name, info.version
    );
    for p in patches {
        let aliases = if p.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.aliases.join(", "))
        };
        let what = match (p.status, &p.reason) {
            (PatchStatus::Applied, _) => "applied".to_string(),
            (_, Some(reason)) => format!("not applied: {}", reason),
            _ => "already applied".to_string(),
        };
        h.push_str(&format!(
            " {}{}: {}: {}\n",
            one(&p.id),
            one(&aliases),
            one(&p.title),
            one(&what)
        ));
    }
    h.push_str(" .\n The patch also adds the record patchkit audit reads (.patchkit/,\n x_patchkit in the META files).\n");
    h.push_str("Origin: vendor, patchkit apply\nForwarded: not-needed\n");
    let ids: Vec<String> = patches
        .iter()
        .filter(|p| p.status == PatchStatus::Applied)
        .map(|p| one(&p.id))
        .collect();
    if !ids.is_empty() {
        h.push_str(&format!("X-Patchkit-Id: {}\n", ids.join(", ")));
    }
    h.push('\n');
    h
}
