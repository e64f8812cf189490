//! `mirror`: a patched static copy of a CPAN mirror directory, through the
//! same `patchkit::mirror::Mirror` that `serve` answers with (so the bytes
//! are the same), written incrementally.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::serve::{expiry_of, MirrorOptions};
use super::{load_catalog, output, Context};
use patchkit::catalog::Origin;
use patchkit::error::Error;
use patchkit::mirror::tree::{mirror_tree, TreeReport};
use patchkit::mirror::{Mirror, Patches};
use patchkit::tuf::transport::FilesystemTransport;

/// Arguments of `mirror`.
#[derive(Debug, Args)]
pub(crate) struct MirrorArgs {
    /// How to patch, and with what.
    #[command(flatten)]
    pub(crate) mirror: MirrorOptions,

    /// Patch the tarballs of SRC where they are (e.g. a Carton
    /// vendor/cache); no DEST.
    #[arg(long, conflicts_with = "dest")]
    pub(crate) in_place: bool,

    /// The CPAN mirror directory to copy (authors/id/…, modules/…), or a
    /// Carton vendor/cache.
    #[arg(value_name = "SRC")]
    pub(crate) src: PathBuf,

    /// Where the patched copy goes (created if missing).
    #[arg(value_name = "DEST", required_unless_present = "in_place")]
    pub(crate) dest: Option<PathBuf>,
}

/// What `mirror` did.
#[derive(Debug, Serialize)]
struct Mirrored {
    src: String,
    dest: String,
    repository: Origin,
    ok: bool,
    #[serde(flatten)]
    report: TreeReport,
}

impl output::Report for Mirrored {
    fn diagnostics(&self, _json: bool) -> Vec<output::Diagnostic> {
        let mut d: Vec<_> = self
            .report
            .failed
            .iter()
            .map(|f| output::Diagnostic::Error(f.error.clone()))
            .collect();
        d.extend(
            self.report.skipped.iter().map(|s| {
                output::Diagnostic::Warning(format!("{s}: not a regular file, not copied"))
            }),
        );
        d
    }

    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = &self.report;
        writeln!(
            out,
            "{} -> {} ({}): {} files, {} written, {} unchanged, {} patched, {} failed",
            self.src,
            self.dest,
            self.repository,
            r.files,
            r.written.len(),
            r.unchanged,
            r.patched.len(),
            r.failed.len()
        )?;
        for p in &r.patched {
            let new = if r.written.contains(&p.path) {
                ""
            } else {
                " (unchanged)"
            };
            writeln!(out, "  patched {} [{}]{new}", p.path, p.ids.join(", "))?;
        }
        for f in &r.failed {
            writeln!(out, "  FAILED  {}", f.path)?;
        }
        Ok(())
    }

    fn exit_code(&self) -> i32 {
        i32::from(!self.ok)
    }
}

pub(super) fn run(ctx: &Context, args: &MirrorArgs) -> Result<i32, Error> {
    if !args.src.is_dir() {
        return Err(Error::Usage(format!(
            "{}: not a directory (mirror copies a CPAN mirror directory)",
            args.src.display()
        )));
    }
    let dest = match (&args.dest, args.in_place) {
        (_, true) => args.src.clone(),
        (Some(d), false) => d.clone(),
        (None, false) => return Err(Error::Usage("mirror needs DEST or --in-place".into())),
    };
    let catalog = load_catalog(ctx, &args.mirror.repo)?;
    let expires = expiry_of(&ctx.home, &args.mirror.repo, &catalog);
    let origin = catalog.origin.clone();
    let mirror = Mirror::new(
        Box::new(FilesystemTransport::new(&args.src)),
        args.mirror.cache_dir(&ctx.home),
        Patches::new(catalog, expires),
        args.mirror.options(&ctx.config),
    );
    let bar = super::progress::Bar::new(ctx);
    let report = mirror_tree(&mirror, &args.src, &dest, chrono::Utc::now(), &bar)?;
    output::emit(
        ctx,
        &Mirrored {
            src: args.src.display().to_string(),
            dest: dest.display().to_string(),
            repository: origin,
            ok: report.failed.is_empty(),
            report,
        },
    )
}
