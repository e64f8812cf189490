//! `check` and `apply`: many targets in one call, processed in parallel,
//! reported in the order given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{load_catalog, output, Context, TargetArgs};
use patchkit::apply::{self, Mode, Options, Target, TargetResult};
use patchkit::client::Progress;
use patchkit::error::Error;
use patchkit::patch::ApplyOptions;
use patchkit::state::log::{self, LogEntry};

/// A target and where its output goes below `-o DIR`: its file name, or
/// with `--recursive` its path below the tree it was found in.
struct Planned {
    target: Target,
    below: PathBuf,
}

/// The targets of one call, in the order given: each TARGET, or with
/// `--recursive` every distribution archive below a directory TARGET, in
/// sorted order.
fn plan(args: &TargetArgs) -> Result<Vec<Planned>, Error> {
    let mut planned = Vec::new();
    for path in &args.targets {
        if !(args.recursive && path.is_dir()) {
            let target = Target::classify(path);
            let below = PathBuf::from(target.file_name());
            planned.push(Planned { target, below });
            continue;
        }
        let (files, _links) = patchkit::mirror::tree::walk(path)?;
        let before = planned.len();
        for rel in files {
            let name = rel.rsplit('/').next().unwrap_or(&rel);
            if patchkit::dist::is_archive_name(name) {
                planned.push(Planned {
                    target: Target::Tarball(path.join(&rel)),
                    below: PathBuf::from(rel),
                });
            }
        }
        if planned.len() == before {
            return Err(Error::Usage(format!(
                "{}: --recursive found no distribution archive below it (.tar.gz, .tgz, \
                 .tar.bz2, .tbz, .tar.xz, .txz, .tar, .zip)",
                path.display()
            )));
        }
    }
    Ok(planned)
}

/// Refuses, before anything is read or written, what `-o DIR` cannot do
/// faithfully: a directory target (it is patched in place; `-o` would be
/// silently ignored), and two targets that would be written to the same
/// path (one would overwrite the other, whichever finished last).
fn check_outputs(targets: &[Planned], dir: &Path) -> Result<(), Error> {
    if let Some(p) = targets.iter().find(|p| matches!(p.target, Target::Dir(_))) {
        return Err(Error::Usage(format!(
            "{}: -o DIR writes patched tarballs, but this target is a directory, which apply \
             patches in place: run it without -o (or with --recursive to patch the archives \
             below it)",
            p.target.path().display()
        )));
    }
    let mut seen: BTreeMap<&Path, &Path> = BTreeMap::new();
    for p in targets {
        if let Some(first) = seen.insert(&p.below, p.target.path()) {
            return Err(Error::Usage(format!(
                "{} and {} would both be written as {}: refusing before writing anything",
                first.display(),
                p.target.path().display(),
                dir.join(&p.below).display()
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
    let planned = plan(args)?;
    if let (Mode::Apply, Some(dir)) = (mode, out) {
        check_outputs(&planned, dir)?;
    }
    let targets: Vec<&Target> = planned.iter().map(|p| &p.target).collect();
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
    let reports: Vec<apply::TargetReport> = planned
        .par_iter()
        .map(|p| {
            // A target found below a tree is written at its place below DIR.
            let nested = p.below.parent().filter(|d| !d.as_os_str().is_empty());
            let r = match (nested, &opts.out_dir) {
                (Some(sub), Some(dir)) => {
                    let opts = Options {
                        out_dir: Some(dir.join(sub)),
                        ..opts.clone()
                    };
                    apply::run(&p.target, &catalog, &opts)
                }
                _ => apply::run(&p.target, &catalog, &opts),
            };
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
