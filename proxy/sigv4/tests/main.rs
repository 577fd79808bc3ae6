//! The SigV4 crate's integration tests in one binary: the official suite, real-client
//! captures and the round trip against aws-sigv4. `alloc` stays a binary of its own: it
//! installs a counting global allocator.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

mod captures;
mod roundtrip;
mod suite;
