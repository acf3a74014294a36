//! A registry's answer is untrusted input: what is read of it, and what is kept, is bounded
//! before anything is parsed into a tree ([`AnswerLimits`], `[shep.limits]`).
//!
//! - The body is read up to `max_answer_bytes` (`Content-Length` checked first, then while
//!   streaming a chunked body); past it the body is abandoned, the connection dropped, and the
//!   call fails as a malformed answer (permanent: not retried).
//! - A streaming pass ([`scan`]) over an accepted body, before the tree is built, refuses a
//!   DTD (entity bombs), nesting deeper than `max_depth`, more than `max_children` child
//!   elements under one element (acts, guardianships, enrolments, studies: records per list),
//!   more than `max_elements` in all, a text or attribute value longer than
//!   `max_text_bytes`, more than `max_attributes` attributes on one element, more than
//!   `max_namespaces` namespace declarations in scope, and any processing instruction. Past any
//!   limit the answer is malformed: never cut short into a wrong decision.
//!
//! The scan is linear in the answer's size (attributes are counted, not compared with each
//! other), and what it lets through keeps the parse tree and the canonicalization linear too:
//! the work per element is bounded by the attribute and namespace limits.
//!
//! Worst case held in memory at once: one body of at most `max_answer_bytes` per call in
//! flight, so `max_answer_bytes × max_concurrent × 5 registries` (1 MiB × 64 × 5 = 320 MiB
//! with the defaults), plus one parse tree of at most `max_elements` per worker thread (a
//! parse does not wait, so no more trees than threads exist at once).

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::{Deserialize, Serialize};

use crate::validate::{Invalid, Validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerLimits {
    /// Largest answer read from a registry, in bytes (the body of the HTTP response).
    pub max_answer_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most child elements of one element (records in one list).
    pub max_children: usize,
    /// Most elements in the whole answer (bounds the parse tree).
    pub max_elements: usize,
    /// Longest text or attribute value, in bytes.
    pub max_text_bytes: usize,
    /// Most attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
    /// Most namespace declarations in scope at once.
    pub max_namespaces: usize,
}

impl Default for AnswerLimits {
    fn default() -> AnswerLimits {
        AnswerLimits {
            max_answer_bytes: 1024 * 1024,
            max_depth: 32,
            max_children: 1000,
            max_elements: 20_000,
            max_text_bytes: 16 * 1024,
            max_attributes: 32,
            max_namespaces: 32,
        }
    }
}

impl Validate for AnswerLimits {
    fn validate(&self) -> Result<(), Invalid> {
        for (field, value, least) in [
            ("max_answer_bytes", self.max_answer_bytes, 4096),
            ("max_depth", self.max_depth, 8),
            ("max_children", self.max_children, 10),
            ("max_elements", self.max_elements, 100),
            ("max_text_bytes", self.max_text_bytes, 256),
            ("max_attributes", self.max_attributes, 8),
            ("max_namespaces", self.max_namespaces, 8),
        ] {
            if value < least {
                return Err(Invalid::new(field, format!("must be at least {least}")));
            }
        }
        for (field, value, most) in [
            (
                "max_attributes",
                self.max_attributes,
                shep_wss::c14n::MAX_ATTRIBUTES,
            ),
            (
                "max_namespaces",
                self.max_namespaces,
                shep_wss::c14n::MAX_NAMESPACES,
            ),
        ] {
            if value > most {
                return Err(Invalid::new(
                    field,
                    format!("must be at most {most} (the canonicalizer's own bound)"),
                ));
            }
        }
        Ok(())
    }
}

impl AnswerLimits {
    /// Checks `body` against the limits in one streaming pass; the error says which limit.
    pub fn scan(&self, body: &str) -> Result<(), String> {
        if body.len() > self.max_answer_bytes {
            return Err(format!(
                "answer over the limit of {} bytes",
                self.max_answer_bytes
            ));
        }
        let mut reader = Reader::from_str(body);
        let mut scan = Scan::default();
        loop {
            let event = reader.read_event().map_err(|e| format!("not XML ({e})"))?;
            match event {
                Event::Start(e) => {
                    self.element(&mut scan, &e)?;
                    scan.open.push((0, scan.declared));
                    if scan.open.len() > self.max_depth {
                        return Err(format!("elements nested deeper than {}", self.max_depth));
                    }
                }
                Event::Empty(e) => {
                    self.element(&mut scan, &e)?;
                    scan.declared = scan.open.last().map_or(0, |o| o.1);
                }
                Event::End(_) => {
                    scan.open.pop();
                    scan.declared = scan.open.last().map_or(0, |o| o.1);
                }
                Event::Text(t) => self.text(t.len())?,
                Event::CData(t) => self.text(t.len())?,
                Event::DocType(_) => return Err("XML with a DTD".into()),
                Event::PI(_) => return Err("a processing instruction".into()),
                Event::Eof => return Ok(()),
                _ => {}
            }
        }
    }

    /// One element's start: counted, its attributes counted and measured (never compared
    /// with each other: that is quadratic), its namespace declarations added to those in scope.
    fn element(&self, scan: &mut Scan, e: &quick_xml::events::BytesStart) -> Result<(), String> {
        scan.elements += 1;
        if scan.elements > self.max_elements {
            return Err(format!("more than {} elements", self.max_elements));
        }
        if let Some((children, _)) = scan.open.last_mut() {
            *children += 1;
            if *children > self.max_children {
                return Err(format!(
                    "more than {} elements in one list",
                    self.max_children
                ));
            }
        }
        for (i, attribute) in e.attributes().with_checks(false).enumerate() {
            if i == self.max_attributes {
                return Err(format!(
                    "more than {} attributes on one element",
                    self.max_attributes
                ));
            }
            let attribute = attribute.map_err(|e| format!("not XML ({e})"))?;
            self.text(attribute.value.len())?;
            let key = attribute.key.as_ref();
            if key == b"xmlns" || key.starts_with(b"xmlns:") {
                scan.declared += 1;
                if scan.declared > self.max_namespaces {
                    return Err(format!(
                        "more than {} namespace declarations in scope",
                        self.max_namespaces
                    ));
                }
            }
        }
        Ok(())
    }

    fn text(&self, len: usize) -> Result<(), String> {
        if len > self.max_text_bytes {
            Err(format!(
                "a text value over the limit of {} bytes",
                self.max_text_bytes
            ))
        } else {
            Ok(())
        }
    }
}

/// Where a scan is: per open element its children so far and the declarations in scope
/// inside it; the declarations in scope at the current element.
#[derive(Default)]
struct Scan {
    open: Vec<(usize, usize)>,
    elements: usize,
    declared: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        "<a>".repeat(depth) + &"</a>".repeat(depth)
    }

    #[test]
    fn each_limit_is_enforced_and_named() {
        let l = AnswerLimits::default();
        assert!(l.scan("<r><a x=\"1\">text</a><b/></r>").is_ok());
        assert!(l.scan(&nested(32)).is_ok());
        assert!(l.scan(&nested(33)).unwrap_err().contains("deeper than 32"));
        let list = |n| format!("<r>{}</r>", "<act/>".repeat(n));
        assert!(l.scan(&list(1000)).is_ok());
        assert!(l.scan(&list(1001)).unwrap_err().contains("more than 1000"));
        let lists = |n| {
            format!(
                "<r>{}</r>",
                format!("<l>{}</l>", "<a/>".repeat(998)).repeat(n)
            )
        };
        assert!(l.scan(&lists(20)).is_ok());
        assert!(l
            .scan(&lists(21))
            .unwrap_err()
            .contains("more than 20000 elements"));
        let name = |n| format!("<r><name>{}</name></r>", "Ж".repeat(n));
        assert!(l.scan(&name(8 * 1024)).is_ok());
        assert!(l
            .scan(&name(8 * 1024 + 1))
            .unwrap_err()
            .contains("text value"));
        let attr = format!("<r a=\"{}\"/>", "x".repeat(16 * 1024 + 1));
        assert!(l.scan(&attr).unwrap_err().contains("text value"));
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><r>&lol;</r>";
        assert!(l.scan(bomb).unwrap_err().contains("DTD"));
        let big = "x".repeat(l.max_answer_bytes + 1);
        assert!(l.scan(&big).unwrap_err().contains("bytes"));
        let attrs = |n: usize| {
            format!(
                "<r{}/>",
                (0..n).map(|i| format!(" a{i}=\"\"")).collect::<String>()
            )
        };
        assert!(l.scan(&attrs(32)).is_ok());
        assert!(l
            .scan(&attrs(33))
            .unwrap_err()
            .contains("more than 32 attributes"));
        // Declarations count where they are in scope: siblings do not add up, nesting does.
        let ns = |i: usize| format!(" xmlns:p{i}=\"urn:{i}\"");
        let siblings = format!(
            "<r>{}</r>",
            (0..40)
                .map(|i| format!("<e{}/>", ns(i)))
                .collect::<String>()
        );
        assert!(l.scan(&siblings).is_ok());
        let nested = format!(
            "<a{}><b{}/></a>",
            (0..20).map(ns).collect::<String>(),
            (20..33).map(ns).collect::<String>()
        );
        assert!(l
            .scan(&nested)
            .unwrap_err()
            .contains("namespace declarations"));
        assert!(l
            .scan("<r><?pi x?></r>")
            .unwrap_err()
            .contains("processing instruction"));
        assert!(l.scan("<?xml version=\"1.0\"?><r/>").is_ok());
    }

    #[test]
    fn many_attributes_are_refused_at_the_limit() {
        // 80,000 attributes on one element (under 1 MB): refused at the 33rd.
        let l = AnswerLimits::default();
        let many = format!(
            "<r{}/>",
            (0..80_000)
                .map(|i| format!(" a{i}=\"\""))
                .collect::<String>()
        );
        assert!(many.len() < l.max_answer_bytes);
        assert!(l
            .scan(&many)
            .unwrap_err()
            .contains("more than 32 attributes"));
    }

    #[test]
    fn configuration_floor() {
        let l = AnswerLimits {
            max_depth: 2,
            ..AnswerLimits::default()
        };
        assert_eq!(l.validate().unwrap_err().key, "max_depth");
    }
}
