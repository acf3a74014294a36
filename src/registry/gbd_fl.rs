//! GBD FL, the state database "Physical persons": a person by IIN, with the court status of
//! legal capacity. Field names follow the publicly seen payload; the code values of
//! `lifeStatus` and `capableStatus` are not public and come from [`CodeTables`]. The court
//! record of a person declared missing (`missingStatus`) is modelled: the public payload shows
//! only the life status.

use chrono::NaiveDate;
use quick_xml::escape::escape;
use roxmltree::Node;
use serde::{Deserialize, Serialize};

use super::heap::{inline_only, HeapSize};
use super::shep::{iin_payload, NodeExt};
use super::{CodeTables, Payload, Query, Registry};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub iin: Box<str>,
    pub surname: Box<str>,
    pub name: Box<str>,
    pub patronymic: Option<Box<str>>,
    pub birth_date: NaiveDate,
    pub death_date: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub citizenship: Option<Box<str>>,
    pub life_status: LifeStatus,
    pub life_status_code: Box<str>,
    pub capacity: LegalCapacity,
    /// The court record of the declaration, for a person declared missing, if GBD FL gives it.
    pub missing: Option<MissingRecord>,
    pub reg_address: Option<Box<str>>,
    pub birth_certificate: Option<Certificate>,
    pub death_certificate: Option<Certificate>,
}

impl Person {
    pub fn is_deceased(&self) -> bool {
        self.life_status == LifeStatus::Deceased || self.death_date.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Male,
    Female,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifeStatus {
    Alive,
    Deceased,
    /// Declared missing by a court.
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityStatus {
    Capable,
    /// Declared incapable by a court (Civil Code art. 26).
    Incapable,
    /// Capacity limited by a court (art. 27).
    Limited,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalCapacity {
    pub status: CapacityStatus,
    pub status_code: Box<str>,
    pub decided_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub case_number: Option<Box<str>>,
    pub court: Option<Box<str>>,
}

/// The court decision declaring a person missing (Civil Code art. 28) as GBD FL records it
/// (`missingStatus`, modelled), with the trustee named to manage the person's property
/// (art. 29), if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MissingRecord {
    pub decided_on: Option<NaiveDate>,
    pub case_number: Option<Box<str>>,
    pub court: Option<Box<str>>,
    /// IIN of the trustee managing the property.
    pub trustee_iin: Option<Box<str>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub number: Box<str>,
    pub issued_on: Option<NaiveDate>,
}

/// The person with the query's IIN, or `None` when GBD FL has no such person. The caller's
/// consent token, if any, goes along as `kdpToken`.
impl Payload for Option<Person> {
    const REGISTRY: Registry = Registry::GbdFl;
    const SUBJECT: &'static [&'static str] = &["person", "iin"];

    fn request(query: &Query) -> String {
        let mut payload = iin_payload(&query.iin);
        if let Some(token) = &query.consent_token {
            payload.push_str(&format!("<kdpToken>{}</kdpToken>", escape(token.secret())));
        }
        payload
    }

    fn parse(data: Node, codes: &CodeTables) -> Result<Option<Person>, String> {
        let person = data.child_el("person").ok_or("data/person missing")?;
        parse_person(person, codes).map(Some)
    }
}

fn parse_person(p: Node, codes: &CodeTables) -> Result<Person, String> {
    let life_status_code = p
        .child_el("lifeStatus")
        .ok_or("person/lifeStatus missing")?
        .req("code")?
        .to_owned();
    let life_status = *codes.life_status.get(&life_status_code).ok_or_else(|| {
        format!("lifeStatus code {life_status_code:?} is not in [codes.life_status]")
    })?;
    let capable = p
        .child_el("personCapableStatus")
        .ok_or("person/personCapableStatus missing")?;
    let status_code = capable
        .child_el("capableStatus")
        .ok_or("personCapableStatus/capableStatus missing")?
        .req("code")?
        .to_owned();
    let status = *codes.capable_status.get(&status_code).ok_or_else(|| {
        format!("capableStatus code {status_code:?} is not in [codes.capable_status]")
    })?;
    let certificate = |name: &str| -> Result<Option<Certificate>, String> {
        p.child_el(name)
            .map(|c| {
                Ok(Certificate {
                    number: c.req("number")?.into(),
                    issued_on: c.date_of("date")?,
                })
            })
            .transpose()
    };
    Ok(Person {
        iin: p.req("iin")?.into(),
        surname: p.req("surname")?.into(),
        name: p.req("name")?.into(),
        patronymic: p.text_of("patronymic").map(Box::from),
        birth_date: p.req_date("birthDate")?,
        death_date: p.date_of("deathDate")?,
        gender: match p.text_of("gender") {
            Some("MALE") => Some(Gender::Male),
            Some("FEMALE") => Some(Gender::Female),
            _ => None,
        },
        citizenship: p.text_of("citizenship").map(Box::from),
        life_status,
        life_status_code: life_status_code.into(),
        capacity: LegalCapacity {
            status,
            status_code: status_code.into(),
            decided_on: capable.date_of("capableDate")?,
            ends_on: capable.date_of("capableEndDate")?,
            case_number: capable.text_of("capableNumber").map(Box::from),
            court: capable.text_of("court").map(Box::from),
        },
        missing: p
            .child_el("missingStatus")
            .map(missing_record)
            .transpose()?,
        reg_address: p.text_of("regAddress").map(Box::from),
        birth_certificate: certificate("birthCertificate")?,
        death_certificate: certificate("deathCertificate")?,
    })
}

fn missing_record(m: Node) -> Result<MissingRecord, String> {
    Ok(MissingRecord {
        decided_on: m.date_of("decisionDate")?,
        case_number: m.text_of("caseNumber").map(Box::from),
        court: m.text_of("court").map(Box::from),
        trustee_iin: m
            .child_el("trustee")
            .map(|t| t.req("iin").map(Box::from))
            .transpose()?,
    })
}

impl HeapSize for Person {
    fn heap_size(&self) -> usize {
        self.iin.heap_size()
            + self.surname.heap_size()
            + self.name.heap_size()
            + self.patronymic.heap_size()
            + self.citizenship.heap_size()
            + self.life_status_code.heap_size()
            + self.capacity.heap_size()
            + self.missing.heap_size()
            + self.reg_address.heap_size()
            + self.birth_certificate.heap_size()
            + self.death_certificate.heap_size()
    }
}

impl HeapSize for LegalCapacity {
    fn heap_size(&self) -> usize {
        self.status_code.heap_size() + self.case_number.heap_size() + self.court.heap_size()
    }
}

impl HeapSize for MissingRecord {
    fn heap_size(&self) -> usize {
        self.case_number.heap_size() + self.court.heap_size() + self.trustee_iin.heap_size()
    }
}

impl HeapSize for Certificate {
    fn heap_size(&self) -> usize {
        self.number.heap_size()
    }
}

inline_only!(Gender, LifeStatus, CapacityStatus);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Result<Person, String> {
        let doc = roxmltree::Document::parse(xml).unwrap();
        parse_person(doc.root_element(), &CodeTables::default())
    }

    const PERSON: &str = "<person><iin>061211600012</iin><surname>Test</surname><name>Aru</name>\
        <birthDate>2006-12-11</birthDate><gender>FEMALE</gender><citizenship>KZ</citizenship>\
        <lifeStatus><code>1</code><nameRu>Жив</nameRu></lifeStatus>\
        <personCapableStatus><capableStatus><code>3</code></capableStatus>\
        <capableDate>2025-01-10</capableDate><capableNumber>2-123/25</capableNumber><court>Court</court>\
        </personCapableStatus></person>";

    #[test]
    fn parses_the_person_with_code_tables() {
        let p = parse(PERSON).unwrap();
        assert_eq!(p.birth_date, NaiveDate::from_ymd_opt(2006, 12, 11).unwrap());
        assert_eq!(p.life_status, LifeStatus::Alive);
        assert_eq!(p.capacity.status, CapacityStatus::Limited);
        assert_eq!(p.capacity.case_number.as_deref(), Some("2-123/25"));
        assert_eq!(p.gender, Some(Gender::Female));
        assert!(!p.is_deceased());
    }

    #[test]
    fn parses_the_court_record_of_a_missing_person() {
        let missing = PERSON.replace("<code>1</code>", "<code>3</code>").replace(
            "</person>",
            "<missingStatus><decisionDate>2024-05-17</decisionDate><caseNumber>2-871/2024\
             </caseNumber><court>Court</court><trustee><iin>780203402225</iin>\
             <fullName>T</fullName></trustee></missingStatus></person>",
        );
        let p = parse(&missing).unwrap();
        assert_eq!(p.life_status, LifeStatus::Missing);
        let m = p.missing.unwrap();
        assert_eq!(m.decided_on, NaiveDate::from_ymd_opt(2024, 5, 17));
        assert_eq!(m.case_number.as_deref(), Some("2-871/2024"));
        assert_eq!(m.trustee_iin.as_deref(), Some("780203402225"));
        assert_eq!(parse(PERSON).unwrap().missing, None);
        let no_iin = missing.replace("<iin>780203402225</iin>", "");
        assert!(parse(&no_iin).unwrap_err().contains("trustee/iin"));
    }

    #[test]
    fn unknown_codes_fail_closed_and_name_the_table() {
        let e = parse(&PERSON.replace("<code>3</code>", "<code>99</code>")).unwrap_err();
        assert!(e.contains("capable_status"), "{e}");
        let e = parse(&PERSON.replace("<code>1</code>", "<code>77</code>")).unwrap_err();
        assert!(e.contains("life_status"), "{e}");
    }

    #[test]
    fn bad_birth_date_names_the_element_not_the_value() {
        let e = parse(&PERSON.replace("2006-12-11", "11.12.2006")).unwrap_err();
        assert!(e.contains("birthDate") && !e.contains("11.12.2006"), "{e}");
    }
}
