//! The policy crate's integration tests in one binary (one link instead of one per file):
//! the conformance corpus, the differential test against the naive evaluator and the property
//! tests. `no_alloc` stays a binary of its own: it installs a counting global allocator.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

mod harness;
mod naive;

mod conformance;
mod differential;
mod properties;
