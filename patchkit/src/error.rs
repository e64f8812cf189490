//! The crate's error: wraps each module's errors and decides the exit
//! status in one place.
//!
//! Nothing in the library imports this module: each module has its own
//! error type, and this one sits above them all (docs/ARCHITECTURE.md).
//!
//! Exit statuses (docs/ARCHITECTURE.md, "the command-line contract"): 0 success
//! (also when nothing matched); 1 a patch did not apply or an operation
//! failed; 2 bad usage or unreadable input; 3 a signature, hash or
//! freshness check failed.

use crate::{apply, authoring, catalog, client, config, export, mirror, state, tuf};

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad usage: a missing option, a wrong combination.
    #[error("{0}")]
    Usage(String),
    /// A target failed.
    #[error(transparent)]
    Apply(#[from] apply::Error),
    /// The source tree could not be read or has invalid records.
    #[error(transparent)]
    Source(#[from] catalog::source::Error),
    /// The home directory or a state file.
    #[error(transparent)]
    State(#[from] state::Error),
    /// A signed repository: configuration, verification, freshness.
    #[error(transparent)]
    Signed(#[from] client::Error),
    /// Publishing a signed repository.
    #[error(transparent)]
    Publish(#[from] tuf::publish::PublishError),
    /// `KEYS.toml`.
    #[error(transparent)]
    Keyring(#[from] tuf::keyring::KeyringError),
    /// A key file.
    #[error(transparent)]
    Key(#[from] patchkit_signing::Error),
    /// An authoring command (`new`, `diff`, `import`, `lint`, `withdraw`)
    /// refused or failed.
    #[error(transparent)]
    Authoring(#[from] authoring::Error),
    /// The patching mirror (`mirror`): the source could not be listed.
    #[error(transparent)]
    Mirror(#[from] mirror::Error),
    /// An export (`export distroprefs`, `export quilt`) failed.
    #[error(transparent)]
    Export(#[from] export::Error),
    /// The configuration (`config.toml`, the environment, `--set`).
    #[error(transparent)]
    Config(#[from] config::Error),
    /// Writing to stdout failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Apply(e) => e.exit_code(),
            Error::Source(_) => 2,
            Error::State(_) => 1,
            Error::Output(_) => 1,
            Error::Signed(e) => e.exit_code(),
            Error::Publish(_) => 1,
            Error::Keyring(_) => 2,
            Error::Key(_) => 2,
            Error::Authoring(e) => e.exit_code(),
            Error::Mirror(_) => 1,
            Error::Export(e) => e.exit_code(),
            Error::Config(_) => 2,
        }
    }
}
