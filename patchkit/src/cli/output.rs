//! Every command's report, and the one place that prints it: each command
//! builds one typed report (a [`Report`]: `Serialize` for `--json`, `render`
//! for text, its stderr lines and its exit status) and ends with [`emit`].
//! With the loading notices below, the only place that writes to stdout and
//! stderr (besides main.rs's last error).
//!
//! A report's JSON is its serialisation: field order is key order, and
//! data only the text needs is `#[serde(skip)]`.

use std::io::{self, Write};
use std::path::Path;

use serde::{Serialize, Serializer};

use super::Context;
use patchkit::apply::{Mode, PatchStatus, TargetReport, TargetResult};
use patchkit::audit::report::{DistAudit, Finding, Summary};
use patchkit::audit::scan::PathError;
use patchkit::authoring::csaf::CsafReport;
use patchkit::authoring::diff::DiffReport;
use patchkit::authoring::import::ImportReport;
use patchkit::authoring::lint::LintReport;
use patchkit::authoring::scaffold::NewReport;
use patchkit::authoring::withdraw::WithdrawReport;
use patchkit::catalog::Origin;
use patchkit::client::bundle::Created;
use patchkit::client::store::{RepoInfo, UpdateOutcome};
use patchkit::error::Error;
use patchkit::state::log::LogEntry;
use patchkit::tuf::publish::PublishReport;

/// A warning on stderr.
pub(crate) fn warn(message: &str) {
    eprintln!("warning: {message}");
}

/// An error line on stderr (for failures that do not end the command).
pub(crate) fn error(message: &str) {
    eprintln!("error: {message}");
}

/// How much a run says beyond its report (`-q`, `-v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    /// `-q`: no notices, no progress.
    Quiet,
    /// The default.
    Normal,
    /// `-v`: more detail in the text report.
    Verbose,
}

/// The run's verbosity, set once by `cli::run` before any output.
static VERBOSITY: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);

/// Sets the run's verbosity (once, in `cli::run`).
pub(crate) fn set_verbosity(v: Verbosity) {
    VERBOSITY.store(v as u8, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `-q` was given.
pub(crate) fn quiet() -> bool {
    VERBOSITY.load(std::sync::atomic::Ordering::Relaxed) == Verbosity::Quiet as u8
}

/// A notice on stderr (freshness of verified data, progress); silent with
/// `-q`.
pub(crate) fn notice(message: &str) {
    if !quiet() {
        eprintln!("{message}");
    }
}

/// A line on stderr that `-q` does not silence (serve's access log: it is
/// the command's output).
pub(crate) fn line(message: &str) {
    eprintln!("{message}");
}

/// One line a report puts on stderr before itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Diagnostic {
    /// `warning: …`.
    Warning(String),
    /// `error: …` (a failure that did not end the command).
    Error(String),
    /// A line as it is (the context a failed hunk expected).
    Plain(String),
}

/// What a command reports: serialised as the one `--json` document, or
/// rendered as text; the same stderr lines come first either way.
pub(crate) trait Report: Serialize {
    /// The text on stdout (without `--json`).
    fn render(&self, out: &mut dyn Write) -> io::Result<()>;

    /// Lines for stderr, printed before the report. `json` is set with
    /// `--json`: what the text shows inline goes to stderr there.
    fn diagnostics(&self, json: bool) -> Vec<Diagnostic> {
        let _ = json;
        Vec::new()
    }

    /// The exit status the report asks for.
    fn exit_code(&self) -> i32 {
        0
    }
}

/// Print `report`: its stderr lines, then exactly one JSON document with
/// `--json` or its text; returns its exit status. The one writer of every
/// command's stdout (buffered: an audit or a log prints thousands of lines).
pub(crate) fn emit(ctx: &Context, report: &impl Report) -> Result<i32, Error> {
    for d in report.diagnostics(ctx.json) {
        match d {
            Diagnostic::Warning(m) => warn(&m),
            Diagnostic::Error(m) => error(&m),
            Diagnostic::Plain(m) => notice(&m),
        }
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if ctx.json {
        write_json(&mut out, report)?;
    } else {
        report.render(&mut out)?;
    }
    out.flush()?;
    Ok(report.exit_code())
}

/// One pretty JSON document and a newline.
fn write_json(out: &mut dyn Write, doc: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)
}

/// A path as the JSON documents carry it.
fn path_string<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&path.display())
}

/// "", or the plural ending when `n` is not 1.
fn plural(n: usize, ending: &'static str) -> &'static str {
    if n == 1 {
        ""
    } else {
        ending
    }
}

/// The first 12 hex digits of a digest, for tables.
fn short(sha: Option<&str>) -> String {
    match sha {
        Some(s) => s.chars().take(12).collect(),
        None => "absent".into(),
    }
}

/// ` [CVE-…, GHSA-…]`, or nothing.
fn aliases(aliases: &[String]) -> String {
    if aliases.is_empty() {
        String::new()
    } else {
        format!(" [{}]", aliases.join(", "))
    }
}

// ---------------------------------------------------------------------------
// check, apply

/// What `check` or `apply` did to each target, in the order given.
#[derive(Debug, Serialize)]
pub(crate) struct Targets<'a> {
    command: &'static str,
    repository: &'a Origin,
    /// Layered repositories: all of them, in precedence order (absent with
    /// one).
    #[serde(skip_serializing_if = "one_or_none")]
    repositories: Vec<&'a Origin>,
    ok: bool,
    targets: &'a [TargetReport],
    #[serde(skip)]
    mode: Mode,
    /// Entries the log could not take (the targets are written anyway).
    #[serde(skip)]
    log_failures: Vec<String>,
}

/// Whether a list has at most one element (then it is not serialised).
fn one_or_none<T>(v: &[T]) -> bool {
    v.len() <= 1
}

impl<'a> Targets<'a> {
    pub(crate) fn new(
        mode: Mode,
        catalog: &'a patchkit::catalog::Catalog,
        targets: &'a [TargetReport],
        log_failures: Vec<String>,
    ) -> Targets<'a> {
        Targets {
            command: match mode {
                Mode::Check => "check",
                Mode::Apply => "apply",
            },
            repository: &catalog.origin,
            repositories: catalog.origins(),
            ok: targets.iter().all(|r| r.exit_code == 0),
            targets,
            mode,
            log_failures,
        }
    }
}

fn status_word(s: PatchStatus) -> &'static str {
    match s {
        PatchStatus::WouldApply => "would apply",
        PatchStatus::Applied => "applied",
        PatchStatus::AlreadyApplied => "already applied",
        PatchStatus::FixedByOtherMeans => "fixed otherwise",
        PatchStatus::Skipped => "skipped",
        PatchStatus::Failed => "FAILED",
    }
}

impl Report for Targets<'_> {
    fn diagnostics(&self, _json: bool) -> Vec<Diagnostic> {
        let mut lines: Vec<Diagnostic> = self
            .log_failures
            .iter()
            .map(|e| Diagnostic::Warning(format!("could not record this apply in the log: {e}")))
            .collect();
        for r in self.targets {
            lines.extend(r.warnings.iter().cloned().map(Diagnostic::Warning));
            for w in r.withdrawn.iter().filter(|w| w.carried) {
                lines.push(Diagnostic::Warning(format!(
                    "{} carries {}, which was withdrawn on {}: {}; rebuild it from the \
                     upstream tarball",
                    r.target, w.id, w.date, w.reason
                )));
            }
            if let Some(e) = &r.error {
                lines.push(Diagnostic::Error(e.clone()));
                if !r.expected_context.is_empty() {
                    lines.push(Diagnostic::Plain("  the hunk expected:".into()));
                    for line in &r.expected_context {
                        lines.push(Diagnostic::Plain(format!("  | {line}")));
                    }
                }
            }
        }
        lines
    }

    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let mode = self.mode;
        for r in self.targets {
            // The path as given, so that same-named targets stay apart.
            let name = &r.target;
            let what = match (&r.dist, &r.version) {
                (Some(d), Some(v)) => format!("{d} {v}"),
                _ => "not identified".into(),
            };
            let count = |st: PatchStatus| r.patches.iter().filter(|p| p.status == st).count();
            let applied = count(PatchStatus::Applied) + count(PatchStatus::WouldApply);
            // What else happened, after the main verdict.
            let mut others: Vec<String> = [
                (PatchStatus::FixedByOtherMeans, "fixed by other means"),
                (PatchStatus::Skipped, "skipped by request"),
                (PatchStatus::Failed, "FAILED"),
            ]
            .into_iter()
            .filter(|(st, _)| count(*st) > 0)
            .map(|(st, word)| format!("{} {word}", count(st)))
            .collect();
            let verb = if mode == Mode::Check {
                "would apply"
            } else {
                "applied"
            };
            let summary = match r.result {
                TargetResult::Failed if mode == Mode::Check => "FAILED".to_string(),
                TargetResult::Failed => "FAILED (nothing written)".to_string(),
                TargetResult::NothingMatched => "no patches match".to_string(),
                TargetResult::AlreadyPatched if others.is_empty() => {
                    "already carries every matching patch".to_string()
                }
                TargetResult::AlreadyPatched => {
                    others.insert(0, "nothing to apply".into());
                    others.join(", ")
                }
                TargetResult::Patched | TargetResult::Partial => {
                    others.insert(
                        0,
                        format!("{applied} patch{} {verb}", plural(applied, "es")),
                    );
                    if r.result == TargetResult::Partial && mode == Mode::Apply {
                        others.push("the others written (--partial)".into());
                    }
                    others.join(", ")
                }
            };
            let dest = match (&r.output, mode, r.result) {
                (Some(o), Mode::Apply, result) if result != TargetResult::Failed => {
                    format!(" -> {o}")
                }
                _ => String::new(),
            };
            writeln!(out, "{name}: {what}: {summary}{dest}")?;
            if let Some(q) = &r.quilt_patch {
                writeln!(
                    out,
                    "  {q} carries these changes for dpkg-source (added to debian/patches/series)"
                )?;
            }
            for p in &r.patches {
                writeln!(
                    out,
                    "  {:<20} {:<16} {}{}",
                    p.id,
                    status_word(p.status),
                    p.title,
                    aliases(&p.aliases)
                )?;
                if let Some(reason) = &p.reason {
                    writeln!(out, "  {:<20} {:<16} {reason}", "", "")?;
                }
                for h in &p.moved_hunks {
                    let mut note = format!("{} hunk {}", h.file, h.hunk);
                    if h.offset != 0 {
                        note.push_str(&format!(" offset {:+}", h.offset));
                    }
                    if h.fuzz != 0 {
                        note.push_str(&format!(" fuzz {}", h.fuzz));
                    }
                    writeln!(out, "  {:<20} {:<16} {note}", "", "")?;
                }
                if p.binding_checked {
                    writeln!(
                        out,
                        "  {:<20} {:<16} output matches the reviewed tree",
                        "", ""
                    )?;
                }
            }
            for w in &r.withdrawn {
                writeln!(
                    out,
                    "  {:<20} {:<16} {} ({}){}",
                    w.id,
                    "withdrawn",
                    w.reason,
                    w.date,
                    if w.carried {
                        "; this target CARRIES it (applied before it was withdrawn)"
                    } else {
                        ""
                    }
                )?;
            }
        }
        Ok(())
    }

    /// The highest status a target asked for.
    fn exit_code(&self) -> i32 {
        self.targets.iter().map(|r| r.exit_code).max().unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------
// audit, sbom, log

/// What `audit` found in every PATH.
#[derive(Debug, Serialize)]
pub(crate) struct Audit<'a> {
    command: &'static str,
    repository: &'a Origin,
    /// Every repository consulted, in precedence order (layered).
    #[serde(skip_serializing_if = "one_origin")]
    repositories: Vec<&'a Origin>,
    ok: bool,
    fail_on: Vec<Finding>,
    failing: Vec<Finding>,
    summary: Summary,
    dists: Vec<DistAudit>,
    #[serde(serialize_with = "path_errors")]
    errors: Vec<PathError>,
    /// Each audited library: what no distribution accounts for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    libraries: Vec<LibraryNotes>,
}

/// An audited library's module files that no distribution accounts for,
/// and its notes.
#[derive(Debug, Serialize)]
pub(crate) struct LibraryNotes {
    /// The PATH as given.
    pub(crate) target: String,
    /// The library directory it resolved to.
    pub(crate) library: String,
    /// Module files no packlist, install metadata or known content
    /// attributes to a distribution.
    pub(crate) unattributed: Vec<Unattributed>,
    /// Notes (nothing found, a walk cut short).
    pub(crate) warnings: Vec<String>,
}

/// One module file no distribution accounts for.
#[derive(Debug, Serialize)]
pub(crate) struct Unattributed {
    /// Below the library (`Foo/Bar.pm`).
    pub(crate) path: String,
}

/// How many unattributed files the text lists per library.
const UNATTRIBUTED_SHOWN: usize = 20;

/// Whether a list of repositories is just the one `repository` names
/// (the JSON then leaves `repositories` out, as before layering).
fn one_origin(origins: &[&Origin]) -> bool {
    origins.len() <= 1
}

impl<'a> Audit<'a> {
    /// The libraries' unattributed files and notes.
    pub(crate) fn with_libraries(mut self, libraries: Vec<LibraryNotes>) -> Self {
        self.libraries = libraries;
        self
    }

    /// `failing`: the findings of `fail_on` that are present.
    pub(crate) fn new(
        repositories: Vec<&'a Origin>,
        fail_on: Vec<Finding>,
        failing: Vec<Finding>,
        summary: Summary,
        dists: Vec<DistAudit>,
        errors: Vec<PathError>,
    ) -> Audit<'a> {
        Audit {
            command: "audit",
            repository: repositories[0],
            repositories,
            ok: errors.is_empty() && failing.is_empty(),
            fail_on,
            failing,
            summary,
            dists,
            errors,
            libraries: Vec::new(),
        }
    }
}

/// PATHs that could not be scanned: `[{"path": …, "reason": …}]`.
fn path_errors<S: Serializer>(errors: &[PathError], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Doc<'a> {
        path: &'a str,
        reason: &'a str,
    }
    s.collect_seq(errors.iter().map(|e| Doc {
        path: &e.path,
        reason: &e.reason,
    }))
}

impl Report for Audit<'_> {
    /// Unscannable PATHs; with `--json`, also each dist's notes (the text
    /// shows them under the dist).
    fn diagnostics(&self, json: bool) -> Vec<Diagnostic> {
        let mut lines: Vec<Diagnostic> = self
            .errors
            .iter()
            .map(|e| Diagnostic::Error(e.to_string()))
            .collect();
        for l in &self.libraries {
            lines.extend(l.warnings.iter().map(|w| Diagnostic::Warning(w.clone())));
        }
        if json {
            for a in &self.dists {
                for w in &a.warnings {
                    lines.push(Diagnostic::Warning(format!("{}: {w}", a.location)));
                }
            }
        }
        lines
    }

    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        use patchkit::audit::report::PatchStatus as S;
        use patchkit::audit::scan::{DistKind, FoundBy};

        let mut last_target: Option<&str> = None;
        for a in &self.dists {
            if last_target != Some(a.target.as_str()) {
                if a.kind == DistKind::Installed {
                    writeln!(out, "{} (library)", a.target)?;
                }
                last_target = Some(a.target.as_str());
            }
            let what = match (&a.dist, &a.version) {
                (Some(d), Some(v)) => format!("{d} {v}"),
                _ => "? (unidentified)".into(),
            };
            let place = match (a.kind, a.found_by) {
                (DistKind::Installed, FoundBy::Packlist) => {
                    let rel = a
                        .location
                        .rsplit_once("/auto/")
                        .map_or(a.location.as_str(), |(_, r)| r);
                    format!("  installed, auto/{rel}")
                }
                (DistKind::Installed, FoundBy::Content) => {
                    format!("  installed, known by content, {}", a.location)
                }
                (DistKind::Installed, FoundBy::Metadata) => {
                    let folder = Path::new(&a.location)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    format!("  installed, .meta/{folder}")
                }
                (DistKind::Tarball, _) => format!("{}: tarball", a.target),
                (DistKind::Directory, _) => format!("{}: directory", a.target),
            };
            let verdict = if a.findings.is_empty() {
                if a.patches.is_empty() {
                    "ok (no patches carried, none missing)".to_string()
                } else {
                    "ok".to_string()
                }
            } else {
                a.findings
                    .iter()
                    .map(|f| f.as_str().to_uppercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let indent = if a.kind == DistKind::Installed {
                "    "
            } else {
                "  "
            };
            writeln!(out, "{place}: {what}: {verdict}")?;
            for p in &a.patches {
                let note = match p.status {
                    S::Genuine if p.by_content => " (shown by the installed files)".into(),
                    S::Genuine => String::new(),
                    S::Superseded => format!(
                        " (carries {}, the repository now publishes {})",
                        short(Some(&p.patch_sha256)),
                        short(p.published_sha256.as_deref())
                    ),
                    S::Withdrawn => format!(
                        " (withdrawn: {})",
                        p.withdrawn_reason.as_deref().unwrap_or("no reason given")
                    ),
                    S::Unknown => " (not in the repository)".into(),
                };
                writeln!(
                    out,
                    "{indent}{:<20} {:<11} {}{}{note}",
                    p.id,
                    p.status.as_str(),
                    p.title.as_deref().unwrap_or(""),
                    aliases(&p.aliases)
                )?;
            }
            for f in &a.fixed_otherwise {
                writeln!(
                    out,
                    "{indent}{:<20} {:<11} {}{}",
                    f.id,
                    match f.status {
                        patchkit::applied::OutcomeStatus::AlreadyApplied => "present",
                        _ => "fixed",
                    },
                    f.title,
                    aliases(&f.aliases)
                )?;
                writeln!(
                    out,
                    "{indent}{:<20} {:<11} {}: {}",
                    "",
                    "",
                    f.status.as_str(),
                    f.reason
                )?;
            }
            for m in &a.missing {
                writeln!(
                    out,
                    "{indent}{:<20} {:<11} {}{}",
                    m.id,
                    "MISSING",
                    m.title,
                    aliases(&m.aliases)
                )?;
                if let Some(reason) = &m.reason {
                    writeln!(out, "{indent}{:<20} {:<11} {reason}", "", "")?;
                }
            }
            for t in &a.tampered {
                let place = t
                    .installed_as
                    .as_deref()
                    .map(|p| format!(" at {p}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{indent}{:<20} {:<11} recorded {}, found {}{place} ({})",
                    t.path,
                    "TAMPERED",
                    short(t.expected.as_deref()),
                    short(t.actual.as_deref()),
                    t.patches.join(", ")
                )?;
            }
            for p in &a.problems {
                writeln!(out, "{indent}problem: {p}")?;
            }
            for w in &a.warnings {
                writeln!(out, "{indent}note: {w}")?;
            }
        }
        for l in &self.libraries {
            if l.unattributed.is_empty() {
                continue;
            }
            writeln!(
                out,
                "{} (library): {} module file{} no distribution accounts for (no packlist, no \
                 install metadata, content the repository does not know):",
                l.target,
                l.unattributed.len(),
                plural(l.unattributed.len(), "s")
            )?;
            for u in l.unattributed.iter().take(UNATTRIBUTED_SHOWN) {
                writeln!(out, "    {:<40} UNKNOWN", u.path)?;
            }
            if l.unattributed.len() > UNATTRIBUTED_SHOWN {
                writeln!(
                    out,
                    "    … and {} more (--json lists them all)",
                    l.unattributed.len() - UNATTRIBUTED_SHOWN
                )?;
            }
        }
        let s = &self.summary;
        let fixed = if s.fixed_otherwise > 0 {
            format!("; {} fixed by other means", s.fixed_otherwise)
        } else {
            String::new()
        };
        let unattributed = s
            .unattributed
            .map(|n| format!("; {n} unattributed module file{}", plural(n, "s")))
            .unwrap_or_default();
        writeln!(
            out,
            "{} distribution{} audited against {}: {} patched; {} genuine, {} superseded, \
             {} withdrawn, {} unknown; {} tampered file{}; {} missing patch{}; {} damaged{fixed}\
             {unattributed}",
            s.dists,
            plural(s.dists, "s"),
            self.repositories
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" + "),
            s.patched,
            s.genuine,
            s.superseded,
            s.withdrawn,
            s.unknown,
            s.tampered,
            plural(s.tampered, "s"),
            s.missing,
            plural(s.missing, "es"),
            s.damaged
        )?;
        if !self.failing.is_empty() {
            writeln!(
                out,
                "failing because of --fail-on: {}",
                self.failing
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        Ok(())
    }

    /// 2 when a PATH could not be scanned, else 1 when `--fail-on` holds.
    fn exit_code(&self) -> i32 {
        if !self.errors.is_empty() {
            2
        } else if !self.failing.is_empty() {
            1
        } else {
            0
        }
    }
}

/// An SBOM: the CycloneDX document itself, JSON with or without `--json`.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct Sbom<'a> {
    document: &'a serde_json::Value,
    #[serde(skip)]
    warnings: Vec<String>,
    #[serde(skip)]
    errors: Vec<PathError>,
}

impl<'a> Sbom<'a> {
    pub(crate) fn new(
        document: &'a serde_json::Value,
        warnings: Vec<String>,
        errors: Vec<PathError>,
    ) -> Sbom<'a> {
        Sbom {
            document,
            warnings,
            errors,
        }
    }
}

impl Report for Sbom<'_> {
    fn diagnostics(&self, _json: bool) -> Vec<Diagnostic> {
        let warnings = self.warnings.iter().cloned().map(Diagnostic::Warning);
        let errors = self.errors.iter().map(|e| Diagnostic::Error(e.to_string()));
        warnings.chain(errors).collect()
    }

    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        write_json(out, self.document)
    }

    /// 2 when a PATH could not be scanned.
    fn exit_code(&self) -> i32 {
        if self.errors.is_empty() {
            0
        } else {
            2
        }
    }
}

/// The application log of this home.
#[derive(Debug, Serialize)]
pub(crate) struct Log<'a> {
    command: &'static str,
    #[serde(serialize_with = "path_string")]
    log: &'a Path,
    entries: &'a [LogEntry],
    damaged_lines: &'a [usize],
}

impl<'a> Log<'a> {
    pub(crate) fn new(log: &'a Path, contents: &'a patchkit::state::log::LogContents) -> Log<'a> {
        Log {
            command: "log",
            log,
            entries: &contents.entries,
            damaged_lines: &contents.damaged_lines,
        }
    }
}

impl Report for Log<'_> {
    /// Damaged lines are named in both modes.
    fn diagnostics(&self, _json: bool) -> Vec<Diagnostic> {
        self.damaged_lines
            .iter()
            .map(|n| {
                Diagnostic::Warning(format!(
                    "{} line {n} is damaged (an interrupted write or a hand edit) and was \
                     skipped; the other entries are intact",
                    self.log.display()
                ))
            })
            .collect()
    }

    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.entries.is_empty() {
            return writeln!(out, "no apply recorded in {}", self.log.display());
        }
        writeln!(
            out,
            "{:<20}  {:<9}  {:<24}  {:<24}  TARGET",
            "TIME", "RESULT", "DIST", "APPLIED"
        )?;
        for e in self.entries {
            let mut ids = e.applied.join(",");
            if !e.already_applied.is_empty() {
                if !ids.is_empty() {
                    ids.push(' ');
                }
                ids.push_str(&format!("(already: {})", e.already_applied.join(",")));
            }
            if ids.is_empty() {
                ids.push('-');
            }
            let mut target = e.target.clone();
            if let Some(o) = &e.output {
                if *o != e.target {
                    target.push_str(&format!(" -> {o}"));
                }
            }
            writeln!(
                out,
                "{:<20}  {:<9}  {:<24}  {:<24}  {target}",
                e.time, e.result, e.dist, ids
            )?;
            let mut digests = Vec::new();
            if let Some(s) = &e.input_sha256 {
                digests.push(format!("in {}", short(Some(s))));
            }
            if let Some(s) = &e.output_sha256 {
                digests.push(format!("out {}", short(Some(s))));
            }
            if let Some(s) = &e.tree_digest {
                digests.push(format!("tree {}", short(Some(s))));
            }
            digests.push(format!("from {}", e.repository));
            if let Some(h) = &e.host {
                digests.push(format!("on {h}"));
            }
            let mut line = format!("{:<20}  {}", "", digests.join("  "));
            if let Some(err) = &e.error {
                line.push_str(&format!("  error: {err}"));
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// the security team's commands

/// What an authoring command wrote: the library's report, then
/// `"command"` as its last key.
#[derive(Debug, Serialize)]
pub(crate) struct Authored<'a, R> {
    #[serde(flatten)]
    report: &'a R,
    command: &'static str,
}

impl<'a, R> Authored<'a, R> {
    /// `command`: the command's name in the JSON document.
    pub(crate) fn new(command: &'static str, report: &'a R) -> Authored<'a, R> {
        Authored { report, command }
    }
}

impl Report for Authored<'_, NewReport> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = self.report;
        writeln!(
            out,
            "created {} for {}: {}",
            r.id,
            r.dist,
            r.record.display()
        )?;
        if r.title_placeholder {
            writeln!(out, "  edit its title (lint refuses the placeholder)")?;
        }
        writeln!(
            out,
            "  next: patchkit diff ORIGINAL EDITED --record {id}\n    or: patchkit import --git REPO REV --record {id}  (or --patch FILE)\n  it writes {}",
            r.patch.display(),
            id = r.id
        )
    }
}

impl Report for Authored<'_, DiffReport> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        use patchkit::authoring::diff::FileChange;
        let r = self.report;
        writeln!(
            out,
            "wrote {} ({} file{})",
            r.patch.display(),
            r.files.len(),
            plural(r.files.len(), "s")
        )?;
        for f in &r.files {
            let word = match f.change {
                FileChange::Modified => "modified",
                FileChange::ModeChanged => "mode",
                FileChange::Created => "created",
                FileChange::Deleted => "deleted",
            };
            writeln!(out, "  {word:<9} {}", f.path)?;
        }
        if r.kept_header {
            writeln!(out, "  kept the existing patch header")?;
        }
        if !r.ignored.is_empty() {
            writeln!(out, "  ignored: {}", r.ignored.join(", "))?;
        }
        Ok(())
    }
}

impl Report for Authored<'_, ImportReport> {
    /// Every header the record did not take, on stderr (and in the JSON
    /// document's `warnings`).
    fn diagnostics(&self, _json: bool) -> Vec<Diagnostic> {
        self.report
            .warnings
            .iter()
            .cloned()
            .map(Diagnostic::Warning)
            .collect()
    }

    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = self.report;
        writeln!(out, "wrote {} for {}", r.patch.display(), r.id)?;
        for c in &r.commits {
            writeln!(out, "  commit  {c}")?;
        }
        for f in &r.files {
            writeln!(out, "  file    {f}")?;
        }
        if !r.fields.is_empty() {
            writeln!(out, "  record fields set: {}", r.fields.join(", "))?;
        }
        Ok(())
    }
}

impl Report for Authored<'_, CsafReport> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = self.report;
        writeln!(
            out,
            "wrote {} CSAF 2.0 advisor{} into {}",
            r.written.len(),
            if r.written.len() == 1 { "y" } else { "ies" },
            r.out.display()
        )?;
        for w in &r.written {
            writeln!(out, "  {w}")?;
        }
        for s in &r.skipped {
            writeln!(out, "  skipped {s}")?;
        }
        Ok(())
    }
}

impl Report for Authored<'_, WithdrawReport> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = self.report;
        writeln!(
            out,
            "withdrew {} on {}: {}{}",
            r.id,
            r.date,
            r.reason,
            r.fixed_in
                .as_ref()
                .map(|v| format!(" (fixed in {v})"))
                .unwrap_or_default()
        )?;
        writeln!(out, "  {}", r.record.display())
    }
}

/// The lint findings and the `--against` table: the library's report,
/// then `"ok"` and `"command"`.
#[derive(Debug, Serialize)]
pub(crate) struct Lint<'a> {
    #[serde(flatten)]
    report: &'a LintReport,
    ok: bool,
    command: &'static str,
}

impl<'a> Lint<'a> {
    pub(crate) fn new(report: &'a LintReport) -> Lint<'a> {
        Lint {
            report,
            ok: report.ok(),
            command: "lint",
        }
    }
}

impl Report for Lint<'_> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        use patchkit::authoring::lint::{CheckStatus, Level};
        let r = self.report;
        for f in &r.findings {
            let level = match f.level {
                Level::Error => "error",
                Level::Warning => "warning",
            };
            writeln!(out, "{level}: {}: {}", f.file, f.message)?;
            if let Some(h) = &f.hint {
                writeln!(out, "  help: {h}")?;
            }
        }
        if !r.results.is_empty() {
            let width = r
                .results
                .iter()
                .map(|x| x.id.len())
                .max()
                .unwrap_or(6)
                .max(6);
            let twidth = r
                .results
                .iter()
                .map(|x| x.tarball.len())
                .max()
                .unwrap_or(7)
                .max(7);
            writeln!(out, "{:<width$}  {:<twidth$}  RESULT", "RECORD", "TARBALL")?;
            for row in &r.results {
                let detail = row.detail.as_deref().unwrap_or("");
                let status = match row.status {
                    CheckStatus::Clean => "clean".to_string(),
                    CheckStatus::Offsets => format!("offsets ({detail})"),
                    CheckStatus::AlreadyApplied => "already applied".to_string(),
                    CheckStatus::FuzzNeeded => format!("fuzz needed ({detail})"),
                    CheckStatus::Failed => format!("FAILED ({detail})"),
                };
                let recorded = if row.recorded { "  [recorded]" } else { "" };
                writeln!(
                    out,
                    "{:<width$}  {:<twidth$}  {status}{recorded}",
                    row.id, row.tarball
                )?;
            }
        }
        let errors = r
            .findings
            .iter()
            .filter(|f| f.level == Level::Error)
            .count();
        let warnings = r.findings.len() - errors;
        let failed = r.results.iter().filter(|x| x.status.is_failure()).count();
        writeln!(
            out,
            "{}: {} of {} records valid, {} error{}, {} warning{}{}",
            r.source,
            r.valid_records,
            r.records,
            errors,
            plural(errors, "s"),
            warnings,
            plural(warnings, "s"),
            if r.tarballs > 0 {
                format!(
                    "; {} tarball{} checked, {} patch{} failed",
                    r.tarballs,
                    plural(r.tarballs, "s"),
                    failed,
                    plural(failed, "es")
                )
            } else {
                String::new()
            }
        )?;
        for w in &r.written {
            writeln!(out, "recorded results in {}", w.display())?;
        }
        Ok(())
    }

    /// 1 when a record is invalid or a patch failed.
    fn exit_code(&self) -> i32 {
        if self.ok {
            0
        } else {
            1
        }
    }
}

/// What `publish` wrote, or the role still waiting for signatures.
#[derive(Debug, Serialize)]
pub(crate) struct Published<'a> {
    command: &'static str,
    #[serde(serialize_with = "path_string")]
    out: &'a Path,
    targets: usize,
    versions: Versions,
    written: &'a [String],
    /// False when a role lacks signatures (then exit status 1).
    published: bool,
    pending: Option<PendingDoc<'a>>,
}

/// Each role's version after `publish`.
#[derive(Debug, Serialize)]
struct Versions {
    root: u64,
    targets: u64,
    snapshot: u64,
    timestamp: u64,
}

/// A role below its threshold.
#[derive(Debug, Serialize)]
struct PendingDoc<'a> {
    role: &'static str,
    #[serde(serialize_with = "path_string")]
    file: &'a Path,
    valid_signatures: usize,
    threshold: u32,
}

impl<'a> Published<'a> {
    /// `targets`: how many target files the repository publishes.
    pub(crate) fn new(out: &'a Path, targets: usize, report: &'a PublishReport) -> Published<'a> {
        Published {
            command: "publish",
            out,
            targets,
            versions: Versions {
                root: report.root_version,
                targets: report.targets_version,
                snapshot: report.snapshot_version,
                timestamp: report.timestamp_version,
            },
            written: &report.written,
            published: report.pending.is_none(),
            pending: report.pending.as_ref().map(|p| PendingDoc {
                role: p.role,
                file: &p.path,
                valid_signatures: p.valid,
                threshold: p.threshold,
            }),
        }
    }
}

impl Report for Published<'_> {
    fn diagnostics(&self, _json: bool) -> Vec<Diagnostic> {
        self.pending
            .iter()
            .map(|p| {
                Diagnostic::Error(format!(
                    "{} has {} of {} signatures: nothing was published",
                    p.role, p.valid_signatures, p.threshold
                ))
            })
            .collect()
    }

    /// 1 when a role lacks signatures: nothing was published, and CI must
    /// not count that a success.
    fn exit_code(&self) -> i32 {
        if self.published {
            0
        } else {
            1
        }
    }

    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let v = &self.versions;
        write!(
            out,
            "{}: root {}, targets {}, snapshot {}, timestamp {} ({} target{})",
            self.out.display(),
            v.root,
            v.targets,
            v.snapshot,
            v.timestamp,
            self.targets,
            plural(self.targets, "s")
        )?;
        if self.written.is_empty() && self.pending.is_none() {
            write!(out, "\nnothing changed")?;
        }
        for w in self.written {
            write!(out, "\n  wrote {w}")?;
        }
        if let Some(p) = &self.pending {
            write!(
                out,
                "\n{} has {} of {} signatures: nothing was published.\n\
                 Staged for signing: {}\n\
                 Each other key holder runs `patchkit sign {} --key KEY.pem`, then run publish again.",
                p.role,
                p.valid_signatures,
                p.threshold,
                p.file.display(),
                p.file.display()
            )?;
        }
        writeln!(out)
    }
}

// ---------------------------------------------------------------------------
// keys, repositories, bundles

/// The key pair `key generate` wrote.
#[derive(Debug, Serialize)]
pub(crate) struct KeyGenerated<'a> {
    command: &'static str,
    #[serde(serialize_with = "path_string")]
    private: &'a Path,
    #[serde(serialize_with = "path_string")]
    public: &'a Path,
    keyid: String,
}

impl<'a> KeyGenerated<'a> {
    pub(crate) fn new(private: &'a Path, public: &'a Path, keyid: String) -> KeyGenerated<'a> {
        KeyGenerated {
            command: "key generate",
            private,
            public,
            keyid,
        }
    }
}

impl Report for KeyGenerated<'_> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "private key: {} (mode 0600; keep it secret)\npublic key:  {}\nkey id:      {}",
            self.private.display(),
            self.public.display(),
            self.keyid
        )
    }
}

/// The signature `sign` added (or found).
#[derive(Debug, Serialize)]
pub(crate) struct Signed<'a> {
    command: &'static str,
    #[serde(serialize_with = "path_string")]
    file: &'a Path,
    keyid: String,
    added: bool,
}

impl<'a> Signed<'a> {
    pub(crate) fn new(file: &'a Path, keyid: String, added: bool) -> Signed<'a> {
        Signed {
            command: "sign",
            file,
            keyid,
            added,
        }
    }
}

impl Report for Signed<'_> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.added {
            writeln!(
                out,
                "{}: signed with key {}",
                self.file.display(),
                self.keyid
            )
        } else {
            writeln!(
                out,
                "{}: already signed with key {}; unchanged",
                self.file.display(),
                self.keyid
            )
        }
    }
}

/// The repository `repo add` pinned.
#[derive(Debug, Serialize)]
pub(crate) struct RepoAdded<'a> {
    command: &'static str,
    name: &'a str,
    url: &'a str,
    root_version: u64,
}

impl<'a> RepoAdded<'a> {
    pub(crate) fn new(name: &'a str, url: &'a str, root_version: u64) -> RepoAdded<'a> {
        RepoAdded {
            command: "repo add",
            name,
            url,
            root_version,
        }
    }
}

impl Report for RepoAdded<'_> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let RepoAdded {
            name,
            url,
            root_version,
            ..
        } = self;
        writeln!(
            out,
            "added {name} ({url}), pinned to root version {root_version}; run `patchkit update {name}`"
        )
    }
}

/// The configured repositories.
#[derive(Debug, Serialize)]
pub(crate) struct RepoList {
    command: &'static str,
    repositories: Vec<RepoInfo>,
}

impl RepoList {
    pub(crate) fn new(repositories: Vec<RepoInfo>) -> RepoList {
        RepoList {
            command: "repo list",
            repositories,
        }
    }
}

impl Report for RepoList {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        if self.repositories.is_empty() {
            text.push_str("no repositories configured (see `patchkit repo add --help`)");
        }
        for r in &self.repositories {
            text.push_str(&format!(
                "{}\n  url:             {}\n  root version:    {}\n  last update:     {}\n  version:         {}\n  freshness:       {}{}\n",
                r.name,
                r.url,
                r.root_version,
                r.last_update.as_deref().unwrap_or("never"),
                r.version.map_or("-".into(), |v| v.to_string()),
                r.freshness,
                r.expires
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (until {e})")),
            ));
        }
        writeln!(out, "{}", text.trim_end())
    }
}

/// The repository `repo remove` forgot.
#[derive(Debug, Serialize)]
pub(crate) struct RepoRemoved<'a> {
    command: &'static str,
    name: &'a str,
}

impl<'a> RepoRemoved<'a> {
    pub(crate) fn new(name: &'a str) -> RepoRemoved<'a> {
        RepoRemoved {
            command: "repo remove",
            name,
        }
    }
}

impl Report for RepoRemoved<'_> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "removed {}", self.name)
    }
}

/// Every setting of `config`, its value and where it came from.
#[derive(Debug, Serialize)]
pub(crate) struct Settings {
    command: &'static str,
    /// The configuration file (whether it exists or not).
    file: String,
    /// Whether it exists.
    file_exists: bool,
    settings: Vec<Setting>,
    /// The configured repositories, in precedence order (`repo add`).
    repositories: Vec<RepoSetting>,
}

/// One repository of [`Settings`].
#[derive(Debug, Serialize)]
struct RepoSetting {
    /// 1 for the first consulted.
    precedence: usize,
    name: String,
    url: String,
    /// Its `config.toml` in the home (written by `repo add`).
    source: String,
}

/// One setting of [`Settings`].
#[derive(Debug, Serialize)]
struct Setting {
    key: String,
    value: String,
    source: &'static str,
    about: &'static str,
}

impl Settings {
    pub(crate) fn new(
        home: &patchkit::state::Home,
        config: &patchkit::config::Config,
        repositories: Vec<patchkit::client::store::RepoConfig>,
    ) -> Settings {
        let file = home.root().join(patchkit::config::FILE_NAME);
        let repositories = repositories
            .into_iter()
            .enumerate()
            .map(|(i, r)| RepoSetting {
                precedence: i + 1,
                source: home
                    .repos_dir()
                    .join(&r.name)
                    .join("config.toml")
                    .display()
                    .to_string(),
                name: r.name,
                url: r.url,
            })
            .collect();
        Settings {
            repositories,
            command: "config",
            file_exists: config.file().is_some(),
            file: file.display().to_string(),
            settings: config
                .shown()
                .into_iter()
                .map(|s| Setting {
                    key: s.key,
                    value: s.value,
                    source: s.source.as_str(),
                    about: s.about,
                })
                .collect(),
        }
    }
}

impl Report for Settings {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let state = if self.file_exists { "" } else { " (absent)" };
        writeln!(out, "config file: {}{state}", self.file)?;
        let key_width = self.settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
        let value_width = self
            .settings
            .iter()
            .map(|s| s.value.len())
            .max()
            .unwrap_or(0);
        for s in &self.settings {
            writeln!(
                out,
                "{:key_width$}  {:value_width$}  {:12}  {}",
                s.key, s.value, s.source, s.about
            )?;
        }
        if self.repositories.is_empty() {
            writeln!(
                out,
                "repositories: none (patchkit repo add NAME URL --root FILE)"
            )?;
        } else {
            writeln!(
                out,
                "repositories (consulted in this order; the first to publish an id wins):"
            )?;
            for r in &self.repositories {
                writeln!(
                    out,
                    "  {}. {}  {}  (repo add: {})",
                    r.precedence, r.name, r.url, r.source
                )?;
            }
        }
        Ok(())
    }
}

/// What `update` verified in each repository. One repository failing does
/// not stop the others; the first failure decides the exit status.
///
/// The text is for people: the repository's version (its snapshot version,
/// the one patched dists record), until when it is valid, and how many
/// fixes for how many distributions it holds. The TUF detail (each role's
/// versions, targets verified) is shown with `-v` and always in `--json`.
#[derive(Debug, Serialize)]
pub(crate) struct Updated {
    command: &'static str,
    ok: bool,
    repositories: Vec<UpdateOutcome>,
    /// The failures, in order.
    #[serde(skip)]
    failures: Vec<Error>,
    /// `-v`.
    #[serde(skip)]
    verbose: bool,
}

impl Updated {
    pub(crate) fn new(
        repositories: Vec<UpdateOutcome>,
        failures: Vec<Error>,
        verbose: bool,
    ) -> Updated {
        Updated {
            command: "update",
            ok: failures.is_empty(),
            repositories,
            failures,
            verbose,
        }
    }
}

impl Report for Updated {
    fn diagnostics(&self, _json: bool) -> Vec<Diagnostic> {
        let invalid = self.repositories.iter().flat_map(|o| {
            o.invalid_records.iter().map(move |r| {
                Diagnostic::Warning(format!(
                    "repository {}: updated, but the patches of {r} cannot be used until the \
                     repository publishes a valid record; every other dist's can",
                    o.name
                ))
            })
        });
        invalid
            .chain(
                self.failures
                    .iter()
                    .map(|e| Diagnostic::Error(e.to_string())),
            )
            .collect()
    }

    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        for o in &self.repositories {
            let (b, a) = (&o.before, &o.after);
            let up_to_date =
                b.snapshot_version == a.snapshot_version && b.root_version == a.root_version;
            let state = if up_to_date {
                format!(
                    "up to date (version {}, valid until {})",
                    o.version, o.expires
                )
            } else {
                format!("verified version {} (valid until {})", o.version, o.expires)
            };
            let rotated = if o.root_rotations > 0 {
                format!("; root keys rotated (root version {})", a.root_version)
            } else {
                String::new()
            };
            text.push_str(&format!(
                "{}: {state}: {} fix{} for {} distribution{}{rotated}\n",
                o.name,
                o.records,
                plural(usize::try_from(o.records).unwrap_or(2), "es"),
                o.dists,
                plural(usize::try_from(o.dists).unwrap_or(2), "s"),
            ));
            if self.verbose {
                text.push_str(&format!(
                    "  TUF: root {}→{}, timestamp {}→{}, snapshot {}→{}, targets {}→{}; \
                     {} target{} verified (records and patches)\n",
                    b.root_version,
                    a.root_version,
                    b.timestamp_version,
                    a.timestamp_version,
                    b.snapshot_version,
                    a.snapshot_version,
                    b.targets_version,
                    a.targets_version,
                    o.targets,
                    plural(o.targets, "s")
                ));
            }
        }
        writeln!(out, "{}", text.trim_end())
    }

    /// The first failure's status (`patchkit::Error::exit_code`).
    fn exit_code(&self) -> i32 {
        self.failures.first().map_or(0, Error::exit_code)
    }
}

/// The bundle `bundle create` wrote.
#[derive(Debug, Serialize)]
pub(crate) struct BundleCreated<'a> {
    command: &'static str,
    #[serde(serialize_with = "path_string")]
    file: &'a Path,
    bundle: &'a Created,
    /// The repository's name in this home.
    #[serde(skip)]
    name: &'a str,
}

impl<'a> BundleCreated<'a> {
    pub(crate) fn new(file: &'a Path, name: &'a str, bundle: &'a Created) -> BundleCreated<'a> {
        BundleCreated {
            command: "bundle create",
            file,
            bundle,
            name,
        }
    }
}

impl Report for BundleCreated<'_> {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let made = self.bundle;
        writeln!(
            out,
            "{}: repository {}, version {}, {} target{}, roots {:?}, made {}",
            self.file.display(),
            self.name,
            made.version,
            made.targets,
            plural(made.targets, "s"),
            made.roots,
            made.description.created
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(report: &impl Serialize) -> Vec<String> {
        match serde_json::to_value(report).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    fn text(report: &impl Report) -> String {
        let mut out = Vec::new();
        report.render(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_authoring_report_keeps_the_library_keys_and_ends_with_the_command() {
        let r = WithdrawReport {
            id: "PK-2026-0001".into(),
            record: "patches/Foo/PK-2026-0001.toml".into(),
            date: "2026-01-02".into(),
            reason: "upstream 1.2 fixes it".into(),
            fixed_in: None,
        };
        let report = Authored::new("withdraw", &r);
        assert_eq!(
            keys(&report),
            ["id", "record", "date", "reason", "fixed_in", "command"]
        );
        assert_eq!(
            text(&report),
            "withdrew PK-2026-0001 on 2026-01-02: upstream 1.2 fixes it\n  \
             patches/Foo/PK-2026-0001.toml\n"
        );
        assert_eq!(report.exit_code(), 0);
    }

    #[test]
    fn lint_appends_ok_then_the_command_and_fails_on_an_error_finding() {
        use patchkit::authoring::lint::{Finding as LintFinding, Level};
        let mut r = LintReport {
            source: "patches".into(),
            valid_records: 1,
            records: 1,
            findings: Vec::new(),
            tarballs: 0,
            results: Vec::new(),
            written: Vec::new(),
        };
        let expected = [
            "source",
            "valid_records",
            "records",
            "findings",
            "tarballs",
            "results",
            "written",
            "ok",
            "command",
        ];
        assert_eq!(keys(&Lint::new(&r)), expected);
        assert_eq!(Lint::new(&r).exit_code(), 0);
        r.findings.push(LintFinding {
            level: Level::Error,
            file: "Foo/PK-2026-0001.toml".into(),
            message: "the title is still the placeholder".into(),
            hint: None,
        });
        let report = Lint::new(&r);
        assert_eq!(report.exit_code(), 1);
        assert_eq!(
            text(&report),
            "error: Foo/PK-2026-0001.toml: the title is still the placeholder\n\
             patches: 1 of 1 records valid, 1 error, 0 warnings\n"
        );
    }

    #[test]
    fn update_names_every_failure_and_exits_with_the_first() {
        let failures = vec![
            Error::Usage("first".into()),
            Error::State(patchkit::state::Error::io(
                "read",
                Path::new("x"),
                io::Error::other("second"),
            )),
        ];
        let report = Updated::new(Vec::new(), failures, false);
        assert_eq!(keys(&report), ["command", "ok", "repositories"]);
        assert_eq!(report.exit_code(), 2);
        let lines = report.diagnostics(false);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], Diagnostic::Error("first".into()));
        // Every repository failed: the text is one empty line, as before.
        assert_eq!(text(&report), "\n");
    }

    #[test]
    fn audit_notes_go_to_stderr_only_with_json_and_unscannable_paths_exit_2() {
        let origin = Origin::Unsigned {
            dir: "patches".into(),
        };
        let errors = vec![PathError {
            path: "/nowhere".into(),
            reason: "No such file or directory".into(),
        }];
        let report = Audit::new(
            vec![&origin],
            Vec::new(),
            Vec::new(),
            Summary::default(),
            Vec::new(),
            errors,
        );
        let doc = serde_json::to_value(&report).unwrap();
        assert_eq!(doc["ok"], false);
        assert_eq!(doc["errors"][0]["path"], "/nowhere");
        assert_eq!(
            keys(&report),
            [
                "command",
                "repository",
                "ok",
                "fail_on",
                "failing",
                "summary",
                "dists",
                "errors"
            ]
        );
        assert_eq!(
            report.diagnostics(true),
            [Diagnostic::Error(
                "/nowhere: No such file or directory".into()
            )]
        );
        assert_eq!(report.exit_code(), 2);
    }
}
