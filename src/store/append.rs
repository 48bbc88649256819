//! The append, written once for both databases like the rest of `sql.rs` (whose macro expands
//! this one): one transaction, in named steps. The log head's row is locked first, so positions
//! are assigned in commit order; what the batch needs to know of the stored log (which of its
//! event ids and idempotency keys were used before, the versions of the streams it names) is
//! looked up at once; then each request of the batch is answered again if it was appended
//! before, refused alone if a stream it read has moved, or appended, in memory (events with
//! their leaf and chain hashes, stream versions, the idempotency record, projection rows); last
//! everything the batch appends is written with one multi-row statement a table (the Merkle
//! tree's new hashes computed from the stored frontier), the log head moves to the new end, and
//! everything commits together. The rows are exactly those appending each request alone writes.

macro_rules! shared_append {
    ($db:ty) => {
        mod append {
            use std::collections::{BTreeMap, HashMap, HashSet};

            use sqlx::{QueryBuilder, Row};
            use uuid::Uuid;

            use super::{
                AWARD_COLUMNS, AWARD_UPSERT, EVENT_COLUMNS, ORGANISATION_COLUMNS,
                ORGANISATION_UPSERT, read_range, stream_version,
            };
            use $crate::store::{
                AppendRequest, Appended, AwardRow, IdempotencyRecord, NewEvent, OrganisationRow,
                StoreError, StoredEvent, Write, chain_hash, leaf_hash,
            };
            use $crate::transparency::merkle::{Hash, node_hash};

            type Connection = <$db as sqlx::Database>::Connection;

            /// Rows a multi-row statement carries at most: well under both databases' limits
            /// on bound parameters (SQLite's 32,766; PostgreSQL's 65,535) at 13 a row.
            const ROWS_PER_STATEMENT: usize = 1_000;

            /// Appends each request of `batch` in order, in one transaction (see
            /// `EventStore::append_batch`).
            pub(super) async fn append_batch(
                pool: &sqlx::Pool<$db>,
                batch: Vec<AppendRequest>,
            ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
                let mut tx = pool.begin().await?;
                refuse_unless_top_level(&tx)?;
                let mut end = lock_log_head(&mut tx).await?;
                let expected = batch.iter().map(|r| r.log_at_least).max().unwrap_or(0);
                if (end.size as u64) < expected {
                    return Err(StoreError::LogBehind {
                        size: end.size as u64,
                        expected,
                    });
                }
                let seen = look_up_batch(&mut tx, &mut end, &batch).await?;
                let mut pending = Pending::default();
                let mut answers = Vec::with_capacity(batch.len());
                for request in batch {
                    answers
                        .push(append_one(&mut tx, &mut end, &seen, &mut pending, request).await?);
                }
                write_pending(&mut tx, &end, &pending).await?;
                if end.size != end.start_size {
                    move_log_head(&mut tx, &end).await?;
                }
                tx.commit().await?;
                Ok(pending.answer(answers))
            }

            /// An append is its own transaction, opened by BEGIN and ended by COMMIT: on a
            /// connection sqlx thinks still in one, `begin` opens a savepoint and `commit`
            /// releases it, committing nothing. The SQLite pool closes such a connection rather
            /// than hand it out again (`ended_cleanly`); this refuses the append if one ever came.
            fn refuse_unless_top_level(tx: &sqlx::Transaction<'_, $db>) -> Result<(), StoreError> {
                type Manager = <$db as sqlx::Database>::TransactionManager;
                let depth = <Manager as sqlx::TransactionManager>::get_transaction_depth(&**tx);
                if depth != 1 {
                    return Err(StoreError::Backend(sqlx::Error::Protocol(
                        "a connection still in an earlier transaction was handed out for an append"
                            .into(),
                    )));
                }
                Ok(())
            }

            /// The end of the log as the append moves it, and the version of every stream it
            /// has read or written so far (`None`: a stream with no events).
            pub(super) struct LogEnd {
                pub(super) start_size: i64,
                size: i64,
                chain: Vec<u8>,
                versions: HashMap<String, Option<i64>>,
            }

            /// Taking the log head's row lock first serialises writers: positions are assigned
            /// in commit order and no reader ever sees a gap.
            pub(super) async fn lock_log_head(conn: &mut Connection) -> Result<LogEnd, StoreError> {
                let head = sqlx::query(
                    "UPDATE log_head SET size = size WHERE id = 1 RETURNING size, chain_hash",
                )
                .fetch_one(&mut *conn)
                .await?;
                let size: i64 = head.try_get("size")?;
                Ok(LogEnd {
                    start_size: size,
                    size,
                    chain: head.try_get("chain_hash")?,
                    versions: HashMap::new(),
                })
            }

            /// What the stored log says about the whole batch, asked once rather than once a
            /// request: the position of each request's first event id already stored, and
            /// (into `end.versions`) the version of every stream a request names.
            async fn look_up_batch(
                conn: &mut Connection,
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
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT event_id, position FROM events WHERE event_id IN (",
                    );
                    let mut list = q.separated(", ");
                    for id in ids {
                        list.push_bind(id);
                    }
                    q.push(")");
                    for row in q
                        .build()
                        .persistent(ids.len() == 1)
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
                for chunk in streams.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT stream_id, version FROM streams WHERE stream_id IN (",
                    );
                    let mut list = q.separated(", ");
                    for stream in chunk {
                        list.push_bind(*stream);
                    }
                    q.push(")");
                    let rows = q
                        .build()
                        .persistent(chunk.len() == 1)
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

            /// What the batch appends, kept until it is written at once: the events in
            /// position order (with where each event id is), the idempotency records and the
            /// projection writes, in request order.
            #[derive(Default)]
            struct Pending {
                events: Vec<StoredEvent>,
                index_of: HashMap<Uuid, usize>,
                idempotency: Vec<(IdempotencyRecord, i64, usize)>,
                keys: HashMap<(String, String), usize>,
                writes: Vec<Write>,
            }

            /// A request's answer: given already, or the next `n` pending events once written.
            enum Answer {
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

                /// Every request's answer, once its events are written.
                fn answer(self, answers: Vec<Answer>) -> Vec<Result<Appended, StoreError>> {
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

            /// One request of the batch: its first answer again if it was appended before, a
            /// refusal of it alone if a stream it read has moved, or its events appended.
            async fn append_one(
                conn: &mut Connection,
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
                if let Some(events) = appended_before(conn, seen, pending, &events).await? {
                    return Ok(Answer::Given(Ok(Appended {
                        events,
                        replayed: true,
                    })));
                }
                if let Some(idem) = &idempotency
                    && let Some(answer) = answered_before(conn, pending, idem).await?
                {
                    return Ok(Answer::Given(answer));
                }
                if let Some(conflict) = stale_stream(conn, end, &expected).await? {
                    return Ok(Answer::Given(Err(conflict)));
                }
                let first_position = end.size;
                let count = events.len();
                for event in events {
                    append_event(conn, end, pending, event).await?;
                }
                if let Some(idem) = idempotency {
                    let key = (idem.scope.clone(), idem.key.clone());
                    pending.keys.insert(key, pending.idempotency.len());
                    pending.idempotency.push((idem, first_position, count));
                }
                pending.writes.extend(writes);
                Ok(Answer::Appended(count))
            }

            /// The stored events of a request whose first event id is already in the log, or
            /// earlier in this batch.
            async fn appended_before(
                conn: &mut Connection,
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
                let events = read_range(&mut *conn, position as u64, events.len() as u32).await?;
                Ok(Some(events))
            }

            /// The first answer to an idempotency key already used (in the log, or earlier in
            /// this batch): its events again, or a refusal when the key was used for a
            /// different request.
            async fn answered_before(
                conn: &mut Connection,
                pending: &Pending,
                idem: &IdempotencyRecord,
            ) -> Result<Option<Result<Appended, StoreError>>, StoreError> {
                let key = (idem.scope.clone(), idem.key.clone());
                let (hash, events) = if let Some(&i) = pending.keys.get(&key) {
                    let (first, first_position, count) = &pending.idempotency[i];
                    let start = pending.events.first().map_or(0, |e| e.position as i64);
                    let from = (first_position - start) as usize;
                    (first.request_hash.clone(), pending.range(from, *count))
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
                    let events = read_range(&mut *conn, first as u64, count as u32).await?;
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
                conn: &mut Connection,
                end: &mut LogEnd,
                expected: &[(String, Option<i64>)],
            ) -> Result<Option<StoreError>, StoreError> {
                for (stream, expected) in expected {
                    let actual = current_version(conn, end, stream).await?;
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

            /// A stream's version as the batch has moved it (looked up once, in
            /// `look_up_batch`; asked of the database only for a stream that was not named).
            async fn current_version(
                conn: &mut Connection,
                end: &mut LogEnd,
                stream: &str,
            ) -> Result<Option<i64>, StoreError> {
                if let Some(v) = end.versions.get(stream) {
                    return Ok(*v);
                }
                let v = stream_version(&mut *conn, stream).await?;
                end.versions.insert(stream.to_owned(), v);
                Ok(v)
            }

            /// Places one event at the end of the log, with its leaf and chain hashes and its
            /// stream's next version.
            async fn append_event(
                conn: &mut Connection,
                end: &mut LogEnd,
                pending: &mut Pending,
                event: NewEvent,
            ) -> Result<(), StoreError> {
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
                let current = current_version(conn, end, &stream_id).await?;
                let stream_version = current.map_or(0, |v| v + 1);
                let leaf = leaf_hash(&payload);
                end.chain = chain_hash(&end.chain, &leaf);
                end.versions.insert(stream_id.clone(), Some(stream_version));
                pending.index_of.insert(event_id, pending.events.len());
                pending.events.push(StoredEvent {
                    position: end.size as u64,
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
                    chain_hash: end.chain.clone(),
                });
                end.size += 1;
                Ok(())
            }

            $crate::store::append_rows::shared_append_rows!($db);
        }
    };
}

pub(crate) use shared_append;
