//! Traces end to end: the gateway and the mock registries in this process, the gateway's
//! OpenTelemetry layer over an in-memory exporter, and a cold CheckOwner whose caller sends a
//! W3C `traceparent`. The RPC span continues the caller's trace, each registry attempt is a
//! span under it, and each registry receives the trace context (HTTP headers and SHEP
//! properties). Between the gateway and three of the registries sits a TCP pass-through that
//! keeps the bytes the gateway sent.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::config::Config;
use registry_gateway::registry::{local_endpoints, Registry};
use registry_gateway::{decision, telemetry};
use registry_mocks::demo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing_subscriber::layer::SubscriberExt;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACESTATE: &str = "congo=t61rcWkgMzE";

/// The registries CheckOwner asks about a capable adult (ONLINE needs all three).
const CALLED: [Registry; 3] = [Registry::GbdFl, Registry::Zags, Registry::SocialSecurity];

/// Production's default level: `RUST_LOG` unset means `info`.
const FILTER: &str = "info";

/// Attributes every `registry_attempt` span carries.
const ATTEMPT_FIELDS: [&str; 5] = ["registry", "attempt", "cache", "breaker", "status"];

/// A TCP pass-through to `upstream` that keeps every byte sent to it.
async fn capture(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let kept = sent.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let sent = kept.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut client_r, mut client_w) = client.into_split();
                let (mut server_r, mut server_w) = server.into_split();
                let up = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = client_r.read(&mut buf).await?;
                        if n == 0 {
                            return server_w.shutdown().await;
                        }
                        sent.lock().unwrap().extend_from_slice(&buf[..n]);
                        server_w.write_all(&buf[..n]).await?;
                    }
                };
                let down = tokio::io::copy(&mut server_r, &mut client_w);
                let _: (std::io::Result<()>, _) = tokio::join!(up, down);
            });
        }
    });
    (addr, sent)
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// Whether `span` is `ancestor` or below it, following the exported parents.
fn descends_from(span: &SpanData, ancestor: SpanId, by_id: &HashMap<SpanId, &SpanData>) -> bool {
    let mut current = span;
    for _ in 0..32 {
        if current.span_context.span_id() == ancestor {
            return true;
        }
        match by_id.get(&current.parent_span_id) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

/// The `traceparent` the gateway sent in the HTTP headers and in the SHEP properties of the
/// first request in `raw`.
fn sent_trace_context(raw: &str) -> (String, String, String) {
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP request");
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let property = body
        .split_once("<key>traceparent</key><value>")
        .and_then(|(_, rest)| rest.split_once("</value>"))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_default();
    (header("traceparent"), header("tracestate"), property)
}

/// This thread's spans, through the gateway's own telemetry layer, into an in-memory exporter
/// (until the guard drops).
fn export_spans() -> (
    InMemorySpanExporter,
    SdkTracerProvider,
    tracing::subscriber::DefaultGuard,
) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(FILTER))
        .with(telemetry::layer(&provider));
    let guard = tracing::subscriber::set_default(subscriber);
    (exporter, provider, guard)
}

#[tokio::test(flavor = "current_thread")]
async fn check_owner_continues_the_callers_trace_to_every_registry() {
    // One thread: the gateway and the mocks run on it, under this subscriber.
    let (exporter, provider, _subscriber) = export_spans();

    let today = decision::today();
    let mocks = common::demo_mocks(today).await;
    let mut captured = HashMap::new();
    for r in CALLED {
        captured.insert(r, capture(mocks.get(r).addr()).await);
    }
    let config = Config {
        registries: Some(local_endpoints(|r| {
            let mock = mocks.get(r);
            match captured.get(&r) {
                Some((addr, _)) => format!("http://{addr}/shep"),
                None => mock.endpoint(),
            }
        })),
        ..Config::default()
    };
    let (addr, stop) = common::serve(config).await;
    let mut client = RegistryGatewayServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("gateway accepts connections");

    let mut request = tonic::Request::new(pb::CheckOwnerRequest {
        owner_iin: demo::CAPABLE_ADULT.into(),
        service: pb::Service::RegistrationAtResidence.into(),
        applicant_iin: String::new(),
        decision_date: today.to_string(),
        consent_token: String::new(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("traceparent", TRACEPARENT.parse().unwrap());
    request
        .metadata_mut()
        .insert("tracestate", TRACESTATE.parse().unwrap());
    let answer = client
        .check_owner(request)
        .await
        .expect("CheckOwner answers");
    assert_eq!(answer.into_inner().outcome(), pb::Outcome::Online);

    let trace_id = TraceId::from_hex(TRACE_ID).unwrap();
    let spans = finished(&provider, &exporter, |s| {
        s.span_context.trace_id() == trace_id
    })
    .await;
    let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();

    // One span for the RPC, continuing the caller's trace.
    let rpc: Vec<_> = spans
        .iter()
        .filter(|s| attribute(s, "rpc.method").is_some())
        .collect();
    assert_eq!(rpc.len(), 1, "one RPC span: {names:?}");
    let rpc = rpc[0];
    assert_eq!(rpc.name, "CheckOwner");
    assert_eq!(rpc.span_kind, SpanKind::Server);
    assert_eq!(rpc.span_context.trace_id(), trace_id);
    assert_eq!(
        rpc.parent_span_id,
        SpanId::from_hex(CALLER_SPAN_ID).unwrap()
    );
    assert!(rpc.parent_span_is_remote);
    assert_eq!(rpc.span_context.trace_state().header(), TRACESTATE);
    // OpenTelemetry's RPC conventions: system, service, method; OK leaves the status unset.
    let text = |key| attribute(rpc, key).map(|v| v.as_str().into_owned());
    assert_eq!(text("rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        text("rpc.service").as_deref(),
        Some("registry_gateway.v1.RegistryGatewayService")
    );
    assert_eq!(text("rpc.method").as_deref(), Some("CheckOwner"));
    assert_eq!(rpc.status, opentelemetry::trace::Status::Unset);
    let subject = attribute(rpc, "subject").map(|v| v.as_str().into_owned());
    assert!(
        subject
            .as_deref()
            .is_some_and(|s| !s.is_empty() && !s.contains(demo::CAPABLE_ADULT)),
        "the subject is masked: {subject:?}"
    );

    // No span, attribute or event anywhere carries the IIN.
    for span in &spans {
        let mut texts: Vec<String> = span
            .attributes
            .iter()
            .map(|kv| kv.value.as_str().into_owned())
            .collect();
        for event in span.events.iter() {
            texts.push(event.name.to_string());
            texts.extend(
                event
                    .attributes
                    .iter()
                    .map(|kv| kv.value.as_str().into_owned()),
            );
        }
        texts.push(span.name.to_string());
        assert!(
            texts.iter().all(|t| !t.contains(demo::CAPABLE_ADULT)),
            "raw IIN in span {}: {texts:?}",
            span.name
        );
    }

    // One attempt span per registry called, in the RPC's trace and under its span.
    let by_id: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    let rpc_id = rpc.span_context.span_id();
    let mut attempts = HashMap::new();
    for span in spans.iter().filter(|s| s.name == "registry_attempt") {
        let registry = attribute(span, "registry")
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default();
        for field in ATTEMPT_FIELDS {
            assert!(
                attribute(span, field).is_some(),
                "registry_attempt for {registry} has no {field}: {:?}",
                span.attributes
            );
        }
        assert_eq!(span.span_context.trace_id(), trace_id, "{registry}");
        assert!(
            descends_from(span, rpc_id, &by_id),
            "registry_attempt for {registry} is not under the RPC span"
        );
        assert!(
            attempts.insert(registry.clone(), span).is_none(),
            "one attempt for {registry}"
        );
    }
    let mut registries: Vec<_> = attempts.keys().cloned().collect();
    registries.sort();
    assert_eq!(
        registries,
        ["gbd_fl", "social_security", "zags"],
        "registry_attempt spans; spans exported: {names:?}"
    );

    // Each registry got the trace context of its attempt, as headers and as a SHEP property.
    for r in CALLED {
        let raw = String::from_utf8_lossy(&captured[&r].1.lock().unwrap()).into_owned();
        let (header, state, property) = sent_trace_context(&raw);
        assert_eq!(
            header,
            property,
            "{}: header and SHEP property agree",
            r.key()
        );
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts.len(), 4, "{}: traceparent {header:?}", r.key());
        assert_eq!(parts[1], TRACE_ID, "{}: same trace", r.key());
        assert_eq!(parts[3], "01", "{}: sampled", r.key());
        let parent = SpanId::from_hex(parts[2]).unwrap();
        let sender = by_id
            .get(&parent)
            .unwrap_or_else(|| panic!("{}: parent {parent} is no exported span", r.key()));
        assert_eq!(
            sender.name,
            "registry_attempt",
            "{}: the attempt span is the parent",
            r.key()
        );
        assert_eq!(
            attribute(sender, "registry").map(|v| v.as_str().into_owned()),
            Some(r.key().to_owned())
        );
        assert_eq!(state, TRACESTATE, "{}: tracestate passed on", r.key());
        assert!(
            raw.contains(&format!(
                "<properties><key>tracestate</key><value>{TRACESTATE}</value></properties>"
            )),
            "{}: tracestate property",
            r.key()
        );
    }

    // Without a caller's trace context the RPC starts a trace of its own, passed on the same way.
    exporter.reset();
    for (_, sent) in captured.values() {
        sent.lock().unwrap().clear();
    }
    let answer = client
        .check_owner(pb::CheckOwnerRequest {
            owner_iin: demo::STUDENT.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            applicant_iin: String::new(),
            decision_date: today.to_string(),
            consent_token: String::new(),
            ..Default::default()
        })
        .await
        .expect("CheckOwner answers");
    assert_eq!(answer.into_inner().outcome(), pb::Outcome::Online);
    let spans = finished(&provider, &exporter, |_| true).await;
    let rpc = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("an RPC span");
    assert_eq!(rpc.parent_span_id, SpanId::INVALID, "a root span");
    let new_trace = rpc.span_context.trace_id();
    assert_ne!(new_trace, trace_id);
    for r in CALLED {
        let raw = String::from_utf8_lossy(&captured[&r].1.lock().unwrap()).into_owned();
        let (header, state, property) = sent_trace_context(&raw);
        assert_eq!(header, property, "{}", r.key());
        assert!(
            header.starts_with(&format!("00-{new_trace}-")),
            "{}: {header}",
            r.key()
        );
        assert_eq!(state, "", "{}: no tracestate to pass on", r.key());
    }

    // A caller's error is not a server error: INVALID_ARGUMENT leaves the span status unset.
    const OTHER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    let mut request = tonic::Request::new(pb::CheckOwnerRequest {
        owner_iin: demo::BAD_CHECK_DIGIT.into(),
        service: pb::Service::RegistrationAtResidence.into(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{OTHER_TRACE}-b7ad6b7169203331-01")
            .parse()
            .unwrap(),
    );
    let status = client.check_owner(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let other = TraceId::from_hex(OTHER_TRACE).unwrap();
    let spans = finished(&provider, &exporter, |s| s.span_context.trace_id() == other).await;
    let rpc = spans
        .iter()
        .find(|s| s.span_context.trace_id() == other && s.span_kind == SpanKind::Server)
        .expect("the RPC span");
    assert_eq!(rpc.status, opentelemetry::trace::Status::Unset, "{rpc:?}");
    let code = attribute(rpc, "rpc.grpc.status_code").map(|v| v.as_str().into_owned());
    assert_eq!(code.as_deref(), Some("3"));
    let _ = stop.send(());
}

/// The spans exported once one matching `done` has (the RPC span ends before the answer is
/// sent; the exporter gets a moment all the same).
async fn finished(
    provider: &SdkTracerProvider,
    exporter: &InMemorySpanExporter,
    done: impl Fn(&SpanData) -> bool,
) -> Vec<SpanData> {
    let mut spans = Vec::new();
    for _ in 0..50 {
        provider.force_flush().unwrap();
        spans = exporter.get_finished_spans().unwrap();
        if spans
            .iter()
            .any(|s| s.span_kind == SpanKind::Server && done(s))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    spans
}

/// An HTTP/JSON call is the same one RPC span, continuing the caller's trace, with the route it
/// came by (`http.route`, the template: never the path, which holds the IIN).
#[tokio::test(flavor = "current_thread")]
async fn an_http_call_is_one_rpc_span_with_its_route() {
    let (exporter, provider, _subscriber) = export_spans();
    let mocks = common::demo_mocks(decision::today()).await;
    let (addr, stop) = common::serve(common::config_for(&mocks)).await;

    let answer = reqwest::Client::new()
        .get(format!(
            "http://{addr}/v1/persons/{}/civil-acts",
            demo::STUDENT
        ))
        .header("traceparent", TRACEPARENT)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(answer.status(), 200);

    let trace_id = TraceId::from_hex(TRACE_ID).unwrap();
    let spans = finished(&provider, &exporter, |s| {
        s.span_context.trace_id() == trace_id
    })
    .await;
    let rpc: Vec<_> = spans
        .iter()
        .filter(|s| attribute(s, "rpc.method").is_some())
        .collect();
    assert_eq!(rpc.len(), 1, "one RPC span");
    let rpc = rpc[0];
    assert_eq!(rpc.name, "GetCivilActs");
    assert_eq!(
        rpc.parent_span_id,
        SpanId::from_hex(CALLER_SPAN_ID).unwrap()
    );
    assert_eq!(
        attribute(rpc, "http.route")
            .map(|v| v.as_str().into_owned())
            .as_deref(),
        Some("GET /v1/persons/{iin}/civil-acts")
    );
    for span in &spans {
        for kv in &span.attributes {
            assert!(
                !kv.value.as_str().contains(demo::STUDENT),
                "raw IIN in {}: {kv:?}",
                span.name
            );
        }
    }
    let _ = stop.send(());
}
