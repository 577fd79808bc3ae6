//! What the upstream may trust: spoofable identity headers removed, Lattice's
//! `x-amzn-lattice-*` and `x-forwarded-*` headers added.
//!
//! Hop-by-hop headers are removed earlier, by `Normalize` (see [`crate::request_head`]), so
//! that neither the verifier nor the policy reads a header the upstream will not get; the
//! functions doing it live here beside the response side's use of them in `Forward`.

use std::task::{Context, Poll};

use http::header::{HeaderName, CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Request, Version};
use tower_layer::Layer;
use tower_service::Service;

use self::present::Present;
use crate::caller_identity::CallerIdentity;
use crate::layers::ConnectionInfo;
use crate::request_head::Xff;

pub(crate) mod forwarded;
pub(crate) mod present;

/// `x-amzn-lattice-identity`.
pub static X_AMZN_LATTICE_IDENTITY: HeaderName = HeaderName::from_static("x-amzn-lattice-identity");
/// `x-amzn-lattice-identity-tags`.
pub static X_AMZN_LATTICE_IDENTITY_TAGS: HeaderName =
    HeaderName::from_static("x-amzn-lattice-identity-tags");
/// `x-amzn-lattice-target`.
pub static X_AMZN_LATTICE_TARGET: HeaderName = HeaderName::from_static("x-amzn-lattice-target");
/// `x-forwarded-for`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `x-forwarded-port`.
pub static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
/// `x-forwarded-proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Headers a caller could forge to impersonate someone; always removed.
pub static SPOOFABLE: [HeaderName; 7] = [
    HeaderName::from_static("x-amzn-lattice-identity"),
    HeaderName::from_static("x-amzn-lattice-identity-tags"),
    HeaderName::from_static("x-amzn-lattice-network"),
    HeaderName::from_static("x-amzn-lattice-target"),
    HeaderName::from_static("x-amzn-source-vpc"),
    HeaderName::from_static("authorization"),
    HeaderName::from_static("x-amz-security-token"),
];

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// `x-amzn-lattice-target: ServiceArn=<arn>; ServiceNetworkArn=<arn>` (empty network ARN kept,
/// as Lattice keeps empty values). `None` if an ARN holds a character not allowed in headers.
pub fn target_header(service_arn: &str, service_network_arn: Option<&str>) -> Option<HeaderValue> {
    HeaderValue::try_from(format!(
        "ServiceArn={service_arn}; ServiceNetworkArn={}",
        service_network_arn.unwrap_or("")
    ))
    .ok()
}

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

/// Adds [`IdentityHeaders`].
#[derive(Debug, Clone)]
pub struct IdentityHeadersLayer {
    target: HeaderValue,
    xff: Xff,
}

impl IdentityHeadersLayer {
    /// A layer adding `target` as `x-amzn-lattice-target` (see [`target_header`]) and
    /// `x-forwarded-for` per `xff`.
    pub fn new(target: HeaderValue, xff: Xff) -> Self {
        Self { target, xff }
    }
}

impl<S> Layer<S> for IdentityHeadersLayer {
    type Service = IdentityHeaders<S>;
    fn layer(&self, inner: S) -> IdentityHeaders<S> {
        IdentityHeaders {
            inner,
            target: self.target.clone(),
            xff: self.xff,
        }
    }
}

/// Rewrites the request headers for the upstream.
#[derive(Debug, Clone)]
pub struct IdentityHeaders<S> {
    inner: S,
    target: HeaderValue,
    xff: Xff,
}

/// Applies every header rule of the layer to `req` (exposed for tests and the auth layers'
/// own tests). The caller's precomputed identity is moved out of the extensions: nothing
/// after this layer reads it.
///
/// One scan of the header names decides what to remove (see [`present`]); the values added
/// are precomputed (`target`, the caller's identity) or written without `fmt`.
///
/// `x-forwarded-for` is the TCP peer alone under [`Xff::Replace`] (what Lattice sends: the
/// caller cannot put an address in front that a service reading the first entry would
/// trust), or the caller's list with the peer appended under [`Xff::Append`].
pub fn rewrite<B>(req: &mut Request<B>, target: &HeaderValue, xff: Xff) {
    let present = Present::scan(req.headers());
    let conn = req.extensions().get::<ConnectionInfo>().copied();
    let caller = req.extensions_mut().remove::<CallerIdentity>();
    let headers = req.headers_mut();
    for (i, name) in SPOOFABLE.iter().enumerate() {
        if present.has(present::spoofable(i)) {
            headers.remove(name);
        }
    }
    headers.insert(X_AMZN_LATTICE_TARGET.clone(), target.clone());
    if let Some(caller) = caller {
        headers.insert(X_AMZN_LATTICE_IDENTITY.clone(), caller.identity);
        headers.insert(X_AMZN_LATTICE_IDENTITY_TAGS.clone(), caller.tags);
    }
    if let Some(conn) = conn {
        // The one function the policy's view of the header uses too.
        if let Some(v) = forwarded::forwarded_for(headers, conn.remote.ip(), xff) {
            headers.insert(X_FORWARDED_FOR.clone(), v);
        }
        headers.insert(
            X_FORWARDED_PORT.clone(),
            HeaderValue::from(conn.local.port()),
        );
        let proto = if conn.tls { "https" } else { "http" };
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    }
}

impl<S, B> Service<Request<B>> for IdentityHeaders<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        rewrite(&mut req, &self.target, self.xff);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests;
