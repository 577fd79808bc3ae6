//! Hop-by-hop headers (RFC 9110 §7.6.1) and the one upgrade the proxy tunnels: removed from a
//! request by `Normalize` before anything reads it, and from a response by `Forward`.

use http::header::{HeaderName, CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Version};

use super::present::{self, Present};

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Whether the request is a WebSocket upgrade (HTTP/1.1, `Connection: upgrade` and one
/// `Upgrade` field that is exactly `websocket`), the only upgrade `Forward` tunnels, after
/// authorization. Any other `Upgrade` is not an upgrade: it is removed with its `Connection`
/// token and the request is served as a plain request. Above all `h2c`: the upstream would
/// switch the connection to HTTP/2, and the streams that follow inside the tunnel would never
/// be authorized. A list (`websocket, h2c`) would let the upstream pick, so it is refused too.
pub fn is_upgrade(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && upgrades_to_websocket(headers)
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// [`is_upgrade`] for a message already scanned.
pub(crate) fn is_upgrade_scanned(version: Version, headers: &HeaderMap, present: Present) -> bool {
    version == Version::HTTP_11
        && present.has(present::UPGRADE)
        && present.has(present::CONNECTION)
        && upgrades_to_websocket(headers)
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// One `Upgrade` field, whose value is `websocket` (any case, RFC 6455 §4.1).
fn upgrades_to_websocket(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(UPGRADE).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"websocket"),
        _ => false,
    }
}

/// The tokens of every `Connection` line, trimmed, empty ones skipped.
pub(crate) fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1): `Connection` and every header it names,
/// `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`, and `te` unless it asks
/// for `trailers` (gRPC needs that). For an upgrade request `Connection: upgrade` and `Upgrade`
/// stay, because the upstream must see the request to switch.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let present = Present::scan(headers);
    strip_scanned(headers, upgrade, present);
}

/// [`strip_hop_by_hop`] touching only the headers `present` says are there.
pub(crate) fn strip_scanned(headers: &mut HeaderMap, upgrade: bool, present: Present) {
    if present.has(present::CONNECTION) {
        let named: Vec<HeaderName> = connection_tokens(headers)
            .filter(|t| !(upgrade && t.eq_ignore_ascii_case("upgrade")))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for name in named {
            if name != TE {
                headers.remove(&name);
            }
        }
        headers.remove(CONNECTION);
    }
    if present.has(present::TE) {
        let wants_trailers = headers
            .get_all(TE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("trailers"));
        headers.remove(TE);
        if wants_trailers {
            headers.insert(TE, HeaderValue::from_static("trailers"));
        }
    }
    if present.has(present::KEEP_ALIVE) {
        headers.remove(&KEEP_ALIVE);
    }
    if present.has(present::PROXY_CONNECTION) {
        headers.remove(&PROXY_CONNECTION);
    }
    if present.has(present::TRANSFER_ENCODING) {
        headers.remove(TRANSFER_ENCODING);
    }
    if upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else if present.has(present::UPGRADE) {
        headers.remove(UPGRADE);
    }
}
