//! The admin endpoints (`--admin`): `/metrics`, `/healthz`, `/readyz`, `/policy`. Plain
//! HTTP/1.1 on a separate listener, so probes and scrapes never queue behind callers.

use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::metrics::Metrics;

/// Set once policies and principals are loaded; `/readyz` answers 200 from then on, until the
/// shutdown begins: from the first SIGTERM `/readyz` answers 503 for good (a later successful
/// reload does not make a stopping proxy ready again), so endpoints controllers and load
/// balancers stop sending while the listener still accepts.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<ReadyState>);

#[derive(Debug, Default)]
struct ReadyState {
    loaded: AtomicBool,
    stopping: AtomicBool,
}

impl Readiness {
    /// Not ready yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the policies and principals loaded (or not, e.g. while nothing valid is loaded).
    pub fn set(&self, ready: bool) {
        self.0.loaded.store(ready, Ordering::Release);
    }

    /// Marks the proxy as shutting down: not ready from now on, whatever is loaded.
    pub fn begin_shutdown(&self) {
        self.0.stopping.store(true, Ordering::Release);
    }

    /// Whether the shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.0.stopping.load(Ordering::Acquire)
    }

    /// Whether the proxy is ready: loaded and not shutting down.
    pub fn is_ready(&self) -> bool {
        self.0.loaded.load(Ordering::Acquire) && !self.is_shutting_down()
    }
}

/// What `LoadedFile::sha256` is the hash of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Hashed {
    /// The file's bytes (`sha256sum FILE` gives the same): policy files.
    #[serde(rename = "bytes")]
    Bytes,
    /// The file's parsed content with every secret removed: the principals file, which may
    /// hold inline secrets that a hash of its bytes would let anyone guess offline.
    #[serde(rename = "content without secrets")]
    ContentWithoutSecrets,
}

/// One loaded policy or principals file, as `/policy` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedFile {
    /// The path as configured.
    pub path: PathBuf,
    /// Hex SHA-256 of the version in force, as `sha256_of` says.
    pub sha256: String,
    /// What `sha256` hashes.
    pub sha256_of: Hashed,
    /// Statements in the file (a principals file: its identity policies' statements).
    pub statements: usize,
    /// When the content was loaded, RFC 3339.
    #[serde(serialize_with = "rfc3339")]
    pub loaded_at: SystemTime,
}

impl LoadedFile {
    /// The entry for the policy `content` read from `path`, hashing its bytes.
    pub fn new(path: PathBuf, content: &[u8], statements: usize, loaded_at: SystemTime) -> Self {
        use sha2::Digest;
        Self {
            path,
            sha256: hex::encode(sha2::Sha256::digest(content)),
            sha256_of: Hashed::Bytes,
            statements,
            loaded_at,
        }
    }

    /// The entry for a principals file whose content without secrets hashes to
    /// `content_sha256` (`PrincipalStore::content_sha256`), holding `statements` identity
    /// policy statements.
    pub fn principals(
        path: PathBuf,
        content_sha256: &str,
        statements: usize,
        loaded_at: SystemTime,
    ) -> Self {
        Self {
            path,
            sha256: content_sha256.to_owned(),
            sha256_of: Hashed::ContentWithoutSecrets,
            statements,
            loaded_at,
        }
    }
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let text = time::OffsetDateTime::from(*t)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

/// Reads the files of the snapshot in force (the snapshot owner provides it).
pub type FilesSource = Arc<dyn Fn() -> Vec<LoadedFile> + Send + Sync>;

/// What the admin endpoints read.
#[derive(Clone)]
pub struct AdminState {
    /// Metrics to expose.
    pub metrics: Arc<Metrics>,
    /// `/readyz`.
    pub ready: Readiness,
    /// `/policy`.
    pub files: FilesSource,
}

impl fmt::Debug for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminState")
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

fn text(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// Answers one admin request.
pub fn handle<B>(state: &AdminState, req: &Request<B>) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n", PLAIN);
    }
    match req.uri().path() {
        "/metrics" => match state.metrics.encode() {
            Ok(body) => text(
                StatusCode::OK,
                body,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), PLAIN),
        },
        "/healthz" => text(StatusCode::OK, "ok\n", PLAIN),
        "/readyz" if state.ready.is_ready() => text(StatusCode::OK, "ready\n", PLAIN),
        "/readyz" if state.ready.is_shutting_down() => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: shutting down\n",
            PLAIN,
        ),
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: policies and principals are not loaded yet\n",
            PLAIN,
        ),
        "/policy" => {
            #[derive(Serialize)]
            struct Files {
                files: Vec<LoadedFile>,
            }
            match serde_json::to_vec(&Files {
                files: (state.files)(),
            }) {
                Ok(body) => text(StatusCode::OK, body, "application/json"),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), PLAIN),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; try /metrics, /healthz, /readyz or /policy\n",
            PLAIN,
        ),
    }
}

/// Most admin connections open at once. Pods bind the admin port on `0.0.0.0`, so anyone who
/// can reach the pod can open connections to it; a few dozen is plenty for the kubelet's probes
/// and a couple of scrapers. Further connections wait in the listen backlog until one closes
/// (as on the main listener): a burst of probes is answered late rather than refused.
pub const MAX_ADMIN_CONNECTIONS: usize = 32;

/// The admin listener's limits. With connections capped, a client must not be able to keep
/// its slot for ever: the request head must arrive within `header_read_timeout` (hyper also
/// closes a keep-alive connection idle that long), and any connection — one that stopped
/// reading its answer too — is asked to close after `lifetime` and cut `close_grace` later.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdminLimits {
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) lifetime: Duration,
    pub(crate) close_grace: Duration,
}

impl Default for AdminLimits {
    fn default() -> Self {
        Self {
            max_connections: MAX_ADMIN_CONNECTIONS,
            header_read_timeout: Duration::from_secs(5),
            lifetime: Duration::from_secs(30),
            close_grace: Duration::from_secs(5),
        }
    }
}

/// Serves the admin endpoints on `listener` until `shutdown` resolves, at most
/// [`MAX_ADMIN_CONNECTIONS`] connections at a time.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl std::future::Future<Output = ()>,
) {
    serve_with(listener, state, AdminLimits::default(), shutdown).await;
}

pub(crate) async fn serve_with(
    listener: TcpListener,
    state: AdminState,
    limits: AdminLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut conns = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while conns.try_join_next().is_some() {}
        // The permit comes first: at the cap nothing is accepted, so callers wait in the
        // backlog instead of being accepted and left unanswered.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok((s, _)) => s,
                // Out of descriptors or a connection reset before accept: back off briefly
                // rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        conns.spawn(async move {
            let _permit = permit;
            serve_connection(stream, state, limits).await;
        });
    }
    conns.abort_all();
}

async fn serve_connection(stream: TcpStream, state: AdminState, limits: AdminLimits) {
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let res = handle(&state, &req);
        async move { Ok::<_, Infallible>(res) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), svc);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = tokio::time::sleep(limits.lifetime) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.close_grace, conn).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaded_file_hashes_its_content_and_serializes_rfc3339() {
        let f = LoadedFile::new(
            "/p.json".into(),
            b"abc",
            2,
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(86_400),
        );
        assert_eq!(
            f.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"path": "/p.json", "sha256": f.sha256, "sha256_of": "bytes", "statements": 2, "loaded_at": "1970-01-02T00:00:00Z"})
        );
    }

    #[test]
    fn readyz_fails_once_the_shutdown_begins_even_after_a_reload() {
        let state = AdminState {
            metrics: Arc::new(Metrics::new("t").unwrap()),
            ready: Readiness::new(),
            files: Arc::new(Vec::new),
        };
        let readyz = || handle(&state, &Request::get("/readyz").body(()).unwrap());
        assert_eq!(readyz().status(), StatusCode::SERVICE_UNAVAILABLE);
        state.ready.set(true);
        assert_eq!(readyz().status(), StatusCode::OK);
        state.ready.begin_shutdown();
        assert_eq!(readyz().status(), StatusCode::SERVICE_UNAVAILABLE);
        // A reload finishing during the shutdown marks the files loaded, not the proxy ready.
        state.ready.set(true);
        let res = readyz();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(
            res.into_body(),
        ))
        .unwrap()
        .unwrap()
        .to_bytes();
        assert_eq!(&body[..], b"not ready: shutting down\n");
        assert_eq!(
            handle(&state, &Request::get("/healthz").body(()).unwrap()).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn only_get_is_served() {
        let state = AdminState {
            metrics: Arc::new(Metrics::new("t").unwrap()),
            ready: Readiness::new(),
            files: Arc::new(Vec::new),
        };
        let post = Request::post("/metrics").body(()).unwrap();
        assert_eq!(
            handle(&state, &post).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let get = Request::get("/metrics").body(()).unwrap();
        assert_eq!(handle(&state, &get).status(), StatusCode::OK);
    }

    fn test_state() -> AdminState {
        AdminState {
            metrics: Arc::new(Metrics::new("t").unwrap()),
            ready: Readiness::new(),
            files: Arc::new(Vec::new),
        }
    }

    /// Limits whose header timeout is far longer than the lifetime, so only the lifetime can
    /// close a connection within a test's wait.
    fn short_lived() -> AdminLimits {
        AdminLimits {
            max_connections: MAX_ADMIN_CONNECTIONS,
            header_read_timeout: Duration::from_secs(60),
            lifetime: Duration::from_millis(200),
            close_grace: Duration::from_millis(200),
        }
    }

    async fn start(
        limits: AdminLimits,
    ) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_with(listener, test_state(), limits, async move {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    /// Reads until end of stream (or a reset), within `limit`; what was read.
    async fn read_to_close(conn: &mut TcpStream, limit: Duration) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        let closed = tokio::time::timeout(limit, async {
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "still open after {limit:?}; read {all:?}");
        all
    }

    #[tokio::test]
    async fn an_idle_admin_connection_is_closed_after_its_lifetime() {
        use tokio::io::AsyncWriteExt;
        let (addr, _stop) = start(short_lived()).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: admin\r\n\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let answer = read_to_close(&mut conn, Duration::from_secs(5)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("ok\n"), "{answer}");
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn a_stalled_admin_connection_is_cut_after_its_lifetime_and_grace() {
        use tokio::io::AsyncWriteExt;
        let (addr, _stop) = start(short_lived()).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        // Half a request head, then nothing: only the lifetime and its grace can end this.
        conn.write_all(b"GET /healthz HTTP/1.1\r\nhost:")
            .await
            .unwrap();
        read_to_close(&mut conn, Duration::from_secs(5)).await;
    }
}
