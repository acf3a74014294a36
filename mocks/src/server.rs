//! The HTTP side of a mock: one listener per registry, the SHEP endpoint, the admin endpoints,
//! and fault application.
//!
//! Connections are served by hyper directly (not `axum::serve`) so that the mock owns every
//! connection task: [`MockRegistry::stop`] aborts them all, so pooled keep-alive connections
//! die with the listener, and [`FaultMode::Down`] can drop a connection without writing a byte.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower_service::Service;

use crate::envelope::{self, ResponseInfo};
use crate::faults::{FaultMode, Faults};
use crate::fixture::{kz_offset, Fixture};
use crate::payload;
use crate::signing::{self, MockSigning};
use crate::{PerRegistry, Registry};

/// Path of the SHEP sync-channel endpoint on every mock.
pub const SHEP_PATH: &str = registry_vocab::shep::PATH;

/// Detail code of an injected SOAP fault.
pub const INJECTED_FAULT_CODE: &str = "SHEP_FAULT";

/// State shared by the handlers of one mock and its [`MockRegistry`] handle.
struct Shared {
    registry: Registry,
    fixture: Arc<Fixture>,
    faults: Mutex<Faults>,
    calls: AtomicU64,
    /// WS-Security: request signatures checked, answers signed; `None`: plain envelopes.
    signing: Option<Arc<MockSigning>>,
    /// Certificate subject of the last signed request that passed the check.
    last_signer: Mutex<Option<String>>,
}

impl Shared {
    fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }
}

/// One running mock registry. Dropping it stops the mock too (without waiting).
#[derive(Debug)]
pub struct MockRegistry {
    registry: Registry,
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("registry", &self.registry)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl MockRegistry {
    /// Which registry this mock impersonates.
    pub fn registry(&self) -> Registry {
        self.registry
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SHEP endpoint, `http://ADDR/shep`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{SHEP_PATH}", self.addr)
    }

    /// SendMessage requests received (every POST to the SHEP path, faulted ones included).
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// Certificate subject of the last request whose signature was checked and held.
    pub fn last_signer(&self) -> Option<String> {
        self.shared
            .last_signer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets the calls counter back to zero.
    pub fn reset_calls(&self) {
        self.shared.calls.store(0, Ordering::SeqCst);
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Replaces the faults; takes effect on the next request.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Stops listening and closes every open connection; afterwards connections are refused.
    pub async fn stop(self) {
        self.stop_ref().await;
    }

    /// [`MockRegistry::stop`] through a shared reference (idempotent).
    pub(crate) async fn stop_ref(&self) {
        let tx = self
            .shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Starts a mock for `registry` on a listener the caller has already bound (port 0 in tests).
/// Plain envelopes: no signatures checked or made.
pub async fn spawn(
    registry: Registry,
    fixture: Arc<Fixture>,
    listener: TcpListener,
) -> MockRegistry {
    spawn_signed(registry, fixture, listener, None).await
}

/// [`spawn`] with WS-Security: request signatures required and answers signed per `signing`.
pub async fn spawn_signed(
    registry: Registry,
    fixture: Arc<Fixture>,
    listener: TcpListener,
    signing: Option<Arc<MockSigning>>,
) -> MockRegistry {
    let addr = listener
        .local_addr()
        .expect("a bound TCP listener has a local address");
    let shared = Arc::new(Shared {
        registry,
        fixture,
        faults: Mutex::new(Faults::default()),
        calls: AtomicU64::new(0),
        signing,
        last_signer: Mutex::new(None),
    });
    let router = router(shared.clone());
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(accept_loop(registry, listener, router, rx));
    tracing::info!(registry = registry.key(), %addr, "mock registry listening");
    MockRegistry {
        registry,
        addr,
        shared,
        shutdown: Mutex::new(Some(tx)),
        task: Mutex::new(Some(task)),
    }
}

async fn accept_loop(
    registry: Registry,
    listener: TcpListener,
    router: Router,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // Fires on stop() and when the handle is dropped.
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Small request/answer exchanges: no Nagle delay on top of the latency
                    // a test injects.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                Err(e) => {
                    tracing::warn!(registry = %registry, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
    tracing::info!(registry = registry.key(), "mock registry stopped");
}

/// Marker on a response: drop the connection instead of writing it.
#[derive(Clone, Copy, Debug)]
struct DropConnection;

#[derive(Debug, thiserror::Error)]
#[error("fault injection: connection dropped without an answer")]
struct ConnectionDropped;

async fn serve_connection(stream: TcpStream, router: Router) {
    let service = hyper::service::service_fn(move |req| {
        let mut router = router.clone();
        async move {
            let response = match router.call(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok::<_, ConnectionDropped>(response)
            }
        }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(SHEP_PATH, post(send_message))
        .route("/admin/faults", get(get_faults).put(put_faults))
        .route("/admin/calls", get(get_calls))
        .route("/admin/calls/reset", post(reset_calls))
        .with_state(shared)
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A random UUID v4 as the answer's message id.
fn message_id() -> String {
    let r = fastrand::u128(..);
    // Version 4 in bits 76..80, RFC 4122 variant (0b10) in bits 62..64.
    let r = (r & !(0xF << 76)) | (0x4 << 76);
    let r = (r & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{r:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

async fn send_message(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let faults = shared.faults();
    let delay = faults.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mode = faults.pick();
    if let Some(failed) = fault_before_reading(&mode, shared.registry) {
        return failed;
    }
    if let Some(refused) = refuse_signature(&shared, &body) {
        return refused;
    }
    let request = match read_request(&body, shared.registry) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let xml = answer(&shared, &mode, &request);
    let xml = match (&shared.signing, &mode) {
        (Some(signing), FaultMode::SignedBy { registry }) => signing.sign(*registry, xml),
        (Some(signing), _) => signing.sign(shared.registry, xml),
        (None, _) => xml,
    };
    match mode {
        FaultMode::MalformedXml => {
            xml_response(StatusCode::OK, envelope::truncate(&xml).to_owned())
        }
        FaultMode::TamperedSignature => xml_response(StatusCode::OK, signing::tamper(&xml)),
        FaultMode::Trickle { bytes_per_sec } => trickle(xml, bytes_per_sec),
        _ => xml_response(StatusCode::OK, xml),
    }
}

/// The faults that answer before the request is read: a dropped connection, HTTP 503, a SOAP
/// fault.
fn fault_before_reading(mode: &FaultMode, registry: Registry) -> Option<Response> {
    match mode {
        FaultMode::Down => {
            tracing::debug!(registry = registry.key(), "fault: dropping connection");
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.extensions_mut().insert(DropConnection);
            Some(r)
        }
        FaultMode::Http503 => Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Service Unavailable (injected fault)",
            )
                .into_response(),
        ),
        FaultMode::SoapFault => Some(xml_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            envelope::fault(
                "soap:Server",
                "Injected fault",
                INJECTED_FAULT_CODE,
                &format!("{} mock: injected SOAP fault", registry.key()),
            ),
        )),
        FaultMode::ClientFault => Some(xml_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            envelope::fault(
                "soap:Client",
                "Invalid request",
                payload::BAD_REQUEST,
                &format!("{} mock: injected client fault", registry.key()),
            ),
        )),
        FaultMode::None
        | FaultMode::MalformedXml
        | FaultMode::Trickle { .. }
        | FaultMode::WrongStatus { .. }
        | FaultMode::TamperedSignature
        | FaultMode::SignedBy { .. } => None,
    }
}

/// With WS-Security on: the request's signature checked, its signer remembered; a refusal
/// is answered with the security fault.
fn refuse_signature(shared: &Shared, body: &[u8]) -> Option<Response> {
    let (Some(signing), Ok(text)) = (&shared.signing, std::str::from_utf8(body)) else {
        return None;
    };
    match signing.check_request(text) {
        Ok(Some(signer)) => {
            *shared
                .last_signer
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(signer);
            None
        }
        Ok(None) => None,
        Err((faultstring, message)) => {
            tracing::debug!(registry = shared.registry.key(), %message, "request signature refused");
            Some(xml_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                signing.sign(
                    shared.registry,
                    envelope::fault(
                        "soap:Client",
                        &faultstring,
                        signing::SECURITY_FAULT_CODE,
                        &message,
                    ),
                ),
            ))
        }
    }
}

/// The `SendMessage` request; one that cannot be read is the client's SOAP fault.
fn read_request(body: &[u8], registry: Registry) -> Result<envelope::Request, Box<Response>> {
    std::str::from_utf8(body)
        .map_err(|e| envelope::EnvelopeError::NotXml(e.to_string()))
        .and_then(envelope::parse_request)
        .map_err(|e| {
            tracing::debug!(registry = registry.key(), error = %e, "bad envelope");
            Box::new(xml_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                envelope::fault(
                    "soap:Client",
                    "Invalid request",
                    payload::BAD_REQUEST,
                    &e.to_string(),
                ),
            ))
        })
}

/// The `SendMessageResponse` to `request`: the fixture's answer, or the injected status.
fn answer(shared: &Shared, mode: &FaultMode, request: &envelope::Request) -> String {
    let registry = shared.registry;
    let (status_code, status_message, data) = match mode {
        FaultMode::WrongStatus { code } => (code.as_str(), format!("Injected status {code}"), None),
        _ => {
            let today = shared.fixture.today();
            let a = payload::answer(
                registry,
                &shared.fixture,
                request.iin.as_deref(),
                request.kdp_token.as_deref(),
                today,
            );
            (a.code, a.message, a.data)
        }
    };
    let response_date = Utc::now()
        .with_timezone(&kz_offset())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string();
    let message_id = message_id();
    tracing::debug!(
        registry = registry.key(),
        service_id = %request.service_id,
        status = status_code,
        "answered SendMessage"
    );
    envelope::response(
        &ResponseInfo {
            message_id: &message_id,
            correlation_id: Some(&request.message_id),
            response_date: &response_date,
            status_code,
            status_message: &status_message,
            session_id: request.session_id.as_deref(),
        },
        data.as_deref(),
    )
}

/// The body with its real `Content-Length`, sent in small chunks at `bytes_per_sec`.
fn trickle(xml: String, bytes_per_sec: u32) -> Response {
    let rate = u64::from(bytes_per_sec.max(1));
    // About ten chunks a second, at least one byte each.
    let chunk = usize::try_from((rate / 10).max(1)).unwrap_or(usize::MAX);
    let pause = Duration::from_secs_f64(chunk as f64 / rate as f64);
    let bytes = Bytes::from(xml);
    let len = bytes.len();
    let stream = futures_util::stream::unfold(bytes, move |mut rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(pause).await;
        let piece = rest.split_to(chunk.min(rest.len()));
        Some((Ok::<_, Infallible>(piece), rest))
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

#[derive(serde::Serialize)]
struct CallsBody {
    registry: Registry,
    calls: u64,
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Json<Faults> {
    Json(shared.faults())
}

async fn put_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("invalid faults JSON: {e}\n"),
            )
                .into_response()
        }
    };
    if let Err(e) = faults.validate() {
        return (StatusCode::BAD_REQUEST, format!("invalid faults: {e}\n")).into_response();
    }
    tracing::info!(registry = shared.registry.key(), ?faults, "faults set");
    shared.set_faults(faults.clone());
    Json(faults).into_response()
}

async fn get_calls(State(shared): State<Arc<Shared>>) -> Json<CallsBody> {
    Json(CallsBody {
        registry: shared.registry,
        calls: shared.calls.load(Ordering::SeqCst),
    })
}

async fn reset_calls(State(shared): State<Arc<Shared>>) -> Json<CallsBody> {
    shared.calls.store(0, Ordering::SeqCst);
    Json(CallsBody {
        registry: shared.registry,
        calls: 0,
    })
}

/// Every registry's mock, each on its own listener.
#[derive(Debug)]
pub struct MockRegistries {
    mocks: PerRegistry<MockRegistry>,
}

impl MockRegistries {
    /// Starts every mock on `127.0.0.1:0`.
    pub async fn spawn(fixture: Arc<Fixture>) -> std::io::Result<MockRegistries> {
        MockRegistries::spawn_signed_opt(fixture, None).await
    }

    /// Starts every mock on `127.0.0.1:0` with WS-Security per `signing` (e.g.
    /// [`MockSigning::demo`]).
    pub async fn spawn_signed(
        fixture: Arc<Fixture>,
        signing: Arc<MockSigning>,
    ) -> std::io::Result<MockRegistries> {
        MockRegistries::spawn_signed_opt(fixture, Some(signing)).await
    }

    async fn spawn_signed_opt(
        fixture: Arc<Fixture>,
        signing: Option<Arc<MockSigning>>,
    ) -> std::io::Result<MockRegistries> {
        let mut listeners = Vec::with_capacity(Registry::COUNT);
        for _ in Registry::ALL {
            listeners.push(TcpListener::bind(("127.0.0.1", 0)).await?);
        }
        let mut listeners = listeners.into_iter();
        let listeners = PerRegistry::from_fn(|_| listeners.next().expect("one per registry"));
        Ok(MockRegistries::spawn_on_signed(fixture, listeners, signing).await)
    }

    /// Starts the mocks on listeners the caller bound.
    pub async fn spawn_on(
        fixture: Arc<Fixture>,
        listeners: PerRegistry<TcpListener>,
    ) -> MockRegistries {
        MockRegistries::spawn_on_signed(fixture, listeners, None).await
    }

    /// [`MockRegistries::spawn_on`] with WS-Security per `signing`.
    pub async fn spawn_on_signed(
        fixture: Arc<Fixture>,
        listeners: PerRegistry<TcpListener>,
        signing: Option<Arc<MockSigning>>,
    ) -> MockRegistries {
        let mut mocks = Vec::with_capacity(Registry::COUNT);
        for (registry, listener) in Registry::ALL.into_iter().zip(listeners.into_values()) {
            mocks.push(spawn_signed(registry, fixture.clone(), listener, signing.clone()).await);
        }
        let mut mocks = mocks.into_iter();
        MockRegistries {
            mocks: PerRegistry::from_fn(|_| mocks.next().expect("one per registry")),
        }
    }

    /// The mock of one registry (still there after [`MockRegistries::stop`], but refusing
    /// connections).
    pub fn get(&self, r: Registry) -> &MockRegistry {
        &self.mocks[r]
    }

    /// All of them, in [`Registry::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = &MockRegistry> {
        self.mocks.values()
    }

    /// Stops one mock alone; the others keep running.
    pub async fn stop(&mut self, r: Registry) {
        self.mocks[r].stop_ref().await;
    }

    /// Stops them all.
    pub async fn shutdown(self) {
        for mock in self.mocks.into_values() {
            mock.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_id_is_a_uuid_v4() {
        for _ in 0..100 {
            let id = super::message_id();
            let parts: Vec<&str> = id.split('-').collect();
            let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            assert_eq!(lens, [8, 4, 4, 4, 12], "{id}");
            assert!(parts[2].starts_with('4'), "{id}");
            assert!(parts[3].starts_with(['8', '9', 'a', 'b']), "{id}");
        }
    }
}
