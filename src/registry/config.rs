//! How the registries are reached and read, as configured: `[shep]` (the bus, shared by all
//! registries), `[codes]` (GBD FL's code tables) and `[registries.<key>]` (each registry's
//! address on the bus).

use std::collections::BTreeMap;
use std::time::Duration;

use registry_vocab::shep::status;
use serde::{Deserialize, Serialize};

use super::limits::AnswerLimits;
use super::signing::{self, BusTls, ShepSigningConfig};
use super::{CapacityStatus, LifeStatus, PerRegistry, Registry};
use crate::validate::{Invalid, Validate};

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
    pub signing: Option<ShepSigningConfig>,
    /// HTTPS to the bus: CA bundle and client certificate (`[shep.tls]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<BusTls>,
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

impl Validate for ShepConfig {
    fn validate(&self) -> Result<(), Invalid> {
        self.status_codes
            .validate()
            .map_err(|e| e.under("status_codes"))?;
        self.limits.validate().map_err(|e| e.under("limits"))?;
        self.signing.validate().map_err(|e| e.under("signing"))?;
        self.tls.validate().map_err(|e| e.under("tls"))
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
    /// The registry refused the request itself as invalid (a status, or the code in a SOAP
    /// fault's detail): the caller's error for that call, never the registry's failure.
    pub bad_request: Vec<String>,
    /// Codes in the detail of a `Client` SOAP fault that blame the gateway, not the caller's
    /// request (its signature, its credentials on the bus): such a fault stays a failure of
    /// the registry call. Every other `Client` / `Sender` fault is the caller's error.
    pub gateway_faults: Vec<String>,
}

impl Default for ShepCodes {
    fn default() -> ShepCodes {
        ShepCodes {
            ok: vec![status::SUCCESS.into()],
            not_found: vec![status::NOT_FOUND.into()],
            transient: vec![status::TEMPORARILY_UNAVAILABLE.into()],
            consent_refused: vec![status::CONSENT_REFUSED.into()],
            bad_request: vec![status::BAD_REQUEST.into()],
            gateway_faults: vec!["SECURITY_ERROR".into()],
        }
    }
}

impl Validate for ShepCodes {
    fn validate(&self) -> Result<(), Invalid> {
        if self.ok.is_empty() {
            return Err(Invalid::new("ok", "must list at least one code"));
        }
        if let Some(code) = self
            .ok
            .iter()
            .find(|c| self.not_found.contains(c) || self.transient.contains(c))
        {
            return Err(Invalid::new(
                "",
                format!("code {code:?} is both ok and not_found/transient"),
            ));
        }
        let elsewhere = |c: &String| {
            self.ok.contains(c) || self.not_found.contains(c) || self.transient.contains(c)
        };
        if let Some(code) = self.consent_refused.iter().find(|c| elsewhere(c)) {
            return Err(Invalid::new(
                "consent_refused",
                format!("code {code:?} is also in ok, not_found or transient"),
            ));
        }
        if let Some(code) = self
            .bad_request
            .iter()
            .find(|c| elsewhere(c) || self.consent_refused.contains(c))
        {
            return Err(Invalid::new(
                "bad_request",
                format!("code {code:?} is also in ok, not_found, transient or consent_refused"),
            ));
        }
        Ok(())
    }
}

/// GBD FL code tables; their values are not public, so they live in configuration.
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

impl Validate for CodeTables {
    fn validate(&self) -> Result<(), Invalid> {
        for (key, empty) in [
            ("life_status", self.life_status.is_empty()),
            ("capable_status", self.capable_status.is_empty()),
        ] {
            if empty {
                return Err(Invalid::new(key, "must map at least one code"));
            }
        }
        Ok(())
    }
}

/// Every registry's address on the bus (`[registries.<key>]`).
pub type Endpoints = PerRegistry<ShepEndpoint>;

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
    /// Who may sign this registry's answers: its own certificate, by subject and/or SHA-256 of
    /// its public key (several during a key rotation). Required when answers are verified: a
    /// trust store alone trusts every certificate its CA issued, to any organisation or person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answer_signers: Vec<SignerPin>,
    /// Where the bus echoes the request's `messageId` in the answer's `responseInfo`:
    /// `correlation_id` (SHEP's `correlationId`, the default), `message_id`, or `none` where
    /// this registry's bus echoes nothing. An answer whose echo differs is refused.
    #[serde(default)]
    pub message_id_echo: MessageIdEcho,
}

/// One certificate allowed to sign a registry's answers. Given both, both must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignerPin {
    /// The certificate's subject as the gateway prints it (`--check-config`, the refusal's
    /// log line), e.g. `CN=GBD FL, O=...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo (DER), 64 hex digits: `openssl x509
    /// -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spki_sha256: Option<String>,
}

impl SignerPin {
    /// The pin of a signer, by both of its names.
    pub fn of(signer: &shep_wss::SignerId) -> SignerPin {
        SignerPin {
            subject: Some(signer.subject.clone()),
            spki_sha256: Some(signer.spki_sha256.clone()),
        }
    }

    pub fn matches(&self, signer: &shep_wss::SignerId) -> bool {
        self.subject.as_ref().is_none_or(|s| *s == signer.subject)
            && self
                .spki_sha256
                .as_ref()
                .is_none_or(|h| h.eq_ignore_ascii_case(&signer.spki_sha256))
            && (self.subject.is_some() || self.spki_sha256.is_some())
    }
}

impl std::fmt::Display for SignerPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.subject, &self.spki_sha256) {
            (Some(s), Some(h)) => write!(f, "{s} (SPKI SHA-256 {h})"),
            (Some(s), None) => write!(f, "{s}"),
            (None, Some(h)) => write!(f, "SPKI SHA-256 {h}"),
            (None, None) => write!(f, "(nothing)"),
        }
    }
}

impl Validate for SignerPin {
    fn validate(&self) -> Result<(), Invalid> {
        if self.subject.is_none() && self.spki_sha256.is_none() {
            return Err(Invalid::new("", "give subject, spki_sha256 or both"));
        }
        if self.subject.as_ref().is_some_and(|s| s.trim().is_empty()) {
            return Err(Invalid::new("subject", "must not be empty"));
        }
        if let Some(h) = &self.spki_sha256 {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Invalid::new(
                    "spki_sha256",
                    "must be 64 hex digits (SHA-256)",
                ));
            }
        }
        Ok(())
    }
}

/// Which `responseInfo` element echoes the request's `messageId`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageIdEcho {
    #[default]
    CorrelationId,
    MessageId,
    None,
}

impl MessageIdEcho {
    /// The element's local name; `None` when nothing is echoed.
    pub fn element(self) -> Option<&'static str> {
        match self {
            MessageIdEcho::CorrelationId => Some("correlationId"),
            MessageIdEcho::MessageId => Some("messageId"),
            MessageIdEcho::None => None,
        }
    }
}

impl ShepEndpoint {
    /// `registry` reached at `url`, with its default service id.
    pub fn local(registry: Registry, url: String) -> ShepEndpoint {
        ShepEndpoint {
            url,
            service_id: registry.default_service_id().into(),
            sender_id: "registry-gateway".into(),
            password: None,
            max_answer_bytes: None,
            answer_signers: Vec::new(),
            message_id_echo: MessageIdEcho::default(),
        }
    }
}

/// Every registry reached at `url(registry)`, with the default service ids.
pub fn local_endpoints(url: impl Fn(Registry) -> String) -> Endpoints {
    PerRegistry::from_fn(|registry| ShepEndpoint::local(registry, url(registry)))
}

impl Validate for ShepEndpoint {
    fn validate(&self) -> Result<(), Invalid> {
        let url = reqwest::Url::parse(&self.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        let Some(url) = url else {
            return Err(Invalid::new("url", "must be an http:// or https:// URL"));
        };
        if url.scheme() == "http" && !signing::plain_http_allowed(&url) {
            return Err(Invalid::new(
                "url",
                "plain http:// only to a loopback address (the mocks); the bus is reached over \
                 https://",
            ));
        }
        if self.service_id.trim().is_empty() {
            return Err(Invalid::new("service_id", "must not be empty"));
        }
        if self.sender_id.trim().is_empty() {
            return Err(Invalid::new("sender_id", "must not be empty"));
        }
        if self.max_answer_bytes.is_some_and(|n| n < 4096) {
            return Err(Invalid::new("max_answer_bytes", "must be at least 4096"));
        }
        for (i, pin) in self.answer_signers.iter().enumerate() {
            pin.validate()
                .map_err(|e| e.under(&format!("answer_signers[{i}]")))?;
        }
        Ok(())
    }
}
