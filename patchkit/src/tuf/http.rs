//! Networking as a capability: the one module that opens connections.
//!
//! It owns [`HttpTransport`], the HTTP(S) implementation of the TUF
//! client's [`Transport`], and [`transport_for`], which turns a repository
//! URL (`http://`, `https://`, `file://` or a plain directory) into the
//! right transport. Everything else receives a `&dyn Transport` and never
//! reaches for the network itself, so tests and `--offline` runs can prove
//! that nothing is fetched (docs/ARCHITECTURE.md "Pass capabilities in").
//!
//! What it refuses, and why (docs/ARCHITECTURE.md "Untrusted input is bounded"):
//! - a body longer than the caller's `max_len` (the length signed metadata
//!   gives, or a [`Limits`](super::updater::Limits) default): the
//!   read stops one byte past the limit, so an endless stream costs at most
//!   `max_len + 1` bytes — the TUF "endless data" attack;
//! - a `Content-Length` above the limit, before reading anything;
//! - more than [`MAX_REDIRECTS`] redirects, connections that take longer
//!   than [`Timeouts::connect`], reads or writes that stall (no data) longer
//!   than [`Timeouts::stall`], a request longer than [`Timeouts::call`], and
//!   any request once the transport's whole deadline ([`Timeouts::total`],
//!   one update) has passed: a slow-retrieval attack can delay an update,
//!   but not hang it;
//! - paths that are not plain relative target paths, so metadata cannot
//!   make us request `../../elsewhere`.
//!
//! HTTPS verifies certificates against the operating system's trust store
//! (rustls with `rustls-platform-verifier`). TLS is not what makes the data
//! trustworthy — the signatures are — but it keeps what a user fetches
//! private and stops trivial tampering before verification has to.

use std::io::Read;
use std::time::{Duration, Instant};

use super::transport::{FilesystemTransport, Transport, TransportError};

/// Redirects followed per request.
pub const MAX_REDIRECTS: u32 = 5;
/// Time allowed to establish a connection (DNS, TCP, TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Time allowed without any data, reading or writing (a stalled server).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for one whole request, body included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Time allowed for everything one transport fetches (one update).
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a request may take; the defaults are the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (default [`CONNECT_TIMEOUT`]).
    pub connect: Duration,
    /// Waiting for data, between two reads or writes, the response head
    /// included (default [`STALL_TIMEOUT`]).
    pub stall: Duration,
    /// The whole request, body included (default [`CALL_TIMEOUT`]).
    pub call: Duration,
    /// Every request of one transport together, counted from its creation
    /// (default [`TOTAL_TIMEOUT`]): the deadline of one update. `None` for
    /// a transport that lives as long as a server (`serve`'s upstream).
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: CONNECT_TIMEOUT,
            stall: STALL_TIMEOUT,
            call: CALL_TIMEOUT,
            total: Some(TOTAL_TIMEOUT),
        }
    }
}

/// Whether a failed fetch ran out of time (a gateway timeout for `serve`)
/// rather than failing otherwise.
pub fn is_timeout(e: &TransportError) -> bool {
    match e {
        TransportError::Io { source, .. } => {
            source.kind() == std::io::ErrorKind::TimedOut
                || source.to_string().starts_with("timeout")
        }
        TransportError::Other { reason, .. } | TransportError::Unreachable { reason, .. } => {
            reason.starts_with("timeout")
        }
        _ => false,
    }
}

/// Whether a request failed because the server could not be reached at all
/// (as opposed to answering wrongly).
fn unreachable(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(_) | ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::TimedOut
                | K::HostUnreachable
                | K::NetworkUnreachable
                | K::AddrNotAvailable
        ),
        _ => false,
    }
}

/// A repository served over HTTP or HTTPS.
#[derive(Debug)]
pub struct HttpTransport {
    agent: ureq::Agent,
    /// The base URL without a trailing slash.
    base: String,
    /// When every request must have ended ([`Timeouts::total`]).
    deadline: Option<Instant>,
    /// [`Timeouts::total`], for messages.
    total: Option<Duration>,
    /// [`Timeouts::call`].
    call: Duration,
    /// [`Timeouts::stall`], for messages.
    stall: Duration,
}

impl HttpTransport {
    /// A transport for the repository whose base (holding `metadata/` and
    /// `targets/`) is `base_url`.
    ///
    /// # Errors
    /// [`TransportError::Other`] when the URL is not `http://` or
    /// `https://`.
    pub fn new(base_url: &str) -> Result<Self, TransportError> {
        Self::with_timeouts(base_url, &Timeouts::default())
    }

    /// Like [`HttpTransport::new`] with other timeouts (`serve`'s upstream
    /// mirror, whose operator picks how long a client may wait).
    ///
    /// # Errors
    /// As [`HttpTransport::new`].
    pub fn with_timeouts(base_url: &str, timeouts: &Timeouts) -> Result<Self, TransportError> {
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(TransportError::Other {
                path: base_url.chars().take(80).collect(),
                reason: "is not an http:// or https:// URL".into(),
            });
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(timeouts.connect))
            .timeout_per_read(Some(timeouts.stall))
            .timeout_per_write(Some(timeouts.stall))
            .timeout_recv_response(Some(timeouts.stall))
            .timeout_recv_body(Some(timeouts.call))
            .timeout_global(Some(timeouts.call))
            .max_redirects(MAX_REDIRECTS)
            // Statuses are mapped below (404 → NotFound), not turned into
            // opaque errors.
            .http_status_as_error(false)
            .tls_config(tls)
            .user_agent(concat!("patchkit/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(HttpTransport {
            agent: config.into(),
            base: base_url.trim_end_matches('/').to_string(),
            deadline: timeouts.total.and_then(|t| Instant::now().checked_add(t)),
            total: timeouts.total,
            call: timeouts.call,
            stall: timeouts.stall,
        })
    }
}

impl HttpTransport {
    /// A ureq error, with the limits that apply when it is a timeout.
    fn explain(&self, error: &str) -> String {
        if error.starts_with("timeout") {
            let total = self
                .total
                .map_or(String::new(), |t| format!(", {} s per update", t.as_secs()));
            format!(
                "{error} (limits: {} s without data, {} s per request{total})",
                self.stall.as_secs(),
                self.call.as_secs(),
            )
        } else {
            error.to_string()
        }
    }
}

impl Transport for HttpTransport {
    fn fetch(&self, path: &str, max_len: u64) -> Result<Vec<u8>, TransportError> {
        let bounded: String = path.chars().take(80).collect();
        let other = |reason: String| TransportError::Other {
            path: bounded.clone(),
            reason,
        };
        super::check_target_path(path).map_err(&other)?;
        let url = format!("{}/{path}", self.base);
        // The whole deadline bounds each request too: what is left of it.
        let left = self
            .deadline
            .map_or(self.call, |d| d.saturating_duration_since(Instant::now()));
        if left.is_zero() {
            return Err(other(format!(
                "timeout: the deadline of {} s for one update has passed",
                self.total.unwrap_or_default().as_secs()
            )));
        }
        let response = self
            .agent
            .get(&url)
            .config()
            .timeout_global(Some(self.call.min(left)))
            .build()
            .call()
            .map_err(|e| {
                let reason = self.explain(&e.to_string());
                if unreachable(&e) {
                    TransportError::Unreachable {
                        path: bounded.clone(),
                        reason,
                    }
                } else {
                    other(reason)
                }
            })?;
        let status = response.status().as_u16();
        match status {
            200..=299 => {}
            403 | 404 | 410 => {
                return Err(TransportError::NotFound {
                    path: path.to_string(),
                })
            }
            _ => return Err(other(format!("HTTP status {status}"))),
        }
        let too_large = || TransportError::TooLarge {
            path: path.to_string(),
            max_len,
        };
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_len) {
            return Err(too_large());
        }
        let mut body = response.into_body();
        // ureq's own limit sits one byte above ours, so that reaching ours
        // is seen here as "too large" rather than as a transport error.
        let reader = body.with_config().limit(max_len.saturating_add(1)).reader();
        let mut out = Vec::new();
        reader
            .take(max_len.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|source| {
                // ureq reports its limit as an I/O error wrapping
                // BodyExceedsLimit; it can only trigger past our limit.
                if source.to_string().contains("limit") {
                    too_large()
                } else {
                    let reason = self.explain(&source.to_string());
                    TransportError::Io {
                        path: path.to_string(),
                        source: std::io::Error::new(source.kind(), reason),
                    }
                }
            })?;
        if out.len() as u64 > max_len {
            return Err(too_large());
        }
        Ok(out)
    }
}

/// The transport for a repository URL: `http://` and `https://` over the
/// network, `file:///abs/path` and plain directory paths from the file
/// system, with `timeouts` for the network (the deadline starts now).
///
/// # Errors
/// [`TransportError::Other`] for other schemes or malformed URLs.
pub fn transport_for(url: &str, timeouts: &Timeouts) -> Result<Box<dyn Transport>, TransportError> {
    // The same choice as a shareable upstream; callers here need no Send.
    Ok(upstream_for(url, timeouts)?)
}

/// The transport for an upstream CPAN mirror (`serve --upstream`): like
/// [`transport_for`], shareable between the server's threads, with the
/// operator's timeouts.
///
/// # Errors
/// [`TransportError::Other`] for other schemes or malformed URLs.
pub fn upstream_for(
    url: &str,
    timeouts: &Timeouts,
) -> Result<Box<dyn Transport + Send + Sync>, TransportError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(Box::new(HttpTransport::with_timeouts(url, timeouts)?))
    } else if url.starts_with("file:") {
        Ok(Box::new(FilesystemTransport::from_url(url)?))
    } else if url.contains("://") {
        Err(TransportError::Other {
            path: url.chars().take(80).collect(),
            reason: "has an unsupported scheme (http, https, file or a directory path)".into(),
        })
    } else {
        Ok(Box::new(FilesystemTransport::new(url)))
    }
}
