//! The SHEP sync-channel transport shared by every adapter: SOAP 1.1 `SendMessage` over HTTP.
//!
//! A request carries `requestInfo` (messageId, serviceId, messageDate, sender) and the
//! registry's payload in `requestData/data`; the answer carries `responseInfo/status` and
//! `responseData/data`. What a status code means (success, not found, transient) comes from
//! configuration, because the bus's code tables are not public. Production messages are signed
//! (XMLDSig with GOST algorithms); that is the [`Signer`] step, a no-op by default.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use quick_xml::escape::escape;
use roxmltree::{Document, Node};

use super::{Failure, Fetched, MessageId, Registry, RegistryError, Source};
use super::{ShepCodes, ShepConfig, ShepEndpoint};

use registry_vocab::shep::{SOAP_NS, TYPES_NS};

/// Signs an outgoing envelope (WS-Security XML-DSig, see [`super::signing`]). Pluggable;
/// [`Unsigned`] when `[shep.signing]` is not configured.
#[async_trait::async_trait]
pub trait Signer: Send + Sync {
    async fn sign(&self, envelope: String) -> Result<String, String>;
}

/// No signature (registries configured without `[shep.signing]`).
pub struct Unsigned;

#[async_trait::async_trait]
impl Signer for Unsigned {
    async fn sign(&self, envelope: String) -> Result<String, String> {
        Ok(envelope)
    }
}

/// One registry's connection to the bus.
#[derive(Clone)]
pub struct ShepClient {
    registry: Registry,
    http: reqwest::Client,
    endpoint: ShepEndpoint,
    shep: Arc<ShepConfig>,
    signer: Arc<dyn Signer>,
    /// Checks answers' signatures; `None`: not checked.
    verifier: Option<Arc<super::signing::AnswerVerifier>>,
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
            endpoint,
            shep,
            signer: Arc::new(Unsigned),
            verifier: None,
        }
    }

    pub fn with_verifier(
        mut self,
        verifier: Option<Arc<super::signing::AnswerVerifier>>,
    ) -> ShepClient {
        self.verifier = verifier;
        self
    }

    pub fn with_signer(mut self, signer: Arc<dyn Signer>) -> ShepClient {
        self.signer = signer;
        self
    }

    pub fn registry(&self) -> Registry {
        self.registry
    }

    /// Sends `request_data` (the payload, already XML) for `query` and parses the answer's
    /// `data` element with `parse`. `Ok(None)` when the registry says it has no such record.
    /// The callers' remaining time goes along as the SHEP property `timeoutMs`.
    pub async fn call<T>(
        &self,
        request_data: &str,
        query: &super::Query,
        parse: impl FnOnce(Node) -> Result<T, String>,
    ) -> Result<Fetched<Option<T>>, RegistryError> {
        // The W3C trace context of this attempt goes along as HTTP headers and SHEP properties.
        let trace = crate::telemetry::current_trace_context();
        let envelope = self
            .signed_envelope(request_data, query, &trace)
            .await
            .map_err(|e| self.fail(e))?;
        let (status, body) = self
            .exchange(envelope, &trace, transport_timeout(query))
            .await
            .map_err(|e| self.fail(e))?;
        let verify = self
            .verifier
            .as_deref()
            .map(|v| move |doc: &Document, text: &str| v.check(self.registry, doc, text));
        parse_response(status, &body, &self.shep.status_codes, verify, parse)
            .map_err(|e| self.fail(e))
    }

    /// `failure` as this registry's error, with the retry advice for its kind.
    fn fail(&self, failure: Failure) -> RegistryError {
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
        request_data: &str,
        query: &super::Query,
        trace: &[(&'static str, String)],
    ) -> Result<String, Failure> {
        let message_id = uuid::Uuid::new_v4().to_string();
        let mut properties = trace.to_vec();
        if let Some(deadline) = query.callers_deadline {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            properties.push((TIMEOUT_PROPERTY, left.as_millis().to_string()));
        }
        self.signer
            .sign(self.envelope(&message_id, request_data, &properties))
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
        let mut limits = self.shep.limits;
        if let Some(n) = self.endpoint.max_answer_bytes {
            limits.max_answer_bytes = n;
        }
        let body = read_bounded(response, limits.max_answer_bytes)
            .await
            .map_err(|e| e.unwrap_or_else(transport))?;
        limits.scan(&body).map_err(Failure::Malformed)?;
        Ok((status, body))
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

/// Turns an HTTP answer into the parsed payload, or the failure it is. `verify` checks the
/// answer's signature on the same parsed document before anything in it is used (SOAP
/// faults, which are failures whatever they say, excepted).
fn parse_response<T, V>(
    http_status: u16,
    body: &str,
    codes: &ShepCodes,
    verify: Option<V>,
    parse: impl FnOnce(Node) -> Result<T, String>,
) -> Result<Fetched<Option<T>>, Failure>
where
    V: FnOnce(&Document, &str) -> Result<(), Failure>,
{
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
        return Err(fault_failure(fault, codes));
    }
    if !(200..300).contains(&http_status) {
        return Err(Failure::Http(http_status));
    }
    if let Some(verify) = verify {
        verify(&doc, body)?;
    }
    let response = body_el
        .child_el("SendMessageResponse")
        .and_then(|r| r.child_el("response"))
        .ok_or_else(|| Failure::Malformed("no SendMessageResponse/response".into()))?;
    let info = response
        .child_el("responseInfo")
        .ok_or_else(|| Failure::Malformed("no responseInfo".into()))?;
    let message_id = MessageId::from(info.text_of("messageId").unwrap_or_default());
    let status = info
        .child_el("status")
        .ok_or_else(|| Failure::Malformed("no responseInfo/status".into()))?;
    let code = status.req("code").map_err(Failure::Malformed)?;
    let source = Source {
        message_id,
        fetched_at: Utc::now(),
        from_cache: false,
        stale: false,
        age: Duration::ZERO,
    };
    let value = if codes.ok.iter().any(|c| c == code) {
        let data = response
            .child_el("responseData")
            .and_then(|d| d.child_el("data"))
            .ok_or_else(|| Failure::Malformed("no responseData/data".into()))?;
        Some(parse(data).map_err(Failure::Malformed)?)
    } else if codes.not_found.iter().any(|c| c == code) {
        None
    } else if codes.consent_refused.iter().any(|c| c == code) {
        return Err(Failure::ConsentRefused { code: scrub(code) });
    } else if codes.bad_request.iter().any(|c| c == code) {
        return Err(Failure::Rejected {
            code: scrub(code),
            message: scrub(status.text_of("message").unwrap_or_default()),
        });
    } else {
        return Err(Failure::Status {
            code: scrub(code),
            message: scrub(status.text_of("message").unwrap_or_default()),
            transient: codes.transient.iter().any(|c| c == code),
        });
    };
    Ok(Fetched::new(value, source))
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

    fn codes() -> ShepCodes {
        ShepCodes::default()
    }

    type Check = fn(&Document, &str) -> Result<(), Failure>;
    const NO_CHECK: Option<Check> = None;

    fn ok_body(code: &str, data: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><t:SendMessageResponse xmlns:t="{TYPES_NS}"><response><responseInfo><messageId>m-1</messageId><responseDate>2026-01-01T00:00:00+05:00</responseDate><status><code>{code}</code><message>msg 123456789012</message></status></responseInfo><responseData><data>{data}</data></responseData></response></t:SendMessageResponse></s:Body></s:Envelope>"#
        )
    }

    fn first_child_name(n: Node) -> Result<String, String> {
        Ok(n.children()
            .find(|c| c.is_element())
            .map(|c| c.tag_name().name().to_owned())
            .unwrap_or_default())
    }

    #[test]
    fn success_hands_data_to_the_parser() {
        let got = parse_response(
            200,
            &ok_body("SCSS001", "<person/>"),
            &codes(),
            NO_CHECK,
            first_child_name,
        )
        .unwrap();
        assert_eq!(got.value.as_deref(), Some("person"));
        assert_eq!(got.source.message_id, "m-1");
    }

    #[test]
    fn not_found_code_is_none() {
        let got = parse_response(
            200,
            &ok_body("NOTFOUND", ""),
            &codes(),
            NO_CHECK,
            first_child_name,
        )
        .unwrap();
        assert!(got.value.is_none());
    }

    #[test]
    fn transient_and_unknown_codes_are_failures_without_personal_data() {
        let e = parse_response(
            200,
            &ok_body("TEMP_UNAVAILABLE", ""),
            &codes(),
            NO_CHECK,
            first_child_name,
        )
        .unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(!e.to_string().contains("123456789012"), "{e}");
        let e = parse_response(
            200,
            &ok_body("WHAT", ""),
            &codes(),
            NO_CHECK,
            first_child_name,
        )
        .unwrap_err();
        assert!(!e.is_transient(), "{e}");
        assert!(e.to_string().contains("WHAT"));
    }

    #[test]
    fn a_refused_consent_is_its_own_failure_neither_transient_nor_the_registrys() {
        let e = parse_response(
            200,
            &ok_body("KDP_REFUSED", ""),
            &codes(),
            NO_CHECK,
            first_child_name,
        )
        .unwrap_err();
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
        let parse = |body: String| {
            parse_response(500, &body, &codes(), NO_CHECK, first_child_name).unwrap_err()
        };
        for (faultcode, code) in [
            ("soap:Client", "BAD_REQUEST"),
            ("Client", "X"),
            ("SOAP-ENV:Client.Validation", ""),
            ("env:Sender", "X"),
            ("soap:Server", "BAD_REQUEST"),
        ] {
            let e = parse(fault(faultcode, code));
            assert!(matches!(e, Failure::Rejected { .. }), "{faultcode}: {e}");
            assert!(!e.is_transient() && !e.is_registry_failure() && !e.allows_stale());
        }
        for (faultcode, code) in [
            ("soap:Server", "SHEP_FAULT"),
            ("soap:Client", "SECURITY_ERROR"),
        ] {
            let e = parse(fault(faultcode, code));
            assert!(matches!(e, Failure::Fault(_)), "{faultcode}: {e}");
            assert!(e.is_registry_failure());
        }
        let e = parse_response(
            200,
            &ok_body("BAD_REQUEST", ""),
            &codes(),
            NO_CHECK,
            first_child_name,
        )
        .unwrap_err();
        assert!(matches!(e, Failure::Rejected { .. }), "{e}");
    }

    #[test]
    fn the_signature_check_runs_on_the_parsed_answer_and_its_refusal_is_permanent() {
        let refuse = |_: &Document, _: &str| Err(Failure::Unverified("digest".into()));
        let e = parse_response(
            200,
            &ok_body("SCSS001", "<person/>"),
            &codes(),
            Some(refuse),
            first_child_name,
        )
        .unwrap_err();
        assert!(
            matches!(e, Failure::Unverified(_)) && !e.is_transient(),
            "{e}"
        );
        assert_eq!(e.label(), "signature");
        let accept = |doc: &Document, text: &str| {
            assert!(text.contains("SCSS001"));
            assert_eq!(doc.root_element().tag_name().name(), "Envelope");
            Ok(())
        };
        let got = parse_response(
            200,
            &ok_body("SCSS001", "<person/>"),
            &codes(),
            Some(accept),
            first_child_name,
        )
        .unwrap();
        assert_eq!(got.value.as_deref(), Some("person"));
    }

    #[test]
    fn a_second_body_is_malformed_even_unsigned() {
        let two = ok_body("SCSS001", "<person/>").replace(
            "<s:Body>",
            "<s:Body><t:SendMessageResponse xmlns:t=\"urn:x\"/></s:Body><s:Body>",
        );
        let e = parse_response(200, &two, &codes(), NO_CHECK, first_child_name).unwrap_err();
        assert!(e.to_string().contains("more than one SOAP Body"), "{e}");
    }

    #[test]
    fn soap_fault_and_http_errors() {
        let fault = format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>bus down</faultstring></s:Fault></s:Body></s:Envelope>"#
        );
        let e = parse_response(500, &fault, &codes(), NO_CHECK, first_child_name).unwrap_err();
        assert!(matches!(e, Failure::Fault(ref t) if t == "bus down"), "{e}");
        let e = parse_response(
            503,
            "Service Unavailable",
            &codes(),
            NO_CHECK,
            first_child_name,
        )
        .unwrap_err();
        assert!(matches!(e, Failure::Http(503)) && e.is_transient());
        let e = parse_response(200, "<oops", &codes(), NO_CHECK, first_child_name).unwrap_err();
        assert!(matches!(e, Failure::Malformed(_)) && !e.is_transient());
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
