//! The host of a request: its authority, read from `Host`, HTTP/2 `:authority` (hyper keeps
//! it in the URI) or an absolute-form target (`GET http://h/x HTTP/1.1`, also in the URI).
//!
//! The policy reads `RequestHeader/host` from the header map, the verifier reads `host` from
//! it too, and the upstream routes on `Host`; so the one authority is written there, and a
//! request that names two different ones is refused rather than read one way here and
//! another way by the service.

use http::header::HOST;
use http::{HeaderMap, HeaderValue, Uri};

use super::{shown, HeaderError};

/// The value to write as `Host` when the request has no `Host` line but an authority; `None`
/// when `Host` already holds the request's one authority.
pub(super) fn authority(
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<HeaderValue>, HeaderError> {
    let mut lines = headers.get_all(HOST).iter();
    let host = lines.next();
    if lines.next().is_some() {
        return Err(HeaderError::HostRepeated);
    }
    let authority = uri.authority().map(|a| a.as_str().as_bytes());
    match (host, authority) {
        (Some(host), Some(authority)) => {
            check(host.as_bytes())?;
            check(authority)?;
            if host.as_bytes().eq_ignore_ascii_case(authority) {
                Ok(None)
            } else {
                Err(HeaderError::HostMismatch {
                    authority: shown(authority),
                    host: shown(host.as_bytes()),
                })
            }
        }
        (Some(host), None) => check(host.as_bytes()).map(|()| None),
        (None, Some(authority)) => {
            check(authority)?;
            HeaderValue::from_bytes(authority)
                .map(Some)
                .map_err(|_| HeaderError::HostInvalid(shown(authority)))
        }
        // Without a host the upstream client would send the upstream's own address, which
        // the policy never saw; HTTP/1.1 requires `Host` anyway (RFC 9112 §3.2).
        (None, None) => Err(HeaderError::HostMissing),
    }
}

/// `host[:port]` where host is a name of unreserved characters (RFC 3986: letters, digits,
/// `-._~`) or a bracketed IPv6 literal, and port is digits. Stricter than RFC 3986's
/// `reg-name`, which also allows `!$&'()*+,;=` and `%`: no host name uses them, and servers
/// split a `Host` such as `a.example, b.example` differently. User information (`user@`) is
/// refused: it is deprecated in `http` URIs (RFC 9110 §4.2.4).
fn check(value: &[u8]) -> Result<(), HeaderError> {
    let invalid = || HeaderError::HostInvalid(shown(value));
    let (host, port) = match value.strip_prefix(b"[") {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b']').ok_or_else(invalid)?;
            let (literal, after) = rest.split_at(end);
            let ipv6 = !literal.is_empty()
                && literal
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !ipv6 {
                return Err(invalid());
            }
            // `after` starts with the `]` found above.
            match after.get(1..) {
                Some([]) => (&b"v6"[..], None),
                Some([b':', port @ ..]) => (&b"v6"[..], Some(port)),
                _ => return Err(invalid()),
            }
        }
        None => match value.iter().rposition(|&b| b == b':') {
            Some(at) => {
                let (host, colon_port) = value.split_at(at);
                (host, colon_port.get(1..))
            }
            None => (value, None),
        },
    };
    let name_ok = !host.is_empty()
        && host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.iter().all(u8::is_ascii_digit));
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}
