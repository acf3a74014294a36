//! Signed SHEP messages: WS-Security signatures on every request, verified signatures on
//! every answer, and the HTTPS client to the bus.
//!
//! The cryptography and canonicalization live in the `shep-wss` crate (shared with the
//! mocks); this module is the gateway's side of it: the `[shep.signing]` and `[shep.tls]`
//! configuration, the two [`EnvelopeSigner`]s (`pkcs12`: an RSA key from a PKCS#12 file, signing
//! in-process; `http`: an external signing service, for GOST keys in a hardware module or a
//! Kalkan service), the [`AnswerVerifier`], and their metrics.
//!
//! Keys are read when the registries are built: at start and on every reload (SIGHUP), so a
//! rotated key file is picked up without a restart. A signing certificate that is expired or
//! not yet valid stops the start (or the reload, which then changes nothing). The PKCS#12
//! password comes from an environment variable or a file, never from the configuration file;
//! neither the key nor the password appears in `Debug`, logs or errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use shep_wss::{Credentials, Signed, TrustStore, Verdict, VerifyOptions};

use super::shep::EnvelopeSigner;
use super::ShepConfig;
use super::{Failure, Refusal, Registry};
use crate::validate::{Invalid, Validate};
use crate::BoxError;

/// `[shep.signing]`: how requests are signed and answers verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShepSigningConfig {
    /// `pkcs12` (default): sign in-process with the key of `pkcs12`; `http`: POST each
    /// envelope to the external signer `[shep.signing.http]`.
    #[serde(default)]
    pub signer: SignerKind,
    /// PKCS#12 file with the sender's RSA key and certificate (NCA RK).
    #[serde(default)]
    pub pkcs12: Option<PathBuf>,
    /// Name of the environment variable holding the PKCS#12 password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the PKCS#12 password (a trailing newline is ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The external signer, for `signer = "http"`.
    #[serde(default)]
    pub http: Option<HttpSignerConfig>,
    /// How long a request's `wsu:Timestamp` is valid (`Expires - Created`).
    #[serde(default = "default_timestamp_ttl", with = "humantime_serde")]
    pub timestamp_ttl: Duration,
    /// `required` (default): an answer without a valid signature is refused; `if_present`:
    /// unsigned answers are accepted, signed ones must verify; `off`: not checked.
    #[serde(default)]
    pub verify_responses: VerifyResponses,
    /// Who checks answers' signatures: `builtin` (default; RSA-SHA256 in-process) or `http`,
    /// the external crypto service's `verify_url` (GOST signatures). Either way the gateway
    /// itself checks the signer's chain and pin, the timestamp against the request, and reads
    /// only the canonical Body the signature covers.
    #[serde(default)]
    pub verify_with: VerifyWith,
    /// PEM bundle of the CAs that answers' signers must chain to (NCA RK roots and
    /// intermediates). Required unless `verify_responses = "off"`. Which certificate may sign
    /// which registry's answers is `[registries.<key>] answer_signers`.
    #[serde(default)]
    pub trust_store: Option<PathBuf>,
    /// Certificate revocation lists (DER or PEM files, e.g. NCA RK's), read at start and on
    /// every reload (SIGHUP); a signer or CA they list is refused. The gateway fetches nothing.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// Clock difference tolerated between the gateway and the bus on answers' timestamps: an
    /// answer signed more than this before its request was sent, or used more than this after
    /// its own `Expires`, is refused.
    #[serde(default = "default_skew", with = "humantime_serde")]
    pub max_clock_skew: Duration,
    /// An answer whose timestamp was created longer ago than this is refused.
    #[serde(default = "default_max_age", with = "humantime_serde")]
    pub max_answer_age: Duration,
    /// Per-registry senders, where the bus registered several: any key given here replaces
    /// the one above for that registry (`[shep.signing.registries.gbd_fl] pkcs12 = ...`).
    #[serde(default)]
    pub registries: BTreeMap<String, SignerOverride>,
}

fn default_timestamp_ttl() -> Duration {
    Duration::from_secs(300)
}
fn default_skew() -> Duration {
    Duration::from_secs(30)
}
fn default_max_age() -> Duration {
    Duration::from_secs(60)
}

/// One registry's own sender key or signer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignerOverride {
    pub signer: Option<SignerKind>,
    pub pkcs12: Option<PathBuf>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub http: Option<HttpSignerConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerKind {
    #[default]
    Pkcs12,
    Http,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyWith {
    #[default]
    Builtin,
    Http,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyResponses {
    #[default]
    Required,
    IfPresent,
    Off,
}

/// An external signing service: `POST url` with the unsigned envelope (`text/xml`), answered
/// `200` with the signed envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSignerConfig {
    pub url: String,
    /// The same service's verification endpoint, for `verify_with = "http"`: `POST` of an
    /// answer as received (`text/xml`), answered `200` with a JSON report (docs/security.md).
    #[serde(default)]
    pub verify_url: Option<String>,
    /// Per attempt.
    #[serde(default = "default_signer_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts in all (1: no retry); retried on connection failures, timeouts and 5xx.
    #[serde(default = "default_signer_attempts")]
    pub max_attempts: u32,
}

fn default_signer_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_signer_attempts() -> u32 {
    2
}

/// `[shep.tls]`: HTTPS to the bus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusTls {
    /// PEM bundle of the CAs the bus's server certificate must chain to; when set, the
    /// built-in public roots are not used.
    pub ca_bundle: Option<PathBuf>,
    /// PEM client certificate (chain) and its PEM private key, where the bus asks for one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// The effective signer settings of one registry.
struct Effective<'a> {
    signer: SignerKind,
    pkcs12: Option<&'a PathBuf>,
    password_env: Option<&'a String>,
    password_file: Option<&'a PathBuf>,
    http: Option<&'a HttpSignerConfig>,
    /// Where these settings live, relative to `[shep.signing]`: "" or `registries.<key>`.
    table: String,
}

impl Effective<'_> {
    /// The key of `field` relative to `[shep.signing]`.
    fn key(&self, field: &str) -> String {
        match self.table.as_str() {
            "" => field.to_owned(),
            table => format!("{table}.{field}"),
        }
    }

    /// The full key of `field`, for errors found when the keys are read.
    fn full_key(&self, field: &str) -> String {
        format!("shep.signing.{}", self.key(field))
    }
}

impl ShepSigningConfig {
    fn effective(&self, registry: Registry) -> Effective<'_> {
        match self.registries.get(registry.key()) {
            Some(o) => Effective {
                signer: o.signer.unwrap_or(self.signer),
                pkcs12: o.pkcs12.as_ref().or(self.pkcs12.as_ref()),
                password_env: o.password_env.as_ref().or(if o.password_file.is_some() {
                    None
                } else {
                    self.password_env.as_ref()
                }),
                password_file: o.password_file.as_ref().or(if o.password_env.is_some() {
                    None
                } else {
                    self.password_file.as_ref()
                }),
                http: o.http.as_ref().or(self.http.as_ref()),
                table: format!("registries.{}", registry.key()),
            },
            None => Effective {
                signer: self.signer,
                pkcs12: self.pkcs12.as_ref(),
                password_env: self.password_env.as_ref(),
                password_file: self.password_file.as_ref(),
                http: self.http.as_ref(),
                table: String::new(),
            },
        }
    }
}

/// Static rules (files are read later, at start and reload).
impl Validate for ShepSigningConfig {
    fn validate(&self) -> Result<(), Invalid> {
        for key in self.registries.keys() {
            if let Err(unknown) = key.parse::<Registry>() {
                return Err(Invalid::new(
                    format!("registries.{key}"),
                    unknown.to_string(),
                ));
            }
        }
        for registry in Registry::ALL {
            self.effective(registry).validate()?;
        }
        if self.verify_with == VerifyWith::Http
            && self.verify_responses != VerifyResponses::Off
            && self
                .http
                .as_ref()
                .and_then(|h| h.verify_url.as_ref())
                .is_none()
        {
            return Err(Invalid::new(
                "http.verify_url",
                "required with verify_with = \"http\"",
            ));
        }
        if self.verify_responses != VerifyResponses::Off && self.trust_store.is_none() {
            return Err(Invalid::new(
                "trust_store",
                "required unless verify_responses = \"off\"",
            ));
        }
        if self.timestamp_ttl < Duration::from_secs(1) {
            return Err(Invalid::new("timestamp_ttl", "must be at least 1s"));
        }
        Ok(())
    }
}

impl Effective<'_> {
    /// One registry's signer settings, keys relative to `[shep.signing]`.
    fn validate(&self) -> Result<(), Invalid> {
        match self.signer {
            SignerKind::Pkcs12 if self.pkcs12.is_none() => Err(Invalid::new(
                self.key("pkcs12"),
                "required with signer = \"pkcs12\"",
            )),
            SignerKind::Pkcs12 if self.password_env.is_some() == self.password_file.is_some() => {
                Err(Invalid::new(
                    self.key("password_env"),
                    "give exactly one of password_env and password_file (the password itself \
                     never goes in the configuration file)",
                ))
            }
            SignerKind::Pkcs12 => Ok(()),
            SignerKind::Http => match self.http {
                None => Err(Invalid::new(
                    self.key("http"),
                    "required with signer = \"http\"",
                )),
                Some(http) => http.validate().map_err(|e| e.under(&self.key("http"))),
            },
        }
    }
}

impl Validate for HttpSignerConfig {
    fn validate(&self) -> Result<(), Invalid> {
        let ok = |url: &str| {
            reqwest::Url::parse(url)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false)
        };
        if !ok(&self.url) {
            return Err(Invalid::new("url", "must be an http:// or https:// URL"));
        }
        if self.verify_url.as_deref().is_some_and(|u| !ok(u)) {
            return Err(Invalid::new(
                "verify_url",
                "must be an http:// or https:// URL",
            ));
        }
        if self.max_attempts == 0 {
            return Err(Invalid::new("max_attempts", "must be at least 1"));
        }
        if self.timeout.is_zero() {
            return Err(Invalid::new("timeout", "must be more than 0"));
        }
        Ok(())
    }
}

/// Keys the gateway uses with its embedded mocks (generated at start, see
/// `registry_mocks::signing`).
pub struct DemoKeys {
    pub credentials: Credentials,
    pub trust: TrustStore,
}

/// What the registries are built with: one signer per registry and the answer verifier.
#[derive(Clone, Default)]
pub struct Security {
    signers: BTreeMap<Registry, Arc<dyn EnvelopeSigner>>,
    verifier: Option<Arc<AnswerVerifier>>,
}

impl Security {
    /// No signing, no verification (configured registries without `[shep.signing]`).
    pub fn none() -> Security {
        Security::default()
    }

    /// The embedded mocks' demo keys: every request signed, every answer's signature required.
    pub fn demo(keys: DemoKeys) -> Security {
        let credentials = Arc::new(keys.credentials);
        tracing::info!(
            subject = credentials.subject(),
            "SHEP requests signed and answers verified with demo keys generated at start"
        );
        publish_expiry(
            Registry::ALL
                .iter()
                .map(|r| (*r, credentials.not_after().timestamp()))
                .collect(),
        );
        let signer: Arc<dyn EnvelopeSigner> = Arc::new(Pkcs12Signer {
            credentials,
            ttl: default_timestamp_ttl(),
        });
        Security {
            signers: Registry::ALL.iter().map(|r| (*r, signer.clone())).collect(),
            verifier: Some(Arc::new(AnswerVerifier {
                mode: VerifyResponses::Required,
                trust: keys.trust,
                options: VerifyOptions {
                    max_skew: default_skew(),
                    max_age: default_max_age(),
                    sent_at: None,
                },
                remote: None,
            })),
        }
    }

    /// Reads the keys, passwords and trust store of `shep.signing` (none: no signing).
    /// Refuses a signing certificate outside its validity.
    pub fn from_config(shep: &ShepConfig) -> Result<Security, BoxError> {
        let Some(signing) = &shep.signing else {
            publish_expiry(BTreeMap::new());
            return Ok(Security::none());
        };
        signing
            .validate()
            .map_err(|e| e.under("shep.signing").to_string())?;
        let now = chrono::Utc::now();
        let mut signers: BTreeMap<Registry, Arc<dyn EnvelopeSigner>> = BTreeMap::new();
        let mut expiry = BTreeMap::new();
        // Registries sharing one key file share one loaded key.
        let mut loaded: Vec<(PathBuf, Arc<Credentials>)> = Vec::new();
        for registry in Registry::ALL {
            let e = signing.effective(registry);
            let signer: Arc<dyn EnvelopeSigner> = match e.signer {
                SignerKind::Pkcs12 => {
                    let path = e.pkcs12.expect("checked");
                    let credentials = match loaded.iter().find(|(p, _)| p == path) {
                        Some((_, c)) => c.clone(),
                        None => {
                            let c = Arc::new(load_pkcs12(&e)?);
                            c.check_validity(now).map_err(|err| {
                                format!("{} ({}): {err}", e.full_key("pkcs12"), path.display())
                            })?;
                            loaded.push((path.clone(), c.clone()));
                            c
                        }
                    };
                    expiry.insert(registry, credentials.not_after().timestamp());
                    Arc::new(Pkcs12Signer {
                        credentials,
                        ttl: signing.timestamp_ttl,
                    })
                }
                SignerKind::Http => Arc::new(HttpSigner::new(e.http.expect("checked"))?),
            };
            signers.insert(registry, signer);
        }
        for (path, c) in &loaded {
            tracing::info!(
                file = %path.display(),
                subject = c.subject(),
                not_after = %c.not_after(),
                "SHEP signing key loaded"
            );
        }
        publish_expiry(expiry);
        let verifier = answer_verifier(signing)?;
        Ok(Security { signers, verifier })
    }

    pub fn signer(&self, registry: Registry) -> Option<Arc<dyn EnvelopeSigner>> {
        self.signers.get(&registry).cloned()
    }

    pub fn verifier(&self) -> Option<Arc<AnswerVerifier>> {
        self.verifier.clone()
    }
}

/// The verifier of answers `signing` asks for (`None`: not verified): the trust store and its
/// CRLs read now, the external verifier where `verify_with = "http"`.
fn answer_verifier(signing: &ShepSigningConfig) -> Result<Option<Arc<AnswerVerifier>>, BoxError> {
    Ok(match signing.verify_responses {
        VerifyResponses::Off => None,
        mode => {
            let path = signing.trust_store.as_ref().expect("checked");
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "shep.signing.trust_store: cannot read {}: {e}",
                    path.display()
                )
            })?;
            let trust = TrustStore::from_pem(&pem)
                .map_err(|e| format!("shep.signing.trust_store ({}): {e}", path.display()))?;
            let trust = with_crls(trust, &signing.crl_files)?;
            let remote = match signing.verify_with {
                VerifyWith::Builtin => None,
                VerifyWith::Http => Some(RemoteVerifier::new(
                    signing.http.as_ref().expect("checked"),
                )?),
            };
            Some(Arc::new(AnswerVerifier {
                mode,
                trust,
                options: VerifyOptions {
                    max_skew: signing.max_clock_skew,
                    max_age: signing.max_answer_age,
                    sent_at: None,
                },
                remote,
            }))
        }
    })
}

/// `trust` with the CRLs of `files`, read now.
fn with_crls(trust: TrustStore, files: &[PathBuf]) -> Result<TrustStore, BoxError> {
    let mut contents = Vec::with_capacity(files.len());
    for (i, path) in files.iter().enumerate() {
        contents.push(std::fs::read(path).map_err(|e| {
            format!(
                "shep.signing.crl_files[{i}]: cannot read {}: {e}",
                path.display()
            )
        })?);
    }
    let trust = trust
        .with_crls(&contents)
        .map_err(|e| format!("shep.signing.crl_files: {e}"))?;
    if !files.is_empty() {
        tracing::info!(
            crls = trust.crl_count(),
            "SHEP answer signers checked against CRLs"
        );
    }
    Ok(trust)
}

fn load_pkcs12(e: &Effective) -> Result<Credentials, BoxError> {
    let path = e.pkcs12.expect("checked");
    let password = match (e.password_env, e.password_file) {
        (Some(var), _) => std::env::var(var).map_err(|_| {
            format!(
                "{}: the environment variable {var} is not set (or not UTF-8)",
                e.full_key("password_env")
            )
        })?,
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file).map_err(|err| {
                format!(
                    "{}: cannot read {}: {err}",
                    e.full_key("password_file"),
                    file.display()
                )
            })?;
            text.strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text)
                .to_owned()
        }
        (None, None) => unreachable!("checked"),
    };
    let bytes = std::fs::read(path).map_err(|err| {
        format!(
            "{}: cannot read {}: {err}",
            e.full_key("pkcs12"),
            path.display()
        )
    })?;
    Credentials::from_pkcs12(&bytes, &password)
        .map_err(|err| format!("{} ({}): {err}", e.full_key("pkcs12"), path.display()).into())
}

/// Signs in-process with an RSA key (RSA-SHA256; about a millisecond per request for 2048
/// bits, done on the calling task).
pub struct Pkcs12Signer {
    credentials: Arc<Credentials>,
    ttl: Duration,
}

#[async_trait::async_trait]
impl EnvelopeSigner for Pkcs12Signer {
    async fn sign(&self, envelope: String) -> Result<String, String> {
        let started = Instant::now();
        let now = chrono::Utc::now();
        // A certificate that expired while the gateway runs: the bus would refuse the request,
        // so it is not sent (renew the key file and reload).
        let signed = self
            .credentials
            .check_validity(now)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                shep_wss::sign_envelope(&envelope, &self.credentials, now, self.ttl)
                    .map_err(|e| e.to_string())
            });
        metrics::histogram!(SIGN_DURATION, "signer" => "pkcs12")
            .record(started.elapsed().as_secs_f64());
        metrics::counter!(SIGN_TOTAL, "signer" => "pkcs12", "outcome" => if signed.is_ok() { "ok" } else { "error" })
            .increment(1);
        signed
    }
}

/// The HTTP client to the external crypto service (signing, and verifying GOST answers).
fn service_client() -> Result<reqwest::Client, BoxError> {
    Ok(reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?)
}

/// `POST`s an envelope (`text/xml`) to the crypto service, within `timeout`.
async fn post_xml(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    envelope: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    client
        .post(url)
        .timeout(timeout)
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(envelope.to_owned())
        .send()
        .await
}

/// Signs through an external HTTP service (GOST keys in an HSM or a Kalkan service).
pub struct HttpSigner {
    client: reqwest::Client,
    url: String,
    timeout: Duration,
    max_attempts: u32,
}

impl HttpSigner {
    fn new(config: &HttpSignerConfig) -> Result<HttpSigner, BoxError> {
        Ok(HttpSigner {
            client: service_client()?,
            url: config.url.clone(),
            timeout: config.timeout,
            max_attempts: config.max_attempts,
        })
    }

    async fn attempt(&self, envelope: &str) -> Result<String, (bool, String)> {
        let response = post_xml(&self.client, &self.url, self.timeout, envelope)
            .await
            .map_err(|e| {
                let what = if e.is_timeout() {
                    format!("no answer within {:?}", self.timeout)
                } else {
                    "connection failed".to_owned()
                };
                (true, format!("external signer: {what}"))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err((
                status.is_server_error(),
                format!("external signer: HTTP status {}", status.as_u16()),
            ));
        }
        let signed = response
            .text()
            .await
            .map_err(|_| (true, "external signer: answer cut off".to_owned()))?;
        let doc = roxmltree::Document::parse(&signed)
            .map_err(|_| (false, "external signer: the answer is not XML".to_owned()))?;
        let has_security = doc
            .descendants()
            .any(|n| n.has_tag_name((shep_wss::dsig::WSSE_NS, "Security")));
        if !has_security {
            return Err((
                false,
                "external signer: the answer has no wsse:Security header".to_owned(),
            ));
        }
        // The signer must sign what it was given: the Body's content, canonicalized, is the
        // same in both (the signer adds an Id to the Body element itself).
        if body_content(envelope).ok() != Some(body_content_of(&doc, &signed)?) {
            return Err((
                false,
                "external signer: the signed envelope's Body differs from the one sent".to_owned(),
            ));
        }
        Ok(signed)
    }
}

/// The canonical form of the SOAP Body's child elements.
fn body_content(envelope: &str) -> Result<String, (bool, String)> {
    let doc = roxmltree::Document::parse(envelope)
        .map_err(|_| (false, "the envelope is not XML".to_owned()))?;
    body_content_of(&doc, envelope)
}

fn body_content_of(doc: &roxmltree::Document, source: &str) -> Result<String, (bool, String)> {
    let body = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name((shep_wss::dsig::SOAP_NS, "Body")))
        .ok_or((false, "external signer: no SOAP Body".to_owned()))?;
    let mut out = String::new();
    for child in body.children().filter(|n| n.is_element()) {
        out.push_str(
            &shep_wss::c14n::node(source, child, &[])
                .map_err(|e| (false, format!("external signer: {e}")))?,
        );
    }
    Ok(out)
}

#[async_trait::async_trait]
impl EnvelopeSigner for HttpSigner {
    async fn sign(&self, envelope: String) -> Result<String, String> {
        let started = Instant::now();
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            match self.attempt(&envelope).await {
                Ok(signed) => break Ok(signed),
                Err((retryable, e)) if retryable && attempt < self.max_attempts => {
                    metrics::counter!(SIGN_TOTAL, "signer" => "http", "outcome" => "retry")
                        .increment(1);
                    tracing::debug!(error = %e, attempt, "external signer failed; retrying");
                }
                Err((_, e)) => break Err(e),
            }
        };
        metrics::histogram!(SIGN_DURATION, "signer" => "http")
            .record(started.elapsed().as_secs_f64());
        metrics::counter!(SIGN_TOTAL, "signer" => "http", "outcome" => if result.is_ok() { "ok" } else { "error" })
            .increment(1);
        result
    }
}

/// Checks answers' signatures (`verify_responses`), in-process or through the external
/// crypto service (`verify_with`).
pub struct AnswerVerifier {
    mode: VerifyResponses,
    trust: TrustStore,
    options: VerifyOptions,
    remote: Option<RemoteVerifier>,
}

impl AnswerVerifier {
    /// Signed answers required, chaining to `trust`, with these clock rules.
    pub fn required(trust: TrustStore, max_skew: Duration, max_age: Duration) -> AnswerVerifier {
        AnswerVerifier {
            mode: VerifyResponses::Required,
            trust,
            options: VerifyOptions {
                max_skew,
                max_age,
                sent_at: None,
            },
            remote: None,
        }
    }

    /// Asks the external verifier about `envelope`, when answers are verified there (`None`
    /// otherwise). [`AnswerVerifier::verify`] checks its report.
    pub async fn ask_remote(&self, envelope: &str) -> Option<Result<RemoteReport, Failure>> {
        Some(self.remote.as_ref()?.verify(envelope).await)
    }

    /// Verifies an answer's signature against the trust store, its timestamp against the time
    /// its request was sent: what the signature covers, `None` for an unsigned answer where
    /// `if_present` allows it. Which signer may answer for a registry, and whether the answer
    /// is about the request, the caller checks on what this returns.
    ///
    /// With the external verifier, `remote` is its report on this answer and the canonical
    /// Body received: the signer's chain and the timestamp are checked here all the same, and
    /// the Body it verified must be the one received.
    pub fn verify(
        &self,
        doc: &roxmltree::Document,
        source: &str,
        sent_at: chrono::DateTime<chrono::Utc>,
        remote: Option<(Result<RemoteReport, Failure>, &str)>,
    ) -> Result<Option<Signed>, Failure> {
        let options = VerifyOptions {
            sent_at: Some(sent_at),
            ..self.options.clone()
        };
        let verdict = match remote {
            Some((report, canonical_body)) => self.accept(report?, canonical_body, &options),
            None => {
                shep_wss::verify_envelope(doc, source, &self.trust, chrono::Utc::now(), &options)
            }
        };
        let (reason, detail) = match verdict {
            Ok(Verdict::Signed(signed)) => return Ok(Some(signed)),
            Ok(Verdict::Unsigned) if self.mode == VerifyResponses::IfPresent => return Ok(None),
            Ok(Verdict::Unsigned) => ("missing", "the answer is not signed".to_owned()),
            Err(e) => (e.kind.label(), e.detail),
        };
        Err(Failure::Unverified(Refusal {
            reason,
            detail: crate::iin::scrub(&detail).into_owned(),
        }))
    }
}

impl AnswerVerifier {
    /// The external verifier's report as a verdict: its certificate checked against the
    /// trust store, its times against the request, its Body against the one received.
    fn accept(
        &self,
        report: RemoteReport,
        canonical_body: &str,
        options: &VerifyOptions,
    ) -> Result<Verdict, shep_wss::VerifyError> {
        use shep_wss::{VerifyError, VerifyFailure};
        let fail = |kind, detail: String| VerifyError { kind, detail };
        if !report.valid {
            let reason = report.reason.unwrap_or_default();
            if reason == "unsigned" {
                return Ok(Verdict::Unsigned);
            }
            return Err(fail(
                VerifyFailure::Signature,
                format!(
                    "the external verifier refused the signature: {}",
                    super::registry_text(&reason)
                ),
            ));
        }
        if report.canonical_body != canonical_body {
            return Err(fail(
                VerifyFailure::Structure,
                "the external verifier verified another Body than the one received".into(),
            ));
        }
        let cert = decode_b64(&report.certificate).ok_or_else(|| {
            fail(
                VerifyFailure::Certificate,
                "the reported certificate is not base64".into(),
            )
        })?;
        let now = chrono::Utc::now();
        let signer = self
            .trust
            .check(&cert, now)
            .map_err(|e| fail(VerifyFailure::Certificate, e))?;
        shep_wss::check_times(report.created, report.expires, now, options)?;
        Ok(Verdict::Signed(Signed {
            signer,
            body: report.canonical_body,
            created: report.created,
            expires: report.expires,
        }))
    }
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

/// The external crypto service's word on an answer's signature.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteReport {
    pub valid: bool,
    /// Why not valid (`unsigned` for an answer without a signature).
    #[serde(default)]
    pub reason: Option<String>,
    /// The signer's certificate, base64 DER.
    #[serde(default)]
    pub certificate: String,
    #[serde(default = "epoch")]
    pub created: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
    /// The exclusive canonical form of the Body the signature covers.
    #[serde(default)]
    pub canonical_body: String,
}

fn epoch() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::UNIX_EPOCH
}

/// Verifies answers through the external crypto service (GOST keys): `POST verify_url`.
struct RemoteVerifier {
    client: reqwest::Client,
    url: String,
    timeout: Duration,
}

impl RemoteVerifier {
    fn new(config: &HttpSignerConfig) -> Result<RemoteVerifier, BoxError> {
        Ok(RemoteVerifier {
            client: service_client()?,
            url: config
                .verify_url
                .clone()
                .ok_or("shep.signing.http.verify_url: required")?,
            timeout: config.timeout,
        })
    }

    /// The service's report; a service that does not answer is the gateway's failure
    /// (`Verifier`: transient, not held against the registry), never a verdict on the answer.
    async fn verify(&self, envelope: &str) -> Result<RemoteReport, Failure> {
        let started = Instant::now();
        let result = self.ask(envelope).await;
        metrics::histogram!(REMOTE_VERIFY_DURATION).record(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(r) if r.valid => "valid",
            Ok(_) => "invalid",
            Err(_) => "error",
        };
        metrics::counter!(REMOTE_VERIFY_TOTAL, "outcome" => outcome).increment(1);
        result
    }

    async fn ask(&self, envelope: &str) -> Result<RemoteReport, Failure> {
        let failed = |what: String| {
            Failure::Verifier(format!(
                "the answer could not be verified: the external verifier {what}"
            ))
        };
        let response = post_xml(&self.client, &self.url, self.timeout, envelope)
            .await
            .map_err(|e| {
                failed(if e.is_timeout() {
                    format!("gave no answer within {:?}", self.timeout)
                } else {
                    "is unreachable".into()
                })
            })?;
        if !response.status().is_success() {
            return Err(failed(format!(
                "answered HTTP status {}",
                response.status().as_u16()
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|_| failed("cut its answer off".into()))?;
        serde_json::from_slice::<RemoteReport>(&body)
            .map_err(|_| failed("answered something other than its JSON report".into()))
    }
}

/// The HTTP client to the bus: `[shep.tls]` CA bundle and client certificate.
pub fn bus_client(shep: &ShepConfig) -> Result<reqwest::Client, BoxError> {
    let mut builder = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(60));
    if let Some(tls) = &shep.tls {
        let read = |key: &str, path: &Path| {
            std::fs::read(path)
                .map_err(|e| format!("shep.tls.{key}: cannot read {}: {e}", path.display()))
        };
        if let Some(path) = &tls.ca_bundle {
            let pem = read("ca_bundle", path)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("shep.tls.ca_bundle ({}): {e}", path.display()))?;
            if certs.is_empty() {
                return Err(
                    format!("shep.tls.ca_bundle ({}): no certificate", path.display()).into(),
                );
            }
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
            let mut pem = read("client_cert", cert)?;
            pem.push(b'\n');
            pem.extend(read("client_key", key)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                "shep.tls.client_cert/client_key: not a PEM certificate and private key".to_owned()
            })?;
            builder = builder.identity(identity);
        }
    }
    Ok(builder.build()?)
}

/// `[shep.tls]`: client certificate and key come together.
impl Validate for BusTls {
    fn validate(&self) -> Result<(), Invalid> {
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(Invalid::new(
                "client_cert",
                "client_cert and client_key go together",
            ));
        }
        Ok(())
    }
}

/// Whether a registry URL may be plain `http://`: only to a loopback host (the mocks).
pub fn plain_http_allowed(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

pub const VERIFY_FAILURES: &str = "gateway_shep_answer_signature_failures_total";

/// Why answers are refused (`reason` of [`VERIFY_FAILURES`]): the signature's own checks
/// (`shep_wss::VerifyFailure`), then the binding to the registry and the request.
pub const REFUSAL_REASONS: [&str; 9] = [
    "missing",
    "structure",
    "digest",
    "signature",
    "certificate",
    "timestamp",
    "signer",
    "correlation",
    "subject",
];
pub const SIGN_TOTAL: &str = "gateway_shep_signatures_total";
pub const SIGN_DURATION: &str = "gateway_shep_signing_duration_seconds";
pub const REMOTE_VERIFY_TOTAL: &str = "gateway_shep_external_verifications_total";
pub const REMOTE_VERIFY_DURATION: &str = "gateway_shep_external_verification_duration_seconds";
pub const CERT_EXPIRY: &str = "gateway_signing_certificate_expiry_seconds";

/// Signing certificates' expiry per registry, kept so that they can be published once the
/// metrics recorder is installed (it may come after the registries are built).
static EXPIRY: Mutex<BTreeMap<Registry, i64>> = Mutex::new(BTreeMap::new());

fn publish_expiry(expiry: BTreeMap<Registry, i64>) {
    let mut current = EXPIRY.lock().unwrap_or_else(|p| p.into_inner());
    *current = expiry;
    for registry in Registry::ALL {
        let value = current.get(&registry).copied().unwrap_or(0);
        metrics::gauge!(CERT_EXPIRY, "registry" => registry.key()).set(value as f64);
    }
}

/// Describes this module's metrics and sets them to their starting values (counters at zero).
pub fn describe_metrics() {
    metrics::describe_counter!(
        VERIFY_FAILURES,
        "Registry answers refused: the WS-Security signature did not hold, another certificate than the registry's signed it, or it answers another request or person (by reason)"
    );
    metrics::describe_counter!(
        SIGN_TOTAL,
        "Request signatures made, by signer (pkcs12, http) and outcome (ok, error, retry)"
    );
    metrics::describe_histogram!(
        SIGN_DURATION,
        metrics::Unit::Seconds,
        "Time to sign one request envelope (with the http signer, all attempts)"
    );
    metrics::describe_gauge!(
        CERT_EXPIRY,
        metrics::Unit::Seconds,
        "When the signing certificate used for a registry expires (Unix time; 0: no pkcs12 key)"
    );
    for registry in Registry::ALL {
        for reason in REFUSAL_REASONS {
            metrics::counter!(VERIFY_FAILURES, "registry" => registry.key(), "reason" => reason)
                .absolute(0);
        }
    }
    metrics::describe_counter!(
        REMOTE_VERIFY_TOTAL,
        "Answers sent to the external verifier (verify_with = http), by outcome (valid, invalid, error)"
    );
    metrics::describe_histogram!(
        REMOTE_VERIFY_DURATION,
        metrics::Unit::Seconds,
        "Time the external verifier took for one answer"
    );
    for outcome in ["valid", "invalid", "error"] {
        metrics::counter!(REMOTE_VERIFY_TOTAL, "outcome" => outcome).absolute(0);
    }
    for signer in ["pkcs12", "http"] {
        for outcome in ["ok", "error", "retry"] {
            metrics::counter!(SIGN_TOTAL, "signer" => signer, "outcome" => outcome).absolute(0);
        }
    }
    let current = EXPIRY.lock().unwrap_or_else(|p| p.into_inner()).clone();
    publish_expiry(current);
}
