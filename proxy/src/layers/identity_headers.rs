//! What the upstream may trust: spoofable identity headers and hop-by-hop headers removed,
//! Lattice's `x-amzn-lattice-*` and `x-forwarded-*` headers added.

use std::task::{Context, Poll};

use http::header::{HeaderName, CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Request, Version};
use tower_layer::Layer;
use tower_service::Service;

use crate::caller_identity::CallerIdentity;
use crate::layers::ConnectionInfo;

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

/// Whether the request asks to switch protocols (HTTP/1.1 `Connection: upgrade` + `Upgrade`),
/// which `Forward` tunnels.
pub fn is_upgrade(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && headers.contains_key(UPGRADE)
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
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
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter(|t| !(upgrade && t.eq_ignore_ascii_case("upgrade")))
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in named {
        if name != TE {
            headers.remove(&name);
        }
    }
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
    headers.remove(&KEEP_ALIVE);
    headers.remove(&PROXY_CONNECTION);
    headers.remove(TRANSFER_ENCODING);
    headers.remove(CONNECTION);
    if upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(UPGRADE);
    }
}

/// Adds [`IdentityHeaders`].
#[derive(Debug, Clone)]
pub struct IdentityHeadersLayer {
    target: HeaderValue,
}

impl IdentityHeadersLayer {
    /// A layer adding `target` as `x-amzn-lattice-target` (see [`target_header`]).
    pub fn new(target: HeaderValue) -> Self {
        Self { target }
    }
}

impl<S> Layer<S> for IdentityHeadersLayer {
    type Service = IdentityHeaders<S>;
    fn layer(&self, inner: S) -> IdentityHeaders<S> {
        IdentityHeaders {
            inner,
            target: self.target.clone(),
        }
    }
}

/// Rewrites the request headers for the upstream.
#[derive(Debug, Clone)]
pub struct IdentityHeaders<S> {
    inner: S,
    target: HeaderValue,
}

/// Applies every header rule of the layer to `req` (exposed for tests and the auth layers'
/// own tests).
pub fn rewrite<B>(req: &mut Request<B>, target: &HeaderValue) {
    let upgrade = is_upgrade(req.version(), req.headers());
    let conn = req.extensions().get::<ConnectionInfo>().copied();
    let caller = req.extensions().get::<CallerIdentity>().cloned();
    let headers = req.headers_mut();
    for name in &SPOOFABLE {
        headers.remove(name);
    }
    strip_hop_by_hop(headers, upgrade);
    headers.insert(X_AMZN_LATTICE_TARGET.clone(), target.clone());
    if let Some(caller) = caller {
        headers.insert(X_AMZN_LATTICE_IDENTITY.clone(), caller.identity);
        headers.insert(X_AMZN_LATTICE_IDENTITY_TAGS.clone(), caller.tags);
    }
    if let Some(conn) = conn {
        let ip = conn.remote.ip().to_string();
        let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(prev) if !prev.trim().is_empty() => format!("{prev}, {ip}"),
            _ => ip,
        };
        if let Ok(v) = HeaderValue::try_from(xff) {
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
        rewrite(&mut req, &self.target);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests;
