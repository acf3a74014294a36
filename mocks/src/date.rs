//! Fixture dates: fixed (`2008-02-29`) or relative to "today" (`today-18y+1d`).

use std::fmt;
use std::str::FromStr;

use chrono::{Days, Months, NaiveDate};

/// A fixed date or an offset from the day a request is answered.
///
/// Relative terms are applied left to right; a year or month step that lands on a missing day
/// (29 February in a common year, 31 April) takes the last day of that month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateSpec {
    /// `YYYY-MM-DD`.
    Fixed(NaiveDate),
    /// `today` followed by zero or more `+N<unit>` / `-N<unit>` terms, unit `y`, `m` or `d`.
    Relative(Vec<Term>),
}

/// One step of a relative date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    /// Negative steps go into the past.
    pub negative: bool,
    /// Number of units.
    pub amount: u32,
    /// Years, months or days.
    pub unit: Unit,
}

/// The unit of a [`Term`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// `y`, twelve months.
    Years,
    /// `m`.
    Months,
    /// `d`.
    Days,
}

/// Largest step accepted, in any unit, so that resolution can never leave chrono's range.
const MAX_AMOUNT: u32 = 100_000;

impl DateSpec {
    /// The calendar date this spec names when today is `today`. Saturates at chrono's limits.
    pub fn resolve(&self, today: NaiveDate) -> NaiveDate {
        match self {
            DateSpec::Fixed(d) => *d,
            DateSpec::Relative(terms) => terms.iter().fold(today, |d, t| t.apply(d)),
        }
    }
}

impl Term {
    fn apply(self, d: NaiveDate) -> NaiveDate {
        let stepped = match (self.unit, self.negative) {
            (Unit::Years, false) => {
                d.checked_add_months(Months::new(self.amount.saturating_mul(12)))
            }
            (Unit::Years, true) => {
                d.checked_sub_months(Months::new(self.amount.saturating_mul(12)))
            }
            (Unit::Months, false) => d.checked_add_months(Months::new(self.amount)),
            (Unit::Months, true) => d.checked_sub_months(Months::new(self.amount)),
            (Unit::Days, false) => d.checked_add_days(Days::new(self.amount.into())),
            (Unit::Days, true) => d.checked_sub_days(Days::new(self.amount.into())),
        };
        stepped.unwrap_or(if self.negative {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
    }
}

/// Why a date string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date `{input}`: {reason} (expected YYYY-MM-DD or today[+-N(y|m|d)]..., e.g. today-18y+1d)")]
pub struct DateError {
    input: String,
    reason: &'static str,
}

impl FromStr for DateSpec {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| DateError {
            input: s.to_owned(),
            reason,
        };
        let Some(mut rest) = s.strip_prefix("today") else {
            return NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|_| s.len() == 10)
                .map(DateSpec::Fixed)
                .ok_or_else(|| err("not a calendar date"));
        };
        let mut terms = Vec::new();
        while let Some(sign) = rest.chars().next() {
            let negative = match sign {
                '+' => false,
                '-' => true,
                _ => return Err(err("a term must start with + or -")),
            };
            rest = &rest[1..];
            let digits_end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits_end == 0 {
                return Err(err("a term needs a number"));
            }
            let amount: u32 = rest[..digits_end]
                .parse()
                .ok()
                .filter(|n| *n <= MAX_AMOUNT)
                .ok_or_else(|| err("number too large"))?;
            rest = &rest[digits_end..];
            let unit = match rest.chars().next() {
                Some('y') => Unit::Years,
                Some('m') => Unit::Months,
                Some('d') => Unit::Days,
                _ => return Err(err("a term needs a unit y, m or d")),
            };
            rest = &rest[1..];
            terms.push(Term {
                negative,
                amount,
                unit,
            });
        }
        Ok(DateSpec::Relative(terms))
    }
}

impl fmt::Display for DateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateSpec::Fixed(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            DateSpec::Relative(terms) => {
                f.write_str("today")?;
                for t in terms {
                    let sign = if t.negative { '-' } else { '+' };
                    let unit = match t.unit {
                        Unit::Years => 'y',
                        Unit::Months => 'm',
                        Unit::Days => 'd',
                    };
                    write!(f, "{sign}{}{unit}", t.amount)?;
                }
                Ok(())
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for DateSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn resolve(s: &str, today: NaiveDate) -> NaiveDate {
        s.parse::<DateSpec>().expect(s).resolve(today)
    }

    #[test]
    fn fixed_and_relative() {
        let today = ymd(2026, 11, 25);
        assert_eq!(resolve("2008-02-29", today), ymd(2008, 2, 29));
        assert_eq!(resolve("today", today), today);
        assert_eq!(resolve("today-18y", today), ymd(2008, 11, 25));
        assert_eq!(resolve("today-18y+1d", today), ymd(2008, 11, 26));
        assert_eq!(resolve("today+2m-3d", today), ymd(2027, 1, 22));
    }

    #[test]
    fn year_step_from_leap_day_lands_on_28_february() {
        assert_eq!(resolve("today-18y", ymd(2026, 2, 28)), ymd(2008, 2, 28));
        assert_eq!(resolve("today+1y", ymd(2024, 2, 29)), ymd(2025, 2, 28));
        assert_eq!(resolve("today-1y", ymd(2024, 2, 29)), ymd(2023, 2, 28));
        // Left to right: the day step comes after the year step.
        assert_eq!(resolve("today+1y+1d", ymd(2024, 2, 29)), ymd(2025, 3, 1));
    }

    #[test]
    fn saturates_instead_of_panicking() {
        assert_eq!(resolve("today+100000y", NaiveDate::MAX), NaiveDate::MAX);
        assert_eq!(resolve("today-100000d", NaiveDate::MIN), NaiveDate::MIN);
    }

    #[test]
    fn display_round_trips() {
        for s in ["today", "today-18y+1d", "2008-02-29"] {
            assert_eq!(s.parse::<DateSpec>().expect(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2024-02-30",
            "2024-2-3",
            "24-02-03",
            "tomorrow",
            "today-",
            "today-18",
            "today18y",
            "today-18w",
            "today-999999999999y",
            "today+1y ",
            " today",
        ] {
            assert!(s.parse::<DateSpec>().is_err(), "{s:?} accepted");
        }
    }
}
