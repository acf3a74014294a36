//! Kazakhstan's clock: the time zone (a single UTC+5 zone since 1 March 2024) in which ages
//! are counted, decision dates are judged, SHEP messages are dated and audit records are
//! stamped. A leaf module: it imports nothing from the crate.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Kazakhstan's offset from UTC.
pub fn kazakhstan_offset() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// Now, in Kazakhstan.
pub fn now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&kazakhstan_offset())
}

/// Today's date in Kazakhstan.
pub fn today() -> NaiveDate {
    now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kazakhstan_is_five_hours_ahead_of_utc() {
        assert_eq!(kazakhstan_offset().local_minus_utc(), 5 * 3600);
        let utc_date = Utc::now().date_naive();
        let days = (today() - utc_date).num_days();
        assert!((0..=1).contains(&days), "{days}");
    }
}
