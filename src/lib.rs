//! wexqs: the public registry of NHS England's Work Experience Quality Standard awards.
//!
//! Codemap (the flow runs top to bottom):
//! - `cli`: the `wexqs` command line; `main.rs` only calls it.
//! - `startup`: builds a registry from configuration, for `serve` and every command.
//! - `http`: actix-web routes (public, admin), problem+json errors, JSON views.
//! - `service`: loads state, decides, appends through the batching writer; answers queries;
//!   `service::import` and `service::demo` load whole registers (CSV import, the sample register).
//! - `domain`: pure rules: types, events, `decide`, `State::apply`, the verdict.
//! - `projection`: projection rows as a pure function of the state.
//! - `store`: the append-only, hash-chained event log on SQLite or PostgreSQL.
//! - `credentials`: the Open Badges credential, its proof, the status list, did:web, baking a
//!   credential into an image and back, the checks of a presented credential, and the key files.
//! - `transparency`: the Merkle tree, signed notes and checkpoints, auditing a log.
//! - `render`: logos, live badges, QR codes, the certificate PDF, feeds and exports.
//! - `escape`: the one escaping rule for every stored string written out.
//! - `limits`: every bound on what a client sends, in one place.
//! - `logging`: the log's lines (text or JSON, each naming its request), written in blocks.
//! - `error_codes`: every error code the registry answers with (code, kind, the rule in words).
//!
//! Invariants: `domain` imports no actix, sqlx, clock or randomness; only `service` appends; an
//! append is one transaction; statuses are computed from events and a date, never stored.

pub mod cli;
pub mod credentials;
pub mod domain;
pub mod error_codes;
pub mod escape;
pub mod http;
pub mod limits;
pub mod logging;
pub mod projection;
pub mod render;
pub mod service;
pub mod startup;
pub mod store;
pub mod transparency;
