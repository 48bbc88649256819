//! Fuzz target `certificate_number`: see `wexqs_fuzz::certificate_number` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wexqs_fuzz::certificate_number(data));
