//! Finding what a PATH carries: a tarball, an unpacked distribution
//! directory, or a Perl library tree (a `local/` made by cpanm or Carton, a
//! site library, or any directory holding `<archname>/.meta/`).
//!
//! This module only *reads* and reports what it saw: which distribution,
//! which patch record it carries (applied.json, or `x_patchkit` in META /
//! MYMETA), and which recorded files no longer have their recorded content.
//! Judging the patches against a repository is [`super::report`]'s job, so
//! that `audit` and `sbom` share one scan.
//!
//! Refusals and their scope (docs/ARCHITECTURE.md "Untrusted input is bounded"):
//! - A PATH that does not exist, or a tarball or directory that the archive
//!   reader refuses, is a [`PathError`]: nothing inside it can be trusted.
//! - Inside a readable PATH, every problem is attached to *one*
//!   distribution ([`ScannedDist::problems`]) and the scan goes on: a
//!   corrupt or hand-edited applied.json, a MYMETA.json that is not JSON, a
//!   `.meta` folder without MYMETA.json, a symlink loop. One bad entry of a
//!   library of thousands must not hide the others.
//! - Paths named in a record are untrusted: each goes through
//!   [`InTreePath`], so a record cannot make audit read outside the
//!   distribution or the library.
//! - What a record says is a claim: it is collected here with the current
//!   content of every file it names ([`ScannedDist::content`]), and judged
//!   against the verified diffs by [`super::verify`]. Strings taken from a
//!   record (ids, titles, aliases) and every problem or note are escaped
//!   (`text::printable`): no raw newline or terminal escape reaches the
//!   report.
//! - Only regular files are opened: a FIFO where a module, MYMETA.json,
//!   install.json or a tarball should be is reported, never waited on.
//! - A MYMETA.json with a key twice in one object is not interpreted
//!   (readers disagree on which one counts).
//! - Every file read is bounded ([`MAX_META_BYTES`] for install.json and
//!   MYMETA.json, [`Limits`] for archives and directories, the archive's
//!   per-file limit for installed modules).
//!
//! Library trees are scanned in parallel, one `.meta/<dist>` per task, and
//! every file is read once: that is what keeps a 5,000-dist library well
//! under a second (see bench/).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::library::{self as lib_walk, InstalledFile};
use crate::applied::{self, Applied, ChangedFile, Outcome, XPatchkit, APPLIED_JSON};
use crate::dist::{self, meta, DistInfo, DistName, IdentitySource};
use crate::state::read_bounded;
use crate::tarball::{self, Archive, Limits};
use crate::text::{excerpt, printable, EXCERPT};
use crate::tree::{sha256_hex, InTreePath, Tree};
use crate::version::CpanVersion;

/// Largest install.json or MYMETA.json read (bytes). Real ones are a few
/// KiB; a big dist's MYMETA with many prereqs stays under 100 KiB.
pub const MAX_META_BYTES: u64 = 4 * 1024 * 1024;

/// A PATH that could not be scanned at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct PathError {
    /// The PATH as given.
    pub path: String,
    /// Why, one sentence.
    pub reason: String,
}

/// What kind of thing a PATH is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathKind {
    /// A distribution tarball.
    Tarball(PathBuf),
    /// An unpacked distribution (its top directory).
    Directory(PathBuf),
    /// A Perl library: the directory that holds the installed modules
    /// (`local/lib/perl5`, a site library) and `<archname>/.meta/`.
    Library(PathBuf),
}

/// How one scanned distribution was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DistKind {
    /// A tarball.
    Tarball,
    /// An unpacked distribution directory.
    Directory,
    /// An installed distribution in a library tree.
    Installed,
}

/// How an installed distribution was found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// Its own metadata: a tarball, a directory, cpanm's `.meta/<dist>`.
    #[default]
    Metadata,
    /// A `.packlist` (and `perllocal.pod` for its version): installed by
    /// ExtUtils::MakeMaker or Module::Build, e.g. through CPAN.pm or cpanm
    /// from a file.
    Packlist,
    /// Its module files' content: a file the repository knows from a
    /// tested tarball, before or after a patch.
    Content,
}

/// Where the patch record was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordSource {
    /// `.patchkit/applied.json`.
    AppliedJson,
    /// `x_patchkit` in META.json (the dist lost its `.patchkit/`).
    MetaJson,
    /// `x_patchkit` in an installed dist's MYMETA.json.
    MymetaJson,
}

/// One patch a distribution says it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedPatch {
    /// The record id.
    pub id: String,
    /// The title, when the record has it (applied.json does, x_patchkit not).
    pub title: Option<String>,
    /// CVE / GHSA ids.
    pub aliases: Vec<String>,
    /// sha256 of the diff, as recorded.
    pub patch_sha256: String,
    /// The files it changed, as recorded.
    pub files: Vec<ChangedFile>,
    /// The diff carried in `.patchkit/patches/`, when present.
    pub patch_text: Option<Vec<u8>>,
}

/// A recorded file whose content is no longer what the record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TamperedFile {
    /// The path as recorded (below the distribution's top directory).
    pub path: String,
    /// Where it was looked for (an installed library's file), if elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_as: Option<String>,
    /// sha256 the record lists (`None`: the patch deleted the file).
    pub expected: Option<String>,
    /// sha256 found (`None`: the file is absent).
    pub actual: Option<String>,
    /// The patches that list this file.
    pub patches: Vec<String>,
}

/// Everything the scan learned about one distribution.
#[derive(Debug, Clone)]
pub struct ScannedDist {
    /// The PATH this came from, as given.
    pub target: String,
    /// How it was found.
    pub kind: DistKind,
    /// The tarball, directory or `.meta/<dist>` folder.
    pub location: String,
    /// Its identity, when it could be told.
    pub info: Option<DistInfo>,
    /// The identity its release name gives (tarball, directory or
    /// install.json), when META or MYMETA names another release: its
    /// patches are looked for too.
    pub also: Option<DistInfo>,
    /// The files the record names, as they are now (an installed dist's
    /// modules under their recorded `lib/` paths): what a claim is checked
    /// against ([`super::verify`]).
    pub content: Tree,
    /// sha256 of the tarball (tarball targets only).
    pub tarball_sha256: Option<String>,
    /// sha256 of the pristine upstream tarball, as the patch record states
    /// it (`original_sha256`), or the tarball's own when it carries no
    /// record (then it is the original).
    pub original_sha256: Option<String>,
    /// Where the patch record came from; `None` when it carries none (or
    /// it could not be read: see `problems`).
    pub record_source: Option<RecordSource>,
    /// The patches it says it carries, in application order.
    pub patches: Vec<CarriedPatch>,
    /// What the record says became of the matching patches it does not
    /// carry (fixed by other means, skipped, …): claims, judged by
    /// [`super::report`].
    pub outcomes: Vec<Outcome>,
    /// Whether the record could be read; when not, nothing can be said
    /// about which patches it carries (and so none is called missing).
    pub record_readable: bool,
    /// Files that no longer match the record.
    pub tampered: Vec<TamperedFile>,
    /// Per-distribution problems (damaged records and metadata).
    pub problems: Vec<String>,
    /// Notes that are not findings.
    pub warnings: Vec<String>,
    /// How it was found (installed dists).
    pub found_by: FoundBy,
    /// The module files of the library it owns (installed dists: from its
    /// packlist, its record, cpanm's `provides`, or their content).
    pub installed: Vec<InstalledFile>,
}

/// Everything one PATH holds.
#[derive(Debug, Clone, Default)]
pub struct PathScan {
    /// The PATH, as given.
    pub target: PathBuf,
    /// The distributions, in a stable order.
    pub dists: Vec<ScannedDist>,
    /// The library, when PATH is an installed library.
    pub library: Option<PathBuf>,
    /// The same, escaped for display.
    pub library_display: String,
    /// Module files of the library that no distribution accounts for
    /// (before [`super::content::attribute`]: also the ones it may yet
    /// recognise by content).
    pub unattributed: Vec<InstalledFile>,
    /// Notes about the PATH as a whole (nothing found, a walk cut short).
    pub warnings: Vec<String>,
}

impl ScannedDist {
    /// An installed dist found otherwise than by its `.meta/` folder.
    pub(crate) fn new_installed(target: &Path, location: &Path, found_by: FoundBy) -> ScannedDist {
        let mut d = ScannedDist::new(target, DistKind::Installed, location);
        d.location = printable(&d.location);
        d.found_by = found_by;
        d
    }

    fn new(target: &Path, kind: DistKind, location: &Path) -> ScannedDist {
        ScannedDist {
            target: target.display().to_string(),
            kind,
            location: location.display().to_string(),
            info: None,
            also: None,
            content: Tree::default(),
            tarball_sha256: None,
            original_sha256: None,
            record_source: None,
            patches: Vec::new(),
            outcomes: Vec::new(),
            record_readable: true,
            tampered: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            found_by: FoundBy::Metadata,
            installed: Vec::new(),
        }
    }
}

/// Files only the top directory of an unpacked distribution has.
const DIST_MARKERS: [&str; 7] = [
    "META.json",
    "META.yml",
    "Makefile.PL",
    "Build.PL",
    "dist.ini",
    "MANIFEST",
    ".patchkit",
];

/// Decide what kind of PATH this is.
///
/// A directory is a library when it has `lib/perl5/` (a cpanm/Carton
/// `local/`, an `INSTALL_BASE`; the library is then `lib/perl5`), or when
/// it has a `.meta/` folder itself (an `<archname>` directory; the library
/// is its parent). It is an unpacked distribution when it has what only a
/// distribution's top directory has (META.json, META.yml, Makefile.PL,
/// Build.PL, dist.ini, MANIFEST or `.patchkit/`), or when its name is a
/// release name (`Foo-Bar-1.23`) and it has no architecture directory.
/// Any other directory is a library (a site library, CPAN.pm's
/// `lib/perl5`, `local/lib/perl5`): a library is never taken for one
/// distribution. Anything else is read as a tarball.
pub fn classify(path: &Path) -> Result<PathKind, PathError> {
    let err = |reason: String| PathError {
        path: path.display().to_string(),
        reason,
    };
    let md = fs::metadata(path).map_err(|e| err(io_reason(&e)))?;
    if !md.is_dir() {
        return Ok(PathKind::Tarball(path.to_path_buf()));
    }
    let perl5 = path.join("lib").join("perl5");
    if perl5.is_dir() {
        return Ok(PathKind::Library(perl5));
    }
    if path.join(".meta").is_dir() {
        if let Some(parent) = path.parent() {
            return Ok(PathKind::Library(parent.to_path_buf()));
        }
    }
    if DIST_MARKERS
        .iter()
        .any(|m| fs::symlink_metadata(path.join(m)).is_ok())
    {
        return Ok(PathKind::Directory(path.to_path_buf()));
    }
    let children: Vec<PathBuf> = fs::read_dir(path)
        .map_err(|e| err(io_reason(&e)))?
        .flatten()
        .map(|c| c.path())
        .collect();
    let has_arch = children
        .iter()
        .any(|c| c.is_dir() && lib_walk::is_arch_dir(c));
    let name = fs::canonicalize(path)
        .map(|p| dist::target_name(&p))
        .unwrap_or_else(|_| dist::target_name(path));
    if !has_arch && dist::split_file_name(&name).is_some() {
        return Ok(PathKind::Directory(path.to_path_buf()));
    }
    Ok(PathKind::Library(path.to_path_buf()))
}

/// Scan one PATH: every distribution it holds, and for a library the
/// module files no distribution accounts for.
pub fn scan(path: &Path, limits: &Limits) -> Result<PathScan, PathError> {
    let mut out = match classify(path)? {
        PathKind::Tarball(p) => PathScan {
            target: path.to_path_buf(),
            dists: vec![scan_tarball(path, &p, limits)?],
            ..PathScan::default()
        },
        PathKind::Directory(p) => PathScan {
            target: path.to_path_buf(),
            dists: vec![scan_directory(path, &p, limits)?],
            ..PathScan::default()
        },
        PathKind::Library(lib) => scan_library(path, &lib, limits)?,
    };
    let dists = &mut out.dists;
    // Problems and notes quote what the dist says about itself, and a
    // library's `.meta/<dist>` folder names are whatever was installed;
    // none of it may reach a terminal raw.
    for d in dists.iter_mut() {
        for text in d.problems.iter_mut().chain(d.warnings.iter_mut()) {
            *text = printable(text);
        }
        d.location = printable(&d.location);
    }
    for w in &mut out.warnings {
        *w = printable(w);
    }
    // Installed file names are whatever was installed: shown escaped.
    for f in &mut out.unattributed {
        f.rel = printable(&f.rel);
    }
    if let Some(lib) = &out.library {
        out.library_display = printable(&lib.display().to_string());
    }
    Ok(out)
}

/// Read a file that must be a regular file, at most `max` bytes. A FIFO,
/// socket or device is refused *before* it is opened: opening a FIFO for
/// reading waits for a writer, which would hang the audit.
fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let md = fs::metadata(path)?;
    if !md.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device); not read",
        ));
    }
    read_bounded(path, max)
}

/// An I/O error as a short reason, naming a symlink loop plainly.
fn io_reason(e: &std::io::Error) -> String {
    // ELOOP is 40 on Linux, 62 on the BSDs and macOS; std has no stable
    // ErrorKind for it yet.
    if matches!(e.raw_os_error(), Some(40) | Some(62)) {
        format!("symlink loop ({e})")
    } else {
        e.to_string()
    }
}

fn scan_tarball(target: &Path, path: &Path, limits: &Limits) -> Result<ScannedDist, PathError> {
    let name = dist::target_name(path);
    let err = |reason: String| PathError {
        path: target.display().to_string(),
        reason,
    };
    let bytes = read_regular(path, limits.max_compressed_bytes).map_err(|e| err(io_reason(&e)))?;
    let shown = path.display().to_string();
    let archive = Archive::read(&shown, &bytes, limits).map_err(|e| err(e.to_string()))?;
    let mut d = ScannedDist::new(target, DistKind::Tarball, path);
    d.tarball_sha256 = Some(sha256_hex(&bytes));
    scan_tree(&mut d, &name, archive.tree());
    // A tarball that carries no patch record is itself the original.
    if d.record_source.is_none() && d.record_readable && d.original_sha256.is_none() {
        d.original_sha256 = d.tarball_sha256.clone();
    }
    Ok(d)
}

fn scan_directory(target: &Path, path: &Path, limits: &Limits) -> Result<ScannedDist, PathError> {
    // The directory's own name (`Foo-Bar-1.23`) identifies it when META
    // cannot; canonicalise so that `.` works too.
    let name = fs::canonicalize(path)
        .map(|p| dist::target_name(&p))
        .unwrap_or_else(|_| dist::target_name(path));
    let tree = tarball::read_dir(path, limits).map_err(|e| PathError {
        path: target.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut d = ScannedDist::new(target, DistKind::Directory, path);
    scan_tree(&mut d, &name, &tree);
    Ok(d)
}

/// The part shared by tarballs and directories: identify, read the record,
/// cross-check it, compare file contents.
fn scan_tree(d: &mut ScannedDist, name: &str, tree: &Tree) {
    match dist::identities(name, tree) {
        Ok(ids) => {
            d.warnings.extend(ids.warnings);
            d.info = Some(ids.info);
            d.also = ids.also;
        }
        Err(e) => d.problems.push(e.to_string()),
    }
    let meta_x = tree_file(tree, "META.json").and_then(|data| {
        // A META.json that is not JSON was already reported by identify.
        meta::json_get_x_patchkit(data).ok().flatten()
    });
    match applied::read_applied(tree) {
        Err(reason) => {
            d.record_readable = false;
            d.problems
                .push(format!("{reason}; cannot tell which patches it carries"));
        }
        Ok(Some(applied)) => {
            d.record_source = Some(RecordSource::AppliedJson);
            d.original_sha256 = applied.original_sha256.clone();
            check_applied_identity(d, &applied);
            d.outcomes = printable_outcomes(applied.outcomes);
            d.patches = applied
                .patches
                .into_iter()
                .map(|p| CarriedPatch {
                    patch_text: InTreePath::parse(&p.patch_file)
                        .ok()
                        .and_then(|ip| tree.files.get(&ip))
                        .map(|f| f.data.clone()),
                    id: printable(&p.id),
                    title: Some(printable(&p.title)),
                    aliases: p.aliases.iter().map(|a| printable(a)).collect(),
                    patch_sha256: printable(&p.patch_sha256),
                    files: p.files,
                })
                .collect();
            check_carried_diffs(d);
            if let Some(x) = &meta_x {
                check_meta_agrees(d, x);
            }
        }
        Ok(None) => {
            if let Some(x) = &meta_x {
                // The dist lost .patchkit/ but META still says what it
                // carries: audit that, and say so.
                d.warnings.push(format!(
                    "{APPLIED_JSON} is missing; using x_patchkit from META.json"
                ));
                match applied::parse_x_patchkit(x) {
                    Ok(x) => {
                        d.record_source = Some(RecordSource::MetaJson);
                        d.original_sha256 = x.original_sha256.clone();
                        d.outcomes = printable_outcomes(x.outcomes.clone());
                        d.patches = from_x(x);
                    }
                    Err(reason) => {
                        d.record_readable = false;
                        d.problems.push(format!("META.json: {reason}"));
                    }
                }
            }
        }
    }
    // A claim of a fix by other means is judged on the whole tree (the
    // files the patch would change, a Debian series).
    if !d.outcomes.is_empty() {
        d.content = tree.clone();
    }
    // Compare every recorded file with the tree.
    for RecordedFile {
        path,
        ip,
        want,
        ids,
    } in recorded_files(d)
    {
        let found = tree.files.get(&ip);
        let got = found.map(|f| sha256_hex(&f.data));
        if let Some(f) = found {
            d.content.files.insert(ip.clone(), f.clone());
        }
        if got != want {
            d.tampered.push(TamperedFile {
                path,
                installed_as: None,
                expected: want,
                actual: got,
                patches: ids,
            });
        }
    }
}

/// A file the carried patches recorded, once per path.
struct RecordedFile {
    /// The path as recorded.
    path: String,
    /// The same, checked.
    ip: InTreePath,
    /// Its sha256 after all patches (`None`: a patch deleted it).
    want: Option<String>,
    /// The patches that list it.
    ids: Vec<String>,
}

/// Every file the carried patches list, once per path: patches of one dist
/// may list the same file, and each listing carries the final sha256, so
/// one comparison per path is enough. A recorded path that is not a safe
/// in-tree path is a problem of the dist, and skipped.
fn recorded_files(d: &mut ScannedDist) -> Vec<RecordedFile> {
    let mut expected: BTreeMap<String, (Option<String>, Vec<String>)> = BTreeMap::new();
    for p in &d.patches {
        for f in &p.files {
            let slot = expected
                .entry(f.path.clone())
                .or_insert_with(|| (f.sha256.clone(), Vec::new()));
            slot.1.push(p.id.clone());
        }
    }
    let mut out = Vec::with_capacity(expected.len());
    for (path, (want, ids)) in expected {
        match InTreePath::parse(&path) {
            Ok(ip) => out.push(RecordedFile {
                path,
                ip,
                want,
                ids,
            }),
            Err(e) => d
                .problems
                .push(format!("the record names the path {path:?}, which {e}")),
        }
    }
    out
}

fn tree_file<'a>(tree: &'a Tree, name: &str) -> Option<&'a [u8]> {
    let p = InTreePath::parse(name).ok()?;
    tree.files.get(&p).map(|f| f.data.as_slice())
}

/// Outcomes as recorded, with every string escaped for display.
fn printable_outcomes(outcomes: Vec<Outcome>) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| Outcome {
            id: printable(&o.id),
            title: printable(&o.title),
            aliases: o.aliases.iter().map(|a| printable(a)).collect(),
            patch_sha256: printable(&o.patch_sha256),
            status: o.status,
            reason: printable(&o.reason),
        })
        .collect()
}

fn from_x(x: XPatchkit) -> Vec<CarriedPatch> {
    x.applied
        .into_iter()
        .map(|p| CarriedPatch {
            id: printable(&p.id),
            title: None,
            aliases: p.aliases.iter().map(|a| printable(a)).collect(),
            patch_sha256: printable(&p.patch_sha256),
            files: p.files,
            patch_text: None,
        })
        .collect()
}

/// applied.json names the dist it was written for; a record copied from
/// another dist (or edited) says otherwise.
fn check_applied_identity(d: &mut ScannedDist, applied: &Applied) {
    if let Some(info) = &d.info {
        let same_version = CpanVersion::parse(&applied.version)
            .map(|v| v == info.version)
            .unwrap_or(false);
        if applied.dist != info.name.as_str() || !same_version {
            d.problems.push(format!(
                "{APPLIED_JSON} was written for {} {} but this is {} {}",
                excerpt(&applied.dist, EXCERPT),
                excerpt(&applied.version, EXCERPT),
                info.name,
                info.version
            ));
        }
    }
}

/// Each carried diff must hash to what the record says: a mismatch means
/// the diff or the record was edited after patchkit wrote them.
fn check_carried_diffs(d: &mut ScannedDist) {
    let mut problems = Vec::new();
    for p in &d.patches {
        match &p.patch_text {
            Some(text) => {
                let got = sha256_hex(text);
                if got != p.patch_sha256 {
                    problems.push(format!(
                        "{APPLIED_JSON} says {} has patch sha256 {} but the carried diff hashes \
                         to {got}: the record or the diff was edited",
                        p.id,
                        excerpt(&p.patch_sha256, EXCERPT)
                    ));
                }
            }
            None => problems.push(format!(
                "{APPLIED_JSON} lists {} but its diff is not in .patchkit/patches/",
                p.id
            )),
        }
    }
    d.problems.extend(problems);
}

/// applied.json and META.json's x_patchkit are written together; when they
/// disagree one of them was edited.
fn check_meta_agrees(d: &mut ScannedDist, x: &serde_json::Value) {
    let pairs = |ps: &mut dyn Iterator<Item = (String, String)>| {
        let mut v: Vec<(String, String)> = ps.collect();
        v.sort();
        v
    };
    let ours = pairs(
        &mut d
            .patches
            .iter()
            .map(|p| (p.id.clone(), p.patch_sha256.clone())),
    );
    match applied::parse_x_patchkit(x) {
        Ok(x) => {
            let theirs = pairs(&mut x.applied.into_iter().map(|p| (p.id, p.patch_sha256)));
            if ours != theirs {
                d.problems.push(format!(
                    "META.json's x_patchkit and {APPLIED_JSON} list different patches: one \
                     was edited"
                ));
            }
        }
        Err(reason) => d.problems.push(format!("META.json: {reason}")),
    }
}

// ---------------------------------------------------------------------------
// Library trees

/// One `.meta/<dist>` folder to read.
struct MetaDir {
    /// `<lib>/<archname>`: arch-specific modules live here.
    arch_dir: PathBuf,
    /// `<lib>/<archname>/.meta/<dist>`.
    path: PathBuf,
}

fn scan_library(target: &Path, lib: &Path, limits: &Limits) -> Result<PathScan, PathError> {
    let err = |p: &Path, e: &std::io::Error| PathError {
        path: target.display().to_string(),
        reason: format!("cannot list {}: {}", p.display(), io_reason(e)),
    };
    let mut metas = Vec::new();
    let mut children: Vec<PathBuf> = fs::read_dir(lib)
        .map_err(|e| err(lib, &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    children.sort();
    for arch_dir in children {
        let meta_dir = arch_dir.join(".meta");
        if !meta_dir.is_dir() {
            continue;
        }
        let mut dists: Vec<PathBuf> = fs::read_dir(&meta_dir)
            .map_err(|e| err(&meta_dir, &e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        dists.sort();
        metas.extend(dists.into_iter().map(|path| MetaDir {
            arch_dir: arch_dir.clone(),
            path,
        }));
    }
    // Independent folders: read them in parallel, keep the sorted order.
    let scanned: Vec<(ScannedDist, Vec<String>)> = metas
        .par_iter()
        .map(|m| scan_installed(target, lib, m, limits))
        .collect();
    let walk = lib_walk::walk(lib);
    let mut by_module: BTreeMap<&str, Vec<&InstalledFile>> = BTreeMap::new();
    for f in walk.modules.values() {
        by_module.entry(f.module.as_str()).or_default().push(f);
    }
    let mut owned: BTreeSet<String> = BTreeSet::new();
    let mut dists = Vec::with_capacity(scanned.len() + walk.packlists.len());
    for (mut d, modules) in scanned {
        for m in modules {
            for f in by_module.get(m.as_str()).into_iter().flatten() {
                if owned.insert(f.rel.clone()) {
                    d.installed.push((*f).clone());
                }
            }
        }
        dists.push(d);
    }
    // Each packlist is a dist that ExtUtils::MakeMaker or Module::Build
    // installed: the same dist as a `.meta/` one of the same name, else a
    // dist of its own, named after its module, with perllocal.pod's version
    // (or, lacking one, the version its main module declares).
    for pl in &walk.packlists {
        let files: Vec<&InstalledFile> = pl
            .files
            .iter()
            .filter_map(|rel| walk.modules.get(rel))
            .collect();
        let dist_name = pl.module.replace("::", "-");
        let same = dists.iter().position(|d: &ScannedDist| {
            d.found_by == FoundBy::Metadata
                && d.info
                    .as_ref()
                    .is_some_and(|i| i.name.as_str() == dist_name)
        });
        let i = match same {
            Some(i) => i,
            None => {
                dists.push(packlist_dist(target, lib, pl, &dist_name, &walk, limits));
                dists.len() - 1
            }
        };
        for f in files {
            if owned.insert(f.rel.clone()) {
                dists[i].installed.push(f.clone());
            }
        }
    }
    let unattributed: Vec<InstalledFile> = walk
        .modules
        .values()
        .filter(|f| !owned.contains(&f.rel))
        .cloned()
        .collect();
    let mut warnings = walk.warnings;
    if dists.is_empty() && unattributed.is_empty() {
        warnings.push(format!(
            "{}: no installed distribution and no module found (not a Perl library?)",
            target.display()
        ));
    }
    Ok(PathScan {
        target: target.to_path_buf(),
        dists,
        library: Some(lib.to_path_buf()),
        library_display: String::new(),
        unattributed,
        warnings,
    })
}

/// A dist known from its packlist alone.
fn packlist_dist(
    target: &Path,
    lib: &Path,
    pl: &lib_walk::Packlist,
    dist_name: &str,
    walk: &lib_walk::Walk,
    limits: &Limits,
) -> ScannedDist {
    let d = ScannedDist::new_installed(target, &pl.path, FoundBy::Packlist);
    let mut d = d;
    let main = format!("{}.pm", pl.module.replace("::", "/"));
    let version = walk.perllocal.get(&pl.module).cloned().or_else(|| {
        walk.modules
            .values()
            .find(|f| f.module == main)
            .and_then(|f| read_regular(&f.path, limits.max_file_bytes).ok())
            .or_else(|| read_regular(&lib.join(&main), limits.max_file_bytes).ok())
            .and_then(|src| lib_walk::declared_version(&src))
    });
    let name = DistName::parse(dist_name).ok();
    let version = version.as_deref().and_then(|v| CpanVersion::parse(v).ok());
    match (name, version) {
        (Some(name), Some(version)) => {
            d.info = Some(DistInfo {
                name,
                version,
                source: IdentitySource::FileName,
                author: None,
            })
        }
        _ => d.problems.push(format!(
            "{}: cannot tell which version of {} is installed (no perllocal.pod entry, no \
             $VERSION in {main})",
            pl.path.display(),
            excerpt(dist_name, EXCERPT)
        )),
    }
    d
}

/// What cpanm writes in install.json (only the fields audit uses).
#[derive(Debug, Default, serde::Deserialize)]
struct InstallJson {
    /// `Foo-Bar-1.23`.
    #[serde(default)]
    dist: Option<String>,
    /// `A/AU/AUTHOR/Foo-Bar-1.23.tar.gz`.
    #[serde(default)]
    pathname: Option<String>,
    /// Package → `{"file": "lib/Foo/Bar.pm", …}`: the modules it installed.
    #[serde(default)]
    provides: BTreeMap<String, serde_json::Value>,
}

/// The PAUSE author from a CPAN path (`A/AU/AUTHOR/Foo-1.0.tar.gz`, also
/// with `authors/id/` in front): the directory just above the file, when
/// it looks like a PAUSE id.
pub fn author_from_pathname(pathname: &str) -> Option<String> {
    let mut parts = pathname.rsplit('/');
    parts.next()?;
    let author = parts.next()?;
    let ok = !author.is_empty()
        && author.len() <= 64
        && author.as_bytes()[0].is_ascii_uppercase()
        && author
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| author.to_string())
}

/// One `.meta/<dist>` dist, and the module paths (`Foo/Bar.pm`) its
/// install.json `provides` and its record say it installed.
fn scan_installed(
    target: &Path,
    lib: &Path,
    m: &MetaDir,
    limits: &Limits,
) -> (ScannedDist, Vec<String>) {
    let mut modules = Vec::new();
    let d = scan_installed_dist(target, lib, m, limits, &mut modules);
    for p in &d.patches {
        modules.extend(
            p.files
                .iter()
                .filter_map(|f| f.path.strip_prefix("lib/").map(str::to_string)),
        );
    }
    (d, modules)
}

fn scan_installed_dist(
    target: &Path,
    lib: &Path,
    m: &MetaDir,
    limits: &Limits,
    modules: &mut Vec<String>,
) -> ScannedDist {
    let mut d = ScannedDist::new(target, DistKind::Installed, &m.path);
    let folder = dist::target_name(&m.path);
    match fs::metadata(&m.path) {
        Err(e) => {
            d.record_readable = false;
            d.problems
                .push(format!(".meta/{folder}: cannot read it: {}", io_reason(&e)));
            d.info = identity_from_name(&folder);
            return d;
        }
        Ok(md) if !md.is_dir() => {
            d.record_readable = false;
            d.problems
                .push(format!(".meta/{folder} is not a directory"));
            d.info = identity_from_name(&folder);
            return d;
        }
        Ok(_) => {}
    }

    // install.json: the release (`dist`) and where it came from
    // (`pathname`, hence the author). Optional: other installers write
    // only MYMETA.json.
    let install = match read_regular(&m.path.join("install.json"), MAX_META_BYTES) {
        Ok(data) => match serde_json::from_slice::<InstallJson>(&data) {
            Ok(i) => Some(i),
            Err(e) => {
                d.problems.push(format!(
                    ".meta/{folder}/install.json is not valid JSON ({e})"
                ));
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            d.problems.push(format!(
                ".meta/{folder}/install.json: cannot read it: {}",
                io_reason(&e)
            ));
            None
        }
    };
    let install = install.unwrap_or_default();
    modules.extend(install.provides.values().filter_map(|p| {
        p.get("file")
            .and_then(|f| f.as_str())
            .and_then(|f| f.strip_prefix("lib/"))
            .map(str::to_string)
    }));

    // MYMETA.json: the identity as the build saw it, and x_patchkit.
    let mymeta = match read_regular(&m.path.join("MYMETA.json"), MAX_META_BYTES) {
        Ok(data) if meta::duplicate_key(&data).is_some() => {
            let key = meta::duplicate_key(&data).unwrap_or_default();
            d.problems.push(format!(
                ".meta/{folder}/MYMETA.json has the key {} twice, and JSON readers disagree on \
                 which one counts; cannot tell which patches it carries",
                excerpt(&key, EXCERPT)
            ));
            None
        }
        Ok(data) => {
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&data) {
                Ok(doc) => Some(doc),
                Err(e) => {
                    d.problems.push(format!(
                        ".meta/{folder}/MYMETA.json is not JSON ({e}); cannot tell which patches \
                     it carries"
                    ));
                    None
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            d.problems.push(format!(
                ".meta/{folder} has no MYMETA.json; cannot tell which patches it carries"
            ));
            None
        }
        Err(e) => {
            d.problems.push(format!(
                ".meta/{folder}/MYMETA.json: cannot read it: {}",
                io_reason(&e)
            ));
            None
        }
    };

    let by_name = install
        .dist
        .as_deref()
        .and_then(identity_from_name)
        .or_else(|| identity_from_name(&folder));
    d.info = mymeta
        .as_ref()
        .and_then(identity_from_mymeta)
        .or_else(|| by_name.clone());
    // MYMETA.json is META.json as the dist wrote it: when it names another
    // release than the one installed, look for the patches of both.
    if let (Some(info), Some(named)) = (&d.info, by_name) {
        if info.name != named.name || info.version != named.version {
            d.warnings.push(format!(
                "MYMETA.json says {} {} but the release is {} {}; matching the patches of both",
                info.name, info.version, named.name, named.version
            ));
            d.also = Some(named);
        }
    }
    if d.info.is_none() {
        d.problems.push(format!(
            ".meta/{folder}: cannot tell which distribution this is"
        ));
    }
    if let (Some(info), Some(author)) = (
        d.info.as_mut(),
        install.pathname.as_deref().and_then(author_from_pathname),
    ) {
        info.author = Some(author);
    }

    let Some(doc) = mymeta else {
        d.record_readable = false;
        return d;
    };
    let Some(x) = doc.get(meta::KEY) else {
        return d;
    };
    match applied::parse_x_patchkit(x) {
        Ok(x) => {
            d.record_source = Some(RecordSource::MymetaJson);
            d.original_sha256 = x.original_sha256.clone();
            d.outcomes = printable_outcomes(x.outcomes.clone());
            d.patches = from_x(x);
        }
        Err(reason) => {
            d.record_readable = false;
            d.problems
                .push(format!(".meta/{folder}/MYMETA.json: {reason}"));
            return d;
        }
    }
    check_installed_files(&mut d, lib, &m.arch_dir, limits);
    d
}

fn identity_from_mymeta(doc: &serde_json::Map<String, serde_json::Value>) -> Option<DistInfo> {
    let name = doc.get("name")?.as_str()?;
    let version = match doc.get("version")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(DistInfo {
        name: DistName::parse(name).ok()?,
        version: CpanVersion::parse(&version).ok()?,
        source: IdentitySource::MetaJson,
        author: None,
    })
}

fn identity_from_name(release: &str) -> Option<DistInfo> {
    let (name, version) = dist::split_file_name(release)?;
    Some(DistInfo {
        name,
        version,
        source: IdentitySource::FileName,
        author: None,
    })
}

/// Compare the recorded files that an installer copies into the library.
///
/// The mapping, as ExtUtils::MakeMaker and Module::Build install pure-perl
/// and XS dists: `lib/Foo/Bar.pm` in the record is `<lib>/Foo/Bar.pm`, or
/// `<lib>/<archname>/Foo/Bar.pm` for an arch-specific dist. Files outside
/// `lib/` (tests, Makefile.PL, scripts, XS sources) are not installed as
/// such and are not checked; a file the patch deleted is not checked
/// either (an older install may have left it).
fn check_installed_files(d: &mut ScannedDist, lib: &Path, arch_dir: &Path, limits: &Limits) {
    for RecordedFile {
        path,
        ip,
        want,
        ids,
    } in recorded_files(d)
    {
        let Some(want) = want else { continue };
        let Some(rel) = ip.as_str().strip_prefix("lib/") else {
            continue;
        };
        let candidates = [lib.join(rel), arch_dir.join(rel)];
        let mut found: Option<(PathBuf, String)> = None;
        let mut read_problem = None;
        for c in &candidates {
            match read_regular(c, limits.max_file_bytes) {
                Ok(data) => {
                    let got = sha256_hex(&data);
                    let matches = got == want;
                    if found.is_none() || matches {
                        found = Some((c.clone(), got));
                        d.content
                            .files
                            .insert(ip.clone(), crate::tree::FileEntry { data, mode: 0o644 });
                    }
                    if matches {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => read_problem = Some(format!("{}: {}", c.display(), io_reason(&e))),
            }
        }
        match (found, read_problem) {
            (Some((_, got)), _) if got == want => {}
            (None, Some(problem)) => d
                .problems
                .push(format!("cannot read the installed {path}: {problem}")),
            (found, _) => {
                let (installed_as, actual) = match found {
                    Some((p, got)) => (p, Some(got)),
                    None => (candidates[0].clone(), None),
                };
                d.tampered.push(TamperedFile {
                    path,
                    installed_as: Some(installed_as.display().to_string()),
                    expected: Some(want),
                    actual,
                    patches: ids,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_come_from_cpan_paths() {
        let cases = [
            ("T/TE/TESTER/Foo-1.0.tar.gz", Some("TESTER")),
            (
                "authors/id/M/MI/MIYAGAWA/App-cpanminus-1.7.tar.gz",
                Some("MIYAGAWA"),
            ),
            ("Foo-1.0.tar.gz", None),
            ("x/lower/Foo-1.0.tar.gz", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(author_from_pathname(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn classify_tells_libraries_from_dists() {
        let tmp = tempfile::tempdir().unwrap();
        let local = tmp.path().join("local");
        fs::create_dir_all(local.join("lib/perl5/x86_64-linux/.meta/Foo-1.0")).unwrap();
        assert_eq!(
            classify(&local).unwrap(),
            PathKind::Library(local.join("lib/perl5"))
        );
        let perl5 = local.join("lib/perl5");
        assert_eq!(classify(&perl5).unwrap(), PathKind::Library(perl5.clone()));
        assert_eq!(
            classify(&perl5.join("x86_64-linux")).unwrap(),
            PathKind::Library(perl5.clone())
        );
        let dist = tmp.path().join("Foo-1.0");
        fs::create_dir_all(dist.join("lib")).unwrap();
        assert_eq!(classify(&dist).unwrap(), PathKind::Directory(dist.clone()));
        assert!(classify(&tmp.path().join("nope")).is_err());
    }
}
