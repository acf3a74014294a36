//! Assembling and running the gateway: registries behind their guards, the gRPC services and
//! their HTTP/JSON routes, health, configuration reload and graceful drain.
//!
//! One listener serves both gRPC and HTTP/JSON: gRPC's paths are `/<service>/<method>`, the
//! JSON routes live under `/v1/`, so the path tells them apart; HTTP/1.1 and HTTP/2 are told
//! apart by ALPN over TLS and by the connection preface in plaintext. The JSON routes thus get
//! the same mutual TLS, connection limits and drain as gRPC with nothing more to configure,
//! open or watch.
//!
//! [`Gateway::start`] builds everything from a [`Config`]; [`Gateway::serve`] serves until the
//! shutdown future completes, then reports NOT_SERVING for `shutdown_delay`, stops taking
//! calls, lets calls in flight finish within `shutdown_grace`, and closes the audit log. A [`Reloader`] applies a
//! new configuration to the running gateway (SIGHUP in `main`).
//!
//! Readiness (SERVING while the gateway takes calls and its audit log can write) is told
//! alike to gRPC health (`""` and the gateway's service) and to the admin port's `/readyz`,
//! which a kubelet can probe when the gRPC port requires client certificates.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::access::Access;
use crate::api;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::decision::Decider;
use crate::decision::DecisionConfig;
use crate::embedded::EmbeddedMocks;
use crate::listener;
use crate::registry::signing::Security;
use crate::registry::{self, Endpoints, PerRegistry};
use crate::resilience::owner_facts::OwnerFactsCache;
use crate::resilience::{BreakerState, GuardAdmin, GuardedRegistries, Policy};
use crate::BoxError;

/// The gRPC service name whose health says whether the gateway takes calls.
const SERVICE: &str = crate::rpc::GATEWAY_SERVICE;

type ServedRegistryService =
    api::RefuseMalformed<api::RegistryGatewayServiceServer<api::GatewayService>>;
type ServedAdminService = api::RefuseMalformed<api::GatewayAdminServiceServer<api::AdminService>>;

/// A gateway ready to serve.
pub struct Gateway {
    reloader: Reloader,
    mocks: Option<EmbeddedMocks>,
    audit: Option<AuditLog>,
    /// The admin port (`metrics_listen`), bound at start.
    admin: Option<TcpListener>,
    guards: PerRegistry<Arc<dyn GuardAdmin>>,
    owner_facts: Arc<OwnerFactsCache>,
    registry_service: ServedRegistryService,
    admin_service: ServedAdminService,
    http_json: api::http::HttpJson,
}

/// Applies new configuration to a running gateway.
#[derive(Clone)]
pub struct Reloader {
    inner: Arc<ReloadState>,
}

struct ReloadState {
    current: Mutex<Config>,
    /// The embedded mocks, when they are used.
    embedded: Option<Embedded>,
    guarded: GuardedRegistries,
    decision: Arc<ArcSwap<DecisionConfig>>,
    access: Arc<ArcSwap<Access>>,
}

impl Gateway {
    /// Builds the gateway; starts the embedded mock registries when `[registries]` is absent.
    pub async fn start(config: Config) -> Result<Gateway, BoxError> {
        config.validate()?;
        // Before the audit log opens: it reports what it found (a torn line cut).
        let admin = bind_admin_port(config.metrics_listen).await?;
        let mocks = match &config.registries {
            Some(_) => None,
            None => Some(EmbeddedMocks::start(&config.mocks).await?),
        };
        let embedded = mocks.as_ref().map(|mocks| Embedded {
            endpoints: mocks.endpoints(),
            security: mocks.security(),
        });
        let guarded = GuardedRegistries::new(
            &adapters(&config, &config, embedded.as_ref())?,
            &config.resilience.policies()?,
            &config.resilience.owner_facts,
            config.shep.retry_after,
        );
        let audit = open_audit(&config).await?;
        let access = Arc::new(ArcSwap::from_pointee(Access::new(
            config.access.clone(),
            config.consent.clone(),
        )));
        let decision = Arc::new(ArcSwap::from_pointee(config.decision.clone()));
        let edge = api::CallPolicy::new(access.clone(), audit.clone());
        let (registry_service, admin_service, http_json) =
            services(&config, &guarded, decision.clone(), edge);
        Ok(Gateway {
            reloader: Reloader {
                inner: Arc::new(ReloadState {
                    current: Mutex::new(config),
                    embedded,
                    guarded: guarded.clone(),
                    decision,
                    access,
                }),
            },
            mocks,
            audit,
            admin,
            guards: guarded.admin(),
            owner_facts: guarded.owner_facts(),
            registry_service,
            admin_service,
            http_json,
        })
    }

    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// Where the admin port (`/metrics`, `/healthz`, `/readyz`) listens, if it is configured.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves on `listener` until `shutdown` completes, then drains (see the module doc).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BoxError> {
        let config = self.reloader.current();
        // Key files read now.
        let tls = config.tls.as_ref().map(listener::tls_config).transpose()?;
        let (health, health_service) = tonic_health::server::health_reporter();
        let (ready_now, ready_seen) = watch::channel(false);
        let readiness = Readiness {
            health,
            ready: Arc::new(ready_now),
        };
        readiness.set(true).await;
        let reporter = tokio::spawn(report_registries(
            readiness.clone(),
            (self.guards.clone(), self.owner_facts.clone()),
            self.audit.clone(),
        ));
        let metrics_stop = serve_admin_port(self.admin, ready_seen);
        let (signal, drain_started) = drain_signal(
            shutdown,
            readiness,
            reporter.abort_handle(),
            self.reloader.clone(),
        );
        tracing::info!(addr = %listener.local_addr()?, "registry gateway serving");
        let routes = routes(
            tonic::service::Routes::new(health_service),
            self.registry_service,
            self.admin_service,
            self.http_json,
        )?;
        let limits = config.connections;
        let table = listener::ConnTable::new(limits.max);
        let server = grpc_server(&config, table.clone()).add_routes(routes);
        let served: std::pin::Pin<Box<dyn Future<Output = _> + Send>> = match tls {
            Some(tls) => Box::pin(server.serve_with_incoming_shutdown(
                listener::tls_incoming(listener, limits, table, tls),
                signal,
            )),
            None => Box::pin(server.serve_with_incoming_shutdown(
                listener::incoming_to(listener, limits, table),
                signal,
            )),
        };
        let served = tokio::select! {
            served = served => served.map_err(BoxError::from),
            () = grace_over(drain_started, self.reloader.clone()) => {
                tracing::warn!("grace period over: calls still in flight are abandoned");
                Ok(())
            }
        };
        reporter.abort();
        let _ = metrics_stop.send(());
        if let Some(audit) = self.audit {
            audit.close().await?;
        }
        if let Some(mocks) = self.mocks {
            mocks.shutdown().await;
        }
        served
    }
}

/// The admin port (`metrics_listen`), bound at start, with the metrics recorder installed
/// first.
async fn bind_admin_port(
    addr: Option<std::net::SocketAddr>,
) -> Result<Option<TcpListener>, BoxError> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    crate::metrics::install();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("metrics_listen: cannot listen on {addr}: {e}"))?;
    Ok(Some(listener))
}

/// `/metrics`, `/healthz` and `/readyz` on the admin port, if configured, until the returned
/// sender fires.
fn serve_admin_port(
    listener: Option<TcpListener>,
    ready: watch::Receiver<bool>,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(listener) = listener {
        let handle = crate::metrics::install();
        tokio::spawn(crate::metrics::serve(listener, handle, ready, async {
            let _ = stopped.await;
        }));
    }
    stop
}

/// Reflection: both versions advertise every service, themselves included (grpcurl up to 1.8.7
/// speaks v1alpha, 1.8.8 and later v1), and know google.rpc's error details so that grpcurl
/// can print them.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(api::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}

/// The server with the per-connection limits: streams, keep-alive, request arrival (see
/// `listener`); HTTP/1.1 accepted beside HTTP/2 for the JSON routes (mutual TLS is the
/// listener's, [`listener::tls_incoming`]). The in-flight limits are applied per call,
/// once a request has arrived and its caller may make it (`api::Admission`): health and
/// reflection are never refused.
fn grpc_server(
    config: &Config,
    table: Arc<listener::ConnTable>,
) -> tonic::transport::Server<
    tower::layer::util::Stack<
        listener::ArrivalLayer,
        tower::layer::util::Stack<listener::ServedLayer, tower::layer::util::Identity>,
    >,
> {
    let limits = config.connections;
    tonic::transport::Server::builder()
        .accept_http1(true)
        .max_concurrent_streams(limits.max_streams)
        .http2_max_pending_accept_reset_streams(Some(listener::pending_reset_limit(&limits)))
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .layer(listener::ServedLayer(table))
        .layer(listener::ArrivalLayer(limits.request_arrival_timeout))
}

/// Every service on one listener: gRPC (`health`, reflection, the gateway's, the admin's) by
/// `/<service>/<method>`, the HTTP/JSON routes under `/v1/`, and a JSON 404 for the rest.
fn routes(
    health: tonic::service::Routes,
    registry_service: ServedRegistryService,
    admin_service: ServedAdminService,
    http_json: api::http::HttpJson,
) -> Result<tonic::service::Routes, BoxError> {
    let grpc = health
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(registry_service)
        .add_service(admin_service);
    Ok(tonic::service::Routes::from(
        grpc.into_axum_router()
            .merge(http_json.router())
            .fallback(api::http::fallback),
    ))
}

/// Drain: once `shutdown` completes, NOT_SERVING for `shutdown_delay`, then the returned
/// signal tells tonic to stop accepting and wait for calls in flight; the receiver learns
/// that draining started.
fn drain_signal(
    shutdown: impl Future<Output = ()> + Send + 'static,
    readiness: Readiness,
    reporter: tokio::task::AbortHandle,
    reloader: Reloader,
) -> (
    impl Future<Output = ()> + Send + 'static,
    tokio::sync::oneshot::Receiver<()>,
) {
    let (draining, drain_started) = tokio::sync::oneshot::channel();
    let signal = async move {
        shutdown.await;
        // Readiness no longer follows the audit log: it stays NOT_SERVING.
        reporter.abort();
        let delay = reloader.current().shutdown_delay;
        tracing::info!(
            ?delay,
            "shutting down: NOT_SERVING, then draining calls in flight"
        );
        readiness.set(false).await;
        tokio::time::sleep(delay).await;
        let _ = draining.send(());
    };
    (signal, drain_started)
}

/// Resolves `shutdown_grace` after draining started (never, if it does not).
async fn grace_over(drain_started: tokio::sync::oneshot::Receiver<()>, reloader: Reloader) {
    if drain_started.await.is_ok() {
        tokio::time::sleep(reloader.current().shutdown_grace).await;
    } else {
        std::future::pending::<()>().await;
    }
}

/// The audit log, if configured.
async fn open_audit(config: &Config) -> Result<Option<AuditLog>, BoxError> {
    match &config.audit {
        Some(audit) => Ok(Some(AuditLog::open(audit).await?)),
        None => {
            tracing::warn!("audit log disabled: configure [audit] for any real deployment");
            Ok(None)
        }
    }
}

/// The two gRPC services: the gateway's (admitted within the in-flight limits) and the
/// admin's (operators can always look and act, whatever the load: it admits all).
fn services(
    config: &Config,
    guarded: &GuardedRegistries,
    decision: Arc<ArcSwap<DecisionConfig>>,
    edge: api::CallPolicy,
) -> (
    ServedRegistryService,
    ServedAdminService,
    api::http::HttpJson,
) {
    let admin_edge = edge.clone();
    let edge = edge.admitted_by(Some(Arc::new(api::Admission::new(
        config.max_in_flight,
        config.max_in_flight_per_caller,
    ))));
    let registries = guarded.registries();
    let decider = Decider::new(registries.clone(), guarded.owner_facts(), decision.clone());
    let registry_service = api::RefuseMalformed::new(
        api::RegistryGatewayServiceServer::new(api::GatewayService::new(
            registries,
            decider,
            edge.clone(),
        ))
        .max_decoding_message_size(config.max_message_bytes),
        edge.clone(),
    );
    let admin_service = api::RefuseMalformed::new(
        api::GatewayAdminServiceServer::new(
            api::AdminService::new(guarded.admin(), admin_edge.clone())
                .with_explainer(config, decision.clone()),
        )
        .max_decoding_message_size(config.max_message_bytes),
        admin_edge.clone(),
    );
    // The same services over HTTP/JSON, each call through its service's edge.
    let http_json = api::http::HttpJson::new(
        tonic::service::Routes::new(registry_service.clone()).add_service(admin_service.clone()),
        vec![
            (service_name(&registry_service), edge),
            (service_name(&admin_service), admin_edge),
        ],
        config.max_message_bytes,
    );
    (registry_service, admin_service, http_json)
}

/// Keeps per-registry health (`registry.<key>`: NOT_SERVING while its breaker is open) and the
/// cache-size and breaker-state gauges up to date, every second; the gateway's own readiness
/// does not depend on them. Readiness (`""` and the gateway's service) follows the audit log:
/// NOT_SERVING while it cannot write, SERVING again once it can.
async fn report_registries(
    readiness: Readiness,
    (guards, owner_facts): (PerRegistry<Arc<dyn GuardAdmin>>, Arc<OwnerFactsCache>),
    audit: Option<AuditLog>,
) {
    let health = &readiness.health;
    // Readiness follows the audit log's probe within its interval.
    let every = audit.as_ref().map_or(Duration::from_secs(1), |a| {
        a.probe_interval().min(Duration::from_secs(1))
    });
    let mut tick = tokio::time::interval(every);
    let mut ready = true;
    loop {
        tick.tick().await;
        let writable = audit.as_ref().is_none_or(AuditLog::writable);
        crate::metrics::audit_writable(writable);
        if writable != ready {
            ready = writable;
            readiness.set(ready).await;
        }
        let (persons, bytes) = owner_facts.size();
        crate::metrics::owner_facts_size(persons, bytes);
        for (registry, guard) in guards.iter() {
            let status = guard.status();
            let key = registry.key();
            crate::metrics::cache_size(key, status.cache_entries, status.cache_bytes);
            crate::metrics::breaker_state(
                key,
                match status.breaker {
                    BreakerState::Closed => 0,
                    BreakerState::HalfOpen => 1,
                    BreakerState::Open => 2,
                },
            );
            let serving = match status.breaker {
                BreakerState::Open => ServingStatus::NotServing,
                _ => ServingStatus::Serving,
            };
            health
                .set_service_status(format!("registry.{key}"), serving)
                .await;
        }
    }
}

/// The gateway's readiness, told alike to gRPC health (`""` and the gateway's service) and
/// to the admin port's `/readyz`.
#[derive(Clone)]
struct Readiness {
    health: HealthReporter,
    ready: Arc<watch::Sender<bool>>,
}

impl Readiness {
    async fn set(&self, ready: bool) {
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.health.set_service_status("", status).await;
        self.health.set_service_status(SERVICE, status).await;
        self.ready.send_replace(ready);
    }
}

impl Reloader {
    /// The configuration in force.
    pub fn current(&self) -> Config {
        self.inner
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Applies `new`: access rights, decision rules, registry endpoints and code tables, and
    /// every resilience setting but the sizes. Calls in flight finish with what they started
    /// with. A configuration that fails validation changes nothing. Returns the changed keys
    /// that only a restart applies (they keep their old values).
    pub fn reload(&self, mut new: Config) -> Result<Vec<&'static str>, BoxError> {
        new.validate()?;
        let state = &self.inner;
        let mut current = state.current.lock().unwrap_or_else(|p| p.into_inner());
        // Key files are read again: a rotated key is used from here on.
        let adapters = adapters(&current, &new, state.embedded.as_ref())?;
        let old_policies = current.resilience.policies()?;
        let new_policies = new.resilience.policies()?;
        state
            .guarded
            .reconfigure(&adapters, &new_policies, new.shep.retry_after);
        state.decision.store(Arc::new(new.decision.clone()));
        state.access.store(Arc::new(Access::new(
            new.access.clone(),
            new.consent.clone(),
        )));
        let restart = keep_running(&current, &mut new, &old_policies, &new_policies);
        *current = new;
        Ok(restart)
    }
}

/// Signing and verification: the demo keys with the embedded mocks, else `[shep.signing]`
/// (its key files read now).
/// The embedded mocks as the registries see them.
struct Embedded {
    endpoints: Endpoints,
    security: Security,
}

/// The registries' addresses: the embedded mocks', else those configured (a reload cannot
/// switch between the two: it keeps the running ones).
fn endpoints(running: &Config, new: &Config, embedded: Option<&Embedded>) -> Endpoints {
    match (embedded, &new.registries, &running.registries) {
        (Some(embedded), _, _) => embedded.endpoints.clone(),
        (None, Some(configured), _) | (None, None, Some(configured)) => configured.clone(),
        (None, None, None) => unreachable!("validated: configured registries or the mocks"),
    }
}

fn security(config: &Config, embedded: Option<&Embedded>) -> Result<Security, BoxError> {
    match embedded {
        Some(embedded) => Ok(embedded.security.clone()),
        None => Security::from_config(&config.shep),
    }
}

/// The registries' adapters for `new` (a gateway running `running`): endpoints, code tables,
/// signing keys (read now).
fn adapters(
    running: &Config,
    new: &Config,
    embedded: Option<&Embedded>,
) -> Result<registry::Registries, BoxError> {
    registry::over_shep(
        &endpoints(running, new, embedded),
        Arc::new(new.shep.clone()),
        Arc::new(new.codes.clone()),
        &security(new, embedded)?,
    )
}

/// Puts back into `new` the keys read once at start (a restart applies them), and names
/// those that differed.
fn keep_running(
    running: &Config,
    new: &mut Config,
    old_policies: &PerRegistry<Policy>,
    new_policies: &PerRegistry<Policy>,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! keep {
        ($($key:ident),*) => {$(
            if new.$key != running.$key {
                changed.push(stringify!($key));
                new.$key = running.$key.clone();
            }
        )*};
    }
    keep!(
        listen,
        tracing,
        log,
        metrics_listen,
        max_in_flight,
        max_in_flight_per_caller,
        connections,
        max_message_bytes,
        tls,
        allow_insecure_plaintext,
        audit,
        mocks
    );
    if new.registries.is_some() != running.registries.is_some() {
        changed.push("registries (embedded mocks <-> configured)");
        new.registries = running.registries.clone();
    }
    // The cache and the bulkhead keep the sizes they were built with.
    let resized = |size: fn(&Policy) -> u64| {
        old_policies
            .values()
            .zip(new_policies.values())
            .any(|(a, b)| size(a) != size(b))
    };
    if resized(|p| p.cache_max_entries) {
        changed.push("resilience.*.cache_max_entries");
    }
    if resized(|p| p.cache_max_bytes) {
        changed.push("resilience.*.cache_max_bytes");
    }
    if resized(|p| u64::from(p.max_concurrent)) {
        changed.push("resilience.*.max_concurrent");
    }
    if new.resilience.owner_facts != running.resilience.owner_facts {
        changed.push("resilience.owner_facts.max_persons");
        new.resilience.owner_facts = running.resilience.owner_facts.clone();
    }
    changed
}

/// The gRPC name of a service (`registry_gateway.v1.RegistryGateway`).
fn service_name<S: tonic::server::NamedService>(_: &S) -> String {
    S::NAME.to_owned()
}
