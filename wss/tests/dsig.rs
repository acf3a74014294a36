//! Signer and verifier against each other: what is signed verifies, and each way of
//! tampering or of signing with the wrong thing is refused with its own kind.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{pki, ENVELOPE};
use shep_wss::{
    sign_envelope, verify_envelope, Verdict, VerifyError, VerifyFailure, VerifyOptions,
};

fn verify_at(text: &str, now: DateTime<Utc>) -> Result<Verdict, VerifyError> {
    let doc = roxmltree::Document::parse(text).expect("XML");
    verify_envelope(
        &doc,
        text,
        &pki().ca.trust_store(),
        now,
        &VerifyOptions::default(),
    )
}

fn verify(text: &str) -> Result<Verdict, VerifyError> {
    verify_at(text, Utc::now())
}

fn signed() -> String {
    sign_envelope(
        ENVELOPE,
        &pki().leaf.credentials(),
        Utc::now(),
        Duration::from_secs(300),
    )
    .expect("signed")
}

fn kind(r: Result<Verdict, VerifyError>) -> VerifyFailure {
    r.expect_err("must be refused").kind
}

#[test]
fn signed_envelope_verifies_and_names_the_signer() {
    let text = signed();
    match verify(&text).expect("verifies") {
        Verdict::Signed(signed) => assert!(
            signed.signer.subject.contains("registry-gateway"),
            "{:?}",
            signed.signer
        ),
        v => panic!("{v:?}"),
    }
    // The payload is still where the parser looks for it.
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert!(doc.descendants().any(|n| n.has_tag_name("capable")));
}

#[test]
fn an_existing_header_gets_the_security_element() {
    for header in [
        "<soap:Header/>",
        "<soap:Header><x:y xmlns:x=\"urn:x\">1</x:y></soap:Header>",
    ] {
        let with_header = ENVELOPE.replace("<soap:Body>", &format!("{header}<soap:Body>"));
        let text = sign_envelope(
            &with_header,
            &pki().leaf.credentials(),
            Utc::now(),
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(verify(&text).is_ok(), "{text}");
        assert_eq!(text.matches("Header>").count(), 2, "{text}");
    }
}

#[test]
fn one_changed_byte_in_the_body_is_a_digest_failure() {
    let text = signed().replace("<capable>1</capable>", "<capable>2</capable>");
    assert_eq!(kind(verify(&text)), VerifyFailure::Digest);
}

#[test]
fn a_changed_timestamp_is_a_digest_failure() {
    let text = signed();
    let at = text.find("<wsu:Expires>").unwrap() + "<wsu:Expires>".len();
    let mut tampered = text.clone();
    tampered.replace_range(at..at + 4, "2099");
    assert_eq!(kind(verify(&tampered)), VerifyFailure::Digest);
}

#[test]
fn a_changed_signature_value_fails() {
    let text = signed();
    let at = text.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut tampered = text.clone();
    let c = if &text[at..at + 1] == "A" { "B" } else { "A" };
    tampered.replace_range(at..at + 1, c);
    assert_eq!(kind(verify(&tampered)), VerifyFailure::Signature);
}

#[test]
fn wrong_key_for_the_certificate_fails() {
    // The token claims the gateway's certificate, the signature is by the impostor's key.
    let by_foreign = sign_envelope(
        ENVELOPE,
        &pki().foreign.credentials(),
        Utc::now(),
        Duration::from_secs(60),
    )
    .unwrap();
    let b64 = |der: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(der)
    };
    let swapped = by_foreign.replace(&b64(&pki().foreign.cert_der), &b64(&pki().leaf.cert_der));
    assert_ne!(swapped, by_foreign);
    assert_eq!(kind(verify(&swapped)), VerifyFailure::Signature);
}

#[test]
fn certificate_from_a_foreign_ca_fails() {
    let text = sign_envelope(
        ENVELOPE,
        &pki().foreign.credentials(),
        Utc::now(),
        Duration::from_secs(60),
    )
    .unwrap();
    let e = verify(&text).unwrap_err();
    assert_eq!(e.kind, VerifyFailure::Certificate, "{e}");
    assert!(
        e.detail.contains("not issued by a CA of the trust store"),
        "{e}"
    );
}

#[test]
fn expired_certificate_fails() {
    let text = sign_envelope(
        ENVELOPE,
        &pki().expired.credentials(),
        Utc::now(),
        Duration::from_secs(60),
    )
    .unwrap();
    let e = verify(&text).unwrap_err();
    assert_eq!(e.kind, VerifyFailure::Certificate, "{e}");
    assert!(e.detail.contains("validity"), "{e}");
}

#[test]
fn signed_body_moved_into_the_header_and_replaced_is_refused() {
    // Signature wrapping: the signed Body is kept (its digest still matches) but hidden in
    // the header, and a new Body that nobody signed takes its place.
    let text = signed();
    let start = text.find("<soap:Body").unwrap();
    let end = text.find("</soap:Body>").unwrap() + "</soap:Body>".len();
    let original = text[start..end].to_owned();
    let mut wrapped = text.clone();
    wrapped.replace_range(start..end, "<soap:Body><evil/></soap:Body>");
    let wrapped = wrapped.replace(
        "</wsse:Security>",
        &format!("</wsse:Security><w:Wrapper xmlns:w=\"urn:w\">{original}</w:Wrapper>"),
    );
    let e = verify(&wrapped).unwrap_err();
    assert_eq!(e.kind, VerifyFailure::Structure, "{e}");
    assert!(
        e.detail.contains("Body is not among the signed references"),
        "{e}"
    );
}

#[test]
fn a_second_body_beside_the_signed_one_is_refused() {
    let text = signed();
    for smuggled in ["<soap:Body><evil/></soap:Body><soap:Body", "<soap:Body"] {
        let t = text.replacen("<soap:Body", smuggled, 1);
        if t == text {
            continue;
        }
        let e = verify(&t).unwrap_err();
        assert_eq!(e.kind, VerifyFailure::Structure, "{e}");
        assert!(e.detail.contains("more than one Body"), "{e}");
    }
    // A Body in another namespace beside it is no better.
    let t = text.replacen("<soap:Body", "<b:Body xmlns:b=\"urn:other\"/><soap:Body", 1);
    assert_eq!(kind(verify(&t)), VerifyFailure::Structure);
}

#[test]
fn duplicate_ids_are_refused() {
    let text = signed();
    let id_at = text.find("wsu:Id=\"id-").unwrap();
    let id: String = text[id_at + 8..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let t = text.replace(
        "</wsse:Security>",
        &format!("</wsse:Security><x:Dup xmlns:x=\"urn:x\" Id=\"{id}\"/>"),
    );
    let e = verify(&t).unwrap_err();
    assert!(e.detail.contains("more than once"), "{e}");
}

#[test]
fn timestamp_out_of_range_is_refused() {
    let text = signed();
    let e = verify_at(&text, Utc::now() + chrono::Duration::minutes(30)).unwrap_err();
    assert_eq!(e.kind, VerifyFailure::Timestamp, "{e}");
    assert!(e.detail.contains("Expires"), "{e}");
    let e = verify_at(&text, Utc::now() - chrono::Duration::minutes(30)).unwrap_err();
    assert_eq!(e.kind, VerifyFailure::Timestamp, "{e}");
    assert!(e.detail.contains("future"), "{e}");
    // Within the skew both ways it holds.
    assert!(verify_at(&text, Utc::now() + chrono::Duration::minutes(4)).is_ok());
}

#[test]
fn an_unsigned_envelope_is_reported_as_such() {
    assert_eq!(verify(ENVELOPE).unwrap(), Verdict::Unsigned);
    // A Security header without a signature is not "unsigned", it is broken.
    let t = ENVELOPE.replace("<soap:Body>", "<soap:Header><wsse:Security xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"/></soap:Header><soap:Body>");
    assert_eq!(kind(verify(&t)), VerifyFailure::Missing);
}

#[test]
fn signing_twice_is_refused() {
    let e = sign_envelope(
        &signed(),
        &pki().leaf.credentials(),
        Utc::now(),
        Duration::from_secs(60),
    )
    .unwrap_err();
    assert!(e.0.contains("already"), "{e}");
}

#[test]
fn pkcs12_round_trip_and_wrong_password() {
    let p12 = pki().leaf.pkcs12("s3cret");
    let creds = shep_wss::Credentials::from_pkcs12(&p12, "s3cret").expect("reads");
    assert!(creds.subject().contains("registry-gateway"));
    let debug = format!("{creds:?}");
    assert!(
        debug.contains("<redacted>") && !debug.contains("s3cret"),
        "{debug}"
    );
    let e = shep_wss::Credentials::from_pkcs12(&p12, "wrong").unwrap_err();
    assert!(e.0.contains("wrong password"), "{e}");
    assert!(!e.0.contains("s3cret"));
}

#[test]
fn certificate_validity_is_checked_for_signing() {
    let e = pki()
        .expired
        .credentials()
        .check_validity(Utc::now())
        .unwrap_err();
    assert!(e.0.contains("expired"), "{e}");
    let later = pki().ca.issue_for(
        "future",
        shep_wss::testpki::Validity::NotYetValid,
        pki().leaf.key_pkcs8_der.clone(),
    );
    let e = later.credentials().check_validity(Utc::now()).unwrap_err();
    assert!(e.0.contains("not valid before"), "{e}");
    pki().leaf.credentials().check_validity(Utc::now()).unwrap();
}

#[test]
fn mismatched_key_and_certificate_are_refused() {
    let e =
        shep_wss::Credentials::from_pkcs8_der(&pki().foreign.key_pkcs8_der, &pki().leaf.cert_der)
            .unwrap_err();
    assert!(e.0.contains("does not match"), "{e}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Any one byte of a signed envelope changed: the verifier never panics, and whenever the
    /// change reaches what is signed (the Body, the Timestamp, SignedInfo, the signature or
    /// the certificate) the envelope is refused. Only changes that leave the parsed document
    /// as it was (or touch nothing signed) may pass.
    #[test]
    fn one_changed_byte_never_panics_and_signed_parts_are_refused(at in 0usize..4000, byte in 0x20u8..0x7f) {
        let text = signed();
        let at = at % text.len();
        let mut bytes = text.clone().into_bytes();
        if bytes[at] == byte || !bytes[at].is_ascii() {
            return Ok(());
        }
        bytes[at] = byte;
        let Ok(changed) = String::from_utf8(bytes) else { return Ok(()) };
        let Ok(doc) = roxmltree::Document::parse(&changed) else { return Ok(()) };
        let verdict = verify_envelope(&doc, &changed, &pki().ca.trust_store(), Utc::now(), &VerifyOptions::default());
        let body_start = text.find("<soap:Body").unwrap();
        let body_content_start = body_start + text[body_start..].find('>').unwrap() + 1;
        let body_content_end = text.find("</soap:Body>").unwrap();
        if (body_content_start..body_content_end).contains(&at) {
            proptest::prop_assert!(verdict.is_err(), "a changed Body byte at {} passed", at);
        }
    }
}
