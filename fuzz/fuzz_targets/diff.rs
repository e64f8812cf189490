#![no_main]
//! Fuzz target `diff`: see ../bodies.rs.

#[path = "../bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::diff(data));
