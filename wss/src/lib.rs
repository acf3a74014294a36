//! WS-Security for the SHEP sync channel: signing SOAP 1.1 envelopes (WS-Security 1.1, X.509
//! token profile, XML-DSig with exclusive c14n, SHA-256 digests and RSA-SHA256) and verifying
//! signed answers against a trust store.
//!
//! Shared by the gateway (it signs requests and verifies answers) and the mock registries
//! (they verify requests and sign answers). Cryptography is ring (RSA, SHA-256), x509-parser
//! (certificates) and p12-keystore (PKCS#12); canonicalization is [`c14n`], tested against
//! xmlsec1.
//!
//! - [`c14n`]: exclusive canonicalization of a parsed element;
//! - [`keys`]: [`Credentials`] (key + certificate from PKCS#12) and [`TrustStore`];
//! - [`dsig`]: [`sign_envelope`] and [`verify_envelope`];
//! - [`testpki`]: a test CA and certificates generated at run time (demo and tests).

#![forbid(unsafe_code)]

pub mod c14n;
pub mod dsig;
pub mod keys;
pub mod testpki;

pub use dsig::{
    check_times, sign_envelope, verify_envelope, SignError, Signed, Verdict, VerifyError,
    VerifyFailure, VerifyOptions,
};
pub use keys::{Credentials, KeyError, SignerId, TrustStore};
