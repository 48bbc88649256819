//! Fuzz target `credential_json`: see `wexqs_fuzz::credential_json` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wexqs_fuzz::credential_json(data));
