//! CheckOwner: the routing decision of joint order 801/500 (appendix, items 3-8).
//!
//! [`Decider::check`] asks GBD FL, IS ZAGS and E-social security in parallel, then
//! [`rules::decide`] (pure, unit-tested) turns their answers into an [`Outcome`] with reasons
//! and evidence. The rule that matters most: never answer [`Outcome::Online`] unless every
//! registry that could have sent the owner to the hall or refused the service has answered.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{FixedOffset, NaiveDate, Utc};

use crate::config::DecisionConfig;
use crate::iin::{Holder, Iin};
use crate::registry::{CapacityStatus, Query, Registries, Registry, RegistryError, Source};

pub mod age;
pub mod rules;

/// Kazakhstan's time zone (a single UTC+5 zone since 1 March 2024).
pub fn kazakhstan_offset() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// Today's date in Kazakhstan.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&kazakhstan_offset()).date_naive()
}

/// The question IIS TsON asks at item 6.
#[derive(Debug, Clone)]
pub struct OwnerCheck {
    pub owner: Iin,
    pub service: Service,
    pub applicant: Option<Iin>,
    pub date: NaiveDate,
    pub consent_token: Option<String>,
    /// The caller's deadline.
    pub deadline: Option<tokio::time::Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
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

impl Outcome {
    /// The item of the order's algorithm that applies.
    pub fn order_item(self) -> &'static str {
        match self {
            Outcome::OperationalHall => "4",
            Outcome::Online => "5",
            Outcome::RefusedHere => "8",
        }
    }
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: ReasonCode,
    pub text: String,
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
    pub text: String,
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
    /// Replaced on configuration reload.
    rules: Arc<ArcSwap<DecisionConfig>>,
}

impl Decider {
    pub fn new(registries: Registries, rules: Arc<ArcSwap<DecisionConfig>>) -> Decider {
        Decider { registries, rules }
    }

    /// The decision, or the registry whose silence makes one impossible (fail closed).
    pub async fn check(&self, check: &OwnerCheck) -> Result<Decision, RegistryError> {
        if check.owner.holder() == Holder::Organisation {
            return Ok(rules::organisation());
        }
        let query = Query {
            iin: check.owner,
            consent_token: check.consent_token.clone(),
            deadline: check.deadline,
            budget: check.deadline,
        };
        let registries = &self.registries;
        let (person, acts, social) = tokio::join!(
            registries.gbd_fl.person(&query),
            registries.zags.civil_acts(&query),
            registries.social.social_status(&query),
        );
        rules::decide(
            check,
            &self.rules.load(),
            rules::Answers {
                person,
                acts,
                social,
            },
        )
    }
}
