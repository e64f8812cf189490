//! Signatures over canonical bytes, and threshold verification as TUF
//! §5 ("verify ... with a threshold of keys") and python-tuf's
//! `Metadata.verify_delegate` count them.
//!
//! Attacks this refuses: a threshold reached by repeating one key's
//! signature (each key id counts once), signatures by keys the role does not
//! list (ignored), and a threshold of 0 (which would make any metadata
//! "valid").

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{KeyId, PublicKey, SigningKey};

/// One entry of a TUF `signatures` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Id of the key that signed.
    pub keyid: KeyId,
    /// The 64-byte ed25519 signature in lowercase hex.
    pub sig: String,
}

/// Why a threshold of signatures was not met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A threshold below 1 is never valid metadata.
    #[error("threshold {0} is invalid, it must be at least 1")]
    InvalidThreshold(u32),
    /// Fewer distinct valid signatures than the threshold.
    #[error("{valid} valid signature{} of threshold {threshold}", if *valid == 1 { "" } else { "s" })]
    BelowThreshold {
        /// Distinct keys whose signature verified.
        valid: usize,
        /// Signatures required.
        threshold: u32,
    },
}

/// Signs `message` (the canonical JSON of a `signed` object) with `key`.
pub fn sign(key: &SigningKey, message: &[u8]) -> Signature {
    Signature {
        keyid: key.key_id().clone(),
        sig: hex::encode(key.sign_raw(message)),
    }
}

/// Checks that at least `threshold` distinct keys of `keys` signed
/// `signed_canonical_bytes`, and returns how many did.
///
/// Signatures by key ids not in `keys` are ignored, as are invalid ones (an
/// attacker may append garbage; only the count of good ones matters). A
/// public key counts once, whether its signatures are copies or not, and
/// whether `keys` lists it under one key id or several.
///
/// # Errors
/// [`VerifyError::InvalidThreshold`] for 0, [`VerifyError::BelowThreshold`]
/// when too few keys signed.
pub fn verify_threshold(
    keys: &BTreeMap<KeyId, PublicKey>,
    threshold: u32,
    signatures: &[Signature],
    signed_canonical_bytes: &[u8],
) -> Result<usize, VerifyError> {
    if threshold == 0 {
        return Err(VerifyError::InvalidThreshold(threshold));
    }
    // Counted by public key, not key id: one key listed under two ids (a
    // root may name any id for a key) is still one signer.
    let mut good: BTreeSet<[u8; 32]> = BTreeSet::new();
    for signature in signatures {
        let Some(key) = keys.get(&signature.keyid) else {
            continue;
        };
        if good.contains(&key.raw_bytes()) {
            continue;
        }
        let Ok(raw) = hex::decode(&signature.sig) else {
            continue;
        };
        if key.verify(signed_canonical_bytes, &raw) {
            good.insert(key.raw_bytes());
        }
    }
    let valid = good.len();
    if (valid as u64) < u64::from(threshold) {
        return Err(VerifyError::BelowThreshold { valid, threshold });
    }
    Ok(valid)
}
