//! The in-memory distribution tree that archives are read into and patches
//! are applied to.
//!
//! Owns [`InTreePath`], the only path type allowed past an input boundary:
//! relative, `/`-separated, no `.`/`..`/empty components, no NUL or control
//! characters. Archive member names (after the top directory is removed),
//! directory walks and patch paths (after `strip`) all become an
//! `InTreePath` or the input is refused, which keeps the docs/ARCHITECTURE.md invariant
//! "no path outside the distribution".
//!
//! It also owns the *tree digest*, the fingerprint that binds a reviewed
//! input tarball to the patched output (see docs/formats.md).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sha2::{Digest, Sha256};

/// Longest path accepted inside a distribution (bytes). ustar with PAX or GNU
/// long names allows more, but no CPAN distribution needs it.
pub const MAX_PATH_LEN: usize = 1024;

/// Why a string is not a safe in-tree path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty (or only slashes).
    #[error("is empty")]
    Empty,
    /// The path starts at the file system root.
    #[error("is absolute")]
    Absolute,
    /// A `..` component would leave the distribution.
    #[error("leaves the distribution directory")]
    ParentDir,
    /// NUL, a control character or a backslash in the name.
    #[error("contains a control character or backslash")]
    BadChar,
    /// Longer than [`MAX_PATH_LEN`].
    #[error("is longer than {MAX_PATH_LEN} bytes")]
    TooLong,
}

/// A path relative to a distribution's top directory that cannot escape it.
///
/// `.` components and repeated or trailing slashes are normalised away;
/// anything that could name a location outside the tree is refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct InTreePath(String);

impl InTreePath {
    /// Parse and normalise `raw`.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if raw.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong);
        }
        if raw.chars().any(|c| c.is_control() || c == '\\') {
            return Err(PathError::BadChar);
        }
        if raw.starts_with('/') {
            return Err(PathError::Absolute);
        }
        // A Windows drive prefix ("C:") is as absolute as a leading slash
        // for anyone who unpacks the result on Windows.
        let bytes = raw.as_bytes();
        if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
            return Err(PathError::Absolute);
        }
        let mut parts = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(PathError::ParentDir),
                p => parts.push(p),
            }
        }
        if parts.is_empty() {
            return Err(PathError::Empty);
        }
        Ok(InTreePath(parts.join("/")))
    }

    /// The normalised path, `/`-separated.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent directory, if any.
    pub fn parent(&self) -> Option<InTreePath> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| InTreePath(parent.to_string()))
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, name)| name)
    }

    /// `self` followed by `child` (which is already safe).
    pub fn join(&self, child: &InTreePath) -> InTreePath {
        InTreePath(format!("{}/{}", self.0, child.0))
    }
}

impl fmt::Display for InTreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for InTreePath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A regular file's content and permission bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The bytes, exactly as in the archive.
    pub data: Vec<u8>,
    /// Unix permission bits as found (e.g. `0o644`); only the executable
    /// bit is significant to patches and to the tree digest.
    pub mode: u32,
}

impl FileEntry {
    /// Whether any executable bit is set.
    pub fn is_executable(&self) -> bool {
        self.mode & 0o111 != 0
    }

    /// The git-style mode used in the tree digest: `100755` or `100644`.
    pub fn git_mode(&self) -> u32 {
        if self.is_executable() {
            0o100755
        } else {
            0o100644
        }
    }
}

/// A regular file whose content a [`Tree`] does not hold: what the tree
/// digest and the existence checks need, nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unloaded {
    /// Unix permission bits, as in [`FileEntry::mode`].
    pub mode: u32,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
    /// Length of the content in bytes.
    pub len: u64,
}

impl Unloaded {
    /// The git-style mode, as [`FileEntry::git_mode`].
    pub fn git_mode(&self) -> u32 {
        if self.mode & 0o111 != 0 {
            0o100755
        } else {
            0o100644
        }
    }
}

/// A distribution's content below its top directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// Regular files, with their content.
    pub files: BTreeMap<InTreePath, FileEntry>,
    /// Regular files whose content is not held (a path is in `files` or
    /// here, never both). Only a tarball read for `apply` leaves files
    /// here (`Archive::read_lean`), to bound its memory; the files a
    /// caller reads are loaded first (`Archive::load`). Every other tree
    /// has this empty.
    pub unloaded: BTreeMap<InTreePath, Unloaded>,
    /// Symbolic links, already checked to stay inside the tree. Patches may
    /// not modify them; they count in the tree digest.
    pub symlinks: BTreeMap<InTreePath, String>,
    /// Directories that appear explicitly (an empty directory must survive).
    pub dirs: BTreeSet<InTreePath>,
}

/// One difference between an original tree and a patched one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A file that exists in both, with new content or mode.
    Modify(InTreePath, FileEntry),
    /// A file that exists only in the patched tree.
    Add(InTreePath, FileEntry),
    /// A file that exists only in the original tree.
    Delete(InTreePath),
}

impl Change {
    /// The path this change is about.
    pub fn path(&self) -> &InTreePath {
        match self {
            Change::Modify(p, _) | Change::Add(p, _) | Change::Delete(p) => p,
        }
    }
}

impl Tree {
    /// Whether `path` is a regular file, its content held or not.
    pub fn has_file(&self, path: &InTreePath) -> bool {
        self.files.contains_key(path) || self.unloaded.contains_key(path)
    }

    /// Every regular file's path, held or not (not in path order).
    pub fn file_paths(&self) -> impl Iterator<Item = &InTreePath> {
        self.files.keys().chain(self.unloaded.keys())
    }

    /// Lowercase hex SHA-256 of the regular file at `path`, held or not.
    pub fn file_sha256(&self, path: &InTreePath) -> Option<String> {
        match self.files.get(path) {
            Some(f) => Some(sha256_hex(&f.data)),
            None => self.unloaded.get(path).map(|u| hex::encode(u.sha256)),
        }
    }

    /// Keep the content of the files in `keep` only: every other file is
    /// dropped to its hash, mode and length ([`Tree::unloaded`]), hashed
    /// over all cores. The digest does not change.
    pub fn hold_only(&mut self, keep: &BTreeSet<InTreePath>) {
        use rayon::prelude::*;
        let drop: Vec<(&InTreePath, &FileEntry)> = self
            .files
            .iter()
            .filter(|(p, _)| !keep.contains(*p))
            .collect();
        let hashed: Vec<(InTreePath, Unloaded)> = drop
            .par_iter()
            .map(|(p, f)| {
                let unloaded = Unloaded {
                    mode: f.mode,
                    sha256: Sha256::digest(&f.data).into(),
                    len: f.data.len() as u64,
                };
                ((*p).clone(), unloaded)
            })
            .collect();
        for (path, unloaded) in hashed {
            self.files.remove(&path);
            self.unloaded.insert(path, unloaded);
        }
    }

    /// The changes that turn `original` into `self`, looking only at `paths`
    /// (the files a patch engine touched), in path order. Passing the
    /// touched set keeps the cost proportional to what the patches change,
    /// not to the size of the distribution.
    pub fn changes_from<'a>(
        &self,
        original: &Tree,
        paths: impl IntoIterator<Item = &'a InTreePath>,
    ) -> Vec<Change> {
        let paths: BTreeSet<&InTreePath> = paths.into_iter().collect();
        let mut out = Vec::new();
        for path in paths {
            match (original.files.get(path), self.files.get(path)) {
                (Some(old), Some(new)) if old != new => {
                    out.push(Change::Modify(path.clone(), new.clone()))
                }
                (None, Some(new)) => out.push(Change::Add(path.clone(), new.clone())),
                (Some(_), None) => out.push(Change::Delete(path.clone())),
                _ => {}
            }
        }
        out
    }

    /// The tree digest: SHA-256 over one line per file and symlink, sorted
    /// by path: `"{mode:o} {sha256-hex} {path}\n"`, where mode is `100644`,
    /// `100755` or `120000` (symlink; the hash is of the link target).
    /// Directories do not count, as in git. Returned as lowercase hex.
    pub fn digest(&self) -> String {
        // Files and symlinks never share a path, so one map sorts both.
        let mut lines: BTreeMap<&InTreePath, String> = BTreeMap::new();
        for (path, file) in &self.files {
            let line = format!("{:o} {} {path}\n", file.git_mode(), sha256_hex(&file.data));
            lines.insert(path, line);
        }
        for (path, file) in &self.unloaded {
            let line = format!(
                "{:o} {} {path}\n",
                file.git_mode(),
                hex::encode(file.sha256)
            );
            lines.insert(path, line);
        }
        for (path, target) in &self.symlinks {
            let line = format!("120000 {} {path}\n", sha256_hex(target.as_bytes()));
            lines.insert(path, line);
        }
        let mut hasher = Sha256::new();
        for line in lines.values() {
            hasher.update(line.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Lowercase hex SHA-256 of `data`: the one digest helper of the crate.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_or_refused() {
        let ok = [
            ("lib/Foo.pm", "lib/Foo.pm"),
            ("./lib//Foo.pm", "lib/Foo.pm"),
            ("lib/", "lib"),
            ("a/./b", "a/b"),
            ("..foo/bar", "..foo/bar"),
        ];
        for (raw, want) in ok {
            assert_eq!(InTreePath::parse(raw).unwrap().as_str(), want, "{raw}");
        }
        let bad = [
            ("", PathError::Empty),
            ("./", PathError::Empty),
            ("/etc/passwd", PathError::Absolute),
            ("C:/x", PathError::Absolute),
            ("../x", PathError::ParentDir),
            ("a/../../x", PathError::ParentDir),
            ("a/..", PathError::ParentDir),
            ("a\0b", PathError::BadChar),
            ("a\nb", PathError::BadChar),
            ("a\\..\\b", PathError::BadChar),
        ];
        for (raw, want) in bad {
            assert_eq!(InTreePath::parse(raw).unwrap_err(), want, "{raw:?}");
        }
        assert_eq!(
            InTreePath::parse(&"a".repeat(MAX_PATH_LEN + 1)).unwrap_err(),
            PathError::TooLong
        );
    }

    #[test]
    fn digest_depends_on_content_mode_and_path_only() {
        let mut a = Tree::default();
        let p = InTreePath::parse("lib/A.pm").unwrap();
        a.files.insert(
            p.clone(),
            FileEntry {
                data: b"1;\n".to_vec(),
                mode: 0o644,
            },
        );
        let mut b = a.clone();
        b.files.get_mut(&p).unwrap().mode = 0o664; // same git mode
        b.dirs.insert(InTreePath::parse("lib").unwrap());
        assert_eq!(a.digest(), b.digest());
        b.files.get_mut(&p).unwrap().mode = 0o755;
        assert_ne!(a.digest(), b.digest());
        let mut c = a.clone();
        c.files.get_mut(&p).unwrap().data.push(b'\n');
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn changes_cover_modify_add_delete() {
        let f = |d: &[u8]| FileEntry {
            data: d.to_vec(),
            mode: 0o644,
        };
        let (x, y, z) = (
            InTreePath::parse("x").unwrap(),
            InTreePath::parse("y").unwrap(),
            InTreePath::parse("z").unwrap(),
        );
        let mut old = Tree::default();
        old.files.insert(x.clone(), f(b"1"));
        old.files.insert(y.clone(), f(b"2"));
        let mut new = old.clone();
        new.files.insert(x.clone(), f(b"changed"));
        new.files.remove(&y);
        new.files.insert(z.clone(), f(b"3"));
        let changes = new.changes_from(&old, [&x, &y, &z]);
        assert_eq!(
            changes,
            vec![
                Change::Modify(x, f(b"changed")),
                Change::Delete(y),
                Change::Add(z, f(b"3")),
            ]
        );
    }
}
