//! `registry-gateway explain` and `registry-gateway purge-evidence` (see
//! [`crate::explain`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{load, Cli, Command};
use crate::explain::{self, Explainer, StoreArgs};
use crate::{BoxError, Config};

/// `explain` or `purge-evidence`, as `command` says.
pub(super) async fn run(cli: &Cli, command: Command) -> ExitCode {
    match command {
        Command::Explain {
            decision_id,
            store,
            evidence_keys,
            trust_store,
        } => {
            explain(
                load(cli),
                &decision_id,
                store.args(),
                &evidence_keys,
                trust_store,
            )
            .await
        }
        Command::PurgeEvidence { store, retention } => {
            purge(load(cli), store.args(), retention).await
        }
        _ => unreachable!("only the evidence commands"),
    }
}

async fn explain(
    config: Result<Config, BoxError>,
    id: &str,
    store: StoreArgs,
    keys: &[PathBuf],
    trust_store: Option<PathBuf>,
) -> ExitCode {
    let explained = async {
        let config = config.map_err(|e| e.to_string())?;
        let explainer = Explainer::from_config(&config, keys, trust_store.as_deref())?;
        let client = explain::connect(&config, &store).await?;
        explainer.explain(&client, id).await
    };
    match explained.await {
        Ok(e) => {
            print!("{}", e.text);
            let altered = e.text.contains("INVALID") || e.text.contains("cannot be opened");
            if e.same_outcome() && e.same_notes && !altered {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("explain: {e}");
            ExitCode::from(2)
        }
    }
}

async fn purge(
    config: Result<Config, BoxError>,
    store: StoreArgs,
    retention: Option<Duration>,
) -> ExitCode {
    let purged = async {
        let config = config.map_err(|e| e.to_string())?;
        let retention = retention
            .or_else(|| {
                config
                    .audit
                    .as_ref()
                    .and_then(|a| a.evidence.as_ref())
                    .map(|e| e.retention)
            })
            .ok_or("no --retention and no [audit.evidence] retention")?;
        let client = explain::connect(&config, &store).await?;
        explain::purge(&client, retention).await
    };
    match purged.await {
        Ok((n, before)) => {
            println!("ok: {n} evidence blob(s) purged (first stored before {before})");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("purge-evidence: {e}");
            ExitCode::from(2)
        }
    }
}
