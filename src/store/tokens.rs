//! API tokens' records beyond the one a request presents (`Sql::token`): the list of every
//! token, and the time each last authenticated a request. A token is created and revoked only
//! by an append (`append_rows.rs`, `Write::Token…`), with the event that records it; its last
//! use is the one column written outside an append, since it records no fact of the register.
//! The secret's hash is read only to check a presented token, never listed.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::sql::{Db, Sql};
use super::{Store, StoreError, TokenRow};

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
    /// A token's record as its row holds it.
    pub(crate) fn token_from_row(r: &DB::Row) -> Result<TokenRow, StoreError> {
        Ok(TokenRow {
            token_id: r.try_get("token_id")?,
            name: r.try_get("name")?,
            role: r.try_get("role")?,
            secret_hash: r.try_get("secret_hash")?,
            created_at: r.try_get("created_at")?,
            revoked_at: r.try_get("revoked_at")?,
            last_used_at: r.try_get("last_used_at")?,
        })
    }

    /// Every token's record, oldest first.
    async fn tokens(pool: &sqlx::Pool<DB>) -> Result<Vec<TokenRow>, StoreError> {
        sqlx::query(
            "SELECT token_id, name, role, secret_hash, created_at, revoked_at, last_used_at \
             FROM api_tokens ORDER BY created_at, token_id",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(Self::token_from_row)
        .collect()
    }

    /// Records that the token `token_id` authenticated a request at `at` (RFC 3339).
    async fn record_token_use(
        pool: &sqlx::Pool<DB>,
        token_id: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_id = $2")
            .bind(at)
            .bind(token_id)
            .execute(pool)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Every API token's record, oldest first.
    pub(crate) async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        delegate!(self, s => Sql::tokens(s.pool()))
    }

    /// Records that the token `token_id` authenticated a request at `at` (RFC 3339).
    pub(crate) async fn record_token_use(
        &self,
        token_id: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        delegate!(self, s => Sql::record_token_use(s.pool(), token_id, at))
    }
}
