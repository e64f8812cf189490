//! What a patched distribution carries: the record patchkit leaves inside
//! it, and (later) scanning build trees and installed libraries for it.

pub mod record;
