//! Prometheus metrics end to end: the mock registries, the gateway and the metrics endpoint on
//! 127.0.0.1:0 in this process; known traffic; `GET /metrics` scraped and its samples checked.
//!
//! The recorder is global to the process, so every metric assertion lives in this one test
//! binary, the tests take turns ([`SERIAL`]), and counters are compared as deltas between a
//! scrape before and one after the traffic.

mod common;

use common::Harness;

use std::collections::BTreeMap;

use registry_gateway::api::pb::{self};
use registry_gateway::audit::FsyncPolicy;
use registry_gateway::metrics;
use registry_gateway::registry::Registry;
use registry_mocks::demo;
use tokio::net::TcpListener;
use tonic::Code;

/// One test at a time: they share the process-wide recorder.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The registries CheckOwner asks (the other two are never consulted by it).
const CONSULTED: [Registry; 3] = [Registry::GbdFl, Registry::Zags, Registry::SocialSecurity];
const NOT_CONSULTED: [Registry; 2] = [Registry::Nobd, Registry::Epvo];

/// A gateway with an audit log (not synced) whose CheckOwner may use GBD FL's cache (the
/// known traffic counts its cache hits too); the test serves the metrics on a port of its own
/// choosing (`metrics_listen` needs a fixed address), from the same process-wide recorder the
/// gateway records into, until the test ends.
async fn with_metrics() -> Harness {
    let handle = metrics::install();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = admin.local_addr().unwrap();
    let (_ready, ready_seen) = tokio::sync::watch::channel(true);
    tokio::spawn(metrics::serve(
        admin,
        handle,
        ready_seen,
        std::future::pending(),
    ));
    let mut h = Harness::audited(|config| {
        config.audit.as_mut().unwrap().fsync = FsyncPolicy::Never;
        config.consent.check_owner_shared_cache = true;
    })
    .await;
    h.metrics = Some(metrics_addr);
    h
}

impl Harness {
    async fn check(&self, owner: &str) -> Result<pb::CheckOwnerResponse, tonic::Status> {
        self.client()
            .check_owner(pb::CheckOwnerRequest {
                owner_iin: owner.into(),
                service: pb::Service::RegistrationAtResidence.into(),
                applicant_iin: String::new(),
                decision_date: self.today.clone(),
                consent_token: String::new(),
                ..Default::default()
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// `GET path` on the metrics port: status, content type, body.
    async fn get(&self, path: &str) -> (u16, String, String) {
        let response = reqwest::get(format!("http://{}{path}", self.metrics.expect("served")))
            .await
            .expect("the metrics port answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.unwrap())
    }

    async fn scrape(&self) -> Scrape {
        let (status, content_type, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "{body}");
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "content type {content_type:?}"
        );
        Scrape::parse(&body)
    }
}

/// A scrape: the text, and each sample by name and label set.
struct Scrape {
    text: String,
    samples: BTreeMap<(String, BTreeMap<String, String>), f64>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line: series value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value: {line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => (
                    name.to_owned(),
                    parse_labels(rest.strip_suffix('}').expect("labels end with }")),
                ),
            };
            samples.insert((name, labels), value);
        }
        Scrape {
            text: text.to_owned(),
            samples,
        }
    }

    /// The sample with exactly these labels, if scraped.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// Sum of the samples of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| *v)
            .sum()
    }
}

/// `a="x",b="y"` (values may hold escaped quotes and commas).
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("label value ends with a quote") {
                (_, '\\') => {
                    let (_, c) = chars.next().expect("escape");
                    value.push(if c == 'n' { '\n' } else { c });
                }
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

/// How much a counter (or histogram `_count`) grew between two scrapes; absent is 0.
fn delta(before: &Scrape, after: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.value(name, labels).unwrap_or(0.0) - before.value(name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn rpc_and_audit_metrics_count_known_traffic() {
    let _turn = SERIAL.lock().await;
    let h = with_metrics().await;

    let (status, _, body) = h.get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(h.get("/nothing-here").await.0, 404);

    let before = h.scrape().await;
    for _ in 0..3 {
        let answer = h
            .check(demo::CAPABLE_ADULT)
            .await
            .expect("CheckOwner answers");
        assert_eq!(answer.outcome(), pb::Outcome::Online);
    }
    let refused = h.check("860314310211").await.unwrap_err(); // wrong check digit
    assert_eq!(refused.code(), Code::InvalidArgument);
    let after = h.scrape().await;

    let requests = "gateway_rpc_requests_total";
    let ok = [("method", "CheckOwner"), ("code", "OK")];
    let invalid = [("method", "CheckOwner"), ("code", "INVALID_ARGUMENT")];
    assert_eq!(delta(&before, &after, requests, &ok), 3.0, "{}", after.text);
    assert_eq!(
        delta(&before, &after, requests, &invalid),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(
        after.sum(requests, &[("method", "CheckOwner")])
            - before.sum(requests, &[("method", "CheckOwner")]),
        4.0,
        "no other code was counted: {}",
        after.text
    );

    // A histogram, not a summary: _bucket series with `le`, +Inf bucket equal to _count.
    let method = [("method", "CheckOwner")];
    assert!(
        after
            .text
            .contains("# TYPE gateway_rpc_duration_seconds histogram"),
        "{}",
        after.text
    );
    assert_eq!(
        delta(
            &before,
            &after,
            "gateway_rpc_duration_seconds_count",
            &method
        ),
        4.0
    );
    let inf = [("method", "CheckOwner"), ("le", "+Inf")];
    assert_eq!(
        delta(&before, &after, "gateway_rpc_duration_seconds_bucket", &inf),
        4.0
    );
    let slow = [("method", "CheckOwner"), ("le", "10")];
    assert_eq!(
        delta(
            &before,
            &after,
            "gateway_rpc_duration_seconds_bucket",
            &slow
        ),
        4.0,
        "every call took under 10 s: {}",
        after.text
    );
    assert!(
        after
            .value("gateway_rpc_duration_seconds_sum", &method)
            .unwrap()
            > before
                .value("gateway_rpc_duration_seconds_sum", &method)
                .unwrap_or(0.0)
    );
    assert_eq!(after.value("gateway_rpc_in_flight", &[]), Some(0.0));
    assert!(
        after.text.contains("# HELP gateway_rpc_requests_total "),
        "metrics are described: {}",
        after.text
    );

    // Every CheckOwner is audited, the refused one too: 4 appends, none failed.
    assert!(after
        .text
        .contains("# TYPE gateway_audit_write_duration_seconds histogram"));
    assert_eq!(
        delta(
            &before,
            &after,
            "gateway_audit_write_duration_seconds_count",
            &[]
        ),
        4.0,
        "{}",
        after.text
    );
    assert_eq!(
        delta(&before, &after, "gateway_audit_write_failures_total", &[]),
        0.0
    );

    // The cache did its job: one call per consulted registry.
    for r in CONSULTED {
        assert_eq!(h.mocks.get(r).calls(), 1, "{r}");
    }
}

/// Series with known labels exist from the start, at 0, so that an alert on `increase()`
/// fires on the first event; `code` uses the canonical names.
#[tokio::test]
async fn known_series_start_at_zero() {
    let _turn = SERIAL.lock().await;
    let h = with_metrics().await;
    // Once a call is answered, the gateway has started (its audit log is open).
    h.check(demo::CAPABLE_ADULT)
        .await
        .expect("CheckOwner answers");
    let scrape = h.scrape().await;
    for (name, labels) in [
        ("gateway_audit_write_failures_total", &[][..]),
        ("gateway_audit_torn_tail_cut_total", &[]),
        ("gateway_rpc_shed_total", &[]),
        (
            "gateway_rpc_requests_total",
            &[
                ("method", "GetHigherEducation"),
                ("code", "DEADLINE_EXCEEDED"),
            ],
        ),
        (
            "gateway_rpc_requests_total",
            &[("method", "InvalidatePerson"), ("code", "UNAVAILABLE")],
        ),
        (
            "gateway_registry_calls_total",
            &[("registry", "epvo"), ("outcome", "circuit_open")],
        ),
        ("gateway_registry_retries_total", &[("registry", "nobd")]),
        (
            "gateway_cache_lookups_total",
            &[("registry", "nobd"), ("result", "stale")],
        ),
    ] {
        assert_eq!(
            scrape.value(name, labels),
            Some(0.0),
            "{name} {labels:?}: {}",
            scrape.text
        );
    }
    assert_eq!(
        scrape.value("gateway_audit_writable", &[]),
        Some(1.0),
        "{}",
        scrape.text
    );
    // The shipped act's days left, set at start (negative once its term has ended).
    let days_left = registry_gateway::decision::legal_basis::LegalBasisConfig::default()
        .days_left(registry_gateway::decision::today());
    assert_eq!(
        scrape.value("gateway_legal_basis_days_left", &[]),
        Some(days_left),
        "{}",
        scrape.text
    );
    assert!(
        !scrape.text.contains("code=\"Ok\""),
        "no tonic-style code names: {}",
        scrape.text
    );
}

/// The registry, cache and breaker metrics, recorded by the resilience guard.
#[tokio::test]
async fn registry_and_cache_metrics_count_known_traffic() {
    let _turn = SERIAL.lock().await;
    let h = with_metrics().await;
    let before = h.scrape().await;
    for _ in 0..3 {
        h.check(demo::STUDENT).await.expect("CheckOwner answers");
    }
    let after = h.scrape().await;
    for r in CONSULTED {
        assert_eq!(h.mocks.get(r).calls(), 1, "{r}");
    }
    assert_registry_and_cache_metrics(&before, &after);
}

/// Three sequential CheckOwner calls for one person on a fresh gateway: per consulted
/// registry one call (ok or not_found), one cache miss and two hits, no retry, no stale
/// answer; the breaker closed; the cache gauge present; NOBD and EPVO untouched.
fn assert_registry_and_cache_metrics(before: &Scrape, after: &Scrape) {
    let calls = "gateway_registry_calls_total";
    let lookups = "gateway_cache_lookups_total";
    for r in CONSULTED {
        let key = r.key();
        let registry = [("registry", key)];
        let ok = delta(
            before,
            after,
            calls,
            &[("registry", key), ("outcome", "ok")],
        );
        let not_found = delta(
            before,
            after,
            calls,
            &[("registry", key), ("outcome", "not_found")],
        );
        assert_eq!(
            ok + not_found,
            1.0,
            "{key}: one answered call\n{}",
            after.text
        );
        assert_eq!(
            after.sum(calls, &registry) - before.sum(calls, &registry),
            1.0,
            "{key}: no failed call\n{}",
            after.text
        );
        assert_eq!(
            delta(
                before,
                after,
                "gateway_registry_call_duration_seconds_count",
                &registry
            ),
            1.0,
            "{key}"
        );
        assert_eq!(
            delta(before, after, "gateway_registry_retries_total", &registry),
            0.0,
            "{key}"
        );
        let lookup = |result| {
            delta(
                before,
                after,
                lookups,
                &[("registry", key), ("result", result)],
            )
        };
        assert_eq!(lookup("miss"), 1.0, "{key}: cache miss\n{}", after.text);
        assert_eq!(lookup("hit"), 2.0, "{key}: cache hits\n{}", after.text);
        assert_eq!(lookup("stale"), 0.0, "{key}: stale answers");
        assert!(
            after.value("gateway_cache_entries", &registry).is_some(),
            "{key}: cache gauge\n{}",
            after.text
        );
        assert!(
            after.value("gateway_cache_bytes", &registry).is_some(),
            "{key}: cache bytes gauge\n{}",
            after.text
        );
        assert_eq!(
            after.value("gateway_breaker_state", &registry),
            Some(0.0),
            "{key}: breaker closed\n{}",
            after.text
        );
    }
    for r in NOT_CONSULTED {
        let registry = [("registry", r.key())];
        assert_eq!(
            after.sum(calls, &registry) - before.sum(calls, &registry),
            0.0,
            "{r}"
        );
        assert_eq!(
            after.sum(lookups, &registry) - before.sum(lookups, &registry),
            0.0,
            "{r}"
        );
    }
    assert!(after
        .text
        .contains("# TYPE gateway_registry_call_duration_seconds histogram"));
}
