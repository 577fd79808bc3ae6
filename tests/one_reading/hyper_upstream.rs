//! An upstream built on hyper's server (HTTP/1.1, and HTTP/2 with prior knowledge), answering every request 200 with what a
//! hyper-based service would act on, as JSON:
//! - method: `Request::method()` as parsed (hyper keeps the case it received);
//! - path: `Uri::path()`, raw (routers decode it later, if at all);
//! - host: the first `Host` line (`HeaderMap::get`), and the URI's authority when the target
//!   arrived in absolute form (`Uri::authority()`: what `Uri`-based code reads as the host);
//! - headers: the first line of each watched name (`HeaderMap::get`), names as received, so
//!   `x_tenant` is not `x-tenant` here;
//! - query: `form_urlencoded` pairs of `Uri::query()` (serde_urlencoded, hence axum's `Query`,
//!   decode the same way: `+` as a space).
//!
//! Every request served and every byte read on an HTTP/1 connection is counted, so the test can
//! tell a request the proxy refused from one the upstream received and could not parse. (Bytes
//! of HTTP/2 connections are not: flow-control frames may arrive after their exchange.)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Header names whose values are reported (lower-case; hyper lower-cases names it receives).
pub const WATCHED: &[&str] = &[
    "x-tenant",
    "x-debug",
    "x-amzn-lattice-identity",
    "upgrade",
    "keep-alive",
    "x_tenant",
    "x_amzn_lattice_identity",
];

/// A running hyper upstream; stops with the process.
#[derive(Debug)]
pub struct HyperUpstream {
    pub addr: SocketAddr,
    seen: Arc<AtomicU64>,
}

impl HyperUpstream {
    /// Binds 127.0.0.1 on an ephemeral port and serves on a thread of its own.
    pub fn spawn() -> HyperUpstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(serve(listener, counter));
        });
        HyperUpstream { addr, seen }
    }

    /// Requests served plus HTTP/1 bytes received from the proxy, over all connections.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }
}

async fn serve(listener: std::net::TcpListener, seen: Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let io = hyper_util::rt::TokioIo::new(Counting {
            inner: stream,
            seen: Arc::clone(&seen),
            first: true,
            h2: false,
        });
        let served = Arc::clone(&seen);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                served.fetch_add(1, Ordering::SeqCst);
                async move { Ok::<_, std::convert::Infallible>(answer(&req)) }
            });
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(io, service)
                    .await;
        });
    }
}

fn text(v: &http::HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

fn answer<B>(req: &http::Request<B>) -> http::Response<Full<Bytes>> {
    let headers: BTreeMap<&str, String> = WATCHED
        .iter()
        .filter_map(|name| req.headers().get(*name).map(|v| (*name, text(v))))
        .collect();
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        query
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    let view = serde_json::json!({
        "upstream": "hyper",
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "host": req.headers().get(http::header::HOST).map(text),
        "authority": req.uri().authority().map(|a| a.as_str().to_owned()),
        "headers": headers,
        "query": query,
    });
    http::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(view.to_string())))
        .unwrap()
}

/// A TCP stream that counts the bytes it reads, unless it carries HTTP/2.
struct Counting {
    inner: tokio::net::TcpStream,
    seen: Arc<AtomicU64>,
    first: bool,
    h2: bool,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let got = &buf.filled()[before..];
        if self.first && !got.is_empty() {
            self.first = false;
            self.h2 = got.starts_with(b"PRI * HTTP/2.0");
        }
        if !self.h2 {
            let read = got.len() as u64;
            self.seen.fetch_add(read, Ordering::SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
