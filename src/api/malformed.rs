//! Requests that never reach a handler because they are not gRPC messages of their RPC: the
//! caller's error, answered and audited as such.
//!
//! - A `content-type` other than `application/grpc` (or `application/grpc+proto`): HTTP 415,
//!   as the gRPC spec asks of a server, with `grpc-status` INVALID_ARGUMENT.
//! - A body that does not decode (garbage or truncated protobuf, a cut frame, a message over
//!   `max_message_bytes`, a bad compression flag): INVALID_ARGUMENT with a `BadRequest`
//!   violation on `request`. tonic says INTERNAL (or OUT_OF_RANGE for the size) here, as
//!   grpc's status code guide suggests for parse errors; for a unary call whose whole request
//!   was received, the fault is the caller's, so the gateway says so.
//!
//! Both go through the same [`IncomingCall`](super::call) as every other RPC: caller, rights-free
//! refusal, metrics, span, and an audit record with subject `MALFORMED` (bounded per caller
//! like every refused call). Our handlers never answer INTERNAL or OUT_OF_RANGE themselves, so
//! such a status before any response body can only come from decoding the request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http;
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;
use tonic::{Code, Request, Status};

use super::call::{AuditSubject, Audited, CallPolicy};
use crate::audit::{CallOutcome, RegistryUse};
use crate::error::Error;
use crate::rpc::Rpc;

/// `S` (a generated gRPC service) with malformed requests answered and audited.
#[derive(Clone)]
pub struct RefuseMalformed<S> {
    inner: S,
    edge: CallPolicy,
}

impl<S> RefuseMalformed<S> {
    pub fn new(inner: S, edge: CallPolicy) -> RefuseMalformed<S> {
        RefuseMalformed { inner, edge }
    }
}

impl<S: NamedService> NamedService for RefuseMalformed<S> {
    const NAME: &'static str = S::NAME;
}

/// Whether `value` is a gRPC content type this gateway decodes.
fn grpc_content_type(value: Option<&http::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media = value.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/grpc")
        || media.eq_ignore_ascii_case("application/grpc+proto")
}

impl<S> tower::Service<http::Request<Body>> for RefuseMalformed<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone that was made ready is the one that serves this request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let edge = self.edge.clone();
        let Some(rpc) = Rpc::from_path(request.uri().path()) else {
            return Box::pin(inner.call(request));
        };
        let head = (
            MetadataMap::from_headers(request.headers().clone()),
            request.extensions().clone(),
        );
        let content_type_ok = grpc_content_type(request.headers().get(http::header::CONTENT_TYPE));
        Box::pin(async move {
            if !content_type_ok {
                let status = refuse(
                    &edge,
                    rpc,
                    head,
                    Error::invalid(
                        "request",
                        "content-type must be application/grpc (protobuf)",
                    ),
                )
                .await;
                let mut response = status.into_http::<Body>();
                if response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    == Some("3")
                {
                    *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
                }
                return Ok(response);
            }
            let response = inner.call(request).await?;
            match Status::from_header_map(response.headers()) {
                Some(s) if matches!(s.code(), Code::Internal | Code::OutOfRange) => {
                    let rule = format!(
                        "is not a valid message of {rpc}: {}",
                        crate::iin::scrub(s.message())
                    );
                    Ok(refuse(&edge, rpc, head, Error::invalid("request", rule))
                        .await
                        .into_http())
                }
                _ => Ok(response),
            }
        })
    }
}

/// A refused call never answers; it only has to be [`Audited`] to go through [`IncomingCall`].
enum Refused {}

impl Audited for Refused {
    fn outcome(&self) -> CallOutcome {
        match *self {}
    }
    fn registries(&self) -> Vec<RegistryUse> {
        match *self {}
    }
}

/// Runs `rpc` as a call that fails with `error` (INVALID_ARGUMENT naming the field at fault):
/// audited (all but the status query, which is not about anyone), counted and traced like any
/// other. The HTTP/JSON edge refuses what it cannot transcode the same way.
pub(super) async fn refuse(
    edge: &CallPolicy,
    rpc: Rpc,
    (metadata, extensions): (MetadataMap, http::Extensions),
    error: Error,
) -> Status {
    let request = Request::from_parts(metadata, extensions, ());
    let call = edge.begin(rpc, &request);
    let about = rpc.is_about_a_person().then(AuditSubject::malformed);
    match call
        .run(edge, about, async { Err::<Refused, _>(error) })
        .await
    {
        Ok(answer) => match answer.into_inner() {},
        Err(status) => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let ok = |v: &str| grpc_content_type(Some(&http::HeaderValue::from_str(v).unwrap()));
        assert!(ok("application/grpc"));
        assert!(ok("application/grpc+proto"));
        assert!(ok("application/grpc; charset=utf-8"));
        assert!(!ok("application/grpc+json"));
        assert!(!ok("application/json"));
        assert!(!ok("text/plain"));
        assert!(!grpc_content_type(None));
    }
}
