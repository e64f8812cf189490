//! `export`: files for other tools. `export csaf` writes one CSAF 2.0
//! advisory per patch record (see `patchkit::authoring::csaf`).

use std::path::PathBuf;

use clap::Subcommand;

use super::{output, today, Context};
use patchkit::authoring::csaf::{self, Publisher};
use patchkit::error::Error;

/// `patchkit export …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
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

pub(super) fn run(ctx: &Context, cmd: &ExportCommand) -> Result<i32, Error> {
    match cmd {
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
    }
}
