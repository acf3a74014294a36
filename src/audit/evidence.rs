//! The evidence archive: the registries' answers as received (SOAP envelopes, signature
//! included) that decisions rested on, content-addressed by SHA-256, encrypted at rest with
//! AES-256-GCM (ring), deduplicated.
//!
//! A record names the digests of its answers (`registries[].evidence`), so the hash chain
//! covers which evidence each decision used; the blobs themselves are kept apart and may be
//! deleted on schedule without breaking the chain. [`AuditLog::append`](super::AuditLog::append)
//! writes each new blob to the local evidence spool (`<audit dir>/evidence/<digest>.blob`,
//! fsynced like the records) before the record; the shipper inserts the blobs of a batch in
//! the statement that inserts its records (`ON CONFLICT DO NOTHING`: one row per digest,
//! however many decisions used it), then removes the local files.
//!
//! A blob file and a row are `key id ‖ nonce ‖ ciphertext`: the key id is the first 16 hex
//! digits of the SHA-256 of the 32-byte key; the nonce is random (96 bits); the digest (hex)
//! is the additional authenticated data, so a blob moved to another digest does not open.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::registry::Envelope;
use crate::validate::{Invalid, Validate};

/// `[audit.evidence]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Files each holding a 256-bit key as 64 hex digits (`openssl rand -hex 32`): the first
    /// encrypts new blobs, every one decrypts (keep rotated-out keys while their blobs live).
    pub key_files: Vec<PathBuf>,
    /// How long a blob is kept after it was first stored: `purge-evidence` deletes older ones.
    #[serde(with = "humantime_serde", default = "default_retention")]
    pub retention: Duration,
}

fn default_retention() -> Duration {
    Duration::from_secs(5 * 365 * 24 * 3600)
}

impl Validate for EvidenceConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.key_files.is_empty() || self.key_files.iter().any(|f| f.as_os_str().is_empty()) {
            return Err(Invalid::new(
                "key_files",
                "must name at least one key file (64 hex digits, `openssl rand -hex 32`)",
            ));
        }
        if self.retention < Duration::from_secs(24 * 3600) {
            return Err(Invalid::new("retention", "must be at least one day"));
        }
        Ok(())
    }
}

/// Bytes of a key id in a blob (16 hex digits).
const KEY_ID_LEN: usize = 16;

/// The archive's keys: the first seals, all open.
pub struct Keys {
    keys: Vec<(String, LessSafeKey)>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keys").field("ids", &ids).finish()
    }
}

/// Why a blob does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the blob is too short to be one")]
    Short,
    #[error("sealed with key {0}, which is not among the configured keys")]
    UnknownKey(String),
    #[error("does not decrypt with key {0}: altered in the store, or filed under another digest")]
    Altered(String),
}

impl Keys {
    /// Reads the key files (64 hex digits each, surrounding white space ignored).
    pub fn load(files: &[PathBuf]) -> Result<Keys, String> {
        let mut raw = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("evidence key {}: {e}", path.display()))?;
            let key = decode_hex(text.trim())
                .filter(|k| k.len() == 32)
                .ok_or_else(|| {
                    format!(
                        "evidence key {}: must hold 64 hex digits (a 256-bit key)",
                        path.display()
                    )
                })?;
            raw.push(key);
        }
        Keys::from_raw(&raw)
    }

    /// Keys from their bytes (32 each), the first sealing.
    pub fn from_raw(raw: &[Vec<u8>]) -> Result<Keys, String> {
        let mut keys = Vec::new();
        for key in raw {
            let id = crate::hex::lower(&Sha256::digest(key))[..KEY_ID_LEN].to_owned();
            let unbound = UnboundKey::new(&AES_256_GCM, key)
                .map_err(|_| "an evidence key is not 32 bytes")?;
            keys.push((id, LessSafeKey::new(unbound)));
        }
        if keys.is_empty() {
            return Err("no evidence key".into());
        }
        Ok(Keys {
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// The id of the key that seals.
    pub fn sealing_id(&self) -> &str {
        &self.keys[0].0
    }

    /// `plain` sealed under the first key, bound to `digest`: `key id ‖ nonce ‖ ciphertext`.
    pub fn seal(&self, digest: &str, plain: &[u8]) -> Vec<u8> {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system's random source");
        let mut blob = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + plain.len() + 16);
        blob.extend_from_slice(id.as_bytes());
        blob.extend_from_slice(&nonce);
        let mut sealed = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(digest.as_bytes()),
            &mut sealed,
        )
        .expect("AES-GCM seals any length below 64 GiB");
        blob.extend_from_slice(&sealed);
        blob
    }

    /// The key id a blob names.
    pub fn key_id_of(blob: &[u8]) -> Option<&str> {
        std::str::from_utf8(blob.get(..KEY_ID_LEN)?).ok()
    }

    /// Opens a blob filed under `digest`.
    pub fn open(&self, digest: &str, blob: &[u8]) -> Result<Vec<u8>, OpenError> {
        if blob.len() < KEY_ID_LEN + NONCE_LEN + 16 {
            return Err(OpenError::Short);
        }
        let id = Keys::key_id_of(blob).ok_or(OpenError::Short)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let nonce: [u8; NONCE_LEN] = blob[KEY_ID_LEN..KEY_ID_LEN + NONCE_LEN]
            .try_into()
            .expect("length checked");
        let mut sealed = blob[KEY_ID_LEN + NONCE_LEN..].to_vec();
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(digest.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| OpenError::Altered(id.to_owned()))?;
        Ok(plain.to_vec())
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The local evidence spool: sealed blobs waiting to be shipped, one file per digest.
#[derive(Debug)]
pub(super) struct Spool {
    dir: PathBuf,
    keys: Keys,
    fsync: bool,
}

impl Spool {
    /// The spool beside the live audit file (`<dir>/evidence/`), created if missing.
    pub fn open(live: &Path, config: &EvidenceConfig, fsync: bool) -> Result<Spool, String> {
        let dir = spool_dir(live);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Spool {
            dir,
            keys: Keys::load(&config.key_files)?,
            fsync,
        })
    }

    /// Seals and writes `envelope` unless its blob is already waiting; fsynced (file and
    /// directory) when the log fsyncs. A blob shipped already is written again and shipped
    /// again, which the store ignores. An envelope known by its digest only (an answer from
    /// the owner-facts cache) was archived when it arrived: nothing to write.
    pub fn put(&self, envelope: &Envelope) -> std::io::Result<()> {
        let Some(bytes) = &envelope.bytes else {
            return Ok(());
        };
        let digest = envelope.digest_hex();
        let path = self.dir.join(format!("{digest}.blob"));
        if path.exists() {
            return Ok(());
        }
        let blob = self.keys.seal(&digest, bytes.as_bytes());
        let tmp = self.dir.join(format!(".{digest}.tmp"));
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&blob)?;
            if self.fsync {
                file.sync_all()?;
            }
        }
        std::fs::rename(&tmp, &path)?;
        if self.fsync {
            std::fs::File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// Where the blobs of the log whose live file is `live` wait to be shipped.
pub(super) fn spool_dir(live: &Path) -> PathBuf {
    live.parent()
        .unwrap_or_else(|| Path::new("."))
        .join("evidence")
}

/// The waiting blob of `digest` (`None`: not waiting, shipped already).
pub(super) fn read_waiting(dir: &Path, digest: &str) -> std::io::Result<Option<Vec<u8>>> {
    if !super::format::is_hash(digest) {
        return Ok(None);
    }
    match std::fs::read(dir.join(format!("{digest}.blob"))) {
        Ok(blob) => Ok(Some(blob)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes shipped blobs (a missing one is fine).
pub(super) fn remove_shipped(dir: &Path, digests: &[String]) {
    for digest in digests {
        let _ = std::fs::remove_file(dir.join(format!("{digest}.blob")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_opens_with_its_key_under_its_digest_only() {
        let old = Keys::from_raw(&[vec![1; 32]]).unwrap();
        let new = Keys::from_raw(&[vec![2; 32], vec![1; 32]]).unwrap();
        let digest = "ab".repeat(32);
        let blob = old.seal(&digest, b"<Envelope/>");
        assert_eq!(new.open(&digest, &blob).unwrap(), b"<Envelope/>", "rotated");
        assert_ne!(new.sealing_id(), old.sealing_id());
        let other = "cd".repeat(32);
        assert!(matches!(
            new.open(&other, &blob),
            Err(OpenError::Altered(_))
        ));
        let mut altered = blob.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            old.open(&digest, &altered),
            Err(OpenError::Altered(_))
        ));
        let only_new = Keys::from_raw(&[vec![2; 32]]).unwrap();
        assert!(matches!(
            only_new.open(&digest, &blob),
            Err(OpenError::UnknownKey(_))
        ));
    }

    #[test]
    fn keys_are_read_as_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, format!("{}\n", "0f".repeat(32))).unwrap();
        assert!(Keys::load(std::slice::from_ref(&path)).is_ok());
        std::fs::write(&path, "0f0f").unwrap();
        assert!(Keys::load(&[path]).unwrap_err().contains("64 hex digits"));
    }
}
