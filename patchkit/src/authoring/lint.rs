//! `patchkit lint`: every record of a source tree checked, and with
//! `--against DIR` every patch tried on the real tarballs it is for.
//!
//! The checks on records are [`Catalog::from_files`]'s — the one validation
//! every way into a catalog goes through (schema, id = file name, dist =
//! folder, a range that parses, a patch that parses with every path inside
//! the distribution, well-formed CVE/GHSA aliases, unique ids) — plus what
//! only an author needs to hear about:
//! - errors: a range that matches no version (`fixed_in` below the range),
//!   a title still the `patchkit new` placeholder, a missing `.patch` (with
//!   the command that writes it);
//! - warnings: unknown keys, a `.patch` no record refers to.
//!
//! `--against DIR` identifies every tarball in DIR and applies each
//! matching, non-withdrawn record *alone*, in memory (nothing is written
//! but the record results asked for), strictly: `clean`, `offsets`,
//! `already applied`, `fuzz needed` (it would apply with `--fuzz 2`, which
//! `apply` refuses by default, so it counts as a failure) or `FAILED`.
//! `--record-results` writes each clean or offset result into the record's
//! `[[tested]]` (replacing the entry for the same sha256), with the digest
//! computed by [`Entry::patched_tree_digest`] — the very function `apply`
//! checks it with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{find_record, is_placeholder_title, Error};
use crate::catalog::source;
use crate::catalog::{Catalog, Entry, Origin, Problem};
use crate::dist;
use crate::patch::record::{Record, Tested, TestedFile};
use crate::patch::{ApplyOptions, Fuzz, Outcome};
use crate::state::read_bounded;
use crate::tarball::{Archive, Limits};
use crate::tree::sha256_hex;
use crate::version::CpanVersion;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The record cannot be published (exit status 1).
    Error,
    /// Worth a look; does not fail the lint.
    Warning,
}

/// One finding about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub level: Level,
    /// The file, relative to the source tree (`Dist/ID.toml`), or a
    /// tarball's name.
    pub file: String,
    /// What is wrong, one sentence.
    pub message: String,
    /// The next step, when there is an obvious one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// How one record applied to one tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Every hunk at its stated line.
    Clean,
    /// Applied, some hunks moved.
    Offsets,
    /// The tarball already carries the change.
    AlreadyApplied,
    /// Applies only with fuzz, which `apply` refuses by default.
    FuzzNeeded,
    /// Does not apply.
    Failed,
}

impl CheckStatus {
    /// Whether this result fails the lint.
    pub fn is_failure(self) -> bool {
        matches!(self, CheckStatus::FuzzNeeded | CheckStatus::Failed)
    }
}

/// One row of the `--against` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The record id.
    pub id: String,
    /// The tarball's file name.
    pub tarball: String,
    /// The CPAN file name of the release (`Foo-1.2.tar.gz`, from META),
    /// which `--record-results` writes into `[[tested]]`: a Debian orig
    /// tarball (`libfoo-perl_1.2.orig.tar.gz`) is recorded by the name
    /// CPAN gives the same release.
    pub cpan_tarball: String,
    /// The version identified.
    pub version: String,
    /// The outcome.
    pub status: CheckStatus,
    /// Offsets, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// sha256 of the tarball.
    pub sha256: String,
    /// Tree digest with this patch alone applied (clean and offsets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patched_tree: Option<String>,
    /// Whether it was written into the record's `[[tested]]`.
    pub recorded: bool,
    /// The files the patch changes, sha256 before and after (clean and
    /// offsets only): the `files` written into `[[tested]]`.
    #[serde(skip)]
    pub files: Vec<TestedFile>,
}

/// Whether to write results into the records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordResults {
    /// Only report (the default).
    #[default]
    No,
    /// Write `[[tested]]` entries for clean and offset results.
    Yes,
}

/// Options of [`lint`].
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// A directory of tarballs to try the patches on.
    pub against: Option<PathBuf>,
    /// Whether to record the results.
    pub record_results: RecordResults,
    /// Archive limits for the tarballs.
    pub limits: Limits,
}

/// Everything `lint` found.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    /// The source tree.
    pub source: String,
    /// Records that are valid.
    pub valid_records: usize,
    /// Record files seen.
    pub records: usize,
    /// Problems and warnings, errors first, then by file.
    pub findings: Vec<Finding>,
    /// Tarballs looked at with `--against`.
    pub tarballs: usize,
    /// The `--against` table, by tarball then id.
    pub results: Vec<CheckResult>,
    /// Record files rewritten by `--record-results`.
    pub written: Vec<PathBuf>,
}

impl LintReport {
    /// No error finding and no failed patch.
    pub fn ok(&self) -> bool {
        !self.findings.iter().any(|f| f.level == Level::Error)
            && !self.results.iter().any(|r| r.status.is_failure())
    }
}

fn finding(level: Level, p: &Problem) -> Finding {
    Finding {
        level,
        file: p.file.clone(),
        message: p.message.clone(),
        hint: None,
    }
}

/// Lint the source tree at `dir`.
pub fn lint(dir: &Path, opts: &LintOptions) -> Result<LintReport, Error> {
    let mut report = LintReport {
        source: dir.display().to_string(),
        valid_records: 0,
        records: 0,
        findings: Vec::new(),
        tarballs: 0,
        results: Vec::new(),
        written: Vec::new(),
    };
    let files = match source::read_files(dir) {
        Ok(f) => f,
        Err(source::Error::Invalid(problems)) => {
            report
                .findings
                .extend(problems.iter().map(|p| finding(Level::Error, p)));
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    };
    let origin = Origin::Unsigned {
        dir: report.source.clone(),
    };
    // The whole tree once, for the problems (duplicate ids need it).
    if let Err(problems) = Catalog::from_files(origin.clone(), &files) {
        for p in &problems {
            let mut f = finding(Level::Error, p);
            if p.message.starts_with("patch file ") && p.message.ends_with(" is missing") {
                let id = p
                    .file
                    .rsplit('/')
                    .next()
                    .and_then(|n| n.strip_suffix(".toml"))
                    .unwrap_or("ID");
                f.hint = Some(format!(
                    "write it with `patchkit diff ORIGINAL EDITED --record {id}` or \
                     `patchkit import --git REPO REV --record {id}` (or `--patch FILE`)"
                ));
            }
            report.findings.push(f);
        }
    }
    // Then each record on its own, to keep going past an invalid
    // neighbour: the valid ones are checked further and tried on tarballs.
    let mut entries: Vec<Entry> = Vec::new();
    let mut referenced = BTreeSet::new();
    for name in files.keys().filter(|n| n.ends_with(".toml")) {
        report.records += 1;
        let Some((folder, _)) = name.split_once('/') else {
            continue;
        };
        if let Some(Ok((rec, _))) = files
            .get(name)
            .and_then(|d| std::str::from_utf8(d).ok())
            .map(Record::from_toml)
        {
            referenced.insert(format!("{folder}/{}", rec.patch));
            // Checked on every record that parses, valid patch or not, so
            // that a fresh scaffold lists everything left to do at once.
            report.findings.extend(author_checks(name, &rec));
        }
        let mini: BTreeMap<String, Vec<u8>> = files
            .iter()
            .filter(|(k, _)| {
                *k == name
                    || (k.ends_with(".patch") && k.split_once('/').map(|s| s.0) == Some(folder))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let Ok(catalog) = Catalog::from_files(origin.clone(), &mini) else {
            continue;
        };
        for w in &catalog.warnings {
            if !w.message.starts_with("no record refers") {
                report.findings.push(finding(Level::Warning, w));
            }
        }
        entries.extend(catalog.entries().iter().cloned());
    }
    for name in files.keys().filter(|n| n.ends_with(".patch")) {
        if !referenced.contains(name) {
            report.findings.push(Finding {
                level: Level::Warning,
                file: name.clone(),
                message: "no record refers to this patch".into(),
                hint: None,
            });
        }
    }
    report.valid_records = entries.len();
    if let Some(against) = &opts.against {
        check_against(against, &entries, opts, &mut report)?;
        if opts.record_results == RecordResults::Yes {
            record(dir, &mut report)?;
        }
    }
    report
        .findings
        .sort_by(|a, b| (a.level, &a.file).cmp(&(b.level, &b.file)));
    Ok(report)
}

/// What only an author needs to hear about a record that parses.
fn author_checks(file: &str, rec: &Record) -> Vec<Finding> {
    let mut out = Vec::new();
    let error = |message: String, hint: &str| Finding {
        level: Level::Error,
        file: file.to_string(),
        message,
        hint: Some(hint.to_string()),
    };
    if is_placeholder_title(&rec.title) {
        out.push(error(
            "the title is still the placeholder written by `patchkit new`".into(),
            "write a one-line title saying what the patch fixes",
        ));
    }
    if !rec.is_withdrawn() && rec.range.matches_nothing() {
        out.push(error(
            format!(
                "versions {:?}{} matches no version, so the patch never applies",
                rec.versions,
                rec.fixed_in
                    .as_ref()
                    .map(|v| format!(" with fixed_in {v}"))
                    .unwrap_or_default()
            ),
            "fix the range, or withdraw the record",
        ));
    }
    if rec.is_withdrawn() {
        return out;
    }
    // An open-ended range (`0.29` means `>= 0.29`, `0` every version)
    // also matches the release that fixes the flaw, once there is one.
    let far = CpanVersion::parse("999999999").ok();
    if far.as_ref().is_some_and(|v| rec.range.contains(v)) {
        out.push(Finding {
            level: Level::Warning,
            file: file.to_string(),
            message: format!(
                "versions {:?} is open-ended{}: it matches every later release, \
                 including the one that will fix the flaw",
                rec.versions,
                if rec.versions.trim().starts_with(|c: char| c.is_ascii_digit() || c == 'v') {
                    format!(" (a bare version means >= {})", rec.versions.trim())
                } else {
                    String::new()
                }
            ),
            hint: Some(
                "give an upper bound (\"<= LAST_AFFECTED\") or set fixed_in once upstream ships a fix"
                    .into(),
            ),
        });
    }
    // A [[tested]] tarball outside the range (e.g. excluded by fixed_in)
    // is a binding `apply` would never use: one of the two is wrong.
    for t in &rec.tested {
        let Some(name) = &t.tarball else { continue };
        // split_file_name knows .tar.gz, .tgz, .tar.bz2, .tbz and .zip.
        let known = match name
            .strip_suffix(".tar.xz")
            .or_else(|| name.strip_suffix(".txz"))
        {
            Some(stem) => format!("{stem}.tar.gz"),
            None => name.clone(),
        };
        let Some((dist, version)) = dist::split_file_name(&known) else {
            continue;
        };
        if dist == rec.dist && !rec.range.contains(&version) {
            out.push(Finding {
                level: Level::Error,
                file: file.to_string(),
                message: format!(
                    "[[tested]] {name} is version {version}, outside versions {:?}{}",
                    rec.versions,
                    rec.fixed_in
                        .as_ref()
                        .map(|v| format!(" with fixed_in {v}"))
                        .unwrap_or_default()
                ),
                hint: Some(
                    "fix versions or fixed_in (the patch was tested on that release), \
                     or remove the [[tested]] entry"
                        .into(),
                ),
            });
        }
    }
    out
}

/// The archive suffixes `--against` reads.
const TARBALL_SUFFIXES: [&str; 6] = [".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz"];

fn is_tarball(name: &str) -> bool {
    TARBALL_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Archives `--against` does not read, named so that a skipped tarball is
/// never silent.
fn is_other_archive(name: &str) -> bool {
    !is_tarball(name)
        && (name.contains(".tar.") || name.ends_with(".tar") || name.ends_with(".zip"))
}

/// The CPAN file name of a release found under another name (Debian's
/// `libfoo-perl_1.2.orig.tar.gz` → `Foo-1.2.tar.gz`): the dist's name and
/// version (from META) and the archive suffix of the file.
fn cpan_file_name(file: &str, info: &dist::DistInfo) -> String {
    let suffix = TARBALL_SUFFIXES
        .iter()
        .find(|s| file.ends_with(*s))
        .copied()
        .unwrap_or(".tar.gz");
    format!("{}-{}{suffix}", info.name, info.version)
}

fn check_against(
    dir: &Path,
    entries: &[Entry],
    opts: &LintOptions,
    report: &mut LintReport,
) -> Result<(), Error> {
    let listing = std::fs::read_dir(dir).map_err(|e| Error::Input {
        input: dir.display().to_string(),
        reason: format!("cannot read the directory: {e}"),
    })?;
    let mut tarballs: Vec<(String, PathBuf)> = Vec::new();
    for (name, path) in listing
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(_, p)| p.is_file())
    {
        if is_tarball(&name) {
            tarballs.push((name, path));
        } else if is_other_archive(&name) {
            report.findings.push(Finding {
                level: Level::Warning,
                file: name,
                message: "skipped: lint --against reads .tar.gz, .tgz, .tar.bz2, .tbz, \
                          .tar.xz and .txz tarballs only, so no patch was tried on it"
                    .into(),
                hint: Some(
                    "recompress it as .tar.gz (its sha256 then differs from the upstream file's)"
                        .into(),
                ),
            });
        }
    }
    tarballs.sort();
    for (name, path) in tarballs {
        report.tarballs += 1;
        let problem = |message: String| Finding {
            level: Level::Error,
            file: name.clone(),
            message,
            hint: None,
        };
        let bytes = match read_bounded(&path, opts.limits.max_compressed_bytes) {
            Ok(b) => b,
            Err(e) => {
                report.findings.push(problem(format!("cannot read: {e}")));
                continue;
            }
        };
        let archive = match Archive::read(&name, &bytes, &opts.limits) {
            Ok(a) => a,
            Err(e) => {
                report.findings.push(problem(e.to_string()));
                continue;
            }
        };
        let pristine = archive.tree();
        let info = match dist::identify(&name, pristine) {
            Ok((info, warnings)) => {
                for w in warnings {
                    report.findings.push(Finding {
                        level: Level::Warning,
                        file: name.clone(),
                        message: w,
                        hint: None,
                    });
                }
                info
            }
            Err(e) => {
                report.findings.push(problem(e.to_string()));
                continue;
            }
        };
        let sha256 = sha256_hex(&bytes);
        let mut matching: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                e.record.dist == info.name
                    && !e.record.is_withdrawn()
                    && e.record.range.contains(&info.version)
            })
            .collect();
        matching.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        for e in matching {
            let mut row = CheckResult {
                id: e.record.id.to_string(),
                tarball: name.clone(),
                cpan_tarball: cpan_file_name(&name, &info),
                version: info.version.to_string(),
                status: CheckStatus::Clean,
                detail: None,
                sha256: sha256.clone(),
                patched_tree: None,
                recorded: false,
                files: Vec::new(),
            };
            match e.patched_tree_digest(pristine, &ApplyOptions::default()) {
                Ok((applied, digest)) => match applied.outcome {
                    Outcome::AlreadyApplied => row.status = CheckStatus::AlreadyApplied,
                    Outcome::Applied(files) => {
                        let moved: Vec<String> = files
                            .iter()
                            .flat_map(|f| {
                                f.hunks.iter().filter(|h| h.offset != 0).map(move |h| {
                                    format!("{} hunk {} offset {:+}", f.path, h.number, h.offset)
                                })
                            })
                            .collect();
                        if !moved.is_empty() {
                            row.status = CheckStatus::Offsets;
                            row.detail = Some(moved.join(", "));
                        }
                        row.patched_tree = Some(digest);
                        match e.tested_files(pristine, &ApplyOptions::default()) {
                            Ok(files) => row.files = files,
                            Err(err) => {
                                row.status = CheckStatus::Failed;
                                row.detail = Some(err.to_string());
                                row.patched_tree = None;
                            }
                        }
                    }
                },
                Err(strict) => {
                    let fuzzy = ApplyOptions {
                        fuzz: Fuzz::Lines(2),
                    };
                    row.status = match e.patched_tree_digest(pristine, &fuzzy) {
                        Ok(_) => CheckStatus::FuzzNeeded,
                        Err(_) => CheckStatus::Failed,
                    };
                    row.detail = Some(strict.to_string());
                }
            }
            report.results.push(row);
        }
    }
    Ok(())
}

/// Write the clean and offset results into the records' `[[tested]]`.
fn record(dir: &Path, report: &mut LintReport) -> Result<(), Error> {
    let mut by_id: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in report.results.iter().enumerate() {
        if r.patched_tree.is_some() {
            by_id.entry(r.id.clone()).or_default().push(i);
        }
    }
    for (id, rows) in by_id {
        let rec = find_record(dir, &id)?;
        let mut tested = rec.record.tested.clone();
        for &i in &rows {
            let r = &report.results[i];
            let Some(patched_tree) = r.patched_tree.clone() else {
                continue;
            };
            let new = Tested {
                tarball: Some(r.cpan_tarball.clone()),
                sha256: r.sha256.clone(),
                patched_tree,
                files: r.files.clone(),
            };
            match tested
                .iter_mut()
                .find(|t| t.sha256.eq_ignore_ascii_case(&r.sha256))
            {
                Some(t) => *t = new,
                None => tested.push(new),
            }
        }
        let mut doc = rec.document()?;
        let mut tables = toml_edit::ArrayOfTables::new();
        for t in &tested {
            let mut table = toml_edit::Table::new();
            if let Some(name) = &t.tarball {
                table.insert("tarball", toml_edit::value(name.as_str()));
            }
            table.insert("sha256", toml_edit::value(t.sha256.as_str()));
            table.insert("patched_tree", toml_edit::value(t.patched_tree.as_str()));
            if !t.files.is_empty() {
                let mut files = toml_edit::Array::new();
                for f in &t.files {
                    let mut inline = toml_edit::InlineTable::new();
                    inline.insert("path", f.path.as_str().into());
                    if let Some(h) = &f.before {
                        inline.insert("before", h.as_str().into());
                    }
                    if let Some(h) = &f.after {
                        inline.insert("after", h.as_str().into());
                    }
                    files.push(inline);
                }
                // One file per line: the hashes are long.
                for v in files.iter_mut() {
                    v.decor_mut().set_prefix("\n    ");
                }
                files.set_trailing("\n");
                files.set_trailing_comma(true);
                table.insert("files", toml_edit::value(files));
            }
            tables.push(table);
        }
        doc.remove("tested");
        doc.insert("tested", toml_edit::Item::ArrayOfTables(tables));
        rec.write(&doc)?;
        for &i in &rows {
            report.results[i].recorded = true;
        }
        report.written.push(rec.path.clone());
    }
    Ok(())
}
