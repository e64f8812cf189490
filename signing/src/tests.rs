//! Tests of keys, key ids, signing and threshold verification. Every key is
//! made here, per run (generated, RFC 8032 vectors, or by `openssl`).

use std::collections::BTreeMap;
use std::process::Command;

use super::*;

/// RFC 8032 §7.1 test 1: secret key, wrapped as PKCS#8 v1 the way OpenSSL
/// writes it (`302e0201 00300506 032b6570 04220420` + 32-byte seed).
const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_EMPTY_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
/// securesystemslib 1.6: sha256(encode_canonical({"keytype": "ed25519",
/// "scheme": "ed25519", "keyval": {"public": RFC8032_PUBLIC}})).
const RFC8032_KEYID: &str = "74c181c7ad8a0855d4b55e44d2ba87aabdddb196832571f15f92fece332e4916";

fn rfc8032_pem() -> String {
    let der = hex::decode(format!("302e020100300506032b657004220420{RFC8032_SEED}")).unwrap();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64(&der)
    )
}

/// Minimal base64 so that the test does not need another crate.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn keymap(keys: &[&SigningKey]) -> BTreeMap<KeyId, PublicKey> {
    keys.iter()
        .map(|k| (k.key_id().clone(), k.public_key().clone()))
        .collect()
}

#[test]
fn rfc8032_vector_signs_and_has_securesystemslib_key_id() {
    let key = SigningKey::from_pkcs8_pem(&rfc8032_pem()).unwrap();
    assert_eq!(key.public_key().to_hex(), RFC8032_PUBLIC);
    assert_eq!(key.key_id().as_str(), RFC8032_KEYID);
    let sig = sign(&key, b"");
    assert_eq!(sig.sig, RFC8032_EMPTY_SIG);
    assert_eq!(sig.keyid.as_str(), RFC8032_KEYID);
}

#[test]
fn tuf_key_object_round_trips() {
    let key = SigningKey::generate();
    let obj = key.public_key().to_tuf_key();
    assert_eq!(obj["keytype"], "ed25519");
    assert_eq!(obj["scheme"], "ed25519");
    let back = PublicKey::from_tuf_key(&obj).unwrap();
    assert_eq!(&back, key.public_key());
    assert_eq!(back.key_id(), *key.key_id());
    // Unrecognised fields are tolerated, as python-tuf keeps them.
    let mut extra = obj.clone();
    extra["x-note"] = serde_json::json!("hi");
    assert!(PublicKey::from_tuf_key(&extra).is_ok());
}

#[test]
fn tuf_key_object_refuses_other_schemes_and_bad_hex() {
    let key = SigningKey::generate();
    let mut obj = key.public_key().to_tuf_key();
    obj["scheme"] = serde_json::json!("rsassa-pss-sha256");
    assert!(PublicKey::from_tuf_key(&obj).is_err());
    let bad =
        serde_json::json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "zz"}});
    assert!(PublicKey::from_tuf_key(&bad).is_err());
    let short = serde_json::json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "abcd"}});
    assert!(PublicKey::from_tuf_key(&short).is_err());
}

#[test]
fn sign_and_verify_threshold_one() {
    let key = SigningKey::generate();
    let msg = canonical_json(&serde_json::json!({"_type": "targets", "version": 1})).unwrap();
    let sig = sign(&key, &msg);
    assert_eq!(verify_threshold(&keymap(&[&key]), 1, &[sig], &msg), Ok(1));
}

#[test]
fn two_distinct_keys_reach_threshold_two() {
    let (a, b) = (SigningKey::generate(), SigningKey::generate());
    let msg = b"payload";
    let sigs = [sign(&a, msg), sign(&b, msg)];
    assert_eq!(verify_threshold(&keymap(&[&a, &b]), 2, &sigs, msg), Ok(2));
}

#[test]
fn duplicate_key_signatures_do_not_reach_threshold_two() {
    let (a, b) = (SigningKey::generate(), SigningKey::generate());
    let msg = b"payload";
    let sigs = [sign(&a, msg), sign(&a, msg), sign(&a, msg)];
    let err = verify_threshold(&keymap(&[&a, &b]), 2, &sigs, msg).unwrap_err();
    assert_eq!(
        err,
        VerifyError::BelowThreshold {
            valid: 1,
            threshold: 2
        }
    );
    assert_eq!(err.to_string(), "1 valid signature of threshold 2");
}

#[test]
fn signature_by_wrong_key_is_not_counted() {
    let (a, stranger) = (SigningKey::generate(), SigningKey::generate());
    let msg = b"payload";
    // The stranger's signature, under its own id: unknown key, ignored.
    let err = verify_threshold(&keymap(&[&a]), 1, &[sign(&stranger, msg)], msg).unwrap_err();
    assert!(matches!(err, VerifyError::BelowThreshold { valid: 0, .. }));
    // The stranger's signature claiming a's key id: fails verification.
    let mut forged = sign(&stranger, msg);
    forged.keyid = a.key_id().clone();
    assert!(verify_threshold(&keymap(&[&a]), 1, &[forged], msg).is_err());
}

#[test]
fn tampered_bytes_fail() {
    let key = SigningKey::generate();
    let sig = sign(&key, b"version 1");
    let err = verify_threshold(&keymap(&[&key]), 1, &[sig], b"version 2").unwrap_err();
    assert_eq!(err.to_string(), "0 valid signatures of threshold 1");
}

#[test]
fn garbage_signatures_are_ignored_not_fatal() {
    let key = SigningKey::generate();
    let msg = b"m";
    let junk = Signature {
        keyid: key.key_id().clone(),
        sig: "not hex".into(),
    };
    assert_eq!(
        verify_threshold(&keymap(&[&key]), 1, &[junk, sign(&key, msg)], msg),
        Ok(1)
    );
}

#[test]
fn threshold_zero_is_invalid() {
    let key = SigningKey::generate();
    let err = verify_threshold(&keymap(&[&key]), 0, &[sign(&key, b"m")], b"m").unwrap_err();
    assert_eq!(err, VerifyError::InvalidThreshold(0));
}

#[test]
fn debug_shows_only_the_key_id() {
    let key = SigningKey::from_pkcs8_pem(&rfc8032_pem()).unwrap();
    let debug = format!("{key:?}");
    assert_eq!(debug, format!("SigningKey({RFC8032_KEYID})"));
    assert!(!debug.contains(RFC8032_SEED));
}

#[test]
fn write_pem_round_trips_with_private_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maint.pem");
    let key = SigningKey::generate();
    key.write_pem(&path).unwrap();
    let back = SigningKey::load_pem(&path).unwrap();
    assert_eq!(back.key_id(), key.key_id());
    let public_path = dir.path().join("maint.pub.pem");
    assert_eq!(public_pem_path(&path), public_path);
    let public = PublicKey::load_pem(&public_path).unwrap();
    assert_eq!(&public, key.public_key());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No temporary files left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn load_pem_names_the_file_on_bad_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.pem");
    std::fs::write(
        &path,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = SigningKey::load_pem(&path).unwrap_err();
    assert!(err.to_string().contains("junk.pem"), "{err}");
    // A public key PEM is not a private key.
    let key = SigningKey::generate();
    std::fs::write(&path, key.public_key().to_spki_pem().unwrap()).unwrap();
    assert!(SigningKey::load_pem(&path).is_err());
}

/// `openssl genpkey -algorithm ed25519` output loads, and our public key and
/// key id agree with what openssl derives from the same private key.
#[test]
fn loads_openssl_genpkey_pem() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("openssl.pem");
    let public = dir.path().join("openssl.pub.pem");
    let status = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&private)
        .status()
        .expect("openssl must be installed to run this test");
    assert!(status.success());
    let status = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .unwrap();
    assert!(status.success());
    let key = SigningKey::load_pem(&private).unwrap();
    let pubkey = PublicKey::load_pem(&public).unwrap();
    assert_eq!(key.public_key(), &pubkey);
    // Our PEM output is readable by openssl too.
    let ours = dir.path().join("ours.pem");
    key.write_pem(&ours).unwrap();
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&ours)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(&public).unwrap()
    );
    // A signature we make verifies with openssl's pkeyutl.
    let msg = dir.path().join("msg");
    std::fs::write(&msg, b"{\"a\":1}").unwrap();
    let sig = dir.path().join("sig");
    std::fs::write(&sig, hex::decode(sign(&key, b"{\"a\":1}").sig).unwrap()).unwrap();
    let status = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-rawin", "-pubin", "-inkey"])
        .arg(&public)
        .arg("-in")
        .arg(&msg)
        .arg("-sigfile")
        .arg(&sig)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}
