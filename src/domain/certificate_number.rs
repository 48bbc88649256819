//! Certificate numbers: 15 random Crockford base-32 characters and a Luhn mod 32 check
//! character. Built only by parsing (which forgives case, spacing and look-alikes and refuses a
//! wrong check character) or from random bits.

use std::str::FromStr;

use super::parse::{ParseError, string_serde};
use crate::error_codes::ErrorCode;

/// Crockford's base-32 alphabet: no I, L, O or U, so a number read aloud or typed from paper
/// cannot be confused.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Data characters in a certificate number: 15 × 5 = 75 random bits.
const DATA_CHARS: usize = 15;
/// The characters of a number as written: four groups of four, three hyphens between.
const WRITTEN: usize = 19;

/// A certificate number: 15 random Crockford base-32 characters (75 bits) and one Luhn mod 32
/// check character, shown as four groups of four (`FDXE-J5BM-RRNV-PEDM`). Parsing forgives case,
/// spaces, missing hyphens and the look-alikes O/0 and I/L/1, and refuses a wrong check character.
/// Kept as its 19 ASCII characters in place, not as a `String`: the register holds every number
/// several times (its map's key, the award, its organisation's list), and in place they need no
/// allocation each. Ordered and hashed as its text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CertificateNumber([u8; WRITTEN]);

impl std::fmt::Debug for CertificateNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CertificateNumber")
            .field(&self.as_str())
            .finish()
    }
}

impl CertificateNumber {
    /// Builds a number from 75 bits of randomness (the caller supplies them: the domain has no
    /// random source).
    pub fn from_random(random: u128) -> Self {
        let mut data = Vec::with_capacity(DATA_CHARS + 1);
        for i in 0..DATA_CHARS {
            data.push(((random >> (5 * i)) & 31) as u8);
        }
        data.push(luhn_check(&data));
        CertificateNumber(group(&data))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("made only of the alphabet's ASCII and hyphens")
    }

    /// The number as it is when typed without separators, for search.
    pub fn compact(&self) -> String {
        self.as_str().replace('-', "")
    }

    /// `compact`, as its sixteen bytes (no allocation: the register index orders and finds
    /// every award by it).
    pub(crate) fn compact_bytes(&self) -> [u8; 16] {
        let mut compact = [0; 16];
        for (to, from) in compact
            .iter_mut()
            .zip(self.0.iter().filter(|&&b| b != b'-'))
        {
            *to = *from;
        }
        compact
    }

    /// Whether `text` is written the way a certificate number is, so that a search reads it as
    /// one (and a wrong check character as a slip) rather than as words: sixteen characters of
    /// the number's alphabet once hyphens and spaces are gone, unbroken or in four groups of
    /// four, with at least one digit. "Fenmarsh Hospital" has sixteen letters too, but as two
    /// words of eight with no digit it is a name.
    pub(crate) fn looks_like(text: &str) -> bool {
        let groups: Vec<&str> = text
            .split(|c: char| c == '-' || c.is_whitespace())
            .filter(|g| !g.is_empty())
            .collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.chars().count()).collect();
        let grouped = lengths.len() == 1 || lengths == [4, 4, 4, 4];
        grouped
            && lengths.iter().sum::<usize>() == DATA_CHARS + 1
            && groups.iter().any(|g| g.chars().any(|c| c.is_ascii_digit()))
            && digits_of(text).is_ok()
    }

    /// For a number whose check character is wrong, the numbers a single mistyped character
    /// would most likely have come from: the same data with the right check character.
    pub fn suggest(input: &str) -> Option<CertificateNumber> {
        let digits = digits_of(input).ok()?;
        if digits.len() != DATA_CHARS + 1 {
            return None;
        }
        let mut data = digits[..DATA_CHARS].to_vec();
        data.push(luhn_check(&data));
        Some(CertificateNumber(group(&data)))
    }
}

fn digits_of(input: &str) -> Result<Vec<u8>, ParseError> {
    let mut digits = Vec::with_capacity(DATA_CHARS + 1);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        match ALPHABET.iter().position(|&a| a as char == c) {
            Some(index) => digits.push(index as u8),
            None => {
                return Err(ParseError::new(
                    ErrorCode::CertificateNumberMalformed,
                    format!(
                        "a certificate number has 16 letters and digits (no U), like FDXE-J5BM-RRNV-PEDM; {c:?} is not one of them"
                    ),
                ));
            }
        }
    }
    Ok(digits)
}

fn group(digits: &[u8]) -> [u8; WRITTEN] {
    debug_assert_eq!(digits.len(), DATA_CHARS + 1);
    let mut out = [b'-'; WRITTEN];
    for (i, d) in digits.iter().enumerate() {
        out[i + i / 4] = ALPHABET[*d as usize];
    }
    out
}

/// Luhn mod N (N = 32): catches every single mistyped character and most swaps of neighbours.
fn luhn_check(data: &[u8]) -> u8 {
    let sum = luhn_sum(data, 2);
    ((32 - sum % 32) % 32) as u8
}

fn luhn_sum(digits: &[u8], first_factor: u32) -> u32 {
    let mut factor = first_factor;
    let mut sum = 0;
    for d in digits.iter().rev() {
        let addend = factor * u32::from(*d);
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    sum
}

impl FromStr for CertificateNumber {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = digits_of(s)?;
        if digits.len() != DATA_CHARS + 1 {
            return Err(ParseError::new(
                ErrorCode::CertificateNumberMalformed,
                format!(
                    "a certificate number has 16 letters and digits, like FDXE-J5BM-RRNV-PEDM; this one has {}",
                    digits.len()
                ),
            ));
        }
        if !luhn_sum(&digits, 1).is_multiple_of(32) {
            return Err(ParseError::new(
                ErrorCode::CertificateNumberCheckFailed,
                "the certificate number's last character does not match the others: a character was probably mistyped",
            ));
        }
        Ok(CertificateNumber(group(&digits)))
    }
}
string_serde!(CertificateNumber);

#[cfg(test)]
mod tests {
    use super::CertificateNumber;

    #[test]
    fn compact_bytes_are_the_compact_number() {
        for written in ["VWYD-FAX6-41KK-KT3G", "R80W-FS2P-5Q96-CYN0"] {
            let number: CertificateNumber = written.parse().expect("a valid number");
            assert_eq!(
                number.compact_bytes().as_slice(),
                number.compact().as_bytes()
            );
            assert_eq!(number.compact(), written.replace('-', ""));
        }
    }
}
