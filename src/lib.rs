//! # registry-gateway
//!
//! One gRPC contract (`registry_gateway.v1.RegistryGatewayService`, in `proto/`) in front of five
//! state registries of Kazakhstan, and the `CheckOwner` decision that IIS TsON calls under
//! joint order MVD 801 / MCRIAP 500: does a residence registration go to the operational hall
//! (the dwelling's owner is a minor or incapacitated), online, or is it refused here? —
//! and `CheckDwelling`, the same for every owner of a co-owned dwelling at once.
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
//!                  registry::shep::ShepClient   SOAP 1.1 SendMessage over HTTP(S),
//!                                               signed and verified (registry::signing, shep-wss)
//!                                            ▼
//!                  the SHEP bus, or the mock registries of the `registry-mocks` crate
//! ```
//!
//! Modules: [`server`] assembles and runs it all (health, reload, drain); [`listener`] the
//! accept loop and what one connection may hold (connections, streams, idle and arrival
//! timeouts); [`api`] the gRPC edge (one [`api::Edge`] for caller, rights, deadline,
//! admission, span and audit of every call);
//! [`decision`] CheckOwner and CheckDwelling, and the order's wording per step; [`resilience`] the per-registry guard (cache, single flight,
//! retries, breaker, bulkhead); [`registry`] adapters and the SHEP transport; [`access`]
//! client systems and their rights; [`consent`] consent tokens (who needs one, their audit
//! reference); [`audit`] the hash-chained audit log; [`iin`] the FLK of
//! an IIN/BIN; [`config`] typed configuration; [`error`] errors and their one mapping to
//! `tonic::Status`; [`telemetry`] logs and traces.

use std::future::Future;
use tokio::net::TcpListener;

pub mod access;
pub mod api;
pub mod audit;
pub mod config;
pub mod consent;
pub mod decision;
pub mod error;
pub mod iin;
pub mod listener;
pub mod metrics;
pub mod registry;
pub mod resilience;
pub mod server;
pub mod telemetry;

pub use config::Config;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves the gateway on `listener` until `shutdown` completes, then drains and returns.
///
/// Without `[registries]` in `config`, the embedded mock registries are started on loopback
/// (ephemeral ports) with the configured or demo fixture, and stopped on return. For reload,
/// use [`server::Gateway`] directly.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    server::Gateway::start(config)
        .await?
        .serve(listener, shutdown)
        .await
}

/// The mocks crate's name for a registry (the two enums share their keys).
pub fn mock_registry(r: registry::Registry) -> registry_mocks::Registry {
    r.key()
        .parse()
        .expect("registry keys are shared with registry-mocks")
}
