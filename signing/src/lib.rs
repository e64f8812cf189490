//! patchkit-signing: the only crate of patchkit that touches key bytes.
//!
//! It owns ed25519 keys (PKCS#8 PEM private keys, SPKI PEM public keys, the
//! TUF key object), TUF key ids, OLPC canonical JSON as securesystemslib
//! writes it, signing, and threshold verification that counts each key once.
//! It knows nothing of patches, CPAN or TUF roles: those live in
//! `patchkit::repo::tuf`, which hands this crate bytes and keys.
//!
//! It refuses every key type but ed25519, floats in canonical JSON, and a
//! threshold of 0. It keeps the docs/ARCHITECTURE.md invariant "Crypto stays in
//! `signing/`": private key material is never displayed, and its `Debug`
//! shows the key id only.

mod canonical;
mod keys;
mod sign;

use std::path::PathBuf;

pub use canonical::canonical_json;
pub use keys::{public_pem_path, KeyId, PublicKey, SigningKey, ED25519};
pub use sign::{sign, verify_threshold, Signature, VerifyError};

/// Errors reading, writing or encoding keys and canonical JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Canonical JSON has no floats.
    #[error("canonical JSON cannot encode the non-integer number {0}")]
    CanonicalFloat(String),
    /// A private key could not be decoded or encoded.
    #[error("not an ed25519 PKCS#8 private key: {0}")]
    BadPrivateKey(String),
    /// A public key could not be decoded or encoded.
    #[error("not an ed25519 public key: {0}")]
    BadPublicKey(String),
    /// A key file holds something else than the expected key.
    #[error("{}: {reason}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
