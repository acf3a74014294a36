//! Logging and tracing: `tracing` to stderr, level from `RUST_LOG` (default `info`), JSON on
//! request; OpenTelemetry spans with W3C trace context, exported over OTLP (gRPC) only when
//! asked for.
//!
//! Personal data never reaches a log line or span: IINs are recorded only as
//! [`crate::iin::Masked`] tokens, and registry-provided text is scrubbed of 12-digit numbers.
//!
//! Spans: one per RPC (`rpc`, exported under the method's name, kind server, parent taken from
//! the caller's `traceparent` / `tracestate` metadata by [`extract`] and [`set_parent`]) and
//! one per registry attempt (`registry_attempt`). The context of the current span goes to the
//! registry in the `traceparent` / `tracestate` HTTP headers and as SHEP `properties`
//! ([`current_trace_context`]). Only this crate's spans and events are exported (other crates'
//! spans, e.g. h2's, would be noise), and only those `RUST_LOG` lets through.
//!
//! Export is on when the standard variables ask for it (`OTEL_TRACES_EXPORTER=otlp`, or an
//! `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `[tracing]
//! otlp_endpoint` is configured; `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` turn it
//! off. Without export there is no exporter and no background thread; trace context is still
//! taken from callers and passed on to registries (roots not sampled).
//!
//! Only OTLP over gRPC (the collector's port 4317) is built in: `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (or `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`) other than `grpc`, e.g. `http/protobuf`, is refused
//! at start with a message saying so, rather than every span being lost. OTLP/HTTP would need
//! the exporter's HTTP client stack (`opentelemetry-http` and a blocking HTTP client for the
//! batch thread); a collector takes gRPC on 4317 by default.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use serde::{Deserialize, Serialize};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::validate::{Invalid, Validate};

/// The W3C trace context header (and gRPC metadata key, and SHEP property key).
pub const TRACEPARENT: &str = "traceparent";
/// The W3C vendor trace state, passed on with [`TRACEPARENT`].
pub const TRACESTATE: &str = "tracestate";

/// The crate whose spans and events are exported.
const EXPORTED_TARGET: &str = "registry_gateway";

/// `[log]` in the configuration. Logs: level (an `EnvFilter` directive such as `info` or `info,registry_gateway=debug`;
/// `RUST_LOG` overrides it) and format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub level: String,
    /// JSON lines instead of text.
    pub json: bool,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            level: "info".into(),
            json: false,
        }
    }
}

impl Validate for LogConfig {
    fn validate(&self) -> Result<(), Invalid> {
        EnvFilter::try_new(&self.level)
            .map(drop)
            .map_err(|e| Invalid::new("level", format!("is not a log filter: {e}")))
    }
}

/// `[tracing]` in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// OTLP/gRPC collector, e.g. `http://otel-collector:4317`. Setting it turns export on;
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` take precedence.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans (`OTEL_SERVICE_NAME` takes precedence).
    pub service_name: String,
    /// Share of new traces sampled, 0 to 1; a caller's sampling decision is followed
    /// (`OTEL_TRACES_SAMPLER` takes precedence).
    pub sample_ratio: f64,
}

impl Default for TracingConfig {
    fn default() -> TracingConfig {
        TracingConfig {
            otlp_endpoint: None,
            service_name: "registry-gateway".into(),
            sample_ratio: 1.0,
        }
    }
}

impl Validate for TracingConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(Invalid::new("sample_ratio", "must be between 0 and 1"));
        }
        if self.service_name.trim().is_empty() {
            return Err(Invalid::new("service_name", "must not be empty"));
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            let scheme_ok = endpoint
                .parse::<tonic::codegen::http::Uri>()
                .ok()
                .and_then(|uri| uri.scheme_str().map(str::to_owned))
                .is_some_and(|s| s == "http" || s == "https");
            if !scheme_ok {
                return Err(Invalid::new(
                    "otlp_endpoint",
                    "must be an http:// or https:// URL (OTLP over gRPC)",
                ));
            }
        }
        Ok(())
    }
}

/// Where and how spans are exported, once it is settled that they are.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSettings {
    /// `None`: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`, else
    /// `http://localhost:4317` (the exporter's own resolution).
    pub endpoint: Option<String>,
    pub service_name: String,
    /// `ParentBased(TraceIdRatioBased(ratio))`; `None`: the SDK's sampler from
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
    pub sample_ratio: Option<f64>,
}

impl OtlpSettings {
    /// Export settings from the standard `OTEL_*` variables and `[tracing]`; `None` when
    /// neither asks for export; `Err` for a protocol other than gRPC.
    pub fn resolve(config: &TracingConfig) -> Result<Option<OtlpSettings>, String> {
        OtlpSettings::resolve_with(config, |key| std::env::var(key).ok())
    }

    /// [`OtlpSettings::resolve`] with the environment given as a function.
    pub fn resolve_with(
        config: &TracingConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OtlpSettings>, String> {
        let var = |key: &str| {
            env(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        for key in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            match var(key) {
                Some(p) if p != "grpc" => {
                    return Err(format!(
                        "{key}={p} is not supported: traces are exported over OTLP/gRPC only \
                         (set it to grpc, or unset it, and point the endpoint at the \
                         collector's gRPC port, usually 4317)"
                    ))
                }
                Some(_) => break,
                None => {}
            }
        }
        let env_endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .is_some();
        let wanted = match var("OTEL_TRACES_EXPORTER") {
            // An explicit exporter list decides; only `otlp` is built in.
            Some(list) => list
                .split(',')
                .any(|e| e.trim().eq_ignore_ascii_case("otlp")),
            None => env_endpoint || config.otlp_endpoint.is_some(),
        };
        if !wanted {
            return Ok(None);
        }
        Ok(Some(OtlpSettings {
            endpoint: if env_endpoint {
                None
            } else {
                config.otlp_endpoint.clone()
            },
            service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| config.service_name.clone()),
            sample_ratio: match var("OTEL_TRACES_SAMPLER") {
                Some(_) => None,
                None => Some(config.sample_ratio),
            },
        }))
    }
}

/// The installed tracing pipeline. [`Telemetry::shutdown`] before exit flushes the spans not
/// yet exported.
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl Telemetry {
    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.exporting
    }

    /// Exports the spans still buffered and stops the exporter. Blocks until done (bounded by
    /// the exporter's timeout): from async code, call it through `spawn_blocking`.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            if self.exporting {
                eprintln!("registry-gateway: trace export at shutdown failed: {e}");
            }
        }
    }
}

/// Installs the global subscriber: stderr logging (JSON when `json`) filtered by `RUST_LOG`,
/// and the OpenTelemetry layer, exporting over OTLP when `otlp` is given. Call once, from
/// `main`, inside the Tokio runtime (the gRPC exporter's channel lives on it).
pub fn init(log: &LogConfig, otlp: Option<OtlpSettings>) -> Telemetry {
    let json = log.json;
    let (provider, exporting, failure) = match otlp.as_ref().map(exporting_provider) {
        Some(Ok(provider)) => (provider, true, None),
        Some(Err(e)) => (local_provider(), false, Some(e)),
        None => (local_provider(), false, None),
    };
    // RUST_LOG, when set, wins over the configured level.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let plain = (!json).then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    let json = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(plain)
        .with(json)
        .with(layer(&provider))
        .init();
    match (failure, &otlp) {
        (Some(e), _) => tracing::error!(error = %e, "trace export not started"),
        (None, Some(s)) => tracing::info!(
            endpoint = s.endpoint.as_deref().unwrap_or("from OTEL_EXPORTER_OTLP_*"),
            service = %s.service_name,
            "exporting traces over OTLP/gRPC"
        ),
        (None, None) => {}
    }
    Telemetry {
        provider,
        exporting,
    }
}

/// The OpenTelemetry layer over `provider`'s tracer, for this crate's spans and events. Public
/// so that tests can install it with their own provider.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(EXPORTED_TARGET))
        .with_threads(false)
        .with_filter(Targets::new().with_target(EXPORTED_TARGET, tracing::Level::TRACE))
}

/// Batch export over OTLP/gRPC.
fn exporting_provider(s: &OtlpSettings) -> Result<SdkTracerProvider, String> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(endpoint) = &s.endpoint {
        exporter = exporter.with_endpoint(endpoint.clone());
    }
    let exporter = exporter.build().map_err(|e| e.to_string())?;
    let mut builder = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(s.service_name.clone())
                .build(),
        );
    if let Some(ratio) = s.sample_ratio {
        builder = builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))));
    }
    Ok(builder.build())
}

/// No processor, no exporter, no thread: spans get ids so that a caller's trace goes on to the
/// registries; new traces are not sampled.
fn local_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
        .build()
}

/// The caller's trace context from gRPC metadata (`traceparent`, `tracestate`); an empty
/// context when there is none or it is malformed.
pub fn extract(metadata: &tonic::metadata::MetadataMap) -> Context {
    struct Metadata<'a>(&'a tonic::metadata::MetadataMap);
    impl Extractor for Metadata<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0
                .keys()
                .map(|k| match k {
                    tonic::metadata::KeyRef::Ascii(k) => k.as_str(),
                    tonic::metadata::KeyRef::Binary(k) => k.as_str(),
                })
                .collect()
        }
    }
    TraceContextPropagator::new().extract_with_context(&Context::new(), &Metadata(metadata))
}

/// Makes the caller's span (from [`extract`]) the parent of `span`, which must not have been
/// entered yet. Without a caller's span, `span` stays where it is (a new trace at the edge).
pub fn set_parent(span: &tracing::Span, parent: &Context) {
    if parent.span().span_context().is_valid() {
        // Fails only when the span is disabled or no OpenTelemetry layer is installed.
        let _ = span.set_parent(parent.clone());
    }
}

/// The trace context of the current span as (key, value) pairs for a registry request:
/// `traceparent`, and `tracestate` when not empty. Empty outside a traced span.
pub fn current_trace_context() -> Vec<(&'static str, String)> {
    let cx = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    [TRACEPARENT, TRACESTATE]
        .into_iter()
        .filter_map(|key| {
            carrier
                .remove(key)
                .filter(|v| !v.is_empty())
                .map(|v| (key, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(config: &TracingConfig, vars: &[(&str, &str)]) -> Option<OtlpSettings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OtlpSettings::resolve_with(config, |k| vars.get(k).cloned()).unwrap()
    }

    #[test]
    fn otlp_over_http_is_refused_with_a_clear_message() {
        let refused = |vars: &[(&str, &str)]| {
            OtlpSettings::resolve_with(&TracingConfig::default(), |k| {
                vars.iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_err()
        };
        let e = refused(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ]);
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf is not supported"),
            "{e}"
        );
        assert!(e.contains("4317"), "{e}");
        let e = refused(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")]);
        assert!(
            e.starts_with("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json"),
            "{e}"
        );
        // The signal-specific variable wins.
        let s = resolve(
            &TracingConfig::default(),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ],
        );
        assert!(s.is_some());
    }

    #[test]
    fn nothing_asked_nothing_exported() {
        assert_eq!(resolve(&TracingConfig::default(), &[]), None);
        assert_eq!(
            resolve(
                &TracingConfig::default(),
                &[("OTEL_TRACES_EXPORTER", "none")]
            ),
            None
        );
        assert_eq!(
            resolve(
                &TracingConfig::default(),
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]
            ),
            None
        );
    }

    #[test]
    fn standard_variables_turn_export_on() {
        let s = resolve(
            &TracingConfig::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")],
        )
        .unwrap();
        // The exporter reads the variable itself (signal-specific one first).
        assert_eq!(s.endpoint, None);
        assert_eq!(s.service_name, "registry-gateway");
        assert_eq!(s.sample_ratio, Some(1.0));
        let s = resolve(
            &TracingConfig::default(),
            &[
                ("OTEL_TRACES_EXPORTER", "otlp"),
                ("OTEL_SERVICE_NAME", "gw-1"),
                ("OTEL_TRACES_SAMPLER", "always_on"),
            ],
        )
        .unwrap();
        assert_eq!(
            (s.endpoint, s.service_name.as_str(), s.sample_ratio),
            (None, "gw-1", None)
        );
    }

    #[test]
    fn configuration_turns_export_on_and_variables_win() {
        let config = TracingConfig {
            otlp_endpoint: Some("http://collector:4317".into()),
            service_name: "gw".into(),
            sample_ratio: 0.25,
        };
        let s = resolve(&config, &[]).unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://collector:4317"));
        assert_eq!(s.sample_ratio, Some(0.25));
        let s = resolve(
            &config,
            &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:4317")],
        )
        .unwrap();
        assert_eq!(s.endpoint, None);
        assert_eq!(resolve(&config, &[("OTEL_TRACES_EXPORTER", "none")]), None);
        assert_eq!(resolve(&config, &[("OTEL_SDK_DISABLED", "TRUE")]), None);
        assert_eq!(
            resolve(&config, &[("OTEL_TRACES_EXPORTER", "zipkin")]),
            None
        );
    }

    #[test]
    fn config_rules() {
        assert_eq!(TracingConfig::default().validate(), Ok(()));
        let bad = |c: TracingConfig| c.validate().unwrap_err().key;
        assert_eq!(
            bad(TracingConfig {
                sample_ratio: 1.5,
                ..TracingConfig::default()
            }),
            "sample_ratio"
        );
        assert_eq!(
            bad(TracingConfig {
                sample_ratio: f64::NAN,
                ..TracingConfig::default()
            }),
            "sample_ratio"
        );
        assert_eq!(
            bad(TracingConfig {
                service_name: " ".into(),
                ..TracingConfig::default()
            }),
            "service_name"
        );
        assert_eq!(
            bad(TracingConfig {
                otlp_endpoint: Some("collector:4317".into()),
                ..TracingConfig::default()
            }),
            "otlp_endpoint"
        );
        let ok = TracingConfig {
            otlp_endpoint: Some("https://collector.example:4317".into()),
            ..TracingConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn metadata_context_round_trip() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        metadata.insert(TRACESTATE, "congo=t61rcWkgMzE".parse().unwrap());
        let cx = extract(&metadata);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid() && sc.is_remote() && sc.is_sampled());
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.trace_state().header(), "congo=t61rcWkgMzE");
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert(TRACEPARENT, "00-zz-00f067aa0ba902b7-01".parse().unwrap());
        assert!(!extract(&metadata).span().span_context().is_valid());
    }

    #[test]
    fn no_trace_context_outside_a_traced_span() {
        assert!(current_trace_context().is_empty());
    }
}
