//! CheckDwelling end to end, and the step of the order for CheckOwner and CheckDwelling: the
//! mock registries and the gateway on 127.0.0.1:0, a tonic client, the demo dwellings
//! (`registry_mocks::demo::DWELLINGS`), the audit log on disk.

mod common;

use common::Harness;

use std::collections::BTreeMap;

use registry_gateway::api::pb::{self};
use registry_gateway::decision::DeceasedCoOwner;
use registry_gateway::registry::Registry;
use registry_gateway::Config;
use registry_mocks::demo::{self, Dwelling};
use serde_json::Value;
use tonic::Code;
use tonic_types::StatusExt;

use pb::owner_result::Result as OwnerResult;
use pb::{OrderStep, Outcome, ReasonCode, RepresentativeRole};

/// A request for `owners`, `applicant` applying, at reception.
fn request(owners: &[&str], applicant: &str) -> pb::CheckDwellingRequest {
    pb::CheckDwellingRequest {
        owners: owners
            .iter()
            .map(|iin| pb::DwellingOwner {
                iin: (*iin).to_owned(),
                consent_token: String::new(),
            })
            .collect(),
        service: pb::Service::RegistrationAtResidence.into(),
        applicant_iin: applicant.to_owned(),
        ..Default::default()
    }
}

fn of(d: &Dwelling) -> pb::CheckDwellingRequest {
    request(d.owners, d.applicant)
}

impl Harness {
    async fn dwelling(
        &mut self,
        r: pb::CheckDwellingRequest,
    ) -> Result<pb::CheckDwellingResponse, tonic::Status> {
        self.client()
            .check_dwelling(r)
            .await
            .map(tonic::Response::into_inner)
    }

    fn calls(&self) -> Vec<u64> {
        Registry::ALL
            .iter()
            .map(|r| self.mocks.get(*r).calls())
            .collect()
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.audit_log())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Each owner's own decision (outcome), `None` for an owner without one.
fn owner_outcomes(r: &pb::CheckDwellingResponse) -> Vec<Option<Outcome>> {
    r.owners
        .iter()
        .map(|o| match &o.result {
            Some(OwnerResult::Decision(d)) => Some(d.outcome()),
            _ => None,
        })
        .collect()
}

fn decision(r: &pb::CheckDwellingResponse, i: usize) -> &pb::CheckOwnerResponse {
    match &r.owners[i].result {
        Some(OwnerResult::Decision(d)) => d,
        other => panic!("owners[{i}] has no decision: {other:?}"),
    }
}

fn reason_owners(r: &pb::CheckDwellingResponse) -> Vec<u32> {
    r.reasons.iter().map(|r| r.owner_index).collect()
}

fn violation(status: &tonic::Status) -> (String, String) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let v = &details.bad_request().expect("BadRequest").field_violations[0];
    (v.field.clone(), v.description.clone())
}

/// A dwelling, its outcome, the owners in `reasons`, `representative_confirmed`, and each
/// owner's own outcome.
type Case = (
    Dwelling,
    Outcome,
    &'static [u32],
    Option<bool>,
    Vec<Outcome>,
);

/// One, two and many owners, every mix of the demo dwellings, at reception.
#[tokio::test]
async fn every_demo_dwelling() {
    use Outcome::{Online, OperationalHall as Hall, RefusedHere as Refused};
    let mut h = Harness::audited(|_| {}).await;
    let cases: [Case; 9] = [
        (demo::SOLE_OWNER, Online, &[0], None, vec![Online]),
        (demo::SPOUSES, Online, &[0, 1], None, vec![Online, Online]),
        (
            demo::FAMILY,
            Hall,
            &[2],
            Some(true),
            vec![Online, Online, Hall],
        ),
        (
            demo::WARD_AND_GUARDIAN,
            Hall,
            &[1],
            Some(true),
            vec![Online, Hall],
        ),
        (
            demo::WITH_ORGANISATION,
            Online,
            &[0, 1],
            None,
            vec![Online, Online],
        ),
        (
            demo::WITH_DECEASED,
            Refused,
            &[1],
            None,
            vec![Online, Refused],
        ),
        (
            demo::WITH_UNKNOWN,
            Refused,
            &[1],
            None,
            vec![Online, Refused],
        ),
        (
            demo::MANY_OWNERS,
            Hall,
            &[2, 4],
            Some(false),
            vec![Online, Online, Hall, Online, Hall, Online, Online, Online],
        ),
        (
            demo::WITH_MISSING,
            Hall,
            &[1],
            Some(true),
            vec![Online, Hall],
        ),
    ];
    for (dwelling, outcome, deciding, confirmed, owners) in cases {
        let name = dwelling.name;
        let r = h
            .dwelling(of(&dwelling))
            .await
            .unwrap_or_else(|s| panic!("{name}: {s:?}"));
        assert_eq!(r.outcome(), outcome, "{name}: {r:?}");
        assert_eq!(reason_owners(&r), deciding, "{name}: {r:?}");
        assert_eq!(r.representative_confirmed, confirmed, "{name}: {r:?}");
        let expected: Vec<_> = owners.into_iter().map(Some).collect();
        assert_eq!(owner_outcomes(&r), expected, "{name}: {r:?}");
        let item = match outcome {
            Hall => "4",
            Online => "5",
            _ => "8",
        };
        assert_eq!(r.order_item, item, "{name}");
        assert!(
            r.order_text.starts_with(&format!("Item {item}: ")),
            "{name}"
        );
        assert_eq!(r.warning.is_empty(), item != "8", "{name}");
        assert_eq!(r.step(), OrderStep::Reception, "{name}");
        assert_eq!(r.decision_date, h.today, "{name}");
        assert!(r.notes.is_empty(), "{name}: {r:?}");
        assert!(!r.decision_id.is_empty());
        let iins: Vec<&str> = r.owners.iter().map(|o| o.iin.as_str()).collect();
        assert_eq!(iins, dwelling.owners, "{name}");
        // Each owner's decision is CheckOwner's for that owner.
        for (i, owner) in dwelling.owners.iter().enumerate() {
            let alone = pb::CheckOwnerRequest {
                owner_iin: (*owner).to_owned(),
                service: pb::Service::RegistrationAtResidence.into(),
                applicant_iin: dwelling.applicant.to_owned(),
                ..Default::default()
            };
            let single = h.client().check_owner(alone).await.unwrap();
            let single = single.into_inner();
            let mine = decision(&r, i);
            assert_eq!(mine.outcome(), single.outcome(), "{name} owners[{i}]");
            assert_eq!(mine.reasons, single.reasons, "{name} owners[{i}]");
            assert_eq!(mine.owner, single.owner, "{name} owners[{i}]");
            assert_eq!(
                mine.representation, single.representation,
                "{name} owners[{i}]"
            );
            assert_eq!(mine.order_item, single.order_item, "{name} owners[{i}]");
        }
    }
    // The representatives the registries confirm, owner by owner.
    let family = h.dwelling(of(&demo::FAMILY)).await.unwrap();
    let role = |r: &pb::CheckDwellingResponse, i| {
        decision(r, i)
            .representation
            .as_ref()
            .map(pb::Representation::role)
    };
    assert_eq!(role(&family, 2), Some(RepresentativeRole::Mother));
    assert_eq!(role(&family, 0), Some(RepresentativeRole::Self_));
    let many = h.dwelling(of(&demo::MANY_OWNERS)).await.unwrap();
    assert_eq!(role(&many, 2), Some(RepresentativeRole::Trustee));
    assert_eq!(role(&many, 4), Some(RepresentativeRole::NotConfirmed));
    assert_eq!(
        decision(&many, 6).reasons[0].code(),
        ReasonCode::OwnerIsOrganisation
    );
    let spouses = h.dwelling(of(&demo::SPOUSES)).await.unwrap();
    assert!(
        spouses.reasons[0].text.contains("living capable adult"),
        "{spouses:?}"
    );
}

/// A co-owner a court declared missing: the hall, as for any owner who needs a representative;
/// the trustee GBD FL names is confirmed; items 4 and 7 worded for such an owner.
#[tokio::test]
async fn a_co_owner_declared_missing_goes_to_the_hall() {
    let mut h = Harness::audited(|_| {}).await;
    let r = h.dwelling(of(&demo::WITH_MISSING)).await.unwrap();
    assert_eq!(r.outcome(), Outcome::OperationalHall, "{r:?}");
    assert_eq!(r.reasons.len(), 1, "{r:?}");
    assert_eq!(r.reasons[0].owner_index, 1);
    assert_eq!(r.reasons[0].code(), ReasonCode::OwnerDeclaredMissing);
    assert!(
        r.reasons[0]
            .text
            .starts_with("owners[1] is declared missing by a court"),
        "{}",
        r.reasons[0].text
    );
    let missing = decision(&r, 1);
    let rep = missing.representation.as_ref().unwrap();
    assert_eq!(
        (rep.role(), rep.source()),
        (RepresentativeRole::Trustee, pb::Registry::GbdFl)
    );
    assert_eq!(
        decision(&r, 0).representation.as_ref().unwrap().role(),
        RepresentativeRole::Self_
    );
    assert_eq!(r.representative_confirmed, Some(true));
    assert_eq!(r.order_item, "4");
    assert!(
        r.order_text
            .starts_with("Item 4: the owner is declared missing by a court"),
        "{}",
        r.order_text
    );

    // Someone else applying: the hall, the representative not confirmed.
    let r = h
        .dwelling(request(demo::WITH_MISSING.owners, demo::CAPABLE_ADULT))
        .await
        .unwrap();
    assert_eq!(r.outcome(), Outcome::OperationalHall);
    assert_eq!(r.representative_confirmed, Some(false));
    assert_eq!(
        decision(&r, 1).representation.as_ref().unwrap().role(),
        RepresentativeRole::NotConfirmed
    );

    // At the hall's check: item 7, the powers of the person acting for the owner.
    let mut at_check = of(&demo::WITH_MISSING);
    at_check.step = OrderStep::HallCheck.into();
    let r = h.dwelling(at_check).await.unwrap();
    assert_eq!(r.order_item, "7");
    assert!(
        r.order_text
            .contains("powers of the person acting for the owner"),
        "{}",
        r.order_text
    );
    assert_eq!(decision(&r, 1).order_item, "7");
    assert_eq!(decision(&r, 0).order_item, "8");

    // Beside a minor, the dwelling is worded in the order's own categories.
    let r = h
        .dwelling(request(&[demo::DECLARED_MISSING, demo::MINOR], ""))
        .await
        .unwrap();
    assert_eq!(r.outcome(), Outcome::OperationalHall);
    assert_eq!(reason_owners(&r), [0, 1]);
    assert!(
        r.order_text
            .starts_with("Item 4: the owner is a minor or incapacitated person"),
        "{}",
        r.order_text
    );
}

/// A deceased co-owner, or one unknown to GBD FL: refused here by default, whatever the
/// other owners are; the operational hall with `decision.deceased_co_owner = "hall"`.
#[tokio::test]
async fn a_deceased_or_unknown_co_owner_follows_the_convention() {
    let with_minor = request(&[demo::MINOR, demo::DECEASED_ZAGS_ONLY], "");
    let mut h = Harness::audited(|_| {}).await;
    for r in [
        of(&demo::WITH_DECEASED),
        of(&demo::WITH_UNKNOWN),
        with_minor.clone(),
    ] {
        let a = h.dwelling(r).await.unwrap();
        assert_eq!(a.outcome(), Outcome::RefusedHere, "{a:?}");
        assert_eq!(reason_owners(&a), [1]);
        assert!(
            a.reasons[0].text.contains("deceased_co_owner = refuse"),
            "{a:?}"
        );
        assert_eq!(a.order_item, "8");
        assert!(a.warning.contains("cannot be rendered here"), "{a:?}");
    }
    let mut h = Harness::audited(|c| c.decision.deceased_co_owner = DeceasedCoOwner::Hall).await;
    for (r, deciding) in [
        (of(&demo::WITH_DECEASED), vec![1]),
        (of(&demo::WITH_UNKNOWN), vec![1]),
        (with_minor, vec![0, 1]),
    ] {
        let a = h.dwelling(r).await.unwrap();
        assert_eq!(a.outcome(), Outcome::OperationalHall, "{a:?}");
        assert_eq!(reason_owners(&a), deciding);
        let heirs = a.reasons.last().unwrap();
        assert!(heirs.text.contains("heirs"), "{heirs:?}");
        assert_eq!(a.order_item, "4");
        // The owner's own decision is CheckOwner's, whatever the convention.
        assert_eq!(decision(&a, 1).outcome(), Outcome::RefusedHere);
    }
}

/// E-social security down: an owner it cannot clear fails the dwelling (fail closed, the
/// owner named), unless another owner sends the dwelling to the hall, which then stands with
/// the silent owner noted.
#[tokio::test]
async fn a_registry_down_for_one_owner() {
    let mut h = Harness::audited(|_| {}).await;
    // The spouses' E-social security and IS ZAGS answers are in the cache now.
    h.dwelling(of(&demo::SPOUSES)).await.unwrap();
    h.mocks.stop(Registry::SocialSecurity).await;

    let status = h
        .dwelling(request(&[demo::MINOR_MOTHER, demo::CAPABLE_ADULT], ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("owners[1]: E-social security did not answer"),
        "{}",
        status.message()
    );
    common::assert_retry_later_from(&status, "social_security");

    let r = h
        .dwelling(request(&[demo::CAPABLE_ADULT, demo::MINOR], ""))
        .await
        .unwrap();
    assert_eq!(r.outcome(), Outcome::OperationalHall, "{r:?}");
    assert_eq!(reason_owners(&r), [1]);
    assert_eq!(owner_outcomes(&r), [None, Some(Outcome::OperationalHall)]);
    let Some(OwnerResult::Failure(failure)) = &r.owners[0].result else {
        panic!("owners[0] has no failure: {r:?}");
    };
    assert_eq!(failure.registry(), pb::Registry::SocialSecurity);
    assert!(
        failure
            .message
            .starts_with("E-social security did not answer"),
        "{failure:?}"
    );
    assert!(failure.retry_delay.is_some());
    assert_eq!(r.notes.len(), 1);
    assert_eq!(r.notes[0].owner_index, 0);
    assert!(
        r.notes[0].text.contains("not needed for this outcome"),
        "{r:?}"
    );
    assert!(decision(&r, 1)
        .notes
        .iter()
        .any(|n| n.code() == ReasonCode::RegistryNotAnswered));
}

/// Duplicates, an empty list, a list over the limit and a malformed field are
/// INVALID_ARGUMENT naming the field and the rule, before any registry is asked.
#[tokio::test]
async fn malformed_dwellings_are_invalid_argument() {
    let mut h = Harness::audited(|_| {}).await;
    let strangers = common::strangers(21);
    let many: Vec<&str> = strangers.iter().map(String::as_str).collect();
    let mut bad_step = of(&demo::SPOUSES);
    bad_step.step = 42;
    let mut bin_applicant = of(&demo::SPOUSES);
    bin_applicant.applicant_iin = demo::ORGANISATION_BIN.into();
    let mut no_service = of(&demo::SPOUSES);
    no_service.service = 0;
    let cases = [
        (
            request(
                &[
                    demo::MINOR_MOTHER,
                    demo::MINOR,
                    demo::MINOR_FATHER,
                    demo::MINOR,
                ],
                "",
            ),
            "owners[3].iin",
            "repeats owners[1].iin: list each owner once",
        ),
        (request(&[], ""), "owners", "at least one owner is required"),
        (
            request(&many, ""),
            "owners",
            "at most 20 owners (decision.max_owners), got 21",
        ),
        (
            request(&[demo::CAPABLE_ADULT, demo::BAD_CHECK_DIGIT], ""),
            "owners[1].iin",
            "",
        ),
        (bad_step, "step", "unknown value 42"),
        (bin_applicant, "applicant_iin", "BIN"),
        (no_service, "service", "is required"),
    ];
    for (r, field, rule) in cases {
        let status = h.dwelling(r).await.unwrap_err();
        let (f, description) = violation(&status);
        assert_eq!(f, field, "{status:?}");
        assert!(description.contains(rule), "{field}: {description}");
    }
    // Exactly at the limit is fine: 20 owners unknown to GBD FL, refused here.
    let r = h.dwelling(request(&many[..20], "")).await.unwrap();
    assert_eq!(r.outcome(), Outcome::RefusedHere);
    assert_eq!(r.owners.len(), 20);
    assert_eq!(h.calls()[0], 20, "GBD FL asked once per owner, only now");

    // The limit is a setting.
    let mut h = Harness::audited(|c| c.decision.max_owners = 2).await;
    let status = h.dwelling(of(&demo::FAMILY)).await.unwrap_err();
    let (field, rule) = violation(&status);
    assert_eq!(field, "owners");
    assert!(rule.contains("at most 2 owners"), "{rule}");
    assert_eq!(h.calls(), [0, 0, 0, 0, 0]);
}

/// The step of the order picks the cited item, the order's text and the warning, for both
/// services, for CheckOwner and for CheckDwelling (the dwelling and each owner).
#[tokio::test]
async fn the_step_of_the_order_words_the_answer() {
    let mut h = Harness::audited(|_| {}).await;
    let residence =
        "Registration at the place of residence of citizens of the Republic of Kazakhstan";
    let temporary = "Temporary registration at the place of temporary stay (accommodation) of \
                     citizens of the Republic of Kazakhstan";
    for (service, title) in [
        (pb::Service::RegistrationAtResidence, residence),
        (pb::Service::TemporaryRegistration, temporary),
    ] {
        // (owner, step, item, the order's words, a warning)
        let rows = [
            (
                demo::MINOR,
                OrderStep::Unspecified,
                "4",
                "sends the applicant to the operational hall",
                false,
            ),
            (
                demo::MINOR,
                OrderStep::Reception,
                "4",
                "sends the applicant to the operational hall",
                false,
            ),
            (
                demo::CAPABLE_ADULT,
                OrderStep::Reception,
                "5",
                "is received online, including at the self-service sector",
                false,
            ),
            (
                demo::MINOR,
                OrderStep::HallCheck,
                "7",
                "verifies the documents confirming the powers of the owner's legal representative",
                false,
            ),
            (
                demo::CAPABLE_ADULT,
                OrderStep::HallCheck,
                "8",
                "negative result of the check",
                true,
            ),
            (
                demo::DECEASED_GBD,
                OrderStep::HallCheck,
                "8",
                "deceased or unknown to GBD FL",
                true,
            ),
            (
                demo::DECEASED_GBD,
                OrderStep::Reception,
                "8",
                "deceased or unknown to GBD FL",
                true,
            ),
        ];
        for (owner, step, item, words, warned) in rows {
            let r = h
                .client()
                .check_owner(pb::CheckOwnerRequest {
                    owner_iin: owner.into(),
                    service: service.into(),
                    step: step.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let what = format!("{owner} {step:?} {service:?}");
            assert_eq!(r.order_item, item, "{what}");
            assert!(
                r.order_text.starts_with(&format!("Item {item}: ")),
                "{what}"
            );
            assert!(r.order_text.contains(words), "{what}: {}", r.order_text);
            assert!(r.order_text.contains(title), "{what}: {}", r.order_text);
            let answered = match step {
                OrderStep::HallCheck => OrderStep::HallCheck,
                _ => OrderStep::Reception,
            };
            assert_eq!(r.step(), answered, "{what}");
            assert_eq!(!r.warning.is_empty(), warned, "{what}");
            if warned {
                assert!(
                    r.warning
                        .starts_with(&format!("The service \"{title}\" cannot be rendered here")),
                    "{what}: {}",
                    r.warning
                );
                assert!(r.warning.contains("eGov Mobile"), "{}", r.warning);
                assert!(r.warning.contains("No. 267"), "{}", r.warning);
            }
        }
        // A dwelling at the hall's check: a positive result for the dwelling (item 7), and
        // each owner worded at the same step.
        let mut family = of(&demo::FAMILY);
        family.service = service.into();
        family.step = OrderStep::HallCheck.into();
        let r = h.dwelling(family).await.unwrap();
        assert_eq!(r.order_item, "7");
        assert!(r.order_text.contains(title), "{}", r.order_text);
        assert!(r.warning.is_empty());
        assert_eq!(r.step(), OrderStep::HallCheck);
        let items: Vec<&str> = (0..3)
            .map(|i| decision(&r, i).order_item.as_str())
            .collect();
        assert_eq!(items, ["8", "8", "7"]);
        // ... and a negative one (item 8, with the warning).
        let mut spouses = of(&demo::SPOUSES);
        spouses.service = service.into();
        spouses.step = OrderStep::HallCheck.into();
        let r = h.dwelling(spouses).await.unwrap();
        assert_eq!(r.outcome(), Outcome::Online);
        assert_eq!(r.order_item, "8");
        assert!(r.warning.contains(title), "{}", r.warning);
    }
}

/// One record per owner checked, all with the call's request id, each with that owner's own
/// outcome and registries, also when the dwelling fails on another owner; a refused call
/// records each owner listed as refused.
#[tokio::test]
async fn one_audit_record_per_owner_with_one_request_id() {
    let mut h = Harness::audited(|_| {}).await;
    let with_id = |r: pb::CheckDwellingRequest, id: &str| {
        let mut request = tonic::Request::new(r);
        request
            .metadata_mut()
            .insert("x-request-id", id.parse().unwrap());
        request
    };
    h.client()
        .check_dwelling(with_id(of(&demo::FAMILY), "dw-family"))
        .await
        .unwrap();
    h.mocks.stop(Registry::SocialSecurity).await;
    // The mother's E-social security answer is cached; the stranger's cannot be had.
    h.client()
        .check_dwelling(with_id(
            request(&[demo::MINOR_MOTHER, demo::CAPABLE_ADULT], ""),
            "dw-down",
        ))
        .await
        .unwrap_err();
    h.client()
        .check_dwelling(with_id(
            request(&[demo::MINOR_FATHER, demo::MINOR_FATHER], ""),
            "dw-twice",
        ))
        .await
        .unwrap_err();

    let records = h.audit();
    let by_id = |id: &str| -> BTreeMap<String, &Value> {
        records
            .iter()
            .filter(|r| r["request_id"] == id)
            .map(|r| {
                assert_eq!(r["rpc"], "CheckDwelling", "{r}");
                (r["subject"].as_str().unwrap().to_owned(), r)
            })
            .collect()
    };
    let family = by_id("dw-family");
    assert_eq!(family.len(), 3, "{records:?}");
    for (owner, outcome) in [
        (demo::MINOR_MOTHER, "ONLINE"),
        (demo::MINOR_FATHER, "ONLINE"),
        (demo::MINOR, "OPERATIONAL_HALL"),
    ] {
        let r = family[owner];
        assert_eq!(r["outcome"], outcome, "{r}");
        assert_eq!(r["applicant"], demo::MINOR_MOTHER, "{r}");
        assert_eq!(r["decision_date"], h.today.as_str(), "{r}");
        assert_eq!(r["consent"], "absent", "{r}");
        let used: Vec<(&str, &str)> = r["registries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["registry"].as_str().unwrap(),
                    u["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(used[0], ("gbd_fl", "found"), "{r}");
        assert_eq!(used.len(), Registry::COUNT, "{r}");
    }
    let down = by_id("dw-down");
    assert_eq!(down.len(), 2, "{records:?}");
    assert_eq!(down[demo::MINOR_MOTHER]["outcome"], "ONLINE");
    assert_eq!(down[demo::CAPABLE_ADULT]["outcome"], "Unavailable");
    assert_eq!(
        down[demo::CAPABLE_ADULT]["registries"][0]["registry"],
        "social_security"
    );
    let twice: Vec<&Value> = records
        .iter()
        .filter(|r| r["request_id"] == "dw-twice")
        .collect();
    assert_eq!(twice.len(), 2, "{records:?}");
    for r in twice {
        assert_eq!(r["subject"], demo::MINOR_FATHER);
        assert_eq!(r["outcome"], "InvalidArgument");
    }
}

/// Two dwellings at once that share an owner: that owner's registries are asked once
/// (single flight), and every other owner once each.
#[tokio::test]
async fn concurrent_dwellings_share_a_co_owners_registry_calls() {
    let mut h = Harness::audited(|_| {}).await;
    for r in [Registry::GbdFl, Registry::Zags, Registry::SocialSecurity] {
        h.mocks
            .get(r)
            .set_faults(common::slow(std::time::Duration::from_millis(400)));
    }
    let mut other = h.client();
    let (a, b) = tokio::join!(
        h.dwelling(request(&[demo::MINOR, demo::MINOR_MOTHER], "")),
        other.check_dwelling(request(&[demo::MINOR_FATHER, demo::MINOR], "")),
    );
    assert_eq!(a.unwrap().outcome(), Outcome::OperationalHall);
    assert_eq!(b.unwrap().into_inner().outcome(), Outcome::OperationalHall);
    // Three persons: three calls to each of the three registries, not four.
    assert_eq!(h.calls(), [3, 3, 3, 0, 0]);
}

/// A dwelling is one call for admission, whatever its owners: with one call in flight
/// allowed, eight owners are checked.
#[tokio::test]
async fn admission_counts_a_dwelling_once() {
    let mut h = Harness::audited(|c| {
        c.max_in_flight = 1;
        c.max_in_flight_per_caller = 1;
    })
    .await;
    let r = h.dwelling(of(&demo::MANY_OWNERS)).await.unwrap();
    assert_eq!(r.owners.len(), 8);
}

/// Rights per client system: CheckDwelling is an RPC of its own; with `consent_required`,
/// every person owner needs its token (an organisation none), and a token GBD FL refuses is
/// the answer, the owner named.
#[tokio::test]
async fn rights_and_consent_per_owner() {
    let access = |rights: &str| {
        let text =
            format!("[access]\nplaintext_client = \"tson\"\n[access.clients.tson]\n{rights}\n");
        Config::from_toml(&text).unwrap().access
    };
    let mut h = Harness::audited(|c| c.access = access(r#"rpcs = ["CheckOwner"]"#)).await;
    let status = h.dwelling(of(&demo::SPOUSES)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(h.calls(), [0, 0, 0, 0, 0]);

    let mut h = Harness::audited(|c| {
        c.access = access(
            r#"rpcs = ["CheckDwelling"]
consent_required = ["CheckDwelling"]"#,
        )
    })
    .await;
    let with_tokens = |tokens: &[&str]| {
        let mut r = request(
            &[
                demo::ORGANISATION_BIN,
                demo::MINOR_MOTHER,
                demo::MINOR_FATHER,
            ],
            "",
        );
        for (owner, token) in r.owners.iter_mut().zip(tokens) {
            owner.consent_token = (*token).to_owned();
        }
        r
    };
    let mother = demo::consent(demo::MINOR_MOTHER);
    let father = demo::consent(demo::MINOR_FATHER);
    let status = h
        .dwelling(with_tokens(&["", &mother, ""]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("owners[2]: CheckDwelling needs"),
        "{}",
        status.message()
    );
    assert_eq!(h.calls(), [0, 0, 0, 0, 0]);
    let status = h
        .dwelling(with_tokens(&["", &mother, &mother]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("owners[2]: GBD FL refused the consent token"),
        "{}",
        status.message()
    );
    let r = h
        .dwelling(with_tokens(&["", &mother, &father]))
        .await
        .unwrap();
    assert_eq!(r.outcome(), Outcome::Online);
    let records = h.audit();
    let last: Vec<&Value> = records.iter().rev().take(3).collect();
    for r in &last {
        let consent = if r["subject"] == demo::ORGANISATION_BIN {
            "absent"
        } else {
            "presented"
        };
        assert_eq!(r["consent"], consent, "{r}");
    }
    assert!(
        !std::fs::read_to_string(h.audit_log())
            .unwrap()
            .contains(demo::CONSENT_PREFIX),
        "a consent token in the audit log"
    );
}
