//! The demo fixture's IINs by role (`fixtures/demo.toml`, [`Fixture::demo`](crate::Fixture::demo)).
//!
//! Synthetic numbers with valid check digits; no real persons. Birth dates are fixed and agree
//! with the IINs, except for the persons of [`DAILY`], whose exact age matters: their birth
//! dates are relative to "today", and so are their IINs. For them the constant is the fixture's
//! key (their IIN on 2026-11-25); [`iin`] gives the number to ask for on a given day.

use std::sync::OnceLock;

use chrono::NaiveDate;

/// The persons whose birth date, and hence IIN, is relative to today.
pub const DAILY: [&str; 4] = [
    TURNS_18_TODAY,
    TURNS_18_TOMORROW,
    MINOR_IN_CARE,
    MARRIED_MINOR,
];

/// The IIN of the demo person `key` on `today` (`key` itself unless in [`DAILY`]).
pub fn iin(key: &str, today: NaiveDate) -> String {
    static DEMO: OnceLock<crate::Fixture> = OnceLock::new();
    DEMO.get_or_init(crate::Fixture::demo).iin_on(key, today)
}

/// The GBD FL consent token (`kdpToken`) of the demo person `key` (its IIN, or its fixture key
/// for a person born relative to today): `kdp-demo-<key>`. Valid for that person only.
pub fn consent(key: &str) -> String {
    format!("{CONSENT_PREFIX}{key}")
}

/// Prefix of the demo's valid consent tokens (`consent_token_prefix` of the fixture).
pub const CONSENT_PREFIX: &str = "kdp-demo-";
/// A consent token of [`CAPABLE_ADULT`] that expired yesterday.
pub const EXPIRED_CONSENT: &str = "kdp-demo-expired-860314310210";

/// Alive, capable, about 40: the online channel.
pub const CAPABLE_ADULT: &str = "860314310210";
/// Born 2016-10-16 (a minor until 2034-10-16); ZAGS birth act with mother and father; enrolled
/// at a school in NOBD.
pub const MINOR: &str = "161016620441";
/// The minor's mother per the birth act (capable adult).
pub const MINOR_MOTHER: &str = "880702431094";
/// The minor's father per the birth act (capable adult).
pub const MINOR_FATHER: &str = "851120331100";
/// Born `today-18y` (daily IIN): an adult from the start of today.
pub const TURNS_18_TODAY: &str = "081125540514";
/// Born `today-18y+1d` (daily IIN): still a minor today.
pub const TURNS_18_TOMORROW: &str = "081126640526";
/// Born 2008-02-29, capable: the leap-day convention.
pub const LEAP_DAY_BORN: &str = "080229550079";
/// Adult declared incapable by a court; E-social guardianship and disability group 1.
pub const INCAPABLE_BY_COURT: &str = "790505361139";
/// Guardian of [`INCAPABLE_BY_COURT`] (capable adult; has a name-change act).
pub const INCAPABLE_GUARDIAN: &str = "550930461147";
/// Adult of limited capacity by a court; E-social trusteeship.
pub const LIMITED_CAPACITY: &str = "901201370202";
/// Trustee of [`LIMITED_CAPACITY`] (capable adult).
pub const LIMITED_TRUSTEE: &str = "650117470216";
/// Adult, capable per GBD FL, but under an active E-social guardianship.
pub const GUARDIANSHIP_ONLY: &str = "950808473021";
/// Guardian of [`GUARDIANSHIP_ONLY`] (capable adult).
pub const GUARDIANSHIP_ONLY_GUARDIAN: &str = "700404373038";
/// 15 (born `today-15y-100d`, daily IIN), under trusteeship, at a boarding school without
/// parental care (NOBD).
pub const MINOR_IN_CARE: &str = "110817580045";
/// Trustee of [`MINOR_IN_CARE`] (capable adult).
pub const MINOR_IN_CARE_TRUSTEE: &str = "750211480057";
/// Deceased in GBD FL (life status 2, death date, death certificate) and a ZAGS death act.
pub const DECEASED_GBD: &str = "480621390119";
/// Alive in GBD FL, but ZAGS has a death act.
pub const DECEASED_ZAGS_ONLY: &str = "521003490128";
/// Valid check digit, in no registry: NOTFOUND in GBD FL, empty lists elsewhere.
pub const UNKNOWN: &str = "990101399994";
/// A valid BIN (5th digit 4), in no registry: an organisation owner.
pub const ORGANISATION_BIN: &str = "080540012342";
/// Born 2006-09-26, EPVO full-time student with a dormitory place, married (ZAGS marriage act).
pub const STUDENT: &str = "060926515016";
/// Spouse of [`STUDENT`].
pub const STUDENT_SPOUSE: &str = "050414615027";
/// 17 (born `today-17y-100d`, daily IIN) with a ZAGS marriage act: a fact to report, still a
/// minor by age.
pub const MARRIED_MINOR: &str = "090817616013";
/// Spouse of [`MARRIED_MINOR`] (adult).
pub const MARRIED_MINOR_SPOUSE: &str = "040303516023";
/// Adult declared missing by a court (GBD FL life status 3, with the court's record naming
/// [`MISSING_TRUSTEE`] to manage the property): the operational hall.
pub const DECLARED_MISSING: &str = "750814302116";
/// Spouse of [`DECLARED_MISSING`] and the trustee of the property per GBD FL's court record
/// (capable adult).
pub const MISSING_TRUSTEE: &str = "780203402225";

/// BIN of [`MINOR`]'s school.
pub const SCHOOL_BIN: &str = "011240022110";
/// BIN of [`MINOR_IN_CARE`]'s boarding school.
pub const BOARDING_SCHOOL_BIN: &str = "990440033222";
/// BIN of [`STUDENT`]'s university.
pub const UNIVERSITY_BIN: &str = "960740044332";

/// Twelve digits whose check digit computation yields 10 twice: never issued.
pub const NEVER_ISSUED: &str = "900101300800";
/// [`CAPABLE_ADULT`] with the last digit changed: wrong check digit.
pub const BAD_CHECK_DIGIT: &str = "860314310211";

/// Every `[[person]]` of the demo fixture, in file order ([`UNKNOWN`] and
/// [`ORGANISATION_BIN`] are deliberately absent).
pub const PERSONS: [&str; 23] = [
    CAPABLE_ADULT,
    MINOR,
    MINOR_MOTHER,
    MINOR_FATHER,
    TURNS_18_TODAY,
    TURNS_18_TOMORROW,
    LEAP_DAY_BORN,
    INCAPABLE_BY_COURT,
    INCAPABLE_GUARDIAN,
    LIMITED_CAPACITY,
    LIMITED_TRUSTEE,
    GUARDIANSHIP_ONLY,
    GUARDIANSHIP_ONLY_GUARDIAN,
    MINOR_IN_CARE,
    MINOR_IN_CARE_TRUSTEE,
    DECEASED_GBD,
    DECEASED_ZAGS_ONLY,
    STUDENT,
    STUDENT_SPOUSE,
    MARRIED_MINOR,
    MARRIED_MINOR_SPOUSE,
    DECLARED_MISSING,
    MISSING_TRUSTEE,
];

/// A demo dwelling: a list of demo owners (as a CheckDwelling request lists them) and the
/// applicant of the example, if any. The list with what the gateway answers is in the
/// gateway's docs/demo.md.
#[derive(Debug, Clone, Copy)]
pub struct Dwelling {
    /// Its name in docs/demo.md.
    pub name: &'static str,
    /// Owners' IINs and BINs, every one with a fixed IIN (no [`DAILY`] person).
    pub owners: &'static [&'static str],
    /// The applicant's IIN, or "".
    pub applicant: &'static str,
}

/// One owner, a capable adult: online.
pub const SOLE_OWNER: Dwelling = Dwelling {
    name: "sole owner",
    owners: &[CAPABLE_ADULT],
    applicant: "",
};
/// Two capable adults (the spouses [`MINOR_MOTHER`] and [`MINOR_FATHER`]): online.
pub const SPOUSES: Dwelling = Dwelling {
    name: "spouses",
    owners: &[MINOR_MOTHER, MINOR_FATHER],
    applicant: "",
};
/// Both parents and their child, the mother applying: the hall, the mother confirmed.
pub const FAMILY: Dwelling = Dwelling {
    name: "family",
    owners: &[MINOR_MOTHER, MINOR_FATHER, MINOR],
    applicant: MINOR_MOTHER,
};
/// A ward incapable by a court and the guardian, the guardian applying: the hall.
pub const WARD_AND_GUARDIAN: Dwelling = Dwelling {
    name: "ward and guardian",
    owners: &[INCAPABLE_GUARDIAN, INCAPABLE_BY_COURT],
    applicant: INCAPABLE_GUARDIAN,
};
/// A capable adult and an organisation: online.
pub const WITH_ORGANISATION: Dwelling = Dwelling {
    name: "with an organisation",
    owners: &[CAPABLE_ADULT, ORGANISATION_BIN],
    applicant: "",
};
/// A capable adult and a deceased co-owner (inheritance not registered): refused here, or
/// the hall under the gateway's other convention.
pub const WITH_DECEASED: Dwelling = Dwelling {
    name: "with a deceased co-owner",
    owners: &[CAPABLE_ADULT, DECEASED_GBD],
    applicant: "",
};
/// A capable adult and a co-owner unknown to GBD FL: as [`WITH_DECEASED`].
pub const WITH_UNKNOWN: Dwelling = Dwelling {
    name: "with an unknown co-owner",
    owners: &[MINOR_MOTHER, UNKNOWN],
    applicant: "",
};
/// Eight owners: a married couple, a person of limited capacity and the trustee, a ward and
/// the guardian, an organisation, the leap-day adult; the trustee applies, confirmed for the
/// one but not for the ward: the hall, representation not confirmed for every owner.
pub const MANY_OWNERS: Dwelling = Dwelling {
    name: "many owners",
    owners: &[
        STUDENT,
        STUDENT_SPOUSE,
        LIMITED_CAPACITY,
        LIMITED_TRUSTEE,
        GUARDIANSHIP_ONLY,
        GUARDIANSHIP_ONLY_GUARDIAN,
        ORGANISATION_BIN,
        LEAP_DAY_BORN,
    ],
    applicant: LIMITED_TRUSTEE,
};

/// A couple, one declared missing by a court, the other the trustee of the missing one's
/// property, applying: the hall, the trustee confirmed.
pub const WITH_MISSING: Dwelling = Dwelling {
    name: "with a co-owner declared missing",
    owners: &[MISSING_TRUSTEE, DECLARED_MISSING],
    applicant: MISSING_TRUSTEE,
};

/// Every demo dwelling.
pub const DWELLINGS: [Dwelling; 9] = [
    SOLE_OWNER,
    SPOUSES,
    FAMILY,
    WARD_AND_GUARDIAN,
    WITH_ORGANISATION,
    WITH_DECEASED,
    WITH_UNKNOWN,
    MANY_OWNERS,
    WITH_MISSING,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{iin, Fixture};

    #[test]
    fn demo_numbers_are_what_they_claim() {
        for p in PERSONS {
            assert!(iin::is_person_iin(p), "{p}");
        }
        assert!(iin::is_person_iin(UNKNOWN));
        for b in [
            ORGANISATION_BIN,
            SCHOOL_BIN,
            BOARDING_SCHOOL_BIN,
            UNIVERSITY_BIN,
        ] {
            assert!(iin::is_bin(b), "{b}");
        }
        assert!(NEVER_ISSUED.starts_with("90010130080"));
        assert_eq!(iin::check_digit(NEVER_ISSUED), None);
        assert_eq!(BAD_CHECK_DIGIT.len(), 12);
        assert!(iin::check_digit(BAD_CHECK_DIGIT).is_some());
        assert!(!iin::is_valid(BAD_CHECK_DIGIT));
    }

    /// On every day (two years, a leap day included) each person's IIN is valid, encodes the
    /// birth date GBD FL gives that day, leads back to the person, and is nobody else's.
    #[test]
    fn demo_iins_agree_with_birth_dates_on_every_day() {
        let f = Fixture::demo();
        let mut day = NaiveDate::from_ymd_opt(2027, 12, 1).unwrap();
        for _ in 0..800 {
            let mut seen = std::collections::HashSet::new();
            for key in PERSONS {
                let number = f.iin_on(key, day);
                assert!(iin::is_person_iin(&number), "{key} on {day}: {number}");
                let birth = f.person(key).unwrap().birth_date.resolve(day);
                assert_eq!(
                    number[..6],
                    birth.format("%y%m%d").to_string(),
                    "{key} on {day}"
                );
                assert_eq!(f.key_of(&number, day), key, "{number} on {day}");
                assert!(seen.insert(number.clone()), "{number} twice on {day}");
                if !DAILY.contains(&key) {
                    assert_eq!(number, key, "a fixed birth date keeps its IIN");
                }
            }
            day = day.pred_opt().unwrap();
        }
        // A daily person's key is nobody's IIN on a day it is not theirs.
        let other = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
        assert_eq!(f.key_of(TURNS_18_TODAY, other), "");
        assert_eq!(
            iin(
                TURNS_18_TODAY,
                NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
            ),
            TURNS_18_TODAY
        );
    }

    #[test]
    fn demo_dwellings_list_fixed_demo_owners_once() {
        for d in DWELLINGS {
            let mut seen = std::collections::HashSet::new();
            for owner in d.owners {
                assert!(seen.insert(owner), "{}: {owner} twice", d.name);
                assert!(!DAILY.contains(owner), "{}: {owner} is daily", d.name);
                assert!(
                    PERSONS.contains(owner) || [UNKNOWN, ORGANISATION_BIN].contains(owner),
                    "{}: {owner}",
                    d.name
                );
            }
            assert!(d.applicant.is_empty() || PERSONS.contains(&d.applicant));
        }
    }

    #[test]
    fn demo_fixture_matches_the_constants() {
        let f = Fixture::demo();
        assert_eq!(f.person_count(), PERSONS.len());
        let mut seen = std::collections::HashSet::new();
        for p in PERSONS {
            assert!(seen.insert(p), "{p} listed twice");
            assert!(f.person(p).is_some(), "{p} missing from demo.toml");
        }
        for absent in [UNKNOWN, ORGANISATION_BIN, NEVER_ISSUED, BAD_CHECK_DIGIT] {
            assert!(f.person(absent).is_none(), "{absent}");
        }
        for n in f.all_numbers() {
            assert!(iin::is_valid(n), "{n}");
        }
    }
}
