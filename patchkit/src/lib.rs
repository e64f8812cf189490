#![doc = include_str!("../../README.md")]

pub mod patch;
pub mod repo;
pub mod tarball;
pub mod tree;
pub mod version;
