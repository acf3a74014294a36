//! Typed configuration: a TOML file, then `REGGW_*` environment overrides, then validation.
//!
//! This module only gathers the parts: each module owns its settings type and their rules
//! (`[shep]`, `[codes]`, `[registries]` in [`crate::registry`], `[resilience]` in
//! [`crate::resilience`], `[decision]` in [`crate::decision`], `[audit]` in [`crate::audit`],
//! …), all checked the same way ([`Validate`]). What stays here: the top-level keys and the
//! rules that span several parts.
//!
//! Unknown keys are refused with the key named. Durations are human-readable ("5s", "250ms").
//! With no `[registries]` section the gateway starts the embedded mock registries on the demo
//! fixture (or `mocks.fixture`); with one, every registry must be configured.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::access::AccessConfig;
use crate::audit::AuditConfig;
use crate::consent::ConsentConfig;
use crate::decision::DecisionConfig;
use crate::embedded::MocksConfig;
use crate::listener::{Connections, TlsConfig};
use crate::registry::{CodeTables, Endpoints, ShepConfig};
use crate::resilience::ResilienceConfig;
use crate::telemetry::{LogConfig, TracingConfig};
use crate::validate::{Invalid, Validate};

/// Environment variables with this prefix override the file: `REGGW_LISTEN`,
/// `REGGW_REGISTRIES__GBD_FL__URL` (`__` separates nested keys).
pub const ENV_PREFIX: &str = "REGGW_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the gRPC listener.
    pub listen: SocketAddr,
    /// RPCs in flight at most, server-wide; more are refused at once with RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
    /// RPCs in flight at most for one client system, so that one cannot starve the others
    /// (capped at `max_in_flight`).
    pub max_in_flight_per_caller: usize,
    /// Connection and stream limits.
    pub connections: Connections,
    /// Admin HTTP address serving `/metrics` (Prometheus) and `/healthz`; none: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// Largest request message accepted, in bytes.
    pub max_message_bytes: usize,
    /// On shutdown, how long NOT_SERVING is announced before new calls are refused (time for
    /// load balancers to notice).
    #[serde(with = "humantime_serde")]
    pub shutdown_delay: Duration,
    /// On shutdown, how long calls in flight may then take to finish.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Server certificate and the CA of client certificates (mutual TLS).
    pub tls: Option<TlsConfig>,
    /// Serve plaintext on a non-loopback address. Never in production.
    pub allow_insecure_plaintext: bool,
    /// Client systems and their rights; absent: every caller may call every RPC (demo).
    pub access: Option<AccessConfig>,
    /// Consent tokens: where they are required without `[access]`, CheckOwner's use of the
    /// shared cache, the key of their audit references.
    pub consent: ConsentConfig,
    /// The audit log of personal-data RPCs; absent: no audit (demo).
    pub audit: Option<AuditConfig>,
    /// OpenTelemetry trace export (also switched on by the standard `OTEL_*` variables).
    pub tracing: TracingConfig,
    /// Log level and format.
    pub log: LogConfig,
    pub resilience: ResilienceConfig,
    pub decision: DecisionConfig,
    pub shep: ShepConfig,
    pub codes: CodeTables,
    /// The real (or externally run) registries. Absent: embedded mocks.
    pub registries: Option<Endpoints>,
    pub mocks: MocksConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            max_in_flight: 1024,
            max_in_flight_per_caller: 512,
            connections: Connections::default(),
            metrics_listen: None,
            max_message_bytes: 64 * 1024,
            shutdown_delay: Duration::ZERO,
            shutdown_grace: Duration::from_secs(30),
            tls: None,
            allow_insecure_plaintext: false,
            access: None,
            consent: ConsentConfig::default(),
            audit: None,
            tracing: TracingConfig::default(),
            log: LogConfig::default(),
            resilience: ResilienceConfig::default(),
            decision: DecisionConfig::default(),
            shep: ShepConfig::default(),
            codes: CodeTables::default(),
            registries: None,
            mocks: MocksConfig::default(),
        }
    }
}

/// A configuration that cannot be used, with the key and the rule.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("{key}: {rule}")]
    Invalid { key: String, rule: String },
}

impl From<Invalid> for ConfigError {
    fn from(Invalid { key, rule }: Invalid) -> ConfigError {
        ConfigError::Invalid { key, rule }
    }
}

impl Config {
    /// Defaults, then the file (if any), then `REGGW_*` variables; validated.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        // Defaults come from `#[serde(default)]`, not a merged provider, so that a table given
        // in the file (a code table, say) replaces the default instead of extending it.
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Parse(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        let window_set = figment.find_value("decision.max_days_back").is_ok();
        let mut config = Config::from_figment(figment)?;
        if config.registries.is_none() && !window_set {
            // The embedded mocks' demo population has fixed birth dates (29 February 2008):
            // docs/demo.md's decisions dated years back work on plain `cargo run --release`.
            config.decision.max_days_back = DecisionConfig::MAX_DAYS_BACK;
        }
        Ok(config)
    }

    /// Parses TOML text alone (tests, examples).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_figment(Figment::from(Toml::string(text)))
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            ConfigError::Parse(
                e.into_iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Every part's own rules, under its table, then the top-level keys and the rules that
    /// span parts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let parts: [(&str, &dyn Validate); 13] = [
            ("connections", &self.connections),
            ("access", &self.access),
            ("consent", &self.consent),
            ("audit", &self.audit),
            ("tracing", &self.tracing),
            ("log", &self.log),
            ("resilience", &self.resilience),
            ("decision", &self.decision),
            ("shep", &self.shep),
            ("codes", &self.codes),
            ("registries", &self.registries),
            ("mocks", &self.mocks),
            ("", &TopLevel(self)),
        ];
        for (table, part) in parts {
            part.validate().map_err(|e| match table {
                "" => e,
                table => e.under(table),
            })?;
        }
        Ok(())
    }
}

/// The top-level keys, and the rules between parts.
struct TopLevel<'a>(&'a Config);

impl Validate for TopLevel<'_> {
    fn validate(&self) -> Result<(), Invalid> {
        let c = self.0;
        if c.max_in_flight == 0 {
            return Err(Invalid::new("max_in_flight", "must be at least 1"));
        }
        if c.max_in_flight_per_caller == 0 {
            return Err(Invalid::new(
                "max_in_flight_per_caller",
                "must be at least 1",
            ));
        }
        if c.max_message_bytes < 1024 {
            return Err(Invalid::new("max_message_bytes", "must be at least 1024"));
        }
        if c.tls.is_none() && !c.listen.ip().is_loopback() && !c.allow_insecure_plaintext {
            return Err(Invalid::new(
                "listen",
                "plaintext on a non-loopback address: configure [tls], or set \
                 allow_insecure_plaintext = true if you really mean it",
            ));
        }
        c.registries_or_mocks()
    }
}

impl Config {
    /// Either configured registries or the embedded mocks, and what applies to each.
    fn registries_or_mocks(&self) -> Result<(), Invalid> {
        match &self.registries {
            None if !cfg!(feature = "embedded-mocks") => {
                Err(Invalid::new("registries", crate::embedded::NOT_BUILT))
            }
            None if self.shep.signing.is_some() => Err(Invalid::new(
                "shep.signing",
                "applies to configured [registries]; the embedded mocks sign with demo keys \
                 generated at start",
            )),
            Some(_) if self.mocks.fixture.is_some() => Err(Invalid::new(
                "mocks.fixture",
                "applies to the embedded mocks only; remove it or remove [registries]",
            )),
            Some(endpoints) => self.answer_signers_pinned(endpoints),
            None => Ok(()),
        }
    }

    /// With answers verified, every registry names its own signer.
    fn answer_signers_pinned(&self, endpoints: &crate::registry::Endpoints) -> Result<(), Invalid> {
        use crate::registry::signing::VerifyResponses;
        let verified = self
            .shep
            .signing
            .as_ref()
            .is_some_and(|s| s.verify_responses != VerifyResponses::Off);
        match endpoints.iter().find(|(_, e)| e.answer_signers.is_empty()) {
            Some((registry, _)) if verified => Err(Invalid::new(
                format!("registries.{}.answer_signers", registry.key()),
                "required when shep.signing.verify_responses is not \"off\": the subject or \
                 SPKI SHA-256 of the registry's own signing certificate (a trust store alone \
                 trusts every certificate its CA issued)",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::DeceasedCoOwner;
    use crate::registry::Registry;

    #[cfg(feature = "embedded-mocks")]
    #[test]
    fn defaults_serve_loopback_with_embedded_mocks() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:50051");
        assert!(c.registries.is_none());
        assert_eq!(
            c.decision.leap_day_birthday,
            crate::decision::LeapDayBirthday::Feb28
        );
    }

    /// A production build (`--no-default-features`) has no mocks to fall back on.
    #[cfg(not(feature = "embedded-mocks"))]
    #[test]
    fn without_embedded_mocks_registries_are_required() {
        let e = Config::from_toml("").unwrap_err();
        assert!(
            e.to_string().starts_with("registries: required")
                && e.to_string().contains("embedded-mocks"),
            "{e}"
        );
    }

    #[test]
    fn dwelling_settings_are_bounded_and_named() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.decision.max_owners, 20);
        assert_eq!(c.decision.deceased_co_owner, DeceasedCoOwner::Refuse);
        let c = Config::from_toml("[decision]\nmax_owners = 100\ndeceased_co_owner = \"hall\"")
            .unwrap();
        assert_eq!(c.decision.max_owners, 100);
        assert_eq!(c.decision.deceased_co_owner, DeceasedCoOwner::Hall);
        for bad in ["max_owners = 0", "max_owners = 101"] {
            let e = Config::from_toml(&format!("[decision]\n{bad}")).unwrap_err();
            assert!(e.to_string().contains("decision.max_owners"), "{e}");
            assert!(e.to_string().contains("1 to 100"), "{e}");
        }
        let e = Config::from_toml("[decision]\ndeceased_co_owner = \"heirs\"").unwrap_err();
        assert!(e.to_string().contains("deceased_co_owner"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e = Config::from_toml("[decision]\nleap_day_birthdy = \"mar1\"").unwrap_err();
        assert!(e.to_string().contains("leap_day_birthdy"), "{e}");
        let e = Config::from_toml("listn = \"0.0.0.0:1\"").unwrap_err();
        assert!(e.to_string().contains("listn"), "{e}");
    }

    #[test]
    fn registries_are_validated_by_key() {
        let mut text = String::new();
        for r in Registry::ALL {
            text.push_str(&format!(
                "[registries.{}]\nurl = \"https://bus.example/{0}\"\nservice_id = \"S\"\nsender_id = \"me\"\n",
                r.key()
            ));
        }
        let c = Config::from_toml(&text).unwrap();
        assert_eq!(c.registries.unwrap()[Registry::Zags].service_id, "S");
        let bad = text.replace("https://bus.example/nobd", "ftp://x");
        let e = Config::from_toml(&bad).unwrap_err();
        assert!(e.to_string().starts_with("registries.nobd.url"), "{e}");
        let missing = text.replace("[registries.epvo]", "[other]");
        assert!(Config::from_toml(&missing).is_err());
    }

    #[test]
    fn resilience_overrides_merge_onto_defaults_and_are_validated() {
        let c = Config::from_toml(
            "[resilience.defaults]\ncache_ttl = \"5m\"\n[resilience.zags]\ncache_ttl = \"30s\"\ncache_negative_ttl = \"10s\"",
        )
        .unwrap();
        let zags = c.resilience.policy(Registry::Zags).unwrap();
        assert_eq!(zags.cache_ttl, Duration::from_secs(30));
        assert_eq!(zags.max_attempts, 3);
        assert_eq!(
            c.resilience.policy(Registry::Nobd).unwrap().cache_ttl,
            Duration::from_secs(300)
        );
        let e = Config::from_toml("[resilience.epvo]\nretry_budget_ratio = 1.5").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("resilience.epvo.retry_budget_ratio"),
            "{e}"
        );
        let e = Config::from_toml("[resilience.nobd]\ncache_tll = \"1s\"").unwrap_err();
        assert!(e.to_string().contains("cache_tll"), "{e}");
    }

    #[test]
    fn plaintext_off_loopback_needs_the_insecure_switch() {
        let e = Config::from_toml("listen = \"0.0.0.0:50051\"").unwrap_err();
        assert!(e.to_string().starts_with("listen:"), "{e}");
        Config::from_toml("listen = \"0.0.0.0:50051\"\nallow_insecure_plaintext = true").unwrap();
        Config::from_toml("listen = \"[::1]:50051\"").unwrap();
    }

    #[test]
    fn access_rules_are_validated() {
        let e = Config::from_toml("[access.clients.edu]\nrpcs = [\"GetAll\"]").unwrap_err();
        assert!(e.to_string().starts_with("access.clients.edu.rpcs"), "{e}");
    }

    #[test]
    fn code_tables_are_configurable() {
        let c = Config::from_toml(
            "[codes.capable_status]\n\"01\" = \"capable\"\n\"02\" = \"incapable\"",
        )
        .unwrap();
        assert_eq!(c.codes.capable_status.len(), 2);
        let e = Config::from_toml("[codes.capable_status]\n\"01\" = \"maybe\"").unwrap_err();
        assert!(e.to_string().contains("maybe"), "{e}");
    }
}
