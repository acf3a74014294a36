//! Signed SHEP messages end to end: the gateway signs every request and verifies every answer;
//! the mocks require signed requests and sign their answers.
//!
//! - the demo (embedded mocks, no configuration) signs and verifies, every RPC answers;
//! - `[shep.signing]` with a PKCS#12 file, its password in a file, a trust store;
//! - a tampered answer is `UNAVAILABLE` naming the registry, never `ONLINE`, not cached, and
//!   counted; an unsigned answer where signatures are required likewise;
//! - a gateway that does not sign gets the bus's security fault;
//! - key rotation by reload, and an expired key refused at start and at reload.

mod common;

use common::signing::{signed_config, KeyFiles, PASSWORD};

use std::sync::Arc;

use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::config::Config;
use registry_gateway::decision;
use registry_gateway::registry::Registry;
use registry_mocks::{demo, demo_pki, FaultMode, Faults, Fixture, MockRegistries, MockSigning};
use shep_wss::testpki::Validity;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

async fn client(addr: std::net::SocketAddr) -> RegistryGatewayServiceClient<Channel> {
    RegistryGatewayServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("gateway accepts connections")
}

async fn check(
    c: &mut RegistryGatewayServiceClient<Channel>,
    owner: &str,
) -> Result<pb::CheckOwnerResponse, tonic::Status> {
    c.check_owner(pb::CheckOwnerRequest {
        // Demo persons whose age matters have that day's IIN.
        owner_iin: demo::iin(owner, decision::today()),
        service: pb::Service::RegistrationAtResidence.into(),
        applicant_iin: String::new(),
        decision_date: decision::today().to_string(),
        consent_token: String::new(),
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn the_demo_signs_and_verifies_and_every_rpc_answers() {
    // No [registries]: the embedded mocks, which require signatures and sign their answers.
    let (addr, _stop) = common::serve(Config::default()).await;
    let mut c = client(addr).await;
    let r = check(&mut c, demo::CAPABLE_ADULT).await.expect("answered");
    assert_eq!(r.outcome(), pb::Outcome::Online);
    let r = check(&mut c, demo::MINOR).await.expect("answered");
    assert_eq!(r.outcome(), pb::Outcome::OperationalHall);
    c.get_person(pb::GetPersonRequest {
        iin: demo::INCAPABLE_BY_COURT.into(),
        consent_token: demo::consent(demo::INCAPABLE_BY_COURT),
    })
    .await
    .expect("GetPerson");
    c.get_civil_acts(pb::GetCivilActsRequest {
        iin: demo::MINOR.into(),
    })
    .await
    .expect("GetCivilActs");
    c.get_social_status(pb::GetSocialStatusRequest {
        iin: demo::INCAPABLE_BY_COURT.into(),
    })
    .await
    .expect("GetSocialStatus");
    c.get_school_enrolment(pb::GetSchoolEnrolmentRequest {
        iin: demo::MINOR_IN_CARE.into(),
    })
    .await
    .expect("GetSchoolEnrolment");
    c.get_higher_education(pb::GetHigherEducationRequest {
        iin: demo::STUDENT.into(),
    })
    .await
    .expect("GetHigherEducation");
}

async fn signed_mocks() -> MockRegistries {
    MockRegistries::spawn_signed(
        Arc::new(Fixture::demo().with_today(decision::today())),
        MockSigning::demo(),
    )
    .await
    .expect("mocks start")
}

fn signature_failures(rendered: &str, registry: &str, reason: &str) -> u64 {
    let prefix = format!(
        "gateway_shep_answer_signature_failures_total{{registry=\"{registry}\",reason=\"{reason}\"}} "
    );
    rendered
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse::<f64>().unwrap() as u64)
        .unwrap_or_else(|| panic!("no {prefix} in\n{rendered}"))
}

#[tokio::test]
async fn pkcs12_signing_tampered_and_unsigned_answers_fail_closed() {
    let metrics = registry_gateway::metrics::install();
    let mocks = signed_mocks().await;
    let keys = KeyFiles::new();
    let (addr, _stop) = common::serve(signed_config(&mocks, &keys)).await;
    let mut c = client(addr).await;

    let r = check(&mut c, demo::CAPABLE_ADULT).await.expect("answered");
    assert_eq!(r.outcome(), pb::Outcome::Online);
    let gbd = mocks.get(Registry::GbdFl);
    let signer = gbd.last_signer().expect("the mock checked a signature");
    assert!(signer.contains("registry-gateway demo sender"), "{signer}");

    // E-social security's answer changed after signing: no ONLINE, the registry is named.
    let before = signature_failures(&metrics.render(), "social_security", "digest");
    let social = mocks.get(Registry::SocialSecurity);
    social.set_faults(Faults::mode(FaultMode::TamperedSignature));
    social.reset_calls();
    let status = check(&mut c, demo::TURNS_18_TODAY).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("E-social security"),
        "{}",
        status.message()
    );
    assert_eq!(
        status.get_error_details().error_info().unwrap().metadata["registry"],
        "social_security"
    );
    assert!(
        signature_failures(&metrics.render(), "social_security", "digest") > before,
        "counted"
    );
    // Permanent: not retried; and never cached: asking again calls the registry again.
    assert_eq!(social.calls(), 1);
    let _ = check(&mut c, demo::TURNS_18_TODAY).await.unwrap_err();
    assert_eq!(social.calls(), 2);

    // The same answer unchanged is accepted again.
    social.set_faults(Faults::none());
    let r = check(&mut c, demo::TURNS_18_TODAY).await.expect("answered");
    assert_eq!(r.outcome(), pb::Outcome::Online);

    // GBD FL tampered for a minor: no decision at all without GBD FL.
    gbd.set_faults(Faults::mode(FaultMode::TamperedSignature));
    let status = check(&mut c, demo::TURNS_18_TOMORROW).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.get_error_details().error_info().unwrap().metadata["registry"],
        "gbd_fl"
    );
}

#[tokio::test]
async fn unsigned_answers_are_refused_when_required() {
    let metrics = registry_gateway::metrics::install();
    // Mocks that sign nothing (and check nothing), a gateway that requires signed answers.
    let mocks = common::demo_mocks(decision::today()).await;
    let keys = KeyFiles::new();
    let (addr, _stop) = common::serve(signed_config(&mocks, &keys)).await;
    let mut c = client(addr).await;
    let before = signature_failures(&metrics.render(), "gbd_fl", "missing");
    let status = check(&mut c, demo::CAPABLE_ADULT).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("GBD FL"), "{}", status.message());
    assert!(signature_failures(&metrics.render(), "gbd_fl", "missing") > before);
}

#[tokio::test]
async fn if_present_accepts_unsigned_answers_but_not_tampered_ones() {
    let if_present = |mut config: Config| {
        config.shep.signing.as_mut().unwrap().verify_responses =
            registry_gateway::registry::signing::VerifyResponses::IfPresent;
        config
    };
    let keys = KeyFiles::new();
    let plain = common::demo_mocks(decision::today()).await;
    let (addr, _stop) = common::serve(if_present(signed_config(&plain, &keys))).await;
    let r = check(&mut client(addr).await, demo::CAPABLE_ADULT)
        .await
        .expect("unsigned accepted");
    assert_eq!(r.outcome(), pb::Outcome::Online);

    let signed = signed_mocks().await;
    signed
        .get(Registry::Zags)
        .set_faults(Faults::mode(FaultMode::TamperedSignature));
    let (addr, _stop2) = common::serve(if_present(signed_config(&signed, &keys))).await;
    let status = check(&mut client(addr).await, demo::CAPABLE_ADULT)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("IS ZAGS"), "{}", status.message());
}

#[tokio::test]
async fn a_gateway_that_does_not_sign_gets_the_security_fault() {
    let mocks = signed_mocks().await;
    // No [shep.signing]: requests go unsigned.
    let (addr, _stop) = common::serve(common::config_for(&mocks)).await;
    let mut c = client(addr).await;
    let status = check(&mut c, demo::CAPABLE_ADULT).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("GBD FL"), "{}", status.message());
    assert!(mocks.get(Registry::GbdFl).last_signer().is_none());
}

fn p12_config_error(keys: &KeyFiles, mocks: &MockRegistries) -> String {
    let config = signed_config(mocks, keys);
    match registry_gateway::registry::signing::Security::from_config(&config.shep) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn expired_or_unreadable_keys_are_refused_at_start() {
    let mocks = signed_mocks().await;
    let keys = KeyFiles::new();
    let pki = demo_pki();
    let expired = pki.ca.issue_for(
        "expired",
        Validity::Expired,
        pki.gateway.key_pkcs8_der.clone(),
    );
    keys.write_p12(&expired);
    let e = match registry_gateway::server::Gateway::start(signed_config(&mocks, &keys)).await {
        Ok(_) => panic!("an expired signing certificate must stop the start"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("shep.signing.pkcs12") && e.contains("expired"),
        "{e}"
    );

    keys.write_p12(&pki.gateway);
    std::fs::write(keys.dir.path().join("password"), "wrong").unwrap();
    let e = p12_config_error(&keys, &mocks);
    assert!(e.contains("wrong password"), "{e}");
    assert!(!e.contains(PASSWORD) && !e.contains("wrong\""), "{e}");

    std::fs::remove_file(keys.dir.path().join("password")).unwrap();
    let e = p12_config_error(&keys, &mocks);
    assert!(e.contains("shep.signing.password_file"), "{e}");
}

#[tokio::test]
async fn reload_rotates_the_key_and_refuses_an_expired_one() {
    let mocks = signed_mocks().await;
    let keys = KeyFiles::new();
    let config = signed_config(&mocks, &keys);
    let gateway = registry_gateway::server::Gateway::start(config.clone())
        .await
        .expect("starts");
    let reloader = gateway.reloader();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve(listener, async {
        let _ = stopped.await;
    }));
    let mut c = client(addr).await;
    check(&mut c, demo::CAPABLE_ADULT).await.expect("answered");
    let gbd = mocks.get(Registry::GbdFl);
    assert!(gbd.last_signer().unwrap().contains("demo sender"));

    // An expired key in the file: the reload is refused and the old key stays in use.
    let pki = demo_pki();
    let expired = pki.ca.issue_for(
        "expired",
        Validity::Expired,
        pki.gateway.key_pkcs8_der.clone(),
    );
    keys.write_p12(&expired);
    let e = reloader.reload(config.clone()).unwrap_err().to_string();
    assert!(e.contains("expired"), "{e}");
    check(&mut c, demo::MINOR).await.expect("still signing");
    assert!(gbd.last_signer().unwrap().contains("demo sender"));

    // A new key (rotation): used from the reload on.
    let rotated = pki.ca.issue_for(
        "rotated sender",
        Validity::Current,
        pki.gateway.key_pkcs8_der.clone(),
    );
    keys.write_p12(&rotated);
    reloader.reload(config).expect("reloaded");
    check(&mut c, demo::INCAPABLE_BY_COURT)
        .await
        .expect("answered");
    assert!(
        gbd.last_signer().unwrap().contains("rotated sender"),
        "{:?}",
        gbd.last_signer()
    );
    let _ = stop.send(());
}

#[test]
fn signing_configuration_is_validated_by_key() {
    let registries = |url: &str| {
        let mut text = String::new();
        for r in Registry::ALL {
            text.push_str(&format!(
                "[registries.{}]\nurl = \"{url}\"\nservice_id = \"S\"\nsender_id = \"me\"\n{}",
                r.key(),
                common::pinned(r)
            ));
        }
        text
    };
    let https = registries("https://shep.example.kz/bip-sync-wss-gost/");
    // Answers verified: every registry names its own signer, by a well-formed pin.
    let signing =
        "[shep.signing]\npkcs12 = \"/k.p12\"\npassword_env = \"P\"\ntrust_store = \"/t.pem\"\n";
    let unpinned = https.replacen(&common::pinned(Registry::GbdFl), "", 1);
    let e = Config::from_toml(&format!("{signing}{unpinned}")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("registries.gbd_fl.answer_signers")
            && e.to_string().contains("trust store alone"),
        "{e}"
    );
    Config::from_toml(&format!("{signing}verify_responses = \"off\"\n{unpinned}")).unwrap();
    let short = https.replacen("spki_sha256 = \"", "spki_sha256 = \"ab", 1);
    let e = Config::from_toml(&short).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("registries.gbd_fl.answer_signers[0].spki_sha256"),
        "{e}"
    );
    let e = Config::from_toml(&registries("http://shep.example.kz/x")).unwrap_err();
    assert!(
        e.to_string().starts_with("registries.gbd_fl.url") && e.to_string().contains("loopback"),
        "{e}"
    );
    Config::from_toml(&registries("http://127.0.0.1:18080/shep")).unwrap();
    Config::from_toml(&registries("http://[::1]:18080/shep")).unwrap();
    Config::from_toml(&registries("http://localhost:18080/shep")).unwrap();

    let cases = [
        ("[shep.signing]\npkcs12 = \"/k.p12\"\ntrust_store = \"/t.pem\"", "shep.signing.password_env"),
        ("[shep.signing]\npkcs12 = \"/k.p12\"\npassword_env = \"P\"\npassword_file = \"/p\"\ntrust_store = \"/t.pem\"", "shep.signing.password_env"),
        ("[shep.signing]\npassword_env = \"P\"\ntrust_store = \"/t.pem\"", "shep.signing.pkcs12"),
        ("[shep.signing]\npkcs12 = \"/k.p12\"\npassword_env = \"P\"", "shep.signing.trust_store"),
        ("[shep.signing]\nsigner = \"http\"\ntrust_store = \"/t.pem\"", "shep.signing.http"),
        ("[shep.signing]\nsigner = \"http\"\nhttp = { url = \"ftp://x\" }\ntrust_store = \"/t.pem\"", "shep.signing.http.url"),
        ("[shep.signing]\npkcs12 = \"/k.p12\"\npassword_env = \"P\"\ntrust_store = \"/t.pem\"\n[shep.signing.registries.gbdfl]\npkcs12 = \"/g.p12\"", "shep.signing.registries.gbdfl"),
        ("[shep.signing]\npkcs12 = \"/k.p12\"\npassword_env = \"P\"\nverify_responses = \"off\"\n[shep.signing.registries.gbd_fl]\nsigner = \"http\"", "shep.signing.registries.gbd_fl.http"),
        ("[shep.tls]\nclient_cert = \"/c.pem\"", "shep.tls.client_cert"),
    ];
    for (signing, key) in cases {
        let e = Config::from_toml(&format!("{signing}\n{https}")).unwrap_err();
        assert!(e.to_string().starts_with(key), "{key}: {e}");
    }
    // The password itself is not a key.
    let e = Config::from_toml(&format!(
        "[shep.signing]\npkcs12 = \"/k.p12\"\npassword = \"secret\"\ntrust_store = \"/t.pem\"\n{https}"
    ))
    .unwrap_err();
    assert!(e.to_string().contains("password"), "{e}");
    // Per-registry keys: gbd_fl its own file with its own password source.
    let c = Config::from_toml(&format!(
        "[shep.signing]\npkcs12 = \"/k.p12\"\npassword_env = \"P\"\ntrust_store = \"/t.pem\"\n[shep.signing.registries.gbd_fl]\npkcs12 = \"/g.p12\"\npassword_file = \"/g.pw\"\n{https}"
    ))
    .unwrap();
    assert!(c.shep.signing.is_some());
    // [shep.signing] is for configured registries; the embedded mocks use demo keys.
    let e = Config::from_toml(
        "[shep.signing]\npkcs12 = \"/k.p12\"\npassword_env = \"P\"\ntrust_store = \"/t.pem\"",
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("shep.signing:"), "{e}");
}

/// An external signing service on loopback: signs with the demo gateway key, or answers
/// HTTP 503 for the first `fail_first` requests.
async fn external_signer(
    fail_first: u64,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
    external_signer_with(fail_first, |body| body).await
}

/// [`external_signer`] that passes the envelope through `change` before signing it.
async fn external_signer_with(
    fail_first: u64,
    change: fn(String) -> String,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    let credentials = Arc::new(demo_pki().gateway.credentials());
    let app = axum::Router::new()
        .route("/verify", axum::routing::post(external_verify))
        .route(
            "/sign",
            axum::routing::post(move |body: String| {
                let credentials = credentials.clone();
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < fail_first {
                        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new());
                    }
                    let body = change(body);
                    match shep_wss::sign_envelope(
                        &body,
                        &credentials,
                        chrono::Utc::now(),
                        std::time::Duration::from_secs(60),
                    ) {
                        Ok(signed) => (axum::http::StatusCode::OK, signed),
                        Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

/// The external service's verification, as a GOST crypto service would report it (here over
/// the demo CA's RSA keys): valid or not, the signer's certificate, the signed times and the
/// canonical Body. Binding and pinning are not its business.
async fn external_verify(body: String) -> axum::Json<serde_json::Value> {
    use base64::Engine;
    let doc = roxmltree::Document::parse(&body).unwrap();
    let options = shep_wss::VerifyOptions {
        max_skew: std::time::Duration::from_secs(3600),
        max_age: std::time::Duration::from_secs(3600),
        sent_at: None,
    };
    let trust = demo_pki().ca.trust_store();
    axum::Json(
        match shep_wss::verify_envelope(&doc, &body, &trust, chrono::Utc::now(), &options) {
            Ok(shep_wss::Verdict::Signed(signed)) => {
                let token = body
                    .split("BinarySecurityToken")
                    .nth(1)
                    .and_then(|t| t.split('>').nth(1))
                    .and_then(|t| t.split('<').next())
                    .unwrap();
                let cert = base64::engine::general_purpose::STANDARD
                    .decode(token)
                    .unwrap();
                serde_json::json!({
                    "valid": true,
                    "certificate": base64::engine::general_purpose::STANDARD.encode(cert),
                    "created": signed.created,
                    "expires": signed.expires,
                    "canonical_body": signed.body,
                })
            }
            Ok(shep_wss::Verdict::Unsigned) => {
                serde_json::json!({"valid": false, "reason": "unsigned"})
            }
            Err(e) => serde_json::json!({"valid": false, "reason": e.to_string()}),
        },
    )
}

fn http_signer_config(
    mocks: &MockRegistries,
    keys: &KeyFiles,
    signer: std::net::SocketAddr,
    attempts: u32,
) -> Config {
    let mut config = signed_config(mocks, keys);
    let signing = config.shep.signing.as_mut().unwrap();
    signing.signer = registry_gateway::registry::signing::SignerKind::Http;
    signing.pkcs12 = None;
    signing.password_file = None;
    signing.http = Some(registry_gateway::registry::signing::HttpSignerConfig {
        url: format!("http://{signer}/sign"),
        verify_url: Some(format!("http://{signer}/verify")),
        timeout: std::time::Duration::from_secs(2),
        max_attempts: attempts,
    });
    config.validate().expect("valid");
    config
}

#[tokio::test]
async fn the_external_http_signer_signs_with_retries() {
    use std::sync::atomic::Ordering;
    let mocks = signed_mocks().await;
    let keys = KeyFiles::new();
    // The first request to the signer fails with 503; the retry signs.
    let (signer, seen) = external_signer(1).await;
    let (addr, _stop) = common::serve(http_signer_config(&mocks, &keys, signer, 2)).await;
    let mut c = client(addr).await;
    let r = check(&mut c, demo::CAPABLE_ADULT).await.expect("answered");
    assert_eq!(r.outcome(), pb::Outcome::Online);
    // Three registries, one retry.
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    assert!(mocks
        .get(Registry::Zags)
        .last_signer()
        .unwrap()
        .contains("demo sender"));
}

#[tokio::test]
async fn a_failing_external_signer_calls_no_registry() {
    let mocks = signed_mocks().await;
    let keys = KeyFiles::new();
    let (signer, _) = external_signer(u64::MAX).await;
    let (addr, _stop) = common::serve(http_signer_config(&mocks, &keys, signer, 1)).await;
    let mut c = client(addr).await;
    let status = check(&mut c, demo::CAPABLE_ADULT).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    for mock in mocks.iter() {
        assert_eq!(
            mock.calls(),
            0,
            "{:?} was called with an unsigned request",
            mock.registry()
        );
    }
}

#[tokio::test]
async fn an_external_signer_that_changes_the_body_is_refused() {
    let mocks = signed_mocks().await;
    let keys = KeyFiles::new();
    let (signer, _) = external_signer_with(0, |body| body.replace("<iin>", "<iin> ")).await;
    let (addr, _stop) = common::serve(http_signer_config(&mocks, &keys, signer, 1)).await;
    let mut c = client(addr).await;
    let status = check(&mut c, demo::CAPABLE_ADULT).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    for mock in mocks.iter() {
        assert_eq!(mock.calls(), 0, "{:?} was called", mock.registry());
    }
}

#[tokio::test]
async fn one_registry_can_have_its_own_sender_key() {
    let mocks = signed_mocks().await;
    let keys = KeyFiles::new();
    let pki = demo_pki();
    let own = pki.ca.issue_for(
        "gbd fl sender",
        Validity::Current,
        pki.gateway.key_pkcs8_der.clone(),
    );
    std::fs::write(keys.dir.path().join("gbd.p12"), own.pkcs12("other")).unwrap();
    std::fs::write(keys.dir.path().join("gbd.pw"), "other").unwrap();
    let mut config = signed_config(&mocks, &keys);
    config.shep.signing.as_mut().unwrap().registries.insert(
        "gbd_fl".into(),
        registry_gateway::registry::signing::SignerOverride {
            pkcs12: Some(keys.dir.path().join("gbd.p12")),
            password_file: Some(keys.dir.path().join("gbd.pw")),
            ..Default::default()
        },
    );
    config.validate().unwrap();
    let (addr, _stop) = common::serve(config).await;
    let mut c = client(addr).await;
    check(&mut c, demo::CAPABLE_ADULT).await.expect("answered");
    let signer = |r| mocks.get(r).last_signer().unwrap();
    assert!(signer(Registry::GbdFl).contains("gbd fl sender"));
    assert!(signer(Registry::Zags).contains("demo sender"));
}

#[tokio::test]
async fn gost_answers_are_verified_by_the_external_service_and_bound_here() {
    use registry_gateway::registry::signing::VerifyWith;
    let metrics = registry_gateway::metrics::install();
    let valid = |m: &str| {
        m.lines()
            .find_map(|l| {
                l.strip_prefix("gateway_shep_external_verifications_total{outcome=\"valid\"} ")
            })
            .map_or(0.0, |v| v.trim().parse::<f64>().unwrap())
    };
    let keys = KeyFiles::new();
    let (service, _) = external_signer(0).await;
    let with_remote = |mocks: &MockRegistries| {
        let mut config = http_signer_config(mocks, &keys, service, 1);
        config.shep.signing.as_mut().unwrap().verify_with = VerifyWith::Http;
        config
    };
    // Every answer verified by the service, and decided on.
    let mocks = signed_mocks().await;
    let before = valid(&metrics.render());
    let (addr, _stop) = common::serve(with_remote(&mocks)).await;
    let mut c = client(addr).await;
    let r = check(&mut c, demo::CAPABLE_ADULT).await.expect("answered");
    assert_eq!(r.outcome(), pb::Outcome::Online);
    assert!(
        valid(&metrics.render()) >= before + 3.0,
        "three registries verified remotely"
    );

    // GBD FL's answers signed with IS ZAGS's key: the service finds the signature valid, the
    // gateway's pin refuses it.
    let pki = demo_pki();
    let swapped = MockSigning {
        credentials: registry_mocks::PerRegistry::from_fn(|r| {
            let key = if r == Registry::GbdFl {
                Registry::Zags
            } else {
                r
            };
            Arc::new(pki.registries[key].credentials())
        }),
        trust: pki.ca.trust_store(),
        require_signed_requests: true,
        sign_answers: true,
    };
    let mocks = MockRegistries::spawn_signed(
        Arc::new(Fixture::demo().with_today(decision::today())),
        Arc::new(swapped),
    )
    .await
    .unwrap();
    let before = signature_failures(&metrics.render(), "gbd_fl", "signer");
    let (addr, _stop) = common::serve(with_remote(&mocks)).await;
    let status = check(&mut client(addr).await, demo::CAPABLE_ADULT)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(signature_failures(&metrics.render(), "gbd_fl", "signer") > before);

    // The service down: the answer is not used, and the registry is not blamed for it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mocks = signed_mocks().await;
    let mut config = with_remote(&mocks);
    config
        .shep
        .signing
        .as_mut()
        .unwrap()
        .http
        .as_mut()
        .unwrap()
        .verify_url = Some(format!("http://{closed}/verify"));
    let (addr, _stop) = common::serve(config).await;
    let status = check(&mut client(addr).await, demo::CAPABLE_ADULT)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("could not be verified"),
        "{}",
        status.message()
    );
}
