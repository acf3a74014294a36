//! Age on a date, with the 29 February convention made explicit.
//!
//! A person is 18 from the start of their 18th birthday (Civil Code art. 17). For a birth on
//! 29 February the anniversary in a non-leap year is 28 February or 1 March, per
//! [`LeapDayBirthday`]; 18 years after a leap year is never a leap year, so the convention
//! always decides the 18th birthday of such a person.

use chrono::{Datelike, NaiveDate};

use super::LeapDayBirthday;

/// Full capacity comes at this age (art. 17).
pub const ADULT_AGE: u32 = 18;

/// The `years`th anniversary of `birth`.
pub fn anniversary(birth: NaiveDate, years: u32, rule: LeapDayBirthday) -> NaiveDate {
    let year = birth.year() + years as i32;
    birth.with_year(year).unwrap_or_else(|| {
        // Only 29 February has no match in another year.
        let (month, day) = match rule {
            LeapDayBirthday::Feb28 => (2, 28),
            LeapDayBirthday::Mar1 => (3, 1),
        };
        NaiveDate::from_ymd_opt(year, month, day).unwrap_or(birth)
    })
}

/// Age in full years on `date` (0 for a date before the birth).
pub fn age_on(birth: NaiveDate, date: NaiveDate, rule: LeapDayBirthday) -> u32 {
    if date <= birth {
        return 0;
    }
    let years = (date.year() - birth.year()) as u32;
    if date < anniversary(birth, years, rule) {
        years - 1
    } else {
        years
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LeapDayBirthday::{Feb28, Mar1};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn eighteen_from_the_start_of_the_birthday() {
        let birth = d("2008-11-25");
        assert_eq!(age_on(birth, d("2026-11-24"), Feb28), 17);
        assert_eq!(age_on(birth, d("2026-11-25"), Feb28), 18);
        assert_eq!(age_on(birth, d("2026-11-26"), Feb28), 18);
    }

    #[test]
    fn leap_day_births_follow_the_convention_on_both_sides() {
        let birth = d("2008-02-29");
        assert_eq!(anniversary(birth, 18, Feb28), d("2026-02-28"));
        assert_eq!(anniversary(birth, 18, Mar1), d("2026-03-01"));
        // feb28: adult on 28 February, a minor the day before.
        assert_eq!(age_on(birth, d("2026-02-27"), Feb28), 17);
        assert_eq!(age_on(birth, d("2026-02-28"), Feb28), 18);
        // mar1: still a minor on 28 February, adult on 1 March.
        assert_eq!(age_on(birth, d("2026-02-28"), Mar1), 17);
        assert_eq!(age_on(birth, d("2026-03-01"), Mar1), 18);
        // In a leap year the birthday itself exists.
        assert_eq!(age_on(birth, d("2028-02-28"), Mar1), 19);
        assert_eq!(age_on(birth, d("2028-02-29"), Mar1), 20);
    }

    #[test]
    fn before_birth_is_zero() {
        assert_eq!(age_on(d("2020-01-01"), d("2019-01-01"), Feb28), 0);
        assert_eq!(age_on(d("2020-01-01"), d("2020-01-01"), Feb28), 0);
        assert_eq!(age_on(d("2020-01-01"), d("2020-12-31"), Feb28), 0);
        assert_eq!(age_on(d("2020-01-01"), d("2021-01-01"), Feb28), 1);
    }
}
