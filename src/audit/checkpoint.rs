//! Signed checkpoints: the chain's head signed with an Ed25519 key held outside the store.
//!
//! Whoever can write the store can recompute every SHA-256 hash after a record they changed;
//! they cannot sign. With `[audit.signing]`, every batch the writer takes ends with one
//! checkpoint line, written (and shipped) together with its records:
//!
//! ```text
//! {"checkpoint":42,"replica":"gw-0","hash":"<64 hex>","key":"<16 hex>","signature":"<128 hex>"}
//! ```
//!
//! `checkpoint` is the seq of the batch's last record and `hash` its hash, `replica` the chain's
//! replica, `key` the signing key's id (the first 8 bytes of the SHA-256 of its public key, in
//! hex) and `signature` the hex Ed25519 signature of the line's canonical bytes without its
//! `,"signature":"…"` member (the same rule as a record's `hash`). A checkpoint covers every
//! record up to its seq: a record changed and the chain recomputed gives another hash at the
//! next checkpoint, and records cut from the end leave a checkpoint past the chain's end.
//! [`super::verify_signed`] checks both against the public keys it is given.
//!
//! With `[audit.timestamp]`, a checkpoint may end with `,"tst":"<base64>"`: an RFC 3161
//! time-stamp token over the SHA-256 of the line as signed (everything before `,"tst"`, closed
//! with `}`), see [`super::timestamp`]. The signature does not cover it; lines without it are
//! read as before.

use std::fmt;
use std::path::Path;

use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::format::{is_hash, Fault};
use crate::hex;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The gateway's signing key, read at start.
pub struct Signer {
    pair: Ed25519KeyPair,
    key_id: String,
    replica: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads a PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm ed25519`).
    pub fn load(path: &Path, replica: &str) -> Result<Signer, String> {
        let der = PrivatePkcs8KeyDer::from_pem_file(path)
            .map_err(|e| format!("not a PKCS#8 PEM private key ({e})"))?;
        Signer::from_pkcs8(der.secret_pkcs8_der(), replica)
    }

    /// A signer from PKCS#8 DER (v1 as openssl writes it, or v2).
    pub fn from_pkcs8(der: &[u8], replica: &str) -> Result<Signer, String> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| format!("not an Ed25519 private key ({e})"))?;
        Ok(Signer {
            key_id: key_id(pair.public_key().as_ref()),
            pair,
            replica: replica.to_owned(),
        })
    }

    /// The id checkpoints name this key by.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The replica whose chain this signer checkpoints.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Appends the checkpoint line (with its newline) for the chain's head `seq` / `hash`.
    pub fn write_line(&self, out: &mut Vec<u8>, seq: u64, hash: &str) {
        self.write_stamped(out, seq, hash, |_| None);
    }

    /// [`Signer::write_line`], with the token `stamp` gives for the SHA-256 of the line as
    /// signed, if any, as its `tst` member.
    pub fn write_stamped(
        &self,
        out: &mut Vec<u8>,
        seq: u64,
        hash: &str,
        stamp: impl FnOnce(&[u8; 32]) -> Option<Vec<u8>>,
    ) {
        let body = Body {
            checkpoint: seq,
            replica: &self.replica,
            hash,
            key: &self.key_id,
        };
        let start = out.len();
        serde_json::to_writer(&mut *out, &body).expect("strings and numbers serialize");
        let signature = hex::lower(self.pair.sign(&out[start..]).as_ref());
        out.pop(); // the closing brace
        out.extend_from_slice(b",\"signature\":\"");
        out.extend_from_slice(signature.as_bytes());
        out.extend_from_slice(b"\"}");
        if let Some(token) = stamp(&Sha256::digest(&out[start..]).into()) {
            out.pop(); // the closing brace
            out.extend_from_slice(b",\"tst\":\"");
            out.extend_from_slice(super::timestamp::encode(&token).as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.push(b'\n');
    }
}

/// A public key `verify-audit` checks checkpoints with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    raw: Vec<u8>,
    id: String,
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` (`openssl pkey -in key.pem -pubout`).
    pub fn load(path: &Path) -> Result<PublicKey, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_file(path)
            .map_err(|e| format!("{}: not a PEM public key ({e})", path.display()))?;
        PublicKey::from_spki(der.as_ref()).map_err(|reason| format!("{}: {reason}", path.display()))
    }

    /// An Ed25519 SubjectPublicKeyInfo in DER.
    pub fn from_spki(der: &[u8]) -> Result<PublicKey, String> {
        match der.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
            Some(raw) if raw.len() == 32 => Ok(PublicKey::from_raw(raw)),
            _ => Err("not an Ed25519 public key".into()),
        }
    }

    /// The 32 bytes of an Ed25519 public key.
    pub fn from_raw(raw: &[u8]) -> PublicKey {
        PublicKey {
            raw: raw.to_vec(),
            id: key_id(raw),
        }
    }

    /// The id checkpoints name this key by.
    pub fn id(&self) -> &str {
        &self.id
    }
}

fn key_id(raw: &[u8]) -> String {
    hex::lower(&Sha256::digest(raw)[..8])
}

/// Whether a line is a checkpoint rather than a record.
pub(super) fn is_checkpoint(line: &[u8]) -> bool {
    line.starts_with(b"{\"checkpoint\":")
}

/// A checkpoint line as stored. Field order is the canonical order: do not reorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Checkpoint {
    pub checkpoint: u64,
    pub replica: String,
    pub hash: String,
    pub key: String,
    pub signature: String,
    /// An RFC 3161 time-stamp token (base64 DER) over [`Checkpoint::signed_hash`], with
    /// `[audit.timestamp]` ([`super::timestamp`]); absent in lines written without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tst: Option<String>,
}

/// The signed part of a [`Checkpoint`].
#[derive(Serialize)]
struct Body<'a> {
    checkpoint: u64,
    replica: &'a str,
    hash: &'a str,
    key: &'a str,
}

impl Checkpoint {
    /// Parses one line (without its newline): a checkpoint in canonical form.
    pub fn parse(line: &[u8]) -> Result<Checkpoint, Fault> {
        let cp: Checkpoint = serde_json::from_slice(line).map_err(|e| Fault {
            seq: None,
            reason: format!("not a valid checkpoint: {e}"),
        })?;
        let fault = |reason: &str| Fault {
            seq: Some(cp.checkpoint),
            reason: format!("checkpoint: {reason}"),
        };
        if !is_hash(&cp.hash) {
            return Err(fault("hash is not 64 lowercase hex digits"));
        }
        let hex_of = |s: &str, len| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_of(&cp.key, 16) || !hex_of(&cp.signature, 128) {
            return Err(fault("key or signature is not hex of the right length"));
        }
        let canonical = serde_json::to_vec(&cp).expect("strings and numbers serialize");
        if canonical != line {
            return Err(fault(
                "the line is not in canonical form (reformatted or re-encoded)",
            ));
        }
        Ok(cp)
    }

    /// The SHA-256 of the line as signed (without `tst`): what a time-stamp token is over.
    pub fn signed_hash(&self) -> [u8; 32] {
        let signed = Checkpoint {
            tst: None,
            ..self.clone()
        };
        Sha256::digest(serde_json::to_vec(&signed).expect("strings and numbers serialize")).into()
    }

    /// Checks the signature with the key the checkpoint names, which must be among `keys`.
    pub fn check_signature(&self, keys: &[PublicKey]) -> Result<(), String> {
        let key = keys.iter().find(|k| k.id == self.key).ok_or_else(|| {
            format!(
                "checkpoint signed by key {}, which is not among the public keys given",
                self.key
            )
        })?;
        let body = serde_json::to_vec(&Body {
            checkpoint: self.checkpoint,
            replica: &self.replica,
            hash: &self.hash,
            key: &self.key,
        })
        .expect("strings and numbers serialize");
        let signature = unhex(&self.signature).ok_or("signature is not hex")?;
        UnparsedPublicKey::new(&ED25519, &key.raw)
            .verify(&body, &signature)
            .map_err(|_| "the checkpoint's signature does not verify: forged or altered".to_owned())
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    pub fn signer(replica: &str) -> (Signer, PublicKey) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let signer = Signer::from_pkcs8(pkcs8.as_ref(), replica).unwrap();
        let public = PublicKey::from_raw(signer.pair.public_key().as_ref());
        (signer, public)
    }

    #[test]
    fn a_checkpoint_line_is_canonical_and_verifies_with_its_key_only() {
        let (signer, public) = signer("gw-0");
        let (_, other) = self::signer("gw-0");
        let mut line = Vec::new();
        signer.write_line(&mut line, 7, &"a".repeat(64));
        assert_eq!(line.pop(), Some(b'\n'));
        assert!(is_checkpoint(&line));
        let cp = Checkpoint::parse(&line).unwrap();
        assert_eq!((cp.checkpoint, cp.replica.as_str()), (7, "gw-0"));
        assert_eq!(cp.key, public.id());
        cp.check_signature(std::slice::from_ref(&public)).unwrap();
        let unknown = cp
            .check_signature(std::slice::from_ref(&other))
            .unwrap_err();
        assert!(unknown.contains("not among the public keys"), "{unknown}");

        // Another head, same signature: refused.
        let moved = Checkpoint {
            checkpoint: 8,
            ..cp.clone()
        };
        let forged = moved.check_signature(&[public]).unwrap_err();
        assert!(forged.contains("does not verify"), "{forged}");
    }

    #[test]
    fn a_time_stamp_token_is_the_last_member_over_the_line_as_signed() {
        let (signer, public) = signer("gw-0");
        let head = "b".repeat(64);
        let mut plain = Vec::new();
        signer.write_line(&mut plain, 9, &head);
        let mut asked = None;
        let mut stamped = Vec::new();
        signer.write_stamped(&mut stamped, 9, &head, |hash| {
            asked = Some(*hash);
            Some(vec![1, 2, 3])
        });
        assert_eq!((plain.pop(), stamped.pop()), (Some(b'\n'), Some(b'\n')));
        // Ed25519 is deterministic: the same line, the token appended as its last member.
        assert_eq!(
            String::from_utf8(stamped.clone()).unwrap(),
            format!(
                "{},\"tst\":\"AQID\"}}",
                std::str::from_utf8(&plain[..plain.len() - 1]).unwrap()
            )
        );
        let cp = Checkpoint::parse(&stamped).unwrap();
        assert_eq!(cp.tst.as_deref(), Some("AQID"));
        let signed: [u8; 32] = Sha256::digest(&plain).into();
        assert_eq!((asked, cp.signed_hash()), (Some(signed), signed));
        cp.check_signature(std::slice::from_ref(&public)).unwrap();
        // A line without a token (written before, or while the TSA was down) is as before.
        let old = Checkpoint::parse(&plain).unwrap();
        assert_eq!((old.tst.as_deref(), old.signed_hash()), (None, signed));
        // No token given: the plain line.
        let mut untouched = Vec::new();
        signer.write_stamped(&mut untouched, 9, &head, |_| None);
        assert_eq!(untouched.pop(), Some(b'\n'));
        assert_eq!(untouched, plain);
    }

    #[test]
    fn keys_as_openssl_writes_them_load() {
        // `openssl genpkey -algorithm ed25519` / `openssl pkey -pubout` (RFC 8410 test vector).
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("key.pem");
        let public = dir.path().join("key.pub.pem");
        std::fs::write(
            &private,
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        std::fs::write(
            &public,
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let signer = Signer::load(&private, "gw-0").unwrap();
        let public = PublicKey::load(&public).unwrap();
        assert_eq!(signer.key_id(), public.id());
        let not_a_key = PublicKey::load(&private).unwrap_err();
        assert!(not_a_key.contains("not a PEM public key"), "{not_a_key}");
    }
}
