#![doc = include_str!("../../README.md")]
//!
//! # The library's layers
//!
//! Arrows only run down (docs/ARCHITECTURE.md has the map):
//!
//! 1. leaves: [`version`], [`tree`], [`tarball`], [`patch`], [`state`],
//!    `text`, and the `patchkit-signing` crate;
//! 2. what a distribution is ([`dist`]) and the record left inside a
//!    patched one ([`applied`]);
//! 3. where patches come from: [`catalog`] (records, matching, the source
//!    tree) and [`tuf`] (the signed repository: metadata, updater,
//!    transports, publisher), and [`config`] (the settings of one run:
//!    every limit of those layers, from defaults, `config.toml`, the
//!    environment and the command line);
//! 4. the jobs: [`client`] (trust store, bundles, opening a catalog),
//!    [`apply`], [`audit`], [`sbom`], [`authoring`], [`mirror`] (the
//!    patching CPAN mirror) and [`export`] (files for CPAN.pm and quilt);
//! 5. [`Error`], which wraps every module's error and decides the exit
//!    status; the command line lives in the binary (`src/cli/`).

pub mod applied;
pub mod apply;
pub mod audit;
pub mod authoring;
pub mod catalog;
pub mod client;
pub mod config;
pub mod dist;
pub mod error;
pub mod export;
pub mod mirror;
pub mod patch;
pub mod sbom;
pub mod state;
pub mod tarball;
mod text;
pub mod tree;
pub mod tuf;
pub mod version;

pub use error::Error;
