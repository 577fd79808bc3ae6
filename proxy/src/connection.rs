//! Facts about the connection a request arrived on: known to the server at accept, read by the
//! layers (identity headers, conditions), the access log and the decision log.

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
