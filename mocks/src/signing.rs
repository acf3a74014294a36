//! WS-Security on the mocks, as on the bus: requests must be signed by a sender whose
//! certificate chains to the mock's trust store, and answers are signed with the registry's
//! own key (each registry has its own certificate, as the gateway's pins expect). Off unless a mock is started with a [`MockSigning`] (the gateway's embedded demo mocks
//! always are, with [`demo_pki`]).
//!
//! A request without a signature gets the SOAP fault `soap:Client` / `InvalidSecurity`
//! (detail code [`SECURITY_FAULT_CODE`]), one whose signature or certificate does not hold
//! `FailedCheck`, as WS-Security's fault codes say; HTTP 500 like every fault.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use shep_wss::testpki::{Issued, TestCa, Validity};
use shep_wss::{Credentials, SignerId, TrustStore, Verdict, VerifyOptions};

use crate::{PerRegistry, Registry};

/// Detail code of the fault for a missing or bad request signature.
pub const SECURITY_FAULT_CODE: &str = "SECURITY_ERROR";

/// How one mock checks requests and signs answers.
pub struct MockSigning {
    /// Signs each registry's answers.
    pub credentials: PerRegistry<Arc<Credentials>>,
    /// Requests' signers must chain to one of these.
    pub trust: TrustStore,
    /// Refuse requests that are not signed (with a SOAP fault).
    pub require_signed_requests: bool,
    /// Sign every answer (faults included).
    pub sign_answers: bool,
}

impl std::fmt::Debug for MockSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockSigning")
            .field("credentials", &self.credentials)
            .field("require_signed_requests", &self.require_signed_requests)
            .field("sign_answers", &self.sign_answers)
            .finish_non_exhaustive()
    }
}

/// Keys generated once per process for the demo and tests: one test CA, each registry's
/// certificate and the gateway's.
pub struct DemoPki {
    /// The test CA ("Demo NCA RK (test)"); every certificate below is issued by it.
    pub ca: TestCa,
    /// Each mock registry's signing key and certificate.
    pub registries: PerRegistry<Issued>,
    /// The gateway's signing key and certificate.
    pub gateway: Issued,
}

impl std::fmt::Debug for DemoPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoPki").finish_non_exhaustive()
    }
}

/// The demo keys (RSA 2048), generated on first use (about a second).
pub fn demo_pki() -> &'static DemoPki {
    static PKI: OnceLock<DemoPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = TestCa::generate("Demo NCA RK (test)");
        let registries = PerRegistry::from_fn(|registry| {
            ca.issue(
                &format!("{} mock (test)", registry.name()),
                Validity::Current,
            )
        });
        let gateway = ca.issue("registry-gateway demo sender (test)", Validity::Current);
        DemoPki {
            ca,
            registries,
            gateway,
        }
    })
}

impl DemoPki {
    /// Each registry's signing keys.
    pub fn registry_credentials(&self) -> PerRegistry<Arc<Credentials>> {
        PerRegistry::from_fn(|registry| Arc::new(self.registries[registry].credentials()))
    }

    /// Who signs `registry`'s answers: what the gateway pins.
    pub fn signer_of(&self, registry: Registry) -> SignerId {
        SignerId::of(&self.registries[registry].cert_der).expect("a test certificate")
    }
}

impl MockSigning {
    /// Signed answers and required request signatures with the demo keys.
    pub fn demo() -> Arc<MockSigning> {
        let pki = demo_pki();
        Arc::new(MockSigning {
            credentials: pki.registry_credentials(),
            trust: pki.ca.trust_store(),
            require_signed_requests: true,
            sign_answers: true,
        })
    }

    /// Checks a request's signature: `Ok(signer subject)`, or the fault to answer with
    /// (faultstring, detail message).
    pub(crate) fn check_request(&self, body: &str) -> Result<Option<String>, (String, String)> {
        let doc = roxmltree::Document::parse(body)
            .map_err(|e| ("Invalid request".to_owned(), format!("not XML: {e}")))?;
        match shep_wss::verify_envelope(
            &doc,
            body,
            &self.trust,
            chrono::Utc::now(),
            &VerifyOptions::default(),
        ) {
            Ok(Verdict::Signed(signed)) => Ok(Some(signed.signer.subject)),
            Ok(Verdict::Unsigned) if self.require_signed_requests => Err((
                "InvalidSecurity".to_owned(),
                "the request carries no wsse:Security signature".to_owned(),
            )),
            Ok(Verdict::Unsigned) => Ok(None),
            Err(e) if self.require_signed_requests => {
                Err(("FailedCheck".to_owned(), format!("signature refused: {e}")))
            }
            Err(_) => Ok(None),
        }
    }

    /// `registry`'s answer signed with its key, or unchanged when answers are not signed.
    pub(crate) fn sign(&self, registry: Registry, xml: String) -> String {
        if !self.sign_answers {
            return xml;
        }
        match shep_wss::sign_envelope(
            &xml,
            &self.credentials[registry],
            chrono::Utc::now(),
            Duration::from_secs(300),
        ) {
            Ok(signed) => signed,
            Err(e) => {
                tracing::warn!(error = %e, "mock could not sign its answer; sent unsigned");
                xml
            }
        }
    }
}

/// A signed answer with its Body changed after signing (one character of the status message):
/// what a tampered answer looks like. Unchanged when there is nothing to change.
pub(crate) fn tamper(signed: &str) -> String {
    signed.replacen("</message>", ".</message>", 1)
}
