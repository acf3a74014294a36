//! Consent for access to personal data: the caller's `consent_token` (GBD FL's `kdpToken`).
//!
//! The rule (see docs/security.md, "Consent"): where a client system needs consent for an RPC
//! (`consent_required` of `[access.clients.<name>]`, or `consent.required_without_access`
//! when there is no `[access]`), a call without a token is refused before any registry call.
//! A token goes to GBD FL with every call that carries it: a person's record is never served
//! from an answer fetched under another token (single flight only among calls with the same
//! token, no cache). `CheckOwner` and `CheckDwelling` answer from the owner-facts cache
//! (facts only: no names, addresses or documents), whatever token fetched them, unless
//! `consent.check_owner_shared_cache = false`.
//!
//! A token is secret: it never appears in logs, spans, metrics or the audit log. What is
//! recorded is its [`ConsentToken::reference`], `kdp#` and an HMAC-SHA256 of the token under
//! `consent.reference_key` (32 hex digits): the same token gives the same reference, and an
//! auditor who holds the key and a token can find its records, but the reference does not give
//! the token back.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rpc::Rpc;
use crate::validate::{Invalid, Validate};

/// Shortest `consent.reference_key` accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// `[consent]` settings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentConfig {
    /// RPCs that need a consent token when there is no `[access]` (the demo). With `[access]`,
    /// each client system's `consent_required` decides.
    pub required_without_access: Vec<String>,
    /// `CheckOwner` and `CheckDwelling` may answer from GBD FL's facts in the owner-facts
    /// cache (facts fetched under another caller's token: dates, statuses, court case
    /// numbers; never names, addresses or documents), and fill it. On by default. Off: every
    /// owner's check reaches GBD FL with its own token.
    pub check_owner_shared_cache: bool,
    /// Key of the HMAC that turns a token into its audit reference. Unset: a random key per
    /// process (references then correlate within one run only). At least 16 bytes.
    pub reference_key: Option<String>,
}

impl Default for ConsentConfig {
    fn default() -> ConsentConfig {
        ConsentConfig {
            required_without_access: vec!["GetPerson".into()],
            check_owner_shared_cache: true,
            reference_key: None,
        }
    }
}

/// Without the key.
impl fmt::Debug for ConsentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentConfig")
            .field("required_without_access", &self.required_without_access)
            .field("check_owner_shared_cache", &self.check_owner_shared_cache)
            .field(
                "reference_key",
                &self.reference_key.as_ref().map(|_| "<secret>"),
            )
            .finish()
    }
}

impl Validate for ConsentConfig {
    fn validate(&self) -> Result<(), Invalid> {
        check_rpcs(&self.required_without_access)
            .map_err(|e| e.under("required_without_access"))?;
        if let Some(key) = &self.reference_key {
            if key.len() < MIN_KEY_BYTES {
                return Err(Invalid::new(
                    "reference_key",
                    format!("must be at least {MIN_KEY_BYTES} bytes"),
                ));
            }
        }
        Ok(())
    }
}

impl ConsentConfig {
    /// The HMAC key in force: the configured one, or this process's random one.
    pub fn key(&self) -> Vec<u8> {
        match &self.reference_key {
            Some(key) => key.as_bytes().to_vec(),
            None => process_key().to_vec(),
        }
    }
}

/// `rpcs` name only RPCs that carry a consent token.
pub fn check_rpcs(rpcs: &[String]) -> Result<(), Invalid> {
    let takes_token = |name: &String| name.parse().is_ok_and(Rpc::takes_consent_token);
    match rpcs.iter().find(|name| !takes_token(name)) {
        None => Ok(()),
        Some(rpc) => Err(Invalid::new(
            "",
            format!(
                "{rpc:?} carries no consent token; only {} can require one",
                Rpc::names(
                    Rpc::ALL.into_iter().filter(|r| r.takes_consent_token()),
                    ", "
                )
            ),
        )),
    }
}

fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        use ring::rand::{SecureRandom, SystemRandom};
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the operating system's random source answers");
        key
    })
}

/// A caller's consent token, with its reference. `Debug` shows the reference only.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsentToken {
    token: String,
    reference: String,
}

impl ConsentToken {
    /// `token` with its reference under `key`.
    pub fn new(token: String, key: &[u8]) -> ConsentToken {
        let mac = hmac_sha256(key, token.as_bytes());
        let reference = format!("kdp#{}", crate::hex::lower(&mac[..16]));
        ConsentToken { token, reference }
    }

    /// The token itself, for GBD FL only.
    pub fn secret(&self) -> &str {
        &self.token
    }

    /// `kdp#` and 32 hex digits: for the audit log and single-flight keys.
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

impl fmt::Debug for ConsentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference)
    }
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            crate::hex::lower(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            crate::hex::lower(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_reference_is_keyed_stable_and_never_the_token() {
        let a = ConsentToken::new("kdp-secret-token".into(), b"0123456789abcdef");
        let b = ConsentToken::new("kdp-secret-token".into(), b"0123456789abcdef");
        let other_key = ConsentToken::new("kdp-secret-token".into(), b"fedcba9876543210");
        assert_eq!(a.reference(), b.reference());
        assert_ne!(a.reference(), other_key.reference());
        assert!(a.reference().starts_with("kdp#") && a.reference().len() == 36);
        assert!(!format!("{a:?}").contains("secret"));
        assert_eq!(a.secret(), "kdp-secret-token");
    }

    #[test]
    fn config_names_the_key_and_the_rule() {
        let c = ConsentConfig {
            required_without_access: vec!["GetCivilActs".into()],
            ..ConsentConfig::default()
        };
        let Invalid { key, rule } = c.validate().unwrap_err();
        assert_eq!(key, "required_without_access");
        assert!(
            rule.contains("GetCivilActs") && rule.contains("GetPerson"),
            "{rule}"
        );
        let c = ConsentConfig {
            reference_key: Some("short".into()),
            ..ConsentConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "reference_key");
        assert!(!format!("{c:?}").contains("short"));
        assert!(ConsentConfig::default().validate().is_ok());
    }
}
