//! The proxy's integration tests in one binary: the in-process stack on loopback against real
//! upstreams. `signals` stays a binary of its own (it sends real signals to its process), and so does
//! `shadow_alloc` (it installs a counting global allocator).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use trellis_sigv4::test_util as sigv4_support;

mod sidecar_support;
mod support;

mod body_digest;
mod failures;
mod forwarding;
mod head_rules;
mod lifecycle;
mod observability;
mod protocols;
mod request_reading;
mod shadow_policies;
mod sidecar_auth;
mod transport;
mod upstream_pool;
