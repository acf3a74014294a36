//! `[shep.signing]` for tests: the gateway's demo key as a PKCS#12 file, the demo CA as the
//! trust store, every registry pinned to its demo certificate.

use registry_gateway::config::Config;
use registry_gateway::registry::Registry;
use registry_mocks::{demo_pki, MockRegistries};

/// Files for `[shep.signing]`: the gateway's key as PKCS#12 (password in a file) and the
/// trust store of the mocks' CA.
pub struct KeyFiles {
    pub dir: tempfile::TempDir,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl KeyFiles {
    pub fn new() -> KeyFiles {
        let dir = tempfile::tempdir().unwrap();
        let pki = demo_pki();
        std::fs::write(dir.path().join("gateway.p12"), pki.gateway.pkcs12(PASSWORD)).unwrap();
        std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n")).unwrap();
        std::fs::write(dir.path().join("trust.pem"), pki.ca.cert_pem()).unwrap();
        KeyFiles { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn write_p12(&self, issued: &shep_wss::testpki::Issued) {
        std::fs::write(self.dir.path().join("gateway.p12"), issued.pkcs12(PASSWORD)).unwrap();
    }
}

pub fn signed_config(mocks: &MockRegistries, keys: &KeyFiles) -> Config {
    let mut config = super::config_for(mocks);
    let signing: Config = Config::from_toml(&format!(
        r#"
[shep.signing]
signer = "pkcs12"
pkcs12 = "{p12}"
password_file = "{password}"
trust_store = "{trust}"
verify_responses = "required"
[registries.gbd_fl]
url = "http://127.0.0.1:1/shep"
service_id = "S"
sender_id = "gw"
{pin_gbd_fl}[registries.zags]
url = "http://127.0.0.1:1/shep"
service_id = "S"
sender_id = "gw"
{pin_zags}[registries.social_security]
url = "http://127.0.0.1:1/shep"
service_id = "S"
sender_id = "gw"
{pin_social_security}[registries.nobd]
url = "http://127.0.0.1:1/shep"
service_id = "S"
sender_id = "gw"
{pin_nobd}[registries.epvo]
url = "http://127.0.0.1:1/shep"
service_id = "S"
sender_id = "gw"
{pin_epvo}"#,
        p12 = keys.path("gateway.p12"),
        password = keys.path("password"),
        trust = keys.path("trust.pem"),
        pin_gbd_fl = super::pinned(Registry::GbdFl),
        pin_zags = super::pinned(Registry::Zags),
        pin_social_security = super::pinned(Registry::SocialSecurity),
        pin_nobd = super::pinned(Registry::Nobd),
        pin_epvo = super::pinned(Registry::Epvo),
    ))
    .expect("valid signing configuration");
    config.shep.signing = signing.shep.signing;
    config
}
