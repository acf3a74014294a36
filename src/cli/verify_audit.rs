//! `registry-gateway verify-audit`: an audit log's hash chain (and signed checkpoints), in
//! files or in PostgreSQL.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::audit;

/// `verify-audit`: the local files, or the PostgreSQL store when `target` is given.
pub(super) async fn run(
    files: Vec<PathBuf>,
    target: Option<audit::postgres::Target<'_>>,
    replica: Option<&str>,
    public_keys: &[PathBuf],
) -> ExitCode {
    let keys = match load_keys(public_keys) {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("verify-audit: {e}");
            return ExitCode::from(2);
        }
    };
    match target {
        Some(target) => verify_postgres(target, replica, &keys).await,
        None => verify_files(files, &keys),
    }
}

fn load_keys(paths: &[PathBuf]) -> Result<Vec<audit::PublicKey>, String> {
    paths.iter().map(|p| audit::PublicKey::load(p)).collect()
}

fn verify_files(files: Vec<PathBuf>, keys: &[audit::PublicKey]) -> ExitCode {
    let chain = match files.as_slice() {
        [live] => match audit::chain_files(live) {
            Ok(chain) => chain,
            Err(e) => {
                eprintln!("verify-audit: cannot list {}: {e}", live.display());
                return ExitCode::from(2);
            }
        },
        _ => files,
    };
    match audit::verify_signed(&chain, keys) {
        Ok(report) => {
            println!(
                "ok: {} records in {} file(s); last hash {}{}",
                report.records,
                report.files,
                report.last_hash,
                checkpoints(&report)
            );
            ExitCode::SUCCESS
        }
        Err(broken) => {
            println!("BROKEN: {broken}");
            ExitCode::FAILURE
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

async fn verify_postgres(
    target: audit::postgres::Target<'_>,
    replica: Option<&str>,
    keys: &[audit::PublicKey],
) -> ExitCode {
    let unreadable = |e: String| {
        eprintln!("verify-audit: {e}");
        ExitCode::from(2)
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
        match audit::postgres::verify_replica(&client, replica, keys).await {
            Ok(report) => println!(
                "ok: replica {replica}: {} records; last hash {}{}",
                report.records,
                report.last_hash,
                checkpoints(&report)
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
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
