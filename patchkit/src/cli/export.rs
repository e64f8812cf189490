//! `export`: files for other tools. `export distroprefs` and `export quilt`
//! write files for CPAN.pm and for a Debian package's `debian/patches`
//! (made by `patchkit::export`); `export csaf` writes one CSAF 2.0 advisory
//! per patch record (`patchkit::authoring::csaf`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{load_catalog, output, today, Context, RepoArgs};
use patchkit::authoring::csaf::{self, Publisher};
use patchkit::catalog::Origin;
use patchkit::error::Error;
use patchkit::export::{self, distroprefs::DistroprefsExport, quilt::QuiltExport};
use patchkit::patch::{ApplyOptions, Fuzz};

/// The exports.
#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// CPAN.pm distroprefs for each TARGET release, so that CPAN.pm applies
    /// the verified patches itself.
    ///
    /// Writes DIR/patchkit-<Dist-Ver>.yml (`match: distribution:` on the
    /// release's file name, `patches:`) and the patches under
    /// DIR/patchkit/<Dist-Ver>/, the last one adding the record `apply`
    /// leaves. Set CPAN.pm's prefs_dir and patches_dir to DIR. TARGETs are
    /// tarballs, or directories searched for tarballs (a CPAN mirror).
    Distroprefs(DistroprefsArgs),
    /// A quilt series for debian/patches: the matching patches of TARGET
    /// with DEP-3 headers, then a patch adding the record `apply` leaves;
    /// their names are appended to DIR/series.
    Quilt(QuiltArgs),
    /// Write one CSAF 2.0 security advisory per patch record.
    ///
    /// Each advisory (OUT/<id>.json, named as CSAF 2.0 section 5.1 says)
    /// has the distribution's affected range as a product (purl
    /// pkg:cpan/Dist, range in vers:cpan/ form), each CVE as a
    /// vulnerability, and the patch as its remediation: `vendor_fix` for an
    /// upstream change (kind cherry-pick or backport), `workaround` for the
    /// security team's own fix. Withdrawn records are not exported. See
    /// docs/publishing.md.
    Csaf {
        /// The repository source tree.
        #[arg(long, value_name = "DIR", default_value = "patches")]
        source: PathBuf,
        /// Where to write the advisories (created).
        #[arg(short = 'o', long = "out", value_name = "DIR", default_value = "csaf")]
        out: PathBuf,
        /// The publisher's name (CSAF document.publisher.name).
        #[arg(long, value_name = "NAME", default_value = "CPAN Security Group")]
        publisher: String,
        /// The publisher's namespace URL (document.publisher.namespace).
        #[arg(
            long,
            value_name = "URL",
            default_value = "https://security.metacpan.org"
        )]
        namespace: String,
    },
}

/// Arguments of `export distroprefs`.
#[derive(Debug, Args)]
pub(crate) struct DistroprefsArgs {
    /// Repository options.
    #[command(flatten)]
    pub(crate) repo: RepoArgs,
    /// Where the distroprefs and patches go.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Release tarballs, or directories holding them.
    #[arg(value_name = "TARGET", required = true)]
    pub(crate) targets: Vec<PathBuf>,
}

/// Arguments of `export quilt`.
#[derive(Debug, Args)]
pub(crate) struct QuiltArgs {
    /// Repository options.
    #[command(flatten)]
    pub(crate) repo: RepoArgs,
    /// The release tarball (the package's orig tarball).
    #[arg(value_name = "TARGET")]
    pub(crate) target: PathBuf,
    /// The quilt patch directory (e.g. debian/patches).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

/// What `export distroprefs` wrote.
#[derive(Debug, Serialize)]
struct Distroprefs {
    dir: String,
    repository: Origin,
    releases: Vec<DistroprefsExport>,
    /// Tarballs with nothing to patch.
    unpatched: Vec<String>,
}

impl output::Report for Distroprefs {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "distroprefs for {} release(s) in {} ({}); set prefs_dir and patches_dir to it",
            self.releases.len(),
            self.dir,
            self.repository
        )?;
        for r in &self.releases {
            writeln!(out, "  {}: {} patch file(s)", r.file, r.patches.len())?;
        }
        for u in &self.unpatched {
            writeln!(out, "  {u}: nothing to patch")?;
        }
        Ok(())
    }
}

/// What `export quilt` wrote.
#[derive(Debug, Serialize)]
struct Quilt {
    dir: String,
    repository: Origin,
    #[serde(flatten)]
    export: QuiltExport,
}

impl output::Report for Quilt {
    fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{}: {} patch file(s) in {} ({}), {} line(s) added to series",
            self.export.target,
            self.export.patches.len(),
            self.dir,
            self.repository,
            self.export.series_added.len()
        )?;
        for p in &self.export.patches {
            writeln!(out, "  {p}")?;
        }
        Ok(())
    }
}

/// Tarballs named by `targets`: files as given, directories searched.
fn tarballs(targets: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let (p, ft) = (e.path(), e.file_type());
            match ft {
                Ok(t) if t.is_dir() => walk(&p, out),
                Ok(t) if t.is_file() => {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.ends_with(".tar.gz") || n.ends_with(".tgz") || n.ends_with(".tar.bz2") {
                        out.push(p);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for t in targets {
        if t.is_dir() {
            let mut found = Vec::new();
            walk(t, &mut found);
            found.sort();
            out.extend(found);
        } else {
            out.push(t.clone());
        }
    }
    out
}

pub(super) fn run(ctx: &Context, cmd: &ExportCommand) -> Result<i32, Error> {
    let engine = ApplyOptions { fuzz: Fuzz::None };
    match cmd {
        ExportCommand::Distroprefs(args) => {
            let catalog = load_catalog(ctx, &args.repo)?;
            let origin = catalog.origin.to_string();
            let mut report = Distroprefs {
                dir: args.dir.display().to_string(),
                repository: catalog.origin.clone(),
                releases: Vec::new(),
                unpatched: Vec::new(),
            };
            for t in tarballs(&args.targets) {
                let series = export::series(&t, &catalog, &engine)?;
                match export::distroprefs::export(&series, &origin, &args.dir)? {
                    Some(r) => report.releases.push(r),
                    None => report.unpatched.push(series.file_name.clone()),
                }
            }
            output::emit(ctx, &report)
        }
        ExportCommand::Csaf {
            source,
            out,
            publisher,
            namespace,
        } => {
            if !(namespace.starts_with("https://") || namespace.starts_with("http://")) {
                return Err(Error::Usage(format!(
                    "--namespace {namespace:?} is not a URL (CSAF wants the publisher's web address)"
                )));
            }
            let publisher = Publisher {
                name: publisher.clone(),
                namespace: namespace.clone(),
            };
            let report = csaf::export(source, out, &publisher, today())?;
            output::emit(ctx, &output::Authored::new("export csaf", &report))
        }
        ExportCommand::Quilt(args) => {
            let catalog = load_catalog(ctx, &args.repo)?;
            let series = export::series(&args.target, &catalog, &engine)?;
            let export = export::quilt::export(&series, &args.dir)?;
            output::emit(
                ctx,
                &Quilt {
                    dir: args.dir.display().to_string(),
                    repository: catalog.origin.clone(),
                    export,
                },
            )
        }
    }
}
