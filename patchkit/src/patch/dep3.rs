//! DEP-3 patch headers (<https://dep-team.pages.debian.net/deps/dep3/>):
//! the `Description:`/`Origin:`/`Author:`… block that Debian and many
//! distributions put above a diff.
//!
//! What it owns:
//! - [`preamble_of`]: the text above the first file diff of a patch, found
//!   without parsing the diffs (so that `patchkit diff` can keep the header
//!   of a patch that no longer applies);
//! - [`Dep3::parse`]: the fields patchkit maps onto a record;
//! - [`Dep3::render`]: the header `patchkit import --git` writes.
//!
//! DEP-3 is RFC 2822-like: `Field: value`, continuation lines start with a
//! space, a line of ` .` is an empty line inside a value, and the header
//! ends at the first empty line or a `---` line. Anything that does not
//! look like a header (free text) is kept in [`Dep3::free_text`] rather than
//! refused: the header is for people, the diff below it is what is checked.

/// The DEP-3 fields patchkit reads. Field names are case-insensitive, as
/// the specification says; unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dep3 {
    /// `Description:` or `Subject:` (the first line is the summary, the
    /// rest the long description), continuation lines unfolded.
    pub description: Option<String>,
    /// `Origin:` (`upstream, URL`, `backport, URL`, `vendor, …`, `other`).
    pub origin: Option<String>,
    /// `Bug:` and every `Bug-<Vendor>:` value, in order.
    pub bugs: Vec<String>,
    /// `CVE:` values (a Debian and Ubuntu convention beside DEP-3), in
    /// order, each as written (it may name several ids).
    pub cves: Vec<String>,
    /// `Author:` and `From:` values.
    pub authors: Vec<String>,
    /// `Forwarded:` (`no`, `not-needed` or a URL).
    pub forwarded: Option<String>,
    /// `Applied-Upstream:` (a version, a URL or `commit:ID`).
    pub applied_upstream: Option<String>,
    /// `Last-Update:` (YYYY-MM-DD).
    pub last_update: Option<String>,
    /// Lines of the preamble that are not header fields (free text), in
    /// order.
    pub free_text: Vec<String>,
}

/// Whether `line` starts a file diff (or the old-style `Index:` prelude of
/// one), i.e. the preamble ends before it.
fn starts_diff(line: &str) -> bool {
    line.starts_with("diff ")
        || line.starts_with("--- ")
        || line.starts_with("Index: ")
        || line.starts_with("==== ")
}

/// The text above the first file diff of `patch` (empty when the patch
/// starts with a diff). Bytes that are not UTF-8 are replaced: the preamble
/// is for people.
pub fn preamble_of(patch: &[u8]) -> String {
    let text = String::from_utf8_lossy(patch);
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        if starts_diff(line) {
            break;
        }
        end += line.len();
    }
    text[..end].to_string()
}

impl Dep3 {
    /// Read the DEP-3 fields of a preamble. Never fails: unknown fields and
    /// free text are kept aside, not refused.
    pub fn parse(preamble: &str) -> Dep3 {
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut free_text = Vec::new();
        let mut in_header = true;
        for line in preamble.lines() {
            let line = line.trim_end_matches('\r');
            if !in_header {
                free_text.push(line.to_string());
                continue;
            }
            if line.trim().is_empty() || line == "---" {
                // The header ends here; what follows is free text (often
                // the rest of a `git format-patch` message).
                // Leading empty lines do not end a header not yet begun.
                in_header = fields.is_empty() && line.trim().is_empty();
                continue;
            }
            if let Some(cont) = line.strip_prefix([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push('\n');
                    // ` .` is an empty line inside a folded value.
                    if cont.trim() != "." {
                        value.push_str(cont.trim_end());
                    }
                    continue;
                }
            }
            match header_field(line) {
                Some((name, value)) => fields.push((name, value)),
                None => {
                    free_text.push(line.to_string());
                    in_header = false;
                }
            }
        }
        let mut dep3 = Dep3 {
            free_text,
            ..Dep3::default()
        };
        for (name, value) in fields {
            let value = value.trim().to_string();
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "description" | "subject" if dep3.description.is_none() => {
                    dep3.description = Some(value)
                }
                "origin" => dep3.origin = Some(value),
                "author" | "from" => dep3.authors.push(value),
                "forwarded" => dep3.forwarded = Some(value),
                "applied-upstream" => dep3.applied_upstream = Some(value),
                "last-update" => dep3.last_update = Some(value),
                n if n == "bug" || n.starts_with("bug-") => dep3.bugs.push(value),
                "cve" => dep3.cves.push(value),
                _ => {}
            }
        }
        dep3
    }

    /// The first line of the description: a record title.
    pub fn summary(&self) -> Option<&str> {
        self.description
            .as_deref()
            .and_then(|d| d.lines().next())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The description without its summary line, if anything is left.
    pub fn long_description(&self) -> Option<String> {
        let d = self.description.as_deref()?;
        let rest = d.split_once('\n').map(|(_, rest)| rest.trim())?;
        (!rest.is_empty()).then(|| rest.to_string())
    }

    /// The header as DEP-3 text, ending with the empty line that separates
    /// it from the diffs. Multi-line values are folded with a leading space
    /// and ` .` for empty lines, so no line of a value can be mistaken for
    /// a diff header.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut field = |name: &str, value: &str| {
            let mut lines = value.lines();
            out.push_str(name);
            out.push(':');
            if let Some(first) = lines.next() {
                out.push(' ');
                out.push_str(first.trim_end());
            }
            out.push('\n');
            for line in lines {
                let line = line.trim_end();
                out.push(' ');
                out.push_str(if line.is_empty() { "." } else { line });
                out.push('\n');
            }
        };
        if let Some(d) = &self.description {
            field("Description", d);
        }
        if let Some(o) = &self.origin {
            field("Origin", o);
        }
        for b in &self.bugs {
            field("Bug", b);
        }
        for a in &self.authors {
            field("Author", a);
        }
        if let Some(f) = &self.forwarded {
            field("Forwarded", f);
        }
        if let Some(a) = &self.applied_upstream {
            field("Applied-Upstream", a);
        }
        if let Some(l) = &self.last_update {
            field("Last-Update", l);
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }
}

/// `Name: value` with a DEP-3-shaped name (letters, digits, `-`), lower
/// cased.
fn header_field(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once(':')?;
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| (name.to_ascii_lowercase(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "\
Description: Fix 2-arg open in LoadFile
 LoadFile used a 2-arg open, so a file name starting with '>'
 .
 truncated files.
Origin: upstream, https://github.com/ingydotnet/yaml-libyaml-pm/commit/abc123
Bug: https://github.com/ingydotnet/yaml-libyaml-pm/issues/120
Bug-Debian: https://bugs.debian.org/1098765
Author: Jane Doe <jane@example.org>
forwarded: not-needed
Applied-Upstream: 0.903
Last-Update: 2025-06-01
X-Unknown: ignored

This text is free.
";

    #[test]
    fn fields_are_read_case_insensitively_and_unfolded() {
        let d = Dep3::parse(HEADER);
        assert_eq!(d.summary(), Some("Fix 2-arg open in LoadFile"));
        assert_eq!(
            d.long_description().as_deref(),
            Some(
                "LoadFile used a 2-arg open, so a file name starting with '>'\n\ntruncated files."
            )
        );
        assert_eq!(d.bugs.len(), 2);
        assert_eq!(d.authors, vec!["Jane Doe <jane@example.org>"]);
        assert_eq!(d.forwarded.as_deref(), Some("not-needed"));
        assert_eq!(d.applied_upstream.as_deref(), Some("0.903"));
        assert_eq!(d.last_update.as_deref(), Some("2025-06-01"));
        assert_eq!(d.free_text, vec!["This text is free."]);
    }

    #[test]
    fn render_reads_back() {
        let d = Dep3::parse(HEADER);
        let again = Dep3::parse(&d.render());
        assert_eq!(again.description, d.description);
        assert_eq!(again.bugs, d.bugs);
        assert_eq!(again.last_update, d.last_update);
        assert!(d.render().ends_with("\n\n"));
    }

    #[test]
    fn rendered_values_cannot_start_a_diff() {
        let d = Dep3 {
            description: Some("x\n--- a/evil\n+++ b/evil\n@@ -1 +1 @@".into()),
            ..Dep3::default()
        };
        let text = d.render();
        assert!(
            text.lines()
                .skip(1)
                .filter(|l| !l.is_empty())
                .all(|l| l.starts_with(' ')),
            "{text}"
        );
        assert_eq!(preamble_of(text.as_bytes()), text);
    }

    #[test]
    fn preamble_stops_at_the_first_diff() {
        let patch = b"Subject: x\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n";
        assert_eq!(preamble_of(patch), "Subject: x\n\n");
        assert_eq!(preamble_of(b"--- a/f\n+++ b/f\n"), "");
    }
}
