//! The register in memory, indexed for search: every award in the register's order (the award
//! itself, shared with the state it was read from, and its search key); which rows each 3-byte
//! sequence of a search key and each ODS code appear in; and the rows in the order of their
//! compact certificate numbers. A search tests only the
//! rows its text can match, not every row of the register; the test itself is still
//! `RegisterQuery::matches`, the rule the SQL search applies, so the index narrows what is
//! tested and never decides a match. The forgiving
//! look-up by name (`near_names`) draws its candidates from the same 3-byte sequences, within a
//! fixed budget (`limits::MAX_SUGGESTION_POSTINGS`, `limits::MAX_SUGGESTION_CANDIDATES`), and
//! keeps its answers per query while the register does not move. A search with no text (the
//! console's list by level and status) is decided on each row's filters kept in three bytes
//! (`Filters`), each worked out by `RegisterQuery::matches` itself for the index's day, so a
//! list of the whole register reads a few hundred kilobytes rather than every row.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::domain::types::search_key;
use crate::domain::{Award, Level, Region, Status, search};
use crate::limits::{MAX_SUGGESTION_CANDIDATES, MAX_SUGGESTION_POSTINGS, SUGGESTION_CACHE_ENTRIES};
use crate::store::{RegisterQuery, Searched, searched_order};

/// Near matches by name, as (certificate number, organisation name).
pub(crate) type NearNames = Arc<Vec<(String, String)>>;

/// The rows of the register and where each piece of search text appears in them.
#[derive(Debug, Default)]
pub(crate) struct RegisterIndex {
    /// Every award, in the register's order (`store::register_order`): shared with the state
    /// the index was built from, so the index copies none of an award's text.
    awards: Vec<Arc<Award>>,
    /// Every award's search key, end to end in the same order, and where each ends.
    keys: String,
    key_ends: Vec<u32>,
    /// For each 3-byte sequence of a search key, the rows whose key holds it, in order.
    trigrams: HashMap<[u8; 3], Vec<u32>>,
    /// The rows of each ODS code, in order.
    by_ods: HashMap<String, Vec<u32>>,
    /// Every row, in the order of its certificate number without hyphens (searched by halving:
    /// a map of 100,000 numbers would cost some ten megabytes for what is nearly one row each).
    by_compact: Vec<u32>,
    /// The near matches of the queries asked since the register last moved, at most
    /// `SUGGESTION_CACHE_ENTRIES` of them.
    near: Mutex<HashMap<(String, usize), NearNames>>,
    /// The day (`YYYY-MM-DD`) the rows' statuses in `filters` are of.
    today: String,
    /// Each row's filters, by row.
    filters: Vec<Filters>,
}

/// One row of the index: an award and its search key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub(crate) award: &'a Award,
    search_key: &'a str,
}

impl<'a> Row<'a> {
    fn of(award: &'a Award, search_key: &'a str) -> Row<'a> {
        Row { award, search_key }
    }

    pub(crate) fn search_key(&self) -> &'a str {
        self.search_key
    }

    /// What a search tests and orders the row by (`projection::award_row`'s fields of the same
    /// names), its compact number and dates written into `text`.
    pub(crate) fn searched<'b>(&self, text: &'b mut RowText) -> Searched<'b>
    where
        'a: 'b,
    {
        let a = self.award;
        text.compact = a.certificate_number.compact_bytes();
        text.awarded_on.write(a.awarded_on);
        text.expires_on.write(a.expires_on());
        Searched {
            certificate_number: a.certificate_number.as_str(),
            compact_number: std::str::from_utf8(&text.compact)
                .expect("a compact number is the alphabet's ASCII"),
            search_key: self.search_key,
            ods_code: a.ods_code.as_ref().map(|c| c.as_str()),
            region: a.region.as_str(),
            level: a.level.as_str(),
            awarded_on: text.awarded_on.as_str(),
            expires_on: text.expires_on.as_str(),
            standing: a.standing.as_str(),
        }
    }
}

/// What a row's `Searched` borrows that its award does not hold as text, written on the stack.
#[derive(Debug, Default)]
pub(crate) struct RowText {
    compact: [u8; 16],
    awarded_on: DateText,
    expires_on: DateText,
}

/// A date as `NaiveDate` writes it (`YYYY-MM-DD`; a sign and more digits past year 9999).
#[derive(Debug, Default)]
struct DateText {
    bytes: [u8; 16],
    len: usize,
}

impl DateText {
    fn write(&mut self, date: chrono::NaiveDate) {
        self.len = 0;
        write!(self, "{date}").expect("a date is at most 14 characters");
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("a date is written in ASCII")
    }
}

impl std::fmt::Write for DateText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let room = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// What a search with no text filters a row by, in three bytes: its level and region (their
/// place in `Level::ALL` and `Region::ALL`, `UNKNOWN` for neither) and, one bit for each of
/// `Status::ALL`, whether `RegisterQuery::matches` admits it under that status filter on the
/// index's day. Each filter is a separate condition of `matches`, so a row passes the three
/// exactly when `matches` would admit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Filters {
    level: u8,
    region: u8,
    statuses: u8,
}

/// A level or region the filters do not know.
const UNKNOWN: u8 = u8::MAX;

fn level_code(level: &str) -> u8 {
    Level::ALL
        .iter()
        .position(|l| l.as_str() == level)
        .map_or(UNKNOWN, |i| i as u8)
}

fn region_code(region: &str) -> u8 {
    Region::ALL
        .iter()
        .position(|r| r.as_str() == region)
        .map_or(UNKNOWN, |i| i as u8)
}

fn status_bit(status: &str) -> Option<u8> {
    Status::ALL
        .iter()
        .position(|s| s.as_str() == status)
        .map(|i| 1 << i)
}

impl Filters {
    /// `row`'s filters, given each status filter alone on the index's day (`status_alone`),
    /// in the order of `Status::ALL`.
    fn of(row: Row<'_>, status_alone: &[RegisterQuery]) -> Filters {
        let mut text = RowText::default();
        let row = row.searched(&mut text);
        let statuses = status_alone
            .iter()
            .enumerate()
            .filter(|(_, alone)| alone.matches(row))
            .fold(0, |bits, (i, _)| bits | 1 << i);
        Filters {
            level: level_code(row.level),
            region: region_code(row.region),
            statuses,
        }
    }
}

/// A search with no text, as the filters it asks for (`None` where it asks for none).
struct Wanted {
    level: Option<u8>,
    region: Option<u8>,
    statuses: Option<u8>,
}

impl Wanted {
    /// `query`'s filters, when it has no text, is of `today`, and names only levels, regions
    /// and statuses the filters know; otherwise it is tested row by row.
    fn of(query: &RegisterQuery, today: &str) -> Option<Wanted> {
        let no_text = query.search_key.is_none()
            && query.ods_code.is_none()
            && query.compact_number.is_none();
        if !no_text || query.today != today {
            return None;
        }
        let known = |code: u8| (code != UNKNOWN).then_some(code);
        Some(Wanted {
            level: match &query.level {
                Some(l) => Some(known(level_code(l))?),
                None => None,
            },
            region: match &query.region {
                Some(r) => Some(known(region_code(r))?),
                None => None,
            },
            statuses: match &query.status {
                Some(s) => Some(status_bit(s)?),
                None => None,
            },
        })
    }

    fn admits(&self, f: &Filters) -> bool {
        self.level.is_none_or(|l| l == f.level)
            && self.region.is_none_or(|r| r == f.region)
            && self.statuses.is_none_or(|s| s & f.statuses != 0)
    }
}

/// The 3-byte sequences of `key` with a space either side, so a word's first and last letters
/// are in sequences of their own; each once, sorted.
fn trigrams_of(key: &str) -> Vec<[u8; 3]> {
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
    /// Indexes `awards` (in any order) on the day `today` (`YYYY-MM-DD`): each is a row, in
    /// the register's order.
    pub(crate) fn new(awards: Vec<Arc<Award>>, today: String) -> RegisterIndex {
        let mut keyed: Vec<(String, Arc<Award>)> = awards
            .into_iter()
            .map(|a| (search_key(a.organisation_name.as_str()), a))
            .collect();
        // The register's order (`searched_order`), whose first key is the search key: the
        // rest of the row is written out only for rows whose keys are the same.
        keyed.sort_by(|(ka, a), (kb, b)| {
            ka.cmp(kb).then_with(|| {
                let (mut ta, mut tb) = (RowText::default(), RowText::default());
                searched_order(
                    Row::of(a, ka).searched(&mut ta),
                    Row::of(b, kb).searched(&mut tb),
                )
            })
        });
        let mut index = RegisterIndex {
            today,
            ..RegisterIndex::default()
        };
        index
            .keys
            .reserve_exact(keyed.iter().map(|(k, _)| k.len()).sum());
        index.key_ends.reserve_exact(keyed.len());
        index.awards.reserve_exact(keyed.len());
        for (key, award) in keyed {
            index.keys.push_str(&key);
            index
                .key_ends
                .push(u32::try_from(index.keys.len()).expect("the keys are far under 4 GB"));
            index.awards.push(award);
        }
        let status_alone: Vec<RegisterQuery> = Status::ALL
            .iter()
            .map(|status| RegisterQuery {
                status: Some(status.as_str().to_owned()),
                today: index.today.clone(),
                ..RegisterQuery::default()
            })
            .collect();
        index.filters = index
            .rows()
            .map(|row| Filters::of(row, &status_alone))
            .collect();
        let mut trigrams: HashMap<[u8; 3], Vec<u32>> = HashMap::new();
        let mut by_ods: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, row) in index.rows().enumerate() {
            let i = u32::try_from(i).expect("fewer than 2^32 awards");
            for trigram in trigrams_of(row.search_key()) {
                trigrams.entry(trigram).or_default().push(i);
            }
            if let Some(ods) = &row.award.ods_code {
                by_ods.entry(ods.as_str().to_owned()).or_default().push(i);
            }
        }
        // The postings were grown by doubling: up to half of each is unused.
        for rows in trigrams.values_mut() {
            rows.shrink_to_fit();
        }
        index.trigrams = trigrams;
        index.by_ods = by_ods;
        index.by_compact = (0..index.awards.len())
            .map(|i| u32::try_from(i).expect("fewer than 2^32 awards"))
            .collect();
        let awards = &index.awards;
        index
            .by_compact
            .sort_by_cached_key(|&i| awards[i as usize].certificate_number.compact_bytes());
        index
    }

    /// The row at `i`, in the register's order.
    fn row(&self, i: usize) -> Row<'_> {
        let start = if i == 0 {
            0
        } else {
            self.key_ends[i - 1] as usize
        };
        Row::of(
            &self.awards[i],
            &self.keys[start..self.key_ends[i] as usize],
        )
    }

    /// Every row, in the register's order.
    fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        (0..self.awards.len()).map(|i| self.row(i))
    }

    /// The rows `query` matches, in the register's order, as they are found (a page of them
    /// and their count need no list of every match).
    pub(crate) fn matching<'a>(
        &'a self,
        query: &'a RegisterQuery,
    ) -> impl Iterator<Item = Row<'a>> + 'a {
        if let Some(wanted) = Wanted::of(query, &self.today) {
            let rows: Box<dyn Iterator<Item = Row<'a>> + 'a> = Box::new(
                self.filters
                    .iter()
                    .zip(self.rows())
                    .filter(move |(f, _)| wanted.admits(f))
                    .map(|(_, row)| row),
            );
            return rows;
        }
        let rows: Box<dyn Iterator<Item = Row<'a>> + 'a> = match self.candidates(query) {
            Some(candidates) => Box::new(candidates.into_iter().map(|i| self.row(i as usize))),
            None => Box::new(self.rows()),
        };
        Box::new(rows.filter(|row| {
            let mut text = RowText::default();
            query.matches(row.searched(&mut text))
        }))
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
            .flat_map(|w| trigrams_of(w))
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
            .map(|(i, _)| self.row(i as usize))
            .filter(|row| search::name_matches(&wanted, row.search_key()))
            .map(|row| {
                (
                    row.award.certificate_number.to_string(),
                    row.award.organisation_name.to_string(),
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
        if let Some(rows) = query.ods_code.as_ref().and_then(|c| self.by_ods.get(c)) {
            found.extend_from_slice(rows);
        }
        if let Some(wanted) = &query.compact_number {
            let number = |i: &u32| self.awards[*i as usize].certificate_number.compact_bytes();
            let wanted = wanted.as_bytes();
            let from = self
                .by_compact
                .partition_point(|i| number(i).as_slice() < wanted);
            found.extend(
                self.by_compact[from..]
                    .iter()
                    .take_while(|i| number(i).as_slice() == wanted),
            );
        }
        found.sort_unstable();
        found.dedup();
        Some(found)
    }
}
