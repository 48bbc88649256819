//! Rendering an award for people and machines: `artefacts` (the level logos in SVG and PNG, logos
//! baked with the credential, QR codes), `certificate` (the A4 PDF), and `escape` (the one escaping
//! rule for markup, JSON in markup and URLs).
//!
//! Invariant: pure and deterministic: fonts are embedded, nothing is looked up on the machine.

pub mod artefacts;
pub mod atom;
pub mod certificate;
pub mod escape;
pub mod export;
pub mod ics;
