//! Signing credentials (an RSA key and its certificate, from PKCS#12) and the trust store
//! (PEM bundle) that answers' signers must chain to.

use std::fmt;

use chrono::{DateTime, Utc};
use x509_parser::prelude::*;

/// A key or certificate that cannot be used. Never carries key material or a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// The sender's RSA private key and X.509 certificate. `Debug` shows the certificate's
/// subject and validity, never the key.
pub struct Credentials {
    key: ring::signature::RsaKeyPair,
    cert_der: Vec<u8>,
    subject: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("subject", &self.subject)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Reads the first private key and its certificate from a PKCS#12 file's bytes.
    pub fn from_pkcs12(bytes: &[u8], password: &str) -> Result<Credentials, KeyError> {
        let store = p12_keystore::KeyStore::from_pkcs12(
            bytes,
            password,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| {
            KeyError(format!(
                "not a readable PKCS#12 file, or a wrong password ({e})"
            ))
        })?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| KeyError("the PKCS#12 file holds no private key".into()))?;
        let cert = chain
            .certs()
            .first()
            .ok_or_else(|| KeyError("the PKCS#12 file holds no certificate for its key".into()))?;
        Credentials::from_pkcs8_der(chain.key().as_der(), cert.as_der())
    }

    /// From a PKCS#8 DER RSA key (2048 to 8192 bits) and its DER certificate.
    pub fn from_pkcs8_der(key_der: &[u8], cert_der: &[u8]) -> Result<Credentials, KeyError> {
        let key = ring::signature::RsaKeyPair::from_pkcs8(key_der).map_err(|e| {
            KeyError(format!(
                "the private key is not an RSA key of 2048 to 8192 bits in PKCS#8 ({e})"
            ))
        })?;
        let (_, cert) = X509Certificate::from_der(cert_der)
            .map_err(|e| KeyError(format!("the certificate is not DER X.509 ({e})")))?;
        use ring::signature::KeyPair;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key().as_ref() {
            return Err(KeyError(
                "the certificate's public key does not match the private key".into(),
            ));
        }
        let validity = cert.validity();
        Ok(Credentials {
            subject: cert.subject().to_string(),
            not_before: asn1_time(validity.not_before),
            not_after: asn1_time(validity.not_after),
            cert_der: cert_der.to_vec(),
            key,
        })
    }

    /// Refuses a certificate that is expired or not yet valid at `now`.
    pub fn check_validity(&self, now: DateTime<Utc>) -> Result<(), KeyError> {
        if now < self.not_before {
            return Err(KeyError(format!(
                "the signing certificate ({}) is not valid before {}",
                self.subject, self.not_before
            )));
        }
        if now > self.not_after {
            return Err(KeyError(format!(
                "the signing certificate ({}) expired at {}",
                self.subject, self.not_after
            )));
        }
        Ok(())
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| KeyError("RSA signing failed".into()))?;
        Ok(signature)
    }
}

pub(crate) fn asn1_time(t: ASN1Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The certificates an answer's signer must chain to: every certificate of the bundle is
/// trusted (roots and the intermediates that issue the registries' certificates).
#[derive(Clone)]
pub struct TrustStore {
    certs: Vec<Vec<u8>>,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl TrustStore {
    /// From a PEM bundle; at least one certificate, each one parseable.
    pub fn from_pem(pem: &[u8]) -> Result<TrustStore, KeyError> {
        let mut certs = Vec::new();
        for (i, block) in x509_parser::pem::Pem::iter_from_buffer(pem).enumerate() {
            let block = block.map_err(|e| KeyError(format!("PEM block {}: {e}", i + 1)))?;
            if block.label != "CERTIFICATE" {
                continue;
            }
            X509Certificate::from_der(&block.contents)
                .map_err(|e| KeyError(format!("certificate {} of the bundle: {e}", i + 1)))?;
            certs.push(block.contents);
        }
        TrustStore::from_der(certs)
    }

    pub fn from_der(certs: Vec<Vec<u8>>) -> Result<TrustStore, KeyError> {
        if certs.is_empty() {
            return Err(KeyError("the trust store holds no certificate".into()));
        }
        Ok(TrustStore { certs })
    }

    /// Checks that `leaf` is within its validity at `now` and is signed by a certificate of
    /// the store that is itself within its validity. Returns the leaf's subject.
    pub fn check(&self, leaf_der: &[u8], now: DateTime<Utc>) -> Result<String, String> {
        let (_, leaf) = X509Certificate::from_der(leaf_der)
            .map_err(|_| "the signer's certificate is not DER X.509".to_owned())?;
        let at = ASN1Time::from_timestamp(now.timestamp()).map_err(|e| e.to_string())?;
        if !leaf.validity().is_valid_at(at) {
            return Err(format!(
                "the signer's certificate is outside its validity ({} to {})",
                leaf.validity().not_before,
                leaf.validity().not_after
            ));
        }
        for der in &self.certs {
            let Ok((_, issuer)) = X509Certificate::from_der(der) else {
                continue;
            };
            if issuer.subject().as_raw() != leaf.issuer().as_raw() {
                continue;
            }
            if leaf.verify_signature(Some(issuer.public_key())).is_ok() {
                if !issuer.validity().is_valid_at(at) {
                    return Err("the signer's issuing CA is outside its validity".into());
                }
                return Ok(leaf.subject().to_string());
            }
        }
        Err("the signer's certificate is not issued by a CA of the trust store".into())
    }
}
