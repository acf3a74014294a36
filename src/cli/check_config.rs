//! `registry-gateway --check-config FILE`: load and validate a configuration as the gateway
//! would, and say what it sets up.

use std::process::ExitCode;

use super::{load, Cli};
use crate::Config;

/// `--check-config`: the configuration `cli` names, loaded and validated as at start.
pub(super) fn run(cli: &Cli) -> ExitCode {
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
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("registry-gateway: {}: {e}", file.display());
            ExitCode::FAILURE
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
        .filter(|k| k.starts_with(crate::config::ENV_PREFIX) && k != "REGGW_CONFIG")
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
            crate::decision::legal_basis::describe(
                &config.decision.legal_basis,
                crate::decision::today()
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
    use crate::registry::signing::VerifyResponses;
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
