//! `KEYS.toml`: which keys sign which role, for `patchkit publish`.
//!
//! ```toml
//! [root]
//! keys = ["root-1.pem", "root-2.pem"]   # private keys at hand (PKCS#8 PEM)
//! public = ["root-3.pub.pem"]           # listed in root, held by someone else
//! threshold = 2                         # default 1
//! previous = ["old-root.pem"]           # root only: old root keys that
//!                                       # cross-sign a rotation
//! [targets]
//! keys = ["targets.pem"]
//! [snapshot]
//! keys = ["snapshot.pem"]
//! [timestamp]
//! keys = ["timestamp.pem"]
//! ```
//!
//! Paths are relative to the directory of `KEYS.toml`. A role's listed
//! keys are `keys` plus `public`; only `keys` (and, for root, `previous`)
//! sign. When the keys at hand do not reach a threshold, `publish` stages
//! the file for other maintainers instead of publishing (see
//! [`publish`](super::publish)).
//!
//! Refused: unknown fields (a typo like `treshold` must not silently mean
//! "1"), a role without any key, a threshold of 0 or above the number of
//! listed keys, a key file that is not an ed25519 PEM. Key bytes stay in
//! `patchkit-signing`; this module only holds the loaded key objects.

use std::path::{Path, PathBuf};

use patchkit_signing::{PublicKey, SigningKey};
use serde::Deserialize;

use super::publish::{RoleKeys, RoleSetup};

/// Why `KEYS.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid `KEYS.toml`.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key file could not be loaded.
    #[error("{role}: {source}")]
    Key {
        /// The role whose entry names the key.
        role: &'static str,
        /// The key error (names the file).
        #[source]
        source: patchkit_signing::Error,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyring {
    root: RawRole,
    targets: RawRole,
    snapshot: RawRole,
    timestamp: RawRole,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    #[serde(default)]
    keys: Vec<PathBuf>,
    #[serde(default)]
    public: Vec<PathBuf>,
    #[serde(default)]
    threshold: Option<u32>,
    #[serde(default)]
    previous: Vec<PathBuf>,
}

/// One role's keys, loaded.
#[derive(Debug)]
pub struct RoleKeyring {
    /// Private keys at hand (also listed in root).
    pub signing: Vec<SigningKey>,
    /// Public keys listed in root whose private halves are elsewhere.
    pub public: Vec<PublicKey>,
    /// Signatures required.
    pub threshold: u32,
    /// Root only: old root keys, used to cross-sign a rotation, not listed.
    pub previous: Vec<SigningKey>,
}

/// The four roles' keys, loaded from `KEYS.toml`.
#[derive(Debug)]
pub struct Keyring {
    /// root.
    pub root: RoleKeyring,
    /// targets.
    pub targets: RoleKeyring,
    /// snapshot.
    pub snapshot: RoleKeyring,
    /// timestamp.
    pub timestamp: RoleKeyring,
}

impl Keyring {
    /// Reads `KEYS.toml` at `path` and loads every key it names.
    ///
    /// # Errors
    /// [`KeyringError`] naming the file or role at fault.
    pub fn load(path: &Path) -> Result<Keyring, KeyringError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyringError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason: String| KeyringError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let raw: RawKeyring = toml::from_str(&text).map_err(|e| invalid(e.message().into()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let load_role = |role: &'static str, raw: RawRole| -> Result<RoleKeyring, KeyringError> {
            if role != "root" && !raw.previous.is_empty() {
                return Err(invalid(format!(
                    "[{role}] has `previous`, which only [root] can have"
                )));
            }
            let key_err = |source| KeyringError::Key { role, source };
            let signing = raw
                .keys
                .iter()
                .map(|p| SigningKey::load_pem(&base.join(p)).map_err(key_err))
                .collect::<Result<Vec<_>, _>>()?;
            let public = raw
                .public
                .iter()
                .map(|p| PublicKey::load_pem(&base.join(p)).map_err(key_err))
                .collect::<Result<Vec<_>, _>>()?;
            let previous = raw
                .previous
                .iter()
                .map(|p| SigningKey::load_pem(&base.join(p)).map_err(key_err))
                .collect::<Result<Vec<_>, _>>()?;
            let listed = signing.len() + public.len();
            if listed == 0 {
                return Err(invalid(format!("[{role}] lists no keys")));
            }
            let threshold = raw.threshold.unwrap_or(1);
            if threshold == 0 || threshold as usize > listed {
                return Err(invalid(format!(
                    "[{role}] threshold {threshold} must be between 1 and its {listed} listed keys"
                )));
            }
            Ok(RoleKeyring {
                signing,
                public,
                threshold,
                previous,
            })
        };
        Ok(Keyring {
            root: load_role("root", raw.root)?,
            targets: load_role("targets", raw.targets)?,
            snapshot: load_role("snapshot", raw.snapshot)?,
            timestamp: load_role("timestamp", raw.timestamp)?,
        })
    }

    /// The setup [`publish`](super::publish::publish) takes.
    pub fn role_keys(&self) -> RoleKeys<'_> {
        fn setup(r: &RoleKeyring) -> RoleSetup<'_> {
            RoleSetup {
                keys: r
                    .signing
                    .iter()
                    .map(|k| k.public_key().clone())
                    .chain(r.public.iter().cloned())
                    .collect(),
                threshold: r.threshold,
                signers: r.signing.iter().chain(r.previous.iter()).collect(),
            }
        }
        RoleKeys {
            root: setup(&self.root),
            targets: setup(&self.targets),
            snapshot: setup(&self.snapshot),
            timestamp: setup(&self.timestamp),
        }
    }
}
