//! Exclusive XML canonicalization 1.0 without comments (`http://www.w3.org/2001/10/xml-exc-c14n#`)
//! of one element and its descendants, as XML-DSig references and `SignedInfo` need it.
//!
//! No crate on crates.io does exclusive c14n of a subtree in pure Rust (checked: `xml_c14n`
//! binds libxml2, `xml-canonicalization` does inclusive c14n of whole documents, `bergshamra`
//! is a whole XML-security suite with PKCS#11 and post-quantum providers), so this is a small
//! canonicalizer over `quick-xml` events. It is held to the standard by the interop tests
//! against `xmlsec1` (`tests/xmlsec1.rs`): what it signs, xmlsec1 verifies, and what xmlsec1
//! signs, it verifies.
//!
//! What it implements (W3C exc-c14n §3 and C14N 1.0 §2): no XML declaration or DTD (a DOCTYPE
//! is refused, as are entity references other than the five predefined ones and character
//! references); empty elements as start/end pairs; namespace declarations only where visibly
//! used (the element's prefix, its attributes' prefixes, and the `InclusiveNamespaces`
//! prefix list) and not already rendered with the same value by an output ancestor, sorted by
//! prefix with the default first; attributes sorted by namespace URI, then local name;
//! attribute values normalized (literal tab, newline, carriage return become spaces) and text
//! line ends normalized (CRLF and CR become LF), then both escaped as C14N prescribes;
//! comments dropped; processing instructions kept.
//!
//! Cost is linear in the input: an element may carry at most [`MAX_ATTRIBUTES`] attributes and
//! have at most [`MAX_NAMESPACES`] namespace declarations in scope, and the inclusive prefix
//! list is bounded by its caller, so the work per element is bounded whatever the input.

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// The namespace of the `xml:` prefix, never declared.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Most attributes (namespace declarations included) on one element.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most namespace declarations in scope at once (on an element and its ancestors).
pub const MAX_NAMESPACES: usize = 64;

/// Why a subtree could not be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("canonicalization: {0}")]
pub struct C14nError(pub String);

fn err(text: impl Into<String>) -> C14nError {
    C14nError(text.into())
}

/// Canonical form of the element that spans `range` in `source`.
///
/// `in_scope` holds the namespace bindings in scope at the element's parent (prefix `""` is
/// the default namespace); `inclusive` the `InclusiveNamespaces PrefixList` (`#default` for
/// the default namespace).
pub fn exclusive(
    source: &str,
    range: Range<usize>,
    in_scope: &[(String, String)],
    inclusive: &[String],
) -> Result<String, C14nError> {
    let text = source
        .get(range)
        .ok_or_else(|| err("element range outside the document"))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let inclusive: Vec<&str> = inclusive
        .iter()
        .map(|p| if p == "#default" { "" } else { p.as_str() })
        .collect();
    let mut c14n = Canonical {
        out: String::with_capacity(text.len() + 64),
        scopes: vec![in_scope.to_vec()],
        declared: in_scope.len(),
        rendered: Vec::new(),
        names: Vec::new(),
        inclusive: &inclusive,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(format!("not well-formed XML ({e})")))?;
        if matches!(event, Event::Eof) {
            break;
        }
        c14n.write(event)?;
        if c14n.names.is_empty() && !c14n.out.is_empty() {
            break;
        }
    }
    if !c14n.names.is_empty() {
        return Err(err("element not closed"));
    }
    Ok(c14n.out)
}

/// The canonical form being written, and what it depends on.
struct Canonical<'a> {
    out: String,
    /// Namespace bindings in scope, one frame per open element (and the parent's first).
    scopes: Vec<Vec<(String, String)>>,
    /// Declarations in `scopes`, in all.
    declared: usize,
    /// Namespace declarations output, one frame per open element.
    rendered: Vec<Vec<(String, String)>>,
    /// The open elements' names.
    names: Vec<String>,
    inclusive: &'a [&'a str],
}

impl Canonical<'_> {
    fn write(&mut self, event: Event) -> Result<(), C14nError> {
        let inside = !self.names.is_empty();
        match event {
            Event::Start(start) => {
                let name = self.start_tag(&start)?;
                self.names.push(name);
            }
            Event::Empty(start) => {
                let name = self.start_tag(&start)?;
                self.end_tag(&name);
            }
            Event::End(_) => {
                let name = self
                    .names
                    .pop()
                    .ok_or_else(|| err("end tag without a start tag"))?;
                self.end_tag(&name);
            }
            Event::Text(t) if inside => escape_text(&normalize_newlines(utf8(&t)?), &mut self.out),
            Event::CData(t) if inside => escape_text(&normalize_newlines(utf8(&t)?), &mut self.out),
            Event::GeneralRef(r) if inside => {
                let c = resolve_reference(utf8(&r)?)?;
                escape_text(c.encode_utf8(&mut [0; 4]), &mut self.out);
            }
            Event::PI(pi) if inside => {
                self.out.push_str("<?");
                self.out.push_str(utf8(pi.target())?);
                let content = utf8(pi.content())?.trim_start();
                if !content.is_empty() {
                    self.out.push(' ');
                    self.out.push_str(content);
                }
                self.out.push_str("?>");
            }
            Event::Decl(_) => return Err(err("XML declaration inside an element")),
            Event::DocType(_) => return Err(err("a DOCTYPE is not allowed")),
            Event::Text(_)
            | Event::CData(_)
            | Event::GeneralRef(_)
            | Event::PI(_)
            | Event::Comment(_)
            | Event::Eof => {}
        }
        Ok(())
    }

    fn start_tag(&mut self, start: &BytesStart) -> Result<String, C14nError> {
        let scopes_before = self.scopes.len();
        let name = start_element(
            start,
            &mut self.scopes,
            &mut self.rendered,
            self.inclusive,
            &mut self.out,
        )?;
        if self.scopes.len() > scopes_before {
            self.declared += self.scopes.last().map_or(0, Vec::len);
        }
        if self.declared > MAX_NAMESPACES {
            return Err(err(format!(
                "more than {MAX_NAMESPACES} namespace declarations in scope"
            )));
        }
        Ok(name)
    }

    fn end_tag(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self.declared -= self.scopes.pop().map_or(0, |s| s.len());
        self.rendered.pop();
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, C14nError> {
    std::str::from_utf8(bytes).map_err(|_| err("not UTF-8"))
}

fn lookup<'a>(frames: &'a [Vec<(String, String)>], prefix: &str) -> Option<&'a str> {
    frames
        .iter()
        .rev()
        .flat_map(|f| f.iter().rev())
        .find(|(p, _)| p == prefix)
        .map(|(_, u)| u.as_str())
}

fn prefix_of(qname: &str) -> (&str, &str) {
    match qname.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", qname),
    }
}

/// Writes the canonical start tag; pushes the element's scope and rendered namespaces.
fn start_element(
    start: &BytesStart,
    scopes: &mut Vec<Vec<(String, String)>>,
    rendered: &mut Vec<Vec<(String, String)>>,
    inclusive: &[&str],
    out: &mut String,
) -> Result<String, C14nError> {
    let name = utf8(start.name().as_ref())?.to_owned();
    let (declared, attrs) = split_attributes(start, &name)?;
    scopes.push(declared);
    let output_ns = visible_namespaces(&name, &attrs, scopes, rendered, inclusive)?;
    let sorted = sorted_attributes(&name, attrs, scopes)?;
    out.push('<');
    out.push_str(&name);
    for (p, uri) in &output_ns {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    for (key, value) in &sorted {
        out.push(' ');
        out.push_str(key);
        out.push_str("=\"");
        escape_attr(value, out);
        out.push('"');
    }
    out.push('>');
    rendered.push(output_ns);
    Ok(name)
}

/// Namespace declarations `(prefix, uri)` and the other attributes `(name, value)`.
type Split = (Vec<(String, String)>, Vec<(String, String)>);

fn split_attributes(start: &BytesStart, name: &str) -> Result<Split, C14nError> {
    let mut declared = Vec::new();
    let mut attrs = Vec::new();
    for (i, attr) in start.attributes().with_checks(true).enumerate() {
        if i == MAX_ATTRIBUTES {
            return Err(err(format!(
                "<{name}> has more than {MAX_ATTRIBUTES} attributes"
            )));
        }
        let attr = attr.map_err(|e| err(format!("bad attribute on <{name}> ({e})")))?;
        let key = utf8(attr.key.as_ref())?;
        let value = attribute_value(utf8(&attr.value)?)?;
        if key == "xmlns" {
            declared.push((String::new(), value));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            declared.push((p.to_owned(), value));
        } else {
            attrs.push((key.to_owned(), value));
        }
    }
    Ok((declared, attrs))
}

/// The declarations to output: the visibly used prefixes (the element's, its attributes', and
/// the inclusive ones in scope), sorted, each unless an output ancestor rendered the same.
fn visible_namespaces(
    name: &str,
    attrs: &[(String, String)],
    scopes: &[Vec<(String, String)>],
    rendered: &[Vec<(String, String)>],
    inclusive: &[&str],
) -> Result<Vec<(String, String)>, C14nError> {
    let mut used: Vec<&str> = vec![prefix_of(name).0];
    for (key, _) in attrs {
        let (p, _) = prefix_of(key);
        if !p.is_empty() {
            used.push(p);
        }
    }
    for p in inclusive {
        if lookup(scopes, p).is_some() {
            used.push(p);
        }
    }
    used.retain(|p| *p != "xml");
    used.sort_unstable();
    used.dedup();
    let mut output_ns = Vec::new();
    for p in used {
        let uri = lookup(scopes, p);
        let before = lookup(rendered, p);
        if p.is_empty() {
            let uri = uri.unwrap_or("");
            if before.unwrap_or("") != uri {
                output_ns.push((String::new(), uri.to_owned()));
            }
        } else {
            let uri =
                uri.ok_or_else(|| err(format!("prefix {p:?} on <{name}> is not declared")))?;
            if before != Some(uri) {
                output_ns.push((p.to_owned(), uri.to_owned()));
            }
        }
    }
    Ok(output_ns)
}

/// The attributes sorted by namespace URI, then local name: `(name, value)`.
fn sorted_attributes(
    name: &str,
    attrs: Vec<(String, String)>,
    scopes: &[Vec<(String, String)>],
) -> Result<Vec<(String, String)>, C14nError> {
    let mut sorted = Vec::with_capacity(attrs.len());
    for (key, value) in attrs {
        let (p, local) = prefix_of(&key);
        let uri = match p {
            "" => String::new(),
            "xml" => XML_NS.to_owned(),
            p => lookup(scopes, p)
                .ok_or_else(|| err(format!("prefix {p:?} on <{name}> is not declared")))?
                .to_owned(),
        };
        sorted.push((uri, local.to_owned(), key, value));
    }
    sorted.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(sorted
        .into_iter()
        .map(|(_, _, key, value)| (key, value))
        .collect())
}

/// An attribute's value as a parser reports it: references resolved, literal whitespace
/// characters normalized to spaces.
fn attribute_value(raw: &str) -> Result<String, C14nError> {
    let mut value = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\t', '\n', '\r']) {
        value.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        if c == b'&' {
            let end = rest[i..]
                .find(';')
                .ok_or_else(|| err("unterminated reference in an attribute value"))?;
            value.push(resolve_reference(&rest[i + 1..i + end])?);
            rest = &rest[i + end + 1..];
        } else {
            value.push(' ');
            rest = if rest[i..].starts_with("\r\n") {
                &rest[i + 2..]
            } else {
                &rest[i + 1..]
            };
        }
    }
    value.push_str(rest);
    Ok(value)
}

/// `amp`, `#x20`, `#32` ... to the character.
fn resolve_reference(name: &str) -> Result<char, C14nError> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok()
            } else {
                return Err(err(format!("entity reference &{name}; is not allowed")));
            };
            code.and_then(char::from_u32)
                .ok_or_else(|| err(format!("bad character reference &{name};")))?
        }
    };
    Ok(c)
}

fn normalize_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        text.into()
    }
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Namespace bindings in scope at `node` (its own declarations included), `xml` left out.
pub fn in_scope(node: roxmltree::Node) -> Vec<(String, String)> {
    node.namespaces()
        .filter(|ns| ns.name() != Some("xml"))
        .map(|ns| (ns.name().unwrap_or("").to_owned(), ns.uri().to_owned()))
        .collect()
}

/// Canonical form of a parsed element (`node` must belong to a document parsed from `source`).
pub fn node(
    source: &str,
    node: roxmltree::Node,
    inclusive: &[String],
) -> Result<String, C14nError> {
    let scope = node.parent_element().map(in_scope).unwrap_or_default();
    exclusive(source, node.range(), &scope, inclusive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n_first(doc: &str, local: &str) -> String {
        let parsed = roxmltree::Document::parse(doc).unwrap();
        let n = parsed
            .descendants()
            .find(|n| n.tag_name().name() == local)
            .unwrap();
        node(doc, n, &[]).unwrap()
    }

    #[test]
    fn only_visibly_used_namespaces_are_rendered() {
        let doc = r#"<a:Env xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c"><a:Body b:x="1" y='2' ><c:k/>t&amp;&lt;&#x41;&gt;</a:Body></a:Env>"#;
        assert_eq!(
            c14n_first(doc, "Body"),
            r#"<a:Body xmlns:a="urn:a" xmlns:b="urn:b" y="2" b:x="1"><c:k xmlns:c="urn:c"></c:k>t&amp;&lt;A&gt;</a:Body>"#
        );
    }

    #[test]
    fn default_namespace_and_redeclaration() {
        let doc = r#"<r xmlns="urn:d"><p:e xmlns:p="urn:p"><i/><p:j xmlns:p="urn:p"/><k xmlns=""/></p:e></r>"#;
        assert_eq!(
            c14n_first(doc, "e"),
            r#"<p:e xmlns:p="urn:p"><i xmlns="urn:d"></i><p:j></p:j><k></k></p:e>"#
        );
    }

    #[test]
    fn attribute_values_and_text_are_normalized_and_escaped() {
        let doc =
            "<r><e b=\"x\ty&#9;&quot;\" a='&lt;'>a\r\nb&#xD;<!-- no --><![CDATA[<&>]]></e></r>";
        assert_eq!(
            c14n_first(doc, "e"),
            "<e a=\"&lt;\" b=\"x y&#x9;&quot;\">a\nb&#xD;&lt;&amp;&gt;</e>"
        );
    }

    #[test]
    fn unknown_entities_and_undeclared_prefixes_are_refused() {
        assert!(exclusive("<e>&foo;</e>", 0..11, &[], &[]).is_err());
        assert!(exclusive("<p:e/>", 0..6, &[], &[]).is_err());
    }

    #[test]
    fn inclusive_prefixes_are_rendered_when_in_scope() {
        let doc = r#"<r xmlns:q="urn:q"><e/></r>"#;
        let parsed = roxmltree::Document::parse(doc).unwrap();
        let e = parsed.descendants().find(|n| n.has_tag_name("e")).unwrap();
        assert_eq!(
            node(doc, e, &["q".into()]).unwrap(),
            r#"<e xmlns:q="urn:q"></e>"#
        );
    }
}
