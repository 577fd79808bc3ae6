//! What the upstream may trust: spoofable identity headers removed, Lattice's
//! `x-amzn-lattice-*` and `x-forwarded-*` headers added.
//!
//! Hop-by-hop headers are removed earlier, by `Normalize` (see [`crate::request_head`]), so
//! that neither the verifier nor the policy reads a header the upstream will not get.

use std::task::{Context, Poll};

use http::{HeaderValue, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::connection::ConnectionInfo;
use crate::outcome::Outcome;
pub use crate::request_head::hop_by_hop::{is_upgrade, strip_hop_by_hop};
pub use crate::request_head::names::{
    SPOOFABLE, X_AMZN_LATTICE_IDENTITY, X_AMZN_LATTICE_IDENTITY_TAGS, X_AMZN_LATTICE_TARGET,
    X_FORWARDED_FOR, X_FORWARDED_PORT, X_FORWARDED_PROTO,
};
use crate::request_head::present::{self, Present};
pub use crate::request_head::Xff;

pub(crate) mod forwarded;

/// `x-amzn-lattice-target: ServiceArn=<arn>; ServiceNetworkArn=<arn>` (empty network ARN kept,
/// as Lattice keeps empty values). `None` if an ARN holds a character not allowed in headers.
pub fn target_header(service_arn: &str, service_network_arn: Option<&str>) -> Option<HeaderValue> {
    HeaderValue::try_from(format!(
        "ServiceArn={service_arn}; ServiceNetworkArn={}",
        service_network_arn.unwrap_or("")
    ))
    .ok()
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
/// own tests). The caller's precomputed identity headers come from the request's
/// [`Outcome`], cloned (reference counts).
///
/// One scan of the header names decides what to remove (see [`present`]); the values added
/// are precomputed (`target`, the caller's identity) or written without `fmt`.
///
/// `x-forwarded-for` is the TCP peer alone under [`Xff::Replace`] (what Lattice sends: the
/// caller cannot put an address in front that a service reading the first entry would
/// trust), or the caller's list with the peer appended under [`Xff::Append`].
pub fn rewrite<B>(req: &mut Request<B>, target: &HeaderValue, xff: Xff) {
    let present = Present::scan(req.headers());
    let conn = req.extensions().get::<ConnectionInfo>().cloned();
    let caller = req
        .extensions()
        .get::<Outcome>()
        .and_then(|o| o.identity().cloned());
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
        if let Some(v) = forwarded::forwarded_for(headers, &conn, xff) {
            headers.insert(X_FORWARDED_FOR.clone(), v);
        }
        headers.insert(X_FORWARDED_PORT.clone(), conn.local_port_text().clone());
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
