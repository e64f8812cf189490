//! Quoting untrusted text for messages: the one helper every refusal uses
//! to show a bounded excerpt of what it refuses (docs/ARCHITECTURE.md,
//! "every refusal is one sentence that names the file").
//!
//! A leaf: it imports nothing of the crate, so every layer may use it.

/// How many characters of untrusted text a message quotes by default.
pub(crate) const EXCERPT: usize = 40;

/// Quotes at most `max` characters of untrusted `s` for an error message
/// (a bounded excerpt), escaping control characters, with `…` when cut.
/// The one quoting helper of the crate.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{:?}", format!("{head}…"))
    } else {
        format!("{head:?}")
    }
}

/// `s` with every control character and every invisible formatting
/// character (bidirectional overrides, zero-width characters) escaped, so
/// that text taken from a tarball (ids, titles, paths of a claimed record,
/// META values) can neither end a line, move the cursor, recolour the
/// terminal nor reorder what is shown when printed.
pub(crate) fn printable(s: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if !s.chars().any(hidden) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_controls_and_bidi() {
        assert_eq!(
            printable("a\nb\u{1b}[1m\u{202e}c"),
            "a\\u{a}b\\u{1b}[1m\\u{202e}c"
        );
        assert_eq!(printable("plain text é"), "plain text é");
    }
}
