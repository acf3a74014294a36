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

/// Who signed an answer: the certificate's subject and the SHA-256 of its public key
/// (SubjectPublicKeyInfo, DER), lower-case hex. What a registry's pin in configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerId {
    pub subject: String,
    pub spki_sha256: String,
}

impl SignerId {
    /// The identity of a DER certificate.
    pub fn of(cert_der: &[u8]) -> Result<SignerId, KeyError> {
        let (_, cert) = X509Certificate::from_der(cert_der)
            .map_err(|e| KeyError(format!("not DER X.509 ({e})")))?;
        Ok(SignerId::of_parsed(&cert))
    }

    fn of_parsed(cert: &X509Certificate) -> SignerId {
        SignerId {
            subject: cert.subject().to_string(),
            spki_sha256: hex(
                ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw).as_ref(),
            ),
        }
    }
}

impl fmt::Display for SignerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SPKI SHA-256 {})", self.subject, self.spki_sha256)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signature algorithms accepted anywhere in a signer's chain: RSA of 2048 bits or more and
/// ECDSA, with SHA-256 or stronger. No SHA-1, no short RSA.
static CHAIN_ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
];

/// The CAs an answer's signer must chain to (NCA RK roots and intermediates), and the
/// revocation lists that apply. Chains are built and checked by `rustls-webpki`: issuers must
/// be CAs (`basicConstraints cA`), signatures SHA-256 or stronger with RSA keys of 2048 bits or
/// more, every certificate within its validity, none revoked by a loaded CRL. Every CA of the
/// bundle is a trust anchor.
///
/// A trust store says which certificates are genuine, not which registry holds them: a
/// national CA certifies every organisation and citizen. Which signer may answer for a
/// registry is the caller's pin on the [`SignerId`] this returns.
#[derive(Clone)]
pub struct TrustStore {
    anchors: Vec<rustls_pki_types::TrustAnchor<'static>>,
    /// Every CA of the bundle, with its validity (anchors carry none of their own), in the
    /// order of `anchors`.
    cas: Vec<BundleCa>,
    crls: std::sync::Arc<Vec<webpki::CertRevocationList<'static>>>,
}

#[derive(Clone)]
struct BundleCa {
    der: rustls_pki_types::CertificateDer<'static>,
    not_before: i64,
    not_after: i64,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field("certificates", &self.cas.len())
            .field("crls", &self.crls.len())
            .finish()
    }
}

impl TrustStore {
    /// From a PEM bundle; at least one certificate, each a CA fit to issue (see
    /// [`TrustStore::from_der`]).
    pub fn from_pem(pem: &[u8]) -> Result<TrustStore, KeyError> {
        let mut certs = Vec::new();
        for (i, block) in x509_parser::pem::Pem::iter_from_buffer(pem).enumerate() {
            let block = block.map_err(|e| KeyError(format!("PEM block {}: {e}", i + 1)))?;
            if block.label == "CERTIFICATE" {
                certs.push(block.contents);
            }
        }
        TrustStore::from_der(certs)
    }

    /// From DER certificates. Each must be a CA (`basicConstraints cA`), allowed to sign
    /// certificates when it has a key usage, signed with SHA-256 or stronger, and hold an RSA
    /// key of 2048 bits or more (or an EC key): a bundle with a leaf, a SHA-1 or a short key in
    /// it is refused, naming the certificate.
    pub fn from_der(certs: Vec<Vec<u8>>) -> Result<TrustStore, KeyError> {
        if certs.is_empty() {
            return Err(KeyError("the trust store holds no certificate".into()));
        }
        let mut store = TrustStore {
            anchors: Vec::new(),
            cas: Vec::new(),
            crls: Default::default(),
        };
        for (i, der) in certs.into_iter().enumerate() {
            let fail =
                |what: String| KeyError(format!("certificate {} of the bundle: {what}", i + 1));
            let (_, cert) = X509Certificate::from_der(&der).map_err(|e| fail(e.to_string()))?;
            fit_to_issue(&cert).map_err(|e| fail(format!("{} {e}", cert.subject())))?;
            let ca = BundleCa {
                not_before: cert.validity().not_before.timestamp(),
                not_after: cert.validity().not_after.timestamp(),
                der: rustls_pki_types::CertificateDer::from(der),
            };
            let anchor = webpki::anchor_from_trusted_cert(&ca.der)
                .map_err(|e| fail(format!("not usable as a trust anchor ({e:?})")))?
                .to_owned();
            store.anchors.push(anchor);
            store.cas.push(ca);
        }
        Ok(store)
    }

    /// The same store with these CRLs (DER or PEM `X509 CRL` blocks, one file's bytes each):
    /// a certificate listed by its issuer's CRL is refused. A CRL past its `nextUpdate` still
    /// applies: an old list is better than none, and refusing every answer because a file was
    /// not refreshed would stop the service (replace the files and reload).
    pub fn with_crls(mut self, files: &[Vec<u8>]) -> Result<TrustStore, KeyError> {
        let mut crls = Vec::new();
        for (i, bytes) in files.iter().enumerate() {
            let fail = |what: String| KeyError(format!("CRL file {}: {what}", i + 1));
            let ders: Vec<Vec<u8>> = if bytes.starts_with(b"-----") {
                x509_parser::pem::Pem::iter_from_buffer(bytes)
                    .map(|b| b.map(|b| b.contents).map_err(|e| fail(e.to_string())))
                    .collect::<Result<_, _>>()?
            } else {
                vec![bytes.clone()]
            };
            if ders.is_empty() {
                return Err(fail("no CRL in it".into()));
            }
            for der in ders {
                let crl = webpki::OwnedCertRevocationList::from_der(&der)
                    .map_err(|e| fail(format!("not a usable X.509 CRL ({e:?})")))?;
                crls.push(webpki::CertRevocationList::from(crl));
            }
        }
        self.crls = std::sync::Arc::new(crls);
        Ok(self)
    }

    /// How many CRLs apply.
    pub fn crl_count(&self) -> usize {
        self.crls.len()
    }

    /// Checks that `leaf` chains to a CA of the store at `now` (see the type's doc), is not
    /// revoked, and may sign documents (`digitalSignature` or `nonRepudiation` when it has a
    /// key usage). Returns who it is.
    pub fn check(&self, leaf_der: &[u8], now: DateTime<Utc>) -> Result<SignerId, String> {
        let (_, leaf) = X509Certificate::from_der(leaf_der)
            .map_err(|_| "the signer's certificate is not DER X.509".to_owned())?;
        if let Ok(Some(ku)) = leaf.key_usage() {
            if !(ku.value.digital_signature() || ku.value.non_repudiation()) {
                return Err("the signer's certificate is not for signatures (key usage)".into());
            }
        }
        let der = rustls_pki_types::CertificateDer::from(leaf_der);
        let cert = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| format!("the signer's certificate is not usable ({e:?})"))?;
        let refs: Vec<&webpki::CertRevocationList> = self.crls.iter().collect();
        let revocation = webpki::RevocationOptionsBuilder::new(&refs).ok().map(|b| {
            b.with_depth(webpki::RevocationCheckDepth::Chain)
                .with_status_policy(webpki::UnknownStatusPolicy::Allow)
                .with_expiration_policy(webpki::ExpirationPolicy::Ignore)
                .build()
        });
        let intermediates: Vec<_> = self.cas.iter().map(|c| c.der.clone()).collect();
        let at = now.timestamp();
        let anchor_valid = |path: &webpki::VerifiedPath<'_>| {
            let anchor = path.anchor();
            let index = self.anchors.iter().position(|a| {
                a.subject == anchor.subject
                    && a.subject_public_key_info == anchor.subject_public_key_info
            });
            match index.map(|i| &self.cas[i]) {
                Some(c) if c.not_before <= at && at <= c.not_after => Ok(()),
                _ => Err(webpki::Error::CertExpired {
                    time: rustls_pki_types::UnixTime::since_unix_epoch(
                        std::time::Duration::from_secs(at.max(0) as u64),
                    ),
                    not_after: rustls_pki_types::UnixTime::since_unix_epoch(
                        std::time::Duration::ZERO,
                    ),
                }),
            }
        };
        let time = rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            at.max(0) as u64,
        ));
        cert.verify_for_usage(
            CHAIN_ALGORITHMS,
            &self.anchors,
            &intermediates,
            time,
            AnyPurpose,
            revocation,
            Some(&anchor_valid),
        )
        .map_err(chain_error)?;
        Ok(SignerId::of_parsed(&leaf))
    }
}

/// What webpki's refusal of a chain means, in words.
fn chain_error(e: webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } | E::CertNotValidYet { .. } => {
            "the signer's certificate (or a CA of its chain) is outside its validity".into()
        }
        E::CertRevoked => "the signer's certificate (or a CA of its chain) is revoked (CRL)".into(),
        E::UnknownIssuer => {
            "the signer's certificate is not issued by a CA of the trust store".into()
        }
        E::CaUsedAsEndEntity => "the signer's certificate is a CA certificate".into(),
        E::EndEntityUsedAsCa => "an issuer in the signer's chain is not a CA".into(),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "the signer's chain uses a weak or unsupported algorithm (SHA-1, RSA under 2048 bits)"
                .into()
        }
        other => format!("the signer's certificate chain does not hold ({other:?})"),
    }
}

/// Fit to issue certificates: a CA, allowed to sign certificates, with a strong key and
/// signature.
fn fit_to_issue(cert: &X509Certificate) -> Result<(), String> {
    if !cert.is_ca() {
        return Err(
            "is not a CA (basicConstraints cA is not set): a trust store holds CAs only".into(),
        );
    }
    if let Ok(Some(ku)) = cert.key_usage() {
        if !ku.value.key_cert_sign() {
            return Err("may not sign certificates (key usage without keyCertSign)".into());
        }
    }
    strong(cert)
}

/// RSA of 2048 bits or more (or an EC key), signed with SHA-256 or stronger.
fn strong(cert: &X509Certificate) -> Result<(), String> {
    use x509_parser::public_key::PublicKey;
    if let Ok(PublicKey::RSA(rsa)) = cert.public_key().parsed() {
        if rsa.key_size() < 2048 {
            return Err(format!(
                "has an RSA key of {} bits (at least 2048)",
                rsa.key_size()
            ));
        }
    }
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    const SHA1: [&str; 4] = [
        "1.2.840.113549.1.1.5",
        "1.2.840.10045.4.1",
        "1.2.840.10040.4.3",
        "1.3.14.3.2.29",
    ];
    if SHA1.contains(&oid.as_str()) {
        return Err("is signed with SHA-1".into());
    }
    Ok(())
}

/// Any extended key usage: which signer may answer is decided by the registry's pin, and
/// NCA RK's signing certificates carry national purposes.
struct AnyPurpose;

impl webpki::ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}
