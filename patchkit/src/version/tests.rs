//! Tests of CPAN versions and ranges, in two layers.
//!
//! * Tables of the rules that surprise (docs/ARCHITECTURE.md, "CPAN versions"), with
//!   the expected answer written from the rule, not from our output.
//! * Reference tests that ask a real perl (`version.pm` and
//!   CPAN::Meta::Requirements) about every pair of a list of versions and
//!   every cell of a range × version table, and assert that we agree. They
//!   need `perl` on `PATH` and fail loudly without it: a silent skip would
//!   let the model drift from the reference unnoticed.
//!
//! To add a case, add its string to the table it belongs to; the reference
//! tests pick up every string in `EDGE_VERSIONS`, `VALIDITY_CASES` and
//! `RANGES` automatically.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};

use super::{CpanVersion, ParseErrorKind, RangeError, VersionRange};

fn v(s: &str) -> CpanVersion {
    CpanVersion::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn r(s: &str) -> VersionRange {
    VersionRange::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

// ---------------------------------------------------------------------------
// Versions: tables
// ---------------------------------------------------------------------------

#[test]
fn ordering_follows_version_pm_rules() {
    use Ordering::{Equal, Greater, Less};
    let table = [
        // Decimal versions compare as decimal fractions.
        ("1.10", Less, "1.9"),
        ("0.86", Equal, "0.860"),
        ("1.2", Equal, "1.200"),
        ("1.02", Less, "1.2"),
        ("1", Equal, "1.0"),
        ("1.", Equal, "1"),
        (".1", Equal, "0.1"),
        ("01.2", Equal, "1.2"),
        // A decimal maps to dotted parts by groups of three digits.
        ("1.002003", Equal, "v1.2.3"),
        ("1.2", Equal, "v1.200"),
        ("1.0001", Equal, "v1.0.100"),
        ("1.0000001", Equal, "v1.0.0.100"),
        // Two dots, or a `v`, make a dotted version.
        ("1.2.0", Equal, "v1.2.0"),
        ("1.2.0", Equal, "1.002"),
        ("1.10.0", Greater, "1.9.0"),
        ("v1.2", Equal, "v1.2.0"),
        ("v1.2", Equal, "v1.2.0.0.0"),
        ("v1", Equal, "1"),
        ("v1.2.3.4", Greater, "v1.2.3"),
        ("v1.2.3.4", Less, "v1.2.4"),
        ("v1.2.3.4.5", Greater, "v1.2.3.4"),
        (".1.2", Equal, "v0.1.2"),
        ("v1.02", Equal, "v1.2"),
        // Parts above 999 are allowed.
        ("v1.1000", Greater, "1.999999"),
        ("v1.2147483647", Greater, "v1.2147483646"),
        // The underscore is ignored when comparing.
        ("1.23_01", Equal, "1.2301"),
        ("1.23_01", Greater, "1.23"),
        ("1.2_03", Equal, "1.203"),
        ("v1.2.3_4", Equal, "v1.2.34"),
        ("v1.2.3_4", Greater, "v1.2.4"),
        ("v1.2_3", Equal, "v1.23"),
        // -TRIAL is a marker, not part of the value.
        ("1.23-TRIAL", Equal, "1.23"),
        ("1.23_01-TRIAL", Equal, "1.2301"),
    ];
    for (a, expected, b) in table {
        assert_eq!(v(a).cmp(&v(b)), expected, "{a} vs {b}");
        assert_eq!(v(b).cmp(&v(a)), expected.reverse(), "{b} vs {a}");
        assert_eq!(v(a) == v(b), expected == Equal, "{a} == {b}");
    }
}

#[test]
fn equal_versions_hash_alike() {
    let set: HashSet<CpanVersion> = ["v1.2", "v1.2.0", "1.002", "1.002000", "1.2.0.0"]
        .into_iter()
        .map(v)
        .collect();
    assert_eq!(set.len(), 1, "{set:?}");
}

#[test]
fn normal_form_matches_version_pm() {
    // Expected values are what `perl -Mversion -e 'print
    // version->parse($s)->normal'` prints (checked by hand, and again for
    // every edge case by `normal_agrees_with_perl`).
    let table = [
        ("1.2", "v1.200.0"),
        ("0.86", "v0.860.0"),
        ("1.002003", "v1.2.3"),
        ("1.23_01", "v1.230.100"),
        ("v1.2.3_4", "v1.2.34"),
        ("v1", "v1.0.0"),
        ("1", "v1.0.0"),
        ("v1.2.3.4", "v1.2.3.4"),
        ("1.000000000", "v1.0.0.0"),
        ("v1.1000", "v1.1000.0"),
        ("1.23-TRIAL", "v1.230.0"),
    ];
    for (input, normal) in table {
        assert_eq!(v(input).normal(), normal, "{input}");
    }
}

#[test]
fn text_is_kept_as_written() {
    for s in ["1.30", "v1.2.3", "1.23_01", "1.23-TRIAL", "01.2", "1."] {
        assert_eq!(v(s).as_str(), s);
        assert_eq!(v(s).to_string(), s);
        assert_eq!(
            s.parse::<CpanVersion>().map(|x| x.to_string()),
            Ok(s.into())
        );
    }
}

#[test]
fn dev_releases_are_marked_by_underscore_or_trial() {
    let table = [
        ("1.23", false),
        ("v1.2.3", false),
        ("1.23_01", true),
        ("v1.2.3_4", true),
        ("1.23-TRIAL", true),
        ("1.23_01-TRIAL", true),
    ];
    for (input, dev) in table {
        assert_eq!(v(input).is_dev(), dev, "{input}");
    }
}

#[test]
fn garbage_is_refused_with_a_reason() {
    use ParseErrorKind::*;
    let table = [
        ("", Empty),
        ("-TRIAL", Empty),
        ("abc", UnexpectedChar('a')),
        ("1.2.x", UnexpectedChar('x')),
        ("1.2a", UnexpectedChar('a')),
        ("1..2", MissingDigitsAfterPoint),
        ("1._2", MissingDigitsAfterPoint),
        ("1.2.", MissingDigitsAfterPoint),
        (".", MissingDigitsAfterPoint),
        ("v1.", MissingDigitsAfterPoint),
        ("v", MissingNumberAfterV),
        ("v.1", MissingNumberAfterV),
        ("V1.2", UnexpectedChar('V')),
        ("1_2", UnderscoreWithoutPoint),
        ("v1_2", UnderscoreWithoutPoint),
        ("1.23_", MisplacedUnderscore),
        ("v1.2.3_", MisplacedUnderscore),
        ("1.2_3_4", MisplacedUnderscore),
        ("1.2_3.4", MisplacedUnderscore),
        ("1__2", MisplacedUnderscore),
        (" 1.2", UnexpectedChar(' ')),
        ("1.2 ", UnexpectedChar(' ')),
        ("1.2\n", UnexpectedChar('\n')),
        ("+1", UnexpectedChar('+')),
        ("-1", UnexpectedChar('-')),
        ("1e3", UnexpectedChar('e')),
        ("1,2", UnexpectedChar(',')),
        ("undef", UnexpectedChar('u')),
        ("1.23-trial", UnexpectedChar('-')),
        ("1.23-TRIAL-TRIAL", UnexpectedChar('-')),
        ("1.23 -TRIAL", UnexpectedChar(' ')),
        ("\u{0661}.\u{0662}", UnexpectedChar('\u{0661}')),
        ("2147483648", NumberTooLarge),
        ("v1.2147483648", NumberTooLarge),
        ("v1.2.3_4444444444", NumberTooLarge),
    ];
    for (input, kind) in table {
        match CpanVersion::parse(input) {
            Ok(parsed) => panic!("{input:?} should be refused, got {parsed:?}"),
            Err(e) => assert_eq!(e.kind(), &kind, "{input:?}: {e}"),
        }
    }
}

#[test]
fn large_parts_and_leading_zeros_are_not_overflow() {
    assert_eq!(v("2147483647").normal(), "v2147483647.0.0");
    assert_eq!(v("v1.0000000000000002").normal(), "v1.2.0");
    assert_eq!(
        v("1.000000000000000000000001").normal(),
        "v1.0.0.0.0.0.0.0.1"
    );
}

#[test]
fn parse_error_message_quotes_a_bounded_excerpt() {
    let e = CpanVersion::parse("1.2.x").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#""1.2.x" is not a CPAN version: unexpected character 'x'"#
    );
    let long = format!("1.2.{}", "x".repeat(500));
    let message = CpanVersion::parse(&long).unwrap_err().to_string();
    assert!(
        message.starts_with(r#""1.2.xxxxxxxxxxxxxxxx…" is not"#),
        "{message}"
    );
    assert!(message.len() < 100, "{message}");
    // Control characters are escaped, not written to the terminal.
    let message = CpanVersion::parse("1\u{1b}[2J").unwrap_err().to_string();
    assert!(!message.contains('\u{1b}'), "{message}");
}

#[test]
fn serde_uses_the_text_and_refuses_garbage() {
    let json = serde_json::to_string(&v("1.30")).unwrap();
    assert_eq!(json, r#""1.30""#);
    let back: CpanVersion = serde_json::from_str(&json).unwrap();
    assert_eq!(back.as_str(), "1.30");
    let err = serde_json::from_str::<CpanVersion>(r#""1.2.x""#).unwrap_err();
    assert!(err.to_string().contains("is not a CPAN version"), "{err}");
    assert!(serde_json::from_str::<CpanVersion>("1.3").is_err());
}

// ---------------------------------------------------------------------------
// Ranges: tables
// ---------------------------------------------------------------------------

#[test]
fn range_membership_follows_each_operator() {
    // (range, versions inside, versions outside)
    let table: &[(&str, &[&str], &[&str])] = &[
        ("0", &["0", "0.001", "1", "v99.1"], &[]),
        (">= 0", &["0", "1.23-TRIAL"], &[]),
        ("1.5", &["1.5", "1.50", "1.6", "2"], &["1.49", "1.10"]),
        (">= 1.5", &["1.5", "1.6"], &["1.4"]),
        (">1.5", &["1.51", "2"], &["1.5", "1.500", "1.4"]),
        ("<= 1.5", &["0", "1.5", "1.10"], &["1.51", "1.9"]),
        ("< 1.5", &["1.49", "1.10"], &["1.5", "1.6"]),
        ("== 1.5", &["1.5", "1.500", "v1.500"], &["1.51", "1.49"]),
        ("!= 1.5", &["0", "1.49", "1.51"], &["1.5", "1.50"]),
        (
            ">= 0.60, <= 0.89",
            &["0.60", "0.6", "0.7", "0.89", "0.890"],
            &["0.59", "0.891", "0.9"],
        ),
        (
            ">= 1.0, != 1.5, < 2",
            &["1.0", "1.4", "1.6"],
            &["1.5", "2", "0.9"],
        ),
        (">= 1.0, < 2,", &["1.0"], &["2"]),
        (">= 1.0,,", &["1.0"], &["0.9"]),
        (" >= 1 ,< 2", &["1"], &["2"]),
        (">=\n1", &["1"], &["0.9"]),
        ("> 1.9", &["1.91", "2"], &["1.10", "1.9"]),
        // 1.9 is v1.900, far above v1.10.
        (
            ">= 1.10.0",
            &["1.10.0", "1.11.0", "1.9"],
            &["1.9.0", "1.009"],
        ),
        ("< v1.2.4", &["v1.2.3"], &["v1.2.3_4", "v1.2.4"]),
        (">= 1.23_01", &["1.2301", "1.23_01-TRIAL"], &["1.23"]),
        // `1.2.0_1` is v1.2.01, i.e. v1.2.1; `1.2` would be v1.200.
        (
            "> 1.2.0, < 1.2.1",
            &["1.2.0.1", "1.002000001"],
            &["1.2.0", "1.2.1", "1.2.0_1", "1.2"],
        ),
        (">= 1, == 1.5", &["1.5"], &["1", "1.6"]),
        ("< 0", &[], &["0", "1"]),
    ];
    for (range, inside, outside) in table {
        let parsed = r(range);
        for x in *inside {
            assert!(parsed.contains(&v(x)), "{range:?} should contain {x}");
        }
        for x in *outside {
            assert!(!parsed.contains(&v(x)), "{range:?} should not contain {x}");
        }
    }
}

/// Tells whether an error is of the expected kind.
type KindCheck = fn(&RangeError) -> bool;

#[test]
fn range_errors_name_input_and_reason() {
    let table: &[(&str, KindCheck)] = &[
        ("", |e| matches!(e, RangeError::Empty { .. })),
        (",", |e| matches!(e, RangeError::Empty { .. })),
        (" , ,", |e| matches!(e, RangeError::Empty { .. })),
        (">= 1.0,, < 2", |e| {
            matches!(e, RangeError::EmptyClause { number: 2, .. })
        }),
        (", >= 1", |e| {
            matches!(e, RangeError::EmptyClause { number: 1, .. })
        }),
        ("   ", |e| {
            matches!(e, RangeError::EmptyClause { number: 1, .. })
        }),
        (">=", |e| {
            matches!(e, RangeError::MissingVersion { number: 1, .. })
        }),
        (">= 1, <", |e| {
            matches!(e, RangeError::MissingVersion { number: 2, .. })
        }),
        (">= 1 ", |e| {
            matches!(e, RangeError::TrailingSpace { number: 1, .. })
        }),
        (">= 1\t", |e| {
            matches!(e, RangeError::TrailingSpace { number: 1, .. })
        }),
        ("0 ", |e| {
            matches!(e, RangeError::TrailingSpace { number: 1, .. })
        }),
        ("=> 1", |e| {
            matches!(e, RangeError::BadVersion { number: 1, .. })
        }),
        ("> = 1", |e| {
            matches!(e, RangeError::BadVersion { number: 1, .. })
        }),
        (">= 1, < 1.2.x", |e| {
            matches!(e, RangeError::BadVersion { number: 2, .. })
        }),
        (">= 1.23-TRIAL", |e| {
            matches!(e, RangeError::BadVersion { number: 1, .. })
        }),
        (">= 1 < 2", |e| matches!(e, RangeError::BadVersion { .. })),
        (">= 2, < 1", |e| {
            matches!(e, RangeError::MatchesNothing { .. })
        }),
        ("> 1, <= 1", |e| {
            matches!(e, RangeError::MatchesNothing { .. })
        }),
        ("<= 1, > 1", |e| {
            matches!(e, RangeError::MatchesNothing { .. })
        }),
        ("== 1, != 1", |e| {
            matches!(e, RangeError::MatchesNothing { .. })
        }),
        ("== 1, == 2", |e| {
            matches!(e, RangeError::MatchesNothing { .. })
        }),
        (">= 2, == 1", |e| {
            matches!(e, RangeError::MatchesNothing { .. })
        }),
        // 1.2 is v1.200, above v1.2.1.
        ("> 1.2, < 1.2.1", |e| {
            matches!(e, RangeError::MatchesNothing { .. })
        }),
    ];
    for (input, check) in table {
        match VersionRange::parse(input) {
            Ok(parsed) => panic!("{input:?} should be refused, got {parsed}"),
            Err(e) => {
                assert!(check(&e), "{input:?}: wrong kind {e:?}");
                let message = e.to_string();
                assert!(message.starts_with(&format!("{input:?}")), "{message}");
                assert!(!message.contains('\n'), "{message}");
            }
        }
    }
    assert_eq!(
        VersionRange::parse(">= 1.0,, < 2").unwrap_err().to_string(),
        r#"">= 1.0,, < 2" is not a version range: clause 2 is empty"#
    );
    assert_eq!(
        VersionRange::parse(">= 2, < 1").unwrap_err().to_string(),
        r#"">= 2, < 1" matches no version: minimum 2 is above maximum 1"#
    );
}

#[test]
fn range_clause_count_is_bounded() {
    let at_limit = vec!["!= 1"; super::range::MAX_CLAUSES].join(", ");
    assert!(VersionRange::parse(&at_limit).is_ok());
    let over = format!("{at_limit}, != 2");
    assert!(matches!(
        VersionRange::parse(&over),
        Err(RangeError::TooManyClauses { count: 101, .. })
    ));
}

#[test]
fn range_display_is_normalised_and_reparses() {
    let table = [
        ("0", ">= 0"),
        (">= 0.60, <= 0.89", ">= 0.60, <= 0.89"),
        ("<= 0.89,>=0.60,", ">= 0.60, <= 0.89"),
        (">= 1, != 1.5, < 2", ">= 1, < 2, != 1.5"),
        (
            "!= 1.7, > 1, != 1.5, != 1.50, != 3",
            "> 1, != 1.5, != 1.7, != 3",
        ),
        ("!= 0.5, != 3, > 1, < 2", "> 1, < 2"),
        ("> 1, < 2", "> 1, < 2"),
        (">= 1, <= 1", "== 1"),
        ("!= 2", "!= 2"),
    ];
    for (input, shown) in table {
        let parsed = r(input);
        assert_eq!(parsed.to_string(), shown, "{input}");
        assert_eq!(r(shown), parsed, "{shown} should reparse to {input}");
    }
}

#[test]
fn any_is_greater_or_equal_zero() {
    assert_eq!(VersionRange::any(), r(">= 0"));
    assert_eq!(VersionRange::any(), r("0"));
    assert_eq!(VersionRange::any().to_string(), ">= 0");
    assert!(VersionRange::any().contains(&v("0")));
    assert!(!VersionRange::any().matches_nothing());
}

#[test]
fn fixed_in_adds_an_exclusive_upper_bound() {
    let range = r(">= 0.60, <= 0.89");
    let fixed = range.with_upper_bound_exclusive(&v("0.80"));
    assert_eq!(fixed, r(">= 0.60, < 0.80"));
    assert!(fixed.contains(&v("0.79")));
    assert!(!fixed.contains(&v("0.80")));
    // A fix after the range changes nothing that matters.
    let later = range.with_upper_bound_exclusive(&v("0.90"));
    assert!(later.contains(&v("0.89")) && !later.contains(&v("0.891")));
    // A trial fix bounds by its value and prints re-parseably.
    let trial = VersionRange::any().with_upper_bound_exclusive(&v("1.23-TRIAL"));
    assert_eq!(trial.to_string(), ">= 0, < 1.23");
    assert_eq!(r(&trial.to_string()), trial);
    // A fix before the range leaves nothing.
    let none = r(">= 2").with_upper_bound_exclusive(&v("1.5"));
    assert!(none.matches_nothing());
    assert!(!none.contains(&v("2")) && !none.contains(&v("1")));
    assert_eq!(r(&none.to_string()), none);
    let exact = r("== 1.5").with_upper_bound_exclusive(&v("1.5"));
    assert!(exact.matches_nothing());
}

#[test]
fn range_serde_is_a_string_both_ways() {
    let json = serde_json::to_string(&r("<= 0.89, >= 0.60")).unwrap();
    assert_eq!(json, r#"">= 0.60, <= 0.89""#);
    let back: VersionRange = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r(">= 0.60, <= 0.89"));
    let err = serde_json::from_str::<VersionRange>(r#"">= 2, < 1""#).unwrap_err();
    assert!(err.to_string().contains("matches no version"), "{err}");
}

// ---------------------------------------------------------------------------
// Reference tests against perl
// ---------------------------------------------------------------------------

/// Runs `script` under perl with `lines` on stdin, one per line, each
/// hex-encoded so that any byte survives (the script decodes with
/// `pack "H*"`). Panics, failing the test, if perl is missing or fails.
fn perl(script: &str, lines: &[String]) -> Vec<String> {
    let mut child = Command::new("perl")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "the version.pm reference tests need `perl` on PATH \
                 (with version.pm and CPAN::Meta::Requirements, both core): {e}"
            )
        });
    let mut input = String::new();
    for line in lines {
        input.push_str(&hex(line));
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "perl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A small linear congruential generator (Knuth's MMIX constants): enough
/// to make varied versions reproducibly without a new dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn digits(&mut self, len: u64) -> String {
        // Mostly 0, 1 and 9, so that equal values and carries turn up.
        const POOL: &[u8] = b"0000111999123456789";
        (0..len)
            .map(|_| char::from(POOL[self.below(POOL.len() as u64) as usize]))
            .collect()
    }

    fn number(&mut self) -> String {
        match self.below(5) {
            0 => self.below(1200).to_string(),
            1 => format!("0{}", self.below(20)),
            _ => self.below(12).to_string(),
        }
    }

    /// One random version in one of version.pm's accepted shapes.
    fn version(&mut self) -> String {
        let alpha = |g: &mut Lcg| {
            if g.below(4) == 0 {
                let len = 1 + g.below(3);
                format!("_{}", g.digits(len))
            } else {
                String::new()
            }
        };
        match self.below(4) {
            0 | 1 => {
                let int = self.number();
                let frac_len = 1 + self.below(8);
                let frac = self.digits(frac_len);
                format!("{int}.{frac}{}", alpha(self))
            }
            2 => {
                let count = 1 + self.below(4);
                let parts: Vec<String> = (0..count).map(|_| self.number()).collect();
                // `v1_2` is refused: an underscore needs a dotted part.
                let alpha = if count > 1 {
                    alpha(self)
                } else {
                    String::new()
                };
                format!("v{}{alpha}", parts.join("."))
            }
            _ => {
                let count = 3 + self.below(3);
                let parts: Vec<String> = (0..count).map(|_| self.number()).collect();
                format!("{}{}", parts.join("."), alpha(self))
            }
        }
    }
}

/// Versions that exercise the rules, all accepted by both sides.
const EDGE_VERSIONS: &[&str] = &[
    "0",
    "0.0",
    "00",
    "1",
    "1.",
    ".1",
    ".1_2",
    ".1.2",
    "01.2",
    "1.0",
    "1.00",
    "1.000001",
    "1.0001",
    "1.0000001",
    "1.000000000",
    "1.02",
    "1.2",
    "1.200",
    "1.9",
    "1.10",
    "1.002",
    "1.002003",
    "1.2.0",
    "1.2.3",
    "1.2.3.0",
    "1.10.0",
    "1.9.0",
    "v1",
    "v1.2",
    "v1.02",
    "v1.2.0",
    "v1.2.3",
    "v1.2.4",
    "v1.2.3.4",
    "v1.2.3.4.5",
    "v1.2.0.0.0",
    "v1.1000",
    "1.999999",
    "1.23",
    "1.2301",
    "1.23_01",
    "1.2_03",
    "1.203",
    "v1.2_3",
    "v1.23",
    "v1.2.3_4",
    "v1.2.34",
    "1.2.3_04",
    "1.0_0",
    "0.86",
    "0.860",
    "0.89",
    "0.6",
    "0.60",
    "2147483647",
    "v1.2147483647",
    "v0.0.1",
    "0.000001",
    "3.14159265358979",
];

fn reference_versions() -> Vec<String> {
    let mut rng = Lcg(0x5eed_cafe);
    let mut list: Vec<String> = EDGE_VERSIONS.iter().map(|s| s.to_string()).collect();
    list.extend((0..40).map(|_| rng.version()));
    list
}

#[test]
fn ordering_agrees_with_perl_on_every_pair() {
    let list = reference_versions();
    let ours: Vec<CpanVersion> = list.iter().map(|s| v(s)).collect();
    let out = perl(
        r#"use strict; use warnings; use version;
           my @v = map { chomp; version->parse(pack "H*", $_) } <STDIN>;
           for my $a (@v) { print join(" ", map { $a <=> $_ } @v), "\n" }"#,
        &list,
    );
    assert_eq!(out.len(), list.len());
    let mut checked = 0;
    for (i, row) in out.iter().enumerate() {
        let cells: Vec<&str> = row.split(' ').collect();
        assert_eq!(cells.len(), list.len());
        for (j, cell) in cells.iter().enumerate() {
            let expected = match *cell {
                "-1" => Ordering::Less,
                "0" => Ordering::Equal,
                "1" => Ordering::Greater,
                other => panic!("perl printed {other:?}"),
            };
            assert_eq!(
                ours[i].cmp(&ours[j]),
                expected,
                "{} <=> {} (perl says {cell})",
                list[i],
                list[j]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, list.len() * list.len());
}

#[test]
fn normal_agrees_with_perl() {
    let list = reference_versions();
    let out = perl(
        r#"use strict; use warnings; use version;
           while (<STDIN>) { chomp; print version->parse(pack "H*", $_)->normal, "\n" }"#,
        &list,
    );
    assert_eq!(out.len(), list.len());
    for (s, normal) in list.iter().zip(&out) {
        assert_eq!(&v(s).normal(), normal, "normal of {s}");
    }
}

/// Strings version.pm reads (without a warning) that we refuse on purpose;
/// see the module doc of `version`. Checked against perl so the list stays
/// true.
const STRICTER_THAN_PERL: &[&str] = &["undef", ".", "v1.", "v1.2.3_", " 1.2", "\t1"];

/// Strings for the accept/refuse comparison, besides `EDGE_VERSIONS`.
const VALIDITY_CASES: &[&str] = &[
    "",
    " ",
    "abc",
    "1.2.x",
    "1.2a",
    "1..2",
    "1._2",
    "1.2.",
    "1.2.3.",
    "v",
    "v.1",
    "V1.2",
    "1_2",
    "v1_2",
    "1.23_",
    "1.2_3_4",
    "1.2_3.4",
    "v1.2_3.4",
    "1.2.3_4.5",
    "1__2",
    "1.2__3",
    "._1",
    "..",
    "+1",
    "-1",
    "1e3",
    "1,2",
    "1.2 ",
    "1.2 x",
    "1.2.3 4",
    "1.2\n",
    "v1 .2",
    "2147483648",
    "v1.2147483648",
    "1.23-TRIAL",
    "version",
    "_1",
    "1.2-3",
];

#[test]
fn accepted_strings_agree_with_perl() {
    let list: Vec<String> = EDGE_VERSIONS
        .iter()
        .chain(VALIDITY_CASES)
        .chain(STRICTER_THAN_PERL)
        .map(|s| s.to_string())
        .collect();
    // Warnings are fatal: version.pm warns about trailing junk and
    // overflow, and CPAN::Meta::Requirements treats those warnings as
    // errors too.
    let out = perl(
        r#"use strict; use warnings; use version;
           while (<STDIN>) { chomp; my $s = pack "H*", $_;
             my $ok = eval { local $SIG{__WARN__} = sub { die @_ }; version->parse($s); 1 };
             print $ok ? "ok\n" : "err\n" }"#,
        &list,
    );
    assert_eq!(out.len(), list.len());
    for (s, answer) in list.iter().zip(&out) {
        let perl_accepts = answer == "ok";
        let we_accept = CpanVersion::parse(s).is_ok();
        if STRICTER_THAN_PERL.contains(&s.as_str()) {
            assert!(
                perl_accepts,
                "{s:?} no longer accepted by perl: drop it from the list"
            );
            assert!(!we_accept, "{s:?} should be refused on purpose");
        } else if let Some(stripped) = s.strip_suffix("-TRIAL") {
            // Tarball-only syntax: perl refuses it, we read the version
            // before it.
            assert!(!perl_accepts, "{s:?}");
            assert_eq!(we_accept, CpanVersion::parse(stripped).is_ok(), "{s:?}");
        } else {
            assert_eq!(we_accept, perl_accepts, "{s:?}: perl says {answer}");
        }
    }
}

/// Ranges for the CPAN::Meta::Requirements comparison.
const RANGES: &[&str] = &[
    "0",
    " 0",
    ">= 0",
    "> 0",
    "< 0",
    "1.5",
    ">= 1.5",
    "> 1.5",
    "<= 1.5",
    "< 1.5",
    "== 1.5",
    "!= 1.5",
    ">= 0.60, <= 0.89",
    ">= 1.0, != 1.5, < 2",
    ">= 1, < 2,",
    ">= 1,,",
    " >= 1",
    ">=1.2",
    ">=\n1",
    ">\t1",
    "1 , 2",
    ">= 1 , < 2",
    ">= v1.2.3",
    "> 1.2.3, < 1.3",
    "== 1.23_01",
    ">= 1.10",
    "< 1.9",
    ">= 1.10.0",
    "!= 0.86",
    "> 1, < 1.0000001",
    ">= 1, == 1.5",
    "== 1.5, >= 1",
    "== 1.0, == 1.000",
    "!= 1, != 1",
    ">= v1.1000",
    "< 1.999999",
    ">= 01.2",
    "1.2.3_4",
    ">= 1, < 2, != 1.5, != 1.7, > 1.1",
    "!= 3, >= 1, <= 2",
    "<= 1, >= 1",
    "< 2, > 1.9.9",
    "> 1.2.0, < 1.2.1",
    // Refused by CPAN::Meta::Requirements.
    "> 1, <= 1",
    "<= 1, > 1",
    ">= 2, < 1",
    "== 1, != 1",
    "== 1, == 2",
    "== 1.5, > 1.5",
    ">= 2, == 1",
    "<= 2, <= 1.5, >= 1.6",
    "> 1.2, < 1.2.1",
    ">= 1.0,, < 2",
    ", >= 1",
    ">=",
    ">= 1, <",
    "=> 1",
    "> = 1",
    ">= 1 ",
    ">= 1\t",
    "0 ",
    ">= 1\n",
    ">= 1.2.x",
    "abc",
    ">= 1.23-TRIAL",
    ">= 1 < 2",
    "   ",
    "1.2.3.",
];

/// Ranges CPAN::Meta::Requirements accepts that we refuse on purpose; see
/// the module doc of `version::range`.
const RANGES_STRICTER_THAN_PERL: &[&str] = &["", ",", " , ,", ">= undef"];

/// Versions tested against every range (perl gets them without -TRIAL,
/// which `accepts_module` does not read).
const RANGE_VERSIONS: &[&str] = &[
    "0",
    "0.5",
    "0.6",
    "0.60",
    "0.75",
    "0.86",
    "0.89",
    "0.890",
    "0.9",
    "1",
    "1.0",
    "1.000001",
    "1.0000001",
    "1.1",
    "1.10",
    "1.2",
    "1.2.3",
    "1.2.4",
    "1.23",
    "1.23_01",
    "1.2301",
    "1.23-TRIAL",
    "1.3",
    "1.5",
    "1.50",
    "1.6",
    "1.7",
    "1.9",
    "1.9.9",
    "1.999999",
    "2",
    "2.0.1",
    "v1.1000",
    "v1.2.3_4",
    "3",
];

#[test]
fn ranges_agree_with_cpan_meta_requirements() {
    // Our normalised form of each accepted range goes to perl as well: it
    // must be accepted there and mean the same.
    let mut ranges: Vec<String> = RANGES
        .iter()
        .chain(RANGES_STRICTER_THAN_PERL)
        .map(|s| s.to_string())
        .collect();
    let shown: Vec<String> = ranges
        .iter()
        .filter_map(|s| VersionRange::parse(s).ok())
        .map(|range| range.to_string())
        .collect();
    ranges.extend(shown);

    let mut lines = vec![ranges.len().to_string()];
    lines.extend(ranges.iter().cloned());
    lines.extend(
        RANGE_VERSIONS
            .iter()
            .map(|s| s.trim_end_matches("-TRIAL").to_owned()),
    );
    let out = perl(
        r#"use strict; use warnings; use CPAN::Meta::Requirements;
           my @in = map { chomp; pack "H*", $_ } <STDIN>;
           my $n = shift @in; my @ranges = splice @in, 0, $n; my @versions = @in;
           for my $range (@ranges) {
             my $req = eval {
               local $SIG{__WARN__} = sub {};
               CPAN::Meta::Requirements->from_string_hash({ Foo => $range })
             };
             if (!$req) { print "err\n"; next }
             print join("", map { $req->accepts_module(Foo => $_) ? 1 : 0 } @versions), "\n";
           }"#,
        &lines,
    );
    assert_eq!(out.len(), ranges.len());

    for (range, answer) in ranges.iter().zip(&out) {
        let ours = VersionRange::parse(range);
        if RANGES_STRICTER_THAN_PERL.contains(&range.as_str()) {
            assert_ne!(
                answer, "err",
                "{range:?} now refused by perl: drop it from the list"
            );
            assert!(ours.is_err(), "{range:?} should be refused on purpose");
            continue;
        }
        let ours = match (ours, answer.as_str()) {
            (Err(_), "err") => continue,
            (Ok(parsed), "err") => panic!("perl refuses {range:?}, we read {parsed}"),
            (Err(e), _) => panic!("perl accepts {range:?}, we refuse it: {e}"),
            (Ok(parsed), _) => parsed,
        };
        let perl_says: Vec<bool> = answer.chars().map(|c| c == '1').collect();
        assert_eq!(perl_says.len(), RANGE_VERSIONS.len());
        for (version, expected) in RANGE_VERSIONS.iter().zip(perl_says) {
            assert_eq!(
                ours.contains(&v(version)),
                expected,
                "{range:?} contains {version}? perl says {expected}"
            );
        }
    }
}
