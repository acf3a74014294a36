//! NOBD, the national educational database (payload modelled; the real one is not public):
//! school and college enrolment, and children without parental care placed in an organisation.

use async_trait::async_trait;
use chrono::NaiveDate;
use roxmltree::Node;

use super::shep::{iin_payload, NodeExt, ShepClient};
use super::{Fetched, Query, RegistryError};

#[async_trait]
pub trait Nobd: Send + Sync {
    async fn enrolments(
        &self,
        query: &Query,
    ) -> Result<Fetched<Vec<SchoolEnrolment>>, RegistryError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolEnrolment {
    pub organisation_bin: String,
    pub organisation_name: String,
    pub grade: String,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub without_parental_care: bool,
}

/// NOBD over SHEP.
pub struct ShepNobd(pub ShepClient);

#[async_trait]
impl Nobd for ShepNobd {
    async fn enrolments(
        &self,
        query: &Query,
    ) -> Result<Fetched<Vec<SchoolEnrolment>>, RegistryError> {
        let fetched = self
            .0
            .call(&iin_payload(&query.iin), query, parse_enrolments)
            .await?;
        Ok(fetched.map(Option::unwrap_or_default))
    }
}

fn parse_enrolments(data: Node) -> Result<Vec<SchoolEnrolment>, String> {
    data.child_el("education")
        .ok_or("data/education missing")?
        .children_named("enrolment")
        .map(|e| {
            Ok(SchoolEnrolment {
                organisation_bin: e.req("organisationBin")?.to_owned(),
                organisation_name: e.owned("organisationName"),
                grade: e.owned("grade"),
                since: e.date_of("since")?,
                until: e.date_of("until")?,
                without_parental_care: e.bool_of("withoutParentalCare")?,
            })
        })
        .collect()
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
        assert_eq!(e[0].grade, "5");
    }
}
