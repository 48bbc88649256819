//! Webhook secrets at rest: made from the registry's randomness, sealed with the keys folder's
//! sealing key (`credentials::sealing`, bound to the subscription's id) before they reach the
//! database, and opened only to sign a delivery. Secrets a version before sealing left in the
//! database in clear are sealed when a server starts (`seal_clear_webhook_secrets`), and a server
//! whose sealing key does not open the stored secrets does not start
//! (`webhook_secrets_not_opening`).
//!
//! Invariant: a secret in clear is only ever in memory: in the answer that made or rotated it,
//! and while a delivery is signed; never in the database, the log or a log line.

use base64::Engine as _;
use rand::RngCore;

use super::{Registry, ServiceError};
use crate::credentials::sealing::{self, SealError, SealingKey};
use crate::store::webhooks::WebhookRow;

/// The secrets that sign a delivery to `row` at `now_ms`: its own, then the one before the last
/// rotation while the two overlap.
pub(super) fn open_secrets(
    key: &SealingKey,
    row: &WebhookRow,
    now_ms: i64,
) -> Result<Vec<String>, SealError> {
    let mut secrets = vec![key.open(&row.id, &row.sealed_secret)?];
    if let Some(previous) = &row.sealed_previous_secret
        && row.previous_secret_until > now_ms
    {
        secrets.push(key.open(&row.id, previous)?);
    }
    Ok(secrets)
}

impl Registry {
    /// A new Standard Webhooks secret (`whsec_` and 32 random bytes in base64) for the
    /// subscription `id`, and its sealed form.
    pub(super) fn new_webhook_secret(&self, key: &SealingKey, id: &str) -> (String, Vec<u8>) {
        let mut bytes = [0u8; 32];
        self.rng
            .lock()
            .expect("the random source's lock is never poisoned")
            .fill_bytes(&mut bytes);
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        let sealed = key.seal(id, &secret, sealing::random_nonce());
        (secret, sealed)
    }

    /// Seals the secrets of every subscription that still holds them in clear (written by a
    /// version before sealing); how many subscriptions it sealed. Another instance sealing the
    /// same rows at the same time is harmless: a row is sealed only from the clear secret read.
    pub(crate) async fn seal_clear_webhook_secrets(
        &self,
        key: &SealingKey,
    ) -> Result<usize, ServiceError> {
        let mut sealed = 0;
        for clear in self.log.store.clear_webhook_secrets().await? {
            let secret = key.seal(&clear.id, &clear.secret, sealing::random_nonce());
            let previous = clear
                .previous_secret
                .as_deref()
                .map(|p| key.seal(&clear.id, p, sealing::random_nonce()));
            if self
                .log
                .store
                .seal_webhook_secrets(&clear, &secret, previous.as_deref())
                .await?
            {
                sealed += 1;
            }
        }
        Ok(sealed)
    }

    /// The ids of the subscriptions whose secrets (the current one, and the one before a
    /// rotation if kept) do not open with `key`: a key from another keys folder, or a row
    /// changed by hand. A server with any does not start.
    pub(crate) async fn webhook_secrets_not_opening(
        &self,
        key: &SealingKey,
    ) -> Result<Vec<String>, ServiceError> {
        Ok(self
            .log
            .store
            .webhooks()
            .await?
            .into_iter()
            .filter(|row| open_secrets(key, row, i64::MIN).is_err())
            .map(|row| row.id)
            .collect())
    }
}
