//! The life of one RPC at the edge, the same for every handler: who calls (certificate or
//! plaintext client), purpose and request id from metadata, the right to call this RPC
//! (checked before anything else runs, the cache included), the caller's deadline, one span,
//! and one audit record, written before the answer leaves: no unaudited answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::admission::Admission;
use crate::access::{Access, Caller, MAX_METADATA_LEN, PURPOSE_KEY, REQUEST_ID_KEY};
use crate::audit::{AuditLog, AuditRecord, RegistryUse};
use crate::error::Error;
use crate::iin::Iin;

/// What every handler shares: access rules, the audit log and admission.
#[derive(Clone)]
pub struct Edge {
    /// Replaced on configuration reload.
    pub access: Arc<ArcSwap<Access>>,
    pub audit: Option<AuditLog>,
    /// The in-flight limits; `None` for services that are never refused (admin).
    pub admission: Option<Arc<Admission>>,
}

/// An answer that can say what it decided and which registries it used, for the audit.
pub trait Audited {
    fn outcome(&self) -> String;
    fn registries(&self) -> Vec<RegistryUse>;
}

/// One call, from its metadata.
pub struct Call {
    rpc: &'static str,
    caller: Caller,
    request_id: String,
    purpose: String,
    deadline: Option<Instant>,
    /// A metadata rule the call breaks, reported once the call is audited.
    refused: Option<Error>,
    /// The caller's trace context (`traceparent` / `tracestate` metadata), parent of the span.
    trace_parent: opentelemetry::Context,
}

impl Edge {
    pub fn begin<T>(&self, rpc: &'static str, request: &Request<T>) -> Call {
        let cert = request.peer_certs();
        let access = self.access.load();
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
        Call {
            rpc,
            caller,
            request_id,
            purpose,
            deadline: deadline(request),
            refused,
            trace_parent: crate::telemetry::extract(request.metadata()),
        }
    }
}

impl Call {
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Runs `body` if the caller may, then audits the call about `subject` (a personal-data
    /// RPC; `None` for one that is not) and answers.
    pub async fn run<T: Audited>(
        self,
        edge: &Edge,
        subject: Option<&str>,
        body: impl Future<Output = Result<T, Error>>,
    ) -> Result<Response<T>, Status> {
        let timer = crate::metrics::rpc_started(self.rpc);
        let masked = subject
            .and_then(|s| Iin::parse(s).ok())
            .map(|iin| iin.masked().to_string())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "rpc",
            otel.name = self.rpc,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = self.rpc,
            caller = %self.caller.name(),
            request_id = %self.request_id,
            subject = %masked,
            rpc.grpc.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        crate::telemetry::set_parent(&span, &self.trace_parent);
        let answer = async move {
            let admitted = if let Some(refused) = self.refused {
                Err(refused)
            } else if !edge.access.load().allows(&self.caller, self.rpc) {
                Err(Error::PermissionDenied {
                    rpc: self.rpc,
                    caller: self.caller.name(),
                })
            } else {
                edge.admission
                    .as_ref()
                    .map(|a| a.admit(&self.caller.name()))
                    .transpose()
            };
            // The admission permit is held until the answer is audited.
            let (result, _admitted) = match admitted {
                Err(e) => (Err(e), None),
                Ok(admitted) => (
                    match self.deadline {
                        Some(d) => tokio::time::timeout_at(d, body)
                            .await
                            .unwrap_or(Err(Error::Deadline)),
                        None => body.await,
                    },
                    admitted,
                ),
            };
            if let (Some(audit), Some(subject)) = (&edge.audit, subject) {
                let (outcome, registries) = match &result {
                    Ok(answer) => (answer.outcome(), answer.registries()),
                    Err(e) => (e.audit_outcome(), e.audit_registries()),
                };
                let record = AuditRecord {
                    request_id: self.request_id.clone(),
                    caller: self.caller.name(),
                    rpc: self.rpc.to_owned(),
                    subject: subject.to_owned(),
                    purpose: self.purpose.clone(),
                    outcome,
                    registries,
                };
                if let Err(e) = audit.append(record).await {
                    tracing::error!(error = %e, "audit record not written; answer withheld");
                    return Err(Status::unavailable(
                        "the audit log could not be written, so no answer is given; retry later",
                    ));
                }
            }
            match &result {
                Ok(_) => tracing::debug!("ok"),
                Err(e) => tracing::info!(error = %e, "failed"),
            }
            result.map(Response::new).map_err(Status::from)
        }
        .instrument(span.clone())
        .await;
        let code = answer.as_ref().err().map_or(tonic::Code::Ok, Status::code);
        span.record("rpc.grpc.status_code", code as i32);
        if !matches!(code, tonic::Code::Ok | tonic::Code::NotFound) {
            span.record("otel.status_code", "ERROR");
        }
        timer.finish(code);
        answer
    }
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
}
