//! Forgiving look-ups over the register, pure: the registered certificate numbers one slip away
//! from a mistyped one, and the awards whose organisation's name matches a query allowing a slip
//! in each word.

use crate::domain::types::search_key;
use crate::domain::{CertificateNumber, State};

/// Every 16-character string one slip away from `input` (one character changed, or two
/// neighbours swapped), in upper case; none unless `input` has 16 letters and digits.
pub(crate) fn near_miss_candidates(input: &str) -> Vec<Vec<u8>> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let compact: Vec<u8> = input
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() != 16 {
        return Vec::new();
    }
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for i in 0..compact.len() {
        for c in ALPHABET {
            if *c != compact[i] {
                let mut v = compact.clone();
                v[i] = *c;
                candidates.push(v);
            }
        }
        if i + 1 < compact.len() {
            let mut v = compact.clone();
            v.swap(i, i + 1);
            candidates.push(v);
        }
    }
    candidates
}

/// The candidates that are valid certificate numbers of awards in `state`, as (number,
/// organisation name), sorted, each once.
pub(crate) fn registered(state: &State, candidates: &[Vec<u8>]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = candidates
        .iter()
        .filter_map(|v| {
            std::str::from_utf8(v)
                .ok()?
                .parse::<CertificateNumber>()
                .ok()
        })
        .filter_map(|n| {
            state
                .awards
                .get(&n)
                .map(|a| (n.to_string(), a.organisation_name.to_string()))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The words of a search key, each to be found (allowing a slip) in a name's words.
pub fn query_words(key: &str) -> Vec<String> {
    search_key(key)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a name whose search key is `name_key` matches every one of the `wanted` words allowing
/// a slip in each (one wrong letter in a short word, two in a long one; a word of four letters
/// or more may also be the start of a name's word).
pub fn name_matches(wanted: &[String], name_key: &str) -> bool {
    let close = |a: &str, b: &str| {
        let allowed = if a.chars().count() <= 5 { 1 } else { 2 };
        a == b || strsim::osa_distance(a, b) <= allowed || (a.len() >= 4 && b.starts_with(a))
    };
    !wanted.is_empty()
        && wanted
            .iter()
            .all(|w| name_key.split(' ').any(|n| close(w, n)))
}
