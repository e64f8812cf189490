//! The signed repository: a standard TUF 1.0 repository (root, targets,
//! snapshot, timestamp; ed25519; canonical JSON; consistent snapshots) that
//! any conforming client, python-tuf's ngclient in particular, can verify,
//! and a client that verifies repositories python-tuf wrote.
//!
//! - [`metadata`]: the document formats (TUF 1.0.31 §4), kept exactly, the
//!   [`metadata::Role`] enum, and `Root::role_keys`/`Root::verify_role`.
//! - [`publish`] and [`keyring`]: write `OUT/metadata/` and `OUT/targets/`
//!   as python-tuf lays them out (docs/formats.md), bumping versions only
//!   on change, and let several maintainers add signatures one at a time.
//! - [`updater`]: the TUF 1.0 "detailed client workflow" (§5.3–5.7) in four
//!   phases, plus a fifth for hash bins; pure: it verifies and returns the
//!   verified bytes, and the trust store (`client::store`) commits them.
//! - [`transport`] and [`http`]: where bytes come from (a directory, a
//!   `file://` URL, HTTP), always bounded; [`http`] is the one module of
//!   the crate that opens network connections.
//!
//! Delegation: from 64 targets `publish` delegates every target to 256
//! succinct hash bins (TAP 15, as python-tuf's `SuccinctRoles`), signed
//! with the targets keys, so that one new record changes one or two small
//! bins instead of a `targets.json` listing everything; the client follows
//! them (docs/formats.md, "hash bins"). Each bin with targets also lists
//! its [`pack`], a tar of its other targets (docs/formats.md, "Packs").
//!
//! Left out on purpose: other delegations (explicit `roles`, nested
//! delegations: refused cleanly by the client, never written by
//! `publish`), hash algorithms other than sha256, key types other than
//! ed25519, and TAP extensions other than TAP 15.
//!
//! Key bytes never appear here: keys, canonical JSON and signatures come
//! from `patchkit-signing` (docs/ARCHITECTURE.md, invariant "crypto stays in `signing/`").

pub mod http;
pub mod keyring;
pub mod metadata;
pub mod pack;
pub mod publish;
pub mod transport;
pub mod updater;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod interop_tests;

use std::path::Path;

/// The crate's one atomic writer ([`crate::state::write_atomic`]: temporary
/// file, sync, rename, mode 0644 — metadata and targets are public), with
/// the plain I/O error that this layer's errors carry beside the path.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::state::write_atomic(path, bytes, None).map_err(crate::state::Error::into_io)
}

/// Writes `bytes` to `path` through a temporary file and a rename, without
/// a sync: for content-addressed files, whose name is their hash, so that a
/// torn one is recognised by its hash and never trusted. The caller syncs
/// the folder ([`sync_dir`]) before any metadata names them.
pub(crate) fn write_unsynced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".patchkit-tmp-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Syncs a folder's entries (one `fsync` of the directory): on journaling
/// file systems that write data before metadata (ext4's default), this
/// also makes the files just written into it durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

pub(crate) use crate::tree::sha256_hex;

/// Downloads (and syncs) in flight at once: enough to hide latency, few
/// enough to stay polite to a mirror.
pub(crate) const IN_FLIGHT: usize = 8;

/// `f` over every item on up to [`IN_FLIGHT`] threads, results in order
/// (downloads and syncs wait on the network or the disk, not on the two
/// cores a build box has).
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    if items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..IN_FLIGHT.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if let Ok(mut d) = done.lock() {
                    d.push((i, r));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_default();
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Checks a target path as TUF names it: `/`-separated, relative, no empty,
/// `.` or `..` components, no control characters or backslashes. The same
/// rule guards the publisher's output paths and the client's cache and
/// request paths.
pub(crate) fn check_target_path(name: &str) -> Result<(), String> {
    match crate::tree::InTreePath::parse(name) {
        // parse() normalises `a//b` and `./a`; a target name must already be
        // in normal form so that it names exactly one file.
        Ok(p) if p.as_str() == name => Ok(()),
        Ok(_) => Err("is not in normal form (empty or `.` components)".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// File name of a target under consistent snapshots: `dir/HASH.base`.
pub(crate) fn hashed_target_path(name: &str, sha256: &str) -> String {
    match name.rsplit_once('/') {
        Some((dir, base)) => format!("{dir}/{sha256}.{base}"),
        None => format!("{sha256}.{name}"),
    }
}
