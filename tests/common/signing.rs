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

/// `[registries.<key>]` of `registry`, its answers pinned to its demo certificate (the URL is
/// replaced by the mocks').
fn endpoint(registry: Registry) -> String {
    format!(
        "[registries.{}]\nurl = \"http://127.0.0.1:1/shep\"\nservice_id = \"S\"\nsender_id = \"gw\"\n{}",
        registry.key(),
        super::pinned(registry)
    )
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
{registries}"#,
        p12 = keys.path("gateway.p12"),
        password = keys.path("password"),
        trust = keys.path("trust.pem"),
        registries = Registry::ALL.map(endpoint).concat(),
    ))
    .expect("valid signing configuration");
    config.shep.signing = signing.shep.signing;
    config
}
