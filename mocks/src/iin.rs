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

#[cfg(test)]
mod tests {
    use super::*;

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
