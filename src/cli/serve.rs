//! `registry-gateway` (no tool named): start logging and tracing, serve until SIGTERM or
//! Ctrl-C, reload the configuration on SIGHUP.

use std::process::ExitCode;

use super::{load, Cli};
use crate::server::{Gateway, Reloader};
use crate::{telemetry, Config};

/// Loads the configuration `cli` names and serves it.
pub(super) async fn run(cli: Cli) -> ExitCode {
    // Logging and tracing start once the configuration is known ([tracing]).
    let config = match load(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("registry-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log = telemetry::LogConfig {
        json: config.log.json || cli.log_json,
        ..config.log.clone()
    };
    let otlp = match telemetry::OtlpSettings::resolve(&config.tracing) {
        Ok(otlp) => otlp,
        Err(e) => {
            eprintln!("registry-gateway: tracing: {e}");
            return ExitCode::FAILURE;
        }
    };
    let telemetry = telemetry::init(&log, otlp);
    let served = serve(cli, config).await;
    if let Err(e) = &served {
        tracing::error!("{e}");
        eprintln!("registry-gateway: {e}");
    }
    // Export the spans still buffered; blocking, so off the async workers.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

async fn serve(cli: Cli, config: Config) -> Result<(), crate::BoxError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let mode = match (&config.registries, &config.mocks.fixture) {
        (Some(_), _) => "configured registries".to_owned(),
        (None, None) => "embedded mock registries, demo fixture".to_owned(),
        (None, Some(f)) => format!("embedded mock registries, fixture {}", f.display()),
    };
    let gateway = Gateway::start(config).await?;
    #[cfg(unix)]
    tokio::spawn(reload_on_sighup(cli, gateway.reloader()));
    let addr = listener.local_addr()?;
    eprintln!(
        "registry-gateway: serving registry_gateway.v1.RegistryGatewayService on {addr} ({mode}), gRPC and HTTP/JSON; try: grpcurl -plaintext {addr} list, or curl http://{addr}/v1/openapi.json"
    );
    gateway.serve(listener, shutdown_signal()).await
}

/// SIGHUP: read the configuration again and apply it; a bad one is refused, the old stays.
#[cfg(unix)]
async fn reload_on_sighup(cli: Cli, reloader: Reloader) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: configuration reload disabled");
        return;
    };
    while hangups.recv().await.is_some() {
        match load(&cli).and_then(|config| reloader.reload(config)) {
            Ok(restart) if restart.is_empty() => tracing::info!("configuration reloaded"),
            Ok(restart) => tracing::warn!(
                needs_restart = %restart.join(", "),
                "configuration reloaded; changed keys that need a restart keep their old values"
            ),
            Err(e) => {
                tracing::error!(error = %e, "configuration reload refused; the old one stays")
            }
        }
    }
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
