//! The home's lock and its safety checks.
//!
//! Parallel jobs may share one home (CI runners often do). Every command
//! that writes the home's state (`repo add`, `repo remove`, `update`, the
//! application log) holds an exclusive `flock` on `HOME/lock` while it
//! writes; commands that only read the trust store (`--offline`, `repo
//! list`, bundles) hold it shared. A busy lock is waited for, up to
//! [`Home::lock_wait`](super::Home) (60 s unless `PATCHKIT_LOCK_TIMEOUT`
//! says otherwise), then refused in one sentence naming the lock file.
//!
//! Before the lock is taken the home is created `0700` when missing, and
//! refused when it is a symlink, not owned by this user, or writable by
//! the group or others (docs/security.md, "a local user on a shared build
//! host"): whoever can write the home can replace the pinned root.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Error;

/// Shared (readers) or exclusive (writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Many readers at once, no writer.
    Shared,
    /// One writer, no reader.
    Exclusive,
}

/// A held lock; released when dropped (the file is closed).
#[derive(Debug)]
pub struct HomeLock {
    _file: std::fs::File,
}

/// The lock file inside a state directory.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join("lock")
}

/// Create `dir` (mode 0700, parents as usual) if it is missing, and check
/// that it is a directory this user owns that no one else can write.
///
/// # Errors
/// [`Error::UnsafeHome`] naming the directory and the reason.
pub fn prepare_dir(dir: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io("create directory", parent, e))?;
            }
            create_private_dir(dir)?;
        }
        Err(e) => return Err(Error::io("inspect", dir, e)),
        Ok(_) => {}
    }
    check_private_dir(dir)
}

/// Create one directory with mode 0700 whatever the umask (the mode is
/// set again after creation, as the umask only ever removes bits).
pub fn create_private_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("set permissions of", dir, e)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(Error::io("create directory", dir, e)),
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))
    }
}

#[cfg(unix)]
fn check_private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| Error::io("inspect", dir, e))?;
    let unsafe_home = |reason: &'static str| Error::UnsafeHome {
        path: dir.to_path_buf(),
        reason,
    };
    if !meta.is_dir() {
        return Err(unsafe_home(
            "it is not a directory (a symlink is not accepted)",
        ));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(unsafe_home("it is owned by another user"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_home(
            "it is writable by its group or by others (chmod 700 it)",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_dir(_dir: &Path) -> Result<(), Error> {
    Ok(())
}

/// Take the lock of the state directory `dir` (prepared first), waiting
/// at most `wait`.
///
/// # Errors
/// [`Error::UnsafeHome`], [`Error::Locked`] after `wait`, or an I/O error.
pub fn lock_dir(dir: &Path, kind: LockKind, wait: Duration) -> Result<HomeLock, Error> {
    prepare_dir(dir)?;
    let path = lock_path(dir);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    #[cfg(unix)]
    {
        use rustix::fs::{flock, FlockOperation};
        let op = match kind {
            LockKind::Shared => FlockOperation::NonBlockingLockShared,
            LockKind::Exclusive => FlockOperation::NonBlockingLockExclusive,
        };
        let start = Instant::now();
        loop {
            match flock(&file, op) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR) => {
                    if start.elapsed() >= wait {
                        return Err(Error::Locked {
                            path,
                            waited: wait.as_secs(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(Error::io("lock", &path, e.into())),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (kind, wait, Instant::now());
    Ok(HomeLock { _file: file })
}
