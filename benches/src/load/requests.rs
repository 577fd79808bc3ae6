//! The requests a run sends, built before it starts so that sending one is a few reference
//! count bumps and a header-map copy: anonymous requests, a pool of signed ones (or of ones
//! carrying STS identity tokens) kept fresh by a background thread, or a template signed at
//! send time.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::Empty;

use super::args::{Config, SignMode};
use super::error::LoadError;
use super::sign::Signer;
use super::sts_token::TokenMaker;

/// The body type every request carries.
pub type Body = Empty<Bytes>;

/// One ready-to-send request.
#[derive(Debug, Clone)]
pub struct Prepared {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Prepared {
    /// A fresh `http::Request` sharing this one's bytes.
    pub fn to_request(&self) -> Request<Body> {
        let mut req = Request::new(Body::new());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request target (path and query).
    pub fn target(&self) -> &str {
        self.uri.path_and_query().map_or("/", |pq| pq.as_str())
    }
}

/// The oldest a pooled signature gets relative to the re-signing time: entries are dated up
/// to this far back so that they differ even for one key and one path.
const SPREAD_MAX: u64 = 60;

/// Where each request comes from.
#[derive(Debug)]
pub enum Requests {
    /// Fixed requests (anonymous, or a signed pool swapped by the re-signer).
    Pool(Arc<ArcSwap<Vec<Prepared>>>),
    /// Templates signed at send time.
    PerRequest {
        /// Unsigned templates, one per path.
        templates: Vec<Prepared>,
        /// The signer.
        signer: Signer,
        /// `host[:port]` for the canonical request.
        authority: String,
    },
}

impl Requests {
    /// Builds the request set for `config`. With a signed pool, also starts the thread that
    /// re-signs it; it stops when the returned [`Resigner`] is dropped.
    pub fn build(config: &Config) -> Result<(Arc<Requests>, Option<Resigner>), LoadError> {
        let templates = templates(config)?;
        match config.sign {
            SignMode::None => Ok((
                Arc::new(Requests::Pool(Arc::new(ArcSwap::from_pointee(templates)))),
                None,
            )),
            SignMode::Pool => {
                let signer = Signer::new(config);
                let size = config.pool_size.max(signer.keys() * templates.len());
                let authority = config.target.authority.clone();
                let pool = sign_pool(&templates, &signer, &authority, size, SystemTime::now())?;
                let pool = Arc::new(ArcSwap::from_pointee(pool));
                let resigner =
                    Resigner::start(Arc::clone(&pool), config.resign_every, move |now| {
                        sign_pool(&templates, &signer, &authority, size, now)
                    })?;
                Ok((Arc::new(Requests::Pool(pool)), Some(resigner)))
            }
            SignMode::StsToken => {
                let maker = TokenMaker::new(&config.keys, &config.region, &config.sts_audience);
                let pool = Arc::new(ArcSwap::from_pointee(token_pool(
                    &templates,
                    &maker,
                    SystemTime::now(),
                )?));
                let resigner =
                    Resigner::start(Arc::clone(&pool), config.resign_every, move |now| {
                        token_pool(&templates, &maker, now)
                    })?;
                Ok((Arc::new(Requests::Pool(pool)), Some(resigner)))
            }
            SignMode::PerRequest => {
                let signer = Signer::new(config);
                let authority = config.target.authority.clone();
                // Sign every combination once now: a request that cannot be signed is an
                // error before the run, not a stream of failures during it.
                let combos = signer.keys() * templates.len();
                sign_pool(&templates, &signer, &authority, combos, SystemTime::now())?;
                Ok((
                    Arc::new(Requests::PerRequest {
                        templates,
                        signer,
                        authority,
                    }),
                    None,
                ))
            }
        }
    }

    /// The `n`th request of the run. Per-request signing cycles paths first, then keys.
    pub fn request(&self, n: u64) -> Result<Request<Body>, LoadError> {
        match self {
            Requests::Pool(pool) => {
                let pool = pool.load();
                let i = (n % pool.len().max(1) as u64) as usize;
                Ok(pool[i].to_request())
            }
            Requests::PerRequest {
                templates,
                signer,
                authority,
            } => {
                let paths = templates.len() as u64;
                let t = &templates[(n % paths) as usize];
                let mut req = t.to_request();
                let key = ((n / paths) % signer.keys().max(1) as u64) as usize;
                signer.sign(
                    key,
                    &t.method,
                    authority,
                    t.target(),
                    req.headers_mut(),
                    SystemTime::now(),
                )?;
                Ok(req)
            }
        }
    }

    /// The current pool (for inspection; empty for per-request signing).
    pub fn snapshot(&self) -> Vec<Prepared> {
        match self {
            Requests::Pool(pool) => pool.load().as_ref().clone(),
            Requests::PerRequest { .. } => Vec::new(),
        }
    }
}

/// One unsigned request per path: method, URI (absolute, which HTTP/2 needs for its
/// pseudo-headers; HTTP/1.1 sends only the path), `host` for HTTP/1.1 and the extra headers.
fn templates(config: &Config) -> Result<Vec<Prepared>, LoadError> {
    config
        .target
        .paths
        .iter()
        .map(|path| {
            let uri: Uri = if config.http2 {
                format!("http://{}{path}", config.target.authority).parse()
            } else {
                path.parse()
            }
            .map_err(|_| LoadError::Option {
                option: "paths",
                reason: format!("`{path}` is not a request target; give e.g. `/a?x=1`"),
            })?;
            let mut headers = HeaderMap::new();
            if !config.http2 {
                let host = HeaderValue::from_str(&config.target.authority).map_err(|_| {
                    LoadError::Url {
                        url: config.target.url.clone(),
                        reason: "its host is not a valid `Host` header".into(),
                    }
                })?;
                headers.insert(http::header::HOST, host);
            }
            for (name, value) in &config.headers {
                headers.append(name.clone(), value.clone());
            }
            Ok(Prepared {
                method: config.method.clone(),
                uri,
                headers,
            })
        })
        .collect()
}

/// `size` signed requests: entry `i` is path `i % paths` with key `(i / paths) % keys`, dated
/// `(i / (paths * keys)) % 60` seconds before `now` so that entries differ.
pub fn sign_pool(
    templates: &[Prepared],
    signer: &Signer,
    authority: &str,
    size: usize,
    now: SystemTime,
) -> Result<Vec<Prepared>, LoadError> {
    let paths = templates.len();
    let combos = paths * signer.keys().max(1);
    (0..size)
        .map(|i| {
            let t = &templates[i % paths];
            let key = (i / paths) % signer.keys().max(1);
            let back = ((i / combos) as u64) % SPREAD_MAX;
            let mut p = t.clone();
            signer.sign(
                key,
                &t.method,
                authority,
                t.target(),
                &mut p.headers,
                now - Duration::from_secs(back),
            )?;
            Ok(p)
        })
        .collect()
}

/// One request per path and key, each carrying its key's token made at `now`: entry `i` is
/// path `i % paths` with key `i / paths`. Every request of one key carries the same token, as
/// a client reuses its token until it renews it.
pub fn token_pool(
    templates: &[Prepared],
    maker: &TokenMaker,
    now: SystemTime,
) -> Result<Vec<Prepared>, LoadError> {
    let mut out = Vec::with_capacity(templates.len() * maker.keys());
    for key in 0..maker.keys() {
        let authorization = maker.authorization(key, now)?;
        for t in templates {
            let mut p = t.clone();
            p.headers
                .insert(http::header::AUTHORIZATION, authorization.clone());
            out.push(p);
        }
    }
    Ok(out)
}

/// The background thread that replaces the pool every `every`: no signature ever gets older
/// than `every + 60 s`, well inside the 5-minute skew window, and no token older than
/// `every`, well inside its 15 minutes.
#[derive(Debug)]
pub struct Resigner {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Resigner {
    fn start<F>(
        pool: Arc<ArcSwap<Vec<Prepared>>>,
        every: Duration,
        renew: F,
    ) -> Result<Resigner, LoadError>
    where
        F: Fn(SystemTime) -> Result<Vec<Prepared>, LoadError> + Send + 'static,
    {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("trellis-load-resign".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    // Signing with a fixed set of valid keys and targets cannot start failing
                    // later; if it ever did, the old pool stays and the server's answers show it.
                    if let Ok(fresh) = renew(SystemTime::now()) {
                        pool.store(Arc::new(fresh));
                    }
                }
            })
            .map_err(LoadError::Runtime)?;
        Ok(Resigner {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Resigner {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
