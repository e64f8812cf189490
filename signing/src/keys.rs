//! ed25519 keys: private keys from and to PKCS#8 PEM (what
//! `openssl genpkey -algorithm ed25519` writes), public keys from and to
//! SPKI PEM and the TUF key object, and TUF key ids.
//!
//! Secret material never leaves this module except as a PEM written to a
//! 0600 file: [`SigningKey`] has no `Display`, and its `Debug` prints only the
//! key id (docs/ARCHITECTURE.md, `signing/`).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{canonical_json, Error};

/// The only key type and signature scheme this crate speaks (TUF `ed25519`).
pub const ED25519: &str = "ed25519";

/// A TUF key id: in practice the hex sha256 of the canonical JSON of the
/// key object (see [`KeyId::of`]).
///
/// TUF does not constrain the format of the ids a root lists, so any
/// non-empty string found in metadata is accepted as-is; only the ids we
/// compute are guaranteed to be 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// Wraps an id read from metadata (no recomputation, no validation: a
    /// root's `keys` map is the authority on which id names which key).
    pub fn new(id: impl Into<String>) -> Self {
        KeyId(id.into())
    }

    /// The key id securesystemslib and python-tuf compute:
    /// `sha256(encode_canonical({"keytype", "scheme", "keyval"}))` in hex.
    pub fn of(key: &PublicKey) -> Self {
        // The TUF key object of an ed25519 key has no floats, so canonical
        // JSON cannot fail; fall back to hashing an empty object to stay
        // panic-free should that ever change.
        let bytes = canonical_json(&key.to_tuf_key()).unwrap_or_default();
        KeyId(hex::encode(Sha256::digest(&bytes)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// An ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    /// Reads an SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    ///
    /// # Errors
    /// [`Error::BadPublicKey`] when the text is not an ed25519 SPKI PEM.
    pub fn from_spki_pem(pem: &str) -> Result<Self, Error> {
        let inner = ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
            .map_err(|e| Error::BadPublicKey(e.to_string()))?;
        Ok(PublicKey { inner })
    }

    /// Reads an SPKI PEM file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::KeyFile`] when it
    /// does not hold an ed25519 public key.
    pub fn load_pem(path: &Path) -> Result<Self, Error> {
        let text = read_small_file(path)?;
        Self::from_spki_pem(&text).map_err(|e| Error::KeyFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// The SPKI PEM text of this key.
    ///
    /// # Errors
    /// [`Error::BadPublicKey`] if encoding fails (it does not for valid keys).
    pub fn to_spki_pem(&self) -> Result<String, Error> {
        self.inner
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| Error::BadPublicKey(e.to_string()))
    }

    /// Reads a TUF key object
    /// `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"<hex>"}}`.
    ///
    /// Extra fields are tolerated, as python-tuf keeps them as
    /// "unrecognized fields"; any other key type or scheme is refused.
    ///
    /// # Errors
    /// [`Error::BadPublicKey`] naming what is wrong.
    pub fn from_tuf_key(value: &Value) -> Result<Self, Error> {
        let field = |name: &str| value.get(name).and_then(Value::as_str);
        let keytype = field("keytype").unwrap_or("");
        let scheme = field("scheme").unwrap_or("");
        if keytype != ED25519 || scheme != ED25519 {
            return Err(Error::BadPublicKey(format!(
                "key type {:?} with scheme {:?} is not supported, only ed25519",
                bounded(keytype),
                bounded(scheme)
            )));
        }
        let public = value
            .get("keyval")
            .and_then(|kv| kv.get("public"))
            .and_then(Value::as_str)
            .ok_or_else(|| Error::BadPublicKey("keyval.public is missing".into()))?;
        Self::from_hex(public)
    }

    /// Reads the 32-byte key from hex (the TUF `keyval.public`).
    ///
    /// # Errors
    /// [`Error::BadPublicKey`] when the hex or the point is invalid.
    pub fn from_hex(public: &str) -> Result<Self, Error> {
        let bytes = hex::decode(public)
            .map_err(|_| Error::BadPublicKey("keyval.public is not hex".into()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::BadPublicKey("keyval.public is not 32 bytes of hex".into()))?;
        let inner = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| Error::BadPublicKey("keyval.public is not an ed25519 point".into()))?;
        Ok(PublicKey { inner })
    }

    /// The TUF key object, with exactly the three fields key ids are
    /// computed over.
    pub fn to_tuf_key(&self) -> Value {
        json!({
            "keytype": ED25519,
            "scheme": ED25519,
            "keyval": { "public": self.to_hex() },
        })
    }

    /// The raw key in lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.inner.as_bytes())
    }

    /// This key's TUF key id.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(self)
    }

    /// The 32 bytes of the public key (to tell keys apart whatever id
    /// names them).
    pub(crate) fn raw_bytes(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        // Strict verification refuses malleable (non-canonical) signatures
        // and small-order keys, as OpenSSL (python-tuf's backend) does.
        self.inner.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

/// An ed25519 private key. No `Display`; `Debug` shows the key id only.
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    public: PublicKey,
    key_id: KeyId,
}

impl SigningKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        let inner = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        Self::from_inner(inner)
    }

    fn from_inner(inner: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey {
            inner: inner.verifying_key(),
        };
        let key_id = public.key_id();
        SigningKey {
            inner,
            public,
            key_id,
        }
    }

    /// Reads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), v1 as OpenSSL
    /// writes it or v2 with the public key embedded.
    ///
    /// # Errors
    /// [`Error::BadPrivateKey`]; the message never quotes the input.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        let inner = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| Error::BadPrivateKey(e.to_string()))?;
        Ok(Self::from_inner(inner))
    }

    /// Reads a PKCS#8 PEM file.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::KeyFile`] naming the file.
    pub fn load_pem(path: &Path) -> Result<Self, Error> {
        let text = read_small_file(path)?;
        Self::from_pkcs8_pem(&text).map_err(|e| Error::KeyFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Writes the private key as PKCS#8 PEM to `path` with mode 0600, and the
    /// public key as SPKI PEM beside it (see [`public_pem_path`]), each via a
    /// temporary file in the same directory and a rename.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file that could not be written.
    pub fn write_pem(&self, path: &Path) -> Result<(), Error> {
        // PKCS#8 v1 (seed only), byte-for-byte what `openssl genpkey` writes.
        // ed25519-dalek's own encoder writes v2 with the public key, which
        // OpenSSL 3.0 refuses to read.
        let keypair = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.inner.to_bytes(),
            public_key: None,
        };
        let private = keypair
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::BadPrivateKey(e.to_string()))?;
        write_atomic(path, private.as_bytes(), 0o600)?;
        let public = self.public.to_spki_pem()?;
        write_atomic(&public_pem_path(path), public.as_bytes(), 0o644)
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The TUF key id of the public half.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.inner.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.key_id)
    }
}

/// Where [`SigningKey::write_pem`] puts the public key: `name.pem` becomes
/// `name.pub.pem`, any other name gets `.pub.pem` appended.
pub fn public_pem_path(private: &Path) -> PathBuf {
    let name = private
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".pem").unwrap_or(&name);
    private.with_file_name(format!("{stem}.pub.pem"))
}

/// PEM files are tiny; refuse anything large rather than read it whole.
const MAX_KEY_FILE: u64 = 64 * 1024;

fn read_small_file(path: &Path) -> Result<String, Error> {
    use std::io::Read;
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io_err)?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(Error::KeyFile {
            path: path.to_path_buf(),
            reason: format!("is larger than {MAX_KEY_FILE} bytes"),
        });
    }
    Ok(text)
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // NamedTempFile is created 0600, so the secret is never world-readable,
    // not even between creation and rename.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    set_mode(tmp.as_file(), mode).map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// At most 40 characters of untrusted text, for error messages.
fn bounded(s: &str) -> String {
    s.chars().take(40).collect()
}
