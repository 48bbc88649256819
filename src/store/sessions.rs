//! The console's sign-ins and sessions in the database (`console_sign_ins`,
//! `console_sessions`), one SQL body for both drivers. They are not facts of the register and
//! never reach the log. Invariants: a secret is kept only by its SHA-256 (a sign-in by its
//! `state`, a session by its id), so the tables never hold what a browser presents; a sign-in is
//! taken once (`take_sign_in` deletes the row it returns, in one statement); every instance
//! sharing the database sees a session end at once.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::sql::{Db, Sql};
use super::{Store, StoreError};

/// A sign-in begun at the identity provider, waiting for its callback.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SignInRow {
    pub(crate) state_hash: String,
    pub(crate) nonce: String,
    pub(crate) pkce_verifier: String,
    /// The console path to return to once signed in.
    pub(crate) return_to: String,
    /// Unix milliseconds.
    pub(crate) created_at: i64,
}

impl std::fmt::Debug for SignInRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInRow")
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A console session as stored.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionRow {
    pub(crate) id_hash: String,
    pub(crate) staff_id: String,
    pub(crate) form_token: String,
    /// Unix milliseconds.
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("staff_id", &self.staff_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish_non_exhaustive()
    }
}

impl<DB> Sql<DB>
where
    DB: Db,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Type<DB> + Encode<'q, DB> + Decode<'q, DB>,
    for<'q> String: Type<DB> + Encode<'q, DB> + Decode<'q, DB>,
    for<'q> &'q str: Type<DB> + Encode<'q, DB> + ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn begin_sign_in(pool: &sqlx::Pool<DB>, row: &SignInRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO console_sign_ins (state_hash, nonce, pkce_verifier, return_to, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(row.state_hash.as_str())
        .bind(row.nonce.as_str())
        .bind(row.pkce_verifier.as_str())
        .bind(row.return_to.as_str())
        .bind(row.created_at)
        .execute(pool)
        .await?;
        Ok(())
    }

    async fn take_sign_in(
        pool: &sqlx::Pool<DB>,
        state_hash: &str,
    ) -> Result<Option<SignInRow>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM console_sign_ins WHERE state_hash = $1 \
             RETURNING state_hash, nonce, pkce_verifier, return_to, created_at",
        )
        .bind(state_hash)
        .fetch_optional(pool)
        .await?;
        row.map(|r| {
            Ok(SignInRow {
                state_hash: r.try_get("state_hash")?,
                nonce: r.try_get("nonce")?,
                pkce_verifier: r.try_get("pkce_verifier")?,
                return_to: r.try_get("return_to")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    async fn open_session(pool: &sqlx::Pool<DB>, row: &SessionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, staff_id, form_token, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(row.id_hash.as_str())
        .bind(row.staff_id.as_str())
        .bind(row.form_token.as_str())
        .bind(row.created_at)
        .bind(row.last_seen_at)
        .execute(pool)
        .await?;
        Ok(())
    }

    async fn session(
        pool: &sqlx::Pool<DB>,
        id_hash: &str,
    ) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id_hash, staff_id, form_token, created_at, last_seen_at \
             FROM console_sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                id_hash: r.try_get("id_hash")?,
                staff_id: r.try_get("staff_id")?,
                form_token: r.try_get("form_token")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
            })
        })
        .transpose()
    }

    async fn touch_session(
        pool: &sqlx::Pool<DB>,
        id_hash: &str,
        last_seen_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(last_seen_at)
            .bind(id_hash)
            .execute(pool)
            .await?;
        Ok(())
    }

    async fn end_session(pool: &sqlx::Pool<DB>, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(pool)
            .await?;
        Ok(())
    }

    async fn end_sessions_of(pool: &sqlx::Pool<DB>, staff_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM console_sessions WHERE staff_id = $1")
            .bind(staff_id)
            .execute(pool)
            .await?;
        Ok(DB::rows_affected(&done))
    }

    /// Removes sign-ins begun before `sign_ins_before` and sessions last seen before
    /// `idle_before` or opened before `opened_before`.
    async fn sweep_sessions(
        pool: &sqlx::Pool<DB>,
        sign_ins_before: i64,
        idle_before: i64,
        opened_before: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sign_ins WHERE created_at < $1")
            .bind(sign_ins_before)
            .execute(pool)
            .await?;
        sqlx::query("DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(opened_before)
            .execute(pool)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Up to `limit` events of one stream, newest first (an award's trail in the console).
    pub(crate) async fn stream_events(
        &self,
        stream: &str,
        limit: u32,
    ) -> Result<Vec<super::StoredEvent>, StoreError> {
        delegate!(self, s => Sql::stream_events(s.pool(), stream, limit))
    }
    pub(crate) async fn begin_sign_in(&self, row: &SignInRow) -> Result<(), StoreError> {
        delegate!(self, s => Sql::begin_sign_in(s.pool(), row))
    }
    /// The sign-in with this `state`'s hash, removed so it cannot be taken twice.
    pub(crate) async fn take_sign_in(
        &self,
        state_hash: &str,
    ) -> Result<Option<SignInRow>, StoreError> {
        delegate!(self, s => Sql::take_sign_in(s.pool(), state_hash))
    }
    pub(crate) async fn open_session(&self, row: &SessionRow) -> Result<(), StoreError> {
        delegate!(self, s => Sql::open_session(s.pool(), row))
    }
    pub(crate) async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        delegate!(self, s => Sql::session(s.pool(), id_hash))
    }
    pub(crate) async fn touch_session(
        &self,
        id_hash: &str,
        last_seen_at: i64,
    ) -> Result<(), StoreError> {
        delegate!(self, s => Sql::touch_session(s.pool(), id_hash, last_seen_at))
    }
    pub(crate) async fn end_session(&self, id_hash: &str) -> Result<(), StoreError> {
        delegate!(self, s => Sql::end_session(s.pool(), id_hash))
    }
    /// Ends every session of one member of staff; how many there were.
    pub(crate) async fn end_sessions_of(&self, staff_id: &str) -> Result<u64, StoreError> {
        delegate!(self, s => Sql::end_sessions_of(s.pool(), staff_id))
    }
    pub(crate) async fn sweep_sessions(
        &self,
        sign_ins_before: i64,
        idle_before: i64,
        opened_before: i64,
    ) -> Result<(), StoreError> {
        delegate!(self, s => Sql::sweep_sessions(s.pool(), sign_ins_before, idle_before, opened_before))
    }
}
