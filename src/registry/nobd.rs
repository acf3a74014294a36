//! NOBD, the national educational database (payload modelled; the real one is not public):
//! school and college enrolment, and children without parental care placed in an organisation.

use chrono::NaiveDate;
use roxmltree::Node;

use super::heap::HeapSize;
use super::shep::NodeExt;
use super::{CodeTables, Payload, Registry};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolEnrolment {
    pub organisation_bin: Box<str>,
    pub organisation_name: Box<str>,
    pub grade: Box<str>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub without_parental_care: bool,
}

/// A person's enrolments; none: an empty list.
impl Payload for Vec<SchoolEnrolment> {
    const REGISTRY: Registry = Registry::Nobd;
    const SUBJECT: &'static [&'static str] = &["education", "iin"];

    fn parse(data: Node, _: &CodeTables) -> Result<Vec<SchoolEnrolment>, String> {
        parse_enrolments(data)
    }
}

fn parse_enrolments(data: Node) -> Result<Vec<SchoolEnrolment>, String> {
    data.child_el("education")
        .ok_or("data/education missing")?
        .children_named("enrolment")
        .map(|e| {
            Ok(SchoolEnrolment {
                organisation_bin: e.req("organisationBin")?.into(),
                organisation_name: e.owned("organisationName").into(),
                grade: e.owned("grade").into(),
                since: e.date_of("since")?,
                until: e.date_of("until")?,
                without_parental_care: e.bool_of("withoutParentalCare")?,
            })
        })
        .collect()
}

impl HeapSize for SchoolEnrolment {
    fn heap_size(&self) -> usize {
        self.organisation_bin.heap_size()
            + self.organisation_name.heap_size()
            + self.grade.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_enrolments() {
        let xml = "<data><education><enrolment><organisationBin>050140000121</organisationBin>\
            <grade>5</grade><withoutParentalCare>true</withoutParentalCare></enrolment></education></data>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        let e = parse_enrolments(doc.root_element()).unwrap();
        assert_eq!(e.len(), 1);
        assert!(e[0].without_parental_care);
        assert_eq!(&*e[0].grade, "5");
    }
}
