#![no_main]
//! Fuzz target `tuf_metadata`: see ../bodies.rs.

#[path = "../bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::tuf_metadata(data));
