//! Webhook subscriptions and deliveries in the database: what delivering needs (the cursors,
//! leases, backoffs and the delivery history), read and moved here, one SQL body for both
//! drivers (`Sql<DB>`, like `sql.rs`'s). A subscription is made, its secret rotated,
//! replayed and removed only by an append (`append_rows.rs`, `Write::Webhook…`), with the event
//! that records the admin's action; the delivery loop moves only its cursor, backoff and status
//! (disabling after a run of failures is the loop's, not an admin's, and appends nothing). Its
//! secret is never in the log, and in the database only sealed (rows written before sealing
//! are sealed at start, `clear_webhook_secrets`, `seal_webhook_secrets`). Invariants: a
//! subscription is delivered by
//! the one instance holding its lease (`claim_webhook` takes it only once `lease_until` has
//! passed, in one conditional `UPDATE`), and its cursor moves only by that holder, only from the
//! position it read (`advance_webhook`), so instances sharing a database send each event once.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::sql::{Db, Sql};
use super::{Store, StoreError};

/// A subscription as stored, its secret sealed (the service shows the secret only when it is
/// made or rotated, and unseals it only to sign a delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    /// The event types subscribed to, as a JSON array of strings.
    pub event_types: String,
    /// The signing secret, sealed (`credentials::sealing`): the nonce and the ciphertext. Empty
    /// only in a row written before secrets were sealed and not yet sealed at start.
    pub sealed_secret: Vec<u8>,
    pub created_at: String,
    pub created_by: String,
    /// `active` or `disabled`.
    pub status: String,
    pub disabled_reason: Option<String>,
    pub next_position: u64,
    pub failures: u32,
    /// Unix milliseconds before which no attempt is made (the backoff).
    pub next_attempt_at: i64,
    /// The secret before the last rotation, sealed, which signs beside `sealed_secret` until
    /// `previous_secret_until` (unix milliseconds).
    pub sealed_previous_secret: Option<Vec<u8>>,
    pub previous_secret_until: i64,
}

/// A subscription's secrets as a version before sealing kept them, in clear: sealed at start.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ClearSecrets {
    pub(crate) id: String,
    pub(crate) secret: String,
    pub(crate) previous_secret: Option<String>,
}

impl std::fmt::Debug for ClearSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClearSecrets")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// One attempt to deliver one event to one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub subscription_id: String,
    pub position: u64,
    pub message_id: String,
    pub event_type: String,
    pub attempted_at: String,
    pub attempt: u32,
    pub status_code: Option<u16>,
    /// A failed attempt's cause: `dns`, `connect`, `tls`, `status`, `timeout`,
    /// `refused_address` or `secret` (none for attempts recorded before causes were).
    pub cause: Option<String>,
    pub error: Option<String>,
    pub delivered: bool,
    pub duration_ms: u64,
}

/// What a failed attempt leaves: the run of failures, when to try again, and whether that run
/// disables the subscription (and why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub failures: u32,
    pub next_attempt_at: i64,
    pub disable: Option<String>,
}

const COLUMNS: &str = "id, url, event_types, sealed_secret, created_at, created_by, \
     status, disabled_reason, next_position, failures, next_attempt_at, \
     sealed_previous_secret, previous_secret_until";

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
    fn webhook_from(row: &DB::Row) -> Result<WebhookRow, StoreError> {
        let next: i64 = row.try_get("next_position")?;
        let failures: i64 = row.try_get("failures")?;
        Ok(WebhookRow {
            id: row.try_get("id")?,
            url: row.try_get("url")?,
            event_types: row.try_get("event_types")?,
            sealed_secret: row
                .try_get::<Option<Vec<u8>>, _>("sealed_secret")?
                .unwrap_or_default(),
            created_at: row.try_get("created_at")?,
            created_by: row.try_get("created_by")?,
            status: row.try_get("status")?,
            disabled_reason: row.try_get("disabled_reason")?,
            next_position: next.max(0) as u64,
            failures: failures.clamp(0, i64::from(u32::MAX)) as u32,
            next_attempt_at: row.try_get("next_attempt_at")?,
            sealed_previous_secret: row.try_get("sealed_previous_secret")?,
            previous_secret_until: row.try_get("previous_secret_until")?,
        })
    }

    pub(crate) async fn webhooks(pool: &sqlx::Pool<DB>) -> Result<Vec<WebhookRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id");
        sqlx::query(&sql)
            .fetch_all(pool)
            .await?
            .iter()
            .map(Self::webhook_from)
            .collect()
    }

    pub(crate) async fn webhook(
        pool: &sqlx::Pool<DB>,
        id: &str,
    ) -> Result<Option<WebhookRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(Self::webhook_from)
            .transpose()
    }

    pub(crate) async fn clear_webhook_secrets(
        pool: &sqlx::Pool<DB>,
    ) -> Result<Vec<ClearSecrets>, StoreError> {
        sqlx::query(
            "SELECT id, clear_secret, clear_previous_secret FROM webhook_subscriptions \
             WHERE clear_secret IS NOT NULL ORDER BY id",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ClearSecrets {
                id: r.try_get("id")?,
                secret: r.try_get("clear_secret")?,
                previous_secret: r.try_get("clear_previous_secret")?,
            })
        })
        .collect()
    }

    pub(crate) async fn seal_webhook_secrets(
        pool: &sqlx::Pool<DB>,
        clear: &ClearSecrets,
        sealed: &[u8],
        sealed_previous: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        // Only the clear secret read: a second instance sealing the same row at the
        // same start, or a rotation meanwhile, is left as it is.
        let done = sqlx::query(
            "UPDATE webhook_subscriptions SET sealed_secret = $2, \
             sealed_previous_secret = $3, clear_secret = NULL, \
             clear_previous_secret = NULL WHERE id = $1 AND clear_secret = $4",
        )
        .bind(&clear.id)
        .bind(sealed)
        .bind(sealed_previous)
        .bind(&clear.secret)
        .execute(pool)
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(crate) async fn claim_webhooks(
        pool: &sqlx::Pool<DB>,
        owner: &str,
        now: i64,
        lease_until: i64,
        log_size: u64,
    ) -> Result<Vec<WebhookRow>, StoreError> {
        let candidates: Vec<String> = sqlx::query(
            "SELECT id FROM webhook_subscriptions WHERE status = 'active' \
             AND lease_until < $1 AND next_attempt_at <= $1 AND next_position < $2 \
             ORDER BY id LIMIT 50",
        )
        .bind(now)
        .bind(log_size as i64)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut claimed = Vec::new();
        for id in candidates {
            // The condition is checked again under the row's lock: of two instances
            // racing for one subscription, one updates it and the other updates nothing.
            let taken = sqlx::query(
                "UPDATE webhook_subscriptions SET lease_owner = $2, lease_until = $3 \
                 WHERE id = $1 AND status = 'active' AND lease_until < $4",
            )
            .bind(&id)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .execute(pool)
            .await?;
            if DB::rows_affected(&taken) == 1
                && let Some(row) = Self::webhook(pool, &id).await?
            {
                claimed.push(row);
            }
        }
        Ok(claimed)
    }

    pub(crate) async fn advance_webhook(
        pool: &sqlx::Pool<DB>,
        id: &str,
        owner: &str,
        from: u64,
        to: u64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_subscriptions SET next_position = $4, failures = 0, \
             next_attempt_at = 0, lease_until = $5 \
             WHERE id = $1 AND lease_owner = $2 AND next_position = $3",
        )
        .bind(id)
        .bind(owner)
        .bind(from as i64)
        .bind(to as i64)
        .bind(lease_until)
        .execute(pool)
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(crate) async fn fail_webhook(
        pool: &sqlx::Pool<DB>,
        id: &str,
        owner: &str,
        at: u64,
        failure: &Failure,
    ) -> Result<bool, StoreError> {
        let status = if failure.disable.is_some() {
            "disabled"
        } else {
            "active"
        };
        let done = sqlx::query(
            "UPDATE webhook_subscriptions SET failures = $4, next_attempt_at = $5, \
             status = $6, disabled_reason = $7, lease_until = 0 \
             WHERE id = $1 AND lease_owner = $2 AND next_position = $3",
        )
        .bind(id)
        .bind(owner)
        .bind(at as i64)
        .bind(i64::from(failure.failures))
        .bind(failure.next_attempt_at)
        .bind(status)
        .bind(&failure.disable)
        .execute(pool)
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(crate) async fn release_webhook(
        pool: &sqlx::Pool<DB>,
        id: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_subscriptions SET lease_until = 0 \
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn release_webhooks_of(
        pool: &sqlx::Pool<DB>,
        owner: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_subscriptions SET lease_until = 0 \
             WHERE lease_owner = $1 AND lease_until > 0",
        )
        .bind(owner)
        .execute(pool)
        .await?;
        Ok(DB::rows_affected(&done))
    }

    pub(crate) async fn record_delivery(
        pool: &sqlx::Pool<DB>,
        d: &DeliveryRow,
        keep: u32,
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        // Only beside a subscription that still exists: one deleted while its delivery
        // was in flight leaves no row behind.
        sqlx::query(
            "INSERT INTO webhook_deliveries (subscription_id, position, message_id, \
             event_type, attempted_at, attempt, status_code, error, delivered, \
             duration_ms, cause) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = $1)",
        )
        .bind(&d.subscription_id)
        .bind(d.position as i64)
        .bind(&d.message_id)
        .bind(&d.event_type)
        .bind(&d.attempted_at)
        .bind(i64::from(d.attempt))
        .bind(d.status_code.map(i64::from))
        .bind(&d.error)
        .bind(i64::from(d.delivered))
        .bind(d.duration_ms as i64)
        .bind(&d.cause)
        .execute(&mut *tx)
        .await?;
        // The oldest attempts beyond `keep` go: the `keep`-th newest is the last kept
        // (with fewer, the subquery is NULL and nothing goes).
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE subscription_id = $1 AND id < \
             (SELECT id FROM webhook_deliveries WHERE subscription_id = $1 \
              ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(&d.subscription_id)
        .bind(i64::from(keep.max(1)) - 1)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn webhook_deliveries(
        pool: &sqlx::Pool<DB>,
        id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT subscription_id, position, message_id, event_type, attempted_at, \
             attempt, status_code, error, delivered, duration_ms, cause FROM webhook_deliveries \
             WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                let position: i64 = r.try_get("position")?;
                let attempt: i64 = r.try_get("attempt")?;
                let status: Option<i64> = r.try_get("status_code")?;
                let delivered: i64 = r.try_get("delivered")?;
                let duration: i64 = r.try_get("duration_ms")?;
                Ok(DeliveryRow {
                    subscription_id: r.try_get("subscription_id")?,
                    position: position.max(0) as u64,
                    message_id: r.try_get("message_id")?,
                    event_type: r.try_get("event_type")?,
                    attempted_at: r.try_get("attempted_at")?,
                    attempt: attempt.clamp(0, i64::from(u32::MAX)) as u32,
                    status_code: status.and_then(|s| u16::try_from(s).ok()),
                    cause: r.try_get("cause")?,
                    error: r.try_get("error")?,
                    delivered: delivered != 0,
                    duration_ms: duration.max(0) as u64,
                })
            })
            .collect()
    }
}

impl Store {
    pub(crate) async fn webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        delegate!(self, s => Sql::webhooks(s.pool()))
    }
    pub async fn webhook(&self, id: &str) -> Result<Option<WebhookRow>, StoreError> {
        delegate!(self, s => Sql::webhook(s.pool(), id))
    }
    /// The subscriptions whose secrets are still in clear (written before sealing).
    pub(crate) async fn clear_webhook_secrets(&self) -> Result<Vec<ClearSecrets>, StoreError> {
        delegate!(self, s => Sql::clear_webhook_secrets(s.pool()))
    }
    /// Replaces a subscription's clear secrets by their sealed forms, if they are still those
    /// read; whether they were.
    pub(crate) async fn seal_webhook_secrets(
        &self,
        clear: &ClearSecrets,
        sealed: &[u8],
        sealed_previous: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => Sql::seal_webhook_secrets(s.pool(), clear, sealed, sealed_previous))
    }
    /// Takes the lease, until `lease_until`, of every active subscription with events to send
    /// whose lease has passed and whose backoff is over; the subscriptions taken.
    pub async fn claim_webhooks(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        log_size: u64,
    ) -> Result<Vec<WebhookRow>, StoreError> {
        delegate!(self, s => Sql::claim_webhooks(s.pool(), owner, now, lease_until, log_size))
    }
    /// Moves the cursor from `from` to `to` and renews the lease, if `owner` still holds it and
    /// nobody moved the cursor meanwhile (a replay); whether it did.
    pub async fn advance_webhook(
        &self,
        id: &str,
        owner: &str,
        from: u64,
        to: u64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => Sql::advance_webhook(s.pool(), id, owner, from, to, lease_until))
    }
    /// Records a failed attempt at position `at` and gives the lease back.
    pub async fn fail_webhook(
        &self,
        id: &str,
        owner: &str,
        at: u64,
        failure: &Failure,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => Sql::fail_webhook(s.pool(), id, owner, at, failure))
    }
    pub async fn release_webhook(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        delegate!(self, s => Sql::release_webhook(s.pool(), id, owner))
    }
    /// Gives back every lease `owner` holds (an instance stopping); how many it held.
    pub(crate) async fn release_webhooks_of(&self, owner: &str) -> Result<u64, StoreError> {
        delegate!(self, s => Sql::release_webhooks_of(s.pool(), owner))
    }
    /// Records an attempt, keeping the subscription's `keep` latest (the oldest beyond go).
    pub async fn record_delivery(&self, row: &DeliveryRow, keep: u32) -> Result<(), StoreError> {
        delegate!(self, s => Sql::record_delivery(s.pool(), row, keep))
    }
    /// A subscription's latest attempts, newest first.
    pub async fn webhook_deliveries(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        delegate!(self, s => Sql::webhook_deliveries(s.pool(), id, limit))
    }
}
