//! `[decision]`: the rules of the CheckOwner and CheckDwelling decisions that the law leaves
//! to a convention, and CheckDwelling's bound on owners.

use serde::{Deserialize, Serialize};

use super::legal_basis::LegalBasisConfig;
use crate::i18n::Lang;
use crate::validate::{Invalid, Validate};

/// Rules of the CheckOwner and CheckDwelling decisions that the law leaves to a convention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionConfig {
    /// When someone born on 29 February turns 18 in a non-leap year.
    pub leap_day_birthday: LeapDayBirthday,
    /// Whether a married minor (full capacity by marriage, Civil Code art. 17) is routed as an
    /// adult. The order speaks of minors by age, so by default they are not.
    pub married_minor_as_adult: bool,
    /// How many days back from today (UTC+5) a `decision_date` may lie: a decision reviewed
    /// after the fact. Dates after today are always refused.
    pub max_days_back: u32,
    /// CheckDwelling: the most owners one request may list (1 to [`DecisionConfig::MAX_OWNERS`]).
    pub max_owners: usize,
    /// CheckDwelling: what a deceased co-owner, or one unknown to GBD FL, makes of the dwelling.
    pub deceased_co_owner: DeceasedCoOwner,
    /// The language of the texts (reasons, notes, order items, warning) for a call without an
    /// `accept-language` naming `kk`, `ru` or `en`. Default `en`: the texts callers got before
    /// the languages came, so a client that never sends `accept-language` sees no change.
    pub default_language: Lang,
    /// The act the answers follow and cite, its term and its wording (`[decision.legal_basis]`).
    pub legal_basis: LegalBasisConfig,
}

impl Default for DecisionConfig {
    fn default() -> DecisionConfig {
        DecisionConfig {
            leap_day_birthday: LeapDayBirthday::Feb28,
            married_minor_as_adult: false,
            max_days_back: DecisionConfig::DEFAULT_MAX_DAYS_BACK,
            max_owners: DecisionConfig::DEFAULT_MAX_OWNERS,
            deceased_co_owner: DeceasedCoOwner::Refuse,
            default_language: Lang::En,
            legal_basis: LegalBasisConfig::default(),
        }
    }
}

impl DecisionConfig {
    /// Default `max_days_back`: a month of decisions may be reviewed.
    pub const DEFAULT_MAX_DAYS_BACK: u32 = 31;
    /// Largest accepted `max_days_back` (about 30 years).
    pub const MAX_DAYS_BACK: u32 = 11_000;
    /// Default `max_owners`: more than any dwelling the pilot expects (spouses, parents and
    /// children, a few heirs).
    pub const DEFAULT_MAX_OWNERS: usize = 20;
    /// Largest accepted `max_owners`: one call stays one employee's question.
    pub const MAX_OWNERS: usize = 100;
}

/// What a co-owner who is deceased (GBD FL or an IS ZAGS death act) or unknown to GBD FL
/// makes of a dwelling: an inheritance not yet registered, or a number typed wrong.
///
/// Default `refuse`: the dwelling is `REFUSED_HERE` (item 8), whatever the other owners are.
/// It is what CheckOwner answers for a sole owner in that state, and the order's hall has no
/// step for it: the hall verifies the powers of a minor's or an incapacitated owner's legal
/// representative (items 4 and 7), while nobody represents a dead owner's share until the
/// heirs have registered their rights. `hall` sends the dwelling to the operational hall
/// instead, where the employee sees the heirs' documents, for a Public Service Centre whose
/// hall handles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeceasedCoOwner {
    Refuse,
    Hall,
}

/// The anniversary of a 29 February birth in a non-leap year.
///
/// Default `feb28`: by the civil-law rule for periods, a period that ends in a month without
/// the matching date ends on that month's last day, so the 18 years end on 28 February.
/// `mar1` is the other reading (the day after 28 February).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeapDayBirthday {
    Feb28,
    Mar1,
}

impl Validate for DecisionConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.max_days_back > DecisionConfig::MAX_DAYS_BACK {
            return Err(Invalid::new(
                "max_days_back",
                format!("must be at most {}", DecisionConfig::MAX_DAYS_BACK),
            ));
        }
        if !(1..=DecisionConfig::MAX_OWNERS).contains(&self.max_owners) {
            return Err(Invalid::new(
                "max_owners",
                format!("must be 1 to {}", DecisionConfig::MAX_OWNERS),
            ));
        }
        self.legal_basis
            .validate()
            .map_err(|e| e.under("legal_basis"))
    }
}
