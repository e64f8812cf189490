//! Patch repositories: the source tree the security team edits, the
//! catalog every client command reads, and the signed (TUF) form.

pub mod catalog;
pub mod source;
