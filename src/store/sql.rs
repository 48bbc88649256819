//! The SQL both databases share, written once as ordinary functions generic over the sqlx driver
//! (`Sql<DB>`): the statements are identical on SQLite and PostgreSQL (`$N` placeholders,
//! `ON CONFLICT`, `RETURNING`), only the driver's types differ, and the little that differs in
//! its API is `Db`'s. Each implementation (`sqlite.rs`, `postgres.rs`) adds its own connection
//! and migrations (`SqlStore`), and one `EventStore` impl, for both, hands its methods to these.
//! The append, the one write of the log, is `append.rs`'s and `append_rows.rs`'s; the webhooks'
//! rows are `webhooks.rs`'s.
//!
//! Every `impl Sql<DB>` block, and that `EventStore` impl, states the same `where` clause (what
//! the driver must encode, decode and execute): Rust does not carry a trait's `where` clauses to
//! its users, so no one trait can stand for them. Both drivers meet it; nothing is boxed or
//! looked up at run time.

use std::marker::PhantomData;

use sqlx::database::HasStatementCache;
use sqlx::query::Query;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type,
};

use crate::domain::Visibility;
use crate::store::{
    AppendRequest, Appended, AwardRow, Checkpoint, EventStore, LogHead, OrganisationRow,
    RegisterQuery, StoreError, StoredEvent, TokenRow,
};

/// What differs between the two drivers' APIs (their SQL does not).
pub(crate) trait Db: Database + HasStatementCache {
    /// The rows a statement changed (each driver's own result type says it).
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// A built query whose arguments live at least as long as the query itself, taken as one
    /// whose arguments live just as long. Each driver's arguments may be shortened so (they
    /// only borrow the values bound), but generic code cannot see it; without this a
    /// `QueryBuilder` could not be run and then dropped.
    fn narrow<'q, 'a: 'q>(
        query: Query<'q, Self, Self::Arguments<'a>>,
    ) -> Query<'q, Self, Self::Arguments<'q>>;

    /// Multi-row statements of up to this many rows are kept prepared on their connection (one
    /// shape a row count; see `kept_prepared`).
    const PREPARED_ROWS: usize;

    /// Whether a multi-row statement of `rows` rows is kept prepared. On PostgreSQL a statement
    /// not kept is parsed, planned and described at every use, a round trip of its own before
    /// the one that runs it: the appends of many concurrent writers (batches of tens of rows)
    /// are then kept, at most `PREPARED_ROWS` shapes a statement (`POSTGRES_STATEMENT_CACHE`
    /// bounds them all), while an import's thousand-row statements are not. SQLite prepares in
    /// the process, cheaply: only the one- and two-row shapes are kept.
    fn kept_prepared(rows: usize) -> bool {
        rows <= Self::PREPARED_ROWS
    }
}

/// The prepared statements a PostgreSQL connection keeps: the append's nine multi-row
/// statements at up to `PREPARED_ROWS` (64) shapes each, and room for the rest.
pub(crate) const POSTGRES_STATEMENT_CACHE: usize = 9 * 64 + 64;

impl Db for sqlx::Sqlite {
    const PREPARED_ROWS: usize = 2;

    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }

    fn narrow<'q, 'a: 'q>(
        query: Query<'q, Self, Self::Arguments<'a>>,
    ) -> Query<'q, Self, Self::Arguments<'q>> {
        query
    }
}

impl Db for sqlx::Postgres {
    const PREPARED_ROWS: usize = 64;

    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }

    fn narrow<'q, 'a: 'q>(
        query: Query<'q, Self, Self::Arguments<'a>>,
    ) -> Query<'q, Self, Self::Arguments<'q>> {
        query
    }
}

/// The shared SQL for the driver `DB` (`sqlx::Sqlite` or `sqlx::Postgres`): a namespace of
/// functions, never made.
pub(crate) struct Sql<DB>(PhantomData<DB>);

pub(crate) const EVENT_COLUMNS: &str = "position, event_id, stream_id, stream_version, \
     event_type, schema_version, payload, recorded_at, actor, visibility, leaf_hash, chain_hash";
pub(crate) const AWARD_COLUMNS: &str = "certificate_number, compact_number, organisation_id, \
     organisation_name, search_key, ods_code, region, level, awarded_on, valid_until, \
     expires_on, standing, issuer_name";
/// An award row written again keeps its key, number and organisation.
pub(crate) const AWARD_UPSERT: &str = " ON CONFLICT (certificate_number) DO UPDATE SET \
     organisation_name = excluded.organisation_name, search_key = excluded.search_key, \
     ods_code = excluded.ods_code, region = excluded.region, level = excluded.level, \
     awarded_on = excluded.awarded_on, valid_until = excluded.valid_until, \
     expires_on = excluded.expires_on, standing = excluded.standing, \
     issuer_name = excluded.issuer_name";
pub(crate) const ORGANISATION_COLUMNS: &str =
    "organisation_id, name, search_key, ods_code, region, kind";
pub(crate) const ORGANISATION_UPSERT: &str = " ON CONFLICT (organisation_id) DO UPDATE SET \
     name = excluded.name, search_key = excluded.search_key, ods_code = excluded.ods_code, \
     region = excluded.region, kind = excluded.kind";

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
    /// An event row as the log holds it.
    pub(crate) fn event_from_row(row: &DB::Row) -> Result<StoredEvent, StoreError> {
        let event_id: String = row.try_get("event_id")?;
        let visibility: String = row.try_get("visibility")?;
        let position: i64 = row.try_get("position")?;
        Ok(StoredEvent {
            position: position as u64,
            event_id: event_id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("event id {event_id:?}")))?,
            stream_id: row.try_get("stream_id")?,
            stream_version: row.try_get("stream_version")?,
            event_type: row.try_get("event_type")?,
            schema_version: row.try_get("schema_version")?,
            payload: row.try_get("payload")?,
            recorded_at: row.try_get("recorded_at")?,
            actor: row.try_get("actor")?,
            visibility: if visibility == "private" {
                Visibility::Private
            } else {
                Visibility::Public
            },
            leaf_hash: row.try_get("leaf_hash")?,
            chain_hash: row.try_get("chain_hash")?,
        })
    }

    fn award_from_row(row: &DB::Row) -> Result<AwardRow, StoreError> {
        Ok(AwardRow {
            certificate_number: row.try_get("certificate_number")?,
            compact_number: row.try_get("compact_number")?,
            organisation_id: row.try_get("organisation_id")?,
            organisation_name: row.try_get("organisation_name")?,
            search_key: row.try_get("search_key")?,
            ods_code: row.try_get("ods_code")?,
            region: row.try_get("region")?,
            level: row.try_get("level")?,
            awarded_on: row.try_get("awarded_on")?,
            valid_until: row.try_get("valid_until")?,
            expires_on: row.try_get("expires_on")?,
            standing: row.try_get("standing")?,
            issuer_name: row.try_get("issuer_name")?,
        })
    }

    /// Up to `limit` events from `from` on, in position order.
    pub(crate) async fn read_range<'c, E>(
        exec: E,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>
    where
        E: Executor<'c, Database = DB>,
    {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            // No position is past i64::MAX: reading from beyond it reads nothing.
            .bind(i64::try_from(from).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(exec)
            .await?;
        rows.iter().map(Self::event_from_row).collect()
    }

    /// Up to `limit` events of one stream, newest first.
    pub(crate) async fn stream_events(
        pool: &sqlx::Pool<DB>,
        stream: &str,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 \
             ORDER BY stream_version DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(stream)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
        rows.iter().map(Self::event_from_row).collect()
    }

    /// A stream's version as stored (`None`: a stream with no events).
    pub(crate) async fn stream_version<'c, E>(
        exec: E,
        stream: &str,
    ) -> Result<Option<i64>, StoreError>
    where
        E: Executor<'c, Database = DB>,
    {
        let row = sqlx::query("SELECT version FROM streams WHERE stream_id = $1")
            .bind(stream)
            .fetch_optional(exec)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<i64, _>("version")?),
            None => None,
        })
    }

    /// Adds the register's filters to a query that ends in `WHERE 1 = 1`.
    fn push_filters(qb: &mut QueryBuilder<'_, DB>, q: &RegisterQuery) {
        let text = [
            q.search_key
                .as_ref()
                .map(|k| ("search_key LIKE ", format!("%{k}%"))),
            q.ods_code.as_ref().map(|c| ("ods_code = ", c.clone())),
            q.compact_number
                .as_ref()
                .map(|n| ("compact_number = ", n.clone())),
        ];
        let text: Vec<_> = text.into_iter().flatten().collect();
        if !text.is_empty() {
            qb.push(" AND (");
            for (i, (condition, value)) in text.into_iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push(condition).push_bind(value);
            }
            qb.push(")");
        }
        if let Some(level) = &q.level {
            qb.push(" AND level = ").push_bind(level.clone());
        }
        if let Some(region) = &q.region {
            qb.push(" AND region = ").push_bind(region.clone());
        }
        let today = q.today.clone();
        match q.status.as_deref() {
            Some("valid") => {
                qb.push(" AND standing = 'active' AND awarded_on <= ")
                    .push_bind(today.clone())
                    .push(" AND expires_on > ")
                    .push_bind(today);
            }
            Some("expired") => {
                qb.push(" AND standing IN ('active', 'suspended') AND expires_on <= ")
                    .push_bind(today);
            }
            Some("suspended") => {
                qb.push(" AND standing = 'suspended' AND expires_on > ")
                    .push_bind(today);
            }
            Some("not_yet_valid") => {
                qb.push(" AND standing IN ('active', 'suspended') AND awarded_on > ")
                    .push_bind(today);
            }
            Some(standing @ ("revoked" | "superseded")) => {
                qb.push(" AND standing = ").push_bind(standing.to_owned());
            }
            _ => {}
        }
    }

    /// After the migrations: a log older than the stored tree hashes gets them, recomputed from
    /// its leaves. One statement reads both sizes, so an append committing meanwhile (another
    /// instance writing while this one starts, a command run beside a server) never makes them
    /// look apart; a rebuild holds the log head's lock, so no append adds hashes that it would
    /// delete, and it looks again under the lock first.
    pub(crate) async fn complete_tree_hashes(pool: &sqlx::Pool<DB>) -> Result<(), StoreError> {
        const SIZES: &str = "SELECT size, (SELECT COUNT(*) FROM tree_hashes WHERE level = 0) \
             AS stored FROM log_head WHERE id = 1";
        let sizes = sqlx::query(SIZES).fetch_one(pool).await?;
        if sizes.try_get::<i64, _>("stored")? == sizes.try_get::<i64, _>("size")? {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        let end = Self::lock_log_head(&mut tx).await?;
        let stored: i64 = sqlx::query(SIZES)
            .fetch_one(&mut *tx)
            .await?
            .try_get("stored")?;
        if stored == end.start_size {
            tx.commit().await?;
            return Ok(());
        }
        let mut tree = crate::transparency::merkle::Tree::new();
        for row in sqlx::query("SELECT leaf_hash FROM events ORDER BY position")
            .fetch_all(&mut *tx)
            .await?
        {
            let leaf: Vec<u8> = row.try_get("leaf_hash")?;
            tree.push(
                leaf.as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("a leaf hash is not 32 bytes".into()))?,
            );
        }
        sqlx::query("DELETE FROM tree_hashes")
            .execute(&mut *tx)
            .await?;
        for level in 0..tree.height() {
            for (idx, hash) in tree.level(level).iter().enumerate() {
                sqlx::query("INSERT INTO tree_hashes (level, idx, hash) VALUES ($1, $2, $3)")
                    .bind(level as i32)
                    .bind(idx as i64)
                    .bind(hash.to_vec())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The log head: its size and the chain hash of its last event.
    pub(crate) async fn head(pool: &sqlx::Pool<DB>) -> Result<LogHead, StoreError> {
        let row = sqlx::query("SELECT size, chain_hash FROM log_head WHERE id = 1")
            .fetch_one(pool)
            .await?;
        Ok(LogHead {
            size: row.try_get::<i64, _>("size")? as u64,
            chain_hash: row.try_get("chain_hash")?,
        })
    }

    /// The events an earlier use of an idempotency key appended, and its request hash.
    pub(crate) async fn idempotent(
        pool: &sqlx::Pool<DB>,
        scope: &str,
        key: &str,
    ) -> Result<Option<(String, Vec<StoredEvent>)>, StoreError> {
        let row = sqlx::query(
            "SELECT request_hash, first_position, event_count FROM idempotency_keys \
             WHERE scope = $1 AND idem_key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let first: i64 = row.try_get("first_position")?;
        let count: i64 = row.try_get("event_count")?;
        let events = Self::read_range(pool, first as u64, count as u32).await?;
        Ok(Some((row.try_get("request_hash")?, events)))
    }

    /// Replaces the projections with these rows in one transaction.
    pub(crate) async fn replace_projections(
        pool: &sqlx::Pool<DB>,
        organisations: Vec<OrganisationRow>,
        awards: Vec<AwardRow>,
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM awards").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM organisations")
            .execute(&mut *tx)
            .await?;
        Self::upsert_organisations(&mut tx, &organisations.iter().collect::<Vec<_>>()).await?;
        Self::upsert_awards(&mut tx, &awards.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every projection row, in key order.
    pub(crate) async fn projections(
        pool: &sqlx::Pool<DB>,
    ) -> Result<(Vec<OrganisationRow>, Vec<AwardRow>), StoreError> {
        let orgs = sqlx::query(
            "SELECT organisation_id, name, search_key, ods_code, region, kind \
             FROM organisations ORDER BY organisation_id",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(OrganisationRow {
                organisation_id: r.try_get("organisation_id")?,
                name: r.try_get("name")?,
                search_key: r.try_get("search_key")?,
                ods_code: r.try_get("ods_code")?,
                region: r.try_get("region")?,
                kind: r.try_get("kind")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let awards = sqlx::query(&format!(
            "SELECT {AWARD_COLUMNS} FROM awards ORDER BY certificate_number"
        ))
        .fetch_all(pool)
        .await?
        .iter()
        .map(Self::award_from_row)
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((orgs, awards))
    }

    /// One page of the public register and the number of matches.
    pub(crate) async fn search(
        pool: &sqlx::Pool<DB>,
        query: &RegisterQuery,
    ) -> Result<(Vec<AwardRow>, u64), StoreError> {
        let mut count = QueryBuilder::<DB>::new("SELECT COUNT(*) AS n FROM awards WHERE 1 = 1");
        Self::push_filters(&mut count, query);
        let total: i64 = DB::narrow(count.build())
            .fetch_one(pool)
            .await?
            .try_get("n")?;
        let mut page =
            QueryBuilder::<DB>::new(format!("SELECT {AWARD_COLUMNS} FROM awards WHERE 1 = 1"));
        Self::push_filters(&mut page, query);
        page.push(" ORDER BY search_key, awarded_on DESC, certificate_number LIMIT ")
            .push_bind(i64::from(query.limit))
            .push(" OFFSET ")
            .push_bind(i64::from(query.offset));
        let rows = DB::narrow(page.build()).fetch_all(pool).await?;
        let rows = rows
            .iter()
            .map(Self::award_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, total as u64))
    }

    /// An API token's record.
    pub(crate) async fn token(
        pool: &sqlx::Pool<DB>,
        token_id: &str,
    ) -> Result<Option<TokenRow>, StoreError> {
        let row = sqlx::query(
            "SELECT token_id, name, role, secret_hash, created_at, revoked_at, last_used_at \
             FROM api_tokens WHERE token_id = $1",
        )
        .bind(token_id)
        .fetch_optional(pool)
        .await?;
        row.as_ref().map(Self::token_from_row).transpose()
    }

    /// Keeps a signed checkpoint (a size is signed once; a second save of it changes nothing).
    pub(crate) async fn save_checkpoint(
        pool: &sqlx::Pool<DB>,
        c: &Checkpoint,
    ) -> Result<(), StoreError> {
        // Never a checkpoint larger than the log, even one that shrank a moment ago.
        let inserted = sqlx::query(
            "INSERT INTO checkpoints (size, root, note, signed_at) \
             SELECT $1, $2, $3, $4 FROM log_head WHERE id = 1 AND size >= $1 \
             ON CONFLICT (size) DO NOTHING",
        )
        .bind(c.size as i64)
        .bind(&c.root)
        .bind(&c.note)
        .bind(&c.signed_at)
        .execute(pool)
        .await?;
        if DB::rows_affected(&inserted) == 0 {
            // Signed before (the same size), or refused: the log is shorter.
            let size: i64 = sqlx::query_scalar("SELECT size FROM log_head WHERE id = 1")
                .fetch_one(pool)
                .await?;
            if (size as u64) < c.size {
                return Err(StoreError::LogBehind {
                    size: size as u64,
                    expected: c.size,
                });
            }
        }
        Ok(())
    }

    /// Every checkpoint, smallest first.
    pub(crate) async fn checkpoints(pool: &sqlx::Pool<DB>) -> Result<Vec<Checkpoint>, StoreError> {
        sqlx::query("SELECT size, root, note, signed_at FROM checkpoints ORDER BY size")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Checkpoint {
                    size: r.try_get::<i64, _>("size")? as u64,
                    root: r.try_get("root")?,
                    note: r.try_get("note")?,
                    signed_at: r.try_get("signed_at")?,
                })
            })
            .collect()
    }

    /// The stored Merkle hashes of one level, by index.
    pub(crate) async fn tree_hashes(
        pool: &sqlx::Pool<DB>,
        level: u32,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        sqlx::query("SELECT idx, hash FROM tree_hashes WHERE level = $1 ORDER BY idx")
            .bind(level as i32)
            .fetch_all(pool)
            .await?
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let idx: i64 = r.try_get("idx")?;
                if idx != i as i64 {
                    return Err(StoreError::Corrupt(format!(
                        "tree hashes at level {level} skip from {i} to {idx}"
                    )));
                }
                Ok(r.try_get("hash")?)
            })
            .collect()
    }

    /// Whether the database answers (and holds a log).
    pub(crate) async fn ready(pool: &sqlx::Pool<DB>) -> Result<(), StoreError> {
        sqlx::query("SELECT size FROM log_head WHERE id = 1")
            .fetch_one(pool)
            .await?;
        Ok(())
    }
}

/// A store whose `EventStore` methods are the shared SQL run on its pool: `SqliteStore` and
/// `PostgresStore`, which differ only in their driver and in how they run their migrations.
pub(crate) trait SqlStore {
    type Driver: Db;
    /// The pool the shared SQL runs on.
    fn pool(&self) -> &sqlx::Pool<Self::Driver>;
    /// Applies the migrations that are not yet applied (`migrations`).
    async fn apply_migrations(&self) -> Result<(), StoreError>;
}

/// Both stores' `EventStore`, once: each method hands the store's pool to the shared SQL.
impl<S, DB> EventStore for S
where
    S: SqlStore<Driver = DB>,
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
    async fn migrate(&self) -> Result<(), StoreError> {
        self.apply_migrations().await?;
        Sql::complete_tree_hashes(self.pool()).await
    }
    async fn append_batch(
        &self,
        batch: Vec<AppendRequest>,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        Sql::append_batch(self.pool(), batch).await
    }
    async fn read(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        Sql::read_range(self.pool(), from, limit).await
    }
    async fn head(&self) -> Result<LogHead, StoreError> {
        Sql::head(self.pool()).await
    }
    async fn idempotent(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<(String, Vec<StoredEvent>)>, StoreError> {
        Sql::idempotent(self.pool(), scope, key).await
    }
    async fn replace_projections(
        &self,
        organisations: Vec<OrganisationRow>,
        awards: Vec<AwardRow>,
    ) -> Result<(), StoreError> {
        Sql::replace_projections(self.pool(), organisations, awards).await
    }
    async fn projections(&self) -> Result<(Vec<OrganisationRow>, Vec<AwardRow>), StoreError> {
        Sql::projections(self.pool()).await
    }
    async fn search(&self, query: &RegisterQuery) -> Result<(Vec<AwardRow>, u64), StoreError> {
        Sql::search(self.pool(), query).await
    }
    async fn token(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError> {
        Sql::token(self.pool(), token_id).await
    }
    async fn ready(&self) -> Result<(), StoreError> {
        Sql::ready(self.pool()).await
    }
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        Sql::save_checkpoint(self.pool(), checkpoint).await
    }
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        Sql::checkpoints(self.pool()).await
    }
    async fn tree_hashes(&self, level: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        Sql::tree_hashes(self.pool(), level).await
    }
}
