//! The OpenAPI 3.0 document of the HTTP/JSON edge, generated from the contract: one operation
//! per route (the `google.api.http` options, as [`Routes`] reads them), the request and answer
//! schemas from the messages as protobuf's JSON mapping writes them (lowerCamelCase names, enums
//! by name, 64-bit integers as strings, Timestamps as date-time strings, Durations as `"1.5s"`),
//! the proto comments as descriptions, and `google.rpc.Status` for every error. No crate builds
//! one from descriptors and annotations alone (the Rust ones patch the output of Go's
//! protoc-gen-openapi), so this small generator does.

use std::collections::BTreeMap;

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
};
use serde_json::{json, Map, Value};

use super::routes::{BodyRule, Route, Routes};
use super::TIMEOUT_HEADER;

const DESCRIPTION: &str = "The registry gateway's contract (proto package registry_gateway.v1) \
over HTTP/1.1 and JSON, as protobuf's JSON mapping writes it. Every call carries the same \
rights, audit, deadline and admission as its gRPC form. Errors are google.rpc.Status with \
their details (BadRequest, ErrorInfo, RetryInfo, PreconditionFailure).";

/// The document for `routes`.
pub fn document(routes: &Routes, pool: &DescriptorPool) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for route in routes.iter() {
        let n = seen.entry(route.call.name()).or_default();
        *n += 1;
        let id = match *n {
            1 => route.call.name().to_owned(),
            n => format!("{}{n}", route.call),
        };
        paths.entry(&route.template).or_default().insert(
            route.method.as_str().to_lowercase(),
            operation(route, id, &mut schemas),
        );
    }
    let status = pool
        .get_message_by_name("google.rpc.Status")
        .expect("google.rpc.Status is in the pool");
    schemas.message(&status);
    for detail in [
        "BadRequest",
        "ErrorInfo",
        "RetryInfo",
        "PreconditionFailure",
    ] {
        let desc = pool
            .get_message_by_name(&format!("google.rpc.{detail}"))
            .expect("tonic-types describes the error details");
        schemas.message(&desc);
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "registry-gateway", "version": "v1", "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas.done,
            "parameters": headers(),
            "responses": error_responses(),
        },
    })
}

fn operation(route: &Route, id: String, schemas: &mut Schemas) -> Value {
    let rpc = &route.rpc;
    let input = rpc.input();
    let mut parameters: Vec<Value> = route
        .path_fields()
        .map(|name| {
            let field = input.get_field_by_name(name).expect("checked by Routes");
            parameter(&field, "path", name, schemas)
        })
        .collect();
    if route.body == BodyRule::Query {
        let bound: Vec<&str> = route.path_fields().collect();
        for field in input.fields().filter(|f| !bound.contains(&f.name())) {
            parameters.push(parameter(&field, "query", field.json_name(), schemas));
        }
    }
    for header in ["x-purpose", "x-request-id", TIMEOUT_HEADER] {
        parameters.push(json!({"$ref": format!("#/components/parameters/{header}")}));
    }
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": "The answer.",
            "content": {"application/json": {"schema": schemas.reference(&rpc.output())}},
        }),
    );
    let mut errors = vec!["400", "403", "404", "429", "503", "504"];
    if route.body == BodyRule::Json {
        errors.extend(["413", "415"]);
    }
    for code in errors {
        responses.insert(
            code.into(),
            json!({"$ref": format!("#/components/responses/{code}")}),
        );
    }
    responses.insert(
        "default".into(),
        json!({"$ref": "#/components/responses/default"}),
    );
    let mut operation = json!({
        "operationId": id,
        "tags": [rpc.parent_service().name()],
        "summary": format!("{} ({})", rpc.name(), rpc.parent_service().name()),
        "description": comment(&rpc.parent_file(), rpc.path()),
        "parameters": parameters,
        "responses": responses,
    });
    if route.body == BodyRule::Json {
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": schemas.reference(&input)}},
        });
    }
    operation
}

fn parameter(field: &FieldDescriptor, place: &str, name: &str, schemas: &mut Schemas) -> Value {
    json!({
        "name": name,
        "in": place,
        "required": place == "path",
        "description": comment(&field.parent_file(), field.path()),
        "schema": schemas.field(field),
    })
}

/// The headers every operation reads.
fn headers() -> Value {
    let header = |description: &str, schema: Value| json!({"in": "header", "required": false, "description": description, "schema": schema});
    let mut parameters = Map::new();
    for (name, description, schema) in [
        (
            "x-purpose",
            "The purpose of access, written to the audit record; required where the gateway's \
             access rules say so. At most 256 bytes.",
            json!({"type": "string", "maxLength": 256}),
        ),
        (
            "x-request-id",
            "The caller's request id, written to the audit record and returned in error \
             details; required where the access rules say so, else the gateway makes one. At \
             most 256 bytes.",
            json!({"type": "string", "maxLength": 256}),
        ),
        (
            TIMEOUT_HEADER,
            "The caller's deadline: its budget in milliseconds (gRPC's grpc-timeout). When it \
             runs out the answer is 504 DEADLINE_EXCEEDED.",
            json!({"type": "string", "pattern": "^[0-9]{1,8}$"}),
        ),
    ] {
        let mut p = header(description, schema);
        p["name"] = name.into();
        parameters.insert(name.into(), p);
    }
    Value::Object(parameters)
}

/// One response per error status, all a `google.rpc.Status`.
fn error_responses() -> Value {
    let mut responses = Map::new();
    for (code, description) in [
        ("400", "INVALID_ARGUMENT (a BadRequest names the field and the rule) or FAILED_PRECONDITION (consent token required)."),
        ("403", "PERMISSION_DENIED: the client system may not call this RPC, or the registry refused the consent token."),
        ("404", "NOT_FOUND: the registry has no such person (look-ups only), or no such route."),
        ("413", "The body is larger than the gateway's max_message_bytes."),
        ("415", "The body is not application/json."),
        ("429", "RESOURCE_EXHAUSTED: the gateway is at its limit of calls in flight; RetryInfo and Retry-After say when to retry."),
        ("503", "UNAVAILABLE: a registry did not answer (ErrorInfo names it; RetryInfo and Retry-After say when to retry), or the audit log cannot be written."),
        ("504", "DEADLINE_EXCEEDED: the caller's deadline (x-timeout-ms) ran out."),
        ("default", "Any other google.rpc.Status."),
    ] {
        responses.insert(
            code.into(),
            json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}},
            }),
        );
    }
    Value::Object(responses)
}

/// The component schemas, added as they are referenced.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Value>,
}

impl Schemas {
    fn reference(&mut self, message: &MessageDescriptor) -> Value {
        self.message(message);
        json!({"$ref": format!("#/components/schemas/{}", message.full_name())})
    }

    fn message(&mut self, message: &MessageDescriptor) {
        if self.done.contains_key(message.full_name()) {
            return;
        }
        // Placed first: a message that refers to itself finds it.
        self.done.insert(message.full_name().into(), Value::Null);
        let mut properties = Map::new();
        for field in message.fields() {
            let mut schema = self.field(&field);
            let description = comment(&field.parent_file(), field.path());
            if !description.is_empty() {
                if schema.get("$ref").is_some() {
                    schema = json!({"allOf": [schema]});
                }
                schema["description"] = description.into();
            }
            properties.insert(field.json_name().into(), schema);
        }
        let schema = json!({
            "type": "object",
            "description": comment(&message.parent_file(), message.path()),
            "properties": properties,
        });
        self.done.insert(message.full_name().into(), schema);
    }

    fn enumeration(&mut self, e: &EnumDescriptor) -> Value {
        if !self.done.contains_key(e.full_name()) {
            let file = e.parent_file();
            let mut description = comment(&file, e.path());
            for value in e.values() {
                let text = comment(&file, value.path());
                if !text.is_empty() {
                    description.push_str(&format!(
                        "\n- {}: {}",
                        value.name(),
                        text.replace('\n', " ")
                    ));
                }
            }
            let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
            self.done.insert(
                e.full_name().into(),
                json!({"type": "string", "enum": names, "description": description.trim()}),
            );
        }
        json!({"$ref": format!("#/components/schemas/{}", e.full_name())})
    }

    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let entry = field.kind();
            let value = entry
                .as_message()
                .and_then(|m| m.get_field_by_name("value"))
                .expect("a map entry has a value");
            return json!({"type": "object", "additionalProperties": self.kind(&value.kind())});
        }
        let item = self.kind(&field.kind());
        match field.is_list() {
            true => json!({"type": "array", "items": item}),
            false => item,
        }
    }

    fn kind(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"})
            }
            Kind::Uint64 | Kind::Fixed64 => {
                json!({"type": "string", "format": "uint64", "pattern": "^[0-9]+$"})
            }
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Enum(e) => self.enumeration(e),
            Kind::Message(m) => match m.full_name() {
                "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
                "google.protobuf.Duration" => {
                    json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "example": "1.5s"})
                }
                "google.protobuf.Any" => json!({
                    "type": "object",
                    "properties": {"@type": {"type": "string"}},
                    "required": ["@type"],
                    "additionalProperties": true,
                }),
                _ => self.reference(m),
            },
        }
    }
}

/// The leading comment of the element at `path` in `file`, one paragraph.
fn comment(file: &FileDescriptor, path: &[i32]) -> String {
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.as_deref())
        .map(|text| {
            text.lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_route_and_its_json() {
        let pool = super::super::json::pool();
        let routes = Routes::new(
            pool,
            &[
                "registry_gateway.v1.RegistryGatewayService",
                "registry_gateway.v1.GatewayAdminService",
            ],
        )
        .unwrap();
        let doc = document(&routes, pool);
        let check = &doc["paths"]["/v1/owners:check"]["post"];
        assert_eq!(check["operationId"], "CheckOwner");
        assert_eq!(
            check["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/registry_gateway.v1.CheckOwnerRequest"
        );
        let get = &doc["paths"]["/v1/persons/{iin}"]["get"];
        let names: Vec<&str> = get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["iin", "consentToken"]);
        assert_eq!(
            doc["paths"]["/v1/persons:get"]["post"]["operationId"],
            "GetPerson2"
        );
        let schemas = &doc["components"]["schemas"];
        let request = &schemas["registry_gateway.v1.CheckOwnerRequest"]["properties"];
        assert!(request["ownerIin"]["description"]
            .as_str()
            .unwrap()
            .contains("IIN"));
        assert_eq!(
            schemas["registry_gateway.v1.RegistryStatus"]["properties"]["cacheEntries"]["type"],
            "string"
        );
        assert_eq!(
            schemas["registry_gateway.v1.Outcome"]["enum"][1],
            "OUTCOME_OPERATIONAL_HALL"
        );
        assert_eq!(
            schemas["registry_gateway.v1.Evidence"]["properties"]["fetchedAt"]["allOf"],
            Value::Null
        );
        assert_eq!(
            schemas["registry_gateway.v1.Evidence"]["properties"]["fetchedAt"]["format"],
            "date-time"
        );
        assert!(schemas["google.rpc.ErrorInfo"].is_object());
    }
}
