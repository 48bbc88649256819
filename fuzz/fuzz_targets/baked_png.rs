//! Fuzz target `baked_png`: see `wexqs_fuzz::baked_png` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wexqs_fuzz::baked_png(data));
