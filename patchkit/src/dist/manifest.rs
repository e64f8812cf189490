//! A distribution's `MANIFEST` (ExtUtils::Manifest): the list of files
//! `make dist` packs. When a patch adds a file the MANIFEST does not list,
//! a tarball made from the patched tree (`make dist`) would leave it out;
//! [`update`] lists it, keeping the file's style: its line ending, and
//! sorted order when the entries already are sorted (as `maniadd` and
//! `make manifest` keep them, case-insensitively), else appended at the end.
//! A path with a space or a quote is written quoted, as ExtUtils::Manifest
//! reads it (`'a b' comment`, `\\` and `\'` escaped).

use crate::tree::InTreePath;

/// The file name.
pub const MANIFEST: &str = "MANIFEST";

/// The path an entry line lists (ExtUtils::Manifest's `maniread`: a quoted
/// name, else the first word), or `None` for an empty or comment line.
fn entry_path(line: &str) -> Option<String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() || line.starts_with('#') {
        return None;
    }
    if let Some(rest) = line.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '\'' => return Some(out),
                c => out.push(c),
            }
        }
        return None;
    }
    line.split_whitespace().next().map(str::to_string)
}

/// How `path` is written as a MANIFEST entry.
fn entry_for(path: &str) -> String {
    if path.contains([' ', '\'', '\t']) {
        format!("'{}'", path.replace('\\', "\\\\").replace('\'', "\\'"))
    } else {
        path.to_string()
    }
}

/// `manifest` with every path of `added` it does not list yet, and without
/// the entries of `removed`; `None` when nothing changes.
pub fn update(manifest: &[u8], added: &[InTreePath], removed: &[InTreePath]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(manifest);
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let listed: Vec<Option<String>> = lines.iter().map(|l| entry_path(l)).collect();
    let before = lines.len();
    // Removed files go (an entry for a missing file makes `make dist` warn).
    let keep: Vec<bool> = listed
        .iter()
        .map(|p| {
            !p.as_ref()
                .is_some_and(|p| removed.iter().any(|r| r.as_str() == p))
        })
        .collect();
    let mut kept: Vec<(String, Option<String>)> = lines
        .drain(..)
        .zip(listed)
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(pair, _)| pair)
        .collect();
    let removed_any = kept.len() != before;
    let new: Vec<&InTreePath> = added
        .iter()
        .filter(|a| !kept.iter().any(|(_, p)| p.as_deref() == Some(a.as_str())))
        .collect();
    if new.is_empty() && !removed_any {
        return None;
    }
    if let Some((last, _)) = kept.last_mut() {
        if !last.ends_with('\n') {
            last.push_str(eol);
        }
    }
    let key = |p: &str| p.to_lowercase();
    let entries: Vec<String> = kept.iter().filter_map(|(_, p)| p.clone()).collect();
    let sorted = entries.windows(2).all(|w| key(&w[0]) <= key(&w[1]));
    for path in new {
        let line = (
            format!("{}{eol}", entry_for(path.as_str())),
            Some(path.to_string()),
        );
        let at = if sorted {
            // Before the first entry that sorts after it, else at the end
            // of the entries (comments after them stay last).
            kept.iter()
                .position(|(_, p)| p.as_deref().is_some_and(|p| key(p) > key(path.as_str())))
                .unwrap_or_else(|| {
                    kept.iter()
                        .rposition(|(_, p)| p.is_some())
                        .map_or(kept.len(), |i| i + 1)
                })
        } else {
            kept.len()
        };
        kept.insert(at, line);
    }
    Some(
        kept.into_iter()
            .map(|(l, _)| l)
            .collect::<String>()
            .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> InTreePath {
        InTreePath::parse(s).unwrap()
    }

    #[test]
    fn a_sorted_manifest_gets_a_sorted_insert() {
        let m = b"Changes\nlib/Foo.pm\nMakefile.PL\nMANIFEST\nt/basic.t\n";
        let out = update(m, &[p("t/cve.t"), p("lib/Foo/Safe.pm")], &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Changes\nlib/Foo.pm\nlib/Foo/Safe.pm\nMakefile.PL\nMANIFEST\nt/basic.t\nt/cve.t\n"
        );
    }

    #[test]
    fn an_unsorted_manifest_gets_appended_with_its_line_endings_and_comments() {
        let m = b"Makefile.PL\r\nChanges\t\tthe history\r\n";
        let out = update(m, &[p("t/a b.t")], &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Makefile.PL\r\nChanges\t\tthe history\r\n't/a b.t'\r\n"
        );
    }

    #[test]
    fn listed_paths_change_nothing_and_removed_ones_go() {
        let m = b"Changes\nlib/Old.pm    gone\nt/x.t\n";
        assert_eq!(update(m, &[p("t/x.t")], &[]), None);
        let out = update(m, &[], &[p("lib/Old.pm")]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "Changes\nt/x.t\n");
        assert_eq!(entry_path("'a \\'b' note"), Some("a 'b".into()));
    }

    #[test]
    fn a_manifest_without_a_final_newline_gets_one_before_the_new_entry() {
        let out = update(b"A\nB", &[p("C")], &[]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "A\nB\nC\n");
    }
}
