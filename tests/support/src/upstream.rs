//! The upstream every test forwards to: hyper on 127.0.0.1:0 (HTTP/1.1 and h2c, or HTTP/1.1
//! only, optionally behind TLS) that records each request it received — head, arrival, the
//! length and SHA-256 of the body as it arrived and whether it reached its end — and answers
//! with a plain-text echo of the request (or the body's digest, or a short `ok`).
//!
//! Routes on top of the reply: `/echo-body` streams the body back frame by frame, `/slow/MS`
//! answers after MS milliseconds, `/grpc` answers the body with gRPC trailers, `/ws` accepts an
//! upgrade and echoes the tunnel, `/early` answers `202` before reading the body.
//!
//! Started inside a Tokio runtime it runs on that runtime (and ends with it); outside one it
//! runs on a thread of its own until the test process ends.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::Digest;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ReplyBody = BoxBody<Bytes, BoxError>;

/// Which HTTP versions the upstream speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 and HTTP/2 (prior knowledge without TLS, ALPN `h2` with it).
    #[default]
    Auto,
    /// HTTP/1.1 only: an HTTP/2 preface fails.
    Http1Only,
}

/// What the default route answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reply {
    /// The request as text: `METHOD TARGET VERSION`, one `name: value` line per header
    /// value, an empty line, the body (see [`Echoed`]).
    #[default]
    Echo,
    /// `LEN SHA256-HEX VERSION` of the body as received; the body is not kept.
    Digest,
    /// `ok\n`, as cheap as it gets (load tests).
    Ok,
}

/// Decides whether a request is admitted, from its head: `Ok(caller)` answers as configured
/// and records the caller, `Err(())` answers `403`. For upstreams that verify signatures.
pub type Check = Arc<dyn Fn(&http::request::Parts) -> Result<String, ()> + Send + Sync>;

/// How the upstream behaves; `Behaviour::default()` is the plain echo.
#[derive(Clone, Default)]
pub struct Behaviour {
    pub protocol: Protocol,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub reply: Reply,
    /// Every answer waits this long (only those for targets starting with `delay_prefix`,
    /// when set).
    pub delay: Duration,
    pub delay_prefix: Option<String>,
    /// When the n-th request (0-based) arrives, every answer from then on waits until this
    /// long after it: the whole server stalls.
    pub stall: Option<(u64, Duration)>,
    /// Answer `404` for targets starting with this.
    pub not_found_prefix: Option<String>,
    pub check: Option<Check>,
}

impl fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Behaviour")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.is_some())
            .field("reply", &self.reply)
            .field("delay", &self.delay)
            .field("delay_prefix", &self.delay_prefix)
            .field("stall", &self.stall)
            .field("not_found_prefix", &self.not_found_prefix)
            .field("check", &self.check.is_some())
            .finish()
    }
}

/// The body of a request as the upstream read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRead {
    pub len: usize,
    pub sha256: [u8; 32],
    /// The body reached its end; `false` when the request was aborted.
    pub complete: bool,
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    /// Path and query as received.
    pub target: String,
    pub version: Version,
    pub headers: HeaderMap,
    pub arrived: Instant,
    /// `None` on the routes that do not read the body themselves (`/echo-body`, `/ws`,
    /// `/slow/…`).
    pub body: Option<BodyRead>,
    /// The [`Check`]'s verdict, when there is one.
    pub admitted: Option<Result<String, ()>>,
}

impl Received {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Log {
    arrived: AtomicU64,
    received: Mutex<Vec<Received>>,
    stall_until: Mutex<Option<Instant>>,
}

/// A running upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    log: Arc<Log>,
}

impl Upstream {
    /// The plain echo (HTTP/1.1 and h2c).
    pub fn echo() -> Upstream {
        Self::start(Behaviour::default())
    }

    pub fn start(behaviour: Behaviour) -> Upstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Log::default());
        let serving = serve(listener, Arc::new(behaviour), Arc::clone(&log));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(serving)),
            Err(_) => drop(std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(serving);
            })),
        }
        Upstream { addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests that arrived so far (counted before any delay or body read).
    pub fn arrivals(&self) -> u64 {
        self.log.arrived.load(Ordering::SeqCst)
    }

    /// Requests received so far, in the order their recording finished.
    pub fn received(&self) -> Vec<Received> {
        self.log.received.lock().unwrap().clone()
    }

    /// The received requests whose path is `path`.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }
}

async fn serve(listener: std::net::TcpListener, behaviour: Arc<Behaviour>, log: Arc<Log>) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let tls = behaviour.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (behaviour, log, tls) = (Arc::clone(&behaviour), Arc::clone(&log), tls.clone());
        tokio::spawn(async move {
            let protocol = behaviour.protocol;
            let service = hyper::service::service_fn(move |req| {
                let (behaviour, log) = (Arc::clone(&behaviour), Arc::clone(&log));
                async move { Ok::<_, Infallible>(answer(req, &behaviour, &log).await) }
            });
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        connection(TokioIo::new(stream), protocol, service).await;
                    }
                }
                None => connection(TokioIo::new(stream), protocol, service).await,
            }
        });
    }
}

async fn connection<I, S>(io: I, protocol: Protocol, service: S)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<ReplyBody>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    let _ = match protocol {
        Protocol::Auto => {
            hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(io, service)
                .await
        }
        Protocol::Http1Only => hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .with_upgrades()
            .await
            .map_err(Into::into),
    };
}

fn full(data: impl Into<Bytes>) -> ReplyBody {
    Full::new(data.into()).map_err(|e| match e {}).boxed()
}

fn with_status(status: StatusCode, body: ReplyBody) -> Response<ReplyBody> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res
}

/// Reads `body` to its end (or its error), keeping the bytes only when asked to.
async fn read(mut body: Incoming, keep: bool) -> (BodyRead, Bytes) {
    let mut hasher = sha2::Sha256::new();
    let mut kept = BytesMut::new();
    let mut len = 0;
    let complete = loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    hasher.update(data);
                    len += data.len();
                    if keep {
                        kept.extend_from_slice(data);
                    }
                }
            }
            Some(Err(_)) => break false,
            None => break true,
        }
    };
    let read = BodyRead {
        len,
        sha256: hasher.finalize().into(),
        complete,
    };
    (read, kept.freeze())
}

async fn answer(req: Request<Incoming>, b: &Behaviour, log: &Arc<Log>) -> Response<ReplyBody> {
    let n = log.arrived.fetch_add(1, Ordering::SeqCst);
    let arrived = Instant::now();
    let (parts, body) = req.into_parts();
    let mut received = Received {
        method: parts.method.clone(),
        target: parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned(),
        version: parts.version,
        headers: parts.headers.clone(),
        arrived,
        body: None,
        admitted: None,
    };
    let record = |r: Received| log.received.lock().unwrap().push(r);
    let mut status = StatusCode::OK;
    if let Some(check) = &b.check {
        let verdict = check(&parts);
        if verdict.is_err() {
            status = StatusCode::FORBIDDEN;
        }
        received.admitted = Some(verdict);
    }
    if b.not_found_prefix
        .as_deref()
        .is_some_and(|p| received.target.starts_with(p))
    {
        status = StatusCode::NOT_FOUND;
    }
    let path = received.path().to_owned();
    // The routes that hand the body on unread.
    if path == "/echo-body" {
        record(received);
        return Response::new(body.map_err(|e| Box::new(e) as BoxError).boxed());
    }
    if let Some(ms) = path.strip_prefix("/slow/") {
        record(received);
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1000))).await;
        return Response::new(full("slow done"));
    }
    if path == "/ws" {
        record(received);
        return upgrade(Request::from_parts(parts, body));
    }
    if path == "/early" {
        let log = Arc::clone(log);
        tokio::spawn(async move {
            received.body = Some(read(body, false).await.0);
            log.received.lock().unwrap().push(received);
        });
        return with_status(StatusCode::ACCEPTED, full("accepted"));
    }
    // Recorded before any delay: a run that ends during a stall has seen these requests.
    let keep = b.reply == Reply::Echo || path == "/grpc";
    let (body_read, data) = read(body, keep).await;
    received.body = Some(body_read.clone());
    let echo = (b.reply == Reply::Echo).then(|| echo_text(&received, &data));
    record(received);
    if let Some((at, stall)) = b.stall {
        if n == at {
            *log.stall_until.lock().unwrap() = Some(Instant::now() + stall);
        }
        let until = *log.stall_until.lock().unwrap();
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
    }
    let delayed = b
        .delay_prefix
        .as_deref()
        .is_none_or(|p| path.starts_with(p));
    if !b.delay.is_zero() && delayed {
        tokio::time::sleep(b.delay).await;
    }
    if path == "/grpc" {
        return grpc(data, parts.version);
    }
    let reply = match b.reply {
        Reply::Echo => echo.unwrap_or_default(),
        Reply::Digest => {
            let hex: String = body_read
                .sha256
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("{} {hex} {:?}", body_read.len, parts.version)
        }
        Reply::Ok => "ok\n".to_owned(),
    };
    let mut res = with_status(status, full(reply));
    res.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    res
}

/// Accepts a WebSocket-style upgrade and echoes whatever the tunnel carries.
fn upgrade(mut req: Request<Incoming>) -> Response<ReplyBody> {
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(up) = on.await {
            let (mut r, mut w) = tokio::io::split(TokioIo::new(up));
            let _ = tokio::io::copy(&mut r, &mut w).await;
        }
    });
    let mut res = with_status(StatusCode::SWITCHING_PROTOCOLS, full(""));
    res.headers_mut()
        .insert("connection", "upgrade".parse().unwrap());
    res.headers_mut()
        .insert("upgrade", "websocket".parse().unwrap());
    res
}

/// `data` back as one gRPC message with `grpc-status: 0` trailers.
fn grpc(data: Bytes, version: Version) -> Response<ReplyBody> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    trailers.insert("grpc-message", "all-good".parse().unwrap());
    let frames = vec![
        Ok::<_, BoxError>(Frame::data(data)),
        Ok(Frame::trailers(trailers)),
    ];
    let mut res = Response::new(StreamBody::new(futures_util::stream::iter(frames)).boxed());
    res.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    res.headers_mut().insert(
        "x-upstream-version",
        format!("{version:?}").parse().unwrap(),
    );
    res
}

fn echo_text(r: &Received, body: &[u8]) -> String {
    let mut text = format!("{} {} {:?}\r\n", r.method, r.target, r.version);
    for (name, value) in &r.headers {
        text.push_str(name.as_str());
        text.push_str(": ");
        text.push_str(&String::from_utf8_lossy(value.as_bytes()));
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(&String::from_utf8_lossy(body));
    text
}

/// The upstream's view of a request, parsed back from an [`Reply::Echo`] answer.
#[derive(Debug, Clone)]
pub struct Echoed {
    pub method: String,
    pub target: String,
    pub version: String,
    /// Lower-case names, in the order received; a repeated header once per value.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Echoed {
    /// `None` when `reply` is not an echo.
    pub fn parse(reply: &[u8]) -> Option<Echoed> {
        let text = String::from_utf8_lossy(reply);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next()?.splitn(3, ' ');
        let (method, target, version) = (
            request_line.next()?.to_owned(),
            request_line.next()?.to_owned(),
            request_line.next()?.to_owned(),
        );
        let headers = lines
            .map(|l| {
                l.split_once(": ")
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Echoed {
            method,
            target,
            version,
            headers,
            body: body.to_owned(),
        })
    }

    /// Path and query as the upstream received them.
    pub fn path(&self) -> &str {
        &self.target
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every value of `name`, joined with `,`.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }

    pub fn has(&self, name: &str) -> bool {
        self.headers.iter().any(|(k, _)| k == name)
    }
}

/// [`Echoed::parse`], panicking with the reply when it is not an echo.
pub fn echoed(reply: &[u8]) -> Echoed {
    Echoed::parse(reply)
        .unwrap_or_else(|| panic!("not an echo: {}", String::from_utf8_lossy(reply)))
}
