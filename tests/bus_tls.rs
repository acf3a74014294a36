//! HTTPS to the bus: `[shep.tls]` with a CA bundle and a client certificate. The mocks stand
//! behind a TLS terminator that requires a client certificate from the test CA.

mod common;

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::config::RegistryEndpoints;
use registry_gateway::registry::signing::BusTls;
use registry_gateway::{decision, mock_registry};
use registry_mocks::{demo, MockRegistries};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

struct Pki {
    ca_pem: String,
    server: (Vec<u8>, Vec<u8>),
    client_cert_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "bus test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);

    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "registry-gateway");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server: (server_cert.der().to_vec(), server_key.serialize_der()),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// A TLS terminator in front of each mock, requiring a client certificate from the CA.
async fn tls_front(pki: &Pki, mocks: &MockRegistries) -> RegistryEndpoints {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca_der = rustls::pki_types::pem::PemObject::from_pem_slice(pki.ca_pem.as_bytes()).unwrap();
    roots.add(ca_der).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![pki.server.0.clone().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(pki.server.1.clone().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut ports = std::collections::BTreeMap::new();
    for mock in mocks.iter() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.insert(mock.registry(), listener.local_addr().unwrap().port());
        let backend = mock.addr();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    }
    RegistryEndpoints::local(|r| format!("https://localhost:{}/shep", ports[&mock_registry(r)]))
}

async fn check_online(addr: std::net::SocketAddr) -> Result<pb::Outcome, tonic::Status> {
    let mut c = RegistryGatewayServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    c.check_owner(pb::CheckOwnerRequest {
        owner_iin: demo::CAPABLE_ADULT.into(),
        service: pb::Service::RegistrationAtResidence.into(),
        applicant_iin: String::new(),
        decision_date: decision::today().to_string(),
        consent_token: String::new(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().outcome())
}

#[tokio::test]
async fn https_to_the_bus_with_a_ca_bundle_and_a_client_certificate() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca = file("ca.pem", &pki.ca_pem);
    let cert = file("client.pem", &pki.client_cert_pem);
    let key = file("client.key", &pki.client_key_pem);
    let mocks = common::demo_mocks(decision::today()).await;
    let endpoints = tls_front(&pki, &mocks).await;

    let mut config = common::config_for(&mocks);
    config.registries = Some(endpoints);
    config.shep.tls = Some(BusTls {
        ca_bundle: Some(ca.clone()),
        client_cert: Some(cert),
        client_key: Some(key),
    });
    config.validate().unwrap();
    let (addr, _stop) = common::serve(config.clone()).await;
    assert_eq!(check_online(addr).await.unwrap(), pb::Outcome::Online);

    // Without the client certificate the bus refuses the handshake.
    let mut no_client = config.clone();
    no_client.shep.tls = Some(BusTls {
        ca_bundle: Some(ca),
        client_cert: None,
        client_key: None,
    });
    let (addr, _stop2) = common::serve(no_client).await;
    let status = check_online(addr).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    // Without the CA bundle the bus's certificate is not trusted (public roots only).
    let mut no_ca = config;
    no_ca.shep.tls = None;
    let (addr, _stop3) = common::serve(no_ca).await;
    let status = check_online(addr).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}
