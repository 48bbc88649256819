//! The register in memory, indexed for search: every award's projection row in the register's
//! order, and which rows each 3-byte sequence of a search key, each ODS code and each compact
//! certificate number appear in. A search tests only the rows its text can match, not every row
//! of the register; the test itself is still `RegisterQuery::matches`, the rule the SQL search
//! applies, so the index narrows what is tested and never decides a match. The forgiving
//! look-up by name (`near_names`) draws its candidates from the same 3-byte sequences, within a
//! fixed budget (`limits::MAX_SUGGESTION_POSTINGS`, `limits::MAX_SUGGESTION_CANDIDATES`), and
//! keeps its answers per query while the register does not move.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::search;
use crate::limits::{MAX_SUGGESTION_CANDIDATES, MAX_SUGGESTION_POSTINGS, SUGGESTION_CACHE_ENTRIES};
use crate::store::{AwardRow, RegisterQuery};

/// Near matches by name, as (certificate number, organisation name).
pub(crate) type NearNames = Arc<Vec<(String, String)>>;

/// The rows of the register and where each piece of search text appears in them.
#[derive(Debug, Default)]
pub(crate) struct RegisterIndex {
    /// Every award's row, in the register's order (`store::register_order`).
    pub(crate) rows: Vec<AwardRow>,
    /// For each 3-byte sequence of a search key, the rows whose key holds it, in order.
    trigrams: HashMap<[u8; 3], Vec<u32>>,
    /// The rows of each ODS code, in order.
    by_ods: HashMap<String, Vec<u32>>,
    /// The rows of each certificate number without hyphens, in order.
    by_compact: HashMap<String, Vec<u32>>,
    /// The near matches of the queries asked since the register last moved, at most
    /// `SUGGESTION_CACHE_ENTRIES` of them.
    near: Mutex<HashMap<(String, usize), NearNames>>,
}

/// The 3-byte sequences of `key` with a space either side, so a word's first and last letters
/// are in sequences of their own; each once, sorted.
fn trigrams(key: &str) -> Vec<[u8; 3]> {
    let padded = format!(" {key} ");
    let mut seen: Vec<[u8; 3]> = padded
        .as_bytes()
        .windows(3)
        .map(|w| [w[0], w[1], w[2]])
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen
}

impl RegisterIndex {
    /// Indexes `rows`, which are in the register's order.
    pub(crate) fn new(rows: Vec<AwardRow>) -> RegisterIndex {
        let mut index = RegisterIndex::default();
        for (i, row) in rows.iter().enumerate() {
            let i = u32::try_from(i).expect("fewer than 2^32 awards");
            for trigram in trigrams(&row.search_key) {
                index.trigrams.entry(trigram).or_default().push(i);
            }
            if let Some(ods) = &row.ods_code {
                index.by_ods.entry(ods.clone()).or_default().push(i);
            }
            index
                .by_compact
                .entry(row.compact_number.clone())
                .or_default()
                .push(i);
        }
        index.rows = rows;
        index
    }

    /// The rows `query` matches, in the register's order, as they are found (a page of them
    /// and their count need no list of every match).
    pub(crate) fn matching<'a>(
        &'a self,
        query: &'a RegisterQuery,
    ) -> impl Iterator<Item = &'a AwardRow> + 'a {
        let rows: Box<dyn Iterator<Item = &'a AwardRow> + 'a> = match self.candidates(query) {
            Some(candidates) => Box::new(candidates.into_iter().map(|i| &self.rows[i as usize])),
            None => Box::new(self.rows.iter()),
        };
        rows.filter(|row| query.matches(row))
    }

    /// Awards whose organisation's name matches the search key `key` allowing a slip in each
    /// word (`domain::search::name_matches`), as (number, organisation name), by name, at most
    /// `limit`. Only rows sharing a 3-byte sequence with the query are candidates: the rarest
    /// sequences are counted first, until `MAX_SUGGESTION_POSTINGS` rows have been counted, and
    /// the `MAX_SUGGESTION_CANDIDATES` rows sharing the most are tested. So the work is bounded
    /// whatever the size of the register; a name sharing no sequence with the query (a
    /// three-letter word with its middle letter wrong) is not suggested.
    pub(crate) fn near_names(&self, key: &str, limit: usize) -> NearNames {
        let cache_key = (key.to_owned(), limit);
        if let Some(hit) = self.near_cache().get(&cache_key) {
            return hit.clone();
        }
        let found = Arc::new(self.find_near_names(key, limit));
        let mut cache = self.near_cache();
        if cache.len() >= SUGGESTION_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(cache_key, found.clone());
        found
    }

    fn near_cache(&self) -> std::sync::MutexGuard<'_, HashMap<(String, usize), NearNames>> {
        self.near
            .lock()
            .expect("the near-match cache's lock is never poisoned")
    }

    fn find_near_names(&self, key: &str, limit: usize) -> Vec<(String, String)> {
        let wanted = search::query_words(key);
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut postings: Vec<&[u32]> = wanted
            .iter()
            .flat_map(|w| trigrams(w))
            .filter_map(|t| self.trigrams.get(&t).map(Vec::as_slice))
            .collect();
        postings.sort_by_key(|rows| rows.len());
        postings.dedup();
        let mut shared: HashMap<u32, u32> = HashMap::new();
        let mut counted = 0usize;
        for rows in postings {
            if counted + rows.len() > MAX_SUGGESTION_POSTINGS && counted > 0 {
                break;
            }
            counted += rows.len();
            for &i in rows.iter().take(MAX_SUGGESTION_POSTINGS) {
                *shared.entry(i).or_default() += 1;
            }
        }
        let mut candidates: Vec<(u32, u32)> = shared.into_iter().collect();
        candidates.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        candidates.truncate(MAX_SUGGESTION_CANDIDATES);
        let mut found: Vec<(String, String)> = candidates
            .into_iter()
            .map(|(i, _)| &self.rows[i as usize])
            .filter(|row| search::name_matches(&wanted, &row.search_key))
            .map(|row| {
                (
                    row.certificate_number.clone(),
                    row.organisation_name.clone(),
                )
            })
            .collect();
        found.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(&y.0)));
        found.truncate(limit);
        found
    }

    /// The rows `query`'s text could match (every row it matches among them), in order; `None`
    /// when it asks for no text, or for a fragment too short to be indexed, and every row must
    /// be tested.
    fn candidates(&self, query: &RegisterQuery) -> Option<Vec<u32>> {
        if query.search_key.is_none() && query.ods_code.is_none() && query.compact_number.is_none()
        {
            return None;
        }
        let mut found: Vec<u32> = Vec::new();
        if let Some(key) = &query.search_key {
            if key.len() < 3 {
                return None;
            }
            // A row whose key holds the fragment holds each of its 3-byte sequences: the rows
            // of the rarest one are enough to test.
            let rarest = key
                .as_bytes()
                .windows(3)
                .map(|w| {
                    self.trigrams
                        .get(&[w[0], w[1], w[2]])
                        .map_or(&[][..], Vec::as_slice)
                })
                .min_by_key(|rows| rows.len())
                .unwrap_or_default();
            found.extend_from_slice(rarest);
        }
        let exact = |map: &HashMap<String, Vec<u32>>, wanted: &Option<String>| -> Vec<u32> {
            wanted
                .as_ref()
                .and_then(|w| map.get(w))
                .cloned()
                .unwrap_or_default()
        };
        found.extend(exact(&self.by_ods, &query.ods_code));
        found.extend(exact(&self.by_compact, &query.compact_number));
        found.sort_unstable();
        found.dedup();
        Some(found)
    }
}
