//! wexqs: the public registry of NHS England's Work Experience Quality Standard awards.
//!
//! Codemap (the flow runs top to bottom):
//! - `cli`: the `wexqs` command line; `main.rs` only calls it.
//! - `http`: actix-web routes (public, admin), problem+json errors, JSON views.
//! - `service`: loads state, decides, appends through the batching writer; answers queries.
//! - `import`, `demo`: whole registers in (CSV import, the sample register).
//! - `domain`: pure rules: types, events, `decide`, `State::apply`, the verdict.
//! - `projection`: projection rows as a pure function of the state.
//! - `store`: the append-only, hash-chained event log on SQLite or PostgreSQL.
//! - `keys`: Ed25519 signing keys in PKCS#8 files.
//! - `escape`: the one escaping rule for markup, JSON in markup and URLs.
//! - `limits`: every bound on what a client sends, in one place.
//!
//! Invariants: `domain` imports no actix, sqlx, clock or randomness; only `service` appends; an
//! append is one transaction; statuses are computed from events and a date, never stored.

pub mod artefacts;
pub mod audit;
pub mod certificate;
pub mod cli;
pub mod credential;
pub mod demo;
pub mod domain;
pub mod escape;
pub mod http;
pub mod import;
pub mod keys;
pub mod limits;
pub mod merkle;
pub mod note;
pub mod projection;
pub mod service;
pub mod store;
pub mod verify;
