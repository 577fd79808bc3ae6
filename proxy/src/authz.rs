//! `trellis authz`: the sidecar's decision for a proxy users already run — Envoy/Istio
//! `ext_authz` (gRPC and HTTP) and nginx `auth_request` (CONTRACT §10).
//!
//! One pipeline, two front doors: each front door turns what its proxy sends into an
//! `http::Request` (a [`view::RequestView`]) and runs it through the sidecar's own layers —
//! `Audit → SetRequestId → Respond → Normalize → Authenticate → Authorize → IdentityHeaders` —
//! ending in [`pipeline::Decided`] instead of `Forward`. What `IdentityHeaders` leaves in the
//! request is what the sidecar would have forwarded; [`pipeline::Verdict`] is the difference
//! between that and what the proxy holds, which the proxy then applies.
//!
//! What an authorizer cannot see: the body. A signed hex `x-amz-content-sha256` is therefore
//! never checked against the body here (the access log's `authorizer` field names the front
//! door on every such line).

pub mod grpc;
pub mod http_front;
pub mod pipeline;
pub mod view;
