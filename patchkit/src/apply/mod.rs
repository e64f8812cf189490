//! The client's core path: read a target (a tarball or an unpacked
//! distribution directory), identify it, find the records that match it,
//! apply them in order to the in-memory tree, check the binding of input to
//! output, write the record, and produce the patched tarball or update the
//! directory.
//!
//! Invariants kept here (docs/ARCHITECTURE.md):
//! - *Nothing half-done*: every patch of a target is applied to memory
//!   first; only when all succeeded, and the binding checked, is anything
//!   written, through a temporary name and a rename (tarballs) or the
//!   staged all-or-nothing directory writer.
//! - *Strict by default*: fuzz only when the caller passes `Fuzz::Lines`.
//! - *Already applied* is decided by the content alone: the engine's exact
//!   reverse check at the hunk positions (`patch::carries`). A record the
//!   target carries (`.patchkit/applied.json`) is a claim: it never skips
//!   a patch, and it is kept only when every entry is backed by the
//!   verified diffs and the content (`audit::verify`), else ignored with a
//!   warning. A target that already carries everything is left
//!   byte-for-byte alone.
//! - *Deterministic*: nothing here reads the clock.

mod debian;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::applied::{self, Applied, NewlyApplied, OutcomeStatus};
use crate::catalog::claims::{self, Claim, Scope, Verdict};
use crate::catalog::{Catalog, Entry};
use crate::dist::{self, manifest};
use crate::patch::{self, coexist, ApplyOptions, Outcome};
use crate::state::{self, read_bounded};
use crate::tarball::{self, Archive, Limits};
use crate::text::{excerpt, printable, EXCERPT};
use crate::tree::{sha256_hex, Change, InTreePath, Tree};

/// What went wrong with one target; each variant maps to an exit status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target could not be read at all.
    #[error("cannot read {target}: {source}")]
    Unreadable {
        /// The target's path, as given.
        target: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The archive or directory was refused (hostile or corrupt).
    #[error(transparent)]
    Refused(#[from] tarball::Error),
    /// The target is not an identifiable distribution.
    #[error(transparent)]
    Unidentified(#[from] dist::Error),
    /// A patch did not apply; nothing was written.
    #[error("{target}: {id} does not apply to {source}")]
    PatchFailed {
        /// The target's path, as given.
        target: String,
        /// The record id.
        id: String,
        /// The engine's error (file, hunk, context).
        source: patch::ApplyError,
    },
    /// The result differs from what reviewers saw for this input.
    #[error(
        "{target}: {id} produced tree {got} but its record lists {want} for this tarball; \
         refusing output that differs from what was reviewed"
    )]
    BindingMismatch {
        /// The target's path, as given.
        target: String,
        /// The record id.
        id: String,
        /// The digest produced.
        got: String,
        /// The digest in the record.
        want: String,
    },
    /// The target's existing patchkit record could not be read or updated.
    #[error("{target}: {reason}")]
    Record {
        /// The target's path, as given.
        target: String,
        /// Why.
        reason: String,
    },
    /// The repository's records for this dist could not be loaded.
    #[error("{target}: {source}")]
    Catalog {
        /// The target's path, as given.
        target: String,
        /// Why (unverified files: exit 3; invalid records: exit 1).
        #[source]
        source: crate::catalog::LoadError,
    },
    /// Writing the output failed.
    #[error(transparent)]
    Write(#[from] state::Error),
    /// Bad usage for this target (e.g. no output directory).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Extra lines for people: for a hunk that did not apply, the context
    /// it expected (at most 6 lines, each cut at 80 characters).
    pub fn detail(&self) -> Vec<String> {
        match self {
            Error::PatchFailed {
                source: patch::ApplyError::HunkFailed { expected, .. },
                ..
            } => expected.clone(),
            _ => Vec::new(),
        }
    }

    /// The exit status for this error (docs/ARCHITECTURE.md: 1 a patch did not apply or
    /// an operation failed, 2 bad usage or unreadable input, 3 a hash check
    /// failed).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::PatchFailed { .. } | Error::Write(_) | Error::Record { .. } => 1,
            Error::Unreadable { .. }
            | Error::Refused(_)
            | Error::Unidentified(_)
            | Error::Usage(_) => 2,
            Error::BindingMismatch { .. } => 3,
            Error::Catalog { source, .. } => source.exit_code(),
        }
    }
}

/// Whether to only report (`check`) or also write (`apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Report what would happen; write nothing.
    #[default]
    Check,
    /// Apply and write.
    Apply,
}

/// What a patch that does not apply does to the rest of its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Nothing of the target is written (exit 1): the build stops where a
    /// security fix could not land.
    #[default]
    AllOrNothing,
    /// The other patches are applied and written, the failure recorded;
    /// still exit 1 (`--partial`).
    Partial,
}

/// Options for [`run`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Check or apply.
    pub mode: Mode,
    /// Patches not to apply: a record id or an alias (CVE / GHSA id), each
    /// with where the request came from (`--skip`, a config file), which
    /// the outcome quotes.
    pub skip: BTreeMap<String, String>,
    /// All or nothing (the default), or `--partial`.
    pub on_failure: OnFailure,
    /// Patch engine options (fuzz).
    pub engine: ApplyOptions,
    /// Archive limits.
    pub limits: Limits,
    /// Where patched tarballs go (required to apply to tarballs).
    pub out_dir: Option<PathBuf>,
}

/// A target as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `.tar.gz`, `.tgz` or `.tar.bz2` file.
    Tarball(PathBuf),
    /// An unpacked distribution directory, patched in place.
    Dir(PathBuf),
}

impl Target {
    /// Classify a path: a directory, or else a tarball.
    pub fn classify(path: &Path) -> Target {
        if path.is_dir() {
            Target::Dir(path.to_path_buf())
        } else {
            Target::Tarball(path.to_path_buf())
        }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        match self {
            Target::Tarball(p) | Target::Dir(p) => p,
        }
    }

    /// The file name: what identifies the dist (with META) and names the
    /// output under `-o DIR`.
    pub fn file_name(&self) -> String {
        dist::target_name(self.path())
    }

    /// The path as given on the command line, for messages: two targets
    /// with the same file name in different folders stay apart.
    pub fn shown(&self) -> String {
        self.path().display().to_string()
    }
}

/// What happened to one patch on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchStatus {
    /// Check mode: it would apply.
    WouldApply,
    /// Apply mode: it was applied.
    Applied,
    /// The target already carries it.
    AlreadyApplied,
    /// The flaw is fixed by other means; `reason` says how patchkit knows.
    FixedByOtherMeans,
    /// Skipped by request; `reason` says whose.
    Skipped,
    /// Did not apply (`--partial`); `reason` is the engine's error.
    Failed,
}

impl PatchStatus {
    /// The outcome recorded in the dist, for a patch that was not applied.
    fn recorded(self) -> Option<OutcomeStatus> {
        match self {
            PatchStatus::WouldApply | PatchStatus::Applied => None,
            PatchStatus::AlreadyApplied => Some(OutcomeStatus::AlreadyApplied),
            PatchStatus::FixedByOtherMeans => Some(OutcomeStatus::FixedByOtherMeans),
            PatchStatus::Skipped => Some(OutcomeStatus::Skipped),
            PatchStatus::Failed => Some(OutcomeStatus::Failed),
        }
    }
}

/// One hunk that did not apply at its stated line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HunkNote {
    /// The file.
    pub file: String,
    /// 1-based hunk number in that file.
    pub hunk: usize,
    /// Lines moved (+ later, - earlier).
    pub offset: isize,
    /// Context lines ignored.
    pub fuzz: usize,
}

/// One patch's outcome on a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchReport {
    /// The record id.
    pub id: String,
    /// The record title.
    pub title: String,
    /// CVE / GHSA ids.
    pub aliases: Vec<String>,
    /// What happened.
    pub status: PatchStatus,
    /// Why, for a patch fixed by other means, skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Files it changes.
    pub files: Vec<String>,
    /// Hunks that needed an offset or fuzz.
    pub moved_hunks: Vec<HunkNote>,
    /// Whether the output was checked against the record's reviewed digest.
    pub binding_checked: bool,
}

/// A withdrawn record that would otherwise match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithdrawnNote {
    /// The record id.
    pub id: String,
    /// The reason given.
    pub reason: String,
    /// When.
    pub date: String,
    /// The target already carries it (its applied record lists the id):
    /// what it fixed is no longer vouched for, so say so, as `audit` does.
    pub carried: bool,
}

/// The overall outcome for one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetResult {
    /// Patches were applied (or would be, in check mode).
    Patched,
    /// Nothing left to apply: everything matching is already applied,
    /// fixed by other means or skipped.
    AlreadyPatched,
    /// `--partial`: a patch failed, the others were applied (exit 1).
    Partial,
    /// No record matches.
    NothingMatched,
    /// Failed; see `error`.
    Failed,
}

/// Everything `check`/`apply` learned about one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// The target as given.
    pub target: String,
    /// `tarball` or `directory`.
    pub kind: &'static str,
    /// The distribution name, when identified.
    pub dist: Option<String>,
    /// The version, when identified.
    pub version: Option<String>,
    /// The package URL, when identified.
    pub purl: Option<String>,
    /// sha256 of the input tarball.
    pub input_sha256: Option<String>,
    /// The outcome.
    pub result: TargetResult,
    /// Per-patch outcomes, in application order.
    pub patches: Vec<PatchReport>,
    /// Withdrawn records in range, with the reason.
    pub withdrawn: Vec<WithdrawnNote>,
    /// Output file written (apply on a tarball).
    pub output: Option<String>,
    /// A Debian 3.0 (quilt) source tree: the quilt patch that carries the
    /// changes, added to `debian/patches/series`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quilt_patch: Option<String>,
    /// sha256 of the output tarball.
    pub output_sha256: Option<String>,
    /// Tree digest of the result, before the record was added.
    pub tree_digest: Option<String>,
    /// Warnings (META disagreements and the like).
    pub warnings: Vec<String>,
    /// The error, for failed targets.
    pub error: Option<String>,
    /// For a hunk that did not apply: the context it expected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_context: Vec<String>,
    /// The exit status this target asks for.
    #[serde(skip)]
    pub exit_code: i32,
}

impl TargetReport {
    fn new(target: &Target) -> TargetReport {
        TargetReport {
            target: target.path().display().to_string(),
            kind: match target {
                Target::Tarball(_) => "tarball",
                Target::Dir(_) => "directory",
            },
            dist: None,
            version: None,
            purl: None,
            input_sha256: None,
            result: TargetResult::Failed,
            patches: Vec::new(),
            withdrawn: Vec::new(),
            output: None,
            quilt_patch: None,
            output_sha256: None,
            tree_digest: None,
            warnings: Vec::new(),
            error: None,
            expected_context: Vec::new(),
            exit_code: 0,
        }
    }
}

/// The input, read into memory: a tarball holds the content of its
/// first files and of [`ALWAYS_HELD`] only ([`Archive::read_lean`]), until
/// [`Loaded::hold_only`] says which files the patches need.
enum Loaded {
    Tarball { archive: Archive },
    Dir { tree: Tree },
}

/// The files identification and the carried record read, held from the
/// start.
const ALWAYS_HELD: [&str; 3] = ["META.json", "META.yml", applied::APPLIED_JSON];

impl Loaded {
    fn tree(&self) -> &Tree {
        match self {
            Loaded::Tarball { archive } => archive.tree(),
            Loaded::Dir { tree } => tree,
        }
    }

    /// Hold the content of `paths` too (a directory holds everything).
    fn load(&mut self, paths: &BTreeSet<InTreePath>) -> Result<(), Error> {
        match self {
            Loaded::Tarball { archive } => Ok(archive.load(paths)?),
            Loaded::Dir { .. } => Ok(()),
        }
    }

    /// Hold the content of exactly `keep`, so that the working copies
    /// cost what the patches touch, not the size of the distribution.
    fn hold_only(&mut self, keep: &BTreeSet<InTreePath>) -> Result<(), Error> {
        match self {
            Loaded::Tarball { archive } => Ok(archive.hold_only(keep)?),
            Loaded::Dir { tree } => {
                tree.hold_only(keep);
                Ok(())
            }
        }
    }
}

/// The files whose content a run reads: [`ALWAYS_HELD`], every path the
/// matching patches name, MANIFEST, the files below `debian/` and `.pc/`,
/// and for the record the target carries, the files it lists and the
/// paths of the diffs it claims (`believed_record` checks them).
fn held_paths(
    matches: &crate::catalog::Matches<'_>,
    tree: &Tree,
    catalog: &Catalog,
) -> BTreeSet<InTreePath> {
    let mut keep: BTreeSet<InTreePath> = ALWAYS_HELD
        .iter()
        .filter_map(|p| InTreePath::parse(p).ok())
        .collect();
    // MANIFEST (`update_manifest`), and a Debian source tree's quilt
    // files (`debian.rs`, `coexist::fixed_otherwise`).
    keep.extend(InTreePath::parse(manifest::MANIFEST).ok());
    keep.extend(
        tree.file_paths()
            .filter(|p| p.as_str().starts_with("debian/") || p.as_str().starts_with(".pc/"))
            .cloned(),
    );
    let mut add = |parsed: &patch::ParsedPatch| {
        for f in &parsed.files {
            keep.insert(f.old_path.clone());
            keep.insert(f.new_path.clone());
        }
    };
    for entry in &matches.apply {
        add(&entry.parsed);
    }
    if let Ok(Some(carried)) = applied::read_applied(tree) {
        for p in &carried.patches {
            if let Ok(Some(entry)) = catalog.get(&p.id) {
                add(&entry.parsed);
            }
        }
        keep.extend(
            carried
                .patches
                .iter()
                .flat_map(|p| &p.files)
                .filter_map(|f| InTreePath::parse(&f.path).ok()),
        );
    }
    keep
}

/// Process one target: check or apply every matching record.
/// Never panics and never stops other targets: failures come back inside
/// the report, with `exit_code` set.
pub fn run(target: &Target, catalog: &Catalog, opts: &Options) -> TargetReport {
    let mut report = TargetReport::new(target);
    if let Err(e) = run_inner(target, catalog, opts, &mut report) {
        report.result = TargetResult::Failed;
        report.exit_code = e.exit_code();
        report.expected_context = e.detail();
        report.error = Some(e.to_string());
    }
    report
}

fn run_inner(
    target: &Target,
    catalog: &Catalog,
    opts: &Options,
    report: &mut TargetReport,
) -> Result<(), Error> {
    let name = target.shown();
    if let (Target::Dir(dir), Mode::Apply) = (target, opts.mode) {
        // An earlier apply killed midway is finished or undone first.
        if let Some(done) = tarball::recover_dir(dir)? {
            report.warnings.push(format!(
                "{name}: an interrupted apply was {} ({})",
                match done {
                    tarball::Recovered::RolledBack => "undone",
                    _ => "finished",
                },
                tarball::JOURNAL
            ));
        }
    }
    let mut loaded = load(target, &opts.limits, report)?;
    // Only when a hard link hid them from the first read.
    loaded.load(
        &ALWAYS_HELD
            .iter()
            .filter_map(|p| InTreePath::parse(p).ok())
            .collect(),
    )?;
    let ids = dist::identities(&target.file_name(), loaded.tree())?;
    report.warnings.extend(ids.warnings.iter().cloned());
    let info = ids.info.clone();
    report.dist = Some(info.name.to_string());
    report.version = Some(info.version.to_string());
    report.purl = Some(info.purl());

    let matches = matching_all(catalog, &ids).map_err(|source| Error::Catalog {
        target: name.clone(),
        source,
    })?;
    // Layered repositories: the first that publishes an id wins; say so.
    for (hidden, by) in &matches.shadowed {
        report.warnings.push(format!(
            "{} is published by both {} and {}: using {}'s (the first repository wins)",
            by.record.id, by.origin, hidden.origin, by.origin
        ));
    }
    let keep = held_paths(&matches, loaded.tree(), catalog);
    loaded.hold_only(&keep)?;
    let pristine = loaded.tree();
    // The record the target carries, believed only where its content backs
    // it (a claim, never proof; see `believed_record`).
    let previous = believed_record(pristine, catalog, &mut report.warnings);
    let carries = |id: &str| {
        previous
            .as_ref()
            .is_some_and(|a| a.patches.iter().any(|p| p.id == id))
    };
    report.withdrawn = matches
        .withdrawn
        .iter()
        .filter_map(|e| {
            e.record.withdrawn.as_ref().map(|w| WithdrawnNote {
                id: e.record.id.to_string(),
                reason: w.reason.clone(),
                date: w.date.clone(),
                carried: carries(e.record.id.as_str()),
            })
        })
        .collect();
    let mut tree = pristine.clone();
    let mut touched: BTreeSet<InTreePath> = BTreeSet::new();
    let mut newly: Vec<NewlyApplied<'_>> = Vec::new();
    let mut outcomes: Vec<applied::Outcome> = Vec::new();
    // Patches whose lines are in the tree (applied or already there): they
    // explain where a later patch's lines sit (`patch::carries`).
    let mut placed: Vec<&patch::ParsedPatch> = Vec::new();
    let mut first_failure: Option<Error> = None;
    for entry in &matches.apply {
        let rec = &entry.record;
        let aliases: Vec<String> = rec.alias_strings();
        let mut pr = PatchReport {
            id: rec.id.to_string(),
            title: rec.title.clone(),
            aliases: aliases.clone(),
            status: PatchStatus::AlreadyApplied,
            reason: None,
            files: entry
                .parsed
                .files
                .iter()
                .map(|f| f.new_path.to_string())
                .collect(),
            moved_hunks: Vec::new(),
            binding_checked: false,
        };
        let requested = std::iter::once(rec.id.as_str())
            .chain(aliases.iter().map(String::as_str))
            .find_map(|k| opts.skip.get(k).map(|from| (k, from)));
        if let Some((key, from)) = requested {
            pr.status = PatchStatus::Skipped;
            pr.reason = Some(if key == rec.id.as_str() {
                format!("skipped by request ({from})")
            } else {
                format!("skipped by request ({from} {key})")
            });
        } else {
            match patch::apply_after(&mut tree, &entry.parsed, &placed, &opts.engine) {
                Ok(applied) => match applied.outcome {
                    Outcome::AlreadyApplied => {
                        placed.push(&entry.parsed);
                        if !carries(rec.id.as_str()) {
                            pr.reason = Some(
                                "the content already carries this exact patch (its reverse \
                                 fits where it puts its lines)"
                                    .into(),
                            );
                        }
                    }
                    Outcome::Applied(files) => {
                        placed.push(&entry.parsed);
                        pr.status = match opts.mode {
                            Mode::Check => PatchStatus::WouldApply,
                            Mode::Apply => PatchStatus::Applied,
                        };
                        for f in &files {
                            for h in &f.hunks {
                                if h.offset != 0 || h.fuzz != 0 {
                                    pr.moved_hunks.push(HunkNote {
                                        file: f.path.to_string(),
                                        hunk: h.number,
                                        offset: h.offset,
                                        fuzz: h.fuzz,
                                    });
                                }
                            }
                        }
                        if let Some(sha) = &report.input_sha256 {
                            if let Some(t) = rec.tested_for(sha) {
                                // When this is the first patch to change
                                // anything, the working tree already is the
                                // pristine tree with this patch alone.
                                let alone = (!touched.is_empty()).then_some(pristine);
                                check_binding(&name, entry, alone, &tree, &t.patched_tree, opts)?;
                                pr.binding_checked = true;
                            }
                        }
                        touched.extend(applied.touched.iter().cloned());
                        newly.push(NewlyApplied {
                            id: rec.id.as_str(),
                            title: &rec.title,
                            aliases: aliases.clone(),
                            patch_sha256: &entry.patch_sha256,
                            patch_text: &entry.patch_text,
                            repository: (&entry.origin).into(),
                            paths: applied.touched.into_iter().collect(),
                        });
                    }
                },
                Err(source) => {
                    let distribution = match target {
                        Target::Dir(_) => coexist::Distribution::Debian,
                        Target::Tarball(_) => coexist::Distribution::Ignored,
                    };
                    if let Some(evidence) = coexist::fixed_otherwise(
                        &tree,
                        &entry.parsed,
                        &placed,
                        &aliases,
                        distribution,
                    ) {
                        pr.status = PatchStatus::FixedByOtherMeans;
                        pr.reason = Some(evidence.reason());
                    } else if opts.on_failure == OnFailure::Partial {
                        pr.status = PatchStatus::Failed;
                        pr.reason = Some(source.to_string());
                        first_failure.get_or_insert(Error::PatchFailed {
                            target: name.clone(),
                            id: rec.id.to_string(),
                            source,
                        });
                    } else {
                        return Err(Error::PatchFailed {
                            target: name.clone(),
                            id: rec.id.to_string(),
                            source,
                        });
                    }
                }
            }
        }
        if let (Some(status), Some(reason)) = (pr.status.recorded(), &pr.reason) {
            outcomes.push(applied::Outcome {
                id: pr.id.clone(),
                title: pr.title.clone(),
                aliases: pr.aliases.clone(),
                patch_sha256: entry.patch_sha256.clone(),
                status,
                reason: reason.clone(),
            });
        }
        report.patches.push(pr);
    }
    // Withdrawn records in range that the target does not carry: named in
    // the record when one is written, never a reason to write one.
    for w in report.withdrawn.iter().filter(|w| !w.carried) {
        if let Some(e) = matches
            .withdrawn
            .iter()
            .find(|e| e.record.id.as_str() == w.id)
        {
            outcomes.push(applied::Outcome {
                id: w.id.clone(),
                title: e.record.title.clone(),
                aliases: e.record.alias_strings(),
                patch_sha256: e.patch_sha256.clone(),
                status: OutcomeStatus::Withdrawn,
                reason: format!("withdrawn on {}: {}", w.date, w.reason),
            });
        }
    }

    report.result = if newly.is_empty() {
        if matches.apply.is_empty() {
            TargetResult::NothingMatched
        } else {
            TargetResult::AlreadyPatched
        }
    } else {
        TargetResult::Patched
    };
    if let Some(failure) = &first_failure {
        report.result = TargetResult::Partial;
        report.exit_code = failure.exit_code();
        report.expected_context = failure.detail();
        report.error = Some(format!(
            "{failure}; --partial: the other patches were {}",
            match opts.mode {
                Mode::Check => "checked",
                Mode::Apply => "applied and the failure recorded",
            }
        ));
    }
    report.tree_digest = Some(tree.digest());
    if opts.mode == Mode::Check {
        return Ok(());
    }

    // The record is written when something was applied, or when the
    // outcomes audit must see changed (withdrawn ones alone never cause a
    // write: a target with nothing to do stays byte-for-byte alone).
    let counted = |os: &[applied::Outcome]| -> Vec<applied::Outcome> {
        os.iter()
            .filter(|o| o.status != OutcomeStatus::Withdrawn)
            .cloned()
            .collect()
    };
    let before = previous
        .as_ref()
        .map(|a| counted(&a.outcomes))
        .unwrap_or_default();
    let write_record = !newly.is_empty() || counted(&outcomes) != before;

    // A file a patch created is listed in MANIFEST, one it deleted is not,
    // so that `make dist` from the patched tree keeps the fix.
    if write_record {
        update_manifest(pristine, &mut tree, &mut touched);
    }
    let mut changes = tree.changes_from(pristine, &touched);
    if write_record {
        let record_changes = applied::record_changes(
            &tree,
            previous,
            &newly,
            outcomes,
            info.name.as_str(),
            info.version.as_str(),
            report.input_sha256.as_deref(),
        )
        .map_err(|reason| Error::Record {
            target: name.clone(),
            reason,
        })?;
        // A record change replaces any patch change to the same path
        // (META files), keeping one change per path.
        let recorded: BTreeSet<InTreePath> =
            record_changes.iter().map(|c| c.path().clone()).collect();
        changes.retain(|c| !recorded.contains(c.path()));
        changes.extend(record_changes);
        changes.sort_by(|a, b| a.path().cmp(b.path()));
    }
    if let Target::Dir(_) = target {
        // A Debian 3.0 (quilt) source tree gets the same changes as a
        // quilt patch too, so that `dpkg-source -b` keeps working.
        if let Some(quilt) = debian::quilt_changes(pristine, &changes, &report.patches, &info)
            .map_err(|reason| Error::Record {
                target: name.clone(),
                reason,
            })?
        {
            report.quilt_patch = Some(quilt.patch);
            changes.extend(quilt.changes);
            changes.sort_by(|a, b| a.path().cmp(b.path()));
        }
    }
    write_output(target, &loaded, &changes, opts, report)?;
    Ok(())
}

/// The records for every identity of the target (META's, and the file
/// name's when META names another release), each once, in application
/// order.
fn matching_all<'c>(
    catalog: &'c Catalog,
    ids: &dist::Identities,
) -> Result<crate::catalog::Matches<'c>, crate::catalog::LoadError> {
    let mut all = crate::catalog::Matches::default();
    for info in ids.all() {
        let m = catalog.matching(info)?;
        for (from, into) in [
            (m.apply, &mut all.apply),
            (m.withdrawn, &mut all.withdrawn),
            (m.out_of_range, &mut all.out_of_range),
        ] {
            for e in from {
                if !into.iter().any(|x| x.record.id == e.record.id) {
                    into.push(e);
                }
            }
        }
        for (hidden, by) in m.shadowed {
            if !all.shadowed.iter().any(|(h, _)| std::ptr::eq(*h, hidden)) {
                all.shadowed.push((hidden, by));
            }
        }
    }
    // docs/formats.md: ascending `order`, ties broken by id.
    all.apply
        .sort_by(|a, b| (a.record.order, &a.record.id).cmp(&(b.record.order, &b.record.id)));
    Ok(all)
}

fn load(target: &Target, limits: &Limits, report: &mut TargetReport) -> Result<Loaded, Error> {
    let name = target.shown();
    match target {
        Target::Tarball(path) => {
            let bytes = read_bounded(path, limits.max_compressed_bytes).map_err(|source| {
                Error::Unreadable {
                    target: name.clone(),
                    source,
                }
            })?;
            report.input_sha256 = Some(sha256_hex(&bytes));
            let archive = Archive::read_lean(&name, bytes, limits, &ALWAYS_HELD)?;
            Ok(Loaded::Tarball { archive })
        }
        Target::Dir(path) => Ok(Loaded::Dir {
            tree: tarball::read_dir(path, limits)?,
        }),
    }
}

/// Compare the tree digest of the pristine tree with `entry` alone applied
/// with the one reviewers recorded for this input tarball. `pristine` is
/// `Some` when earlier patches already changed `current`, so that `entry`
/// must be applied alone to a fresh copy; `None` when `current` is that
/// tree already.
fn check_binding(
    name: &str,
    entry: &Entry,
    pristine: Option<&Tree>,
    current: &Tree,
    want: &str,
    opts: &Options,
) -> Result<(), Error> {
    let got = match pristine {
        None => current.digest(),
        Some(pristine) => match entry.patched_tree_digest(pristine, &opts.engine) {
            Ok((_, digest)) => digest,
            Err(source) => {
                return Err(Error::PatchFailed {
                    target: name.to_string(),
                    id: entry.record.id.to_string(),
                    source,
                })
            }
        },
    };
    if got.eq_ignore_ascii_case(want) {
        Ok(())
    } else {
        Err(Error::BindingMismatch {
            target: name.to_string(),
            id: entry.record.id.to_string(),
            got,
            want: want.to_string(),
        })
    }
}

fn write_output(
    target: &Target,
    loaded: &Loaded,
    changes: &[Change],
    opts: &Options,
    report: &mut TargetReport,
) -> Result<(), Error> {
    match (target, loaded) {
        (Target::Tarball(input), Loaded::Tarball { archive }) => {
            let bytes = archive.input();
            let Some(out_dir) = &opts.out_dir else {
                return Err(Error::Usage(format!(
                    "{}: apply needs -o DIR to write a patched tarball",
                    target.file_name()
                )));
            };
            let out = out_dir.join(target.file_name());
            if same_file(input, &out) {
                return Err(Error::Usage(format!(
                    "{}: -o would overwrite the input; choose another directory",
                    target.file_name()
                )));
            }
            // With nothing to change the input is copied as is, so that a
            // build pipeline always finds its tarball in DIR; otherwise the
            // new archive streams to a temporary file renamed into place.
            report.output_sha256 = Some(if changes.is_empty() {
                state::write_atomic(&out, bytes, None)?;
                sha256_hex(bytes)
            } else {
                // A failure to write is exit 1 (an operation failed), as
                // for every other output; a refused change stays exit 2.
                match archive.write_file(changes, &out) {
                    Ok(written) => written.sha256,
                    Err(tarball::Error::Io {
                        action,
                        path,
                        source,
                    }) => return Err(state::Error::io(action, &path, source).into()),
                    Err(e) => return Err(e.into()),
                }
            });
            report.output = Some(out.display().to_string());
        }
        (Target::Dir(dir), Loaded::Dir { .. }) => {
            if !changes.is_empty() {
                tarball::write_dir(dir, changes)?;
            }
            report.output = Some(dir.display().to_string());
        }
        _ => {}
    }
    Ok(())
}

/// List the files the patches created in MANIFEST, and drop those they
/// deleted, when the dist has one ([`manifest::update`]).
fn update_manifest(pristine: &Tree, tree: &mut Tree, touched: &mut BTreeSet<InTreePath>) {
    let Ok(m) = InTreePath::parse(manifest::MANIFEST) else {
        return;
    };
    let added: Vec<InTreePath> = touched
        .iter()
        .filter(|p| tree.files.contains_key(*p) && !pristine.files.contains_key(*p))
        .cloned()
        .collect();
    let removed: Vec<InTreePath> = touched
        .iter()
        .filter(|p| !tree.files.contains_key(*p) && pristine.files.contains_key(*p))
        .cloned()
        .collect();
    let Some(entry) = tree.files.get_mut(&m) else {
        return;
    };
    if let Some(data) = manifest::update(&entry.data, &added, &removed) {
        entry.data = data;
        touched.insert(m);
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The record `tree` carries, when it is believed: it parses, and the
/// content backs every patch it lists ([`claims::check`]: the
/// repository publishes that diff under that id, and the files carry it).
/// A record that fails either way is ignored — `apply` then treats the
/// target as carrying no record, so that an upstream that ships its own
/// `.patchkit/applied.json` can neither skip a patch nor have its claims
/// merged into the record patchkit writes — and `warnings` says why.
fn believed_record(tree: &Tree, catalog: &Catalog, warnings: &mut Vec<String>) -> Option<Applied> {
    let applied = match applied::read_applied(tree) {
        Ok(applied) => applied?,
        Err(reason) => {
            warnings.push(printable(&format!(
                "ignoring {reason}; patches are applied as if it were absent"
            )));
            return None;
        }
    };
    let claims: Vec<Claim<'_>> = applied
        .patches
        .iter()
        .map(|p| Claim {
            id: &p.id,
            patch_sha256: &p.patch_sha256,
            files: &p.files,
        })
        .collect();
    let verdicts = claims::check(&claims, catalog, tree, Scope::Whole);
    let doubts: Vec<String> = applied
        .patches
        .iter()
        .zip(verdicts)
        .filter_map(|(p, verdict)| {
            let why = match verdict {
                Verdict::Carried => return None,
                Verdict::NotCarried(why) | Verdict::Tampered(why) => why,
                Verdict::NotPublished => {
                    "the repository publishes no such diff under that id".to_string()
                }
            };
            Some(format!("{}: {why}", excerpt(&p.id, EXCERPT)))
        })
        .collect();
    if doubts.is_empty() {
        return Some(applied);
    }
    warnings.push(printable(&format!(
        "ignoring {}: it claims patches the content does not back ({}); patches \
         are applied as if it were absent",
        applied::APPLIED_JSON,
        doubts.join("; ")
    )));
    None
}
