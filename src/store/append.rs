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

            use super::{EVENT_COLUMNS, ORGANISATION_COLUMNS, AWARD_COLUMNS, read_range,
                stream_version, AWARD_UPSERT, ORGANISATION_UPSERT};
            use $crate::store::{
                AppendRequest, Appended, AwardRow, IdempotencyRecord, NewEvent,
                OrganisationRow, StoreError, StoredEvent, Write, chain_hash, leaf_hash,
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
                let seen = look_up_batch(&mut tx, &mut end, &batch).await?;
                let mut pending = Pending::default();
                let mut answers = Vec::with_capacity(batch.len());
                for request in batch {
                    answers.push(append_one(&mut tx, &mut end, &seen, &mut pending, request).await?);
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
            struct LogEnd {
                start_size: i64,
                size: i64,
                chain: Vec<u8>,
                versions: HashMap<String, Option<i64>>,
            }

            /// Taking the log head's row lock first serialises writers: positions are assigned
            /// in commit order and no reader ever sees a gap.
            async fn lock_log_head(conn: &mut Connection) -> Result<LogEnd, StoreError> {
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
                    for row in q.build().persistent(ids.len() == 1).fetch_all(&mut *conn).await? {
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
                    let rows = q.build().persistent(chunk.len() == 1).fetch_all(&mut *conn).await?;
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
                    self.events.iter().skip(first).take(count).cloned().collect()
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

            /// Writes what the batch appends: a multi-row statement a table (a few, for a
            /// batch of thousands).
            async fn write_pending(
                conn: &mut Connection,
                end: &LogEnd,
                pending: &Pending,
            ) -> Result<(), StoreError> {
                insert_events(conn, &pending.events).await?;
                insert_tree_hashes(conn, end.start_size, &pending.events).await?;
                upsert_streams(conn, &pending.events).await?;
                record_idempotency(conn, &pending.idempotency).await?;
                write_projections(conn, &pending.writes).await?;
                Ok(())
            }

            async fn insert_events(
                conn: &mut Connection,
                events: &[StoredEvent],
            ) -> Result<(), StoreError> {
                for rows in events.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(format!(
                        "INSERT INTO events ({EVENT_COLUMNS}) "
                    ));
                    q.push_values(rows, |mut row, e| {
                        row.push_bind(e.position as i64)
                            .push_bind(e.event_id.to_string())
                            .push_bind(&e.stream_id)
                            .push_bind(e.stream_version)
                            .push_bind(&e.event_type)
                            .push_bind(e.schema_version)
                            .push_bind(&e.payload)
                            .push_bind(&e.recorded_at)
                            .push_bind(&e.actor)
                            .push_bind(e.visibility.as_str())
                            .push_bind(&e.leaf_hash)
                            .push_bind(&e.chain_hash);
                    });
                    q.build().persistent(rows.len() == 1).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Each new leaf and every complete subtree it finishes (Go tlog's layout). A left
            /// sibling is either new in this batch or on the stored tree's frontier (the
            /// complete subtrees of the log before the batch), which is read in one query.
            async fn insert_tree_hashes(
                conn: &mut Connection,
                start_size: i64,
                events: &[StoredEvent],
            ) -> Result<(), StoreError> {
                let mut frontier = stored_frontier(conn, start_size, events.len() as i64).await?;
                let mut rows: Vec<(i32, i64, Hash)> = Vec::with_capacity(events.len() * 2);
                for e in events {
                    let mut node: Hash = e
                        .leaf_hash
                        .as_slice()
                        .try_into()
                        .expect("a SHA-256 leaf hash is 32 bytes");
                    let (mut level, mut index) = (0usize, e.position as i64);
                    rows.push((0, index, node));
                    while index & 1 == 1 {
                        let left = frontier[level].take().ok_or_else(|| {
                            StoreError::Corrupt(format!("tree hash {level}/{} is missing", index - 1))
                        })?;
                        node = node_hash(&left, &node);
                        level += 1;
                        index >>= 1;
                        rows.push((level as i32, index, node));
                    }
                    frontier[level] = Some(node);
                }
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO tree_hashes (level, idx, hash) ");
                    q.push_values(chunk, |mut row, (level, idx, hash)| {
                        row.push_bind(*level).push_bind(*idx).push_bind(hash.as_slice());
                    });
                    q.build().persistent(chunk.len() <= 2).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// The stored complete subtrees of a log of `size` leaves that `added` new leaves
            /// will be hashed with, by level: the one at level `l` (a bit of `size`) is the
            /// left sibling of a new node when the new leaves reach past it.
            async fn stored_frontier(
                conn: &mut Connection,
                size: i64,
                added: i64,
            ) -> Result<Vec<Option<Hash>>, StoreError> {
                let mut frontier = vec![None; 64];
                let wanted: Vec<(i32, i64)> = (0..63)
                    .filter(|l| size >> l & 1 == 1 && (size + added) >> l > size >> l)
                    .map(|l| (l, (size >> l) - 1))
                    .collect();
                if wanted.is_empty() {
                    return Ok(frontier);
                }
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT level, idx, hash FROM tree_hashes WHERE ",
                );
                for (i, (level, idx)) in wanted.iter().enumerate() {
                    if i > 0 {
                        q.push(" OR ");
                    }
                    q.push("(level = ").push_bind(*level).push(" AND idx = ").push_bind(*idx).push(")");
                }
                for row in q.build().persistent(wanted.len() <= 2).fetch_all(&mut *conn).await? {
                    let level: i32 = row.try_get("level")?;
                    let hash: Vec<u8> = row.try_get("hash")?;
                    let hash: Hash = hash.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt(format!("a tree hash at level {level} is not 32 bytes"))
                    })?;
                    frontier[level as usize] = Some(hash);
                }
                Ok(frontier)
            }

            /// Each stream the batch wrote, at its last new version.
            async fn upsert_streams(
                conn: &mut Connection,
                events: &[StoredEvent],
            ) -> Result<(), StoreError> {
                let last: BTreeMap<&str, i64> = events
                    .iter()
                    .map(|e| (e.stream_id.as_str(), e.stream_version))
                    .collect();
                let last: Vec<_> = last.into_iter().collect();
                for rows in last.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO streams (stream_id, version) ");
                    q.push_values(rows, |mut row, (stream, version)| {
                        row.push_bind(*stream).push_bind(*version);
                    });
                    q.push(" ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version");
                    q.build().persistent(rows.len() == 1).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Remembers each request's idempotency key with the events it appended.
            async fn record_idempotency(
                conn: &mut Connection,
                records: &[(IdempotencyRecord, i64, usize)],
            ) -> Result<(), StoreError> {
                for rows in records.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO idempotency_keys \
                         (scope, idem_key, request_hash, first_position, event_count) ",
                    );
                    q.push_values(rows, |mut row, (idem, first_position, count)| {
                        row.push_bind(&idem.scope)
                            .push_bind(&idem.key)
                            .push_bind(&idem.request_hash)
                            .push_bind(*first_position)
                            .push_bind(*count as i64);
                    });
                    q.build().persistent(rows.len() == 1).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// The projection rows and token records that go with the batch's events. A row
            /// written twice keeps its last values, as writing each in turn would leave it;
            /// organisations come before the awards that name them; token records keep their
            /// order (a token may be created and revoked in one batch).
            async fn write_projections(
                conn: &mut Connection,
                writes: &[Write],
            ) -> Result<(), StoreError> {
                let mut organisations: Vec<&OrganisationRow> = Vec::new();
                let mut organisation_at: HashMap<&str, usize> = HashMap::new();
                let mut awards: Vec<&AwardRow> = Vec::new();
                let mut award_at: HashMap<&str, usize> = HashMap::new();
                for write in writes {
                    match write {
                        Write::Organisation(o) => match organisation_at.get(o.organisation_id.as_str()) {
                            Some(&i) => organisations[i] = o,
                            None => {
                                organisation_at.insert(&o.organisation_id, organisations.len());
                                organisations.push(o);
                            }
                        },
                        Write::Award(a) => match award_at.get(a.certificate_number.as_str()) {
                            Some(&i) => awards[i] = a,
                            None => {
                                award_at.insert(&a.certificate_number, awards.len());
                                awards.push(a);
                            }
                        },
                        Write::TokenCreated(_) | Write::TokenRevoked { .. } => {}
                    }
                }
                upsert_organisations(conn, &organisations).await?;
                upsert_awards(conn, &awards).await?;
                for write in writes {
                    match write {
                        Write::TokenCreated(t) => {
                            sqlx::query(
                                "INSERT INTO api_tokens \
                                 (token_id, name, role, secret_hash, created_at, revoked_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6)",
                            )
                            .bind(&t.token_id)
                            .bind(&t.name)
                            .bind(&t.role)
                            .bind(&t.secret_hash)
                            .bind(&t.created_at)
                            .bind(&t.revoked_at)
                            .execute(&mut *conn)
                            .await?;
                        }
                        Write::TokenRevoked { token_id, at } => {
                            sqlx::query(
                                "UPDATE api_tokens SET revoked_at = $1 \
                                 WHERE token_id = $2 AND revoked_at IS NULL",
                            )
                            .bind(at)
                            .bind(token_id)
                            .execute(&mut *conn)
                            .await?;
                        }
                        Write::Organisation(_) | Write::Award(_) => {}
                    }
                }
                Ok(())
            }

            /// Organisation rows, each once, in multi-row upserts.
            pub(super) async fn upsert_organisations(
                conn: &mut Connection,
                organisations: &[&OrganisationRow],
            ) -> Result<(), StoreError> {
                for rows in organisations.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(format!(
                        "INSERT INTO organisations ({ORGANISATION_COLUMNS}) "
                    ));
                    q.push_values(rows, |mut row, o| {
                        row.push_bind(&o.organisation_id)
                            .push_bind(&o.name)
                            .push_bind(&o.search_key)
                            .push_bind(&o.ods_code)
                            .push_bind(&o.region)
                            .push_bind(&o.kind);
                    });
                    q.push(ORGANISATION_UPSERT);
                    q.build().persistent(rows.len() == 1).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Award rows, each once, in multi-row upserts.
            pub(super) async fn upsert_awards(
                conn: &mut Connection,
                awards: &[&AwardRow],
            ) -> Result<(), StoreError> {
                for rows in awards.chunks(ROWS_PER_STATEMENT) {
                    let mut q =
                        QueryBuilder::<$db>::new(format!("INSERT INTO awards ({AWARD_COLUMNS}) "));
                    q.push_values(rows, |mut row, a| {
                        row.push_bind(&a.certificate_number)
                            .push_bind(&a.compact_number)
                            .push_bind(&a.organisation_id)
                            .push_bind(&a.organisation_name)
                            .push_bind(&a.search_key)
                            .push_bind(&a.ods_code)
                            .push_bind(&a.region)
                            .push_bind(&a.level)
                            .push_bind(&a.awarded_on)
                            .push_bind(&a.valid_until)
                            .push_bind(&a.expires_on)
                            .push_bind(&a.standing)
                            .push_bind(&a.issuer_name);
                    });
                    q.push(AWARD_UPSERT);
                    q.build().persistent(rows.len() == 1).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Moves the log head to the batch's new end.
            async fn move_log_head(conn: &mut Connection, end: &LogEnd) -> Result<(), StoreError> {
                sqlx::query("UPDATE log_head SET size = $1, chain_hash = $2 WHERE id = 1")
                    .bind(end.size)
                    .bind(&end.chain)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use shared_append;
