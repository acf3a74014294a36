//! The gateway's errors and their one mapping to `tonic::Status`, with google.rpc details:
//! a `BadRequest` field violation for caller errors, `ErrorInfo` naming the registry plus
//! `RetryInfo` for registry failures.

use std::borrow::Cow;
use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::audit::{CallOutcome, RegistryOutcome, RegistryUse};
use crate::registry::{Failure, Registry, RegistryError};
use crate::rpc::Rpc;

/// `ErrorInfo.domain` of every error the gateway raises.
pub const ERROR_DOMAIN: &str = "registry-gateway.kz";

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request is malformed: `field` breaks `rule`.
    #[error("{field}: {rule}")]
    InvalidArgument {
        field: Cow<'static, str>,
        rule: String,
    },
    /// The caller's deadline ran out before the gateway could answer.
    #[error("deadline exceeded before the gateway could answer")]
    Deadline,
    /// The caller may not call this RPC. Says nothing about the data.
    #[error("caller {caller} may not call {rpc}")]
    PermissionDenied { rpc: Rpc, caller: String },
    /// The caller needs the person's consent token for this RPC and brought none. Refused
    /// before any registry call.
    #[error("{rpc} needs the person's consent: consent_token (GBD FL kdpToken) is required for caller {caller}")]
    ConsentRequired { rpc: Rpc, caller: String },
    /// A look-up found no such person in `registry`.
    #[error("{registry} has no person with this IIN")]
    NotFound { registry: Registry },
    /// The gateway is at its limit of RPCs in flight (server-wide, or this caller's share).
    #[error("the gateway is at its limit of {limit} calls in flight{whose}; retry shortly")]
    Overloaded {
        limit: usize,
        /// "" or " for this client system".
        whose: &'static str,
        retry_after: std::time::Duration,
    },
    /// The audit log cannot take records now (its probe or last write failed, the disk is
    /// under its free-space floor, PostgreSQL does not confirm): no registry is asked for a
    /// call that could not be audited.
    #[error("the audit log cannot take records now, so no registry is asked; retry later")]
    AuditUnavailable,
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// No configured act is in force on the decision date and `decision.legal_basis.on_expired`
    /// is `refuse`. Refused before any registry is asked.
    #[error("no legal basis in force on {date}: {act} is in force {term} (decision.legal_basis.on_expired = refuse)")]
    LegalBasis {
        act: String,
        term: String,
        date: chrono::NaiveDate,
    },
    /// CheckDwelling: the error of one owner, `owner` naming it (`owners[2]`), that is the
    /// call's answer.
    #[error("{owner}: {source}")]
    Owner { owner: String, source: Box<Error> },
    /// ExplainDecision: the audit store or the evidence archive could not be read (or is not
    /// configured). Names no personal data.
    #[error("the decision cannot be explained: {0}")]
    Evidence(String),
    /// ExplainDecision on a gateway without the evidence archive: a precondition of this
    /// deployment, not a failure to retry.
    #[error("the decision cannot be explained here: this gateway has no evidence archive (needs [audit.postgres] and [audit.evidence])")]
    NoEvidenceArchive,
}

impl Error {
    pub fn invalid(field: impl Into<Cow<'static, str>>, rule: impl Into<String>) -> Error {
        Error::InvalidArgument {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// The error of the owner at `index` of a CheckDwelling.
    pub fn of_owner(index: usize, source: Error) -> Error {
        Error::Owner {
            owner: format!("owners[{index}]"),
            source: Box::new(source),
        }
    }

    /// A call refused before any registry was asked: no right, a malformed request, a
    /// consent token required and missing.
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::InvalidArgument { .. }
            | Error::PermissionDenied { .. }
            | Error::ConsentRequired { .. }
            | Error::LegalBasis { .. } => true,
            Error::Owner { source, .. } => source.is_refusal(),
            _ => false,
        }
    }

    /// Whether this is the caller's error rather than a registry's or the gateway's: a
    /// refusal, or a consent token GBD FL refused.
    pub fn is_callers(&self) -> bool {
        match self {
            Error::Registry(e) => matches!(
                e.failure,
                Failure::ConsentRefused { .. } | Failure::Rejected { .. }
            ),
            Error::Owner { source, .. } => source.is_callers(),
            e => e.is_refusal(),
        }
    }
}

impl Error {
    /// The outcome an audit record gives for this error: the gRPC code it maps to.
    pub fn audit_outcome(&self) -> CallOutcome {
        let code = match self {
            Error::Owner { source, .. } => return source.audit_outcome(),
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::Deadline => Code::DeadlineExceeded,
            Error::AuditUnavailable => Code::Unavailable,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
            Error::ConsentRequired { .. } | Error::LegalBasis { .. } => Code::FailedPrecondition,
            Error::Evidence(_) => Code::Unavailable,
            Error::NoEvidenceArchive => Code::FailedPrecondition,
            Error::Registry(RegistryError {
                failure: Failure::ConsentRefused { .. },
                ..
            }) => Code::PermissionDenied,
            Error::Registry(RegistryError {
                failure: Failure::Rejected { .. },
                ..
            }) => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::Registry(RegistryError {
                failure: Failure::DeadlineExceeded,
                ..
            }) => Code::DeadlineExceeded,
            Error::Overloaded { .. }
            | Error::Registry(RegistryError {
                failure: Failure::Overloaded(_),
                ..
            }) => Code::ResourceExhausted,
            Error::Registry(_) => Code::Unavailable,
        };
        CallOutcome::Failed(code)
    }

    /// The registries an error involved, for the audit record.
    pub fn audit_registries(&self) -> Vec<RegistryUse> {
        let (registry, status) = match self {
            Error::Owner { source, .. } => return source.audit_registries(),
            Error::NotFound { registry } => (*registry, RegistryOutcome::NotFound),
            Error::Registry(e) => (
                e.registry,
                match e.failure {
                    Failure::Overloaded(_) => RegistryOutcome::Overloaded,
                    Failure::ConsentRefused { .. } => RegistryOutcome::ConsentRefused,
                    Failure::Rejected { .. } => RegistryOutcome::Rejected,
                    _ => RegistryOutcome::Unavailable,
                },
            ),
            _ => return Vec::new(),
        };
        vec![RegistryUse {
            registry,
            status,
            from_cache: false,
            stale: false,
            evidence: None,
        }]
    }
}

/// `ErrorInfo` with `reason`, naming the registry (when one is involved) and the request id.
fn error_info(
    reason: &str,
    registry: impl Into<Option<Registry>>,
    request_id: &str,
) -> ErrorDetails {
    let mut metadata = HashMap::new();
    if let Some(registry) = registry.into() {
        metadata.insert("registry".to_owned(), registry.key().to_owned());
    }
    if !request_id.is_empty() {
        metadata.insert("request_id".to_owned(), request_id.to_owned());
    }
    ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata)
}

impl Error {
    /// The status a caller gets for this error in the call `request_id`. A registry failure
    /// names the registry and the kind of failure, with `RetryInfo` and the request id; never
    /// the registry's URL, an OS error or the registry's own text, which go to the gateway's
    /// log under the same request id.
    pub fn to_status(&self, request_id: &str) -> Status {
        let id = if request_id.is_empty() {
            String::new()
        } else {
            format!(" (request id {request_id})")
        };
        match self {
            Error::InvalidArgument { field, rule } => Status::with_error_details(
                Code::InvalidArgument,
                self.to_string(),
                ErrorDetails::with_bad_request_violation(field.clone(), rule.clone()),
            ),
            Error::Owner { owner, source } => {
                let status = source.to_status(request_id);
                Status::with_details(
                    status.code(),
                    format!("{owner}: {}", status.message()),
                    status.details().to_vec().into(),
                )
            }
            Error::Deadline => Status::deadline_exceeded(format!("{self}{id}")),
            Error::AuditUnavailable => audit_unavailable(self, request_id, &id),
            Error::PermissionDenied { .. } => Status::permission_denied(self.to_string()),
            Error::ConsentRequired { .. } => Status::with_error_details(
                Code::FailedPrecondition,
                self.to_string(),
                ErrorDetails::with_precondition_failure_violation(
                    "CONSENT_REQUIRED",
                    "consent_token",
                    "the person's consent token (GBD FL kdpToken) is required for this caller \
                     and RPC; obtain the person's consent and send its token",
                ),
            ),
            Error::LegalBasis { .. } => Status::with_error_details(
                Code::FailedPrecondition,
                self.to_string(),
                ErrorDetails::with_precondition_failure_violation(
                    "LEGAL_BASIS_EXPIRED",
                    "decision_date",
                    "no act configured in [decision.legal_basis] is in force on the decision \
                     date; the operators must configure the act in force",
                ),
            ),
            Error::Registry(
                e @ RegistryError {
                    failure: Failure::ConsentRefused { .. },
                    ..
                },
            ) => consent_refused(e, request_id, &id),
            Error::Registry(
                e @ RegistryError {
                    failure: Failure::Rejected { .. },
                    ..
                },
            ) => rejected(e, request_id, &id),
            Error::NotFound { registry } => Status::with_error_details(
                Code::NotFound,
                self.to_string(),
                error_info("PERSON_NOT_FOUND", *registry, request_id),
            ),
            Error::Registry(RegistryError {
                registry,
                failure: Failure::DeadlineExceeded,
                ..
            }) => Status::with_error_details(
                Code::DeadlineExceeded,
                format!("{registry}: no answer before the caller's deadline{id}"),
                error_info("DEADLINE_EXCEEDED", *registry, request_id),
            ),
            Error::Overloaded { retry_after, .. } => {
                let mut details = error_info("GATEWAY_OVERLOADED", None, request_id);
                details.set_retry_info(Some(*retry_after));
                Status::with_error_details(Code::ResourceExhausted, format!("{self}{id}"), details)
            }
            Error::Evidence(_) => Status::unavailable(format!("{self}{id}")),
            Error::NoEvidenceArchive => Status::failed_precondition(format!("{self}{id}")),
            Error::Registry(e) => registry_failed(e, request_id, &id),
        }
    }
}

/// GBD FL refused the caller's consent token: the caller's to fix.
fn consent_refused(e: &RegistryError, request_id: &str, id: &str) -> Status {
    let mut details = error_info("CONSENT_REFUSED", e.registry, request_id);
    details.add_precondition_failure_violation(
        "CONSENT_REFUSED",
        "consent_token",
        "the registry did not accept the consent token for this person",
    );
    Status::with_error_details(
        Code::PermissionDenied,
        format!(
            "{} refused the consent token: it is invalid, expired or not the consent of this \
             person; ask the person for a new consent{id}",
            e.registry
        ),
        details,
    )
}

/// The audit log cannot take records now: retry in a second.
fn audit_unavailable(error: &Error, request_id: &str, id: &str) -> Status {
    let mut details = error_info("AUDIT_UNAVAILABLE", None, request_id);
    details.set_retry_info(Some(std::time::Duration::from_secs(1)));
    Status::with_error_details(Code::Unavailable, format!("{error}{id}"), details)
}

/// The registry refused the caller's request as invalid: the caller's to fix, not retried
/// (no `RetryInfo`); the registry's own text stays in the gateway's log.
fn rejected(e: &RegistryError, request_id: &str, id: &str) -> Status {
    Status::with_error_details(
        Code::InvalidArgument,
        format!(
            "{} refused the request as invalid; check the request's values{id}",
            e.registry
        ),
        error_info("REQUEST_REFUSED_BY_REGISTRY", e.registry, request_id),
    )
}

/// The gateway's own queue for the registry, or the registry itself, failed: which registry,
/// how, and when to retry.
fn registry_failed(e: &RegistryError, request_id: &str, id: &str) -> Status {
    let (code, reason, what) = match e.failure {
        Failure::Overloaded(_) => (Code::ResourceExhausted, "GATEWAY_OVERLOADED", ""),
        _ if e.failure.is_transient() => {
            (Code::Unavailable, "REGISTRY_UNAVAILABLE", " did not answer")
        }
        _ => (Code::Unavailable, "REGISTRY_FAILED", " did not answer"),
    };
    let mut details = error_info(reason, e.registry, request_id);
    details.set_retry_info(Some(e.retry_after));
    let message = format!(
        "{}{what}: {}; retry in {}s{id}",
        e.registry,
        e.failure.kind(),
        e.retry_after.as_secs().max(1)
    );
    Status::with_error_details(code, message, details)
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        error.to_status("")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn registry_failures_tell_the_caller_nothing_internal() {
        let secret = "https://shep.internal:8443/bip?apikey=s3cr3t: Connection refused (os error 111) /etc/shep";
        for failure in [
            Failure::Connect(secret.into()),
            Failure::Fault(secret.into()),
            Failure::Malformed(secret.into()),
            Failure::Status {
                code: secret.into(),
                message: secret.into(),
                transient: true,
            },
        ] {
            let kind = failure.kind();
            let status = Error::from(RegistryError {
                registry: Registry::Zags,
                failure,
                retry_after: Duration::from_secs(5),
            })
            .to_status("req-42");
            let message = status.message();
            for leak in ["shep.internal", "apikey", "os error", "/etc", "refused"] {
                assert!(!message.contains(leak), "{leak} in {message}");
            }
            assert_eq!(
                message,
                format!("IS ZAGS did not answer: {kind}; retry in 5s (request id req-42)")
            );
            let details = status.get_error_details();
            let info = details.error_info().unwrap();
            assert_eq!(info.metadata["registry"], "zags");
            assert_eq!(info.metadata["request_id"], "req-42");
            assert_eq!(
                details.retry_info().unwrap().retry_delay,
                Some(Duration::from_secs(5))
            );
        }
    }

    #[test]
    fn consent_errors_are_the_callers_and_name_the_consent() {
        let status = Error::ConsentRequired {
            rpc: Rpc::GetPerson,
            caller: "anonymous".into(),
        }
        .to_status("req-1");
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(
            status.message().contains("consent_token"),
            "{}",
            status.message()
        );
        let details = status.get_error_details();
        let v = &details.precondition_failure().unwrap().violations[0];
        assert_eq!(
            (v.r#type.as_str(), v.subject.as_str()),
            ("CONSENT_REQUIRED", "consent_token")
        );

        let error = Error::from(RegistryError {
            registry: Registry::GbdFl,
            failure: Failure::ConsentRefused {
                code: "KDP_REFUSED".into(),
            },
            retry_after: Duration::from_secs(60),
        });
        // The words the audit log has always held.
        assert_eq!(error.audit_outcome().to_string(), "PermissionDenied");
        let used = serde_json::to_value(&error.audit_registries()[0]).unwrap();
        assert_eq!(used["status"], "consent_refused");
        assert_eq!(used["registry"], "gbd_fl");
        let status = error.to_status("req-2");
        assert_eq!(status.code(), Code::PermissionDenied);
        assert!(
            status
                .message()
                .starts_with("GBD FL refused the consent token")
                && status.message().contains("req-2"),
            "{}",
            status.message()
        );
        let details = status.get_error_details();
        let info = details.error_info().unwrap();
        assert_eq!(info.reason, "CONSENT_REFUSED");
        assert_eq!(info.metadata["registry"], "gbd_fl");
        assert!(details.retry_info().is_none());
    }

    #[test]
    fn an_owners_error_names_the_owner_and_keeps_its_details() {
        let inner = Error::from(RegistryError {
            registry: Registry::Zags,
            failure: Failure::Timeout(Duration::from_secs(5)),
            retry_after: Duration::from_secs(5),
        });
        let error = Error::of_owner(3, inner.clone());
        assert_eq!(error.audit_outcome(), inner.audit_outcome());
        assert!(!error.is_callers() && !error.is_refusal());
        let status = error.to_status("req-9");
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.message(),
            format!("owners[3]: {}", inner.to_status("req-9").message())
        );
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().metadata["registry"], "zags");
        assert!(details.retry_info().is_some());
        let refused = Error::of_owner(0, Error::invalid("decision_date", "is before"));
        assert!(refused.is_refusal() && refused.is_callers());
    }

    #[test]
    fn invalid_argument_carries_a_field_violation() {
        let status = Status::from(Error::invalid("owner_iin", "must be exactly 12 digits"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violation = &details.bad_request().unwrap().field_violations[0];
        assert_eq!(violation.field, "owner_iin");
        assert_eq!(violation.description, "must be exactly 12 digits");
    }

    #[test]
    fn registry_failure_names_the_registry_and_when_to_retry() {
        let status = Status::from(Error::from(RegistryError {
            registry: Registry::SocialSecurity,
            failure: Failure::Timeout(Duration::from_secs(5)),
            retry_after: Duration::from_secs(7),
        }));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            status.message().contains("E-social security"),
            "{}",
            status.message()
        );
        assert!(
            status.message().contains("retry in 7s"),
            "{}",
            status.message()
        );
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().unwrap().metadata["registry"],
            "social_security"
        );
        assert!(!details
            .error_info()
            .unwrap()
            .metadata
            .contains_key("request_id"));
        assert_eq!(
            details.retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(7))
        );
    }
}
