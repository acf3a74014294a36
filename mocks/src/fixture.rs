//! The fixture: the synthetic population every mock answers from.
//!
//! One TOML file describes all five registries (see the "Fixture file" section of the crate
//! README). [`Fixture::from_toml_str`] parses it with `deny_unknown_fields` and then checks it:
//! IIN check digits, references to known people, value ranges. Every error names the record and
//! field, with 0-based indices: `person[3].birth_date: invalid date ...`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, NaiveDate, Utc};
use serde::Deserialize;

use crate::date::DateSpec;
use crate::iin;

/// The embedded demo population (`fixtures/demo.toml`).
const DEMO_TOML: &str = include_str!("../fixtures/demo.toml");

/// Kazakhstan's time zone, UTC+5.
pub(crate) fn kz_offset() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// Why a fixture could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("reading fixture {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML at all.
    #[error("fixture is not valid TOML: {0}")]
    Syntax(String),
    /// A record or field is wrong. `path` names it, e.g. `person[3].birth_date`.
    #[error("{path}: {message}")]
    Invalid {
        /// Record and field, 0-based indices (`birth_act[0].mother`).
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl FixtureError {
    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        FixtureError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A loaded, validated fixture. Cheap to share behind an `Arc`; relative dates are resolved
/// per request against [`Fixture::today`].
#[derive(Clone, Debug)]
pub struct Fixture {
    pub(crate) data: FixtureFile,
    persons: HashMap<String, usize>,
    today: Option<NaiveDate>,
}

impl Fixture {
    /// The embedded demo population; see [`crate::demo`] for its IINs by role.
    pub fn demo() -> Fixture {
        Fixture::from_toml_str(DEMO_TOML).expect("the embedded demo fixture is valid")
    }

    /// Reads and validates a fixture file.
    pub fn load(path: &Path) -> Result<Fixture, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Io {
            path: path.to_owned(),
            source,
        })?;
        Fixture::from_toml_str(&text)
    }

    /// Parses and validates fixture text. Errors name the record and field.
    pub fn from_toml_str(s: &str) -> Result<Fixture, FixtureError> {
        let de = toml::Deserializer::parse(s).map_err(|e| FixtureError::Syntax(e.to_string()))?;
        let data: FixtureFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = match e.path().to_string() {
                p if p == "." => "fixture".to_owned(),
                p => p,
            };
            let inner = e.inner();
            let line = inner
                .span()
                .and_then(|span| s.get(..span.start))
                .map(|before| format!(" (line {})", before.matches('\n').count() + 1))
                .unwrap_or_default();
            FixtureError::invalid(path, format!("{}{line}", inner.message()))
        })?;
        let persons = data.validate()?;
        Ok(Fixture {
            data,
            persons,
            today: None,
        })
    }

    /// Pins "today" for relative dates (tests). Unpinned, today is the current date in
    /// Kazakhstan (UTC+5), evaluated per request.
    pub fn with_today(mut self, today: NaiveDate) -> Fixture {
        self.today = Some(today);
        self
    }

    /// The day relative dates are resolved against right now.
    pub fn today(&self) -> NaiveDate {
        self.today
            .unwrap_or_else(|| Utc::now().with_timezone(&kz_offset()).date_naive())
    }

    /// The IIN of the person `key` (its `[[person]]` `iin`) on `today`. A person whose birth
    /// date is relative to today gets the IIN of that day's birth date (the serial digits of
    /// `key`, a fresh check digit), so that number and birth date always agree; for everyone
    /// else it is `key`.
    pub fn iin_on(&self, key: &str, today: NaiveDate) -> String {
        match self.person(key) {
            Some(p) if matches!(p.birth_date, DateSpec::Relative(_)) => {
                iin::for_birth_date(p.birth_date.resolve(today), p.gender == Gender::Male, key)
                    .unwrap_or_else(|| key.to_owned())
            }
            _ => key.to_owned(),
        }
    }

    /// The key of the person whose IIN on `today` is `iin` ([`Fixture::iin_on`]); empty (no
    /// one) for a number nobody has that day, such as a relative person's key on other days.
    pub(crate) fn key_of(&self, iin: &str, today: NaiveDate) -> String {
        if let Some(p) = self.person(iin) {
            if matches!(p.birth_date, DateSpec::Fixed(_)) || self.iin_on(iin, today) == iin {
                return iin.to_owned();
            }
        }
        self.data
            .person
            .iter()
            .filter(|p| matches!(p.birth_date, DateSpec::Relative(_)))
            .find(|p| self.iin_on(&p.iin, today) == iin)
            .map(|p| p.iin.clone())
            .unwrap_or_else(|| {
                if self.person(iin).is_some() {
                    String::new()
                } else {
                    iin.to_owned()
                }
            })
    }

    /// Whether `token` is the consent of the person asked for by `iin` on `today`.
    pub(crate) fn check_consent(
        &self,
        token: &str,
        iin: &str,
        today: NaiveDate,
    ) -> Result<(), ConsentRefusal> {
        let key = self.key_of(iin, today);
        if let Some(c) = self.data.consent.iter().find(|c| c.token == token) {
            if c.person != key {
                return Err(ConsentRefusal::OtherPerson);
            }
            if c.expires.as_ref().is_some_and(|e| e.resolve(today) < today) {
                return Err(ConsentRefusal::Expired);
            }
            return Ok(());
        }
        let person = self
            .data
            .consent_token_prefix
            .as_deref()
            .and_then(|prefix| token.strip_prefix(prefix))
            .ok_or(ConsentRefusal::Unknown)?;
        match person {
            p if p == key || (!key.is_empty() && self.key_of(p, today) == key) => Ok(()),
            p if iin::is_valid(p) => Err(ConsentRefusal::OtherPerson),
            _ => Err(ConsentRefusal::Unknown),
        }
    }

    /// The `[[person]]` entry with this IIN.
    pub(crate) fn person(&self, iin: &str) -> Option<&Person> {
        self.persons.get(iin).map(|&i| &self.data.person[i])
    }

    /// The full name of a known person ("SURNAME NAME PATRONYMIC"); empty if unknown
    /// (validation guarantees every reference is known).
    pub(crate) fn full_name(&self, iin: &str) -> String {
        self.person(iin).map(Person::full_name).unwrap_or_default()
    }

    /// Number of `[[person]]` entries.
    pub fn person_count(&self) -> usize {
        self.data.person.len()
    }

    /// Every IIN and BIN the fixture mentions (people and organisations), for checks.
    pub fn all_numbers(&self) -> Vec<&str> {
        let d = &self.data;
        let mut out: Vec<&str> = d.person.iter().map(|p| p.iin.as_str()).collect();
        out.extend(d.school.iter().map(|s| s.organisation_bin.as_str()));
        out.extend(d.university.iter().map(|u| u.university_bin.as_str()));
        out
    }
}

fn default_citizenship() -> String {
    "KZ".to_owned()
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FixtureFile {
    #[serde(default)]
    pub person: Vec<Person>,
    #[serde(default)]
    pub birth_act: Vec<BirthAct>,
    #[serde(default)]
    pub marriage_act: Vec<MarriageAct>,
    #[serde(default)]
    pub death_act: Vec<DeathAct>,
    #[serde(default)]
    pub name_change_act: Vec<NameChangeAct>,
    #[serde(default)]
    pub disability: Vec<Disability>,
    #[serde(default)]
    pub guardianship: Vec<Guardianship>,
    #[serde(default)]
    pub school: Vec<School>,
    #[serde(default)]
    pub university: Vec<University>,
    /// GBD FL consent tokens (`kdpToken`): `<prefix><IIN>` is a valid consent of the person
    /// with that IIN (the fixture's key for a person born relative to today). None: only the
    /// `[[consent]]` tokens are valid.
    pub consent_token_prefix: Option<String>,
    #[serde(default)]
    pub consent: Vec<Consent>,
}

/// `[[consent]]`: a consent token GBD FL knows, given by `person`, valid through `expires`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Consent {
    pub token: String,
    /// The IIN (fixture key) of the person who gave it.
    pub person: String,
    /// The last day it is valid; none: no end.
    pub expires: Option<DateSpec>,
}

/// Why GBD FL refuses a consent token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConsentRefusal {
    Unknown,
    OtherPerson,
    Expired,
}

/// `[[person]]`: a GBD FL record.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Person {
    pub iin: String,
    pub surname: String,
    pub name: String,
    pub patronymic: Option<String>,
    pub birth_date: DateSpec,
    pub gender: Gender,
    #[serde(default = "default_citizenship")]
    pub citizenship: String,
    pub reg_address: Option<String>,
    /// Death recorded in GBD FL (life status 2).
    pub deceased_on: Option<DateSpec>,
    /// Declared missing by a court (life status 3).
    #[serde(default)]
    pub declared_missing: bool,
    /// The court record of the declaration (modelled `missingStatus`); only with
    /// `declared_missing`.
    pub missing: Option<Missing>,
    #[serde(default)]
    pub capacity: Capacity,
}

/// The court decision declaring a person missing (Civil Code art. 28), and the trustee it
/// names to manage the person's property (art. 29), as GBD FL is modelled to give them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Missing {
    pub decided_on: Option<DateSpec>,
    pub case_number: Option<String>,
    pub court: Option<String>,
    /// The IIN of the trustee managing the property (a `[[person]]`).
    pub trustee: Option<String>,
}

impl Person {
    pub fn full_name(&self) -> String {
        let mut s = format!("{} {}", self.surname, self.name);
        if let Some(p) = &self.patronymic {
            s.push(' ');
            s.push_str(p);
        }
        s
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Gender {
    Male,
    Female,
}

/// Legal capacity as set by a court.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Capacity {
    pub status: CapacityStatus,
    pub decided_on: Option<DateSpec>,
    pub ends_on: Option<DateSpec>,
    pub case_number: Option<String>,
    pub court: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CapacityStatus {
    #[default]
    Capable,
    Incapable,
    Limited,
}

/// `[[birth_act]]`: the child, and the parents if recorded.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BirthAct {
    pub number: String,
    pub date: DateSpec,
    pub child: String,
    pub mother: Option<String>,
    pub father: Option<String>,
}

/// `[[marriage_act]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MarriageAct {
    pub number: String,
    pub date: DateSpec,
    pub spouses: [String; 2],
    #[serde(default)]
    pub dissolved: bool,
}

/// `[[death_act]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeathAct {
    pub number: String,
    pub date: DateSpec,
    pub person: String,
    pub death_date: DateSpec,
}

/// `[[name_change_act]]`; the new name defaults to the person's current name.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameChangeAct {
    pub number: String,
    pub date: DateSpec,
    pub person: String,
    pub previous_full_name: String,
    pub new_full_name: Option<String>,
}

/// `[[disability]]` (E-social security).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Disability {
    pub person: String,
    pub group: u8,
    pub since: DateSpec,
    pub until: Option<DateSpec>,
}

/// `[[guardianship]]` (E-social security).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Guardianship {
    pub record_id: String,
    pub kind: GuardianshipKind,
    pub ward: String,
    pub guardian: String,
    pub basis: String,
    pub since: DateSpec,
    pub until: Option<DateSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GuardianshipKind {
    /// Опека: under 14, or incapable adults.
    Guardianship,
    /// Попечительство: 14-18, or limited capacity.
    Trusteeship,
}

/// `[[school]]`: an NOBD enrolment.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct School {
    pub student: String,
    pub organisation_bin: String,
    pub organisation_name: String,
    pub grade: u8,
    pub since: DateSpec,
    pub until: Option<DateSpec>,
    #[serde(default)]
    pub without_parental_care: bool,
}

/// `[[university]]`: an EPVO study record.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct University {
    pub student: String,
    pub university_bin: String,
    pub university_name: String,
    pub programme: String,
    pub course: u8,
    pub study_form: StudyForm,
    #[serde(default)]
    pub dormitory: bool,
    pub since: DateSpec,
    pub until: Option<DateSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StudyForm {
    FullTime,
    PartTime,
    Distance,
}

/// Reference checks against the person index.
struct Checker {
    persons: HashMap<String, usize>,
}

impl Checker {
    fn known(&self, path: String, iin: &str) -> Result<(), FixtureError> {
        if self.persons.contains_key(iin) {
            Ok(())
        } else if !iin::is_valid(iin) {
            Err(FixtureError::invalid(
                path,
                format!("`{iin}` is not a valid IIN (12 digits with a correct check digit)"),
            ))
        } else {
            Err(FixtureError::invalid(
                path,
                format!("`{iin}` is not a [[person]] in this fixture"),
            ))
        }
    }
}

fn non_empty(path: String, value: &str) -> Result<(), FixtureError> {
    if value.trim().is_empty() {
        Err(FixtureError::invalid(path, "must not be empty"))
    } else {
        Ok(())
    }
}

fn bin(path: String, value: &str) -> Result<(), FixtureError> {
    if iin::is_bin(value) {
        Ok(())
    } else {
        Err(FixtureError::invalid(
            path,
            format!("`{value}` is not a valid BIN (12 digits, 5th digit 4, 5 or 6, correct check digit)"),
        ))
    }
}

fn in_range(path: String, value: u8, lo: u8, hi: u8) -> Result<(), FixtureError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(FixtureError::invalid(
            path,
            format!("{value} is out of range {lo}..={hi}"),
        ))
    }
}

impl FixtureFile {
    /// Every table's rules; the persons' positions by IIN.
    fn validate(&self) -> Result<HashMap<String, usize>, FixtureError> {
        let c = Checker {
            persons: self.validate_persons()?,
        };
        self.validate_missing(&c)?;
        self.validate_civil_acts(&c)?;
        self.validate_social(&c)?;
        self.validate_education(&c)?;
        self.validate_consents()?;
        Ok(c.persons)
    }

    fn validate_persons(&self) -> Result<HashMap<String, usize>, FixtureError> {
        let mut persons = HashMap::new();
        for (i, p) in self.person.iter().enumerate() {
            let at = |field: &str| format!("person[{i}].{field}");
            if !iin::is_valid(&p.iin) {
                return Err(FixtureError::invalid(
                    at("iin"),
                    format!(
                        "`{}` is not a valid IIN (12 digits with a correct check digit)",
                        p.iin
                    ),
                ));
            }
            if !iin::is_person_iin(&p.iin) {
                return Err(FixtureError::invalid(
                    at("iin"),
                    format!("`{}` is a BIN (5th digit 4-6), not a person's IIN", p.iin),
                ));
            }
            if let Some(first) = persons.insert(p.iin.clone(), i) {
                return Err(FixtureError::invalid(
                    at("iin"),
                    format!("`{}` is already person[{first}]", p.iin),
                ));
            }
            non_empty(at("surname"), &p.surname)?;
            non_empty(at("name"), &p.name)?;
            non_empty(at("citizenship"), &p.citizenship)?;
            if p.deceased_on.is_some() && p.declared_missing {
                return Err(FixtureError::invalid(
                    at("declared_missing"),
                    "a person with deceased_on cannot also be declared missing",
                ));
            }
        }
        Ok(persons)
    }

    /// A court record of a missing person belongs to a person declared missing, and names a
    /// known trustee other than the person.
    fn validate_missing(&self, c: &Checker) -> Result<(), FixtureError> {
        for (i, p) in self.person.iter().enumerate() {
            let Some(m) = &p.missing else { continue };
            let at = |field: &str| format!("person[{i}].{field}");
            if !p.declared_missing {
                return Err(FixtureError::invalid(
                    at("missing"),
                    "a court record of a missing person needs declared_missing = true",
                ));
            }
            if let Some(trustee) = &m.trustee {
                c.known(at("missing.trustee"), trustee)?;
                if *trustee == p.iin {
                    return Err(FixtureError::invalid(
                        at("missing.trustee"),
                        "is the missing person",
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_civil_acts(&self, c: &Checker) -> Result<(), FixtureError> {
        for (i, a) in self.birth_act.iter().enumerate() {
            let at = |field: &str| format!("birth_act[{i}].{field}");
            non_empty(at("number"), &a.number)?;
            c.known(at("child"), &a.child)?;
            for (field, parent) in [("mother", &a.mother), ("father", &a.father)] {
                if let Some(parent) = parent {
                    c.known(at(field), parent)?;
                    if *parent == a.child {
                        return Err(FixtureError::invalid(at(field), "is the child"));
                    }
                }
            }
        }
        for (i, a) in self.marriage_act.iter().enumerate() {
            let at = |field: &str| format!("marriage_act[{i}].{field}");
            non_empty(at("number"), &a.number)?;
            for (j, s) in a.spouses.iter().enumerate() {
                c.known(format!("marriage_act[{i}].spouses[{j}]"), s)?;
            }
            if a.spouses[0] == a.spouses[1] {
                return Err(FixtureError::invalid(
                    at("spouses"),
                    "the two spouses are the same person",
                ));
            }
        }
        let mut dead = HashSet::new();
        for (i, a) in self.death_act.iter().enumerate() {
            let at = |field: &str| format!("death_act[{i}].{field}");
            non_empty(at("number"), &a.number)?;
            c.known(at("person"), &a.person)?;
            if !dead.insert(a.person.as_str()) {
                return Err(FixtureError::invalid(
                    at("person"),
                    format!("`{}` already has a death act", a.person),
                ));
            }
        }
        for (i, a) in self.name_change_act.iter().enumerate() {
            let at = |field: &str| format!("name_change_act[{i}].{field}");
            non_empty(at("number"), &a.number)?;
            c.known(at("person"), &a.person)?;
            non_empty(at("previous_full_name"), &a.previous_full_name)?;
        }
        Ok(())
    }

    fn validate_social(&self, c: &Checker) -> Result<(), FixtureError> {
        for (i, d) in self.disability.iter().enumerate() {
            let at = |field: &str| format!("disability[{i}].{field}");
            c.known(at("person"), &d.person)?;
            in_range(at("group"), d.group, 1, 3)?;
        }
        let mut record_ids = HashSet::new();
        for (i, g) in self.guardianship.iter().enumerate() {
            let at = |field: &str| format!("guardianship[{i}].{field}");
            non_empty(at("record_id"), &g.record_id)?;
            if !record_ids.insert(g.record_id.as_str()) {
                return Err(FixtureError::invalid(
                    at("record_id"),
                    format!("`{}` is used twice", g.record_id),
                ));
            }
            c.known(at("ward"), &g.ward)?;
            c.known(at("guardian"), &g.guardian)?;
            if g.ward == g.guardian {
                return Err(FixtureError::invalid(at("guardian"), "is the ward"));
            }
            non_empty(at("basis"), &g.basis)?;
        }
        Ok(())
    }

    fn validate_education(&self, c: &Checker) -> Result<(), FixtureError> {
        for (i, s) in self.school.iter().enumerate() {
            let at = |field: &str| format!("school[{i}].{field}");
            c.known(at("student"), &s.student)?;
            bin(at("organisation_bin"), &s.organisation_bin)?;
            non_empty(at("organisation_name"), &s.organisation_name)?;
            in_range(at("grade"), s.grade, 0, 12)?;
        }
        for (i, u) in self.university.iter().enumerate() {
            let at = |field: &str| format!("university[{i}].{field}");
            c.known(at("student"), &u.student)?;
            bin(at("university_bin"), &u.university_bin)?;
            non_empty(at("university_name"), &u.university_name)?;
            non_empty(at("programme"), &u.programme)?;
            in_range(at("course"), u.course, 1, 7)?;
        }
        Ok(())
    }

    fn validate_consents(&self) -> Result<(), FixtureError> {
        for (i, consent) in self.consent.iter().enumerate() {
            let at = |field: &str| format!("consent[{i}].{field}");
            non_empty(at("token"), &consent.token)?;
            if !iin::is_valid(&consent.person) {
                return Err(FixtureError::invalid(
                    at("person"),
                    format!("`{}` is not a valid IIN", consent.person),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
[[person]]
iin = "061211600012"
surname = "Тестова"
name = "Айгерим"
birth_date = "2006-12-11"
gender = "female"
"#;

    fn err(s: &str) -> String {
        match Fixture::from_toml_str(s) {
            Ok(_) => panic!("accepted:\n{s}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn consent_tokens_are_checked_per_person_and_date() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let f = Fixture::demo();
        let adult = crate::demo::CAPABLE_ADULT;
        assert_eq!(
            f.check_consent(&crate::demo::consent(adult), adult, today),
            Ok(())
        );
        assert_eq!(
            f.check_consent(&crate::demo::consent(crate::demo::MINOR), adult, today),
            Err(ConsentRefusal::OtherPerson)
        );
        assert_eq!(
            f.check_consent(crate::demo::EXPIRED_CONSENT, adult, today),
            Err(ConsentRefusal::Expired)
        );
        assert_eq!(
            f.check_consent("kdp-token", adult, today),
            Err(ConsentRefusal::Unknown)
        );
        // A person born relative to today consents by the fixture key, asked by today's IIN.
        let key = crate::demo::TURNS_18_TODAY;
        let other_day = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
        let iin = crate::demo::iin(key, other_day);
        assert_ne!(iin, key);
        assert_eq!(
            f.check_consent(&crate::demo::consent(key), &iin, other_day),
            Ok(())
        );
        let bad =
            Fixture::from_toml_str("[[consent]]\ntoken = \"t\"\nperson = \"123\"\n").unwrap_err();
        assert!(bad.to_string().starts_with("consent[0].person"), "{bad}");
    }

    #[test]
    fn minimal_person_defaults() {
        let f = Fixture::from_toml_str(ONE).expect("valid");
        let p = f.person("061211600012").expect("present");
        assert_eq!(p.citizenship, "KZ");
        assert_eq!(p.capacity.status, CapacityStatus::Capable);
        assert_eq!(p.full_name(), "Тестова Айгерим");
        assert!(f.person("980109050588").is_none());
    }

    #[test]
    fn bad_date_names_record_and_field() {
        let bad = format!("{ONE}\n[[person]]\niin = \"980109050588\"\nsurname = \"A\"\nname = \"B\"\nbirth_date = \"1998-13-09\"\ngender = \"male\"\n");
        let e = err(&bad);
        assert!(
            e.starts_with("person[1].birth_date: invalid date `1998-13-09`"),
            "{e}"
        );
        assert!(e.ends_with("(line 13)"), "{e}");
    }

    #[test]
    fn unknown_field_is_rejected_with_its_record() {
        let e = err(&format!("{ONE}nickname = \"x\"\n"));
        assert!(e.starts_with("person[0].nickname: unknown field"), "{e}");
        assert!(e.ends_with("(line 8)"), "{e}");
        assert!(e.contains("nickname"), "{e}");
        let e = err("[[persons]]\niin = \"061211600012\"\n");
        assert!(e.contains("persons"), "{e}");
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let e = err("[[person]]\niin = \"061211600012\"\nsurname = \"A\"\nname = \"B\"\ngender = \"female\"\n");
        assert!(e.starts_with("person[0]"), "{e}");
        assert!(e.contains("birth_date"), "{e}");
        let e = err(&ONE.replace("\"female\"", "\"other\""));
        assert!(e.starts_with("person[0].gender"), "{e}");
        let e = err(&format!("{ONE}capacity = {{ status = \"sleepy\" }}\n"));
        assert!(e.starts_with("person[0].capacity.status"), "{e}");
    }

    #[test]
    fn bad_check_digit_is_rejected() {
        let e = err(&ONE.replace("061211600012", "061211600013"));
        assert!(
            e.starts_with("person[0].iin: `061211600013` is not a valid IIN"),
            "{e}"
        );
        let e = err(&ONE.replace("061211600012", "900101300800"));
        assert!(e.starts_with("person[0].iin"), "{e}");
        let e = err(&ONE.replace("061211600012", "080540012342"));
        assert!(e.contains("is a BIN"), "{e}");
    }

    #[test]
    fn duplicate_person_is_rejected() {
        let e = err(&format!("{ONE}{ONE}"));
        assert!(
            e.starts_with("person[1].iin: `061211600012` is already person[0]"),
            "{e}"
        );
    }

    #[test]
    fn references_must_be_known_people() {
        let e = err(&format!(
            "{ONE}\n[[birth_act]]\nnumber = \"1\"\ndate = \"2006-12-20\"\nchild = \"061211600012\"\nmother = \"980109050588\"\n"
        ));
        assert!(
            e.starts_with("birth_act[0].mother: `980109050588` is not a [[person]]"),
            "{e}"
        );
        let e = err(&format!(
            "{ONE}\n[[guardianship]]\nrecord_id = \"G1\"\nkind = \"guardianship\"\nward = \"061211600012\"\nguardian = \"12345\"\nbasis = \"b\"\nsince = \"today\"\n"
        ));
        assert!(
            e.starts_with("guardianship[0].guardian: `12345` is not a valid IIN"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_record_needs_a_missing_person_and_a_known_trustee() {
        let e = err(&format!(
            "{ONE}missing = {{ case_number = \"2-1/2024\" }}\n"
        ));
        assert!(
            e.starts_with("person[0].missing: a court record of a missing person needs"),
            "{e}"
        );
        let e = err(&format!(
            "{ONE}declared_missing = true\nmissing = {{ trustee = \"980109050588\" }}\n"
        ));
        assert!(
            e.starts_with("person[0].missing.trustee: `980109050588` is not a [[person]]"),
            "{e}"
        );
        let e = err(&format!(
            "{ONE}declared_missing = true\nmissing = {{ trustee = \"061211600012\" }}\n"
        ));
        assert!(
            e.starts_with("person[0].missing.trustee: is the missing person"),
            "{e}"
        );
    }

    #[test]
    fn ranges_and_bins_are_checked() {
        let e = err(&format!(
            "{ONE}\n[[disability]]\nperson = \"061211600012\"\ngroup = 4\nsince = \"2020-01-01\"\n"
        ));
        assert!(
            e.starts_with("disability[0].group: 4 is out of range"),
            "{e}"
        );
        let e = err(&format!(
            "{ONE}\n[[school]]\nstudent = \"061211600012\"\norganisation_bin = \"061211600012\"\norganisation_name = \"S\"\ngrade = 5\nsince = \"2020-09-01\"\n"
        ));
        assert!(e.starts_with("school[0].organisation_bin"), "{e}");
    }

    #[test]
    fn syntax_error_is_reported() {
        assert!(matches!(
            Fixture::from_toml_str("[[person]\n"),
            Err(FixtureError::Syntax(_))
        ));
    }

    #[test]
    fn load_reports_the_path() {
        let e = Fixture::load(Path::new("/nonexistent/fixture.toml")).expect_err("missing file");
        assert!(e.to_string().contains("/nonexistent/fixture.toml"), "{e}");
    }

    #[test]
    fn pinned_today_is_used() {
        let day = NaiveDate::from_ymd_opt(2030, 1, 2).expect("date");
        assert_eq!(
            Fixture::from_toml_str(ONE)
                .expect("valid")
                .with_today(day)
                .today(),
            day
        );
    }
}
