//! The signer's chain, as `rustls-webpki` checks it: issuers must be CAs, a revoked signer is
//! refused, a bundle holding anything but CAs is refused when it is read.

mod common;

use chrono::Utc;
use shep_wss::testpki::{TestCa, Validity};
use shep_wss::{SignerId, TrustStore};

#[test]
fn a_leaf_of_the_store_signs_and_is_named_by_subject_and_key() {
    let pki = common::pki();
    let signer = pki
        .ca
        .trust_store()
        .check(&pki.leaf.cert_der, Utc::now())
        .unwrap();
    assert_eq!(signer, SignerId::of(&pki.leaf.cert_der).unwrap());
    assert!(signer.subject.contains("registry-gateway"), "{signer}");
    assert_eq!(signer.spki_sha256.len(), 64);
}

#[test]
fn a_certificate_issued_by_a_non_ca_is_refused() {
    let pki = common::pki();
    // Anyone holding a certificate of the CA signs a certificate for a registry's name.
    let forged = pki.leaf.issue_as_non_ca("registry-gateway", "GBD FL");
    let e = pki
        .ca
        .trust_store()
        .check(&forged.cert_der, Utc::now())
        .unwrap_err();
    assert!(e.contains("not issued by a CA of the trust store"), "{e}");
}

#[test]
fn a_bundle_with_a_leaf_in_it_is_refused_when_read() {
    let pki = common::pki();
    let bundle = format!("{}{}", pki.ca.cert_pem(), pki.leaf.cert_pem());
    let e = TrustStore::from_pem(bundle.as_bytes()).unwrap_err();
    assert!(
        e.to_string().starts_with("certificate 2 of the bundle"),
        "{e}"
    );
    assert!(e.to_string().contains("is not a CA"), "{e}");
}

#[test]
fn a_revoked_signer_is_refused_and_others_still_pass() {
    let ca = TestCa::generate("CRL CA");
    let revoked = ca.issue("revoked", Validity::Current);
    let kept = ca.issue("kept", Validity::Current);
    let store = ca.trust_store().with_crls(&[ca.crl(&[&revoked])]).unwrap();
    assert_eq!(store.crl_count(), 1);
    let e = store.check(&revoked.cert_der, Utc::now()).unwrap_err();
    assert!(e.contains("revoked"), "{e}");
    store.check(&kept.cert_der, Utc::now()).unwrap();
    // A CRL of another CA says nothing about this one's certificates.
    let other = TestCa::generate("Other CA");
    let store = ca.trust_store().with_crls(&[other.crl(&[])]).unwrap();
    store.check(&revoked.cert_der, Utc::now()).unwrap();
    assert!(ca
        .trust_store()
        .with_crls(&[b"not a CRL".to_vec()])
        .is_err());
}

#[test]
fn an_expired_signer_is_refused() {
    let pki = common::pki();
    let e = pki
        .ca
        .trust_store()
        .check(&pki.expired.cert_der, Utc::now())
        .unwrap_err();
    assert!(e.contains("outside its validity"), "{e}");
}
