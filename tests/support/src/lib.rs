//! What the tests of the proxy, the benches and the end-to-end suite share, so that each
//! exists once: [`upstream`] (an echo service on loopback that records every request it
//! received), [`signing`] (aws-sigv4, the reference signer), [`metrics`] (a value from the
//! Prometheus text) and [`eventually`] (a poll bounded in tries and in time).
//!
//! Nothing here depends on `trellis`: the proxy's own tests use this crate, and a dependency
//! back would put two copies of `trellis` in their build.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a broken fixture is a bug in the test, best reported by a panic"
)]

pub mod eventually;
pub mod metrics;
pub mod signing;
pub mod upstream;

pub use eventually::{eventually, eventually_async};
