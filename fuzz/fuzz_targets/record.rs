#![no_main]
//! Fuzz target `record`: see ../bodies.rs.

#[path = "../bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::record(data));
