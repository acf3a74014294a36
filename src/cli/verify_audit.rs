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
    (public_keys, tsa_certs): (&[PathBuf], &[PathBuf]),
) -> ExitCode {
    let trust = match load_keys(public_keys)
        .and_then(|keys| Ok((keys, audit::timestamp::load_certs(tsa_certs)?)))
    {
        Ok(trust) => trust,
        Err(e) => {
            eprintln!("verify-audit: {e}");
            return ExitCode::from(2);
        }
    };
    match target {
        Some(target) => verify_postgres(target, replica, &trust).await,
        None => verify_files(files, &trust),
    }
}

/// The public keys checkpoints are verified with, and the TSA certificates of their tokens.
type Trust = (Vec<audit::PublicKey>, Vec<audit::TsaCert>);

fn load_keys(paths: &[PathBuf]) -> Result<Vec<audit::PublicKey>, String> {
    paths.iter().map(|p| audit::PublicKey::load(p)).collect()
}

fn verify_files(files: Vec<PathBuf>, (keys, tsa): &Trust) -> ExitCode {
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
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
