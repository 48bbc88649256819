-- The console's sign-ins and sessions: operational rows, not facts of the register, so they
-- live beside the log, never in it, and a restore or a new instance may drop them (people sign
-- in again). Times are unix milliseconds. A sign-in begun at the identity provider is kept by
-- the SHA-256 of its `state` until its callback takes it (once) or it is ten minutes old; a
-- session by the SHA-256 of its id (the cookie's value is never stored), with the form token
-- its pages carry.
CREATE TABLE console_sign_ins (
    state_hash TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL,
    form_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

CREATE INDEX console_sessions_by_staff ON console_sessions (staff_id);
