//! The one reading of the register's search text, shared by `/v1/register` and the register
//! page, so that the same words find the same awards on both: a name (forgiving), an ODS code,
//! or a certificate number — and a slip in a number only when the text is written like one
//! (`CertificateNumber::looks_like`). When nothing matches exactly, the awards one slip away
//! are the results, each with its status like any other, marked as near matches. A text with
//! no letter or digit searches for nothing (`check_text` says why), never the whole register.

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
    /// Whether `rows` are near matches: nothing matched exactly, and these awards are one slip
    /// away, by number when the text was a mistyped number, else by name.
    pub near: bool,
    /// The near matches as (certificate number, organisation name), whatever the filters.
    pub did_you_mean: Vec<(String, String)>,
    /// When the text is written like a certificate number whose check character is wrong: the
    /// rule it breaks, in words.
    pub mistyped_number: Option<String>,
}

/// The rule a search text breaks, in words, if it has nothing to search by: a text that is
/// not empty but holds no letter or digit (punctuation, emoji) would otherwise be no text at
/// all, and list the whole register.
pub fn check_text(q: &str) -> Result<(), String> {
    if q.is_empty() || !search_key(q).is_empty() {
        return Ok(());
    }
    Err(format!(
        "a search needs at least one letter or digit of a name, an ODS code or a certificate \
         number; \u{201c}{q}\u{201d} has none"
    ))
}

/// `search` on a blocking thread, not on the async workers: at tens of thousands of awards a
/// search (and the index rebuilt after a write) is work enough to delay `/healthz` and every
/// other request sharing a worker.
pub async fn search_off_workers(
    registry: std::sync::Arc<Registry>,
    query: RegisterQuery,
    q: String,
) -> Result<Found, actix_web::error::BlockingError> {
    actix_web::web::block(move || search(&registry, query, &q)).await
}

/// Runs `query` (its filters and page) for the search text `q` (trimmed; empty for none).
pub fn search(registry: &Registry, mut query: RegisterQuery, q: &str) -> Found {
    let mut mistyped_number = None;
    if check_text(q).is_err() {
        return Found {
            rows: Vec::new(),
            total: 0,
            near: false,
            did_you_mean: Vec::new(),
            mistyped_number,
        };
    }
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
    let (rows, total) = registry.search(query.clone());
    let did_you_mean = match (&mistyped_number, key) {
        _ if total > 0 => Vec::new(),
        (Some(_), _) => registry.near_misses(q),
        (None, Some(key)) => registry.fuzzy_matches(&key, 10),
        (None, None) => Vec::new(),
    };
    if did_you_mean.is_empty() {
        return Found {
            rows,
            total,
            near: false,
            did_you_mean,
            mistyped_number,
        };
    }
    let near = near_rows(registry, &query, &did_you_mean);
    Found {
        total: near.len() as u64,
        rows: near,
        near: true,
        did_you_mean,
        mistyped_number,
    }
}

/// The near matches' rows with their status today, as the filters of `query` allow them, in
/// the order found (at most a page of them: the look-ups return ten or so).
fn near_rows(
    registry: &Registry,
    query: &RegisterQuery,
    near: &[(String, String)],
) -> Vec<(AwardRow, Status)> {
    near.iter()
        .filter_map(|(number, _)| number.parse::<CertificateNumber>().ok())
        .flat_map(|number| {
            let exact = RegisterQuery {
                search_key: None,
                ods_code: None,
                compact_number: Some(number.compact()),
                offset: 0,
                limit: 1,
                ..query.clone()
            };
            registry.search(exact).0
        })
        .take(query.limit as usize)
        .collect()
}
