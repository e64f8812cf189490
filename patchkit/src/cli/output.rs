//! Rendering reports as human text or as one `--json` document. The only
//! place that writes to stdout and stderr (besides main.rs's last error).

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::apply::{Mode, PatchStatus, TargetReport, TargetResult};
use crate::repo::catalog::Origin;

/// A warning on stderr.
pub fn warn(message: &str) {
    eprintln!("warning: {message}");
}

/// The loud notice that an unsigned source tree is in use (stderr, every
/// time, like tuftool's --allow-expired-repo warning).
pub fn unsigned_banner(dir: &Path) {
    eprintln!(
        "WARNING: using the UNSIGNED patch source {}: nothing is verified. \
         This is for patch authors; builds should use the signed repository.",
        dir.display()
    );
}

fn status_word(s: PatchStatus) -> &'static str {
    match s {
        PatchStatus::WouldApply => "would apply",
        PatchStatus::Applied => "applied",
        PatchStatus::AlreadyApplied => "already applied",
    }
}

/// Print the reports of `check`/`apply`.
pub fn targets(
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
        }
    }
    if json_out {
        let doc = json!({
            "command": match mode { Mode::Check => "check", Mode::Apply => "apply" },
            "repository": origin,
            "ok": reports.iter().all(|r| r.exit_code == 0),
            "targets": reports,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return out.flush();
    }
    for r in reports {
        let name = Path::new(&r.target)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| r.target.clone());
        let what = match (&r.dist, &r.version) {
            (Some(d), Some(v)) => format!("{d} {v}"),
            _ => "?".into(),
        };
        let applied = r
            .patches
            .iter()
            .filter(|p| p.status != PatchStatus::AlreadyApplied)
            .count();
        let summary = match r.result {
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

/// Print one `--json` document: `{"command": NAME, ...report}`.
fn json_doc(command: &str, report: &impl serde::Serialize) -> std::io::Result<()> {
    let mut doc = serde_json::to_value(report).map_err(std::io::Error::other)?;
    if let serde_json::Value::Object(map) = &mut doc {
        map.insert("command".into(), json!(command));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    out.flush()
}

/// Print what `new` wrote.
pub fn new_record(
    json_out: bool,
    r: &crate::repo::authoring::scaffold::NewReport,
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
pub fn diff_written(
    json_out: bool,
    r: &crate::repo::authoring::diff::DiffReport,
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
            crate::repo::authoring::diff::FileChange::Modified => "modified",
            crate::repo::authoring::diff::FileChange::ModeChanged => "mode",
            crate::repo::authoring::diff::FileChange::Created => "created",
            crate::repo::authoring::diff::FileChange::Deleted => "deleted",
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
pub fn imported(
    json_out: bool,
    r: &crate::repo::authoring::import::ImportReport,
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
pub fn lint(json_out: bool, r: &crate::repo::authoring::lint::LintReport) -> std::io::Result<()> {
    use crate::repo::authoring::lint::{CheckStatus, Level};
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
pub fn withdrawn(
    json_out: bool,
    r: &crate::repo::authoring::withdraw::WithdrawReport,
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
