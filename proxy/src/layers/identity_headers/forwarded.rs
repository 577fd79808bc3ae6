//! The `x-forwarded-for` value, built on every forwarded request: the caller's previous list
//! plus its address. Written byte by byte for IPv4 (the common case behind a sidecar) because
//! `Ipv4Addr`'s `Display` goes through the formatting machinery, which costs several times
//! more than the rest of the header work.

use std::net::IpAddr;

use http::HeaderValue;

/// Appends the decimal text of `n`.
fn push_u8(out: &mut Vec<u8>, n: u8) {
    if n >= 100 {
        out.push(b'0' + n / 100);
    }
    if n >= 10 {
        out.push(b'0' + (n / 10) % 10);
    }
    out.push(b'0' + n % 10);
}

/// Appends the text form of `ip` (as `Display` writes it).
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u8(out, octet);
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write as _;
            let _ = write!(out, "{v6}");
        }
    }
}

/// `<previous>, <ip>` when the caller sent a non-blank, visible-ASCII list, else `<ip>`.
pub(crate) fn x_forwarded_for(previous: Option<&HeaderValue>, ip: IpAddr) -> Option<HeaderValue> {
    // A value that is not visible ASCII is dropped rather than extended, as before.
    let previous = previous
        .and_then(|v| v.to_str().ok())
        .map(str::as_bytes)
        .filter(|p| !p.trim_ascii().is_empty());
    let mut out = Vec::with_capacity(previous.map_or(0, |p| p.len() + 2) + 39);
    if let Some(p) = previous {
        out.extend_from_slice(p);
        out.extend_from_slice(b", ");
    }
    push_ip(&mut out, ip);
    HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "127.0.0.1",
            "192.168.100.255",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            push_ip(&mut out, ip);
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
        }
    }

    #[test]
    fn the_previous_list_is_extended_unless_blank() {
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let prev = HeaderValue::from_static("192.0.2.1, 198.51.100.2");
        assert_eq!(
            x_forwarded_for(Some(&prev), ip).unwrap(),
            "192.0.2.1, 198.51.100.2, 10.0.0.7"
        );
        let blank = HeaderValue::from_static("  ");
        assert_eq!(x_forwarded_for(Some(&blank), ip).unwrap(), "10.0.0.7");
        assert_eq!(x_forwarded_for(None, ip).unwrap(), "10.0.0.7");
    }
}
