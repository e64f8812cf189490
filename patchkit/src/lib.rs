#![doc = include_str!("../../README.md")]

pub mod apply;
pub mod audit;
pub mod cli;
pub mod dist;
pub mod error;
pub mod network;
pub mod patch;
pub mod repo;
pub mod sbom;
pub mod state;
pub mod tarball;
pub mod tree;
pub mod version;

pub use error::Error;
