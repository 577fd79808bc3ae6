//! Facts about the connection a request arrived on: known to the server at accept, read by the
//! layers (identity headers, conditions), the access log and the decision log.

use std::net::SocketAddr;

use bytes::Bytes;
use http::HeaderValue;

use crate::addr_text::push_ip;

/// Facts about the connection a request arrived on, inserted by the server into every
/// request's extensions.
///
/// The header texts that depend only on the connection are formatted here, once per
/// connection: each request clones them (a reference count) instead of formatting and
/// allocating them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The caller's address (`aws:SourceIp`, `x-forwarded-for`, `sourceIpPort`).
    pub remote: SocketAddr,
    /// The listener address the caller connected to (`x-forwarded-port`).
    pub local: SocketAddr,
    /// Whether the connection is TLS (`x-forwarded-proto`, `aws:SecureTransport`).
    pub tls: bool,
    remote_ip: HeaderValue,
    local_port: HeaderValue,
}

impl ConnectionInfo {
    /// The facts of a connection from `remote` to the listener at `local`.
    pub fn new(remote: SocketAddr, local: SocketAddr, tls: bool) -> Self {
        let mut ip = Vec::with_capacity(39);
        push_ip(&mut ip, remote.ip());
        Self {
            remote,
            local,
            tls,
            remote_ip: HeaderValue::from_maybe_shared(Bytes::from(ip))
                .unwrap_or_else(|_| HeaderValue::from_static("")),
            local_port: HeaderValue::from(local.port()),
        }
    }

    /// The text of the caller's IP address: the whole `x-forwarded-for` when the caller's
    /// list is not kept.
    pub fn remote_ip_text(&self) -> &HeaderValue {
        &self.remote_ip
    }

    /// The text of the listener's port (`x-forwarded-port`).
    pub fn local_port_text(&self) -> &HeaderValue {
        &self.local_port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_texts_are_those_of_the_addresses() {
        for (remote, local) in [
            ("192.0.2.7:40123", "10.0.0.1:8080"),
            ("[2001:db8::1]:40123", "[::1]:443"),
        ] {
            let remote: SocketAddr = remote.parse().unwrap();
            let local: SocketAddr = local.parse().unwrap();
            let info = ConnectionInfo::new(remote, local, false);
            assert_eq!(info.remote_ip_text(), remote.ip().to_string().as_str());
            assert_eq!(info.local_port_text(), local.port().to_string().as_str());
        }
    }
}
