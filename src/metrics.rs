//! Prometheus metrics: the names, the helpers that record them, the process-wide recorder
//! ([`install`]) and the admin HTTP server ([`serve`]) that exposes them.
//!
//! [`install`] puts a `metrics-exporter-prometheus` recorder in place once per process and
//! returns a handle; [`serve`] answers `GET /metrics` with the Prometheus text exposition
//! format (`text/plain; version=0.0.4`), `GET /healthz` with `200 ok` while the process runs
//! (liveness) and `GET /readyz` with `200 ready` while the gateway takes calls, else
//! `503 not ready` (readiness, as gRPC health says it). The rest of the
//! gateway records through the helper functions below and never names a metric itself, so
//! every name and label lives in this file. Recording before [`install`] (unit tests, tools)
//! is a no-op.
//!
//! Durations are in seconds and are Prometheus **histograms** (`_bucket`, `_sum`, `_count`),
//! not summaries: buckets 1 ms to 10 s ([`DURATION_BUCKETS`]); the audit write, which is
//! mostly an fsync, 100 µs to 2.5 s ([`AUDIT_BUCKETS`]).
//!
//! Label values are bounded sets: `method` is the gRPC method name (`CheckOwner`,
//! `GetPerson`, ...); `code` the canonical gRPC status code name (`OK`, `INVALID_ARGUMENT`,
//! `DEADLINE_EXCEEDED`, `UNAVAILABLE`, ..., as in grpc's `statuscodes.md`); `registry` the
//! registry key (`gbd_fl`, `zags`, `social_security`, `nobd`, `epvo`). No label ever carries an
//! IIN or a request id.
//!
//! Every counter and gauge series whose labels are known in advance (each method and code,
//! each registry and outcome, ...) is exported from [`install`] on, at 0: an alert on
//! `increase(...)` then fires on the first event, not only from the second. Histograms appear
//! with their first sample.
//!
//! # Metrics
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `gateway_rpc_requests_total` | counter | `method`, `code` | RPCs answered, by method and gRPC status code. An RPC whose caller went away (or whose future was dropped) before it was answered counts as `code="CANCELLED"`. |
//! | `gateway_rpc_duration_seconds` | histogram | `method` | Time from the start of the RPC's edge handling (access check, deadline, body, audit record) to its answer. |
//! | `gateway_rpc_in_flight` | gauge | — | RPCs being handled right now. |
//! | `gateway_rpc_shed_total` | counter | — | RPCs refused at once with `RESOURCE_EXHAUSTED` because `max_in_flight` RPCs, or `max_in_flight_per_caller` of the caller's, were in flight (also counted in `gateway_rpc_requests_total` with `code="RESOURCE_EXHAUSTED"`). Health, reflection and the admin service are never refused. |
//! | `gateway_connections_open` | gauge | — | Client connections open now (at most `connections.max`). |
//! | `gateway_connections_evicted_total` | counter | — | Connections without a request closed to admit a newcomer at `connections.max`. |
//! | `gateway_registry_calls_total` | counter | `registry`, `outcome` | Attempts at a registry call (each retry is one more) and how they ended: `ok` (an answer, records found), `not_found` (an answer: no such record), `timeout` (attempt timed out), `connect` (no connection), `http` (HTTP error status), `fault` (SOAP fault), `status` (a SHEP status code that is not ok), `malformed` (an answer that could not be read), `deadline` (the caller's deadline ran out), `circuit_open` (refused by the open circuit breaker, the registry was not called), `consent_refused` (GBD FL answered that the caller's consent token is not valid for the person: the caller's matter, not the registry's health). The label values are `registry::Failure::label()`. |
//! | `gateway_registry_call_duration_seconds` | histogram | `registry` | Time of one attempt (as counted in `gateway_registry_calls_total`), from the moment it has a call slot (the wait for a slot is not included). |
//! | `gateway_registry_queue_full_total` | counter | `registry` | Calls refused with `RESOURCE_EXHAUSTED` because no call slot to the registry (`max_concurrent`) came free within `queue_timeout`: the gateway's own overload, not counted in `gateway_registry_calls_total` nor by the breaker. |
//! | `gateway_registry_retries_total` | counter | `registry` | Retries of a transient registry failure (attempts after the first). |
//! | `gateway_cache_lookups_total` | counter | `registry`, `result` | Answer-cache look-ups: `hit` (a fresh answer, no registry call), `miss` (no fresh entry: the registry was called, or a call in flight was joined), `stale` (after a miss, the registry failed and a stale entry answered: stale-if-error; counted in addition to its `miss`). |
//! | `gateway_cache_evictions_total` | counter | `registry` | Entries removed from the answer cache by its size bound or expiry (not by explicit invalidation). |
//! | `gateway_cache_entries` | gauge | `registry` | Persons in the answer cache (refreshed every second; moka's count is approximate). |
//! | `gateway_cache_bytes` | gauge | `registry` | Memory of the answer cache as weighed against `cache_max_bytes` (refreshed every second). |
//! | `gateway_owner_facts_persons` | gauge | — | Persons in CheckOwner's owner-facts cache (refreshed every second). |
//! | `gateway_owner_facts_bytes` | gauge | — | Memory of the owner-facts cache: its entries, what they box and its index (refreshed every second). |
//! | `gateway_breaker_state` | gauge | `registry` | The registry's circuit breaker: `0` closed, `1` half-open, `2` open. |
//! | `gateway_audit_write_duration_seconds` | histogram | — | Time of one audit append, from queueing the record to the writer's acknowledgement (write, and fsync under `fsync = "always"`): the time a personal-data answer waits for its audit record. |
//! | `gateway_audit_write_failures_total` | counter | — | Audit appends that failed after the record was queued (write or fsync failure, stopped or closed log): each one withheld an answer (`UNAVAILABLE`). |
//! | `gateway_audit_writable` | gauge | — | `1` while the audit log takes records, `0` while it cannot write (readiness is then `NOT_SERVING`). |
//! | `gateway_audit_torn_tail_cut_total` | counter | — | Torn final audit lines (a crash mid-write, never acknowledged) cut at start. |
//! | `gateway_audit_backlog_records` | gauge | — | With `[audit.postgres]`: records in the local file not yet in PostgreSQL. |
//! | `gateway_audit_backlog_limit_records` | gauge | — | With `[audit.postgres]`: `max_backlog`, past which records (and answers) are refused. |
//! | `gateway_audit_postgres_up` | gauge | — | With `[audit.postgres]`: `1` while the shipper is connected to PostgreSQL, `0` while it cannot reach it. |
//! | `gateway_audit_shipped_total` | counter | — | Records shipped to PostgreSQL. |
//! | `gateway_legal_basis_days_left` | gauge | — | Days from today (UTC+5) to the last day of the legal basis in force (`[decision.legal_basis]`, through acts that follow one another without a gap): `0` on its last day, negative once no configured act is in force (answers then carry `REASON_CODE_LEGAL_BASIS_EXPIRED`, or are refused with `on_expired = "refuse"`), `+Inf` for an act without an end. Set at start, on every decision, and after a reload at the next decision. |
//! | `gateway_audit_ship_failures_total` | counter | — | Failed attempts to connect to PostgreSQL or to commit a batch there (each is retried). |
//! | `gateway_audit_timestamp_failures_total` | counter | — | With `[audit.timestamp]`: failed requests to the time-stamp authority (no answer within `timeout`, an error, a token that does not verify); each one's checkpoint was written without a token. |

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ::metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Gauge, Histogram, Unit,
};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tonic::Code;

pub const RPC_REQUESTS_TOTAL: &str = "gateway_rpc_requests_total";
pub const RPC_DURATION_SECONDS: &str = "gateway_rpc_duration_seconds";
pub const RPC_IN_FLIGHT: &str = "gateway_rpc_in_flight";
pub const RPC_SHED_TOTAL: &str = "gateway_rpc_shed_total";
pub const CONNECTIONS_OPEN: &str = "gateway_connections_open";
pub const CONNECTIONS_EVICTED_TOTAL: &str = "gateway_connections_evicted_total";
pub const REGISTRY_CALLS_TOTAL: &str = "gateway_registry_calls_total";
pub const REGISTRY_CALL_DURATION_SECONDS: &str = "gateway_registry_call_duration_seconds";
pub const REGISTRY_RETRIES_TOTAL: &str = "gateway_registry_retries_total";
pub const REGISTRY_QUEUE_FULL_TOTAL: &str = "gateway_registry_queue_full_total";
pub const CACHE_LOOKUPS_TOTAL: &str = "gateway_cache_lookups_total";
pub const CACHE_EVICTIONS_TOTAL: &str = "gateway_cache_evictions_total";
pub const CACHE_ENTRIES: &str = "gateway_cache_entries";
pub const CACHE_BYTES: &str = "gateway_cache_bytes";
pub const OWNER_FACTS_PERSONS: &str = "gateway_owner_facts_persons";
pub const OWNER_FACTS_BYTES: &str = "gateway_owner_facts_bytes";
pub const BREAKER_STATE: &str = "gateway_breaker_state";
pub const AUDIT_WRITE_DURATION_SECONDS: &str = "gateway_audit_write_duration_seconds";
pub const AUDIT_WRITE_FAILURES_TOTAL: &str = "gateway_audit_write_failures_total";
pub const AUDIT_WRITABLE: &str = "gateway_audit_writable";
pub const AUDIT_TORN_TAIL_CUT_TOTAL: &str = "gateway_audit_torn_tail_cut_total";
pub const AUDIT_BACKLOG_RECORDS: &str = "gateway_audit_backlog_records";
pub const AUDIT_BACKLOG_LIMIT_RECORDS: &str = "gateway_audit_backlog_limit_records";
pub const AUDIT_POSTGRES_UP: &str = "gateway_audit_postgres_up";
pub const AUDIT_SHIPPED_TOTAL: &str = "gateway_audit_shipped_total";
pub const AUDIT_SHIP_FAILURES_TOTAL: &str = "gateway_audit_ship_failures_total";
pub const AUDIT_TIMESTAMP_FAILURES_TOTAL: &str = "gateway_audit_timestamp_failures_total";
pub const LEGAL_BASIS_DAYS_LEFT: &str = "gateway_legal_basis_days_left";

/// Values of `gateway_breaker_state` (also in [`crate::status`]).
pub const BREAKER_CLOSED: u8 = 0;
pub const BREAKER_HALF_OPEN: u8 = 1;
pub const BREAKER_OPEN: u8 = 2;

/// Buckets of the RPC and registry-call histograms, in seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the audit-write histogram, in seconds.
pub const AUDIT_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The series every call touches, registered once when the recorder is installed: a call then
/// increments a handle (no label vector, key hashing or registry look-up per call).
struct HotSeries {
    in_flight: Gauge,
    /// Per RPC (in `Rpc::ALL`'s order): requests by status code (0 to 16), and the duration.
    rpcs: Vec<(Vec<Counter>, Histogram)>,
    /// Per registry: cache look-ups by [`CACHE_RESULTS`].
    cache_lookups: crate::registry::PerRegistry<[Counter; 3]>,
}

/// Results of `gateway_cache_lookups_total`.
const CACHE_RESULTS: [&str; 3] = ["hit", "miss", "stale"];

static HOT: OnceLock<HotSeries> = OnceLock::new();

impl HotSeries {
    fn register() -> HotSeries {
        let rpcs = crate::rpc::Rpc::ALL
            .map(|rpc| {
                let method = rpc.name();
                let codes = (0..=16)
                    .map(|c| {
                        let code = code_name(Code::from_i32(c));
                        counter!(RPC_REQUESTS_TOTAL, "method" => method, "code" => code)
                    })
                    .collect();
                (codes, histogram!(RPC_DURATION_SECONDS, "method" => method))
            })
            .into();
        let cache_lookups = crate::registry::PerRegistry::from_fn(|r| {
            let registry = r.key();
            CACHE_RESULTS.map(
                |result| counter!(CACHE_LOOKUPS_TOTAL, "registry" => registry, "result" => result),
            )
        });
        HotSeries {
            in_flight: gauge!(RPC_IN_FLIGHT),
            rpcs,
            cache_lookups,
        }
    }
}

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle),
/// describes every metric, and starts a small upkeep thread. The handle renders the text
/// exposition format; pass it to [`serve`].
///
/// If another recorder was installed first (by something else in the process), the error is
/// logged and the returned handle renders only what this module's recorder sees: nothing.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(DURATION_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(AUDIT_WRITE_DURATION_SECONDS.into()),
                        AUDIT_BUCKETS,
                    )
                })
                .expect("bucket lists are constant and not empty")
                .build_recorder();
            let handle = recorder.handle();
            match ::metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    zeroes();
                    let _ = HOT.set(HotSeries::register());
                    let upkeep = handle.clone();
                    let spawned = std::thread::Builder::new()
                        .name("metrics-upkeep".into())
                        .spawn(move || loop {
                            std::thread::sleep(UPKEEP_EVERY);
                            upkeep.run_upkeep();
                        });
                    if let Err(e) = spawned {
                        tracing::warn!(error = %e, "metrics upkeep thread not started; histograms are folded at each scrape only");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "metrics recorder not installed: another recorder is in place; /metrics will be empty");
                }
            }
            handle
        })
        .clone()
}

/// Outcomes of `gateway_registry_calls_total`.
pub const REGISTRY_OUTCOMES: [&str; 11] = [
    "ok",
    "not_found",
    "timeout",
    "connect",
    "http",
    "fault",
    "status",
    "malformed",
    "deadline",
    "circuit_open",
    "consent_refused",
];

/// Every counter and gauge series with known labels, at 0 (gauges that report a state are set
/// by their reporter at once).
fn zeroes() {
    for method in crate::rpc::Rpc::ALL.map(crate::rpc::Rpc::name) {
        for code in (0..=16).map(Code::from_i32) {
            counter!(RPC_REQUESTS_TOTAL, "method" => method, "code" => code_name(code)).absolute(0);
        }
    }
    gauge!(RPC_IN_FLIGHT).set(0.0);
    counter!(RPC_SHED_TOTAL).absolute(0);
    gauge!(CONNECTIONS_OPEN).set(0.0);
    counter!(CONNECTIONS_EVICTED_TOTAL).absolute(0);
    for registry in crate::registry::Registry::ALL.map(crate::registry::Registry::key) {
        for outcome in REGISTRY_OUTCOMES {
            counter!(REGISTRY_CALLS_TOTAL, "registry" => registry, "outcome" => outcome)
                .absolute(0);
        }
        counter!(REGISTRY_RETRIES_TOTAL, "registry" => registry).absolute(0);
        counter!(REGISTRY_QUEUE_FULL_TOTAL, "registry" => registry).absolute(0);
        for result in ["hit", "miss", "stale"] {
            counter!(CACHE_LOOKUPS_TOTAL, "registry" => registry, "result" => result).absolute(0);
        }
        counter!(CACHE_EVICTIONS_TOTAL, "registry" => registry).absolute(0);
        gauge!(CACHE_ENTRIES, "registry" => registry).set(0.0);
        gauge!(CACHE_BYTES, "registry" => registry).set(0.0);
        gauge!(BREAKER_STATE, "registry" => registry).set(f64::from(BREAKER_CLOSED));
    }
    gauge!(OWNER_FACTS_PERSONS).set(0.0);
    gauge!(OWNER_FACTS_BYTES).set(0.0);
    counter!(AUDIT_WRITE_FAILURES_TOTAL).absolute(0);
    counter!(AUDIT_TORN_TAIL_CUT_TOTAL).absolute(0);
    counter!(AUDIT_SHIPPED_TOTAL).absolute(0);
    counter!(AUDIT_SHIP_FAILURES_TOTAL).absolute(0);
    counter!(AUDIT_TIMESTAMP_FAILURES_TOTAL).absolute(0);
}

fn describe() {
    crate::registry::signing::describe_metrics();
    describe_gauge!(
        LEGAL_BASIS_DAYS_LEFT,
        "Days to the last day of the legal basis in force; negative once none is in force"
    );
    describe_rpc_and_registry_metrics();
    describe_audit_metrics();
}

fn describe_rpc_and_registry_metrics() {
    describe_counter!(
        RPC_REQUESTS_TOTAL,
        "RPCs answered, by gRPC method and canonical status code (CANCELLED: the caller went away)"
    );
    describe_histogram!(
        RPC_DURATION_SECONDS,
        Unit::Seconds,
        "Time to answer an RPC, access check and audit record included"
    );
    describe_gauge!(RPC_IN_FLIGHT, "RPCs being handled now");
    describe_counter!(
        RPC_SHED_TOTAL,
        "RPCs refused with RESOURCE_EXHAUSTED because max_in_flight RPCs (or the caller's share) were in flight"
    );
    describe_gauge!(CONNECTIONS_OPEN, "Client connections open now");
    describe_counter!(
        CONNECTIONS_EVICTED_TOTAL,
        "Connections without a request closed to admit a newcomer at connections.max"
    );
    describe_counter!(
        REGISTRY_CALLS_TOTAL,
        "Registry call attempts by outcome: ok, not_found, timeout, connect, http, fault, status, malformed, deadline, circuit_open, consent_refused"
    );
    describe_histogram!(
        REGISTRY_CALL_DURATION_SECONDS,
        Unit::Seconds,
        "Time of one registry call attempt"
    );
    describe_counter!(
        REGISTRY_QUEUE_FULL_TOTAL,
        "Calls refused (RESOURCE_EXHAUSTED) because no call slot to the registry came free within queue_timeout"
    );
    describe_counter!(
        REGISTRY_RETRIES_TOTAL,
        "Retries of transient registry failures"
    );
    describe_counter!(
        CACHE_LOOKUPS_TOTAL,
        "Answer-cache look-ups by result: hit, miss, stale (stale-if-error)"
    );
    describe_counter!(
        CACHE_EVICTIONS_TOTAL,
        "Entries evicted from the answer cache (size bound or expiry)"
    );
    describe_gauge!(CACHE_ENTRIES, "Persons in the answer cache");
    describe_gauge!(
        CACHE_BYTES,
        Unit::Bytes,
        "Memory of the answer cache as weighed against cache_max_bytes (answers and bookkeeping)"
    );
    describe_gauge!(
        OWNER_FACTS_PERSONS,
        "Persons in CheckOwner's owner-facts cache"
    );
    describe_gauge!(
        OWNER_FACTS_BYTES,
        Unit::Bytes,
        "Memory of the owner-facts cache: entries, their boxes and the index"
    );
    describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker state: 0 closed, 1 half-open, 2 open"
    );
}

fn describe_audit_metrics() {
    describe_histogram!(
        AUDIT_WRITE_DURATION_SECONDS,
        Unit::Seconds,
        "Time of one audit append, from queueing to the writer's acknowledgement (write and fsync)"
    );
    describe_counter!(
        AUDIT_WRITE_FAILURES_TOTAL,
        "Audit appends that failed; each one withheld an answer"
    );
    describe_gauge!(
        AUDIT_WRITABLE,
        "1 while the audit log takes records, 0 while it cannot write (NOT_SERVING)"
    );
    describe_counter!(
        AUDIT_TORN_TAIL_CUT_TOTAL,
        "Torn final audit lines (never acknowledged) cut at start"
    );
    describe_gauge!(
        AUDIT_BACKLOG_RECORDS,
        "Audit records in the local file not yet in PostgreSQL"
    );
    describe_gauge!(
        AUDIT_BACKLOG_LIMIT_RECORDS,
        "audit.postgres.max_backlog: past it, records and answers are refused"
    );
    describe_gauge!(
        AUDIT_POSTGRES_UP,
        "1 while the audit shipper is connected to PostgreSQL, 0 while it cannot reach it"
    );
    describe_counter!(AUDIT_SHIPPED_TOTAL, "Audit records shipped to PostgreSQL");
    describe_counter!(
        AUDIT_SHIP_FAILURES_TOTAL,
        "Failed attempts to reach PostgreSQL or commit an audit batch there (retried)"
    );
    describe_counter!(
        AUDIT_TIMESTAMP_FAILURES_TOTAL,
        "Failed time-stamp requests: each checkpoint concerned was written without a token"
    );
}

/// Serves the admin HTTP endpoints on `listener` until `shutdown` completes:
/// `GET /metrics` (Prometheus text format of `handle`), `GET /status` (the operator's page,
/// [`crate::status`]), `GET /healthz` (`200 ok`) and `GET /readyz` (`200 ready` while `ready` holds true, else `503 not ready`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    ready: tokio::sync::watch::Receiver<bool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sampled = handle.clone();
    let sampler = crate::status::spawn_sampler(move || sampled.render());
    let status = handle.clone();
    let app = Router::new()
        .route(
            "/status",
            get(move || {
                let page = crate::status::page(&status.render());
                async move { ([(CONTENT_TYPE, "text/html; charset=utf-8")], page) }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let body = handle.render();
                async move { ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], body) }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = *ready.borrow();
                async move {
                    if ready {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                    }
                }
            }),
        );
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics serving on /metrics");
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sampler.abort();
    served
}

/// Times one RPC from [`rpc_started`]; [`RpcTimer::finish`] records it. Dropped without
/// `finish` (the RPC's future was dropped: the caller went away), it counts as `CANCELLED`.
#[must_use = "an RpcTimer dropped at once counts the RPC as Cancelled"]
pub struct RpcTimer {
    rpc: crate::rpc::Rpc,
    started: Instant,
    finished: bool,
}

/// An RPC of `method` starts: `gateway_rpc_in_flight` goes up until the timer is finished
/// or dropped.
pub fn rpc_started(rpc: crate::rpc::Rpc) -> RpcTimer {
    match HOT.get() {
        Some(hot) => hot.in_flight.increment(1.0),
        None => gauge!(RPC_IN_FLIGHT).increment(1.0),
    }
    RpcTimer {
        rpc,
        started: Instant::now(),
        finished: false,
    }
}

impl RpcTimer {
    /// The RPC was answered with `code`.
    pub fn finish(mut self, code: Code) {
        self.record(code);
    }

    fn record(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let seconds = self.started.elapsed().as_secs_f64();
        if let Some(hot) = HOT.get() {
            let (codes, duration) = &hot.rpcs[self.rpc as usize];
            codes[code as usize].increment(1);
            duration.record(seconds);
            hot.in_flight.decrement(1.0);
            return;
        }
        let method = self.rpc.name();
        counter!(RPC_REQUESTS_TOTAL, "method" => method, "code" => code_name(code)).increment(1);
        histogram!(RPC_DURATION_SECONDS, "method" => method).record(seconds);
        gauge!(RPC_IN_FLIGHT).decrement(1.0);
    }
}

impl Drop for RpcTimer {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

/// The `code` label: the canonical gRPC name of the status code (`OK`, `DEADLINE_EXCEEDED`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// One registry call of `registry` (a `Registry::key()`) ended with `outcome` (`ok`,
/// `not_found`, `timeout`, `connect`, `http`, `fault`, `status`, `malformed`, `deadline`,
/// `circuit_open`) after `seconds`.
pub fn registry_call(registry: &'static str, outcome: &'static str, seconds: f64) {
    counter!(REGISTRY_CALLS_TOTAL, "registry" => registry, "outcome" => outcome).increment(1);
    histogram!(REGISTRY_CALL_DURATION_SECONDS, "registry" => registry).record(seconds);
}

/// A call to `registry` found no free slot within `queue_timeout`: the gateway's own overload.
pub fn registry_queue_full(registry: &'static str) {
    counter!(REGISTRY_QUEUE_FULL_TOTAL, "registry" => registry).increment(1);
}

/// A transient failure of `registry` is retried.
pub fn registry_retry(registry: &'static str) {
    counter!(REGISTRY_RETRIES_TOTAL, "registry" => registry).increment(1);
}

/// An answer-cache look-up for `registry`: `hit`, `miss` or `stale`.
pub fn cache_lookup(registry: crate::registry::Registry, result: &'static str) {
    let index = CACHE_RESULTS.iter().position(|r| *r == result);
    match (HOT.get(), index) {
        (Some(hot), Some(i)) => hot.cache_lookups[registry][i].increment(1),
        _ => counter!(CACHE_LOOKUPS_TOTAL, "registry" => registry.key(), "result" => result)
            .increment(1),
    }
}

/// The legal basis in force ends in `days` days (negative: none in force).
pub fn legal_basis_days_left(days: f64) {
    gauge!(LEGAL_BASIS_DAYS_LEFT).set(days);
}

/// An entry of `registry`'s answer cache (or its part of an owner's facts) was evicted.
pub fn cache_eviction(registry: crate::registry::Registry) {
    counter!(CACHE_EVICTIONS_TOTAL, "registry" => registry.key()).increment(1);
}

/// `registry`'s answer cache holds `n` persons weighing `bytes`.
pub fn cache_size(registry: &'static str, n: u64, bytes: u64) {
    gauge!(CACHE_ENTRIES, "registry" => registry).set(n as f64);
    gauge!(CACHE_BYTES, "registry" => registry).set(bytes as f64);
}

/// The owner-facts cache holds `n` persons in about `bytes`.
pub fn owner_facts_size(n: u64, bytes: u64) {
    gauge!(OWNER_FACTS_PERSONS).set(n as f64);
    gauge!(OWNER_FACTS_BYTES).set(bytes as f64);
}

/// `registry`'s circuit breaker is in `state`: [`BREAKER_CLOSED`], [`BREAKER_HALF_OPEN`] or
/// [`BREAKER_OPEN`].
pub fn breaker_state(registry: &'static str, state: u8) {
    gauge!(BREAKER_STATE, "registry" => registry).set(f64::from(state));
}

/// One audit append took `seconds`, from queueing to acknowledgement; `ok` false: it failed.
pub fn audit_write(seconds: f64, ok: bool) {
    histogram!(AUDIT_WRITE_DURATION_SECONDS).record(seconds);
    if !ok {
        counter!(AUDIT_WRITE_FAILURES_TOTAL).increment(1);
    }
}

/// A client connection was accepted.
pub fn connection_opened() {
    gauge!(CONNECTIONS_OPEN).increment(1.0);
}

/// A connection without a request was closed to admit a newcomer.
pub fn connection_evicted() {
    counter!(CONNECTIONS_EVICTED_TOTAL).increment(1);
}

/// A client connection was closed.
pub fn connection_closed() {
    gauge!(CONNECTIONS_OPEN).decrement(1.0);
}

/// Whether the audit log takes records (`false`: it cannot write).
pub fn audit_writable(writable: bool) {
    gauge!(AUDIT_WRITABLE).set(if writable { 1.0 } else { 0.0 });
}

/// A torn final audit line was cut at start.
pub fn audit_torn_tail_cut() {
    counter!(AUDIT_TORN_TAIL_CUT_TOTAL).increment(1);
}

/// Audit records written locally and not yet in PostgreSQL.
pub fn audit_backlog(records: u64) {
    gauge!(AUDIT_BACKLOG_RECORDS).set(records as f64);
}

/// The backlog bound, `audit.postgres.max_backlog`.
pub fn audit_backlog_limit(records: u64) {
    gauge!(AUDIT_BACKLOG_LIMIT_RECORDS).set(records as f64);
}

/// Whether the audit shipper is connected to PostgreSQL.
pub fn audit_postgres_up(up: bool) {
    gauge!(AUDIT_POSTGRES_UP).set(if up { 1.0 } else { 0.0 });
}

/// `records` audit records were committed in PostgreSQL.
pub fn audit_shipped(records: u64) {
    counter!(AUDIT_SHIPPED_TOTAL).increment(records);
}

/// An attempt to reach PostgreSQL or to commit an audit batch failed.
pub fn audit_timestamp_failure() {
    counter!(AUDIT_TIMESTAMP_FAILURES_TOTAL).increment(1);
}

pub fn audit_ship_failure() {
    counter!(AUDIT_SHIP_FAILURES_TOTAL).increment(1);
}

/// An RPC was shed (`RESOURCE_EXHAUSTED`) by the server-wide in-flight limit.
pub fn shed() {
    counter!(RPC_SHED_TOTAL).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_canonical_name() {
        // grpc's statuscodes.md: the variant name in upper snake case.
        for (n, name) in (0..=16).map(|n| (n, code_name(Code::from_i32(n)))) {
            let variant = format!("{:?}", Code::from_i32(n));
            let mut snake = String::new();
            for (i, c) in variant.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_uppercase());
            }
            assert_eq!(name, snake, "code {n}");
        }
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
    }

    #[test]
    fn recording_works_with_or_without_a_recorder() {
        registry_call("gbd_fl", "ok", 0.01);
        rpc_started(crate::rpc::Rpc::CheckOwner).finish(Code::Ok);
        drop(rpc_started(crate::rpc::Rpc::CheckOwner));
        audit_write(0.001, false);
    }
}
