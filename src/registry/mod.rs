//! The registries in domain terms: each registry's answer type (a [`Payload`]: one module per
//! registry), one generic look-up ([`Lookup<T>`]) and one SHEP adapter for all of them
//! ([`ShepLookup<T>`]).
//!
//! Handlers and the decision see only look-ups and domain types; the XML of the SHEP envelope
//! and of each registry's payload stays inside this module tree. Every adapter talks through
//! the shared [`shep::ShepClient`], so pointing the gateway at the real bus is a change of
//! endpoint, serviceId and senderId in configuration ([`config`]).
//!
//! Adding a registry: its line in the registry list (`registry-vocab`), a module here with its
//! answer type and parser, and its line in [`for_each_payload`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::consent::ConsentToken;
use crate::iin::Iin;
pub use config::{
    local_endpoints, CodeTables, Endpoints, MessageIdEcho, ShepCodes, ShepConfig, ShepEndpoint,
    SignerPin,
};
use shep::ShepClient;

pub mod config;
pub mod facts;
pub mod heap;
pub mod limits;
mod lookup;
pub mod shep;
pub mod signing;

pub mod epvo;
pub mod gbd_fl;
pub mod nobd;
pub mod social;
pub mod zags;

pub use epvo::{Study, StudyForm};
pub use gbd_fl::{CapacityStatus, Gender, LegalCapacity, LifeStatus, MissingRecord, Person};
pub use lookup::{Lookup, MakeLookup, Payload, PayloadVisitor, Registries, ShepLookup, Then};
pub use nobd::SchoolEnrolment;
pub use social::{Disability, Guardianship, GuardianshipKind, SocialStatus};
pub use zags::{BirthAct, CivilActs, DeathAct, MarriageAct, NameChangeAct, PersonRef};

/// The gateway's registry list: every registry's answer type, once each.
pub fn for_each_payload(visitor: &mut impl PayloadVisitor) {
    visitor.visit::<Option<Person>>();
    visitor.visit::<CivilActs>();
    visitor.visit::<SocialStatus>();
    visitor.visit::<Vec<SchoolEnrolment>>();
    visitor.visit::<Vec<Study>>();
}

/// The registry list and per-registry maps, shared with the mock registries.
pub use registry_vocab::{PerRegistry, Registry};

/// A look-up key: whose records, and the caller's consent token when it has one.
#[derive(Debug, Clone)]
pub struct Query {
    pub iin: Iin,
    /// Consent token for access to personal data (`kdpToken`), passed through to GBD FL.
    /// GBD FL's guard shares a call only among queries with the same token.
    pub consent_token: Option<ConsentToken>,
    /// Whether the answer may come from, and go into, the registry's shared cache (and a
    /// stale entry may stand in for a failed call). `false` for a person's record looked up
    /// under a consent: GBD FL must see this caller's token (see [`crate::consent`]).
    pub shared_cache: bool,
    /// When the callers stop waiting for the answer: the caller's deadline (a call shared by
    /// several callers: the latest of theirs). The registry is told it (SHEP property
    /// `timeoutMs`).
    pub callers_deadline: Option<tokio::time::Instant>,
    /// When this attempt gives up (its HTTP timeout); set by the guard per attempt.
    pub attempt_deadline: Option<tokio::time::Instant>,
}

impl Query {
    pub fn new(iin: Iin) -> Query {
        Query {
            iin,
            consent_token: None,
            shared_cache: true,
            callers_deadline: None,
            attempt_deadline: None,
        }
    }
}

/// An answer and where it came from. The value is shared: a cached answer is handed out
/// without copying it.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub value: Arc<T>,
    pub source: Source,
}

impl<T> Fetched<T> {
    pub fn new(value: T, source: Source) -> Fetched<T> {
        Fetched {
            value: Arc::new(value),
            source,
        }
    }
}

impl<T: Clone> Fetched<T> {
    /// The same provenance for a value derived from this one (copied only if shared).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Fetched<U> {
        Fetched {
            value: Arc::new(f(Arc::unwrap_or_clone(self.value))),
            source: self.source,
        }
    }

    /// The value itself (copied only if shared).
    pub fn into_value(self) -> T {
        Arc::unwrap_or_clone(self.value)
    }
}

/// Provenance of a registry answer, for evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The SHEP message id of the registry's response.
    pub message_id: MessageId,
    /// When the registry produced the answer.
    pub fetched_at: DateTime<Utc>,
    pub from_cache: bool,
    pub stale: bool,
    /// How old a cached answer is (zero for a fresh call).
    pub age: Duration,
    /// The answer's SOAP envelope exactly as received, signature included: the evidence a
    /// decision rests on (archived by [`crate::audit`]). Shared by every answer served from
    /// the cache; `None` for answers that did not come over the bus (tests, organisations).
    pub envelope: Option<Arc<Envelope>>,
}

/// A registry's answer as received from the bus, and its SHA-256 (its address in the
/// evidence archive). `Debug` shows the digest and size only: the bytes hold personal data.
#[derive(PartialEq, Eq)]
pub struct Envelope {
    pub digest: [u8; 32],
    /// `None` for an answer served from the owner-facts cache, which keeps the digest only:
    /// the bytes were archived when the answer arrived.
    pub bytes: Option<Box<str>>,
}

impl Envelope {
    pub fn new(bytes: String) -> Envelope {
        use sha2::Digest;
        Envelope {
            digest: sha2::Sha256::digest(bytes.as_bytes()).into(),
            bytes: Some(bytes.into_boxed_str()),
        }
    }

    /// The digest in lowercase hex, as the audit record names it.
    pub fn digest_hex(&self) -> String {
        crate::hex::lower(&self.digest)
    }
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("digest", &self.digest_hex())
            .field("bytes", &self.bytes.as_ref().map(|b| b.len()))
            .finish()
    }
}

impl heap::HeapSize for Arc<Envelope> {
    /// The shared envelope, counted whole by every holder (an upper bound: answers served
    /// from one cache entry share it).
    fn heap_size(&self) -> usize {
        heap::allocation(2 * size_of::<usize>() + size_of::<Envelope>())
            + heap::allocation(self.bytes.as_ref().map_or(0, |b| b.len()))
    }
}

/// A SHEP message id, compact: a UUID in its canonical text (what the bus and the mocks send)
/// is kept as its 16 bytes, any other text is shared; a copy allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageId {
    Uuid(uuid::Uuid),
    Text(Arc<str>),
}

impl From<&str> for MessageId {
    fn from(text: &str) -> MessageId {
        match uuid::Uuid::try_parse(text) {
            Ok(uuid) if uuid.hyphenated().to_string() == text => MessageId::Uuid(uuid),
            _ => MessageId::Text(text.into()),
        }
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageId::Uuid(uuid) => uuid.hyphenated().fmt(f),
            MessageId::Text(text) => f.write_str(text),
        }
    }
}

impl PartialEq<&str> for MessageId {
    fn eq(&self, other: &&str) -> bool {
        match self {
            MessageId::Uuid(uuid) => uuid.hyphenated().to_string() == *other,
            MessageId::Text(text) => **text == **other,
        }
    }
}

impl heap::HeapSize for MessageId {
    fn heap_size(&self) -> usize {
        match self {
            MessageId::Uuid(_) => 0,
            MessageId::Text(text) => heap::allocation(2 * size_of::<usize>() + text.len()),
        }
    }
}

/// Why an answer was refused: a short reason (a metric label: `digest`, `signer`, `subject`,
/// ...) and the rule it broke, never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Refusal {
    pub reason: &'static str,
    pub detail: String,
}

/// A registry call that did not give an answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{registry} {}: {failure}", failure.verb())]
pub struct RegistryError {
    pub registry: Registry,
    pub failure: Failure,
    /// When the caller may usefully retry.
    pub retry_after: Duration,
}

/// What went wrong. Texts never carry personal data: registry-provided text is scrubbed of
/// 12-digit numbers before it gets here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    #[error("connection failed ({0})")]
    Connect(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("HTTP status {0}")]
    Http(u16),
    #[error("SOAP fault: {0}")]
    Fault(String),
    #[error("SHEP status {code}: {message}")]
    Status {
        code: String,
        message: String,
        transient: bool,
    },
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The answer is not verified as this registry's answer to this request: its signature
    /// does not hold (or is missing where required), another certificate signed it, or it is
    /// bound to another request or person. Not used, not cached, not retried.
    #[error("answer refused: {0}")]
    Unverified(Refusal),
    /// The external verifier (`verify_with = "http"`) gave no verdict on the answer: not
    /// used, and not held against the registry (the gateway's own crypto service failed).
    #[error("{0}")]
    Verifier(String),
    /// The request could not be signed (key, external signer): the registry was not called.
    #[error("the request could not be signed: {0}")]
    Signing(String),
    /// The caller's deadline ran out before the registry answered.
    #[error("no answer before the caller's deadline")]
    DeadlineExceeded,
    /// The circuit breaker is open after repeated failures: not called.
    #[error("circuit breaker open after repeated failures")]
    CircuitOpen,
    /// GBD FL refused the consent token (invalid, expired, or given for another person): the
    /// caller's answer, not the registry's failure.
    #[error("consent refused (SHEP status {code})")]
    ConsentRefused { code: String },
    /// The registry refused the request as invalid (a `Client` / `Sender` SOAP fault, or a
    /// status in `shep.status_codes.bad_request`): the caller's input, not the registry's
    /// health. Not retried, never counted by the breaker, no stale answer.
    #[error("request refused as invalid ({code}): {message}")]
    Rejected { code: String, message: String },
    /// The gateway's own queue for this registry: no call slot (`max_concurrent`) came free
    /// within `queue_timeout`. The registry was not called and is not blamed.
    #[error("the gateway is at its limit of concurrent calls to it (no slot within {0:?})")]
    Overloaded(Duration),
}

impl Failure {
    /// What the registry (or the gateway on its behalf) did, for a log line.
    fn verb(&self) -> &'static str {
        match self {
            Failure::ConsentRefused { .. } => "refused the consent token",
            Failure::Rejected { .. } => "refused the request",
            Failure::Overloaded(_) => "was not called",
            _ => "did not answer",
        }
    }

    /// A short name for metrics and spans.
    pub fn label(&self) -> &'static str {
        match self {
            Failure::Connect(_) => "connect",
            Failure::Timeout(_) => "timeout",
            Failure::Http(_) => "http",
            Failure::Fault(_) => "fault",
            Failure::Status { .. } => "status",
            Failure::Malformed(_) => "malformed",
            Failure::Unverified(_) => "signature",
            Failure::Signing(_) => "signing",
            Failure::Verifier(_) => "verifier",
            Failure::DeadlineExceeded => "deadline",
            Failure::CircuitOpen => "circuit_open",
            Failure::Overloaded(_) => "overloaded",
            Failure::ConsentRefused { .. } => "consent_refused",
            Failure::Rejected { .. } => "rejected",
        }
    }

    /// The kind of failure as a caller may be told it: no URL, OS error or registry text
    /// (those stay in the gateway's log).
    pub fn kind(&self) -> String {
        match self {
            Failure::Connect(_) => "connection failed".into(),
            Failure::Timeout(d) => format!("no answer within {d:?}"),
            Failure::Http(code) => format!("HTTP status {code}"),
            Failure::Fault(_) => "SOAP fault".into(),
            Failure::Status { .. } => "error status from the bus".into(),
            Failure::Malformed(_) => "malformed answer".into(),
            Failure::Unverified(_) => {
                "answer refused: not verified as this registry's answer to this request".into()
            }
            Failure::Signing(_) => "the request could not be signed".into(),
            Failure::Verifier(_) => "the answer could not be verified (external verifier)".into(),
            Failure::DeadlineExceeded => "no answer before the caller's deadline".into(),
            Failure::CircuitOpen => "circuit breaker open after repeated failures".into(),
            Failure::Overloaded(d) => format!(
                "the gateway is at its limit of concurrent calls to it (no call slot within {d:?})"
            ),
            Failure::ConsentRefused { .. } => "consent token refused".into(),
            Failure::Rejected { .. } => "the registry refused the request as invalid".into(),
        }
    }

    /// Whether the same call may succeed if repeated soon.
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Connect(_)
            | Failure::Timeout(_)
            | Failure::CircuitOpen
            | Failure::Signing(_)
            | Failure::Verifier(_) => true,
            Failure::Http(code) => *code >= 500,
            Failure::Status { transient, .. } => *transient,
            Failure::Fault(_)
            | Failure::Malformed(_)
            | Failure::Unverified(_)
            | Failure::DeadlineExceeded
            | Failure::Overloaded(_)
            | Failure::ConsentRefused { .. }
            | Failure::Rejected { .. } => false,
        }
    }

    /// Whether this says something about the registry's health (its circuit breaker counts
    /// it). The caller's clock, the gateway's own queue, the open breaker itself and a refused
    /// consent (the registry answered: not for this token) and a request the registry refused
    /// as invalid (the caller's input) do not.
    pub fn is_registry_failure(&self) -> bool {
        !matches!(
            self,
            Failure::DeadlineExceeded
                | Failure::CircuitOpen
                | Failure::Overloaded(_)
                | Failure::ConsentRefused { .. }
                | Failure::Rejected { .. }
                | Failure::Signing(_)
                | Failure::Verifier(_)
        )
    }

    /// Whether a stale cached answer may stand in for this failure: only when the registry
    /// could not answer, never when the caller's deadline ran out, GBD FL refused the
    /// caller's consent or the registry refused the caller's request.
    pub fn allows_stale(&self) -> bool {
        !matches!(
            self,
            Failure::DeadlineExceeded | Failure::ConsentRefused { .. } | Failure::Rejected { .. }
        )
    }
}

pub type RegistryResult<T> = Result<Fetched<T>, RegistryError>;

/// Longest registry-provided text kept (in a failure, hence in a log line), in characters.
pub const MAX_REGISTRY_TEXT: usize = 300;

/// Registry-provided text (a fault string, a status message, a transport error) as the
/// gateway's log may quote it: at most [`MAX_REGISTRY_TEXT`] characters, control characters
/// as spaces, 12-digit runs (IINs) masked, every URL (`scheme://…` up to the next space)
/// replaced by `<url>`, and the value of a `key=value` or `key: value` whose key looks like a
/// credential (`apikey`, `token`, `password`, `secret`, `signature`, `auth`…) by `***`, as is
/// the word after `Bearer`/`Basic`.
pub fn registry_text(text: &str) -> String {
    let text: String = crate::iin::scrub(text)
        .chars()
        .take(4 * MAX_REGISTRY_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut mask_next = false;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = word.to_ascii_lowercase();
        let scheme = matches!(lower.as_str(), "bearer" | "basic");
        if std::mem::take(&mut mask_next) && !word.is_empty() && !scheme {
            out.push_str("***");
            continue;
        }
        mask_next = scheme || (lower.ends_with(':') && is_secret_key(&lower[..lower.len() - 1]));
        out.push_str(&mask_word(word));
    }
    out.chars().take(MAX_REGISTRY_TEXT).collect()
}

/// One space-free word of registry text, its URL or credential masked.
fn mask_word(word: &str) -> std::borrow::Cow<'_, str> {
    if let Some(at) = word.find("://") {
        let scheme_start = word[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
            .map_or(0, |i| i + 1);
        return format!("{}<url>", &word[..scheme_start]).into();
    }
    if !word.contains('=') {
        return word.into();
    }
    let mut out = String::with_capacity(word.len());
    for (i, pair) in word.split(['&', ';', ',']).enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if is_secret_key(&key.to_ascii_lowercase()) => {
                out.push_str(key);
                out.push_str("=***");
            }
            _ => out.push_str(pair),
        }
    }
    out.into()
}

fn is_secret_key(key: &str) -> bool {
    let key = key.trim_start_matches(['?', '"', '\'', '(']);
    [
        "key",
        "token",
        "pass",
        "pwd",
        "secret",
        "auth",
        "signature",
        "sig",
        "credential",
        "session",
        "cookie",
    ]
    .iter()
    .any(|k| key.contains(k))
}

/// Every registry over SHEP, as configured, signing and verifying per `security`.
pub fn over_shep(
    endpoints: &Endpoints,
    shep: Arc<ShepConfig>,
    codes: Arc<CodeTables>,
    security: &signing::Security,
) -> Result<Registries, crate::BoxError> {
    struct OverShep<'a> {
        http: reqwest::Client,
        endpoints: &'a Endpoints,
        shep: Arc<ShepConfig>,
        codes: Arc<CodeTables>,
        security: &'a signing::Security,
    }
    impl MakeLookup for OverShep<'_> {
        fn make<T: Payload>(&mut self) -> Arc<dyn Lookup<T>> {
            let registry = T::REGISTRY;
            let endpoint = self.endpoints[registry].clone();
            let mut client =
                ShepClient::new(registry, self.http.clone(), endpoint, self.shep.clone())
                    .with_verifier(self.security.verifier());
            if let Some(signer) = self.security.signer(registry) {
                client = client.with_signer(signer);
            }
            Arc::new(ShepLookup::<T>::new(client, self.codes.clone()))
        }
    }
    Ok(Registries::build(&mut OverShep {
        http: signing::bus_client(&shep)?,
        endpoints,
        shep,
        codes,
        security,
    }))
}

/// `true` when a record that runs from `since` to `until` (inclusive, open-ended when `None`)
/// is in force on `date`.
pub fn in_force(since: NaiveDate, until: Option<NaiveDate>, date: NaiveDate) -> bool {
    since <= date && until.is_none_or(|u| date <= u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_text_in_a_log_line_is_bounded_and_masked() {
        let t = registry_text(
            "see https://shep.kz:8443/bip?apikey=s3cr3t for 860314310210; apikey=abc&x=1 \
             token: zz Authorization: Bearer eyJabc pass=p\u{1}w ok",
        );
        for leak in [
            "shep.kz",
            "s3cr3t",
            "860314310210",
            "abc",
            "zz",
            "eyJabc",
            "p\u{1}w",
        ] {
            assert!(!t.contains(leak), "{leak} in {t}");
        }
        assert!(
            t.contains("<url>") && t.contains("apikey=***") && t.contains("x=1"),
            "{t}"
        );
        assert!(t.ends_with(" ok"), "{t}");
        assert_eq!(
            registry_text(&"é".repeat(5000)).chars().count(),
            MAX_REGISTRY_TEXT
        );
    }

    #[test]
    fn every_registry_has_one_answer_type() {
        struct Count(PerRegistry<u32>);
        impl PayloadVisitor for Count {
            fn visit<T: Payload>(&mut self) {
                self.0[T::REGISTRY] += 1;
            }
        }
        let mut count = Count(PerRegistry::default());
        for_each_payload(&mut count);
        for (registry, n) in count.0.iter() {
            assert_eq!(*n, 1, "{registry}");
        }
    }
}
