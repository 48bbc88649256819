//! Credentials: what the registry signs and how anyone checks it. `credential` builds the Open
//! Badges 3.0 credential of an award, its `eddsa-jcs-2022` proof, the Bitstring Status List and
//! the did:web document; `check` runs the named checks of a presented credential; `keys` keeps
//! the Ed25519 signing keys in PKCS#8 files (the one module here that touches the disk);
//! `baking` carries a credential inside a PNG or an SVG and reads it back;
//! `receipt` signs verification receipts (JWS) and `detached` signs bytes made piece by piece;
//! `sealing` seals webhook secrets with a key from the keys folder.
//!
//! Invariant: pure except `keys` and `sealing`'s key file and nonces: no clock, no randomness;
//! the same inputs give the same bytes.

pub mod baking;
pub mod check;
pub mod credential;
pub mod detached;
pub mod keys;
pub mod receipt;
pub mod sealing;
