//! The one reading of the register's search text, shared by `/v1/register` and the register
//! page, so that the same words find the same awards and the same suggestions on both: a name
//! (forgiving), an ODS code, or a certificate number — and a slip in a number only when the text
//! is written like one (`CertificateNumber::looks_like`).

use crate::domain::types::search_key;
use crate::domain::{CertificateNumber, OdsCode, Status};
use crate::error_codes::ErrorCode;
use crate::service::Registry;
use crate::service::{AwardRow, RegisterQuery};

/// What a search found.
#[derive(Debug)]
pub struct Found {
    pub rows: Vec<(AwardRow, Status)>,
    pub total: u64,
    /// When nothing matched: (certificate number, organisation name) of the awards one slip
    /// away, by number when the text was a mistyped number, else by name.
    pub did_you_mean: Vec<(String, String)>,
    /// When the text is written like a certificate number whose check character is wrong: the
    /// rule it breaks, in words.
    pub mistyped_number: Option<String>,
}

/// Runs `query` (its filters and page) for the search text `q` (trimmed; empty for none).
pub fn search(registry: &Registry, mut query: RegisterQuery, q: &str) -> Found {
    let mut mistyped_number = None;
    if !q.is_empty() {
        let key = search_key(q);
        query.search_key = (!key.is_empty()).then_some(key);
        query.ods_code = q.parse::<OdsCode>().ok().map(|c| c.to_string());
        match q.parse::<CertificateNumber>() {
            Ok(n) => query.compact_number = Some(n.compact()),
            Err(e)
                if e.code == ErrorCode::CertificateNumberCheckFailed
                    && CertificateNumber::looks_like(q) =>
            {
                mistyped_number = Some(e.message);
            }
            Err(_) => {}
        }
    }
    let key = query.search_key.clone();
    let (rows, total) = registry.search(query);
    let did_you_mean = match (&mistyped_number, key) {
        _ if total > 0 => Vec::new(),
        (Some(_), _) => registry.near_misses(q),
        (None, Some(key)) => registry.fuzzy_matches(&key, 10),
        (None, None) => Vec::new(),
    };
    Found {
        rows,
        total,
        did_you_mean,
        mistyped_number,
    }
}
