//! The listener: accepts connections (TLS optional), serves HTTP/1.1 and HTTP/2 (h2c prior
//! knowledge on plain TCP, ALPN with TLS) with hyper-util's auto builder, and enforces the
//! connection limits. Each connection runs in its own task, so a stalled client only ever
//! holds its own task and its connection permit. A connection upgraded to a tunnel (see
//! `crate::tunnel`) goes on in the same task: it keeps its permit and is cut at the drain
//! deadline like any other.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::header::UPGRADE;
use http::{Request, Response, Version};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower_service::Service;

use crate::activity::{InFlight, InFlightBody, InFlightFuture};
use crate::connection::ConnectionInfo;
use crate::tunnel::TunnelSlot;

mod gathered_writes;

use gathered_writes::GatheredWrites;

/// Limits and timeouts of the listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// TLS, when serving HTTPS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Time a client has to send a complete request head (and the TLS handshake); an HTTP/1.1
    /// connection waiting for its next request is closed after this long too.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed gracefully, whether or
    /// not bytes (HTTP/2 PINGs) flow. A request is in flight from its arrival until its
    /// response body has been sent.
    pub idle_timeout: Duration,
    /// Most open connections, upgraded tunnels included; further callers wait in the listen
    /// backlog.
    pub max_connections: usize,
    /// Hard size limit of an HTTP/1.1 request head and of an HTTP/2 header list. The
    /// `Normalize` layer enforces the configured limit below it with a `431` of our own.
    pub max_header_bytes: usize,
    /// Hard count limit of HTTP/1.1 header fields (see `max_header_bytes`).
    pub max_headers: usize,
    /// How long in-flight requests may run on shutdown before their connections are cut.
    pub drain_timeout: Duration,
    /// Most concurrent HTTP/2 streams on one connection (hyper's default: 200). A proxy that
    /// multiplexes every caller's check onto a few connections (Envoy's ext_authz) needs
    /// more: a stream past the limit is refused, and Envoy does not retry the check.
    pub max_concurrent_streams: u32,
    /// Write a plain-TCP connection's small frames in one write (see `gathered_writes`): for
    /// a listener that answers HTTP/2 with answers of a few hundred bytes (gRPC ext_authz),
    /// where it halves the writes per answer. Off for the sidecar's listener, whose bodies
    /// are forwarded as they come and gain from vectored writes.
    pub gather_small_writes: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            tls: None,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_header_bytes: 128 * 1024,
            max_headers: 200,
            drain_timeout: Duration::from_secs(20),
            max_concurrent_streams: 200,
            gather_small_writes: false,
        }
    }
}

/// What happened at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections open at shutdown that finished within the drain timeout.
    pub drained: usize,
    /// Connections still busy at the drain deadline, closed without finishing.
    pub cut: usize,
}

fn builder(config: &ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes.max(8192))
        .max_headers(config.max_headers);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(config.idle_timeout / 2))
        .keep_alive_timeout(config.header_read_timeout)
        .max_concurrent_streams(config.max_concurrent_streams);
    b
}

/// Serves `service` on `listener` until `shutdown` resolves, then drains.
///
/// Every request gets a [`ConnectionInfo`] in its extensions before `service` sees it.
pub async fn serve<S, B>(
    listener: TcpListener,
    config: ServerConfig,
    service: S,
    shutdown: impl std::future::Future<Output = ()>,
) -> ShutdownReport
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let admission = Admission::new(config.max_connections);
    serve_admitted(listener, config, &admission, service, shutdown).await
}

/// What the workers accepting on one address share, and what each counts: the
/// `max_connections` permits are one pool for the address, whichever worker accepts (taking
/// one is a single atomic operation per connection, never per request).
#[derive(Debug, Clone)]
pub struct Admission {
    permits: Arc<Semaphore>,
    accepted: Option<prometheus::IntCounter>,
}

impl Admission {
    /// `max_connections` permits (at least one), counting nothing.
    pub fn new(max_connections: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            accepted: None,
        }
    }

    /// The same permits, counting each accepted connection in `accepted` (the worker's
    /// `trellis_worker_connections_total` series).
    pub fn counting(&self, accepted: prometheus::IntCounter) -> Self {
        Self {
            permits: Arc::clone(&self.permits),
            accepted: Some(accepted),
        }
    }
}

/// [`serve`] with the connection limit of `admission`, shared with other listeners on the same
/// address (one per worker thread).
pub async fn serve_admitted<S, B>(
    listener: TcpListener,
    config: ServerConfig,
    admission: &Admission,
    service: S,
    shutdown: impl std::future::Future<Output = ()>,
) -> ShutdownReport
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = Arc::new(builder(&config));
    let permits = &admission.permits;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut drained = 0usize;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Reap finished connections; only those still open at shutdown count as drained.
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                // Out of descriptors or a connection reset before accept: back off briefly
                // rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        if let Some(accepted) = &admission.accepted {
            accepted.inc();
        }
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(remote);
        let info = ConnectionInfo::new(remote, local, config.tls.is_some());
        let conn = Connection {
            builder: Arc::clone(&builder),
            tls: config.tls.clone(),
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            gather_small_writes: config.gather_small_writes,
            stop: stop_rx.clone(),
            info,
        };
        let service = service.clone();
        conns.spawn(async move {
            let _permit = permit;
            conn.run(stream, service).await;
        });
    }
    drop(listener);
    while conns.try_join_next().is_some() {}
    let _ = stop_tx.send(true);
    let deadline = tokio::time::sleep(config.drain_timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = conns.join_next() => match next {
                Some(_) => drained += 1,
                None => break,
            },
            () = &mut deadline => break,
        }
    }
    let cut = conns.len();
    conns.abort_all();
    ShutdownReport { drained, cut }
}

struct Connection {
    builder: Arc<auto::Builder<TokioExecutor>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    gather_small_writes: bool,
    stop: watch::Receiver<bool>,
    info: ConnectionInfo,
}

impl Connection {
    async fn run<S, B>(self, stream: tokio::net::TcpStream, service: S)
    where
        S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // A connection's task is as large as the largest state of this future, and lives as
        // long as the connection, idle or not: the TLS and gathered-write states (a rustls
        // connection, another hyper connection type) are boxed, so a plain connection's task
        // holds only its own.
        match self.tls.clone() {
            Some(tls) => Box::pin(self.serve_tls(tls, stream, service)).await,
            None if self.gather_small_writes => {
                Box::pin(self.serve(GatheredWrites(TokioIo::new(stream)), service)).await;
            }
            None => self.serve(TokioIo::new(stream), service).await,
        }
    }

    async fn serve_tls<S, B>(
        self,
        tls: Arc<rustls::ServerConfig>,
        stream: tokio::net::TcpStream,
        service: S,
    ) where
        S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        // A failed or stalled handshake asked nothing, so there is nothing to answer.
        let handshake = tokio::time::timeout(self.header_read_timeout, acceptor.accept(stream));
        if let Ok(Ok(tls_stream)) = handshake.await {
            self.serve(TokioIo::new(tls_stream), service).await;
        }
    }

    async fn serve<I, S, B>(mut self, io: I, service: S)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
        S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let in_flight = InFlight::new();
        let tunnel = TunnelSlot::default();
        let svc = PerConnection {
            service,
            info: self.info,
            in_flight: Arc::clone(&in_flight),
            tunnel: tunnel.clone(),
        };
        let conn = self.builder.serve_connection_with_upgrades(io, svc);
        tokio::pin!(conn);
        let mut closing = false;
        loop {
            let idle_check = tokio::time::sleep(in_flight.idle_remaining(self.idle_timeout));
            tokio::select! {
                // The connection's own errors (resets, timeouts) end only this connection.
                _ = conn.as_mut() => break,
                changed = self.stop.changed(), if !closing => {
                    if changed.is_err() || *self.stop.borrow() {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
                () = idle_check, if !closing => {
                    if in_flight.idle_remaining(self.idle_timeout).is_zero() {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        }
        // hyper gave up the connection for a `101`: the tunnel `Forward` left runs here, on
        // this connection's permit, until either side closes, it idles out or the drain
        // deadline cuts it.
        if let Some(tunnel) = tunnel.take() {
            tunnel.await;
        }
    }
}

/// The connection's service as hyper calls it: hyper's `Service::call` takes `&self`, tower's
/// takes `&mut self`, so each request gets its own clone of the stack (a few `Arc` counts).
/// Written out rather than `TowerToHyperService` over a `service_fn` closure, which cloned
/// the whole stack twice per request.
///
/// Each request is counted in flight until its response body is dropped (the idle timeout),
/// and a request that may upgrade (HTTP/1.1 with `Upgrade`; no other request pays for the
/// extension) carries the connection's [`TunnelSlot`].
#[derive(Debug, Clone)]
struct PerConnection<S> {
    service: S,
    info: ConnectionInfo,
    in_flight: Arc<InFlight>,
    tunnel: TunnelSlot,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for PerConnection<S>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Clone,
{
    type Response = Response<InFlightBody<B>>;
    type Error = Infallible;
    type Future = InFlightFuture<tower::util::Oneshot<S, Request<Incoming>>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let guard = self.in_flight.begin();
        req.extensions_mut().insert(self.info.clone());
        if req.version() == Version::HTTP_11 && req.headers().contains_key(UPGRADE) {
            req.extensions_mut().insert(self.tunnel.clone());
        }
        InFlightFuture::new(self.service.clone().oneshot(req), guard)
    }
}
