//! How metadata and targets reach the TUF client: the [`Transport`] trait,
//! its local implementation ([`FilesystemTransport`], a directory or a
//! `file://` URL) and the bounded reader both use. The HTTP implementation
//! is [`super::http`], the one module that opens network connections.
//!
//! Every implementation honours the caller's `max_len`: the read stops one
//! byte past it, so an endless stream costs at most `max_len + 1` bytes
//! (TUF "endless data" attack; docs/security.md).

use std::io::Read;
use std::path::PathBuf;

use super::check_target_path;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The repository has no such file (HTTP 403/404, or no file).
    #[error("{path} was not found on the repository")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The file is longer than the caller allowed.
    #[error("{path} is larger than the {max_len}-byte limit")]
    TooLarge {
        /// The path asked for.
        path: String,
        /// The limit.
        max_len: u64,
    },
    /// Reading failed.
    #[error("{path} could not be read: {source}")]
    Io {
        /// The path asked for.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The repository could not be reached: connection refused or reset,
    /// host not found, no route, or a timeout. The one failure after which
    /// a client may fall back to its last verified state (`client::open`).
    #[error("{path}: {reason}")]
    Unreachable {
        /// The path asked for.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Anything else (bad URL, HTTP status, refused path).
    #[error("{path}: {reason}")]
    Other {
        /// The path asked for.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Where metadata and targets come from. `path` is relative to the
/// repository base, e.g. `metadata/timestamp.json` or
/// `targets/Foo/<sha256>.X.patch`; implementations must not return more
/// than `max_len` bytes (return [`TransportError::TooLarge`] instead).
/// Transports are shared by the threads of an update that fetches several
/// targets at once, hence `Send + Sync`.
pub trait Transport: Send + Sync {
    /// Fetches one file, at most `max_len` bytes.
    ///
    /// # Errors
    /// [`TransportError::NotFound`] when the file does not exist; the other
    /// variants for every other failure.
    fn fetch(&self, path: &str, max_len: u64) -> Result<Vec<u8>, TransportError>;
}

/// A repository on the local file system: a directory or a `file://` URL.
#[derive(Debug, Clone)]
pub struct FilesystemTransport {
    base: PathBuf,
}

impl FilesystemTransport {
    /// A repository whose base directory (holding `metadata/` and
    /// `targets/`) is `base`.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        FilesystemTransport { base: base.into() }
    }

    /// A repository at a `file:///abs/path` URL (no host, no
    /// percent-escapes).
    ///
    /// # Errors
    /// [`TransportError::Other`] for anything but a plain absolute file URL.
    pub fn from_url(url: &str) -> Result<Self, TransportError> {
        let path = url
            .strip_prefix("file://")
            .filter(|p| p.starts_with('/') && !p.contains('%'))
            .ok_or_else(|| TransportError::Other {
                path: url.chars().take(80).collect(),
                reason: "is not a file:///absolute/path URL".into(),
            })?;
        Ok(Self::new(path))
    }
}

impl Transport for FilesystemTransport {
    fn fetch(&self, path: &str, max_len: u64) -> Result<Vec<u8>, TransportError> {
        // Paths come from metadata (target names); never leave the base.
        check_target_path(path).map_err(|reason| TransportError::Other {
            path: path.chars().take(80).collect(),
            reason,
        })?;
        let full = self.base.join(path);
        let file = std::fs::File::open(&full).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                TransportError::NotFound {
                    path: path.to_string(),
                }
            } else {
                TransportError::Io {
                    path: path.to_string(),
                    source,
                }
            }
        })?;
        // Sized from the file's length, so that a large file (a CPAN
        // tarball behind `serve`) is read without growing the buffer.
        let hint = file.metadata().map_or(0, |m| m.len());
        read_bounded_sized(file, max_len, hint).map_err(|e| match e {
            Bounded::TooLarge => TransportError::TooLarge {
                path: path.to_string(),
                max_len,
            },
            Bounded::Io(source) => TransportError::Io {
                path: path.to_string(),
                source,
            },
        })
    }
}

pub(crate) enum Bounded {
    TooLarge,
    Io(std::io::Error),
}

/// Reads at most `max_len` bytes; one byte more means "too large", without
/// ever reading the rest (endless-data attack, TUF §5.2).
pub(crate) fn read_bounded(reader: impl Read, max_len: u64) -> Result<Vec<u8>, Bounded> {
    read_bounded_sized(reader, max_len, 0)
}

/// [`read_bounded`] with room for `hint` bytes (at most `max_len + 1`)
/// reserved up front.
pub(crate) fn read_bounded_sized(
    reader: impl Read,
    max_len: u64,
    hint: u64,
) -> Result<Vec<u8>, Bounded> {
    let room = hint.min(max_len).saturating_add(1);
    let mut out = Vec::with_capacity(usize::try_from(room).unwrap_or(0));
    reader
        .take(max_len.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(Bounded::Io)?;
    if out.len() as u64 > max_len {
        return Err(Bounded::TooLarge);
    }
    Ok(out)
}
