//! Protobuf's JSON mapping, by `prost-reflect` from the contract's descriptor set: request
//! fields from the path, the query string and the JSON body; answers and `google.rpc.Status`
//! errors as JSON (lowerCamelCase names, enums by name, 64-bit integers as strings, Timestamps
//! in RFC 3339, Durations as `"1.5s"`, fields at their default value left out, `Any` details
//! with their `@type`). Unknown fields and unknown enum names are refused, as the mapping's
//! parsers do by default.

use std::sync::LazyLock;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
};
use serde_json::{Map, Value};

use super::routes::{BodyRule, Route};

/// The contract, and google.rpc's status and error details.
pub fn pool() -> &'static DescriptorPool {
    static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
        let mut pool = DescriptorPool::decode(crate::api::pb::FILE_DESCRIPTOR_SET)
            .expect("the build wrote a valid descriptor set");
        // Files already there (google/protobuf's) are skipped.
        pool.decode_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .expect("tonic-types ships a valid descriptor set");
        pool
    });
    &POOL
}

/// A request field that breaks a rule: the BadRequest violation the caller gets.
#[derive(Debug, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub rule: String,
}

/// A violation, with any IIN the caller quoted (a key, a value in a parser's message) masked:
/// the rule also goes to the gateway's log.
fn violation(field: impl AsRef<str>, rule: impl AsRef<str>) -> Violation {
    Violation {
        field: crate::iin::scrub(field.as_ref()).into_owned(),
        rule: crate::iin::scrub(rule.as_ref()).into_owned(),
    }
}

/// The request message of `route`, encoded, from the path parameters, the query string and
/// the body.
pub fn request(
    route: &Route,
    path: Vec<(String, String)>,
    query: Option<&str>,
    body: &[u8],
) -> Result<Bytes, Violation> {
    let mut fields = match route.body {
        BodyRule::Json => json_object(body)?,
        BodyRule::Query => {
            if !body.iter().all(u8::is_ascii_whitespace) {
                return Err(violation(
                    "body",
                    "this route takes no body: its fields go in the path and the query string",
                ));
            }
            Map::new()
        }
    };
    for (key, value) in query
        .map(|q| form_urlencoded::parse(q.as_bytes()))
        .into_iter()
        .flatten()
    {
        if route.body == BodyRule::Json {
            return Err(violation(
                key,
                "this route takes its fields in the JSON body, not the query string",
            ));
        }
        if fields
            .insert(key.clone().into_owned(), Value::String(value.into_owned()))
            .is_some()
        {
            return Err(violation(
                key,
                "is given more than once in the query string",
            ));
        }
    }
    for (field, value) in path {
        let input = route.rpc.input();
        let json_name = input
            .get_field_by_name(&field)
            .map(|f| f.json_name().to_owned());
        if fields.contains_key(&field) || json_name.is_some_and(|j| fields.contains_key(&j)) {
            return Err(violation(
                field,
                "is in the path; it must not be given again",
            ));
        }
        fields.insert(field, Value::String(value));
    }
    let message = from_json(route.rpc.input(), Value::Object(fields))?;
    Ok(message.encode_to_vec().into())
}

/// The body as a JSON object (an empty body is `{}`). A key given twice in one object, at any
/// depth, is refused naming it (`owners[1].iin`): which of the two values counts is not the
/// gateway's to guess.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, Violation> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let mut json = serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize::<_, Unique>(&mut json);
    let parsed = match (parsed, json.end()) {
        (Ok(_), Err(e)) => return Err(violation("body", format!("is not valid JSON: {e}"))),
        (parsed, _) => parsed,
    };
    match parsed {
        Ok(Unique(Value::Object(fields))) => Ok(fields),
        Ok(_) => Err(violation("body", "must be a JSON object")),
        Err(e) => match e.inner().to_string().strip_prefix(DUPLICATE) {
            Some(key) => {
                let key = key.split(" at line").next().unwrap_or(key);
                let field = match e.path().to_string().as_str() {
                    "." => key.to_owned(),
                    parent => format!("{parent}.{key}"),
                };
                Err(violation(field, "is given more than once in the JSON body"))
            }
            None => Err(violation(
                "body",
                format!("is not valid JSON: {}", e.inner()),
            )),
        },
    }
}

/// The start of the error a duplicated key gives (then the key).
const DUPLICATE: &str = "duplicate key ";

/// A JSON value whose objects have no key twice.
struct Unique(Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("{DUPLICATE}{key}")));
            }
            let Unique(value) = map.next_value()?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

/// `value` as a message of type `desc`; a violation names the field by its path in the
/// request, with the proto field names (`owner_iin`, not `ownerIin`).
fn from_json(desc: MessageDescriptor, value: Value) -> Result<DynamicMessage, Violation> {
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(value, &mut track);
    let options = DeserializeOptions::new();
    let error = match DynamicMessage::deserialize_with_options(desc.clone(), deserializer, &options)
    {
        Ok(message) => return Ok(message),
        Err(e) => e.to_string(),
    };
    let mut field = proto_path(&desc, &track.path());
    // An unknown field is refused before its value is read: the path is its parent's.
    let unknown = error
        .strip_prefix("unrecognized field name '")
        .and_then(|rest| rest.strip_suffix('\''));
    if let Some(name) = unknown {
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(name);
    }
    let rule = match unknown {
        Some(_) => "is not a field of this request".to_owned(),
        None => error,
    };
    Err(violation(
        if field.is_empty() {
            "body".into()
        } else {
            field
        },
        rule,
    ))
}

/// A JSON path (`owners[1].ownerIin`) with the proto names of the fields it goes through.
fn proto_path(desc: &MessageDescriptor, path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut message = Some(desc.clone());
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                let field = message.as_ref().and_then(|m| {
                    m.get_field_by_json_name(key)
                        .or_else(|| m.get_field_by_name(key))
                });
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(field.as_ref().map_or(key.as_str(), |f| f.name()));
                message = field.and_then(|f| f.kind().as_message().cloned());
            }
            Segment::Enum { variant } => out.push_str(variant),
            Segment::Unknown => {}
        }
    }
    out
}

/// An encoded message of type `desc` as JSON.
pub fn to_json(desc: MessageDescriptor, encoded: &[u8]) -> Result<Vec<u8>, String> {
    let message = DynamicMessage::decode(desc, encoded).map_err(|e| e.to_string())?;
    let mut out = serde_json::Serializer::new(Vec::new());
    message
        .serialize_with_options(&mut out, &SerializeOptions::new())
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// A gRPC status as the JSON of `google.rpc.Status`: its details as the gRPC caller gets them
/// in `grpc-status-details-bin`, or the code and message alone when it has none.
pub fn status(status: &tonic::Status) -> Vec<u8> {
    let code = status.code() as i32;
    let plain = || {
        serde_json::to_vec(&serde_json::json!({"code": code, "message": status.message()}))
            .expect("a JSON value serializes")
    };
    if status.details().is_empty() {
        return plain();
    }
    let desc = pool()
        .get_message_by_name("google.rpc.Status")
        .expect("tonic-types describes google.rpc.Status");
    to_json(desc, status.details()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "status details not rendered as JSON");
        plain()
    })
}

#[cfg(test)]
mod duplicate_tests {
    use super::*;

    #[test]
    fn a_key_given_twice_is_refused_naming_it() {
        let e = json_object(br#"{"ownerIin":"1","ownerIin":"2"}"#).unwrap_err();
        assert_eq!(e.field, "ownerIin", "{e:?}");
        let e = json_object(br#"{"owners":[{"iin":"1"},{"iin":"2","iin":"3"}]}"#).unwrap_err();
        assert_eq!(e.field, "owners[1].iin", "{e:?}");
        assert!(json_object(br#"{"a":{"b":1},"c":[1,2.5,null,true]}"#).is_ok());
        let e = json_object(br#"{"a":1} x"#).unwrap_err();
        assert_eq!(e.field, "body");
        let e = json_object(br#"{"a":"#).unwrap_err();
        assert!(e.rule.contains("not valid JSON"), "{e:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_owner() -> MessageDescriptor {
        pool()
            .get_message_by_name("registry_gateway.v1.CheckOwnerRequest")
            .unwrap()
    }

    #[test]
    fn names_enums_and_unknown_fields() {
        let json = serde_json::json!({"ownerIin": "860314310210", "service": "SERVICE_TEMPORARY_REGISTRATION", "applicant_iin": "1"});
        let m = from_json(check_owner(), json).unwrap();
        let r: crate::api::pb::CheckOwnerRequest = m.transcode_to().unwrap();
        assert_eq!(r.owner_iin, "860314310210");
        assert_eq!(r.applicant_iin, "1");
        assert_eq!(
            r.service,
            crate::api::pb::Service::TemporaryRegistration as i32
        );

        let e = from_json(check_owner(), serde_json::json!({"ownerIIN": "1"})).unwrap_err();
        assert_eq!(e.field, "ownerIIN");
        assert_eq!(e.rule, "is not a field of this request");
        let e = from_json(
            check_owner(),
            serde_json::json!({"service": "OUTCOME_ONLINE"}),
        )
        .unwrap_err();
        assert_eq!(e.field, "service");
        assert!(
            e.rule.contains("unrecognized enum value 'OUTCOME_ONLINE'"),
            "{}",
            e.rule
        );
        let e = from_json(
            check_owner(),
            serde_json::json!({"ownerIin": 860314310210u64}),
        )
        .unwrap_err();
        assert_eq!(e.field, "owner_iin");
    }

    #[test]
    fn int64_timestamps_and_durations() {
        let status = crate::api::pb::RegistryStatus {
            cache_entries: 9_007_199_254_740_993,
            ..Default::default()
        };
        let desc = pool()
            .get_message_by_name("registry_gateway.v1.RegistryStatus")
            .unwrap();
        let json = to_json(desc, &status.encode_to_vec()).unwrap();
        assert_eq!(json, br#"{"cacheEntries":"9007199254740993"}"#);

        let evidence = crate::api::pb::Evidence {
            registry: crate::api::pb::Registry::GbdFl as i32,
            fetched_at: Some(prost_types::Timestamp {
                seconds: 1_790_000_000,
                nanos: 0,
            }),
            age: Some(prost_types::Duration {
                seconds: 1,
                nanos: 500_000_000,
            }),
            ..Default::default()
        };
        let desc = pool()
            .get_message_by_name("registry_gateway.v1.Evidence")
            .unwrap();
        let json: Value =
            serde_json::from_slice(&to_json(desc, &evidence.encode_to_vec()).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"registry": "REGISTRY_GBD_FL", "fetchedAt": "2026-09-21T14:13:20Z", "age": "1.500s"})
        );
    }
}
