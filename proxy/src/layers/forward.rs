//! The innermost service: sends the request to the upstream over a pooled connection and
//! streams both bodies without buffering; tunnels WebSocket upgrades after a `101`.
//!
//! The future is boxed: hyper's send future is an unnameable `impl Future`, so a named future
//! type would have to box it anyway (one allocation either way).
//!
//! Upgrades: only a WebSocket upgrade (see [`is_upgrade`]) is tunnelled, and only where there
//! is an HTTP/1.1 client to carry it (not with `--upstream-protocol http2`) and a connection
//! task to run the tunnel (a `TunnelSlot` from the server). Every other request, `Upgrade:
//! h2c` above all, reaches the upstream as a plain request without `Upgrade`: a tunnel's
//! later requests would never be authorized.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{CONNECTION, HOST, UPGRADE};
use http::{HeaderValue, Request, Response, StatusCode, Version};
use tower_service::Service;

use crate::body::ProxyBody;
use crate::error::{ProxyError, UpstreamError};
use crate::layers::body_digest::{self, DigestChecked, Verdict};
use crate::layers::identity_headers::{is_upgrade, strip_hop_by_hop};
use crate::normalize::NormalizedPath;
use crate::outcome::Outcome;
use crate::tunnel::{copy_until_idle, TunnelSlot};
use crate::upstream::{Sent, Upstream};

/// Forwards requests to the upstream.
#[derive(Debug)]
pub struct Forward<B> {
    upstream: Arc<Upstream<DigestChecked<B>>>,
}

impl<B> Clone for Forward<B> {
    fn clone(&self) -> Self {
        Self {
            upstream: Arc::clone(&self.upstream),
        }
    }
}

impl<B> Forward<B> {
    /// A service sending to `upstream`.
    pub fn new(upstream: Arc<Upstream<DigestChecked<B>>>) -> Self {
        Self { upstream }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, ProxyError>> + Send>>;

impl<B> Service<Request<B>> for Forward<B>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ProxyBody>;
    type Error = ProxyError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> BoxFuture {
        let up = &self.upstream;
        let outcome = req.extensions().get::<Outcome>().cloned();
        let uri = match req.extensions().get::<NormalizedPath>() {
            // The normalized path and the forwarded query (presign parameters removed): what
            // the policy read.
            Some(p) => up.uri_for(p.path_and_query()),
            None => up.uri_for(req.uri().path_and_query().map_or("/", |pq| pq.as_str())),
        };
        let uri = match uri {
            Ok(uri) => uri,
            Err(e) => {
                let err = ProxyError::Internal(format!("cannot build the upstream uri: {e}"));
                return Box::pin(async move { Err(err) });
            }
        };
        // The caller's host reaches the service, as with Lattice; an HTTP/2 caller sends it
        // as `:authority`.
        if !req.headers().contains_key(HOST) {
            if let Some(host) = req
                .uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                req.headers_mut().insert(HOST, host);
            }
        }
        let slot = if is_upgrade(req.version(), req.headers()) {
            req.extensions_mut().remove::<TunnelSlot>()
        } else {
            None
        };
        let tunnel = slot.filter(|_| up.upgrades);
        if tunnel.is_none() && req.headers().contains_key(UPGRADE) {
            // Not tunnelled: served as a plain request. `Connection` names nothing else by now
            // (hop-by-hop headers are stripped before this layer).
            let headers = req.headers_mut();
            headers.remove(UPGRADE);
            headers.remove(CONNECTION);
        }
        *req.uri_mut() = uri;
        // A signed body digest is checked on the way; a body known empty is checked now.
        let (mut req, verdict) = match body_digest::check_request(req, outcome.as_ref()) {
            Ok(checked) => checked,
            Err(mismatch) => return Box::pin(async move { Err(mismatch.into()) }),
        };
        let upstream = Arc::clone(up);
        let tunnel = match tunnel {
            Some(slot) => {
                *req.version_mut() = Version::HTTP_11;
                Some((hyper::upgrade::on(&mut req), slot))
            }
            None => {
                if up.version == Version::HTTP_2 {
                    // HTTP/2 names the host in `:authority`, which the upstream client sets to
                    // the upstream's address; a `host` beside it would give the
                    // service two hosts to choose from (RFC 9113 §8.3.1). So the service reads
                    // one: the upstream's.
                    req.headers_mut().remove(HOST);
                }
                *req.version_mut() = up.version;
                None
            }
        };
        let timeout = up.response_timeout;
        let tunnel_idle = up.tunnel_idle_timeout;
        Box::pin(async move {
            let sent = if tunnel.is_some() {
                tokio::time::timeout(timeout, upstream.send_upgrade(req)).await
            } else {
                tokio::time::timeout(timeout, upstream.send(req)).await
            };
            // A body that failed its digest aborts the upstream request: the caller sent a bad
            // request, the upstream did nothing wrong. Checked whatever the upstream answered.
            if let Some(mismatch) = verdict.as_ref().and_then(Verdict::mismatch) {
                return Err(mismatch.into());
            }
            let Sent {
                response: mut res,
                remote,
                lease,
            } = match sent {
                Err(_) => return Err(UpstreamError::Timeout(timeout).into()),
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok(sent)) => sent,
            };
            if let Some(outcome) = &outcome {
                outcome.mark_response_head();
                outcome.set_target(remote);
            }
            let switching = res.status() == StatusCode::SWITCHING_PROTOCOLS;
            match (switching, tunnel) {
                (true, Some((client_upgrade, slot))) => {
                    let upstream_upgrade = hyper::upgrade::on(&mut res);
                    slot.put(Box::pin(copy_until_idle(
                        client_upgrade,
                        upstream_upgrade,
                        tunnel_idle,
                    )));
                }
                (true, None) => {
                    return Err(UpstreamError::Protocol(
                        "the service switched protocols for a request that did not ask to upgrade"
                            .to_owned(),
                    )
                    .into())
                }
                (false, _) => {}
            }
            strip_hop_by_hop(res.headers_mut(), switching);
            Ok(res.map(|body| ProxyBody::upstream(body, lease)))
        })
    }
}

#[cfg(test)]
mod tests;
