//! The transparency log's maths and formats: `merkle` (RFC 9162 trees, inclusion and
//! consistency proofs), `note` (C2SP signed notes and tlog checkpoints), and `audit` (recompute
//! a log from its entries and report the first divergence).
//!
//! Invariant: `merkle` and `note` are pure; `audit` fetches a registry's log over HTTP (for
//! `wexqs audit`) and otherwise only computes and checks.

pub(crate) mod audit;
pub mod merkle;
pub mod note;
