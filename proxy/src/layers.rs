//! The request path as tower layers, outermost first:
//! `Audit → SetRequestId → Respond → Normalize → [Authenticate → Authorize] → IdentityHeaders → Forward`.
//!
//! Layers are thin: the rules they apply live in plain functions (`normalize`,
//! `caller_identity`, `layers::respond::respond`) tested without sockets. Below `Respond` every
//! service answers `Result<Response<ProxyBody>, ProxyError>`; from `Respond` outwards the error
//! type is `Infallible`, so a failure can never reach hyper and reset a connection.

pub mod audit;
pub mod authenticate;
pub mod authorize;
pub mod body_digest;
pub mod forward;
pub mod identity_headers;
pub mod normalize;
pub mod request_id;
pub mod respond;

use std::net::SocketAddr;

/// Facts about the connection a request arrived on, inserted by the server into every
/// request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The caller's address (`aws:SourceIp`, `x-forwarded-for`, `sourceIpPort`).
    pub remote: SocketAddr,
    /// The listener address the caller connected to (`x-forwarded-port`).
    pub local: SocketAddr,
    /// Whether the connection is TLS (`x-forwarded-proto`, `aws:SecureTransport`).
    pub tls: bool,
}
