//! A registry's answer is untrusted input: what is read of it, and what is kept, is bounded
//! before anything is parsed into a tree ([`AnswerLimits`], `[shep.limits]`).
//!
//! - The body is read up to `max_answer_bytes` (`Content-Length` checked first, then while
//!   streaming a chunked body); past it the body is abandoned, the connection dropped, and the
//!   call fails as a malformed answer (permanent: not retried).
//! - A streaming pass ([`scan`]) over an accepted body, before the tree is built, refuses a
//!   DTD (entity bombs), nesting deeper than `max_depth`, more than `max_children` child
//!   elements under one element (acts, guardianships, enrolments, studies: records per list),
//!   more than `max_elements` in all, and a text or attribute value longer than
//!   `max_text_bytes`. Past any limit the answer is malformed: never cut short into a wrong
//!   decision.
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
}

impl Default for AnswerLimits {
    fn default() -> AnswerLimits {
        AnswerLimits {
            max_answer_bytes: 1024 * 1024,
            max_depth: 32,
            max_children: 1000,
            max_elements: 20_000,
            max_text_bytes: 16 * 1024,
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
        ] {
            if value < least {
                return Err(Invalid::new(field, format!("must be at least {least}")));
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
        // Children counted per open element.
        let mut open: Vec<usize> = Vec::new();
        let mut elements = 0usize;
        let text_limit = |len: usize| {
            if len > self.max_text_bytes {
                Err(format!(
                    "a text value over the limit of {} bytes",
                    self.max_text_bytes
                ))
            } else {
                Ok(())
            }
        };
        loop {
            let event = reader.read_event().map_err(|e| format!("not XML ({e})"))?;
            match event {
                Event::Start(_) | Event::Empty(_) => {
                    elements += 1;
                    if elements > self.max_elements {
                        return Err(format!("more than {} elements", self.max_elements));
                    }
                    if let Some(children) = open.last_mut() {
                        *children += 1;
                        if *children > self.max_children {
                            return Err(format!(
                                "more than {} elements in one list",
                                self.max_children
                            ));
                        }
                    }
                    if let Event::Start(e) | Event::Empty(e) = &event {
                        for attribute in e.attributes() {
                            let attribute = attribute.map_err(|e| format!("not XML ({e})"))?;
                            text_limit(attribute.value.len())?;
                        }
                    }
                    if matches!(event, Event::Start(_)) {
                        open.push(0);
                        if open.len() > self.max_depth {
                            return Err(format!("elements nested deeper than {}", self.max_depth));
                        }
                    }
                }
                Event::End(_) => {
                    open.pop();
                }
                Event::Text(t) => text_limit(t.len())?,
                Event::CData(t) => text_limit(t.len())?,
                Event::DocType(_) => return Err("XML with a DTD".into()),
                Event::Eof => return Ok(()),
                _ => {}
            }
        }
    }
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
