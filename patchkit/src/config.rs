//! The settings of one run: every limit on untrusted input and the
//! network, the patches `apply` skips, and the defaults of `check`/`apply`
//! (`fuzz`, `partial`) and `audit` (`fail_on`), each from one of four places,
//! later ones winning: the built-in default, the home's `config.toml`, the
//! environment (`PATCHKIT_LIMITS_<KEY>`, `PATCHKIT_APPLY_SKIP`), and the
//! command line ([`Config::set`]).
//!
//! The file is TOML (docs/formats.md, "The configuration file"):
//!
//! ```toml
//! [limits]
//! archive_size = "64 MiB"   # bytes: a number, or a number and KiB/MiB/GiB
//! http_stall = "30s"        # seconds: a number, or a number and s/m/h
//! [apply]
//! skip = ["PK-2025-0001"]
//! partial = true
//! [audit]
//! fail_on = ["missing", "tampered"]
//! ```
//!
//! Unknown sections and keys are refused, naming the file and the key (a
//! misspelt limit must not silently leave the default in force), as are
//! zero limits. The library reads no environment: the caller passes it in
//! (docs/ARCHITECTURE.md, "capabilities are passed in").

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::patch::record::PatchId;
use crate::state::Home;
use crate::tarball;
use crate::tuf::http::Timeouts;
use crate::tuf::updater;

/// The file name of the configuration, in the home.
pub const FILE_NAME: &str = "config.toml";

/// The largest configuration file read.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The home's `config.toml`.
    File,
    /// An environment variable.
    Environment,
    /// The command line.
    CommandLine,
}

impl Source {
    /// `default`, `config file`, `environment` or `command line`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "config file",
            Source::Environment => "environment",
            Source::CommandLine => "command line",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (`"64 MiB"`, or a plain number of bytes).
    Bytes,
    /// A count.
    Count,
    /// Seconds (`"30s"`, `"5m"`, or a plain number of seconds).
    Seconds,
}

/// One limit: its key under `[limits]`, what it counts and bounds.
#[derive(Debug)]
pub struct Spec {
    /// The key under `[limits]`.
    pub key: &'static str,
    /// What it counts.
    pub unit: Unit,
    /// What it bounds (one line, for `patchkit config` and the docs).
    pub about: &'static str,
    get: fn(&Config) -> u64,
    put: fn(&mut Config, u64),
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Every limit, in the order `patchkit config` shows them.
pub static LIMITS: &[Spec] = &[
    Spec {
        key: "archive_size",
        unit: Unit::Bytes,
        about: "largest compressed tarball read",
        get: |c| c.archive.max_compressed_bytes,
        put: |c, n| c.archive.max_compressed_bytes = n,
    },
    Spec {
        key: "unpacked_size",
        unit: Unit::Bytes,
        about: "largest total of unpacked bytes of one archive or directory",
        get: |c| c.archive.max_unpacked_bytes,
        put: |c, n| c.archive.max_unpacked_bytes = n,
    },
    Spec {
        key: "file_size",
        unit: Unit::Bytes,
        about: "largest single file of a distribution",
        get: |c| c.archive.max_file_bytes,
        put: |c, n| c.archive.max_file_bytes = n,
    },
    Spec {
        key: "entries",
        unit: Unit::Count,
        about: "most entries (files, directories, links) of one distribution",
        get: |c| c.archive.max_entries as u64,
        put: |c, n| c.archive.max_entries = to_usize(n),
    },
    Spec {
        key: "compression_ratio",
        unit: Unit::Count,
        about: "highest ratio of unpacked to compressed bytes (past the first MiB)",
        get: |c| c.archive.max_ratio,
        put: |c, n| c.archive.max_ratio = n,
    },
    Spec {
        key: "extension_size",
        unit: Unit::Bytes,
        about: "largest PAX header or GNU long name of one member",
        get: |c| c.archive.max_extension_bytes,
        put: |c, n| c.archive.max_extension_bytes = n,
    },
    Spec {
        key: "memory_per_target",
        unit: Unit::Bytes,
        about: "memory one target may take (about three times its unpacked bytes)",
        get: |c| c.archive.max_memory_bytes,
        put: |c, n| c.archive.max_memory_bytes = n,
    },
    Spec {
        key: "symlink_work",
        unit: Unit::Bytes,
        about: "bytes of symlink targets checked per distribution",
        get: |c| c.archive.max_symlink_bytes,
        put: |c, n| c.archive.max_symlink_bytes = n,
    },
    Spec {
        key: "root_size",
        unit: Unit::Bytes,
        about: "largest N.root.json downloaded",
        get: |c| c.metadata.max_root_size,
        put: |c, n| c.metadata.max_root_size = n,
    },
    Spec {
        key: "timestamp_size",
        unit: Unit::Bytes,
        about: "largest timestamp.json downloaded",
        get: |c| c.metadata.max_timestamp_size,
        put: |c, n| c.metadata.max_timestamp_size = n,
    },
    Spec {
        key: "snapshot_size",
        unit: Unit::Bytes,
        about: "largest snapshot.json downloaded, whatever length timestamp signs",
        get: |c| c.metadata.max_snapshot_size,
        put: |c, n| c.metadata.max_snapshot_size = n,
    },
    Spec {
        key: "targets_size",
        unit: Unit::Bytes,
        about: "largest targets.json or hash bin downloaded, whatever length snapshot signs",
        get: |c| c.metadata.max_targets_size,
        put: |c, n| c.metadata.max_targets_size = n,
    },
    Spec {
        key: "record_size",
        unit: Unit::Bytes,
        about: "largest patch record or diff downloaded, whatever length is signed",
        get: |c| c.metadata.max_target_size,
        put: |c, n| c.metadata.max_target_size = n,
    },
    Spec {
        key: "root_rotations",
        unit: Unit::Count,
        about: "most root versions followed in one update",
        get: |c| u64::from(c.metadata.max_root_rotations),
        put: |c, n| c.metadata.max_root_rotations = to_u32(n),
    },
    Spec {
        key: "http_connect",
        unit: Unit::Seconds,
        about: "time to connect to a repository (DNS, TCP, TLS)",
        get: |c| secs(c.timeouts.connect),
        put: |c, n| c.timeouts.connect = Duration::from_secs(n),
    },
    Spec {
        key: "http_stall",
        unit: Unit::Seconds,
        about: "time without any data from a repository before giving up",
        get: |c| secs(c.timeouts.stall),
        put: |c, n| c.timeouts.stall = Duration::from_secs(n),
    },
    Spec {
        key: "http_request",
        unit: Unit::Seconds,
        about: "time for one download, body included",
        get: |c| secs(c.timeouts.call),
        put: |c, n| c.timeouts.call = Duration::from_secs(n),
    },
    Spec {
        key: "update_deadline",
        unit: Unit::Seconds,
        about: "time for every download of one repository update together",
        get: |c| c.timeouts.total.map_or(0, secs),
        put: |c, n| c.timeouts.total = Some(Duration::from_secs(n)),
    },
];

/// Why the configuration is refused: one sentence naming where and why.
#[derive(Debug, thiserror::Error)]
#[error("{where_}: {reason}")]
pub struct Error {
    where_: String,
    reason: String,
}

impl Error {
    fn file(path: &Path, reason: impl Into<String>) -> Error {
        Error {
            where_: path.display().to_string(),
            reason: reason.into(),
        }
    }
}

/// One setting as `patchkit config` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// `limits.KEY` or `apply.skip`.
    pub key: String,
    /// The value as it would be written in the file.
    pub value: String,
    /// Where it came from.
    pub source: Source,
    /// What it bounds.
    pub about: &'static str,
}

/// The effective settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Limits on one archive or directory.
    pub archive: tarball::Limits,
    /// Limits on each role's and target's download.
    pub metadata: updater::Limits,
    /// Network timeouts and the deadline of one update.
    pub timeouts: Timeouts,
    /// Patch ids `apply` skips (`[apply] skip`).
    pub skip: Vec<PatchId>,
    /// `check`/`apply`'s `--fuzz` when not given (`[apply] fuzz`).
    pub fuzz: usize,
    /// `check`/`apply`'s `--partial` when not given (`[apply] partial`).
    pub partial: bool,
    /// `audit`'s `--fail-on` when not given (`[audit] fail_on`), as the
    /// names of [`FINDINGS`].
    pub fail_on: Vec<String>,
    /// Where each limit (by index in [`LIMITS`]) came from.
    sources: Vec<Source>,
    skip_source: Source,
    /// Where each of [`DEFAULTS`] came from, in its order.
    default_sources: [Source; 3],
    /// The file read, when there was one.
    file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            archive: tarball::Limits::default(),
            metadata: updater::Limits::default(),
            timeouts: Timeouts::default(),
            skip: Vec::new(),
            fuzz: 0,
            partial: false,
            fail_on: Vec::new(),
            sources: vec![Source::Default; LIMITS.len()],
            skip_source: Source::Default,
            default_sources: [Source::Default; 3],
            file: None,
        }
    }
}

impl Config {
    /// The settings for `home`: defaults, then `HOME/config.toml` when it
    /// exists, then `env` (the process environment, given by the caller).
    ///
    /// # Errors
    /// [`Error`]: an unreadable or malformed file, an unknown section or
    /// key, a bad value — in the file or the environment.
    pub fn load<I>(home: &Home, env: I) -> Result<Config, Error>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut c = Config::default();
        let path = home.root().join(FILE_NAME);
        match crate::state::read_bounded(&path, MAX_FILE_BYTES) {
            Ok(bytes) => {
                c.read_file(&path, &bytes)?;
                c.file = Some(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::file(&path, format!("cannot be read: {e}"))),
        }
        for (k, v) in env {
            c.read_env(&k, &v)?;
        }
        Ok(c)
    }

    /// Reads the TOML text of `path`.
    fn read_file(&mut self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| Error::file(path, "is not UTF-8 text"))?;
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| Error::file(path, format!("is not valid TOML: {}", e.message())))?;
        for (section, body) in &table {
            let body = body.as_table().ok_or_else(|| {
                Error::file(path, format!("{section} must be a section ([{section}])"))
            })?;
            match section.as_str() {
                "limits" => {
                    for (key, value) in body {
                        let spec = find(key).ok_or_else(|| {
                            Error::file(
                                path,
                                format!(
                                    "unknown key limits.{} (known: {})",
                                    shown_key(key),
                                    known()
                                ),
                            )
                        })?;
                        let n = match value {
                            toml::Value::Integer(i) => u64::try_from(*i).ok(),
                            toml::Value::String(s) => parse_value(spec.unit, s),
                            _ => None,
                        }
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            Error::file(path, bad_value(&format!("limits.{key}"), spec.unit))
                        })?;
                        self.put(spec, n, Source::File);
                    }
                }
                "apply" | "audit" => {
                    for (key, value) in body {
                        let full = format!("{section}.{}", shown_key(key));
                        if section == "audit" || key != "skip" {
                            let text = toml_text(value).ok_or_else(|| {
                                Error::file(path, format!("{full} has a value of the wrong kind"))
                            })?;
                            self.put_default(&full, &text, Source::File)
                                .map_err(|reason| Error::file(path, reason))?;
                            continue;
                        }
                        let ids = value
                            .as_array()
                            .and_then(|a| {
                                a.iter()
                                    .map(|v| v.as_str().and_then(|s| PatchId::parse(s).ok()))
                                    .collect::<Option<Vec<_>>>()
                            })
                            .ok_or_else(|| {
                                Error::file(
                                    path,
                                    "apply.skip must be a list of patch ids, such as \
                                     [\"PK-2025-0001\"]",
                                )
                            })?;
                        self.skip = ids;
                        self.skip_source = Source::File;
                    }
                }
                other => {
                    return Err(Error::file(
                        path,
                        format!(
                            "unknown section [{}] (known: [limits], [apply], [audit])",
                            shown_key(other)
                        ),
                    ))
                }
            }
        }
        Ok(())
    }

    /// One environment variable: `PATCHKIT_LIMITS_<KEY>` or
    /// `PATCHKIT_APPLY_SKIP`; other variables are not ours.
    fn read_env(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let env_err = |reason: String| Error {
            where_: format!("environment variable {name}"),
            reason,
        };
        if let Some(key) = name.strip_prefix("PATCHKIT_LIMITS_") {
            let key = key.to_ascii_lowercase();
            let spec = find(&key)
                .ok_or_else(|| env_err(format!("unknown limit {key:?} (known: {})", known())))?;
            let n = parse_value(spec.unit, value)
                .filter(|n| *n > 0)
                .ok_or_else(|| env_err(bad_value(&format!("limits.{key}"), spec.unit)))?;
            self.put(spec, n, Source::Environment);
        } else if name == "PATCHKIT_APPLY_SKIP" {
            self.skip = parse_ids(value)
                .ok_or_else(|| env_err("must be patch ids separated by commas".to_string()))?;
            self.skip_source = Source::Environment;
        } else if let Some(d) = DEFAULTS.iter().find(|d| d.env == name) {
            self.put_default(d.key, value, Source::Environment)
                .map_err(env_err)?;
        }
        Ok(())
    }

    /// Sets `KEY=VALUE` from the command line (`limits.KEY` or
    /// `apply.skip`, ids separated by commas).
    ///
    /// # Errors
    /// [`Error`] for an unknown key or a bad value.
    pub fn set(&mut self, assignment: &str) -> Result<(), Error> {
        let arg_err = |reason: String| Error {
            where_: format!("--set {}", crate::text::excerpt(assignment, 80)),
            reason,
        };
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| arg_err("must be KEY=VALUE".into()))?;
        let key = key.trim();
        if key == "apply.skip" {
            self.skip = parse_ids(value)
                .ok_or_else(|| arg_err("must be patch ids separated by commas".into()))?;
            self.skip_source = Source::CommandLine;
            return Ok(());
        }
        if DEFAULTS.iter().any(|d| d.key == key) {
            return self
                .put_default(key, value, Source::CommandLine)
                .map_err(arg_err);
        }
        let spec = key.strip_prefix("limits.").and_then(find).ok_or_else(|| {
            arg_err(format!(
                "unknown key (known: apply.skip, {}, {})",
                DEFAULTS
                    .iter()
                    .map(|d| d.key)
                    .collect::<Vec<_>>()
                    .join(", "),
                known_full()
            ))
        })?;
        let n = parse_value(spec.unit, value)
            .filter(|n| *n > 0)
            .ok_or_else(|| arg_err(bad_value(key, spec.unit)))?;
        self.put(spec, n, Source::CommandLine);
        Ok(())
    }

    /// Skips `ids` as the command line says (`apply --skip`).
    pub fn set_skip(&mut self, ids: Vec<PatchId>) {
        self.skip = ids;
        self.skip_source = Source::CommandLine;
    }

    fn put(&mut self, spec: &Spec, n: u64, source: Source) {
        (spec.put)(self, n);
        if let Some(i) = LIMITS.iter().position(|s| std::ptr::eq(s, spec)) {
            self.sources[i] = source;
        }
    }

    /// Sets one of [`DEFAULTS`] (`key` as written: `apply.fuzz`) from its
    /// text; the error is the sentence's reason.
    fn put_default(&mut self, key: &str, text: &str, source: Source) -> Result<(), String> {
        let i = DEFAULTS.iter().position(|d| d.key == key).ok_or_else(|| {
            format!(
                "unknown key {key} (known: apply.skip, {})",
                DEFAULTS
                    .iter()
                    .map(|d| d.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let text = text.trim();
        match i {
            0 => {
                self.fuzz = text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= MAX_FUZZ)
                    .ok_or_else(|| {
                        format!("{key} must be a number of lines from 0 to {MAX_FUZZ}")
                    })?
            }
            1 => {
                self.partial = match text {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("{key} must be true or false")),
                }
            }
            _ => {
                let names: Vec<String> = text
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_ascii_lowercase)
                    .collect();
                if let Some(bad) = names.iter().find(|n| !FINDINGS.contains(&n.as_str())) {
                    return Err(format!(
                        "{key} names an unknown finding {} (known: {})",
                        shown_key(bad),
                        FINDINGS.join(", ")
                    ));
                }
                self.fail_on = names;
            }
        }
        self.default_sources[i] = source;
        Ok(())
    }

    /// Where `apply.skip` came from, as a report names a skip request:
    /// `config file PATH`, `environment PATCHKIT_APPLY_SKIP` or `config
    /// --set`.
    pub fn skip_origin(&self) -> String {
        match self.skip_source {
            Source::File => match &self.file {
                Some(f) => format!("config file {}", f.display()),
                None => "config file".to_string(),
            },
            Source::Environment => "environment PATCHKIT_APPLY_SKIP".to_string(),
            Source::CommandLine => "config --set".to_string(),
            Source::Default => "default".to_string(),
        }
    }

    /// The configuration file read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Every setting, with its value and where it came from.
    pub fn shown(&self) -> Vec<Shown> {
        let mut out: Vec<Shown> = LIMITS
            .iter()
            .zip(&self.sources)
            .map(|(spec, source)| Shown {
                key: format!("limits.{}", spec.key),
                value: format_value(spec.unit, (spec.get)(self)),
                source: *source,
                about: spec.about,
            })
            .collect();
        out.push(Shown {
            key: "apply.skip".into(),
            value: format!(
                "[{}]",
                self.skip
                    .iter()
                    .map(|id| format!("\"{id}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            source: self.skip_source,
            about: "patch ids apply leaves out",
        });
        let values = [
            self.fuzz.to_string(),
            self.partial.to_string(),
            format!(
                "[{}]",
                self.fail_on
                    .iter()
                    .map(|f| format!("\"{f}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ];
        for ((d, value), source) in DEFAULTS.iter().zip(values).zip(self.default_sources) {
            out.push(Shown {
                key: d.key.into(),
                value,
                source,
                about: d.about,
            });
        }
        out
    }
}

/// A key as written, quoted and bounded unless it is a plain word.
fn shown_key(key: &str) -> String {
    if !key.is_empty()
        && key.len() <= 60
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_string()
    } else {
        crate::text::excerpt(key, 60)
    }
}

fn find(key: &str) -> Option<&'static Spec> {
    LIMITS.iter().find(|s| s.key == key)
}

fn known() -> String {
    LIMITS.iter().map(|s| s.key).collect::<Vec<_>>().join(", ")
}

fn known_full() -> String {
    LIMITS
        .iter()
        .map(|s| format!("limits.{}", s.key))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bad_value(key: &str, unit: Unit) -> String {
    let what = match unit {
        Unit::Bytes => "a size above zero, such as 1048576 or \"64 MiB\"",
        Unit::Count => "a whole number above zero",
        Unit::Seconds => "a duration above zero, such as 30 or \"30s\" or \"5m\"",
    };
    format!("{key} must be {what}")
}

/// A command's default that the file, the environment or `config --set`
/// may change; the command's own flag still wins.
struct CommandDefault {
    key: &'static str,
    env: &'static str,
    about: &'static str,
}

/// The commands' defaults, in the order [`Config::shown`] lists them.
const DEFAULTS: [CommandDefault; 3] = [
    CommandDefault {
        key: "apply.fuzz",
        env: "PATCHKIT_APPLY_FUZZ",
        about: "context lines check/apply may ignore when --fuzz is not given",
    },
    CommandDefault {
        key: "apply.partial",
        env: "PATCHKIT_APPLY_PARTIAL",
        about: "whether check/apply act as with --partial",
    },
    CommandDefault {
        key: "audit.fail_on",
        env: "PATCHKIT_AUDIT_FAIL_ON",
        about: "findings that make audit exit 1 when --fail-on is not given",
    },
];

/// The findings `audit --fail-on` names.
pub const FINDINGS: [&str; 6] = [
    "missing",
    "withdrawn",
    "superseded",
    "unknown",
    "tampered",
    "damaged",
];

/// The most context lines a default fuzz may ignore (GNU patch's own
/// default is 2; more makes a misplaced hunk likely).
const MAX_FUZZ: usize = 3;

/// A TOML value as the text the environment would give: numbers and
/// booleans as written, a list of strings joined by commas.
fn toml_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}

fn parse_ids(value: &str) -> Option<Vec<PatchId>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| PatchId::parse(s).ok())
        .collect()
}

/// `"64 MiB"`, `"1048576"`, `"30s"`, `"5m"`: a number and an optional unit.
fn parse_value(unit: Unit, text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor: u64 = match (unit, suffix.trim()) {
        (_, "") => 1,
        (Unit::Bytes, "B") => 1,
        (Unit::Bytes, "KiB" | "K") => 1 << 10,
        (Unit::Bytes, "MiB" | "M") => 1 << 20,
        (Unit::Bytes, "GiB" | "G") => 1 << 30,
        (Unit::Bytes, "KB") => 1_000,
        (Unit::Bytes, "MB") => 1_000_000,
        (Unit::Bytes, "GB") => 1_000_000_000,
        (Unit::Seconds, "s") => 1,
        (Unit::Seconds, "m") => 60,
        (Unit::Seconds, "h") => 3600,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// The value as it is best written: `"64 MiB"`, `"30s"`, `20000`.
fn format_value(unit: Unit, n: u64) -> String {
    match unit {
        Unit::Count => n.to_string(),
        Unit::Seconds => format!("\"{n}s\""),
        Unit::Bytes => {
            for (shift, name) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
                if n >= 1 << shift && n % (1 << shift) == 0 {
                    return format!("\"{} {name}\"", n >> shift);
                }
            }
            n.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home_with(text: &str) -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        let home = Home::at(dir.path());
        (dir, home)
    }

    #[test]
    fn defaults_file_environment_and_command_line_layer() {
        let (_d, home) = home_with("[limits]\nhttp_stall = \"2s\"\narchive_size = \"1 MiB\"\n");
        let env = vec![(
            "PATCHKIT_LIMITS_ARCHIVE_SIZE".to_string(),
            "2MiB".to_string(),
        )];
        let mut c = Config::load(&home, env).unwrap();
        c.set("limits.entries=7").unwrap();
        assert_eq!(c.timeouts.stall, Duration::from_secs(2));
        assert_eq!(c.archive.max_compressed_bytes, 2 << 20);
        assert_eq!(c.archive.max_entries, 7);
        let shown = c.shown();
        let source = |k: &str| shown.iter().find(|s| s.key == k).unwrap().source;
        assert_eq!(source("limits.http_stall"), Source::File);
        assert_eq!(source("limits.archive_size"), Source::Environment);
        assert_eq!(source("limits.entries"), Source::CommandLine);
        assert_eq!(source("limits.file_size"), Source::Default);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        for (text, words) in [
            (
                "[limits]\narchive_sise = 5\n",
                "unknown key limits.archive_sise",
            ),
            ("[limit]\n", "unknown section [limit]"),
            ("[apply]\nskipp = []\n", "unknown key apply.skipp"),
            (
                "[limits]\nhttp_stall = \"2 parsecs\"\n",
                "limits.http_stall must be",
            ),
            ("[limits]\nentries = 0\n", "limits.entries must be"),
            ("[apply]\nskip = [\"../x\"]\n", "apply.skip must be"),
        ] {
            let (_d, home) = home_with(text);
            let e = Config::load(&home, Vec::new()).unwrap_err().to_string();
            assert!(e.contains(words) && e.contains(FILE_NAME), "{text}: {e}");
        }
    }
}
