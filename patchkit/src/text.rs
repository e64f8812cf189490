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
