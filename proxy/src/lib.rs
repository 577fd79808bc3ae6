//! Trellis: a sidecar that authenticates (SigV4) and authorizes (IAM auth policies) every
//! request with Amazon VPC Lattice semantics before it reaches the local service.
//!
//! # The request path, from `main` to the upstream call
//!
//! 1. `main.rs` → [`cli::main_with_args`] → `cli/run.rs`: flags become a [`config::Config`];
//!    the policies and principals are loaded into a [`snapshot::SnapshotHandle`] (the
//!    `ArcSwap<Snapshot>` the [`reload`] task stores into); [`proxy::Proxy::bind`] binds and
//!    builds the [`stack::Stack`]; [`proxy::Proxy::run`] serves with an [`auth::Auth`] on
//!    `--workers` threads ([`workers`]), each with its own stack ([`stack::Stack::worker`]).
//! 2. [`server::serve`]: accept, TLS, one hyper connection per caller, the stack as service.
//! 3. [`stack::Stack::service`]: every layer, outermost first, in one function —
//!    [`layers::audit`] → [`layers::request_id`] → [`layers::respond`] →
//!    [`layers::normalize`] (one reading of the head: [`request_head`], [`normalize`]) →
//!    [`layers::authenticate`] (`trellis_sigv4::verify` against the snapshot's
//!    [`principals`], or an STS identity token through [`sts`]) → [`layers::authorize`]
//!    (`trellis_policy::decide`, and the shadow policies) → [`layers::identity_headers`] →
//!    [`layers::forward`] (the pooled [`upstream`] client).
//!
//! `trellis authz` ([`authz`]) is a second front door on the same layers: Envoy's ext_authz
//! (gRPC or HTTP) or nginx's `auth_request` hands it a request, the layers up to
//! `identity_headers` run unchanged, and the innermost service records what would have been
//! forwarded instead of forwarding it; the answer is the difference.
//!
//! Layers are thin; each rule lives in a plain function next to it. Facts travel between
//! layers as typed request extensions ([`connection::ConnectionInfo`], [`outcome::Outcome`],
//! [`normalize::NormalizedPath`], [`auth::AuthenticatedCaller`],
//! [`caller_identity::CallerIdentity`]).
//!
//! The module graph is one-way (`deploy/ci/check_module_cycles.py`): the facts above sit
//! below the layers, the layers below [`stack`], [`server`] and [`proxy`], and [`cli`] on
//! top; [`replay`] (`trellis policy replay`) reuses the authorize layer's context from
//! above it, never the other way round.

#![forbid(unsafe_code)]
#![deny(clippy::allow_attributes_without_reason)]

pub mod access_log;
mod activity;
mod addr_text;
pub mod admin;
pub mod auth;
pub mod authz;
pub mod body;
pub mod caller_identity;
pub mod cli;
pub mod config;
pub mod connection;
pub mod decision_log;
pub mod error;
pub mod layers;
pub mod logged_facts;
pub mod metrics;
pub mod normalize;
pub mod outcome;
pub mod principals;
pub mod proxy;
pub mod reload;
pub mod replay;
pub mod request_head;
pub mod server;
pub mod signals;
pub mod snapshot;
pub mod stack;
pub mod sts;
pub mod tls;
mod tunnel;
pub mod upstream;
pub mod workers;
