//! SendMessage round trips per registry over real HTTP on 127.0.0.1:0.

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use common::{count, soap, text, text_in};
use registry_mocks::{demo, Fixture, MockRegistries, Registry};
use roxmltree::Document;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
}

async fn mocks() -> MockRegistries {
    MockRegistries::spawn(Arc::new(Fixture::demo().with_today(today())))
        .await
        .expect("spawn mocks")
}

/// POSTs a SendMessage to `registry` and checks the envelope; returns the body.
async fn ask(mocks: &MockRegistries, registry: Registry, iin: &str) -> String {
    let r = soap(mocks.get(registry).addr(), "req-42", iin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    let doc = Document::parse(&r.body).expect("well-formed response");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "Envelope");
    assert_eq!(root.tag_name().namespace(), Some(registry_mocks::SOAP_NS));
    let resp = doc
        .descendants()
        .find(|n| n.tag_name().name() == "SendMessageResponse")
        .expect("SendMessageResponse");
    assert_eq!(resp.tag_name().namespace(), Some(registry_mocks::TYPES_NS));
    assert_eq!(text(&doc, "correlationId").as_deref(), Some("req-42"));
    assert_eq!(text(&doc, "sessionId").as_deref(), Some("session-1"));
    let message_id = text(&doc, "messageId").expect("messageId");
    assert_eq!(message_id.len(), 36, "{message_id}");
    let date = text(&doc, "responseDate").expect("responseDate");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&date).is_ok() && date.ends_with("+05:00"),
        "{date}"
    );
    r.body
}

fn status(body: &str) -> String {
    let doc = Document::parse(body).expect("xml");
    text_in(&doc, "status", "code").expect("status code")
}

#[tokio::test]
async fn gbd_fl_capable_adult() {
    let m = mocks().await;
    let body = ask(&m, Registry::GbdFl, demo::CAPABLE_ADULT).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(status(&body), "SCSS001");
    assert_eq!(
        text_in(&doc, "person", "iin").as_deref(),
        Some(demo::CAPABLE_ADULT)
    );
    assert_eq!(text(&doc, "surname").as_deref(), Some("Ахметов"));
    assert_eq!(text(&doc, "patronymic").as_deref(), Some("Болатович"));
    assert_eq!(text(&doc, "birthDate").as_deref(), Some("1986-03-14"));
    assert_eq!(text(&doc, "gender").as_deref(), Some("MALE"));
    assert_eq!(text(&doc, "citizenship").as_deref(), Some("KZ"));
    assert_eq!(text_in(&doc, "lifeStatus", "code").as_deref(), Some("1"));
    assert_eq!(
        text_in(&doc, "lifeStatus", "nameRu").as_deref(),
        Some("Жив")
    );
    assert_eq!(text_in(&doc, "capableStatus", "code").as_deref(), Some("1"));
    assert_eq!(count(&doc, "deathDate"), 0);
    assert_eq!(count(&doc, "capableDate"), 0);
    assert!(text(&doc, "regAddress").is_some_and(|a| a.contains("Астана")));
    assert_eq!(m.get(Registry::GbdFl).calls(), 1);
    m.shutdown().await;
}

#[tokio::test]
async fn gbd_fl_court_status_death_and_relative_dates() {
    let m = mocks().await;

    let body = ask(&m, Registry::GbdFl, demo::INCAPABLE_BY_COURT).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text_in(&doc, "capableStatus", "code").as_deref(), Some("2"));
    assert_eq!(text(&doc, "capableDate").as_deref(), Some("2019-04-12"));
    assert_eq!(text(&doc, "capableNumber").as_deref(), Some("2-1234/2019"));
    assert!(text(&doc, "court").is_some_and(|c| !c.is_empty()));

    let body = ask(&m, Registry::GbdFl, demo::LIMITED_CAPACITY).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text_in(&doc, "capableStatus", "code").as_deref(), Some("3"));

    let body = ask(&m, Registry::GbdFl, demo::DECEASED_GBD).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text_in(&doc, "lifeStatus", "code").as_deref(), Some("2"));
    assert_eq!(text(&doc, "deathDate").as_deref(), Some("2025-01-10"));
    assert_eq!(
        text_in(&doc, "deathCertificate", "number").as_deref(),
        Some("ZAGS-D-0000117")
    );
    assert_eq!(
        text_in(&doc, "deathCertificate", "date").as_deref(),
        Some("2025-01-12")
    );

    let body = ask(&m, Registry::GbdFl, demo::DECEASED_ZAGS_ONLY).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text_in(&doc, "lifeStatus", "code").as_deref(), Some("1"));
    assert_eq!(count(&doc, "deathCertificate"), 0);

    let body = ask(&m, Registry::GbdFl, demo::TURNS_18_TODAY).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text(&doc, "birthDate").as_deref(), Some("2008-11-25"));
    let body = ask(&m, Registry::GbdFl, demo::TURNS_18_TOMORROW).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text(&doc, "birthDate").as_deref(), Some("2008-11-26"));
    let body = ask(&m, Registry::GbdFl, demo::LEAP_DAY_BORN).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text(&doc, "birthDate").as_deref(), Some("2008-02-29"));

    let body = ask(&m, Registry::GbdFl, demo::MINOR).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(
        text_in(&doc, "birthCertificate", "number").as_deref(),
        Some("ZAGS-B-0000451")
    );
    m.shutdown().await;
}

#[tokio::test]
async fn relative_dates_follow_the_pinned_day() {
    let feb = NaiveDate::from_ymd_opt(2026, 2, 28).expect("date");
    let m = MockRegistries::spawn(Arc::new(Fixture::demo().with_today(feb)))
        .await
        .expect("spawn");
    // Their IINs follow the birth dates: asked by that day's number, answered with it.
    for (key, birth, number) in [
        (demo::TURNS_18_TODAY, "2008-02-28", "080228"),
        (demo::TURNS_18_TOMORROW, "2008-02-29", "080229"),
    ] {
        let iin = demo::iin(key, feb);
        assert!(iin.starts_with(number), "{iin}");
        let body = ask(&m, Registry::GbdFl, &iin).await;
        let doc = Document::parse(&body).expect("xml");
        assert_eq!(text(&doc, "birthDate").as_deref(), Some(birth));
        assert_eq!(text(&doc, "iin"), Some(iin));
        // The key is nobody's number on that day.
        let body = ask(&m, Registry::GbdFl, key).await;
        assert_eq!(status(&body), registry_mocks::NOT_FOUND, "{key}");
    }
    // Records that name a daily person name that day's number.
    let ward = demo::iin(demo::MINOR_IN_CARE, feb);
    let body = ask(&m, Registry::SocialSecurity, &ward).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text(&doc, "wardIin"), Some(ward));
    let body = ask(&m, Registry::Zags, demo::MARRIED_MINOR_SPOUSE).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(
        text_in(&doc, "spouse", "iin"),
        Some(demo::iin(demo::MARRIED_MINOR, feb))
    );
    m.shutdown().await;
}

#[tokio::test]
async fn gbd_fl_unknown_is_notfound_with_empty_data() {
    let m = mocks().await;
    for iin in [demo::UNKNOWN, demo::ORGANISATION_BIN, demo::BAD_CHECK_DIGIT] {
        let body = ask(&m, Registry::GbdFl, iin).await;
        assert_eq!(status(&body), "NOTFOUND", "{iin}");
        let doc = Document::parse(&body).expect("xml");
        let data = doc
            .descendants()
            .find(|n| n.tag_name().name() == "data")
            .expect("data element");
        assert!(!data.has_children(), "{iin}: {body}");
    }
    m.shutdown().await;
}

#[tokio::test]
async fn zags_acts() {
    let m = mocks().await;

    let body = ask(&m, Registry::Zags, demo::MINOR).await;
    assert_eq!(status(&body), "SCSS001");
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(count(&doc, "birthAct"), 1);
    assert_eq!(text(&doc, "actNumber").as_deref(), Some("ZAGS-B-0000451"));
    assert_eq!(text(&doc, "actDate").as_deref(), Some("2016-10-26"));
    assert_eq!(text_in(&doc, "child", "iin").as_deref(), Some(demo::MINOR));
    assert_eq!(
        text_in(&doc, "mother", "iin").as_deref(),
        Some(demo::MINOR_MOTHER)
    );
    assert_eq!(
        text_in(&doc, "mother", "fullName").as_deref(),
        Some("Жаксыбекова Сауле Кайратовна")
    );
    assert_eq!(
        text_in(&doc, "father", "iin").as_deref(),
        Some(demo::MINOR_FATHER)
    );
    assert_eq!(count(&doc, "marriageAct"), 0);

    // The other party of a marriage, seen from either side.
    for (me, other) in [
        (demo::STUDENT, demo::STUDENT_SPOUSE),
        (demo::STUDENT_SPOUSE, demo::STUDENT),
        (demo::MARRIED_MINOR, demo::MARRIED_MINOR_SPOUSE),
    ] {
        let body = ask(&m, Registry::Zags, me).await;
        let doc = Document::parse(&body).expect("xml");
        assert_eq!(count(&doc, "marriageAct"), 1, "{me}");
        assert_eq!(text_in(&doc, "spouse", "iin").as_deref(), Some(other));
        assert_eq!(text(&doc, "dissolved").as_deref(), Some("false"));
    }

    let body = ask(&m, Registry::Zags, demo::DECEASED_ZAGS_ONLY).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(
        text_in(&doc, "deathAct", "deathDate").as_deref(),
        Some("2025-08-30")
    );
    assert_eq!(
        text_in(&doc, "deathAct", "actNumber").as_deref(),
        Some("ZAGS-D-0000388")
    );

    let body = ask(&m, Registry::Zags, demo::INCAPABLE_GUARDIAN).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(
        text(&doc, "previousFullName").as_deref(),
        Some("Серикова Гульнар Маратовна")
    );
    assert_eq!(
        text(&doc, "newFullName").as_deref(),
        Some("Касымова Гульнар Маратовна")
    );

    let body = ask(&m, Registry::Zags, demo::UNKNOWN).await;
    assert_eq!(status(&body), "SCSS001");
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(count(&doc, "civilActs"), 1);
    let acts = doc
        .descendants()
        .find(|n| n.tag_name().name() == "civilActs")
        .expect("civilActs");
    // No acts: only whom the answer is about.
    let children: Vec<_> = acts.children().filter(|n| n.is_element()).collect();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].tag_name().name(), "iin");
    assert_eq!(children[0].text(), Some(demo::UNKNOWN));
    m.shutdown().await;
}

#[tokio::test]
async fn social_security_guardianship_and_disability() {
    let m = mocks().await;
    let body = ask(&m, Registry::SocialSecurity, demo::INCAPABLE_BY_COURT).await;
    assert_eq!(status(&body), "SCSS001");
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text_in(&doc, "disability", "group").as_deref(), Some("1"));
    assert_eq!(count(&doc, "guardianship"), 1);
    assert_eq!(text(&doc, "kind").as_deref(), Some("GUARDIANSHIP"));
    assert_eq!(text(&doc, "recordId").as_deref(), Some("GS-2019-0415"));
    assert_eq!(
        text(&doc, "wardIin").as_deref(),
        Some(demo::INCAPABLE_BY_COURT)
    );
    assert_eq!(
        text(&doc, "guardianIin").as_deref(),
        Some(demo::INCAPABLE_GUARDIAN)
    );
    assert_eq!(count(&doc, "until"), 0);

    // The guardian sees the same record.
    let body = ask(&m, Registry::SocialSecurity, demo::INCAPABLE_GUARDIAN).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(text(&doc, "recordId").as_deref(), Some("GS-2019-0415"));
    assert_eq!(count(&doc, "disability"), 0);

    for (ward, kind, guardian) in [
        (demo::LIMITED_CAPACITY, "TRUSTEESHIP", demo::LIMITED_TRUSTEE),
        (
            demo::GUARDIANSHIP_ONLY,
            "GUARDIANSHIP",
            demo::GUARDIANSHIP_ONLY_GUARDIAN,
        ),
        (
            demo::MINOR_IN_CARE,
            "TRUSTEESHIP",
            demo::MINOR_IN_CARE_TRUSTEE,
        ),
    ] {
        let body = ask(&m, Registry::SocialSecurity, ward).await;
        let doc = Document::parse(&body).expect("xml");
        assert_eq!(text(&doc, "kind").as_deref(), Some(kind), "{ward}");
        assert_eq!(
            text(&doc, "guardianIin").as_deref(),
            Some(guardian),
            "{ward}"
        );
    }

    let body = ask(&m, Registry::SocialSecurity, demo::CAPABLE_ADULT).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(count(&doc, "socialStatus"), 1);
    assert_eq!(count(&doc, "guardianship") + count(&doc, "disability"), 0);
    m.shutdown().await;
}

#[tokio::test]
async fn nobd_enrolments() {
    let m = mocks().await;
    let body = ask(&m, Registry::Nobd, demo::MINOR_IN_CARE).await;
    assert_eq!(status(&body), "SCSS001");
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(
        text(&doc, "organisationBin").as_deref(),
        Some(demo::BOARDING_SCHOOL_BIN)
    );
    assert_eq!(text(&doc, "grade").as_deref(), Some("9"));
    assert_eq!(text(&doc, "withoutParentalCare").as_deref(), Some("true"));
    assert_eq!(text(&doc, "since").as_deref(), Some("2025-11-25"));

    let body = ask(&m, Registry::Nobd, demo::MINOR).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(
        text(&doc, "organisationBin").as_deref(),
        Some(demo::SCHOOL_BIN)
    );
    assert_eq!(text(&doc, "withoutParentalCare").as_deref(), Some("false"));

    let body = ask(&m, Registry::Nobd, demo::UNKNOWN).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!((count(&doc, "education"), count(&doc, "enrolment")), (1, 0));
    m.shutdown().await;
}

#[tokio::test]
async fn epvo_study() {
    let m = mocks().await;
    let body = ask(&m, Registry::Epvo, demo::STUDENT).await;
    assert_eq!(status(&body), "SCSS001");
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(count(&doc, "study"), 1);
    assert_eq!(
        text(&doc, "universityBin").as_deref(),
        Some(demo::UNIVERSITY_BIN)
    );
    assert_eq!(text(&doc, "course").as_deref(), Some("2"));
    assert_eq!(text(&doc, "studyForm").as_deref(), Some("FULL_TIME"));
    assert_eq!(text(&doc, "dormitory").as_deref(), Some("true"));

    let body = ask(&m, Registry::Epvo, demo::MINOR).await;
    let doc = Document::parse(&body).expect("xml");
    assert_eq!(
        (count(&doc, "higherEducation"), count(&doc, "study")),
        (1, 0)
    );
    m.shutdown().await;
}

#[tokio::test]
async fn bad_payload_and_bad_envelope() {
    let m = mocks().await;
    let addr = m.get(Registry::GbdFl).addr();

    let body = ask(&m, Registry::GbdFl, "12345").await;
    assert_eq!(status(&body), "BAD_REQUEST");

    let r = common::http(addr, "POST", "/shep", "<not-soap/>", "text/xml").await;
    assert_eq!(r.status, 500);
    let doc = Document::parse(&r.body).expect("fault is well-formed");
    assert_eq!(text(&doc, "faultcode").as_deref(), Some("soap:Client"));
    assert_eq!(
        text_in(&doc, "detail", "code").as_deref(),
        Some("BAD_REQUEST")
    );

    let r = common::http(addr, "POST", "/shep", "\u{0}garbage", "text/xml").await;
    assert_eq!(r.status, 500);

    // Every POST to the SHEP path counts, understood or not.
    assert_eq!(m.get(Registry::GbdFl).calls(), 3);
    let r = common::http(addr, "GET", "/shep", "", "text/plain").await;
    assert_eq!(r.status, 405);
    assert_eq!(m.get(Registry::GbdFl).calls(), 3);
    m.shutdown().await;
}

#[tokio::test]
async fn mocks_are_independent() {
    let m = mocks().await;
    let addrs: Vec<_> = Registry::ALL.iter().map(|r| m.get(*r).addr()).collect();
    for (i, a) in addrs.iter().enumerate() {
        assert!(a.ip().is_loopback());
        assert_eq!(m.get(Registry::ALL[i]).registry(), Registry::ALL[i]);
        assert_eq!(
            m.get(Registry::ALL[i]).endpoint(),
            format!("http://{a}/shep")
        );
        assert!(!addrs[..i].contains(a), "ports must differ");
    }
    soap(addrs[0], "x", demo::CAPABLE_ADULT).await;
    assert_eq!(m.get(Registry::GbdFl).calls(), 1);
    assert_eq!(m.get(Registry::Zags).calls(), 0);
    m.shutdown().await;
}
