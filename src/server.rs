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
use crate::config::{self, Config, ConfigError, RegistryEndpoints};
use crate::decision::Decider;
use crate::listener;
use crate::registry::{self, Registry};
use crate::resilience::{BreakerState, GuardAdmin, Guarded, Policy};
use crate::BoxError;

/// The gRPC service name whose health says whether the gateway takes calls.
const SERVICE: &str = "registry_gateway.v1.RegistryGatewayService";

/// A gateway ready to serve.
pub struct Gateway {
    reloader: Reloader,
    mocks: Option<registry_mocks::MockRegistries>,
    audit: Option<AuditLog>,
    /// The admin port (`metrics_listen`), bound at start.
    admin: Option<TcpListener>,
    guards: Vec<Arc<dyn GuardAdmin>>,
    registry_service: api::Checked<api::RegistryGatewayServiceServer<api::Gateway>>,
    admin_service: api::Checked<api::GatewayAdminServiceServer<api::Admin>>,
    http_json: api::http::HttpJson,
}

/// Applies new configuration to a running gateway.
#[derive(Clone)]
pub struct Reloader {
    inner: Arc<ReloadState>,
}

struct ReloadState {
    current: Mutex<Config>,
    /// Where the embedded mocks listen, when they are used.
    mock_endpoints: Option<RegistryEndpoints>,
    guarded: Guarded,
    decision: Arc<ArcSwap<config::DecisionConfig>>,
    access: Arc<ArcSwap<Access>>,
}

fn policies(config: &Config) -> Result<Vec<Policy>, ConfigError> {
    Registry::ALL
        .iter()
        .map(|r| config.resilience.policy(*r))
        .collect()
}

impl Gateway {
    /// Builds the gateway; starts the embedded mock registries when `[registries]` is absent.
    pub async fn start(config: Config) -> Result<Gateway, BoxError> {
        config.validate()?;
        let admin = match config.metrics_listen {
            Some(addr) => {
                // Before the audit log opens: it reports what it found (a torn line cut).
                crate::metrics::install();
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|e| format!("metrics_listen: cannot listen on {addr}: {e}"))?,
                )
            }
            None => None,
        };
        let mocks = match &config.registries {
            Some(_) => None,
            None => {
                let fixture = match &config.mocks.fixture {
                    Some(path) => registry_mocks::Fixture::load(path)?,
                    None => registry_mocks::Fixture::demo(),
                };
                // Signed both ways with keys generated now (registry_mocks::signing).
                let mocks = registry_mocks::MockRegistries::spawn_signed(
                    Arc::new(fixture),
                    registry_mocks::MockSigning::demo(),
                )
                .await?;
                tracing::info!(
                    fixture = %config.mocks.fixture.as_ref().map_or("demo".into(), |p| p.display().to_string()),
                    "embedded mock registries started on loopback"
                );
                Some(mocks)
            }
        };
        let mock_endpoints = mocks
            .as_ref()
            .map(|m| RegistryEndpoints::local(|r| m.get(crate::mock_registry(r)).endpoint()));
        let endpoints = config
            .registries
            .clone()
            .or_else(|| mock_endpoints.clone())
            .expect("configured or embedded");
        let security = security(&config, mocks.is_some())?;
        let adapters = registry::over_shep(
            &endpoints,
            Arc::new(config.shep.clone()),
            Arc::new(config.codes.clone()),
            &security,
        )?;
        let policies = policies(&config)?;
        let guarded = Guarded::new(
            adapters,
            |r| policies[r as usize].clone(),
            config.shep.retry_after,
        );
        let audit = match &config.audit {
            Some(audit) => Some(AuditLog::open(audit).await?),
            None => {
                tracing::warn!("audit log disabled: configure [audit] for any real deployment");
                None
            }
        };
        let access = Arc::new(ArcSwap::from_pointee(Access::new(
            config.access.clone(),
            config.consent.clone(),
        )));
        let decision = Arc::new(ArcSwap::from_pointee(config.decision));
        let edge = api::Edge::new(access.clone(), audit.clone());
        // Operators can always look and act, whatever the load: the admin edge admits all.
        let admin_edge = edge.clone();
        let edge = edge.admitted_by(Some(Arc::new(api::Admission::new(
            config.max_in_flight,
            config.max_in_flight_per_caller,
        ))));
        let registries = guarded.registries();
        let decider = Decider::new(registries.clone(), decision.clone());
        let guards = guarded.admin();
        let registry_service = api::Checked::new(
            api::RegistryGatewayServiceServer::new(api::Gateway::new(
                registries,
                decider,
                edge.clone(),
            ))
            .max_decoding_message_size(config.max_message_bytes),
            edge.clone(),
        );
        let admin_service = api::Checked::new(
            api::GatewayAdminServiceServer::new(api::Admin::new(
                guards.clone(),
                admin_edge.clone(),
            ))
            .max_decoding_message_size(config.max_message_bytes),
            admin_edge.clone(),
        );
        let http_json = api::http::HttpJson::new(
            tonic::service::Routes::new(registry_service.clone())
                .add_service(admin_service.clone()),
            vec![
                (service_name(&registry_service), edge),
                (service_name(&admin_service), admin_edge),
            ],
            config.max_message_bytes,
        );
        Ok(Gateway {
            reloader: Reloader {
                inner: Arc::new(ReloadState {
                    current: Mutex::new(config),
                    mock_endpoints,
                    guarded,
                    decision,
                    access,
                }),
            },
            mocks,
            audit,
            admin,
            guards,
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
        let (health, health_service) = tonic_health::server::health_reporter();
        let (ready_now, ready_seen) = watch::channel(false);
        let readiness = Readiness {
            health: health.clone(),
            ready: Arc::new(ready_now),
        };
        readiness.set(true).await;
        let reporter = tokio::spawn(report_registries(
            readiness.clone(),
            self.guards.clone(),
            self.audit.clone(),
        ));
        let reporter_stop = reporter.abort_handle();
        let (metrics_stop, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        if let Some(listener) = self.admin {
            let handle = crate::metrics::install();
            tokio::spawn(crate::metrics::serve(listener, handle, ready_seen, async {
                let _ = metrics_stopped.await;
            }));
        }

        // Both reflection versions advertise every service, themselves included (grpcurl up
        // to 1.8.7 speaks v1alpha, 1.8.8 and later v1), and know google.rpc's error details
        // so that grpcurl can print them.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .include_reflection_service(false)
                .register_encoded_file_descriptor_set(api::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(
                    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                )
        };
        // Per connection: streams, keep-alive, request arrival (see `listener`). The in-flight
        // limits are applied per call, once a request has arrived and its caller may make it
        // (`api::Admission`): health and reflection are never refused.
        let limits = config.connections;
        let mut server = tonic::transport::Server::builder()
            .accept_http1(true)
            .max_concurrent_streams(limits.max_streams)
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            .layer(listener::ArrivalLayer(limits.request_arrival_timeout));
        let tls = config.tls.as_ref().map(listener::tls_config).transpose()?;

        // Drain: NOT_SERVING first, then tonic stops accepting and waits for calls in flight.
        let (draining, drain_started) = tokio::sync::oneshot::channel();
        let signal = {
            let reloader = self.reloader.clone();
            async move {
                shutdown.await;
                // Readiness no longer follows the audit log: it stays NOT_SERVING.
                reporter_stop.abort();
                let delay = reloader.current().shutdown_delay;
                tracing::info!(
                    ?delay,
                    "shutting down: NOT_SERVING, then draining calls in flight"
                );
                readiness.set(false).await;
                tokio::time::sleep(delay).await;
                let _ = draining.send(());
            }
        };
        tracing::info!(addr = %listener.local_addr()?, "registry gateway serving");
        let grpc = tonic::service::Routes::new(health_service)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?)
            .add_service(self.registry_service)
            .add_service(self.admin_service);
        let routes = tonic::service::Routes::from(
            grpc.into_axum_router()
                .merge(self.http_json.router())
                .fallback(api::http::fallback),
        );
        let server = server.add_routes(routes);
        let served: std::pin::Pin<Box<dyn Future<Output = _> + Send>> = match tls {
            Some(tls) => Box::pin(server.serve_with_incoming_shutdown(
                listener::tls_incoming(listener, limits, tls),
                signal,
            )),
            None => Box::pin(
                server.serve_with_incoming_shutdown(listener::incoming(listener, limits), signal),
            ),
        };
        let reloader = self.reloader.clone();
        let grace = async move {
            if drain_started.await.is_ok() {
                tokio::time::sleep(reloader.current().shutdown_grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let served = tokio::select! {
            served = served => served.map_err(BoxError::from),
            () = grace => {
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

/// Keeps per-registry health (`registry.<key>`: NOT_SERVING while its breaker is open) and the
/// cache-size and breaker-state gauges up to date, every second; the gateway's own readiness
/// does not depend on them. Readiness (`""` and the gateway's service) follows the audit log:
/// NOT_SERVING while it cannot write, SERVING again once it can.
async fn report_registries(
    readiness: Readiness,
    guards: Vec<Arc<dyn GuardAdmin>>,
    audit: Option<AuditLog>,
) {
    let health = &readiness.health;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ready = true;
    loop {
        tick.tick().await;
        let writable = audit.as_ref().is_none_or(AuditLog::writable);
        if writable != ready {
            ready = writable;
            readiness.set(ready).await;
        }
        for guard in &guards {
            let status = guard.status();
            let key = status.registry.key();
            crate::metrics::cache_entries(key, status.cache_entries);
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
                .set_service_status(format!("registry.{}", status.registry.key()), serving)
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
        let endpoints = match (&current.registries, &new.registries) {
            (Some(_), Some(configured)) => configured.clone(),
            _ => state
                .mock_endpoints
                .clone()
                .or_else(|| current.registries.clone())
                .expect("configured or embedded"),
        };
        // Key files are read again: a rotated key is used from here on.
        let security = security(&new, state.mock_endpoints.is_some())?;
        let adapters = registry::over_shep(
            &endpoints,
            Arc::new(new.shep.clone()),
            Arc::new(new.codes.clone()),
            &security,
        )?;
        let old_policies = policies(&current)?;
        let new_policies = policies(&new)?;
        state.guarded.reconfigure(
            adapters,
            |r| new_policies[r as usize].clone(),
            new.shep.retry_after,
        );
        state.decision.store(Arc::new(new.decision));
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
fn security(
    config: &Config,
    embedded_mocks: bool,
) -> Result<registry::signing::Security, BoxError> {
    if embedded_mocks {
        let pki = registry_mocks::demo_pki();
        Ok(registry::signing::Security::demo(
            registry::signing::DemoKeys {
                credentials: pki.gateway.credentials(),
                trust: pki.ca.trust_store(),
            },
        ))
    } else {
        registry::signing::Security::from_config(&config.shep)
    }
}

/// Puts back into `new` the keys read once at start (a restart applies them), and names
/// those that differed.
fn keep_running(
    running: &Config,
    new: &mut Config,
    old_policies: &[Policy],
    new_policies: &[Policy],
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
            .iter()
            .zip(new_policies)
            .any(|(a, b)| size(a) != size(b))
    };
    if resized(|p| p.cache_max_entries) {
        changed.push("resilience.*.cache_max_entries");
    }
    if resized(|p| u64::from(p.max_concurrent)) {
        changed.push("resilience.*.max_concurrent");
    }
    changed
}

/// The gRPC name of a service (`registry_gateway.v1.RegistryGateway`).
fn service_name<S: tonic::server::NamedService>(_: &S) -> String {
    S::NAME.to_owned()
}
