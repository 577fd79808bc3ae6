//! The bare pass-through: the physical limit of the crates Trellis is built from.
//!
//! It serves HTTP/1.1 and h2c with hyper-util's auto builder and forwards every request over
//! hyper-util's pooled legacy client (the proxy's listener is the same; its `Forward` layer has
//! a pool of its own on `hyper::client::conn`, cheaper per request than this client), with
//! nothing in between: no authentication, no policy, no metrics, no access log, no
//! header rewriting beyond the target URI. Whatever Trellis costs above this is the price of
//! its own work, not of hyper or tokio.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// The response body: the upstream's streamed body, or a short `502` of our own.
pub type PassBody = BoxBody<Bytes, hyper::Error>;

/// The upstream URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PassthroughError {
    /// Not `http://host:port`.
    #[error("upstream URL `{0}` must be `http://HOST:PORT`")]
    Upstream(String),
}

/// Forwards requests to one plain-HTTP upstream over two keep-alive pools (HTTP/1.1 callers
/// over HTTP/1.1, HTTP/2 callers over h2c), as the proxy's `Auto` upstream protocol does.
#[derive(Debug, Clone)]
pub struct Passthrough {
    h1: Client<HttpConnector, Incoming>,
    h2: Client<HttpConnector, Incoming>,
    authority: Authority,
}

impl Passthrough {
    /// Pools for `upstream` (`http://host:port`); no connection is made yet.
    pub fn new(upstream: &str) -> Result<Self, PassthroughError> {
        let bad = || PassthroughError::Upstream(upstream.to_owned());
        let uri: Uri = upstream.parse().map_err(|_| bad())?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(bad());
        }
        let authority = uri.authority().cloned().ok_or_else(bad)?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let h1 = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(connector.clone());
        let h2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Self { h1, h2, authority })
    }

    /// Forwards one request; an unreachable upstream is a `502`.
    pub async fn forward(&self, req: Request<Incoming>) -> Response<PassBody> {
        let (mut parts, body) = req.into_parts();
        let h2 = parts.version == Version::HTTP_2;
        let pq = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut target = http::uri::Parts::default();
        target.scheme = Some(Scheme::HTTP);
        target.authority = Some(self.authority.clone());
        target.path_and_query = Some(pq);
        parts.uri = match Uri::from_parts(target) {
            Ok(u) => u,
            Err(_) => return bad_gateway(),
        };
        parts.version = if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        if h2 {
            // An h2 request carries its authority in the URI; a `host` header would be sent
            // as a regular header field, which HTTP/2 servers may refuse.
            parts.headers.remove(http::header::HOST);
        }
        let req = Request::from_parts(parts, body);
        let sent = if h2 {
            self.h2.request(req).await
        } else {
            self.h1.request(req).await
        };
        match sent {
            Ok(resp) => resp.map(BodyExt::boxed),
            Err(_) => bad_gateway(),
        }
    }
}

fn bad_gateway() -> Response<PassBody> {
    let body = Full::new(Bytes::from_static(b"bad gateway\n"))
        .map_err(|never| match never {})
        .boxed();
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp
}

/// Serves `listener` forever, forwarding every request through `pass`.
pub async fn serve(listener: TcpListener, pass: Passthrough) {
    let pass = Arc::new(pass);
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let pass = Arc::clone(&pass);
        let builder = Arc::clone(&builder);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let pass = Arc::clone(&pass);
                async move { Ok::<_, Infallible>(pass.forward(req).await) }
            });
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                .await;
        });
    }
}
