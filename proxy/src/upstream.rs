//! The upstream client: connections of our own on `hyper::client::conn`, pooled per thread
//! (see [`pool`] for why), built once per worker; never a connect per request.
//!
//! Protocol choice ([`UpstreamProtocol`], `--upstream-protocol`): the upstream's protocol is a
//! property of the service, not of the caller, so it is configured rather than mirrored. A
//! caller speaking HTTP/2 in front of a service speaking only HTTP/1.1 is the common case (a
//! plain-HTTP upstream cannot negotiate, and HTTP/2 prior knowledge sent to an HTTP/1.1 server
//! fails with a frame error), so `Http1` is the default; gRPC services need `Http2`
//! (trailers); `Auto` lets ALPN decide for an https upstream. WebSocket upgrades exist only in
//! HTTP/1.1: they use an HTTP/1.1 connection whatever the choice, except with `Http2`, where
//! the service is declared to speak nothing else and an upgrade request is served as a plain
//! request.

mod body;
mod connect;
mod pool;
mod send;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{HeaderValue, Uri, Version};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

pub use body::{Lease, OutBody};
pub(crate) use send::Sent;

use connect::{Alpn, Connector};
use pool::PoolShared;
/// Which HTTP version requests use towards the upstream, whatever the caller spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamProtocol {
    /// Always HTTP/1.1 (ALPN `http/1.1` for https): every service speaks it.
    #[default]
    Http1,
    /// Always HTTP/2 (prior knowledge for http, ALPN `h2` for https): gRPC services. No
    /// upgrades.
    Http2,
    /// An https upstream offers ALPN `h2`, `http/1.1` and the service picks; an http upstream
    /// gets HTTP/1.1.
    Auto,
}

impl UpstreamProtocol {
    /// The `--upstream-protocol` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http1 => "http1",
            Self::Http2 => "http2",
            Self::Auto => "auto",
        }
    }
}

/// Trust anchors for an https upstream (`--upstream-ca`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UpstreamRoots {
    /// The Mozilla roots bundled in the binary (no `--upstream-ca`).
    #[default]
    Webpki,
    /// The operating system's roots (`--upstream-ca system`).
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
    /// HTTP version choice (`--upstream-protocol`).
    pub protocol: UpstreamProtocol,
    /// Trust anchors for https.
    pub roots: UpstreamRoots,
}

impl UpstreamConfig {
    /// Defaults for `url`: 5 s connect, 60 s response head, 90 s pool idle, 60 s tunnel idle
    /// (Lattice's idle timeout), HTTP/1.1, webpki.
    pub fn new(url: Uri) -> Self {
        Self {
            url,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(90),
            tunnel_idle_timeout: Duration::from_secs(60),
            protocol: UpstreamProtocol::Http1,
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
    #[error("`--upstream-ca`: cannot load CA certificates from `{path}`: {reason}; give a PEM file with at least one certificate")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The OS trust store cannot be read.
    #[error("`--upstream-ca system`: cannot load the operating system's root certificates: {0}; give a PEM file of CA certificates instead")]
    NativeRoots(std::io::Error),
    /// rustls refused the configuration.
    #[error("tls configuration error: {0}")]
    Tls(#[from] rustls::Error),
}

/// Idle HTTP/1.1 connections kept per thread (a worker): beyond this many concurrent
/// requests, connections are closed when their response ends rather than kept.
const MAX_IDLE_PER_THREAD: usize = 256;

/// The upstream: where it is, how to connect, and the per-thread connection pools.
pub struct Upstream<B> {
    connector: Connector,
    /// What plain requests offer when connecting.
    alpn: Alpn,
    pool: Arc<PoolShared>,
    /// The version plain requests are sent as: HTTP/2 with `Http2`, otherwise HTTP/1.1 (sent
    /// over HTTP/2 where ALPN picked `h2`).
    pub(crate) version: Version,
    /// Whether WebSocket upgrades are tunnelled (on a fresh HTTP/1.1 connection each); not
    /// with `Http2`, where the service speaks nothing else.
    pub(crate) upgrades: bool,
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// `Host` for an HTTP/1.1 request that has none.
    host: HeaderValue,
    /// The URL's path without its trailing `/` (empty for `http://host:port`).
    pub(crate) prefix: Arc<str>,
    pub(crate) response_timeout: Duration,
    pub(crate) tunnel_idle_timeout: Duration,
    _body: std::marker::PhantomData<fn(B)>,
}

impl<B> std::fmt::Debug for Upstream<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("connector", &self.connector)
            .field("alpn", &self.alpn)
            .field("version", &self.version)
            .field("upgrades", &self.upgrades)
            .finish_non_exhaustive()
    }
}

/// The drain: the upstream's idle connections close (every thread's drivers are told; this
/// thread's free list is dropped at once), connections in use close when their response ends.
impl<B> Drop for Upstream<B> {
    fn drop(&mut self) {
        self.pool
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.pool.drain.notify_waiters();
        pool::forget(self.pool.id);
    }
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

impl<B> Upstream<B> {
    /// Sets up TLS and the pools for `config.protocol`; no connection is made yet.
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
        let connector =
            Connector::new(&scheme, &authority, config.connect_timeout, &tls).map_err(|_| bad())?;
        let negotiates = scheme == Scheme::HTTPS && config.protocol == UpstreamProtocol::Auto;
        let (alpn, version, upgrades) = match config.protocol {
            UpstreamProtocol::Http2 => (Alpn::H2, Version::HTTP_2, false),
            UpstreamProtocol::Auto if negotiates => (Alpn::Both, Version::HTTP_11, true),
            UpstreamProtocol::Http1 | UpstreamProtocol::Auto => {
                (Alpn::Http1, Version::HTTP_11, true)
            }
        };
        // As a client library would: the port only when it is not the scheme's default.
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(port) if port != default_port => authority.as_str(),
            _ => authority.host(),
        };
        let host = HeaderValue::from_str(host).map_err(|_| bad())?;
        Ok(Self {
            connector,
            alpn,
            pool: Arc::new(PoolShared::new(
                config.pool_idle_timeout,
                MAX_IDLE_PER_THREAD,
            )),
            version,
            upgrades,
            scheme,
            authority,
            host,
            prefix,
            response_timeout: config.response_timeout,
            tunnel_idle_timeout: config.tunnel_idle_timeout,
            _body: std::marker::PhantomData,
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

#[cfg(test)]
mod tests;
