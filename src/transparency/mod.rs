//! The transparency log's maths and formats: `merkle` (RFC 9162 trees, inclusion and
//! consistency proofs), `note` (C2SP signed notes and tlog checkpoints), and `audit` (recompute
//! a log from its entries and report the first divergence).
//!
//! Invariant: pure: no I/O, no clock; the service and the CLI fetch, these only compute and check.

pub mod audit;
pub mod merkle;
pub mod note;
