//! Mock state registries for the registry gateway: GBD FL, IS ZAGS, E-social security, NOBD
//! and EPVO.
//!
//! Each mock is its own HTTP/1.1 listener speaking the SHEP sync-channel SOAP 1.1 envelope
//! (`POST /shep`, operation `SendMessage`) and answering from a shared [`Fixture`]. The wire
//! format is specified in the crate README; the gateway's adapters parse exactly that. Faults
//! (latency, jitter, random errors, down, HTTP 503, SOAP fault, malformed XML, trickled body,
//! unexpected status code) are set per mock at run time with [`MockRegistry::set_faults`] or
//! `PUT /admin/faults`.
//!
//! Modules:
//! - [`Registry`] and [`PerRegistry`]: the registry list shared with the gateway (`registry-vocab`);
//! - [`fixture`]: the TOML fixture, its validation and lookups; `date`: fixed and relative
//!   (`today-18y+1d`) dates;
//! - [`iin`]: IIN/BIN check digits;
//! - `envelope`: request parsing, response and SOAP fault writing (XML-escaped);
//! - `payload`: the per-registry payloads;
//! - [`faults`]: [`Faults`] and [`FaultMode`];
//! - `server`: listeners, connection handling, the SHEP and admin endpoints, [`spawn`],
//!   [`MockRegistry`] and [`MockRegistries`];
//! - [`demo`]: the embedded demo population's IINs by role;
//! - [`signing`]: WS-Security on the mocks (signed requests required, answers signed) and the
//!   demo keys generated at start.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use registry_mocks::{FaultMode, Faults, Fixture, MockRegistries, Registry};
//!
//! let mocks = MockRegistries::spawn(Arc::new(Fixture::demo())).await?;
//! let gbd = mocks.get(Registry::GbdFl);
//! println!("GBD FL at {}", gbd.endpoint());
//! gbd.set_faults(Faults::mode(FaultMode::Http503));
//! mocks.shutdown().await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod date;
pub mod demo;
mod envelope;
pub mod faults;
pub mod fixture;
pub mod iin;
mod payload;
mod server;
pub mod signing;

pub use date::{DateError, DateSpec};
pub use envelope::{SOAP_NS, TYPES_NS};
pub use faults::{FaultMode, Faults};
pub use fixture::{Fixture, FixtureError};
pub use payload::{BAD_REQUEST, NOT_FOUND, SUCCESS};
pub use registry_vocab::{PerRegistry, Registry, UnknownRegistry};
pub use server::{
    spawn, spawn_signed, MockRegistries, MockRegistry, INJECTED_FAULT_CODE, SHEP_PATH,
};
pub use signing::{demo_pki, MockSigning};
