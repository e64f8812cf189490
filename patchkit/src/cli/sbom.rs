//! `sbom`: a CycloneDX document for the distributions in each PATH.

use std::path::PathBuf;

use clap::Args;

use super::{load_catalog, output, Context, RepoArgs};
use patchkit::error::Error;
use patchkit::sbom::{self, SpecVersion, Vex};

/// Arguments of `sbom`.
#[derive(Debug, Args)]
pub(crate) struct SbomArgs {
    /// Repository options. The repository supplies each patch's kind and
    /// references; without one configured, patches are described from the
    /// record the distribution carries (type `unofficial`).
    #[command(flatten)]
    pub(crate) repo: RepoArgs,

    /// CycloneDX specification version: 1.6 or 1.5.
    #[arg(long, value_name = "VERSION", default_value = "1.6")]
    pub(crate) spec: SpecVersion,

    /// Add CycloneDX VEX `vulnerabilities`: per CVE/GHSA id and
    /// distribution, `resolved_with_pedigree` (a verified patch it carries
    /// fixes it), `resolved` (fixed by other means, re-checked against the
    /// content), `exploitable` (a published patch for it is MISSING) or
    /// `in_triage` (the patch it carries was withdrawn, superseded, is
    /// unknown, or its files changed). Needs a repository. See
    /// docs/auditing.md.
    #[arg(long)]
    pub(crate) vex: bool,

    /// Distribution tarballs, unpacked distribution directories, or Perl
    /// library trees, as for `audit`.
    #[arg(value_name = "PATH", required = true)]
    pub(crate) paths: Vec<PathBuf>,
}

/// Run `sbom`: the document goes to stdout (it is JSON with or without
/// `--json`); returns the exit status.
pub(super) fn run(ctx: &Context, args: &SbomArgs) -> Result<i32, Error> {
    // The repository enriches the SBOM but is not required for it: an
    // explicit --source must load, an unconfigured default may be absent.
    // A repository that is configured but fails verification (exit 3) is
    // never silently skipped.
    let catalog = match load_catalog(ctx, &args.repo) {
        Ok(c) => Some(c),
        // VEX without the repository would call every MISSING patch
        // absent from the document: refuse rather than under-report.
        Err(e @ Error::Signed(patchkit::client::Error::NoneConfigured)) if args.vex => {
            return Err(Error::Usage(format!(
                "--vex needs a repository to know which patches are missing ({e}); \
                 add one with `patchkit repo add` or pass --source DIR"
            )))
        }
        Err(e @ Error::Signed(patchkit::client::Error::NoneConfigured))
            if args.repo.source.is_none() =>
        {
            output::warn(&format!(
                "describing patches from the records alone (no repository: {e})"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    let limits = ctx.config.archive.clone();
    let scanned = patchkit::audit::scan_paths(&args.paths, &limits, catalog.as_ref());
    let mut dists = Vec::new();
    let mut errors = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for r in scanned {
        match r {
            Ok(s) => {
                warnings.extend(s.warnings);
                if !s.unattributed.is_empty() {
                    warnings.push(format!(
                        "{}: {} module file{} that no distribution accounts for (no packlist, \
                         no install metadata, content the repository does not know), left out: {}",
                        s.target.display(),
                        s.unattributed.len(),
                        if s.unattributed.len() == 1 { "" } else { "s" },
                        first_few(&s.unattributed)
                    ));
                }
                dists.extend(s.dists);
            }
            Err(e) => errors.push(e),
        }
    }
    warnings.extend(dists.iter().flat_map(|d| {
        d.problems
            .iter()
            .map(move |p| format!("{}: {p}", d.location))
    }));
    // An empty component list must never pass silently: a library whose
    // dists left no install metadata, or a wrong path, would otherwise give
    // a valid-looking SBOM that vouches for nothing.
    let vex = if args.vex { Vex::Yes } else { Vex::No };
    let bom = sbom::build_with(&dists, catalog.as_ref(), args.spec, vex);
    warnings.extend(bom.warnings);
    let no_component = bom
        .document
        .get("components")
        .and_then(|c| c.as_array())
        .is_none_or(|c| c.is_empty());
    if no_component {
        warnings.push(format!(
            "no distribution found in {}: the SBOM lists no component",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    output::emit(ctx, &output::Sbom::new(&bom.document, warnings, errors))
}

/// The first few module paths of a list, for a one-line warning.
fn first_few(files: &[patchkit::audit::library::InstalledFile]) -> String {
    let mut names: Vec<String> = files.iter().take(5).map(|f| f.rel.clone()).collect();
    if files.len() > 5 {
        names.push(format!("and {} more", files.len() - 5));
    }
    names.join(", ")
}
