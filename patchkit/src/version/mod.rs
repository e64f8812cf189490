//! CPAN versions, compared the way Perl's `version.pm` compares them.
//!
//! This module owns [`CpanVersion`]: parsing the version of a distribution
//! (from a tarball name, from META, from a patch record) and ordering it.
//! The sibling [`range`] module owns the CPAN::Meta::Requirements ranges that
//! patch records use (`versions = ">= 0.60, <= 0.89"`).
//!
//! # Reference
//!
//! The reference is `version->parse` of `version.pm` 0.9929 (perl 5.36) and
//! its `<=>`. The tests in `tests.rs` ask a real perl about every pair of
//! a list of versions, so a disagreement is a test failure, not a guess.
//! The code is written by hand because no Rust crate implements these
//! semantics: `semver` knows neither decimal versions (`1.10 < 1.9`) nor
//! dotted parts above 999, and nothing else models the underscore.
//!
//! # The rules, in short
//!
//! * A *decimal* version (`1.23`) is split into parts by groups of three
//!   digits after the point, padded on the right: `1.2` = `v1.200`,
//!   `1.002003` = `v1.2.3`, so `1.10` < `1.9`.
//! * A *dotted-decimal* version has a leading `v` or at least two dots
//!   (`v1.2`, `1.2.3`); every part is a whole number, may exceed 999, and
//!   trailing zero parts do not count (`v1.2` = `v1.2.0`).
//! * One underscore may come before the last group of digits. It marks a
//!   developer release and is otherwise ignored, as modern `version.pm`
//!   does: `1.23_01` = `1.2301`, `v1.2.3_4` = `v1.2.34`.
//! * A tarball's `-TRIAL` suffix (`Foo-1.23-TRIAL.tar.gz`) is accepted by
//!   [`CpanVersion::parse`]: it marks a developer release of `1.23`.
//!
//! # What it refuses, and where it is stricter than `version.pm`
//!
//! `version->parse` is lax in ways that would hide mistakes in a security
//! record, so the following are errors here on purpose:
//!
//! * leading or trailing whitespace, and anything after the version
//!   (`version.pm` trims the first and only *warns* about the rest, then
//!   drops it: `"1.2.3 4"` becomes `1.2.3`);
//! * the word `undef` (which `version.pm` reads as `0`), a lone `.` (also
//!   `0` there), `v1.` and a trailing underscore `v1.2.3_` (both accepted
//!   by `version.pm`'s C parser but outside its own documented "lax" regex);
//! * a number above 2147483647 (`version.pm` warns and saturates it to
//!   `v.Inf`, so two different versions would compare equal).
//!
//! Everything `version.pm` documents as "lax" is accepted, including its
//! odd corners: leading zeros (`01.2`), a bare trailing point (`1.`), and a
//! missing integer part (`.1`, `.1.2`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::text::excerpt;

pub mod range;
#[cfg(test)]
mod tests;

pub use range::{RangeError, VersionRange};

/// The largest number `version.pm` stores in one part (a C `I32`); above it
/// perl warns "Integer overflow in version" and saturates.
const PART_MAX: u32 = 0x7FFF_FFFF;

/// The suffix CPAN authors put in tarball names to mark a trial release.
const TRIAL_SUFFIX: &str = "-TRIAL";

/// How many characters of bad input an error message quotes: enough to
/// recognise the value, not enough to flood a terminal with hostile input.
const EXCERPT_CHARS: usize = 20;

/// A CPAN version: its text as written and its numeric value as
/// `version.pm` sees it.
///
/// Equality, ordering and hashing use the numeric value only, so
/// `0.86 == 0.860` and `1.2.0 == 1.002`; [`as_str`](Self::as_str) and
/// [`Display`](fmt::Display) keep the text as written (`"1.30"` stays
/// `"1.30"`, which matters when it is written back into META files).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct CpanVersion {
    /// The input exactly as given, `-TRIAL` suffix included.
    text: String,
    /// The numeric parts, as `version->parse(..)->normal` shows them but
    /// untrimmed: `1.000000000` is `[1, 0, 0, 0]`, which `normal` prints.
    parts: Vec<u32>,
    /// An underscore or `-TRIAL` was present.
    dev: bool,
    /// `-TRIAL` was present; kept so that ranges can print a form that
    /// CPAN::Meta::Requirements would read back.
    trial: bool,
}

impl CpanVersion {
    /// Parses a version as `version->parse` does, plus a trailing `-TRIAL`.
    ///
    /// See the module documentation for where this is stricter than
    /// `version.pm`.
    pub fn parse(s: &str) -> Result<CpanVersion, ParseError> {
        let (body, trial) = match s.strip_suffix(TRIAL_SUFFIX) {
            Some(body) => (body, true),
            None => (s, false),
        };
        let (parts, underscore) = parse_body(body).map_err(|kind| ParseError {
            excerpt: excerpt(s, EXCERPT_CHARS),
            kind,
        })?;
        Ok(CpanVersion {
            text: s.to_owned(),
            parts,
            dev: underscore || trial,
            trial,
        })
    }

    /// Parses a version the way CPAN::Meta::Requirements does: exactly like
    /// `version->parse`, so without the tarball-only `-TRIAL` suffix.
    pub(crate) fn parse_requirement(s: &str) -> Result<CpanVersion, ParseError> {
        let version = CpanVersion::parse(s)?;
        if version.trial {
            // Report the dash, which is where version.pm stops reading.
            return Err(ParseError {
                excerpt: excerpt(s, EXCERPT_CHARS),
                kind: ParseErrorKind::UnexpectedChar('-'),
            });
        }
        Ok(version)
    }

    /// The text as given, e.g. `"1.30"`, `"v1.2.3"`, `"1.23_01"`,
    /// `"1.23-TRIAL"`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The text without a `-TRIAL` suffix: the form `version->parse` and
    /// CPAN::Meta::Requirements accept.
    pub(crate) fn requirement_str(&self) -> &str {
        if self.trial {
            self.text
                .strip_suffix(TRIAL_SUFFIX)
                .unwrap_or(self.text.as_str())
        } else {
            &self.text
        }
    }

    /// True for a developer release: an underscore (`1.23_01`) or a
    /// `-TRIAL` suffix. PAUSE does not index these as the latest release.
    pub fn is_dev(&self) -> bool {
        self.dev
    }

    /// The normal form, as `version->parse(..)->normal` prints it: a `v`
    /// and at least three dotted parts, without the underscore
    /// (`1.2` → `v1.200.0`, `v1.2.3_4` → `v1.2.34`).
    pub fn normal(&self) -> String {
        let mut out = String::from("v");
        for i in 0..self.parts.len().max(3) {
            if i > 0 {
                out.push('.');
            }
            out.push_str(&self.parts.get(i).copied().unwrap_or(0).to_string());
        }
        out
    }

    /// The parts without trailing zeros: the value that equality and
    /// hashing see, so that `v1.2` and `v1.2.0` hash alike.
    fn significant_parts(&self) -> &[u32] {
        let len = self
            .parts
            .iter()
            .rposition(|&p| p != 0)
            .map_or(0, |last| last + 1);
        &self.parts[..len]
    }
}

impl PartialEq for CpanVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for CpanVersion {}

impl PartialOrd for CpanVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CpanVersion {
    /// `version.pm`'s `vcmp`: part by part, a missing part counting as zero.
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.parts.len().max(other.parts.len());
        (0..len)
            .map(|i| {
                let a = self.parts.get(i).copied().unwrap_or(0);
                let b = other.parts.get(i).copied().unwrap_or(0);
                a.cmp(&b)
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl Hash for CpanVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must agree with `Eq`: trailing zeros are not part of the value.
        self.significant_parts().hash(state);
    }
}

impl FromStr for CpanVersion {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CpanVersion::parse(s)
    }
}

impl TryFrom<String> for CpanVersion {
    type Error = ParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        CpanVersion::parse(&s)
    }
}

impl fmt::Display for CpanVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for CpanVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The text as written, never the normal form: a record says what
        // its author wrote.
        serializer.serialize_str(&self.text)
    }
}

/// A string that is not a CPAN version.
///
/// The message quotes at most 20 characters of the input, e.g.
/// `"1.2.x" is not a CPAN version: unexpected character 'x'`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{excerpt} is not a CPAN version: {kind}")]
pub struct ParseError {
    /// The bounded, quoted excerpt of the input.
    excerpt: String,
    kind: ParseErrorKind,
}

impl ParseError {
    /// Why the input was refused.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }
}

/// Why a string is not a CPAN version.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input is empty.
    #[error("it is empty")]
    Empty,
    /// A character that cannot appear there (letters, signs, whitespace).
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// A `v` with no number after it (`v`, `v.1`).
    #[error("'v' must be followed by a number")]
    MissingNumberAfterV,
    /// A point not followed by digits (`1..2`, `1._2`, `1.2.`).
    #[error("a point must be followed by digits")]
    MissingDigitsAfterPoint,
    /// An underscore in a decimal version without a point (`1_2`).
    #[error("an underscore needs a point before it")]
    UnderscoreWithoutPoint,
    /// An underscore not followed by digits only (`1.2_`, `1.2_3.4`, `1.2__3`).
    #[error("an underscore must be followed by the last digits")]
    MisplacedUnderscore,
    /// A part above 2147483647, which `version.pm` cannot store.
    #[error("a number is larger than 2147483647")]
    NumberTooLarge,
}

/// Reads the part before `-TRIAL` and returns its parts and whether an
/// underscore was present.
///
/// Grammar (the "lax" regexes of `version::regex`, minus the corners listed
/// in the module doc):
///
/// ```text
/// decimal := INT ( "." ( DIGITS ( "_" DIGITS )? )? )?    1   1.   1.23   1.23_01
///          | "." DIGITS ( "_" DIGITS )?                  .1   .1_2
/// dotted  := "v" INT ( ( "." DIGITS )+ ( "_" DIGITS )? )? v1  v1.2  v1.2.3_4
///          | INT? ( "." DIGITS ){2,} ( "_" DIGITS )?     1.2.3   .1.2
/// ```
fn parse_body(s: &str) -> Result<(Vec<u32>, bool), ParseErrorKind> {
    if s.is_empty() {
        return Err(ParseErrorKind::Empty);
    }
    let (v_prefix, rest) = match s.strip_prefix('v') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if v_prefix && !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(ParseErrorKind::MissingNumberAfterV);
    }
    let groups = scan(rest)?;
    if v_prefix && groups.bare_point {
        // `v1.` is read by version.pm's C parser but not by its own lax
        // regex; a dotted version ending in a point is a typo here.
        return Err(ParseErrorKind::MissingDigitsAfterPoint);
    }

    // Two or more points, or a `v`, make a dotted-decimal version.
    if v_prefix || groups.fraction.len() >= 2 {
        if groups.alpha.is_some() && groups.fraction.is_empty() {
            // `v1_2`: the lax regex wants a dotted part before `_`.
            return Err(ParseErrorKind::UnderscoreWithoutPoint);
        }
        let mut parts = Vec::with_capacity(groups.fraction.len() + 1);
        parts.push(number(groups.integer.unwrap_or("0"))?);
        let last = groups.fraction.len().checked_sub(1);
        for (i, digits) in groups.fraction.iter().enumerate() {
            if Some(i) == last {
                // `version.pm` drops the underscore and reads on: the digits
                // after it extend the last part (`v1.2.3_4` is `v1.2.34`).
                parts.push(number(&format!("{digits}{}", groups.alpha.unwrap_or("")))?);
            } else {
                parts.push(number(digits)?);
            }
        }
        return Ok((parts, groups.alpha.is_some()));
    }

    // Decimal: the fraction (underscore dropped) is cut into groups of three
    // digits, the last one padded with zeros: 1.0001 is v1.0.100.
    if groups.alpha.is_some() && groups.fraction.is_empty() {
        return Err(ParseErrorKind::UnderscoreWithoutPoint);
    }
    let mut parts = vec![number(groups.integer.unwrap_or("0"))?];
    let fraction: String = groups
        .fraction
        .first()
        .copied()
        .into_iter()
        .chain(groups.alpha)
        .collect();
    for chunk in fraction.as_bytes().chunks(3) {
        let value = chunk
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(3)
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        parts.push(value);
    }
    Ok((parts, groups.alpha.is_some()))
}

/// The digit groups of a version after any `v`: the integer part, the
/// groups after each point, and the digits after an underscore.
struct Groups<'a> {
    integer: Option<&'a str>,
    fraction: Vec<&'a str>,
    alpha: Option<&'a str>,
    /// The input ended in a point right after the integer part (`1.`).
    bare_point: bool,
}

/// Splits `s` into [`Groups`], refusing any character but digits, points
/// and one final underscore group.
fn scan(s: &str) -> Result<Groups<'_>, ParseErrorKind> {
    let digits_at = |from: usize| -> &str {
        let len = s[from..].bytes().take_while(|b| b.is_ascii_digit()).count();
        &s[from..from + len]
    };
    let integer = digits_at(0);
    let mut pos = integer.len();
    let mut fraction = Vec::new();
    let mut alpha = None;
    // A bare trailing point is accepted only right after the integer part
    // (`1.`), as version.pm's lax regex allows; `.` alone, `1.2.` are not.
    let mut bare_point = false;

    while let Some(c) = s[pos..].chars().next() {
        match c {
            '.' if alpha.is_none() && !bare_point => {
                let digits = digits_at(pos + 1);
                if digits.is_empty() {
                    // Name the culprit when it is not a point or underscore:
                    // for `1.2.x` the problem is the `x`, not the point.
                    if let Some(next) = s[pos + 1..].chars().next() {
                        if next != '.' && next != '_' {
                            return Err(ParseErrorKind::UnexpectedChar(next));
                        }
                    }
                    let at_end = pos + 1 == s.len();
                    if !(at_end && fraction.is_empty() && !integer.is_empty()) {
                        return Err(ParseErrorKind::MissingDigitsAfterPoint);
                    }
                    bare_point = true;
                }
                fraction.push(digits);
                pos += 1 + digits.len();
            }
            '.' => return Err(ParseErrorKind::MisplacedUnderscore),
            '_' if alpha.is_none() && !bare_point => {
                let digits = digits_at(pos + 1);
                if digits.is_empty() {
                    return Err(ParseErrorKind::MisplacedUnderscore);
                }
                alpha = Some(digits);
                pos += 1 + digits.len();
            }
            '_' => return Err(ParseErrorKind::MisplacedUnderscore),
            other => return Err(ParseErrorKind::UnexpectedChar(other)),
        }
    }
    if bare_point {
        // `1.` means `1`: drop the empty group so that it stays decimal.
        fraction.clear();
    }
    if integer.is_empty() && fraction.is_empty() {
        // Only reachable for input like `_1`: nothing numeric came first.
        return Err(match s.chars().next() {
            Some(c) => ParseErrorKind::UnexpectedChar(c),
            None => ParseErrorKind::Empty,
        });
    }
    Ok(Groups {
        integer: (!integer.is_empty()).then_some(integer),
        fraction,
        alpha,
        bare_point,
    })
}

/// Reads one part, refusing what `version.pm` would saturate.
fn number(digits: &str) -> Result<u32, ParseErrorKind> {
    // Leading zeros are allowed (`v1.02` is `v1.2`); strip them so that a
    // long run of zeros is not mistaken for a large number.
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return Ok(0);
    }
    match trimmed.parse::<u32>() {
        Ok(n) if n <= PART_MAX => Ok(n),
        _ => Err(ParseErrorKind::NumberTooLarge),
    }
}
