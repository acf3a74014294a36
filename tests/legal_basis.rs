//! The legal basis as data and the languages of the answers, end to end: the mock registries
//! and the gateway on 127.0.0.1:0, a tonic client and reqwest over HTTP/1.1. The same decision
//! in Kazakh, Russian and English (codes unchanged), `accept-language` over gRPC and HTTP/JSON,
//! a decision dated past the act's term (its note, or FAILED_PRECONDITION under
//! `on_expired = "refuse"`), and a successor act configured and picked up on reload.

mod common;

use common::Harness;

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use registry_gateway::api::pb::{self};
use registry_gateway::decision::legal_basis::{Act, OnExpired};
use registry_gateway::decision::{self, DecisionConfig};
use registry_gateway::i18n::Lang;
use registry_gateway::registry::Registry;
use registry_mocks::demo;
use serde_json::Value;
use tonic::Code;
use tonic_types::StatusExt;

use pb::{Outcome, ReasonCode};

fn days_before(today: NaiveDate, n: u64) -> NaiveDate {
    today.checked_sub_days(Days::new(n)).unwrap()
}

/// The shipped act, its term ending `n` days before today.
fn ended_days_ago(today: NaiveDate, n: u64) -> Act {
    Act {
        effective_until: Some(days_before(today, n)),
        ..Act::shipped()
    }
}

fn minor_with_mother(date: &str) -> pb::CheckOwnerRequest {
    pb::CheckOwnerRequest {
        owner_iin: demo::MINOR.into(),
        service: pb::Service::RegistrationAtResidence.into(),
        applicant_iin: demo::MINOR_MOTHER.into(),
        decision_date: date.into(),
        ..Default::default()
    }
}

fn with_language<T>(message: T, accept_language: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("accept-language", accept_language.parse().unwrap());
    request
}

impl Harness {
    async fn check(
        &mut self,
        message: pb::CheckOwnerRequest,
        accept_language: &str,
    ) -> Result<pb::CheckOwnerResponse, tonic::Status> {
        self.client()
            .check_owner(with_language(message, accept_language))
            .await
            .map(tonic::Response::into_inner)
    }
}

fn codes(r: &[pb::Reason]) -> Vec<ReasonCode> {
    r.iter().map(|r| r.code()).collect()
}

/// Every text of an answer, in order.
fn texts(r: &pb::CheckOwnerResponse) -> Vec<String> {
    let mut all: Vec<String> = r.reasons.iter().map(|r| r.text.clone()).collect();
    all.extend(r.notes.iter().map(|n| n.text.clone()));
    all.extend(r.representation.iter().map(|p| p.text.clone()));
    all.push(r.order_text.clone());
    all.extend(r.legal_basis.iter().map(|b| b.act.clone()));
    all
}

/// One decision asked for in each language: the same outcome, codes, role, item and evidence;
/// every text in the language asked for; `language` says which.
#[tokio::test]
async fn the_same_decision_in_kazakh_russian_and_english() {
    let mut h = Harness::start(|_| {}).await;
    let date = h.today.to_string();
    let mut answers = BTreeMap::new();
    for (header, lang) in [("kk-KZ", "kk"), ("ru-RU,ru;q=0.9", "ru"), ("en", "en")] {
        let r = h.check(minor_with_mother(&date), header).await.unwrap();
        assert_eq!(r.language, lang);
        answers.insert(lang, r);
    }
    let en = &answers["en"];
    for (lang, r) in &answers {
        assert_eq!(r.outcome(), Outcome::OperationalHall, "{lang}");
        assert_eq!(codes(&r.reasons), codes(&en.reasons), "{lang}");
        assert_eq!(codes(&r.notes), codes(&en.notes), "{lang}");
        assert_eq!(
            r.representation
                .as_ref()
                .map(|p| (p.role, p.source, &p.record_id)),
            en.representation
                .as_ref()
                .map(|p| (p.role, p.source, &p.record_id)),
            "{lang}"
        );
        assert_eq!(r.order_item, "4", "{lang}");
        assert_eq!(r.owner, en.owner, "{lang}");
    }
    assert!(en.order_text.starts_with("Item 4: the owner is a minor"));
    assert!(en.reasons[0].text.starts_with("The owner is "));
    let ru = &answers["ru"];
    assert!(ru.order_text.starts_with("Пункт 4: "), "{}", ru.order_text);
    assert!(ru.order_text.contains("Регистрация по месту жительства"));
    assert!(
        ru.reasons[0].text.contains("меньше 18 лет"),
        "{:?}",
        ru.reasons
    );
    assert!(ru.representation.as_ref().unwrap().text.contains("мать"));
    let kk = &answers["kk"];
    assert!(kk.order_text.starts_with("4-тармақ: "), "{}", kk.order_text);
    assert!(
        kk.reasons[0].text.contains("18-ге толмаған"),
        "{:?}",
        kk.reasons
    );
    // No text is left in another language.
    for (a, b) in [("kk", "ru"), ("kk", "en"), ("ru", "en")] {
        for (x, y) in texts(&answers[a]).iter().zip(texts(&answers[b])) {
            assert_ne!(*x, y, "{a} and {b} say the same");
        }
    }
}

/// Without `accept-language`, or naming no language served: `decision.default_language`.
#[tokio::test]
async fn the_default_language_is_configured() {
    let mut h = Harness::start(|c| c.decision.default_language = Lang::Ru).await;
    let date = h.today.to_string();
    let none = h
        .client()
        .check_owner(minor_with_mother(&date))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(none.language, "ru");
    assert!(none.order_text.starts_with("Пункт 4"));
    let german = h.check(minor_with_mother(&date), "de-DE, fr;q=0.5").await;
    assert_eq!(german.unwrap().language, "ru");
    let english = h.check(minor_with_mother(&date), "de, en;q=0.3").await;
    assert_eq!(english.unwrap().language, "en");
}

/// Over HTTP/JSON the `Accept-Language` header chooses the language as the metadata does; a
/// decision past the act's term carries its note there too.
#[tokio::test]
async fn accept_language_over_http_json() {
    let today = decision::today();
    let h = Harness::start(|c| c.decision.legal_basis.acts = vec![ended_days_ago(today, 10)]).await;
    let until = days_before(today, 10).to_string();
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let body = serde_json::json!({
        "ownerIin": demo::CAPABLE_ADULT,
        "service": "SERVICE_REGISTRATION_AT_RESIDENCE",
        "step": "ORDER_STEP_HALL_CHECK",
    });
    let mut seen = Vec::new();
    for lang in ["kk", "ru", "en"] {
        let text = client
            .post(format!("http://{}/v1/owners:check", h.addr))
            .header("accept-language", lang)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["language"], lang, "{json}");
        assert_eq!(json["outcome"], "OUTCOME_ONLINE");
        assert_eq!(json["orderItem"], "8");
        assert_eq!(
            json["reasons"][0]["code"],
            "REASON_CODE_OWNER_CAPABLE_ADULT"
        );
        assert_eq!(
            json["legalBasis"]["effectiveUntil"],
            until.as_str(),
            "{json}"
        );
        assert!(json["legalBasis"].get("inForce").is_none(), "{json}");
        let note = json["notes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["code"] == "REASON_CODE_LEGAL_BASIS_EXPIRED")
            .unwrap_or_else(|| panic!("no legal basis note: {json}"));
        assert!(note["text"].as_str().unwrap().contains(&until), "{note}");
        let warning = json["warning"].as_str().unwrap().to_owned();
        assert!(warning.contains("egov.kz"), "{warning}");
        seen.push(warning);
    }
    assert!(seen[0].contains("мұнда көрсету мүмкін емес"), "{}", seen[0]);
    assert!(
        seen[1].contains("не может быть оказана здесь"),
        "{}",
        seen[1]
    );
    assert!(seen[2].starts_with("The service "), "{}", seen[2]);
}

/// A decision dated past the act's term still answers, with a note naming the act and its end
/// date, `legal_basis.in_force` false, in the caller's language; within the term, neither.
#[tokio::test]
async fn a_decision_past_the_term_answers_with_its_note() {
    let today = decision::today();
    let mut h =
        Harness::start(|c| c.decision.legal_basis.acts = vec![ended_days_ago(today, 10)]).await;
    let until = days_before(today, 10).to_string();
    let r = h
        .check(minor_with_mother(&today.to_string()), "en")
        .await
        .unwrap();
    assert_eq!(r.outcome(), Outcome::OperationalHall);
    assert_eq!(r.order_item, "4");
    let note = r.notes.last().unwrap();
    assert_eq!(note.code(), ReasonCode::LegalBasisExpired);
    for part in [
        today.to_string().as_str(),
        until.as_str(),
        "No. 801",
        "No. 500",
    ] {
        assert!(note.text.contains(part), "{part}: {}", note.text);
    }
    let basis = r.legal_basis.as_ref().unwrap();
    assert!(!basis.in_force);
    assert_eq!(
        (basis.act_id.as_str(), basis.effective_until.as_str()),
        ("joint-order-801-500", until.as_str())
    );
    let ru = h
        .check(minor_with_mother(&today.to_string()), "ru")
        .await
        .unwrap();
    let note = ru.notes.last().unwrap();
    assert_eq!(note.code(), ReasonCode::LegalBasisExpired);
    assert!(
        note.text.contains(&until) && note.text.contains("№ 801"),
        "{}",
        note.text
    );

    let within = days_before(today, 11).to_string();
    let r = h.check(minor_with_mother(&within), "en").await.unwrap();
    assert!(r.legal_basis.as_ref().unwrap().in_force);
    assert!(
        !codes(&r.notes).contains(&ReasonCode::LegalBasisExpired),
        "{r:?}"
    );

    // A dwelling: the act not in force, every owner's decision noted.
    let dwelling = h
        .client()
        .check_dwelling(pb::CheckDwellingRequest {
            owners: demo::FAMILY
                .owners
                .iter()
                .map(|iin| pb::DwellingOwner {
                    iin: (*iin).into(),
                    consent_token: String::new(),
                })
                .collect(),
            service: pb::Service::RegistrationAtResidence.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!dwelling.legal_basis.unwrap().in_force);
    for owner in &dwelling.owners {
        let Some(pb::owner_result::Result::Decision(d)) = &owner.result else {
            panic!("{owner:?}");
        };
        assert!(codes(&d.notes).contains(&ReasonCode::LegalBasisExpired));
    }
}

/// `on_expired = "refuse"`: FAILED_PRECONDITION naming the rule, before any registry is
/// asked; within the term the answer comes as usual.
#[tokio::test]
async fn refuse_past_the_term_with_failed_precondition() {
    let today = decision::today();
    let mut h = Harness::start(|c| {
        c.decision.legal_basis.acts = vec![ended_days_ago(today, 10)];
        c.decision.legal_basis.on_expired = OnExpired::Refuse;
    })
    .await;
    let calls = |h: &Harness| -> Vec<u64> {
        Registry::ALL
            .iter()
            .map(|r| h.mocks.get(*r).calls())
            .collect()
    };
    let before = calls(&h);
    let status = h
        .check(minor_with_mother(&today.to_string()), "en")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("no legal basis in force"),
        "{status:?}"
    );
    let details = status.get_error_details();
    let violation = &details.precondition_failure().unwrap().violations[0];
    assert_eq!(
        (violation.r#type.as_str(), violation.subject.as_str()),
        ("LEGAL_BASIS_EXPIRED", "decision_date")
    );
    assert_eq!(calls(&h), before, "no registry asked");
    // A dwelling: the dwelling's refusal, not an owner's.
    let status = h
        .client()
        .check_dwelling(with_language(
            pb::CheckDwellingRequest {
                owners: vec![pb::DwellingOwner {
                    iin: demo::MINOR.into(),
                    consent_token: String::new(),
                }],
                service: pb::Service::RegistrationAtResidence.into(),
                ..Default::default()
            },
            "ru",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().starts_with("no legal basis in force on "),
        "{status:?}"
    );
    assert_eq!(calls(&h), before, "no registry asked");
    let within = days_before(today, 11).to_string();
    let r = h.check(minor_with_mother(&within), "en").await.unwrap();
    assert_eq!(r.outcome(), Outcome::OperationalHall);
}

/// An extension configured as a successor act, picked up on reload: the answer cites it and
/// is worded by it where it words something, by the shipped act elsewhere; no note.
#[tokio::test]
async fn a_successor_act_is_a_configuration_change_picked_up_on_reload() {
    let today = decision::today();
    let mut h =
        Harness::start(|c| c.decision.legal_basis.acts = vec![ended_days_ago(today, 10)]).await;
    let date = today.to_string();
    let r = h.check(minor_with_mother(&date), "en").await.unwrap();
    assert!(!r.legal_basis.unwrap().in_force);

    let successor = Act {
        id: "joint-order-900".into(),
        effective_from: days_before(today, 9),
        effective_until: None,
        messages: BTreeMap::from([(
            Lang::En,
            "act-name = joint order No. 900 (demo successor)\n\
             item-4 = Item 4 (as amended): the reception worker sends the applicant to the \
             operational hall for the service \"{ $service }\""
                .to_owned(),
        )]),
    };
    let mut config = h.reloader.current();
    config.decision = DecisionConfig {
        legal_basis: registry_gateway::decision::legal_basis::LegalBasisConfig {
            acts: vec![ended_days_ago(today, 10), successor],
            ..config.decision.legal_basis.clone()
        },
        ..config.decision.clone()
    };
    h.reloader.reload(config).unwrap();

    let r = h.check(minor_with_mother(&date), "en").await.unwrap();
    let basis = r.legal_basis.as_ref().unwrap();
    assert!(basis.in_force);
    assert_eq!(basis.act_id, "joint-order-900");
    assert_eq!(basis.act, "joint order No. 900 (demo successor)");
    assert!(
        r.order_text.starts_with("Item 4 (as amended): "),
        "{}",
        r.order_text
    );
    assert!(!codes(&r.notes).contains(&ReasonCode::LegalBasisExpired));
    // Russian, which the successor does not word: the shipped act's wording.
    let ru = h.check(minor_with_mother(&date), "ru").await.unwrap();
    assert!(ru.order_text.starts_with("Пункт 4: "), "{}", ru.order_text);
}
