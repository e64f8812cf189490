//! Recognising a flaw that is already fixed by other means: the target
//! does not carry *this* diff (it does not apply, and its exact reverse
//! does not fit: [`carries`]), yet the fix is there. The rule, decided per
//! file (docs/applying.md, "Per-patch outcomes"):
//!
//! 1. **By content.** Every file the patch changes already has the content
//!    the patch would give it — each file diff's exact reverse fits where
//!    the patch puts its lines ([`carries`], with its guard against a
//!    decoy copy of the fixed lines elsewhere) — except that a *test* file
//!    the patch creates (below `t/` or `xt/`, or named `*.t`) may be
//!    absent. At least one file that is not a test must carry the fix: a
//!    patch is never "fixed" by the absence of its test alone.
//! 2. **By a distribution's patch.** The tree is an unpacked Debian 3.0
//!    (quilt) source tree (never a tarball, whose `debian/` would be
//!    upstream's word) whose
//!    `debian/patches/series` lists a patch whose DEP-3 header (`CVE:`, or
//!    `Bug:` / `Bug-<Vendor>:`) names one of the record's aliases as a whole
//!    token, and whose diff changes at least one of the non-test files the
//!    record's patch changes. The bytes may differ: the distribution fixed
//!    the same flaw its own way.
//!
//! Pure functions of a tree and a parsed patch: nothing is read or written.

use super::{carries, dep3, parse, FilePatch, Operation, ParsedPatch};
use crate::tree::{InTreePath, Tree};

/// The quilt series of a Debian source tree.
pub const DEBIAN_SERIES: &str = "debian/patches/series";
/// The Debian source format file.
pub const DEBIAN_FORMAT: &str = "debian/source/format";

/// Whether a distribution's own patches may count as evidence (rule 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Distribution {
    /// No: the content alone decides (a tarball: its `debian/`, if any, is
    /// upstream's, not the packager's).
    #[default]
    Ignored,
    /// Yes, when the tree is a Debian 3.0 (quilt) source tree (an unpacked
    /// directory: the packager's own tree).
    Debian,
}

/// Whether `tree` is a Debian 3.0 (quilt) source tree: its
/// `debian/source/format` says so.
pub fn is_debian_quilt_tree(tree: &Tree) -> bool {
    InTreePath::parse(DEBIAN_FORMAT)
        .ok()
        .and_then(|p| tree.files.get(&p))
        .is_some_and(|f| String::from_utf8_lossy(&f.data).trim() == "3.0 (quilt)")
}

/// How a fix by other means was recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// The files carry the fix (rule 1).
    Content {
        /// Files that have the content the patch would give them.
        carried: Vec<InTreePath>,
        /// Test files the patch creates that are absent.
        absent_tests: Vec<InTreePath>,
    },
    /// A distribution patch names the flaw (rule 2).
    Distribution {
        /// The patch file (`debian/patches/<name>`).
        patch: InTreePath,
        /// The header that names it (`CVE` or `Bug`).
        field: &'static str,
        /// The alias it names.
        alias: String,
    },
}

impl Evidence {
    /// How patchkit knows, in one clause for people and for the record.
    pub fn reason(&self) -> String {
        let list = |paths: &[InTreePath]| {
            paths
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Evidence::Content {
                carried,
                absent_tests,
            } if absent_tests.is_empty() => format!(
                "every file the patch changes already has the content it would give it ({})",
                list(carried)
            ),
            Evidence::Content {
                carried,
                absent_tests,
            } => format!(
                "the code already has the fixed content ({}); test {} absent",
                list(carried),
                list(absent_tests)
            ),
            Evidence::Distribution {
                patch,
                field,
                alias,
            } => format!("{patch} (in {DEBIAN_SERIES}) names {alias} in its {field} header"),
        }
    }
}

/// Whether `path` is a test file of a CPAN distribution.
pub fn is_test_file(path: &InTreePath) -> bool {
    let s = path.as_str();
    s.starts_with("t/") || s.starts_with("xt/") || s.ends_with(".t")
}

/// Whether `tree` has the fix of `patch` by other means (see the module
/// docs); `earlier` are the patches before it in the target's order, as
/// for [`carries`]; `aliases` the record's CVE / GHSA ids (from the
/// verified record, never from a claim).
pub fn fixed_otherwise(
    tree: &Tree,
    patch: &ParsedPatch,
    earlier: &[&ParsedPatch],
    aliases: &[String],
    distribution: Distribution,
) -> Option<Evidence> {
    by_content(tree, patch, earlier).or_else(|| match distribution {
        Distribution::Debian if is_debian_quilt_tree(tree) => by_distribution(tree, patch, aliases),
        _ => None,
    })
}

fn by_content(tree: &Tree, patch: &ParsedPatch, earlier: &[&ParsedPatch]) -> Option<Evidence> {
    let mut carried = Vec::new();
    let mut absent_tests = Vec::new();
    for file in &patch.files {
        if matches!(file.op, Operation::Create)
            && is_test_file(&file.new_path)
            && !tree.files.contains_key(&file.new_path)
        {
            absent_tests.push(file.new_path.clone());
            continue;
        }
        let one = ParsedPatch {
            preamble: String::new(),
            files: vec![file.clone()],
        };
        carries(tree, &one, earlier).ok()?;
        carried.push(file.new_path.clone());
    }
    carried
        .iter()
        .any(|p| !is_test_file(p))
        .then_some(Evidence::Content {
            carried,
            absent_tests,
        })
}

/// The files a diff changes that are not tests.
fn code_files(files: &[FilePatch]) -> impl Iterator<Item = &InTreePath> {
    files
        .iter()
        .flat_map(|f| [&f.old_path, &f.new_path])
        .filter(|p| !is_test_file(p))
}

fn by_distribution(tree: &Tree, patch: &ParsedPatch, aliases: &[String]) -> Option<Evidence> {
    if aliases.is_empty() {
        return None;
    }
    let series = tree.files.get(&InTreePath::parse(DEBIAN_SERIES).ok()?)?;
    let ours: Vec<&InTreePath> = code_files(&patch.files).collect();
    for (name, strip) in series_entries(&String::from_utf8_lossy(&series.data)) {
        let Ok(path) = InTreePath::parse(&format!("debian/patches/{name}")) else {
            continue;
        };
        let Some(file) = tree.files.get(&path) else {
            continue;
        };
        let header = dep3::Dep3::parse(&dep3::preamble_of(&file.data));
        let named = [("CVE", &header.cves), ("Bug", &header.bugs)]
            .into_iter()
            .find_map(|(field, values)| {
                aliases
                    .iter()
                    .find(|a| values.iter().any(|v| names_token(v, a)))
                    .map(|a| (field, a.clone()))
            });
        let Some((field, alias)) = named else {
            continue;
        };
        // The distribution's diff must touch the code this record fixes.
        let Ok(theirs) = parse(&file.data, strip) else {
            continue;
        };
        if code_files(&theirs.files).any(|p| ours.contains(&p)) {
            return Some(Evidence::Distribution {
                patch: path,
                field,
                alias,
            });
        }
    }
    None
}

/// The patches a quilt `series` lists, with their strip level (`-pN`,
/// default 1); comments and empty lines skipped.
pub fn series_entries(series: &str) -> Vec<(String, usize)> {
    series
        .lines()
        .filter_map(|line| {
            let line = line.split(" #").next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let mut words = line.split_whitespace();
            let name = words.next()?.to_string();
            let strip = words
                .find_map(|w| w.strip_prefix("-p").and_then(|n| n.parse().ok()))
                .unwrap_or(1);
            Some((name, strip))
        })
        .collect()
}

/// Whether `value` names `token` as a whole word (case-insensitive): the
/// characters around it are not letters or digits.
fn names_token(value: &str, token: &str) -> bool {
    let (v, t) = (value.to_ascii_lowercase(), token.to_ascii_lowercase());
    if t.is_empty() {
        return false;
    }
    let bytes = v.as_bytes();
    let mut from = 0;
    while let Some(i) = v[from..].find(&t) {
        let start = from + i;
        let end = start + t.len();
        let before = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before && after {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_named_only_whole() {
        assert!(names_token("CVE-2025-40931", "CVE-2025-40931"));
        assert!(names_token(
            "https://security-tracker.debian.org/tracker/cve-2025-40931",
            "CVE-2025-40931"
        ));
        assert!(names_token("CVE-2025-1, CVE-2025-40931", "CVE-2025-40931"));
        assert!(!names_token("CVE-2025-409312", "CVE-2025-40931"));
        assert!(!names_token("XCVE-2025-40931", "CVE-2025-40931"));
        assert!(!names_token("CVE-2025-4093", "CVE-2025-40931"));
    }

    #[test]
    fn series_lines_give_names_and_strip_levels() {
        let s = "# comment\nfix.patch\n\nother.patch -p0\nthird.patch # note\n";
        assert_eq!(
            series_entries(s),
            vec![
                ("fix.patch".to_string(), 1),
                ("other.patch".to_string(), 0),
                ("third.patch".to_string(), 1)
            ]
        );
    }

    #[test]
    fn test_files_are_told_from_code() {
        for (p, test) in [
            ("t/x.t", true),
            ("xt/author.t", true),
            ("lib/Foo.t", true),
            ("lib/Foo.pm", false),
            ("Makefile.PL", false),
        ] {
            assert_eq!(is_test_file(&InTreePath::parse(p).unwrap()), test, "{p}");
        }
    }
}
