//! Opening one connection to the upstream: TCP (no Nagle delay), then TLS for an https
//! upstream, all within the connect timeout. Every failure here is a connection failure
//! (`502`, `TargetConnectionError`): nothing was sent yet.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The protocols offered in ALPN (https only; plain TCP offers nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alpn {
    /// `http/1.1` only: `--upstream-protocol http1`, and every upgrade.
    Http1,
    /// `h2` only: `--upstream-protocol http2`.
    H2,
    /// `h2` and `http/1.1`, the service picks: `--upstream-protocol auto`.
    Both,
}

/// A connected socket, plain or TLS.
#[derive(Debug)]
pub(crate) enum Io {
    /// `http://`.
    Plain(TcpStream),
    /// `https://`; boxed because a TLS session is large and the enum moves around.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A new connection: the socket, whether ALPN chose `h2`, and the peer's address (the
/// access log's target).
#[derive(Debug)]
pub(crate) struct Connected {
    pub(crate) io: Io,
    pub(crate) h2: bool,
    pub(crate) remote: SocketAddr,
}

/// TLS towards the upstream: one client configuration per ALPN offer, the name checked in the
/// certificate (SNI).
struct Tls {
    name: ServerName<'static>,
    http1: TlsConnector,
    h2: TlsConnector,
    both: TlsConnector,
}

/// Opens connections to the one upstream.
pub(crate) struct Connector {
    /// The host as resolved (IPv6 literals without brackets).
    host: Box<str>,
    port: u16,
    timeout: Duration,
    tls: Option<Tls>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Why no connection could be made; the text goes to the log line of the `502`.
#[derive(Debug)]
pub(crate) struct ConnectError(pub(crate) String);

impl Connector {
    /// A connector for `scheme://authority`; `tls` holds the trust anchors, used for https.
    pub(crate) fn new(
        scheme: &Scheme,
        authority: &Authority,
        timeout: Duration,
        tls: &rustls::ClientConfig,
    ) -> Result<Self, String> {
        let https = *scheme == Scheme::HTTPS;
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
            let with_alpn = |protocols: &[&[u8]]| {
                let mut config = tls.clone();
                config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
                TlsConnector::from(Arc::new(config))
            };
            Some(Tls {
                name,
                http1: with_alpn(&[b"http/1.1"]),
                h2: with_alpn(&[b"h2"]),
                both: with_alpn(&[b"h2", b"http/1.1"]),
            })
        } else {
            None
        };
        Ok(Self {
            host: host.into(),
            port,
            timeout,
            tls,
        })
    }

    /// Connects within the connect timeout. Plain TCP speaks HTTP/2 only when `alpn` is
    /// [`Alpn::H2`] (prior knowledge); TLS speaks what ALPN chose.
    pub(crate) async fn connect(&self, alpn: Alpn) -> Result<Connected, ConnectError> {
        match tokio::time::timeout(self.timeout, self.connect_now(alpn)).await {
            Ok(connected) => connected,
            Err(_) => Err(ConnectError(format!(
                "no connection to {}:{} within {:?}",
                self.host, self.port, self.timeout
            ))),
        }
    }

    async fn connect_now(&self, alpn: Alpn) -> Result<Connected, ConnectError> {
        let addrs = tokio::net::lookup_host((&*self.host, self.port))
            .await
            .map_err(|e| ConnectError(format!("cannot resolve `{}`: {e}", self.host)))?;
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    tcp = Some((stream, addr));
                    break;
                }
                Err(e) => last = Some((addr, e)),
            }
        }
        let (stream, remote) = match (tcp, last) {
            (Some(found), _) => found,
            (None, Some((addr, e))) => {
                return Err(ConnectError(format!("tcp connect error to {addr}: {e}")))
            }
            (None, None) => {
                return Err(ConnectError(format!(
                    "`{}` resolves to no address",
                    self.host
                )))
            }
        };
        // Requests are written whole; waiting for an ACK before the next segment only delays.
        let _ = stream.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return Ok(Connected {
                io: Io::Plain(stream),
                h2: alpn == Alpn::H2,
                remote,
            });
        };
        let connector = match alpn {
            Alpn::Http1 => &tls.http1,
            Alpn::H2 => &tls.h2,
            Alpn::Both => &tls.both,
        };
        let stream = connector
            .connect(tls.name.clone(), stream)
            .await
            .map_err(|e| ConnectError(format!("tls handshake with {remote}: {e}")))?;
        let h2 = match alpn {
            Alpn::Http1 => false,
            Alpn::H2 => true,
            Alpn::Both => stream.get_ref().1.alpn_protocol() == Some(b"h2"),
        };
        Ok(Connected {
            io: Io::Tls(Box::new(stream)),
            h2,
            remote,
        })
    }
}
