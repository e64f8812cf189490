//! Bundles: one file carrying a verified repository to an air-gapped
//! machine, verified there exactly as an online update is.
//!
//! A bundle is an uncompressed tar archive:
//!
//! ```text
//! patchkit-bundle.json          {"format":1,"repository":NAME,"url":URL,"created":TIME}
//! metadata/N.root.json          every root version the home trusted, from the pinned one
//! metadata/timestamp.json
//! metadata/V.snapshot.json      (snapshot.json without consistent snapshots)
//! metadata/V.targets.json       (targets.json likewise)
//! targets/<dirs>/<sha256>.<name>   every target (plain names likewise)
//! ```
//!
//! That is the repository's own layout, so [`verify`] runs the unchanged
//! [`updater`](crate::tuf::updater) over a [`Transport`] that
//! reads from the bundle, against a pinned root, with the bundle's
//! `created` time as the reference time for expiry. Nothing in the bundle
//! is trusted because it is in the bundle: `patchkit-bundle.json` is not
//! signed, so its time is only a claim. What is proven is that the metadata
//! was valid at that time; the caller shows that time and its age, and a
//! time in the future is refused.
//!
//! Reading is bounded (entry count, sizes; regular files with safe relative
//! names only), as for any untrusted archive (docs/ARCHITECTURE.md "Untrusted input is
//! bounded").

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::store::{self as signed, VerifiedCatalog};
use super::Error;
use crate::state::{self, Home};
use crate::tuf::metadata::{tuf_time, Role, Root};
use crate::tuf::transport::{Transport, TransportError};
use crate::tuf::updater::{Limits, TrustedState};

/// Most entries in a bundle.
pub const MAX_ENTRIES: usize = 100_000;
/// Largest bundle accepted, in bytes (1 GiB).
pub const MAX_BUNDLE_BYTES: u64 = 1 << 30;
/// Name of the description entry.
pub const DESCRIPTION: &str = "patchkit-bundle.json";

/// `patchkit-bundle.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// Format version: 1.
    pub format: u32,
    /// The repository's name where the bundle was made.
    pub repository: String,
    /// Its URL there.
    pub url: String,
    /// When the bundle was made (TUF time); the reference time for expiry.
    pub created: String,
}

/// What [`create`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// The description written.
    pub description: Description,
    /// The repository's version inside (its snapshot version, as patched
    /// dists record it).
    pub version: u64,
    /// Number of targets inside.
    pub targets: usize,
    /// Root versions inside.
    pub roots: Vec<u64>,
}

/// A bundle read into memory: path → bytes.
#[derive(Debug)]
pub struct Bundle {
    /// The description.
    pub description: Description,
    /// `created`, parsed.
    pub created: DateTime<Utc>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Transport for Bundle {
    fn fetch(&self, path: &str, max_len: u64) -> Result<Vec<u8>, TransportError> {
        match self.files.get(path) {
            None => Err(TransportError::NotFound {
                path: path.to_string(),
            }),
            Some(b) if b.len() as u64 > max_len => Err(TransportError::TooLarge {
                path: path.to_string(),
                max_len,
            }),
            Some(b) => Ok(b.clone()),
        }
    }
}

/// Writes the verified state of repository `name` into one bundle file at
/// `out`. The cached state is verified again first (at `now`), so a stale
/// or damaged cache is never bundled.
///
/// # Errors
/// [`Error`] from verification, or an I/O error.
pub fn create(
    home: &Home,
    name: &str,
    out: &Path,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Created, Error> {
    let cfg = signed::config(home, name)?;
    let trusted = signed::trusted_dir(home, name);
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::from(state::Error::io("read", p, e)));
    let root_bytes = read(&trusted.join("root.json"))?;
    let root: Root = serde_json::from_slice::<serde_json::Value>(&root_bytes)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("signed")?.clone()).ok())
        .ok_or_else(|| Error::StateFile {
            path: trusted.join("root.json"),
            reason: "is not a root".into(),
        })?;
    let consistent = root.consistent_snapshot.unwrap_or(false);

    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut roots = Vec::new();
    // The chain of roots trusted so far; the current one always.
    let roots_dir = signed::roots_dir(home, name);
    if let Ok(entries) = std::fs::read_dir(&roots_dir) {
        for e in entries.flatten() {
            let fname = e.file_name().to_string_lossy().into_owned();
            if let Some(v) = fname
                .strip_suffix(".root.json")
                .and_then(|v| v.parse::<u64>().ok())
            {
                if v <= root.version {
                    files.insert(format!("metadata/{fname}"), read(&e.path())?);
                    roots.push(v);
                }
            }
        }
    }
    files.insert(format!("metadata/{}.root.json", root.version), root_bytes);
    if !roots.contains(&root.version) {
        roots.push(root.version);
    }
    roots.sort_unstable();
    files.insert(
        "metadata/timestamp.json".into(),
        read(&trusted.join("timestamp.json"))?,
    );
    let version_of = |bytes: &[u8]| -> u64 {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("signed")?.get("version")?.as_u64())
            .unwrap_or(0)
    };
    for role in ["snapshot", "targets"] {
        let bytes = read(&trusted.join(format!("{role}.json")))?;
        let path = if consistent {
            format!("metadata/{}.{role}.json", version_of(&bytes))
        } else {
            format!("metadata/{role}.json")
        };
        files.insert(path, bytes);
    }
    // Every hash bin and every target, verified from the cache (never
    // bundled unverified).
    let (version, rest) = signed::cached_repository(home, name, now, limits)?;
    let count = rest
        .iter()
        .filter(|(p, _)| p.starts_with("targets/"))
        .count();
    files.extend(rest);
    let description = Description {
        format: 1,
        repository: name.to_string(),
        url: cfg.url,
        created: tuf_time::format(&now),
    };
    let desc_bytes = serde_json::to_vec_pretty(&description).map_err(|e| Error::StateFile {
        path: out.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut builder = tar::Builder::new(Vec::new());
    let mut append = |path: &str, data: &[u8]| -> std::io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        // The description holds the time; entries carry none, so the same
        // state at the same second gives the same bytes.
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        builder.append_data(&mut h, path, data)
    };
    let pack = |e: std::io::Error| Error::from(state::Error::io("write", out, e));
    append(DESCRIPTION, &desc_bytes).map_err(pack)?;
    for (path, data) in &files {
        append(path, data).map_err(pack)?;
    }
    let bytes = builder.into_inner().map_err(pack)?;
    state::write_atomic(out, &bytes, None)?;
    Ok(Created {
        description,
        version,
        targets: count,
        roots,
    })
}

/// Reads a bundle file, bounded.
///
/// # Errors
/// [`Error::Bundle`] naming what is wrong.
pub fn open(path: &Path) -> Result<Bundle, Error> {
    let bad = |reason: String| Error::Bundle {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path)
        .map_err(|e| Error::BadArgument(format!("cannot read bundle {}: {e}", path.display())))?;
    let mut archive = tar::Archive::new(file.take(MAX_BUNDLE_BYTES));
    let mut files = BTreeMap::new();
    let mut description = None;
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        if files.len() >= MAX_ENTRIES {
            return Err(bad(format!("holds more than {MAX_ENTRIES} entries")));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let bounded: String = name.chars().take(80).collect();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(format!("entry {bounded:?} is not a regular file")));
        }
        crate::tuf::check_target_path(&name).map_err(|r| bad(format!("entry {bounded:?} {r}")))?;
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("entry {bounded:?}: {e}")))?;
        if name == DESCRIPTION {
            description = Some(
                serde_json::from_slice::<Description>(&data)
                    .map_err(|e| bad(format!("{DESCRIPTION}: {e}")))?,
            );
        } else if name.starts_with("metadata/") || name.starts_with("targets/") {
            if files.insert(name, data).is_some() {
                return Err(bad(format!("entry {bounded:?} appears twice")));
            }
        } else {
            return Err(bad(format!("unexpected entry {bounded:?}")));
        }
    }
    let description = description.ok_or_else(|| bad(format!("has no {DESCRIPTION}")))?;
    if description.format != 1 {
        return Err(bad(format!(
            "format {} is not supported",
            description.format
        )));
    }
    let created = tuf_time::parse(&description.created)
        .ok_or_else(|| bad("its creation time is not a TUF time".into()))?;
    Ok(Bundle {
        description,
        created,
        files,
    })
}

/// Verifies `bundle` against a pinned root — `root` bytes from `--root`, or
/// the trusted root (and cached metadata, for rollback checks) of the
/// home's repository `home_repo` — at the bundle's creation time, or at
/// the newest time this home has seen when that is later (the creation
/// time is not signed: a bundle re-dated into the past must not revive
/// expired metadata), and returns its catalog. The time used is
/// `as_of`; an accepted bundle raises the home's newest time to its
/// creation time.
///
/// # Errors
/// [`Error::Verify`] naming the role and check; [`Error::Bundle`] for a
/// creation time in the future.
pub fn verify(
    bundle: &Bundle,
    bundle_path: &Path,
    root: Option<&[u8]>,
    home: &Home,
    home_repo: Option<&str>,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<VerifiedCatalog, Error> {
    // A bundle from the future would stretch every expiry; refuse it (a
    // few minutes of clock skew allowed).
    if bundle.created > now + TimeDelta::minutes(5) {
        return Err(Error::Bundle {
            path: bundle_path.to_path_buf(),
            reason: format!(
                "claims to be made at {}, which is in the future",
                bundle.description.created
            ),
        });
    }
    let trusted = match (root, home_repo) {
        (Some(bytes), _) => TrustedState {
            root: bytes.to_vec(),
            ..TrustedState::default()
        },
        (None, Some(name)) => {
            // The home's trusted root and cached metadata: a bundle older
            // than what this machine already trusts is a rollback.
            let home_trusted = signed::trusted_dir(home, name);
            let read = |role: Role| std::fs::read(home_trusted.join(role.file_name())).ok();
            let root = read(Role::Root).ok_or_else(|| Error::Verify {
                repo: bundle.description.repository.clone(),
                source: crate::tuf::updater::VerifyError::NoTrustedRoot {
                    path: home_trusted.join(Role::Root.file_name()),
                },
            })?;
            TrustedState {
                root,
                timestamp: read(Role::Timestamp),
                snapshot: read(Role::Snapshot),
                targets: read(Role::Targets),
            }
        }
        (None, None) => {
            return Err(Error::Choose(
                "--bundle needs a pinned root: pass --root ROOT.json, or configure the \
                 repository with `patchkit repo add` first"
                    .into(),
            ))
        }
    };
    let name = &bundle.description.repository;
    let as_of =
        signed::newest_time_seen(home).map_or(bundle.created, |seen| seen.max(bundle.created));
    let catalog = signed::verify_all(name, &trusted, bundle, as_of, limits)?;
    {
        let _lock = home.lock(crate::state::LockKind::Exclusive)?;
        signed::raise_newest_time(home, bundle.created)?;
    }
    Ok(VerifiedCatalog {
        catalog,
        as_of: Some(as_of),
        // Verified as of its making: its expiry then is not checked now.
        expires: None,
    })
}
