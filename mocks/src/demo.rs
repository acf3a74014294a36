//! The demo fixture's IINs by role (`fixtures/demo.toml`, [`Fixture::demo`](crate::Fixture::demo)).
//!
//! Synthetic numbers with valid check digits; no real persons. Ages that matter are relative to
//! "today", so the roles stay true whatever the date.

/// Alive, capable, about 40: the online channel.
pub const CAPABLE_ADULT: &str = "860314310210";
/// About 10; ZAGS birth act with mother and father; enrolled at a school in NOBD.
pub const MINOR: &str = "161016620441";
/// The minor's mother per the birth act (capable adult).
pub const MINOR_MOTHER: &str = "880702431094";
/// The minor's father per the birth act (capable adult).
pub const MINOR_FATHER: &str = "851120331100";
/// Born `today-18y`: an adult from the start of today.
pub const TURNS_18_TODAY: &str = "081125540514";
/// Born `today-18y+1d`: still a minor today.
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
/// 15, under trusteeship, at a boarding school without parental care (NOBD).
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
/// 20, EPVO full-time student with a dormitory place, married (ZAGS marriage act).
pub const STUDENT: &str = "060926515016";
/// Spouse of [`STUDENT`].
pub const STUDENT_SPOUSE: &str = "050414615027";
/// 17 with a ZAGS marriage act: a fact to report, still a minor by age.
pub const MARRIED_MINOR: &str = "090817616013";
/// Spouse of [`MARRIED_MINOR`] (adult).
pub const MARRIED_MINOR_SPOUSE: &str = "040303516023";

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
pub const PERSONS: [&str; 21] = [
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
