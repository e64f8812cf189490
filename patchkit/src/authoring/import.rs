//! `patchkit import`: a record's patch and metadata from an upstream fix.
//!
//! - `--git REPO REV` or `REV..REV`: the commit's diff against its first
//!   parent, or the combined diff of a range, read through libgit2 (git2,
//!   built without network transports: REPO is a local path or a `file://`
//!   URL). The changed blobs become two small trees and the diff is written
//!   by [`make_diff`], so it has exactly the shape, ignore list and
//!   round-trip check of `patchkit diff`. Title (when still the
//!   placeholder), description, authors, origin, references, `updated` and
//!   `kind` (`cherry-pick` for one commit, `backport` for a range) are
//!   filled from the commits, and the patch gets a DEP-3 header.
//! - `--patch FILE`: an existing patch, kept byte for byte. It must parse
//!   with the record's `strip`, every path inside the distribution. Its
//!   DEP-3 header fills the record: Description/Subject → title (when the
//!   placeholder) and description; Origin → origin (and `kind`); Bug,
//!   Bug-*, Forwarded and Applied-Upstream URLs → references; Author/From →
//!   authors; Last-Update → updated.
//!
//! The record is edited with `toml_edit` (comments and layout kept), and
//! validated before anything is written; a revision that does not exist, a
//! binary change or a path outside the distribution writes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::diff::{make_diff, DiffFile};
use super::mbox::{self, Mail};
use super::{find_record, is_placeholder_title, set_str, set_value, str_array, Error, Today};
use crate::catalog::MAX_PATCH_BYTES;
use crate::patch::dep3::{self, Dep3};
use crate::patch::record::Record;
use crate::patch::{self, record::PatchKind};
use crate::state;
use crate::state::read_bounded;
use crate::tree::{FileEntry, InTreePath, Tree};

/// What `import` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The record id.
    pub id: String,
    /// The patch file written.
    pub patch: PathBuf,
    /// The files the patch changes.
    pub files: Vec<String>,
    /// The commits taken (`<short id> <summary>`), oldest first.
    pub commits: Vec<String>,
    /// Record fields that were set.
    pub fields: Vec<String>,
    /// Headers and trailers of the patch that no record field took (each
    /// is also a warning on stderr).
    pub warnings: Vec<String>,
}

/// The metadata to merge into a record.
#[derive(Debug, Default)]
struct Fill {
    title: Option<String>,
    description: Option<String>,
    authors: Vec<String>,
    references: Vec<String>,
    origin: Option<String>,
    updated: Option<String>,
    kind: Option<PatchKind>,
}

/// Merge `fill` into the record's document; returns the fields set.
fn apply_fill(doc: &mut toml_edit::DocumentMut, rec: &Record, fill: Fill) -> Vec<String> {
    let mut set = Vec::new();
    if let Some(t) = fill.title.filter(|_| is_placeholder_title(&rec.title)) {
        set_str(doc, "title", &t);
        set.push("title".to_string());
    }
    if let Some(d) = fill.description.filter(|_| rec.description.is_none()) {
        set_str(doc, "description", &d);
        set.push("description".into());
    }
    let merge = |have: &[String], add: Vec<String>| -> Option<Vec<String>> {
        let mut out = have.to_vec();
        for a in add {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        (out.len() != have.len()).then_some(out)
    };
    if let Some(a) = merge(&rec.authors, fill.authors) {
        set_value(doc, "authors", str_array(&a));
        set.push("authors".into());
    }
    if let Some(r) = merge(&rec.references, fill.references) {
        set_value(doc, "references", str_array(&r));
        set.push("references".into());
    }
    if let Some(o) = fill.origin {
        set_str(doc, "origin", &o);
        set.push("origin".into());
    }
    if let Some(k) = fill.kind {
        let word = match k {
            PatchKind::Unofficial => "unofficial",
            PatchKind::Backport => "backport",
            PatchKind::CherryPick => "cherry-pick",
        };
        set_str(doc, "kind", word);
        set.push("kind".into());
    }
    if let Some(u) = fill.updated {
        set_str(doc, "updated", &u);
        set.push("updated".into());
    }
    set
}

/// Check the edited record, then write the patch and the record.
fn write_both(
    rec: &super::RecordFile,
    doc: &toml_edit::DocumentMut,
    patch_text: &[u8],
) -> Result<PathBuf, Error> {
    Record::from_toml(&doc.to_string()).map_err(|e| Error::BadRecord {
        file: rec.path.clone(),
        reason: format!(
            "the imported metadata would make the record invalid ({e}); nothing written"
        ),
    })?;
    if patch_text.len() > MAX_PATCH_BYTES {
        return Err(Error::Refused(format!(
            "{}: the patch would be larger than {MAX_PATCH_BYTES} bytes",
            rec.record.id
        )));
    }
    let path = rec.patch_path();
    state::write_atomic(&path, patch_text, None)?;
    rec.write(doc)?;
    Ok(path)
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// URLs found in a DEP-3 value (`upstream, https://…`, `1.2, https://…`).
fn urls_in(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|w| is_url(w))
        .map(str::to_string)
}

/// DEP-3's `Origin:` without its category (`upstream, `, `backport, `,
/// `vendor, `, `other, `): the record's `kind` says the category, `origin`
/// where the change came from.
fn origin_without_category(origin: &str) -> String {
    for cat in ["upstream", "backport", "vendor", "other"] {
        if let Some(rest) = origin
            .get(..cat.len())
            .filter(|head| head.eq_ignore_ascii_case(cat))
            .map(|_| &origin[cat.len()..])
        {
            let rest = rest.trim_start();
            if let Some(rest) = rest.strip_prefix(',') {
                let rest = rest.trim();
                if !rest.is_empty() {
                    return rest.to_string();
                }
            } else if rest.is_empty() {
                return origin.trim().to_string();
            }
        }
    }
    origin.trim().to_string()
}

/// The DEP-3 field names patchkit maps onto a record.
fn dep3_field_is_read(name: &str) -> bool {
    matches!(
        name,
        "description"
            | "subject"
            | "origin"
            | "author"
            | "from"
            | "forwarded"
            | "applied-upstream"
            | "last-update"
            | "bug"
    ) || name.starts_with("bug-")
}

/// The record fields a DEP-3 header gives, and its `Last-Update`; every
/// field or value no record field takes is added to `warnings`.
fn fill_from_dep3(
    rec: &Record,
    preamble: &str,
    warnings: &mut Vec<String>,
) -> (Fill, Option<String>) {
    let header = Dep3::parse(preamble);
    // Header lines Dep3 ignores: name them (the header ends at the first
    // empty line, as Dep3::parse reads it).
    for line in preamble
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty() && *l != "---")
    {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let lower = name.to_ascii_lowercase();
            if !name.contains(' ') && !dep3_field_is_read(&lower) {
                warnings.push(format!(
                    "dropped DEP-3 field {name}: {} (no record field takes it)",
                    value.trim().chars().take(60).collect::<String>()
                ));
            }
        }
    }
    let mut fill = Fill::default();
    let summary = header.summary().map(str::to_string);
    if is_placeholder_title(&rec.title) && summary.is_some() {
        fill.title = summary;
        fill.description = header.long_description();
    } else {
        fill.description = header.description.clone();
    }
    fill.authors = header.authors.clone();
    let mut refs = Vec::new();
    for bug in &header.bugs {
        if is_url(bug) {
            refs.push(bug.clone());
        } else if bug.bytes().all(|b| b.is_ascii_digit()) {
            // `Bug-Debian: 1098765` is a Debian bug number.
            refs.push(format!("https://bugs.debian.org/{bug}"));
        } else {
            warnings.push(format!(
                "dropped Bug: {bug} (neither a URL nor a Debian bug number)"
            ));
        }
    }
    for (name, v) in [
        ("Forwarded", &header.forwarded),
        ("Applied-Upstream", &header.applied_upstream),
    ] {
        if let Some(v) = v {
            let urls: Vec<String> = urls_in(v).collect();
            if urls.is_empty() {
                warnings.push(format!("dropped {name}: {v} (no URL to reference)"));
            }
            refs.extend(urls);
        }
    }
    if let Some(o) = &header.origin {
        refs.extend(urls_in(o));
    }
    fill.references = refs;
    if let Some(o) = &header.origin {
        let lower = o.to_ascii_lowercase();
        if lower.starts_with("upstream") {
            fill.kind = Some(PatchKind::CherryPick);
        } else if lower.starts_with("backport") {
            fill.kind = Some(PatchKind::Backport);
        }
        fill.origin = Some(origin_without_category(o));
    }
    let mut date = None;
    if let Some(d) = &header.last_update {
        if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() {
            date = Some(d.clone());
        } else {
            warnings.push(format!("dropped Last-Update: {d} (not YYYY-MM-DD)"));
        }
    }
    (fill, date)
}

/// The record fields a `git format-patch` message gives (From → authors,
/// Subject → title, the message → description), and its date; every
/// header and trailer no record field takes is added to `warnings`. An
/// mbox of several patches is refused: a record holds one patch.
fn fill_from_mail(
    rec: &Record,
    label: &str,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<(Fill, Option<String>), Error> {
    let messages = mbox::split(text);
    if messages.len() > 1 {
        let subjects: Vec<String> = messages
            .iter()
            .map(|m| Mail::parse(m).subject.unwrap_or_default())
            .map(|s| crate::text::excerpt(&s, 40).to_string())
            .collect();
        return Err(Error::Input {
            input: label.to_string(),
            reason: format!(
                "refusing an mbox of {} patches ({}): a record holds one patch; split it \
                 with `git mailsplit`, or `git format-patch` each commit to its own file, and \
                 import each into its own record (`patchkit new` first)",
                messages.len(),
                subjects.join("; ")
            ),
        });
    }
    let mail = Mail::parse(text);
    if let Some(enc) = &mail.encoded_body {
        return Err(Error::Input {
            input: label.to_string(),
            reason: format!(
                "refusing a message in {} transfer encoding: the diff inside is not the one \
                 that would be applied; save it decoded (as `git format-patch` writes it)",
                crate::text::excerpt(enc, 20)
            ),
        });
    }
    for d in &mail.dropped {
        warnings.push(format!("dropped mail header or trailer {d}"));
    }
    let mut fill = Fill::default();
    match (&mail.subject, is_placeholder_title(&rec.title)) {
        (Some(s), true) if !s.is_empty() => fill.title = Some(s.clone()),
        (Some(s), false) if !s.is_empty() => {
            warnings.push(format!("kept the record's title; the Subject was: {s}"))
        }
        _ => {}
    }
    fill.description = Some(mail.body.clone()).filter(|b| !b.is_empty());
    fill.authors = mail.from.iter().cloned().chain(mail.co_authors).collect();
    Ok((fill, mail.date))
}

/// `patchkit import --patch FILE --record ID`.
pub fn import_patch(
    dir: &Path,
    id: &str,
    file: &Path,
    today: Today,
) -> Result<ImportReport, Error> {
    let rec = find_record(dir, id)?;
    let label = file.display().to_string();
    let text = read_bounded(file, MAX_PATCH_BYTES as u64).map_err(|e| Error::Input {
        input: label.clone(),
        reason: format!("cannot read: {e}"),
    })?;
    let parsed = patch::parse(&text, rec.record.strip).map_err(|e| Error::Input {
        input: label.clone(),
        reason: format!("refusing the patch: {e}"),
    })?;
    let preamble = dep3::preamble_of(&text);
    let mut warnings = Vec::new();
    let (mut fill, date) = if mbox::looks_like_mail(&preamble) {
        fill_from_mail(
            &rec.record,
            &label,
            &String::from_utf8_lossy(&text),
            &mut warnings,
        )?
    } else {
        fill_from_dep3(&rec.record, &preamble, &mut warnings)
    };
    // `updated` never moves backwards: a patch written (or last touched)
    // before the record's last update does not make the record older.
    let candidate = date.unwrap_or_else(|| today.iso());
    fill.updated = match rec.record.updated.as_deref() {
        Some(have) if have >= candidate.as_str() => None,
        _ => Some(candidate),
    };
    for w in &mut warnings {
        *w = format!("{label}: {w}");
    }
    let mut doc = rec.document()?;
    let fields = apply_fill(&mut doc, &rec.record, fill);
    let patch = write_both(&rec, &doc, &text)?;
    Ok(ImportReport {
        id: rec.record.id.to_string(),
        patch,
        files: parsed
            .files
            .iter()
            .map(|f| f.new_path.to_string())
            .collect(),
        commits: Vec::new(),
        fields,
        warnings,
    })
}

/// The local path of a repository given as a path or a `file://` URL.
fn repo_path(repo: &str) -> Result<PathBuf, Error> {
    if let Some(rest) = repo.strip_prefix("file://") {
        return Ok(PathBuf::from(rest));
    }
    if repo.contains("://") || repo.starts_with("git@") {
        return Err(Error::Git {
            repo: repo.to_string(),
            reason: "only local repositories (a path or a file:// URL) are read; clone it first"
                .into(),
        });
    }
    Ok(PathBuf::from(repo))
}

/// The web base (`https://host/owner/name`) of the `origin` remote, for
/// commit links, when it is a GitHub, GitLab or Codeberg-style URL.
fn web_base(repo: &git2::Repository) -> Option<String> {
    let remote = repo.find_remote("origin").ok()?;
    let url = remote.url()?.trim_end_matches('/').trim_end_matches(".git");
    let url = if let Some(rest) = url.strip_prefix("git@") {
        let (host, path) = rest.split_once(':')?;
        format!("https://{host}/{path}")
    } else {
        url.to_string()
    };
    is_url(&url).then_some(url)
}

/// Add the blob at `oid` with git mode `mode` to `tree` at `path`.
fn add_blob(
    repo: &git2::Repository,
    tree: &mut Tree,
    path: &InTreePath,
    oid: git2::Oid,
    mode: git2::FileMode,
    git_err: &dyn Fn(String) -> Error,
) -> Result<(), Error> {
    let blob = repo
        .find_blob(oid)
        .map_err(|e| git_err(format!("cannot read {path}: {}", e.message())))?;
    match mode {
        git2::FileMode::Blob | git2::FileMode::BlobExecutable => {
            let exec = mode == git2::FileMode::BlobExecutable;
            tree.files.insert(
                path.clone(),
                FileEntry {
                    data: blob.content().to_vec(),
                    mode: if exec { 0o755 } else { 0o644 },
                },
            );
        }
        git2::FileMode::Link => {
            // make_diff refuses link changes with the path named.
            tree.symlinks.insert(
                path.clone(),
                String::from_utf8_lossy(blob.content()).into_owned(),
            );
        }
        _ => {
            return Err(git_err(format!(
                "refusing {path}: submodules cannot go in a patch"
            )))
        }
    }
    Ok(())
}

/// `patchkit import --git REPO REV[..REV] --record ID`.
pub fn import_git(
    dir: &Path,
    id: &str,
    repo_arg: &str,
    revs: &str,
    today: Today,
) -> Result<ImportReport, Error> {
    let rec = find_record(dir, id)?;
    let git_err = |reason: String| Error::Git {
        repo: repo_arg.to_string(),
        reason,
    };
    if rec.record.strip != 1 {
        return Err(Error::BadRecord {
            file: rec.path.clone(),
            reason: "strip must be 1 for `import --git` (it writes a/ and b/ paths)".into(),
        });
    }
    let repo = git2::Repository::open(repo_path(repo_arg)?)
        .map_err(|e| git_err(format!("not a git repository: {}", e.message())))?;
    let commit_of = |spec: &str| -> Result<git2::Commit<'_>, Error> {
        repo.revparse_single(spec)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| git_err(format!("revision {spec:?} not found: {}", e.message())))
    };
    // The commits, oldest first, and the two trees to compare.
    let (commits, old_tree, new_tree, single) = match revs.split_once("..") {
        Some((from, to)) => {
            let (from, to) = (from.trim_end_matches('.'), to.trim_start_matches('.'));
            let a = commit_of(from)?;
            let b = commit_of(to)?;
            let mut walk = repo
                .revwalk()
                .map_err(|e| git_err(e.message().to_string()))?;
            walk.push(b.id())
                .and_then(|()| walk.hide(a.id()))
                .and_then(|()| walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE))
                .map_err(|e| git_err(e.message().to_string()))?;
            let mut commits = Vec::new();
            for oid in walk {
                let oid = oid.map_err(|e| git_err(e.message().to_string()))?;
                commits.push(
                    repo.find_commit(oid)
                        .map_err(|e| git_err(e.message().to_string()))?,
                );
            }
            if commits.is_empty() {
                return Err(Error::Refused(format!(
                    "{repo_arg}: the range {revs} holds no commits"
                )));
            }
            let (ta, tb) = (a.tree(), b.tree());
            let (ta, tb) = (
                ta.map_err(|e| git_err(e.message().to_string()))?,
                tb.map_err(|e| git_err(e.message().to_string()))?,
            );
            (commits, Some(ta), tb, false)
        }
        None => {
            let c = commit_of(revs)?;
            let parent = match c.parent(0) {
                Ok(p) => Some(p.tree().map_err(|e| git_err(e.message().to_string()))?),
                Err(_) => None, // a root commit: compare with the empty tree
            };
            let tree = c.tree().map_err(|e| git_err(e.message().to_string()))?;
            (vec![c], parent, tree, true)
        }
    };
    let diff = repo
        .diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)
        .map_err(|e| git_err(e.message().to_string()))?;
    let (mut old, mut new) = (Tree::default(), Tree::default());
    for delta in diff.deltas() {
        for (side, file, tree) in [
            (
                delta.status() != git2::Delta::Added,
                delta.old_file(),
                &mut old,
            ),
            (
                delta.status() != git2::Delta::Deleted,
                delta.new_file(),
                &mut new,
            ),
        ] {
            if !side {
                continue;
            }
            let raw = file
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let path = InTreePath::parse(&raw)
                .map_err(|e| git_err(format!("refusing path {raw:?}: it {e}")))?;
            add_blob(&repo, tree, &path, file.id(), file.mode(), &git_err)?;
        }
    }
    let label = format!("{repo_arg} {revs}");
    let made = make_diff(&old, &new, &label)?;

    let short = |c: &git2::Commit<'_>| c.id().to_string()[..12].to_string();
    let base = web_base(&repo);
    let (first, last) = match (commits.first(), commits.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(Error::Refused(format!("{label}: no commits"))),
    };
    let link = match (&base, single) {
        (Some(b), true) => Some(format!("{b}/commit/{}", last.id())),
        (Some(b), false) => Some(format!(
            "{b}/compare/{}...{}",
            old_tree_commit_id(revs, &repo).unwrap_or_else(|| first.id().to_string()),
            last.id()
        )),
        (None, _) => None,
    };
    let origin = link.clone().unwrap_or_else(|| {
        if single {
            format!("commit:{}", last.id())
        } else {
            format!("commits:{}..{}", first.id(), last.id())
        }
    });
    let mut authors = Vec::new();
    for c in &commits {
        let a = c.author();
        let who = match (a.name(), a.email()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (Some(n), None) => n.to_string(),
            (None, Some(e)) => format!("<{e}>"),
            (None, None) => continue,
        };
        if !authors.contains(&who) {
            authors.push(who);
        }
    }
    let messages: Vec<String> = commits
        .iter()
        .map(|c| c.message().unwrap_or("").trim().to_string())
        .collect();
    let summary = first.summary().map(str::to_string);
    let description = if single {
        messages.first().cloned().unwrap_or_default()
    } else {
        commits
            .iter()
            .zip(&messages)
            .map(|(c, m)| format!("{} {m}", short(c)))
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let fill = Fill {
        title: summary,
        description: Some(description.clone()).filter(|d| !d.is_empty()),
        authors: authors.clone(),
        references: link.into_iter().collect(),
        origin: Some(origin.clone()),
        updated: Some(today.iso()),
        kind: Some(if single {
            PatchKind::CherryPick
        } else {
            PatchKind::Backport
        }),
    };
    let header = Dep3 {
        description: Some(description).filter(|d| !d.is_empty()),
        origin: Some(format!(
            "{}, {origin}",
            if single { "upstream" } else { "backport" }
        )),
        authors,
        last_update: Some(today.iso()),
        ..Dep3::default()
    };
    let mut text = header.render().into_bytes();
    text.extend_from_slice(&made.text);
    // The header must not change what the patch does.
    patch::parse(&text, 1)
        .map_err(|e| Error::Refused(format!("{label}: the DEP-3 header breaks the patch: {e}")))?;
    let mut doc = rec.document()?;
    let fields = apply_fill(&mut doc, &rec.record, fill);
    let patch = write_both(&rec, &doc, &text)?;
    let files: BTreeSet<String> = made
        .files
        .iter()
        .map(|f: &DiffFile| f.path.clone())
        .collect();
    Ok(ImportReport {
        id: rec.record.id.to_string(),
        patch,
        files: files.into_iter().collect(),
        commits: commits
            .iter()
            .map(|c| format!("{} {}", short(c), c.summary().unwrap_or("")))
            .collect(),
        fields,
        warnings: Vec::new(),
    })
}

/// The full id of the start of a range `A..B`, for a compare link.
fn old_tree_commit_id(revs: &str, repo: &git2::Repository) -> Option<String> {
    let (from, _) = revs.split_once("..")?;
    let c = repo.revparse_single(from).ok()?.peel_to_commit().ok()?;
    Some(c.id().to_string())
}
