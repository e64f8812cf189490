//! End-to-end tests of the `patchkit` binary: every test runs the real
//! binary (`CARGO_BIN_EXE_patchkit`) on tarballs, directories and patch
//! repositories that the test builds in a temporary directory. Helpers live
//! in `support/`; one module per command, plus `security` for refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Test helpers are `pub` for the sibling modules of this one binary.
#![allow(unreachable_pub)]

mod support;

mod apply;
mod archives;
mod attacks;
mod audit;
mod audit_installed;
mod bins;
mod bundle;
mod check;
mod ci;
mod config;
mod cpanm;
mod crash;
mod csaf;
mod diff;
mod export;
mod hardening;
mod home;
mod import;
mod import_mail;
mod inplace;
mod lint;
mod lint_edges;
mod log;
mod new;
mod outcomes;
mod packs;
mod project_repository;
mod publish;
mod publishing_edges;
mod publishing_walkthrough;
mod quickstart;
mod reference;
mod repo;
mod sbom;
mod security;
mod serve;
mod serve_load;
mod snapshots;
mod update;
mod vex;
mod withdraw;
mod withdrawn_carried;
