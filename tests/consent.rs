//! Consent for personal data, end to end: the gateway and the mock registries on loopback, a
//! tonic client, the audit log on disk. No caller reads a person's record on another caller's
//! consent; a missing token is refused before any registry call; a token GBD FL refuses is
//! the caller's answer (not retried, not cached, not the breaker's); CheckOwner uses GBD FL's
//! shared cache only when configured to; every case leaves the audit record that says so.

mod common;

use common::Harness;

use registry_gateway::api::pb::{
    self, gateway_admin_service_client::GatewayAdminServiceClient,
    registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::registry::Registry;
use registry_gateway::Config;
use registry_mocks::demo;
use serde_json::Value;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

impl Harness {
    /// A caller of its own: a connection of its own.
    async fn caller(&self) -> RegistryGatewayServiceClient<Channel> {
        RegistryGatewayServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("gateway accepts connections")
    }

    fn calls(&self, r: Registry) -> u64 {
        self.mocks.get(r).calls()
    }

    async fn gbd_fl_status(&self) -> pb::RegistryStatus {
        GatewayAdminServiceClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
            .get_registry_status(pb::GetRegistryStatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .registries
            .into_iter()
            .find(|r| r.registry() == pb::Registry::GbdFl)
            .expect("GBD FL has a status")
    }

    /// The audit records so far (each answered only once its record is written).
    fn audit(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.audit_log()).unwrap_or_default();
        assert!(
            !text.contains(demo::CONSENT_PREFIX),
            "a consent token in the audit log"
        );
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn check_owner(&self, owner: &str, token: &str) -> pb::CheckOwnerRequest {
        pb::CheckOwnerRequest {
            owner_iin: owner.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            applicant_iin: String::new(),
            decision_date: self.today.clone(),
            consent_token: token.into(),
            ..Default::default()
        }
    }
}

fn person(iin: &str, token: &str) -> pb::GetPersonRequest {
    pb::GetPersonRequest {
        iin: iin.into(),
        consent_token: token.into(),
    }
}

/// The registries of an audit record as (registry, status, from_cache).
fn uses(record: &Value) -> Vec<(String, String, bool)> {
    record["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["registry"].as_str().unwrap().to_owned(),
                u["status"].as_str().unwrap().to_owned(),
                u["from_cache"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn gbd_fl_use(record: &Value) -> (String, bool) {
    uses(record)
        .into_iter()
        .find(|(r, _, _)| r == "gbd_fl")
        .map(|(_, status, cached)| (status, cached))
        .expect("GBD FL in the record")
}

fn assert_consent_refused(status: &tonic::Status) {
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status
            .message()
            .contains("GBD FL refused the consent token"),
        "{}",
        status.message()
    );
    let details = status.get_error_details();
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "CONSENT_REFUSED");
    assert_eq!(info.metadata["registry"], "gbd_fl");
    assert!(
        details.retry_info().is_none(),
        "no retry advice: {status:?}"
    );
}

/// One caller reads a person's record with the person's token; a second caller without a
/// token is refused before any registry call, although the person's GBD FL answer sits in the
/// shared cache; the second caller with another person's token reaches GBD FL and is refused.
#[tokio::test]
async fn no_caller_reads_a_record_on_another_callers_consent() {
    let h = Harness::audited(|c| c.consent.check_owner_shared_cache = true).await;
    let adult = demo::CAPABLE_ADULT;
    let valid = demo::consent(adult);
    let mut first = h.caller().await;
    let mut second = h.caller().await;

    // CheckOwner keeps the person's facts (shared), never the record.
    first
        .check_owner(h.check_owner(adult, &valid))
        .await
        .unwrap();
    assert_eq!(h.calls(Registry::GbdFl), 1);
    assert_eq!(h.gbd_fl_status().await.cache_entries, 0, "no record cached");

    // The first caller's GetPerson reaches GBD FL with its token: not from the cache.
    let got = first
        .get_person(person(adult, &valid))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.person.unwrap().iin, adult);
    assert!(!got.evidence.unwrap().from_cache);
    assert_eq!(h.calls(Registry::GbdFl), 2);

    // The second caller, without a token, while the answer is cached: refused, no registry call.
    let refused = second.get_person(person(adult, "")).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("consent_token"),
        "{}",
        refused.message()
    );
    let details = refused.get_error_details();
    let violation = &details
        .precondition_failure()
        .expect("PreconditionFailure")
        .violations[0];
    assert_eq!(violation.r#type, "CONSENT_REQUIRED");
    assert_eq!(violation.subject, "consent_token");
    assert_eq!(
        h.calls(Registry::GbdFl),
        2,
        "refused before any registry call"
    );
    assert_eq!(h.gbd_fl_status().await.cache_entries, 0, "nothing cached");

    // The second caller with another person's token: GBD FL is asked, and refuses.
    let foreign = demo::consent(demo::MINOR);
    let refused = second
        .get_person(person(adult, &foreign))
        .await
        .unwrap_err();
    assert_consent_refused(&refused);
    assert_eq!(h.calls(Registry::GbdFl), 3);

    // The audit: the basis of each access, never the token.
    let records = h.audit();
    assert_eq!(records.len(), 4, "{records:#?}");
    let (check, read, missing, other) = (&records[0], &records[1], &records[2], &records[3]);
    assert_eq!(check["rpc"], "CheckOwner");
    assert_eq!(check["consent"], "presented");
    assert_eq!(gbd_fl_use(check), ("found".into(), false));
    assert_eq!(read["rpc"], "GetPerson");
    assert_eq!(read["outcome"], "FOUND");
    assert_eq!(read["consent"], "presented");
    let reference = read["consent_ref"].as_str().unwrap();
    assert!(
        reference.starts_with("kdp#") && reference.len() == 36,
        "{reference}"
    );
    assert_eq!(
        check["consent_ref"], read["consent_ref"],
        "same token, same reference"
    );
    assert_eq!(gbd_fl_use(read), ("found".into(), false));
    assert_eq!(missing["outcome"], "FailedPrecondition");
    assert_eq!(missing["consent"], "absent");
    assert!(missing.get("consent_ref").is_none(), "{missing}");
    assert!(uses(missing).is_empty(), "no registry was asked: {missing}");
    assert_eq!(other["outcome"], "PermissionDenied");
    assert_eq!(other["consent"], "presented");
    assert_ne!(other["consent_ref"], read["consent_ref"]);
    assert_eq!(gbd_fl_use(other), ("consent_refused".into(), false));
    for r in &records {
        assert_eq!(r["subject"], adult);
    }
}

/// Another person's token, again and again: each call is refused by GBD FL and mapped to
/// PERMISSION_DENIED naming the consent, never retried, and the breaker (2 failures in a row
/// would open it) stays closed: the next valid call is answered.
#[tokio::test]
async fn a_refused_token_is_the_callers_answer_and_leaves_the_breaker_alone() {
    let h = Harness::audited(|c| {
        let d = &mut c.resilience.defaults;
        d.max_attempts = 3;
        d.breaker.consecutive_failures = 2;
        d.breaker.min_calls = 2;
    })
    .await;
    let adult = demo::CAPABLE_ADULT;
    let mut client = h.caller().await;
    let foreign = demo::consent(demo::MINOR_MOTHER);
    for n in 1..=4 {
        let e = client
            .get_person(person(adult, &foreign))
            .await
            .unwrap_err();
        assert_consent_refused(&e);
        assert_eq!(h.calls(Registry::GbdFl), n, "not retried");
    }
    // An expired token and an unknown one are refused alike; so is CheckOwner, whatever the
    // other registries say.
    let e = client
        .get_person(person(adult, demo::EXPIRED_CONSENT))
        .await
        .unwrap_err();
    assert_consent_refused(&e);
    let e = client
        .get_person(person(adult, "kdp-token"))
        .await
        .unwrap_err();
    assert_consent_refused(&e);
    let e = client
        .check_owner(h.check_owner(adult, &foreign))
        .await
        .unwrap_err();
    assert_consent_refused(&e);
    assert_eq!(h.calls(Registry::GbdFl), 7);

    let status = h.gbd_fl_status().await;
    assert_eq!(status.breaker(), pb::BreakerState::Closed);
    assert_eq!(status.cache_entries, 0, "a refusal is never cached");
    let ok = client
        .get_person(person(adult, &demo::consent(adult)))
        .await
        .expect("answered: GBD FL was never taken for down");
    assert_eq!(ok.into_inner().person.unwrap().iin, adult);

    let records = h.audit();
    assert_eq!(records.len(), 8);
    for r in &records[..7] {
        assert_eq!(r["outcome"], "PermissionDenied", "{r}");
        assert_eq!(r["consent"], "presented");
        assert_eq!(gbd_fl_use(r), ("consent_refused".into(), false));
    }
    assert_eq!(records[6]["rpc"], "CheckOwner");
    assert_eq!(records[7]["outcome"], "FOUND");
}

/// `consent.check_owner_shared_cache = false`: every CheckOwner reaches GBD FL with its own
/// token (IS ZAGS and E-social security stay cached), so a foreign token is refused even right
/// after a valid one for that person.
#[tokio::test]
async fn check_owner_without_the_shared_cache_asks_gbd_fl_with_each_token() {
    let h = Harness::audited(|c| c.consent.check_owner_shared_cache = false).await;
    let adult = demo::CAPABLE_ADULT;
    let valid = demo::consent(adult);
    let mut client = h.caller().await;
    for _ in 0..2 {
        let answer = client
            .check_owner(h.check_owner(adult, &valid))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.outcome(), pb::Outcome::Online);
    }
    assert_eq!(h.calls(Registry::GbdFl), 2, "GBD FL asked each time");
    assert_eq!(h.calls(Registry::Zags), 1, "IS ZAGS still cached");
    let e = client
        .check_owner(h.check_owner(adult, &demo::consent(demo::MINOR)))
        .await
        .unwrap_err();
    assert_consent_refused(&e);
    assert_eq!(h.calls(Registry::GbdFl), 3);

    let records = h.audit();
    assert_eq!(records.len(), 3);
    assert_eq!(gbd_fl_use(&records[1]), ("found".into(), false));
    assert!(
        uses(&records[1])
            .iter()
            .any(|(r, _, cached)| r == "zags" && *cached),
        "{}",
        records[1]
    );
    assert_eq!(records[2]["outcome"], "PermissionDenied");
    assert_eq!(gbd_fl_use(&records[2]), ("consent_refused".into(), false));
}

/// By default (`consent.check_owner_shared_cache = true`) a second CheckOwner, even with
/// another token, is answered from GBD FL's facts in the owner-facts cache; the audit says
/// so, with that caller's token reference.
#[tokio::test]
async fn check_owner_with_the_shared_cache_answers_from_it() {
    let h = Harness::audited(|_| {}).await;
    let adult = demo::CAPABLE_ADULT;
    let mut client = h.caller().await;
    client
        .check_owner(h.check_owner(adult, &demo::consent(adult)))
        .await
        .unwrap();
    let second = client
        .check_owner(h.check_owner(adult, &demo::consent(demo::MINOR)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.outcome(), pb::Outcome::Online);
    let gbd = second
        .evidence
        .iter()
        .find(|e| e.registry() == pb::Registry::GbdFl)
        .unwrap();
    assert!(gbd.from_cache);
    assert_eq!(
        h.calls(Registry::GbdFl),
        1,
        "answered from the shared cache"
    );

    let records = h.audit();
    assert_eq!(records.len(), 2);
    assert_eq!(gbd_fl_use(&records[0]), ("found".into(), false));
    assert_eq!(gbd_fl_use(&records[1]), ("found".into(), true));
    assert_eq!(records[1]["consent"], "presented");
    assert_ne!(records[0]["consent_ref"], records[1]["consent_ref"]);
}

/// With `[access]`, each client system's `consent_required` decides: here CheckOwner needs a
/// token and GetPerson does not (for this client only).
#[tokio::test]
async fn consent_required_is_per_client_and_rpc() {
    let h = Harness::audited(|c| {
        let parsed = Config::from_toml(
            r#"
            [access]
            plaintext_client = "ops"
            [access.clients.ops]
            rpcs = ["CheckOwner", "GetPerson"]
            consent_required = ["CheckOwner"]
            "#,
        )
        .unwrap();
        c.access = parsed.access;
    })
    .await;
    let mut client = h.caller().await;
    let e = client
        .check_owner(h.check_owner(demo::CAPABLE_ADULT, ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("CheckOwner"), "{}", e.message());
    assert_eq!(h.calls(Registry::GbdFl), 0);
    // An organisation has no consent to give.
    let org = client
        .check_owner(h.check_owner(demo::ORGANISATION_BIN, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org.outcome(), pb::Outcome::Online);
    let got = client
        .get_person(person(demo::CAPABLE_ADULT, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.person.unwrap().iin, demo::CAPABLE_ADULT);
    let records = h.audit();
    assert_eq!(records[0]["consent"], "absent");
    assert_eq!(records[0]["outcome"], "FailedPrecondition");
    assert_eq!(records[2]["consent"], "absent");
    assert_eq!(records[2]["outcome"], "FOUND");
}
