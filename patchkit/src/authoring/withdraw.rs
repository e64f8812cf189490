//! `patchkit withdraw`: mark a record withdrawn. It stays in the source
//! tree and in the published history (ids are never reused); `check` and
//! `apply` no longer apply it and say why.
//!
//! Refused, with nothing written: an unknown id, a record already
//! withdrawn, an empty reason, a `--fixed-in` that is not a CPAN version or
//! that would leave no version in the record's range.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{find_record, set_str, set_value, Error, Today};
use crate::version::CpanVersion;

/// What `withdraw` is asked to do.
#[derive(Debug, Clone)]
pub struct Withdrawal {
    /// The record id.
    pub id: String,
    /// Why (shown by `check` and `audit`).
    pub reason: String,
    /// The upstream release that carries the fix, if known.
    pub fixed_in: Option<String>,
}

/// What `withdraw` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawReport {
    /// The record id.
    pub id: String,
    /// The record file rewritten.
    pub record: PathBuf,
    /// The date written.
    pub date: String,
    /// The reason written.
    pub reason: String,
    /// `fixed_in`, when set by this command.
    pub fixed_in: Option<String>,
}

/// Set `withdrawn = { date, reason }` (and `fixed_in`) in the record,
/// keeping every other line as written.
pub fn withdraw(dir: &Path, req: &Withdrawal, today: Today) -> Result<WithdrawReport, Error> {
    let rec = find_record(dir, &req.id)?;
    if let Some(w) = &rec.record.withdrawn {
        return Err(Error::Refused(format!(
            "{} is already withdrawn (on {}: {})",
            rec.record.id, w.date, w.reason
        )));
    }
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Err(Error::Invalid(
            "--reason must say why the record is withdrawn".into(),
        ));
    }
    if let Some(v) = &req.fixed_in {
        let version = CpanVersion::parse(v)
            .map_err(|e| Error::Invalid(format!("--fixed-in {v:?} is not a CPAN version: {e}")))?;
        if rec
            .record
            .range
            .with_upper_bound_exclusive(&version)
            .matches_nothing()
        {
            return Err(Error::Invalid(format!(
                "--fixed-in {v} is below every version of the range {:?}",
                rec.record.versions
            )));
        }
    }
    let date = today.iso();
    let mut doc = rec.document()?;
    let mut table = toml_edit::InlineTable::new();
    table.insert("date", date.as_str().into());
    table.insert("reason", reason.into());
    set_value(&mut doc, "withdrawn", toml_edit::Value::InlineTable(table));
    if let Some(v) = &req.fixed_in {
        set_str(&mut doc, "fixed_in", v);
    }
    set_str(&mut doc, "updated", &date);
    rec.write(&doc)?;
    Ok(WithdrawReport {
        id: rec.record.id.to_string(),
        record: rec.path.clone(),
        date,
        reason: reason.to_string(),
        fixed_in: req.fixed_in.clone(),
    })
}
