//! `registry-gateway config-defaults`: every configuration key with its default and one line
//! of help, read from the code ([`Config::default`] and the defaults of each optional table),
//! so that docs/configuration.md can be checked against it (`tests/config_doc.rs`).

use figment::providers::{Format, Toml};
use figment::Figment;
use serde_json::Value;

use crate::registry::Registry;
use crate::Config;

/// Placeholder for a key without a default (required once its table is present).
const REQUIRED: &str = "<required>";

/// Optional tables switched on, with each required key set to [`REQUIRED`], so that every key
/// of theirs serializes with its default.
fn skeleton() -> String {
    let endpoint = |name: &str| {
        format!(
            "[registries.{name}]\nurl = \"{REQUIRED}\"\nservice_id = \"{REQUIRED}\"\nsender_id = \"{REQUIRED}\"\n"
        )
    };
    let mut text = format!(
        "[tls]\ncert = \"{REQUIRED}\"\nkey = \"{REQUIRED}\"\nclient_ca = \"{REQUIRED}\"\n\
         [access]\n[access.clients.\"<name>\"]\nrpcs = []\n\
         [audit]\n[audit.signing]\nkey_file = \"{REQUIRED}\"\n\
         [audit.timestamp]\nurl = \"{REQUIRED}\"\ncertificate = \"{REQUIRED}\"\n\
         [audit.postgres]\nurl = \"{REQUIRED}\"\n\
         [audit.evidence]\nkey_files = [\"{REQUIRED}\"]\n\
         [shep.signing]\n[shep.signing.http]\nurl = \"{REQUIRED}\"\n[shep.tls]\n\
         [shep.signing.registries.gbd_fl]\n[resilience.gbd_fl]\n"
    );
    for name in Registry::ALL.map(Registry::key) {
        text.push_str(&endpoint(name));
    }
    text
}

/// Every key, dotted, with its default rendered as TOML would show it (`unset` for an
/// optional key without one).
pub fn defaults() -> Vec<(String, String)> {
    let config: Config = Figment::new()
        .merge(figment::providers::Serialized::defaults(Config::default()))
        .merge(Toml::string(&skeleton()))
        .extract()
        .expect("the skeleton deserializes");
    let value = serde_json::to_value(&config).expect("the configuration serializes");
    let mut keys = Vec::new();
    flatten("", &value, &mut keys);
    for (key, default) in &mut keys {
        for name in Registry::ALL.map(Registry::key) {
            for table in ["registries.", "shep.signing.registries.", "resilience."] {
                *key = key.replace(&format!("{table}{name}"), &format!("{table}<registry>"));
            }
        }
        if key.starts_with("resilience.<registry>") {
            *default = "unset".to_owned();
        }
    }
    keys.extend(
        UNSERIALIZED
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    keys.sort();
    keys.dedup();
    keys
}

/// Keys left out when serialized at their default (`skip_serializing_if`).
const UNSERIALIZED: [(&str, &str); 3] = [
    ("registries.<registry>.password", "unset"),
    ("registries.<registry>.max_answer_bytes", "unset"),
    ("registries.<registry>.answer_signers", "[]"),
];

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() && !is_code_table(prefix) => {
            for (key, value) in map {
                let key = if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    key.clone()
                } else {
                    format!("\"{key}\"")
                };
                let dotted = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&dotted, value, out);
            }
        }
        _ => out.push((prefix.to_owned(), render(value))),
    }
}

/// Tables whose keys are data (`[codes.life_status]`): shown whole, as an inline table.
fn is_code_table(key: &str) -> bool {
    key.starts_with("codes.")
}

fn render(value: &Value) -> String {
    match value {
        Value::Null => "unset".to_owned(),
        Value::String(s) if s == REQUIRED => "(required)".to_owned(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("\"{k}\" = {}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Number(n) => match n.as_f64() {
            // An f32 setting, shown as written (0.2, not 0.20000000298023224).
            Some(f) if n.is_f64() && f64::from(f as f32) == f => format!("{:?}", f as f32),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// One line of help per key, from the settings' own documentation in the code.
const HELP: &[(&str, &str)] = &[
    ("access.clients.\"<name>\".consent_required", "RPCs this client system may call only with the person's consent token"),
    ("access.clients.\"<name>\".names", "certificate subject CNs or DNS SANs that identify this client system"),
    ("access.clients.\"<name>\".rpcs", "RPCs this client system may call, by name"),
    ("access.plaintext_client", "the client system plaintext callers are taken to be; unset: they may call nothing"),
    ("access.require_purpose", "personal-data RPCs must carry x-purpose"),
    ("access.require_request_id", "personal-data RPCs must carry x-request-id (else the gateway makes one)"),
    ("allow_insecure_plaintext", "serve plaintext on a non-loopback address; never in production"),
    ("audit.fsync", "when the live audit file is fsynced: \"always\" (each batch), \"interval\" or \"never\""),
    ("audit.fsync_interval", "with fsync = \"interval\": the longest time written records stay unsynced"),
    ("audit.min_free_bytes", "readiness turns NOT_SERVING when the audit file's filesystem has less free space than this"),
    ("audit.probe_interval", "how often the audit sink is probed (a test write, free space; PostgreSQL: SELECT 1)"),
    ("audit.evidence.key_files", "AES-256 key files for the evidence archive: the first encrypts, all decrypt (rotation)"),
    ("audit.evidence.retention", "how long archived answers are kept; purge-evidence deletes older ones"),
    ("audit.path", "the live audit file (the spool with [audit.postgres]); rotated files sit beside it"),
    ("audit.postgres.ack_timeout", "durability = \"postgres\": how long an answer waits for its record's commit"),
    ("audit.postgres.ca_file", "PEM CA of PostgreSQL's server certificate; set: TLS required and verified (verify-full)"),
    ("audit.postgres.drain_timeout", "on shutdown, how long to keep shipping what is left"),
    ("audit.postgres.durability", "an answer waits for its record in \"postgres\" or only in the \"local\" file"),
    ("audit.postgres.keep_shipped_files", "keep rotated local files whose records are all in PostgreSQL"),
    ("audit.postgres.max_backlog", "records written locally and not yet shipped, at most (at least 1024)"),
    ("audit.postgres.migrate", "create and migrate the schema at start (the role must be allowed to)"),
    ("audit.postgres.password_file", "file holding the database password, read at each connection"),
    ("audit.postgres.timeout", "time allowed to connect, and for each batch to commit"),
    ("audit.postgres.url", "libpq URL or key=value string of the audit database, without the password"),
    ("audit.replica", "this replica's chain id; unset: $POD_NAME, else $HOSTNAME"),
    ("audit.rotate_bytes", "rotate the live audit file past this many bytes (at least 4096)"),
    ("audit.signing.key_file", "Ed25519 private key (PKCS#8 PEM) signing a checkpoint after each batch"),
    ("audit.timestamp.certificate", "the time-stamp authority's certificate (PEM, extendedKeyUsage timeStamping critical)"),
    ("audit.timestamp.interval", "ask the TSA at most this often; 0: a token for every checkpoint"),
    ("audit.timestamp.retry_after", "after a failed TSA request, checkpoints go without a token for this long"),
    ("audit.timestamp.timeout", "time allowed for one TSA request; past it the checkpoint is written without a token"),
    ("audit.timestamp.url", "RFC 3161 time-stamp authority (http:// or https://) time-stamping each signed checkpoint"),
    ("codes.capable_status", "GBD FL capableStatus/code values and their meaning"),
    ("codes.life_status", "GBD FL lifeStatus/code values and their meaning"),
    ("connections.idle_timeout", "a connection without streams for this long is closed"),
    ("connections.keepalive_interval", "HTTP/2 ping sent after this long without frames"),
    ("connections.keepalive_timeout", "a connection whose ping is not answered within this is closed"),
    ("connections.max", "client connections open at once, at most"),
    ("connections.max_streams", "concurrent streams (calls) per connection, at most"),
    ("connections.request_arrival_timeout", "a call's request must have arrived whole within this"),
    ("connections.tls_handshake_timeout", "a TLS handshake must be done within this"),
    ("consent.check_owner_shared_cache", "CheckOwner may answer from GBD FL's facts in the owner-facts cache, whatever token fetched them"),
    ("consent.reference_key", "HMAC key of consent_ref in the audit log; unset: random per process"),
    ("consent.required_without_access", "RPCs that need a consent token when [access] is not configured"),
    ("decision.deceased_co_owner", "CheckDwelling, a deceased or unknown co-owner: \"refuse\" or \"hall\""),
    ("decision.default_language", "language of texts for calls without an accept-language naming kk, ru or en"),
    ("decision.leap_day_birthday", "a 29 February birthday in a non-leap year: \"feb28\" or \"mar1\""),
    ("decision.legal_basis.acts", "the acts the answers follow, in order of their terms (id, effective_from, effective_until, messages)"),
    ("decision.legal_basis.on_expired", "a decision dated outside every act's term: \"answer\" with a note, or \"refuse\""),
    ("decision.married_minor_as_adult", "route a married minor (full capacity by marriage) as an adult"),
    ("decision.max_days_back", "how many days back decision_date may lie (UTC+5); unset with the embedded mocks: 11000"),
    ("decision.max_owners", "CheckDwelling: owners per request, 1 to 100"),
    ("listen", "address of the gRPC and HTTP/JSON listener"),
    ("log.json", "log JSON lines instead of text (also --log-json)"),
    ("log.level", "EnvFilter directive, e.g. info,registry_gateway=debug; RUST_LOG overrides"),
    ("max_in_flight", "RPCs in flight server-wide; more get RESOURCE_EXHAUSTED"),
    ("max_in_flight_per_caller", "RPCs in flight for one client system (capped at max_in_flight)"),
    ("max_message_bytes", "largest request message accepted, in bytes (at least 1024)"),
    ("metrics_listen", "admin HTTP address: /metrics, /status, /healthz, /readyz; unset: not served"),
    ("mocks.fixture", "fixture file of the embedded mock registries; unset: the demo population"),
    ("registries.<registry>.answer_signers", "certificates (subject and/or spki_sha256) allowed to sign this registry's answers"),
    ("registries.<registry>.max_answer_bytes", "this registry's limit on an answer's size; unset: shep.limits.max_answer_bytes"),
    ("registries.<registry>.message_id_echo", "where the bus echoes messageId: \"correlation_id\", \"message_id\" or \"none\""),
    ("registries.<registry>.password", "the sender's password on the bus"),
    ("registries.<registry>.sender_id", "the gateway's sender id on the bus"),
    ("registries.<registry>.service_id", "the registry's service id on the bus"),
    ("registries.<registry>.url", "http:// or https:// URL of the registry's sync channel; no [registries]: embedded mocks"),
    ("resilience.<registry>", "keys of resilience.defaults that differ for this registry"),
    ("resilience.owner_facts.max_persons", "most persons in CheckOwner's owner-facts cache (about 170 bytes each)"),
    ("resilience.defaults.attempt_timeout", "timeout of one registry attempt"),
    ("resilience.defaults.backoff_jitter", "random extra delay as a share of the backoff (0 to 1)"),
    ("resilience.defaults.backoff_max", "longest wait between retries"),
    ("resilience.defaults.backoff_min", "first wait between retries"),
    ("resilience.defaults.breaker.consecutive_failures", "the breaker opens after this many failures in a row"),
    ("resilience.defaults.breaker.failure_rate", "... or past this share of failures in the window"),
    ("resilience.defaults.breaker.min_calls", "calls in the window before failure_rate counts"),
    ("resilience.defaults.breaker.open_for", "how long the breaker stays open before a probe"),
    ("resilience.defaults.breaker.window", "calls the failure rate is computed over"),
    ("resilience.defaults.cache_max_bytes", "memory of one registry's cached answers, bookkeeping included"),
    ("resilience.defaults.cache_max_entries", "persons cached per registry (a second bound)"),
    ("resilience.defaults.cache_max_stale", "how long past its TTL an entry may answer when the registry fails"),
    ("resilience.defaults.cache_negative_ttl", "how long a \"no such record\" answer is cached"),
    ("resilience.defaults.cache_ttl", "how long an answer is served from the cache"),
    ("resilience.defaults.max_attempts", "attempts per registry call, the first included"),
    ("resilience.defaults.max_concurrent", "calls in flight to one registry at most (bulkhead)"),
    ("resilience.defaults.queue_timeout", "wait for a registry call slot, then RESOURCE_EXHAUSTED"),
    ("resilience.defaults.retry_budget_min_per_sec", "retries always allowed per second"),
    ("resilience.defaults.retry_budget_ratio", "retries allowed as a share of recent calls, 0 to 1"),
    ("resilience.defaults.retry_budget_window", "how far back \"recent calls\" reach"),
    ("shep.limits.max_answer_bytes", "largest registry answer read, in bytes"),
    ("shep.limits.max_attributes", "most attributes on one element of an answer"),
    ("shep.limits.max_children", "most child elements of one element (records in one list)"),
    ("shep.limits.max_depth", "deepest element nesting of an answer"),
    ("shep.limits.max_elements", "most elements in a whole answer"),
    ("shep.limits.max_namespaces", "most namespace declarations in scope at once"),
    ("shep.limits.max_text_bytes", "longest text or attribute value, in bytes"),
    ("shep.retry_after", "RetryInfo sent after a transient registry failure"),
    ("shep.retry_after_permanent", "RetryInfo sent after a malformed answer or SOAP fault"),
    ("shep.signing.crl_files", "PEM CRLs of the trust store's CAs; a revoked signer is refused"),
    ("shep.signing.http.max_attempts", "attempts at the external signer in all (1: no retry)"),
    ("shep.signing.http.timeout", "per attempt at the external signer"),
    ("shep.signing.http.url", "the external signer's URL (signer = \"http\")"),
    ("shep.signing.max_answer_age", "oldest answer timestamp accepted"),
    ("shep.signing.max_clock_skew", "clock difference tolerated on answers' timestamps"),
    ("shep.signing.password_env", "environment variable holding the PKCS#12 password"),
    ("shep.signing.password_file", "file holding the PKCS#12 password"),
    ("shep.signing.pkcs12", "PKCS#12 file with the sender's RSA key and certificate (NCA RK)"),
    ("shep.signing.registries.<registry>.http", "this registry's external signer"),
    ("shep.signing.registries.<registry>.password_env", "this registry's PKCS#12 password variable"),
    ("shep.signing.registries.<registry>.password_file", "this registry's PKCS#12 password file"),
    ("shep.signing.registries.<registry>.pkcs12", "this registry's own PKCS#12 sender key"),
    ("shep.signing.registries.<registry>.signer", "this registry's signer: \"pkcs12\" or \"http\""),
    ("shep.signing.signer", "\"pkcs12\": sign in-process; \"http\": POST each envelope to shep.signing.http"),
    ("shep.signing.timestamp_ttl", "validity of a request's wsu:Timestamp"),
    ("shep.signing.http.verify_url", "the external service's verification URL, for verify_with = \"http\" (GOST answers)"),
    ("shep.signing.verify_with", "who checks answers' signatures: \"builtin\" (RSA, in-process) or \"http\" (verify_url)"),
    ("shep.signing.trust_store", "PEM CAs that answers' signers must chain to (unless verify_responses = \"off\")"),
    ("shep.signing.verify_responses", "answers' signatures: \"required\", \"if_present\" or \"off\""),
    ("shep.status_codes.bad_request", "SHEP status or fault detail codes meaning the request was refused (the caller's error)"),
    ("shep.status_codes.consent_refused", "SHEP status codes meaning GBD FL refused the consent token"),
    ("shep.status_codes.gateway_faults", "client-fault detail codes that are the gateway's own fault (its signature refused), not the caller's"),
    ("shep.status_codes.not_found", "SHEP status codes meaning no such record"),
    ("shep.status_codes.ok", "SHEP status codes meaning success"),
    ("shep.status_codes.transient", "SHEP status codes meaning retry later; others are permanent failures"),
    ("shep.tls.ca_bundle", "PEM CAs the bus's server certificate must chain to; set: public roots unused"),
    ("shep.tls.client_cert", "PEM client certificate chain for the bus"),
    ("shep.tls.client_key", "PEM private key of that client certificate"),
    ("shutdown_delay", "on shutdown, how long NOT_SERVING is announced before new calls are refused"),
    ("shutdown_grace", "then how long calls in flight may take to finish"),
    ("tls.cert", "PEM server certificate chain (mutual TLS)"),
    ("tls.client_ca", "PEM CA that client certificates must chain to"),
    ("tls.key", "PEM private key of the server certificate"),
    ("tracing.otlp_endpoint", "OTLP/gRPC collector to export traces to; unset: OTEL_* variables, else none"),
    ("tracing.sample_ratio", "share of new traces sampled; a caller's sampling decision is followed"),
    ("tracing.service_name", "service.name of exported spans"),
];

/// Every key as `key = default  # help`, one a line: what `config-defaults` prints.
pub fn render_all() -> String {
    let mut out = String::new();
    for (key, default) in defaults() {
        let help = HELP.iter().find(|(k, _)| *k == key).map_or("", |(_, h)| *h);
        out.push_str(&format!("{key} = {default}  # {help}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key has its line of help, and every line of help a key.
    #[test]
    fn help_for_every_key() {
        let keys: Vec<String> = defaults().into_iter().map(|(k, _)| k).collect();
        for key in &keys {
            assert!(HELP.iter().any(|(k, _)| k == key), "no help for {key}");
        }
        for (key, _) in HELP {
            assert!(
                keys.iter().any(|k| k == key),
                "help for {key}, which is no key"
            );
        }
    }
}
