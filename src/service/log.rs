//! The log part of the registry: the store, the writer task's channel, and the log as folded in
//! memory (`Cache`), read forward by one catch-up at a time. Invariant: the in-memory state is
//! only ever the fold of the log's first `size` entries, each checked against its stored leaf
//! and chain hashes as it is read; nothing but `read_on`, `apply_committed` and
//! `apply_committed_pieces` (the writer's own commits, which follow what memory holds) and
//! `reset` changes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::mpsc;

use super::writer::{Job, WriterStats};
use super::{ServiceError, uk_date};
use crate::domain::{Event, State};
use crate::store::{EventStore, Store, StoreError, StoredEvent};

/// The log as folded in memory, as of `state.size` entries.
pub(super) struct Cache {
    pub(super) state: State,
    pub(super) versions: StreamVersions,
    /// The Merkle tree over every event's leaf hash, in position order.
    pub(super) tree: crate::transparency::merkle::Tree,
    /// When each event was recorded (unix seconds), by position: what the feeds date an entry.
    pub(super) recorded_at: Vec<i64>,
    /// The chain hash after the last event read, recomputed from the entries.
    pub(super) chain: Vec<u8>,
    /// Where the stored log stopped following from its entries as it was read (an entry whose
    /// leaf or chain hash is not what its bytes and the entries before it give): nothing after
    /// it is read until the whole log is read again (`reload`).
    pub(super) broken: Option<String>,
}

impl Cache {
    pub(super) fn empty() -> Cache {
        Cache {
            state: State::default(),
            versions: StreamVersions::default(),
            tree: crate::transparency::merkle::Tree::new(),
            recorded_at: Vec::new(),
            chain: crate::store::GENESIS_CHAIN.to_vec(),
            broken: None,
        }
    }

    /// What memory holds of the log, for `crate::testing` only.
    #[cfg(feature = "testing")]
    pub(super) fn memory(&self) -> crate::testing::Memory {
        let mut versions: Vec<(String, i64)> = self
            .versions
            .organisations
            .iter()
            .map(|(id, v)| {
                let id = crate::domain::OrganisationId(uuid::Uuid::from_u128(*id));
                (crate::domain::events::organisation_stream(id), *v)
            })
            .chain(self.versions.others.iter().map(|(s, v)| (s.clone(), *v)))
            .collect();
        versions.sort();
        crate::testing::Memory {
            state: self.state.clone(),
            versions,
            chain: self.chain.clone(),
            root: self.tree.root(self.tree.size()),
            recorded_at: self.recorded_at.clone(),
            broken: self.broken.clone(),
        }
    }

    /// Applies `stored` (decoded as `event`) if it follows from the entries before it: the
    /// next position, its leaf hash its bytes', its chain hash the chain's next. When it does
    /// not, the cache is marked broken there, and `false` returned.
    fn follow(&mut self, stored: &StoredEvent, event: Result<Event, StoreError>) -> bool {
        let leaf = crate::transparency::merkle::leaf_hash(&stored.payload);
        let leaf_matches = stored.leaf_hash.as_slice() == leaf.as_slice();
        let entry = Entry {
            position: stored.position,
            leaf,
            chain_hash: &stored.chain_hash,
            recorded_at: recorded_time(stored),
            stream_version: stored.stream_version,
        };
        self.follow_entry(&entry, leaf_matches, &stored.stream_id, event)
    }

    /// Applies a committed entry of this instance's own (`Committed`, its leaf hash checked
    /// against its bytes when it was kept) as `follow` applies one read from the log.
    fn follow_committed(&mut self, committed: Committed) -> bool {
        let stream = committed.event.stream();
        let entry = Entry {
            position: committed.position,
            leaf: committed.leaf,
            chain_hash: &committed.chain_hash,
            recorded_at: committed.recorded_at,
            stream_version: committed.stream_version,
        };
        self.follow_entry(&entry, true, &stream, Ok(committed.event))
    }

    fn follow_entry(
        &mut self,
        entry: &Entry<'_>,
        leaf_matches: bool,
        stream_id: &str,
        event: Result<Event, StoreError>,
    ) -> bool {
        let chain = crate::store::chain_hash(&self.chain, &entry.leaf);
        let problem = if entry.position != self.tree.size() {
            Some("is not the next position")
        } else if !leaf_matches {
            Some("does not match its stored leaf hash: the entry was changed")
        } else if entry.chain_hash != chain.as_slice() {
            Some(
                "does not follow from the entries before it (its chain hash differs): the log was changed or forked",
            )
        } else {
            None
        };
        let (None, Ok(event)) = (problem, event) else {
            let problem = problem.unwrap_or("does not decode");
            self.broken = Some(format!("the entry at {} {problem}", entry.position));
            return false;
        };
        self.chain = chain;
        self.tree.push(entry.leaf);
        self.recorded_at.push(entry.recorded_at.timestamp());
        self.state.apply(entry.position, &event);
        date_undated_amendment(&mut self.state, &event, uk_date(entry.recorded_at));
        self.versions.set(stream_id, entry.stream_version);
        true
    }
}

/// When `stored` was recorded (the epoch for a time that does not read, as it always was).
fn recorded_time(stored: &StoredEvent) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&stored.recorded_at)
        .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc))
}

/// What `Cache::follow_entry` checks and applies of an entry, without its bytes.
struct Entry<'a> {
    position: u64,
    leaf: crate::transparency::merkle::Hash,
    chain_hash: &'a [u8],
    recorded_at: DateTime<Utc>,
    stream_version: i64,
}

/// An entry this instance's writer stored in a pieced append, kept until the append commits so
/// that memory folds it without reading it back (`apply_committed_pieces`): its event as
/// decided (a credential's document without its text, which memory never holds) and what the
/// store gave it. Its leaf hash was checked against its bytes when it was kept.
pub(super) struct Committed {
    position: u64,
    leaf: crate::transparency::merkle::Hash,
    chain_hash: crate::transparency::merkle::Hash,
    recorded_at: DateTime<Utc>,
    stream_version: i64,
    event: Event,
}

impl Committed {
    /// `event` as stored (`stored`), or None when the stored entry is not its bytes' (then the
    /// append is read back from the log instead, which finds what is wrong).
    pub(super) fn of(stored: &StoredEvent, mut event: Event) -> Option<Committed> {
        let leaf = crate::transparency::merkle::leaf_hash(&stored.payload);
        let chain_hash = stored.chain_hash.as_slice().try_into().ok()?;
        if stored.leaf_hash.as_slice() != leaf.as_slice() {
            return None;
        }
        if let Event::CredentialIssued { credential, .. } = &mut event {
            *credential = credential.without_text();
        }
        Some(Committed {
            position: stored.position,
            leaf,
            chain_hash,
            recorded_at: recorded_time(stored),
            stream_version: stored.stream_version,
            event,
        })
    }
}

/// Each stream's version as of the log in memory. Nearly every stream is an organisation's
/// (`organisation-{id}`), kept by the organisation's 16-byte id; any other by its name.
#[derive(Default)]
pub(super) struct StreamVersions {
    organisations: HashMap<u128, i64>,
    others: HashMap<String, i64>,
}

impl StreamVersions {
    pub(super) fn get(&self, stream: &str) -> Option<i64> {
        match organisation_key(stream) {
            Some(id) => self.organisations.get(&id).copied(),
            None => self.others.get(stream).copied(),
        }
    }

    pub(super) fn set(&mut self, stream: &str, version: i64) {
        match organisation_key(stream) {
            Some(id) => {
                self.organisations.insert(id, version);
            }
            None => match self.others.get_mut(stream) {
                Some(v) => *v = version,
                None => {
                    self.others.insert(stream.to_owned(), version);
                }
            },
        }
    }
}

/// The organisation id an organisation's stream is named by, when `stream` is spelled exactly
/// as the service names one (so that no two names share a key).
fn organisation_key(stream: &str) -> Option<u128> {
    let id = stream.strip_prefix("organisation-")?;
    let uuid = uuid::Uuid::try_parse(id).ok()?;
    let mut spelled = [0u8; uuid::fmt::Hyphenated::LENGTH];
    (uuid.hyphenated().encode_lower(&mut spelled).as_bytes() == id.as_bytes())
        .then(|| uuid.as_u128())
}

/// The log: where it is stored, how appends reach it, and what memory has read of it.
///
/// Lock order (the whole of it is on `Registry`): `catch_up_lock` before any other lock, and
/// `cache` before the locks of the views, the signing key and the random source. A thread
/// holding `cache` never takes it again (a writer waiting between two reads would deadlock
/// it), so code that holds it calls the `_in(&State)` form of a read.
pub(super) struct Log {
    /// The database. Its own pool does its locking; the log's position order is the database's
    /// (`log_head` row lock).
    pub(super) store: Store,
    /// The writer task's queue: every append goes through it (`writer::writer_loop`), which
    /// commits what is waiting in one transaction. Not a lock: a full queue makes senders wait.
    pub(super) writer: mpsc::Sender<Job>,
    /// What the writer has batched so far (atomics, written by the writer task alone).
    pub(super) stats: Arc<WriterStats>,
    /// The log as folded in memory. Read (briefly, never across an `.await`) by every query;
    /// written by `read_on` for each page it applies, by the writer task for what it commits
    /// (`apply_committed`, shared with it), and by `reset`. Every derived view
    /// (`snapshot::Views`) is built under its read lock, so it is the fold of one log size.
    pub(super) cache: Arc<RwLock<Cache>>,
    /// One catch-up reads the log at a time (a tokio mutex: it is held across the reads).
    pub(super) catch_up_lock: tokio::sync::Mutex<()>,
    /// How many catch-ups have begun reading (counted under `catch_up_lock`), and which of them
    /// last read to the end of the log: a caller that waited while a later one ran needs no
    /// read of its own.
    catch_ups_begun: AtomicU64,
    catch_up_done: AtomicU64,
}

impl Log {
    pub(super) fn new(
        store: Store,
        writer: mpsc::Sender<Job>,
        stats: Arc<WriterStats>,
        cache: Arc<RwLock<Cache>>,
    ) -> Log {
        Log {
            store,
            writer,
            stats,
            cache,
            catch_up_lock: tokio::sync::Mutex::new(()),
            catch_ups_begun: AtomicU64::new(0),
            catch_up_done: AtomicU64::new(0),
        }
    }

    /// `f` of the log as folded in memory, under the cache's read lock.
    pub(super) fn read<T>(&self, f: impl FnOnce(&Cache) -> T) -> T {
        f(&self.cache.read().expect("the cache lock is never poisoned"))
    }

    /// How many events the in-memory state has applied.
    pub(super) fn size(&self) -> u64 {
        self.read(|c| c.state.size)
    }

    /// How many catch-ups had begun when a caller arrived (see `read_to_end_since`).
    pub(super) fn arrived(&self) -> u64 {
        self.catch_ups_begun.load(Ordering::SeqCst)
    }

    /// Whether a catch-up that began after `arrived` (`arrived`'s answer) has read to the end
    /// of the log. Asked under `catch_up_lock`.
    pub(super) fn read_to_end_since(&self, arrived: u64) -> bool {
        self.catch_up_done.load(Ordering::SeqCst) > arrived
    }

    /// A catch-up begins reading: its ticket. Under `catch_up_lock`.
    pub(super) fn begin(&self) -> u64 {
        self.catch_ups_begun.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Drops what memory holds of the log, to read it whole again. Under `catch_up_lock`.
    pub(super) fn reset(&self) {
        *self
            .cache
            .write()
            .expect("the cache lock is never poisoned") = Cache::empty();
    }

    /// Reads the log past what memory holds, checking that each entry's leaf and chain hashes
    /// follow from its bytes and the entries before it; the first that does not stops the
    /// reading, and its description is returned (`Ok(Some(why))`). Under `catch_up_lock`, as
    /// catch-up `ticket`.
    pub(super) async fn read_on(&self, ticket: u64) -> Result<Option<String>, ServiceError> {
        const PAGE: u32 = 2_000;
        loop {
            if let Some(broken) = self.read(|c| c.broken.clone()) {
                return Ok(Some(broken));
            }
            let from = self.size();
            let page = self.store.read(from, PAGE).await?;
            // Decoded outside the lock; an entry that does not decode is found in turn below.
            let decoded: Vec<_> = page
                .iter()
                .map(|e| (e, e.envelope().map(|env| env.event)))
                .collect();
            let mut cache = self
                .cache
                .write()
                .expect("the cache lock is never poisoned");
            for (stored, event) in decoded {
                // Appended by this instance's writer while the page was read.
                if stored.position < cache.tree.size() {
                    continue;
                }
                if !cache.follow(stored, event) {
                    break;
                }
            }
            if cache.broken.is_some() {
                continue;
            }
            drop(cache);
            // A short page is the end of the log as it was when the page was read, which was
            // after this catch-up began.
            if page.len() < PAGE as usize {
                self.catch_up_done.store(ticket, Ordering::SeqCst);
                return Ok(None);
            }
        }
    }
}

/// Applies what this instance's writer has just committed (`events`, in position order) to the
/// log as folded in memory, when they follow what it holds (no other instance appended in
/// between), so that the appender reads its own write without reading it back from the
/// database. Each entry is checked as a catch-up checks it; when memory is behind, nothing is
/// applied and the next catch-up reads them.
pub(super) fn apply_committed(cache: &RwLock<Cache>, events: &[&StoredEvent]) {
    let Some(first) = events.first() else {
        return;
    };
    if cache
        .read()
        .expect("the cache lock is never poisoned")
        .tree
        .size()
        != first.position
    {
        return;
    }
    // Decoded outside the lock, as a catch-up's page is.
    let decoded: Vec<_> = events
        .iter()
        .map(|e| e.envelope().map(|env| env.event))
        .collect();
    let mut cache = cache.write().expect("the cache lock is never poisoned");
    if cache.broken.is_some() || cache.tree.size() != first.position {
        return;
    }
    for (&stored, event) in events.iter().zip(decoded) {
        if !cache.follow(stored, event) {
            return;
        }
    }
}

/// Applies the entries of a pieced append this instance's writer has just committed
/// (`committed`, in position order), a page at a time under the cache's write lock, as
/// `read_on` applies pages: when they follow what memory holds. Returns whether all were
/// applied; when not (another instance appended first, or an entry did not follow), the caller
/// catches up from the log, which reads what is missing and finds what is wrong.
pub(super) fn apply_committed_pieces(cache: &RwLock<Cache>, committed: Vec<Committed>) -> bool {
    const PAGE: usize = 2_000;
    let mut committed = committed.into_iter().peekable();
    while committed.peek().is_some() {
        let mut cache = cache.write().expect("the cache lock is never poisoned");
        for entry in committed.by_ref().take(PAGE) {
            if cache.broken.is_some() || entry.position != cache.tree.size() {
                return false;
            }
            if !cache.follow_committed(entry) {
                return false;
            }
        }
    }
    true
}

/// Dates an amendment recorded before amendments carried their day by the UK day it was
/// recorded, so that every line of an award's history has a date.
fn date_undated_amendment(state: &mut State, event: &Event, recorded_on: NaiveDate) {
    let Event::AwardAmended {
        certificate_number,
        effective_on: None,
        ..
    } = event
    else {
        return;
    };
    if let Some(entry) = state
        .awards
        .get_mut(certificate_number)
        .map(Arc::make_mut)
        .and_then(|a| a.history.last_mut())
        && let crate::domain::state::AwardChange::Amended { on, .. } = &mut entry.change
        && on.is_none()
    {
        *on = Some(recorded_on);
    }
}

#[cfg(test)]
mod tests {
    use super::{StreamVersions, organisation_key};

    #[test]
    fn only_an_organisation_stream_spelled_as_the_service_spells_it_is_kept_by_its_id() {
        let id = "0b6f3c1e-5a7d-4c2b-9e8f-1a2b3c4d5e6f";
        assert_eq!(
            organisation_key(&format!("organisation-{id}")),
            Some(uuid::Uuid::parse_str(id).unwrap().as_u128())
        );
        for other in [
            "organisation-0B6F3C1E-5A7D-4C2B-9E8F-1A2B3C4D5E6F",
            "organisation-0b6f3c1e5a7d4c2b9e8f1a2b3c4d5e6f",
            "organisation-{0b6f3c1e-5a7d-4c2b-9e8f-1a2b3c4d5e6f}",
            "organisation-",
            "programme",
            "token-0b6f3c1e-5a7d-4c2b-9e8f-1a2b3c4d5e6f",
        ] {
            assert_eq!(organisation_key(other), None, "{other}");
        }

        // Names the id does not key are still told apart by their whole name.
        let mut versions = StreamVersions::default();
        versions.set(&format!("organisation-{id}"), 3);
        versions.set(&format!("organisation-{}", id.to_uppercase()), 7);
        versions.set("programme", 1);
        versions.set("programme", 2);
        assert_eq!(versions.get(&format!("organisation-{id}")), Some(3));
        assert_eq!(
            versions.get(&format!("organisation-{}", id.to_uppercase())),
            Some(7)
        );
        assert_eq!(versions.get("programme"), Some(2));
        assert_eq!(versions.get("keys"), None);
    }
}
