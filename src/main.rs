//! `registry-gateway`: parse the command line, load the configuration, start logging, then
//! hand over to [`registry_gateway::run`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use registry_gateway::{audit, telemetry, Config};

/// gRPC gateway in front of Kazakhstan's state registries, with the CheckOwner decision of
/// joint order 801/500. With no arguments: serves 127.0.0.1:50051 on embedded mock registries
/// with the demo fixture.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Configuration file (TOML). Environment variables REGGW_* override it.
    #[arg(long, short, env = "REGGW_CONFIG")]
    config: Option<PathBuf>,
    /// Serve the embedded mock registries from this fixture file instead of the demo one.
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Listen address (overrides the configuration).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check an audit log's hash chain; names the first broken record. Given the live file,
    /// the rotated files beside it are checked first, in order.
    VerifyAudit {
        /// The live audit file, or several files in chain order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut cli = Cli::parse();
    if let Some(Command::VerifyAudit { files }) = cli.command.take() {
        return verify_audit(files);
    }
    telemetry::init(cli.log_json);
    match serve(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("registry-gateway: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> Result<(), registry_gateway::BoxError> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(listen) = cli.listen {
        config.listen = listen;
    }
    if cli.fixture.is_some() {
        config.mocks.fixture = cli.fixture;
        config.validate()?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let mode = match (&config.registries, &config.mocks.fixture) {
        (Some(_), _) => "configured registries".to_owned(),
        (None, None) => "embedded mock registries, demo fixture".to_owned(),
        (None, Some(f)) => format!("embedded mock registries, fixture {}", f.display()),
    };
    eprintln!(
        "registry-gateway: serving registry_gateway.v1.RegistryGateway on {} ({mode}); try: grpcurl -plaintext {} list",
        listener.local_addr()?,
        listener.local_addr()?
    );
    registry_gateway::run(listener, config, shutdown_signal()).await
}

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

fn verify_audit(files: Vec<PathBuf>) -> std::process::ExitCode {
    let chain = match files.as_slice() {
        [live] => match audit::chain_files(live) {
            Ok(chain) => chain,
            Err(e) => {
                eprintln!("verify-audit: cannot list {}: {e}", live.display());
                return std::process::ExitCode::from(2);
            }
        },
        _ => files,
    };
    match audit::verify(&chain) {
        Ok(report) => {
            println!(
                "ok: {} records in {} file(s); last hash {}",
                report.records, report.files, report.last_hash
            );
            std::process::ExitCode::SUCCESS
        }
        Err(broken) => {
            println!("BROKEN: {broken}");
            std::process::ExitCode::FAILURE
        }
    }
}
