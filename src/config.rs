//! Typed configuration: a TOML file, then `REGGW_*` environment overrides, then `validate()`.
//!
//! Unknown keys are refused with the key named. Durations are human-readable ("5s", "250ms").
//! With no `[registries]` section the gateway starts the embedded mock registries on the demo
//! fixture (or `mocks.fixture`); with one, all five registries must be configured.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Dict;
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::access::AccessConfig;
use crate::audit::AuditConfig;
use crate::consent::ConsentConfig;
use crate::listener::Connections;
use crate::registry::limits::AnswerLimits;
use crate::registry::{CapacityStatus, LifeStatus, Registry};
use crate::resilience::Policy;
use crate::telemetry::{LogConfig, TracingConfig};

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
    pub registries: Option<RegistryEndpoints>,
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

/// Rules of the CheckOwner and CheckDwelling decisions that the law leaves to a convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionConfig {
    /// When someone born on 29 February turns 18 in a non-leap year.
    pub leap_day_birthday: LeapDayBirthday,
    /// Whether a married minor (full capacity by marriage, Civil Code art. 17) is routed as an
    /// adult. The order speaks of minors by age, so by default they are not.
    pub married_minor_as_adult: bool,
    /// How many days back from today (UTC+5) a `decision_date` may lie: a decision reviewed
    /// after the fact. Dates after today are always refused.
    pub max_days_back: u32,
    /// CheckDwelling: the most owners one request may list (1 to [`DecisionConfig::MAX_OWNERS`]).
    pub max_owners: usize,
    /// CheckDwelling: what a deceased co-owner, or one unknown to GBD FL, makes of the dwelling.
    pub deceased_co_owner: DeceasedCoOwner,
}

impl Default for DecisionConfig {
    fn default() -> DecisionConfig {
        DecisionConfig {
            leap_day_birthday: LeapDayBirthday::Feb28,
            married_minor_as_adult: false,
            max_days_back: DecisionConfig::DEFAULT_MAX_DAYS_BACK,
            max_owners: DecisionConfig::DEFAULT_MAX_OWNERS,
            deceased_co_owner: DeceasedCoOwner::Refuse,
        }
    }
}

impl DecisionConfig {
    /// Default `max_days_back`: a month of decisions may be reviewed.
    pub const DEFAULT_MAX_DAYS_BACK: u32 = 31;
    /// Largest accepted `max_days_back` (about 30 years).
    pub const MAX_DAYS_BACK: u32 = 11_000;
    /// Default `max_owners`: more than any dwelling the pilot expects (spouses, parents and
    /// children, a few heirs).
    pub const DEFAULT_MAX_OWNERS: usize = 20;
    /// Largest accepted `max_owners`: one call stays one employee's question.
    pub const MAX_OWNERS: usize = 100;
}

/// What a co-owner who is deceased (GBD FL or an IS ZAGS death act) or unknown to GBD FL
/// makes of a dwelling: an inheritance not yet registered, or a number typed wrong.
///
/// Default `refuse`: the dwelling is `REFUSED_HERE` (item 8), whatever the other owners are.
/// It is what CheckOwner answers for a sole owner in that state, and the order's hall has no
/// step for it: the hall verifies the powers of a minor's or an incapacitated owner's legal
/// representative (items 4 and 7), while nobody represents a dead owner's share until the
/// heirs have registered their rights. `hall` sends the dwelling to the operational hall
/// instead, where the employee sees the heirs' documents, for a Public Service Centre whose
/// hall handles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeceasedCoOwner {
    Refuse,
    Hall,
}

/// The anniversary of a 29 February birth in a non-leap year.
///
/// Default `feb28`: by the civil-law rule for periods, a period that ends in a month without
/// the matching date ends on that month's last day, so the 18 years end on 28 February.
/// `mar1` is the other reading (the day after 28 February).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeapDayBirthday {
    Feb28,
    Mar1,
}

/// How the bus is spoken to, shared by all registries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShepConfig {
    /// What the caller is told to wait before retrying after a transient registry failure.
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
    /// ... and after a failure that is not transient (malformed answer, SOAP fault).
    #[serde(with = "humantime_serde")]
    pub retry_after_permanent: Duration,
    pub status_codes: ShepCodes,
    /// What is read and parsed of an answer, at most.
    pub limits: AnswerLimits,
    /// WS-Security: requests signed, answers verified (`[shep.signing]`). Absent: neither,
    /// except with the embedded mocks, which always sign with demo keys made at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing: Option<crate::registry::signing::SigningConfig>,
    /// HTTPS to the bus: CA bundle and client certificate (`[shep.tls]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::registry::signing::BusTls>,
}

impl Default for ShepConfig {
    fn default() -> ShepConfig {
        ShepConfig {
            retry_after: Duration::from_secs(5),
            retry_after_permanent: Duration::from_secs(60),
            status_codes: ShepCodes::default(),
            limits: AnswerLimits::default(),
            signing: None,
            tls: None,
        }
    }
}

/// Meanings of `responseInfo/status/code`. A code in none of the lists is a permanent failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShepCodes {
    pub ok: Vec<String>,
    pub not_found: Vec<String>,
    pub transient: Vec<String>,
    /// GBD FL refused the consent token (`kdpToken`): invalid, expired, or another person's.
    pub consent_refused: Vec<String>,
}

impl Default for ShepCodes {
    fn default() -> ShepCodes {
        ShepCodes {
            ok: vec!["SCSS001".into()],
            not_found: vec!["NOTFOUND".into()],
            transient: vec!["TEMP_UNAVAILABLE".into()],
            consent_refused: vec!["KDP_REFUSED".into()],
        }
    }
}

/// GBD FL code tables; their values are not public, so they live here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodeTables {
    /// `lifeStatus/code` -> alive | deceased | missing.
    pub life_status: BTreeMap<String, LifeStatus>,
    /// `capableStatus/code` -> capable | incapable | limited.
    pub capable_status: BTreeMap<String, CapacityStatus>,
}

impl Default for CodeTables {
    fn default() -> CodeTables {
        fn table<T: Copy>(pairs: &[(&str, T)]) -> BTreeMap<String, T> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        }
        CodeTables {
            life_status: table(&[
                ("1", LifeStatus::Alive),
                ("2", LifeStatus::Deceased),
                ("3", LifeStatus::Missing),
            ]),
            capable_status: table(&[
                ("1", CapacityStatus::Capable),
                ("2", CapacityStatus::Incapable),
                ("3", CapacityStatus::Limited),
            ]),
        }
    }
}

/// The five registries on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEndpoints {
    pub gbd_fl: ShepEndpoint,
    pub zags: ShepEndpoint,
    pub social_security: ShepEndpoint,
    pub nobd: ShepEndpoint,
    pub epvo: ShepEndpoint,
}

impl RegistryEndpoints {
    pub fn get(&self, registry: Registry) -> &ShepEndpoint {
        match registry {
            Registry::GbdFl => &self.gbd_fl,
            Registry::Zags => &self.zags,
            Registry::SocialSecurity => &self.social_security,
            Registry::Nobd => &self.nobd,
            Registry::Epvo => &self.epvo,
        }
    }

    /// Endpoints for registries reached at `url(registry)` with the default service ids.
    pub fn local(url: impl Fn(Registry) -> String) -> RegistryEndpoints {
        let endpoint = |registry: Registry| ShepEndpoint {
            url: url(registry),
            service_id: default_service_id(registry).into(),
            sender_id: "registry-gateway".into(),
            password: None,
            max_answer_bytes: None,
        };
        RegistryEndpoints {
            gbd_fl: endpoint(Registry::GbdFl),
            zags: endpoint(Registry::Zags),
            social_security: endpoint(Registry::SocialSecurity),
            nobd: endpoint(Registry::Nobd),
            epvo: endpoint(Registry::Epvo),
        }
    }
}

fn default_service_id(registry: Registry) -> &'static str {
    match registry {
        Registry::GbdFl => "GBDFL_PERSON",
        Registry::Zags => "ZAGS_CIVIL_ACTS",
        Registry::SocialSecurity => "ESOC_SOCIAL_STATUS",
        Registry::Nobd => "NOBD_ENROLMENT",
        Registry::Epvo => "EPVO_STUDY",
    }
}

/// One registry's address on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShepEndpoint {
    /// `http://` or `https://` URL of the sync channel.
    pub url: String,
    pub service_id: String,
    pub sender_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// This registry's own limit on an answer's size; default `shep.limits.max_answer_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_answer_bytes: Option<usize>,
}

/// Caching, retries, timeouts, breaker and bulkhead: `defaults` for every registry, then
/// per-registry tables that override some of its keys (`[resilience.gbd_fl] cache_ttl = "1m"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResilienceConfig {
    pub defaults: Policy,
    pub gbd_fl: Dict,
    pub zags: Dict,
    pub social_security: Dict,
    pub nobd: Dict,
    pub epvo: Dict,
}

impl ResilienceConfig {
    /// The defaults with `registry`'s overrides, validated.
    pub fn policy(&self, registry: Registry) -> Result<Policy, ConfigError> {
        let overrides = match registry {
            Registry::GbdFl => &self.gbd_fl,
            Registry::Zags => &self.zags,
            Registry::SocialSecurity => &self.social_security,
            Registry::Nobd => &self.nobd,
            Registry::Epvo => &self.epvo,
        };
        let prefix = format!("resilience.{}", registry.key());
        let policy: Policy = Figment::from(Serialized::defaults(&self.defaults))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Invalid {
                key: prefix.clone(),
                rule: e.to_string(),
            })?;
        policy
            .check()
            .map_err(|(field, rule)| ConfigError::Invalid {
                key: format!("{prefix}.{field}"),
                rule,
            })?;
        Ok(policy)
    }
}

/// Mutual TLS: the server's certificate chain and key, and the CA that client certificates
/// must chain to (a client without one is refused in the handshake). PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MocksConfig {
    /// Fixture file for the embedded mocks; the built-in demo population when absent.
    pub fixture: Option<PathBuf>,
}

/// A configuration that cannot be used, with the key and the rule.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("{key}: {rule}")]
    Invalid { key: String, rule: String },
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
        Config::from_figment(figment.merge(Env::prefixed(ENV_PREFIX).split("__")))
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

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, rule: &str| ConfigError::Invalid {
            key: key.into(),
            rule: rule.into(),
        };
        let codes = &self.shep.status_codes;
        if codes.ok.is_empty() {
            return Err(invalid(
                "shep.status_codes.ok",
                "must list at least one code",
            ));
        }
        for code in &codes.ok {
            if codes.not_found.contains(code) || codes.transient.contains(code) {
                return Err(invalid(
                    "shep.status_codes",
                    &format!("code {code:?} is both ok and not_found/transient"),
                ));
            }
        }
        for code in &codes.consent_refused {
            if codes.ok.contains(code)
                || codes.not_found.contains(code)
                || codes.transient.contains(code)
            {
                return Err(invalid(
                    "shep.status_codes.consent_refused",
                    &format!("code {code:?} is also in ok, not_found or transient"),
                ));
            }
        }
        for (key, empty) in [
            ("codes.life_status", self.codes.life_status.is_empty()),
            ("codes.capable_status", self.codes.capable_status.is_empty()),
        ] {
            if empty {
                return Err(invalid(key, "must map at least one code"));
            }
        }
        self.shep
            .limits
            .check()
            .map_err(|(field, rule)| ConfigError::Invalid {
                key: format!("shep.limits.{field}"),
                rule,
            })?;
        if let Some(endpoints) = &self.registries {
            for r in Registry::ALL {
                if endpoints.get(r).max_answer_bytes.is_some_and(|n| n < 4096) {
                    return Err(ConfigError::Invalid {
                        key: format!("registries.{}.max_answer_bytes", r.key()),
                        rule: "must be at least 4096".into(),
                    });
                }
            }
        }
        if self.decision.max_days_back > DecisionConfig::MAX_DAYS_BACK {
            return Err(invalid(
                "decision.max_days_back",
                &format!("must be at most {}", DecisionConfig::MAX_DAYS_BACK),
            ));
        }
        if !(1..=DecisionConfig::MAX_OWNERS).contains(&self.decision.max_owners) {
            return Err(invalid(
                "decision.max_owners",
                &format!("must be 1 to {}", DecisionConfig::MAX_OWNERS),
            ));
        }
        if self.max_in_flight == 0 {
            return Err(invalid("max_in_flight", "must be at least 1"));
        }
        if self.max_in_flight_per_caller == 0 {
            return Err(invalid("max_in_flight_per_caller", "must be at least 1"));
        }
        self.connections
            .check()
            .map_err(|(field, rule)| ConfigError::Invalid {
                key: format!("connections.{field}"),
                rule,
            })?;
        if self.max_message_bytes < 1024 {
            return Err(invalid("max_message_bytes", "must be at least 1024"));
        }
        if self.tls.is_none() && !self.listen.ip().is_loopback() && !self.allow_insecure_plaintext {
            return Err(invalid(
                "listen",
                "plaintext on a non-loopback address: configure [tls], or set \
                 allow_insecure_plaintext = true if you really mean it",
            ));
        }
        if let Some(access) = &self.access {
            access
                .check()
                .map_err(|(key, rule)| ConfigError::Invalid { key, rule })?;
        }
        self.consent
            .check()
            .map_err(|(key, rule)| ConfigError::Invalid { key, rule })?;
        self.log
            .check()
            .map_err(|(field, rule)| ConfigError::Invalid {
                key: format!("log.{field}"),
                rule,
            })?;
        self.tracing
            .check()
            .map_err(|(field, rule)| ConfigError::Invalid {
                key: format!("tracing.{field}"),
                rule,
            })?;
        if let Some(audit) = &self.audit {
            audit
                .validate()
                .map_err(|(field, rule)| ConfigError::Invalid {
                    key: format!("audit.{field}"),
                    rule,
                })?;
        }
        for registry in Registry::ALL {
            self.resilience.policy(registry)?;
        }
        if let Some(signing) = &self.shep.signing {
            signing
                .check()
                .map_err(|(key, rule)| ConfigError::Invalid { key, rule })?;
            if self.registries.is_none() {
                return Err(invalid(
                    "shep.signing",
                    "applies to configured [registries]; the embedded mocks sign with demo \
                     keys generated at start",
                ));
            }
        }
        if let Some(tls) = &self.shep.tls {
            crate::registry::signing::check_tls(tls)
                .map_err(|(key, rule)| ConfigError::Invalid { key, rule })?;
        }
        if let Some(registries) = &self.registries {
            for registry in Registry::ALL {
                let e = registries.get(registry);
                let key = |field: &str| format!("registries.{}.{field}", registry.key());
                let url = reqwest::Url::parse(&e.url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                let Some(url) = url else {
                    return Err(invalid(&key("url"), "must be an http:// or https:// URL"));
                };
                if url.scheme() == "http" && !crate::registry::signing::plain_http_allowed(&url) {
                    return Err(invalid(
                        &key("url"),
                        "plain http:// only to a loopback address (the mocks); the bus is \
                         reached over https://",
                    ));
                }
                if e.service_id.trim().is_empty() {
                    return Err(invalid(&key("service_id"), "must not be empty"));
                }
                if e.sender_id.trim().is_empty() {
                    return Err(invalid(&key("sender_id"), "must not be empty"));
                }
            }
            if self.mocks.fixture.is_some() {
                return Err(invalid(
                    "mocks.fixture",
                    "applies to the embedded mocks only; remove it or remove [registries]",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serve_loopback_with_embedded_mocks() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:50051");
        assert!(c.registries.is_none());
        assert_eq!(c.decision.leap_day_birthday, LeapDayBirthday::Feb28);
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
        assert_eq!(c.registries.unwrap().zags.service_id, "S");
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
