//! The embedded mock registries (`[mocks]`): with no `[registries]` configured, the gateway
//! starts the mocks of the `registry-mocks` crate on loopback (ephemeral ports), on the demo
//! fixture or `mocks.fixture`, signing both ways with demo keys generated at start. Compiled
//! in with the cargo feature `embedded-mocks` (on by default, so `cargo run --release` serves
//! the demo); a production build (`--no-default-features`) has none of this and refuses to
//! start without `[registries]`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::validate::{Invalid, Validate};

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
