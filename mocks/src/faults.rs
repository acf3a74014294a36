//! Fault injection: added latency, random errors and whole-mock failure modes.
//!
//! Each mock holds one [`Faults`] value, replaced at run time through
//! [`MockRegistry::set_faults`](crate::MockRegistry::set_faults) or `PUT /admin/faults`. A
//! request first waits `latency + uniform(0..jitter)` (tokio time, so paused-clock tests work),
//! then with probability `error_rate` gets the [`Faults::error`] mode (HTTP 503 when unset);
//! every other request gets [`Faults::mode`].
//!
//! JSON shape (durations are humantime strings such as `"250ms"` or `"1s 500ms"`; every field
//! may be left out):
//!
//! ```json
//! { "latency": "200ms", "jitter": "50ms", "error_rate": 0.1,
//!   "error": { "wrong_status": { "code": "TEMP_UNAVAILABLE" } },
//!   "mode": { "trickle": { "bytes_per_sec": 200 } } }
//! ```
//!
//! Modes without data are plain strings: `"none"`, `"down"`, `"http503"`, `"soap_fault"`,
//! `"client_fault"`, `"malformed_xml"`, `"tampered_signature"`.

use std::time::Duration;

/// Faults a mock applies to SendMessage requests. The default is a healthy mock.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fixed latency added before answering (humantime string in JSON, e.g. `"250ms"`).
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Plus a uniform random extra latency in `0..jitter` (humantime string in JSON).
    #[serde(with = "humantime_serde")]
    pub jitter: Duration,
    /// Share of requests (0.0..=1.0) answered with [`Faults::error`] instead of `mode`.
    pub error_rate: f64,
    /// What a request picked by `error_rate` gets; `None` means [`FaultMode::Http503`].
    pub error: Option<FaultMode>,
    /// What every other request gets.
    pub mode: FaultMode,
}

/// How a mock answers a request.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultMode {
    /// Answer normally from the fixture.
    #[default]
    None,
    /// Read the request, then close the connection without writing any answer.
    Down,
    /// HTTP 503 with a plain-text body, no envelope.
    Http503,
    /// HTTP 500 with a SOAP fault (`SendMessageSendMessageFaultMsg`, code `SHEP_FAULT`).
    SoapFault,
    /// HTTP 500 with a `soap:Client` fault, code `BAD_REQUEST`: the request's fault.
    ClientFault,
    /// HTTP 200, `text/xml`, but the real answer cut off halfway (never well-formed).
    MalformedXml,
    /// The real answer, with its `Content-Length`, sent at this rate (at least 1 byte/s).
    Trickle {
        /// Bytes per second.
        bytes_per_sec: u32,
    },
    /// A well-formed envelope with this `status/code` and empty `data`.
    WrongStatus {
        /// E.g. `TEMP_UNAVAILABLE`, `BAD_REQUEST`, or something unexpected.
        code: String,
    },
    /// The real answer, signed (on a mock that signs), then one character of its Body changed:
    /// the signature no longer holds.
    TamperedSignature,
    /// The real answer signed (on a mock that signs) with another registry's key: a valid
    /// signature by a certificate of the same CA, which the gateway's pin refuses.
    SignedBy {
        /// Whose key signs, e.g. `zags`.
        registry: crate::Registry,
    },
}

impl Faults {
    /// A healthy mock (the default).
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Every request gets `mode`, with no added latency.
    pub fn mode(mode: FaultMode) -> Faults {
        Faults {
            mode,
            ..Faults::default()
        }
    }

    /// Checks the values a JSON body can get wrong: `error_rate` must be within 0..=1.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "error_rate must be within 0.0..=1.0, got {}",
                self.error_rate
            ));
        }
        for mode in std::iter::once(&self.mode).chain(self.error.as_ref()) {
            if let FaultMode::WrongStatus { code } = mode {
                if code.trim().is_empty() {
                    return Err("wrong_status.code must not be empty".to_owned());
                }
            }
        }
        Ok(())
    }

    /// The delay before this request is answered.
    pub(crate) fn delay(&self) -> Duration {
        let extra = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.jitter.mul_f64(fastrand::f64())
        };
        self.latency.saturating_add(extra)
    }

    /// The mode for this request: `error` with probability `error_rate`, else `mode`.
    pub(crate) fn pick(&self) -> FaultMode {
        let rate = if self.error_rate.is_nan() {
            0.0
        } else {
            self.error_rate.clamp(0.0, 1.0)
        };
        // fastrand::f64() is in [0, 1): rate 0 never fires, rate 1 always does.
        if rate > 0.0 && fastrand::f64() < rate {
            self.error.clone().unwrap_or(FaultMode::Http503)
        } else {
            self.mode.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let f: Faults = serde_json::from_str(
            r#"{"latency":"250ms","jitter":"1s","error_rate":0.5,
                "error":{"wrong_status":{"code":"TEMP_UNAVAILABLE"}},
                "mode":{"trickle":{"bytes_per_sec":100}}}"#,
        )
        .expect("parses");
        assert_eq!(f.latency, Duration::from_millis(250));
        assert_eq!(f.jitter, Duration::from_secs(1));
        assert_eq!(
            f.error,
            Some(FaultMode::WrongStatus {
                code: "TEMP_UNAVAILABLE".into()
            })
        );
        assert_eq!(f.mode, FaultMode::Trickle { bytes_per_sec: 100 });
        let back: Faults =
            serde_json::from_str(&serde_json::to_string(&f).expect("serialise")).expect("parse");
        assert_eq!(back, f);

        let down: Faults = serde_json::from_str(r#"{"mode":"down"}"#).expect("parses");
        assert_eq!(down, Faults::mode(FaultMode::Down));
        assert_eq!(
            serde_json::from_str::<Faults>("{}").expect("parses"),
            Faults::none()
        );
        assert!(serde_json::from_str::<Faults>(r#"{"mood":"down"}"#).is_err());
        assert!(serde_json::from_str::<Faults>(r#"{"latency":250}"#).is_err());
    }

    #[test]
    fn validate_rejects_bad_rates() {
        for rate in [-0.1, 1.5, f64::NAN] {
            let f = Faults {
                error_rate: rate,
                ..Faults::none()
            };
            assert!(f.validate().is_err(), "{rate}");
        }
        assert!(Faults::mode(FaultMode::WrongStatus { code: " ".into() })
            .validate()
            .is_err());
        assert!(Faults::none().validate().is_ok());
    }

    #[test]
    fn pick_honours_the_extremes() {
        let always = Faults {
            error_rate: 1.0,
            mode: FaultMode::MalformedXml,
            ..Faults::none()
        };
        let never = Faults {
            error_rate: 0.0,
            error: Some(FaultMode::Down),
            mode: FaultMode::MalformedXml,
            ..Faults::none()
        };
        for _ in 0..100 {
            assert_eq!(always.pick(), FaultMode::Http503);
            assert_eq!(never.pick(), FaultMode::MalformedXml);
        }
    }

    #[test]
    fn delay_stays_within_latency_plus_jitter() {
        let f = Faults {
            latency: Duration::from_millis(100),
            jitter: Duration::from_millis(50),
            ..Faults::none()
        };
        for _ in 0..100 {
            let d = f.delay();
            assert!(
                d >= Duration::from_millis(100) && d < Duration::from_millis(150),
                "{d:?}"
            );
        }
    }
}
