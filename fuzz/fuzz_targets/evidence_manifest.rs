//! Fuzz target `evidence_manifest`: see `wexqs_fuzz::evidence_manifest` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wexqs_fuzz::evidence_manifest(data));
