//! RFC 3161 time-stamps of signed checkpoints (`[audit.timestamp]`).
//!
//! A signed checkpoint proves who wrote the chain, not when: the gateway's clock is its own.
//! With `[audit.timestamp]`, the writer asks a time-stamp authority (TSA) for a token over the
//! SHA-256 of the checkpoint line as signed (its canonical bytes, `signature` included, without
//! `tst`) and stores the token, DER in standard base64, as the line's last member:
//!
//! ```text
//! {"checkpoint":42,"replica":"gw-0","hash":"…","key":"…","signature":"…","tst":"MIIG…"}
//! ```
//!
//! The token proves that the checkpoint, and so every record up to its seq, existed at the
//! token's `genTime`. `verify-audit --tsa-cert FILE` checks each token: its message imprint is
//! the checkpoint's hash, its TSTInfo is what its signer signed, and the signature holds
//! against one of the TSA certificates given; it reports the proven times.
//!
//! A TSA that does not answer never stops decisions: the checkpoint is written without a token
//! ([`Stamper::stamp`] gives `None`), `gateway_audit_timestamp_failures_total` counts it and
//! the next request waits `retry_after`; the next stamped checkpoint covers the records of the
//! unstamped ones before it.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Int, ObjectIdentifier, OctetString};
use der::{Any, Decode, DecodePem, Encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const ID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// A time-stamp response larger than this is refused.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// `[audit.timestamp]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampConfig {
    /// The TSA's URL (RFC 3161 over HTTP: POST `application/timestamp-query`).
    pub url: String,
    /// The TSA's certificate (PEM): tokens are verified against it before they are stored.
    pub certificate: PathBuf,
    /// Time allowed for one request; past it the checkpoint is written without a token.
    #[serde(with = "humantime_serde", default = "default_timeout")]
    pub timeout: Duration,
    /// Ask for a token at most this often (0: every checkpoint).
    #[serde(with = "humantime_serde", default)]
    pub interval: Duration,
    /// After a failed request, the next one waits this long.
    #[serde(with = "humantime_serde", default = "default_retry_after")]
    pub retry_after: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(2)
}

fn default_retry_after() -> Duration {
    Duration::from_secs(30)
}

impl TimestampConfig {
    /// The rules [`super::AuditConfig::validate`] applies, as (field, rule).
    pub(super) fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let url = self.url.as_str();
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || reqwest::Url::parse(url).is_err() {
            return Err((
                "url",
                "must be an http:// or https:// URL of the time-stamp authority",
            ));
        }
        if self.certificate.as_os_str().is_empty() {
            return Err(("certificate", "must name the TSA's certificate (PEM)"));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(60) {
            return Err(("timeout", "must be more than zero and at most 60s"));
        }
        if self.retry_after.is_zero() {
            return Err(("retry_after", "must be more than zero"));
        }
        Ok(())
    }
}

/// A TSA certificate tokens are verified against.
#[derive(Debug, Clone)]
pub struct TsaCert {
    cert: Certificate,
    subject: String,
}

impl TsaCert {
    /// Reads a PEM certificate, which must allow time-stamping only (RFC 3161: a critical
    /// extendedKeyUsage of id-kp-timeStamping).
    pub fn load(path: &Path) -> Result<TsaCert, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        TsaCert::from_pem(&pem).map_err(|reason| format!("{}: {reason}", path.display()))
    }

    /// A certificate in PEM.
    pub fn from_pem(pem: &[u8]) -> Result<TsaCert, String> {
        let cert =
            Certificate::from_pem(pem).map_err(|e| format!("not a PEM certificate ({e})"))?;
        let eku = cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == ID_EXT_KEY_USAGE);
        let stamping = eku.is_some_and(|e| {
            e.critical
                && x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
                    .is_ok_and(|u| u.0 == [ID_KP_TIME_STAMPING])
        });
        if !stamping {
            let rule = "RFC 3161 requires a critical extendedKeyUsage of timeStamping only";
            return Err(format!("not a time-stamping certificate: {rule}"));
        }
        Ok(TsaCert {
            subject: cert.tbs_certificate.subject.to_string(),
            cert,
        })
    }

    /// The certificate's subject, as `verify-audit` names the TSA.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    fn signed(&self, sid: &SignerIdentifier) -> bool {
        let tbs = &self.cert.tbs_certificate;
        match sid {
            SignerIdentifier::IssuerAndSerialNumber(is) => {
                is.issuer == tbs.issuer && is.serial_number == tbs.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
                .extensions
                .iter()
                .flatten()
                .filter(|e| e.extn_id == ID_SUBJECT_KEY_ID)
                .any(|e| {
                    SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).as_ref() == Ok(ski)
                }),
        }
    }
}

/// Loads every certificate of `paths`.
pub fn load_certs(paths: &[PathBuf]) -> Result<Vec<TsaCert>, String> {
    paths.iter().map(|p| TsaCert::load(p)).collect()
}

/// What a token proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// `genTime`, RFC 3339 in UTC.
    pub time: String,
    /// The subject of the TSA certificate that signed it.
    pub tsa: String,
}

/// A `TimeStampReq` (DER) for the SHA-256 `hash`, asking for the TSA's certificate not to be
/// included (the verifier has it).
pub fn request(hash: &[u8; 32], nonce: u64) -> Vec<u8> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: imprint(hash),
        req_policy: None,
        nonce: Some(int(nonce)),
        cert_req: false,
        extensions: None,
    };
    req.to_der().expect("a time-stamp request encodes")
}

fn imprint(hash: &[u8; 32]) -> MessageImprint {
    MessageImprint {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifier {
            oid: ID_SHA256,
            parameters: Some(Any::null()),
        },
        hashed_message: OctetString::new(hash.to_vec()).expect("32 bytes"),
    }
}

fn int(n: u64) -> Int {
    // Positive: a leading zero byte keeps the high bit from reading as a sign.
    let mut bytes = vec![0];
    bytes.extend_from_slice(&n.to_be_bytes());
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let start = if bytes[first] & 0x80 != 0 {
        first - 1
    } else {
        first
    };
    Int::new(&bytes[start..]).expect("a minimal positive integer")
}

/// The token of a `TimeStampResp` (DER) answering [`request`]`(hash, nonce)`: granted, for
/// `hash`, with `nonce`, and signed by one of `certs`.
pub fn read_response(
    der: &[u8],
    hash: &[u8; 32],
    nonce: u64,
    certs: &[TsaCert],
) -> Result<Vec<u8>, String> {
    let resp = TimeStampResp::from_der(der).map_err(|e| format!("not a TimeStampResp ({e})"))?;
    let status = resp.status.status as u8;
    if status > 1 {
        return Err(format!(
            "the TSA refused the request (PKIStatus {status}{})",
            resp.status
                .fail_info
                .map(|f| format!(", failInfo {f:?}"))
                .unwrap_or_default()
        ));
    }
    let token = resp
        .time_stamp_token
        .ok_or("the TSA granted the request without a token")?;
    let token = token
        .to_der()
        .map_err(|e| format!("the token does not encode ({e})"))?;
    let (tst, _) = check_token(&token, hash, certs)?;
    if tst.nonce != Some(int(nonce)) {
        return Err("the token's nonce is not the request's: a replayed answer".into());
    }
    Ok(token)
}

/// Checks a token (DER `ContentInfo`) over the SHA-256 `hash` against `certs`.
pub fn verify_token(token: &[u8], hash: &[u8; 32], certs: &[TsaCert]) -> Result<Stamp, String> {
    let (tst, cert) = check_token(token, hash, certs)?;
    let at = tst.gen_time.to_unix_duration();
    let time = chrono::DateTime::from_timestamp(at.as_secs() as i64, at.subsec_nanos())
        .ok_or("the token's genTime is out of range")?
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    Ok(Stamp {
        time,
        tsa: cert.subject.clone(),
    })
}

fn check_token<'c>(
    token: &[u8],
    hash: &[u8; 32],
    certs: &'c [TsaCert],
) -> Result<(TstInfo, &'c TsaCert), String> {
    let bad = |e: der::Error| format!("the time-stamp token is not valid DER ({e})");
    let info = ContentInfo::from_der(token).map_err(bad)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err("the time-stamp token is not CMS SignedData".into());
    }
    let signed: SignedData = info.content.decode_as().map_err(bad)?;
    let encap = &signed.encap_content_info;
    let content = match (&encap.econtent, encap.econtent_type == ID_CT_TST_INFO) {
        (Some(content), true) => OctetString::from_der(&content.to_der().map_err(bad)?)
            .map_err(bad)?
            .into_bytes(),
        _ => return Err("the time-stamp token holds no TSTInfo".into()),
    };
    let tst = TstInfo::from_der(&content).map_err(bad)?;
    if tst.message_imprint != imprint(hash) {
        let what = "another hash than the checkpoint's (message imprint differs)";
        return Err(format!(
            "the time-stamp token is over {what}: altered or moved"
        ));
    }
    let [signer] = signed.signer_infos.0.as_slice() else {
        return Err("the time-stamp token does not have exactly one signer".into());
    };
    let cert = certs.iter().find(|c| c.signed(&signer.sid)).ok_or(
        "the time-stamp token was signed by a TSA certificate other than those given \
         (--tsa-cert / audit.timestamp.certificate)",
    )?;
    check_signer(signer, &content, cert)?;
    let validity = &cert.cert.tbs_certificate.validity;
    let at = tst.gen_time.to_unix_duration();
    if at < validity.not_before.to_unix_duration() || at > validity.not_after.to_unix_duration() {
        return Err(format!(
            "the time-stamp token's time lies outside the validity of TSA certificate {}",
            cert.subject
        ));
    }
    Ok((tst, cert))
}

/// The signed attributes name TSTInfo and its digest, and the signature over them holds.
fn check_signer(signer: &SignerInfo, content: &[u8], cert: &TsaCert) -> Result<(), String> {
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or("the time-stamp token has no signed attributes")?;
    let single = |oid: ObjectIdentifier| -> Option<&Any> {
        let attr = attrs.iter().find(|a| a.oid == oid)?;
        match attr.values.as_slice() {
            [value] => Some(value),
            _ => None,
        }
    };
    let content_type = single(ID_CONTENT_TYPE).and_then(|v| v.decode_as::<ObjectIdentifier>().ok());
    if content_type != Some(ID_CT_TST_INFO) {
        return Err("the time-stamp token's signed content-type is not TSTInfo".into());
    }
    let digest = digest(&signer.digest_alg.oid, content)?;
    let signed_digest = single(ID_MESSAGE_DIGEST).and_then(|v| v.decode_as::<OctetString>().ok());
    if signed_digest.as_ref().map(OctetString::as_bytes) != Some(digest.as_slice()) {
        return Err("the time-stamp token's TSTInfo is not what its TSA signed: altered".into());
    }
    let message = attrs
        .to_der()
        .map_err(|e| format!("the token's signed attributes do not encode ({e})"))?;
    let algorithm = algorithm(signer, cert)?;
    let spki = &cert.cert.tbs_certificate.subject_public_key_info;
    ring::signature::UnparsedPublicKey::new(algorithm, spki.subject_public_key.raw_bytes())
        .verify(&message, signer.signature.as_bytes())
        .map_err(|_| {
            format!(
                "the time-stamp token's signature does not verify against TSA certificate {}: \
                 forged or altered",
                cert.subject
            )
        })
}

fn digest(oid: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match *oid {
        ID_SHA256 => Sha256::digest(data).to_vec(),
        ID_SHA384 => Sha384::digest(data).to_vec(),
        ID_SHA512 => Sha512::digest(data).to_vec(),
        other => {
            return Err(format!(
                "the time-stamp token's digest {other} is not supported"
            ))
        }
    })
}

/// The signature algorithm of `signer` with the key of `cert`: RSA PKCS#1 v1.5 or ECDSA
/// P-256/P-384, with SHA-256/384/512.
fn algorithm(
    signer: &SignerInfo,
    cert: &TsaCert,
) -> Result<&'static dyn ring::signature::VerificationAlgorithm, String> {
    use ring::signature as s;
    let key = &cert.cert.tbs_certificate.subject_public_key_info.algorithm;
    let sig = signer.signature_algorithm.oid;
    let hash = match sig {
        ID_RSA => signer.digest_alg.oid,
        ID_RSA_SHA256 | ID_ECDSA_SHA256 => ID_SHA256,
        ID_RSA_SHA384 | ID_ECDSA_SHA384 => ID_SHA384,
        ID_RSA_SHA512 => ID_SHA512,
        other => {
            return Err(format!(
                "the time-stamp token's signature algorithm {other} is not supported"
            ))
        }
    };
    let curve = key
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let rsa = matches!(sig, ID_RSA | ID_RSA_SHA256 | ID_RSA_SHA384 | ID_RSA_SHA512);
    Ok(match (key.oid, rsa, hash, curve) {
        (ID_RSA, true, ID_SHA256, _) => &s::RSA_PKCS1_2048_8192_SHA256,
        (ID_RSA, true, ID_SHA384, _) => &s::RSA_PKCS1_2048_8192_SHA384,
        (ID_RSA, true, ID_SHA512, _) => &s::RSA_PKCS1_2048_8192_SHA512,
        (ID_EC, false, ID_SHA256, Some(ID_P256)) => &s::ECDSA_P256_SHA256_ASN1,
        (ID_EC, false, ID_SHA384, Some(ID_P256)) => &s::ECDSA_P256_SHA384_ASN1,
        (ID_EC, false, ID_SHA256, Some(ID_P384)) => &s::ECDSA_P384_SHA256_ASN1,
        (ID_EC, false, ID_SHA384, Some(ID_P384)) => &s::ECDSA_P384_SHA384_ASN1,
        _ => {
            return Err(format!(
                "the time-stamp token's signature ({sig}) does not fit the key of TSA \
                 certificate {}",
                cert.subject
            ))
        }
    })
}

/// Token ↔ the `tst` member of a checkpoint line.
pub fn encode(token: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(token)
}

pub fn decode(tst: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(tst)
        .map_err(|_| "the time-stamp token (tst) is not base64".into())
}

/// The writer's client of the TSA.
pub struct Stamper {
    config: TimestampConfig,
    certs: Vec<TsaCert>,
    /// Built on first use, in the writer's thread (a blocking client may not be made or
    /// dropped inside the async runtime).
    client: Option<reqwest::blocking::Client>,
    /// No request before this (the interval, or `retry_after` after a failure).
    next: Option<Instant>,
    /// Whether the last request failed (to log the recovery once).
    failing: bool,
}

impl std::fmt::Debug for Stamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stamper")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

impl Stamper {
    /// Reads the TSA certificate.
    pub fn new(config: &TimestampConfig) -> Result<Stamper, String> {
        Ok(Stamper {
            certs: vec![TsaCert::load(&config.certificate)?],
            config: config.clone(),
            client: None,
            next: None,
            failing: false,
        })
    }

    /// A token over `hash`, or `None`: not due yet, or the TSA failed (counted and logged).
    pub fn stamp(&mut self, hash: &[u8; 32], seq: u64) -> Option<Vec<u8>> {
        let now = Instant::now();
        if self.next.is_some_and(|next| now < next) {
            return None;
        }
        match self.ask(hash) {
            Ok(token) => {
                if std::mem::take(&mut self.failing) {
                    tracing::info!(seq, "audit: the time-stamp authority answers again");
                }
                self.next = Some(now + self.config.interval);
                Some(token)
            }
            Err(reason) => {
                crate::metrics::audit_timestamp_failure();
                tracing::warn!(
                    seq,
                    url = %self.config.url,
                    reason = %reason,
                    retry_after = ?self.config.retry_after,
                    "audit: no time-stamp for this checkpoint (written without one)"
                );
                self.failing = true;
                self.next = Some(now + self.config.retry_after);
                None
            }
        }
    }

    fn ask(&mut self, hash: &[u8; 32]) -> Result<Vec<u8>, String> {
        let client = match &self.client {
            Some(client) => client,
            None => {
                let built = reqwest::blocking::Client::builder()
                    .timeout(self.config.timeout)
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client ({e})"))?;
                self.client.insert(built)
            }
        };
        let nonce = u64::from_be_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap());
        let response = client
            .post(&self.config.url)
            .header("content-type", "application/timestamp-query")
            .body(request(hash, nonce))
            .send()
            .map_err(|e| format!("request failed ({e})"))?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        // Read no more than the bound (and one byte more, to tell a longer answer).
        let mut body = Vec::new();
        response
            .take(MAX_RESPONSE_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("reading the answer failed ({e})"))?;
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(format!("an answer of more than {MAX_RESPONSE_BYTES} bytes"));
        }
        read_response(&body, hash, nonce, &self.certs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TimestampConfig {
        TimestampConfig {
            url: "https://tsa.example.kz/tsp".into(),
            certificate: "tsa.pem".into(),
            timeout: default_timeout(),
            interval: Duration::ZERO,
            retry_after: default_retry_after(),
        }
    }

    #[test]
    fn a_config_that_breaks_a_rule_names_the_field() {
        assert_eq!(config().check(), Ok(()));
        let broken = [
            (
                TimestampConfig {
                    url: "tsa.example.kz".into(),
                    ..config()
                },
                "url",
            ),
            (
                TimestampConfig {
                    url: "ftp://tsa/".into(),
                    ..config()
                },
                "url",
            ),
            (
                TimestampConfig {
                    certificate: "".into(),
                    ..config()
                },
                "certificate",
            ),
            (
                TimestampConfig {
                    timeout: Duration::ZERO,
                    ..config()
                },
                "timeout",
            ),
            (
                TimestampConfig {
                    timeout: Duration::from_secs(61),
                    ..config()
                },
                "timeout",
            ),
            (
                TimestampConfig {
                    retry_after: Duration::ZERO,
                    ..config()
                },
                "retry_after",
            ),
        ];
        for (config, field) in broken {
            assert_eq!(config.check().map_err(|(f, _)| f), Err(field), "{config:?}");
        }
    }

    #[test]
    fn the_configuration_names_the_key_and_the_rule() {
        let refused = |text: &str| {
            crate::config::Config::from_toml(text)
                .unwrap_err()
                .to_string()
        };
        let unsigned = refused(
            "[audit]\n[audit.timestamp]\nurl = \"https://tsa/\"\ncertificate = \"tsa.pem\"\n",
        );
        assert!(
            unsigned.contains("audit.timestamp") && unsigned.contains("needs [audit.signing]"),
            "{unsigned}"
        );
        let url = refused(
            "[audit]\n[audit.signing]\nkey_file = \"k.pem\"\n\
             [audit.timestamp]\nurl = \"tsa\"\ncertificate = \"tsa.pem\"\n",
        );
        assert!(
            url.contains("audit.timestamp.url") && url.contains("http:// or https://"),
            "{url}"
        );
        let missing = refused("[audit]\n[audit.timestamp]\nurl = \"https://tsa/\"\n");
        assert!(missing.contains("certificate"), "{missing}");
    }

    #[test]
    fn nonces_are_minimal_positive_integers() {
        for (n, bytes) in [
            (0u64, vec![0u8]),
            (1, vec![1]),
            (0x7f, vec![0x7f]),
            (0x80, vec![0, 0x80]),
            (0x0100, vec![1, 0]),
            (u64::MAX, [vec![0], vec![0xff; 8]].concat()),
        ] {
            assert_eq!(int(n).as_bytes(), bytes, "{n:#x}");
        }
    }

    #[test]
    fn a_request_is_a_der_time_stamp_req_over_sha256() {
        let hash = [7u8; 32];
        let req = TimeStampReq::from_der(&request(&hash, 42)).unwrap();
        assert_eq!(req.message_imprint, imprint(&hash));
        assert_eq!(req.nonce, Some(int(42)));
        assert!(!req.cert_req);
    }

    #[test]
    fn a_certificate_without_the_time_stamping_usage_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["tsa.example.kz".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let refused = TsaCert::from_pem(cert.pem().as_bytes()).unwrap_err();
        assert!(
            refused.contains("not a time-stamping certificate"),
            "{refused}"
        );
        let not_pem = TsaCert::from_pem(b"hello").unwrap_err();
        assert!(not_pem.contains("not a PEM certificate"), "{not_pem}");
    }

    #[test]
    fn garbage_is_no_token_and_no_answer() {
        let hash = [1u8; 32];
        let token = verify_token(b"\x30\x03\x02\x01\x01", &hash, &[]).unwrap_err();
        assert!(token.contains("not valid DER"), "{token}");
        let answer = read_response(b"<html>", &hash, 1, &[]).unwrap_err();
        assert!(answer.contains("not a TimeStampResp"), "{answer}");
        assert!(decode("not base64!").is_err());
    }
}
