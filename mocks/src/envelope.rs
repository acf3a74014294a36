//! The SHEP sync-channel SOAP 1.1 envelope: parsing `SendMessage` requests and writing
//! `SendMessageResponse` answers and SOAP faults. Elements are matched by local name only.

use roxmltree::{Document, Node};

/// SOAP 1.1 envelope namespace.
pub use registry_vocab::shep::SOAP_NS;
/// Namespace of `SendMessage` / `SendMessageResponse` / the fault detail.
pub use registry_vocab::shep::TYPES_NS;

/// A small XML writer: elements in, escaped text, nothing else.
#[derive(Default)]
pub(crate) struct Xml(String);

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    /// `<tag>text</tag>`, text escaped.
    pub fn leaf(&mut self, tag: &str, text: impl AsRef<str>) -> &mut Self {
        self.open(tag);
        self.0.push_str(&quick_xml::escape::escape(text.as_ref()));
        self.close(tag)
    }

    /// Like [`Xml::leaf`], but omitted when `None` or empty.
    pub fn opt<S: AsRef<str>>(&mut self, tag: &str, text: Option<S>) -> &mut Self {
        match text {
            Some(t) if !t.as_ref().is_empty() => self.leaf(tag, t),
            _ => self,
        }
    }

    /// Trusted markup, written as is.
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    pub fn finish(self) -> String {
        self.0
    }
}

/// What the mock needs from a `SendMessage` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub message_id: String,
    pub service_id: String,
    pub session_id: Option<String>,
    /// `<iin>` of the payload, trimmed; `None` when the payload has none.
    pub iin: Option<String>,
    /// `<kdpToken>` of the payload (GBD FL's consent token), trimmed; `None` when absent.
    pub kdp_token: Option<String>,
}

/// The body is not a `SendMessage` envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EnvelopeError {
    #[error("body is not well-formed XML: {0}")]
    NotXml(String),
    #[error("no Envelope/Body/SendMessage/request element")]
    NotSendMessage,
    #[error("requestInfo has no {0}")]
    Missing(&'static str),
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn text_of(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The `iin` inside the payload: either child elements of `data`, or the same markup sent as
/// escaped text / CDATA.
fn payload_iin(data: Node<'_, '_>) -> Option<String> {
    if let Some(iin) = data
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "iin")
    {
        return iin.text().map(|t| t.trim().to_owned());
    }
    let text: String = data
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    let wrapped = format!("<payload>{}</payload>", text.trim());
    let doc = Document::parse(&wrapped).ok()?;
    let found = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "iin")
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned());
    found
}

/// Parses a `SendMessage` request envelope.
pub(crate) fn parse_request(body: &str) -> Result<Request, EnvelopeError> {
    // The body is at most axum's default 2 MB; the tree at most 10,000 nodes, no DTD.
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 10_000,
    };
    let doc = Document::parse_with_options(body, options)
        .map_err(|e| EnvelopeError::NotXml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Envelope" {
        return Err(EnvelopeError::NotSendMessage);
    }
    let request = child(root, "Body")
        .and_then(|b| child(b, "SendMessage"))
        .and_then(|m| child(m, "request"))
        .ok_or(EnvelopeError::NotSendMessage)?;
    let info = child(request, "requestInfo").ok_or(EnvelopeError::Missing("requestInfo"))?;
    let message_id = text_of(info, "messageId").ok_or(EnvelopeError::Missing("messageId"))?;
    let service_id = text_of(info, "serviceId").ok_or(EnvelopeError::Missing("serviceId"))?;
    let session_id = text_of(info, "sessionId");
    let data = child(request, "requestData").and_then(|d| child(d, "data"));
    let iin = data.and_then(payload_iin);
    let kdp_token = data.and_then(|d| text_of(d, "kdpToken"));
    Ok(Request {
        message_id,
        service_id,
        session_id,
        iin,
        kdp_token,
    })
}

/// `responseInfo` of an answer.
pub(crate) struct ResponseInfo<'a> {
    pub message_id: &'a str,
    pub correlation_id: Option<&'a str>,
    pub response_date: &'a str,
    pub status_code: &'a str,
    pub status_message: &'a str,
    pub session_id: Option<&'a str>,
}

/// A `SendMessageResponse` envelope. `data` is payload markup written inside `<data>`; `None`
/// leaves `<data>` empty.
pub(crate) fn response(info: &ResponseInfo<'_>, data: Option<&str>) -> String {
    let mut x = Xml::new();
    x.raw(&format!(
        r#"<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><ns2:SendMessageResponse xmlns:ns2="{TYPES_NS}">"#
    ));
    x.open("response").open("responseInfo");
    x.leaf("messageId", info.message_id);
    x.opt("correlationId", info.correlation_id);
    x.leaf("responseDate", info.response_date);
    x.open("status")
        .leaf("code", info.status_code)
        .leaf("message", info.status_message)
        .close("status");
    x.opt("sessionId", info.session_id);
    x.close("responseInfo");
    x.open("responseData").open("data");
    if let Some(data) = data {
        x.raw(data);
    }
    x.close("data").close("responseData").close("response");
    x.raw("</ns2:SendMessageResponse></soap:Body></soap:Envelope>");
    x.finish()
}

/// A SOAP fault (sent with HTTP 500). `faultcode` is `soap:Server` or `soap:Client`.
pub(crate) fn fault(faultcode: &str, faultstring: &str, code: &str, message: &str) -> String {
    let mut x = Xml::new();
    x.raw(&format!(
        r#"<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><soap:Fault>"#
    ));
    x.leaf("faultcode", faultcode);
    x.leaf("faultstring", faultstring);
    x.open("detail");
    x.raw(&format!(
        r#"<ns2:SendMessageSendMessageFaultMsg xmlns:ns2="{TYPES_NS}">"#
    ));
    x.leaf("code", code).leaf("message", message);
    x.raw(
        "</ns2:SendMessageSendMessageFaultMsg></detail></soap:Fault></soap:Body></soap:Envelope>",
    );
    x.finish()
}

/// The first half of `xml`, cut on a character boundary: never a well-formed document.
pub(crate) fn truncate(xml: &str) -> &str {
    let mut cut = xml.len() / 2;
    while !xml.is_char_boundary(cut) {
        cut -= 1;
    }
    &xml[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
  <S:Body>
    <t:SendMessage xmlns:t="http://bip.bee.kz/SyncChannel/v10/Types">
      <request>
        <requestInfo>
          <messageId>5b0c-1</messageId>
          <correlationId>c-1</correlationId>
          <serviceId>GBDFL_PERSON</serviceId>
          <messageDate>2026-11-25T18:40:00.000+05:00</messageDate>
          <sender><senderId>gw</senderId><password>p</password></sender>
          <properties><key>traceparent</key><value>00-ab-cd-01</value></properties>
          <sessionId>s-9</sessionId>
        </requestInfo>
        <requestData><data><iin> 061211600012 </iin><kdpToken>t</kdpToken></data></requestData>
      </request>
    </t:SendMessage>
  </S:Body>
</S:Envelope>"#;

    #[test]
    fn parses_by_local_name() {
        let r = parse_request(REQUEST).expect("parses");
        assert_eq!(r.message_id, "5b0c-1");
        assert_eq!(r.service_id, "GBDFL_PERSON");
        assert_eq!(r.session_id.as_deref(), Some("s-9"));
        assert_eq!(r.iin.as_deref(), Some("061211600012"));
    }

    #[test]
    fn payload_may_be_escaped_text() {
        let escaped = REQUEST.replace(
            "<data><iin> 061211600012 </iin><kdpToken>t</kdpToken></data>",
            "<data>&lt;iin&gt;061211600012&lt;/iin&gt;</data>",
        );
        assert_eq!(
            parse_request(&escaped).expect("parses").iin.as_deref(),
            Some("061211600012")
        );
        let cdata = REQUEST.replace(
            "<data><iin> 061211600012 </iin><kdpToken>t</kdpToken></data>",
            "<data><![CDATA[<iin>061211600012</iin>]]></data>",
        );
        assert_eq!(
            parse_request(&cdata).expect("parses").iin.as_deref(),
            Some("061211600012")
        );
        let none = REQUEST.replace("<iin> 061211600012 </iin>", "");
        assert_eq!(parse_request(&none).expect("parses").iin, None);
    }

    #[test]
    fn rejects_what_is_not_send_message() {
        assert!(matches!(
            parse_request("nope"),
            Err(EnvelopeError::NotXml(_))
        ));
        assert_eq!(
            parse_request("<Envelope><Body/></Envelope>"),
            Err(EnvelopeError::NotSendMessage)
        );
        assert_eq!(
            parse_request(&REQUEST.replace("<messageId>5b0c-1</messageId>", "")),
            Err(EnvelopeError::Missing("messageId"))
        );
    }

    #[test]
    fn response_escapes_and_parses() {
        let info = ResponseInfo {
            message_id: "m<1>",
            correlation_id: Some("5b0c&1"),
            response_date: "2026-11-25T18:40:00.012+05:00",
            status_code: "SCSS001",
            status_message: "ok \"quoted\"",
            session_id: None,
        };
        let xml = response(&info, Some("<person><iin>1</iin></person>"));
        let doc = Document::parse(&xml).expect("well-formed");
        let find = |name: &str| {
            doc.descendants()
                .find(|n| n.tag_name().name() == name)
                .and_then(|n| n.text())
                .map(str::to_owned)
        };
        assert_eq!(find("messageId").as_deref(), Some("m<1>"));
        assert_eq!(find("correlationId").as_deref(), Some("5b0c&1"));
        assert_eq!(find("message").as_deref(), Some("ok \"quoted\""));
        assert_eq!(find("iin").as_deref(), Some("1"));
        assert!(!xml.contains("sessionId"));
        let body = doc
            .descendants()
            .find(|n| n.tag_name().name() == "SendMessageResponse");
        assert_eq!(body.and_then(|n| n.tag_name().namespace()), Some(TYPES_NS));
    }

    #[test]
    fn fault_is_well_formed_and_truncation_is_not() {
        let xml = fault("soap:Server", "a & b", "SHEP_FAULT", "x < y");
        let doc = Document::parse(&xml).expect("well-formed");
        let fault = doc.descendants().find(|n| n.tag_name().name() == "Fault");
        assert_eq!(fault.and_then(|n| n.tag_name().namespace()), Some(SOAP_NS));
        assert!(Document::parse(truncate(&xml)).is_err());
        assert!(Document::parse(truncate("<a>ЖЖЖЖЖЖ</a>")).is_err());
    }
}
