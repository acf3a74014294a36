//! # registry-gateway
//!
//! One gRPC contract (`registry_gateway.v1.RegistryGateway`, in `proto/`) in front of five
//! state registries of Kazakhstan, and the `CheckOwner` decision that IIS TsON calls under
//! joint order MVD 801 / MCRIAP 500: does a residence registration go to the operational hall
//! (the dwelling's owner is a minor or incapacitated), online, or is it refused here?
//!
//! How a request flows:
//!
//! ```text
//! tonic server ── api (validate, convert pb <-> domain, one span per RPC)
//!                  ├─ look-ups ──────────────┐
//!                  └─ decision::Decider ─────┤ parallel fan-out, rules::decide (pure)
//!                                            ▼
//!                  registry::{GbdFl, Zags, SocialSecurity, Nobd, Epvo}   one trait each
//!                                            ▼
//!                  registry::shep::ShepClient   SOAP 1.1 SendMessage over HTTP
//!                                            ▼
//!                  the SHEP bus, or the mock registries of the `registry-mocks` crate
//! ```
//!
//! Modules: [`api`] the gRPC edge; [`decision`] CheckOwner; [`registry`] adapters and the SHEP
//! transport; [`iin`] the FLK of an IIN/BIN; [`config`] typed configuration; [`error`] errors
//! and their mapping to `tonic::Status`; [`telemetry`] logging.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub mod access;
pub mod api;
pub mod audit;
pub mod config;
pub mod decision;
pub mod error;
pub mod iin;
pub mod registry;
pub mod resilience;
pub mod telemetry;

pub use config::Config;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves the gateway on `listener` until `shutdown` completes, then drains and returns.
///
/// Without `[registries]` in `config`, the embedded mock registries are started on loopback
/// (ephemeral ports) with the configured or demo fixture, and stopped on return.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    let (endpoints, mocks) = match &config.registries {
        Some(endpoints) => (endpoints.clone(), None),
        None => {
            let fixture = match &config.mocks.fixture {
                Some(path) => registry_mocks::Fixture::load(path)?,
                None => registry_mocks::Fixture::demo(),
            };
            let mocks = registry_mocks::MockRegistries::spawn(Arc::new(fixture)).await?;
            let endpoints =
                config::RegistryEndpoints::local(|r| mocks.get(mock_registry(r)).endpoint());
            tracing::info!(
                fixture = %config.mocks.fixture.as_ref().map_or("demo".into(), |p| p.display().to_string()),
                "embedded mock registries started on loopback"
            );
            (endpoints, Some(mocks))
        }
    };
    let registries = registry::over_shep(
        &endpoints,
        Arc::new(config.shep.clone()),
        Arc::new(config.codes.clone()),
    )?;
    let mut policies = Vec::new();
    for r in registry::Registry::ALL {
        policies.push(config.resilience.policy(r)?);
    }
    let (registries, guards) = resilience::guard(
        registries,
        |r| policies[r as usize].clone(),
        config.shep.retry_after,
    );
    let audit = match &config.audit {
        Some(audit) => Some(audit::AuditLog::open(audit).await?),
        None => {
            tracing::warn!("audit log disabled: configure [audit] for any real deployment");
            None
        }
    };
    let edge = api::Edge {
        access: Arc::new(access::Access::new(config.access.clone())),
        audit: audit.clone(),
    };
    let decider = decision::Decider::new(registries.clone(), config.decision);
    let gateway =
        api::RegistryGatewayServer::new(api::Gateway::new(registries, decider, edge.clone()))
            .max_decoding_message_size(config.max_message_bytes);
    let admin = api::GatewayAdminServer::new(api::Admin::new(guards, edge))
        .max_decoding_message_size(config.max_message_bytes);

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<api::RegistryGatewayServer<api::Gateway>>()
        .await;
    // Both reflection versions advertise every service, themselves included (grpcurl up to
    // 1.8.7 speaks v1alpha, 1.8.8 and later v1), and know google.rpc's error details so that
    // grpcurl can print them.
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

    tracing::info!(addr = %listener.local_addr()?, "registry gateway serving");
    // Server-wide shedding: past `max_in_flight` RPCs, refuse at once (RESOURCE_EXHAUSTED)
    // rather than queue without bound.
    let shed = tower::ServiceBuilder::new()
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            config.max_in_flight,
        ))
        .into_inner();
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        server = server.tls_config(tls_config(tls)?)?;
    }
    let served = server
        .layer(shed)
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(gateway)
        .add_service(admin)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await;
    if let Some(audit) = audit {
        audit.close().await?;
    }
    if let Some(mocks) = mocks {
        mocks.shutdown().await;
    }
    served?;
    Ok(())
}

/// Mutual TLS: the server's identity, and client certificates required against the CA.
fn tls_config(tls: &config::TlsConfig) -> Result<tonic::transport::ServerTlsConfig, BoxError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("tls: cannot read {}: {e}", path.display()))
    };
    Ok(tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            read(&tls.cert)?,
            read(&tls.key)?,
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(read(
            &tls.client_ca,
        )?)))
}

/// The mocks crate's name for a registry (the two enums share their keys).
pub fn mock_registry(r: registry::Registry) -> registry_mocks::Registry {
    r.key()
        .parse()
        .expect("registry keys are shared with registry-mocks")
}
