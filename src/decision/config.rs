//! `[decision]`: the rules of the CheckOwner decision that the law leaves to a convention.

use serde::{Deserialize, Serialize};

use crate::validate::{Invalid, Validate};

/// Rules of the CheckOwner decision that the law leaves to a convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Default for DecisionConfig {
    fn default() -> DecisionConfig {
        DecisionConfig {
            leap_day_birthday: LeapDayBirthday::Feb28,
            married_minor_as_adult: false,
            max_days_back: DecisionConfig::DEFAULT_MAX_DAYS_BACK,
        }
    }
}

impl DecisionConfig {
    /// Default `max_days_back`: a month of decisions may be reviewed.
    pub const DEFAULT_MAX_DAYS_BACK: u32 = 31;
    /// Largest accepted `max_days_back` (about 30 years).
    pub const MAX_DAYS_BACK: u32 = 11_000;
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
        Ok(())
    }
}
