//! The text of socket addresses, written byte by byte for IPv4 (the common case behind a
//! sidecar). `Ipv4Addr`'s and `SocketAddr`'s `Display` go through the formatting machinery,
//! which costs more than the rest of the `x-forwarded-for` work and a third of an access-log
//! line; the output is the same.

use std::net::{IpAddr, SocketAddr};

/// Appends the decimal text of `n` (itoa: no formatting machinery).
fn push_decimal(out: &mut Vec<u8>, n: u16) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends the text form of `ip` (as `Display` writes it).
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_decimal(out, u16::from(octet));
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write as _;
            let _ = write!(out, "{v6}");
        }
    }
}

/// Appends the text form of `addr` (as `Display` writes it: `ip:port`, `[ip6]:port`).
pub(crate) fn push_socket_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            push_ip(out, IpAddr::V4(*v4.ip()));
            out.push(b':');
            push_decimal(out, v4.port());
        }
        SocketAddr::V6(v6) => {
            use std::io::Write as _;
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for addr in [
            "0.0.0.0:0",
            "10.1.2.3:5555",
            "127.0.0.1:65535",
            "192.168.100.255:80",
            "255.255.255.255:9",
            "[::1]:8080",
            "[2001:db8::8a2e:370:7334]:443",
            "[::ffff:10.0.0.1]:1",
        ] {
            let addr: SocketAddr = addr.parse().unwrap();
            let mut out = Vec::new();
            push_socket_addr(&mut out, addr);
            assert_eq!(String::from_utf8(out).unwrap(), addr.to_string());
            let mut out = Vec::new();
            push_ip(&mut out, addr.ip());
            assert_eq!(String::from_utf8(out).unwrap(), addr.ip().to_string());
        }
    }
}
