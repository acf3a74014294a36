//! The routes of the HTTP/JSON edge, read from the `google.api.http` option of every RPC in the
//! contract's descriptor set: a method, a path template, and where the request's fields come
//! from. The templates used are the plain form of the google.api.http grammar: literal
//! segments, `{field}` segments naming a top-level string field of the request, and an
//! optional `:verb` at the end (`/v1/persons/{iin}`, `/v1/owners:check`). Anything else in a
//! template (wildcards, `{field=pattern}`, nested fields, a body naming one field) is refused
//! when the table is built, so a new annotation the edge cannot serve fails the tests.

use http::Method;
use percent_encoding::percent_decode_str;
use prost_reflect::{DescriptorPool, Kind, MethodDescriptor, ServiceDescriptor};

use super::google_api::{http_rule::Pattern, HttpRule};
use crate::rpc::Rpc;

/// Where the fields of the request that the path does not bind come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRule {
    /// The JSON body holds them (`body: "*"`).
    Json,
    /// The query string holds them; the body must be empty.
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A path parameter: the request field it binds.
    Field(String),
}

/// One route: an RPC reached by `method` at `template`.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    /// As written in the contract, e.g. `/v1/persons/{iin}`.
    pub template: String,
    pub body: BodyRule,
    pub rpc: MethodDescriptor,
    /// The RPC as the access rules, metrics and the audit know it.
    pub call: Rpc,
    segments: Vec<Segment>,
    verb: Option<String>,
}

impl Route {
    /// The request fields bound by the path, in order.
    pub fn path_fields(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Field(f) => Some(f.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The path parameters of `path` if it is this route's, percent-decoded, as (field, value).
    fn captures(&self, path: &str) -> Option<Result<Vec<(String, String)>, String>> {
        let path = match &self.verb {
            Some(verb) => path.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => path,
        };
        let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut captures = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Field(_) if part.is_empty() => return None,
                Segment::Field(field) => match percent_decode_str(part).decode_utf8() {
                    Ok(value) => captures.push((field.clone(), value.into_owned())),
                    Err(_) => {
                        return Some(Err(format!(
                            "path parameter {field} is not UTF-8 once percent-decoded"
                        )))
                    }
                },
            }
        }
        Some(Ok(captures))
    }
}

/// What a request's method and path lead to.
#[derive(Debug)]
pub enum Match<'a> {
    /// The route, and the path parameters (or the rule they break).
    Route(&'a Route, Result<Vec<(String, String)>, String>),
    /// The path is a route's, for other methods only.
    WrongMethod(Vec<Method>),
    NoRoute,
}

/// Every route of the services named, in contract order.
#[derive(Debug, Clone)]
pub struct Routes(Vec<Route>);

impl Routes {
    /// The routes of `services` (full names) in `pool`. Every RPC must have a route.
    pub fn new(pool: &DescriptorPool, services: &[&str]) -> Result<Routes, String> {
        let http = pool
            .get_extension_by_name("google.api.http")
            .ok_or("the descriptor set lacks google/api/annotations.proto")?;
        let mut routes = Vec::new();
        for name in services {
            let service: ServiceDescriptor = pool
                .get_service_by_name(name)
                .ok_or_else(|| format!("no service {name} in the descriptor set"))?;
            for rpc in service.methods() {
                let options = rpc.options();
                if !options.has_extension(&http) {
                    return Err(format!("{} has no google.api.http option", rpc.full_name()));
                }
                let rule: HttpRule = options
                    .get_extension(&http)
                    .as_message()
                    .ok_or("google.api.http is not a message")?
                    .transcode_to()
                    .map_err(|e| format!("{}: {e}", rpc.full_name()))?;
                for binding in std::iter::once(&rule).chain(&rule.additional_bindings) {
                    routes.push(
                        route(&rpc, binding).map_err(|e| format!("{}: {e}", rpc.full_name()))?,
                    );
                }
            }
        }
        Ok(Routes(routes))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.0.iter()
    }

    /// The route for `method` and `path` (the request's path, still percent-encoded).
    pub fn find(&self, method: &Method, path: &str) -> Match<'_> {
        let mut allowed = Vec::new();
        for route in &self.0 {
            let Some(captures) = route.captures(path) else {
                continue;
            };
            if route.method == *method {
                return Match::Route(route, captures);
            }
            allowed.push(route.method.clone());
        }
        match allowed.is_empty() {
            true => Match::NoRoute,
            false => Match::WrongMethod(allowed),
        }
    }
}

/// The route of one binding of `rpc`.
fn route(rpc: &MethodDescriptor, rule: &HttpRule) -> Result<Route, String> {
    let call: Rpc = rpc
        .name()
        .parse()
        .map_err(|()| format!("{} is not an Rpc of the gateway", rpc.name()))?;
    let (method, template) = match &rule.pattern {
        Some(Pattern::Get(t)) => (Method::GET, t),
        Some(Pattern::Post(t)) => (Method::POST, t),
        Some(Pattern::Put(t)) => (Method::PUT, t),
        Some(Pattern::Delete(t)) => (Method::DELETE, t),
        Some(Pattern::Patch(t)) => (Method::PATCH, t),
        Some(Pattern::Custom(_)) | None => {
            return Err("a route needs get, post, put, delete or patch".into())
        }
    };
    let body = match rule.body.as_str() {
        "*" => BodyRule::Json,
        "" => BodyRule::Query,
        field => return Err(format!("body {field:?}: only \"*\" or none is served")),
    };
    if !rule.response_body.is_empty() {
        return Err("response_body is not served".into());
    }
    let (segments, verb) = parse_template(template)?;
    let input = rpc.input();
    for segment in &segments {
        if let Segment::Field(field) = segment {
            let kind = input
                .get_field_by_name(field)
                .map(|f| (f.kind(), f.is_list()));
            if kind != Some((Kind::String, false)) {
                return Err(format!(
                    "{{{field}}} must name a string field of {}",
                    input.name()
                ));
            }
            if body == BodyRule::Json {
                return Err(format!(
                    "{{{field}}} with body \"*\": the path binds no field then"
                ));
            }
        }
    }
    if body == BodyRule::Query {
        let bound: Vec<&Segment> = segments.iter().collect();
        for field in input.fields() {
            let in_path = bound.contains(&&Segment::Field(field.name().to_owned()));
            if !in_path && (field.is_list() || field.kind().as_message().is_some()) {
                return Err(format!(
                    "{} cannot come from the query string: use body \"*\"",
                    field.name()
                ));
            }
        }
    }
    Ok(Route {
        method,
        template: template.clone(),
        body,
        rpc: rpc.clone(),
        call,
        segments,
        verb,
    })
}

/// `/a/{field}/b:verb` into its segments and verb.
fn parse_template(template: &str) -> Result<(Vec<Segment>, Option<String>), String> {
    let rest = template
        .strip_prefix('/')
        .ok_or_else(|| format!("template {template:?} must start with /"))?;
    let (path, verb) = match rest.rsplit_once(':') {
        Some((path, verb)) if !verb.contains(['/', '}']) => (path, Some(verb.to_owned())),
        _ => (rest, None),
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
    };
    if verb.as_deref().is_some_and(|v| !plain(v)) {
        return Err(format!(
            "template {template:?}: the verb must be a plain literal"
        ));
    }
    let segments = path
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(field) if plain(field) && !field.contains('.') => {
                    Ok(Segment::Field(field.to_owned()))
                }
                None if plain(s) => Ok(Segment::Literal(s.to_owned())),
                _ => Err(format!(
                    "template {template:?}: segment {s:?} must be a literal or {{field}}"
                )),
            },
        )
        .collect::<Result<_, _>>()?;
    Ok((segments, verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let (segments, verb) = parse_template("/v1/persons/{iin}:invalidate").unwrap();
        assert_eq!(
            segments,
            [
                Segment::Literal("v1".into()),
                Segment::Literal("persons".into()),
                Segment::Field("iin".into())
            ]
        );
        assert_eq!(verb.as_deref(), Some("invalidate"));
        assert_eq!(
            parse_template("/v1/owners:check").unwrap().1.as_deref(),
            Some("check")
        );
        for bad in [
            "v1/x",
            "/v1/{a=*}",
            "/v1/*",
            "/v1/**",
            "/v1//x",
            "/v1/{a.b}",
            "/v1/x:",
        ] {
            assert!(parse_template(bad).is_err(), "{bad}");
        }
    }
}
