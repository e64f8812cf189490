//! The repository source tree: `patches/<Dist-Name>/<ID>.toml` beside
//! `<ID>.patch`, as the security team edits it.
//!
//! Reading it is bounded (file count and sizes) and never follows a
//! symlink: a source tree is checked out from somewhere, and a link to
//! `/etc` is not a patch. Validation itself is the catalog's
//! ([`Catalog::from_files`]), so that the signed and unsigned ways in apply
//! the same checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Catalog, Origin, Problem, MAX_PATCH_BYTES};

/// Most files read from a source tree.
pub const MAX_FILES: usize = 100_000;

/// Why a source tree could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The directory or a file in it could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The tree is larger than [`MAX_FILES`] files.
    #[error("{0} holds more than {MAX_FILES} files")]
    TooManyFiles(PathBuf),
    /// One or more records are invalid.
    #[error("{}", problems_text(.0))]
    Invalid(Vec<Problem>),
}

fn problems_text(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("invalid record {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Read every `<Dist>/<file>` of the source tree at `dir` (regular files
/// only, symlinks refused), keyed `"<Dist>/<file>"`.
pub fn read_files(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let mut files = BTreeMap::new();
    let mut problems = Vec::new();
    for dist in std::fs::read_dir(dir).map_err(io(dir))? {
        let dist = dist.map_err(io(dir))?;
        let dist_path = dist.path();
        let ft = dist.file_type().map_err(io(&dist_path))?;
        let dist_name = dist.file_name().to_string_lossy().into_owned();
        if dist_name.starts_with('.') || !ft.is_dir() {
            // README.md and dotfiles at the top are not records.
            continue;
        }
        for f in std::fs::read_dir(&dist_path).map_err(io(&dist_path))? {
            let f = f.map_err(io(&dist_path))?;
            let path = f.path();
            let name = f.file_name().to_string_lossy().into_owned();
            let key = format!("{dist_name}/{name}");
            let ft = f.file_type().map_err(io(&path))?;
            if ft.is_symlink() {
                problems.push(Problem {
                    file: key,
                    message: "is a symbolic link; records must be regular files".into(),
                });
                continue;
            }
            if !ft.is_file() || !(name.ends_with(".toml") || name.ends_with(".patch")) {
                continue;
            }
            let len = f.metadata().map_err(io(&path))?.len();
            if len > MAX_PATCH_BYTES as u64 {
                problems.push(Problem {
                    file: key,
                    message: format!("is larger than {MAX_PATCH_BYTES} bytes"),
                });
                continue;
            }
            files.insert(key, std::fs::read(&path).map_err(io(&path))?);
            if files.len() > MAX_FILES {
                return Err(Error::TooManyFiles(dir.to_path_buf()));
            }
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Load and validate the source tree at `dir`.
pub fn load(dir: &Path) -> Result<Catalog, Error> {
    let files = read_files(dir)?;
    Catalog::from_files(
        Origin::Unsigned {
            dir: dir.display().to_string(),
        },
        &files,
    )
    .map_err(Error::Invalid)
}
