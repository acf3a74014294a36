//! What a stranger's connection may hold, and for how long: the accept loop and the limits
//! per connection ([`Connections`], `[connections]` in the configuration), and the listener's
//! mutual TLS ([`TlsConfig`], `[tls]`).
//!
//! - at most `max` connections at once: past it, the oldest connection that has not sent a
//!   request yet is closed to admit the newcomer ([`ConnTable`]); when every connection has
//!   sent one, the gateway stops accepting (new clients wait in the kernel's backlog) until
//!   one closes;
//! - accept errors (out of file descriptors, say) are logged and retried after a growing
//!   pause, never in a busy loop;
//! - a connection from which nothing arrives for `idle_timeout` is closed. The gateway's
//!   HTTP/2 keep-alive pings (every `keepalive_interval`, answered within
//!   `keepalive_timeout`) keep a live client's connection open and close a dead one sooner;
//! - TLS handshakes ([`tls_incoming`]: mutual TLS, ALPN `h2` and `http/1.1`) run side by side
//!   and must each finish within `tls_handshake_timeout`;
//! - at most `max_streams` concurrent streams per connection (advertised in HTTP/2 SETTINGS);
//! - a request's body must arrive whole within `request_arrival_timeout` of its headers
//!   ([`ArrivalLayer`]), so a stream that sends headers and no body is ended, not kept.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};

use crate::validate::{Invalid, Validate};
use crate::BoxError;

/// Limits of connections and streams.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Connections {
    /// Connections open at once, at most.
    pub max: usize,
    /// Concurrent HTTP/2 streams (RPCs) per connection.
    pub max_streams: u32,
    /// A connection from which nothing arrives for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// HTTP/2 PING every this long...
    #[serde(with = "humantime_serde")]
    pub keepalive_interval: Duration,
    /// ... answered within this, or the connection is closed.
    #[serde(with = "humantime_serde")]
    pub keepalive_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub tls_handshake_timeout: Duration,
    /// From a request's headers to the end of its body.
    #[serde(with = "humantime_serde")]
    pub request_arrival_timeout: Duration,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            max: 2048,
            max_streams: 100,
            idle_timeout: Duration::from_secs(120),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            request_arrival_timeout: Duration::from_secs(10),
        }
    }
}

impl Validate for Connections {
    fn validate(&self) -> Result<(), Invalid> {
        let rule = |field: &str, text: &str| Err(Invalid::new(field, text));
        if self.max == 0 {
            return rule("max", "must be at least 1");
        }
        if self.max_streams == 0 {
            return rule("max_streams", "must be at least 1");
        }
        for (field, d) in [
            ("keepalive_interval", self.keepalive_interval),
            ("keepalive_timeout", self.keepalive_timeout),
            ("tls_handshake_timeout", self.tls_handshake_timeout),
            ("request_arrival_timeout", self.request_arrival_timeout),
        ] {
            if d.is_zero() {
                return rule(field, "must be more than zero");
            }
        }
        if self.idle_timeout <= self.keepalive_interval + self.keepalive_timeout {
            return rule(
                "idle_timeout",
                "must be longer than keepalive_interval + keepalive_timeout (a live client's ping answers keep its connection open)",
            );
        }
        Ok(())
    }
}

/// The rapid-reset fence (CVE-2023-44487): how many streams the peer may have reset before
/// the gateway took them up (read, not yet accepted), at once, before the connection gets
/// `GOAWAY` (`ENHANCE_YOUR_CALM`, "too_many_resets"). A stream the gateway has accepted never
/// counts, however its caller cancels it.
///
/// h2's default is 20, which a well-behaved client trips when the gateway is saturated: it
/// reads each stream's HEADERS and its RST_STREAM (the caller's deadline) in one go, so every
/// cancelled call counts as reset-before-accept. A client that keeps to `max_streams` cannot
/// have more than `max_streams` such streams at once (twice that allows for it opening new
/// calls in the places of cancelled ones before the gateway reads any); a flood, which opens
/// and resets streams without regard to the limit, passes it within one read.
pub fn pending_reset_limit(limits: &Connections) -> usize {
    2 * limits.max_streams as usize
}

/// Mutual TLS: the server's certificate chain and key, and the CA that client certificates
/// must chain to (a client without one is refused in the handshake). PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

/// Accepted connections, at most `limits.max` open at once (see [`ConnTable`]), with
/// TCP_NODELAY (small unary messages would otherwise wait ~40 ms for Nagle and delayed ACKs)
/// and the idle timeout. Without a [`ServedLayer`] over the same table no connection is known
/// to have sent a request; use [`incoming_to`] with one (as the server does).
pub fn incoming(
    listener: TcpListener,
    limits: Connections,
) -> impl Stream<Item = io::Result<Connection>> + Send + 'static {
    incoming_to(listener, limits, ConnTable::new(limits.max))
}

/// [`incoming`], its connections kept in `table`.
pub fn incoming_to(
    listener: TcpListener,
    limits: Connections,
    table: Arc<ConnTable>,
) -> impl Stream<Item = io::Result<Connection>> + Send + 'static {
    futures::stream::unfold(
        (listener, table, limits),
        |(listener, table, limits)| async move {
            let (stream, peer) = accept(&listener).await;
            let slot = table.admit(peer).await;
            let _ = stream.set_nodelay(true);
            let connection = Connection::new(stream, slot, table.clone(), limits.idle_timeout);
            Some((Ok(connection), (listener, table, limits)))
        },
    )
}

/// The next connection; accept errors (out of descriptors or memory, a connection reset
/// before it was accepted) are logged and retried after a pause growing from 5 ms to 1 s.
async fn accept(listener: &TcpListener) -> (TcpStream, Option<SocketAddr>) {
    let mut pause = Duration::from_millis(5);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => return (stream, Some(peer)),
            Err(e) => {
                tracing::warn!(error = %e, ?pause, "accept failed; pausing");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The open connections, oldest first, at most `max`. A connection beyond the limit is
/// admitted by closing the oldest connection that has not sent a request yet (a silent
/// socket, a client stalled in its TLS handshake or after the HTTP/2 preface, headers that
/// never end): a few hundred silent sockets cannot keep a caller out. Only when every open
/// connection has sent a request does the newcomer wait for one to close (the connections
/// after it wait in the kernel's backlog). A connection with a request, finished or in
/// flight, is never closed for a newcomer.
pub struct ConnTable {
    max: usize,
    state: Mutex<TableState>,
    freed: tokio::sync::Notify,
}

#[derive(Default)]
struct TableState {
    next: u64,
    /// By age: ids grow.
    open: BTreeMap<u64, Arc<Slot>>,
    by_peer: HashMap<SocketAddr, Arc<Slot>>,
    /// Closed for a newcomer, not yet gone.
    evicting: usize,
}

/// One open connection's place in the table.
pub struct Slot {
    id: u64,
    peer: Option<SocketAddr>,
    /// A request arrived on it (see [`ServedLayer`]).
    served: AtomicBool,
    /// Closed for a newcomer: its next read fails.
    evicted: AtomicBool,
    reader: AtomicWaker,
}

impl ConnTable {
    pub fn new(max: usize) -> Arc<ConnTable> {
        Arc::new(ConnTable {
            max,
            state: Mutex::new(TableState::default()),
            freed: tokio::sync::Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TableState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a connection from `peer`, once there is one (see the type's doc).
    async fn admit(&self, peer: Option<SocketAddr>) -> Arc<Slot> {
        loop {
            let freed = self.freed.notified();
            if let Some(slot) = self.try_open(peer) {
                return slot;
            }
            if !self.evict_oldest_silent() {
                tracing::debug!("every connection has sent a request: the newcomer waits");
            }
            freed.await;
        }
    }

    fn try_open(&self, peer: Option<SocketAddr>) -> Option<Arc<Slot>> {
        let mut state = self.state();
        if state.open.len() >= self.max {
            return None;
        }
        state.next += 1;
        let slot = Arc::new(Slot {
            id: state.next,
            peer,
            served: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            reader: AtomicWaker::new(),
        });
        state.open.insert(slot.id, slot.clone());
        if let Some(peer) = peer {
            state.by_peer.insert(peer, slot.clone());
        }
        Some(slot)
    }

    /// Closes the oldest connection that has sent no request (unless one is closing for a
    /// newcomer already); `false` when there is none.
    fn evict_oldest_silent(&self) -> bool {
        let mut state = self.state();
        if state.evicting > 0 {
            return true;
        }
        let Some(slot) = state
            .open
            .values()
            .find(|s| !s.served.load(Ordering::SeqCst))
            .cloned()
        else {
            return false;
        };
        state.evicting += 1;
        slot.evicted.store(true, Ordering::SeqCst);
        slot.reader.wake();
        crate::metrics::connection_evicted();
        tracing::debug!("connection table full: the oldest connection without a request is closed");
        true
    }

    /// A request arrived on the connection from `peer`.
    pub fn mark_served(&self, peer: SocketAddr) {
        if let Some(slot) = self.state().by_peer.get(&peer) {
            slot.served.store(true, Ordering::Relaxed);
        }
    }

    fn close(&self, slot: &Slot) {
        let mut state = self.state();
        state.open.remove(&slot.id);
        if let Some(peer) = slot.peer {
            if state.by_peer.get(&peer).is_some_and(|s| s.id == slot.id) {
                state.by_peer.remove(&peer);
            }
        }
        if slot.evicted.load(Ordering::SeqCst) {
            state.evicting -= 1;
        }
        drop(state);
        self.freed.notify_one();
    }
}

/// Marks the connection of each request in the [`ConnTable`] as having sent one.
#[derive(Clone)]
pub struct ServedLayer(pub Arc<ConnTable>);

impl<S> tower::Layer<S> for ServedLayer {
    type Service = Served<S>;

    fn layer(&self, inner: S) -> Served<S> {
        Served {
            inner,
            table: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Served<S> {
    inner: S,
    table: Arc<ConnTable>,
}

impl<S, B> tower::Service<http::Request<B>> for Served<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> S::Future {
        let extensions = request.extensions();
        let peer = extensions
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .or_else(|| {
                extensions
                    .get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(|tls| tls.get_ref().remote_addr())
            });
        if let Some(peer) = peer {
            self.table.mark_served(peer);
        }
        self.inner.call(request)
    }
}

/// Mutual TLS: the server's certificate chain and key, client certificates required and
/// checked against the client CA, and ALPN offering `h2` (gRPC, or JSON over HTTP/2) then
/// `http/1.1` (JSON). tonic's own TLS offers `h2` alone, which a client speaking HTTP/1.1 only
/// cannot agree to. Key files are read now.
pub fn tls_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, BoxError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("tls: cannot read {}: {e}", path.display()))
    };
    let pem_error = |path: &std::path::Path, e| format!("tls: {}: {e}", path.display());
    let certs = CertificateDer::pem_slice_iter(&read(&tls.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(&tls.cert, e))?;
    let key =
        PrivateKeyDer::from_pem_slice(&read(&tls.key)?).map_err(|e| pem_error(&tls.key, e))?;
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(&read(&tls.client_ca)?) {
        roots.add(ca.map_err(|e| pem_error(&tls.client_ca, e))?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let clients =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(clients)
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The connections of [`incoming`] after their TLS handshake. Handshakes run side by side (a
/// slow one holds up no other) and each must finish within `tls_handshake_timeout`; a failed
/// one is logged at debug level and its connection closed.
pub fn tls_incoming(
    listener: TcpListener,
    limits: Connections,
    table: Arc<ConnTable>,
    config: Arc<rustls::ServerConfig>,
) -> impl Stream<Item = io::Result<TlsStream<Connection>>> + Send + 'static {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    incoming_to(listener, limits, table)
        .map(move |accepted| {
            let acceptor = acceptor.clone();
            async move {
                let handshake = acceptor.accept(accepted?);
                let result = tokio::time::timeout(limits.tls_handshake_timeout, handshake)
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "TLS handshake too slow",
                        ))
                    });
                if let Err(e) = &result {
                    tracing::debug!(error = %e, "TLS handshake failed");
                }
                result
            }
        })
        .buffer_unordered(limits.max)
}

/// An accepted TCP connection: holds its place in the [`ConnTable`] until it is dropped, and
/// fails its read once nothing has arrived for the idle timeout, or once it is closed for a
/// newcomer.
pub struct Connection {
    stream: TcpStream,
    slot: Arc<Slot>,
    table: Arc<ConnTable>,
    idle_timeout: Duration,
    last_read: Instant,
    /// Fires at the latest `last_read + idle_timeout`, or earlier (then it is moved on).
    idle: Pin<Box<Sleep>>,
}

impl Connection {
    fn new(
        stream: TcpStream,
        slot: Arc<Slot>,
        table: Arc<ConnTable>,
        idle_timeout: Duration,
    ) -> Connection {
        crate::metrics::connection_opened();
        Connection {
            stream,
            slot,
            table,
            idle_timeout,
            last_read: Instant::now(),
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.table.close(&self.slot);
        crate::metrics::connection_closed();
    }
}

impl Connected for Connection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        self.slot.reader.register(cx.waker());
        if self.slot.evicted.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to admit a new connection: no request on it yet",
            )));
        }
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                // Only noted here: the timer is moved when it fires (no timer work per read).
                self.last_read = Instant::now();
                Poll::Ready(Ok(()))
            }
            Poll::Pending => loop {
                ready!(self.idle.as_mut().poll(cx));
                let due = self.last_read + self.idle_timeout;
                if due <= Instant::now() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle for too long",
                    )));
                }
                self.idle.as_mut().reset(due);
            },
            other => other,
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Ends a request whose body has not arrived whole within `timeout` of its headers.
#[derive(Clone, Copy)]
pub struct ArrivalLayer(pub Duration);

impl<S> tower::Layer<S> for ArrivalLayer {
    type Service = Arrival<S>;

    fn layer(&self, inner: S) -> Arrival<S> {
        Arrival {
            inner,
            timeout: self.0,
        }
    }
}

#[derive(Clone)]
pub struct Arrival<S> {
    inner: S,
    timeout: Duration,
}

type Body = tonic::body::Body;

impl<S> tower::Service<http::Request<Body>> for Arrival<S>
where
    S: tower::Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> S::Future {
        let deadline = Instant::now() + self.timeout;
        self.inner.call(request.map(|body| {
            Body::new(ArrivingBody {
                body,
                deadline,
                timer: None,
                late: false,
            })
        }))
    }
}

struct ArrivingBody {
    body: Body,
    deadline: Instant,
    /// Made only when the body is not there at once (a unary request usually is).
    timer: Option<Pin<Box<Sleep>>>,
    late: bool,
}

impl http_body::Body for ArrivingBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        if self.late {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Pending => {
                let deadline = self.deadline;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.late = true;
                        Poll::Ready(Some(Err(tonic::Status::deadline_exceeded(
                            "the request did not arrive whole within request_arrival_timeout",
                        ))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.late || self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
