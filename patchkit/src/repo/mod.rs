//! Patch repositories: the source tree the security team edits
//! ([`source`]), the catalog every client command reads ([`catalog`]), and
//! the signed form, a TUF 1.0 repository ([`tuf`]).

pub mod authoring;
pub mod bundle;
pub mod catalog;
pub mod signed;
pub mod source;
pub mod tuf;
