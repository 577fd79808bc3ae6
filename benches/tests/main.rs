//! The benches crate's tests in one binary: the load generator end to end, its output, and
//! the loopback upstream.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

mod load_support;

mod load;
mod load_output;
mod loopback;
