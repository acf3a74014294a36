//! The format-and-logic check (FLK) of an IIN or BIN: 12 digits and a two-pass check digit.
//!
//! An IIN (individual identification number) is `YYMMDD` + century-and-sex digit + 4 serial
//! digits + check digit. A BIN (business identification number) has the same length and check
//! digit; its 5th digit is 4, 5 or 6, where an IIN's (the tens of the day) is 0 to 3.
//!
//! Since 2013 the digits need not match the person's data: the birth date that counts is the
//! one in GBD FL. [`Iin::encoded_birth_date`] exists only to note a mismatch.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use chrono::NaiveDate;

/// A 12-digit number that passed the FLK: either a person's IIN or an organisation's BIN.
/// `Debug` and `Display` print the masked form; use [`Iin::as_str`] for the digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iin([u8; 12]);

/// Why a string is not a usable IIN/BIN. The text is the rule, for a field violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IinError {
    #[error("must be exactly 12 digits")]
    Format,
    #[error("check digit (12th digit) does not match the first 11 digits")]
    CheckDigit,
    #[error("is never issued: its check digit cannot be computed")]
    NeverIssued,
}

/// Whom a valid number identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Person,
    Organisation,
}

/// The check digit of the first 11 digits, or `None` for a number that is never issued.
fn check_digit(digits: &[u8; 12]) -> Option<u8> {
    const SECOND_PASS: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    let weighted = |weight: &dyn Fn(usize) -> u32| -> u32 {
        (0..11)
            .map(|i| u32::from(digits[i]) * weight(i))
            .sum::<u32>()
            % 11
    };
    let mut sum = weighted(&|i| i as u32 + 1);
    if sum == 10 {
        sum = weighted(&|i| SECOND_PASS[i]);
    }
    (sum != 10).then_some(sum as u8)
}

impl Iin {
    /// Runs the FLK on `s`.
    pub fn parse(s: &str) -> Result<Iin, IinError> {
        let bytes: &[u8; 12] = s.as_bytes().try_into().map_err(|_| IinError::Format)?;
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(IinError::Format);
        }
        let digits = bytes.map(|b| b - b'0');
        match check_digit(&digits) {
            None => Err(IinError::NeverIssued),
            Some(c) if c != digits[11] => Err(IinError::CheckDigit),
            Some(_) => Ok(Iin(*bytes)),
        }
    }

    fn digit(&self, i: usize) -> u8 {
        self.0[i] - b'0'
    }

    pub fn holder(&self) -> Holder {
        if self.digit(4) >= 4 {
            Holder::Organisation
        } else {
            Holder::Person
        }
    }

    /// The birth date the digits encode (digits 1-7), if they form one.
    pub fn encoded_birth_date(&self) -> Option<NaiveDate> {
        let two = |i: usize| u32::from(self.digit(i) * 10 + self.digit(i + 1));
        let century = match self.digit(6) {
            1 | 2 => 1800,
            3 | 4 => 1900,
            5 | 6 => 2000,
            _ => return None,
        };
        NaiveDate::from_ymd_opt(century + two(0) as i32, two(2), two(4))
    }

    /// The 12 digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII digits by construction")
    }

    /// The 12 digits as a number: a compact key.
    pub fn number(&self) -> u64 {
        self.0.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0'))
    }

    /// A stable, non-reversible token for logs, spans and metrics: never the digits.
    /// Keyed per process, so tokens correlate within one run and mean nothing outside it.
    pub fn masked(&self) -> Masked {
        static KEY: OnceLock<std::hash::RandomState> = OnceLock::new();
        let mut hasher = KEY.get_or_init(std::hash::RandomState::new).build_hasher();
        hasher.write(&self.0);
        Masked(hasher.finish() as u32)
    }
}

/// The masked form of an IIN, `iin#` followed by 8 hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Masked(u32);

impl fmt::Display for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "iin#{:08x}", self.0)
    }
}

impl fmt::Debug for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.masked(), f)
    }
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.masked(), f)
    }
}

/// `text` with every run of 12 or more digits (an IIN or BIN someone quoted) replaced by
/// `<number>`: for text from outside (a registry's fault, a parser's error, a caller's request
/// id) that ends up in an error message or a log. Borrows `text` when it has no such run.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let long_run = |t: &str| {
        t.split(|c: char| !c.is_ascii_digit())
            .any(|run| run.len() >= 12)
    };
    if !long_run(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        out.push_str(if digits.len() >= 12 {
            "<number>"
        } else {
            digits
        });
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_vectors_are_valid() {
        for s in ["061211600012", "980109050588", "900101300811"] {
            let iin = Iin::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(iin.as_str(), s);
            assert_eq!(iin.holder(), Holder::Person);
        }
    }

    #[test]
    fn second_pass_is_used_when_first_gives_ten() {
        // 900101300811: the first pass gives 10, the second gives 1.
        let d = b"900101300811".map(|b| b - b'0');
        let first: u32 = (0..11)
            .map(|i| u32::from(d[i]) * (i as u32 + 1))
            .sum::<u32>()
            % 11;
        assert_eq!(first, 10);
        assert_eq!(check_digit(&d), Some(1));
    }

    #[test]
    fn numbers_starting_90010130080_are_never_issued() {
        for last in 0..=9 {
            let s = format!("90010130080{last}");
            assert_eq!(Iin::parse(&s), Err(IinError::NeverIssued), "{s}");
        }
    }

    #[test]
    fn wrong_check_digit_is_refused() {
        assert_eq!(Iin::parse("061211600013"), Err(IinError::CheckDigit));
        assert_eq!(Iin::parse("980109050580"), Err(IinError::CheckDigit));
    }

    #[test]
    fn format_is_checked_before_the_digit() {
        for s in [
            "",
            "06121160001",
            "0612116000120",
            "06121160001a",
            " 61211600012",
            "０６１２１１６０００１２",
        ] {
            assert_eq!(Iin::parse(s), Err(IinError::Format), "{s:?}");
        }
    }

    #[test]
    fn bin_is_recognised_by_its_fifth_digit() {
        // Find a valid number with 5th digit 4 from a fixed prefix, checking the rule itself.
        let bin = (0..10)
            .map(|c| format!("05014000012{c}"))
            .find_map(|s| Iin::parse(&s).ok())
            .expect("one check digit fits");
        assert_eq!(bin.holder(), Holder::Organisation);
    }

    #[test]
    fn encoded_birth_date_uses_the_century_digit() {
        let iin = Iin::parse("061211600012").unwrap();
        assert_eq!(
            iin.encoded_birth_date(),
            NaiveDate::from_ymd_opt(2006, 12, 11)
        );
        let iin = Iin::parse("980109050588").unwrap();
        // Century digit 0 encodes nothing.
        assert_eq!(iin.encoded_birth_date(), None);
        let iin = Iin::parse("900101300811").unwrap();
        assert_eq!(
            iin.encoded_birth_date(),
            NaiveDate::from_ymd_opt(1990, 1, 1)
        );
    }

    #[test]
    fn display_and_debug_never_show_digits() {
        let iin = Iin::parse("061211600012").unwrap();
        for text in [
            format!("{iin}"),
            format!("{iin:?}"),
            format!("{}", iin.masked()),
        ] {
            assert!(!text.contains("0612116"), "{text}");
            assert!(text.starts_with("iin#"), "{text}");
        }
        assert_eq!(iin.masked(), Iin::parse("061211600012").unwrap().masked());
    }
}
