//! A test PKI made at test time with rcgen: a server CA (the server's certificate for
//! "localhost"), a client CA issuing client certificates on demand, and strangers' self-signed
//! certificates. No private key is committed.

use std::net::SocketAddr;
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use registry_gateway::listener::TlsConfig;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// The test PKI in a temporary directory: the server's certificate and key, the client CA's
/// certificate (the files of `[tls]`), and client identities made on demand.
pub struct Pki {
    dir: tempfile::TempDir,
    pub server_ca: String,
    client_ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let server_ca = ca("test server CA");
        let (cert, key) = leaf(
            "localhost",
            &["localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &server_ca,
        );
        let client_ca = ca("test client CA");
        for (name, pem) in [
            ("server.pem", &cert),
            ("server.key", &key),
            ("client-ca.pem", &client_ca.pem()),
        ] {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        Pki {
            dir,
            server_ca: server_ca.pem(),
            client_ca,
        }
    }

    pub fn tls(&self) -> TlsConfig {
        TlsConfig {
            cert: self.dir.path().join("server.pem"),
            key: self.dir.path().join("server.key"),
            client_ca: self.dir.path().join("client-ca.pem"),
        }
    }

    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// A client certificate with subject CN `cn`, issued by the client CA.
    pub fn client(&self, cn: &str) -> Identity {
        let (cert, key) = self.client_pem(cn);
        Identity::from_pem(cert, key)
    }

    /// PEM certificate and key of a client with subject CN `cn`, issued by the client CA.
    pub fn client_pem(&self, cn: &str) -> (String, String) {
        leaf(
            cn,
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &self.client_ca,
        )
    }

    /// A self-signed client certificate with subject CN `cn`: no chain to the client CA.
    pub fn stranger(cn: &str) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(cn, &[], ExtendedKeyUsagePurpose::ClientAuth)
            .self_signed(&key)
            .unwrap();
        Identity::from_pem(cert.pem(), key.serialize_pem())
    }

    /// A channel to `addr` that trusts the server CA, presenting `identity` if any.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        identity: Option<Identity>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.server_ca))
            .domain_name("localhost");
        if let Some(identity) = identity {
            tls = tls.identity(identity);
        }
        // The IP, not "localhost": the listener is IPv4 only; the name is checked via SNI.
        Channel::from_shared(format!("https://127.0.0.1:{}", addr.port()))
            .unwrap()
            .tls_config(tls)?
            .connect()
            .await
    }
}

fn ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf_params(cn: &str, sans: &[&str], usage: ExtendedKeyUsagePurpose) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![usage];
    params
}

/// PEM certificate and key of a leaf issued by `issuer`.
fn leaf(
    cn: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params(cn, sans, usage)
        .signed_by(&key, issuer)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}
