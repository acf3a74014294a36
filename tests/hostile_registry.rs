//! A registry's answer is untrusted input. A fake SHEP endpoint on loopback (a few lines of
//! raw HTTP/1.1, so that it can lie about lengths and never stop) stands in for E-social
//! security or IS ZAGS and answers what a broken or hostile registry would: a body over the
//! limit with and without `Content-Length`, an endless body, deep nesting, 100,000 records, a
//! 1 MB name, an entity bomb. Each call fails as a malformed answer within its attempt timeout,
//! `CheckOwner` is never `ONLINE` on such an answer, and the process's peak memory stays far
//! below what the answers would take if read whole.

mod common;

use common::Harness;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::registry::Registry;
use registry_mocks::demo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::Code;

/// What the fake registry answers.
#[derive(Clone)]
enum Answer {
    /// This body, with its true `Content-Length`.
    Body(String),
    /// A `Content-Length` of 200 MB, then the body at full speed.
    Claims200Mb,
    /// Chunked, 64 KiB a chunk, without end (or until the client goes).
    Endless,
    /// Chunked, 100 bytes every 50 ms, without end.
    Trickle,
}

/// A SHEP answer with `payload` inside `responseData/data`.
fn envelope(payload: &str) -> String {
    format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo><messageId>m</messageId><responseDate>2026-11-28T10:00:00+05:00</responseDate><status><code>SCSS001</code><message>ok</message></status></responseInfo><responseData><data>{payload}</data></responseData></response></ns2:SendMessageResponse></soap:Body></soap:Envelope>"#
    )
}

/// Serves `answer` (replaceable) to every request, one connection at a time per task.
async fn fake_registry(answer: Arc<Mutex<Answer>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.lock().unwrap().clone();
            tokio::spawn(serve_one(stream, answer));
        }
    });
    addr
}

async fn serve_one(mut stream: TcpStream, answer: Answer) -> std::io::Result<()> {
    // The request: headers, then Content-Length bytes of body.
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..header_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < header_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let head = |extra: &str| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nConnection: close\r\n{extra}\r\n")
    };
    match answer {
        Answer::Body(body) => {
            let out = head(&format!("Content-Length: {}\r\n", body.len())) + &body;
            stream.write_all(out.as_bytes()).await?;
        }
        Answer::Claims200Mb => {
            stream
                .write_all(head("Content-Length: 200000000\r\n").as_bytes())
                .await?;
            let chunk = vec![b'x'; 64 * 1024];
            loop {
                stream.write_all(&chunk).await?;
            }
        }
        Answer::Endless | Answer::Trickle => {
            let trickle = matches!(answer, Answer::Trickle);
            stream
                .write_all(head("Transfer-Encoding: chunked\r\n").as_bytes())
                .await?;
            let start = envelope("<disability><group>");
            let size = if trickle { 100 } else { 64 * 1024 };
            let filler = "<a>x</a>".repeat(size / 8);
            let mut first = true;
            loop {
                let piece = if first { &start } else { &filler };
                first = false;
                stream
                    .write_all(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes())
                    .await?;
                if trickle {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    stream.shutdown().await
}

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// The demo mocks, with E-social security and IS ZAGS replaced by the fake registry, and
/// what the fake answers.
async fn behind_fake_registry() -> (Harness, Arc<Mutex<Answer>>) {
    let answer = Arc::new(Mutex::new(Answer::Body(envelope(""))));
    let fake = fake_registry(answer.clone()).await;
    let gateway = Harness::start(|config| {
        let registries = config.registries.as_mut().unwrap();
        registries[Registry::SocialSecurity].url = format!("http://{fake}/shep");
        registries[Registry::Zags].url = format!("http://{fake}/shep");
        config.resilience.defaults.attempt_timeout = ATTEMPT_TIMEOUT;
        config.resilience.defaults.max_attempts = 1;
        config.resilience.defaults.breaker.consecutive_failures = 1_000;
        config.resilience.defaults.breaker.min_calls = 1_000;
    })
    .await;
    (gateway, answer)
}

/// Every hostile answer, in turn: GetSocialStatus fails as a malformed answer (or, for the
/// trickle, as a timeout) within the attempt timeout, and CheckOwner for a capable adult whose
/// ZAGS and E-social answers are hostile is never ONLINE: those registries could not rule out
/// a guardianship or a death.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_fail_the_call_and_nothing_else() {
    let (h, fake_answer) = behind_fake_registry().await;
    let mut client = RegistryGatewayServiceClient::new(h.channel.clone());
    let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let many = format!(
        "<guardianships>{}</guardianships>",
        "<guardianship><ward>1</ward></guardianship>".repeat(100_000)
    );
    let long_name = format!(
        "<person><surname>{}</surname></person>",
        "A".repeat(1_000_000)
    );
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><x>&lol2;</x>"#;
    let over = format!("<x>{}</x>", "<a>x</a>".repeat(200_000));
    let cases = [
        (
            "over the limit, with Content-Length",
            Answer::Body(envelope(&over)),
            "malformed",
        ),
        ("Content-Length of 200 MB", Answer::Claims200Mb, "malformed"),
        ("endless chunked body", Answer::Endless, "malformed"),
        ("slow endless body", Answer::Trickle, "no answer within"),
        ("deep nesting", Answer::Body(envelope(&deep)), "malformed"),
        (
            "100,000 records",
            Answer::Body(envelope(&many)),
            "malformed",
        ),
        (
            "a 1 MB name",
            Answer::Body(envelope(&long_name)),
            "malformed",
        ),
        ("entity bomb", Answer::Body(bomb.to_owned()), "malformed"),
    ];
    for (name, answer, kind) in cases {
        *fake_answer.lock().unwrap() = answer;
        let started = Instant::now();
        let e = client
            .get_social_status(pb::GetSocialStatusRequest {
                iin: demo::CAPABLE_ADULT.into(),
            })
            .await
            .expect_err(name);
        let took = started.elapsed();
        assert_eq!(e.code(), Code::Unavailable, "{name}: {e:?}");
        assert!(e.message().contains(kind), "{name}: {}", e.message());
        assert!(
            took < ATTEMPT_TIMEOUT + Duration::from_millis(500),
            "{name}: took {took:?}"
        );

        let decision = client
            .check_owner(pb::CheckOwnerRequest {
                owner_iin: demo::CAPABLE_ADULT.into(),
                service: pb::Service::RegistrationAtResidence.into(),
                decision_date: h.today.clone(),
                ..Default::default()
            })
            .await;
        if let Ok(answer) = decision {
            assert_ne!(
                answer.into_inner().outcome(),
                pb::Outcome::Online,
                "{name}: ONLINE on a hostile answer"
            );
        }
    }
}

/// 40 concurrent calls, each answered with an endless body: the gateway reads at most the
/// limit (1 MiB) of each and drops the connection, so the process's peak memory grows by about
/// 40 × 1 MiB, not by what endless answers would take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_under_oversized_answers_is_bounded() {
    let (h, fake_answer) = behind_fake_registry().await;
    // 80 different persons, 40 for each storm: no call is shared.
    let mut first = common::strangers(80);
    let second = first.split_off(40);
    let storm = |iins: Vec<String>| {
        join_all(iins.into_iter().map(|iin| {
            let mut client = RegistryGatewayServiceClient::new(h.channel.clone());
            async move {
                client
                    .get_social_status(pb::GetSocialStatusRequest { iin })
                    .await
            }
        }))
    };
    // The largest answer the limits accept: just under 1 MiB, 19,000 elements.
    let record = format!("<r>{}</r>", "x".repeat(45));
    let largest = envelope(&format!("<x>{}</x>", record.repeat(19_000)));
    assert!(largest.len() < 1024 * 1024, "{}", largest.len());
    *fake_answer.lock().unwrap() = Answer::Body(largest);
    let before = common::status_kib("VmHWM");
    storm(first).await;
    let accepted_mib = (common::status_kib("VmHWM").saturating_sub(before)) / 1024;

    *fake_answer.lock().unwrap() = Answer::Endless;
    let before = common::status_kib("VmHWM");
    for result in storm(second).await {
        let e = result.expect_err("an oversized answer fails the call");
        assert!(e.message().contains("malformed"), "{}", e.message());
    }
    let grown_mib = (common::status_kib("VmHWM").saturating_sub(before)) / 1024;
    eprintln!(
        "peak memory grew by {accepted_mib} MiB under 40 concurrent largest accepted answers, \
         then by {grown_mib} MiB more under 40 concurrent endless answers"
    );
    assert!(accepted_mib < 160, "peak grew by {accepted_mib} MiB");
    assert!(grown_mib < 160, "peak grew by {grown_mib} MiB");
}
