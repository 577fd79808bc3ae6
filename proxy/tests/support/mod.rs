//! The proxy on loopback, clients and TLS material for the proxy's tests; the upstream, the
//! metrics lookup and the bounded poll come from `trellis_test_support`. Used by several test
//! binaries, each of which uses a subset.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "each test binary uses only part of these shared helpers; a panic is a failed test"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use trellis::access_log::spawn_with_writer;
use trellis::admin::{AdminState, Readiness};
use trellis::auth::Mode;
use trellis::layers::normalize::HeaderLimits;
use trellis::metrics::Metrics;
use trellis::request_head::HeaderRules;
use trellis::server::{serve, ServerConfig, ShutdownReport};
use trellis::stack::{AuthInner, Stack, StackConfig};
use trellis::upstream::UpstreamConfig;
use trellis_test_support::eventually_async;
pub use trellis_test_support::metrics::sample;
pub use trellis_test_support::upstream::{echoed, Behaviour, Echoed, Protocol, Reply, Upstream};

pub const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
pub const NETWORK_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:servicenetwork/sn-0123456789abcdef0";

/// Bounds every test step: a hang is a failure, not a stuck CI job.
pub async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("test step timed out")
}

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub fn full(data: impl Into<Bytes>) -> TestBody {
    Full::new(data.into()).map_err(|e| match e {}).boxed()
}

/// An address nothing listens on.
pub async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

/// Collected access-log lines.
#[derive(Debug, Clone, Default)]
pub struct LogLines(Arc<Mutex<Vec<String>>>);

impl LogLines {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until at least `n` lines arrived, then parses them.
    pub async fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        let lines = eventually_async(Duration::from_secs(10), || async {
            let lines = self.lines();
            (lines.len() >= n).then_some(lines)
        })
        .await
        .unwrap_or_else(|| panic!("fewer than {n} access-log lines: {:?}", self.lines()));
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub upstream: String,
    pub server: ServerConfig,
    pub header_limits: HeaderLimits,
    pub response_timeout: Duration,
    pub log_capacity: usize,
    /// The log sink never reads: the writer blocks after its first line.
    pub log_stalled: bool,
    pub roots: trellis::upstream::UpstreamRoots,
    pub tunnel_idle_timeout: Duration,
    pub path_rules: trellis::normalize::PathRules,
    pub header_rules: HeaderRules,
    /// `None`: the library's default.
    pub protocol: Option<trellis::upstream::UpstreamProtocol>,
}

impl ProxyOptions {
    pub fn new(upstream: SocketAddr) -> Self {
        Self {
            upstream: format!("http://{upstream}"),
            server: ServerConfig {
                header_read_timeout: Duration::from_secs(2),
                drain_timeout: Duration::from_secs(5),
                ..ServerConfig::default()
            },
            header_limits: HeaderLimits::default(),
            response_timeout: Duration::from_secs(5),
            log_capacity: 1024,
            log_stalled: false,
            roots: trellis::upstream::UpstreamRoots::Webpki,
            tunnel_idle_timeout: Duration::from_secs(60),
            path_rules: trellis::normalize::PathRules::default(),
            header_rules: HeaderRules::default(),
            protocol: None,
        }
    }
}

/// A running proxy (no auth or the given auth layer) with its admin endpoints.
#[derive(Debug)]
pub struct TestProxy {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub metrics: Arc<Metrics>,
    pub log: LogLines,
    pub ready: Readiness,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<ShutdownReport>>,
}

impl TestProxy {
    pub async fn start(opts: ProxyOptions) -> Self {
        Self::start_with(opts, |_| tower_layer::Identity::new()).await
    }

    /// Starts with the auth slot filled by `make_auth` (given the proxy's metrics, to resolve
    /// statement counters as a policy snapshot would).
    pub async fn start_with<A>(
        opts: ProxyOptions,
        make_auth: impl FnOnce(&Arc<Metrics>) -> A,
    ) -> Self
    where
        A: tower_layer::Layer<AuthInner>,
        trellis::stack::ProxyServiceWith<A>: tower_service::Service<
                Request<Incoming>,
                Response = Response<trellis::layers::audit::Observed<trellis::body::ProxyBody>>,
                Error = Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        <trellis::stack::ProxyServiceWith<A> as tower_service::Service<Request<Incoming>>>::Future:
            Send + 'static,
    {
        let metrics = Arc::new(Metrics::new("test").unwrap());
        let (reader, writer) = tokio::io::duplex(if opts.log_stalled { 1 } else { 1 << 16 });
        let (log, _writer) = spawn_with_writer(
            Box::new(writer),
            opts.log_capacity,
            metrics.access_log_dropped().clone(),
        );
        std::mem::forget(_writer);
        let lines = LogLines::default();
        let sink = lines.clone();
        let stalled = opts.log_stalled;
        tokio::spawn(async move {
            if stalled {
                // Hold the pipe open without reading.
                std::future::pending::<()>().await;
            }
            let mut r = tokio::io::BufReader::new(reader).lines();
            while let Ok(Some(line)) = r.next_line().await {
                sink.0.lock().unwrap().push(line);
            }
        });
        let mut upstream = UpstreamConfig::new(opts.upstream.parse().unwrap());
        upstream.response_timeout = opts.response_timeout;
        upstream.connect_timeout = Duration::from_secs(2);
        upstream.roots = opts.roots.clone();
        upstream.tunnel_idle_timeout = opts.tunnel_idle_timeout;
        if let Some(protocol) = opts.protocol {
            upstream.protocol = protocol;
        }
        let config = StackConfig {
            service_arn: SERVICE_ARN.to_owned(),
            service_network_arn: Some(NETWORK_ARN.to_owned()),
            mode: Mode::Enforce,
            header_limits: opts.header_limits,
            path_rules: opts.path_rules,
            header_rules: opts.header_rules,
            upstream,
        };
        let stack = Stack::new(&config, Arc::clone(&metrics), log).unwrap();
        let service = stack.service_with_auth(&make_auth(&metrics));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = admin_listener.local_addr().unwrap();
        let ready = Readiness::new();
        let state = AdminState {
            metrics: Arc::clone(&metrics),
            ready: ready.clone(),
            files: Arc::new(Vec::new),
        };
        tokio::spawn(trellis::admin::serve(
            admin_listener,
            state,
            std::future::pending(),
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, opts.server, service, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            admin,
            metrics,
            log: lines,
            ready,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Triggers a graceful shutdown and waits for its report.
    pub async fn shutdown(mut self) -> ShutdownReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        within(30, self.server.take().unwrap()).await.unwrap()
    }

    /// Starts a shutdown without waiting.
    pub fn begin_shutdown(&mut self) -> JoinHandle<ShutdownReport> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.take().unwrap()
    }
}

pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    TestBody,
>;

pub fn h1_client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

pub fn h2c_client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// Sends `req` and collects status, headers and body.
pub async fn send(client: &Client, req: Request<TestBody>) -> (StatusCode, HeaderMap, Bytes) {
    let res = within(20, client.request(req)).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = within(20, res.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    (status, headers, body)
}

pub async fn get(client: &Client, url: &str) -> (StatusCode, HeaderMap, Bytes) {
    send(client, Request::get(url).body(full("")).unwrap()).await
}

/// Sends raw bytes on a new connection and reads the answer until the peer closes or
/// `\r\n\r\n` plus `Content-Length` bytes arrived.
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    within(10, async {
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some(head_end) = text.find("\r\n\r\n") {
                let len = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= head_end + 4 + len {
                    break;
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// A self-signed certificate for `localhost` and 127.0.0.1 (DER cert, DER key).
pub fn self_signed() -> (
    rustls_pki_types::CertificateDer<'static>,
    rustls_pki_types::PrivateKeyDer<'static>,
) {
    let (cert, key, _) = self_signed_with_pem();
    (cert, key)
}

/// [`self_signed`] plus the certificate as PEM, for CA files.
pub fn self_signed_with_pem() -> (
    rustls_pki_types::CertificateDer<'static>,
    rustls_pki_types::PrivateKeyDer<'static>,
    String,
) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    (cert, key, certified.cert.pem())
}

/// Deterministic pseudo-random chunks of `total` bytes, generated lazily.
pub fn generated_chunks(
    total: usize,
    chunk: usize,
) -> impl Iterator<Item = Bytes> + Send + 'static {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut left = total;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = left.min(chunk);
        left -= n;
        let mut v = vec![0u8; n];
        for b in v.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b.copy_from_slice(&state.to_le_bytes()[..b.len()]);
        }
        Some(Bytes::from(v))
    })
}

/// A streamed body of [`generated_chunks`] (never held in memory whole) and its SHA-256.
pub fn generated_body(total: usize, chunk: usize) -> (TestBody, [u8; 32]) {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for c in generated_chunks(total, chunk) {
        hasher.update(&c);
    }
    let stream = futures_util::stream::iter(
        generated_chunks(total, chunk)
            .map(|c| Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(c))),
    );
    (StreamBody::new(stream).boxed(), hasher.finalize().into())
}
