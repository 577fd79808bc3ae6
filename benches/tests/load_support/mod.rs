//! A loopback hyper upstream (HTTP/1.1 and h2c) for the load generator's tests: it counts
//! requests, can delay or stall its answers, answers per path, and can verify SigV4 with
//! Trellis's own verifier.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod sts;

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use trellis_sigv4::{
    verify, Authenticated, RequestParts, StaticCredentials, StoredKey, VerifierConfig,
};

/// How the upstream answers.
#[derive(Debug, Default, Clone)]
pub struct Behaviour {
    /// Every answer waits this long (only those for targets starting with `delay_prefix`,
    /// when set).
    pub delay: Duration,
    pub delay_prefix: Option<String>,
    /// When the n-th request (0-based) arrives, the whole server stalls this long.
    pub stall: Option<(u64, Duration)>,
    /// Answer 404 for targets starting with this.
    pub not_found_prefix: Option<String>,
    /// Verify SigV4 with these `(access key id, secret)`; 200 when signed by one of them,
    /// 403 otherwise.
    pub verify_keys: Vec<(String, String)>,
    /// The verifier's region.
    pub region: String,
    /// Instead of SigV4, verify STS identity tokens for this audience (and `region`) with
    /// `verify_keys`: 200 for a valid token, 403 otherwise.
    pub sts_audience: Option<String>,
}

/// What the upstream saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub requests: AtomicU64,
    pub verified: AtomicU64,
    pub rejected: AtomicU64,
    /// `(access key id, target)` of verified requests.
    pub signed: Mutex<HashSet<(String, String)>>,
    /// Every verified STS token (the `Authorization` value).
    pub tokens: Mutex<HashSet<String>>,
    /// Arrival times.
    pub arrivals: Mutex<Vec<Instant>>,
    stall_until: Mutex<Option<Instant>>,
}

/// A running upstream; it stops with the test process.
#[derive(Debug)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl Upstream {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub fn upstream(behaviour: Behaviour) -> Upstream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = Arc::clone(&seen);
    let store: Arc<StaticCredentials> = Arc::new(
        behaviour
            .verify_keys
            .iter()
            .enumerate()
            .map(|(i, (id, secret))| StoredKey::new(id.clone(), secret.clone(), None, None, i))
            .collect(),
    );
    let behaviour = Arc::new(behaviour);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (s, b, store) = (Arc::clone(&s), Arc::clone(&behaviour), Arc::clone(&store));
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (s, b, store) = (Arc::clone(&s), Arc::clone(&b), Arc::clone(&store));
                        async move { Ok::<_, Infallible>(answer(req, &s, &b, &store).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    Upstream { addr, seen }
}

async fn answer(
    req: http::Request<Incoming>,
    seen: &Seen,
    b: &Behaviour,
    store: &StaticCredentials,
) -> http::Response<Full<Bytes>> {
    let n = seen.requests.fetch_add(1, Ordering::SeqCst);
    seen.arrivals.lock().unwrap().push(Instant::now());
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let mut status = 200;
    if let Some(audience) = &b.sts_audience {
        let authorization = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let secret_of = |id: &str| {
            b.verify_keys
                .iter()
                .find(|(k, _)| k == id)
                .map(|(_, s)| s.clone())
        };
        match sts::verify_token(authorization, &b.region, audience, secret_of) {
            Ok(t) => {
                seen.verified.fetch_add(1, Ordering::SeqCst);
                seen.signed
                    .lock()
                    .unwrap()
                    .insert((t.access_key_id, target.clone()));
                seen.tokens.lock().unwrap().insert(authorization.to_owned());
            }
            Err(_) => {
                seen.rejected.fetch_add(1, Ordering::SeqCst);
                status = 403;
            }
        }
    } else if !b.verify_keys.is_empty() {
        let cfg = VerifierConfig::new(b.region.clone());
        let method = req.method().as_str().to_owned();
        let authority = req.uri().authority().map(|a| a.as_str().to_owned());
        let parts = RequestParts {
            method: &method,
            target: &target,
            headers: req.headers(),
            authority: authority.as_deref(),
        };
        match verify(&cfg, &parts, SystemTime::now(), store) {
            Ok(Authenticated::Signed { key, .. }) => {
                seen.verified.fetch_add(1, Ordering::SeqCst);
                seen.signed
                    .lock()
                    .unwrap()
                    .insert((key.access_key_id().to_owned(), target.clone()));
            }
            _ => {
                seen.rejected.fetch_add(1, Ordering::SeqCst);
                status = 403;
            }
        }
    }
    if b.not_found_prefix
        .as_deref()
        .is_some_and(|p| target.starts_with(p))
    {
        status = 404;
    }
    if let Some((at, d)) = b.stall {
        if n == at {
            *seen.stall_until.lock().unwrap() = Some(Instant::now() + d);
        }
        let until = *seen.stall_until.lock().unwrap();
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
    }
    let delayed = b
        .delay_prefix
        .as_deref()
        .is_none_or(|p| target.starts_with(p));
    if !b.delay.is_zero() && delayed {
        tokio::time::sleep(b.delay).await;
    }
    http::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"ok\n")))
        .unwrap()
}
