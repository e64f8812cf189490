//! TUF 1.0 metadata types for the four top-level roles, shaped exactly as
//! the specification (§4 "Document formats") and python-tuf's
//! `tuf.api.metadata` write them, plus the signed envelope.
//!
//! Every map is a `BTreeMap`, so serialisation is deterministic (docs/ARCHITECTURE.md
//! "Deterministic output"). Fields this module does not know are kept in
//! `unrecognized` and written back, as python-tuf keeps
//! `unrecognized_fields`: a maintainer adding a signature must not drop
//! what another tool signed.
//!
//! Signatures are never checked over a re-serialised struct: [`Envelope`]
//! keeps the `signed` object as the raw JSON value that was read, and its
//! canonical bytes are what signatures cover. Typed parsing comes after.
//!
//! Refused here: a `_type` other than the expected role, a `spec_version`
//! whose major version is not 1, version 0, and `expires` not in the form
//! `YYYY-MM-DDTHH:MM:SSZ`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use patchkit_signing::{canonical_json, KeyId, Signature};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

/// The `spec_version` we write (python-tuf 6/7 write "1.0.31").
pub const SPEC_VERSION: &str = "1.0.31";

/// The four top-level role names.
pub const TOP_LEVEL_ROLES: [&str; 4] = [
    Role::Root.as_str(),
    Role::Snapshot.as_str(),
    Role::Targets.as_str(),
    Role::Timestamp.as_str(),
];

/// A TUF `hashes` object: algorithm name to lowercase hex digest.
pub type Hashes = BTreeMap<String, String>;

/// Fields this crate does not interpret, kept as written.
pub type Unrecognized = BTreeMap<String, Value>;

/// Why a metadata document was refused before any role-specific check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Not JSON, or not the shape of the role.
    #[error("is not valid {role} metadata: {reason}")]
    Malformed {
        /// The role expected.
        role: String,
        /// What serde or our checks said.
        reason: String,
    },
    /// `_type` names another role.
    #[error("has _type {found:?} where {role:?} was expected")]
    WrongType {
        /// The role expected.
        role: String,
        /// The `_type` found (bounded).
        found: String,
    },
    /// Major spec version is not 1.
    #[error("{role} metadata has unsupported spec_version {found:?}")]
    SpecVersion {
        /// The role.
        role: String,
        /// The version found (bounded).
        found: String,
    },
    /// The signed part holds something canonical JSON cannot encode.
    #[error("{role} metadata cannot be canonicalised: {source}")]
    Canonical {
        /// The role.
        role: String,
        /// The encoder's error.
        #[source]
        source: patchkit_signing::Error,
    },
}

/// `expires` in the one form TUF and python-tuf use:
/// `YYYY-MM-DDTHH:MM:SSZ`, always UTC, no fractions.
pub mod tuf_time {
    use super::*;
    use serde::{Deserializer, Serializer};

    /// The strftime format of `expires`.
    pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

    /// Formats a time as TUF writes it (sub-second part dropped).
    pub fn format(t: &DateTime<Utc>) -> String {
        t.format(FORMAT).to_string()
    }

    /// Parses a TUF time, refusing any other form.
    pub fn parse(s: &str) -> Option<DateTime<Utc>> {
        // python-tuf uses strptime with this exact format: no offsets, no
        // fractions. chrono's %Y would also take a sign or 5 digits, so
        // insist on the fixed 20-character shape first.
        if s.len() != 20 || !s.is_ascii() {
            return None;
        }
        NaiveDateTime::parse_from_str(s, FORMAT)
            .ok()
            .map(|n| n.and_utc())
    }

    pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expires {:?} is not of the form YYYY-MM-DDTHH:MM:SSZ",
                s.chars().take(40).collect::<String>()
            ))
        })
    }
}

/// A TUF key object as listed in root's `keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// `ed25519` for every key we verify with.
    pub keytype: String,
    /// `ed25519` for every key we verify with.
    pub scheme: String,
    /// `{"public": "<hex>"}`.
    pub keyval: BTreeMap<String, Value>,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl Key {
    /// The key object of one of our public keys.
    pub fn from_public(key: &patchkit_signing::PublicKey) -> Self {
        let mut keyval = BTreeMap::new();
        keyval.insert("public".to_string(), Value::String(key.to_hex()));
        Key {
            keytype: patchkit_signing::ED25519.into(),
            scheme: patchkit_signing::ED25519.into(),
            keyval,
            unrecognized: BTreeMap::new(),
        }
    }

    /// The public key, when it is an ed25519 key.
    ///
    /// # Errors
    /// The signing crate's error for any other key type or a bad key.
    pub fn to_public(&self) -> Result<patchkit_signing::PublicKey, patchkit_signing::Error> {
        let value = serde_json::to_value(self)
            .map_err(|e| patchkit_signing::Error::BadPublicKey(e.to_string()))?;
        patchkit_signing::PublicKey::from_tuf_key(&value)
    }
}

/// The four top-level roles: the one spelling of their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// `root`: the keys of every role.
    Root,
    /// `timestamp`: freshness; lists the snapshot.
    Timestamp,
    /// `snapshot`: consistency; lists every targets file.
    Snapshot,
    /// `targets`: the patch records and diffs.
    Targets,
}

impl Role {
    /// The role's name as TUF writes it (`_type`, keys of root's `roles`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Timestamp => "timestamp",
            Role::Snapshot => "snapshot",
            Role::Targets => "targets",
        }
    }

    /// The file a client caches the role in (`root.json`, ...), and the
    /// name under which snapshot and timestamp list it.
    pub const fn file_name(self) -> &'static str {
        match self {
            Role::Root => "root.json",
            Role::Timestamp => "timestamp.json",
            Role::Snapshot => "snapshot.json",
            Role::Targets => "targets.json",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of root's `roles`: who may sign, and how many must.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDef {
    /// Key ids of the role's keys, in the order written.
    pub keyids: Vec<KeyId>,
    /// Signatures required.
    pub threshold: u32,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// An entry of snapshot's or timestamp's `meta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    /// Version of the metadata file described.
    pub version: u64,
    /// Its exact length in bytes, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Its digests, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Hashes>,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// An entry of targets' `targets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFile {
    /// Exact length in bytes.
    pub length: u64,
    /// Digests; we write and require `sha256`.
    pub hashes: Hashes,
    /// Application data, signed with the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl TargetFile {
    /// The sha256 digest in hex, if listed.
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}

/// The signed part of `root.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Root {
    /// Always `"root"`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// TUF spec version written by the producer.
    pub spec_version: String,
    /// Version, starting at 1 and growing by exactly 1 per rotation.
    pub version: u64,
    /// Expiry.
    #[serde(with = "tuf_time")]
    pub expires: DateTime<Utc>,
    /// Whether files are named `VERSION.role.json` and `HASH.name`.
    /// Absent means false, as in python-tuf (`consistent_snapshot: None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_snapshot: Option<bool>,
    /// Every key any top-level role uses, by key id.
    pub keys: BTreeMap<KeyId, Key>,
    /// The four top-level roles.
    pub roles: BTreeMap<String, RoleDef>,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl Root {
    /// The keys and threshold this root gives `role` (keys that cannot be
    /// decoded are skipped: they can never sign validly).
    ///
    /// # Errors
    /// [`MetadataError::Malformed`] when root names no such role.
    pub fn role_keys(
        &self,
        role: &str,
    ) -> Result<(BTreeMap<KeyId, patchkit_signing::PublicKey>, u32), MetadataError> {
        let def = self
            .roles
            .get(role)
            .ok_or_else(|| MetadataError::Malformed {
                role: Role::Root.as_str().into(),
                reason: format!("no {role} role"),
            })?;
        let mut keys = BTreeMap::new();
        for id in &def.keyids {
            if let Some(public) = self.keys.get(id).and_then(|k| k.to_public().ok()) {
                keys.insert(id.clone(), public);
            }
        }
        Ok((keys, def.threshold))
    }

    /// Checks that `env` carries a threshold of valid signatures by the
    /// keys this root gives `role`, over the canonical bytes of its
    /// `signed` part as received (tough's `Root::verify_role`).
    ///
    /// # Errors
    /// [`VerifyRoleError`]: the document cannot be canonicalised, root names
    /// no such role, or too few valid signatures.
    pub fn verify_role(&self, role: Role, env: &Envelope) -> Result<(), VerifyRoleError> {
        let canonical = env
            .canonical_signed(role.as_str())
            .map_err(VerifyRoleError::Metadata)?;
        let (keys, threshold) = self
            .role_keys(role.as_str())
            .map_err(VerifyRoleError::Metadata)?;
        patchkit_signing::verify_threshold(&keys, threshold, &env.signatures, &canonical)
            .map(|_| ())
            .map_err(VerifyRoleError::Signature)
    }
}

/// Why [`Root::verify_role`] refused a document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyRoleError {
    /// The document or root is malformed for this check.
    #[error(transparent)]
    Metadata(MetadataError),
    /// Too few valid signatures.
    #[error(transparent)]
    Signature(patchkit_signing::VerifyError),
}

/// The signed part of `timestamp.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Always `"timestamp"`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// TUF spec version written by the producer.
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "tuf_time")]
    pub expires: DateTime<Utc>,
    /// `{"snapshot.json": MetaFile}`.
    pub meta: BTreeMap<String, MetaFile>,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// The signed part of `snapshot.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always `"snapshot"`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// TUF spec version written by the producer.
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "tuf_time")]
    pub expires: DateTime<Utc>,
    /// `{"targets.json": MetaFile, ...delegated roles}`.
    pub meta: BTreeMap<String, MetaFile>,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// The signed part of `targets.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Always `"targets"`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// TUF spec version written by the producer.
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "tuf_time")]
    pub expires: DateTime<Utc>,
    /// Target path (`/`-separated) to its description.
    pub targets: BTreeMap<String, TargetFile>,
    /// Delegations: this client follows succinct hash bins (TAP 15) from
    /// the top-level targets role and refuses every other kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// A targets role's `delegations` (TUF §4.5): the keys delegated roles use,
/// and either a list of roles (`roles`, kept as written: this client
/// refuses to follow it) or succinct hash bins (`succinct_roles`, TAP 15).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegations {
    /// Keys of the delegated roles, by key id.
    pub keys: BTreeMap<KeyId, Key>,
    /// Explicitly listed delegated roles (not followed by this client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Value>>,
    /// Succinct hash-bin delegation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succinct_roles: Option<SuccinctRoles>,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// TAP 15 succinct hash-bin delegation: `2^bit_length` terminating roles
/// named `<name_prefix>-<hex>`, signed with the same keys and threshold.
/// A target belongs to the bin whose number is the first `bit_length` bits
/// of the sha256 of its path (python-tuf's `SuccinctRoles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccinctRoles {
    /// Key ids allowed to sign every bin.
    pub keyids: Vec<KeyId>,
    /// Signatures each bin needs.
    pub threshold: u32,
    /// Bits of the path hash that choose the bin (1 to 32).
    pub bit_length: u32,
    /// The bins' common name prefix.
    pub name_prefix: String,
    /// Fields we do not interpret.
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl SuccinctRoles {
    /// Checks `bit_length` (1 to 32, TAP 15) and the prefix (a plain file
    /// name: ASCII letters, digits, `.`, `_`, `-`, not starting with a dot),
    /// so that every bin name is a safe file name.
    ///
    /// # Errors
    /// The reason, as a sentence fragment.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=32).contains(&self.bit_length) {
            return Err(format!(
                "succinct_roles bit_length {} is not between 1 and 32",
                self.bit_length
            ));
        }
        let p = &self.name_prefix;
        let safe = !p.is_empty()
            && p.len() <= 64
            && !p.starts_with('.')
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !safe {
            return Err(format!(
                "succinct_roles name_prefix {:?} is not a plain file name",
                p.chars().take(40).collect::<String>()
            ));
        }
        Ok(())
    }

    /// Number of bins, `2^bit_length`.
    pub fn bin_count(&self) -> u64 {
        1u64 << self.bit_length.min(32)
    }

    fn suffix_len(&self) -> usize {
        format!("{:x}", self.bin_count() - 1).len()
    }

    /// The name of bin number `n`.
    pub fn bin_name(&self, n: u64) -> String {
        format!(
            "{}-{:0width$x}",
            self.name_prefix,
            n,
            width = self.suffix_len()
        )
    }

    /// The bin responsible for target `path`.
    pub fn bin_for_target(&self, path: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(path.as_bytes());
        let first = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        let n = u64::from(first) >> (32 - self.bit_length.clamp(1, 32));
        self.bin_name(n)
    }

    /// Every bin's name, in bin order.
    pub fn bin_names(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.bin_count()).map(|n| self.bin_name(n))
    }

    /// Whether `name` is one of the bins.
    pub fn is_bin(&self, name: &str) -> bool {
        name.strip_prefix(&self.name_prefix)
            .and_then(|s| s.strip_prefix('-'))
            .filter(|s| s.len() == self.suffix_len())
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .is_some_and(|n| n < self.bin_count())
    }

    /// The keys and threshold every bin is verified with, from the
    /// delegating role's `keys` (keys that cannot be decoded are skipped:
    /// they can never sign validly).
    pub fn role_keys(
        &self,
        keys: &BTreeMap<KeyId, Key>,
    ) -> (BTreeMap<KeyId, patchkit_signing::PublicKey>, u32) {
        let mut out = BTreeMap::new();
        for id in &self.keyids {
            if let Some(public) = keys.get(id).and_then(|k| k.to_public().ok()) {
                out.insert(id.clone(), public);
            }
        }
        (out, self.threshold)
    }
}

/// What the four role types share, for generic checks.
pub trait RoleMetadata: Serialize + DeserializeOwned {
    /// The `_type` value, which is also the role name.
    const TYPE: &'static str;
    /// `_type` as read.
    fn type_(&self) -> &str;
    /// `spec_version` as read.
    fn spec_version(&self) -> &str;
    /// `version`.
    fn version(&self) -> u64;
    /// `expires`.
    fn expires(&self) -> DateTime<Utc>;
}

macro_rules! role_metadata {
    ($ty:ty, $name:literal) => {
        impl RoleMetadata for $ty {
            const TYPE: &'static str = $name;
            fn type_(&self) -> &str {
                &self.type_
            }
            fn spec_version(&self) -> &str {
                &self.spec_version
            }
            fn version(&self) -> u64 {
                self.version
            }
            fn expires(&self) -> DateTime<Utc> {
                self.expires
            }
        }
    };
}
role_metadata!(Root, "root");
role_metadata!(Timestamp, "timestamp");
role_metadata!(Snapshot, "snapshot");
role_metadata!(Targets, "targets");

/// Whether this client reads `spec_version` `spec`: TUF 1.x, written as
/// `1`, `1.N` or `1.N.M` (what [`Envelope::parse_signed`] accepts).
pub fn spec_version_supported(spec: &str) -> bool {
    let mut parts = spec.split('.');
    let major_ok = parts.next() == Some("1");
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    major_ok && rest_ok && spec.split('.').count() <= 3
}

/// A hash bin as sent, for a lookup of a few of its targets: the
/// signatures, and the exact bytes of `signed` — checked against the
/// signatures *as they are*, without building the canonical form — with
/// each target's description kept as its JSON text, parsed only when it is
/// looked up ([`BinAsSent::target`]).
///
/// Why this is as strong as the canonical check: TUF signers sign the
/// canonical JSON of `signed`, and a publisher that writes `signed` in that
/// form (patchkit's `publish` does, for bins) sends those very bytes; when
/// the signatures verify over the bytes as read, what is parsed is exactly
/// what the keys signed. When they do not (a publisher that indents, or
/// orders keys otherwise), [`BinAsSent::read`] gives `None` and the caller
/// takes the canonical path ([`Envelope`]), which also words every refusal.
#[derive(Debug)]
pub struct BinAsSent {
    /// `version` as signed.
    pub version: u64,
    /// `expires` as signed.
    pub expires: DateTime<Utc>,
    /// Whether `signed` has a `delegations` field.
    pub delegates: bool,
    targets: BTreeMap<String, Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize)]
struct EnvelopeAsSent<'a> {
    signatures: Vec<Signature>,
    #[serde(borrow)]
    signed: &'a serde_json::value::RawValue,
}

#[derive(Deserialize)]
struct BinFields {
    #[serde(rename = "_type")]
    type_: String,
    spec_version: String,
    version: u64,
    #[serde(with = "tuf_time")]
    expires: DateTime<Utc>,
    targets: BTreeMap<String, Box<serde_json::value::RawValue>>,
    #[serde(default)]
    delegations: Option<serde::de::IgnoredAny>,
}

impl BinAsSent {
    /// Reads `bytes` as a targets role signed by a threshold of `keys`
    /// over `signed` exactly as written: `None` unless the envelope parses,
    /// the signatures verify over those bytes, `_type` is `targets`,
    /// `spec_version` is supported and `version` is at least 1.
    pub fn read(
        bytes: &[u8],
        keys: &BTreeMap<KeyId, patchkit_signing::PublicKey>,
        threshold: u32,
    ) -> Option<BinAsSent> {
        let env: EnvelopeAsSent<'_> = serde_json::from_slice(bytes).ok()?;
        let signed = env.signed.get();
        patchkit_signing::verify_threshold(keys, threshold, &env.signatures, signed.as_bytes())
            .ok()?;
        let fields: BinFields = serde_json::from_str(signed).ok()?;
        let ok = fields.type_ == Targets::TYPE
            && spec_version_supported(&fields.spec_version)
            && fields.version >= 1;
        ok.then_some(BinAsSent {
            version: fields.version,
            expires: fields.expires,
            delegates: fields.delegations.is_some(),
            targets: fields.targets,
        })
    }

    /// The description of target `name`, parsed now.
    ///
    /// # Errors
    /// [`MetadataError::Malformed`] if its entry is not a target description.
    pub fn target(&self, name: &str) -> Result<Option<TargetFile>, MetadataError> {
        let Some(raw) = self.targets.get(name) else {
            return Ok(None);
        };
        serde_json::from_str(raw.get())
            .map(Some)
            .map_err(|e| MetadataError::Malformed {
                role: Targets::TYPE.to_string(),
                reason: format!("target {}: {e}", name.chars().take(120).collect::<String>()),
            })
    }

    /// The names of the targets it lists that start with `prefix`.
    pub fn names_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.targets
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(n, _)| n.as_str())
            .take_while(move |n| n.starts_with(prefix))
    }
}

/// A metadata file: the raw `signed` object and its signatures.
///
/// `signed` stays a [`Value`] so that signatures are checked over exactly
/// what was read, unknown fields and all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The signatures, in the order written.
    pub signatures: Vec<Signature>,
    /// The signed object as read.
    pub signed: Value,
}

impl Envelope {
    /// Reads a metadata file's bytes (any role; nothing verified yet).
    ///
    /// # Errors
    /// [`MetadataError::Malformed`] when it is not a JSON object with
    /// `signed` and `signatures`.
    pub fn from_slice(role: &str, bytes: &[u8]) -> Result<Self, MetadataError> {
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| MetadataError::Malformed {
                role: role.to_string(),
                reason: e.to_string(),
            })?;
        if !envelope.signed.is_object() {
            return Err(MetadataError::Malformed {
                role: role.to_string(),
                reason: "\"signed\" is not an object".into(),
            });
        }
        Ok(envelope)
    }

    /// Wraps a typed role, unsigned.
    ///
    /// # Errors
    /// [`MetadataError::Malformed`] if it cannot be turned into JSON.
    pub fn unsigned<T: RoleMetadata>(signed: &T) -> Result<Self, MetadataError> {
        let signed = serde_json::to_value(signed).map_err(|e| MetadataError::Malformed {
            role: T::TYPE.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Envelope {
            signatures: Vec::new(),
            signed,
        })
    }

    /// The bytes signatures cover: canonical JSON of `signed`.
    ///
    /// # Errors
    /// [`MetadataError::Canonical`] when `signed` holds a float.
    pub fn canonical_signed(&self, role: &str) -> Result<Vec<u8>, MetadataError> {
        canonical_json(&self.signed).map_err(|source| MetadataError::Canonical {
            role: role.to_string(),
            source,
        })
    }

    /// Parses `signed` as role `T` and checks `_type`, `spec_version` and
    /// `version >= 1`.
    ///
    /// # Errors
    /// The [`MetadataError`] naming the first problem.
    pub fn parse_signed<T: RoleMetadata>(&self) -> Result<T, MetadataError> {
        let role = T::TYPE;
        // Check _type before the shape, so that a timestamp served as
        // snapshot says so instead of "missing field".
        let found = self
            .signed
            .get("_type")
            .and_then(Value::as_str)
            .unwrap_or("");
        if found != role {
            return Err(MetadataError::WrongType {
                role: role.to_string(),
                found: found.chars().take(40).collect(),
            });
        }
        // Deserialised from the borrowed value: no copy of a large role.
        let parsed = T::deserialize(&self.signed).map_err(|e| MetadataError::Malformed {
            role: role.to_string(),
            reason: e.to_string(),
        })?;
        let spec = parsed.spec_version();
        if !spec_version_supported(spec) {
            return Err(MetadataError::SpecVersion {
                role: role.to_string(),
                found: spec.chars().take(40).collect(),
            });
        }
        if parsed.version() == 0 {
            return Err(MetadataError::Malformed {
                role: role.to_string(),
                reason: "version must be at least 1".into(),
            });
        }
        Ok(parsed)
    }

    /// The file's bytes without any white space (sorted keys, then a
    /// newline): for the files that grow with the repository (snapshot and
    /// hash bins), where indentation would be a third of every update.
    pub fn to_compact_bytes(&self) -> Vec<u8> {
        let value = serde_json::json!({
            "signatures": self.signatures,
            "signed": self.signed,
        });
        let mut out = serde_json::to_vec(&sorted(&value)).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The file's bytes: sorted keys, one-space indent, trailing newline
    /// (deterministic; clients re-canonicalise `signed` anyway).
    ///
    pub fn to_bytes(&self) -> Vec<u8> {
        let value = serde_json::json!({
            "signatures": self.signatures,
            "signed": self.signed,
        });
        let mut out = Vec::new();
        write_pretty(&sorted(&value), &mut out);
        out.push(b'\n');
        out
    }
}

/// A copy of `value` with every object's keys in code-point order
/// (serde_json keeps insertion order in this workspace).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn write_pretty(value: &Value, out: &mut Vec<u8>) {
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(out, formatter);
    // Serialising a Value into a Vec cannot fail.
    let _ = value.serialize(&mut ser);
}
