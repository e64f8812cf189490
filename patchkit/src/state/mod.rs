//! Client state on disk: the home directory, atomic writes and the local
//! application log.
//!
//! Owns the one helper through which every output and every piece of cached
//! state is written ([`write_atomic`]): a temporary file in the destination's
//! directory, flushed, then renamed over the destination. This keeps the
//! docs/ARCHITECTURE.md invariant "nothing half-done": a reader sees the old bytes or
//! the new bytes, never a torn file, and a crash leaves at most a stray
//! temporary file that is never mistaken for state.

pub mod commit;
pub mod lock;
pub mod log;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use lock::{HomeLock, LockKind};

/// Errors of the state layer; each names the path it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done ("write", "read", "create directory").
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No home directory could be found.
    #[error("no home directory: pass --home DIR or set PATCHKIT_HOME")]
    NoHome,
    /// The home is not safe to trust (docs/security.md).
    #[error("refusing the home {}: {reason}", .path.display())]
    UnsafeHome {
        /// The home (or state directory).
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// Another patchkit held the home's lock for too long.
    #[error(
        "cannot lock {}: another patchkit has been using this home for {waited} s \
         (set PATCHKIT_LOCK_TIMEOUT=SECONDS to wait longer)", .path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Seconds waited.
        waited: u64,
    },
    /// A journal of an interrupted commit cannot be used.
    #[error("cannot recover {}: {reason}", .path.display())]
    BadJournal {
        /// The journal file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// The underlying I/O error, for layers whose own errors carry one.
    pub fn into_io(self) -> std::io::Error {
        match self {
            Error::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        }
    }

    /// Wrap an I/O error with what was done and to which path.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Write `data` to `path` through a temporary file in the same directory and
/// a rename, creating the parent directory if needed. `mode`, when given,
/// sets Unix permission bits before the rename (e.g. `0o600` for secrets).
pub fn write_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".patchkit-tmp-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io("create a temporary file in", &dir, e))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io("write", tmp.path(), e))?;
    set_mode(tmp.path(), mode.unwrap_or(0o644))?;
    tmp.persist(path)
        .map_err(|e| Error::io("rename into place", path, e.error))?;
    // The rename itself must survive a power cut, not only a killed
    // process: sync the directory that holds it (best effort where a
    // directory cannot be opened for that).
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set permissions of", path, e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), Error> {
    Ok(())
}

/// Read at most `max` bytes of an untrusted file: a larger one is refused,
/// not truncated. The one bounded file reader of the crate (archives,
/// patches given on the command line, installed META files).
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let too_large = || std::io::Error::other(format!("larger than the {max}-byte limit"));
    let file = std::fs::File::open(path)?;
    // Size the buffer from the file's length, so that a small file is read
    // in one call rather than in growing probes (thousands of files per
    // library); `take` still bounds a file that grows meanwhile.
    let hint = file.metadata().map(|m| m.len()).unwrap_or(0);
    if hint > max {
        return Err(too_large());
    }
    let mut data = Vec::with_capacity(usize::try_from(hint).unwrap_or(0).saturating_add(1));
    file.take(max + 1).read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(too_large());
    }
    Ok(data)
}

/// The state directory: `--home DIR`, else `$PATCHKIT_HOME`, else
/// `$XDG_DATA_HOME/patchkit`, else `~/.local/share/patchkit`.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    lock_wait: Duration,
}

/// How long a command waits for the home's lock unless
/// `PATCHKIT_LOCK_TIMEOUT` (seconds) says otherwise.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

impl Home {
    /// Resolve the home directory from an explicit option and the
    /// environment (read here once, so that the rest of the code is pure).
    pub fn resolve(explicit: Option<&Path>) -> Result<Home, Error> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let wait = env("PATCHKIT_LOCK_TIMEOUT")
            .and_then(|v| v.to_str()?.trim().parse::<u64>().ok())
            .map_or(DEFAULT_LOCK_WAIT, Duration::from_secs);
        Ok(Home::resolve_root(explicit)?.with_lock_wait(wait))
    }

    fn resolve_root(explicit: Option<&Path>) -> Result<Home, Error> {
        if let Some(p) = explicit {
            return Ok(Home::at(p));
        }
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(p) = env("PATCHKIT_HOME") {
            return Ok(Home::at(Path::new(&p)));
        }
        if let Some(p) = env("XDG_DATA_HOME") {
            return Ok(Home::at(&Path::new(&p).join("patchkit")));
        }
        if let Some(p) = env("HOME") {
            return Ok(Home::at(&Path::new(&p).join(".local/share/patchkit")));
        }
        Err(Error::NoHome)
    }

    /// A home rooted at `root` (created lazily on first write).
    pub fn at(root: &Path) -> Home {
        Home {
            root: root.to_path_buf(),
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }

    /// The same home, waiting at most `wait` for its lock.
    pub fn with_lock_wait(mut self, wait: Duration) -> Home {
        self.lock_wait = wait;
        self
    }

    /// Take the home's lock (creating the home 0700 and checking it
    /// first, see [`lock`]); held until the guard is dropped.
    ///
    /// # Errors
    /// An unsafe home, a lock held by another process past the wait, or
    /// an I/O error.
    pub fn lock(&self, kind: LockKind) -> Result<HomeLock, Error> {
        lock::lock_dir(&self.root, kind, self.lock_wait)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The append-only application log.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("log.jsonl")
    }

    /// Where the configured repositories live (one directory each).
    pub fn repos_dir(&self) -> PathBuf {
        self.root.join("repos")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/file");
        write_atomic(&p, b"one", None).unwrap();
        write_atomic(&p, b"two", Some(0o600)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("file")]);
    }

    #[test]
    fn explicit_home_wins() {
        let h = Home::resolve(Some(Path::new("/tmp/x"))).unwrap();
        assert_eq!(h.root(), Path::new("/tmp/x"));
    }
}
