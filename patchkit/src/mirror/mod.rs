//! A patching CPAN mirror: what `serve` answers for each path and what
//! `mirror` writes for each file, in one place, so that both give the same
//! bytes.
//!
//! A [`Mirror`] stands in front of an upstream CPAN mirror (a URL or a
//! directory, reached through a [`Transport`] the caller passes in) and
//! answers a request path:
//!
//! - `authors/id/…/Dist-Ver.tar.gz` (`.tgz`, `.tar.bz2`): the tarball with
//!   the verified patches applied — through `apply::run`, the one patch
//!   path of the crate — or the original when none matches;
//! - `authors/id/…/CHECKSUMS`: upstream's file ([`checksums`]) rewritten so
//!   that every entry describes the bytes served beside it;
//! - anything else (`modules/02packages.details.txt.gz`,
//!   `authors/01mailrc.txt.gz`, `.meta`, `.readme`, …): upstream's bytes.
//!
//! Invariants kept here (docs/ARCHITECTURE.md):
//! - *Untrusted input is bounded*: every upstream fetch has a length limit
//!   ([`Limits`]), request paths are plain relative paths, and upstream's
//!   CHECKSUMS is parsed by a strict reader, never evaluated.
//! - *Nothing half-done*: a response is built whole in memory before the
//!   caller sends it, so an upstream that dies mid-response gives an error,
//!   never a short tarball; the cache is written through
//!   `state::write_atomic`, the tarball before the entry that names it.
//! - *Deterministic output*: the cache is content-addressed ([`cache_key`]:
//!   the upstream tarball's sha256, the catalog's version, the tool's
//!   version and the options that change the result), so several processes
//!   can share it and a duplicate build writes identical bytes.
//! - *Capabilities are passed in*: no clock (`now` is a parameter), no
//!   network of its own (the upstream transport comes from `tuf::http`).
//!
//! Which tarballs are candidates for patching is decided from the file
//! name alone (`dist::split_file_name`: a dist the catalog has records
//! for), the same way for a tarball and for the CHECKSUMS beside it, so the
//! two always agree; a candidate is then identified from its META as
//! `apply` does.

pub mod checksums;
pub mod tree;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::apply::{self, Mode, Target, TargetResult};
use crate::catalog::{Catalog, Origin};
use crate::dist;
use crate::patch::{ApplyOptions, Fuzz};
use crate::state;
use crate::tarball;
use crate::tuf::http::is_timeout;
use crate::tuf::transport::{Transport, TransportError};

const MIB: u64 = 1024 * 1024;

/// Why a path could not be served; [`Error::status`] gives the HTTP status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request path is not a plain relative path.
    #[error("refusing path {path:?}: {reason}")]
    BadPath {
        /// The path, bounded.
        path: String,
        /// Why.
        reason: String,
    },
    /// Upstream has no such file.
    #[error("{0} was not found upstream")]
    NotFound(String),
    /// Upstream failed (connection, status, short body, too large).
    #[error("upstream: {0}")]
    Upstream(TransportError),
    /// Upstream did not answer in time.
    #[error("upstream timed out: {0}")]
    Timeout(TransportError),
    /// Upstream's CHECKSUMS is not in CPAN::Checksums' format.
    #[error(transparent)]
    Checksums(#[from] checksums::Error),
    /// The tarball matches verified patches that could not be applied
    /// (hunk failure, hostile archive, binding mismatch), and the operator
    /// did not ask for the original in that case.
    #[error("{path}: not served: {reason}")]
    NotPatchable {
        /// The request path.
        path: String,
        /// What `apply` said.
        reason: String,
    },
    /// The verified patch data is past its expiry: nothing is patched, so
    /// no tarball is served rather than an unpatched one.
    #[error(
        "the verified patch repository expired at {expires}; refusing to serve tarballs \
         until it is refreshed"
    )]
    Expired {
        /// When it expired (TUF time).
        expires: String,
    },
    /// The cache could not be read or written.
    #[error(transparent)]
    Cache(#[from] state::Error),
}

impl Error {
    /// The HTTP status for this error: 400 a bad path, 404 missing
    /// upstream, 502 upstream failed or a tarball cannot be patched, 503
    /// the patch data expired, 504 upstream timed out, 500 the cache.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadPath { .. } => 400,
            Error::NotFound(_) => 404,
            Error::Upstream(_) | Error::Checksums(_) | Error::NotPatchable { .. } => 502,
            Error::Expired { .. } => 503,
            Error::Timeout(_) => 504,
            Error::Cache(_) => 500,
        }
    }

    fn from_transport(e: TransportError) -> Error {
        match e {
            TransportError::NotFound { path } => Error::NotFound(path),
            e if is_timeout(&e) => Error::Timeout(e),
            e => Error::Upstream(e),
        }
    }
}

/// Bounds on what is read from upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest CHECKSUMS file. Default **32 MiB** (PAUSE's largest author
    /// directories give a few MiB).
    pub checksums: u64,
    /// Largest file passed through (indexes, `.meta`, …). Default
    /// **256 MiB** (`02packages.details.txt.gz` is about 4 MiB).
    pub other: u64,
    /// Archive limits; the compressed limit bounds the tarball download.
    pub archive: tarball::Limits,
    /// Memory for recent answers (patched tarballs with the upstream bytes
    /// they came from), so that a hot tarball is neither hashed nor read
    /// from the disk cache again. Default **256 MiB**.
    pub memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            checksums: 32 * MIB,
            other: 256 * MIB,
            archive: tarball::Limits::default(),
            memory: 256 * MIB,
        }
    }
}

/// What to serve when a tarball matches verified patches that cannot be
/// applied. The safe choice is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// An error (HTTP 502): the build stops rather than install the
    /// vulnerable code.
    #[default]
    Error,
    /// The original tarball, logged as such.
    Original,
}

/// How the mirror patches.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Fuzz, as `apply --fuzz`.
    pub fuzz: Fuzz,
    /// `--on-failure`.
    pub on_failure: OnFailure,
    /// Upstream bounds.
    pub limits: Limits,
}

/// The verified patch data a mirror serves with, and until when.
#[derive(Debug)]
pub struct Patches {
    /// The records.
    pub catalog: Catalog,
    /// After this instant the data is stale and no tarball is served
    /// (`None`: no expiry, e.g. an unsigned source tree or a bundle).
    pub expires: Option<DateTime<Utc>>,
    fingerprint: String,
}

impl Patches {
    /// Wraps a catalog; `expires` comes from the verified metadata.
    pub fn new(catalog: Catalog, expires: Option<DateTime<Utc>>) -> Patches {
        let fingerprint = fingerprint(&catalog);
        Patches {
            catalog,
            expires,
            fingerprint,
        }
    }

    /// Where the records came from.
    pub fn origin(&self) -> &Origin {
        &self.catalog.origin
    }

    /// Every repository the records came from (layered repositories), as
    /// text.
    pub fn origins_text(&self) -> String {
        self.catalog.origins_text()
    }

    /// Whether a tarball's name names a dist the catalog has records for
    /// (a per-dist catalog answers from its index; a lookup that fails
    /// counts as a candidate, so that the build reports the failure rather
    /// than serving the tarball unpatched).
    fn is_candidate(&self, file_name: &str) -> bool {
        dist::split_file_name(file_name)
            .is_some_and(|(d, _)| self.catalog.has_dist(d.as_str()).unwrap_or(true))
    }
}

/// What identifies a catalog's content for the cache: each signed
/// repository's name and version, in precedence order (the signed metadata
/// fixes every byte of it); for an unsigned tree, a digest of what it
/// holds for every dist.
fn fingerprint(catalog: &Catalog) -> String {
    match &catalog.origin {
        Origin::Signed { .. } => catalog
            .origins()
            .iter()
            .map(|o| match o {
                Origin::Signed { name, version } => format!("signed:{name}:{version}"),
                Origin::Unsigned { dir } => format!("unsigned:{dir}"),
            })
            .collect::<Vec<_>>()
            .join("+"),
        Origin::Unsigned { .. } => {
            // Every dist's digest, as the cache key takes it
            // (Catalog::dist_digest); a tree catalog holds all its entries.
            let dists: BTreeSet<&str> = catalog
                .entries()
                .iter()
                .map(|e| e.record.dist.as_str())
                .collect();
            let mut h = Sha256::new();
            for d in dists {
                h.update(catalog.dist_digest(d).unwrap_or_default());
            }
            format!("unsigned:{}", hex::encode(h.finalize()))
        }
    }
}

/// The cache key of one upstream tarball under one catalog: everything
/// that decides the bytes served (module docs).
///
/// The catalog enters by what it holds for the dist the file name names
/// ([`Catalog::dist_digest`]), not by its version: a new repository
/// version rebuilds only the tarballs of dists whose records changed (a
/// tarball built earlier keeps the version it was verified at in its
/// `applied.json`). A tarball whose META names another dist is matched
/// against that dist's records too; the cache entry keeps that dist's
/// digest and is rebuilt when it changes.
pub fn cache_key(
    upstream_sha256: &str,
    file_name: &str,
    patches: &Patches,
    opts: &Options,
) -> String {
    let holds = match dist::split_file_name(file_name) {
        Some((d, _)) => patches
            .catalog
            .dist_digest(d.as_str())
            // Unreadable records: a key no entry has, so the build runs
            // and reports the failure.
            .unwrap_or_else(|e| format!("unloadable: {e}")),
        None => patches.fingerprint.clone(),
    };
    let mut h = Sha256::new();
    h.update(format!(
        "patchkit {}\0{upstream_sha256}\0{holds}\0{:?}\0{:?}",
        env!("CARGO_PKG_VERSION"),
        opts.fuzz,
        opts.on_failure
    ));
    hex::encode(h.finalize())
}

/// How a tarball was served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Outcome {
    /// Patched with these records; `built` when made by this request
    /// rather than read from the cache.
    Patched {
        /// Record ids applied (or already carried).
        ids: Vec<String>,
        /// Made now (else from the cache).
        built: bool,
    },
    /// The original tarball: nothing matched, or (with `note`) it could not
    /// be patched and the operator asked for the original.
    Original {
        /// Why it is served unpatched despite matching records.
        note: Option<String>,
    },
    /// A CHECKSUMS file rewritten for the files served.
    Checksums {
        /// Entries whose digests were recomputed.
        rewritten: usize,
        /// Tarballs patched (not read from the cache) to answer it.
        built: Vec<String>,
    },
    /// Upstream's bytes as they are.
    Passed,
}

/// One answer.
#[derive(Debug)]
pub struct Served {
    /// The whole body.
    pub body: Arc<Vec<u8>>,
    /// What was done.
    pub outcome: Outcome,
}

impl Served {
    /// The `Content-Type` for `path`.
    pub fn content_type(path: &str) -> &'static str {
        if path.ends_with(".gz") || path.ends_with(".tgz") {
            "application/x-gzip"
        } else if path.ends_with(".bz2") {
            "application/x-bzip2"
        } else if path.ends_with(".json") {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        }
    }
}

/// The cache entry written beside a patched tarball (after it).
#[derive(Debug, Serialize, Deserialize)]
struct CacheEntry {
    /// `patched` or `original`.
    result: String,
    ids: Vec<String>,
    /// sha256 of the patched tarball, checked on every read.
    sha256: Option<String>,
    /// Dists other than the file name's whose records the build matched
    /// (META named another dist), with [`Catalog::dist_digest`] of each
    /// then: the entry is stale when one of them changed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    also: BTreeMap<String, String>,
}

/// One answer kept in memory, with the upstream bytes it was made from.
#[derive(Debug)]
struct Hot {
    upstream: Vec<u8>,
    served: Arc<Vec<u8>>,
    outcome: Outcome,
    fingerprint: String,
}

#[derive(Debug, Default)]
struct HotSet {
    entries: HashMap<String, Arc<Hot>>,
    bytes: u64,
}

/// A patching mirror in front of one upstream.
pub struct Mirror {
    upstream: Box<dyn Transport + Send + Sync>,
    cache: PathBuf,
    patches: RwLock<Arc<Patches>>,
    /// One lock per cache key being built: concurrent requests for the
    /// same tarball wait for the first build instead of repeating it.
    flights: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Recent answers in memory, bounded by [`Limits::memory`].
    hot: Mutex<HotSet>,
    /// Cache entries whose tarball this process has hashed once and found
    /// as recorded: entries are content-addressed and replaced only by a
    /// rename of identical bytes, so once is enough.
    verified: Mutex<HashSet<String>>,
    opts: Options,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// The kind of file a request path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A distribution tarball under `authors/id/`.
    Tarball,
    /// A `CHECKSUMS` under `authors/id/`.
    Checksums,
    /// Anything else: passed through.
    Other,
}

/// What `path` (relative, normal form) names.
pub fn file_kind(path: &str) -> FileKind {
    let in_authors = path.starts_with("authors/id/");
    let name = path.rsplit('/').next().unwrap_or(path);
    if in_authors && name == "CHECKSUMS" {
        FileKind::Checksums
    } else if in_authors
        && (name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".tar.bz2"))
    {
        FileKind::Tarball
    } else {
        FileKind::Other
    }
}

/// A request path (`/authors/id/…?query`) as a plain relative path:
/// percent-escapes decoded, no query, no `..`, no empty component.
///
/// # Errors
/// [`Error::BadPath`].
pub fn request_path(raw: &str) -> Result<String, Error> {
    let bad = |reason: &str| Error::BadPath {
        path: raw.chars().take(120).collect(),
        reason: reason.into(),
    };
    let raw_path = raw.split(['?', '#']).next().unwrap_or("");
    let trimmed = raw_path.trim_start_matches('/');
    let bytes = trimmed.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(|| bad("bad escape"))?;
            let s = std::str::from_utf8(hex).map_err(|_| bad("bad escape"))?;
            out.push(u8::from_str_radix(s, 16).map_err(|_| bad("bad escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(out).map_err(|_| bad("not UTF-8"))?;
    crate::tuf::check_target_path(&path).map_err(|r| bad(&r))?;
    Ok(path)
}

impl Mirror {
    /// A mirror of `upstream` patching with `patches`, caching under
    /// `cache` (shared safely with other processes).
    pub fn new(
        upstream: Box<dyn Transport + Send + Sync>,
        cache: PathBuf,
        patches: Patches,
        opts: Options,
    ) -> Mirror {
        Mirror {
            upstream,
            cache,
            patches: RwLock::new(Arc::new(patches)),
            flights: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashSet::new()),
            hot: Mutex::new(HotSet::default()),
            opts,
        }
    }

    /// The patch data in use.
    pub fn patches(&self) -> Arc<Patches> {
        self.patches
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serve with newer patch data from now on (requests under way finish
    /// with the data they started with).
    pub fn replace_patches(&self, patches: Patches) {
        *self.patches.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(patches);
    }

    /// The answer for `path` (from [`request_path`]) at `now`.
    ///
    /// # Errors
    /// [`Error`]; its [`Error::status`] is the HTTP status to send.
    pub fn get(&self, path: &str, now: DateTime<Utc>) -> Result<Served, Error> {
        let patches = self.patches();
        let kind = file_kind(path);
        if kind != FileKind::Other {
            if let Some(expires) = patches.expires.filter(|e| *e <= now) {
                return Err(Error::Expired {
                    expires: crate::tuf::metadata::tuf_time::format(&expires),
                });
            }
        }
        match kind {
            FileKind::Tarball => self.tarball(path, &patches),
            FileKind::Checksums => self.checksums(path, &patches),
            FileKind::Other => Ok(Served {
                body: Arc::new(self.fetch(path, self.opts.limits.other)?),
                outcome: Outcome::Passed,
            }),
        }
    }

    fn fetch(&self, path: &str, max: u64) -> Result<Vec<u8>, Error> {
        self.upstream
            .fetch(path, max)
            .map_err(Error::from_transport)
    }

    fn tarball(&self, path: &str, patches: &Patches) -> Result<Served, Error> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let bytes = self.fetch(path, self.opts.limits.archive.max_compressed_bytes)?;
        if !patches.is_candidate(name) {
            return Ok(Served {
                body: Arc::new(bytes),
                outcome: Outcome::Original { note: None },
            });
        }
        if let Some(hit) = self.hot_hit(path, &bytes, patches) {
            return Ok(hit);
        }
        let served = self.tarball_cold(path, name, bytes.clone(), patches)?;
        self.hot_insert(path, bytes, &served, patches);
        Ok(served)
    }

    /// The answer kept in memory for `path`, when upstream's bytes are the
    /// same (compared byte for byte: far cheaper than hashing them) under
    /// the same catalog.
    fn hot_hit(&self, path: &str, upstream: &[u8], patches: &Patches) -> Option<Served> {
        // Compared outside the lock: other requests need not wait.
        let h = self
            .hot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .get(path)?
            .clone();
        (h.fingerprint == patches.fingerprint && h.upstream.as_slice() == upstream).then(|| {
            Served {
                body: h.served.clone(),
                outcome: match &h.outcome {
                    Outcome::Patched { ids, .. } => Outcome::Patched {
                        ids: ids.clone(),
                        built: false,
                    },
                    o => o.clone(),
                },
            }
        })
    }

    fn hot_insert(&self, path: &str, upstream: Vec<u8>, served: &Served, patches: &Patches) {
        // Failures served as originals are not kept: each is logged again.
        if matches!(served.outcome, Outcome::Original { note: Some(_) }) {
            return;
        }
        let size = (upstream.len() + served.body.len()) as u64;
        let mut hot = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
        if size > self.opts.limits.memory {
            return;
        }
        if hot.bytes + size > self.opts.limits.memory {
            // Simple and bounded: start again rather than track recency.
            hot.entries.clear();
            hot.bytes = 0;
        }
        let old = hot.entries.insert(
            path.to_string(),
            Arc::new(Hot {
                upstream,
                served: served.body.clone(),
                outcome: served.outcome.clone(),
                fingerprint: patches.fingerprint.clone(),
            }),
        );
        hot.bytes += size;
        if let Some(o) = old {
            hot.bytes = hot
                .bytes
                .saturating_sub((o.upstream.len() + o.served.len()) as u64);
        }
    }

    /// The answer from the disk cache, or built once (concurrent requests
    /// for the same key wait for the first build).
    fn tarball_cold(
        &self,
        path: &str,
        name: &str,
        bytes: Vec<u8>,
        patches: &Patches,
    ) -> Result<Served, Error> {
        let key = cache_key(
            &hex::encode(Sha256::digest(&bytes)),
            name,
            patches,
            &self.opts,
        );
        if let Some(hit) = self.read_cache(&key, &bytes, patches)? {
            return Ok(hit);
        }
        let flight = {
            let mut f = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            f.entry(key.clone()).or_default().clone()
        };
        let result = {
            let _one = flight.lock().unwrap_or_else(PoisonError::into_inner);
            match self.read_cache(&key, &bytes, patches)? {
                Some(hit) => Ok(hit),
                None => self.build(path, name, bytes, &key, patches),
            }
        };
        self.flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        result
    }

    fn cache_paths(&self, key: &str) -> (PathBuf, PathBuf) {
        let dir = self.cache.join(&key[..2]);
        (
            dir.join(format!("{key}.tarball")),
            dir.join(format!("{key}.json")),
        )
    }

    /// A finished cache entry, or `None`. An entry whose tarball does not
    /// match its recorded sha256 is treated as absent (and rebuilt).
    fn read_cache(
        &self,
        key: &str,
        upstream: &[u8],
        patches: &Patches,
    ) -> Result<Option<Served>, Error> {
        let (tar_path, entry_path) = self.cache_paths(key);
        let Ok(text) = std::fs::read(&entry_path) else {
            return Ok(None);
        };
        let Ok(entry) = serde_json::from_slice::<CacheEntry>(&text) else {
            return Ok(None);
        };
        if entry
            .also
            .iter()
            .any(|(d, digest)| patches.catalog.dist_digest(d).ok().as_ref() != Some(digest))
        {
            return Ok(None);
        }
        if entry.result == "original" {
            return Ok(Some(Served {
                body: Arc::new(upstream.to_vec()),
                outcome: Outcome::Original { note: None },
            }));
        }
        let Ok(body) = std::fs::read(&tar_path) else {
            return Ok(None);
        };
        let known = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key);
        if !known {
            if entry.sha256.as_deref() != Some(hex::encode(Sha256::digest(&body)).as_str()) {
                return Ok(None);
            }
            self.verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.to_string());
        }
        Ok(Some(Served {
            body: Arc::new(body),
            outcome: Outcome::Patched {
                ids: entry.ids,
                built: false,
            },
        }))
    }

    /// Patch one upstream tarball through `apply::run` (in a private
    /// temporary directory of the cache, so that the crate keeps one patch
    /// path), then cache the result.
    fn build(
        &self,
        path: &str,
        name: &str,
        bytes: Vec<u8>,
        key: &str,
        patches: &Patches,
    ) -> Result<Served, Error> {
        let io = |what: &'static str, p: &Path, e| state::Error::io(what, p, e);
        std::fs::create_dir_all(&self.cache).map_err(|e| io("create", &self.cache, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".patchkit-build-")
            .tempdir_in(&self.cache)
            .map_err(|e| io("create a temporary directory in", &self.cache, e))?;
        let input = tmp.path().join("in").join(name);
        state::write_atomic(&input, &bytes, None)?;
        let opts = apply::Options {
            mode: Mode::Apply,
            engine: ApplyOptions {
                fuzz: self.opts.fuzz,
            },
            limits: self.opts.limits.archive.clone(),
            out_dir: Some(tmp.path().join("out")),
            ..apply::Options::default()
        };
        let report = apply::run(&Target::Tarball(input), &patches.catalog, &opts);
        let ids: Vec<String> = report.patches.iter().map(|p| p.id.clone()).collect();
        let (tar_path, entry_path) = self.cache_paths(key);
        // META named another dist than the file name: its records were
        // matched too, so the entry depends on them (cache_key).
        let also: BTreeMap<String, String> = report
            .dist
            .iter()
            .filter(|d| dist::split_file_name(name).is_none_or(|(f, _)| f.as_str() != d.as_str()))
            .filter_map(|d| {
                let digest = patches.catalog.dist_digest(d).ok()?;
                Some((d.clone(), digest))
            })
            .collect();
        match report.result {
            TargetResult::Patched => {
                let out = tmp.path().join("out").join(name);
                let body = std::fs::read(&out).map_err(|e| io("read", &out, e))?;
                state::write_atomic(&tar_path, &body, None)?;
                write_entry(
                    &entry_path,
                    &CacheEntry {
                        result: "patched".into(),
                        ids: ids.clone(),
                        sha256: Some(hex::encode(Sha256::digest(&body))),
                        also,
                    },
                )?;
                Ok(Served {
                    body: Arc::new(body),
                    outcome: Outcome::Patched { ids, built: true },
                })
            }
            TargetResult::AlreadyPatched | TargetResult::NothingMatched => {
                write_entry(
                    &entry_path,
                    &CacheEntry {
                        result: "original".into(),
                        ids: Vec::new(),
                        sha256: None,
                        also,
                    },
                )?;
                Ok(Served {
                    body: Arc::new(bytes),
                    outcome: Outcome::Original { note: None },
                })
            }
            TargetResult::Failed | TargetResult::Partial => {
                let reason = report.error.unwrap_or_else(|| "failed".into());
                match self.opts.on_failure {
                    OnFailure::Error => Err(Error::NotPatchable {
                        path: path.to_string(),
                        reason,
                    }),
                    OnFailure::Original => Ok(Served {
                        body: Arc::new(bytes),
                        outcome: Outcome::Original {
                            note: Some(format!(
                                "served unpatched (--on-failure original): {reason}"
                            )),
                        },
                    }),
                }
            }
        }
    }

    fn checksums(&self, path: &str, patches: &Patches) -> Result<Served, Error> {
        let bytes = self.fetch(path, self.opts.limits.checksums)?;
        let mut parsed = checksums::parse(path, &bytes)?;
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let candidates: Vec<String> = parsed
            .entries
            .keys()
            .filter(|n| {
                file_kind(&format!("{dir}/{n}")) == FileKind::Tarball && patches.is_candidate(n)
            })
            .cloned()
            .collect();
        // Nothing here is patched: upstream's file, signature and all.
        if candidates.is_empty() {
            return Ok(Served {
                body: Arc::new(bytes),
                outcome: Outcome::Passed,
            });
        }
        let mut rewritten = 0;
        let mut built = Vec::new();
        for name in candidates {
            match self.tarball(&format!("{dir}/{name}"), patches) {
                Ok(served) => {
                    if matches!(served.outcome, Outcome::Patched { built: true, .. }) {
                        built.push(name.clone());
                    }
                    parsed.describe(
                        &name,
                        &served.body,
                        self.opts.limits.archive.max_unpacked_bytes,
                    );
                    rewritten += 1;
                }
                // A tarball that is gone upstream keeps its entry: nothing
                // is served under that name anyway.
                Err(Error::NotFound(_)) => {}
                // A tarball we refuse to serve gets no checksum, so that no
                // installer can accept other bytes under its name.
                Err(Error::NotPatchable { .. }) => {
                    parsed.entries.remove(&name);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Served {
            body: Arc::new(parsed.render()),
            outcome: Outcome::Checksums { rewritten, built },
        })
    }
}

fn write_entry(path: &Path, entry: &CacheEntry) -> Result<(), Error> {
    let json = serde_json::to_vec(entry)
        .map_err(|e| state::Error::io("write", path, std::io::Error::other(e.to_string())))?;
    Ok(state::write_atomic(path, &json, None)?)
}
