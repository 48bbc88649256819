//! wexqs: the public registry of NHS England's Work Experience Quality Standard awards.
//!
//! Every fact is an event in one append-only, hash-chained log; `service` is the only writer,
//! `domain` the pure rules it decides with, `store` the log on SQLite or PostgreSQL, and `http`
//! and `cli` the ways in. What each module is for, its invariants and the concerns that cross
//! modules (testing, errors, caching, locks, security) are in ARCHITECTURE.md at the
//! repository's root, the one codemap.

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
