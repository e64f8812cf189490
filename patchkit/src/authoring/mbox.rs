//! Mail-form patches: what `git format-patch` writes, and what CPANSec
//! posts (`-r1.patch` files), read for `patchkit import --patch`.
//!
//! A mail-form patch is an RFC 5322 message: an optional mbox separator
//! line (`From <commit> Mon Sep 17 00:00:00 2001`), headers (`From:`,
//! `Date:`, `Subject: [PATCH n/m] …`), an empty line, the commit message,
//! a `---` line, a diffstat, the diffs and git's `-- ` signature. This
//! module owns:
//! - [`looks_like_mail`]: whether a patch file is in that form (the
//!   alternative being a DEP-3 header or a bare diff);
//! - [`split`]: the messages of an mbox (the caller refuses more than one:
//!   a record holds one patch);
//! - [`Mail::parse`]: author, date, subject (its `[PATCH …]` prefix
//!   stripped), the message body, and the name of every header and trailer
//!   the record has no field for, so that the caller can warn about each.
//!
//! RFC 2047 encoded words (`=?UTF-8?q?…?=`, `=?UTF-8?b?…?=`), which git
//! writes for names and subjects that are not ASCII, are decoded; a body in
//! quoted-printable or base64 transfer encoding is refused by the caller
//! (git writes 8bit bodies), since the diff inside it would not be the one
//! applied.

/// What a mail-form patch says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mail {
    /// `From:` (decoded): `Name <email>`.
    pub from: Option<String>,
    /// `Date:` as `YYYY-MM-DD` (in the date's own offset), when it parses
    /// as an RFC 2822 date.
    pub date: Option<String>,
    /// `Subject:` unfolded and decoded, without `[PATCH …]` prefixes.
    pub subject: Option<String>,
    /// The commit message below the headers, up to the `---` line, without
    /// trailers (`Signed-off-by:` and the like), trimmed.
    pub body: String,
    /// `Co-authored-by:` trailers: more authors.
    pub co_authors: Vec<String>,
    /// `Content-Transfer-Encoding:` when it is not 7bit or 8bit.
    pub encoded_body: Option<String>,
    /// Headers and trailers the record has no field for (`Message-Id`,
    /// `To`, `Signed-off-by`, …), in order, as `Name: value` excerpts.
    pub dropped: Vec<String>,
}

/// An mbox separator line: `From ` at the start of a line (the form git
/// writes is `From <40 hex> Mon Sep 17 00:00:00 2001`).
fn is_separator(line: &str) -> bool {
    line.starts_with("From ") && !line.starts_with("From: ")
}

/// Whether `text` is a mail-form patch: it opens with an mbox separator, or
/// with mail headers that include `From:` and `Subject:` before the first
/// empty line. (A DEP-3 header may also use `From:` and `Subject:`, but
/// never together with `Date:` or an mbox separator, which is what git
/// writes.)
pub fn looks_like_mail(text: &str) -> bool {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    match lines.next() {
        Some(first) if is_separator(first) => true,
        Some(first) => {
            let head: Vec<&str> = std::iter::once(first)
                .chain(lines.take_while(|l| !l.trim().is_empty()))
                .collect();
            let has = |name: &str| {
                head.iter().any(|l| {
                    l.len() > name.len()
                        && l.as_bytes()[name.len()] == b':'
                        && l[..name.len()].eq_ignore_ascii_case(name)
                })
            };
            has("from") && has("subject") && has("date")
        }
        None => false,
    }
}

/// The messages of an mbox, each starting at its separator line (or at the
/// start of `text` when there is none). A separator counts only at the
/// start of the text or after an empty line, as in mbox; a `From ` line in
/// a message body is escaped by git (`>From `) anyway.
pub fn split(text: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let mut offset = 0;
    let mut prev_blank = true;
    for line in text.split_inclusive('\n') {
        if prev_blank && is_separator(line) {
            starts.push(offset);
        }
        prev_blank = line.trim().is_empty();
        offset += line.len();
    }
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut out = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(text.len());
        if !text[s..e].trim().is_empty() {
            out.push(&text[s..e]);
        }
    }
    out
}

/// At most 60 characters of `s`, for a warning.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

impl Mail {
    /// Reads one message (as returned by [`split`]). Never fails: what is
    /// not understood is listed in [`Mail::dropped`].
    pub fn parse(message: &str) -> Mail {
        let mut lines = message.lines().map(|l| l.trim_end_matches('\r')).peekable();
        if lines.peek().is_some_and(|l| is_separator(l)) {
            lines.next();
        }
        // Headers, unfolded.
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines.by_ref() {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, v)) = headers.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value)) => headers.push((name.trim().to_string(), value.trim().into())),
                None => headers.push((line.to_string(), String::new())),
            }
        }
        let mut mail = Mail::default();
        for (name, value) in &headers {
            let lower = name.to_ascii_lowercase();
            match lower.as_str() {
                "from" if mail.from.is_none() => mail.from = Some(decode_words(value)),
                "date" if mail.date.is_none() => {
                    mail.date = chrono::DateTime::parse_from_rfc2822(value)
                        .ok()
                        .map(|d| d.date_naive().format("%Y-%m-%d").to_string());
                    if mail.date.is_none() {
                        mail.dropped.push(format!("Date: {}", excerpt(value)));
                    }
                }
                "subject" if mail.subject.is_none() => {
                    mail.subject = Some(strip_patch_prefix(&decode_words(value)))
                }
                "content-transfer-encoding"
                    if !matches!(value.to_ascii_lowercase().as_str(), "7bit" | "8bit") =>
                {
                    mail.encoded_body = Some(value.clone());
                }
                // A second From/Date/Subject, or anything else.
                _ => mail.dropped.push(format!("{name}: {}", excerpt(value))),
            }
        }
        // The message: up to `---` (git's separator before the diffstat)
        // or the first diff.
        let mut body: Vec<&str> = Vec::new();
        for line in lines {
            if line == "---" || line.starts_with("diff --git ") || line.starts_with("--- ") {
                break;
            }
            body.push(line);
        }
        // Trailers: the last paragraph, when every line is `Token: value`
        // with a token like `Signed-off-by`.
        let last_para = body
            .iter()
            .rposition(|l| l.trim().is_empty())
            .map_or(0, |i| i + 1);
        let is_trailer = |l: &str| {
            l.split_once(": ").is_some_and(|(t, _)| {
                !t.is_empty()
                    && !t.contains(' ')
                    && t.contains('-')
                    && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        };
        let tail = &body[last_para..];
        if last_para > 0 && !tail.is_empty() && tail.iter().all(|l| is_trailer(l)) {
            for t in tail {
                match t.split_once(": ") {
                    Some((token, who)) if token.eq_ignore_ascii_case("co-authored-by") => {
                        mail.co_authors.push(who.trim().to_string())
                    }
                    _ => mail.dropped.push(excerpt(t)),
                }
            }
            body.truncate(last_para);
        }
        mail.body = body.join("\n").trim().to_string();
        mail
    }
}

/// `[PATCH]`, `[PATCH v2 1/3]`, `[RFC PATCH]`… removed from the front, as
/// `git am` does (only bracketed prefixes that mention PATCH).
pub fn strip_patch_prefix(subject: &str) -> String {
    let mut s = subject.trim();
    while let Some(rest) = s.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, after)) if inside.to_ascii_uppercase().contains("PATCH") => {
                s = after.trim_start();
            }
            _ => break,
        }
    }
    s.to_string()
}

/// RFC 2047 encoded words decoded (`=?charset?q|b?text?=`); whitespace
/// between two encoded words is dropped, as the RFC says. Unknown forms
/// are kept as they are.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, from) = rest.split_at(start);
        let decoded = from[2..].splitn(3, '?').collect::<Vec<_>>();
        let word = match decoded.as_slice() {
            [_charset, enc, tail] => tail.find("?=").and_then(|end| {
                let text = &tail[..end];
                let bytes = match enc.to_ascii_lowercase().as_str() {
                    "q" => Some(decode_q(text)),
                    "b" => decode_b64(text),
                    _ => None,
                }?;
                // 2 for "=?", the charset, 2 "?", the encoding, text, "?=".
                let len = 2 + decoded[0].len() + 1 + enc.len() + 1 + end + 2;
                Some((String::from_utf8_lossy(&bytes).into_owned(), len))
            }),
            _ => None,
        };
        match word {
            Some((text, len)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &from[len..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &from[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_q(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'='),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?J=C3=B6rg=20Up?= <up@example.org>
Date: Fri, 2 Jan 2026 03:04:05 +0100
Subject: [PATCH v2 1/2] Avoid the shell
 in run()
Message-Id: <x@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

CVE-2026-3333: a file name with ; ran commands.

Signed-off-by: Up <up@example.org>
Co-authored-by: Two <two@example.org>
---
 lib/Im.pm | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/lib/Im.pm b/lib/Im.pm
";

    #[test]
    fn git_format_patch_fields_are_read() {
        let m = Mail::parse(MAIL);
        assert_eq!(m.from.as_deref(), Some("Jörg Up <up@example.org>"));
        assert_eq!(m.date.as_deref(), Some("2026-01-02"));
        assert_eq!(m.subject.as_deref(), Some("Avoid the shell in run()"));
        assert_eq!(m.body, "CVE-2026-3333: a file name with ; ran commands.");
        assert_eq!(m.co_authors, vec!["Two <two@example.org>"]);
        assert_eq!(
            m.dropped,
            vec![
                "Message-Id: <x@example.org>",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=UTF-8",
                "Content-Transfer-Encoding: 8bit",
                "Signed-off-by: Up <up@example.org>",
            ]
        );
        assert!(looks_like_mail(MAIL));
        assert!(!looks_like_mail("Description: x\nAuthor: y\n\n--- a/f\n"));
    }

    #[test]
    fn prefixes_and_encoded_words() {
        assert_eq!(strip_patch_prefix("[PATCH] x"), "x");
        assert_eq!(strip_patch_prefix("[RFC PATCH 2/3] [PATCH] y"), "y");
        assert_eq!(strip_patch_prefix("[Security] z"), "[Security] z");
        assert_eq!(decode_words("=?utf-8?b?SsO2cmc=?= Up"), "Jörg Up");
        assert_eq!(decode_words("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
        assert_eq!(decode_words("plain =? text"), "plain =? text");
    }

    #[test]
    fn an_mbox_splits_at_separators_only() {
        let two = format!("{MAIL}\n{MAIL}");
        assert_eq!(split(&two).len(), 2);
        assert_eq!(split("Subject: x\n\nbody\n").len(), 1);
    }
}
