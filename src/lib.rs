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
//! tonic server ── api (validate, convert pb <-> domain, one span per RPC; HTTP/JSON transcoded)
//!                  ├─ look-ups: GatewayService::look_up::<T> ─┐
//!                  └─ decision::Decider ──────────────────────┤ parallel fan-out, rules (pure)
//!                                                             ▼
//!                  registry::Registries: a Lookup<T> per registry, found by answer type T
//!                  resilience::Guarded<T>   cache, single flight, breaker, bulkhead, retries
//!                                                             ▼
//!                  registry::ShepLookup<T> over registry::shep::ShepClient: SOAP 1.1
//!                  SendMessage over HTTP(S), signed and verified (registry::signing, shep-wss)
//!                                                             ▼
//!                  the SHEP bus, or the mock registries of the `registry-mocks` crate
//! ```
//!
//! Modules: [`cli`] the command line (`src/main.rs` only calls [`cli::run`]) and its tools;
//! [`server`] assembles and runs it all (health, reload, drain); [`listener`] the
//! accept loop, TLS and what one connection may hold; [`api`] the gRPC edge (one
//! [`api::CallPolicy`] for caller, rights, deadline, admission, span and audit of every call) and
//! the HTTP/JSON routes; [`rpc`] every RPC by name; [`decision`] CheckOwner and
//! CheckDwelling, and the order's wording per step; [`resilience`] the per-registry guard;
//! [`registry`] answer types, the generic look-up, the SHEP adapter and transport; [`access`]
//! client systems and their rights; [`consent`] consent tokens (who needs one, their audit
//! reference); [`audit`] the hash-chained audit log; [`clock`] Kazakhstan's time zone; [`iin`]
//! the FLK of an IIN/BIN; [`explain`] a past decision from the audit store and its evidence; [`embedded`] the embedded mock registries (cargo feature
//! `embedded-mocks`); [`config`] gathers every module's settings and [`validate`] is the one
//! shape of their checks; [`error`] errors and their one mapping to `tonic::Status`;
//! [`telemetry`] and [`metrics`] logs, traces and Prometheus; [`i18n`] the texts of answers in
//! Kazakh, Russian and English (Project Fluent). See docs/architecture.md.

use std::future::Future;
use tokio::net::TcpListener;

pub mod access;
pub mod api;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod config_doc;
pub mod consent;
pub mod decision;
pub mod embedded;
pub mod error;
pub mod explain;
pub mod hex;
pub mod i18n;
pub mod iin;
pub mod listener;
pub mod metrics;
pub mod registry;
pub mod resilience;
pub mod rpc;
pub mod server;
pub mod status;
pub mod telemetry;
pub mod validate;

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
