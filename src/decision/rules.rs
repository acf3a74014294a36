//! The rules of CheckOwner as a pure function of the registries' answers.
//!
//! Precedence: refused (unknown to GBD FL, or deceased per GBD FL or a ZAGS death act), then
//! the operational hall (minor by GBD FL birth date, court status in GBD FL, guardianship or
//! trusteeship in force in E-social security), then online. GBD FL is needed for every person;
//! an online answer also needs E-social security (guardianship) and IS ZAGS (death act), so a
//! missing one fails the call naming it. A hall answer stands without them (the employee checks
//! documents anyway) and notes which registry did not answer.

use crate::config::DecisionConfig;
use crate::registry::{
    CapacityStatus, CivilActs, Fetched, GuardianshipKind, LifeStatus, Person, Registry,
    RegistryError, SocialStatus,
};

use super::age::{age_on, ADULT_AGE};
use super::{
    Decision, Evidence, EvidenceStatus, Outcome, OwnerCheck, OwnerFacts, Reason, ReasonCode,
    Representation, Role,
};

/// What the registries said (or the failure), for one owner.
pub struct Answers {
    pub person: Result<Fetched<Option<Person>>, RegistryError>,
    pub acts: Result<Fetched<CivilActs>, RegistryError>,
    pub social: Result<Fetched<SocialStatus>, RegistryError>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn reason(code: ReasonCode, source: Option<Registry>, text: impl Into<String>) -> Reason {
    Reason {
        code,
        text: text.into(),
        source,
    }
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
            "The owner is an organisation (BIN): a dwelling owned by a legal entity has no minor \
             or incapacitated owner",
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

/// Evidence for an answer, with `record` as the decisive record when there is one.
fn evidence<T>(
    registry: Registry,
    answer: &Result<Fetched<T>, RegistryError>,
    found: impl Fn(&T) -> bool,
    record: Option<&str>,
) -> Evidence {
    match answer {
        Ok(f) => Evidence {
            registry,
            status: if found(&f.value) {
                EvidenceStatus::Found
            } else {
                EvidenceStatus::NotFound
            },
            record_id: record.unwrap_or(&f.source.message_id).to_owned(),
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

pub fn decide(
    check: &OwnerCheck,
    config: &DecisionConfig,
    answers: Answers,
) -> Result<Decision, RegistryError> {
    let Answers {
        person,
        acts,
        social,
    } = answers;
    let person = person?;
    let date = check.date;
    let owner = check.owner.as_str();
    let acts_ok = acts.as_ref().ok().map(|f| &*f.value);
    let social_ok = social.as_ref().ok().map(|f| &*f.value);

    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    let mut facts = OwnerFacts::default();

    let guardianships: Vec<_> = social_ok
        .map(|s| {
            s.guardianships
                .iter()
                .filter(|g| g.ward_iin == owner && g.in_force(date))
                .collect()
        })
        .unwrap_or_default();
    let death_act = acts_ok.and_then(|a| a.death_act.as_ref());

    let outcome = match person.value.as_ref() {
        None => {
            reasons.push(reason(
                ReasonCode::OwnerNotFound,
                Some(Registry::GbdFl),
                "GBD FL has no person with this IIN: the service is impossible here",
            ));
            Outcome::RefusedHere
        }
        Some(p) => {
            let age = age_on(p.birth_date, date, config.leap_day_birthday);
            facts.age_years = Some(age);
            facts.minor = age < ADULT_AGE;
            facts.capacity = Some(p.capacity.status);
            facts.deceased = p.is_deceased() || death_act.is_some();
            facts.under_guardianship = !guardianships.is_empty();

            if p.is_deceased() {
                reasons.push(reason(
                    ReasonCode::OwnerDeceased,
                    Some(Registry::GbdFl),
                    "GBD FL records the owner as deceased",
                ));
            }
            if let Some(act) = death_act {
                reasons.push(reason(
                    ReasonCode::OwnerDeceased,
                    Some(Registry::Zags),
                    format!("IS ZAGS holds death act No. {}", act.act_number),
                ));
            }
            if facts.deceased {
                Outcome::RefusedHere
            } else {
                hall_reasons(
                    check,
                    config,
                    p,
                    acts_ok,
                    &guardianships,
                    &mut facts,
                    &mut reasons,
                    &mut notes,
                );
                let disabilities = social_ok.into_iter().flat_map(|s| &s.disabilities);
                for dis in disabilities.filter(|dis| dis.in_force(date)) {
                    notes.push(reason(
                        ReasonCode::OwnerHasDisability,
                        Some(Registry::SocialSecurity),
                        format!("Disability group {} since {}", dis.group, dis.since),
                    ));
                }
                if !reasons.is_empty() {
                    for failed in [acts.as_ref().err(), social.as_ref().err()]
                        .into_iter()
                        .flatten()
                    {
                        notes.push(reason(
                            ReasonCode::RegistryNotAnswered,
                            Some(failed.registry),
                            format!(
                                "{} did not answer: {}; not needed for this outcome",
                                failed.registry,
                                failed.failure.kind()
                            ),
                        ));
                    }
                    Outcome::OperationalHall
                } else {
                    // Online only when nothing that could say otherwise is missing.
                    if let Err(e) = &social {
                        return Err(e.clone());
                    }
                    if let Err(e) = &acts {
                        return Err(e.clone());
                    }
                    reasons.push(reason(
                        ReasonCode::OwnerCapableAdult,
                        None,
                        format!(
                            "The owner is a living adult ({age} years) with no court restriction \
                             in GBD FL and no guardianship or trusteeship in E-social security"
                        ),
                    ));
                    Outcome::Online
                }
            }
        }
    };

    let representation = check
        .applicant
        .map(|applicant| represent(applicant.as_str(), owner, &acts, &social, date));

    let person_record = person
        .value
        .as_ref()
        .as_ref()
        .filter(|p| p.capacity.status != CapacityStatus::Capable)
        .and_then(|p| p.capacity.case_number.as_deref());
    let acts_record = acts_ok.and_then(|a| {
        a.death_act
            .as_ref()
            .map(|d| d.act_number.as_str())
            .or_else(|| a.birth_acts.first().map(|b| b.act_number.as_str()))
    });
    let social_record = guardianships.first().map(|g| g.record_id.as_str());
    let evidence = vec![
        evidence(
            Registry::GbdFl,
            &Ok(person.clone()),
            Option::is_some,
            person_record,
        ),
        evidence(
            Registry::Zags,
            &acts,
            |a| *a != CivilActs::default(),
            acts_record,
        ),
        evidence(
            Registry::SocialSecurity,
            &social,
            |s| *s != SocialStatus::default(),
            social_record,
        ),
        not_consulted(Registry::Nobd),
        not_consulted(Registry::Epvo),
    ];

    Ok(Decision {
        id: new_id(),
        outcome,
        reasons,
        notes,
        owner: facts,
        representation,
        evidence,
    })
}

/// Reasons for the operational hall (pushed to `reasons`) and facts worth a note.
#[allow(clippy::too_many_arguments)]
fn hall_reasons(
    check: &OwnerCheck,
    config: &DecisionConfig,
    p: &Person,
    acts: Option<&CivilActs>,
    guardianships: &[&crate::registry::Guardianship],
    facts: &mut OwnerFacts,
    reasons: &mut Vec<Reason>,
    notes: &mut Vec<Reason>,
) {
    let date = check.date;
    let age = facts.age_years.unwrap_or_default();
    if facts.minor {
        let married = acts.is_some_and(|a| a.marriage_acts.iter().any(|m| !m.dissolved));
        if married {
            notes.push(reason(
                ReasonCode::MinorMarried,
                Some(Registry::Zags),
                "The owner is a minor with a registered marriage (full capacity by marriage, \
                 Civil Code art. 17)",
            ));
        }
        if married && config.married_minor_as_adult {
            facts.minor = false;
        } else {
            reasons.push(reason(
                ReasonCode::OwnerMinor,
                Some(Registry::GbdFl),
                format!("The owner is {age} on {date}, under 18 (birth date per GBD FL)"),
            ));
        }
    }
    let court = |what: &str| {
        let c = &p.capacity;
        let mut text = format!("A court declared the owner {what}");
        if let Some(n) = &c.case_number {
            text.push_str(&format!(", case {n}"));
        }
        if let Some(d) = c.decided_on {
            text.push_str(&format!(" of {d}"));
        }
        if let Some(court) = &c.court {
            text.push_str(&format!(", {court}"));
        }
        text
    };
    match p.capacity.status {
        CapacityStatus::Capable => {}
        CapacityStatus::Incapable => reasons.push(reason(
            ReasonCode::OwnerIncapable,
            Some(Registry::GbdFl),
            court("incapable (Civil Code art. 26)"),
        )),
        CapacityStatus::Limited => reasons.push(reason(
            ReasonCode::OwnerLimitedCapacity,
            Some(Registry::GbdFl),
            court("of limited capacity (Civil Code art. 27)"),
        )),
    }
    if p.capacity.status != CapacityStatus::Capable && p.capacity.ends_on.is_some_and(|e| e < date)
    {
        notes.push(reason(
            ReasonCode::CapacityStatusExpired,
            Some(Registry::GbdFl),
            "The court status has an end date that has passed; it still routes to the hall \
             until GBD FL records the owner as capable",
        ));
    }
    for g in guardianships {
        let (code, what) = match g.kind {
            GuardianshipKind::Guardianship => {
                (ReasonCode::OwnerUnderGuardianship, "guardianship (опека)")
            }
            GuardianshipKind::Trusteeship => (
                ReasonCode::OwnerUnderTrusteeship,
                "trusteeship (попечительство)",
            ),
        };
        reasons.push(reason(
            code,
            Some(Registry::SocialSecurity),
            format!(
                "The owner is under {what}, record {} since {}",
                g.record_id, g.since
            ),
        ));
    }
    if p.life_status == LifeStatus::Missing {
        notes.push(reason(
            ReasonCode::OwnerDeclaredMissing,
            Some(Registry::GbdFl),
            "A court declared the owner missing",
        ));
    }
    if check.owner.encoded_birth_date() != Some(p.birth_date) {
        notes.push(reason(
            ReasonCode::BirthDateDiffersFromIin,
            Some(Registry::GbdFl),
            "The birth date in GBD FL differs from the one the IIN encodes; GBD FL's is used",
        ));
    }
}

/// What the registries say about the applicant as the owner's representative.
fn represent(
    applicant: &str,
    owner: &str,
    acts: &Result<Fetched<CivilActs>, RegistryError>,
    social: &Result<Fetched<SocialStatus>, RegistryError>,
    date: chrono::NaiveDate,
) -> Representation {
    let confirmed = |role, source, record_id: &str, text: String| Representation {
        role,
        source: Some(source),
        record_id: record_id.to_owned(),
        text,
    };
    if applicant == owner {
        return Representation {
            role: Role::Owner,
            source: None,
            record_id: String::new(),
            text: "The applicant is the owner".into(),
        };
    }
    if let Ok(s) = social {
        let record = s
            .value
            .guardianships
            .iter()
            .find(|g| g.ward_iin == owner && g.guardian_iin == applicant && g.in_force(date));
        if let Some(g) = record {
            let (role, what) = match g.kind {
                GuardianshipKind::Guardianship => (Role::Guardian, "guardian"),
                GuardianshipKind::Trusteeship => (Role::Trustee, "trustee"),
            };
            return confirmed(
                role,
                Registry::SocialSecurity,
                &g.record_id,
                format!(
                    "The applicant is the owner's {what} per E-social security record {}",
                    g.record_id
                ),
            );
        }
    }
    if let Ok(a) = acts {
        for act in a.value.birth_acts.iter().filter(|b| b.child.iin == owner) {
            for (parent, role, what) in [
                (&act.mother, Role::Mother, "mother"),
                (&act.father, Role::Father, "father"),
            ] {
                if parent.as_ref().is_some_and(|p| p.iin == applicant) {
                    return confirmed(
                        role,
                        Registry::Zags,
                        &act.act_number,
                        format!(
                            "The applicant is the owner's {what} per IS ZAGS birth act No. {}",
                            act.act_number
                        ),
                    );
                }
            }
        }
    }
    let mut text = String::from(
        "No IS ZAGS birth act or E-social security guardianship links the applicant to the \
         owner: the employee must check the representative's documents",
    );
    for failed in [acts.as_ref().err(), social.as_ref().err()]
        .into_iter()
        .flatten()
    {
        text.push_str(&format!(" ({} did not answer)", failed.registry));
    }
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
    use crate::config::LeapDayBirthday;
    use crate::decision::Service;
    use crate::iin::Iin;
    use crate::registry::{
        BirthAct, DeathAct, Failure, Guardianship, LegalCapacity, MarriageAct, PersonRef, Source,
    };

    const OWNER: &str = "061211600012";
    const PARENT: &str = "980109050588";
    const OTHER: &str = "900101300811";

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn fetched<T>(value: T) -> Result<Fetched<T>, RegistryError> {
        Ok(Fetched {
            value: std::sync::Arc::new(value),
            source: Source {
                message_id: "msg".into(),
                fetched_at: Utc::now(),
                from_cache: false,
                stale: false,
                age: Duration::ZERO,
            },
        })
    }

    fn down<T>(registry: Registry) -> Result<Fetched<T>, RegistryError> {
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
            reg_address: None,
            birth_certificate: None,
            death_certificate: None,
        }
    }

    fn check(date: &str, applicant: Option<&str>) -> OwnerCheck {
        OwnerCheck {
            owner: Iin::parse(OWNER).unwrap(),
            service: Service::RegistrationAtResidence,
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

    fn run(c: &OwnerCheck, a: Answers) -> Result<Decision, RegistryError> {
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
            basis: String::new(),
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
                    full_name: String::new(),
                },
                mother: Some(PersonRef {
                    iin: OTHER.into(),
                    full_name: String::new(),
                }),
                father: Some(PersonRef {
                    iin: PARENT.into(),
                    full_name: String::new(),
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
