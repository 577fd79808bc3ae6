//! The `x-forwarded-for` value, built on every forwarded request: the caller's previous list
//! plus its address, written without `fmt` (see [`crate::addr_text`]).

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue};

use super::{Xff, X_FORWARDED_FOR};
use crate::addr_text::push_ip;
use crate::connection::ConnectionInfo;

/// The `x-forwarded-for` the upstream gets under `xff`: written by `rewrite` and read by a
/// policy that asks for `RequestHeader/x-forwarded-for`, so both see one value. The peer alone
/// (always under [`Xff::Replace`]) is the connection's text, formatted once at accept.
pub(crate) fn forwarded_for(
    headers: &HeaderMap,
    conn: &ConnectionInfo,
    xff: Xff,
) -> Option<HeaderValue> {
    let previous = match xff {
        Xff::Append => headers
            .get(&X_FORWARDED_FOR)
            .filter(|v| v.to_str().is_ok_and(|p| !p.trim_ascii().is_empty())),
        Xff::Replace => None,
    };
    match previous {
        Some(previous) => x_forwarded_for(Some(previous), conn.remote.ip()),
        None => Some(conn.remote_ip_text().clone()),
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
    fn the_peer_alone_is_the_connection_text() {
        let conn = ConnectionInfo::new(
            "10.0.0.7:4000".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
            false,
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            X_FORWARDED_FOR.clone(),
            HeaderValue::from_static("192.0.2.1"),
        );
        assert_eq!(
            forwarded_for(&headers, &conn, Xff::Replace).unwrap(),
            "10.0.0.7"
        );
        assert_eq!(
            forwarded_for(&headers, &conn, Xff::Append).unwrap(),
            "192.0.2.1, 10.0.0.7"
        );
        headers.insert(X_FORWARDED_FOR.clone(), HeaderValue::from_static(" "));
        assert_eq!(
            forwarded_for(&headers, &conn, Xff::Append).unwrap(),
            "10.0.0.7"
        );
        // Not visible ASCII: dropped rather than extended.
        headers.insert(
            X_FORWARDED_FOR.clone(),
            HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert_eq!(
            forwarded_for(&headers, &conn, Xff::Append).unwrap(),
            "10.0.0.7"
        );
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
