//! `audit`: what each PATH carries, judged against the repository, with
//! `--fail-on` turning chosen findings into exit status 1 for CI gates.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{load_catalog, output, Context, RepoArgs};
use patchkit::audit::report::{self, DistAudit, Finding};
use patchkit::audit::scan::PathError;
use patchkit::error::Error;

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Repository options.
    #[command(flatten)]
    pub(crate) repo: RepoArgs,

    /// Exit with status 1 when any of these findings is present
    /// (comma-separated; repeatable). Without it, the config's
    /// audit.fail_on (`patchkit config`); when that is empty too, findings
    /// are reported and the exit status is 0.
    #[arg(long, value_name = "FINDING,...", value_delimiter = ',')]
    pub(crate) fail_on: Vec<FailOn>,

    /// Distribution tarballs, unpacked distribution directories, or Perl
    /// library trees (a cpanm/Carton `local/`, an INSTALL_BASE, a site
    /// library, CPAN.pm's `lib/perl5`). The kind is detected. In a library,
    /// dists are found by cpanm's `.meta/`, by `.packlist` and
    /// `perllocal.pod`, and by their modules' content; a module none of
    /// them accounts for is reported as unknown.
    #[arg(value_name = "PATH", required = true)]
    pub(crate) paths: Vec<PathBuf>,
}

/// A finding `--fail-on` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    /// A published patch whose range holds the version is not carried.
    Missing,
    /// A carried patch has been withdrawn by the repository.
    Withdrawn,
    /// A carried patch has a newer published version.
    Superseded,
    /// A carried patch is not in the repository, or a module file of a
    /// library that no distribution accounts for.
    Unknown,
    /// A patched file no longer has its recorded content.
    Tampered,
    /// A distribution's record or metadata could not be read.
    Damaged,
}

impl From<FailOn> for Finding {
    fn from(f: FailOn) -> Finding {
        match f {
            FailOn::Missing => Finding::Missing,
            FailOn::Withdrawn => Finding::Withdrawn,
            FailOn::Superseded => Finding::Superseded,
            FailOn::Unknown => Finding::Unknown,
            FailOn::Tampered => Finding::Tampered,
            FailOn::Damaged => Finding::Damaged,
        }
    }
}

/// Run `audit`; returns the exit status.
pub(super) fn run(ctx: &Context, args: &AuditArgs) -> Result<i32, Error> {
    let catalog = load_catalog(ctx, &args.repo)?;
    let limits = ctx.config.archive.clone();
    let scanned = patchkit::audit::scan_paths(&args.paths, &limits, Some(&catalog));
    let mut errors: Vec<PathError> = Vec::new();
    let mut audits: Vec<DistAudit> = Vec::new();
    let mut libraries: Vec<output::LibraryNotes> = Vec::new();
    for r in scanned {
        match r {
            Ok(s) => {
                audits.extend(
                    s.dists
                        .par_iter()
                        .map(|d| report::audit(d, &catalog))
                        .collect::<Vec<_>>(),
                );
                if s.library.is_some() {
                    libraries.push(output::LibraryNotes {
                        target: s.target.display().to_string(),
                        library: s.library_display.clone(),
                        unattributed: s
                            .unattributed
                            .iter()
                            .map(|f| output::Unattributed {
                                path: f.rel.clone(),
                            })
                            .collect(),
                        warnings: s.warnings,
                    });
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let unattributed: usize = libraries.iter().map(|l| l.unattributed.len()).sum();
    // `--fail-on`, else the config's `audit.fail_on` (names it checked
    // against the same list: config::FINDINGS).
    let fail_on: Vec<Finding> = if args.fail_on.is_empty() {
        ctx.config
            .fail_on
            .iter()
            .filter_map(|name| FailOn::from_str(name, true).ok())
            .map(Finding::from)
            .collect()
    } else {
        args.fail_on.iter().map(|f| Finding::from(*f)).collect()
    };
    let failing: Vec<Finding> = Finding::ALL
        .into_iter()
        .filter(|f| {
            fail_on.contains(f)
                && (audits.iter().any(|a| a.findings.contains(f))
                    || (*f == Finding::Unknown && unattributed > 0))
        })
        .collect();
    let mut summary = report::summarize(&audits);
    if !libraries.is_empty() {
        summary.unattributed = Some(unattributed);
    }
    output::emit(
        ctx,
        &output::Audit::new(catalog.origins(), fail_on, failing, summary, audits, errors)
            .with_libraries(libraries),
    )
}
