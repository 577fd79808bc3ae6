//! The innermost service: sends the request to the upstream over a pooled connection and
//! streams both bodies without buffering; tunnels `Upgrade` requests after a `101`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::HOST;
use http::{HeaderValue, Request, Response, StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::client::legacy::connect::HttpInfo;
use hyper_util::rt::TokioIo;
use tower_service::Service;

use crate::activity::{Activity, ActivityIo};
use crate::body::ProxyBody;
use crate::error::{ProxyError, UpstreamError};
use crate::layers::body_digest::{self, DigestChecked, Verdict};
use crate::layers::identity_headers::{is_upgrade, strip_hop_by_hop};
use crate::normalize::NormalizedPath;
use crate::outcome::Outcome;
use crate::upstream::Upstream;

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

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Maps a client failure: no connection (refused, DNS, TLS, connect timeout) is `Unreachable`,
/// anything after the connection was made is `Protocol`.
pub fn classify_client_error(err: &hyper_util::client::legacy::Error) -> UpstreamError {
    if err.is_connect() {
        UpstreamError::Unreachable(error_chain(err))
    } else {
        UpstreamError::Protocol(error_chain(err))
    }
}

/// Copies bytes both ways until either side closes or nothing moves for `idle`.
async fn tunnel(client: OnUpgrade, upstream: OnUpgrade, idle: Duration) {
    let (client, upstream) = tokio::join!(client, upstream);
    let (Ok(client), Ok(upstream)) = (client, upstream) else {
        return;
    };
    let activity = Activity::new();
    let mut client = ActivityIo::new(TokioIo::new(client), activity.clone());
    let mut upstream = TokioIo::new(upstream);
    let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
    tokio::pin!(copy);
    loop {
        tokio::select! {
            // Either side closing ends the tunnel; an error (a reset) has no one to report to.
            _ = &mut copy => return,
            () = tokio::time::sleep(activity.remaining(idle)) => {
                if activity.remaining(idle).is_zero() {
                    return;
                }
            }
        }
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
        let upgrade = is_upgrade(req.version(), req.headers());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let h2 = !upgrade && up.protocol.wants_h2(req.version(), req.headers());
        *req.uri_mut() = uri;
        *req.version_mut() = if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        // A signed body digest is checked on the way; a body known empty is checked now.
        let (req, verdict) = match body_digest::check_request(req, outcome.as_ref()) {
            Ok(checked) => checked,
            Err(mismatch) => return Box::pin(async move { Err(mismatch.into()) }),
        };
        let sent = if h2 {
            up.h2.request(req)
        } else {
            up.h1.request(req)
        };
        let timeout = up.response_timeout;
        let tunnel_idle = up.tunnel_idle_timeout;
        Box::pin(async move {
            let sent = tokio::time::timeout(timeout, sent).await;
            // A body that failed its digest aborts the upstream request: the caller sent a bad
            // request, the upstream did nothing wrong. Checked whatever the upstream answered.
            if let Some(mismatch) = verdict.as_ref().and_then(Verdict::mismatch) {
                return Err(mismatch.into());
            }
            let mut res = match sent {
                Err(_) => return Err(UpstreamError::Timeout(timeout).into()),
                Ok(Err(e)) => return Err(classify_client_error(&e).into()),
                Ok(Ok(res)) => res,
            };
            if let Some(outcome) = &outcome {
                outcome.mark_response_head();
                if let Some(info) = res.extensions().get::<HttpInfo>() {
                    outcome.set_target(info.remote_addr());
                }
            }
            let switching = res.status() == StatusCode::SWITCHING_PROTOCOLS;
            if let (true, Some(client_upgrade)) = (switching, client_upgrade) {
                let upstream_upgrade = hyper::upgrade::on(&mut res);
                tokio::spawn(tunnel(client_upgrade, upstream_upgrade, tunnel_idle));
            }
            strip_hop_by_hop(res.headers_mut(), switching);
            Ok(res.map(ProxyBody::upstream))
        })
    }
}
