//! `registry-gateway`: parse the command line, load the configuration, start logging, then
//! hand over to [`registry_gateway::server::Gateway`]; SIGHUP reloads the configuration,
//! SIGTERM or Ctrl-C drains and exits. `--check-config FILE` only loads and validates.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod evidence_cli;
use registry_gateway::server::{Gateway, Reloader};
use registry_gateway::{audit, telemetry, Config};

/// gRPC gateway in front of Kazakhstan's state registries, with the CheckOwner decision of
/// joint order 801/500. With no arguments: serves 127.0.0.1:50051 on embedded mock registries
/// with the demo fixture (a build with the default feature `embedded-mocks`; a production build
/// without it needs `[registries]` configured).
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
    /// Load and validate this configuration file (with the REGGW_* variables, as the gateway
    /// would), print what it holds, and exit: 0 when valid, 1 naming the key and the rule. The
    /// files it names (keys, certificates, trust stores) are not opened: they are read at start.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    check_config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
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
struct StoreArgs {
    /// The database URL, without the password (a role allowed to read the store, or purge).
    #[arg(long)]
    postgres: Option<String>,
    /// A file holding the password.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Connect over TLS, verifying the server against this CA (PEM).
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

impl StoreArgs {
    fn args(self) -> registry_gateway::explain::StoreArgs {
        registry_gateway::explain::StoreArgs {
            url: self.postgres,
            password_file: self.password_file,
            ca_file: self.ca_file,
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut cli = Cli::parse();
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
            return verify_audit_command(files, target, replica.as_deref(), trust).await;
        }
        Some(Command::ConfigDefaults) => {
            print!("{}", registry_gateway::config_doc::render_all());
            return std::process::ExitCode::SUCCESS;
        }
        Some(Command::Migrate {
            url,
            password_file,
            ca_file,
        }) => {
            return migrate(&cli, url, password_file, ca_file).await;
        }
        Some(command @ (Command::Explain { .. } | Command::PurgeEvidence { .. })) => {
            return evidence_command(&cli, command).await;
        }
        None => {}
    }
    if let Some(file) = cli.check_config.take() {
        cli.config = Some(file);
        return check_config(&cli);
    }
    // Logging and tracing start once the configuration is known ([tracing]).
    let config = match load(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("registry-gateway: {e}");
            return std::process::ExitCode::FAILURE;
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
            return std::process::ExitCode::FAILURE;
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
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::FAILURE,
    }
}

/// `verify-audit`: the local files, or the PostgreSQL store when `target` is given.
async fn verify_audit_command(
    files: Vec<PathBuf>,
    target: Option<audit::postgres::Target<'_>>,
    replica: Option<&str>,
    (public_keys, tsa_certs): (&[PathBuf], &[PathBuf]),
) -> std::process::ExitCode {
    let trust = match load_keys(public_keys)
        .and_then(|keys| Ok((keys, audit::timestamp::load_certs(tsa_certs)?)))
    {
        Ok(trust) => trust,
        Err(e) => {
            eprintln!("verify-audit: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match target {
        Some(target) => verify_postgres(target, replica, &trust).await,
        None => verify_audit(files, &trust),
    }
}

/// The public keys checkpoints are verified with, and the TSA certificates of their tokens.
type Trust = (Vec<audit::PublicKey>, Vec<audit::TsaCert>);

async fn serve(cli: Cli, config: Config) -> Result<(), registry_gateway::BoxError> {
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

/// The configuration file and `REGGW_*` variables, with the command line on top.
fn load(cli: &Cli) -> Result<Config, registry_gateway::BoxError> {
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

/// `explain` and `purge-evidence` (see `evidence_cli`).
async fn evidence_command(cli: &Cli, command: Command) -> std::process::ExitCode {
    match command {
        Command::Explain {
            decision_id,
            store,
            evidence_keys,
            trust_store,
        } => {
            evidence_cli::explain(
                load(cli),
                &decision_id,
                store.args(),
                &evidence_keys,
                trust_store,
            )
            .await
        }
        Command::PurgeEvidence { store, retention } => {
            evidence_cli::purge(load(cli), store.args(), retention).await
        }
        _ => unreachable!("only the evidence commands"),
    }
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

/// `--check-config`: the configuration `cli` names, loaded and validated as at start.
fn check_config(cli: &Cli) -> std::process::ExitCode {
    let file = cli.config.as_deref().unwrap_or(std::path::Path::new("-"));
    match load(cli) {
        Ok(config) => {
            let mut report = format!("{}: valid\n", file.display());
            for line in describe(&config) {
                report.push_str(&format!("  {line}\n"));
            }
            report.push_str(
                "checked: TOML syntax, unknown keys, types and the rules of every value; \
                 not checked: the files it names (read when the gateway starts)\n",
            );
            // A closed pipe (`| head`) is no reason to panic: the verdict is the exit code.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), report.as_bytes());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("registry-gateway: {}: {e}", file.display());
            std::process::ExitCode::FAILURE
        }
    }
}

/// What a configuration sets up, one line a part, with no secret in it.
fn describe(config: &Config) -> Vec<String> {
    let tls = if config.tls.is_some() {
        "mutual TLS"
    } else {
        "plaintext"
    };
    let metrics = config
        .metrics_listen
        .map_or("not served".into(), |a| a.to_string());
    let access =
        config
            .access
            .as_ref()
            .map_or("none: every caller may call everything".into(), |a| {
                let names: Vec<&str> = a.clients.keys().map(String::as_str).collect();
                format!("{} client systems ({})", names.len(), names.join(", "))
            });
    let audit = config.audit.as_ref().map_or("off".into(), |a| {
        let mut audit = format!("{}, fsync {}", a.path.display(), name(a.fsync));
        if let Some(pg) = &a.postgres {
            audit.push_str(&format!(
                "; shipped to PostgreSQL as replica {}, durability {}",
                a.replica_id()
                    .unwrap_or_else(|| "$POD_NAME (unset here)".into()),
                name(pg.durability)
            ));
        }
        if a.signing.is_some() {
            audit.push_str("; checkpoints signed");
        }
        if let Some(ts) = &a.timestamp {
            let origin = reqwest::Url::parse(&ts.url).map(|u| u.origin().ascii_serialization());
            audit.push_str(&format!(
                ", time-stamped at {}",
                origin.unwrap_or_else(|_| "?".into())
            ));
        }
        audit
    });
    let registries = match (&config.registries, &config.shep.signing) {
        (None, _) => "embedded mock registries".into(),
        (Some(_), None) => "configured, requests not signed".into(),
        (Some(_), Some(s)) => format!(
            "configured, requests signed ({}), answers verified ({})",
            name(s.signer),
            name(s.verify_responses)
        ),
    };
    let env: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with(registry_gateway::config::ENV_PREFIX) && k != "REGGW_CONFIG")
        .collect();
    let mut lines = vec![
        format!("listen {} ({tls}); metrics {metrics}", config.listen),
        format!("access: {access}"),
        format!("audit: {audit}"),
        format!("registries: {registries}"),
    ];
    lines.extend(answer_signers(config));
    lines.extend([
        format!(
            "legal basis: {}",
            registry_gateway::decision::legal_basis::describe(
                &config.decision.legal_basis,
                registry_gateway::decision::today()
            )
        ),
        format!(
            "environment overrides: {}",
            if env.is_empty() {
                "none".into()
            } else {
                env.join(", ")
            }
        ),
    ]);
    lines
}

/// Who may sign each configured registry's answers, when they are verified.
fn answer_signers(config: &Config) -> Vec<String> {
    use registry_gateway::registry::signing::VerifyResponses;
    let verified = config
        .shep
        .signing
        .as_ref()
        .is_some_and(|s| s.verify_responses != VerifyResponses::Off);
    let Some(endpoints) = config.registries.as_ref().filter(|_| verified) else {
        return Vec::new();
    };
    endpoints
        .iter()
        .map(|(registry, e)| {
            let pins: Vec<String> = e.answer_signers.iter().map(ToString::to_string).collect();
            format!(
                "  {} answers signed by: {}; messageId echoed in {}",
                registry.key(),
                pins.join(" or "),
                e.message_id_echo
                    .element()
                    .unwrap_or("nothing (not checked)")
            )
        })
        .collect()
}

/// An enum value as the configuration spells it.
fn name(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn load_keys(paths: &[PathBuf]) -> Result<Vec<audit::PublicKey>, String> {
    paths.iter().map(|p| audit::PublicKey::load(p)).collect()
}

fn verify_audit(files: Vec<PathBuf>, (keys, tsa): &Trust) -> std::process::ExitCode {
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
    match audit::verify_stamped(&chain, keys, tsa) {
        Ok(report) => {
            println!(
                "ok: {} records in {} file(s); last hash {}{}{}",
                report.records,
                report.files,
                report.last_hash,
                checkpoints(&report),
                timestamps(&report)
            );
            std::process::ExitCode::SUCCESS
        }
        Err(broken) => {
            println!("BROKEN: {broken}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What a report says about checkpoints.
fn checkpoints(report: &audit::VerifyReport) -> String {
    let signed = if report.signed {
        "signatures verified"
    } else {
        "signatures not checked (no --public-key)"
    };
    match report.last_checkpoint {
        Some(last) => format!(
            "; {} checkpoint(s), the last at seq {last}, {signed}",
            report.checkpoints
        ),
        None => "; no checkpoint".into(),
    }
}

/// What a report says about time-stamp tokens: the times they prove, with --tsa-cert.
fn timestamps(report: &audit::VerifyReport) -> String {
    let n = report.timestamped;
    match (&report.first_timestamp, &report.last_timestamp) {
        _ if n == 0 && report.timestamps_checked => "; no time-stamped checkpoint".into(),
        _ if n == 0 => String::new(),
        (Some((first, t1)), Some((last, t2))) => {
            let mut text = format!(
                "; {n} checkpoint(s) time-stamped, tokens verified (TSA {}): records up to seq \
                 {first} existed at {}",
                t1.tsa, t1.time
            );
            if last != first {
                text.push_str(&format!(", up to seq {last} at {}", t2.time));
                if t2.tsa != t1.tsa {
                    text.push_str(&format!(" (TSA {})", t2.tsa));
                }
            }
            if *last < report.records {
                text.push_str(&format!(
                    "; records {}..={} have no proven time yet",
                    last + 1,
                    report.records
                ));
            }
            text
        }
        _ => format!("; {n} checkpoint(s) time-stamped, tokens not checked (no --tsa-cert)"),
    }
}

async fn verify_postgres(
    target: audit::postgres::Target<'_>,
    replica: Option<&str>,
    (keys, tsa): &Trust,
) -> std::process::ExitCode {
    let unreadable = |e: String| {
        eprintln!("verify-audit: {e}");
        std::process::ExitCode::from(2)
    };
    let client = match audit::postgres::connect(target, std::time::Duration::from_secs(10)).await {
        Ok(client) => client,
        Err(e) => return unreadable(e),
    };
    let replicas = match replica {
        Some(r) => vec![r.to_owned()],
        None => match audit::postgres::replicas(&client).await {
            Ok(all) => all,
            Err(e) => return unreadable(e),
        },
    };
    let mut intact = true;
    for replica in &replicas {
        match audit::postgres::verify_replica(&client, replica, keys, tsa).await {
            Ok(report) => println!(
                "ok: replica {replica}: {} records; last hash {}{}{}",
                report.records,
                report.last_hash,
                checkpoints(&report),
                timestamps(&report)
            ),
            Err(broken) => {
                println!("BROKEN: {broken}");
                intact = false;
            }
        }
    }
    if replicas.is_empty() {
        println!("ok: no replica has records");
    }
    if intact {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// `migrate`: the URL given, else `[audit.postgres]` of the configuration.
async fn migrate(
    cli: &Cli,
    url: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
) -> std::process::ExitCode {
    let target = match url {
        Some(url) => Ok((url, password_file, ca_file)),
        None => load(cli).and_then(|config| {
            config
                .audit
                .and_then(|a| a.postgres)
                .map(|pg| {
                    (
                        pg.url,
                        password_file.or(pg.password_file),
                        ca_file.or(pg.ca_file),
                    )
                })
                .ok_or_else(|| "no --url and no [audit.postgres] in the configuration".into())
        }),
    };
    let (url, password_file, ca_file) = match target {
        Ok(target) => target,
        Err(e) => {
            eprintln!("migrate: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let migrated = async {
        let target = audit::postgres::Target {
            url: &url,
            password_file: password_file.as_deref(),
            ca_file: ca_file.as_deref(),
        };
        let mut client =
            audit::postgres::connect(target, std::time::Duration::from_secs(10)).await?;
        audit::postgres::migrate(&mut client).await
    };
    match migrated.await {
        Ok(applied) if applied.is_empty() => {
            println!("ok: the audit schema is up to date");
            std::process::ExitCode::SUCCESS
        }
        Ok(applied) => {
            println!("ok: applied migration(s) {applied:?}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migrate: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
