//! The life of one RPC at the edge, the same for every handler: who calls (certificate or
//! plaintext client), purpose and request id from metadata, the right to call this RPC
//! (checked before anything else runs, the cache included), the caller's deadline, one span,
//! and one audit record (one per subject for a call about several, such as CheckDwelling's
//! owners), written before the answer leaves: no unaudited answer.

use std::borrow::Cow;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::admission::{Admission, Admitted};
use crate::access::{Access, Caller, MAX_METADATA_LEN, PURPOSE_KEY, REQUEST_ID_KEY};
use crate::audit::{
    AuditLog, AuditRecord, CallOutcome, DecisionRef, RefusalGate, RegistryOutcome, RegistryUse,
    CONSENT_ABSENT, CONSENT_PRESENTED, MALFORMED,
};
use crate::consent::ConsentToken;
use crate::error::Error;
use crate::iin::{Holder, Iin};
use crate::resilience::reached::Reached;
use crate::rpc::Rpc;

/// Longest consent token passed through to GBD FL.
pub const MAX_CONSENT_TOKEN: usize = 4096;

/// What every handler shares: access rules, the audit log and admission.
#[derive(Clone)]
pub struct CallPolicy {
    /// Replaced on configuration reload.
    pub access: Arc<ArcSwap<Access>>,
    pub audit: Option<AuditLog>,
    /// Bounds the records of refused calls per caller.
    refusals: Option<Arc<RefusalGate>>,
    /// The in-flight limits; `None` for services that are never refused (admin).
    admission: Option<Arc<Admission>>,
}

impl CallPolicy {
    /// Call from within the runtime: the refusal gate starts a task.
    pub fn new(access: Arc<ArcSwap<Access>>, audit: Option<AuditLog>) -> CallPolicy {
        CallPolicy {
            refusals: audit.clone().map(RefusalGate::new),
            access,
            audit,
            admission: None,
        }
    }

    /// The same edge, its calls admitted by `admission` (`None`: never refused).
    pub fn admitted_by(&self, admission: Option<Arc<Admission>>) -> CallPolicy {
        CallPolicy {
            admission,
            ..self.clone()
        }
    }
}

/// What a personal-data call is about, as its audit record states it: normalised and bounded
/// whatever the caller sent (an IIN that passes the FLK or [`MALFORMED`], a date `YYYY-MM-DD`
/// or [`MALFORMED`], empty when not given).
#[derive(Debug, Clone, Default)]
pub struct AuditSubject {
    subject: String,
    applicant: String,
    decision_date: String,
    /// The subject's own consent token, for a call about several (else the call's).
    consent: Option<ConsentMark>,
}

/// Whether an RPC that takes a consent token was given one, and its reference, as the audit
/// records it.
#[derive(Debug, Clone, Default)]
pub struct ConsentMark {
    presented: bool,
    reference: String,
}

impl AuditSubject {
    /// A look-up of the person `iin`.
    pub fn person(iin: &str) -> AuditSubject {
        AuditSubject {
            subject: iin_or_marker(iin),
            ..AuditSubject::default()
        }
    }

    /// A decision about `owner` for `applicant` on `decision_date`.
    pub fn decision(owner: &str, applicant: &str, decision_date: &str) -> AuditSubject {
        let date_shaped = decision_date.len() == 10
            && chrono::NaiveDate::parse_from_str(decision_date, "%Y-%m-%d").is_ok();
        AuditSubject {
            subject: iin_or_marker(owner),
            applicant: iin_or_marker(applicant),
            decision_date: match decision_date {
                "" => String::new(),
                d if date_shaped => d.to_owned(),
                _ => MALFORMED.to_owned(),
            },
            consent: None,
        }
    }
}

impl AuditSubject {
    /// A request that could not be read at all.
    pub fn malformed() -> AuditSubject {
        AuditSubject {
            subject: MALFORMED.to_owned(),
            ..AuditSubject::default()
        }
    }

    /// The decision date as validated (today when the caller gave none).
    pub fn on(mut self, date: chrono::NaiveDate) -> AuditSubject {
        self.decision_date = date.to_string();
        self
    }

    /// The subject's own consent token, as [`IncomingCall::read_consent`] marked it.
    pub fn with_consent(mut self, mark: ConsentMark) -> AuditSubject {
        self.consent = Some(mark);
        self
    }
}

/// What the answer of a call about several subjects said about each (CheckDwelling: each
/// owner's outcome and registries), filled in as each is decided: each subject's audit
/// record says what was decided about it, also when the call as a whole fails or runs out of
/// time. A subject without an entry gets the call's outcome.
#[derive(Clone, Default)]
pub struct SubjectOutcomes(Arc<Mutex<Vec<Option<Entry>>>>);

type Entry = Decided;

/// What was decided about one subject: the outcome and the registries used; for a decision,
/// which one and the answers it rested on (archived as evidence).
#[derive(Clone)]
pub struct Decided {
    /// The subject, when the call learnt it only by running (ExplainDecision).
    pub subject: Option<String>,
    pub outcome: CallOutcome,
    pub registries: Vec<RegistryUse>,
    pub decision: Option<DecisionRef>,
    pub envelopes: Vec<Arc<crate::registry::Envelope>>,
}

impl Decided {
    /// `outcome` with the registries used, about the call's own subject, without a decision.
    pub fn new(outcome: CallOutcome, registries: Vec<RegistryUse>) -> Decided {
        Decided {
            subject: None,
            outcome,
            registries,
            decision: None,
            envelopes: Vec::new(),
        }
    }
}

impl SubjectOutcomes {
    pub fn new(subjects: usize) -> SubjectOutcomes {
        SubjectOutcomes(Arc::new(Mutex::new(vec![None; subjects])))
    }

    /// What was decided about subject `index` (ignored beyond the subjects audited).
    pub fn record(&self, index: usize, decided: Decided) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get_mut(index) {
            *entry = Some(decided);
        }
    }

    fn take(&self, index: usize) -> Option<Entry> {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get_mut(index).and_then(Option::take)
    }
}

/// Whether `value` may be copied into an XML 1.0 document (a SOAP request): the characters
/// XML 1.0 forbids (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, U+FFFE, U+FFFF; lone
/// surrogates cannot occur in a Rust string) cannot be escaped, only refused. The rule names
/// the first one and where it is (never the value).
pub fn xml_text(value: &str) -> Result<(), String> {
    let forbidden = |c: char| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}')
            || matches!(c, '\u{fffe}' | '\u{ffff}')
    };
    match value.chars().enumerate().find(|(_, c)| forbidden(*c)) {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "holds U+{:04X} at character {at}, which XML 1.0 does not allow (it cannot be sent \
             to the registry)",
            c as u32
        )),
    }
}

fn iin_or_marker(value: &str) -> String {
    match value {
        "" => String::new(),
        v => Iin::parse(v).map_or_else(|_| MALFORMED.to_owned(), |iin| iin.as_str().to_owned()),
    }
}

/// Longest caller name written to the audit log (a name from an unknown certificate).
const MAX_CALLER_LEN: usize = 256;

/// An answer that can say what it decided and which registries it used, for the audit.
pub trait Audited {
    fn outcome(&self) -> CallOutcome;
    fn registries(&self) -> Vec<RegistryUse>;
}

/// Marks a call that came over HTTP/JSON: its route, as the contract writes it
/// (`GET /v1/persons/{iin}`), recorded on the call's span as `http.route` (never the path
/// itself, which holds an IIN).
#[derive(Debug, Clone)]
pub struct HttpRoute(pub String);

/// One call, from its metadata.
pub struct IncomingCall {
    rpc: Rpc,
    /// Set when the call came over HTTP/JSON.
    http_route: Option<HttpRoute>,
    caller: Caller,
    request_id: String,
    purpose: String,
    deadline: Option<Instant>,
    /// A metadata rule the call breaks, reported once the call is audited.
    refused: Option<Error>,
    /// The caller's trace context (`traceparent` / `tracestate` metadata), parent of the span.
    trace_parent: opentelemetry::Context,
    /// The access rules as the call began (rights, consent, the consent reference key).
    access: Arc<Access>,
    /// For an RPC that takes a consent token: whether one was presented, and its reference.
    consent: Option<ConsentMark>,
}

impl CallPolicy {
    pub fn begin<T>(&self, rpc: Rpc, request: &Request<T>) -> IncomingCall {
        let cert = request.peer_certs();
        let access = self.access.load_full();
        let caller = access.caller(cert.as_ref().and_then(|c| c.first()).map(|c| c.as_ref()));
        let metadata = request.metadata();
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let rules = access.config();
        let mut refused = None;
        let mut field = |key: &'static str, required: bool| -> String {
            match text(key) {
                Some(v) if v.len() > MAX_METADATA_LEN => {
                    refused.get_or_insert(Error::invalid(
                        key,
                        format!("metadata must be at most {MAX_METADATA_LEN} bytes"),
                    ));
                    v.chars().take(MAX_METADATA_LEN).collect()
                }
                Some(v) => v,
                None if required => {
                    refused.get_or_insert(Error::invalid(key, "metadata is required"));
                    String::new()
                }
                None => String::new(),
            }
        };
        let purpose = field(PURPOSE_KEY, rules.is_some_and(|r| r.require_purpose));
        let mut request_id = field(REQUEST_ID_KEY, rules.is_some_and(|r| r.require_request_id));
        if request_id.is_empty() {
            request_id = format!("gw-{}", uuid::Uuid::new_v4());
        }
        if let Err(rule) = xml_text(&purpose) {
            refused.get_or_insert(Error::invalid(PURPOSE_KEY, rule));
        }
        IncomingCall {
            rpc,
            http_route: request.extensions().get::<HttpRoute>().cloned(),
            caller,
            request_id,
            purpose,
            deadline: deadline(request),
            refused,
            trace_parent: crate::telemetry::extract(request.metadata()),
            access,
            consent: None,
        }
    }
}

impl IncomingCall {
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The consent settings as the call began.
    pub fn consent_settings(&self) -> &crate::consent::ConsentConfig {
        self.access.consent_config()
    }

    /// The call's `consent_token` field: none when empty, at most [`MAX_CONSENT_TOKEN`]
    /// bytes. Whether one was presented, and its reference, go into the audit record.
    pub fn consent_token(&mut self, value: &str) -> Result<Option<ConsentToken>, Error> {
        let (token, mark) = self.read_consent("consent_token", value);
        self.consent = Some(mark);
        token
    }

    /// A consent token field (`field` names it) as [`IncomingCall::consent_token`] reads it, and what
    /// the audit records of it.
    pub fn read_consent(
        &self,
        field: impl Into<Cow<'static, str>>,
        value: &str,
    ) -> (Result<Option<ConsentToken>, Error>, ConsentMark) {
        if value.is_empty() {
            return (Ok(None), ConsentMark::default());
        }
        let mut mark = ConsentMark {
            presented: true,
            reference: String::new(),
        };
        if value.len() > MAX_CONSENT_TOKEN {
            let rule = format!("must be at most {MAX_CONSENT_TOKEN} bytes");
            return (Err(Error::invalid(field, rule)), mark);
        }
        if let Err(rule) = xml_text(value) {
            return (Err(Error::invalid(field, rule)), mark);
        }
        let token = self.access.consent_token(value.to_owned());
        token.reference().clone_into(&mut mark.reference);
        (Ok(Some(token)), mark)
    }

    /// Refuses a call about the person `subject` without a consent token when its caller
    /// needs one for this RPC (an organisation's BIN needs none). Checked after the rights
    /// and the request's fields, before any registry call.
    pub fn require_consent(
        &self,
        subject: &Iin,
        token: Option<&ConsentToken>,
    ) -> Result<(), Error> {
        if token.is_none()
            && subject.holder() == Holder::Person
            && self.access.consent_required(&self.caller, self.rpc)
        {
            return Err(Error::ConsentRequired {
                rpc: self.rpc,
                caller: self.caller.name().chars().take(MAX_CALLER_LEN).collect(),
            });
        }
        Ok(())
    }

    /// Runs `body` if the caller may, then audits the call `about` someone (a personal-data
    /// RPC; `None` for one that is not) and answers.
    pub async fn run<T: Audited>(
        self,
        edge: &CallPolicy,
        about: Option<AuditSubject>,
        body: impl Future<Output = Result<T, Error>>,
    ) -> Result<Response<T>, Status> {
        let about: Vec<AuditSubject> = about.into_iter().collect();
        self.run_each(edge, about, SubjectOutcomes::default(), body)
            .await
    }

    /// [`IncomingCall::run`] for a call about several subjects: one audit record per subject, all with
    /// the call's request id, each with what `ledger` says was decided about it.
    pub async fn run_each<T: Audited>(
        mut self,
        edge: &CallPolicy,
        about: Vec<AuditSubject>,
        ledger: SubjectOutcomes,
        body: impl Future<Output = Result<T, Error>>,
    ) -> Result<Response<T>, Status> {
        let timer = crate::metrics::rpc_started(self.rpc);
        let span = self.span(about.first());
        let answer = async {
            // The admission permit is held until the answer is audited.
            let (result, _admitted) = match self.admit(edge) {
                Err(e) => (Err(e), None),
                Ok(admitted) => (self.work(edge, &about, &ledger, body).await, admitted),
            };
            // From here the records are queued before the first wait: a caller going away
            // now no longer withdraws them.
            if let Some(audit) = &edge.audit {
                self.audit(edge, audit, about, &ledger, &result).await?;
            }
            match &result {
                Ok(_) => tracing::debug!("ok"),
                Err(e) => tracing::info!(error = %e, "failed"),
            }
            result
                .map(Response::new)
                .map_err(|e| e.to_status(&self.request_id))
        }
        .instrument(span.clone())
        .await;
        let code = answer.as_ref().err().map_or(tonic::Code::Ok, Status::code);
        span.record("rpc.grpc.status_code", code as i32);
        if server_span_error(code) {
            span.record("otel.status_code", "ERROR");
        }
        timer.finish(code);
        answer
    }

    /// The call's span, child of the caller's trace context; the subject's IIN masked.
    fn span(&self, about: Option<&AuditSubject>) -> tracing::Span {
        let masked = about
            .and_then(|a| Iin::parse(&a.subject).ok())
            .map(|iin| iin.masked().to_string())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "rpc",
            otel.name = self.rpc.name(),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = self.rpc.service(),
            rpc.method = self.rpc.name(),
            caller = %self.caller.name(),
            request_id = %crate::iin::scrub(&self.request_id),
            subject = %masked,
            http.route = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        if let Some(HttpRoute(route)) = &self.http_route {
            span.record("http.route", route.as_str());
        }
        crate::telemetry::set_parent(&span, &self.trace_parent);
        span
    }

    /// The call may go on: the caller's right to this RPC first (a caller without it learns
    /// nothing about the request's rules), then no metadata rule broken, then a place within
    /// the in-flight limits (the permit, held until the answer is audited).
    fn admit(&mut self, edge: &CallPolicy) -> Result<Option<Admitted>, Error> {
        if !edge.access.load().allows(&self.caller, self.rpc) {
            return Err(Error::PermissionDenied {
                rpc: self.rpc,
                caller: self.caller.name(),
            });
        }
        if let Some(refused) = self.refused.take() {
            return Err(refused);
        }
        edge.admission
            .as_ref()
            .map(|a| a.admit(&self.caller.name()))
            .transpose()
    }

    /// `body`, once the audit log can take the call's record, given up at the caller's
    /// deadline. Its duty to audit is held by a [`Duty`] meanwhile: should the caller go away
    /// (the future dropped: RST_STREAM, a closed connection, tonic's own timer), the registries
    /// `body` reached get their `CANCELLED` record all the same.
    async fn work<T>(
        &self,
        edge: &CallPolicy,
        about: &[AuditSubject],
        ledger: &SubjectOutcomes,
        body: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(audit) = edge.audit.as_ref().filter(|_| !about.is_empty()) else {
            // Not audited (no log, or an RPC about no one): nothing to hold.
            return self.within_deadline(body).await;
        };
        if !audit.writable() {
            return Err(Error::AuditUnavailable);
        }
        let reached = Reached::default();
        let duty = Duty {
            call: self,
            audit,
            about,
            ledger,
            reached: &reached,
            armed: true,
        };
        let result = reached.scope(self.within_deadline(body)).await;
        duty.done();
        result
    }

    /// `body`, given up at the caller's deadline.
    async fn within_deadline<T>(
        &self,
        body: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match self.deadline {
            Some(d) => tokio::time::timeout_at(d, body)
                .await
                .unwrap_or(Err(Error::Deadline)),
            None => body.await,
        }
    }

    /// One record per subject `about`, each with what `ledger` says of it or else the call's
    /// outcome. A refused call's records go through the refusal gate (bounded per caller);
    /// the others are appended together (one batch of the writer). An answer whose records
    /// cannot be written is withheld.
    async fn audit<T: Audited>(
        &self,
        edge: &CallPolicy,
        audit: &AuditLog,
        about: Vec<AuditSubject>,
        ledger: &SubjectOutcomes,
        result: &Result<T, Error>,
    ) -> Result<(), Status> {
        let records = about.into_iter().enumerate().map(|(i, about)| {
            let decided = ledger.take(i).unwrap_or_else(|| match result {
                Ok(answer) => Decided::new(answer.outcome(), answer.registries()),
                Err(e) => Decided::new(e.audit_outcome(), e.audit_registries()),
            });
            self.record(about, decided)
        });
        let refused = result.as_ref().is_err_and(Error::is_refusal);
        write(edge, audit, records, refused).await.map_err(|e| {
            tracing::error!(error = %e, "audit record not written; answer withheld");
            Status::unavailable(match e {
                crate::audit::AuditError::NotShipped { .. } => {
                    "the audit record is written locally but the central audit store has not \
                     confirmed it, so no answer is given; retry later"
                }
                _ => "the audit log could not be written, so no answer is given; retry later",
            })
        })
    }

    fn record(&self, about: AuditSubject, decided: Decided) -> AuditRecord {
        let consent = about.consent.as_ref().or(self.consent.as_ref());
        AuditRecord {
            request_id: self.request_id.clone(),
            caller: self.caller.name().chars().take(MAX_CALLER_LEN).collect(),
            rpc: self.rpc.name().to_owned(),
            subject: decided.subject.unwrap_or(about.subject),
            applicant: about.applicant,
            decision_date: about.decision_date,
            purpose: self.purpose.clone(),
            consent: match consent {
                None => String::new(),
                Some(m) if m.presented => CONSENT_PRESENTED.to_owned(),
                Some(_) => CONSENT_ABSENT.to_owned(),
            },
            consent_ref: consent.map(|m| m.reference.clone()).unwrap_or_default(),
            outcome: decided.outcome,
            count: None,
            decision: decided.decision,
            registries: decided.registries,
            envelopes: decided.envelopes,
        }
    }
}

/// The duty to audit a call whose work is under way: if the call's future is dropped before
/// [`Duty::done`] (the caller went away), each subject gets a record with outcome
/// [`CallOutcome::Cancelled`], the registries the call reached (or what the ledger says of the subject),
/// queued without waiting. A call that reached no registry read nothing and leaves none.
struct Duty<'a> {
    call: &'a IncomingCall,
    audit: &'a AuditLog,
    about: &'a [AuditSubject],
    ledger: &'a SubjectOutcomes,
    reached: &'a Reached,
    armed: bool,
}

impl Duty<'_> {
    /// The work ended: the call's own record follows.
    fn done(mut self) {
        self.armed = false;
    }
}

impl Drop for Duty<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let reached = self.reached.registries();
        if reached.is_empty() {
            return;
        }
        let asked: Vec<RegistryUse> = reached
            .iter()
            .map(|&registry| RegistryUse {
                registry,
                status: RegistryOutcome::Cancelled,
                from_cache: false,
                stale: false,
                evidence: None,
            })
            .collect();
        tracing::info!(
            registries = asked.len(),
            "caller went away; the call is audited as cancelled"
        );
        for (i, about) in self.about.iter().enumerate() {
            // What the call learnt stands, but no answer was given: no decision, and no
            // evidence archived for it.
            let registries = self.ledger.take(i).map_or_else(
                || asked.clone(),
                |d| {
                    let mut used = d.registries;
                    used.iter_mut().for_each(|r| r.evidence = None);
                    used
                },
            );
            let decided = Decided {
                subject: None,
                outcome: CallOutcome::Cancelled,
                registries,
                decision: None,
                envelopes: Vec::new(),
            };
            let record = self.call.record(about.clone(), decided);
            self.audit.enqueue(record);
        }
    }
}

/// Writes `records`: a refused call's through the refusal gate, one after the other; the
/// others appended together.
async fn write(
    edge: &CallPolicy,
    audit: &AuditLog,
    records: impl Iterator<Item = AuditRecord>,
    refused: bool,
) -> Result<(), crate::audit::AuditError> {
    match &edge.refusals {
        Some(gate) if refused => {
            for record in records {
                gate.record(record).await?;
            }
            Ok(())
        }
        _ => futures::future::try_join_all(records.map(|r| audit.append(r)))
            .await
            .map(drop),
    }
}

/// OpenTelemetry's gRPC conventions for a server span: the status is an error only for codes
/// that say the server failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
/// UNAVAILABLE, DATA_LOSS); a caller's error such as INVALID_ARGUMENT leaves it unset.
pub fn server_span_error(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss
    )
}

/// The caller's deadline from `grpc-timeout`, set a little early (1/10 of the budget, at most
/// 50 ms) so that the gateway's DEADLINE_EXCEEDED reaches the caller before tonic's own timer
/// fires (which would answer CANCELLED) and before the caller's own clock runs out.
///
/// As in tonic, a value the gRPC spec does not allow (more than 8 digits, an unknown unit)
/// is ignored: the call has no deadline of its own, and the server's `request_timeout`
/// bounds it. Every step is checked arithmetic: no header value can overflow.
fn deadline<T>(request: &Request<T>) -> Option<Instant> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    parse_timeout(value).and_then(|budget| {
        let margin = (budget / 10).min(Duration::from_millis(50));
        Instant::now().checked_add(budget - margin)
    })
}

/// A `grpc-timeout` value: 1 to 8 ASCII digits and a unit.
fn parse_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let budget = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    Some(budget)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn timeouts_the_spec_allows() {
        assert_eq!(parse_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(
            parse_timeout("99999999H"),
            Some(Duration::from_secs(99_999_999 * 3600))
        );
        for bad in [
            "9223372036854775807S",
            "123456789S",
            "S",
            "",
            "12x",
            "-1S",
            "+1S",
            "1 S",
            "é",
        ] {
            assert_eq!(parse_timeout(bad), None, "{bad:?}");
        }
    }

    proptest! {
        /// Whatever the header says, reading it never panics and never overflows.
        #[test]
        fn any_header_value_is_read_without_panic(value in "\\PC{0,24}|[0-9]{1,24}[HMSmun]") {
            let mut request = Request::new(());
            if let Ok(v) = value.parse() {
                request.metadata_mut().insert("grpc-timeout", v);
            }
            let _ = deadline(&request);
        }
    }

    #[test]
    fn only_server_failures_mark_a_server_span_as_an_error() {
        use tonic::Code::*;
        for code in [
            Unknown,
            DeadlineExceeded,
            Unimplemented,
            Internal,
            Unavailable,
            DataLoss,
        ] {
            assert!(server_span_error(code), "{code:?}");
        }
        for code in [
            Ok,
            Cancelled,
            InvalidArgument,
            NotFound,
            AlreadyExists,
            PermissionDenied,
            ResourceExhausted,
            FailedPrecondition,
            Aborted,
            OutOfRange,
            Unauthenticated,
        ] {
            assert!(!server_span_error(code), "{code:?}");
        }
    }

    #[test]
    fn the_audit_subject_is_normalised_and_bounded() {
        let huge = "9".repeat(60_000);
        let about = AuditSubject::decision(&huge, "880702431094", "2026-1-5");
        assert_eq!(about.subject, MALFORMED);
        assert_eq!(about.applicant, "880702431094");
        assert_eq!(about.decision_date, MALFORMED);
        let about = AuditSubject::decision("860314310211", "", "");
        assert_eq!(
            (about.subject.as_str(), about.applicant.as_str()),
            (MALFORMED, "")
        );
        assert_eq!(AuditSubject::person("860314310210").subject, "860314310210");
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(
            AuditSubject::decision("", "", "").on(date).decision_date,
            "2026-11-25"
        );
    }
}
