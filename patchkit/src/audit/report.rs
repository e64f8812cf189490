//! Judging what a scanned distribution carries against a repository's
//! catalog: the status of each carried patch, and the published patches
//! it is missing.
//!
//! The statuses (docs/auditing.md explains them for users):
//! - `genuine`: the recorded patch sha256 equals the catalog entry's for
//!   that id. With the signed repository this means "exactly the diff the
//!   repository serves"; with `--source` only "the diff in that tree".
//! - `withdrawn`: the catalog still has the id but has withdrawn it.
//! - `superseded`: the catalog has the id with a different diff (a newer
//!   version of the patch was published).
//! - `unknown`: the catalog has no such id.
//!
//! A patch is *missing* when the catalog has a record for the dist whose
//! range holds its version, not withdrawn, that the dist does not carry
//! under that id (carrying an older version of it is `superseded`, not
//! missing). When a dist's record could not be read, nothing is called
//! missing: the dist is reported `damaged` instead, because claiming it
//! lacks patches it may well carry would be a second guess.
//!
//! What the record says became of a matching patch it does not carry is a
//! claim too ([`crate::applied::Outcome`]). *Already applied* and *fixed by
//! other means* are believed only when the content shows them now — the
//! same rule `apply` used ([`crate::patch::coexist`]: the patch's reverse
//! fits, the code has the fixed content while a test it adds is absent, or
//! a Debian series lists a patch naming the flaw) — in a tarball or an
//! unpacked tree; such a patch is then not missing, and the report says how
//! it is known. An installed library keeps neither the tests nor
//! `debian/`, so there the claim cannot be shown and the patch stays
//! missing, with the recorded reason. *Skipped* and *failed* patches stay
//! missing ("missing by request" is still missing: `--fail-on missing`
//! sees it), with the reason.
//!
//! Pure functions of a scan and a catalog: no I/O, no output.

use std::collections::BTreeSet;

use serde::Serialize;

use super::scan::{DistKind, FoundBy, RecordSource, ScannedDist, TamperedFile};
use crate::applied::{Outcome, OutcomeStatus};
use crate::catalog::Catalog;
use crate::patch::{self, coexist, ParsedPatch};

/// The status of a carried patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchStatus {
    /// The repository serves exactly this diff under this id.
    Genuine,
    /// The repository has published a different diff under this id.
    Superseded,
    /// The repository has withdrawn it.
    Withdrawn,
    /// The repository has no such id.
    Unknown,
}

impl PatchStatus {
    /// The word shown to users and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchStatus::Genuine => "genuine",
            PatchStatus::Superseded => "superseded",
            PatchStatus::Withdrawn => "withdrawn",
            PatchStatus::Unknown => "unknown",
        }
    }
}

/// A kind of finding, for `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// A published patch in range is not carried.
    Missing,
    /// A carried patch has been withdrawn.
    Withdrawn,
    /// A carried patch has a newer published version.
    Superseded,
    /// A carried patch is not in the repository.
    Unknown,
    /// A recorded file no longer has its recorded content.
    Tampered,
    /// The dist's record or metadata could not be read.
    Damaged,
}

impl Finding {
    /// Every finding, in the order shown.
    pub const ALL: [Finding; 6] = [
        Finding::Missing,
        Finding::Withdrawn,
        Finding::Superseded,
        Finding::Unknown,
        Finding::Tampered,
        Finding::Damaged,
    ];

    /// The word used by `--fail-on` and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Missing => "missing",
            Finding::Withdrawn => "withdrawn",
            Finding::Superseded => "superseded",
            Finding::Unknown => "unknown",
            Finding::Tampered => "tampered",
            Finding::Damaged => "damaged",
        }
    }
}

/// A carried patch, judged.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedPatch {
    /// The record id.
    pub id: String,
    /// The title (from the record carried, else from the catalog).
    pub title: Option<String>,
    /// CVE / GHSA ids.
    pub aliases: Vec<String>,
    /// Its status.
    pub status: PatchStatus,
    /// sha256 of the diff, as recorded in the dist.
    pub patch_sha256: String,
    /// sha256 of the diff the repository publishes under this id.
    pub published_sha256: Option<String>,
    /// Why it was withdrawn, when it was.
    pub withdrawn_reason: Option<String>,
    /// Shown by the installed files' content, not by a record (an
    /// installed dist that carries none).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub by_content: bool,
}

/// A published patch the dist should carry but does not.
#[derive(Debug, Clone, Serialize)]
pub struct MissingPatch {
    /// The record id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// CVE / GHSA ids.
    pub aliases: Vec<String>,
    /// The version range it covers.
    pub versions: String,
    /// What the dist's record says became of it (skipped by request, did
    /// not apply, or a fix by other means that the content does not show).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A published patch in range that the dist does not carry, yet whose
/// flaw is fixed: the record says so and the content shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FixedPatch {
    /// The record id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// CVE / GHSA ids.
    pub aliases: Vec<String>,
    /// `already_applied` or `fixed_by_other_means`.
    pub status: OutcomeStatus,
    /// How it is known.
    pub reason: String,
}

/// The audit of one distribution.
#[derive(Debug, Clone, Serialize)]
pub struct DistAudit {
    /// The PATH it came from.
    pub target: String,
    /// How it was found.
    pub kind: DistKind,
    /// The tarball, directory or `.meta/<dist>` folder.
    pub location: String,
    /// The distribution name, when known.
    pub dist: Option<String>,
    /// The version, when known.
    pub version: Option<String>,
    /// The package URL, when known.
    pub purl: Option<String>,
    /// sha256 of the tarball (tarball targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tarball_sha256: Option<String>,
    /// sha256 of the original upstream tarball, when known (the patch
    /// record states it; an unpatched tarball is its own original).
    pub original_sha256: Option<String>,
    /// Where the record came from.
    pub record: Option<RecordSource>,
    /// Carried patches, in application order.
    pub patches: Vec<AuditedPatch>,
    /// Files that no longer match the record.
    pub tampered: Vec<TamperedFile>,
    /// Published patches in range that it does not carry, but whose flaw
    /// it fixes otherwise.
    pub fixed_otherwise: Vec<FixedPatch>,
    /// Published patches in range that it does not carry.
    pub missing: Vec<MissingPatch>,
    /// Problems with this dist's record or metadata.
    pub problems: Vec<String>,
    /// Notes that are not findings.
    pub warnings: Vec<String>,
    /// The kinds of finding present, sorted.
    pub findings: Vec<Finding>,
    /// How an installed dist was found, when not by its own metadata.
    #[serde(skip_serializing_if = "is_metadata")]
    pub found_by: FoundBy,
}

fn is_metadata(f: &FoundBy) -> bool {
    *f == FoundBy::Metadata
}

/// Judge one scanned distribution against `catalog`.
pub fn audit(d: &ScannedDist, catalog: &Catalog) -> DistAudit {
    // A record the repository could not be read for is reported as a
    // problem (and its patch as unknown), never as genuine.
    let mut lookup_problems: Vec<String> = Vec::new();
    // A claim the content does not back is no carried patch at all (so it
    // is missing when in range), and the claim itself is a problem.
    let refuted = super::verify::refuted(d, catalog);
    let patches: Vec<AuditedPatch> = d
        .patches
        .iter()
        .enumerate()
        .filter(|(i, _)| !refuted.iter().any(|(r, _)| r == i))
        .map(|(_, p)| {
            let entry = catalog.get(&p.id).unwrap_or_else(|e| {
                lookup_problems.push(format!("cannot look {} up: {e}", p.id));
                None
            });
            let status = match entry {
                None => PatchStatus::Unknown,
                Some(e) if e.record.is_withdrawn() => PatchStatus::Withdrawn,
                Some(e) if e.patch_sha256 != p.patch_sha256 => PatchStatus::Superseded,
                Some(_) => PatchStatus::Genuine,
            };
            AuditedPatch {
                id: p.id.clone(),
                title: p
                    .title
                    .clone()
                    .or_else(|| entry.map(|e| e.record.title.clone())),
                aliases: p.aliases.clone(),
                status,
                patch_sha256: p.patch_sha256.clone(),
                published_sha256: entry.map(|e| e.patch_sha256.clone()),
                withdrawn_reason: entry
                    .and_then(|e| e.record.withdrawn.as_ref())
                    .map(|w| format!("{} ({})", w.reason, w.date)),
                by_content: false,
            }
        })
        .collect();
    // An installed dist without a record: the fixes its modules show.
    let mut patches = patches;
    for id in super::verify::carried_by_content(d, catalog) {
        if let Ok(Some(e)) = catalog.get(&id) {
            patches.push(AuditedPatch {
                id,
                title: Some(e.record.title.clone()),
                aliases: e.record.alias_strings(),
                status: PatchStatus::Genuine,
                patch_sha256: e.patch_sha256.clone(),
                published_sha256: Some(e.patch_sha256.clone()),
                withdrawn_reason: None,
                by_content: true,
            });
        }
    }

    let mut missing = Vec::new();
    let mut fixed_otherwise = Vec::new();
    if let (Some(info), true) = (&d.info, d.record_readable) {
        let carried: BTreeSet<&str> = patches.iter().map(|p| p.id.as_str()).collect();
        let mut seen = BTreeSet::new();
        let named = std::iter::once(info).chain(d.also.as_ref());
        for i in named {
            let matches = catalog.matching(i).unwrap_or_else(|e| {
                lookup_problems.push(format!("cannot look {} up: {e}", i.name));
                Default::default()
            });
            let mut earlier: Vec<&ParsedPatch> = Vec::new();
            for e in matches.apply {
                let id = e.record.id.as_str();
                let before = earlier.clone();
                earlier.push(&e.parsed);
                if carried.contains(id) || !seen.insert(id) {
                    continue;
                }
                let outcome = d.outcomes.iter().find(|o| o.id == id);
                let reason = match outcome {
                    Some(o) => match shown(d, o, e, &before) {
                        Ok(()) => {
                            fixed_otherwise.push(FixedPatch {
                                id: id.to_string(),
                                title: e.record.title.clone(),
                                aliases: e.record.alias_strings(),
                                status: o.status,
                                reason: o.reason.clone(),
                            });
                            continue;
                        }
                        Err(why) => Some(why),
                    },
                    None => None,
                };
                missing.push(MissingPatch {
                    id: e.record.id.to_string(),
                    title: e.record.title.clone(),
                    aliases: e.record.alias_strings(),
                    versions: e.record.versions.clone(),
                    reason,
                });
            }
        }
    }

    let mut findings = BTreeSet::new();
    for p in &patches {
        match p.status {
            PatchStatus::Genuine => {}
            PatchStatus::Superseded => {
                findings.insert(Finding::Superseded);
            }
            PatchStatus::Withdrawn => {
                findings.insert(Finding::Withdrawn);
            }
            PatchStatus::Unknown => {
                findings.insert(Finding::Unknown);
            }
        }
    }
    if !missing.is_empty() {
        findings.insert(Finding::Missing);
    }
    if !d.tampered.is_empty() {
        findings.insert(Finding::Tampered);
    }
    let mut problems = d.problems.clone();
    problems.extend(refuted.into_iter().map(|(_, why)| why));
    problems.extend(lookup_problems);
    if !problems.is_empty() {
        findings.insert(Finding::Damaged);
    }

    DistAudit {
        target: d.target.clone(),
        kind: d.kind,
        location: d.location.clone(),
        dist: d.info.as_ref().map(|i| i.name.to_string()),
        version: d.info.as_ref().map(|i| i.version.to_string()),
        purl: d.info.as_ref().map(|i| i.purl()),
        tarball_sha256: d.tarball_sha256.clone(),
        original_sha256: d.original_sha256.clone(),
        record: d.record_source,
        patches,
        tampered: d.tampered.clone(),
        fixed_otherwise,
        missing,
        problems,
        warnings: d.warnings.clone(),
        findings: findings.into_iter().collect(),
        found_by: d.found_by,
    }
}

/// Whether the content shows the fix `o` claims for a patch the dist does
/// not carry: `Ok` for a believed *already applied* or *fixed by other
/// means*; otherwise why the patch stays missing, one clause.
fn shown(
    d: &ScannedDist,
    o: &Outcome,
    entry: &crate::catalog::Entry,
    earlier: &[&ParsedPatch],
) -> Result<(), String> {
    let parsed = &entry.parsed;
    let status = o.status.as_str();
    match o.status {
        OutcomeStatus::AlreadyApplied | OutcomeStatus::FixedByOtherMeans => {}
        _ => return Err(format!("{status}: {}", o.reason)),
    }
    if d.kind == DistKind::Installed {
        return Err(format!(
            "the record says {status} ({}), which an installed library cannot show",
            o.reason
        ));
    }
    // The verified record's aliases, never the claim's.
    let aliases: Vec<String> = entry.record.alias_strings();
    let distribution = match d.kind {
        DistKind::Directory => coexist::Distribution::Debian,
        _ => coexist::Distribution::Ignored,
    };
    let holds = match o.status {
        OutcomeStatus::AlreadyApplied => patch::carries(&d.content, parsed, earlier).is_ok(),
        _ => {
            coexist::fixed_otherwise(&d.content, parsed, earlier, &aliases, distribution).is_some()
        }
    };
    if holds {
        Ok(())
    } else {
        Err(format!(
            "the record says {status} ({}), but the content does not show it: not believed",
            o.reason
        ))
    }
}

/// Counts over a whole audit, for the summary line and JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Distributions audited.
    pub dists: usize,
    /// Distributions carrying at least one patch.
    pub patched: usize,
    /// Carried patches by status.
    pub genuine: usize,
    /// Superseded patches.
    pub superseded: usize,
    /// Withdrawn patches.
    pub withdrawn: usize,
    /// Unknown patches.
    pub unknown: usize,
    /// Tampered files.
    pub tampered: usize,
    /// Patches not carried whose flaw is fixed otherwise.
    pub fixed_otherwise: usize,
    /// Missing patches.
    pub missing: usize,
    /// Distributions with problems.
    pub damaged: usize,
    /// Module files of the audited libraries that no distribution
    /// accounts for (present when a library was audited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unattributed: Option<usize>,
}

/// Sum up a list of audits.
pub fn summarize(audits: &[DistAudit]) -> Summary {
    let mut s = Summary {
        dists: audits.len(),
        ..Summary::default()
    };
    for a in audits {
        if !a.patches.is_empty() {
            s.patched += 1;
        }
        for p in &a.patches {
            match p.status {
                PatchStatus::Genuine => s.genuine += 1,
                PatchStatus::Superseded => s.superseded += 1,
                PatchStatus::Withdrawn => s.withdrawn += 1,
                PatchStatus::Unknown => s.unknown += 1,
            }
        }
        s.tampered += a.tampered.len();
        s.fixed_otherwise += a.fixed_otherwise.len();
        s.missing += a.missing.len();
        if !a.problems.is_empty() {
            s.damaged += 1;
        }
    }
    s
}
