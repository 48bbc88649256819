//! Changing what the store holds behind its back, as an intruder with the database's password
//! would, for the tests that prove the registry notices: each change is one named function here,
//! run on SQLite or PostgreSQL alike, past the triggers that keep the log append-only.

use wexqs::store::{EventStore as _, Store};

/// A value bound to a statement's `$1`, `$2`, … (SQLite reads them as named parameters, in
/// order, as PostgreSQL does).
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Bytes(Vec<u8>),
}

/// Runs `sql` with `binds` on `store`'s database, outside the store.
pub(crate) async fn execute_with(store: &Store, sql: &str, binds: &[Bind]) {
    match store {
        Store::Sqlite(s) => {
            let mut query = sqlx::query(sql);
            for bind in binds {
                query = match bind {
                    Bind::Int(i) => query.bind(*i),
                    Bind::Bytes(b) => query.bind(b.clone()),
                };
            }
            query.execute(s.pool()).await.map(drop)
        }
        Store::Postgres(p) => {
            let mut query = sqlx::query(sql);
            for bind in binds {
                query = match bind {
                    Bind::Int(i) => query.bind(*i),
                    Bind::Bytes(b) => query.bind(b.clone()),
                };
            }
            query.execute(p.pool()).await.map(drop)
        }
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Runs `sql` on `store`'s database, outside the store.
pub(crate) async fn execute(store: &Store, sql: &str) {
    execute_with(store, sql, &[]).await;
}

/// Lifts the triggers that refuse to change or remove a stored event.
pub(crate) async fn allow_changes(store: &Store) {
    match store {
        Store::Sqlite(_) => {
            execute(
                store,
                "DROP TRIGGER IF EXISTS events_are_append_only_update",
            )
            .await;
            execute(
                store,
                "DROP TRIGGER IF EXISTS events_are_append_only_delete",
            )
            .await;
        }
        Store::Postgres(_) => {
            execute(
                store,
                "DROP TRIGGER IF EXISTS events_are_append_only ON events",
            )
            .await;
        }
    }
}

/// The stored payload of the event at `position`.
pub(crate) async fn payload(store: &Store, position: u64) -> Vec<u8> {
    store
        .read(position, 1)
        .await
        .expect("read")
        .pop()
        .expect("an event there")
        .payload
}

/// Replaces `from` by `to` in the stored payload of the event at `position`, leaving its hashes
/// as they were.
pub(crate) async fn replace_in_payload(store: &Store, position: u64, from: &str, to: &str) {
    let payload = String::from_utf8_lossy(&payload(store, position).await).replace(from, to);
    allow_changes(store).await;
    execute_with(
        store,
        "UPDATE events SET payload = $1 WHERE position = $2",
        &[
            Bind::Bytes(payload.into_bytes()),
            Bind::Int(position as i64),
        ],
    )
    .await;
}

/// Rewrites the event at `position` whole (its payload, leaf hash and chain hash) and points the
/// log head's chain hash at `chain`, as one who knows the format would.
pub(crate) async fn rewrite_event(
    store: &Store,
    position: u64,
    payload: &[u8],
    leaf: &[u8],
    chain: &[u8],
) {
    allow_changes(store).await;
    execute_with(
        store,
        "UPDATE events SET payload = $1, leaf_hash = $2, chain_hash = $3 WHERE position = $4",
        &[
            Bind::Bytes(payload.to_vec()),
            Bind::Bytes(leaf.to_vec()),
            Bind::Bytes(chain.to_vec()),
            Bind::Int(position as i64),
        ],
    )
    .await;
    execute_with(
        store,
        "UPDATE log_head SET chain_hash = $1 WHERE id = 1",
        &[Bind::Bytes(chain.to_vec())],
    )
    .await;
}

/// Removes the log's last event and rewinds the head to the one before it, so that the log
/// agrees with itself and only what was published outside it tells.
pub(crate) async fn remove_last(store: &Store) {
    let head = store.head().await.expect("the head");
    let last = head.size - 1;
    let previous = store
        .read(last - 1, 1)
        .await
        .expect("read")
        .pop()
        .expect("an event");
    allow_changes(store).await;
    execute_with(
        store,
        "DELETE FROM events WHERE position = $1",
        &[Bind::Int(last as i64)],
    )
    .await;
    execute_with(
        store,
        "UPDATE log_head SET size = $1, chain_hash = $2",
        &[Bind::Int(last as i64), Bind::Bytes(previous.chain_hash)],
    )
    .await;
}
