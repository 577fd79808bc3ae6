//! The pooled upstream client, built once at start-up and shared by every connection (never a
//! connect per request).
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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{Uri, Version};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

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

/// The connector of the pools.
pub type Connector = HttpsConnector<HttpConnector>;

/// The pooled client(s) and the target's address parts.
#[derive(Debug)]
pub struct Upstream<B> {
    /// Plain requests.
    pub(crate) client: Client<Connector, B>,
    /// The version plain requests are sent as: HTTP/2 on the HTTP/2-only client, otherwise
    /// HTTP/1.1 (which hyper sends as HTTP/2 where ALPN picked `h2`).
    pub(crate) version: Version,
    /// WebSocket upgrades: an HTTP/1.1-only client (the plain one unless ALPN may pick `h2`);
    /// `None` with `Http2`, where there is no upgrade.
    pub(crate) upgrades: Option<Client<Connector, B>>,
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// The URL's path without its trailing `/` (empty for `http://host:port`).
    pub(crate) prefix: Arc<str>,
    pub(crate) response_timeout: Duration,
    pub(crate) tunnel_idle_timeout: Duration,
}

/// The protocols a connector offers in ALPN (for https; plain TCP offers nothing).
#[derive(Clone, Copy)]
enum Alpn {
    Http1,
    H2,
    Both,
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
    /// Builds the pool(s) for `config.protocol`; no connection is made yet.
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
        let connector = |alpn: Alpn| {
            let b = HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http();
            match alpn {
                Alpn::Http1 => b.enable_http1().wrap_connector(http.clone()),
                Alpn::H2 => b.enable_http2().wrap_connector(http.clone()),
                Alpn::Both => b.enable_all_versions().wrap_connector(http.clone()),
            }
        };
        let client = |alpn: Alpn, h2_only: bool| {
            Client::builder(TokioExecutor::new())
                .http2_only(h2_only)
                .pool_idle_timeout(config.pool_idle_timeout)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .build(connector(alpn))
        };
        let negotiates = scheme == Scheme::HTTPS && config.protocol == UpstreamProtocol::Auto;
        let (plain, version, upgrades) = match config.protocol {
            UpstreamProtocol::Http2 => (client(Alpn::H2, true), Version::HTTP_2, None),
            UpstreamProtocol::Auto if negotiates => {
                let upgrades = client(Alpn::Http1, false);
                (client(Alpn::Both, false), Version::HTTP_11, Some(upgrades))
            }
            UpstreamProtocol::Http1 | UpstreamProtocol::Auto => {
                let h1 = client(Alpn::Http1, false);
                (h1.clone(), Version::HTTP_11, Some(h1))
            }
        };
        Ok(Self {
            client: plain,
            version,
            upgrades,
            scheme,
            authority,
            prefix,
            response_timeout: config.response_timeout,
            tunnel_idle_timeout: config.tunnel_idle_timeout,
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
mod tests {
    use super::*;

    type Body = http_body_util::Empty<bytes::Bytes>;

    fn upstream(url: &str, protocol: UpstreamProtocol) -> Upstream<Body> {
        let mut config = UpstreamConfig::new(url.parse().unwrap());
        config.protocol = protocol;
        Upstream::new(&config).unwrap()
    }

    #[test]
    fn requests_go_over_http1_unless_told_otherwise() {
        assert_eq!(UpstreamProtocol::default(), UpstreamProtocol::Http1);
        let config = UpstreamConfig::new("http://127.0.0.1:1".parse().unwrap());
        assert_eq!(config.protocol, UpstreamProtocol::Http1);
        let up = upstream("http://127.0.0.1:1", UpstreamProtocol::Http1);
        assert_eq!(up.version, Version::HTTP_11);
        assert!(up.upgrades.is_some());
    }

    #[test]
    fn an_http2_upstream_gets_http2_and_no_upgrades() {
        for url in ["http://127.0.0.1:1", "https://localhost:1"] {
            let up = upstream(url, UpstreamProtocol::Http2);
            assert_eq!(up.version, Version::HTTP_2, "{url}");
            assert!(up.upgrades.is_none(), "{url}");
        }
    }

    #[test]
    fn auto_lets_alpn_decide_and_keeps_upgrades_on_http1() {
        for url in ["http://127.0.0.1:1", "https://localhost:1"] {
            let up = upstream(url, UpstreamProtocol::Auto);
            // Sent as HTTP/1.1; hyper speaks HTTP/2 on a connection where ALPN chose `h2`.
            assert_eq!(up.version, Version::HTTP_11, "{url}");
            assert!(up.upgrades.is_some(), "{url}");
        }
    }

    #[test]
    fn a_ca_file_error_names_the_flag_and_the_file() {
        let mut config = UpstreamConfig::new("https://localhost:1".parse().unwrap());
        config.roots = UpstreamRoots::CaFile("/nonexistent/ca.pem".into());
        let err = Upstream::<Body>::new(&config).unwrap_err().to_string();
        assert!(err.starts_with("`--upstream-ca`: "), "{err}");
        assert!(err.contains("`/nonexistent/ca.pem`"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        config.roots = UpstreamRoots::CaFile(empty.clone());
        let err = Upstream::<Body>::new(&config).unwrap_err().to_string();
        assert!(err.contains(&format!("`{}`", empty.display())), "{err}");
        assert!(err.contains("no certificate"), "{err}");
    }
}
