//! A test CA and certificates, made once per test binary.
#![allow(dead_code)]

use std::sync::OnceLock;

use shep_wss::testpki::{Issued, TestCa, Validity};

pub struct Pki {
    pub ca: TestCa,
    pub leaf: Issued,
    pub other_ca: TestCa,
    pub foreign: Issued,
    pub expired: Issued,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = TestCa::generate("Test NCA RK");
        let other_ca = TestCa::generate("Another CA");
        let leaf = ca.issue("registry-gateway", Validity::Current);
        let foreign = other_ca.issue("impostor", Validity::Current);
        let expired = ca.issue_for("old key", Validity::Expired, leaf.key_pkcs8_der.clone());
        Pki {
            ca,
            leaf,
            other_ca,
            foreign,
            expired,
        }
    })
}

pub const ENVELOPE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo><messageId>m-1</messageId><status><code>SCSS001</code><message>ok &amp; fine</message></status></responseInfo><responseData><data><person><capable>1</capable></person></data></responseData></response></ns2:SendMessageResponse></soap:Body></soap:Envelope>"#;
