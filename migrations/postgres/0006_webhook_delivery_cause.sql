-- A failed delivery's cause, one of dns, connect, tls, status, timeout or refused_address, so an
-- operator can tell a receiver's fault from the network's; attempts recorded before have none.
ALTER TABLE webhook_deliveries ADD COLUMN cause TEXT;
