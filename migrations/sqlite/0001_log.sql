-- The event log, its head, stream versions and idempotency records; the projections of
-- organisations and awards; API tokens (hashed).
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    payload BLOB NOT NULL,
    recorded_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    leaf_hash BLOB NOT NULL,
    chain_hash BLOB NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    chain_hash BLOB NOT NULL
);
INSERT INTO log_head (id, size, chain_hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE streams (
    stream_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    first_position INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    PRIMARY KEY (scope, idem_key)
);

CREATE TABLE organisations (
    organisation_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    search_key TEXT NOT NULL,
    ods_code TEXT,
    region TEXT NOT NULL,
    kind TEXT NOT NULL
);

CREATE TABLE awards (
    certificate_number TEXT PRIMARY KEY,
    compact_number TEXT NOT NULL UNIQUE,
    organisation_id TEXT NOT NULL REFERENCES organisations (organisation_id),
    organisation_name TEXT NOT NULL,
    search_key TEXT NOT NULL,
    ods_code TEXT,
    region TEXT NOT NULL,
    level TEXT NOT NULL,
    awarded_on TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    standing TEXT NOT NULL,
    issuer_name TEXT NOT NULL
);
CREATE INDEX awards_by_search_key ON awards (search_key);
CREATE INDEX awards_by_ods_code ON awards (ods_code);

CREATE TABLE api_tokens (
    token_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
