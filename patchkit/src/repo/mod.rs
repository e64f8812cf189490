//! The patch repository: its signed form (TUF 1.0, [`tuf`]).

pub mod tuf;
