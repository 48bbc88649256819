-- Webhook secrets are sealed at rest (XChaCha20-Poly1305 with the keys folder's
-- webhook-sealing.key; the associated data names the subscription): `sealed_secret` and
-- `sealed_previous_secret` hold the nonce and the ciphertext. The clear columns are kept, renamed
-- and nullable, only for rows written before sealing: a row whose `clear_secret` is not NULL is
-- sealed by the next `wexqs serve` at start, which then clears both clear columns.
ALTER TABLE webhook_subscriptions ADD COLUMN sealed_secret BYTEA;
ALTER TABLE webhook_subscriptions ADD COLUMN sealed_previous_secret BYTEA;
ALTER TABLE webhook_subscriptions RENAME COLUMN secret TO clear_secret;
ALTER TABLE webhook_subscriptions ALTER COLUMN clear_secret DROP NOT NULL;
ALTER TABLE webhook_subscriptions RENAME COLUMN previous_secret TO clear_previous_secret;
