#![no_main]
//! Fuzz target `version`: see ../bodies.rs.

#[path = "../bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::version(data));
