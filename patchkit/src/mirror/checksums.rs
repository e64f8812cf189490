//! CPAN's `CHECKSUMS` files: a strict reader and a deterministic writer.
//!
//! PAUSE writes one `CHECKSUMS` per author directory with CPAN::Checksums:
//! a Perl expression, `$cksum = { 'File' => { 'key' => 'value', … }, … };`,
//! usually wrapped in a PGP clear-signature that is itself valid Perl (a
//! `0&&<<'';` line swallows the armour header as a here-document, and
//! `__END__` stops Perl before the signature). CPAN.pm `eval`s it (in a
//! `Safe` compartment) and compares the `sha256` (or `sha256-ungz`) with
//! the file it downloaded, and the `cpan_path` with where it found it.
//!
//! We never evaluate upstream's file as Perl: [`parse`] accepts exactly the
//! shape CPAN::Checksums writes — one `$cksum` assignment of a hash of
//! hashes whose values are quoted strings or integers, with comments and
//! whitespace between tokens — and refuses anything else (an expression, a
//! variable, a `qw`, interpolation, a second statement) naming the file and
//! the offset. [`Checksums::render`] writes the same shape back, sorted, so
//! CPAN.pm reads what a mirror serves exactly as it reads PAUSE's.
//!
//! The PGP armour is dropped, not kept: it signs upstream's checksums,
//! which no longer describe a patched tarball, and a signature we cannot
//! make would only teach users to ignore failures. What replaces it is the
//! signed patch repository and the record inside each patched tarball
//! (docs/packaging.md, "What is trusted").

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;

use md5::Md5;
use sha2::{Digest, Sha256};

/// Most entries in one CHECKSUMS file (the largest PAUSE directories hold
/// a few thousand files).
pub const MAX_ENTRIES: usize = 200_000;

/// Why a CHECKSUMS file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not the shape CPAN::Checksums writes.
    #[error("{file}: not a CPAN CHECKSUMS file at byte {offset}: {reason}")]
    Syntax {
        /// The file (its path on the mirror).
        file: String,
        /// Byte offset of the problem in the unarmoured text.
        offset: usize,
        /// What was expected.
        reason: String,
    },
}

/// One value of an entry: CPAN::Checksums writes strings and integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A quoted string.
    Str(String),
    /// An unquoted integer (`size`).
    Int(u64),
}

/// A parsed CHECKSUMS file: file name → key → value, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checksums {
    /// The entries.
    pub entries: BTreeMap<String, BTreeMap<String, Value>>,
}

/// The PGP clear-signed body, unescaped, or the text itself when it is not
/// signed. The signature is not checked here and not kept (module docs).
fn strip_armour(text: &str) -> &str {
    const BEGIN: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
    const SIG: &str = "-----BEGIN PGP SIGNATURE-----";
    let Some(start) = text.find(BEGIN) else {
        return text;
    };
    let rest = &text[start + BEGIN.len()..];
    // Armour headers (`Hash: SHA256`) end at the first empty line.
    let body = match rest.find("\n\n") {
        Some(i) => &rest[i + 2..],
        None => rest,
    };
    match body.find(SIG) {
        Some(i) => &body[..i],
        None => body,
    }
}

struct Parser<'a> {
    file: &'a str,
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Syntax {
            file: self.file.to_string(),
            offset: self.pos,
            reason: reason.into(),
        }
    }

    /// Skips whitespace, `#` comments and dash-escaped armour lines' `- `.
    fn skip(&mut self) {
        while self.pos < self.text.len() {
            match self.text[self.pos] {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'#' => {
                    while self.pos < self.text.len() && self.text[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn eat(&mut self, token: &str) -> Result<(), Error> {
        self.skip();
        if self.text[self.pos..].starts_with(token.as_bytes()) {
            self.pos += token.len();
            Ok(())
        } else {
            Err(self.error(format!("expected `{token}`")))
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip();
        self.text.get(self.pos).copied()
    }

    /// A single-quoted string (`\\` and `\'` are its only escapes) or a
    /// double-quoted one without interpolation or escapes.
    fn string(&mut self) -> Result<String, Error> {
        self.skip();
        let quote = match self.text.get(self.pos) {
            Some(q @ (b'\'' | b'"')) => *q,
            _ => return Err(self.error("expected a quoted string")),
        };
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.text.get(self.pos) else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match (quote, c) {
                (_, c) if c == quote => break,
                (b'\'', b'\\') => match self.text.get(self.pos) {
                    Some(&e @ (b'\\' | b'\'')) => {
                        out.push(e);
                        self.pos += 1;
                    }
                    _ => out.push(b'\\'),
                },
                (b'"', b'\\' | b'$' | b'@') => {
                    return Err(self.error("interpolation or escapes in a double-quoted string"))
                }
                (_, c) => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("a string that is not UTF-8"))
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                let start = self.pos;
                while self.text.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    self.pos += 1;
                }
                std::str::from_utf8(&self.text[start..self.pos])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .map(Value::Int)
                    .ok_or_else(|| self.error("an integer out of range"))
            }
            _ => self.string().map(Value::Str),
        }
    }

    /// `{ key => value, … }` with an optional trailing comma; calls `item`
    /// for each pair.
    fn hash(
        &mut self,
        mut item: impl FnMut(&mut Self, String) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.eat("{")?;
        loop {
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(());
            }
            let key = self.string()?;
            self.eat("=>")?;
            item(self, key)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }
}

/// Parses a CHECKSUMS file (PGP armour allowed and dropped). `file` names
/// it in errors.
///
/// # Errors
/// [`Error::Syntax`] for anything but the shape CPAN::Checksums writes.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Checksums, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Syntax {
        file: file.to_string(),
        offset: e.valid_up_to(),
        reason: "not UTF-8".into(),
    })?;
    let body = strip_armour(text);
    let mut p = Parser {
        file,
        text: body.as_bytes(),
        pos: 0,
    };
    p.eat("$cksum")?;
    p.eat("=")?;
    let mut out = Checksums::default();
    p.hash(|p, name| {
        if out.entries.len() >= MAX_ENTRIES {
            return Err(p.error(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut fields = BTreeMap::new();
        p.hash(|p, key| {
            let v = p.value()?;
            fields.insert(key, v);
            Ok(())
        })?;
        if out.entries.insert(name, fields).is_some() {
            return Err(p.error("a file listed twice"));
        }
        Ok(())
    })?;
    p.eat(";")?;
    p.skip();
    // PAUSE ends the signed text with `__END__`, so that Perl stops before
    // the signature block; whatever follows it is not Perl.
    if p.text[p.pos..].starts_with(b"__END__") {
        return Ok(out);
    }
    if p.pos != p.text.len() {
        return Err(p.error("text after the `$cksum` statement"));
    }
    Ok(out)
}

/// Perl single-quoted form of `s`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Keys a rewritten entry keeps from upstream: they describe where the
/// file is and what it is, not its bytes.
const KEPT: [&str; 3] = ["cpan_path", "isa", "mtime"];

impl Checksums {
    /// Replaces `name`'s digests with those of `served`, the bytes this
    /// mirror serves under that name: `size`, `md5`, `sha256`, and for
    /// `.gz`/`.tgz` (`.bz2`) files the `-ungz` (`-unbz2`) forms of the
    /// decompressed bytes. Keys that describe bytes we did not compute are
    /// dropped rather than left stale. `max_unpacked` bounds decompression.
    pub fn describe(&mut self, name: &str, served: &[u8], max_unpacked: u64) {
        let old = self.entries.remove(name).unwrap_or_default();
        let mut e: BTreeMap<String, Value> = old
            .into_iter()
            .filter(|(k, _)| KEPT.contains(&k.as_str()))
            .collect();
        e.entry("isa".into()).or_insert(Value::Str("f".into()));
        e.insert("size".into(), Value::Int(served.len() as u64));
        e.insert("md5".into(), Value::Str(md5_hex(served)));
        e.insert(
            "sha256".into(),
            Value::Str(hex::encode(Sha256::digest(served))),
        );
        let unpacked = if name.ends_with(".gz") || name.ends_with(".tgz") {
            let r = flate2::read::MultiGzDecoder::new(served);
            read_limited(r, max_unpacked).map(|b| ("ungz", b))
        } else if name.ends_with(".bz2") {
            let r = bzip2::read::MultiBzDecoder::new(served);
            read_limited(r, max_unpacked).map(|b| ("unbz2", b))
        } else {
            None
        };
        if let Some((suffix, raw)) = unpacked {
            e.insert(format!("md5-{suffix}"), Value::Str(md5_hex(&raw)));
            e.insert(
                format!("sha256-{suffix}"),
                Value::Str(hex::encode(Sha256::digest(&raw))),
            );
        }
        self.entries.insert(name.to_string(), e);
    }

    /// The file CPAN.pm reads: a comment saying what this is and why it is
    /// not signed, then the `$cksum` assignment, entries and keys sorted
    /// (deterministic: no time, no host).
    pub fn render(&self) -> Vec<u8> {
        let mut out = String::new();
        out.push_str(concat!(
            "# CHECKSUMS rewritten by patchkit ",
            env!("CARGO_PKG_VERSION"),
            " to describe the files this mirror serves.\n",
            "# The upstream PGP signature was removed: it signs the upstream checksums,\n",
            "# which no longer match patched tarballs. Trust comes from patchkit's signed\n",
            "# patch repository and the record inside each patched tarball\n",
            "# (.patchkit/applied.json); `patchkit audit` checks both.\n",
        ));
        out.push_str("$cksum = {\n");
        let n = self.entries.len();
        for (i, (name, fields)) in self.entries.iter().enumerate() {
            let _ = writeln!(out, "  {} => {{", quote(name));
            let m = fields.len();
            for (j, (k, v)) in fields.iter().enumerate() {
                let v = match v {
                    Value::Str(s) => quote(s),
                    Value::Int(i) => i.to_string(),
                };
                let comma = if j + 1 < m { "," } else { "" };
                let _ = writeln!(out, "    {} => {v}{comma}", quote(k));
            }
            out.push_str(if i + 1 < n { "  },\n" } else { "  }\n" });
        }
        out.push_str("};\n");
        out.into_bytes()
    }
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// All of `r`, or `None` when it is corrupt or longer than `max`.
fn read_limited(r: impl Read, max: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= max).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: &str = "0&&<<''; # this PGP-signed message is also valid perl\n\
-----BEGIN PGP SIGNED MESSAGE-----\n\
Hash: SHA256\n\
\n\
# CHECKSUMS file written on Thu Jan  1 00:00:00 2026 GMT by CPAN::Checksums (v2.14)\n\
$cksum = {\n\
  'Foo-1.0.tar.gz' => {\n\
    'cpan_path' => 'T/TE/TESTER',\n\
    'isa' => 'f',\n\
    'md5' => 'abc',\n\
    'mtime' => '2026-01-01',\n\
    'sha256' => 'def',\n\
    'sha256-ungz' => 'ghi',\n\
    'size' => 1234\n\
  },\n\
  'It\\'s.meta' => { \"isa\" => \"f\", },\n\
};\n\
__END__\n\
-----BEGIN PGP SIGNATURE-----\n\
\n\
iQEzBAEBCAAdFiEE\n\
-----END PGP SIGNATURE-----\n";

    #[test]
    fn reads_what_pause_writes() {
        let c = parse("CHECKSUMS", PAUSE.as_bytes()).unwrap();
        assert_eq!(c.entries.len(), 2);
        let e = &c.entries["Foo-1.0.tar.gz"];
        assert_eq!(e["size"], Value::Int(1234));
        assert_eq!(e["cpan_path"], Value::Str("T/TE/TESTER".into()));
        assert!(c.entries.contains_key("It's.meta"));
    }

    #[test]
    fn render_round_trips() {
        let c = parse("CHECKSUMS", PAUSE.as_bytes()).unwrap();
        let again = parse("CHECKSUMS", &c.render()).unwrap();
        assert_eq!(c, again);
        assert!(!String::from_utf8(c.render())
            .unwrap()
            .contains("PGP SIGNATURE"));
    }

    #[test]
    fn refuses_code() {
        for bad in [
            "$cksum = { 'a' => { 'b' => system('id') } };",
            "$cksum = { 'a' => { 'b' => \"$x\" } };",
            "$cksum = { 'a' => { 'b' => 'c' } }; print 1;",
            "$x = { };",
            "$cksum = { 'a' => { 'b' => 'c' }, 'a' => {} };",
            "$cksum = { 'a' => { 'b' => qw(c) } };",
        ] {
            assert!(parse("CHECKSUMS", bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn describe_matches_the_bytes() {
        let mut c = parse("CHECKSUMS", PAUSE.as_bytes()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"hello").unwrap();
        let gz = gz.finish().unwrap();
        c.describe("Foo-1.0.tar.gz", &gz, 1 << 20);
        let e = &c.entries["Foo-1.0.tar.gz"];
        assert_eq!(e["size"], Value::Int(gz.len() as u64));
        assert_eq!(
            e["sha256-ungz"],
            Value::Str(hex::encode(Sha256::digest(b"hello")))
        );
        assert_eq!(
            e["md5-ungz"],
            Value::Str("5d41402abc4b2a76b9719d911017c592".into())
        );
        assert_eq!(e["cpan_path"], Value::Str("T/TE/TESTER".into()));
        assert_eq!(e["mtime"], Value::Str("2026-01-01".into()));
    }
}
