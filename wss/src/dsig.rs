//! WS-Security 1.1 (X.509 token profile) on a SOAP 1.1 envelope: signing and verifying.
//!
//! A signed envelope carries, in `soap:Header/wsse:Security`, a `wsu:Timestamp`, the signer's
//! certificate as a `wsse:BinarySecurityToken`, and a `ds:Signature` whose `SignedInfo`
//! (exclusive c14n, RSA-SHA256) references the `soap:Body` and the timestamp by `wsu:Id`,
//! each with an exclusive-c14n transform and a SHA-256 digest; `ds:KeyInfo` points at the
//! token with a `wsse:SecurityTokenReference`.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use roxmltree::{Document, Node};

use crate::c14n;
use crate::keys::{Credentials, SignerId, TrustStore};

pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const X509V3: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
pub const BASE64_BINARY: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// Why an envelope could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignError(pub String);

/// Signs `envelope` (a SOAP 1.1 envelope without a `wsse:Security` header): adds the header
/// with a timestamp valid for `ttl` from `now`, the certificate and the signature.
pub fn sign_envelope(
    envelope: &str,
    credentials: &Credentials,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<String, SignError> {
    let doc = Document::parse(envelope)
        .map_err(|e| SignError(format!("the envelope is not XML ({e})")))?;
    let target = Unsigned::of(&doc)?;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let ids = Ids {
        body: format!("id-{suffix}"),
        timestamp: format!("TS-{suffix}"),
        token: format!("X509-{suffix}"),
    };
    let security = security_header(&target.soap, &ids, credentials, now, ttl);
    let (mut text, signature_at) = target.with_security(envelope, &security, &ids.body)?;
    let signed_info = signed_info(&text, [&ids.body, &ids.timestamp])?;
    let value = credentials
        .sign(signed_info.as_bytes())
        .map_err(|e| SignError(e.to_string()))?;
    let signature = format!(
        r##"<ds:Signature xmlns:ds="{DS_NS}" Id="SIG-{suffix}">{signed_info}<ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#{token_id}" ValueType="{X509V3}"></wsse:Reference></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature>"##,
        value = B64.encode(value),
        token_id = ids.token,
    );
    text.insert_str(signature_at, &signature);
    Ok(text)
}

/// The `wsu:Id`s of one signature's parts.
struct Ids {
    body: String,
    timestamp: String,
    token: String,
}

/// An envelope to sign: its SOAP prefix, Body and Header (if any), checked.
struct Unsigned<'a, 'input> {
    soap: String,
    body: Node<'a, 'input>,
    header: Option<Node<'a, 'input>>,
}

impl<'a, 'input> Unsigned<'a, 'input> {
    fn of(doc: &'a Document<'input>) -> Result<Unsigned<'a, 'input>, SignError> {
        let fail = |s: &str| SignError(s.to_owned());
        let root = doc.root_element();
        if !root.has_tag_name((SOAP_NS, "Envelope")) {
            return Err(fail("the root element is not a SOAP 1.1 Envelope"));
        }
        let soap = root
            .lookup_prefix(SOAP_NS)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| fail("the envelope must bind a prefix to the SOAP namespace"))?
            .to_owned();
        let body = single_child(root, SOAP_NS, "Body").map_err(SignError)?;
        if body.attributes().any(|a| is_id(a.name())) {
            return Err(fail("the Body already has an Id: already signed?"));
        }
        let header = match children(root, SOAP_NS, "Header").as_slice() {
            [] => None,
            [h] => Some(*h),
            _ => return Err(fail("more than one SOAP Header")),
        };
        if header.is_some_and(|h| h.children().any(|c| c.has_tag_name((WSSE_NS, "Security")))) {
            return Err(fail("the envelope already has a wsse:Security header"));
        }
        Ok(Unsigned { soap, body, header })
    }

    /// `envelope` with `security` (an open `wsse:Security` element) in its Header, made if
    /// need be, and the Body's `wsu:Id`; and where in it the signature goes.
    fn with_security(
        &self,
        envelope: &str,
        security: &str,
        body_id: &str,
    ) -> Result<(String, usize), SignError> {
        let soap = &self.soap;
        let body = self.body;
        let body_tag_end =
            body.range().start + 1 + body.tag_name().name().len() + prefix_len(envelope, body);
        // Where the new Header content goes, and what of the envelope is replaced there.
        let (before, after, open_header) = match self.header {
            Some(h) => {
                let content_at = start_tag_end(envelope, h.range().start).ok_or_else(|| {
                    SignError("cannot find the end of the Header start tag".into())
                })?;
                if envelope[..content_at].ends_with("/>") {
                    // <soap:Header/>: replaced by an open Header.
                    (h.range().start, h.range().end, true)
                } else {
                    (content_at, content_at, false)
                }
            }
            None => (body.range().start, body.range().start, true),
        };
        let mut text = String::with_capacity(envelope.len() + 4096);
        text.push_str(&envelope[..before]);
        if open_header {
            text.push_str(&format!("<{soap}:Header>"));
        }
        text.push_str(security);
        let signature_at = text.len();
        text.push_str("</wsse:Security>");
        if open_header {
            text.push_str(&format!("</{soap}:Header>"));
        }
        text.push_str(&envelope[after..body_tag_end]);
        text.push_str(&format!(r#" xmlns:wsu="{WSU_NS}" wsu:Id="{body_id}""#));
        text.push_str(&envelope[body_tag_end..]);
        Ok((text, signature_at))
    }
}

/// The open `wsse:Security` element: the timestamp (valid for `ttl` from `now`) and the
/// certificate.
fn security_header(
    soap: &str,
    ids: &Ids,
    credentials: &Credentials,
    now: DateTime<Utc>,
    ttl: Duration,
) -> String {
    let created = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let expires = (now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(5)))
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    format!(
        r#"<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}" {soap}:mustUnderstand="1"><wsu:Timestamp wsu:Id="{ts_id}"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp><wsse:BinarySecurityToken EncodingType="{BASE64_BINARY}" ValueType="{X509V3}" wsu:Id="{token_id}">{cert}</wsse:BinarySecurityToken>"#,
        ts_id = ids.timestamp,
        token_id = ids.token,
        cert = B64.encode(credentials.certificate_der()),
    )
}

/// `SignedInfo` over the elements of `text` with the Ids `ids`, in canonical form: exclusive
/// c14n of this element in place is exactly this text.
fn signed_info(text: &str, ids: [&str; 2]) -> Result<String, SignError> {
    let doc = Document::parse(text)
        .map_err(|e| SignError(format!("the signed envelope is not XML ({e})")))?;
    let mut references = String::new();
    for id in ids {
        let node = by_id(&doc, id).map_err(SignError)?;
        let canonical = c14n::node(text, node, &[]).map_err(|e| SignError(e.to_string()))?;
        let value = digest(canonical.as_bytes());
        references.push_str(&format!(
            r##"<ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="{EXC_C14N}"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"></ds:DigestMethod><ds:DigestValue>{value}</ds:DigestValue></ds:Reference>"##
        ));
    }
    let signed_info = format!(
        r#"<ds:SignedInfo xmlns:ds="{DS_NS}"><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm="{RSA_SHA256}"></ds:SignatureMethod>{references}</ds:SignedInfo>"#
    );
    debug_assert_eq!(
        c14n::exclusive(&signed_info, 0..signed_info.len(), &[], &[]).as_deref(),
        Ok(signed_info.as_str())
    );
    Ok(signed_info)
}

/// How answers' signatures are checked.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Clock difference tolerated on `Created` and `Expires`.
    pub max_skew: Duration,
    /// An answer whose timestamp was created longer ago than this is refused, whatever its
    /// `Expires` says.
    pub max_age: Duration,
    /// When the request this answers was sent: an answer signed before it (less `max_skew`)
    /// was not made for it (a replay), and is refused.
    pub sent_at: Option<DateTime<Utc>>,
}

impl Default for VerifyOptions {
    fn default() -> VerifyOptions {
        VerifyOptions {
            max_skew: Duration::from_secs(300),
            max_age: Duration::from_secs(600),
            sent_at: None,
        }
    }
}

/// What about a verification failed, for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyFailure {
    /// No `wsse:Security` signature where one is required.
    Missing,
    /// The envelope or the signature is not shaped as the profile says (a second Body, an
    /// unsupported algorithm, a reference that is not the Body, duplicate Ids...).
    Structure,
    /// A reference's digest does not match: the signed content was changed.
    Digest,
    /// The signature value does not verify with the certificate's key.
    Signature,
    /// The certificate is outside its validity or not issued by a trusted CA.
    Certificate,
    /// The timestamp is missing, expired, too old or in the future.
    Timestamp,
}

impl VerifyFailure {
    pub fn label(self) -> &'static str {
        match self {
            VerifyFailure::Missing => "missing",
            VerifyFailure::Structure => "structure",
            VerifyFailure::Digest => "digest",
            VerifyFailure::Signature => "signature",
            VerifyFailure::Certificate => "certificate",
            VerifyFailure::Timestamp => "timestamp",
        }
    }
}

/// An answer's signature that does not hold, with the element and the rule. Never carries
/// the answer's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct VerifyError {
    pub kind: VerifyFailure,
    pub detail: String,
}

fn refuse(kind: VerifyFailure, detail: impl Into<String>) -> VerifyError {
    VerifyError {
        kind,
        detail: detail.into(),
    }
}

/// A verified envelope: who signed it, when, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Signed(Signed),
    /// No signature at all (only when the caller allows it).
    Unsigned,
}

/// What a valid signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub signer: SignerId,
    /// The exclusive canonical form of the envelope's `soap:Body`: exactly the bytes whose
    /// digest was checked. Read the answer from this, never from the envelope: comments are
    /// gone from it, CDATA sections and character references are plain text, so what is read
    /// is what was signed.
    pub body: String,
    /// The signed `wsu:Timestamp`.
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
}

/// Most `ds:Reference`s in a `SignedInfo`: the profile signs the Body and the Timestamp.
pub const MAX_REFERENCES: usize = 2;
/// Most prefixes in an `InclusiveNamespaces PrefixList`.
pub const MAX_INCLUSIVE_PREFIXES: usize = 16;
/// Most transforms of one reference.
const MAX_TRANSFORMS: usize = 2;

/// Verifies the WS-Security signature of a parsed SOAP 1.1 envelope (`doc` parsed from
/// `source`). The `soap:Body` child of the Envelope must be the only Body and must be signed,
/// and so must the header's `wsu:Timestamp`; the signer's certificate must be valid at `now`
/// and issued by a CA of `trust`. Without any `wsse:Security` header the verdict is
/// `Unsigned`, which the caller refuses or accepts.
pub fn verify_envelope(
    doc: &Document,
    source: &str,
    trust: &TrustStore,
    now: DateTime<Utc>,
    options: &VerifyOptions,
) -> Result<Verdict, VerifyError> {
    let Some((body, security)) = security_of(doc)? else {
        return Ok(Verdict::Unsigned);
    };
    unique_ids(doc)?;
    let signature = single_child(security, DS_NS, "Signature")
        .map_err(|e| refuse(VerifyFailure::Missing, format!("wsse:Security: {e}")))?;
    let (signed_info, inclusive) = signed_info_of(signature)?;
    let timestamp = single_child(security, WSU_NS, "Timestamp")
        .map_err(|e| refuse(VerifyFailure::Timestamp, format!("wsse:Security: {e}")))?;
    let body_canonical = check_references(doc, source, signed_info, body, timestamp)?;
    let signer = check_signature_value(
        doc,
        source,
        signature,
        (signed_info, &inclusive),
        trust,
        now,
    )?;
    let (created, expires) = check_timestamp(timestamp, now, options)?;
    Ok(Verdict::Signed(Signed {
        signer,
        body: body_canonical,
        created,
        expires,
    }))
}

fn structure(detail: impl Into<String>) -> VerifyError {
    refuse(VerifyFailure::Structure, detail)
}

/// The envelope's Body and its `wsse:Security` header; `None` for an unsigned envelope.
fn security_of<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<Option<(Node<'a, 'input>, Node<'a, 'input>)>, VerifyError> {
    let root = doc.root_element();
    if !root.has_tag_name((SOAP_NS, "Envelope")) {
        return Err(structure("the root element is not a SOAP 1.1 Envelope"));
    }
    for child in root.children().filter(Node::is_element) {
        if !(child.has_tag_name((SOAP_NS, "Header")) || child.has_tag_name((SOAP_NS, "Body"))) {
            return Err(structure(format!(
                "Envelope: unexpected element <{}> beside Header and Body",
                child.tag_name().name()
            )));
        }
    }
    let body = single_child(root, SOAP_NS, "Body").map_err(structure)?;
    let header = match children(root, SOAP_NS, "Header").as_slice() {
        [] => None,
        [h] => Some(*h),
        _ => return Err(structure("Envelope: more than one Header")),
    };
    match header.map(|h| children(h, WSSE_NS, "Security")).as_deref() {
        None | Some([]) => Ok(None),
        Some([security]) => Ok(Some((body, *security))),
        Some(_) => Err(structure("Header: more than one wsse:Security")),
    }
}

/// Ids must be unique, or a reference could name one element and the parser read another.
fn unique_ids(doc: &Document) -> Result<(), VerifyError> {
    let mut ids: Vec<&str> = doc
        .descendants()
        .flat_map(|n| n.attributes())
        .filter(|a| is_id(a.name()))
        .map(|a| a.value())
        .collect();
    ids.sort_unstable();
    match ids.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(structure(format!("Id {:?} appears more than once", w[0]))),
        None => Ok(()),
    }
}

/// `SignedInfo`, its methods checked (exclusive c14n, RSA-SHA256), and its c14n's inclusive
/// prefixes.
fn signed_info_of<'a, 'input>(
    signature: Node<'a, 'input>,
) -> Result<(Node<'a, 'input>, Vec<String>), VerifyError> {
    let signed_info = first_child(signature, DS_NS, "SignedInfo").map_err(structure)?;
    let c14n_method =
        first_child(signed_info, DS_NS, "CanonicalizationMethod").map_err(structure)?;
    if c14n_method.attribute("Algorithm") != Some(EXC_C14N) {
        return Err(structure(format!(
            "SignedInfo/CanonicalizationMethod must be {EXC_C14N}"
        )));
    }
    let method = first_child(signed_info, DS_NS, "SignatureMethod")
        .map_err(structure)?
        .attribute("Algorithm");
    if method != Some(RSA_SHA256) {
        return Err(structure(format!(
            "SignedInfo/SignatureMethod must be {RSA_SHA256}"
        )));
    }
    Ok((signed_info, inclusive_prefixes(Some(c14n_method))?))
}

/// Every reference's digest holds, and the Body and the timestamp are among them (and
/// nothing else: at most [`MAX_REFERENCES`], counted before any digest is computed). The
/// Body's canonical form.
fn check_references(
    doc: &Document,
    source: &str,
    signed_info: Node,
    body: Node,
    timestamp: Node,
) -> Result<String, VerifyError> {
    let references: Vec<Node> = children(signed_info, DS_NS, "Reference");
    if references.is_empty() {
        return Err(structure("SignedInfo has no Reference"));
    }
    if references.len() > MAX_REFERENCES {
        return Err(structure(format!(
            "SignedInfo has {} References; the profile signs the Body and the Timestamp only",
            references.len()
        )));
    }
    let (mut body_canonical, mut timestamp_signed) = (None, false);
    for reference in references {
        let (target, canonical) = check_reference(doc, source, reference)?;
        if target == body {
            body_canonical = Some(canonical);
        }
        timestamp_signed |= target == timestamp;
    }
    let Some(body_canonical) = body_canonical else {
        return Err(structure(
            "the envelope's Body is not among the signed references",
        ));
    };
    if !timestamp_signed {
        return Err(refuse(
            VerifyFailure::Timestamp,
            "the wsu:Timestamp is not among the signed references",
        ));
    }
    Ok(body_canonical)
}

/// One reference: a same-document `#Id`, exclusive c14n transforms only, a SHA-256 digest
/// that matches. The element it names, and its canonical form.
fn check_reference<'a, 'input>(
    doc: &'a Document<'input>,
    source: &str,
    reference: Node,
) -> Result<(Node<'a, 'input>, String), VerifyError> {
    let uri = reference.attribute("URI").unwrap_or_default();
    let id = uri.strip_prefix('#').ok_or_else(|| {
        structure(format!(
            "Reference URI {uri:?}: only same-document #Id references are accepted"
        ))
    })?;
    let target = by_id(doc, id).map_err(structure)?;
    let mut transform_inclusive = Vec::new();
    if let Ok(transforms) = first_child(reference, DS_NS, "Transforms") {
        let transforms = children(transforms, DS_NS, "Transform");
        if transforms.len() > MAX_TRANSFORMS {
            return Err(structure(format!(
                "Reference #{id}: more than {MAX_TRANSFORMS} transforms"
            )));
        }
        for t in transforms {
            if t.attribute("Algorithm") != Some(EXC_C14N) {
                return Err(structure(format!(
                    "Reference #{id}: unsupported transform {:?}",
                    t.attribute("Algorithm").unwrap_or_default()
                )));
            }
            transform_inclusive = inclusive_prefixes(Some(t))?;
        }
    }
    if first_child(reference, DS_NS, "DigestMethod")
        .map_err(structure)?
        .attribute("Algorithm")
        != Some(SHA256)
    {
        return Err(structure(format!(
            "Reference #{id}: DigestMethod must be {SHA256}"
        )));
    }
    let expected = first_child(reference, DS_NS, "DigestValue")
        .map_err(structure)?
        .text()
        .unwrap_or_default();
    let canonical = c14n::node(source, target, &transform_inclusive)
        .map_err(|e| structure(format!("Reference #{id}: {e}")))?;
    if digest(canonical.as_bytes()) != expected.trim() {
        return Err(refuse(
            VerifyFailure::Digest,
            format!(
                "Reference #{id} ({}): digest does not match, the content was changed after signing",
                target.tag_name().name()
            ),
        ));
    }
    Ok((target, canonical))
}

/// The signer's certificate (trusted on `now`), then the signature value over `SignedInfo`
/// (canonical with its inclusive prefixes). The signer's name.
fn check_signature_value(
    doc: &Document,
    source: &str,
    signature: Node,
    (signed_info, inclusive): (Node, &[String]),
    trust: &TrustStore,
    now: DateTime<Utc>,
) -> Result<SignerId, VerifyError> {
    let cert = key_info_certificate(doc, signature)?;
    let signer = trust
        .check(&cert, now)
        .map_err(|e| refuse(VerifyFailure::Certificate, e))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert).map_err(|_| {
        refuse(
            VerifyFailure::Certificate,
            "the signer's certificate is not DER X.509",
        )
    })?;
    let canonical = c14n::node(source, signed_info, inclusive)
        .map_err(|e| structure(format!("SignedInfo: {e}")))?;
    let value = first_child(signature, DS_NS, "SignatureValue")
        .map_err(structure)?
        .text()
        .unwrap_or_default();
    let value = decode_b64(value).map_err(|_| structure("SignatureValue is not base64"))?;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        parsed.public_key().subject_public_key.data.as_ref(),
    )
    .verify(canonical.as_bytes(), &value)
    .map_err(|_| {
        refuse(
            VerifyFailure::Signature,
            "SignatureValue does not verify with the signer's certificate",
        )
    })?;
    Ok(signer)
}

/// The signed timestamp's `Created` and `Expires`, checked by [`check_times`].
fn check_timestamp(
    timestamp: Node,
    now: DateTime<Utc>,
    options: &VerifyOptions,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), VerifyError> {
    let read = |name: &str| -> Result<DateTime<Utc>, VerifyError> {
        let text = first_child(timestamp, WSU_NS, name)
            .map_err(|e| refuse(VerifyFailure::Timestamp, e))?
            .text()
            .unwrap_or_default();
        DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                refuse(
                    VerifyFailure::Timestamp,
                    format!("wsu:Timestamp/wsu:{name} is not an xsd:dateTime"),
                )
            })
    };
    let created = read("Created")?;
    let expires = match first_child(timestamp, WSU_NS, "Expires") {
        Ok(_) => Some(read("Expires")?),
        Err(_) => None,
    };
    check_times(created, expires, now, options)?;
    Ok((created, expires))
}

/// A signature's time against `now` and the request: `Created` not in the future, not older
/// than `max_age`, not before the request was sent (`sent_at`); `Expires` (when given) not
/// passed; each within `max_skew`. For timestamps verified elsewhere too (an external GOST
/// verifier reports them).
pub fn check_times(
    created: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    options: &VerifyOptions,
) -> Result<(), VerifyError> {
    let skew = chrono::Duration::from_std(options.max_skew).unwrap_or_default();
    let max_age = chrono::Duration::from_std(options.max_age).unwrap_or_default();
    if created > now + skew {
        return Err(refuse(
            VerifyFailure::Timestamp,
            format!(
                "wsu:Timestamp/wsu:Created {created} is in the future (now {now}, skew {:?})",
                options.max_skew
            ),
        ));
    }
    if let Some(expires) = expires.filter(|e| *e < now - skew) {
        return Err(refuse(
            VerifyFailure::Timestamp,
            format!("wsu:Timestamp/wsu:Expires {expires} has passed (now {now})"),
        ));
    }
    if let Some(sent) = options.sent_at.filter(|sent| created < *sent - skew) {
        return Err(refuse(
            VerifyFailure::Timestamp,
            format!(
                "wsu:Timestamp/wsu:Created {created} predates the request (sent {sent}, skew {:?}): not an answer to it",
                options.max_skew
            ),
        ));
    }
    if created < now - skew - max_age {
        return Err(refuse(
            VerifyFailure::Timestamp,
            format!(
                "wsu:Timestamp/wsu:Created {created} is older than {:?}",
                options.max_age
            ),
        ));
    }
    Ok(())
}

/// The certificate named by `ds:KeyInfo`: a `wsse:SecurityTokenReference` to a
/// `wsse:BinarySecurityToken`, or an inline `ds:X509Data/ds:X509Certificate`.
fn key_info_certificate(doc: &Document, signature: Node) -> Result<Vec<u8>, VerifyError> {
    let structure = |d: &str| refuse(VerifyFailure::Structure, format!("ds:KeyInfo: {d}"));
    let key_info = first_child(signature, DS_NS, "KeyInfo").map_err(|e| structure(&e))?;
    if let Ok(str_) = first_child(key_info, WSSE_NS, "SecurityTokenReference") {
        let reference = first_child(str_, WSSE_NS, "Reference").map_err(|e| structure(&e))?;
        let uri = reference.attribute("URI").unwrap_or_default();
        let id = uri
            .strip_prefix('#')
            .ok_or_else(|| structure("the token reference must be a #Id"))?;
        let token = by_id(doc, id).map_err(|e| structure(&e))?;
        if !token.has_tag_name((WSSE_NS, "BinarySecurityToken"))
            || token.attribute("ValueType") != Some(X509V3)
        {
            return Err(structure(
                "the reference is not an X509v3 BinarySecurityToken",
            ));
        }
        if token
            .parent_element()
            .is_none_or(|p| !p.has_tag_name((WSSE_NS, "Security")))
        {
            return Err(structure("the token is not in the wsse:Security header"));
        }
        return decode_b64(token.text().unwrap_or_default())
            .map_err(|_| structure("the BinarySecurityToken is not base64"));
    }
    if let Ok(data) = first_child(key_info, DS_NS, "X509Data") {
        let cert = first_child(data, DS_NS, "X509Certificate").map_err(|e| structure(&e))?;
        return decode_b64(cert.text().unwrap_or_default())
            .map_err(|_| structure("X509Certificate is not base64"));
    }
    Err(structure(
        "neither a wsse:SecurityTokenReference nor ds:X509Data/ds:X509Certificate",
    ))
}

/// The `InclusiveNamespaces PrefixList` of a c14n method or transform: at most
/// [`MAX_INCLUSIVE_PREFIXES`] (each costs a look-up per element canonicalized).
fn inclusive_prefixes(node: Option<Node>) -> Result<Vec<String>, VerifyError> {
    let list = node
        .and_then(|n| {
            n.children()
                .find(|c| c.has_tag_name((EXC_C14N, "InclusiveNamespaces")))
        })
        .and_then(|n| n.attribute("PrefixList"))
        .unwrap_or_default();
    let prefixes: Vec<String> = list
        .split_whitespace()
        .take(MAX_INCLUSIVE_PREFIXES + 1)
        .map(str::to_owned)
        .collect();
    if prefixes.len() > MAX_INCLUSIVE_PREFIXES {
        return Err(structure(format!(
            "InclusiveNamespaces PrefixList: more than {MAX_INCLUSIVE_PREFIXES} prefixes"
        )));
    }
    Ok(prefixes)
}

fn decode_b64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(compact)
}

fn digest(bytes: &[u8]) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// `wsu:Id`, `Id` and `ID` attributes (xmlsec1 and WS-Security tools use all three).
fn is_id(name: &str) -> bool {
    matches!(name, "Id" | "ID")
}

fn by_id<'a, 'i>(doc: &'a Document<'i>, id: &str) -> Result<Node<'a, 'i>, String> {
    let mut found = doc
        .descendants()
        .filter(|n| n.attributes().any(|a| is_id(a.name()) && a.value() == id));
    let node = found
        .next()
        .ok_or_else(|| format!("no element has Id {id:?}"))?;
    if found.next().is_some() {
        return Err(format!("Id {id:?} appears more than once"));
    }
    Ok(node)
}

fn children<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Vec<Node<'a, 'i>> {
    node.children()
        .filter(|c| c.has_tag_name((ns, name)))
        .collect()
}

fn first_child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Result<Node<'a, 'i>, String> {
    node.children()
        .find(|c| c.has_tag_name((ns, name)))
        .ok_or_else(|| format!("{}: no {name}", node.tag_name().name()))
}

fn single_child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Result<Node<'a, 'i>, String> {
    match children(node, ns, name).as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("{}: no {name}", node.tag_name().name())),
        _ => Err(format!("{}: more than one {name}", node.tag_name().name())),
    }
}

/// Length of `prefix:` in the element's start tag name (0 without a prefix).
fn prefix_len(source: &str, node: Node) -> usize {
    let start = node.range().start + 1;
    let name = node.tag_name().name();
    match source[start..].find(name) {
        Some(i) if i > 0 && source.as_bytes()[start + i - 1] == b':' => i,
        _ => 0,
    }
}

/// Byte offset just past the `>` of the start tag at `start` (quotes skipped).
fn start_tag_end(source: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (i, b) in source.as_bytes()[start..].iter().enumerate() {
        match (quote, *b) {
            (None, b'"' | b'\'') => quote = Some(*b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => return Some(start + i + 1),
            _ => {}
        }
    }
    None
}
