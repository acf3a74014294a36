//! Writes a test CA, a signing key and a gateway-signed envelope into a directory, for
//! trying `xmlsec1 --verify` by hand: `cargo run -p shep-wss --example sign_demo -- DIR`.
use shep_wss::testpki::{TestCa, Validity};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: sign_demo DIR"));
    let ca = TestCa::generate("Test CA");
    let leaf = ca.issue("gateway", Validity::Current);
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(dir.join("key.pem"), leaf.key_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.cert_pem()).unwrap();
    let envelope = r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><request><data><iin>061211600012</iin></data></request></ns2:SendMessage></soap:Body></soap:Envelope>"#;
    let signed = shep_wss::sign_envelope(
        envelope,
        &leaf.credentials(),
        chrono::Utc::now(),
        std::time::Duration::from_secs(300),
    )
    .unwrap();
    std::fs::write(dir.join("signed.xml"), signed).unwrap();
}
