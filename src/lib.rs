//! wexqs: the public registry of NHS England's Work Experience Quality Standard awards.
//!
//! Every fact is an event in one append-only, hash-chained log; `service` is the only writer,
//! `domain` the pure rules it decides with, `store` the log on SQLite or PostgreSQL, and `http`
//! and `cli` the ways in. What each module is for, its invariants and the concerns that cross
//! modules (testing, errors, caching, locks, security) are in ARCHITECTURE.md at the
//! repository's root, the one codemap.
//!
//! The public surface is what the binary (`cli::main`), the integration tests, the benches and
//! the fuzz targets use, and nothing more: every other item is `pub(crate)` or narrower, and a
//! module is public only because something outside reaches into it. `canonical`, `escape` and `logging` are
//! the crate's own. The doors into the registry's insides that only tests and benches may open
//! (the raw store, an append that skips the domain) are in `testing`, behind the feature of the
//! same name, which the package's dev-dependency on itself turns on.

pub(crate) mod canonical;
pub mod cli;
pub mod credentials;
pub mod domain;
pub mod error_codes;
pub(crate) mod escape;
pub mod http;
pub mod limits;
pub(crate) mod logging;
pub mod projection;
pub mod render;
pub mod service;
pub mod startup;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transparency;
