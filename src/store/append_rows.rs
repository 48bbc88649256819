//! The second half of the append (`append.rs`): writing what a batch appends, one multi-row
//! statement a table (events, the Merkle tree's new hashes from the stored frontier, stream
//! versions, idempotency records, projection rows, token records and webhook subscriptions),
//! then moving the log head. What these rows are is worked out by pure functions
//! (`new_tree_hashes`, `frontier_wanted`, `last_versions`, `latest_rows`); the functions of
//! `Sql<DB>` here only write them.

use std::collections::{BTreeMap, HashMap};

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type};

use super::append::{LogEnd, Pending, ROWS_PER_STATEMENT};
use super::sql::{
    AWARD_COLUMNS, AWARD_UPSERT, Db, EVENT_COLUMNS, ORGANISATION_COLUMNS, ORGANISATION_UPSERT, Sql,
};
use crate::store::webhooks::WebhookRow;
use crate::store::{AwardRow, IdempotencyRecord, OrganisationRow, StoreError, StoredEvent, Write};
use crate::transparency::merkle::{Hash, node_hash};

/// The stored complete subtrees a log of `size` leaves needs when `added` new leaves are hashed
/// in, as (level, index): the one at level `l` (a bit of `size`) is the left sibling of a new
/// node when the new leaves reach past it.
pub(crate) fn frontier_wanted(size: i64, added: i64) -> Vec<(i32, i64)> {
    (0..63)
        .filter(|l| size >> l & 1 == 1 && (size + added) >> l > size >> l)
        .map(|l| (l, (size >> l) - 1))
        .collect()
}

/// Each new leaf and every complete subtree it finishes (Go tlog's layout), as (level, index,
/// hash). A left sibling is either new in this batch or on `frontier`, the stored tree's
/// complete subtrees by level (`frontier_wanted`); each is taken from it as it is used.
pub(crate) fn new_tree_hashes(
    frontier: &mut [Option<Hash>],
    events: &[StoredEvent],
) -> Result<Vec<(i32, i64, Hash)>, StoreError> {
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
    Ok(rows)
}

/// Each stream `events` write, at its last new version, in stream order.
pub(crate) fn last_versions(events: &[StoredEvent]) -> Vec<(&str, i64)> {
    let last: BTreeMap<&str, i64> = events
        .iter()
        .map(|e| (e.stream_id.as_str(), e.stream_version))
        .collect();
    last.into_iter().collect()
}

/// The organisation and award rows among `writes`, each once with its last values (as writing
/// each in turn would leave it), in the order each was first written.
pub(crate) fn latest_rows(writes: &[Write]) -> (Vec<&OrganisationRow>, Vec<&AwardRow>) {
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
            Write::TokenCreated(_)
            | Write::TokenRevoked { .. }
            | Write::WebhookCreated(_)
            | Write::WebhookSecret { .. }
            | Write::WebhookReplay { .. }
            | Write::WebhookDeleted { .. } => {}
        }
    }
    (organisations, awards)
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
    /// Writes what the batch appends: a multi-row statement a table (a few, for a batch of
    /// thousands).
    pub(crate) async fn write_pending(
        conn: &mut DB::Connection,
        end: &LogEnd,
        pending: &Pending,
    ) -> Result<(), StoreError> {
        Self::insert_events(conn, &pending.events).await?;
        Self::insert_tree_hashes(conn, end.start_size, &pending.events).await?;
        Self::upsert_streams(conn, &pending.events).await?;
        Self::record_idempotency(conn, &pending.idempotency).await?;
        Self::write_projections(conn, &pending.writes).await?;
        Ok(())
    }

    /// The events, at their positions, with their hashes.
    async fn insert_events(
        conn: &mut DB::Connection,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        for rows in events.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new(format!("INSERT INTO events ({EVENT_COLUMNS}) "));
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
            DB::narrow(q.build())
                .persistent(DB::kept_prepared(rows.len()))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The Merkle tree's new hashes (`new_tree_hashes`), from the stored frontier, which is
    /// read in one query.
    async fn insert_tree_hashes(
        conn: &mut DB::Connection,
        start_size: i64,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        let mut frontier = Self::stored_frontier(conn, start_size, events.len() as i64).await?;
        let rows = new_tree_hashes(&mut frontier, events)?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new("INSERT INTO tree_hashes (level, idx, hash) ");
            q.push_values(chunk, |mut row, (level, idx, hash)| {
                row.push_bind(*level)
                    .push_bind(*idx)
                    .push_bind(hash.as_slice());
            });
            DB::narrow(q.build())
                .persistent(DB::kept_prepared(chunk.len()))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The stored complete subtrees of a log of `size` leaves that `added` new leaves will be
    /// hashed with, by level (`frontier_wanted`).
    async fn stored_frontier(
        conn: &mut DB::Connection,
        size: i64,
        added: i64,
    ) -> Result<Vec<Option<Hash>>, StoreError> {
        let mut frontier = vec![None; 64];
        let wanted = frontier_wanted(size, added);
        if wanted.is_empty() {
            return Ok(frontier);
        }
        let mut q = QueryBuilder::<DB>::new("SELECT level, idx, hash FROM tree_hashes WHERE ");
        for (i, (level, idx)) in wanted.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("(level = ")
                .push_bind(*level)
                .push(" AND idx = ")
                .push_bind(*idx)
                .push(")");
        }
        for row in DB::narrow(q.build())
            .persistent(DB::kept_prepared(wanted.len()))
            .fetch_all(&mut *conn)
            .await?
        {
            let level: i32 = row.try_get("level")?;
            let hash: Vec<u8> = row.try_get("hash")?;
            let hash: Hash = hash.as_slice().try_into().map_err(|_| {
                StoreError::Corrupt(format!("a tree hash at level {level} is not 32 bytes"))
            })?;
            frontier[level as usize] = Some(hash);
        }
        Ok(frontier)
    }

    /// Each stream the batch wrote, at its last new version (`last_versions`).
    async fn upsert_streams(
        conn: &mut DB::Connection,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        let last = last_versions(events);
        for rows in last.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new("INSERT INTO streams (stream_id, version) ");
            q.push_values(rows, |mut row, (stream, version)| {
                row.push_bind(*stream).push_bind(*version);
            });
            q.push(" ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version");
            DB::narrow(q.build())
                .persistent(DB::kept_prepared(rows.len()))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Remembers each request's idempotency key with the events it appended.
    pub(crate) async fn record_idempotency(
        conn: &mut DB::Connection,
        records: &[(IdempotencyRecord, i64, usize)],
    ) -> Result<(), StoreError> {
        for rows in records.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new(
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
            DB::narrow(q.build())
                .persistent(DB::kept_prepared(rows.len()))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The projection rows and token records that go with the batch's events. A row written
    /// twice keeps its last values (`latest_rows`); organisations come before the awards that
    /// name them; token records keep their order (a token may be created and revoked in one
    /// batch).
    async fn write_projections(
        conn: &mut DB::Connection,
        writes: &[Write],
    ) -> Result<(), StoreError> {
        let (organisations, awards) = latest_rows(writes);
        Self::upsert_organisations(conn, &organisations).await?;
        Self::upsert_awards(conn, &awards).await?;
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
                webhook => Self::write_webhook(conn, webhook).await?,
            }
        }
        Ok(())
    }

    /// A new webhook subscription's row; how many rows were written.
    async fn insert_webhook(conn: &mut DB::Connection, w: &WebhookRow) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO webhook_subscriptions (id, url, event_types, sealed_secret, \
             created_at, created_by, status, disabled_reason, next_position, failures, \
             next_attempt_at, lease_until, previous_secret_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0)",
        )
        .bind(&w.id)
        .bind(&w.url)
        .bind(&w.event_types)
        .bind(&w.sealed_secret)
        .bind(&w.created_at)
        .bind(&w.created_by)
        .bind(&w.status)
        .bind(&w.disabled_reason)
        .bind(w.next_position as i64)
        .bind(i64::from(w.failures))
        .bind(w.next_attempt_at)
        .execute(&mut *conn)
        .await?;
        Ok(DB::rows_affected(&done))
    }

    /// A webhook subscription's row made, changed or removed with the event that records it. A
    /// change to a subscription that is gone (deleted meanwhile) fails the append, so the log
    /// never records a change that was not made.
    async fn write_webhook(conn: &mut DB::Connection, write: &Write) -> Result<(), StoreError> {
        let (id, changed) = match write {
            Write::WebhookCreated(w) => (&w.id, Self::insert_webhook(conn, w).await?),
            Write::WebhookSecret {
                id,
                sealed_secret,
                previous_until,
            } => {
                let done = sqlx::query(
                    "UPDATE webhook_subscriptions SET \
                     sealed_previous_secret = sealed_secret, previous_secret_until = $3, \
                     sealed_secret = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(sealed_secret)
                .bind(previous_until)
                .execute(&mut *conn)
                .await?;
                (id, DB::rows_affected(&done))
            }
            Write::WebhookReplay { id, from } => {
                let done = sqlx::query(
                    "UPDATE webhook_subscriptions SET next_position = $2, failures = 0, \
                     next_attempt_at = 0, status = 'active', disabled_reason = NULL \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(*from as i64)
                .execute(&mut *conn)
                .await?;
                (id, DB::rows_affected(&done))
            }
            Write::WebhookDeleted { id } => {
                sqlx::query("DELETE FROM webhook_deliveries WHERE subscription_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                let done = sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                (id, DB::rows_affected(&done))
            }
            Write::Organisation(_)
            | Write::Award(_)
            | Write::TokenCreated(_)
            | Write::TokenRevoked { .. } => return Ok(()),
        };
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                stream: format!("webhook-{id}"),
                expected: Some(0),
                actual: None,
            })
        }
    }

    /// Organisation rows, each once, in multi-row upserts.
    pub(crate) async fn upsert_organisations(
        conn: &mut DB::Connection,
        organisations: &[&OrganisationRow],
    ) -> Result<(), StoreError> {
        for rows in organisations.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new(format!(
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
            DB::narrow(q.build())
                .persistent(DB::kept_prepared(rows.len()))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Award rows, each once, in multi-row upserts.
    pub(crate) async fn upsert_awards(
        conn: &mut DB::Connection,
        awards: &[&AwardRow],
    ) -> Result<(), StoreError> {
        for rows in awards.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new(format!("INSERT INTO awards ({AWARD_COLUMNS}) "));
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
            DB::narrow(q.build())
                .persistent(DB::kept_prepared(rows.len()))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Moves the log head to the batch's new end.
    pub(crate) async fn move_log_head(
        conn: &mut DB::Connection,
        end: &LogEnd,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE log_head SET size = $1, chain_hash = $2 WHERE id = 1")
            .bind(end.size)
            .bind(&end.chain)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that unwraps fails loudly, which is what a test should do
mod tests {
    use super::*;
    use crate::store::append::{LogEnd, Pending};
    use crate::store::{GENESIS_CHAIN, NewEvent};
    use crate::transparency::merkle::Tree;

    /// `n` events placed on an empty log, one stream each `streams` apart.
    fn placed(n: usize, streams: usize) -> Vec<StoredEvent> {
        let mut end = LogEnd::new(0, GENESIS_CHAIN.to_vec());
        let mut pending = Pending::default();
        for i in 0..n {
            let stream = format!("s{}", i % streams);
            let current = end.versions.get(&stream).copied().flatten();
            end.place(&mut pending, event(&stream, i), current);
        }
        pending.events
    }

    fn event(stream: &str, i: usize) -> NewEvent {
        NewEvent {
            event_id: uuid::Uuid::from_u128(i as u128 + 1),
            stream_id: stream.to_owned(),
            event_type: "test".into(),
            schema_version: 1,
            payload: format!("{{\"n\":{i}}}").into_bytes(),
            recorded_at: "2026-01-01T00:00:00Z".into(),
            actor: "tester".into(),
            visibility: crate::domain::Visibility::Public,
        }
    }

    /// The stored tree's levels as rows, as `insert_tree_hashes` leaves them.
    fn rows_of(tree: &Tree) -> Vec<(i32, i64, Hash)> {
        let mut rows = Vec::new();
        for level in 0..tree.height() {
            for (idx, hash) in tree.level(level).iter().enumerate() {
                rows.push((level as i32, idx as i64, *hash));
            }
        }
        rows.sort();
        rows
    }

    #[test]
    fn the_frontier_is_the_complete_subtrees_the_new_leaves_reach_past() {
        assert!(frontier_wanted(0, 5).is_empty());
        // 5 = 101b: the leaf 4 at level 0 and the subtree 0 at level 2 (leaves 0..4).
        assert_eq!(frontier_wanted(5, 1), vec![(0, 4)]);
        assert_eq!(frontier_wanted(5, 3), vec![(0, 4), (2, 0)]);
        // 6 = 110b: adding one leaf finishes no subtree beyond level 0's pair (6, 7).
        assert_eq!(frontier_wanted(6, 1), Vec::<(i32, i64)>::new());
        assert_eq!(frontier_wanted(6, 2), vec![(1, 2), (2, 0)]);
    }

    #[test]
    fn new_tree_hashes_from_the_frontier_are_the_whole_trees_hashes() {
        let events = placed(23, 3);
        for split in 0..=events.len() {
            let (before, after) = events.split_at(split);
            let stored = Tree::from_leaves(before.iter().map(|e| {
                let leaf: Hash = e.leaf_hash.as_slice().try_into().unwrap();
                leaf
            }));
            let mut frontier = vec![None; 64];
            for (level, idx) in frontier_wanted(split as i64, after.len() as i64) {
                frontier[level as usize] = Some(stored.level(level as usize)[idx as usize]);
            }
            let mut rows = rows_of(&stored);
            rows.extend(new_tree_hashes(&mut frontier, after).unwrap());
            rows.sort();
            let whole = Tree::from_leaves(events.iter().map(|e| {
                let leaf: Hash = e.leaf_hash.as_slice().try_into().unwrap();
                leaf
            }));
            assert_eq!(rows, rows_of(&whole), "split at {split}");
        }
    }

    #[test]
    fn a_missing_left_sibling_is_a_corrupt_log_not_a_wrong_hash() {
        let events = placed(2, 1);
        let mut frontier = vec![None; 64];
        let err = new_tree_hashes(&mut frontier, &events[1..]).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(why) if why == "tree hash 0/0 is missing"),
            "{err}"
        );
    }

    #[test]
    fn each_stream_is_written_once_at_its_last_version() {
        let events = placed(7, 3);
        assert_eq!(
            last_versions(&events),
            vec![("s0", 2), ("s1", 1), ("s2", 1)]
        );
        assert!(last_versions(&[]).is_empty());
    }

    #[test]
    fn a_row_written_twice_keeps_its_last_values_and_its_first_place() {
        let organisation = |id: &str, name: &str| OrganisationRow {
            organisation_id: id.into(),
            name: name.into(),
            search_key: name.to_lowercase(),
            ods_code: None,
            region: "London".into(),
            kind: "trust".into(),
        };
        let award = |number: &str, standing: &str| AwardRow {
            certificate_number: number.into(),
            compact_number: number.into(),
            organisation_id: "o1".into(),
            organisation_name: "First".into(),
            search_key: "first".into(),
            ods_code: None,
            region: "London".into(),
            level: "gold".into(),
            awarded_on: "2026-01-01".into(),
            valid_until: "2029-01-01".into(),
            expires_on: "2029-01-02".into(),
            standing: standing.into(),
            issuer_name: "NHS England".into(),
        };
        let writes = vec![
            Write::Organisation(organisation("o1", "First")),
            Write::Award(award("A1", "active")),
            Write::Organisation(organisation("o2", "Second")),
            Write::TokenRevoked {
                token_id: "t".into(),
                at: "now".into(),
            },
            Write::Organisation(organisation("o1", "First, renamed")),
            Write::Award(award("A1", "suspended")),
        ];
        let (organisations, awards) = latest_rows(&writes);
        let names: Vec<_> = organisations.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["First, renamed", "Second"]);
        let standings: Vec<_> = awards.iter().map(|a| a.standing.as_str()).collect();
        assert_eq!(standings, ["suspended"]);
    }
}
