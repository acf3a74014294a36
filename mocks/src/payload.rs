//! Per-registry payloads written from the fixture (the `data` element of an answer).
//!
//! Formats are the ones in the crate README ("Payloads"). Relative fixture dates are resolved
//! against the `today` passed in.

use chrono::NaiveDate;

use crate::date::DateSpec;
use crate::envelope::Xml;
use crate::fixture::{
    CapacityStatus, ConsentRefusal, Fixture, Gender, GuardianshipKind, Missing, Person, StudyForm,
};
use crate::Registry;

pub use registry_vocab::shep::status::{BAD_REQUEST, CONSENT_REFUSED, NOT_FOUND, SUCCESS};

/// What a registry answers: status and, on success, payload markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub code: &'static str,
    pub message: String,
    pub data: Option<String>,
}

impl Answer {
    fn ok(data: String) -> Answer {
        Answer {
            code: SUCCESS,
            message: "Message has been processed successfully".to_owned(),
            data: Some(data),
        }
    }
}

/// The answer of `registry` for the payload IIN `iin` (`None`: the payload had no `<iin>`)
/// and, for GBD FL, the consent token `kdp_token`: a token that is not this person's valid
/// consent is refused ([`CONSENT_REFUSED`]); a request without one is answered.
pub(crate) fn answer(
    registry: Registry,
    fixture: &Fixture,
    iin: Option<&str>,
    kdp_token: Option<&str>,
    today: NaiveDate,
) -> Answer {
    let Some(iin) = iin.filter(|s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())) else {
        return Answer {
            code: BAD_REQUEST,
            message: "Request payload must be <iin> with 12 digits".to_owned(),
            data: None,
        };
    };
    if let (Registry::GbdFl, Some(token)) = (registry, kdp_token) {
        if let Err(why) = fixture.check_consent(token, iin, today) {
            return Answer {
                code: CONSENT_REFUSED,
                message: match why {
                    ConsentRefusal::Unknown => "Consent token is not valid",
                    ConsentRefusal::OtherPerson => "Consent token was not given by this person",
                    ConsentRefusal::Expired => "Consent token has expired",
                }
                .to_owned(),
                data: None,
            };
        }
    }
    let w = Writer {
        fixture,
        today,
        asked: iin,
    };
    // Records are keyed by the fixture's `iin`; a person born relative to today is asked for
    // (and answers) by that day's IIN.
    let key = fixture.key_of(iin, today);
    let iin = key.as_str();
    match registry {
        Registry::GbdFl => match fixture.person(iin) {
            Some(p) => Answer::ok(w.person(p)),
            None => Answer {
                code: NOT_FOUND,
                message: "Person not found".to_owned(),
                data: None,
            },
        },
        Registry::Zags => Answer::ok(w.civil_acts(iin)),
        Registry::SocialSecurity => Answer::ok(w.social_status(iin)),
        Registry::Nobd => Answer::ok(w.education(iin)),
        Registry::Epvo => Answer::ok(w.higher_education(iin)),
    }
}

struct Writer<'a> {
    fixture: &'a Fixture,
    today: NaiveDate,
    /// The IIN the request asked about: every answer names it as its subject, as the
    /// gateway checks.
    asked: &'a str,
}

impl Writer<'_> {
    fn date(&self, d: &DateSpec) -> String {
        d.resolve(self.today).format("%Y-%m-%d").to_string()
    }

    fn opt_date(&self, d: Option<&DateSpec>) -> Option<String> {
        d.map(|d| self.date(d))
    }

    /// The IIN of the person `key` today.
    fn iin(&self, key: &str) -> String {
        self.fixture.iin_on(key, self.today)
    }

    /// `<tag><iin/><fullName/></tag>`.
    fn party(&self, x: &mut Xml, tag: &str, iin: &str) {
        x.open(tag)
            .leaf("iin", self.iin(iin))
            .leaf("fullName", self.fixture.full_name(iin))
            .close(tag);
    }

    fn person(&self, p: &Person) -> String {
        let data = &self.fixture.data;
        let mut x = Xml::new();
        x.open("person");
        x.leaf("iin", self.asked)
            .leaf("surname", &p.surname)
            .leaf("name", &p.name)
            .opt("patronymic", p.patronymic.as_deref())
            .leaf("birthDate", self.date(&p.birth_date))
            .opt("deathDate", self.opt_date(p.deceased_on.as_ref()))
            .leaf(
                "gender",
                match p.gender {
                    Gender::Male => "MALE",
                    Gender::Female => "FEMALE",
                },
            )
            .leaf("citizenship", &p.citizenship);
        let (life_code, life_name) = if p.deceased_on.is_some() {
            ("2", "Умер")
        } else if p.declared_missing {
            ("3", "Безвестно отсутствующий")
        } else {
            ("1", "Жив")
        };
        x.open("lifeStatus")
            .leaf("code", life_code)
            .leaf("nameRu", life_name)
            .close("lifeStatus");
        let c = &p.capacity;
        let (cap_code, cap_name) = match c.status {
            CapacityStatus::Capable => ("1", "Дееспособный"),
            CapacityStatus::Incapable => ("2", "Недееспособный"),
            CapacityStatus::Limited => ("3", "Ограниченно дееспособный"),
        };
        x.open("personCapableStatus")
            .open("capableStatus")
            .leaf("code", cap_code)
            .leaf("nameRu", cap_name)
            .close("capableStatus")
            .opt("capableDate", self.opt_date(c.decided_on.as_ref()))
            .opt("capableEndDate", self.opt_date(c.ends_on.as_ref()))
            .opt("capableNumber", c.case_number.as_deref())
            .opt("court", c.court.as_deref())
            .close("personCapableStatus");
        if let Some(m) = &p.missing {
            self.missing_status(&mut x, m);
        }
        x.opt("regAddress", p.reg_address.as_deref());
        if let Some(act) = data.birth_act.iter().find(|a| a.child == p.iin) {
            x.open("birthCertificate")
                .leaf("number", &act.number)
                .leaf("date", self.date(&act.date))
                .close("birthCertificate");
        }
        if p.deceased_on.is_some() {
            if let Some(act) = data.death_act.iter().find(|a| a.person == p.iin) {
                x.open("deathCertificate")
                    .leaf("number", &act.number)
                    .leaf("date", self.date(&act.date))
                    .close("deathCertificate");
            }
        }
        x.close("person");
        x.finish()
    }

    /// `<missingStatus>` (modelled): the court record of a person declared missing, and the
    /// trustee managing the property if the record names one.
    fn missing_status(&self, x: &mut Xml, m: &Missing) {
        x.open("missingStatus")
            .opt("decisionDate", self.opt_date(m.decided_on.as_ref()))
            .opt("caseNumber", m.case_number.as_deref())
            .opt("court", m.court.as_deref());
        if let Some(trustee) = &m.trustee {
            self.party(x, "trustee", trustee);
        }
        x.close("missingStatus");
    }

    fn civil_acts(&self, iin: &str) -> String {
        let data = &self.fixture.data;
        let mut x = Xml::new();
        x.open("civilActs").leaf("iin", self.asked);
        for a in data.birth_act.iter().filter(|a| a.child == iin) {
            x.open("birthAct")
                .leaf("actNumber", &a.number)
                .leaf("actDate", self.date(&a.date));
            self.party(&mut x, "child", &a.child);
            if let Some(m) = &a.mother {
                self.party(&mut x, "mother", m);
            }
            if let Some(f) = &a.father {
                self.party(&mut x, "father", f);
            }
            x.close("birthAct");
        }
        for a in &data.marriage_act {
            let other = match &a.spouses {
                [s, other] | [other, s] if s == iin => other,
                _ => continue,
            };
            x.open("marriageAct")
                .leaf("actNumber", &a.number)
                .leaf("actDate", self.date(&a.date));
            self.party(&mut x, "spouse", other);
            x.leaf("dissolved", a.dissolved.to_string())
                .close("marriageAct");
        }
        if let Some(a) = data.death_act.iter().find(|a| a.person == iin) {
            x.open("deathAct")
                .leaf("actNumber", &a.number)
                .leaf("actDate", self.date(&a.date))
                .leaf("deathDate", self.date(&a.death_date))
                .close("deathAct");
        }
        for a in data.name_change_act.iter().filter(|a| a.person == iin) {
            let new_name = a
                .new_full_name
                .clone()
                .unwrap_or_else(|| self.fixture.full_name(iin));
            x.open("nameChangeAct")
                .leaf("actNumber", &a.number)
                .leaf("actDate", self.date(&a.date))
                .leaf("previousFullName", &a.previous_full_name)
                .leaf("newFullName", new_name)
                .close("nameChangeAct");
        }
        x.close("civilActs");
        x.finish()
    }

    fn social_status(&self, iin: &str) -> String {
        let data = &self.fixture.data;
        let mut x = Xml::new();
        x.open("socialStatus").leaf("iin", self.asked);
        for d in data.disability.iter().filter(|d| d.person == iin) {
            x.open("disability")
                .leaf("group", d.group.to_string())
                .leaf("since", self.date(&d.since))
                .opt("until", self.opt_date(d.until.as_ref()))
                .close("disability");
        }
        for g in data
            .guardianship
            .iter()
            .filter(|g| g.ward == iin || g.guardian == iin)
        {
            x.open("guardianship")
                .leaf(
                    "kind",
                    match g.kind {
                        GuardianshipKind::Guardianship => "GUARDIANSHIP",
                        GuardianshipKind::Trusteeship => "TRUSTEESHIP",
                    },
                )
                .leaf("recordId", &g.record_id)
                .leaf("wardIin", self.iin(&g.ward))
                .leaf("guardianIin", self.iin(&g.guardian))
                .leaf("basis", &g.basis)
                .leaf("since", self.date(&g.since))
                .opt("until", self.opt_date(g.until.as_ref()))
                .close("guardianship");
        }
        x.close("socialStatus");
        x.finish()
    }

    fn education(&self, iin: &str) -> String {
        let mut x = Xml::new();
        x.open("education").leaf("iin", self.asked);
        for s in self.fixture.data.school.iter().filter(|s| s.student == iin) {
            x.open("enrolment")
                .leaf("organisationBin", &s.organisation_bin)
                .leaf("organisationName", &s.organisation_name)
                .leaf("grade", s.grade.to_string())
                .leaf("since", self.date(&s.since))
                .opt("until", self.opt_date(s.until.as_ref()))
                .leaf("withoutParentalCare", s.without_parental_care.to_string())
                .close("enrolment");
        }
        x.close("education");
        x.finish()
    }

    fn higher_education(&self, iin: &str) -> String {
        let mut x = Xml::new();
        x.open("higherEducation").leaf("iin", self.asked);
        for u in self
            .fixture
            .data
            .university
            .iter()
            .filter(|u| u.student == iin)
        {
            x.open("study")
                .leaf("universityBin", &u.university_bin)
                .leaf("universityName", &u.university_name)
                .leaf("programme", &u.programme)
                .leaf("course", u.course.to_string())
                .leaf(
                    "studyForm",
                    match u.study_form {
                        StudyForm::FullTime => "FULL_TIME",
                        StudyForm::PartTime => "PART_TIME",
                        StudyForm::Distance => "DISTANCE",
                    },
                )
                .leaf("dormitory", u.dormitory.to_string())
                .leaf("since", self.date(&u.since))
                .opt("until", self.opt_date(u.until.as_ref()))
                .close("study");
        }
        x.close("higherEducation");
        x.finish()
    }
}
