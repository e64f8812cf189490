//! What an installed Perl library holds besides cpanm's `.meta/`: the
//! module files, the `.packlist` of each distribution ExtUtils::MakeMaker
//! or Module::Build installed (`<archname>/auto/Foo/Bar/.packlist`, one
//! installed file per line, absolute paths), and `perllocal.pod` (which
//! module was installed, at which version).
//!
//! cpanm writes `.meta/<dist>/` only for a dist it resolved from an index,
//! and CPAN.pm never does; the packlists and `perllocal.pod` are written by
//! the build tools themselves, whoever ran them. What neither accounts for
//! is kept as loose module files, which [`super::content`] tries to
//! recognise by their content.
//!
//! Everything here is bounded: the walk stops at [`MAX_ENTRIES`] entries
//! and [`MAX_DEPTH`] levels, symlinks are never followed, and packlists and
//! `perllocal.pod` are read up to [`MAX_LIST_BYTES`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::state::read_bounded;

/// Most directory entries one library walk looks at.
pub const MAX_ENTRIES: usize = 2_000_000;
/// Deepest directory level walked below the library.
pub const MAX_DEPTH: usize = 32;
/// Largest `.packlist` or `perllocal.pod` read (bytes).
pub const MAX_LIST_BYTES: u64 = 16 * 1024 * 1024;

/// A module file found in a library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFile {
    /// Below the library, `/`-separated, as found (`Foo/Bar.pm`,
    /// `x86_64-linux/Foo/Bar.pm`).
    pub rel: String,
    /// Below the library with an architecture directory left out
    /// (`Foo/Bar.pm`): the module's path, as `lib/` holds it in the dist.
    pub module: String,
    /// The file.
    pub path: PathBuf,
}

/// One `.packlist`.
#[derive(Debug, Clone)]
pub struct Packlist {
    /// The packlist file.
    pub path: PathBuf,
    /// The module it is named after (`auto/Foo/Bar/.packlist`: `Foo::Bar`).
    pub module: String,
    /// The files it lists that are below the library, as `rel` paths.
    pub files: Vec<String>,
    /// Listed files that could not be placed below the library.
    pub outside: usize,
}

/// What a walk of a library found.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Module files (`*.pm`), by `rel`.
    pub modules: BTreeMap<String, InstalledFile>,
    /// Every packlist, sorted by path.
    pub packlists: Vec<Packlist>,
    /// Module name → version, from every `perllocal.pod` (the last entry
    /// of a module counts: it is the latest install).
    pub perllocal: BTreeMap<String, String>,
    /// Architecture directories (children holding `auto/`, `.meta/` or
    /// `perllocal.pod`).
    pub arch_dirs: Vec<String>,
    /// Notes: the walk was cut short, a list could not be read.
    pub warnings: Vec<String>,
}

/// Whether a child of the library is an architecture directory.
pub fn is_arch_dir(dir: &Path) -> bool {
    ["auto", ".meta", "perllocal.pod"]
        .iter()
        .any(|n| fs::symlink_metadata(dir.join(n)).is_ok())
}

/// Walk `lib`: module files, packlists, `perllocal.pod`.
pub fn walk(lib: &Path) -> Walk {
    let mut w = Walk::default();
    let mut children: Vec<PathBuf> = fs::read_dir(lib)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    children.sort();
    for c in &children {
        if fs::symlink_metadata(c).is_ok_and(|m| m.is_dir()) && is_arch_dir(c) {
            if let Some(name) = c.file_name().and_then(|n| n.to_str()) {
                w.arch_dirs.push(name.to_string());
            }
        }
    }
    let mut seen = 0usize;
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(lib.to_path_buf(), String::new(), 0)];
    let mut packlist_files: Vec<(PathBuf, String)> = Vec::new();
    let mut perllocals: Vec<PathBuf> = Vec::new();
    while let Some((dir, rel, depth)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else {
            w.warnings
                .push(format!("{}: cannot list it; not audited", dir.display()));
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            seen += 1;
            if seen > MAX_ENTRIES {
                w.warnings.push(format!(
                    "{}: more than {MAX_ENTRIES} entries; the rest was not walked",
                    lib.display()
                ));
                return finish(w, lib, packlist_files, perllocals);
            }
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(md) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if md.is_dir() {
                // cpanm's records are read by the scan itself.
                if name == ".meta" {
                    continue;
                }
                if depth + 1 >= MAX_DEPTH {
                    w.warnings.push(format!(
                        "{}: deeper than {MAX_DEPTH} levels; not walked",
                        e.path().display()
                    ));
                    continue;
                }
                stack.push((e.path(), child_rel, depth + 1));
            } else if md.is_file() {
                if name == ".packlist" && rel.split('/').any(|c| c == "auto") {
                    packlist_files.push((e.path(), rel.clone()));
                } else if name == "perllocal.pod" && depth <= 1 {
                    perllocals.push(e.path());
                } else if name.ends_with(".pm") && !rel.split('/').any(|c| c == "auto") {
                    let module = module_path(&child_rel, &w.arch_dirs);
                    w.modules.insert(
                        child_rel.clone(),
                        InstalledFile {
                            rel: child_rel,
                            module,
                            path: e.path(),
                        },
                    );
                }
            }
        }
    }
    finish(w, lib, packlist_files, perllocals)
}

fn finish(
    mut w: Walk,
    lib: &Path,
    mut packlist_files: Vec<(PathBuf, String)>,
    perllocals: Vec<PathBuf>,
) -> Walk {
    packlist_files.sort();
    let root = fs::canonicalize(lib).unwrap_or_else(|_| lib.to_path_buf());
    for (path, rel) in packlist_files {
        // `<arch>/auto/Foo/Bar` → `Foo::Bar`.
        let after_auto: Vec<&str> = rel
            .split('/')
            .skip_while(|c| *c != "auto")
            .skip(1)
            .collect();
        if after_auto.is_empty() {
            continue;
        }
        let module = after_auto.join("::");
        let text = match read_bounded(&path, MAX_LIST_BYTES) {
            Ok(t) => t,
            Err(e) => {
                w.warnings
                    .push(format!("{}: cannot read it ({e})", path.display()));
                continue;
            }
        };
        let mut files = Vec::new();
        let mut outside = 0;
        for line in String::from_utf8_lossy(&text).lines() {
            let listed = packlist_path(line);
            if listed.is_empty() {
                continue;
            }
            match below(&root, lib, Path::new(listed)) {
                Some(r) => files.push(r),
                None => outside += 1,
            }
        }
        w.packlists.push(Packlist {
            path,
            module,
            files,
            outside,
        });
    }
    for p in perllocals {
        match read_bounded(&p, MAX_LIST_BYTES) {
            Ok(text) => w
                .perllocal
                .extend(parse_perllocal(&String::from_utf8_lossy(&text))),
            Err(e) => w
                .warnings
                .push(format!("{}: cannot read it ({e})", p.display())),
        }
    }
    w
}

/// The module path of a file below the library: an architecture
/// directory in front is left out.
pub fn module_path(rel: &str, arch_dirs: &[String]) -> String {
    match rel.split_once('/') {
        Some((first, rest)) if arch_dirs.iter().any(|a| a == first) => rest.to_string(),
        _ => rel.to_string(),
    }
}

/// The path of one packlist line: ExtUtils::Packlist writes `PATH` or
/// `PATH key=value …`.
fn packlist_path(line: &str) -> &str {
    let line = line.trim_end();
    let mut end = line.len();
    // Strip trailing ` key=value` pairs, right to left.
    while let Some(sp) = line[..end].rfind(' ') {
        let attr = &line[sp + 1..end];
        let is_attr = attr.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !is_attr {
            break;
        }
        end = sp;
    }
    &line[..end]
}

/// `listed` below the library, `/`-separated: its prefix is the library
/// (as given or canonical); failing that (the library was moved or copied
/// since), the longest tail of it that exists below the library.
fn below(root: &Path, lib: &Path, listed: &Path) -> Option<String> {
    for base in [root, lib] {
        if let Ok(r) = listed.strip_prefix(base) {
            return rel_string(r);
        }
    }
    let parts: Vec<&std::ffi::OsStr> = listed.iter().collect();
    for start in 1..parts.len() {
        let tail: PathBuf = parts[start..].iter().collect();
        if tail.is_relative() && fs::symlink_metadata(lib.join(&tail)).is_ok() {
            return rel_string(&tail);
        }
    }
    None
}

fn rel_string(p: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = p.iter().map(|c| c.to_str()).collect();
    let parts = parts?;
    if parts.is_empty() || parts.iter().any(|c| *c == ".." || *c == "/") {
        return None;
    }
    Some(parts.join("/"))
}

/// Module → version from a `perllocal.pod`: each install is a
/// `=head2 DATE: C<Module> L<Foo::Bar|Foo::Bar>` followed by items, one of
/// them `C<VERSION: 1.23>`.
pub fn parse_perllocal(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("=head2") {
            current = line.split_once("L<").and_then(|(_, rest)| {
                let end = rest.find(['|', '>'])?;
                let m = &rest[..end];
                is_module_name(m).then(|| m.to_string())
            });
        } else if let (Some(m), Some(rest)) = (&current, line.trim().strip_prefix("C<VERSION: ")) {
            let v = rest.trim_end_matches('>').trim();
            if !v.is_empty() && v.len() <= 64 {
                out.insert(m.clone(), v.to_string());
            }
        }
    }
    out
}

fn is_module_name(m: &str) -> bool {
    !m.is_empty()
        && m.len() <= 256
        && m.split("::")
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// The version a module file declares (`our $VERSION = '1.23';` and the
/// usual variants), read without running Perl: the first `$VERSION`
/// assignment whose value is a literal.
pub fn declared_version(source: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(source);
    for line in text.lines().take(2000) {
        // `$VERSION`, or `$Foo::Bar::VERSION`.
        let Some(at) = line
            .match_indices("VERSION")
            .map(|(i, _)| i)
            .find(|&i| matches!(line[..i].chars().last(), Some('$' | ':')))
        else {
            continue;
        };
        let rest = &line[at + "VERSION".len()..];
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start().trim_start_matches(['\'', '"', 'q']);
        let rest = rest.trim_start_matches(['{', '(', '\'', '"']);
        let v: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '_' | 'v'))
            .collect();
        if v.chars().any(|c| c.is_ascii_digit()) {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perllocal_gives_the_last_version_of_each_module() {
        let text = "=head2 Fri Dec  4 22:10:13 2026: C<Module> L<Acme::Buggy|Acme::Buggy>\n\n=over 4\n\n=item *\n\nC<installed into: /x>\n\n=item *\n\nC<VERSION: 1.0>\n\n=back\n\n=head2 Sat: C<Module> L<Acme::Buggy|Acme::Buggy>\n\n=item *\n\nC<VERSION: 1.1>\n\n=head2 Sat: C<Module> L<evil\u{1b}|x>\n\nC<VERSION: 9>\n";
        let m = parse_perllocal(text);
        assert_eq!(m.get("Acme::Buggy").map(String::as_str), Some("1.1"));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn packlist_lines_lose_their_attributes() {
        assert_eq!(packlist_path("/a/b c/Foo.pm"), "/a/b c/Foo.pm");
        assert_eq!(
            packlist_path("/usr/bin/foo type=link from=/x"),
            "/usr/bin/foo"
        );
    }

    #[test]
    fn declared_versions_are_read_without_perl() {
        for (src, want) in [
            ("our $VERSION = '1.94';\n", Some("1.94")),
            ("$Foo::VERSION = \"0.86\";", Some("0.86")),
            ("our $VERSION = q{2.1};", Some("2.1")),
            ("my $x = $VERSION;", None),
        ] {
            assert_eq!(declared_version(src.as_bytes()).as_deref(), want, "{src}");
        }
    }

    #[test]
    fn arch_directories_are_left_out_of_module_paths() {
        let arch = vec!["x86_64-linux".to_string()];
        assert_eq!(module_path("x86_64-linux/Foo/Bar.pm", &arch), "Foo/Bar.pm");
        assert_eq!(module_path("Foo/Bar.pm", &arch), "Foo/Bar.pm");
    }
}
