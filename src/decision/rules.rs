//! The rules of CheckOwner as a pure function of the registries' answers.
//!
//! Precedence: refused (unknown to GBD FL, or deceased per GBD FL or a ZAGS death act), then
//! the operational hall (declared missing by a court per GBD FL, minor by GBD FL birth date,
//! court status in GBD FL, guardianship or trusteeship in force in E-social security), then
//! online. GBD FL is needed for every person;
//! an online answer also needs E-social security (guardianship) and IS ZAGS (death act), so a
//! missing one fails the call naming it. A hall answer stands without them (the employee checks
//! documents anyway) and notes which registry did not answer.
//!
//! [`decide`] gathers the answers into facts once; each rule below is a small function of
//! those facts that adds reasons (which route the owner) or notes (which inform).

use crate::registry::facts::{iin_number, ActsFacts, PersonFacts, SocialFacts, Told, Ward};
use crate::registry::{
    CapacityStatus, Fetched, GuardianshipKind, LifeStatus, Registry, RegistryError,
};
use crate::resilience::owner_facts::ToldResult;

use chrono::NaiveDate;

use crate::i18n::Text;

use super::age::{age_on, ADULT_AGE};
use super::DecisionConfig;
use super::{
    Decision, Evidence, EvidenceStatus, Outcome, OwnerFacts, OwnerQuestion, Reason, ReasonCode,
    Representation, Role,
};

/// What the registries said about one owner, as facts (or the failure).
pub struct Answers {
    pub person: ToldResult<Option<PersonFacts>>,
    pub acts: ToldResult<ActsFacts>,
    pub social: ToldResult<SocialFacts>,
}

/// The version of these rules, in every decision's audit record: `explain` re-derives a
/// decision by the rules of today and names a version change when the outcome differs.
/// Raise it with any change to what a rule decides.
pub const VERSION: &str = "1";

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn reason(code: ReasonCode, source: Option<Registry>, text: Text) -> Reason {
    Reason { code, text, source }
}

/// A registry's name, in the answer's language.
pub(crate) fn registry_name(registry: Registry) -> Text {
    Text::new(match registry {
        Registry::GbdFl => "registry-gbd_fl",
        Registry::Zags => "registry-zags",
        Registry::SocialSecurity => "registry-social_security",
        Registry::Nobd => "registry-nobd",
        Registry::Epvo => "registry-epvo",
    })
}

/// ", case …", " of …", ", …": the parts of a court's record GBD FL gives.
fn court_record(case: Option<&str>, date: Option<NaiveDate>, court: Option<&str>) -> Vec<Text> {
    let mut parts = Vec::new();
    if let Some(case) = case {
        parts.push(Text::new("court-case").arg("case", case));
    }
    if let Some(date) = date {
        parts.push(Text::new("court-date").arg("date", date));
    }
    if let Some(court) = court {
        parts.push(Text::new("court-name").arg("court", court));
    }
    parts
}

fn not_consulted(registry: Registry) -> Evidence {
    Evidence {
        registry,
        status: EvidenceStatus::NotConsulted,
        record_id: String::new(),
        source: None,
    }
}

/// The owner is a legal entity: no minor or incapacitated owner, no registry asked.
pub fn organisation() -> Decision {
    Decision {
        id: new_id(),
        outcome: Outcome::Online,
        reasons: vec![reason(
            ReasonCode::OwnerIsOrganisation,
            None,
            Text::new("reason-organisation"),
        )],
        notes: Vec::new(),
        owner: OwnerFacts {
            organisation: true,
            ..OwnerFacts::default()
        },
        representation: None,
        evidence: Registry::ALL.map(not_consulted).to_vec(),
    }
}

/// The decision for `question` from the registries' `answers`; the failure of a registry
/// without which no decision can be taken (GBD FL always; IS ZAGS and E-social security for
/// an online answer).
pub fn decide(
    question: &OwnerQuestion,
    config: &DecisionConfig,
    answers: Answers,
) -> Result<Decision, RegistryError> {
    let person = answers.person.clone()?;
    let facts = Facts::gather(question, config, person.value.facts.as_ref(), &answers);
    let mut found = Findings::default();
    let (outcome, owner) = route(&facts, &mut found)?;
    Ok(Decision {
        id: new_id(),
        outcome,
        reasons: found.reasons,
        notes: found.notes,
        owner,
        representation: question
            .applicant
            .map(|applicant| represent(applicant.as_str(), &facts)),
        evidence: evidence(&facts, &person, &answers),
    })
}

/// What the registries say about the owner, gathered once for the rules.
struct Facts<'a> {
    question: &'a OwnerQuestion,
    config: &'a DecisionConfig,
    /// GBD FL's record (`None`: no such person).
    person: Option<&'a PersonFacts>,
    /// `None`: IS ZAGS did not answer.
    acts: Option<&'a ActsFacts>,
    /// `None`: E-social security did not answer.
    social: Option<&'a SocialFacts>,
    /// Guardianship or trusteeship in force on the date, the owner the ward.
    guardianships: Vec<&'a Ward>,
    /// The death act's number.
    death_act: Option<&'a str>,
    /// The registries that did not answer, besides GBD FL (IS ZAGS first).
    failed: Vec<&'a RegistryError>,
}

impl<'a> Facts<'a> {
    fn gather(
        question: &'a OwnerQuestion,
        config: &'a DecisionConfig,
        person: Option<&'a PersonFacts>,
        answers: &'a Answers,
    ) -> Facts<'a> {
        let acts = answers.acts.as_ref().ok().map(|f| &f.value.facts);
        let social = answers.social.as_ref().ok().map(|f| &f.value.facts);
        Facts {
            question,
            config,
            person,
            acts,
            social,
            guardianships: social
                .into_iter()
                .flat_map(|s| s.guardianships())
                .filter(|g| g.in_force(question.date))
                .collect(),
            death_act: acts.and_then(|a| a.death_act()),
            failed: [answers.acts.as_ref().err(), answers.social.as_ref().err()]
                .into_iter()
                .flatten()
                .collect(),
        }
    }

    fn age(&self, p: &PersonFacts) -> u32 {
        age_on(
            p.birth_date,
            self.question.date,
            self.config.leap_day_birthday,
        )
    }

    fn owner_facts(&self, p: &PersonFacts) -> OwnerFacts {
        let age = self.age(p);
        OwnerFacts {
            organisation: false,
            age_years: Some(age),
            minor: age < ADULT_AGE,
            capacity: Some(p.capacity),
            deceased: p.is_deceased() || self.death_act.is_some(),
            under_guardianship: !self.guardianships.is_empty(),
            declared_missing: p.life_status == LifeStatus::Missing,
        }
    }
}

/// Reasons route the owner; notes inform.
#[derive(Default)]
struct Findings {
    reasons: Vec<Reason>,
    notes: Vec<Reason>,
}

/// The outcome by precedence (refused, hall, online) and the owner's facts.
fn route(facts: &Facts, found: &mut Findings) -> Result<(Outcome, OwnerFacts), RegistryError> {
    let Some(p) = facts.person else {
        found.reasons.push(reason(
            ReasonCode::OwnerNotFound,
            Some(Registry::GbdFl),
            Text::new("reason-not-found"),
        ));
        return Ok((Outcome::RefusedHere, OwnerFacts::default()));
    };
    let mut owner = facts.owner_facts(p);
    deceased(facts, p, found);
    if owner.deceased {
        return Ok((Outcome::RefusedHere, owner));
    }
    declared_missing(p, found);
    minor(facts, &mut owner, found);
    court_status(facts, p, found);
    guardianship(facts, found);
    other_notes(facts, p, found);
    if !found.reasons.is_empty() {
        for failed in &facts.failed {
            found.notes.push(reason(
                ReasonCode::RegistryNotAnswered,
                Some(failed.registry),
                Text::new("note-registry-not-answered")
                    .text("registry", registry_name(failed.registry))
                    .arg("failure", failed.failure.kind()),
            ));
        }
        return Ok((Outcome::OperationalHall, owner));
    }
    online(facts, owner, found).map(|owner| (Outcome::Online, owner))
}

/// Deceased per GBD FL, or per an IS ZAGS death act.
fn deceased(facts: &Facts, p: &PersonFacts, found: &mut Findings) {
    if p.is_deceased() {
        found.reasons.push(reason(
            ReasonCode::OwnerDeceased,
            Some(Registry::GbdFl),
            Text::new("reason-deceased-gbd"),
        ));
    }
    if let Some(act) = facts.death_act {
        found.reasons.push(reason(
            ReasonCode::OwnerDeceased,
            Some(Registry::Zags),
            Text::new("reason-deceased-zags").arg("record", act),
        ));
    }
}

/// Declared missing by a court (GBD FL life status, with the court's record where GBD FL gives
/// one): the owner cannot consent online in person; the court placed the property under trust
/// management (Civil Code art. 29), so whoever applies acts for the owner, and the operational
/// hall verifies the powers of whoever acts for an owner (items 4 and 7). The decisive reason,
/// first.
fn declared_missing(p: &PersonFacts, found: &mut Findings) {
    if p.life_status != LifeStatus::Missing {
        return;
    }
    let record = match p.missing_record() {
        Some(m) => court_record(m.case_number.as_deref(), m.decided_on, m.court.as_deref()),
        None => vec![Text::new("court-no-record")],
    };
    found.reasons.push(reason(
        ReasonCode::OwnerDeclaredMissing,
        Some(Registry::GbdFl),
        Text::new("reason-declared-missing").texts("record", record),
    ));
}

/// A minor by age (GBD FL birth date); a married minor is noted, and routed as an adult only
/// when configured.
fn minor(facts: &Facts, owner: &mut OwnerFacts, found: &mut Findings) {
    if !owner.minor {
        return;
    }
    let married = facts.acts.is_some_and(|a| a.married);
    if married {
        found.notes.push(reason(
            ReasonCode::MinorMarried,
            Some(Registry::Zags),
            Text::new("note-minor-married"),
        ));
    }
    if married && facts.config.married_minor_as_adult {
        owner.minor = false;
        return;
    }
    let (age, date) = (owner.age_years.unwrap_or_default(), facts.question.date);
    found.reasons.push(reason(
        ReasonCode::OwnerMinor,
        Some(Registry::GbdFl),
        Text::new("reason-minor").arg("age", age).arg("date", date),
    ));
}

/// Incapable or of limited capacity by a court (GBD FL); an end date past is a note.
fn court_status(facts: &Facts, p: &PersonFacts, found: &mut Findings) {
    let c = p.capacity_record();
    let (code, id) = match p.capacity {
        CapacityStatus::Capable => return,
        CapacityStatus::Incapable => (ReasonCode::OwnerIncapable, "reason-incapable"),
        CapacityStatus::Limited => (ReasonCode::OwnerLimitedCapacity, "reason-limited"),
    };
    let record = court_record(c.case_number.as_deref(), c.decided_on, c.court.as_deref());
    let text = Text::new(id).texts("record", record);
    found
        .reasons
        .push(reason(code, Some(Registry::GbdFl), text));
    if p.capacity_ends_on.is_some_and(|e| e < facts.question.date) {
        found.notes.push(reason(
            ReasonCode::CapacityStatusExpired,
            Some(Registry::GbdFl),
            Text::new("note-capacity-expired"),
        ));
    }
}

/// Guardianship or trusteeship in force (E-social security).
fn guardianship(facts: &Facts, found: &mut Findings) {
    for g in &facts.guardianships {
        let (code, id) = match g.kind {
            GuardianshipKind::Guardianship => {
                (ReasonCode::OwnerUnderGuardianship, "reason-guardianship")
            }
            GuardianshipKind::Trusteeship => {
                (ReasonCode::OwnerUnderTrusteeship, "reason-trusteeship")
            }
        };
        found.reasons.push(reason(
            code,
            Some(Registry::SocialSecurity),
            Text::new(id)
                .arg("record", &g.record_id)
                .arg("since", g.since),
        ));
    }
}

/// Facts worth a note whatever the outcome: a birth date that differs from the IIN's, a
/// disability in force.
fn other_notes(facts: &Facts, p: &PersonFacts, found: &mut Findings) {
    if facts.question.owner.encoded_birth_date() != Some(p.birth_date) {
        found.notes.push(reason(
            ReasonCode::BirthDateDiffersFromIin,
            Some(Registry::GbdFl),
            Text::new("note-birth-date-differs"),
        ));
    }
    let disabilities = facts.social.into_iter().flat_map(|s| s.disabilities());
    for d in disabilities.filter(|d| d.in_force(facts.question.date)) {
        found.notes.push(reason(
            ReasonCode::OwnerHasDisability,
            Some(Registry::SocialSecurity),
            Text::new("note-disability")
                .arg("group", d.group)
                .arg("since", d.since),
        ));
    }
}

/// Online only when nothing that could say otherwise is missing: E-social security
/// (guardianship) and IS ZAGS (death act) must have answered.
fn online(
    facts: &Facts,
    owner: OwnerFacts,
    found: &mut Findings,
) -> Result<OwnerFacts, RegistryError> {
    let social_first = [Registry::SocialSecurity, Registry::Zags];
    if let Some(failed) = social_first
        .iter()
        .find_map(|r| facts.failed.iter().find(|e| e.registry == *r))
    {
        return Err((*failed).clone());
    }
    let age = owner.age_years.unwrap_or_default();
    found.reasons.push(reason(
        ReasonCode::OwnerCapableAdult,
        None,
        Text::new("reason-capable-adult").arg("age", age),
    ));
    Ok(owner)
}

/// One entry per registry: what it answered and the decisive record.
fn evidence(
    facts: &Facts,
    person: &Fetched<Told<Option<PersonFacts>>>,
    answers: &Answers,
) -> Vec<Evidence> {
    let person_record = facts.person.and_then(|p| {
        let court = (p.capacity != CapacityStatus::Capable)
            .then_some(p.capacity_record().case_number.as_deref())
            .flatten();
        let missing = (p.life_status == LifeStatus::Missing)
            .then(|| p.missing_record().and_then(|m| m.case_number.as_deref()))
            .flatten();
        missing.or(court)
    });
    let acts_record = facts
        .acts
        .and_then(|a| a.death_act().or(a.first_birth_act.as_deref()));
    let social_record = facts.guardianships.first().map(|g| &*g.record_id);
    Registry::ALL
        .map(|registry| match registry {
            Registry::GbdFl => answered(registry, &Ok(person.clone()), person_record),
            Registry::Zags => answered(registry, &answers.acts, acts_record),
            Registry::SocialSecurity => answered(registry, &answers.social, social_record),
            _ => not_consulted(registry),
        })
        .to_vec()
}

/// Evidence for an answer, with `record` as the decisive record when there is one.
fn answered<F>(registry: Registry, answer: &ToldResult<F>, record: Option<&str>) -> Evidence {
    match answer {
        Ok(f) => Evidence {
            registry,
            status: if f.value.no_record {
                EvidenceStatus::NotFound
            } else {
                EvidenceStatus::Found
            },
            record_id: record.map_or_else(|| f.source.message_id.to_string(), str::to_owned),
            source: Some(f.source.clone()),
        },
        Err(_) => Evidence {
            registry,
            status: EvidenceStatus::Unavailable,
            record_id: String::new(),
            source: None,
        },
    }
}

/// What the registries say about the applicant as the owner's representative.
fn represent(applicant: &str, facts: &Facts) -> Representation {
    let owner = facts.question.owner.as_str();
    if applicant == owner {
        return Representation {
            role: Role::Owner,
            source: None,
            record_id: String::new(),
            text: Text::new("rep-owner"),
        };
    }
    guardian(applicant, facts)
        .or_else(|| missing_trustee(applicant, facts.person))
        .or_else(|| parent(applicant, facts.acts))
        .unwrap_or_else(|| not_confirmed(facts))
}

fn confirmed(role: Role, source: Registry, record_id: &str, text: Text) -> Representation {
    Representation {
        role,
        source: Some(source),
        record_id: record_id.to_owned(),
        text,
    }
}

/// The applicant is the owner's guardian or trustee per E-social security.
fn guardian(applicant: &str, facts: &Facts) -> Option<Representation> {
    let applicant = iin_number(applicant)?;
    let g = facts
        .guardianships
        .iter()
        .find(|g| g.guardian == Some(applicant))?;
    let (role, id) = match g.kind {
        GuardianshipKind::Guardianship => (Role::Guardian, "rep-guardian"),
        GuardianshipKind::Trusteeship => (Role::Trustee, "rep-trustee"),
    };
    Some(confirmed(
        role,
        Registry::SocialSecurity,
        &g.record_id,
        Text::new(id).arg("record", &g.record_id),
    ))
}

/// The applicant is the trustee managing the property of an owner declared missing, per the
/// court record GBD FL gives.
fn missing_trustee(applicant: &str, person: Option<&PersonFacts>) -> Option<Representation> {
    let record = person
        .filter(|p| p.life_status == LifeStatus::Missing)?
        .missing_record()
        .filter(|m| m.trustee_iin.as_deref() == Some(applicant))?;
    let case = record.case_number.as_deref().unwrap_or_default();
    Some(confirmed(
        Role::Trustee,
        Registry::GbdFl,
        case,
        if case.is_empty() {
            Text::new("rep-missing-trustee-no-case")
        } else {
            Text::new("rep-missing-trustee").arg("case", case)
        },
    ))
}

/// The applicant is the owner's mother or father per an IS ZAGS birth act.
fn parent(applicant: &str, acts: Option<&ActsFacts>) -> Option<Representation> {
    let applicant = iin_number(applicant)?;
    let births = acts.into_iter().flat_map(ActsFacts::own_births);
    births.into_iter().find_map(|(act, [mother, father])| {
        [
            (mother, Role::Mother, "rep-mother"),
            (father, Role::Father, "rep-father"),
        ]
        .into_iter()
        .find(|(parent, _, _)| *parent == Some(applicant))
        .map(|(_, role, id)| confirmed(role, Registry::Zags, act, Text::new(id).arg("record", act)))
    })
}

fn not_confirmed(facts: &Facts) -> Representation {
    let silent = facts
        .failed
        .iter()
        .map(|failed| {
            Text::new("rep-not-answered").text("registry", registry_name(failed.registry))
        })
        .collect();
    let text = Text::new("rep-not-confirmed").texts("silent", silent);
    Representation {
        role: Role::NotConfirmed,
        source: None,
        record_id: String::new(),
        text,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{NaiveDate, Utc};

    use super::*;
    use crate::decision::LeapDayBirthday;
    use crate::decision::StateService;
    use crate::iin::Iin;
    use crate::registry::{
        BirthAct, CivilActs, DeathAct, Failure, Guardianship, LegalCapacity, MarriageAct,
        MissingRecord, Person, PersonRef, SocialStatus, Source,
    };

    const OWNER: &str = "061211600012";
    const PARENT: &str = "980109050588";
    const OTHER: &str = "900101300811";

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// The facts of `value`, as the decider hands them to the rules.
    fn fetched<T: crate::registry::facts::Facts>(value: T) -> ToldResult<T::Facts> {
        let owner = Iin::parse(OWNER).unwrap();
        Ok(Fetched {
            value: std::sync::Arc::new(value.told(&owner)),
            source: Source {
                message_id: "msg".into(),
                fetched_at: Utc::now(),
                from_cache: false,
                stale: false,
                age: Duration::ZERO,
                envelope: None,
            },
        })
    }

    fn down<F>(registry: Registry) -> ToldResult<F> {
        Err(RegistryError {
            registry,
            failure: Failure::Timeout(Duration::from_secs(5)),
            retry_after: Duration::from_secs(5),
        })
    }

    fn person(birth: &str) -> Person {
        Person {
            iin: OWNER.into(),
            surname: "S".into(),
            name: "N".into(),
            patronymic: None,
            birth_date: d(birth),
            death_date: None,
            gender: None,
            citizenship: None,
            life_status: LifeStatus::Alive,
            life_status_code: "1".into(),
            capacity: LegalCapacity {
                status: CapacityStatus::Capable,
                status_code: "1".into(),
                decided_on: None,
                ends_on: None,
                case_number: None,
                court: None,
            },
            missing: None,
            reg_address: None,
            birth_certificate: None,
            death_certificate: None,
        }
    }

    fn check(date: &str, applicant: Option<&str>) -> OwnerQuestion {
        OwnerQuestion {
            owner: Iin::parse(OWNER).unwrap(),
            service: StateService::RegistrationAtResidence,
            applicant: applicant.map(|a| Iin::parse(a).unwrap()),
            date: d(date),
            consent_token: None,
            gbd_fl_shared_cache: false,
            deadline: None,
            step: crate::decision::Step::Reception,
        }
    }

    fn answers(p: Option<Person>) -> Answers {
        Answers {
            person: fetched(p),
            acts: fetched(CivilActs::default()),
            social: fetched(SocialStatus::default()),
        }
    }

    fn run(c: &OwnerQuestion, a: Answers) -> Result<Decision, RegistryError> {
        decide(c, &DecisionConfig::default(), a)
    }

    fn codes(d: &Decision) -> Vec<ReasonCode> {
        d.reasons.iter().map(|r| r.code).collect()
    }

    fn guardianship(kind: GuardianshipKind, since: &str, until: Option<&str>) -> Guardianship {
        Guardianship {
            kind,
            record_id: "G-1".into(),
            ward_iin: OWNER.into(),
            guardian_iin: PARENT.into(),
            basis: "".into(),
            since: d(since),
            until: until.map(d),
        }
    }

    #[test]
    fn capable_adult_goes_online() {
        let dec = run(
            &check("2026-11-25", None),
            answers(Some(person("1980-01-01"))),
        )
        .unwrap();
        assert_eq!(dec.outcome, Outcome::Online);
        assert_eq!(codes(&dec), [ReasonCode::OwnerCapableAdult]);
        assert_eq!(dec.owner.age_years, Some(46));
        assert_eq!(dec.evidence.len(), 5);
        assert_eq!(dec.evidence[0].status, EvidenceStatus::Found);
        assert_eq!(dec.evidence[3].status, EvidenceStatus::NotConsulted);
    }

    #[test]
    fn eighteenth_birthday_is_adult_and_the_day_before_is_minor() {
        let on = run(
            &check("2026-11-25", None),
            answers(Some(person("2008-11-25"))),
        )
        .unwrap();
        assert_eq!(on.outcome, Outcome::Online);
        let before = run(
            &check("2026-11-24", None),
            answers(Some(person("2008-11-25"))),
        )
        .unwrap();
        assert_eq!(before.outcome, Outcome::OperationalHall);
        assert_eq!(codes(&before), [ReasonCode::OwnerMinor]);
        assert!(before.owner.minor);
        assert_eq!(before.owner.age_years, Some(17));
    }

    #[test]
    fn leap_day_birth_follows_the_configured_convention() {
        let c = check("2026-02-28", None);
        let feb28 = decide(
            &c,
            &DecisionConfig::default(),
            answers(Some(person("2008-02-29"))),
        )
        .unwrap();
        assert_eq!(feb28.outcome, Outcome::Online);
        let mar1 = DecisionConfig {
            leap_day_birthday: LeapDayBirthday::Mar1,
            ..DecisionConfig::default()
        };
        let dec = decide(&c, &mar1, answers(Some(person("2008-02-29")))).unwrap();
        assert_eq!(dec.outcome, Outcome::OperationalHall);
        let dec = decide(
            &check("2026-03-01", None),
            &mar1,
            answers(Some(person("2008-02-29"))),
        )
        .unwrap();
        assert_eq!(dec.outcome, Outcome::Online);
        let dec = run(
            &check("2026-02-27", None),
            answers(Some(person("2008-02-29"))),
        )
        .unwrap();
        assert_eq!(dec.outcome, Outcome::OperationalHall);
    }

    #[test]
    fn court_status_sends_to_the_hall() {
        for (status, code) in [
            (CapacityStatus::Incapable, ReasonCode::OwnerIncapable),
            (CapacityStatus::Limited, ReasonCode::OwnerLimitedCapacity),
        ] {
            let mut p = person("1980-01-01");
            p.capacity.status = status;
            p.capacity.case_number = Some("2-77/2024".into());
            let dec = run(&check("2026-11-25", None), answers(Some(p))).unwrap();
            assert_eq!(dec.outcome, Outcome::OperationalHall);
            assert_eq!(codes(&dec), [code]);
            assert!(dec.reasons[0].text.contains("2-77/2024"));
            assert_eq!(dec.evidence[0].record_id, "2-77/2024");
        }
    }

    #[test]
    fn guardianship_in_force_in_social_security_sends_to_the_hall() {
        let mut a = answers(Some(person("1980-01-01")));
        a.social = fetched(SocialStatus {
            disabilities: vec![],
            guardianships: vec![guardianship(
                GuardianshipKind::Guardianship,
                "2020-01-01",
                None,
            )],
        });
        let dec = run(&check("2026-11-25", Some(PARENT)), a).unwrap();
        assert_eq!(dec.outcome, Outcome::OperationalHall);
        assert_eq!(codes(&dec), [ReasonCode::OwnerUnderGuardianship]);
        let rep = dec.representation.unwrap();
        assert_eq!(rep.role, Role::Guardian);
        assert_eq!(rep.record_id, "G-1");
    }

    #[test]
    fn ended_guardianship_does_not_count() {
        let mut a = answers(Some(person("1980-01-01")));
        a.social = fetched(SocialStatus {
            disabilities: vec![],
            guardianships: vec![guardianship(
                GuardianshipKind::Trusteeship,
                "2020-01-01",
                Some("2025-01-01"),
            )],
        });
        let dec = run(&check("2026-11-25", Some(PARENT)), a).unwrap();
        assert_eq!(dec.outcome, Outcome::Online);
        assert_eq!(dec.representation.unwrap().role, Role::NotConfirmed);
    }

    #[test]
    fn deceased_in_gbd_fl_or_zags_is_refused() {
        let mut p = person("1950-01-01");
        p.life_status = LifeStatus::Deceased;
        let dec = run(&check("2026-11-25", None), answers(Some(p))).unwrap();
        assert_eq!(dec.outcome, Outcome::RefusedHere);
        assert_eq!(dec.reasons[0].source, Some(Registry::GbdFl));

        let mut a = answers(Some(person("2015-01-01")));
        a.acts = fetched(CivilActs {
            death_act: Some(DeathAct {
                act_number: "D-9".into(),
                act_date: None,
                death_date: None,
            }),
            ..CivilActs::default()
        });
        let dec = run(&check("2026-11-25", None), a).unwrap();
        assert_eq!(dec.outcome, Outcome::RefusedHere);
        assert_eq!(codes(&dec), [ReasonCode::OwnerDeceased]);
        assert_eq!(dec.reasons[0].source, Some(Registry::Zags));
        assert_eq!(dec.evidence[1].record_id, "D-9");
    }

    #[test]
    fn unknown_person_is_refused() {
        let dec = run(&check("2026-11-25", None), answers(None)).unwrap();
        assert_eq!(dec.outcome, Outcome::RefusedHere);
        assert_eq!(codes(&dec), [ReasonCode::OwnerNotFound]);
        assert_eq!(dec.evidence[0].status, EvidenceStatus::NotFound);
    }

    #[test]
    fn gbd_fl_down_fails_whatever_else_answered() {
        let mut a = answers(None);
        a.person = down(Registry::GbdFl);
        let e = run(&check("2026-11-25", None), a).unwrap_err();
        assert_eq!(e.registry, Registry::GbdFl);
    }

    #[test]
    fn online_needs_social_security_and_zags() {
        for registry in [Registry::SocialSecurity, Registry::Zags] {
            let mut a = answers(Some(person("1980-01-01")));
            match registry {
                Registry::SocialSecurity => a.social = down(registry),
                _ => a.acts = down(registry),
            }
            let e = run(&check("2026-11-25", None), a).unwrap_err();
            assert_eq!(e.registry, registry);
        }
    }

    #[test]
    fn hall_stands_without_the_others_and_notes_them() {
        let mut a = answers(Some(person("2015-01-01")));
        a.social = down(Registry::SocialSecurity);
        a.acts = down(Registry::Zags);
        let dec = run(&check("2026-11-25", Some(PARENT)), a).unwrap();
        assert_eq!(dec.outcome, Outcome::OperationalHall);
        let noted: Vec<_> = dec
            .notes
            .iter()
            .filter(|n| n.code == ReasonCode::RegistryNotAnswered)
            .filter_map(|n| n.source)
            .collect();
        assert_eq!(noted, [Registry::Zags, Registry::SocialSecurity]);
        assert_eq!(dec.evidence[1].status, EvidenceStatus::Unavailable);
        let rep = dec.representation.unwrap();
        assert_eq!(rep.role, Role::NotConfirmed);
        assert!(rep.text.contains("IS ZAGS did not answer"), "{}", rep.text);
    }

    #[test]
    fn parents_are_confirmed_by_the_birth_act() {
        let mut a = answers(Some(person("2015-01-01")));
        a.acts = fetched(CivilActs {
            birth_acts: vec![BirthAct {
                act_number: "B-5".into(),
                act_date: None,
                child: PersonRef {
                    iin: OWNER.into(),
                    full_name: "".into(),
                },
                mother: Some(PersonRef {
                    iin: OTHER.into(),
                    full_name: "".into(),
                }),
                father: Some(PersonRef {
                    iin: PARENT.into(),
                    full_name: "".into(),
                }),
            }],
            ..CivilActs::default()
        });
        let dec = run(&check("2026-11-25", Some(PARENT)), a).unwrap();
        let rep = dec.representation.unwrap();
        assert_eq!(
            (rep.role, rep.source, rep.record_id.as_str()),
            (Role::Father, Some(Registry::Zags), "B-5")
        );
    }

    #[test]
    fn married_minor_is_noted_and_routed_by_age_unless_configured() {
        let married = || {
            let mut a = answers(Some(person("2009-06-01")));
            a.acts = fetched(CivilActs {
                marriage_acts: vec![MarriageAct {
                    act_number: "M-1".into(),
                    act_date: None,
                    spouse: None,
                    dissolved: false,
                }],
                ..CivilActs::default()
            });
            a
        };
        let dec = run(&check("2026-11-25", None), married()).unwrap();
        assert_eq!(dec.outcome, Outcome::OperationalHall);
        assert!(dec.notes.iter().any(|n| n.code == ReasonCode::MinorMarried));
        let as_adult = DecisionConfig {
            married_minor_as_adult: true,
            ..DecisionConfig::default()
        };
        let dec = decide(&check("2026-11-25", None), &as_adult, married()).unwrap();
        assert_eq!(dec.outcome, Outcome::Online);
    }

    #[test]
    fn birth_date_mismatch_with_the_iin_is_a_note_not_an_error() {
        // OWNER encodes 2006-12-11.
        let dec = run(
            &check("2026-11-25", None),
            answers(Some(person("1980-01-01"))),
        )
        .unwrap();
        assert!(dec
            .notes
            .iter()
            .any(|n| n.code == ReasonCode::BirthDateDiffersFromIin));
        let dec = run(
            &check("2026-11-25", None),
            answers(Some(person("2006-12-11"))),
        )
        .unwrap();
        assert!(!dec
            .notes
            .iter()
            .any(|n| n.code == ReasonCode::BirthDateDiffersFromIin));
        assert_eq!(dec.outcome, Outcome::Online);
    }

    fn declared_missing(record: Option<MissingRecord>) -> Person {
        let mut p = person("1975-08-14");
        p.life_status = LifeStatus::Missing;
        p.life_status_code = "3".into();
        p.missing = record;
        p
    }

    fn court_record(trustee: Option<&str>) -> MissingRecord {
        MissingRecord {
            decided_on: Some(d("2024-05-17")),
            case_number: Some("2-871/2024".into()),
            court: Some("Pavlodar city court".into()),
            trustee_iin: trustee.map(Into::into),
        }
    }

    #[test]
    fn a_declared_missing_adult_goes_to_the_hall_on_the_court_record() {
        let p = declared_missing(Some(court_record(None)));
        let dec = run(&check("2026-11-25", None), answers(Some(p))).unwrap();
        assert_eq!(dec.outcome, Outcome::OperationalHall);
        assert_eq!(codes(&dec), [ReasonCode::OwnerDeclaredMissing]);
        let r = &dec.reasons[0];
        assert_eq!(r.source, Some(Registry::GbdFl));
        for part in [
            "case 2-871/2024",
            "of 2024-05-17",
            "Pavlodar city court",
            "art. 28",
        ] {
            assert!(r.text.contains(part), "{part}: {}", r.text);
        }
        assert!(
            !dec.notes
                .iter()
                .any(|n| n.code == ReasonCode::OwnerDeclaredMissing),
            "a reason, not a note"
        );
        assert!(dec.owner.declared_missing);
        assert!(!dec.owner.minor);
        assert_eq!(dec.evidence[0].record_id, "2-871/2024");
        assert_eq!(
            crate::decision::step::Ground::of(&dec),
            crate::decision::step::Ground::DeclaredMissing
        );
        // GBD FL without the court's record: still the hall, saying the record is missing.
        let dec = run(
            &check("2026-11-25", None),
            answers(Some(declared_missing(None))),
        )
        .unwrap();
        assert_eq!(dec.outcome, Outcome::OperationalHall);
        assert!(
            dec.reasons[0].text.contains("no court record"),
            "{}",
            dec.reasons[0].text
        );
        assert_eq!(dec.evidence[0].record_id, "msg");
    }

    #[test]
    fn declared_missing_decides_first_beside_the_order_s_own_categories() {
        let mut p = declared_missing(None);
        p.birth_date = d("2012-03-01");
        let dec = run(&check("2026-11-25", None), answers(Some(p))).unwrap();
        assert_eq!(
            codes(&dec),
            [ReasonCode::OwnerDeclaredMissing, ReasonCode::OwnerMinor]
        );
        assert_eq!(
            crate::decision::step::Ground::of(&dec),
            crate::decision::step::Ground::MinorOrIncapacitated
        );
        let mut p = declared_missing(None);
        p.capacity.status = CapacityStatus::Incapable;
        let dec = run(&check("2026-11-25", None), answers(Some(p))).unwrap();
        assert_eq!(
            codes(&dec),
            [ReasonCode::OwnerDeclaredMissing, ReasonCode::OwnerIncapable]
        );
    }

    #[test]
    fn a_declared_missing_owner_is_never_online_even_with_registries_silent() {
        let mut a = answers(Some(declared_missing(None)));
        a.social = down(Registry::SocialSecurity);
        a.acts = down(Registry::Zags);
        let dec = run(&check("2026-11-25", None), a).unwrap();
        assert_eq!(dec.outcome, Outcome::OperationalHall);
        assert_eq!(codes(&dec), [ReasonCode::OwnerDeclaredMissing]);
        assert_eq!(
            dec.notes
                .iter()
                .filter(|n| n.code == ReasonCode::RegistryNotAnswered)
                .count(),
            2
        );
    }

    #[test]
    fn the_trustee_of_a_missing_owner_is_confirmed_by_gbd_fl_or_e_social_security() {
        // Named in GBD FL's court record.
        let p = declared_missing(Some(court_record(Some(PARENT))));
        let dec = run(&check("2026-11-25", Some(PARENT)), answers(Some(p.clone()))).unwrap();
        let rep = dec.representation.unwrap();
        assert_eq!(
            (rep.role, rep.source, rep.record_id.as_str()),
            (Role::Trustee, Some(Registry::GbdFl), "2-871/2024")
        );
        assert!(rep.text.contains("declared missing"), "{}", rep.text);
        // Someone else applying: not confirmed.
        let dec = run(&check("2026-11-25", Some(OTHER)), answers(Some(p))).unwrap();
        assert_eq!(dec.representation.unwrap().role, Role::NotConfirmed);
        // A trustee named by E-social security (the record GBD FL gives names nobody).
        let mut a = answers(Some(declared_missing(Some(court_record(None)))));
        a.social = fetched(SocialStatus {
            disabilities: vec![],
            guardianships: vec![guardianship(
                GuardianshipKind::Trusteeship,
                "2024-06-01",
                None,
            )],
        });
        let dec = run(&check("2026-11-25", Some(PARENT)), a).unwrap();
        assert_eq!(
            codes(&dec),
            [
                ReasonCode::OwnerDeclaredMissing,
                ReasonCode::OwnerUnderTrusteeship
            ]
        );
        let rep = dec.representation.unwrap();
        assert_eq!(
            (rep.role, rep.source),
            (Role::Trustee, Some(Registry::SocialSecurity))
        );
        // A court record naming a trustee means nothing for a person no longer missing.
        let mut back = declared_missing(Some(court_record(Some(PARENT))));
        back.life_status = LifeStatus::Alive;
        let dec = run(&check("2026-11-25", Some(PARENT)), answers(Some(back))).unwrap();
        assert_eq!(dec.outcome, Outcome::Online);
        assert_eq!(dec.representation.unwrap().role, Role::NotConfirmed);
    }

    #[test]
    fn organisation_goes_online_without_registries() {
        let dec = organisation();
        assert_eq!(dec.outcome, Outcome::Online);
        assert!(dec.owner.organisation);
        assert!(dec
            .evidence
            .iter()
            .all(|e| e.status == EvidenceStatus::NotConsulted));
    }
}
