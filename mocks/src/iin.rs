//! IIN / BIN check digits.
//!
//! d1..d12: s = sum(d_i * i, i = 1..=11) mod 11; if s == 10, s = sum(d_i * w_i) mod 11 with
//! w = 3,4,5,6,7,8,9,10,11,1,2; if s is 10 again the number is never issued. A number is valid
//! iff s == d12. A BIN has the same check digit and 4, 5 or 6 as its 5th digit; an IIN has 0-3
//! there (the tens of the birth day).

const SECOND_WEIGHTS: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/// The twelve digits of `s`, if it is exactly twelve ASCII digits.
fn digits(s: &str) -> Option<[u32; 12]> {
    let bytes = s.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = [0; 12];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = u32::from(b - b'0');
    }
    Some(out)
}

/// The check digit for the first eleven digits of `s`; `None` if `s` is not twelve digits or
/// the number is never issued (the computation yields 10 twice).
pub fn check_digit(s: &str) -> Option<u32> {
    let d = digits(s)?;
    let first: u32 = d[..11].iter().zip(1..).map(|(x, w)| x * w).sum::<u32>() % 11;
    if first != 10 {
        return Some(first);
    }
    let second: u32 = d[..11]
        .iter()
        .zip(SECOND_WEIGHTS)
        .map(|(x, w)| x * w)
        .sum::<u32>()
        % 11;
    (second != 10).then_some(second)
}

/// Twelve digits with a correct check digit (an IIN or a BIN).
pub fn is_valid(s: &str) -> bool {
    match (check_digit(s), digits(s)) {
        (Some(c), Some(d)) => c == d[11],
        _ => false,
    }
}

/// A valid number whose 5th digit is 4, 5 or 6: a legal entity's BIN.
pub fn is_bin(s: &str) -> bool {
    is_valid(s) && matches!(s.as_bytes()[4], b'4'..=b'6')
}

/// A valid number whose 5th digit is 0-3: a person's IIN.
pub fn is_person_iin(s: &str) -> bool {
    is_valid(s) && matches!(s.as_bytes()[4], b'0'..=b'3')
}

/// A person's IIN for `birth` and sex (`male`), with the serial digits (8-11) of `serial_from`:
/// digits 1-6 `YYMMDD`, digit 7 the century and sex (1/2 1800s, 3/4 1900s, 5/6 2000s; odd
/// male), then a valid check digit (the serial counts up past a never-issued number). `None`
/// for a birth year outside 1800-2099 or a `serial_from` that is not twelve digits.
pub fn for_birth_date(birth: chrono::NaiveDate, male: bool, serial_from: &str) -> Option<String> {
    use chrono::Datelike;
    let century = match birth.year() {
        1800..=1899 => 1,
        1900..=1999 => 3,
        2000..=2099 => 5,
        _ => return None,
    };
    let sex = if male { century } else { century + 1 };
    let mut serial: u32 = serial_from.get(7..11)?.parse().ok()?;
    digits(serial_from)?;
    for _ in 0..10_000 {
        let head = format!("{}{sex}{serial:04}0", birth.format("%y%m%d"));
        if let Some(check) = check_digit(&head) {
            return Some(format!("{}{check}", &head[..11]));
        }
        serial = (serial + 1) % 10_000;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iin_for_a_birth_date() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        // The nominal demo numbers are what the rule gives on their own birth dates.
        assert_eq!(
            for_birth_date(d("2008-11-25"), true, "081125540514").as_deref(),
            Some("081125540514")
        );
        assert_eq!(
            for_birth_date(d("2008-11-26"), false, "081126640526").as_deref(),
            Some("081126640526")
        );
        for (birth, male) in [
            ("1999-12-31", false),
            ("2009-02-28", true),
            ("1850-01-01", true),
        ] {
            let iin = for_birth_date(d(birth), male, "000000012340").unwrap();
            assert!(is_person_iin(&iin), "{iin}");
            assert_eq!(&iin[..6], &birth[2..].replace('-', "")[..], "{iin}");
        }
        assert_eq!(
            &for_birth_date(d("1999-12-31"), false, "000000012340").unwrap()[6..7],
            "4"
        );
        assert_eq!(for_birth_date(d("2100-01-01"), true, "000000012340"), None);
    }

    #[test]
    fn published_vectors() {
        for v in ["061211600012", "980109050588", "900101300811"] {
            assert!(is_valid(v), "{v}");
            assert!(is_person_iin(v), "{v}");
        }
    }

    #[test]
    fn never_issued_prefix() {
        for last in 0..10 {
            let s = format!("90010130080{last}");
            assert_eq!(check_digit(&s), None, "{s}");
            assert!(!is_valid(&s));
        }
    }

    #[test]
    fn rejects_wrong_shape_and_digit() {
        assert!(!is_valid("06121160001"));
        assert!(!is_valid("0612116000123"));
        assert!(!is_valid("06121160001a"));
        assert!(!is_valid("061211600013"));
        assert!(!is_valid("٠٦١٢١١٦٠٠٠١٢"));
    }

    #[test]
    fn bin_is_told_apart() {
        assert!(is_bin("080540012342"));
        assert!(!is_person_iin("080540012342"));
        assert!(!is_bin("061211600012"));
    }
}
