//! Fuzz target `baked_svg`: see `wexqs_fuzz::baked_svg` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wexqs_fuzz::baked_svg(data));
