//! CheckOwner and CheckDwelling: the routing decision of joint order 801/500 (appendix,
//! items 3-8).
//!
//! [`Decider::decide`] asks GBD FL, IS ZAGS and E-social security in parallel, then
//! [`rules::decide`] (pure, unit-tested) turns their answers into an [`Outcome`] with reasons
//! and evidence. The rule that matters most: never answer [`Outcome::Online`] unless every
//! registry that could have sent the owner to the hall or refused the service has answered.
//! [`dwelling::combine`] makes one answer of several owners' decisions; [`step`] gives the
//! order's item, text and warning for an outcome at the step of the order the caller is at.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::NaiveDate;

use crate::consent::ConsentToken;
use crate::error::Error;
use crate::i18n::Text;
use crate::iin::{Holder, Iin};
use crate::registry::{
    CapacityStatus, CivilActs, Failure, Person, Query, Registries, Registry, SocialStatus, Source,
};
use crate::resilience::owner_facts::OwnerFactsCache;

pub mod age;
pub mod config;
pub mod dwelling;
pub mod legal_basis;
pub mod rules;
pub mod step;

pub use step::Step;

pub use config::{DeceasedCoOwner, DecisionConfig, LeapDayBirthday};

/// Today's date in Kazakhstan, the default date of a decision.
pub use crate::clock::today;

/// The date a decision is taken on, from the caller's `decision_date`: empty means `today`;
/// otherwise exactly `YYYY-MM-DD`, not after `today` and at most `max_days_back` days before
/// it. `Err` is the rule broken, for a field violation on `decision_date`.
pub fn decision_date(
    value: &str,
    today: NaiveDate,
    max_days_back: u32,
) -> Result<NaiveDate, String> {
    if value.is_empty() {
        return Ok(today);
    }
    let shape = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let date = shape
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| "must be a calendar date YYYY-MM-DD (e.g. 2026-11-25)".to_owned())?;
    if date > today {
        return Err(format!(
            "must not be after today ({today} in UTC+5): decisions are not taken in advance"
        ));
    }
    let earliest = today
        .checked_sub_days(chrono::Days::new(max_days_back.into()))
        .unwrap_or(NaiveDate::MIN);
    if date < earliest {
        return Err(format!(
            "must be at most {max_days_back} days before today, i.e. not before {earliest} \
             (decision.max_days_back)"
        ));
    }
    Ok(date)
}

/// The question IIS TsON asks at item 6.
#[derive(Debug, Clone)]
pub struct OwnerQuestion {
    pub owner: Iin,
    pub service: StateService,
    pub applicant: Option<Iin>,
    pub date: NaiveDate,
    pub consent_token: Option<ConsentToken>,
    /// GBD FL's facts may come from (and fill) the owner-facts cache, whatever token fetched
    /// them (`consent.check_owner_shared_cache`, on by default). Off: GBD FL is asked with
    /// this call's token.
    pub gbd_fl_shared_cache: bool,
    /// The caller's deadline.
    pub deadline: Option<tokio::time::Instant>,
    /// The step of the order the caller is at (the wording of the answer follows it).
    pub step: Step,
}

/// The question for a dwelling: the same question for each of its owners.
#[derive(Debug, Clone)]
pub struct DwellingQuestion {
    /// One per owner, in the request's order; they differ only in the owner and its consent.
    pub owners: Vec<OwnerQuestion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateService {
    RegistrationAtResidence,
    TemporaryRegistration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Items 4 and 7: serve in the operational hall.
    OperationalHall,
    /// Item 5: the online channel.
    Online,
    /// Item 8: the service is impossible here.
    RefusedHere,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub id: String,
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
    pub notes: Vec<Reason>,
    pub owner: OwnerFacts,
    pub representation: Option<Representation>,
    /// One entry per registry, in [`Registry::ALL`] order.
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonCode {
    OwnerMinor,
    OwnerIncapable,
    OwnerLimitedCapacity,
    OwnerUnderGuardianship,
    OwnerUnderTrusteeship,
    OwnerCapableAdult,
    OwnerIsOrganisation,
    OwnerDeceased,
    OwnerNotFound,
    BirthDateDiffersFromIin,
    MinorMarried,
    OwnerDeclaredMissing,
    OwnerHasDisability,
    RegistryNotAnswered,
    CapacityStatusExpired,
    /// Note: the decision date lies after the end of every configured act's term.
    LegalBasisExpired,
    /// Note: the decision date lies before every configured act takes effect.
    LegalBasisNotYetInForce,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: ReasonCode,
    /// Worded in the caller's language at the edge.
    pub text: Text,
    pub source: Option<Registry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OwnerFacts {
    pub organisation: bool,
    pub age_years: Option<u32>,
    pub minor: bool,
    pub capacity: Option<CapacityStatus>,
    pub deceased: bool,
    pub under_guardianship: bool,
    /// Declared missing by a court per GBD FL.
    pub declared_missing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    NotConfirmed,
    Mother,
    Father,
    Guardian,
    Trustee,
    Owner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation {
    pub role: Role,
    pub source: Option<Registry>,
    pub record_id: String,
    pub text: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceStatus {
    Found,
    NotFound,
    Unavailable,
    NotConsulted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub registry: Registry,
    pub status: EvidenceStatus,
    /// The decisive record (act number, case number, guardianship record), else the SHEP
    /// message id of the answer.
    pub record_id: String,
    pub source: Option<Source>,
}

/// Runs CheckOwner against the registries.
#[derive(Clone)]
pub struct Decider {
    registries: Registries,
    /// What the registries said about owners, shared by every caller.
    facts: Arc<OwnerFactsCache>,
    /// Replaced on configuration reload.
    rules: Arc<ArcSwap<DecisionConfig>>,
}

impl Decider {
    pub fn new(
        registries: Registries,
        facts: Arc<OwnerFactsCache>,
        rules: Arc<ArcSwap<DecisionConfig>>,
    ) -> Decider {
        legal_basis::report(&rules.load().legal_basis, today());
        Decider {
            registries,
            facts,
            rules,
        }
    }

    /// The rules in force (replaced on reload).
    pub fn rules(&self) -> Arc<DecisionConfig> {
        self.rules.load_full()
    }

    /// The decision, or the registry whose silence makes one impossible (fail closed), or
    /// `INVALID_ARGUMENT` for a decision date before the owner's birth (per GBD FL).
    pub async fn decide(&self, question: &OwnerQuestion) -> Result<Decision, Error> {
        let rules = self.rules.load_full();
        let basis = rules.legal_basis.on(question.date);
        legal_basis::report(&rules.legal_basis, today());
        let note = basis.note(question.date);
        if note.is_some() && rules.legal_basis.on_expired == legal_basis::OnExpired::Refuse {
            return Err(Error::LegalBasis {
                act: basis.act.id.clone(),
                term: legal_basis::term_words(basis.act),
                date: question.date,
            });
        }
        let mut decision = self.decide_by_rules(question, &rules).await?;
        if let Some((code, text)) = note {
            decision.notes.push(Reason {
                code,
                text,
                source: None,
            });
        }
        Ok(decision)
    }

    /// The decision by [`rules`], without the legal basis's note.
    async fn decide_by_rules(
        &self,
        question: &OwnerQuestion,
        rules: &DecisionConfig,
    ) -> Result<Decision, Error> {
        if question.owner.holder() == Holder::Organisation {
            return Ok(rules::organisation());
        }
        let answers = self.ask(question).await;
        // A refused consent, or a request GBD FL refused as invalid, is the caller's answer,
        // whatever the other registries said.
        if let Err(e) = &answers.person {
            if matches!(
                e.failure,
                Failure::ConsentRefused { .. } | Failure::Rejected { .. }
            ) {
                return Err(Error::Registry(e.clone()));
            }
        }
        if let Ok(fetched) = &answers.person {
            if fetched
                .value
                .facts
                .as_ref()
                .is_some_and(|p| question.date < p.birth_date)
            {
                return Err(Error::invalid(
                    "decision_date",
                    "is before the owner's birth date (per GBD FL)",
                ));
            }
        }
        Ok(rules::decide(question, rules, answers)?)
    }

    /// GBD FL, IS ZAGS and E-social security about the owner, in parallel: their facts,
    /// from the owner-facts cache or from the registry.
    async fn ask(&self, question: &OwnerQuestion) -> rules::Answers {
        // The consent token is GBD FL's (kdpToken); the other registries take none.
        let query = Query {
            callers_deadline: question.deadline,
            ..Query::new(question.owner)
        };
        let person_query = Query {
            consent_token: question.consent_token.clone(),
            ..query.clone()
        };
        let (r, facts) = (&self.registries, &self.facts);
        let (person, acts, social) = tokio::join!(
            facts.fetch(
                r.get::<Option<Person>>(),
                &person_query,
                question.gbd_fl_shared_cache
            ),
            facts.fetch(r.get::<CivilActs>(), &query, true),
            facts.fetch(r.get::<SocialStatus>(), &query, true),
        );
        rules::Answers {
            person,
            acts,
            social,
        }
    }
}

impl Decider {
    /// Every owner's decision (or error), checked in parallel, in the owners' order;
    /// `decided` hears of each as soon as it is taken (the audit's per-owner record). Registry
    /// calls go through the registries' cache and single flight: a person asked by two
    /// dwellings at once is asked once.
    pub async fn decide_dwelling(
        &self,
        question: &DwellingQuestion,
        decided: impl Fn(usize, &Result<Decision, Error>),
    ) -> Vec<Result<Decision, Error>> {
        let decided = &decided;
        futures::future::join_all(
            question
                .owners
                .iter()
                .enumerate()
                .map(|(i, owner)| async move {
                    let result = self.decide(owner).await;
                    decided(i, &result);
                    result
                }),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn decision_date_is_strict_and_bounded() {
        let today = d("2026-11-25");
        assert_eq!(decision_date("", today, 31), Ok(today));
        assert_eq!(decision_date("2026-11-25", today, 31), Ok(today));
        assert_eq!(decision_date("2026-10-25", today, 31), Ok(d("2026-10-25")));
        let err = |s: &str| decision_date(s, today, 31).unwrap_err();
        for malformed in [
            "2026-1-5",
            "2026-11-5",
            "-0001-01-01",
            "+2026-11-25",
            "20261125",
            "25.11.2026",
            "2026-02-30",
            "2026-11-25 ",
            "２０２６-11-25",
        ] {
            assert!(err(malformed).contains("YYYY-MM-DD"), "{malformed:?}");
        }
        for future in ["2026-11-26", "2099-01-01", "9999-12-31"] {
            assert!(
                err(future).contains("not be after today (2026-11-25"),
                "{future}"
            );
        }
        for past in ["2026-10-24", "0001-01-01", "2008-02-28"] {
            assert!(err(past).contains("not before 2026-10-25"), "{past}");
        }
        assert_eq!(
            decision_date("2008-02-28", today, 11_000),
            Ok(d("2008-02-28"))
        );
        assert!(decision_date("2026-11-24", today, 0).is_err());
    }
}
