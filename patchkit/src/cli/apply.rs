//! `check` and `apply`: many targets in one call, processed in parallel,
//! reported in the order given.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use super::{load_catalog, output, Context, TargetArgs};
use patchkit::apply::{self, Mode, Options, Target, TargetResult};
use patchkit::client::Progress;
use patchkit::error::Error;
use patchkit::patch::ApplyOptions;
use patchkit::state::log::{self, LogEntry};

/// Refuses, before anything is read or written, what `-o DIR` cannot do
/// faithfully: a directory target (it is patched in place; `-o` would be
/// silently ignored), and two targets that would be written under the same
/// file name (one would overwrite the other, whichever finished last).
fn check_outputs(targets: &[Target], dir: &Path) -> Result<(), Error> {
    if let Some(t) = targets.iter().find(|t| matches!(t, Target::Dir(_))) {
        return Err(Error::Usage(format!(
            "{}: -o DIR writes patched tarballs, but this target is a directory, which apply \
             patches in place: run it without -o",
            t.path().display()
        )));
    }
    let mut seen: BTreeMap<String, &Path> = BTreeMap::new();
    for t in targets {
        let name = t.file_name();
        if let Some(first) = seen.insert(name.clone(), t.path()) {
            return Err(Error::Usage(format!(
                "{} and {} would both be written as {}: refusing before writing anything",
                first.display(),
                t.path().display(),
                dir.join(&name).display()
            )));
        }
    }
    Ok(())
}

/// Run `check` (mode Check) or `apply` (mode Apply).
pub(super) fn run(
    ctx: &Context,
    args: &TargetArgs,
    out: Option<&Path>,
    mode: Mode,
) -> Result<i32, Error> {
    let targets: Vec<Target> = args.targets.iter().map(|p| Target::classify(p)).collect();
    if let (Mode::Apply, Some(dir)) = (mode, out) {
        check_outputs(&targets, dir)?;
    }
    let catalog = load_catalog(ctx, &args.repo)?;
    if mode == Mode::Apply
        && out.is_none()
        && targets.iter().any(|t| matches!(t, Target::Tarball(_)))
    {
        return Err(Error::Usage(
            "apply needs -o DIR to write patched tarballs (directories are patched in place)"
                .into(),
        ));
    }
    let opts = Options {
        mode,
        engine: ApplyOptions {
            fuzz: args.fuzz(&ctx.config),
        },
        out_dir: out.map(Path::to_path_buf),
        skip: args.skip(&ctx.config),
        on_failure: args.on_failure(&ctx.config),
        limits: ctx.config.archive.clone(),
    };
    // Targets are independent: patch them in parallel, report in order.
    let bar = super::progress::Bar::new(ctx);
    bar.start(
        match mode {
            Mode::Check => "checking",
            Mode::Apply => "applying",
        },
        targets.len() as u64,
    );
    let reports: Vec<apply::TargetReport> = targets
        .par_iter()
        .map(|t| {
            let r = apply::run(t, &catalog, &opts);
            bar.advance(1);
            r
        })
        .collect();
    bar.finish();

    let mut log_failures = Vec::new();
    if mode == Mode::Apply {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let host = super::log::host_name();
        // The log names files absolutely: it is read later, from anywhere.
        let absolute = |p: &str| {
            std::path::absolute(p).map_or_else(|_| p.to_string(), |a| a.display().to_string())
        };
        for r in &reports {
            let entry = LogEntry {
                time: now.clone(),
                target: absolute(&r.target),
                host: host.clone(),
                dist: match (&r.dist, &r.version) {
                    (Some(d), Some(v)) => format!("{d}-{v}"),
                    _ => String::new(),
                },
                input_sha256: r.input_sha256.clone(),
                output_sha256: r.output_sha256.clone(),
                tree_digest: r.tree_digest.clone(),
                applied: r
                    .patches
                    .iter()
                    .filter(|p| p.status == apply::PatchStatus::Applied)
                    .map(|p| p.id.clone())
                    .collect(),
                already_applied: r
                    .patches
                    .iter()
                    .filter(|p| p.status == apply::PatchStatus::AlreadyApplied)
                    .map(|p| p.id.clone())
                    .collect(),
                result: match r.result {
                    TargetResult::Patched => "applied",
                    TargetResult::Failed => "failed",
                    TargetResult::Partial => "partial",
                    _ => "unchanged",
                }
                .into(),
                output: r.output.as_deref().map(absolute),
                repository: catalog.origins_text(),
                error: r.error.clone(),
            };
            if let Err(e) = log::append(&ctx.home.log_path(), &entry) {
                log_failures.push(e.to_string());
            }
        }
    }
    output::emit(
        ctx,
        &output::Targets::new(mode, &catalog, &reports, log_failures),
    )
}
