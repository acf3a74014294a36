//! Logging: `tracing` to stderr, level from `RUST_LOG` (default `info`), JSON on request.
//! Personal data never reaches a log line or span: IINs are recorded only as
//! [`crate::iin::Masked`] tokens, and registry-provided text is scrubbed of 12-digit numbers.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, from `main`.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
