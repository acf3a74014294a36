//! The embedded mock registries (`[mocks]`): with no `[registries]` configured, the gateway
//! starts the mocks of the `registry-mocks` crate on loopback (ephemeral ports), on the demo
//! fixture or `mocks.fixture`, signing both ways with demo keys generated at start. Compiled
//! in with the cargo feature `embedded-mocks` (on by default, so `cargo run --release` serves
//! the demo); a production build (`--no-default-features`) has none of this and refuses to
//! start without `[registries]`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[cfg(feature = "embedded-mocks")]
use crate::registry::signing::DemoKeys;
use crate::registry::signing::Security;
use crate::registry::Endpoints;
#[cfg(feature = "embedded-mocks")]
use crate::registry::{local_endpoints, SignerPin};
use crate::validate::{Invalid, Validate};
use crate::BoxError;

/// `[mocks]`: what the embedded mocks serve.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MocksConfig {
    /// Fixture file for the embedded mocks; the built-in demo population when absent.
    pub fixture: Option<PathBuf>,
}

impl Validate for MocksConfig {
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}

/// The embedded mock registries, running.
#[cfg(feature = "embedded-mocks")]
pub struct EmbeddedMocks(registry_mocks::MockRegistries);

#[cfg(feature = "embedded-mocks")]
impl EmbeddedMocks {
    /// Starts every mock on `127.0.0.1:0` with `config`'s fixture (else the demo one),
    /// signing both ways with keys generated now.
    pub async fn start(config: &MocksConfig) -> Result<EmbeddedMocks, BoxError> {
        let fixture = match &config.fixture {
            Some(path) => registry_mocks::Fixture::load(path)?,
            None => registry_mocks::Fixture::demo(),
        };
        let mocks = registry_mocks::MockRegistries::spawn_signed(
            std::sync::Arc::new(fixture),
            registry_mocks::MockSigning::demo(),
        )
        .await?;
        tracing::info!(
            fixture = %config.fixture.as_ref().map_or("demo".into(), |p| p.display().to_string()),
            "embedded mock registries started on loopback"
        );
        Ok(EmbeddedMocks(mocks))
    }

    /// Where the mocks listen.
    /// Where the mocks listen, each registry's answers pinned to its demo certificate.
    pub fn endpoints(&self) -> Endpoints {
        let pki = registry_mocks::demo_pki();
        local_endpoints(|registry| self.0.get(registry).endpoint()).map(|registry, mut e| {
            e.answer_signers = vec![SignerPin::of(&pki.signer_of(registry))];
            e
        })
    }

    /// Requests signed and answers verified with the mocks' demo keys.
    pub fn security(&self) -> Security {
        let pki = registry_mocks::demo_pki();
        Security::demo(DemoKeys {
            credentials: pki.gateway.credentials(),
            trust: pki.ca.trust_store(),
        })
    }

    pub async fn shutdown(self) {
        self.0.shutdown().await;
    }
}

/// Built without the feature `embedded-mocks`: there are no mocks to start.
#[cfg(not(feature = "embedded-mocks"))]
pub struct EmbeddedMocks(std::convert::Infallible);

#[cfg(not(feature = "embedded-mocks"))]
impl EmbeddedMocks {
    /// Always refused (configuration validation says so first).
    pub async fn start(_: &MocksConfig) -> Result<EmbeddedMocks, BoxError> {
        Err(NOT_BUILT.into())
    }

    pub fn endpoints(&self) -> Endpoints {
        match self.0 {}
    }

    pub fn security(&self) -> Security {
        match self.0 {}
    }

    pub async fn shutdown(self) {
        match self.0 {}
    }
}

/// Why a build without the mocks needs `[registries]`.
pub const NOT_BUILT: &str = "required: this build has no embedded mock registries (built \
     without the cargo feature embedded-mocks); configure [registries.<key>] for every registry";
