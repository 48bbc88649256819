//! The one reading of the register's search text, shared by `/v1/register` and the register
//! page, so that the same words find the same awards on both: a name (forgiving), an ODS code,
//! or a certificate number — and a slip in a number only when the text is written like one
//! (`CertificateNumber::looks_like`). When nothing matches exactly, the awards one slip away
//! are the results, each with its status like any other, marked as near matches. A text with
//! no letter or digit searches for nothing (`check_text` says why), never the whole register.
//! A search is asked in typed values (`SearchRequest`) and answered in the service's own rows
//! (`Listed`): what the store's query and rows look like is this file's business alone.

use std::sync::Arc;

use super::Registry;
use crate::domain::types::search_key;
use crate::domain::{CertificateNumber, Level, OdsCode, Region, Status};
use crate::error_codes::ErrorCode;
use crate::store::{AwardRow, RegisterQuery};

/// A search of the register: the text as written (trimmed; empty for none), the filters, and
/// the page (`limit` rows from `offset`).
#[derive(Debug, Clone, Default)]
pub(crate) struct SearchRequest {
    pub(crate) text: String,
    pub(crate) level: Option<Level>,
    pub(crate) region: Option<Region>,
    pub(crate) status: Option<Status>,
    pub(crate) limit: u32,
    pub(crate) offset: u32,
}

/// One award as the register lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) certificate_number: String,
    pub(crate) organisation_name: String,
    pub(crate) ods_code: Option<String>,
    /// The region's code.
    pub(crate) region: String,
    /// The level's code.
    pub(crate) level: String,
    pub(crate) awarded_on: String,
    pub(crate) valid_until: String,
}

impl From<AwardRow> for Listed {
    fn from(row: AwardRow) -> Listed {
        Listed {
            certificate_number: row.certificate_number,
            organisation_name: row.organisation_name,
            ods_code: row.ods_code,
            region: row.region,
            level: row.level,
            awarded_on: row.awarded_on,
            valid_until: row.valid_until,
        }
    }
}

/// What a search found.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) rows: Vec<(Listed, Status)>,
    pub(crate) total: u64,
    /// Whether `rows` are near matches: nothing matched exactly, and these awards are one slip
    /// away, by number when the text was a mistyped number, else by name.
    pub(crate) near: bool,
    /// The near matches as (certificate number, organisation name), whatever the filters.
    pub(crate) did_you_mean: Vec<(String, String)>,
    /// When the text is written like a certificate number whose check character is wrong: the
    /// rule it breaks, in words.
    pub(crate) mistyped_number: Option<String>,
}

/// A search that did not finish: its thread was lost (the runtime shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the search's thread did not finish: {0}")]
pub(crate) struct SearchFailed(String);

/// The rule a search text breaks, in words, if it has nothing to search by: a text that is
/// not empty but holds no letter or digit (punctuation, emoji) would otherwise be no text at
/// all, and list the whole register.
pub(crate) fn check_text(q: &str) -> Result<(), String> {
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
pub(crate) async fn search_off_workers(
    registry: Arc<Registry>,
    request: SearchRequest,
) -> Result<Found, SearchFailed> {
    tokio::task::spawn_blocking(move || search(&registry, &request))
        .await
        .map_err(|e| SearchFailed(e.to_string()))
}

/// Runs `request` (its filters and page) for its text.
pub(crate) fn search(registry: &Registry, request: &SearchRequest) -> Found {
    let q = request.text.as_str();
    let mut query = RegisterQuery {
        level: request.level.map(|l| l.as_str().to_owned()),
        region: request.region.map(|r| r.as_str().to_owned()),
        status: request.status.map(|s| s.as_str().to_owned()),
        today: registry.today().to_string(),
        limit: request.limit,
        offset: request.offset,
        ..RegisterQuery::default()
    };
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
            rows: listed(rows),
            total,
            near: false,
            did_you_mean,
            mistyped_number,
        };
    }
    let near = near_rows(registry, &query, &did_you_mean);
    Found {
        total: near.len() as u64,
        rows: listed(near),
        near: true,
        did_you_mean,
        mistyped_number,
    }
}

fn listed(rows: Vec<(AwardRow, Status)>) -> Vec<(Listed, Status)> {
    rows.into_iter()
        .map(|(row, status)| (Listed::from(row), status))
        .collect()
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
