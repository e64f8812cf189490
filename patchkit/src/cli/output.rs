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

/// An error line on stderr (for failures that do not end the command).
pub fn error(message: &str) {
    eprintln!("error: {message}");
}

/// A notice on stderr (freshness of verified data, progress).
pub fn notice(message: &str) {
    eprintln!("{message}");
}

/// Print a command's report: `doc` as one JSON document with `--json`,
/// else `text` (one line or more) on stdout.
pub fn report(json_out: bool, doc: &serde_json::Value, text: &str) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json_out {
        serde_json::to_writer_pretty(&mut out, doc)?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    writeln!(out)?;
    out.flush()
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
