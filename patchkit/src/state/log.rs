//! The local application log: one JSON object per line, appended for every
//! `apply` this home has done (time, target, digests in and out, ids,
//! result, output path).
//!
//! Append-only by construction: each entry is written with a single
//! `write_all` of one complete line to a file opened with `O_APPEND`, then
//! synced. An interrupted write can leave at most a partial *last* line; the
//! reader reports such a line as damaged and keeps every earlier entry, so
//! earlier entries are never corrupted. When and where an apply ran lives
//! here, never in the patched tarball (docs/ARCHITECTURE.md: deterministic output).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Error;

/// One `apply` of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// UTC time of the apply, RFC 3339.
    pub time: String,
    /// The target's absolute path (entries written before 0.1 hold the
    /// path as given).
    pub target: String,
    /// The host the apply ran on (absent in older entries, or when the
    /// host name could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The distribution, `Name-Version`.
    pub dist: String,
    /// sha256 of the input tarball (absent for directories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_sha256: Option<String>,
    /// sha256 of the output tarball (absent for directories and failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    /// Tree digest of the result (absent on failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_digest: Option<String>,
    /// Ids applied by this run.
    pub applied: Vec<String>,
    /// Ids found already applied.
    #[serde(default)]
    pub already_applied: Vec<String>,
    /// `applied`, `unchanged` or `failed`.
    pub result: String,
    /// Where the output went (an absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The repository the patches came from (`--source DIR` or a name).
    pub repository: String,
    /// The error, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Append `entry` to the log at `path` as one line.
///
/// The log's directory (the home) is created 0700 and checked, and its
/// lock held exclusively while the line is written (`state::lock`).
pub fn append(path: &Path, entry: &LogEntry) -> Result<(), Error> {
    let _lock = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => Some(super::lock::lock_dir(
            dir,
            super::LockKind::Exclusive,
            super::DEFAULT_LOCK_WAIT,
        )?),
        None => None,
    };
    let mut line = serde_json::to_vec(entry).map_err(|e| Error::io("encode", path, e.into()))?;
    line.push(b'\n');
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        // Private like the home, whatever the umask.
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| Error::io("open", path, e))?;
    // A previous writer may have died mid-line; start on a fresh line so
    // that its fragment cannot swallow this entry.
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > 0 && !ends_with_newline(path)? {
        line.insert(0, b'\n');
    }
    file.write_all(&line)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("append to", path, e))
}

fn ends_with_newline(path: &Path) -> Result<bool, Error> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    f.seek(SeekFrom::End(-1))
        .map_err(|e| Error::io("read", path, e))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(b[0] == b'\n')
}

/// What reading the log found: the good entries, and the line numbers of
/// lines that are not valid entries (a torn last line, or hand edits).
#[derive(Debug, Default)]
pub struct LogContents {
    /// Entries in the order they were written.
    pub entries: Vec<LogEntry>,
    /// 1-based numbers of lines that could not be read.
    pub damaged_lines: Vec<usize>,
}

/// Read the log; a missing log is an empty one.
pub fn read(path: &Path) -> Result<LogContents, Error> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LogContents::default()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let mut out = LogContents::default();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<LogEntry>(line) {
            Ok(e) => out.entries.push(e),
            Err(_) => out.damaged_lines.push(i + 1),
        }
    }
    Ok(out)
}

/// Which entries `patchkit log` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries at or after this time (RFC 3339, compared as UTC instants).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries of this distribution: `Name` (any version) or
    /// `Name-Version`.
    pub dist: Option<String>,
    /// At most the last N entries (after the other filters).
    pub last: Option<usize>,
}

impl Filter {
    /// Whether `entry` passes the time and dist filters. An entry whose
    /// time does not parse is kept (never hidden by a filter it cannot be
    /// judged by).
    fn keeps(&self, entry: &LogEntry) -> bool {
        if let Some(since) = self.since {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&entry.time) {
                if t < since {
                    return false;
                }
            }
        }
        if let Some(name) = &self.dist {
            let exact = entry.dist == *name;
            // `Name-Version`: the rest after `Name-` is a version (it
            // starts with a digit or `v`), so `Foo` does not pick
            // `Foo-Bar-1.0`.
            let any_version = entry
                .dist
                .strip_prefix(name.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|v| {
                    v.starts_with(|c: char| c.is_ascii_digit())
                        || (v.starts_with('v') && v[1..].starts_with(|c: char| c.is_ascii_digit()))
                });
            if !exact && !any_version {
                return false;
            }
        }
        true
    }

    /// The entries of `contents` this filter keeps, in order.
    pub fn apply(&self, entries: Vec<LogEntry>) -> Vec<LogEntry> {
        let mut kept: Vec<LogEntry> = entries.into_iter().filter(|e| self.keeps(e)).collect();
        if let Some(n) = self.last {
            let skip = kept.len().saturating_sub(n);
            kept.drain(..skip);
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: &str) -> LogEntry {
        LogEntry {
            time: "2026-01-01T00:00:00Z".into(),
            target: target.into(),
            host: None,
            dist: "Foo-1.0".into(),
            input_sha256: None,
            output_sha256: None,
            tree_digest: None,
            applied: vec!["X-1".into()],
            already_applied: vec![],
            result: "applied".into(),
            output: None,
            repository: "source".into(),
            error: None,
        }
    }

    #[test]
    fn torn_last_line_keeps_earlier_entries_and_later_appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.jsonl");
        append(&p, &entry("a")).unwrap();
        // Simulate a writer killed mid-line.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"time":"2026-"#).unwrap();
        drop(f);
        append(&p, &entry("b")).unwrap();
        let got = read(&p).unwrap();
        let targets: Vec<_> = got.entries.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, ["a", "b"]);
        assert_eq!(got.damaged_lines, vec![2]);
    }

    #[test]
    fn filters_by_time_dist_and_count() {
        let mut a = entry("a");
        a.dist = "Foo-Bar-1.0".into();
        let mut b = entry("b");
        b.time = "2026-03-01T00:00:00Z".into();
        let mut c = entry("c");
        c.time = "2026-04-01T00:00:00Z".into();
        c.dist = "Foo-v2.1".into();
        let all = vec![a, b, c];
        let names = |f: &Filter| -> Vec<String> {
            f.apply(all.clone()).into_iter().map(|e| e.target).collect()
        };
        let since = chrono::DateTime::parse_from_rfc3339("2026-02-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            names(&Filter {
                since: Some(since),
                ..Filter::default()
            }),
            ["b", "c"]
        );
        let foo = Filter {
            dist: Some("Foo".into()),
            ..Filter::default()
        };
        assert_eq!(names(&foo), ["b", "c"]);
        let exact = Filter {
            dist: Some("Foo-Bar-1.0".into()),
            ..Filter::default()
        };
        assert_eq!(names(&exact), ["a"]);
        assert_eq!(
            names(&Filter {
                last: Some(2),
                ..Filter::default()
            }),
            ["b", "c"]
        );
        assert_eq!(
            names(&Filter {
                last: Some(0),
                ..Filter::default()
            }),
            Vec::<String>::new()
        );
    }
}
