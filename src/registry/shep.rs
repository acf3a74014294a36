//! The SHEP sync-channel transport shared by every adapter: SOAP 1.1 `SendMessage` over HTTP.
//!
//! A request carries `requestInfo` (messageId, serviceId, messageDate, sender) and the
//! registry's payload in `requestData/data`; the answer carries `responseInfo/status` and
//! `responseData/data`. What a status code means (success, not found, transient) comes from
//! configuration, because the bus's code tables are not public. Production messages are signed
//! (XMLDSig with GOST algorithms); that is the [`EnvelopeSigner`] step, a no-op by default.
//!
//! An answer is an attacker's until proven otherwise ([`AnswerReader`]): bounded by the
//! pre-parse scan, verified (signature, chain, this registry's pinned signer, freshness against
//! the request's send time), then read **only from the canonical form of the signed Body** —
//! comments gone, CDATA and character references plain text, processing instructions refused —
//! and bound to its request (the echoed message id, the subject asked about). All of it runs
//! off the async workers, on a pool as wide as the machine, so a hostile answer slows only its
//! own call.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use quick_xml::escape::escape;
use roxmltree::{Document, Node};

use super::signing::AnswerVerifier;
use super::{Failure, Fetched, MessageId, Refusal, Registry, RegistryError, Source};
use super::{ShepCodes, ShepConfig, ShepEndpoint};

use registry_vocab::shep::{SOAP_NS, TYPES_NS};

/// Signs an outgoing envelope (WS-Security XML-DSig, see [`super::signing`]). Pluggable;
/// [`Unsigned`] when `[shep.signing]` is not configured.
#[async_trait::async_trait]
pub trait EnvelopeSigner: Send + Sync {
    async fn sign(&self, envelope: String) -> Result<String, String>;
}

/// No signature (registries configured without `[shep.signing]`).
pub struct Unsigned;

#[async_trait::async_trait]
impl EnvelopeSigner for Unsigned {
    async fn sign(&self, envelope: String) -> Result<String, String> {
        Ok(envelope)
    }
}

/// One registry's connection to the bus.
#[derive(Clone)]
pub struct ShepClient {
    registry: Registry,
    http: reqwest::Client,
    endpoint: Arc<ShepEndpoint>,
    shep: Arc<ShepConfig>,
    signer: Arc<dyn EnvelopeSigner>,
    /// Checks answers' signatures; `None`: not checked.
    verifier: Option<Arc<AnswerVerifier>>,
}

impl ShepClient {
    pub fn new(
        registry: Registry,
        http: reqwest::Client,
        endpoint: ShepEndpoint,
        shep: Arc<ShepConfig>,
    ) -> ShepClient {
        ShepClient {
            registry,
            http,
            endpoint: Arc::new(endpoint),
            shep,
            signer: Arc::new(Unsigned),
            verifier: None,
        }
    }

    pub fn with_verifier(mut self, verifier: Option<Arc<AnswerVerifier>>) -> ShepClient {
        self.verifier = verifier;
        self
    }

    pub fn with_signer(mut self, signer: Arc<dyn EnvelopeSigner>) -> ShepClient {
        self.signer = signer;
        self
    }

    pub fn registry(&self) -> Registry {
        self.registry
    }

    /// Sends `request_data` (the payload, already XML) for `query` and parses the answer's
    /// `data` element with `parse`, once the answer is verified and bound to the request (its
    /// subject, at `subject` under `data`, must be the query's IIN). `Ok(None)` when the
    /// registry says it has no such record. The callers' remaining time goes along as the SHEP
    /// property `timeoutMs`.
    pub async fn call<T: Send + Sync + 'static>(
        &self,
        request_data: &str,
        query: &super::Query,
        subject: &'static [&'static str],
        parse: impl FnOnce(Node) -> Result<T, String> + Send + 'static,
    ) -> Result<Fetched<Option<T>>, RegistryError> {
        // The W3C trace context of this attempt goes along as HTTP headers and SHEP properties.
        let trace = crate::telemetry::current_trace_context();
        let message_id = uuid::Uuid::new_v4().to_string();
        let sent_at = Utc::now();
        let envelope = self
            .signed_envelope(&message_id, request_data, query, &trace)
            .await
            .map_err(|e| self.fail(e))?;
        let (status, body) = self
            .exchange(envelope, &trace, transport_timeout(query))
            .await
            .map_err(|e| self.fail(e))?;
        // GOST signatures: the external crypto service verifies; everything else is here.
        let remote = match &self.verifier {
            Some(v) if (200..300).contains(&status) => v.ask_remote(&body).await,
            _ => None,
        };
        let reader = AnswerReader {
            remote,
            client: self.clone(),
            request: Request {
                message_id,
                sent_at,
                subject_path: subject,
                subject: query.iin.as_str().into(),
            },
        };
        off_workers(self.registry, move || {
            let mut fetched = reader.read(status, &body, parse)?;
            fetched.source.envelope = Some(Arc::new(super::Envelope::new(body)));
            Ok(fetched)
        })
        .await
        .map_err(|e| self.fail(e))
    }

    /// `failure` as this registry's error, with the retry advice for its kind. A refused
    /// answer is counted and logged here, once (reason and rule, never content).
    fn fail(&self, failure: Failure) -> RegistryError {
        if let Failure::Unverified(refusal) = &failure {
            metrics::counter!(super::signing::VERIFY_FAILURES, "registry" => self.registry.key(), "reason" => refusal.reason)
                .increment(1);
            tracing::warn!(
                registry = self.registry.key(),
                reason = refusal.reason,
                detail = %refusal.detail,
                "registry answer refused: not verified as this registry's answer to this request"
            );
        }
        RegistryError {
            registry: self.registry,
            retry_after: if failure.is_transient() {
                self.shep.retry_after
            } else {
                self.shep.retry_after_permanent
            },
            failure,
        }
    }

    /// The request's envelope, signed: the payload, the trace context and the callers'
    /// remaining time as properties.
    async fn signed_envelope(
        &self,
        message_id: &str,
        request_data: &str,
        query: &super::Query,
        trace: &[(&'static str, String)],
    ) -> Result<String, Failure> {
        let mut properties = trace.to_vec();
        if let Some(deadline) = query.callers_deadline {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            properties.push((TIMEOUT_PROPERTY, left.as_millis().to_string()));
        }
        self.signer
            .sign(self.envelope(message_id, request_data, &properties))
            .await
            .map_err(Failure::Signing)
    }

    /// POSTs `envelope`; the answer's HTTP status and its body, read within the limits.
    async fn exchange(
        &self,
        envelope: String,
        trace: &[(&'static str, String)],
        timeout: Duration,
    ) -> Result<(u16, String), Failure> {
        // The URL may carry credentials (e.g. an API key in its query): never in a text.
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                Failure::Timeout(timeout)
            } else {
                Failure::Connect(scrub(&error_chain(&e.without_url())))
            }
        };
        let mut request = self
            .http
            .post(&self.endpoint.url)
            .timeout(timeout)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", "\"SendMessage\"");
        for (key, value) in trace {
            if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
                request = request.header(*key, value);
            }
        }
        let response = request.body(envelope).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = read_bounded(response, self.limits().max_answer_bytes)
            .await
            .map_err(|e| e.unwrap_or_else(transport))?;
        Ok((status, body))
    }

    /// `[shep.limits]` with this registry's own `max_answer_bytes`.
    fn limits(&self) -> super::limits::AnswerLimits {
        let mut limits = self.shep.limits;
        if let Some(n) = self.endpoint.max_answer_bytes {
            limits.max_answer_bytes = n;
        }
        limits
    }

    fn envelope(&self, message_id: &str, data: &str, trace: &[(&str, String)]) -> String {
        let e = &self.endpoint;
        let date = crate::clock::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z");
        let password = e
            .password
            .as_deref()
            .map(|p| format!("<password>{}</password>", escape(p)))
            .unwrap_or_default();
        let properties: String = trace
            .iter()
            .map(|(key, value)| {
                format!(
                    "<properties><key>{}</key><value>{}</value></properties>",
                    escape(*key),
                    escape(value.as_str())
                )
            })
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><ns2:SendMessage xmlns:ns2="{TYPES_NS}"><request><requestInfo><messageId>{message_id}</messageId><serviceId>{service}</serviceId><messageDate>{date}</messageDate><sender><senderId>{sender}</senderId>{password}</sender>{properties}</requestInfo><requestData><data>{data}</data></requestData></request></ns2:SendMessage></soap:Body></soap:Envelope>"#,
            service = escape(e.service_id.as_str()),
            sender = escape(e.sender_id.as_str()),
        )
    }
}

/// The HTTP exchange's timeout: the attempt's deadline (else the callers'), a little late. The
/// guard enforces the deadline itself; the transport's timer is a backstop set a little later
/// so that it never wins the race and passes the caller's deadline off as a registry timeout.
fn transport_timeout(query: &super::Query) -> Duration {
    query
        .attempt_deadline
        .or(query.callers_deadline)
        .map(|d| d.saturating_duration_since(tokio::time::Instant::now()) + TRANSPORT_SLACK)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// The body of `response`, at most `limit` bytes: a longer one is abandoned at the limit (the
/// connection is dropped with the response) and is a malformed answer. `Err(None)` carries a
/// transport error.
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<String, Result<Failure, reqwest::Error>> {
    let over = || {
        Ok(Failure::Malformed(format!(
            "answer over the limit of {limit} bytes"
        )))
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(over());
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(Err)? {
        let needed = body.len() + chunk.len();
        if needed > limit {
            return Err(over());
        }
        // Grow by doubling, but never past the limit.
        if needed > body.capacity() {
            body.reserve_exact(needed.max(2 * body.capacity()).min(limit) - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| Ok(Failure::Malformed("answer is not UTF-8".into())))
}

/// What an answer must be bound to: the request it answers.
struct Request {
    message_id: String,
    /// When the request left (before it was signed): an answer signed earlier is a replay.
    sent_at: DateTime<Utc>,
    /// Where, under `responseData/data`, the answer names whom it is about.
    subject_path: &'static [&'static str],
    /// The IIN asked about.
    subject: Box<str>,
}

/// Reads one answer for its request: bounded, verified, read from the verified bytes only,
/// bound to the request. Synchronous and linear in the answer's size; run by [`off_workers`].
struct AnswerReader {
    client: ShepClient,
    request: Request,
    /// The external verifier's report on this answer (`verify_with = "http"`).
    remote: Option<Result<super::signing::RemoteReport, Failure>>,
}

impl AnswerReader {
    /// The parsed payload, or the failure the answer is.
    fn read<T>(
        mut self,
        http_status: u16,
        body: &str,
        parse: impl FnOnce(Node) -> Result<T, String>,
    ) -> Result<Fetched<Option<T>>, Failure> {
        self.client
            .limits()
            .scan(body)
            .map_err(Failure::Malformed)?;
        let canonical = self.verified_body(http_status, body)?;
        let doc = Document::parse(&canonical).map_err(|e| {
            Failure::Malformed(format!("the Body's canonical form is not XML ({e})"))
        })?;
        if doc.descendants().any(|n| n.is_pi()) {
            return Err(Failure::Malformed(
                "a processing instruction inside the answer's Body".into(),
            ));
        }
        let response = doc
            .root_element()
            .child_el("SendMessageResponse")
            .and_then(|r| r.child_el("response"))
            .ok_or_else(|| Failure::Malformed("no SendMessageResponse/response".into()))?;
        let info = response
            .child_el("responseInfo")
            .ok_or_else(|| Failure::Malformed("no responseInfo".into()))?;
        self.check_echo(info)?;
        let source = Source {
            message_id: MessageId::from(info.text_of("messageId").unwrap_or_default()),
            fetched_at: Utc::now(),
            from_cache: false,
            stale: false,
            age: Duration::ZERO,
            envelope: None,
        };
        let value = match self.status(info)? {
            Answered::Data => {
                let data = response
                    .child_el("responseData")
                    .and_then(|d| d.child_el("data"))
                    .ok_or_else(|| Failure::Malformed("no responseData/data".into()))?;
                self.check_subject(data)?;
                Some(parse(data).map_err(Failure::Malformed)?)
            }
            Answered::NotFound => None,
        };
        Ok(Fetched::new(value, source))
    }

    /// The canonical form of the answer's Body: what its signature covers, verified (or,
    /// unsigned where that is allowed, the Body's canonical form all the same, so that reading
    /// never sees a comment or a CDATA boundary). SOAP faults and HTTP errors first.
    fn verified_body(&mut self, http_status: u16, body: &str) -> Result<String, Failure> {
        let doc = match Document::parse(body) {
            Ok(doc) => doc,
            Err(_) if !(200..300).contains(&http_status) => return Err(Failure::Http(http_status)),
            Err(e) => return Err(Failure::Malformed(format!("not XML ({e})"))),
        };
        let root = doc.root_element();
        let mut bodies = root.children_named("Body");
        let body_el = bodies
            .next()
            .ok_or_else(|| Failure::Malformed("no SOAP Body".into()))?;
        if bodies.next().is_some() {
            return Err(Failure::Malformed("more than one SOAP Body".into()));
        }
        if let Some(fault) = body_el.child_el("Fault") {
            return Err(fault_failure(fault, &self.client.shep.status_codes));
        }
        if !(200..300).contains(&http_status) {
            return Err(Failure::Http(http_status));
        }
        let canonical = || {
            shep_wss::c14n::node(body, body_el, &[])
                .map_err(|e| Failure::Malformed(format!("the Body: {e}")))
        };
        let signed = match &self.client.verifier {
            Some(verifier) => {
                let remote = match self.remote.take() {
                    Some(report) => Some((report, canonical()?)),
                    None => None,
                };
                let remote = remote.as_ref().map(|(r, c)| (r.clone(), c.as_str()));
                verifier.verify(&doc, body, self.request.sent_at, remote)?
            }
            None => None,
        };
        match signed {
            Some(signed) => {
                self.check_signer(&signed.signer)?;
                Ok(signed.body)
            }
            None => canonical(),
        }
    }

    /// The signer is one this registry's answers may come from (`answer_signers`).
    fn check_signer(&self, signer: &shep_wss::SignerId) -> Result<(), Failure> {
        let pins = &self.client.endpoint.answer_signers;
        if pins.iter().any(|pin| pin.matches(signer)) {
            return Ok(());
        }
        Err(refused(
            "signer",
            format!(
                "signed by {signer}, which is not {}'s pinned signer (answer_signers: {})",
                self.client.registry,
                if pins.is_empty() {
                    "none configured".to_owned()
                } else {
                    pins.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                }
            ),
        ))
    }

    /// The bus's echo of the request's message id, where it echoes one, is this request's.
    fn check_echo(&self, info: Node) -> Result<(), Failure> {
        let Some(element) = self.client.endpoint.message_id_echo.element() else {
            return Ok(());
        };
        match info.text_of(element) {
            Some(id) if id == self.request.message_id => Ok(()),
            Some(_) => Err(refused(
                "correlation",
                format!("responseInfo/{element} is not the request's messageId: an answer to another request"),
            )),
            None => Err(refused(
                "correlation",
                format!("responseInfo/{element} missing: the answer is not bound to its request"),
            )),
        }
    }

    /// The answer is about whom the request asked about.
    fn check_subject(&self, data: Node) -> Result<(), Failure> {
        let path = self.request.subject_path;
        let mut node = Some(data);
        for name in path {
            node = node.and_then(|n| n.child_el(name));
        }
        let path = path.join("/");
        match node.and_then(|n| n.text()) {
            Some(subject) if subject.trim() == &*self.request.subject => Ok(()),
            Some(_) => Err(refused(
                "subject",
                format!("data/{path} is not the IIN asked about: an answer about another person"),
            )),
            None => Err(refused(
                "subject",
                format!("data/{path} missing: the answer does not say whom it is about"),
            )),
        }
    }

    /// What `responseInfo/status/code` says.
    fn status(&self, info: Node) -> Result<Answered, Failure> {
        let codes = &self.client.shep.status_codes;
        let status = info
            .child_el("status")
            .ok_or_else(|| Failure::Malformed("no responseInfo/status".into()))?;
        let code = status.req("code").map_err(Failure::Malformed)?;
        if codes.ok.iter().any(|c| c == code) {
            Ok(Answered::Data)
        } else if codes.not_found.iter().any(|c| c == code) {
            Ok(Answered::NotFound)
        } else if codes.consent_refused.iter().any(|c| c == code) {
            Err(Failure::ConsentRefused { code: scrub(code) })
        } else if codes.bad_request.iter().any(|c| c == code) {
            Err(Failure::Rejected {
                code: scrub(code),
                message: scrub(status.text_of("message").unwrap_or_default()),
            })
        } else {
            Err(Failure::Status {
                code: scrub(code),
                message: scrub(status.text_of("message").unwrap_or_default()),
                transient: codes.transient.iter().any(|c| c == code),
            })
        }
    }
}

/// What a successful status says the answer holds.
enum Answered {
    Data,
    NotFound,
}

fn refused(reason: &'static str, detail: String) -> Failure {
    Failure::Unverified(Refusal {
        reason,
        detail: crate::iin::scrub(&detail).into_owned(),
    })
}

/// Runs `job` (CPU work on `registry`'s untrusted answer) in that registry's own lane: one
/// thread per registry, at a lower scheduling priority than the async workers (nice 10), so
/// that health checks, cached answers and every other registry's answers never wait behind a
/// costly answer; hostile answers from one registry queue behind each other. A job whose
/// caller has gone is skipped; one that started runs to its end.
async fn off_workers<R: Send + 'static>(
    registry: Registry,
    job: impl FnOnce() -> Result<R, Failure> + Send + 'static,
) -> Result<R, Failure> {
    static LANES: OnceLock<super::PerRegistry<std::sync::Mutex<Lane>>> = OnceLock::new();
    let lanes = LANES
        .get_or_init(|| super::PerRegistry::from_fn(|r| std::sync::Mutex::new(Lane::start(r))));
    let (done, result) = tokio::sync::oneshot::channel();
    let job: LaneJob = Box::new(move || {
        if !done.is_closed() {
            let _ = done.send(job());
        }
    });
    lanes[registry]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send(registry, job);
    result.await.unwrap_or_else(|_| {
        Err(Failure::Malformed(
            "the answer could not be read (its reader stopped)".into(),
        ))
    })
}

type LaneJob = Box<dyn FnOnce() + Send>;

/// Nice 10 for the calling thread (Linux keeps a nice value per thread): under contention the
/// async workers get about ten times its share of a core. Best effort; raising the nice value
/// needs no privilege.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority takes plain integers and touches no memory of ours; `who = 0` is the
    // calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// One registry's answer-reading thread.
struct Lane(std::sync::mpsc::Sender<LaneJob>);

impl Lane {
    fn start(registry: Registry) -> Lane {
        let (jobs, queue) = std::sync::mpsc::channel::<LaneJob>();
        std::thread::Builder::new()
            .name(format!("answers-{}", registry.key()))
            .spawn(move || {
                lower_thread_priority();
                for job in queue {
                    job();
                }
            })
            .expect("a thread for the answers of a registry");
        Lane(jobs)
    }

    /// Queues `job`; a lane whose thread died (a panic in a reader) is started again.
    fn send(&mut self, registry: Registry, job: LaneJob) {
        if let Err(std::sync::mpsc::SendError(job)) = self.0.send(job) {
            *self = Lane::start(registry);
            let _ = self.0.send(job);
        }
    }
}

/// A SOAP fault as a failure: one the registry attributes to the request (`faultcode`
/// `Client` or SOAP 1.2's `Sender`, in any prefix, with or without a dotted subcode), or whose
/// detail code is in `bad_request`, is the caller's ([`Failure::Rejected`]) unless its detail
/// code is one of `gateway_faults` (the gateway's own signature or credentials); any other
/// fault is the registry's.
fn fault_failure(fault: Node, codes: &ShepCodes) -> Failure {
    let text = fault.text_of("faultstring").unwrap_or("no faultstring");
    let faultcode = fault
        .text_of("faultcode")
        .or_else(|| fault.child_el("Code").and_then(|c| c.text_of("Value")))
        .unwrap_or_default();
    let class = faultcode.rsplit(':').next().unwrap_or_default();
    let class = class.split('.').next().unwrap_or_default();
    let detail = fault
        .child_el("detail")
        .and_then(|d| d.children().find(|n| n.is_element()))
        .and_then(|d| d.text_of("code"))
        .unwrap_or_default();
    let callers =
        matches!(class, "Client" | "Sender") || codes.bad_request.iter().any(|c| c == detail);
    if callers && !codes.gateway_faults.iter().any(|c| c == detail) {
        let code = if detail.is_empty() { faultcode } else { detail };
        return Failure::Rejected {
            code: scrub(code),
            message: scrub(text),
        };
    }
    Failure::Fault(scrub(text))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Registry-provided text for an error message: see [`super::registry_text`].
fn scrub(text: &str) -> String {
    super::registry_text(text)
}

/// Reading a payload by local element names. Errors name the element, never its value.
pub trait NodeExt<'a, 'input: 'a> {
    fn child_el(&self, name: &str) -> Option<Node<'a, 'input>>;
    fn children_named(&self, name: &'static str) -> impl Iterator<Item = Node<'a, 'input>>;
    /// Trimmed text of a child element; `None` when absent or empty.
    fn text_of(&self, name: &str) -> Option<&'a str>;
    fn req(&self, name: &str) -> Result<&'a str, String>;
    fn date_of(&self, name: &str) -> Result<Option<NaiveDate>, String>;
    fn req_date(&self, name: &str) -> Result<NaiveDate, String>;
    fn bool_of(&self, name: &str) -> Result<bool, String>;
    fn owned(&self, name: &str) -> String {
        self.text_of(name).unwrap_or_default().to_owned()
    }
}

impl<'a, 'input: 'a> NodeExt<'a, 'input> for Node<'a, 'input> {
    fn child_el(&self, name: &str) -> Option<Node<'a, 'input>> {
        self.children()
            .find(|n| n.is_element() && n.tag_name().name() == name)
    }

    fn children_named(&self, name: &'static str) -> impl Iterator<Item = Node<'a, 'input>> {
        self.children()
            .filter(move |n| n.is_element() && n.tag_name().name() == name)
    }

    fn text_of(&self, name: &str) -> Option<&'a str> {
        self.child_el(name)
            .and_then(|n| n.text())
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    fn req(&self, name: &str) -> Result<&'a str, String> {
        self.text_of(name)
            .ok_or_else(|| format!("{}/{name} missing", self.tag_name().name()))
    }

    fn date_of(&self, name: &str) -> Result<Option<NaiveDate>, String> {
        self.text_of(name)
            .map(|t| {
                NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
                    format!("{}/{name} is not a YYYY-MM-DD date", self.tag_name().name())
                })
            })
            .transpose()
    }

    fn req_date(&self, name: &str) -> Result<NaiveDate, String> {
        self.date_of(name)?
            .ok_or_else(|| format!("{}/{name} missing", self.tag_name().name()))
    }

    fn bool_of(&self, name: &str) -> Result<bool, String> {
        match self.text_of(name) {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(_) => Err(format!(
                "{}/{name} is not a boolean",
                self.tag_name().name()
            )),
        }
    }
}

/// The request payload every registry takes: `<iin>…</iin>`.
pub fn iin_payload(iin: &crate::iin::Iin) -> String {
    format!("<iin>{}</iin>", iin.as_str())
}

/// SHEP property announcing how many milliseconds the callers still wait.
pub use registry_vocab::shep::TIMEOUT_PROPERTY;

/// How much later than the deadline the transport's own timer fires.
const TRANSPORT_SLACK: Duration = Duration::from_millis(250);

/// The HTTP timeout of a call made without a deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::SignerPin;
    use shep_wss::testpki::{TestCa, Validity};

    const ASKED: &str = "061211600012";

    fn envelope(echo: &str, code: &str, data: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><t:SendMessageResponse xmlns:t="{TYPES_NS}"><response><responseInfo><messageId>m-1</messageId><correlationId>{echo}</correlationId><responseDate>2026-01-01T00:00:00+05:00</responseDate><status><code>{code}</code><message>msg 123456789012</message></status></responseInfo><responseData><data>{data}</data></responseData></response></t:SendMessageResponse></s:Body></s:Envelope>"#
        )
    }

    fn ok_body(code: &str, data: &str) -> String {
        envelope("req-1", code, data)
    }

    fn person(iin: &str) -> String {
        format!("<person><iin>{iin}</iin><surname>Doe</surname></person>")
    }

    fn client(verifier: Option<AnswerVerifier>, pins: Vec<SignerPin>) -> ShepClient {
        let mut endpoint = ShepEndpoint::local(Registry::GbdFl, "http://127.0.0.1:1/shep".into());
        endpoint.answer_signers = pins;
        ShepClient::new(
            Registry::GbdFl,
            reqwest::Client::new(),
            endpoint,
            Arc::new(ShepConfig::default()),
        )
        .with_verifier(verifier.map(Arc::new))
    }

    fn reader(client: ShepClient, sent_at: DateTime<Utc>) -> AnswerReader {
        AnswerReader {
            client,
            remote: None,
            request: Request {
                message_id: "req-1".into(),
                sent_at,
                subject_path: &["person", "iin"],
                subject: ASKED.into(),
            },
        }
    }

    /// The surname read from an unsigned answer (no verifier).
    fn read(status: u16, body: &str) -> Result<Fetched<Option<String>>, Failure> {
        reader(client(None, vec![]), Utc::now()).read(status, body, |data| {
            Ok(data.child_el("person").unwrap().owned("surname"))
        })
    }

    #[test]
    fn success_hands_data_to_the_parser() {
        let got = read(200, &ok_body("SCSS001", &person(ASKED))).unwrap();
        assert_eq!(got.value.as_ref().as_deref(), Some("Doe"));
        assert_eq!(got.source.message_id, "m-1");
    }

    #[test]
    fn not_found_code_is_none() {
        let got = read(200, &ok_body("NOTFOUND", "")).unwrap();
        assert!(got.value.is_none());
    }

    #[test]
    fn transient_and_unknown_codes_are_failures_without_personal_data() {
        let e = read(200, &ok_body("TEMP_UNAVAILABLE", "")).unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(!e.to_string().contains("123456789012"), "{e}");
        let e = read(200, &ok_body("WHAT", "")).unwrap_err();
        assert!(!e.is_transient(), "{e}");
        assert!(e.to_string().contains("WHAT"));
    }

    #[test]
    fn a_refused_consent_is_its_own_failure_neither_transient_nor_the_registrys() {
        let e = read(200, &ok_body("KDP_REFUSED", "")).unwrap_err();
        assert!(
            matches!(e, Failure::ConsentRefused { ref code } if code == "KDP_REFUSED"),
            "{e}"
        );
        assert!(!e.is_transient() && !e.is_registry_failure() && !e.allows_stale());
        assert_eq!(e.label(), "consent_refused");
    }

    #[test]
    fn a_fault_the_registry_puts_on_the_request_is_the_callers() {
        let fault = |faultcode: &str, code: &str| {
            format!(
                r#"<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><soap:Fault><faultcode>{faultcode}</faultcode><faultstring>see https://bus.kz/x?apikey=1</faultstring><detail><ns2:F xmlns:ns2="{TYPES_NS}"><code>{code}</code></ns2:F></detail></soap:Fault></soap:Body></soap:Envelope>"#
            )
        };
        for (faultcode, code) in [
            ("soap:Client", "BAD_REQUEST"),
            ("Client", "X"),
            ("SOAP-ENV:Client.Validation", ""),
            ("env:Sender", "X"),
            ("soap:Server", "BAD_REQUEST"),
        ] {
            let e = read(500, &fault(faultcode, code)).unwrap_err();
            assert!(matches!(e, Failure::Rejected { .. }), "{faultcode}: {e}");
            assert!(!e.is_transient() && !e.is_registry_failure() && !e.allows_stale());
            assert!(!e.to_string().contains("apikey=1"), "{e}");
        }
        for (faultcode, code) in [
            ("soap:Server", "SHEP_FAULT"),
            ("soap:Client", "SECURITY_ERROR"),
        ] {
            let e = read(500, &fault(faultcode, code)).unwrap_err();
            assert!(matches!(e, Failure::Fault(_)), "{faultcode}: {e}");
            assert!(e.is_registry_failure());
        }
        let e = read(200, &ok_body("BAD_REQUEST", "")).unwrap_err();
        assert!(matches!(e, Failure::Rejected { .. }), "{e}");
    }

    #[test]
    fn a_second_body_is_malformed_even_unsigned() {
        let two = ok_body("SCSS001", &person(ASKED)).replace(
            "<s:Body>",
            "<s:Body><t:SendMessageResponse xmlns:t=\"urn:x\"/></s:Body><s:Body>",
        );
        let e = read(200, &two).unwrap_err();
        assert!(e.to_string().contains("more than one SOAP Body"), "{e}");
    }

    #[test]
    fn soap_fault_and_http_errors() {
        let fault = format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>bus down</faultstring></s:Fault></s:Body></s:Envelope>"#
        );
        let e = read(500, &fault).unwrap_err();
        assert!(matches!(e, Failure::Fault(ref t) if t == "bus down"), "{e}");
        let e = read(503, "Service Unavailable").unwrap_err();
        assert!(matches!(e, Failure::Http(503)) && e.is_transient());
        let e = read(200, "<oops").unwrap_err();
        assert!(matches!(e, Failure::Malformed(_)) && !e.is_transient());
    }

    #[test]
    fn a_value_is_read_whole_whatever_splits_it_and_a_processing_instruction_is_refused() {
        for split in [
            "0612116<!-- x -->00012",
            "0612116<![CDATA[000]]>12",
            "&#48;61211600012",
            "061211600<!---->0<!---->12",
        ] {
            let body = ok_body("SCSS001", &person(split)).replace("Doe", "D<!-- -->o<![CDATA[e]]>");
            let got = read(200, &body).unwrap_or_else(|e| panic!("{split}: {e}"));
            assert_eq!(got.value.as_ref().as_deref(), Some("Doe"), "{split}");
        }
        let body = ok_body("SCSS001", &person("0612116<?x y?>00012"));
        let e = read(200, &body).unwrap_err();
        assert!(e.to_string().contains("processing instruction"), "{e}");
    }

    #[test]
    fn an_answer_about_another_person_or_to_another_request_is_refused() {
        let e = read(200, &ok_body("SCSS001", &person("980109050588"))).unwrap_err();
        assert!(
            matches!(e, Failure::Unverified(ref r) if r.reason == "subject"),
            "{e}"
        );
        assert!(!e.to_string().contains("980109050588"), "{e}");
        let e = read(
            200,
            &ok_body("SCSS001", "<person><surname>Doe</surname></person>"),
        )
        .unwrap_err();
        assert!(
            matches!(e, Failure::Unverified(ref r) if r.reason == "subject"),
            "{e}"
        );
        for echo in ["req-2", ""] {
            let e = read(200, &envelope(echo, "SCSS001", &person(ASKED))).unwrap_err();
            assert!(
                matches!(e, Failure::Unverified(ref r) if r.reason == "correlation"),
                "{e}"
            );
            assert!(!e.is_transient(), "{e}");
        }
    }

    /// A CA, two registries' keys under it, and a verifier pinned to the first.
    struct Pki {
        registry: shep_wss::Credentials,
        other: shep_wss::Credentials,
        client: ShepClient,
    }

    fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            let ca = TestCa::generate("Test NCA");
            let registry = ca.issue("GBD FL", Validity::Current);
            let other = ca.issue("IS ZAGS", Validity::Current);
            let pin = SignerPin::of(&shep_wss::SignerId::of(&registry.cert_der).unwrap());
            let verifier = AnswerVerifier::required(
                ca.trust_store(),
                Duration::from_secs(30),
                Duration::from_secs(60),
            );
            Pki {
                registry: registry.credentials(),
                other: other.credentials(),
                client: client(Some(verifier), vec![pin]),
            }
        })
    }

    fn signed(by: &shep_wss::Credentials, at: DateTime<Utc>, body: &str) -> String {
        shep_wss::sign_envelope(body, by, at, Duration::from_secs(300)).unwrap()
    }

    fn read_signed(sent_at: DateTime<Utc>, body: &str) -> Result<Option<String>, Failure> {
        reader(pki().client.clone(), sent_at)
            .read(200, body, |data| {
                Ok(data.child_el("person").unwrap().owned("iin"))
            })
            .map(|f| f.value.as_ref().clone())
    }

    #[test]
    fn a_signed_answer_is_read_from_what_was_signed() {
        let now = Utc::now();
        let genuine = signed(&pki().registry, now, &ok_body("SCSS001", &person(ASKED)));
        assert_eq!(read_signed(now, &genuine).unwrap().as_deref(), Some(ASKED));
        // A comment inside the signed value: the signature still holds (c14n drops it), and
        // the value is read whole.
        let commented = genuine.replacen("0612116", "0612116<!---->", 1);
        assert_ne!(commented, genuine);
        assert_eq!(
            read_signed(now, &commented).unwrap().as_deref(),
            Some(ASKED)
        );
        let changed = genuine.replacen("061211600012", "061211600013", 1);
        let e = read_signed(now, &changed).unwrap_err();
        assert!(
            matches!(e, Failure::Unverified(ref r) if r.reason == "digest"),
            "{e}"
        );
    }

    #[test]
    fn only_the_registrys_own_certificate_signs_its_answers() {
        let now = Utc::now();
        let by_other = signed(&pki().other, now, &ok_body("SCSS001", &person(ASKED)));
        let e = read_signed(now, &by_other).unwrap_err();
        assert!(
            matches!(e, Failure::Unverified(ref r) if r.reason == "signer"),
            "{e}"
        );
        assert!(e.to_string().contains("IS ZAGS"), "{e}");
    }

    #[test]
    fn an_answer_signed_before_its_request_was_sent_is_a_replay() {
        let now = Utc::now();
        let old = signed(
            &pki().registry,
            now - chrono::Duration::seconds(40),
            &ok_body("SCSS001", &person(ASKED)),
        );
        let e = read_signed(now, &old).unwrap_err();
        assert!(
            matches!(e, Failure::Unverified(ref r) if r.reason == "timestamp"),
            "{e}"
        );
        assert!(e.to_string().contains("predates the request"), "{e}");
        // Within the clock skew it is the same request's answer.
        let skewed = signed(
            &pki().registry,
            now - chrono::Duration::seconds(20),
            &ok_body("SCSS001", &person(ASKED)),
        );
        assert!(read_signed(now, &skewed).is_ok());
    }

    /// GBD FL's full person payload for [`ASKED`], every field the gateway reads.
    fn full_person() -> String {
        format!(
            "<person><iin>{ASKED}</iin><surname>Ахметов</surname><name>Ерлан</name>\
             <patronymic>Серикович</patronymic><birthDate>2006-12-11</birthDate>\
             <gender>MALE</gender><citizenship>KZ</citizenship>\
             <lifeStatus><code>1</code><nameRu>жив</nameRu></lifeStatus>\
             <personCapableStatus><capableStatus><code>2</code></capableStatus>\
             <capableDate>2019-04-12</capableDate><capableEndDate>2027-04-12</capableEndDate>\
             <capableNumber>2-1234/2019</capableNumber><court>Суд &amp; No. 2</court>\
             </personCapableStatus><regAddress>Астана, ул. Абая 1</regAddress></person>"
        )
    }

    fn read_person(
        sent_at: DateTime<Utc>,
        body: &str,
    ) -> Result<Option<super::super::Person>, Failure> {
        use super::super::{CodeTables, Payload};
        reader(pki().client.clone(), sent_at)
            .read(200, body, |data| {
                <Option<super::super::Person> as Payload>::parse(data, &CodeTables::default())
            })
            .map(|f| f.value.as_ref().clone().flatten())
    }

    /// Byte offsets of the characters of text content inside the signed Body.
    fn text_positions(signed: &str) -> Vec<usize> {
        let body = signed.find("<s:Body").unwrap();
        let mut inside_tag = false;
        let mut positions = Vec::new();
        for (i, c) in signed[body..].char_indices() {
            match c {
                '<' => inside_tag = true,
                '>' => inside_tag = false,
                '&' | ';' => {}
                _ if !inside_tag => positions.push(body + i),
                _ => {}
            }
        }
        positions
    }

    /// What someone on the path may do at one character of a signed value.
    fn mutate(signed: &str, at: usize, kind: u8) -> String {
        let c = signed[at..].chars().next().unwrap();
        let (before, after) = (&signed[..at], &signed[at + c.len_utf8()..]);
        match kind % 7 {
            0 => format!("{before}<!---->{c}{after}"),
            1 => format!("{before}&#{};{after}", c as u32),
            2 => format!("{before}<![CDATA[{c}]]>{after}"),
            3 => format!("{before}<?pi x?>{c}{after}"),
            4 => format!("{before}{}{after}", if c == '1' { '2' } else { '1' }),
            5 => format!("{before}<!-- {c} -->{after}"),
            _ => format!("{before}{c}<x/>{after}"),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// For any mutation of a genuine signed answer, either it is refused or what is read
        /// is exactly what was signed.
        #[test]
        fn a_mutated_signed_answer_is_refused_or_read_as_signed(
            picks in proptest::collection::vec((0usize..10_000, 0u8..7), 1..4)
        ) {
            let now = Utc::now();
            let genuine = signed(&pki().registry, now, &ok_body("SCSS001", &full_person()));
            let original = read_person(now, &genuine).unwrap().expect("a person");
            let mut mutated = genuine.clone();
            for (pick, kind) in picks {
                let positions = text_positions(&mutated);
                mutated = mutate(&mutated, positions[pick % positions.len()], kind);
            }
            if let Ok(read) = read_person(now, &mutated) {
                proptest::prop_assert_eq!(read, Some(original));
            }
        }
    }

    #[test]
    fn trace_context_goes_into_request_info_properties() {
        let client = ShepClient::new(
            Registry::GbdFl,
            reqwest::Client::new(),
            ShepEndpoint {
                url: "http://127.0.0.1:1/shep".into(),
                service_id: "GBDFL_PERSON".into(),
                sender_id: "gw".into(),
                password: None,
                max_answer_bytes: None,
                answer_signers: vec![],
                message_id_echo: Default::default(),
            },
            Arc::new(ShepConfig::default()),
        );
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = [
            ("traceparent", traceparent.to_owned()),
            ("tracestate", "a=<b>&c".to_owned()),
        ];
        let envelope = client.envelope("m-1", "<iin/>", &trace);
        let doc = Document::parse(&envelope).unwrap();
        let properties: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "properties")
            .map(|p| (p.owned("key"), p.owned("value")))
            .collect();
        assert_eq!(
            properties,
            [
                ("traceparent".to_owned(), traceparent.to_owned()),
                ("tracestate".to_owned(), "a=<b>&c".to_owned()),
            ]
        );
        let envelope = client.envelope("m-1", "<iin/>", &[]);
        assert!(!envelope.contains("properties"), "{envelope}");
    }

    #[test]
    fn scrub_removes_twelve_digit_runs_only() {
        assert_eq!(
            scrub("iin 061211600012 not found, code 42"),
            "iin <number> not found, code 42"
        );
        assert_eq!(scrub("20261125"), "20261125");
    }
}
