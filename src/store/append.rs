//! The append, written once for both databases like the rest of `sql.rs` (whose macro expands
//! this one): one transaction, in named steps. The log head's row is locked first, so positions
//! are assigned in commit order; then each request of the batch is answered again if it was
//! appended before, refused alone if a stream it read has moved, or appended (events with their
//! leaf and chain hashes, the Merkle tree's new hashes, stream versions, the idempotency record,
//! projection rows); last the log head moves to the new end, and everything commits together.

macro_rules! shared_append {
    ($db:ty) => {
        mod append {
            use std::collections::HashMap;

            use sqlx::Row;

            use super::{
                EVENT_COLUMNS, read_range, stream_version, upsert_award, upsert_organisation,
            };
            use $crate::store::{
                AppendRequest, Appended, IdempotencyRecord, NewEvent, StoreError, StoredEvent,
                Write, chain_hash, leaf_hash,
            };

            type Connection = <$db as sqlx::Database>::Connection;

            /// Appends each request of `batch` in order, in one transaction (see
            /// `EventStore::append_batch`).
            pub(super) async fn append_batch(
                pool: &sqlx::Pool<$db>,
                batch: Vec<AppendRequest>,
            ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
                let mut tx = pool.begin().await?;
                refuse_unless_top_level(&tx)?;
                let mut end = lock_log_head(&mut tx).await?;
                let mut results = Vec::with_capacity(batch.len());
                for request in batch {
                    results.push(append_one(&mut tx, &mut end, request).await?);
                }
                if end.size != end.start_size {
                    move_log_head(&mut tx, &end).await?;
                }
                tx.commit().await?;
                Ok(results)
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

            /// One request of the batch: its first answer again if it was appended before, a
            /// refusal of it alone if a stream it read has moved, or its events appended.
            async fn append_one(
                conn: &mut Connection,
                end: &mut LogEnd,
                request: AppendRequest,
            ) -> Result<Result<Appended, StoreError>, StoreError> {
                let AppendRequest {
                    events,
                    expected,
                    idempotency,
                    writes,
                } = request;
                if let Some(events) = appended_before(conn, &events).await? {
                    return Ok(Ok(Appended {
                        events,
                        replayed: true,
                    }));
                }
                if let Some(idem) = &idempotency
                    && let Some(answer) = answered_before(conn, idem).await?
                {
                    return Ok(answer);
                }
                if let Some(conflict) = stale_stream(conn, end, &expected).await? {
                    return Ok(Err(conflict));
                }
                let first_position = end.size;
                let mut stored = Vec::with_capacity(events.len());
                for event in events {
                    stored.push(insert_event(conn, end, event).await?);
                }
                if let Some(idem) = &idempotency {
                    record_idempotency(conn, idem, first_position, stored.len()).await?;
                }
                write_projections(conn, &writes).await?;
                Ok(Ok(Appended {
                    events: stored,
                    replayed: false,
                }))
            }

            /// The stored events of a request whose first event id is already in the log.
            async fn appended_before(
                conn: &mut Connection,
                events: &[NewEvent],
            ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
                let Some(first) = events.first() else {
                    return Ok(None);
                };
                let seen = sqlx::query("SELECT position FROM events WHERE event_id = $1")
                    .bind(first.event_id.to_string())
                    .fetch_optional(&mut *conn)
                    .await?;
                let Some(seen) = seen else { return Ok(None) };
                let position: i64 = seen.try_get("position")?;
                let events = read_range(&mut *conn, position as u64, events.len() as u32).await?;
                Ok(Some(events))
            }

            /// The first answer to an idempotency key already used: its events again, or a
            /// refusal when the key was used for a different request.
            async fn answered_before(
                conn: &mut Connection,
                idem: &IdempotencyRecord,
            ) -> Result<Option<Result<Appended, StoreError>>, StoreError> {
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
                    let actual = match end.versions.get(stream) {
                        Some(v) => *v,
                        None => {
                            let v = stream_version(&mut *conn, stream).await?;
                            end.versions.insert(stream.clone(), v);
                            v
                        }
                    };
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

            /// Stores one event at the end of the log, with its leaf and chain hashes, the tree
            /// hashes it completes and its stream's next version.
            async fn insert_event(
                conn: &mut Connection,
                end: &mut LogEnd,
                event: NewEvent,
            ) -> Result<StoredEvent, StoreError> {
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
                let current = match end.versions.get(&stream_id) {
                    Some(v) => *v,
                    None => stream_version(&mut *conn, &stream_id).await?,
                };
                let stream_version = current.map_or(0, |v| v + 1);
                let leaf = leaf_hash(&payload);
                end.chain = chain_hash(&end.chain, &leaf);
                sqlx::query(&format!(
                    "INSERT INTO events ({EVENT_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(end.size)
                .bind(event_id.to_string())
                .bind(&stream_id)
                .bind(stream_version)
                .bind(&event_type)
                .bind(schema_version)
                .bind(&payload)
                .bind(&recorded_at)
                .bind(&actor)
                .bind(visibility.as_str())
                .bind(&leaf)
                .bind(&end.chain)
                .execute(&mut *conn)
                .await?;
                insert_tree_hashes(conn, end.size, &leaf).await?;
                sqlx::query(
                    "INSERT INTO streams (stream_id, version) VALUES ($1, $2) \
                     ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version",
                )
                .bind(&stream_id)
                .bind(stream_version)
                .execute(&mut *conn)
                .await?;
                end.versions.insert(stream_id.clone(), Some(stream_version));
                let stored = StoredEvent {
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
                };
                end.size += 1;
                Ok(stored)
            }

            /// The leaf at `position` and every complete subtree it finishes (Go tlog's layout).
            async fn insert_tree_hashes(
                conn: &mut Connection,
                position: i64,
                leaf: &[u8],
            ) -> Result<(), StoreError> {
                let mut level: i32 = 0;
                let mut index = position;
                let mut node: [u8; 32] = leaf
                    .try_into()
                    .expect("a SHA-256 leaf hash is 32 bytes");
                loop {
                    sqlx::query("INSERT INTO tree_hashes (level, idx, hash) VALUES ($1, $2, $3)")
                        .bind(level)
                        .bind(index)
                        .bind(node.to_vec())
                        .execute(&mut *conn)
                        .await?;
                    if index & 1 == 0 {
                        return Ok(());
                    }
                    let left: Vec<u8> =
                        sqlx::query("SELECT hash FROM tree_hashes WHERE level = $1 AND idx = $2")
                            .bind(level)
                            .bind(index - 1)
                            .fetch_one(&mut *conn)
                            .await?
                            .try_get("hash")?;
                    let left: [u8; 32] = left.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt(format!(
                            "tree hash {level}/{} is not 32 bytes",
                            index - 1
                        ))
                    })?;
                    node = $crate::transparency::merkle::node_hash(&left, &node);
                    level += 1;
                    index >>= 1;
                }
            }

            /// Remembers the request's idempotency key with the events it appended.
            async fn record_idempotency(
                conn: &mut Connection,
                idem: &IdempotencyRecord,
                first_position: i64,
                event_count: usize,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO idempotency_keys \
                     (scope, idem_key, request_hash, first_position, event_count) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&idem.scope)
                .bind(&idem.key)
                .bind(&idem.request_hash)
                .bind(first_position)
                .bind(event_count as i64)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// The projection rows and token records that go with the request's events.
            async fn write_projections(
                conn: &mut Connection,
                writes: &[Write],
            ) -> Result<(), StoreError> {
                for write in writes {
                    match write {
                        Write::Organisation(o) => upsert_organisation(&mut *conn, o).await?,
                        Write::Award(a) => upsert_award(&mut *conn, a).await?,
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
                    }
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
