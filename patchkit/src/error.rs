//! The crate's error: wraps each module's errors and decides the exit
//! status in one place.
//!
//! Exit statuses (DESIGN.md "The contract of the command line"): 0 success
//! (also when nothing matched); 1 a patch did not apply or an operation
//! failed; 2 bad usage or unreadable input; 3 a signature, hash or
//! freshness check failed.

use crate::{apply, repo, state};

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
    Source(#[from] repo::source::Error),
    /// The home directory or a state file.
    #[error(transparent)]
    State(#[from] state::Error),
    /// A signed repository: configuration, verification, freshness.
    #[error(transparent)]
    Signed(#[from] repo::signed::Error),
    /// Publishing a signed repository.
    #[error(transparent)]
    Publish(#[from] repo::tuf::publish::PublishError),
    /// `KEYS.toml`.
    #[error(transparent)]
    Keyring(#[from] repo::tuf::keyring::KeyringError),
    /// A key file.
    #[error(transparent)]
    Key(#[from] patchkit_signing::Error),
    /// An authoring command (`new`, `diff`, `import`, `lint`, `withdraw`)
    /// refused or failed.
    #[error(transparent)]
    Authoring(#[from] repo::authoring::Error),
    /// Writing to stdout failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// How many characters of untrusted text a message quotes by default.
pub(crate) const EXCERPT: usize = 40;

/// Quotes at most `max` characters of untrusted `s` for an error message
/// (STYLE.md: a bounded excerpt), escaping control characters, with `…`
/// when cut. The one quoting helper of the crate.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{:?}", format!("{head}…"))
    } else {
        format!("{head:?}")
    }
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
        }
    }
}
