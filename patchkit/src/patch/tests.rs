//! Tests of the patch engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
