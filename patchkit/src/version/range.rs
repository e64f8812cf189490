//! Version ranges in CPAN::Meta::Requirements syntax, e.g. `>= 0.60, <= 0.89`.
//!
//! This module owns [`VersionRange`]: the `versions` field of a patch record,
//! narrowed by its `fixed-in` version, and the question "does this release
//! carry the bug?" ([`VersionRange::contains`]).
//!
//! # Reference
//!
//! CPAN::Meta::Requirements 2.140 (core perl 5.36), the parser the CPAN
//! toolchain itself uses for `requires` strings: `add_string_requirement`
//! to read a range and `accepts_module` to test a version. The tests run a
//! real perl on a table of ranges and versions. No Rust crate implements
//! this syntax on top of `version.pm` semantics, hence the hand-written code.
//!
//! # Syntax (as CPAN::Meta::Requirements reads it)
//!
//! * Clauses are separated by commas; whitespace around a comma is ignored
//!   and trailing empty clauses are dropped (perl's `split`), so
//!   `">= 1, "` and `">= 1,,"` are accepted.
//! * A clause is `OP VERSION` with `OP` one of `>=`, `<=`, `>`, `<`, `==`,
//!   `!=` (whitespace before and after it is fine), or a bare `VERSION`
//!   meaning `>=`. `0` and `>= 0` mean "any version".
//! * Refused: an empty clause before another one (`>= 1,, < 2`, `, >= 1`),
//!   an operator without a version (`>=`), an unknown operator (`=> 1`),
//!   a version that `version.pm` refuses, and whitespace *after* a version
//!   inside a clause (`">= 1 "`): CPAN::Meta::Requirements turns
//!   `version.pm`'s "contains invalid data" warning into an error.
//! * Clauses that leave no version (`>= 2, < 1`, `== 1, != 1`) are refused
//!   exactly where CPAN::Meta::Requirements dies: the bounds are combined in
//!   the same way, so the same inputs fail.
//!
//! # Where it is stricter than CPAN::Meta::Requirements
//!
//! * An empty string, and a string of only commas (`,`), are errors here.
//!   CPAN::Meta::Requirements reads the first as `0` (with a warning) and
//!   the second as "no requirement at all"; in a security record both are
//!   far more likely a mistake than a claim that every release is affected.
//! * At most [`MAX_CLAUSES`] (100) clauses, a bound on untrusted input.
//! * Versions follow [`CpanVersion`]'s stricter rules, so `undef` or
//!   `99999999999` are refused. `-TRIAL` is not accepted inside a range,
//!   because CPAN::Meta::Requirements does not accept it either.

use std::fmt;
use std::str::FromStr;

use super::{CpanVersion, ParseError};
use crate::text::excerpt;

/// The most clauses a range may have. Real ranges have two or three; the
/// bound keeps the (quadratic) exclusion bookkeeping cheap on hostile input.
pub const MAX_CLAUSES: usize = 100;

/// How many characters of a bad range an error message quotes. Ranges are
/// longer than versions, so a little more than for a version.
const EXCERPT_CHARS: usize = 40;

/// A set of CPAN versions described in CPAN::Meta::Requirements syntax.
///
/// Equality compares the normalised range (bounds by numeric value,
/// exclusions sorted), so `>= 1.0` equals `>= 1.00`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct VersionRange {
    shape: Shape,
}

/// The two states of CPAN::Meta::Requirements' `_Range` classes.
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    /// `== v`: one version (`_Range::Exact`).
    Exact(CpanVersion),
    /// `_Range::Range`: optional inclusive bounds and excluded versions.
    /// `> v` is stored as `>= v` plus `!= v`, as CPAN::Meta::Requirements
    /// stores it. Exclusions are kept sorted, unique and inside the bounds.
    Bounds {
        min: Option<CpanVersion>,
        max: Option<CpanVersion>,
        exclusions: Vec<CpanVersion>,
    },
}

/// A comparison operator of one clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

impl Op {
    /// The operators in the order CPAN::Meta::Requirements' regex tries
    /// them; `>=` must be tried before `>`.
    const ALL: [(&'static str, Op); 6] = [
        ("==", Op::Eq),
        (">=", Op::Ge),
        (">", Op::Gt),
        ("<=", Op::Le),
        ("<", Op::Lt),
        ("!=", Op::Ne),
    ];
}

impl VersionRange {
    /// Parses a range in CPAN::Meta::Requirements syntax.
    pub fn parse(s: &str) -> Result<VersionRange, RangeError> {
        let input = || excerpt(s, EXCERPT_CHARS);
        if s.is_empty() {
            return Err(RangeError::Empty { input: input() });
        }
        let clauses = split_clauses(s);
        if clauses.is_empty() {
            return Err(RangeError::Empty { input: input() });
        }
        if clauses.len() > MAX_CLAUSES {
            return Err(RangeError::TooManyClauses {
                input: input(),
                count: clauses.len(),
            });
        }
        let mut range = VersionRange::unconstrained();
        for (index, clause) in clauses.iter().enumerate() {
            let number = index + 1;
            let (op, text) = split_op(clause);
            let version = parse_clause_version(text).map_err(|why| match why {
                ClauseProblem::Empty if op.is_none() => RangeError::EmptyClause {
                    input: input(),
                    number,
                },
                ClauseProblem::Empty => RangeError::MissingVersion {
                    input: input(),
                    number,
                },
                ClauseProblem::TrailingSpace => RangeError::TrailingSpace {
                    input: input(),
                    number,
                },
                ClauseProblem::Version(error) => RangeError::BadVersion {
                    input: input(),
                    number,
                    error,
                },
            })?;
            range = range
                .constrain(op.unwrap_or(Op::Ge), version)
                .map_err(|reason| RangeError::MatchesNothing {
                    input: input(),
                    reason,
                })?;
        }
        Ok(range)
    }

    /// Every version: `>= 0`.
    pub fn any() -> VersionRange {
        VersionRange {
            shape: Shape::Bounds {
                min: Some(zero()),
                max: None,
                exclusions: Vec::new(),
            },
        }
    }

    /// True when `v` is in the range, as `accepts_module` answers.
    pub fn contains(&self, v: &CpanVersion) -> bool {
        match &self.shape {
            Shape::Exact(exact) => v == exact,
            Shape::Bounds {
                min,
                max,
                exclusions,
            } => {
                min.as_ref().is_none_or(|min| v >= min)
                    && max.as_ref().is_none_or(|max| v <= max)
                    && !exclusions.contains(v)
            }
        }
    }

    /// This range with `< fixed_in` added: the versions before the release
    /// that fixed the bug.
    ///
    /// When no version is left (the fix predates the whole range, where
    /// CPAN::Meta::Requirements would die), the result is the empty range
    /// `< 0`, for which [`matches_nothing`](Self::matches_nothing) is true;
    /// `patchkit lint` reports it.
    pub fn with_upper_bound_exclusive(&self, fixed_in: &CpanVersion) -> VersionRange {
        // A `-TRIAL` fix bounds the range by its numeric value; `Display`
        // prints it without the suffix, so the result stays re-parseable.
        self.constrain(Op::Lt, fixed_in.clone())
            .unwrap_or_else(|_| VersionRange::nothing())
    }

    /// True when no version can match, e.g. `< 0`. CPAN::Meta::Requirements
    /// accepts such a range; a patch record with one never applies.
    pub fn matches_nothing(&self) -> bool {
        match &self.shape {
            Shape::Exact(_) => false,
            // Every version is >= 0, so only a maximum of 0 that is itself
            // excluded leaves nothing; other empty combinations are refused
            // by `constrain`.
            Shape::Bounds {
                max, exclusions, ..
            } => max
                .as_ref()
                .is_some_and(|max| *max == zero() && exclusions.contains(max)),
        }
    }

    /// The starting point before any clause: no bound at all.
    fn unconstrained() -> VersionRange {
        VersionRange {
            shape: Shape::Bounds {
                min: None,
                max: None,
                exclusions: Vec::new(),
            },
        }
    }

    /// The canonical empty range, `< 0`.
    fn nothing() -> VersionRange {
        VersionRange {
            shape: Shape::Bounds {
                min: None,
                max: Some(zero()),
                exclusions: vec![zero()],
            },
        }
    }

    /// Adds one clause, the way CPAN::Meta::Requirements' `with_minimum`,
    /// `with_maximum`, `with_exclusion` and `with_exact_version` do,
    /// refusing where they die. `>` and `<` are a bound plus an exclusion,
    /// applied in that order, as `%methods_for_op` does.
    fn constrain(&self, op: Op, v: CpanVersion) -> Result<VersionRange, String> {
        match op {
            Op::Eq => self.with_exact(v),
            Op::Ne => self.with_exclusion(v),
            Op::Ge => self.with_minimum(v),
            Op::Le => self.with_maximum(v),
            Op::Gt => self.with_minimum(v.clone())?.with_exclusion(v),
            Op::Lt => self.with_maximum(v.clone())?.with_exclusion(v),
        }
    }

    fn with_exact(&self, v: CpanVersion) -> Result<VersionRange, String> {
        match &self.shape {
            Shape::Exact(exact) if *exact == v => Ok(self.clone()),
            Shape::Exact(exact) => Err(format!(
                "it cannot be exactly {} when it is already exactly {}",
                v.requirement_str(),
                exact.requirement_str()
            )),
            Shape::Bounds { .. } if self.contains(&v) => Ok(VersionRange {
                shape: Shape::Exact(v),
            }),
            Shape::Bounds { .. } => Err(format!(
                "exactly {} is outside of {self}",
                v.requirement_str()
            )),
        }
    }

    fn with_minimum(&self, v: CpanVersion) -> Result<VersionRange, String> {
        match &self.shape {
            Shape::Exact(exact) if *exact >= v => Ok(self.clone()),
            Shape::Exact(exact) => Err(format!(
                "minimum {} is above exactly {}",
                v.requirement_str(),
                exact.requirement_str()
            )),
            Shape::Bounds {
                min,
                max,
                exclusions,
            } => {
                // The larger minimum wins; on a tie the old one is kept.
                let min = match min {
                    Some(old) if *old >= v => old.clone(),
                    _ => v,
                };
                simplify(Some(min), max.clone(), exclusions.clone())
            }
        }
    }

    fn with_maximum(&self, v: CpanVersion) -> Result<VersionRange, String> {
        match &self.shape {
            Shape::Exact(exact) if *exact <= v => Ok(self.clone()),
            Shape::Exact(exact) => Err(format!(
                "maximum {} is below exactly {}",
                v.requirement_str(),
                exact.requirement_str()
            )),
            Shape::Bounds {
                min,
                max,
                exclusions,
            } => {
                let max = match max {
                    Some(old) if *old <= v => old.clone(),
                    _ => v,
                };
                simplify(min.clone(), Some(max), exclusions.clone())
            }
        }
    }

    fn with_exclusion(&self, v: CpanVersion) -> Result<VersionRange, String> {
        match &self.shape {
            Shape::Exact(exact) if *exact == v => Err(format!(
                "it cannot exclude {} when it is exactly that",
                v.requirement_str()
            )),
            Shape::Exact(_) => Ok(self.clone()),
            Shape::Bounds {
                min,
                max,
                exclusions,
            } => {
                let mut exclusions = exclusions.clone();
                exclusions.push(v);
                simplify(min.clone(), max.clone(), exclusions)
            }
        }
    }
}

/// CPAN::Meta::Requirements' `_simplify`: equal bounds become an exact
/// version (or an error if that version is excluded), crossed bounds are an
/// error, and exclusions outside the bounds are dropped.
fn simplify(
    min: Option<CpanVersion>,
    max: Option<CpanVersion>,
    mut exclusions: Vec<CpanVersion>,
) -> Result<VersionRange, String> {
    if let (Some(lo), Some(hi)) = (&min, &max) {
        if lo == hi {
            if exclusions.contains(lo) {
                return Err(format!(
                    "minimum and maximum are both {}, which is excluded",
                    lo.requirement_str()
                ));
            }
            return Ok(VersionRange {
                shape: Shape::Exact(lo.clone()),
            });
        }
        if lo > hi {
            return Err(format!(
                "minimum {} is above maximum {}",
                lo.requirement_str(),
                hi.requirement_str()
            ));
        }
    }
    exclusions
        .retain(|x| min.as_ref().is_none_or(|lo| x >= lo) && max.as_ref().is_none_or(|hi| x <= hi));
    // Sorted and unique, so that equal ranges compare and print alike.
    exclusions.sort();
    exclusions.dedup();
    Ok(VersionRange {
        shape: Shape::Bounds {
            min,
            max,
            exclusions,
        },
    })
}

/// Version `0`, the lowest there is.
fn zero() -> CpanVersion {
    CpanVersion {
        text: "0".to_owned(),
        parts: vec![0],
        dev: false,
        trial: false,
    }
}

/// Perl's `\s`: CPAN::Meta::Requirements splits and trims with it.
fn is_perl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C')
}

/// `split qr{\s*,\s*}, $req`: whitespace next to a comma goes with the
/// comma, and trailing empty fields are dropped (leading and inner ones
/// stay, and are errors later).
fn split_clauses(s: &str) -> Vec<&str> {
    let mut fields: Vec<&str> = s.split(',').collect();
    let last = fields.len().saturating_sub(1);
    for (i, field) in fields.iter_mut().enumerate() {
        if i > 0 {
            *field = field.trim_start_matches(is_perl_space);
        }
        if i < last {
            *field = field.trim_end_matches(is_perl_space);
        }
    }
    while fields.last().is_some_and(|f| f.is_empty()) {
        fields.pop();
    }
    fields
}

/// `m{\A\s*(==|>=|>|<=|<|!=)\s*(.*)\z}`: the operator, if any, and the
/// rest. Without an operator the whole clause is a bare version.
fn split_op(clause: &str) -> (Option<Op>, &str) {
    let trimmed = clause.trim_start_matches(is_perl_space);
    for (token, op) in Op::ALL {
        if let Some(rest) = trimmed.strip_prefix(token) {
            return (Some(op), rest.trim_start_matches(is_perl_space));
        }
    }
    // `version->new` skips leading whitespace of a bare version too.
    (None, trimmed)
}

/// What is wrong with the version of one clause.
enum ClauseProblem {
    Empty,
    TrailingSpace,
    Version(ParseError),
}

fn parse_clause_version(text: &str) -> Result<CpanVersion, ClauseProblem> {
    if text.is_empty() {
        return Err(ClauseProblem::Empty);
    }
    if text.ends_with(is_perl_space) {
        // version.pm warns "contains invalid data" and CPAN::Meta::
        // Requirements makes the warning fatal: mirror the error.
        return Err(ClauseProblem::TrailingSpace);
    }
    CpanVersion::parse_requirement(text).map_err(ClauseProblem::Version)
}

impl fmt::Display for VersionRange {
    /// A normalised form that [`VersionRange::parse`] (and
    /// CPAN::Meta::Requirements) reads back as the same range, e.g.
    /// `>= 0.60, <= 0.89` or `> 1.0, != 1.5, < 2`. Unlike
    /// CPAN::Meta::Requirements' `as_string`, a lone minimum keeps its `>=`,
    /// so that every clause shows its operator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shape {
            Shape::Exact(v) => write!(f, "== {}", v.requirement_str()),
            Shape::Bounds {
                min,
                max,
                exclusions,
            } => {
                let mut clauses = Vec::new();
                let mut rest: Vec<&CpanVersion> = exclusions.iter().collect();
                // An excluded bound prints as a strict operator, as
                // CPAN::Meta::Requirements' `as_struct` does.
                let mut bound = |v: &CpanVersion, inclusive: &str, strict: &str| {
                    let op = match rest.iter().position(|x| *x == v) {
                        Some(i) => {
                            rest.remove(i);
                            strict
                        }
                        None => inclusive,
                    };
                    clauses.push(format!("{op} {}", v.requirement_str()));
                };
                if let Some(v) = min {
                    bound(v, ">=", ">");
                }
                if let Some(v) = max {
                    bound(v, "<=", "<");
                }
                for v in rest {
                    clauses.push(format!("!= {}", v.requirement_str()));
                }
                if clauses.is_empty() {
                    // Not reachable from `parse`; say "any" in parseable form.
                    clauses.push(">= 0".to_owned());
                }
                f.write_str(&clauses.join(", "))
            }
        }
    }
}

impl FromStr for VersionRange {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VersionRange::parse(s)
    }
}

impl TryFrom<String> for VersionRange {
    type Error = RangeError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        VersionRange::parse(&s)
    }
}

impl serde::Serialize for VersionRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A string that is not a usable CPAN::Meta::Requirements range.
///
/// Each message names the range (at most 40 characters of it) and the
/// reason, e.g. `">= 1.0,, < 2" is not a version range: clause 2 is empty`.
/// Clauses are counted from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// Nothing but whitespace and commas.
    #[error("{input} is not a version range: it has no clause")]
    Empty {
        /// The quoted excerpt of the range.
        input: String,
    },
    /// More than [`MAX_CLAUSES`] clauses.
    #[error("{input} is not a version range: it has {count} clauses, more than the limit of 100")]
    TooManyClauses {
        /// The quoted excerpt of the range.
        input: String,
        /// How many clauses it has.
        count: usize,
    },
    /// An empty clause before another one (`>= 1,, < 2`).
    #[error("{input} is not a version range: clause {number} is empty")]
    EmptyClause {
        /// The quoted excerpt of the range.
        input: String,
        /// Which clause, from 1.
        number: usize,
    },
    /// An operator without a version (`>=`).
    #[error("{input} is not a version range: clause {number} has an operator but no version")]
    MissingVersion {
        /// The quoted excerpt of the range.
        input: String,
        /// Which clause, from 1.
        number: usize,
    },
    /// Whitespace after the version inside a clause (`">= 1 "`).
    #[error("{input} is not a version range: clause {number} has whitespace after its version")]
    TrailingSpace {
        /// The quoted excerpt of the range.
        input: String,
        /// Which clause, from 1.
        number: usize,
    },
    /// The version of a clause (or an unknown operator, read as part of a
    /// bare version) is not a CPAN version.
    // The parse error is part of the message rather than a `#[source]`, so
    // that a cause-chain printer does not show it twice.
    #[error("{input} is not a version range: clause {number}: {error}")]
    BadVersion {
        /// The quoted excerpt of the range.
        input: String,
        /// Which clause, from 1.
        number: usize,
        /// Why its version was refused.
        error: ParseError,
    },
    /// The clauses contradict each other, where CPAN::Meta::Requirements
    /// dies (`>= 2, < 1`).
    #[error("{input} matches no version: {reason}")]
    MatchesNothing {
        /// The quoted excerpt of the range.
        input: String,
        /// Which clauses clash.
        reason: String,
    },
}
