//! Test keys made at run time: a CA and the certificates it issues, RSA 2048. The demo
//! (embedded mocks) and the tests use these; nothing here is for production.
//!
//! RSA keys are generated with RustCrypto `rsa` (ring cannot generate RSA keys), then used
//! through ring like any key read from a PKCS#12 file.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
    PKCS_RSA_SHA256,
};
use rsa::pkcs8::EncodePrivateKey;

use crate::keys::{Credentials, KeyError, TrustStore};

/// When a test certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// 2020-01-01 to 2040-01-01.
    Current,
    /// 2000-01-01 to 2001-01-01.
    Expired,
    /// 2090-01-01 to 2100-01-01.
    NotYetValid,
}

/// An issued certificate and its key.
pub struct Issued {
    pub key_pkcs8_der: Vec<u8>,
    pub cert_der: Vec<u8>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").finish_non_exhaustive()
    }
}

impl Issued {
    pub fn credentials(&self) -> Credentials {
        Credentials::from_pkcs8_der(&self.key_pkcs8_der, &self.cert_der)
            .expect("a test key and its certificate")
    }

    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.key_pkcs8_der)
    }

    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_der)
    }

    /// A certificate for `name` signed with this (non-CA) certificate's key, as its issuer
    /// `issuer_name` (this certificate's CN): what an attacker holding any certificate of a
    /// national CA could make. No chain check may accept it.
    pub fn issue_as_non_ca(&self, issuer_name: &str, name: &str) -> Issued {
        let mut issuer_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        issuer_params
            .distinguished_name
            .push(DnType::CommonName, issuer_name);
        let issuer_key = key_pair(&self.key_pkcs8_der);
        let key_pkcs8_der = rsa_key();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        dates(&mut params, Validity::Current);
        let cert = params
            .signed_by(
                &key_pair(&key_pkcs8_der),
                &Issuer::from_params(&issuer_params, &issuer_key),
            )
            .expect("certificate issued");
        Issued {
            key_pkcs8_der,
            cert_der: cert.der().to_vec(),
        }
    }

    /// The certificate's serial number (DER content octets).
    pub fn serial(&self) -> Vec<u8> {
        use x509_parser::prelude::FromDer;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&self.cert_der)
            .expect("a test certificate");
        cert.raw_serial().to_vec()
    }

    /// A PKCS#12 file with the key and certificate, under `password`.
    pub fn pkcs12(&self, password: &str) -> Vec<u8> {
        let key = p12_keystore::PrivateKey::from_der(&self.key_pkcs8_der).expect("PKCS#8");
        let cert = p12_keystore::Certificate::from_der(&self.cert_der).expect("DER");
        let chain = p12_keystore::PrivateKeyChain::new(b"1".as_slice(), key, [cert]);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "signing",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        store.writer(password).write().expect("PKCS#12 written")
    }
}

/// A test certification authority.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// A new RSA 2048 key, PKCS#8 DER.
pub fn rsa_key() -> Vec<u8> {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key generated");
    key.to_pkcs8_der().expect("PKCS#8").as_bytes().to_vec()
}

fn key_pair(pkcs8: &[u8]) -> KeyPair {
    KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.to_vec().into(), &PKCS_RSA_SHA256)
        .expect("an RSA key rcgen can sign with")
}

fn dates(params: &mut CertificateParams, validity: Validity) {
    let (from, to) = match validity {
        Validity::Current => (2020, 2040),
        Validity::Expired => (2000, 2001),
        Validity::NotYetValid => (2090, 2100),
    };
    params.not_before = date_time_ymd(from, 1, 1);
    params.not_after = date_time_ymd(to, 1, 1);
}

impl TestCa {
    /// A self-signed CA named `name`.
    pub fn generate(name: &str) -> TestCa {
        let key = key_pair(&rsa_key());
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        dates(&mut params, Validity::Current);
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            cert_der: cert.der().to_vec(),
            params,
            key,
        }
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_der)
    }

    pub fn trust_store(&self) -> TrustStore {
        TrustStore::from_der(vec![self.cert_der.clone()]).expect("one certificate")
    }

    /// A CRL (DER) of this CA revoking `revoked`, valid 2020 to 2040.
    pub fn crl(&self, revoked: &[&Issued]) -> Vec<u8> {
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2020, 1, 1),
            next_update: date_time_ymd(2040, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|issued| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&issued.serial()),
                    revocation_time: date_time_ymd(2021, 1, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&Issuer::from_params(&self.params, &self.key))
            .expect("CRL signed");
        crl.der().to_vec()
    }

    /// A signing certificate for `name` with a new key.
    pub fn issue(&self, name: &str, validity: Validity) -> Issued {
        self.issue_for(name, validity, rsa_key())
    }

    /// A signing certificate for `name` with the given PKCS#8 key.
    pub fn issue_for(&self, name: &str, validity: Validity, key_pkcs8_der: Vec<u8>) -> Issued {
        let key = key_pair(&key_pkcs8_der);
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        dates(&mut params, validity);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("certificate issued");
        Issued {
            key_pkcs8_der,
            cert_der: cert.der().to_vec(),
        }
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A key error for a test that expects one.
pub fn credentials_error(issued: &Issued) -> Option<KeyError> {
    Credentials::from_pkcs8_der(&issued.key_pkcs8_der, &issued.cert_der).err()
}
