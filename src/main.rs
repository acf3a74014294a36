//! `registry-gateway`: the command line of [`registry_gateway::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    registry_gateway::cli::run(registry_gateway::cli::Cli::parse()).await
}
