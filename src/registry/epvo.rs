//! EPVO, the single platform of higher education (payload modelled; the real one is not
//! public): university, programme, course, study form, dormitory.

use chrono::NaiveDate;
use roxmltree::Node;

use super::heap::{inline_only, HeapSize};
use super::shep::NodeExt;
use super::{CodeTables, Payload, Registry};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyForm {
    FullTime,
    PartTime,
    Distance,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Study {
    pub university_bin: Box<str>,
    pub university_name: Box<str>,
    pub programme: Box<str>,
    pub course: u32,
    pub study_form: Option<StudyForm>,
    pub dormitory: bool,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

/// A person's studies; none: an empty list.
impl Payload for Vec<Study> {
    const REGISTRY: Registry = Registry::Epvo;
    const SUBJECT: &'static [&'static str] = &["higherEducation", "iin"];

    fn parse(data: Node, _: &CodeTables) -> Result<Vec<Study>, String> {
        parse_studies(data)
    }
}

fn parse_studies(data: Node) -> Result<Vec<Study>, String> {
    data.child_el("higherEducation")
        .ok_or("data/higherEducation missing")?
        .children_named("study")
        .map(|s| {
            Ok(Study {
                university_bin: s.req("universityBin")?.into(),
                university_name: s.owned("universityName").into(),
                programme: s.owned("programme").into(),
                course: match s.text_of("course") {
                    None => 0,
                    Some(c) => c.parse().map_err(|_| "study/course is not a number")?,
                },
                study_form: match s.text_of("studyForm") {
                    Some("FULL_TIME") => Some(StudyForm::FullTime),
                    Some("PART_TIME") => Some(StudyForm::PartTime),
                    Some("DISTANCE") => Some(StudyForm::Distance),
                    _ => None,
                },
                dormitory: s.bool_of("dormitory")?,
                since: s.date_of("since")?,
                until: s.date_of("until")?,
            })
        })
        .collect()
}

impl HeapSize for Study {
    fn heap_size(&self) -> usize {
        self.university_bin.heap_size()
            + self.university_name.heap_size()
            + self.programme.heap_size()
    }
}

inline_only!(StudyForm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_studies() {
        let xml = "<data><higherEducation><study><universityBin>050140000121</universityBin>\
            <course>2</course><studyForm>FULL_TIME</studyForm><dormitory>true</dormitory></study>\
            </higherEducation></data>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        let s = parse_studies(doc.root_element()).unwrap();
        assert_eq!(s[0].course, 2);
        assert_eq!(s[0].study_form, Some(StudyForm::FullTime));
        assert!(s[0].dormitory);
    }
}
