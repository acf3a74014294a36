//! The HTTP/JSON edge: the same contract over HTTP/1.1 (or HTTP/2) with JSON bodies, for
//! systems that do not speak gRPC. Its routes are the `google.api.http` options of the proto
//! ([`routes`]), its JSON is protobuf's JSON mapping ([`json`]), and its OpenAPI document is
//! generated from both ([`openapi`], served at [`OPENAPI_PATH`]).
//!
//! A request is transcoded, not handled a second time: its JSON becomes the protobuf request,
//! its headers the gRPC metadata (`x-purpose`, `x-request-id`, `traceparent`; the deadline
//! `x-timeout-ms` becomes `grpc-timeout`), its connection's extensions (the client
//! certificate) stay as they are, and it is sent in-process to the very gRPC services the
//! gateway serves. Caller, rights, consent, deadline, admission, span, metrics and the audit
//! record are therefore those of a gRPC call by construction. The answer, or the
//! `google.rpc.Status` with its details, comes back as JSON with the HTTP status that its code
//! maps to. What cannot be transcoded (a wrong content type, a body too large or not JSON, a
//! field of the wrong type) is refused as the gRPC edge refuses an undecodable message: audited,
//! counted and traced as INVALID_ARGUMENT naming the field, with HTTP 415, 413 or 400.
//!
//! It is served on the gRPC listener (see `server`): one port, one TLS identity and client CA,
//! one set of connection limits, one drain.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body as AxumBody;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tonic::metadata::MetadataMap;
use tonic::Code;
use tonic_types::StatusExt;
use tower::ServiceExt;

use super::call::{CallPolicy, HttpRoute};
use super::malformed::refuse;
use crate::error::Error;

mod json;
mod openapi;
mod routes;

pub use routes::{BodyRule, Route, Routes};

/// The types of `google/api/http.proto`, to read the routes from the descriptor set.
pub mod google_api {
    include!(concat!(env!("OUT_DIR"), "/google.api.rs"));
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/v1/openapi.json";
/// The header carrying the caller's deadline: its budget in milliseconds.
pub const TIMEOUT_HEADER: &str = "x-timeout-ms";

/// Headers that frame the HTTP request or would change how the in-process gRPC call is framed:
/// never passed on as metadata.
const NOT_METADATA: [&str; 11] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "upgrade",
    "expect",
    "host",
    "grpc-encoding",
    "grpc-accept-encoding",
];

/// The HTTP/JSON edge in front of gRPC services (cheap to clone).
#[derive(Clone)]
pub struct HttpJson {
    inner: Arc<Inner>,
}

struct Inner {
    routes: Routes,
    /// The gateway's gRPC services, called in-process.
    grpc: tonic::service::Routes,
    /// The edge of each service (by full name), for the calls refused here.
    edges: Vec<(String, CallPolicy)>,
    max_body: usize,
    openapi: Bytes,
}

impl HttpJson {
    /// The edge for `grpc`, whose services are named in `edges` with their [`CallPolicy`]; JSON
    /// bodies of at most `max_body` bytes.
    pub fn new(
        grpc: tonic::service::Routes,
        edges: Vec<(String, CallPolicy)>,
        max_body: usize,
    ) -> HttpJson {
        let pool = json::pool();
        let names: Vec<&str> = edges.iter().map(|(name, _)| name.as_str()).collect();
        let routes = Routes::new(pool, &names).expect("the contract's routes are valid (tested)");
        let openapi = openapi::document(&routes, pool);
        HttpJson {
            inner: Arc::new(Inner {
                openapi: serde_json::to_vec_pretty(&openapi)
                    .expect("a JSON value serializes")
                    .into(),
                routes,
                grpc,
                edges,
                max_body,
            }),
        }
    }

    /// The router serving every route under `/v1/`, the OpenAPI document included.
    pub fn router(self) -> axum::Router {
        let service = tower::service_fn(move |request| {
            let edge = self.clone();
            async move { Ok::<_, Infallible>(edge.handle(request).await) }
        });
        axum::Router::new().route_service("/v1/{*path}", service)
    }

    async fn handle(&self, request: http::Request<AxumBody>) -> http::Response<AxumBody> {
        let (parts, body) = request.into_parts();
        let (route, path_fields) = match self.find(&parts.method, parts.uri.path()) {
            Ok(found) => found,
            Err(response) => return *response,
        };
        let (metadata, header_rule) = metadata(&parts.headers);
        let mut extensions = parts.extensions.clone();
        extensions.insert(HttpRoute(format!("{} {}", route.method, route.template)));
        let message = match header_rule {
            Some(error) => Err(Refusal(error, None)),
            None => self.message(route, path_fields, &parts, body).await,
        };
        let message = match message {
            Ok(message) => message,
            Err(refusal) => return self.refused(route, (metadata, extensions), refusal).await,
        };
        let request = grpc_request(route, metadata, extensions, message);
        let response = match self.inner.grpc.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        answer(route, response).await
    }

    /// The route of `method` and `path` with its path parameters, or the answer when there is
    /// none (404, 405) or the path is the OpenAPI document's.
    fn find(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<(&Route, PathFields), Box<http::Response<AxumBody>>> {
        if path == OPENAPI_PATH {
            return Err(Box::new(match *method {
                Method::GET | Method::HEAD => {
                    json_response(StatusCode::OK, self.inner.openapi.clone())
                }
                _ => method_not_allowed(vec![Method::GET]),
            }));
        }
        match self.inner.routes.find(method, path) {
            routes::Match::Route(route, fields) => Ok((route, fields)),
            routes::Match::WrongMethod(allowed) => Err(Box::new(method_not_allowed(allowed))),
            routes::Match::NoRoute => Err(Box::new(error_response(&tonic::Status::not_found(
                format!("no route {method} {path}; the routes are listed in {OPENAPI_PATH}"),
            )))),
        }
    }

    /// The encoded request message: the content type, the body, and the fields from the path,
    /// the query string and the body.
    async fn message(
        &self,
        route: &Route,
        path_fields: PathFields,
        parts: &http::request::Parts,
        body: AxumBody,
    ) -> Result<Bytes, Refusal> {
        if route.body == BodyRule::Json && !json_content_type(parts.headers.get(CONTENT_TYPE)) {
            let error = Error::invalid("content-type", "must be application/json");
            return Err(Refusal(error, Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)));
        }
        let body = self.read(body).await?;
        let fields = path_fields
            .map_err(|rule| Refusal(Error::invalid("path", crate::iin::scrub(&rule)), None))?;
        json::request(route, fields, parts.uri.query(), &body)
            .map_err(|v| Refusal(Error::invalid(v.field, v.rule), None))
    }

    /// The whole body, at most `max_body` bytes, as it arrives within the arrival timeout.
    async fn read(&self, body: AxumBody) -> Result<Bytes, Refusal> {
        match Limited::new(body, self.inner.max_body).collect().await {
            Ok(body) => Ok(body.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => {
                let rule = format!("must be at most {} bytes", self.inner.max_body);
                Err(Refusal(
                    Error::invalid("body", rule),
                    Some(StatusCode::PAYLOAD_TOO_LARGE),
                ))
            }
            Err(_) => {
                let rule = "did not arrive whole within request_arrival_timeout";
                Err(Refusal(
                    Error::invalid("body", rule),
                    Some(StatusCode::REQUEST_TIMEOUT),
                ))
            }
        }
    }

    /// A refusal of `route`'s RPC, through the edge of its service (audited like the gRPC
    /// edge's refusals).
    async fn refused(
        &self,
        route: &Route,
        head: (HeaderMap, http::Extensions),
        Refusal(error, http): Refusal,
    ) -> http::Response<AxumBody> {
        let service = route.rpc.parent_service().full_name().to_owned();
        let edge = self
            .inner
            .edges
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, edge)| edge)
            .expect("every route's service has an edge");
        let (headers, extensions) = head;
        let status = refuse(
            edge,
            route.call,
            (MetadataMap::from_headers(headers), extensions),
            error,
        )
        .await;
        let mut response = error_response(&status);
        if let Some(http) = http.filter(|_| status.code() == Code::InvalidArgument) {
            *response.status_mut() = http;
        }
        response
    }
}

/// What answers a path that is neither a gRPC method nor a route: gRPC's UNIMPLEMENTED to a
/// gRPC client, as tonic does; to anyone else a JSON 404 (tonic's answer, an HTTP 200 with an
/// empty body, would read as a success).
pub async fn fallback(request: http::Request<AxumBody>) -> http::Response<AxumBody> {
    let grpc = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        let (parts, ()) = tonic::Status::unimplemented("")
            .into_http::<()>()
            .into_parts();
        return http::Response::from_parts(parts, AxumBody::empty());
    }
    let status = tonic::Status::not_found(format!(
        "no route {} {}; the HTTP/JSON routes are listed in {OPENAPI_PATH}",
        request.method(),
        request.uri().path()
    ));
    error_response(&status)
}

/// The path parameters of a route, or the rule they break.
type PathFields = Result<Vec<(String, String)>, String>;

/// A request refused before its RPC runs: the error, and the HTTP status it gets instead of its
/// code's (413, 415, 408) when the caller may call the RPC at all.
struct Refusal(Error, Option<StatusCode>);

/// The gRPC metadata of an HTTP request: its headers but [`NOT_METADATA`], with the deadline of
/// [`TIMEOUT_HEADER`] as `grpc-timeout`; and the rule a header breaks, if any.
fn metadata(headers: &HeaderMap) -> (HeaderMap, Option<Error>) {
    let mut metadata = headers.clone();
    for name in NOT_METADATA {
        metadata.remove(name);
    }
    // tonic's server reads `grpc-timeout` off the HTTP request too, and would answer a gRPC
    // CANCELLED to an HTTP caller: over HTTP the deadline has a header of its own.
    if metadata.remove("grpc-timeout").is_some() {
        let rule = format!("is not read over HTTP/JSON: send the deadline as {TIMEOUT_HEADER}");
        return (metadata, Some(Error::invalid("grpc-timeout", rule)));
    }
    let Some(value) = metadata.remove(TIMEOUT_HEADER) else {
        return (metadata, None);
    };
    let millis = value
        .to_str()
        .ok()
        .filter(|v| (1..=8).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()));
    match millis {
        Some(millis) => {
            let timeout = HeaderValue::from_str(&format!("{millis}m")).expect("digits and a unit");
            metadata.insert(HeaderName::from_static("grpc-timeout"), timeout);
            (metadata, None)
        }
        None => {
            let rule = "must be 1 to 8 digits: the caller's budget in milliseconds";
            (metadata, Some(Error::invalid(TIMEOUT_HEADER, rule)))
        }
    }
}

/// Whether the content type is JSON (`application/json`, parameters aside).
fn json_content_type(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The in-process gRPC request of `route`'s RPC carrying `message`.
fn grpc_request(
    route: &Route,
    mut headers: HeaderMap,
    extensions: http::Extensions,
    message: Bytes,
) -> http::Request<tonic::body::Body> {
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0); // not compressed
    frame.put_u32(u32::try_from(message.len()).expect("bounded by max_message_bytes"));
    frame.put(message);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("te", HeaderValue::from_static("trailers"));
    let path = format!(
        "/{}/{}",
        route.rpc.parent_service().full_name(),
        route.rpc.name()
    );
    let mut request = http::Request::new(tonic::body::Body::new(Full::new(frame.freeze())));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = path.parse().expect("a service and method name make a path");
    *request.headers_mut() = headers;
    *request.extensions_mut() = extensions;
    request
}

/// The gRPC answer of `route`'s RPC as JSON.
async fn answer(
    route: &Route,
    response: http::Response<tonic::body::Body>,
) -> http::Response<AxumBody> {
    let (parts, body) = response.into_parts();
    let collected = match body.collect().await {
        Ok(collected) => collected,
        Err(status) => return error_response(&status),
    };
    let status = tonic::Status::from_header_map(&parts.headers)
        .or_else(|| {
            collected
                .trailers()
                .and_then(tonic::Status::from_header_map)
        })
        .unwrap_or_else(|| tonic::Status::internal("the gRPC answer had no status"));
    if status.code() != Code::Ok {
        return error_response(&status);
    }
    let data = collected.to_bytes();
    let message = match data.as_ref() {
        [0, len @ ..] if len.len() >= 4 => {
            let (size, rest) = len.split_at(4);
            let size = u32::from_be_bytes(size.try_into().expect("4 bytes")) as usize;
            rest.get(..size)
        }
        _ => None,
    };
    let json = message
        .ok_or_else(|| "not one uncompressed gRPC message".to_owned())
        .and_then(|m| json::to_json(route.rpc.output(), m));
    match json {
        Ok(json) => json_response(StatusCode::OK, json.into()),
        Err(e) => {
            tracing::error!(error = %e, rpc = route.call.name(), "answer not rendered as JSON");
            error_response(&tonic::Status::internal(
                "the answer could not be rendered as JSON",
            ))
        }
    }
}

/// The HTTP status of a gRPC code, as google.rpc.Code documents it.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => StatusCode::from_u16(499).expect("a valid status code"),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `status` as a `google.rpc.Status` JSON body, with `Retry-After` when it says when to retry.
fn error_response(status: &tonic::Status) -> http::Response<AxumBody> {
    let mut response = json_response(http_status(status.code()), json::status(status).into());
    let retry = status
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay);
    if let Some(delay) = retry {
        let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    }
    response
}

fn method_not_allowed(allowed: Vec<Method>) -> http::Response<AxumBody> {
    let list = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let status = tonic::Status::unimplemented(format!("this path is served for {list} only"));
    let mut response = error_response(&status);
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_str(&list).expect("method names"));
    response
}

fn json_response(status: StatusCode, body: Bytes) -> http::Response<AxumBody> {
    let mut response = http::Response::new(AxumBody::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        Routes::new(
            json::pool(),
            &[
                "registry_gateway.v1.RegistryGatewayService",
                "registry_gateway.v1.GatewayAdminService",
            ],
        )
        .unwrap()
    }

    #[test]
    fn every_rpc_has_a_route() {
        let routes = routes();
        for rpc in crate::rpc::Rpc::ALL {
            assert!(routes.iter().any(|r| r.call == rpc), "{rpc} has no route");
        }
    }

    #[test]
    fn paths_lead_to_routes() {
        let routes = routes();
        let found = |method: Method, path: &str| match routes.find(&method, path) {
            routes::Match::Route(route, fields) => {
                format!("{} {:?}", route.call, fields.unwrap())
            }
            routes::Match::WrongMethod(allowed) => format!("405 {allowed:?}"),
            routes::Match::NoRoute => "404".into(),
        };
        assert_eq!(
            found(Method::GET, "/v1/persons/860314310210"),
            r#"GetPerson [("iin", "860314310210")]"#
        );
        assert_eq!(found(Method::POST, "/v1/persons:get"), "GetPerson []");
        assert_eq!(
            found(Method::GET, "/v1/persons/86%2031/civil-acts"),
            r#"GetCivilActs [("iin", "86 31")]"#
        );
        assert_eq!(found(Method::POST, "/v1/owners:check"), "CheckOwner []");
        assert_eq!(found(Method::GET, "/v1/owners:check"), "405 [POST]");
        assert_eq!(found(Method::POST, "/v1/owners:checks"), "404");
        assert_eq!(found(Method::GET, "/v1/persons/"), "404");
        assert_eq!(
            found(Method::POST, "/v1/admin/persons/860314310210:invalidate"),
            r#"InvalidatePerson [("iin", "860314310210")]"#
        );
        assert_eq!(
            found(Method::GET, "/v1/admin/registries"),
            "GetRegistryStatus []"
        );
    }

    #[test]
    fn deadline_header() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        let (m, refused) = metadata(&headers(&[
            ("x-timeout-ms", "250"),
            ("x-purpose", "p"),
            ("content-type", "application/json"),
        ]));
        assert!(refused.is_none());
        assert_eq!(m.get("grpc-timeout").unwrap(), "250m");
        assert_eq!(m.get("x-purpose").unwrap(), "p");
        assert!(m.get("content-type").is_none() && m.get("x-timeout-ms").is_none());
        for bad in ["", "-1", "1.5", "123456789", "1s"] {
            let mut h = HeaderMap::new();
            h.insert("x-timeout-ms", HeaderValue::from_str(bad).unwrap());
            let (_, refused) = metadata(&h);
            assert!(
                matches!(refused, Some(Error::InvalidArgument { ref field, .. }) if field == "x-timeout-ms"),
                "{bad:?}"
            );
        }
        let (m, refused) = metadata(&headers(&[("grpc-timeout", "1S")]));
        assert!(refused.is_some() && m.get("grpc-timeout").is_none());
    }

    #[test]
    fn json_content_types() {
        let ok = |v: &str| json_content_type(Some(&HeaderValue::from_str(v).unwrap()));
        assert!(ok("application/json"));
        assert!(ok("Application/JSON; charset=utf-8"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/grpc"));
        assert!(!json_content_type(None));
    }
}
