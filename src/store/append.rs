//! The append, written once for both databases (`Sql<DB>`, see `sql.rs`): one transaction, in
//! named steps. The log head's row is locked first, so positions are assigned in commit order
//! (`lock_log_head`); what the batch needs to know of the stored log (which of its event ids and
//! idempotency keys were used before, the versions of the streams it names) is looked up at once
//! (`look_up_batch`); then each request of the batch is answered again if it was appended before
//! (`appended_before`, `answered_before`), refused alone if a stream it read has moved
//! (`stale_stream`), or appended, in memory (`LogEnd::place`: events with their leaf and chain
//! hashes and stream versions; the idempotency record and projection rows kept in `Pending`);
//! last everything the batch appends is written with one multi-row statement a table
//! (`append_rows.rs`), the log head moves to the new end, and everything commits together. The
//! rows are exactly those appending each request alone writes.

use std::collections::{HashMap, HashSet};

use sqlx::{
    ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, TransactionManager,
    Type,
};
use uuid::Uuid;

use super::sql::{Db, Sql};
use crate::store::{
    AppendRequest, Appended, IdempotencyRecord, NewEvent, StoreError, StoredEvent, Write,
    chain_hash, leaf_hash,
};

/// Rows a multi-row statement carries at most: well under both databases' limits on bound
/// parameters (SQLite's 32,766; PostgreSQL's 65,535) at 13 a row.
pub(crate) const ROWS_PER_STATEMENT: usize = 1_000;

/// The end of the log as the append moves it, and the version of every stream it has read or
/// written so far (`None`: a stream with no events).
#[derive(Debug)]
pub(crate) struct LogEnd {
    pub(crate) start_size: i64,
    pub(crate) size: i64,
    pub(crate) chain: Vec<u8>,
    pub(crate) versions: HashMap<String, Option<i64>>,
}

impl LogEnd {
    /// A log of `size` events whose last chain hash is `chain`, before the batch.
    pub(crate) fn new(size: i64, chain: Vec<u8>) -> LogEnd {
        LogEnd {
            start_size: size,
            size,
            chain,
            versions: HashMap::new(),
        }
    }

    /// Places one event at the end of the log, after `current` (its stream's version now):
    /// its position, its stream's next version, its leaf hash and the chain hash that follows.
    pub(crate) fn place(&mut self, pending: &mut Pending, event: NewEvent, current: Option<i64>) {
        let NewEvent {
            event_id,
            stream_id,
            event_type,
            schema_version,
            payload,
            recorded_at,
            actor,
            visibility,
        } = event;
        let stream_version = current.map_or(0, |v| v + 1);
        let leaf = leaf_hash(&payload);
        self.chain = chain_hash(&self.chain, &leaf);
        self.versions
            .insert(stream_id.clone(), Some(stream_version));
        pending.index_of.insert(event_id, pending.events.len());
        pending.events.push(StoredEvent {
            position: self.size as u64,
            event_id,
            stream_id,
            stream_version,
            event_type,
            schema_version,
            payload,
            recorded_at,
            actor,
            visibility,
            leaf_hash: leaf,
            chain_hash: self.chain.clone(),
        });
        self.size += 1;
    }
}

/// What the batch appends, kept until it is written at once: the events in position order (with
/// where each event id is), the idempotency records and the projection writes, in request order.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub(crate) events: Vec<StoredEvent>,
    index_of: HashMap<Uuid, usize>,
    /// Each record, with the position of its request's first event and how many it appended.
    pub(crate) idempotency: Vec<(IdempotencyRecord, i64, usize)>,
    keys: HashMap<(String, String), usize>,
    pub(crate) writes: Vec<Write>,
}

/// A request's answer: given already, or the next `n` pending events once written.
#[derive(Debug)]
pub(crate) enum Answer {
    Given(Result<Appended, StoreError>),
    Appended(usize),
}

impl Pending {
    /// The pending events from `first` on, `count` of them, as stored.
    fn range(&self, first: usize, count: usize) -> Vec<StoredEvent> {
        self.events
            .iter()
            .skip(first)
            .take(count)
            .cloned()
            .collect()
    }

    /// Remembers a request's idempotency key with the events it appended.
    fn remember(&mut self, idem: IdempotencyRecord, first_position: i64, count: usize) {
        let key = (idem.scope.clone(), idem.key.clone());
        self.keys.insert(key, self.idempotency.len());
        self.idempotency.push((idem, first_position, count));
    }

    /// The first answer to a key used earlier in this batch (its request hash and events).
    fn answer_of(&self, idem: &IdempotencyRecord) -> Option<(String, Vec<StoredEvent>)> {
        let key = (idem.scope.clone(), idem.key.clone());
        let &i = self.keys.get(&key)?;
        let (first, first_position, count) = &self.idempotency[i];
        let start = self.events.first().map_or(0, |e| e.position as i64);
        let from = (first_position - start) as usize;
        Some((first.request_hash.clone(), self.range(from, *count)))
    }

    /// Every request's answer, once its events are written.
    pub(crate) fn answer(self, answers: Vec<Answer>) -> Vec<Result<Appended, StoreError>> {
        // One append given every event (an import's hundreds of thousands): its events are the
        // list itself, not a copy of it.
        if let [Answer::Appended(n)] = answers.as_slice()
            && *n == self.events.len()
        {
            return vec![Ok(Appended {
                events: self.events,
                replayed: false,
            })];
        }
        let mut events = self.events.into_iter();
        answers
            .into_iter()
            .map(|answer| match answer {
                Answer::Given(given) => given,
                Answer::Appended(n) => Ok(Appended {
                    events: events.by_ref().take(n).collect(),
                    replayed: false,
                }),
            })
            .collect()
    }
}

/// An append written in pieces within one transaction, holding the log head's lock from its
/// opening to its commit: an import of a hundred thousand awards is written as it is made, a
/// piece at a time, rather than held whole, and still lands whole or not at all. Dropped
/// uncommitted, it is rolled back.
pub(crate) struct Open<DB: sqlx::Database> {
    tx: sqlx::Transaction<'static, DB>,
    end: LogEnd,
    /// The position of the append's first event.
    first_position: i64,
    idempotency: Option<IdempotencyRecord>,
}

/// What opening a pieced append gave: the append open, with its first piece's events; or the
/// answer its first request has already (appended before, or refused).
pub(crate) enum Opened<O> {
    Open(O, Appended),
    Answered(Result<Appended, StoreError>),
}

/// Each stream a batch names (read or written), once, in the order first named.
fn streams_named(batch: &[AppendRequest]) -> Vec<&str> {
    let mut streams: Vec<&str> = Vec::new();
    let mut named = HashSet::new();
    for request in batch {
        let expected = request.expected.iter().map(|(s, _)| s.as_str());
        let written = request.events.iter().map(|e| e.stream_id.as_str());
        for stream in expected.chain(written) {
            if named.insert(stream) {
                streams.push(stream);
            }
        }
    }
    streams
}

/// An append is its own transaction, opened by BEGIN and ended by COMMIT: on a connection sqlx
/// thinks still in one, `begin` opens a savepoint and `commit` releases it, committing nothing.
/// The SQLite pool closes such a connection rather than hand it out again (`ended_cleanly`);
/// this refuses the append if one ever came.
fn refuse_unless_top_level<DB: sqlx::Database>(
    tx: &sqlx::Transaction<'_, DB>,
) -> Result<(), StoreError> {
    let depth = DB::TransactionManager::get_transaction_depth(tx);
    if depth != 1 {
        return Err(StoreError::Backend(sqlx::Error::Protocol(
            "a connection still in an earlier transaction was handed out for an append".into(),
        )));
    }
    Ok(())
}

impl<DB> Sql<DB>
where
    DB: Db,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i32: Type<DB> + Encode<'q, DB> + Decode<'q, DB>,
    for<'q> i64: Type<DB> + Encode<'q, DB> + Decode<'q, DB>,
    for<'q> String: Type<DB> + Encode<'q, DB> + Decode<'q, DB>,
    for<'q> Vec<u8>: Type<DB> + Encode<'q, DB> + Decode<'q, DB>,
    for<'q> &'q str: Type<DB> + Encode<'q, DB> + ColumnIndex<DB::Row>,
    for<'q> &'q [u8]: Type<DB> + Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Appends each request of `batch` in order, in one transaction (see
    /// `EventStore::append_batch`).
    pub(crate) async fn append_batch(
        pool: &sqlx::Pool<DB>,
        batch: Vec<AppendRequest>,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        let mut tx = pool.begin().await?;
        refuse_unless_top_level(&tx)?;
        let mut end = Self::lock_log_head(&mut tx).await?;
        let expected = batch.iter().map(|r| r.log_at_least).max().unwrap_or(0);
        if (end.size as u64) < expected {
            return Err(StoreError::LogBehind {
                size: end.size as u64,
                expected,
            });
        }
        let seen = Self::look_up_batch(&mut tx, &mut end, &batch).await?;
        let mut pending = Pending::default();
        pending
            .events
            .reserve_exact(batch.iter().map(|r| r.events.len()).sum());
        let mut answers = Vec::with_capacity(batch.len());
        for request in batch {
            answers.push(Self::append_one(&mut tx, &mut end, &seen, &mut pending, request).await?);
        }
        Self::write_pending(&mut tx, &end, &pending).await?;
        if end.size != end.start_size {
            Self::move_log_head(&mut tx, &end).await?;
        }
        tx.commit().await?;
        Ok(pending.answer(answers))
    }

    /// Opens an append written in pieces within one transaction (see `Open`): the log head is
    /// locked, `first` is checked as any request is (appended before, its idempotency key
    /// answered before, a stream it states moved) and, when none of these answers it, its
    /// events are written as the first piece.
    pub(crate) async fn open_append(
        pool: &sqlx::Pool<DB>,
        mut first: AppendRequest,
    ) -> Result<Opened<Open<DB>>, StoreError> {
        let mut tx = pool.begin().await?;
        refuse_unless_top_level(&tx)?;
        let mut end = Self::lock_log_head(&mut tx).await?;
        if (end.size as u64) < first.log_at_least {
            return Err(StoreError::LogBehind {
                size: end.size as u64,
                expected: first.log_at_least,
            });
        }
        let seen = Self::look_up_batch(&mut tx, &mut end, std::slice::from_ref(&first)).await?;
        // The key is recorded at the commit, with every piece's events: the first request is
        // checked against it here and appended without it.
        let idempotency = first.idempotency.take();
        let pending = Pending::default();
        if let Some(events) = Self::appended_before(&mut tx, &seen, &pending, &first.events).await?
        {
            return Ok(Opened::Answered(Ok(Appended {
                events,
                replayed: true,
            })));
        }
        if let Some(idem) = &idempotency
            && let Some(answer) = Self::answered_before(&mut tx, &pending, idem).await?
        {
            return Ok(Opened::Answered(answer));
        }
        if let Some(conflict) = Self::stale_stream(&mut tx, &mut end, &first.expected).await? {
            return Ok(Opened::Answered(Err(conflict)));
        }
        let mut open = Open {
            tx,
            first_position: end.size,
            end,
            idempotency,
        };
        let appended = Self::append_piece(&mut open, first.events, first.writes).await?;
        Ok(Opened::Open(open, appended))
    }

    /// Writes one more piece of an open append: its events after the pieces before, and its
    /// projection rows.
    pub(crate) async fn append_piece(
        open: &mut Open<DB>,
        events: Vec<NewEvent>,
        writes: Vec<Write>,
    ) -> Result<Appended, StoreError> {
        let Open { tx, end, .. } = open;
        end.start_size = end.size;
        let mut pending = Pending::default();
        pending.events.reserve_exact(events.len());
        for event in events {
            let current = Self::current_version(tx, end, &event.stream_id).await?;
            end.place(&mut pending, event, current);
        }
        pending.writes = writes;
        Self::write_pending(tx, end, &pending).await?;
        Ok(Appended {
            events: pending.events,
            replayed: false,
        })
    }

    /// Commits an open append: its idempotency key recorded with every event it appended, the
    /// log head moved to its end.
    pub(crate) async fn commit_open(open: Open<DB>) -> Result<(), StoreError> {
        let Open {
            mut tx,
            end,
            first_position,
            idempotency,
        } = open;
        if let Some(idem) = idempotency {
            let count = (end.size - first_position) as usize;
            Self::record_idempotency(&mut tx, &[(idem, first_position, count)]).await?;
        }
        if end.size != first_position {
            Self::move_log_head(&mut tx, &end).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Taking the log head's row lock first serialises writers: positions are assigned in
    /// commit order and no reader ever sees a gap.
    pub(crate) async fn lock_log_head(conn: &mut DB::Connection) -> Result<LogEnd, StoreError> {
        let head =
            sqlx::query("UPDATE log_head SET size = size WHERE id = 1 RETURNING size, chain_hash")
                .fetch_one(&mut *conn)
                .await?;
        Ok(LogEnd::new(
            head.try_get("size")?,
            head.try_get("chain_hash")?,
        ))
    }

    /// What the stored log says about the whole batch, asked once rather than once a request:
    /// the position of each request's first event id already stored, and (into
    /// `end.versions`) the version of every stream a request names.
    async fn look_up_batch(
        conn: &mut DB::Connection,
        end: &mut LogEnd,
        batch: &[AppendRequest],
    ) -> Result<HashMap<Uuid, i64>, StoreError> {
        let firsts: Vec<String> = batch
            .iter()
            .filter_map(|r| r.events.first())
            .map(|e| e.event_id.to_string())
            .collect();
        let mut seen = HashMap::new();
        for ids in firsts.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new(
                "SELECT event_id, position FROM events WHERE event_id IN (",
            );
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(id);
            }
            q.push(")");
            for row in DB::narrow(q.build())
                .persistent(DB::kept_prepared(ids.len()))
                .fetch_all(&mut *conn)
                .await?
            {
                let id: String = row.try_get("event_id")?;
                let id = id
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("event id {id:?}")))?;
                seen.insert(id, row.try_get::<i64, _>("position")?);
            }
        }
        let streams = streams_named(batch);
        for chunk in streams.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new(
                "SELECT stream_id, version FROM streams WHERE stream_id IN (",
            );
            let mut list = q.separated(", ");
            for stream in chunk {
                list.push_bind(*stream);
            }
            q.push(")");
            let rows = DB::narrow(q.build())
                .persistent(DB::kept_prepared(chunk.len()))
                .fetch_all(&mut *conn)
                .await?;
            for stream in chunk {
                end.versions.insert((*stream).to_owned(), None);
            }
            for row in rows {
                let stream: String = row.try_get("stream_id")?;
                end.versions.insert(stream, Some(row.try_get("version")?));
            }
        }
        Ok(seen)
    }

    /// One request of the batch: its first answer again if it was appended before, a refusal of
    /// it alone if a stream it read has moved, or its events appended.
    async fn append_one(
        conn: &mut DB::Connection,
        end: &mut LogEnd,
        seen: &HashMap<Uuid, i64>,
        pending: &mut Pending,
        request: AppendRequest,
    ) -> Result<Answer, StoreError> {
        let AppendRequest {
            events,
            expected,
            idempotency,
            writes,
            log_at_least: _,
        } = request;
        if let Some(events) = Self::appended_before(conn, seen, pending, &events).await? {
            return Ok(Answer::Given(Ok(Appended {
                events,
                replayed: true,
            })));
        }
        if let Some(idem) = &idempotency
            && let Some(answer) = Self::answered_before(conn, pending, idem).await?
        {
            return Ok(Answer::Given(answer));
        }
        if let Some(conflict) = Self::stale_stream(conn, end, &expected).await? {
            return Ok(Answer::Given(Err(conflict)));
        }
        let first_position = end.size;
        let count = events.len();
        for event in events {
            let current = Self::current_version(conn, end, &event.stream_id).await?;
            end.place(pending, event, current);
        }
        if let Some(idem) = idempotency {
            pending.remember(idem, first_position, count);
        }
        pending.writes.extend(writes);
        Ok(Answer::Appended(count))
    }

    /// The stored events of a request whose first event id is already in the log, or earlier
    /// in this batch.
    async fn appended_before(
        conn: &mut DB::Connection,
        seen: &HashMap<Uuid, i64>,
        pending: &Pending,
        events: &[NewEvent],
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        let Some(first) = events.first() else {
            return Ok(None);
        };
        if let Some(&index) = pending.index_of.get(&first.event_id) {
            return Ok(Some(pending.range(index, events.len())));
        }
        let Some(&position) = seen.get(&first.event_id) else {
            return Ok(None);
        };
        let events = Self::read_range(&mut *conn, position as u64, events.len() as u32).await?;
        Ok(Some(events))
    }

    /// The first answer to an idempotency key already used (in the log, or earlier in this
    /// batch): its events again, or a refusal when the key was used for a different request.
    async fn answered_before(
        conn: &mut DB::Connection,
        pending: &Pending,
        idem: &IdempotencyRecord,
    ) -> Result<Option<Result<Appended, StoreError>>, StoreError> {
        let (hash, events) = if let Some(earlier) = pending.answer_of(idem) {
            earlier
        } else {
            let seen = sqlx::query(
                "SELECT request_hash, first_position, event_count FROM idempotency_keys \
                 WHERE scope = $1 AND idem_key = $2",
            )
            .bind(&idem.scope)
            .bind(&idem.key)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(seen) = seen else { return Ok(None) };
            let hash: String = seen.try_get("request_hash")?;
            if hash != idem.request_hash {
                return Ok(Some(Err(StoreError::IdempotencyKeyReused)));
            }
            let first: i64 = seen.try_get("first_position")?;
            let count: i64 = seen.try_get("event_count")?;
            let events = Self::read_range(&mut *conn, first as u64, count as u32).await?;
            (hash, events)
        };
        if hash != idem.request_hash {
            return Ok(Some(Err(StoreError::IdempotencyKeyReused)));
        }
        Ok(Some(Ok(Appended {
            events,
            replayed: true,
        })))
    }

    /// The first stream whose version is not the one the request's decision read.
    async fn stale_stream(
        conn: &mut DB::Connection,
        end: &mut LogEnd,
        expected: &[(String, Option<i64>)],
    ) -> Result<Option<StoreError>, StoreError> {
        for (stream, expected) in expected {
            let actual = Self::current_version(conn, end, stream).await?;
            if actual != *expected {
                return Ok(Some(StoreError::Conflict {
                    stream: stream.clone(),
                    expected: *expected,
                    actual,
                }));
            }
        }
        Ok(None)
    }

    /// A stream's version as the batch has moved it (looked up once, in `look_up_batch`; asked
    /// of the database only for a stream that was not named).
    async fn current_version(
        conn: &mut DB::Connection,
        end: &mut LogEnd,
        stream: &str,
    ) -> Result<Option<i64>, StoreError> {
        if let Some(v) = end.versions.get(stream) {
            return Ok(*v);
        }
        let v = Self::stream_version(&mut *conn, stream).await?;
        end.versions.insert(stream.to_owned(), v);
        Ok(v)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that unwraps fails loudly, which is what a test should do
mod tests {
    use super::*;
    use crate::store::{EventStore, GENESIS_CHAIN, SqliteStore};

    fn event(id: u128, stream: &str) -> NewEvent {
        NewEvent {
            event_id: Uuid::from_u128(id),
            stream_id: stream.to_owned(),
            event_type: "test".into(),
            schema_version: 1,
            payload: format!("{{\"id\":{id}}}").into_bytes(),
            recorded_at: "2026-01-01T00:00:00Z".into(),
            actor: "tester".into(),
            visibility: crate::domain::Visibility::Public,
        }
    }

    fn request(events: Vec<NewEvent>, expected: &[(&str, Option<i64>)]) -> AppendRequest {
        AppendRequest {
            events,
            expected: expected
                .iter()
                .map(|(s, v)| ((*s).to_owned(), *v))
                .collect(),
            ..AppendRequest::default()
        }
    }

    fn keyed(mut request: AppendRequest, key: &str, hash: &str) -> AppendRequest {
        request.idempotency = Some(IdempotencyRecord {
            scope: "admin".into(),
            key: key.into(),
            request_hash: hash.into(),
        });
        request
    }

    #[test]
    fn placing_an_event_numbers_it_and_extends_the_hash_chain() {
        let mut end = LogEnd::new(0, GENESIS_CHAIN.to_vec());
        let mut pending = Pending::default();
        end.place(&mut pending, event(1, "a"), None);
        end.place(&mut pending, event(2, "a"), Some(0));
        end.place(&mut pending, event(3, "b"), Some(6));
        let placed: Vec<_> = pending
            .events
            .iter()
            .map(|e| (e.position, e.stream_id.as_str(), e.stream_version))
            .collect();
        assert_eq!(placed, [(0, "a", 0), (1, "a", 1), (2, "b", 7)]);
        let mut chain = GENESIS_CHAIN.to_vec();
        for e in &pending.events {
            assert_eq!(e.leaf_hash, leaf_hash(&e.payload));
            chain = chain_hash(&chain, &e.leaf_hash);
            assert_eq!(e.chain_hash, chain);
        }
        assert_eq!((end.start_size, end.size, end.chain), (0, 3, chain));
        assert_eq!(end.versions["a"], Some(1));
        assert_eq!(end.versions["b"], Some(7));
    }

    #[test]
    fn answers_take_their_own_events_in_turn() {
        let mut end = LogEnd::new(10, GENESIS_CHAIN.to_vec());
        let mut pending = Pending::default();
        for id in 1..=3 {
            end.place(&mut pending, event(id, "a"), None);
        }
        let answers = pending.answer(vec![
            Answer::Appended(2),
            Answer::Given(Err(StoreError::IdempotencyKeyReused)),
            Answer::Appended(1),
        ]);
        let positions: Vec<_> = answers
            .iter()
            .map(|a| {
                a.as_ref()
                    .map(|a| a.events.iter().map(|e| e.position).collect::<Vec<_>>())
                    .map_err(ToString::to_string)
            })
            .collect();
        assert_eq!(
            positions,
            [
                Ok(vec![10, 11]),
                Err(StoreError::IdempotencyKeyReused.to_string()),
                Ok(vec![12])
            ]
        );
    }

    #[test]
    fn a_key_used_earlier_in_the_batch_answers_with_that_requests_events() {
        let mut end = LogEnd::new(4, GENESIS_CHAIN.to_vec());
        let mut pending = Pending::default();
        end.place(&mut pending, event(1, "a"), None);
        let record = IdempotencyRecord {
            scope: "admin".into(),
            key: "k".into(),
            request_hash: "h".into(),
        };
        end.place(&mut pending, event(2, "b"), None);
        end.place(&mut pending, event(3, "b"), Some(0));
        pending.remember(record.clone(), 5, 2);
        let (hash, events) = pending.answer_of(&record).unwrap();
        assert_eq!(hash, "h");
        let ids: Vec<_> = events.iter().map(|e| e.event_id.as_u128()).collect();
        assert_eq!(ids, [2, 3]);
        let other = IdempotencyRecord {
            key: "other".into(),
            ..record
        };
        assert!(pending.answer_of(&other).is_none());
    }

    #[test]
    fn streams_are_named_once_in_the_order_first_named() {
        let batch = [
            request(vec![event(1, "b")], &[("a", None)]),
            request(vec![event(2, "a"), event(3, "c")], &[("b", Some(0))]),
        ];
        assert_eq!(streams_named(&batch), ["a", "b", "c"]);
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test")
    }

    async fn memory() -> SqliteStore {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[test]
    fn a_batch_appends_answers_again_and_refuses_each_request_alone() {
        runtime().block_on(async {
            let store = memory().await;
            let pool = store.pool();
            let first = Sql::append_batch(pool, vec![request(vec![event(1, "a")], &[])])
                .await
                .unwrap();
            assert_eq!(first[0].as_ref().unwrap().events[0].position, 0);
            let answers = Sql::append_batch(
                pool,
                vec![
                    // appended before: its first answer again
                    request(vec![event(1, "a")], &[]),
                    // a stale stream: refused alone
                    request(vec![event(2, "a")], &[("a", None)]),
                    keyed(request(vec![event(3, "a")], &[("a", Some(0))]), "k", "h"),
                    // the same key for another request
                    keyed(request(vec![event(4, "b")], &[]), "k", "other"),
                    // the same key, the same request: the earlier answer
                    keyed(request(vec![event(5, "b")], &[]), "k", "h"),
                ],
            )
            .await
            .unwrap();
            let replayed = answers[0].as_ref().unwrap();
            assert!(replayed.replayed);
            assert_eq!(replayed.events, first[0].as_ref().unwrap().events);
            assert!(matches!(
                &answers[1],
                Err(StoreError::Conflict { stream, expected: None, actual: Some(0) }) if stream == "a"
            ));
            let appended = answers[2].as_ref().unwrap();
            assert!(!appended.replayed);
            assert_eq!((appended.events[0].position, appended.events[0].stream_version), (1, 1));
            assert!(matches!(answers[3], Err(StoreError::IdempotencyKeyReused)));
            assert_eq!(answers[4].as_ref().unwrap().events, appended.events);
            let head = Sql::head(pool).await.unwrap();
            assert_eq!(head.size, 2);
            assert_eq!(head.chain_hash, appended.events[0].chain_hash);
            let (hash, events) = Sql::idempotent(pool, "admin", "k").await.unwrap().unwrap();
            assert_eq!((hash.as_str(), events), ("h", appended.events.clone()));
            assert_eq!(Sql::tree_hashes(pool, 1).await.unwrap().len(), 1);
        });
    }

    #[test]
    fn a_pieced_append_lands_whole_at_its_commit_or_not_at_all() {
        runtime().block_on(async {
            let store = memory().await;
            let pool = store.pool();
            Sql::append_batch(pool, vec![request(vec![event(1, "a")], &[])])
                .await
                .unwrap();
            // Dropped after its second piece: nothing of it stays.
            let first = request(vec![event(2, "a")], &[("a", Some(0))]);
            let Opened::Open(mut open, answer) = Sql::open_append(pool, first).await.unwrap()
            else {
                panic!("the append opens");
            };
            assert_eq!(answer.events[0].position, 1);
            Sql::append_piece(&mut open, vec![event(3, "b")], Vec::new())
                .await
                .unwrap();
            drop(open);
            assert_eq!(Sql::head(pool).await.unwrap().size, 1);
            assert!(Sql::read_range(pool, 0, 10).await.unwrap().len() == 1);

            // Committed: every piece in order, each stream's versions running on across them,
            // its key recorded with all its events.
            let first = keyed(request(vec![event(2, "a")], &[("a", Some(0))]), "k", "h");
            let Opened::Open(mut open, _) = Sql::open_append(pool, first).await.unwrap() else {
                panic!("the append opens");
            };
            let second =
                Sql::append_piece(&mut open, vec![event(3, "b"), event(4, "a")], Vec::new())
                    .await
                    .unwrap();
            let placed: Vec<_> = second
                .events
                .iter()
                .map(|e| (e.position, e.stream_version))
                .collect();
            assert_eq!(placed, [(2, 0), (3, 2)]);
            Sql::commit_open(open).await.unwrap();
            let head = Sql::head(pool).await.unwrap();
            assert_eq!(
                (head.size, &head.chain_hash),
                (4, &second.events[1].chain_hash)
            );
            let (hash, events) = Sql::idempotent(pool, "admin", "k").await.unwrap().unwrap();
            assert_eq!((hash.as_str(), events.len()), ("h", 3));

            // The same events appended at once: the same log, hash for hash.
            let at_once = memory().await;
            Sql::append_batch(
                at_once.pool(),
                vec![request(
                    vec![event(1, "a"), event(2, "a"), event(3, "b"), event(4, "a")],
                    &[],
                )],
            )
            .await
            .unwrap();
            assert_eq!(
                Sql::read_range(pool, 0, 10).await.unwrap(),
                Sql::read_range(at_once.pool(), 0, 10).await.unwrap()
            );
            for level in 0..3 {
                assert_eq!(
                    Sql::tree_hashes(pool, level).await.unwrap(),
                    Sql::tree_hashes(at_once.pool(), level).await.unwrap(),
                    "level {level}"
                );
            }

            // Opened again under its key: its first answer, nothing opened; a stale stream:
            // refused, nothing opened.
            let again = keyed(request(vec![event(9, "c")], &[]), "k", "h");
            match Sql::open_append(pool, again).await.unwrap() {
                Opened::Answered(Ok(a)) => assert!(a.replayed && a.events.len() == 3),
                _ => panic!("answered again"),
            }
            let stale = request(vec![event(10, "c")], &[("a", Some(0))]);
            assert!(matches!(
                Sql::open_append(pool, stale).await.unwrap(),
                Opened::Answered(Err(StoreError::Conflict { .. }))
            ));
            assert_eq!(Sql::head(pool).await.unwrap().size, 4);
        });
    }

    #[test]
    fn a_log_shorter_than_its_writer_read_takes_nothing() {
        runtime().block_on(async {
            let store = memory().await;
            let mut behind = request(vec![event(1, "a")], &[]);
            behind.log_at_least = 3;
            let err = Sql::append_batch(store.pool(), vec![behind])
                .await
                .unwrap_err();
            assert!(matches!(
                err,
                StoreError::LogBehind {
                    size: 0,
                    expected: 3
                }
            ));
            assert_eq!(Sql::head(store.pool()).await.unwrap().size, 0);
        });
    }
}
