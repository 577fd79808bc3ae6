//! Trellis: a sidecar that authenticates (SigV4) and authorizes (IAM auth policies) every
//! request with Amazon VPC Lattice semantics before it reaches the local service.

pub mod access_log;
mod activity;
mod addr_text;
pub mod admin;
pub mod body;
pub mod caller_identity;
pub mod cli;
pub mod config;
pub mod decision_log;
pub mod error;
pub mod layers;
pub mod metrics;
pub mod normalize;
pub mod outcome;
pub mod principals;
pub mod proxy;
pub mod request_head;
pub mod server;
pub mod signals;
pub mod sigv4;
pub mod snapshot;
pub mod stack;
pub mod sts;
pub mod tls;
mod tunnel;
pub mod upstream;
pub mod watch;
