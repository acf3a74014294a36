//! End to end: the five mock registries and the gateway on 127.0.0.1:0 in this process, a
//! tonic client, the demo fixture. Every CheckOwner outcome, every look-up, caller errors, and
//! a stopped registry.

mod common;

use common::Harness;

use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::decision;
use registry_gateway::registry::Registry;
use registry_mocks::demo;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

use pb::{Outcome, ReasonCode, RepresentativeRole};

impl Harness {
    async fn check(
        &mut self,
        owner: &str,
        applicant: &str,
    ) -> Result<pb::CheckOwnerResponse, tonic::Status> {
        // A demo person born relative to today is asked for by today's IIN.
        let today = self.today.parse().unwrap();
        self.client()
            .check_owner(pb::CheckOwnerRequest {
                owner_iin: demo::iin(owner, today),
                service: pb::Service::RegistrationAtResidence.into(),
                applicant_iin: demo::iin(applicant, today),
                decision_date: self.today.clone(),
                consent_token: String::new(),
                ..Default::default()
            })
            .await
            .map(tonic::Response::into_inner)
    }
}

/// Owner, applicant, expected outcome, reason codes and representative role.
type Case<'a> = (
    &'a str,
    &'a str,
    Outcome,
    &'a [ReasonCode],
    Option<RepresentativeRole>,
);

fn reason_codes(r: &pb::CheckOwnerResponse) -> Vec<ReasonCode> {
    r.reasons.iter().map(|r| r.code()).collect()
}

#[tokio::test]
async fn every_outcome_of_the_demo_fixture() {
    // CheckOwner may use GBD FL's shared cache here, so that the second check below is all
    // cached (the default, each check reaching GBD FL with its token, is in tests/consent.rs).
    let mut h = Harness::start(|c| c.consent.check_owner_shared_cache = true).await;
    use ReasonCode::*;
    let cases: &[Case] = &[
        (
            demo::CAPABLE_ADULT,
            "",
            Outcome::Online,
            &[OwnerCapableAdult],
            None,
        ),
        (
            demo::MINOR,
            demo::MINOR_MOTHER,
            Outcome::OperationalHall,
            &[OwnerMinor],
            Some(RepresentativeRole::Mother),
        ),
        (
            demo::MINOR,
            demo::MINOR_FATHER,
            Outcome::OperationalHall,
            &[OwnerMinor],
            Some(RepresentativeRole::Father),
        ),
        (
            demo::MINOR,
            demo::CAPABLE_ADULT,
            Outcome::OperationalHall,
            &[OwnerMinor],
            Some(RepresentativeRole::NotConfirmed),
        ),
        (
            demo::TURNS_18_TODAY,
            "",
            Outcome::Online,
            &[OwnerCapableAdult],
            None,
        ),
        (
            demo::TURNS_18_TOMORROW,
            "",
            Outcome::OperationalHall,
            &[OwnerMinor],
            None,
        ),
        (
            demo::INCAPABLE_BY_COURT,
            demo::INCAPABLE_GUARDIAN,
            Outcome::OperationalHall,
            &[OwnerIncapable, OwnerUnderGuardianship],
            Some(RepresentativeRole::Guardian),
        ),
        (
            demo::LIMITED_CAPACITY,
            demo::LIMITED_TRUSTEE,
            Outcome::OperationalHall,
            &[OwnerLimitedCapacity, OwnerUnderTrusteeship],
            Some(RepresentativeRole::Trustee),
        ),
        (
            demo::GUARDIANSHIP_ONLY,
            demo::GUARDIANSHIP_ONLY_GUARDIAN,
            Outcome::OperationalHall,
            &[OwnerUnderGuardianship],
            Some(RepresentativeRole::Guardian),
        ),
        (
            demo::MINOR_IN_CARE,
            "",
            Outcome::OperationalHall,
            &[OwnerMinor, OwnerUnderTrusteeship],
            None,
        ),
        (
            demo::DECEASED_GBD,
            "",
            Outcome::RefusedHere,
            &[OwnerDeceased, OwnerDeceased],
            None,
        ),
        (
            demo::DECEASED_ZAGS_ONLY,
            "",
            Outcome::RefusedHere,
            &[OwnerDeceased],
            None,
        ),
        (
            demo::UNKNOWN,
            "",
            Outcome::RefusedHere,
            &[OwnerNotFound],
            None,
        ),
        (
            demo::ORGANISATION_BIN,
            "",
            Outcome::Online,
            &[OwnerIsOrganisation],
            None,
        ),
        (
            demo::STUDENT,
            "",
            Outcome::Online,
            &[OwnerCapableAdult],
            None,
        ),
        (
            demo::MARRIED_MINOR,
            "",
            Outcome::OperationalHall,
            &[OwnerMinor],
            None,
        ),
        (
            demo::DECLARED_MISSING,
            demo::MISSING_TRUSTEE,
            Outcome::OperationalHall,
            &[OwnerDeclaredMissing],
            Some(RepresentativeRole::Trustee),
        ),
    ];
    for (owner, applicant, outcome, codes, role) in cases {
        let r = h
            .check(owner, applicant)
            .await
            .unwrap_or_else(|s| panic!("{owner}: {s:?}"));
        assert_eq!(r.outcome(), *outcome, "{owner}: {r:?}");
        assert_eq!(reason_codes(&r), *codes, "{owner}: {r:?}");
        assert_eq!(
            r.representation.as_ref().map(|p| p.role()),
            *role,
            "{owner}: {r:?}"
        );
        let item = match outcome {
            Outcome::OperationalHall => "4",
            Outcome::Online => "5",
            _ => "8",
        };
        assert_eq!(r.order_item, item);
        assert_eq!(r.evidence.len(), Registry::COUNT);
        assert!(!r.decision_id.is_empty());
        assert_eq!(r.decision_date, h.today);
        // The demo's IINs agree with their birth dates, today as on any day.
        assert!(
            !r.notes.iter().any(|n| n.code() == BirthDateDiffersFromIin),
            "{owner}: {r:?}"
        );
    }
    // A person's check asks GBD FL, ZAGS and E-social security only, once each; asked again,
    // the cache answers.
    let before: Vec<u64> = Registry::ALL
        .iter()
        .map(|r| h.mocks.get(*r).calls())
        .collect();
    h.check(demo::MINOR_MOTHER, "").await.unwrap();
    let r = h.check(demo::MINOR_MOTHER, "").await.unwrap();
    assert!(r.evidence[..3].iter().all(|e| e.from_cache), "{r:?}");
    let after: Vec<u64> = Registry::ALL
        .iter()
        .map(|r| h.mocks.get(*r).calls())
        .collect();
    let delta: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(delta, [1, 1, 1, 0, 0]);
}

#[tokio::test]
async fn married_minor_and_leap_day_facts() {
    // 2026-02-28 lies further back than the default window: widen it.
    let mut h = Harness::start(|c| c.decision.max_days_back = 11_000).await;
    let r = h.check(demo::MARRIED_MINOR, "").await.unwrap();
    assert!(
        r.notes.iter().any(|n| n.code() == ReasonCode::MinorMarried),
        "{r:?}"
    );
    let owner = r.owner.unwrap();
    assert!(owner.minor);
    assert_eq!(owner.age_years, Some(17));

    // Born 2008-02-29: adult on 2026-02-28 under the default convention.
    let mut request = pb::CheckOwnerRequest {
        owner_iin: demo::LEAP_DAY_BORN.into(),
        service: pb::Service::TemporaryRegistration.into(),
        decision_date: "2026-02-28".into(),
        ..Default::default()
    };
    let r = h
        .client()
        .check_owner(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.outcome(), Outcome::Online);
    request.decision_date = "2026-02-27".into();
    let r = h.client().check_owner(request).await.unwrap().into_inner();
    assert_eq!(r.outcome(), Outcome::OperationalHall);
    assert_eq!(r.service(), pb::Service::TemporaryRegistration);
}

/// An adult a court declared missing: the operational hall on GBD FL's court record, items 4
/// and 7 worded for such an owner, the trustee GBD FL names confirmed, nobody else.
#[tokio::test]
async fn a_declared_missing_owner_goes_to_the_hall() {
    let mut h = Harness::start(|_| {}).await;
    let r = h
        .check(demo::DECLARED_MISSING, demo::MISSING_TRUSTEE)
        .await
        .unwrap();
    assert_eq!(r.outcome(), Outcome::OperationalHall, "{r:?}");
    assert_eq!(reason_codes(&r), [ReasonCode::OwnerDeclaredMissing]);
    let reason = &r.reasons[0];
    assert_eq!(reason.source(), pb::Registry::GbdFl);
    assert!(
        reason.text.contains("case 2-871/2024 of 2024-05-17"),
        "{}",
        reason.text
    );
    assert!(
        !r.notes
            .iter()
            .any(|n| n.code() == ReasonCode::OwnerDeclaredMissing),
        "{r:?}"
    );
    let owner = r.owner.as_ref().unwrap();
    assert!(owner.declared_missing && !owner.minor && !owner.deceased);
    assert_eq!(r.evidence[0].record_id, "2-871/2024");
    let rep = r.representation.as_ref().unwrap();
    assert_eq!(
        (rep.role(), rep.source(), rep.record_id.as_str()),
        (
            RepresentativeRole::Trustee,
            pb::Registry::GbdFl,
            "2-871/2024"
        )
    );
    assert_eq!(r.order_item, "4");
    assert!(
        r.order_text
            .starts_with("Item 4: the owner is declared missing by a court"),
        "{}",
        r.order_text
    );
    assert!(r.warning.is_empty());

    let r = h
        .check(demo::DECLARED_MISSING, demo::CAPABLE_ADULT)
        .await
        .unwrap();
    assert_eq!(
        r.representation.unwrap().role(),
        RepresentativeRole::NotConfirmed
    );
    let r = h
        .client()
        .check_owner(pb::CheckOwnerRequest {
            owner_iin: demo::DECLARED_MISSING.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            step: pb::OrderStep::HallCheck.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (r.outcome(), r.order_item.as_str()),
        (Outcome::OperationalHall, "7")
    );
    assert!(
        r.order_text
            .contains("powers of the person acting for the owner"),
        "{}",
        r.order_text
    );
}

/// The decision date: strict `YYYY-MM-DD`, today or at most `decision.max_days_back` days
/// back (UTC+5), never before the owner's birth.
#[tokio::test]
async fn decision_dates_are_strict_and_bounded() {
    let today = decision::today();
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let h = Harness::start(|_| {}).await;
    let request = |date: &str| pb::CheckOwnerRequest {
        owner_iin: demo::MINOR.into(),
        service: pb::Service::RegistrationAtResidence.into(),
        decision_date: date.into(),
        ..Default::default()
    };
    for (date, rule) in [
        ("2099-01-01", "not be after today"),
        ("9999-12-31", "not be after today"),
        (day(1).as_str(), "not be after today"),
        ("0001-01-01", "days before today"),
        (day(-32).as_str(), "days before today"),
        ("-0001-01-01", "YYYY-MM-DD"),
        ("2026-1-5", "YYYY-MM-DD"),
        ("2026-02-30", "YYYY-MM-DD"),
    ] {
        let status = h.client().check_owner(request(date)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{date}: {status:?}");
        let details = status.get_error_details();
        let violation = &details.bad_request().expect("BadRequest").field_violations[0];
        assert_eq!(violation.field, "decision_date", "{date}");
        assert!(
            violation.description.contains(rule),
            "{date}: {violation:?}"
        );
    }
    for date in [day(0), day(-31)] {
        let r = h
            .client()
            .check_owner(request(&date))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.outcome(), Outcome::OperationalHall, "{date}");
        assert_eq!(r.decision_date, date);
    }

    // Wide enough to reach before the 10-year-old's birth: refused, not "minor, age 0".
    let h = Harness::start(|c| c.decision.max_days_back = 11_000).await;
    let status = h
        .client()
        .check_owner(request(&day(-11 * 366)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let violation = &details.bad_request().expect("BadRequest").field_violations[0];
    assert_eq!(violation.field, "decision_date");
    assert!(
        violation.description.contains("before the owner's birth"),
        "{violation:?}"
    );
}

#[tokio::test]
async fn look_ups_reach_every_registry() {
    let h = Harness::start(|_| {}).await;
    let today: chrono::NaiveDate = h.today.parse().unwrap();
    let c = &mut h.client();
    let person = c
        .get_person(pb::GetPersonRequest {
            iin: demo::INCAPABLE_BY_COURT.into(),
            consent_token: demo::consent(demo::INCAPABLE_BY_COURT),
        })
        .await
        .unwrap()
        .into_inner();
    let p = person.person.unwrap();
    assert_eq!(p.iin, demo::INCAPABLE_BY_COURT);
    assert!(!p.surname.is_empty());
    assert_eq!(p.capacity.unwrap().status(), pb::CapacityStatus::Incapable);
    assert_eq!(person.evidence.unwrap().registry(), pb::Registry::GbdFl);

    let acts = c
        .get_civil_acts(pb::GetCivilActsRequest {
            iin: demo::MINOR.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let birth = &acts.birth_acts[0];
    assert_eq!(birth.mother.as_ref().unwrap().iin, demo::MINOR_MOTHER);
    assert_eq!(birth.father.as_ref().unwrap().iin, demo::MINOR_FATHER);

    let social = c
        .get_social_status(pb::GetSocialStatusRequest {
            iin: demo::INCAPABLE_BY_COURT.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let g = &social.guardianships[0];
    assert!(g.active);
    assert_eq!(g.guardian_iin, demo::INCAPABLE_GUARDIAN);
    assert_eq!(social.disabilities[0].group, 1);

    let school = c
        .get_school_enrolment(pb::GetSchoolEnrolmentRequest {
            iin: demo::iin(demo::MINOR_IN_CARE, today),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(school.enrolments.iter().any(|e| e.without_parental_care));

    let uni = c
        .get_higher_education(pb::GetHigherEducationRequest {
            iin: demo::STUDENT.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(uni.studies[0].dormitory);

    let missing = c
        .get_person(pb::GetPersonRequest {
            iin: demo::UNKNOWN.into(),
            consent_token: demo::consent(demo::UNKNOWN),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(missing.message().contains("GBD FL"));
    let empty = c
        .get_civil_acts(pb::GetCivilActsRequest {
            iin: demo::UNKNOWN.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(empty.birth_acts.is_empty() && empty.death_act.is_none());
}

#[tokio::test]
async fn malformed_input_is_invalid_argument_with_the_field() {
    let h = Harness::start(|_| {}).await;
    let cases = [
        (
            "owner_iin",
            pb::CheckOwnerRequest {
                owner_iin: "12345".into(),
                service: 1,
                ..Default::default()
            },
        ),
        (
            "owner_iin",
            pb::CheckOwnerRequest {
                owner_iin: demo::BAD_CHECK_DIGIT.into(),
                service: 1,
                ..Default::default()
            },
        ),
        (
            "owner_iin",
            pb::CheckOwnerRequest {
                owner_iin: demo::NEVER_ISSUED.into(),
                service: 1,
                ..Default::default()
            },
        ),
        (
            "service",
            pb::CheckOwnerRequest {
                owner_iin: demo::MINOR.into(),
                ..Default::default()
            },
        ),
        (
            "service",
            pb::CheckOwnerRequest {
                owner_iin: demo::MINOR.into(),
                service: 42,
                ..Default::default()
            },
        ),
        (
            "applicant_iin",
            pb::CheckOwnerRequest {
                owner_iin: demo::MINOR.into(),
                service: 1,
                applicant_iin: "x".into(),
                ..Default::default()
            },
        ),
        (
            "decision_date",
            pb::CheckOwnerRequest {
                owner_iin: demo::MINOR.into(),
                service: 1,
                decision_date: "25.11.2026".into(),
                ..Default::default()
            },
        ),
    ];
    for (field, request) in cases {
        let status = h.client().check_owner(request.clone()).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{request:?}");
        let details = status.get_error_details();
        let violation = &details
            .bad_request()
            .expect("BadRequest detail")
            .field_violations[0];
        assert_eq!(violation.field, field, "{request:?}");
        assert!(!violation.description.is_empty());
    }
    let status = h
        .client()
        .get_person(pb::GetPersonRequest {
            iin: demo::ORGANISATION_BIN.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("BIN"), "{}", status.message());
}

#[tokio::test]
async fn a_stopped_registry_is_named_and_never_turns_into_online() {
    let mut h = Harness::start(|_| {}).await;
    h.mocks.stop(Registry::SocialSecurity).await;

    // A capable adult cannot be cleared without E-social security: fail closed.
    let status = h.check(demo::CAPABLE_ADULT, "").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("E-social security"),
        "{}",
        status.message()
    );
    common::assert_retry_later_from(&status, "social_security");

    // A minor by GBD FL still goes to the hall, with the silence noted.
    let r = h.check(demo::MINOR, "").await.unwrap();
    assert_eq!(r.outcome(), Outcome::OperationalHall);
    assert!(r
        .notes
        .iter()
        .any(|n| n.code() == ReasonCode::RegistryNotAnswered
            && n.source() == pb::Registry::SocialSecurity));

    // GBD FL's answer for MINOR is cached now; a person not asked before needs GBD FL.
    h.mocks.stop(Registry::GbdFl).await;
    let status = h.check(demo::TURNS_18_TOMORROW, "").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.get_error_details().error_info().unwrap().metadata["registry"],
        "gbd_fl"
    );
}

#[tokio::test]
async fn health_reports_serving() {
    let h = Harness::start(|_| {}).await;
    let channel = Channel::from_shared(format!("http://{}", h.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", "registry_gateway.v1.RegistryGatewayService"] {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service:?}"
        );
    }
}

/// Requests that are not gRPC messages of their RPC are the caller's error: INVALID_ARGUMENT
/// on `request` (HTTP 415 for a content type that is not gRPC), and audited like any other
/// malformed call.
#[tokio::test]
async fn malformed_requests_are_the_callers_error_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let audit = registry_gateway::audit::AuditConfig {
        path: path.clone(),
        ..Default::default()
    };
    let h = Harness::start(|c| c.audit = Some(audit)).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let send = |content_type: &'static str, body: &'static str, id: &'static str| {
        let request = tonic::codegen::http::Request::builder()
            .method("POST")
            .uri(format!(
                "http://{}/registry_gateway.v1.RegistryGatewayService/CheckOwner",
                h.addr
            ))
            .header("content-type", content_type)
            .header("te", "trailers")
            .header("x-request-id", id)
            .body(tonic::body::Body::new(body.to_owned()))
            .unwrap();
        tower::ServiceExt::oneshot(channel.clone(), request)
    };
    let cases = [
        // (request id, content type, body, HTTP status)
        (
            "garbage",
            "application/grpc",
            "\0\0\0\0\x03\x0f\x0f\x0f",
            200,
        ),
        ("truncated", "application/grpc", "\0\0\0\0\x02\x0a\x7f", 200),
        ("cut-frame", "application/grpc", "\0\0\0\0\x10ab", 200),
        (
            "json",
            "application/json",
            "{\"owner_iin\":\"860314310210\"}",
            415,
        ),
    ];
    for (id, content_type, body, http_status) in cases {
        let response = send(content_type, body, id).await.unwrap();
        assert_eq!(response.status().as_u16(), http_status, "{id}");
        let status = tonic::Status::from_header_map(response.headers()).expect("grpc-status");
        assert_eq!(status.code(), Code::InvalidArgument, "{id}: {status:?}");
        let details = status.get_error_details();
        let violation = &details.bad_request().expect("BadRequest").field_violations[0];
        assert_eq!(violation.field, "request", "{id}");
    }
    // Every call is recorded, with the marker as subject: the first three of this caller in
    // this second one by one, a fourth in that second's summary (written within ~1 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let records = loop {
        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let accounted: u64 = records
            .iter()
            .map(|r| r["count"].as_u64().unwrap_or(1))
            .sum();
        if accounted == cases.len() as u64 {
            break records;
        }
        assert!(std::time::Instant::now() < deadline, "{records:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut ids: Vec<&str> = records
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected: Vec<&str> = cases.iter().map(|c| c.0).collect();
    expected.sort();
    // The summary's request id is its last call's: every id appears once either way.
    assert_eq!(ids, expected);
    for r in &records {
        assert_eq!(r["rpc"], "CheckOwner", "{r}");
        assert_eq!(r["subject"], "MALFORMED", "{r}");
        assert_eq!(r["outcome"], "InvalidArgument", "{r}");
    }
    // A well-formed call still works on the same connection.
    let mut client = RegistryGatewayServiceClient::new(channel);
    let r = client
        .check_owner(pb::CheckOwnerRequest {
            owner_iin: demo::CAPABLE_ADULT.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.into_inner().outcome(), Outcome::Online);
}

/// A registry failure tells the caller the registry, the kind of failure, when to retry and
/// the request id; never the registry's URL (with its credentials), the OS error or the
/// registry's own fault text.
#[tokio::test]
async fn registry_errors_leak_nothing_internal() {
    let mut h = Harness::start(|c| {
        let social = &mut c.registries.as_mut().unwrap()[Registry::SocialSecurity];
        social.url = format!("{}?apikey=s3cr3t-key", social.url);
    })
    .await;
    h.mocks.stop(Registry::SocialSecurity).await;
    h.mocks
        .get(Registry::Zags)
        .set_faults(registry_mocks::Faults::mode(
            registry_mocks::FaultMode::SoapFault,
        ));
    fn with_id<T>(message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("x-request-id", "req-leak-1".parse().unwrap());
        request
    }
    // E-social security is down behind a URL with a key; IS ZAGS answers with a SOAP fault.
    let down = h
        .client()
        .check_owner(with_id(pb::CheckOwnerRequest {
            owner_iin: demo::CAPABLE_ADULT.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    let fault = h
        .client()
        .get_civil_acts(with_id(pb::GetCivilActsRequest {
            iin: demo::STUDENT.into(),
        }))
        .await
        .unwrap_err();
    for (status, registry, kind) in [
        (down, "social_security", "connection failed"),
        (fault, "zags", "SOAP fault"),
    ] {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let message = status.message();
        assert!(message.contains(kind), "{message}");
        assert!(message.ends_with("(request id req-leak-1)"), "{message}");
        for leak in [
            "apikey",
            "s3cr3t",
            "127.0.0.1",
            "http",
            "os error",
            "refused",
            "nject",
            "mock",
        ] {
            assert!(!message.contains(leak), "{leak:?} in {message:?}");
        }
        common::assert_retry_later_from(&status, registry);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().unwrap().metadata["request_id"],
            "req-leak-1"
        );
    }
}
