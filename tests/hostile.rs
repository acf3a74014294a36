//! The gateway as strangers and a bad day treat it: hundreds of callers with short deadlines
//! against a slow registry, callers killed mid-call, a probe that never finishes, a storm on
//! the gateway's own queue, a connection that opens streams and never sends their bodies,
//! silent connections, a full connection table, hostile headers and random bytes. After each,
//! the check that everything came back: call slots, breaker state, file descriptors.
//!
//! Real server on 127.0.0.1:0 with the demo mocks in this process; real clients (tonic, and
//! raw HTTP/2 through the `h2` crate where a well-behaved client cannot misbehave enough).
//! Waits are bounded polls of a condition, or a wait for a configured period to pass.

mod common;

use common::Harness;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::join_all;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use registry_gateway::api::pb::{
    self, gateway_admin_service_client::GatewayAdminServiceClient,
    registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::registry::Registry;
use registry_mocks::{demo, FaultMode, Faults};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::transport::Channel;
use tonic::{Code, Request};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_types::StatusExt;

// ---------------------------------------------------------------------------------------------
// Harness

impl Harness {
    fn set_faults(&self, registry: Registry, faults: Faults) {
        self.mocks.get(registry).set_faults(faults);
    }

    fn check_owner(&self, owner: &str) -> pb::CheckOwnerRequest {
        pb::CheckOwnerRequest {
            owner_iin: owner.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            decision_date: self.today.clone(),
            ..Default::default()
        }
    }

    async fn status(&self, channel: &Channel) -> Vec<pb::RegistryStatus> {
        GatewayAdminServiceClient::new(channel.clone())
            .get_registry_status(pb::GetRegistryStatusRequest {})
            .await
            .expect("GetRegistryStatus is never refused")
            .into_inner()
            .registries
    }

    async fn calls_in_flight(&self, channel: &Channel) -> u32 {
        self.status(channel)
            .await
            .iter()
            .map(|r| r.calls_in_flight)
            .sum()
    }

    async fn breaker(&self, channel: &Channel, registry: pb::Registry) -> pb::BreakerState {
        self.status(channel)
            .await
            .into_iter()
            .find(|r| r.registry() == registry)
            .expect("every registry has a status")
            .breaker()
    }
}

/// The value of the first sample of `metric` whose line contains every one of `labels`.
fn sample(metric: &str, labels: &[&str]) -> f64 {
    registry_gateway::metrics::install()
        .render()
        .lines()
        .filter(|l| l.starts_with(metric) && labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

async fn serving(channel: Channel) -> bool {
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .is_ok_and(|r| r.into_inner().status == 1)
}

// ---------------------------------------------------------------------------------------------
// Registry calls whose callers went away

/// A gateway whose registries for CheckOwner (GBD FL, IS ZAGS, E-social security) answer only
/// after 3 s, four client connections to it, and the open files before the storm (counted
/// after one answered call opened the registry and client connections).
struct Storm {
    h: Harness,
    channels: Vec<Channel>,
    files_before: usize,
}

impl Storm {
    async fn start() -> Storm {
        let h = Harness::start(|_| {}).await;
        let channels = join_all((0..4).map(|_| common::connect(h.addr))).await;
        RegistryGatewayServiceClient::new(channels[0].clone())
            .check_owner(h.check_owner(demo::MINOR))
            .await
            .expect("warm-up call");
        let files_before = open_files();
        // No registry connection completes a call and goes back to a pool, so every socket
        // of the storm must be closed.
        for r in Self::SLOW {
            h.set_faults(r, common::slow(Duration::from_secs(3)));
        }
        Storm {
            h,
            channels,
            files_before,
        }
    }

    const SLOW: [Registry; 3] = [Registry::GbdFl, Registry::Zags, Registry::SocialSecurity];

    fn admin(&self) -> &Channel {
        &self.channels[0]
    }

    /// Every call slot comes back within 2 s, and GBD FL's breaker is closed (`why`).
    async fn slots_and_breaker_came_back(&self, why: &str) {
        common::eventually(Duration::from_secs(2), "every call slot free", || async {
            self.h.calls_in_flight(self.admin()).await == 0
        })
        .await;
        assert_eq!(
            self.h.breaker(self.admin(), pb::Registry::GbdFl).await,
            pb::BreakerState::Closed,
            "{why}"
        );
    }

    /// Open files return to their baseline. The mocks still sleep out their 3 s before they
    /// notice the closed sockets, and the registry connection pools let idle connections go
    /// after their idle timeout.
    async fn files_came_back(&self) {
        common::eventually(
            Duration::from_secs(20),
            "open files back to baseline",
            || async { open_files() <= self.files_before + 4 },
        )
        .await;
    }
}

/// 300 CheckOwner callers with 200 ms deadlines against registries answering in 3 s: every
/// call slot comes back, the breakers stay closed, and once the registries recover a new
/// person is answered at once. Open files return to their baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_calls_give_back_their_slots_and_sockets() {
    let storm = Storm::start().await;
    let (h, channels) = (&storm.h, &storm.channels);
    let rss_before = common::status_kib("VmRSS");
    let owners = common::strangers(300);
    let started = Instant::now();
    let calls = owners.iter().enumerate().map(|(i, owner)| {
        let mut client = RegistryGatewayServiceClient::new(channels[i % channels.len()].clone());
        let mut request = Request::new(h.check_owner(owner));
        request.set_timeout(Duration::from_millis(200));
        async move { client.check_owner(request).await }
    });
    let results = join_all(calls).await;
    let took = started.elapsed();
    for result in &results {
        let status = result.as_ref().expect_err("no answer within 200 ms");
        // DEADLINE_EXCEEDED from the gateway; or, when 300 answers leave at once, the
        // client's own timer may fire first (CANCELLED "Timeout expired").
        assert!(
            matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
            "{status:?}"
        );
    }
    assert!(took < Duration::from_secs(2), "the storm took {took:?}");

    storm
        .slots_and_breaker_came_back("the callers' deadlines are not the registry's failures")
        .await;

    for r in Storm::SLOW {
        h.set_faults(r, Faults::none());
    }
    let started = Instant::now();
    let answer = RegistryGatewayServiceClient::new(storm.admin().clone())
        .check_owner(h.check_owner(demo::CAPABLE_ADULT))
        .await
        .expect("a new person is answered once GBD FL is back");
    let latency = started.elapsed();
    assert_eq!(answer.into_inner().outcome(), pb::Outcome::Online);
    assert!(latency < Duration::from_millis(500), "{latency:?}");

    storm.files_came_back().await;
    let rss_after = common::status_kib("VmRSS");
    eprintln!(
        "300 abandoned CheckOwner calls: storm {took:?}, next answer in {latency:?}, \
         open files {} -> {}, RSS {rss_before} KiB -> {rss_after} KiB",
        storm.files_before,
        open_files()
    );
}

/// The wider doors to the same registry calls: 100 CheckDwelling callers (three unknown
/// owners each, 200 ms deadlines) and 300 HTTP/JSON callers that hang up mid-call, against
/// registries answering in 3 s. Every call slot comes back, the breaker stays closed, the HTTP
/// connections are closed, and open files return to their baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_dwellings_and_http_calls_give_back_their_slots_and_sockets() {
    let storm = Storm::start().await;
    let (h, channels) = (&storm.h, &storm.channels);
    let owners = common::strangers(600);
    let (by_grpc, by_http) = owners.split_at(300);
    let dwellings = by_grpc.chunks(3).enumerate().map(|(i, three)| {
        let mut client = RegistryGatewayServiceClient::new(channels[i % channels.len()].clone());
        let mut request = Request::new(pb::CheckDwellingRequest {
            owners: three
                .iter()
                .map(|iin| pb::DwellingOwner {
                    iin: iin.clone(),
                    ..Default::default()
                })
                .collect(),
            service: pb::Service::RegistrationAtResidence.into(),
            decision_date: h.today.clone(),
            ..Default::default()
        });
        request.set_timeout(Duration::from_millis(200));
        async move { client.check_dwelling(request).await }
    });
    // Each HTTP caller on a connection of its own, with a 300 ms deadline, hangs up after
    // 200 ms: the gateway learns of it from the closed connection, and the registry call it
    // joined ends by the deadline.
    let url = format!("http://{}/v1/owners:check", h.addr);
    let hang_ups = by_http.iter().map(|owner| {
        let client = reqwest::Client::builder().http1_only().build().unwrap();
        let body =
            format!(r#"{{"ownerIin":"{owner}","service":"SERVICE_REGISTRATION_AT_RESIDENCE"}}"#);
        let request = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-timeout-ms", "300")
            .body(body);
        async move { tokio::time::timeout(Duration::from_millis(200), request.send()).await }
    });
    let (dwellings, hang_ups) = tokio::join!(join_all(dwellings), join_all(hang_ups));
    for result in &dwellings {
        let status = result
            .as_ref()
            .expect_err("no dwelling answered within 200 ms");
        assert!(
            matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
            "{status:?}"
        );
    }
    assert!(
        hang_ups.iter().all(Result::is_err),
        "no HTTP call answered within 200 ms"
    );

    storm
        .slots_and_breaker_came_back("callers that leave are not the registry's failures")
        .await;
    storm.files_came_back().await;
}

/// A half-open probe whose caller gives up does not leave the breaker half-open: once the
/// registry is back, the next call probes and closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_probe_does_not_wedge_the_breaker() {
    let open_for = Duration::from_millis(500);
    let h = Harness::start(|c| {
        let d = &mut c.resilience.defaults;
        d.max_attempts = 1;
        d.attempt_timeout = Duration::from_secs(1);
        d.breaker.consecutive_failures = 2;
        d.breaker.open_for = open_for;
    })
    .await;
    let channel = common::connect(h.addr).await;
    let mut client = RegistryGatewayServiceClient::new(channel.clone());
    // Each with the person's own (demo) consent token: the demo requires one for GetPerson.
    let person = |iin: &str| pb::GetPersonRequest {
        iin: iin.into(),
        consent_token: demo::consent(iin),
    };

    h.set_faults(Registry::GbdFl, Faults::mode(FaultMode::Http503));
    for _ in 0..2 {
        let e = client
            .get_person(person(demo::CAPABLE_ADULT))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    }
    assert_eq!(
        h.breaker(&channel, pb::Registry::GbdFl).await,
        pb::BreakerState::Open
    );

    // The probe: GBD FL now hangs, and the probe's caller gives up — once by its deadline,
    // once by going away (the RPC future dropped, the stream reset).
    h.set_faults(Registry::GbdFl, common::slow(Duration::from_secs(30)));
    tokio::time::sleep(open_for).await;
    let mut request = Request::new(person(demo::CAPABLE_ADULT));
    // 500 ms: the gateway's early answer (a tenth, at most 50 ms) beats the client's timer.
    request.set_timeout(Duration::from_millis(500));
    let e = client.get_person(request).await.unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    common::eventually(
        Duration::from_secs(3),
        "the probe's slot is free",
        || async { h.calls_in_flight(&channel).await == 0 },
    )
    .await;
    let mut killed = client.clone();
    let probe = tokio::spawn(async move { killed.get_person(person(demo::MINOR)).await });
    common::eventually(
        Duration::from_secs(3),
        "the second probe started",
        || async { h.calls_in_flight(&channel).await == 1 },
    )
    .await;
    probe.abort();

    // GBD FL recovers. The killed probe ends by its attempt timeout (1 s) and, being the
    // registry's timeout, opens the breaker once more for open_for; then a probe passes.
    h.set_faults(Registry::GbdFl, Faults::none());
    common::eventually(
        Duration::from_secs(5),
        "the killed probe's slot is free",
        || async { h.calls_in_flight(&channel).await == 0 },
    )
    .await;
    common::eventually(
        Duration::from_secs(5),
        "a probe closes the breaker",
        || async {
            let _ = RegistryGatewayServiceClient::new(channel.clone())
                .get_person(person(demo::MINOR_MOTHER))
                .await;
            h.breaker(&channel, pb::Registry::GbdFl).await == pb::BreakerState::Closed
        },
    )
    .await;
    client
        .get_person(person(demo::CAPABLE_ADULT))
        .await
        .expect("answered with the breaker closed");
}

/// 100 callers for different persons against E-social security with 2 call slots and 300 ms
/// latency: those that find no slot within queue_timeout are the gateway's overload
/// (RESOURCE_EXHAUSTED with RetryInfo, naming the registry), never the registry's failure,
/// and the breaker of the healthy registry stays closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_on_the_slot_queue_never_opens_the_breaker_of_a_healthy_registry() {
    let h = Harness::start(|c| {
        let d = &mut c.resilience.defaults;
        d.max_concurrent = 2;
        d.queue_timeout = Duration::from_millis(250);
        d.breaker.consecutive_failures = 3;
    })
    .await;
    h.set_faults(
        Registry::SocialSecurity,
        common::slow(Duration::from_millis(300)),
    );
    let channel = common::connect(h.addr).await;
    let queue_full = || sample("gateway_registry_queue_full_total", &["social_security"]);
    let before = queue_full();
    let calls = common::strangers(100).into_iter().map(|iin| {
        let mut client = RegistryGatewayServiceClient::new(channel.clone());
        async move {
            client
                .get_social_status(pb::GetSocialStatusRequest { iin })
                .await
        }
    });
    let (mut answered, mut shed) = (0, 0);
    for result in join_all(calls).await {
        match result {
            Ok(_) => answered += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                let details = status.get_error_details();
                let info = details.error_info().expect("ErrorInfo");
                assert_eq!(info.reason, "GATEWAY_OVERLOADED");
                assert_eq!(info.metadata["registry"], "social_security");
                assert!(details.retry_info().is_some(), "RetryInfo");
                shed += 1;
            }
        }
    }
    assert!(
        answered >= 2 && shed > 50,
        "{answered} answered, {shed} shed"
    );
    assert_eq!(
        queue_full() - before,
        f64::from(shed),
        "each one counted as queue full"
    );
    assert_eq!(
        h.breaker(&channel, pb::Registry::SocialSecurity).await,
        pb::BreakerState::Closed
    );
    common::eventually(Duration::from_secs(2), "slots free", || async {
        h.calls_in_flight(&channel).await == 0
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Shedding

/// With every in-flight slot taken, health and the admin service still answer; the shed call
/// gets RESOURCE_EXHAUSTED with RetryInfo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_admin_are_never_shed() {
    let h = Harness::start(|c| c.max_in_flight = 1).await;
    let shed_total = || sample("gateway_rpc_shed_total", &[]);
    let shed_before = shed_total();
    h.set_faults(Registry::GbdFl, common::slow(Duration::from_secs(2)));
    let channel = common::connect(h.addr).await;
    let mut busy = RegistryGatewayServiceClient::new(channel.clone());
    let owner = h.check_owner(demo::CAPABLE_ADULT);
    let first = tokio::spawn(async move { busy.check_owner(owner).await });
    common::eventually(
        Duration::from_secs(2),
        "the first call holds the slot",
        || async { h.calls_in_flight(&channel).await > 0 },
    )
    .await;

    let shed = RegistryGatewayServiceClient::new(channel.clone())
        .check_owner(h.check_owner(demo::MINOR))
        .await
        .unwrap_err();
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    assert!(shed.get_error_details().retry_info().is_some());
    assert_eq!(shed_total() - shed_before, 1.0, "counted as shed");
    assert!(
        sample(
            "gateway_rpc_requests_total",
            &["CheckOwner", "RESOURCE_EXHAUSTED"]
        ) >= 1.0,
        "and among the RPCs answered, with its code"
    );
    assert!(serving(channel.clone()).await, "health answers SERVING");
    assert_eq!(
        h.status(&channel).await.len(),
        Registry::COUNT,
        "admin answers"
    );
    first.await.unwrap().expect("the first call is answered");
}

// ---------------------------------------------------------------------------------------------
// Connections and streams

/// Raw HTTP/2 to the gateway: streams whose bodies we control.
async fn h2_connect(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send
}

fn grpc_request(path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://gateway{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// A gRPC frame around `message`.
fn frame(message: &[u8]) -> Bytes {
    let mut framed = vec![0];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    framed.into()
}

/// The `grpc-status` of a response, from its headers (trailers-only) or its trailers.
async fn grpc_status(response: h2::client::ResponseFuture) -> Option<String> {
    let response = response.await.ok()?;
    let status = |h: &http::HeaderMap| {
        h.get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(code) = status(response.headers()) {
        return Some(code);
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.ok()?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    status(&body.trailers().await.ok()??)
}

/// One connection opens as many streams as it may and never sends their bodies: the limit is
/// advertised, the others' calls keep their latency and are not shed (no in-flight slot is
/// held by a request that has not arrived), and each stalled stream is ended after
/// request_arrival_timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_of_stalled_streams_starves_no_one() {
    let arrival = Duration::from_millis(1500);
    let h = Harness::start(|c| {
        c.max_in_flight = 8;
        c.connections.max_streams = 50;
        c.connections.request_arrival_timeout = arrival;
    })
    .await;
    let mut stalled = h2_connect(h.addr).await;
    // One whole call first: the gateway's SETTINGS have arrived.
    stalled = stalled.ready().await.unwrap();
    let (response, mut body) = stalled
        .send_request(grpc_request("/grpc.health.v1.Health/Check"), false)
        .unwrap();
    body.send_data(frame(&[]), true).unwrap();
    assert_eq!(grpc_status(response).await.as_deref(), Some("0"));
    assert_eq!(
        stalled.current_max_send_streams(),
        50,
        "the limit is advertised"
    );
    let started = Instant::now();
    let mut open = Vec::new();
    for _ in 0..50 {
        stalled = stalled.ready().await.unwrap();
        let (response, body) = stalled
            .send_request(
                grpc_request("/registry_gateway.v1.RegistryGatewayService/GetPerson"),
                false,
            )
            .unwrap();
        open.push((response, body));
    }

    let channel = common::connect(h.addr).await;
    let mut client = RegistryGatewayServiceClient::new(channel.clone());
    let mut slowest = Duration::ZERO;
    for _ in 0..30 {
        let t = Instant::now();
        client
            .get_person(pb::GetPersonRequest {
                iin: demo::CAPABLE_ADULT.into(),
                consent_token: demo::consent(demo::CAPABLE_ADULT),
            })
            .await
            .expect("other callers are served, not shed");
        slowest = slowest.max(t.elapsed());
    }
    assert!(slowest < Duration::from_millis(500), "slowest {slowest:?}");
    assert!(serving(channel.clone()).await);
    assert!(
        started.elapsed() < arrival,
        "checked while the streams were stalled"
    );

    let statuses = join_all(open.into_iter().map(|(response, _body)| async move {
        tokio::time::timeout(Duration::from_secs(5), grpc_status(response))
            .await
            .ok()
            .flatten()
    }))
    .await;
    let ended = started.elapsed();
    assert!(ended >= arrival, "ended after {ended:?}");
    for status in statuses {
        let code = status.expect("each stalled stream gets an answer");
        assert_ne!(code, "0", "a request that never arrived is not answered OK");
    }
}

/// A connection that sends nothing, and one that stops after the HTTP/2 preface, are closed
/// after idle_timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_on_time() {
    let idle = Duration::from_secs(1);
    let h = Harness::start(|c| {
        c.connections.idle_timeout = idle;
        c.connections.keepalive_interval = Duration::from_millis(300);
        c.connections.keepalive_timeout = Duration::from_millis(300);
    })
    .await;
    async fn closed_after(mut tcp: TcpStream) -> Duration {
        let started = Instant::now();
        let mut sink = vec![0; 4096];
        tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(n) = tcp.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await
        .expect("the gateway closes the connection");
        started.elapsed()
    }
    let silent = TcpStream::connect(h.addr).await.unwrap();
    let mut half = TcpStream::connect(h.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut half,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0",
    )
    .await
    .unwrap();
    let (a, b) = tokio::join!(closed_after(silent), closed_after(half));
    for elapsed in [a, b] {
        assert!(
            elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(3),
            "closed after {elapsed:?}"
        );
    }
}

/// At `connections.max` open connections that have all sent a request, the gateway takes no
/// more until one closes (silent ones are closed for a newcomer: tests/connections.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_and_frees() {
    let h = Harness::start(|c| {
        c.connections.max = 3;
    })
    .await;
    let mut callers = join_all((0..3).map(|_| common::connect(h.addr))).await;
    for caller in &callers {
        assert!(
            serving(caller.clone()).await,
            "a caller within the limit is served"
        );
    }
    let endpoint = Channel::from_shared(format!("http://{}", h.addr))
        .unwrap()
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_millis(300));
    let attempt = async { serving(endpoint.connect().await.ok()?).await.then_some(()) };
    let refused = tokio::time::timeout(Duration::from_millis(500), attempt).await;
    assert!(
        !matches!(refused, Ok(Some(()))),
        "a fourth connection is not served while three callers' are open"
    );
    // One caller goes: the gateway accepts again.
    callers.pop();
    common::eventually(Duration::from_secs(5), "a new client is served", || async {
        match Channel::from_shared(format!("http://{}", h.addr))
            .unwrap()
            .connect_timeout(Duration::from_millis(300))
            .connect()
            .await
        {
            Ok(channel) => serving(channel).await,
            Err(_) => false,
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Hostile input

/// `grpc-timeout` values that overflow, or that the spec does not allow, are ignored, as
/// tonic does: the call is answered, nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_timeouts_are_answered() {
    let h = Harness::start(|_| {}).await;
    let channel = common::connect(h.addr).await;
    for value in [
        "9223372036854775807S",
        "99999999H",
        "18446744073709551615n",
        "1x",
    ] {
        let mut request = Request::new(pb::GetPersonRequest {
            iin: demo::CAPABLE_ADULT.into(),
            consent_token: demo::consent(demo::CAPABLE_ADULT),
        });
        request
            .metadata_mut()
            .insert("grpc-timeout", value.parse().unwrap());
        let result = RegistryGatewayServiceClient::new(channel.clone())
            .get_person(request)
            .await;
        if let Err(status) = result {
            panic!("{value}: {status:?}");
        }
    }
    assert!(serving(channel).await);
}

fn hostile_request() -> impl Strategy<Value = (String, Vec<(String, String)>, Vec<u8>, bool)> {
    let paths = prop::sample::select(vec![
        "/registry_gateway.v1.RegistryGatewayService/GetPerson",
        "/registry_gateway.v1.RegistryGatewayService/CheckOwner",
        "/registry_gateway.v1.RegistryGatewayService/GetSocialStatus",
        "/registry_gateway.v1.GatewayAdminService/InvalidatePerson",
        "/registry_gateway.v1.RegistryGatewayService/Nope",
        "/grpc.health.v1.Health/Check",
    ]);
    let names = prop::sample::select(vec![
        "grpc-timeout",
        "x-request-id",
        "x-purpose",
        "grpc-encoding",
        "grpc-accept-encoding",
        "traceparent",
        "tracestate",
        "x-anything",
    ]);
    let header = (names, "[ -~]{0,40}|[0-9]{1,30}[HMSmun]").prop_map(|(n, v)| (n.to_owned(), v));
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(|m| frame(&m).to_vec()),
        "[0-9]{0,20}".prop_map(|iin| {
            let mut m = vec![0x0a, iin.len() as u8];
            m.extend_from_slice(iin.as_bytes());
            frame(&m).to_vec()
        }),
    ];
    (
        paths.prop_map(str::to_owned),
        prop::collection::vec(header, 0..6),
        body,
        any::<bool>(),
    )
}

/// Random metadata and message bytes, over raw HTTP/2: every request gets a gRPC answer (no
/// reset from a panicking handler), and the gateway is healthy afterwards. Bounded: 200 cases.
#[test]
fn random_requests_get_answers_not_panics() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let h = runtime.block_on(Harness::start(|c| {
        c.connections.request_arrival_timeout = Duration::from_millis(500);
    }));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&hostile_request(), |(path, headers, body, end)| {
            runtime.block_on(async {
                let mut send = h2_connect(h.addr).await.ready().await.unwrap();
                let mut request = grpc_request(&path);
                for (name, value) in &headers {
                    if let Ok(v) = http::HeaderValue::from_str(value) {
                        request
                            .headers_mut()
                            .append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
                    }
                }
                let (response, mut stream) = send.send_request(request, false).unwrap();
                // The gateway may have answered (and closed the stream) on the headers alone.
                let _ = stream.send_data(body.into(), end);
                let status = tokio::time::timeout(Duration::from_secs(5), grpc_status(response))
                    .await
                    .expect("answered in time");
                prop_assert!(status.is_some(), "no grpc-status for {path} {headers:?}");
                Ok(())
            })
        })
        .unwrap();
    runtime.block_on(async {
        assert!(serving(common::connect(h.addr).await).await);
    });
}
