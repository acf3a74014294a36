//! The command line: the gateway (`registry-gateway`, `--check-config FILE`) and its tools,
//! one file each: `verify-audit`, `migrate`, `config-defaults`, `explain` and
//! `purge-evidence`. `src/main.rs` only parses the command line and calls [`run`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{audit, BoxError, Config};

mod check_config;
mod config_defaults;
mod evidence;
mod migrate;
mod serve;
mod verify_audit;

/// gRPC gateway in front of Kazakhstan's state registries, with the CheckOwner decision of
/// joint order 801/500. With no arguments: serves 127.0.0.1:50051 on embedded mock registries
/// with the demo fixture (a build with the default feature `embedded-mocks`; a production build
/// without it needs `[registries]` configured).
#[derive(Parser)]
#[command(version)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables REGGW_* override it.
    #[arg(long, short, env = "REGGW_CONFIG")]
    pub config: Option<PathBuf>,
    /// Serve the embedded mock registries from this fixture file instead of the demo one.
    #[arg(long)]
    pub fixture: Option<PathBuf>,
    /// Listen address (overrides the configuration).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Log as JSON lines.
    #[arg(long)]
    pub log_json: bool,
    /// Load and validate this configuration file (with the REGGW_* variables, as the gateway
    /// would), print what it holds, and exit: 0 when valid, 1 naming the key and the rule. The
    /// files it names (keys, certificates, trust stores) are not opened: they are read at start.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub check_config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check an audit log's hash chain, in files or in PostgreSQL; names the first broken
    /// record. Given the live file, the rotated files beside it are checked first, in order.
    /// Exit status: 0 intact, 1 broken, 2 unreadable.
    VerifyAudit {
        /// The live audit file, or several files in chain order.
        #[arg(required_unless_present = "postgres", conflicts_with = "postgres")]
        files: Vec<PathBuf>,
        /// Check the chains in this PostgreSQL database instead (URL without the password),
        /// e.g. postgres://audit_reader@audit-db/audit.
        #[arg(long)]
        postgres: Option<String>,
        /// With --postgres: a file holding the password.
        #[arg(long, requires = "postgres")]
        password_file: Option<PathBuf>,
        /// With --postgres: connect over TLS, verifying the server against this CA (PEM).
        #[arg(long, requires = "postgres")]
        ca_file: Option<PathBuf>,
        /// With --postgres: check this replica's chain only (default: every replica's).
        #[arg(long, requires = "postgres")]
        replica: Option<String>,
        /// An Ed25519 public key (PEM) that may have signed checkpoints; repeat it for keys
        /// rotated out. With at least one, every checkpoint's signature is checked and every
        /// record must be covered by one: a chain recomputed without the key fails.
        #[arg(long = "public-key")]
        public_keys: Vec<PathBuf>,
        /// A time-stamp authority's certificate (PEM) that may have signed the checkpoints'
        /// time-stamp tokens ([audit.timestamp]); repeat it for certificates rotated out. With
        /// at least one, every token is verified and the times they prove are shown.
        #[arg(long = "tsa-cert")]
        tsa_certs: Vec<PathBuf>,
    },
    /// Print every configuration key with its default and one line of help (the reference of
    /// docs/configuration.md), then exit.
    ConfigDefaults,
    /// Create or migrate the audit schema in PostgreSQL, then exit. Uses [audit.postgres]
    /// of the configuration, or --url (a role that may create tables, not the gateway's).
    Migrate {
        /// The database URL, without the password.
        #[arg(long)]
        url: Option<String>,
        /// A file holding the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Connect over TLS, verifying the server against this CA (PEM).
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Show a decision from the audit store: its record, each registry answer it rested on
    /// (from the evidence archive, signature verified again), the facts read, and the decision
    /// taken again by the current rules. Exit status: 0 the same outcome, 1 a difference or
    /// evidence that cannot be used (purged, altered), 2 not found or the store unreadable.
    Explain {
        decision_id: String,
        #[command(flatten)]
        store: StoreArgs,
        /// An evidence key file (repeat for rotated keys); default: [audit.evidence] key_files.
        #[arg(long = "evidence-key")]
        evidence_keys: Vec<PathBuf>,
        /// The CA bundle answers are verified against; default: [shep.signing] trust_store.
        #[arg(long)]
        trust_store: Option<PathBuf>,
    },
    /// Delete the evidence blobs first stored longer ago than the retention period
    /// ([audit.evidence] retention, or --retention); the records and their chain stay.
    PurgeEvidence {
        #[command(flatten)]
        store: StoreArgs,
        /// e.g. "1825d"; default: [audit.evidence] retention.
        #[arg(long, value_parser = humantime_serde::re::humantime::parse_duration)]
        retention: Option<std::time::Duration>,
    },
}

/// The audit store for `explain` and `purge-evidence` (default: [audit.postgres]).
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The database URL, without the password (a role allowed to read the store, or purge).
    #[arg(long)]
    pub postgres: Option<String>,
    /// A file holding the password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Connect over TLS, verifying the server against this CA (PEM).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

impl StoreArgs {
    fn args(self) -> crate::explain::StoreArgs {
        crate::explain::StoreArgs {
            url: self.postgres,
            password_file: self.password_file,
            ca_file: self.ca_file,
        }
    }
}

/// Runs what `cli` asks: a tool, `--check-config`, or the gateway.
pub async fn run(mut cli: Cli) -> ExitCode {
    match cli.command.take() {
        Some(Command::VerifyAudit {
            files,
            postgres,
            password_file,
            ca_file,
            replica,
            public_keys,
            tsa_certs,
        }) => {
            let target = postgres.as_deref().map(|url| audit::postgres::Target {
                url,
                password_file: password_file.as_deref(),
                ca_file: ca_file.as_deref(),
            });
            let trust = (public_keys.as_slice(), tsa_certs.as_slice());
            return verify_audit::run(files, target, replica.as_deref(), trust).await;
        }
        Some(Command::ConfigDefaults) => return config_defaults::run(),
        Some(Command::Migrate {
            url,
            password_file,
            ca_file,
        }) => {
            return migrate::run(&cli, url, password_file, ca_file).await;
        }
        Some(command @ (Command::Explain { .. } | Command::PurgeEvidence { .. })) => {
            return evidence::run(&cli, command).await;
        }
        None => {}
    }
    if let Some(file) = cli.check_config.take() {
        cli.config = Some(file);
        return check_config::run(&cli);
    }
    serve::run(cli).await
}

/// The configuration file and `REGGW_*` variables, with the command line on top.
fn load(cli: &Cli) -> Result<Config, BoxError> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(listen) = cli.listen {
        config.listen = listen;
    }
    if let Some(fixture) = &cli.fixture {
        config.mocks.fixture = Some(fixture.clone());
    }
    config.validate()?;
    Ok(config)
}
