//! A caller's input is never a registry's failure (issue 22, test 2): consent tokens holding
//! characters XML 1.0 forbids are refused before any registry call, naming the field; a
//! registry answering `soap:Client` faults (the request's fault) leaves its breaker closed and
//! is not retried. Also: a caller with no rights and no `x-purpose` learns only that it has no
//! rights.
//!
//! Real gateway on 127.0.0.1:0 in front of the demo mocks, real tonic client.

mod common;

use common::Harness;

use registry_gateway::api::pb::{
    self, gateway_admin_service_client::GatewayAdminServiceClient,
    registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::registry::Registry;
use registry_mocks::{demo, FaultMode, Faults};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

async fn breaker(channel: &Channel, registry: pb::Registry) -> pb::BreakerState {
    GatewayAdminServiceClient::new(channel.clone())
        .get_registry_status(pb::GetRegistryStatusRequest {})
        .await
        .expect("GetRegistryStatus is never refused")
        .into_inner()
        .registries
        .into_iter()
        .find(|r| r.registry() == registry)
        .expect("every registry has a status")
        .breaker()
}

/// One of each class of character XML 1.0 forbids.
const FORBIDDEN: [char; 9] = [
    '\u{0}', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{e}', '\u{1f}', '\u{fffe}', '\u{ffff}',
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_xml_cannot_hold_are_refused_before_any_registry_call() {
    let h = Harness::start(|_| {}).await;
    let (addr, mocks) = (h.addr, &h.mocks);
    let channel = common::connect(addr).await;
    let mut client = RegistryGatewayServiceClient::new(channel.clone());
    let gbd_fl = mocks.get(Registry::GbdFl);
    gbd_fl.reset_calls();
    let mut refused = 0;
    for c in FORBIDDEN {
        for i in 0..20 {
            let token = format!("kdp-demo-{}{c}{i}", demo::CAPABLE_ADULT);
            let status = client
                .get_person(pb::GetPersonRequest {
                    iin: demo::CAPABLE_ADULT.into(),
                    consent_token: token.clone(),
                })
                .await
                .expect_err("refused");
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "U+{:04X}: {status:?}",
                c as u32
            );
            let details = status.get_error_details();
            let violation = &details.bad_request().unwrap().field_violations[0];
            assert_eq!(violation.field, "consent_token");
            assert!(violation.description.contains("XML 1.0"), "{violation:?}");
            assert!(
                !status.message().contains(&token),
                "the token is not echoed"
            );
            refused += 1;
        }
    }
    let status = client
        .check_owner(pb::CheckOwnerRequest {
            owner_iin: demo::CAPABLE_ADULT.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            consent_token: "\u{1}".into(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(gbd_fl.calls(), 0, "GBD FL saw none of them");
    assert_eq!(
        breaker(&channel, pb::Registry::GbdFl).await,
        pb::BreakerState::Closed
    );
    let person = client
        .get_person(pb::GetPersonRequest {
            iin: demo::CAPABLE_ADULT.into(),
            consent_token: format!("kdp-demo-{}", demo::CAPABLE_ADULT),
        })
        .await;
    assert!(person.is_ok(), "{person:?}");
    eprintln!("issue 22 test 2: {refused} GetPerson refused (9 classes x 20), GBD FL calls 0, breaker closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soap_client_faults_are_the_callers_and_leave_the_breaker_closed() {
    let h = Harness::start(|_| {}).await;
    let (addr, mocks) = (h.addr, &h.mocks);
    let channel = common::connect(addr).await;
    let mut client = RegistryGatewayServiceClient::new(channel.clone());
    let gbd_fl = mocks.get(Registry::GbdFl);
    gbd_fl.set_faults(Faults::mode(FaultMode::ClientFault));
    gbd_fl.reset_calls();
    for i in 0..20 {
        let result = if i % 2 == 0 {
            client
                .get_person(pb::GetPersonRequest {
                    iin: demo::CAPABLE_ADULT.into(),
                    consent_token: format!("kdp-demo-{}", demo::CAPABLE_ADULT),
                })
                .await
                .map(drop)
        } else {
            client
                .check_owner(pb::CheckOwnerRequest {
                    owner_iin: demo::CAPABLE_ADULT.into(),
                    service: pb::Service::RegistrationAtResidence.into(),
                    ..Default::default()
                })
                .await
                .map(drop)
        };
        let status = result.expect_err("GBD FL refuses the request");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let details = status.get_error_details();
        let info = details.error_info().unwrap();
        assert_eq!(info.reason, "REQUEST_REFUSED_BY_REGISTRY");
        assert_eq!(info.metadata["registry"], "gbd_fl");
        assert!(details.retry_info().is_none(), "not to be retried as it is");
        assert!(
            !status.message().contains("injected"),
            "no registry text: {status:?}"
        );
    }
    assert_eq!(gbd_fl.calls(), 20, "one request per call: none retried");
    assert_eq!(
        breaker(&channel, pb::Registry::GbdFl).await,
        pb::BreakerState::Closed
    );
    gbd_fl.set_faults(Faults::none());
    let answer = client
        .check_owner(pb::CheckOwnerRequest {
            owner_iin: demo::CAPABLE_ADULT.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            ..Default::default()
        })
        .await
        .expect("another caller is answered");
    assert_eq!(answer.into_inner().outcome(), pb::Outcome::Online);
    eprintln!("issue 22 test 2: 20 soap:Client faults, 20 GBD FL calls (no retry), breaker closed");
}

/// Rights come first: a caller with no rights that also breaks a metadata rule (no
/// `x-purpose`, required) and sends a malformed request learns only that it has no rights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_without_rights_learns_nothing_about_the_request_rules() {
    let today = registry_gateway::decision::today();
    let mocks = common::demo_mocks(today).await;
    let mut config = common::config_for(&mocks);
    config.access = Some(registry_gateway::access::AccessConfig {
        require_purpose: true,
        require_request_id: false,
        plaintext_client: None,
        clients: Default::default(),
    });
    let (addr, _stop) = common::serve(config).await;
    let mut client = RegistryGatewayServiceClient::new(common::connect(addr).await);
    let status = client
        .get_person(pb::GetPersonRequest {
            iin: "not an iin".into(),
            consent_token: "\u{1}".into(),
        })
        .await
        .expect_err("no rights");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(mocks.get(Registry::GbdFl).calls(), 0);
}

/// A JSON key given twice is refused with 400 naming it, before any registry call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_key_given_twice_is_refused_naming_it() {
    let h = Harness::start(|_| {}).await;
    let (addr, mocks) = (h.addr, &h.mocks);
    mocks.get(Registry::GbdFl).reset_calls();
    let body = format!(
        r#"{{"ownerIin":"{}","ownerIin":"{}","service":"SERVICE_REGISTRATION_AT_RESIDENCE"}}"#,
        demo::CAPABLE_ADULT,
        demo::MINOR
    );
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/owners:check"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let violation = &error["details"][0]["fieldViolations"][0];
    assert_eq!(violation["field"], "ownerIin", "{error}");
    assert_eq!(mocks.get(Registry::GbdFl).calls(), 0);
}
