//! The pooled upstream clients: one keep-alive pool per HTTP version, built once at start-up
//! and shared by every connection (never a connect per request).
//!
//! Protocol choice ([`UpstreamProtocol`]): a plain-HTTP upstream cannot negotiate, so the
//! proxy must pick. `Auto` (the default) mirrors the caller: an HTTP/2 request or a gRPC
//! request (`content-type: application/grpc*`, which needs HTTP/2 trailers end to end) goes
//! over HTTP/2 (h2c prior knowledge, or ALPN `h2` for https); an HTTP/1.x request over
//! HTTP/1.1, which is also the only way to tunnel an `Upgrade`. This is Lattice's own table
//! (HTTP/2 → HTTP/2, gRPC → HTTP/2, HTTP/1.1 → HTTP/1.1). `Http1` forces HTTP/1.1 for services
//! that speak nothing else (gRPC then fails), `Http2` forces HTTP/2 (no upgrades).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{HeaderMap, Uri, Version};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Which HTTP version requests use towards the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamProtocol {
    /// HTTP/2 for HTTP/2 and gRPC callers, HTTP/1.1 otherwise.
    #[default]
    Auto,
    /// Always HTTP/1.1.
    Http1,
    /// Always HTTP/2.
    Http2,
}

impl UpstreamProtocol {
    /// Whether a request with this version and headers goes over HTTP/2.
    pub fn wants_h2(self, version: Version, headers: &HeaderMap) -> bool {
        match self {
            Self::Http1 => false,
            Self::Http2 => true,
            Self::Auto => version == Version::HTTP_2 || is_grpc(headers),
        }
    }
}

/// Whether the request is gRPC (`content-type: application/grpc`, `+proto`, `+json`, ...).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// Trust anchors for an https upstream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UpstreamRoots {
    /// The Mozilla roots bundled in the binary.
    #[default]
    Webpki,
    /// The operating system's roots.
    Native,
    /// Only the certificates of this PEM file (a private CA or a self-signed service).
    CaFile(PathBuf),
}

/// Where and how to reach the upstream.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `http://host:port[/prefix]` or `https://...`.
    pub url: Uri,
    /// Time to establish a connection (TCP and TLS); past it the answer is `502`.
    pub connect_timeout: Duration,
    /// Time from sending the request head to receiving the response head; past it `504`.
    pub response_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// An upgraded (WebSocket) tunnel moving no bytes for this long is closed.
    pub tunnel_idle_timeout: Duration,
    /// HTTP version choice.
    pub protocol: UpstreamProtocol,
    /// Trust anchors for https.
    pub roots: UpstreamRoots,
}

impl UpstreamConfig {
    /// Defaults for `url`: 5 s connect, 60 s response head, 90 s pool idle, 60 s tunnel idle
    /// (Lattice's idle timeout), `Auto`, webpki.
    pub fn new(url: Uri) -> Self {
        Self {
            url,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(90),
            tunnel_idle_timeout: Duration::from_secs(60),
            protocol: UpstreamProtocol::Auto,
            roots: UpstreamRoots::Webpki,
        }
    }
}

/// The upstream cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    /// The URL is not `http://` or `https://` with a host.
    #[error("upstream URL `{0}` must be `http://HOST:PORT` or `https://HOST:PORT`")]
    Url(String),
    /// The CA file cannot be read or holds no certificate.
    #[error("cannot load CA certificates from `{path}`: {reason}; give a PEM file with at least one certificate")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The OS trust store cannot be read.
    #[error("cannot load the system's root certificates: {0}; give a CA file instead")]
    NativeRoots(std::io::Error),
    /// rustls refused the configuration.
    #[error("tls configuration error: {0}")]
    Tls(#[from] rustls::Error),
}

/// The connector of both pools.
pub type Connector = HttpsConnector<HttpConnector>;

/// The two pools (HTTP/1.1 and HTTP/2) and the target's address parts.
#[derive(Debug)]
pub struct Upstream<B> {
    pub(crate) h1: Client<Connector, B>,
    pub(crate) h2: Client<Connector, B>,
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// The URL's path without its trailing `/` (empty for `http://host:port`).
    pub(crate) prefix: Arc<str>,
    pub(crate) response_timeout: Duration,
    pub(crate) tunnel_idle_timeout: Duration,
    pub(crate) protocol: UpstreamProtocol,
}

fn client_tls(roots: &UpstreamRoots) -> Result<rustls::ClientConfig, UpstreamSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?;
    let mut store = rustls::RootCertStore::empty();
    match roots {
        UpstreamRoots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        UpstreamRoots::Native => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let reason = found
                    .errors
                    .first()
                    .map_or_else(|| "no certificates found".to_owned(), ToString::to_string);
                return Err(UpstreamSetupError::NativeRoots(std::io::Error::other(
                    reason,
                )));
            }
            store.add_parsable_certificates(found.certs);
        }
        UpstreamRoots::CaFile(path) => {
            let err = |reason: String| UpstreamSetupError::CaFile {
                path: path.clone(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| err(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(e.to_string()))?;
            if certs.is_empty() {
                return Err(err("no certificate in the file".to_owned()));
            }
            for cert in certs {
                store.add(cert).map_err(|e| err(e.to_string()))?;
            }
        }
    }
    Ok(builder.with_root_certificates(store).with_no_client_auth())
}

impl<B> Upstream<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// Builds both pools; no connection is made yet.
    pub fn new(config: &UpstreamConfig) -> Result<Self, UpstreamSetupError> {
        let url = &config.url;
        let bad = || UpstreamSetupError::Url(url.to_string());
        let scheme = url.scheme().cloned().ok_or_else(bad)?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(bad());
        }
        let authority = url.authority().cloned().ok_or_else(bad)?;
        let prefix: Arc<str> = url.path().trim_end_matches('/').into();
        let tls = client_tls(&config.roots)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        let h1_conn = HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http.clone());
        let h2_conn = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http2()
            .wrap_connector(http);
        let h1 = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .build(h1_conn);
        let h2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(h2_conn);
        Ok(Self {
            h1,
            h2,
            scheme,
            authority,
            prefix,
            response_timeout: config.response_timeout,
            tunnel_idle_timeout: config.tunnel_idle_timeout,
            protocol: config.protocol,
        })
    }

    /// The absolute URI of the upstream request for `path_and_query` (already normalized).
    pub fn uri_for(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        self.uri_for_parts(path_and_query, None)
    }

    /// [`Self::uri_for`] from the path and the raw query, joined straight into the one buffer
    /// the URI keeps (no intermediate `path?query` string per request).
    pub fn uri_for_parts(&self, path: &str, query: Option<&str>) -> Result<Uri, http::Error> {
        let len = self.prefix.len() + path.len() + query.map_or(0, |q| q.len() + 1);
        let mut pq = String::with_capacity(len);
        pq.push_str(&self.prefix);
        pq.push_str(path);
        if let Some(q) = query {
            pq.push('?');
            pq.push_str(q);
        }
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
    }
}
