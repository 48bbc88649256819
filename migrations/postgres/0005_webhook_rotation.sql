-- A rotated webhook secret overlaps the one before it: until `previous_secret_until` (unix
-- milliseconds) a delivery carries a signature by each, so a receiver can switch to the new
-- secret at its own pace (Standard Webhooks allows several signatures in one header).
ALTER TABLE webhook_subscriptions ADD COLUMN previous_secret TEXT;
ALTER TABLE webhook_subscriptions ADD COLUMN previous_secret_until BIGINT NOT NULL DEFAULT 0;
