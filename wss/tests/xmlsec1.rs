//! Interop with an implementation nobody here wrote: xmlsec1 (libxmlsec1 over OpenSSL).
//!
//! - an envelope signed by the gateway verifies with `xmlsec1 --verify`, against the test CA;
//! - an answer signed by `xmlsec1 --sign` from a template is accepted by our verifier;
//! - one byte changed in either after signing is refused by both.
//!
//! These tests run xmlsec1 themselves and fail (never skip) when it is missing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use chrono::{SecondsFormat, Utc};
use common::{pki, ENVELOPE};
use shep_wss::dsig::{BASE64_BINARY, DS_NS, EXC_C14N, RSA_SHA256, SHA256, WSSE_NS, WSU_NS, X509V3};
use shep_wss::{sign_envelope, verify_envelope, Verdict, VerifyFailure, VerifyOptions};

/// Runs xmlsec1 with `args`; `Ok` when it exits 0. Panics with the install command when
/// xmlsec1 is not there.
fn xmlsec1(args: &[&str], dir: &Path) -> Result<String, String> {
    let out = Command::new("xmlsec1").args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!("xmlsec1 is required for the interop tests and could not be run ({e}): install it with `apt-get install -y xmlsec1`")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The gateway's envelope as xmlsec1 reads it: the certificate of the
/// `wsse:BinarySecurityToken` also as `ds:X509Data` in `ds:KeyInfo` (xmlsec1 does not follow
/// a SecurityTokenReference; KeyInfo is outside SignedInfo, so the signature is unchanged).
fn with_x509_data(signed: &str) -> String {
    let token_start = signed.find("<wsse:BinarySecurityToken").unwrap();
    let content = signed[token_start..].find('>').unwrap() + token_start + 1;
    let end = signed[content..].find('<').unwrap() + content;
    let cert = &signed[content..end];
    signed.replacen(
        "<ds:KeyInfo>",
        &format!("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data>"),
        1,
    )
}

const ID_ATTRS: [&str; 4] = ["--id-attr:Id", "Body", "--id-attr:Id", "Timestamp"];

fn verify_with_xmlsec1(dir: &Path, file: &str, ca: &str) -> Result<String, String> {
    let mut args = vec!["--verify", "--trusted-pem", ca];
    args.extend(ID_ATTRS);
    args.push(file);
    xmlsec1(&args, dir)
}

#[test]
fn gateway_signed_envelope_verifies_with_xmlsec1_against_the_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("ca.pem"), pki().ca.cert_pem()).unwrap();
    std::fs::write(p.join("other-ca.pem"), pki().other_ca.cert_pem()).unwrap();
    let signed = sign_envelope(
        ENVELOPE,
        &pki().leaf.credentials(),
        Utc::now(),
        Duration::from_secs(300),
    )
    .unwrap();
    std::fs::write(p.join("signed.xml"), with_x509_data(&signed)).unwrap();
    let out = verify_with_xmlsec1(p, "signed.xml", "ca.pem")
        .expect("xmlsec1 verifies the gateway's signature");
    assert!(out.contains("SignedInfo References (ok/all): 2/2"), "{out}");

    // The same signature against a CA that did not issue the certificate: refused.
    let e = verify_with_xmlsec1(p, "signed.xml", "other-ca.pem").unwrap_err();
    assert!(e.contains("certificate verification failed"), "{e}");

    // One byte of the Body changed after signing: refused by xmlsec1 and by us.
    let tampered = signed.replace("<capable>1</capable>", "<capable>2</capable>");
    assert_ne!(tampered, signed);
    std::fs::write(p.join("tampered.xml"), with_x509_data(&tampered)).unwrap();
    let e = verify_with_xmlsec1(p, "tampered.xml", "ca.pem").unwrap_err();
    assert!(e.contains("ERROR") || e.contains("fail"), "{e}");
    let doc = roxmltree::Document::parse(&tampered).unwrap();
    let ours = verify_envelope(
        &doc,
        &tampered,
        &pki().ca.trust_store(),
        Utc::now(),
        &VerifyOptions::default(),
    )
    .unwrap_err();
    assert_eq!(ours.kind, VerifyFailure::Digest);
}

/// A registry's answer with an empty signature template, as xmlsec1 --sign fills it.
fn template() -> String {
    let now = Utc::now();
    let created = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let expires = (now + chrono::Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let cert = base64::engine::general_purpose::STANDARD.encode(&pki().leaf.cert_der);
    let reference = |id: &str| {
        format!(
            r##"<ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue/></ds:Reference>"##
        )
    };
    let body = &ENVELOPE[ENVELOPE.find("<soap:Body>").unwrap() + "<soap:Body>".len()
        ..ENVELOPE.find("</soap:Body>").unwrap()];
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsu="{WSU_NS}">
  <S:Header>
    <wsse:Security xmlns:wsse="{WSSE_NS}" S:mustUnderstand="1">
      <wsu:Timestamp wsu:Id="TS-1">
        <wsu:Created>{created}</wsu:Created>
        <wsu:Expires>{expires}</wsu:Expires>
      </wsu:Timestamp>
      <wsse:BinarySecurityToken wsu:Id="X509-1" ValueType="{X509V3}" EncodingType="{BASE64_BINARY}">{cert}</wsse:BinarySecurityToken>
      <ds:Signature xmlns:ds="{DS_NS}">
        <ds:SignedInfo>
          <ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>
          <ds:SignatureMethod Algorithm="{RSA_SHA256}"/>
          {body_ref}
          {ts_ref}
        </ds:SignedInfo>
        <ds:SignatureValue/>
        <ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#X509-1" ValueType="{X509V3}"/></wsse:SecurityTokenReference></ds:KeyInfo>
      </ds:Signature>
    </wsse:Security>
  </S:Header>
  <S:Body wsu:Id="Body-1">
    {body}
  </S:Body>
</S:Envelope>
"##,
        body_ref = reference("Body-1"),
        ts_ref = reference("TS-1"),
    )
}

#[test]
fn xmlsec1_signed_answer_is_accepted_and_a_changed_byte_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("key.pem"), pki().leaf.key_pem()).unwrap();
    std::fs::write(p.join("cert.pem"), pki().leaf.cert_pem()).unwrap();
    std::fs::write(p.join("ca.pem"), pki().ca.cert_pem()).unwrap();
    std::fs::write(p.join("template.xml"), template()).unwrap();
    let mut args = vec!["--sign", "--privkey-pem", "key.pem,cert.pem"];
    args.extend(ID_ATTRS);
    args.extend(["--output", "signed.xml", "template.xml"]);
    xmlsec1(&args, p).expect("xmlsec1 signs the template");
    let signed = std::fs::read_to_string(p.join("signed.xml")).unwrap();
    assert!(!signed.contains("<ds:SignatureValue/>"), "{signed}");

    let doc = roxmltree::Document::parse(&signed).unwrap();
    let verdict = verify_envelope(
        &doc,
        &signed,
        &pki().ca.trust_store(),
        Utc::now(),
        &VerifyOptions::default(),
    )
    .expect("our verifier accepts xmlsec1's signature");
    assert!(matches!(verdict, Verdict::Signed { .. }), "{verdict:?}");

    // One byte changed in the Body: refused by us and by xmlsec1.
    let tampered = signed.replace(
        "<message>ok &amp; fine</message>",
        "<message>ok &amp; fina</message>",
    );
    assert_ne!(tampered, signed);
    let doc = roxmltree::Document::parse(&tampered).unwrap();
    let e = verify_envelope(
        &doc,
        &tampered,
        &pki().ca.trust_store(),
        Utc::now(),
        &VerifyOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, VerifyFailure::Digest, "{e}");
    std::fs::write(p.join("tampered.xml"), &tampered).unwrap();
    let mut args = vec!["--verify", "--pubkey-cert-pem", "cert.pem"];
    args.extend(ID_ATTRS);
    args.push("tampered.xml");
    assert!(xmlsec1(&args, p).is_err());
    // ... while the untouched answer passes xmlsec1's own check too.
    let mut args = vec!["--verify", "--pubkey-cert-pem", "cert.pem"];
    args.extend(ID_ATTRS);
    args.push("signed.xml");
    xmlsec1(&args, p).expect("xmlsec1 verifies its own signature");
}
