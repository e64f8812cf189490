//! Rendering reports as human text or as one `--json` document. The only
//! place that writes to stdout and stderr (besides main.rs's last error).

use std::io::Write;
use std::path::Path;

use serde_json::json;

use patchkit::apply::{Mode, PatchStatus, TargetReport, TargetResult};
use patchkit::catalog::Origin;

/// A warning on stderr.
pub(crate) fn warn(message: &str) {
    eprintln!("warning: {message}");
}

/// An error line on stderr (for failures that do not end the command).
pub(crate) fn error(message: &str) {
    eprintln!("error: {message}");
}

/// A notice on stderr (freshness of verified data, progress).
pub(crate) fn notice(message: &str) {
    eprintln!("{message}");
}

/// Print exactly one JSON document on stdout (the `--json` contract): the
/// one JSON writer of every command.
fn write_json(doc: &impl serde::Serialize) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    serde_json::to_writer_pretty(&mut out, doc)?;
    writeln!(out)?;
    out.flush()
}

/// Print a command's report: `doc` as one JSON document with `--json`,
/// else `text` (one line or more) on stdout.
pub(crate) fn report(json_out: bool, doc: &serde_json::Value, text: &str) -> std::io::Result<()> {
    if json_out {
        return write_json(doc);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    writeln!(out)?;
    out.flush()
}

fn status_word(s: PatchStatus) -> &'static str {
    match s {
        PatchStatus::WouldApply => "would apply",
        PatchStatus::Applied => "applied",
        PatchStatus::AlreadyApplied => "already applied",
    }
}

/// Print the reports of `check`/`apply`.
pub(crate) fn targets(
    json_out: bool,
    mode: Mode,
    origin: &Origin,
    reports: &[TargetReport],
) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for r in reports {
        for w in &r.warnings {
            warn(w);
        }
        if let Some(e) = &r.error {
            eprintln!("error: {e}");
            if !r.expected_context.is_empty() {
                eprintln!("  the hunk expected:");
                for line in &r.expected_context {
                    eprintln!("  | {line}");
                }
            }
        }
    }
    if json_out {
        let doc = json!({
            "command": match mode { Mode::Check => "check", Mode::Apply => "apply" },
            "repository": origin,
            "ok": reports.iter().all(|r| r.exit_code == 0),
            "targets": reports,
        });
        return write_json(&doc);
    }
    for r in reports {
        let name = patchkit::dist::target_name(Path::new(&r.target));
        let what = match (&r.dist, &r.version) {
            (Some(d), Some(v)) => format!("{d} {v}"),
            _ => "not identified".into(),
        };
        let applied = r
            .patches
            .iter()
            .filter(|p| p.status != PatchStatus::AlreadyApplied)
            .count();
        let summary = match r.result {
            TargetResult::Failed if mode == Mode::Check => "FAILED".to_string(),
            TargetResult::Failed => "FAILED (nothing written)".to_string(),
            TargetResult::NothingMatched => "no patches match".to_string(),
            TargetResult::AlreadyPatched => "already carries every matching patch".to_string(),
            TargetResult::Patched => format!(
                "{applied} patch{} {}",
                if applied == 1 { "" } else { "es" },
                if mode == Mode::Check {
                    "would apply"
                } else {
                    "applied"
                }
            ),
        };
        let dest = match (&r.output, mode, r.result) {
            (Some(o), Mode::Apply, TargetResult::Failed) | (Some(o), Mode::Check, _) => {
                let _ = o;
                String::new()
            }
            (Some(o), Mode::Apply, _) => format!(" -> {o}"),
            _ => String::new(),
        };
        writeln!(out, "{name}: {what}: {summary}{dest}")?;
        for p in &r.patches {
            let aliases = if p.aliases.is_empty() {
                String::new()
            } else {
                format!(" [{}]", p.aliases.join(", "))
            };
            writeln!(
                out,
                "  {:<20} {:<16} {}{aliases}",
                p.id,
                status_word(p.status),
                p.title
            )?;
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
                "  {:<20} {:<16} {} ({})",
                w.id, "withdrawn", w.reason, w.date
            )?;
        }
    }
    out.flush()
}

// ---------------------------------------------------------------------------
// audit, sbom, log

/// The first 12 hex digits of a digest, for tables.
fn short(sha: Option<&str>) -> String {
    match sha {
        Some(s) => s.chars().take(12).collect(),
        None => "absent".into(),
    }
}

/// Print the audit: a table, or one JSON document.
pub(crate) fn audit(
    json_out: bool,
    origin: &Origin,
    audits: &[patchkit::audit::report::DistAudit],
    errors: &[patchkit::audit::scan::PathError],
    summary: &patchkit::audit::report::Summary,
    fail_on: &[patchkit::audit::report::Finding],
    failing: &[patchkit::audit::report::Finding],
) -> std::io::Result<()> {
    use patchkit::audit::report::PatchStatus as S;
    use patchkit::audit::scan::DistKind;

    for e in errors {
        eprintln!("error: {e}");
    }
    // Buffered: a library audit prints thousands of lines, and a locked
    // stdout alone flushes each one.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json_out {
        for a in audits {
            for w in &a.warnings {
                warn(&format!("{}: {w}", a.location));
            }
        }
        let doc = json!({
            "command": "audit",
            "repository": origin,
            "ok": errors.is_empty() && failing.is_empty(),
            "fail_on": fail_on,
            "failing": failing,
            "summary": summary,
            "dists": audits,
            "errors": errors.iter().map(|e| json!({"path": e.path, "reason": e.reason}))
                .collect::<Vec<_>>(),
        });
        return write_json(&doc);
    }
    let mut last_target: Option<&str> = None;
    for a in audits {
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
        let place = match a.kind {
            DistKind::Installed => {
                let folder = std::path::Path::new(&a.location)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("  installed, .meta/{folder}")
            }
            DistKind::Tarball => format!("{}: tarball", a.target),
            DistKind::Directory => format!("{}: directory", a.target),
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
            let aliases = if p.aliases.is_empty() {
                String::new()
            } else {
                format!(" [{}]", p.aliases.join(", "))
            };
            let note = match p.status {
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
                "{indent}{:<20} {:<11} {}{aliases}{note}",
                p.id,
                p.status.as_str(),
                p.title.as_deref().unwrap_or("")
            )?;
        }
        for m in &a.missing {
            let aliases = if m.aliases.is_empty() {
                String::new()
            } else {
                format!(" [{}]", m.aliases.join(", "))
            };
            writeln!(
                out,
                "{indent}{:<20} {:<11} {}{aliases}",
                m.id, "MISSING", m.title
            )?;
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
    writeln!(
        out,
        "{} distribution{} audited against {origin}: {} patched; {} genuine, {} superseded, \
         {} withdrawn, {} unknown; {} tampered file{}; {} missing patch{}; {} damaged",
        summary.dists,
        if summary.dists == 1 { "" } else { "s" },
        summary.patched,
        summary.genuine,
        summary.superseded,
        summary.withdrawn,
        summary.unknown,
        summary.tampered,
        if summary.tampered == 1 { "" } else { "s" },
        summary.missing,
        if summary.missing == 1 { "" } else { "es" },
        summary.damaged
    )?;
    if !failing.is_empty() {
        writeln!(
            out,
            "failing because of --fail-on: {}",
            failing
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    out.flush()
}

/// Print an SBOM document (always JSON) and its warnings.
pub(crate) fn sbom(
    document: &serde_json::Value,
    warnings: &[String],
    errors: &[patchkit::audit::scan::PathError],
) -> std::io::Result<()> {
    for w in warnings {
        warn(w);
    }
    for e in errors {
        eprintln!("error: {e}");
    }
    write_json(document)
}

/// Print the application log as a table or one JSON document; damaged
/// lines are named on stderr either way.
pub(crate) fn log(
    json_out: bool,
    path: &Path,
    contents: &patchkit::state::log::LogContents,
) -> std::io::Result<()> {
    for n in &contents.damaged_lines {
        warn(&format!(
            "{} line {n} is damaged (an interrupted write or a hand edit) and was skipped; \
             the other entries are intact",
            path.display()
        ));
    }
    // Buffered: a library audit prints thousands of lines, and a locked
    // stdout alone flushes each one.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json_out {
        let doc = json!({
            "command": "log",
            "log": path.display().to_string(),
            "entries": contents.entries,
            "damaged_lines": contents.damaged_lines,
        });
        return write_json(&doc);
    }
    if contents.entries.is_empty() {
        writeln!(out, "no apply recorded in {}", path.display())?;
        return out.flush();
    }
    writeln!(
        out,
        "{:<20}  {:<9}  {:<24}  {:<24}  TARGET",
        "TIME", "RESULT", "DIST", "APPLIED"
    )?;
    for e in &contents.entries {
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
        {
            let mut line = format!("{:<20}  {}", "", digests.join("  "));
            if let Some(err) = &e.error {
                line.push_str(&format!("  error: {err}"));
            }
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    out.flush()
}

/// Print one `--json` document: `{"command": NAME, ...report}`.
fn json_doc(command: &str, report: &impl serde::Serialize) -> std::io::Result<()> {
    let mut doc = serde_json::to_value(report).map_err(std::io::Error::other)?;
    if let serde_json::Value::Object(map) = &mut doc {
        map.insert("command".into(), json!(command));
    }
    write_json(&doc)
}

/// Print what `new` wrote.
pub(crate) fn new_record(
    json_out: bool,
    r: &patchkit::authoring::scaffold::NewReport,
) -> std::io::Result<()> {
    if json_out {
        return json_doc("new", r);
    }
    let mut out = std::io::stdout().lock();
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
    )?;
    out.flush()
}

/// Print what `diff` wrote.
pub(crate) fn diff_written(
    json_out: bool,
    r: &patchkit::authoring::diff::DiffReport,
) -> std::io::Result<()> {
    if json_out {
        return json_doc("diff", r);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} ({} file{})",
        r.patch.display(),
        r.files.len(),
        if r.files.len() == 1 { "" } else { "s" }
    )?;
    for f in &r.files {
        let word = match f.change {
            patchkit::authoring::diff::FileChange::Modified => "modified",
            patchkit::authoring::diff::FileChange::ModeChanged => "mode",
            patchkit::authoring::diff::FileChange::Created => "created",
            patchkit::authoring::diff::FileChange::Deleted => "deleted",
        };
        writeln!(out, "  {word:<9} {}", f.path)?;
    }
    if r.kept_header {
        writeln!(out, "  kept the existing patch header")?;
    }
    if !r.ignored.is_empty() {
        writeln!(out, "  ignored: {}", r.ignored.join(", "))?;
    }
    out.flush()
}

/// Print what `import` wrote.
pub(crate) fn imported(
    json_out: bool,
    r: &patchkit::authoring::import::ImportReport,
) -> std::io::Result<()> {
    if json_out {
        return json_doc("import", r);
    }
    let mut out = std::io::stdout().lock();
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
    out.flush()
}

/// Print the lint findings and the `--against` table.
pub(crate) fn lint(
    json_out: bool,
    r: &patchkit::authoring::lint::LintReport,
) -> std::io::Result<()> {
    use patchkit::authoring::lint::{CheckStatus, Level};
    if json_out {
        let mut doc = serde_json::to_value(r).map_err(std::io::Error::other)?;
        if let serde_json::Value::Object(map) = &mut doc {
            map.insert("ok".into(), json!(r.ok()));
        }
        return json_doc("lint", &doc);
    }
    let mut out = std::io::stdout().lock();
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
            let status = match row.status {
                CheckStatus::Clean => "clean".to_string(),
                CheckStatus::Offsets => {
                    format!("offsets ({})", row.detail.as_deref().unwrap_or(""))
                }
                CheckStatus::AlreadyApplied => "already applied".to_string(),
                CheckStatus::FuzzNeeded => {
                    format!("fuzz needed ({})", row.detail.as_deref().unwrap_or(""))
                }
                CheckStatus::Failed => {
                    format!("FAILED ({})", row.detail.as_deref().unwrap_or(""))
                }
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
    let failed = r.results.iter().filter(|x| x.status.is_failure()).count();
    writeln!(
        out,
        "{}: {} of {} records valid, {} error{}, {} warning{}{}",
        r.source,
        r.valid_records,
        r.records,
        errors,
        if errors == 1 { "" } else { "s" },
        r.findings.len() - errors,
        if r.findings.len() - errors == 1 {
            ""
        } else {
            "s"
        },
        if r.tarballs > 0 {
            format!(
                "; {} tarball{} checked, {} patch{} failed",
                r.tarballs,
                if r.tarballs == 1 { "" } else { "s" },
                failed,
                if failed == 1 { "" } else { "es" }
            )
        } else {
            String::new()
        }
    )?;
    for w in &r.written {
        writeln!(out, "recorded results in {}", w.display())?;
    }
    out.flush()
}

/// Print what `withdraw` wrote.
pub(crate) fn withdrawn(
    json_out: bool,
    r: &patchkit::authoring::withdraw::WithdrawReport,
) -> std::io::Result<()> {
    if json_out {
        return json_doc("withdraw", r);
    }
    let mut out = std::io::stdout().lock();
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
    writeln!(out, "  {}", r.record.display())?;
    out.flush()
}
