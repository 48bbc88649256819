//! Rendering an award for people and machines: `artefacts` (the level logos in SVG and PNG, live
//! badges, QR codes), `certificate` (the A4 PDF), the feeds (`atom`, `ics`) and `export`. Every
//! stored string written out goes through `crate::escape`.
//!
//! Invariant: pure and deterministic: fonts are embedded, nothing is looked up on the machine.

pub mod artefacts;
pub mod atom;
pub mod certificate;
pub mod export;
pub mod ics;
