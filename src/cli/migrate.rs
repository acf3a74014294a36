//! `registry-gateway migrate`: create or migrate the audit schema in PostgreSQL.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{load, Cli};
use crate::audit;

/// `migrate`: the URL given, else `[audit.postgres]` of the configuration.
pub(super) async fn run(
    cli: &Cli,
    url: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
) -> ExitCode {
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
            return ExitCode::from(2);
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
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            println!("ok: applied migration(s) {applied:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migrate: {e}");
            ExitCode::FAILURE
        }
    }
}
