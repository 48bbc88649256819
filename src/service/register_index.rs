//! The register in memory, indexed for search: every award's projection row in the register's
//! order, and which rows each 3-byte sequence of a search key, each ODS code and each compact
//! certificate number appear in. A search tests only the rows its text can match, not every row
//! of the register; the test itself is still `RegisterQuery::matches`, the rule the SQL search
//! applies, so the index narrows what is tested and never decides a match.

use std::collections::HashMap;

use crate::store::{AwardRow, RegisterQuery};

/// The rows of the register and where each piece of search text appears in them.
#[derive(Debug, Default)]
pub struct RegisterIndex {
    /// Every award's row, in the register's order (`store::register_order`).
    pub rows: Vec<AwardRow>,
    /// For each 3-byte sequence of a search key, the rows whose key holds it, in order.
    trigrams: HashMap<[u8; 3], Vec<u32>>,
    /// The rows of each ODS code, in order.
    by_ods: HashMap<String, Vec<u32>>,
    /// The rows of each certificate number without hyphens, in order.
    by_compact: HashMap<String, Vec<u32>>,
}

impl RegisterIndex {
    /// Indexes `rows`, which are in the register's order.
    pub fn new(rows: Vec<AwardRow>) -> RegisterIndex {
        let mut index = RegisterIndex::default();
        for (i, row) in rows.iter().enumerate() {
            let i = u32::try_from(i).expect("fewer than 2^32 awards");
            let mut seen: Vec<[u8; 3]> = row
                .search_key
                .as_bytes()
                .windows(3)
                .map(|w| [w[0], w[1], w[2]])
                .collect();
            seen.sort_unstable();
            seen.dedup();
            for trigram in seen {
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

    /// The rows `query` matches, in the register's order.
    pub fn matching<'a>(&'a self, query: &'a RegisterQuery) -> Vec<&'a AwardRow> {
        match self.candidates(query) {
            Some(candidates) => candidates
                .into_iter()
                .map(|i| &self.rows[i as usize])
                .filter(|row| query.matches(row))
                .collect(),
            None => self.rows.iter().filter(|row| query.matches(row)).collect(),
        }
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
