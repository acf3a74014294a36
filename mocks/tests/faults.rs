//! Fault injection, the admin endpoints, the calls counter and stop().

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{count, http, raw, soap, text, text_in, KeepAlive};
use registry_mocks::{
    demo, spawn, FaultMode, Faults, Fixture, MockRegistries, MockRegistry, Registry,
};
use roxmltree::Document;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

async fn one(registry: Registry) -> MockRegistry {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    spawn(registry, Arc::new(Fixture::demo()), listener).await
}

#[tokio::test]
async fn down_closes_without_an_answer() {
    let m = one(Registry::GbdFl).await;
    m.set_faults(Faults::mode(FaultMode::Down));
    let bytes = raw(
        m.addr(),
        "POST",
        "/shep",
        &common::send_message("m", demo::CAPABLE_ADULT),
        "text/xml",
    )
    .await
    .expect("connect and send");
    assert!(
        bytes.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(m.calls(), 1);

    m.set_faults(Faults::none());
    assert_eq!(soap(m.addr(), "m", demo::CAPABLE_ADULT).await.status, 200);
    assert_eq!(m.calls(), 2);
    m.stop().await;
}

#[tokio::test]
async fn http_503() {
    let m = one(Registry::Zags).await;
    m.set_faults(Faults::mode(FaultMode::Http503));
    let r = soap(m.addr(), "m", demo::MINOR).await;
    assert_eq!(r.status, 503);
    assert!(
        Document::parse(&r.body).is_err(),
        "no envelope expected: {}",
        r.body
    );
    m.stop().await;
}

#[tokio::test]
async fn soap_fault() {
    let m = one(Registry::SocialSecurity).await;
    m.set_faults(Faults::mode(FaultMode::SoapFault));
    let r = soap(m.addr(), "m", demo::MINOR).await;
    assert_eq!(r.status, 500);
    let doc = Document::parse(&r.body).expect("fault is well-formed");
    let fault = doc
        .descendants()
        .find(|n| n.tag_name().name() == "Fault")
        .expect("Fault");
    assert_eq!(fault.tag_name().namespace(), Some(registry_mocks::SOAP_NS));
    assert_eq!(text(&doc, "faultcode").as_deref(), Some("soap:Server"));
    assert_eq!(count(&doc, "SendMessageSendMessageFaultMsg"), 1);
    assert_eq!(
        text_in(&doc, "SendMessageSendMessageFaultMsg", "code").as_deref(),
        Some(registry_mocks::INJECTED_FAULT_CODE)
    );
    m.stop().await;
}

#[tokio::test]
async fn malformed_xml() {
    let m = one(Registry::Nobd).await;
    m.set_faults(Faults::mode(FaultMode::MalformedXml));
    let r = soap(m.addr(), "m", demo::MINOR).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    assert!(r.body.starts_with("<soap:Envelope"), "{}", r.body);
    assert!(Document::parse(&r.body).is_err(), "{}", r.body);
    m.stop().await;
}

#[tokio::test]
async fn wrong_status() {
    let m = one(Registry::GbdFl).await;
    m.set_faults(Faults::mode(FaultMode::WrongStatus {
        code: "TEMP_UNAVAILABLE".into(),
    }));
    let r = soap(m.addr(), "m-7", demo::CAPABLE_ADULT).await;
    assert_eq!(r.status, 200);
    let doc = Document::parse(&r.body).expect("well-formed");
    assert_eq!(
        text_in(&doc, "status", "code").as_deref(),
        Some("TEMP_UNAVAILABLE")
    );
    assert_eq!(text(&doc, "correlationId").as_deref(), Some("m-7"));
    assert_eq!(count(&doc, "person"), 0);
    m.stop().await;
}

#[tokio::test(start_paused = true)]
async fn trickle_sends_the_real_body_slowly() {
    let m = one(Registry::Epvo).await;
    let normal = soap(m.addr(), "m", demo::STUDENT).await;
    let len = normal.body.len();

    m.set_faults(Faults::mode(FaultMode::Trickle { bytes_per_sec: 100 }));
    let start = Instant::now();
    let r = soap(m.addr(), "m", demo::STUDENT).await;
    let elapsed = start.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(len.to_string().as_str()));
    let doc = Document::parse(&r.body).expect("complete body");
    assert_eq!(text(&doc, "dormitory").as_deref(), Some("true"));
    let expected = Duration::from_secs_f64(len as f64 / 100.0);
    assert!(
        elapsed + Duration::from_millis(200) >= expected,
        "{len} bytes in {elapsed:?}, expected about {expected:?}"
    );
    assert!(elapsed <= expected + Duration::from_secs(1), "{elapsed:?}");
    m.stop().await;
}

#[tokio::test(start_paused = true)]
async fn latency_and_jitter() {
    let m = one(Registry::GbdFl).await;
    m.set_faults(Faults {
        latency: Duration::from_secs(3),
        jitter: Duration::from_secs(1),
        ..Faults::none()
    });
    for _ in 0..5 {
        let start = Instant::now();
        let r = soap(m.addr(), "m", demo::CAPABLE_ADULT).await;
        let elapsed = start.elapsed();
        assert_eq!(r.status, 200);
        assert!(
            elapsed >= Duration::from_secs(3) && elapsed < Duration::from_millis(4100),
            "{elapsed:?}"
        );
    }
    m.stop().await;
}

#[tokio::test]
async fn error_rate_picks_the_error_mode() {
    let m = one(Registry::GbdFl).await;
    m.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::none()
    });
    assert_eq!(soap(m.addr(), "m", demo::CAPABLE_ADULT).await.status, 503);

    m.set_faults(Faults {
        error_rate: 1.0,
        error: Some(FaultMode::WrongStatus {
            code: "TEMP_UNAVAILABLE".into(),
        }),
        ..Faults::none()
    });
    let r = soap(m.addr(), "m", demo::CAPABLE_ADULT).await;
    let doc = Document::parse(&r.body).expect("xml");
    assert_eq!(
        text_in(&doc, "status", "code").as_deref(),
        Some("TEMP_UNAVAILABLE")
    );

    m.set_faults(Faults {
        error_rate: 0.5,
        ..Faults::none()
    });
    let mut by_status = [0u32; 2];
    for _ in 0..60 {
        match soap(m.addr(), "m", demo::CAPABLE_ADULT).await.status {
            200 => by_status[0] += 1,
            503 => by_status[1] += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // P(all 60 on one side) = 2^-59.
    assert!(by_status[0] > 0 && by_status[1] > 0, "{by_status:?}");
    assert_eq!(m.calls(), 62);
    m.stop().await;
}

#[tokio::test]
async fn admin_endpoints() {
    let m = one(Registry::Nobd).await;
    let addr = m.addr();

    let r = http(addr, "GET", "/admin/faults", "", "application/json").await;
    assert_eq!(r.status, 200);
    let faults: Faults = serde_json::from_str(&r.body).expect("faults JSON");
    assert_eq!(faults, Faults::none());

    let body = r#"{"latency":"1ms","error_rate":0.25,"mode":{"wrong_status":{"code":"X1"}}}"#;
    let r = http(addr, "PUT", "/admin/faults", body, "application/json").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = Faults {
        latency: Duration::from_millis(1),
        error_rate: 0.25,
        mode: FaultMode::WrongStatus { code: "X1".into() },
        ..Faults::none()
    };
    assert_eq!(m.faults(), expected);
    let r = http(addr, "GET", "/admin/faults", "", "application/json").await;
    assert_eq!(
        serde_json::from_str::<Faults>(&r.body).expect("json"),
        expected
    );

    for bad in [
        r#"{"error_rate":2}"#,
        r#"{"mode":"sideways"}"#,
        "not json",
        r#"{"latency":5}"#,
    ] {
        let r = http(addr, "PUT", "/admin/faults", bad, "application/json").await;
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(m.faults(), expected, "a rejected PUT changes nothing");

    let r = http(
        addr,
        "PUT",
        "/admin/faults",
        r#"{"mode":"none"}"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(m.faults(), Faults::none());

    soap(addr, "m", demo::MINOR).await;
    soap(addr, "m", demo::MINOR).await;
    let r = http(addr, "GET", "/admin/calls", "", "application/json").await;
    let calls: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(calls["calls"], 2);
    assert_eq!(calls["registry"], "nobd");
    let r = http(addr, "POST", "/admin/calls/reset", "", "application/json").await;
    assert_eq!(r.status, 200);
    assert_eq!(m.calls(), 0, "admin requests are not counted");
    m.stop().await;
}

#[tokio::test]
async fn faults_do_not_block_admin() {
    let m = one(Registry::Zags).await;
    m.set_faults(Faults::mode(FaultMode::Down));
    let r = http(m.addr(), "PUT", "/admin/faults", "{}", "application/json").await;
    assert_eq!(r.status, 200);
    assert_eq!(soap(m.addr(), "m", demo::MINOR).await.status, 200);
    m.stop().await;
}

#[tokio::test]
async fn stop_refuses_new_and_closes_open_connections() {
    let m = one(Registry::GbdFl).await;
    let addr = m.addr();
    let mut conn = KeepAlive::connect(addr).await.expect("connect");
    assert_eq!(
        conn.soap(demo::CAPABLE_ADULT).await.expect("first").status,
        200
    );
    assert_eq!(
        conn.soap(demo::CAPABLE_ADULT).await.expect("reused").status,
        200
    );

    m.stop().await;

    let refused = TcpStream::connect(addr)
        .await
        .expect_err("listener is closed");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(
        conn.soap(demo::CAPABLE_ADULT).await.is_err(),
        "pooled connection must be closed"
    );
}

#[tokio::test]
async fn stopping_one_leaves_the_others() {
    let mut m = MockRegistries::spawn(Arc::new(Fixture::demo()))
        .await
        .expect("spawn");
    let zags = m.get(Registry::Zags).addr();
    m.stop(Registry::Zags).await;
    assert_eq!(
        TcpStream::connect(zags)
            .await
            .expect_err("zags stopped")
            .kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    // Stopping twice is harmless, and the handle still answers questions.
    m.stop(Registry::Zags).await;
    assert_eq!(m.get(Registry::Zags).addr(), zags);
    for r in [
        Registry::GbdFl,
        Registry::SocialSecurity,
        Registry::Nobd,
        Registry::Epvo,
    ] {
        assert_eq!(
            soap(m.get(r).addr(), "m", demo::MINOR).await.status,
            200,
            "{r}"
        );
    }
    m.shutdown().await;
}

#[tokio::test]
async fn dropping_the_handle_stops_the_mock() {
    let m = one(Registry::Epvo).await;
    let addr = m.addr();
    drop(m);
    // The accept loop sees the closed channel; wait for it briefly.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "mock still listening after its handle was dropped");
}
