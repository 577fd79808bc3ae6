//! The end-to-end tests in one binary: the real `trellis` binary (built once, see
//! `trellis_e2e::trellis_bin`) and the in-process stack on 127.0.0.1:0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

mod authz;
mod cli_policy;
mod cli_principals;
mod decision_log_replay;
mod examples;
mod one_reading;
mod operations;
mod sidecar;
mod sts_tokens;
mod transport;
mod workers;
