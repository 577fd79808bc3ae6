//! Sending one request: a pooled connection (HTTP/2: the thread's multiplexed one; HTTP/1.1:
//! the warmest idle one) or a new one, and the only retries there are:
//! - a request that comes back unsent (the connection closed before hyper wrote it) goes on a
//!   new connection, whatever its method: the service never saw it;
//! - an idempotent request without a body whose reused HTTP/1.1 connection the service closed
//!   under it (the keep-alive race: its idle timeout fired as the request left) goes once on a
//!   new connection. Its head is copied before sending for that; nothing else is retried.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::HOST;
use http::{Method, Request, Response, Uri};
use http_body::Body;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use super::body::{Lease, OutBody};
use super::connect::{Alpn, ConnectError};
use super::pool::{self, Connecting, ConnectingGuard, H1Conn, H2Conn};
use super::Upstream;
use crate::error::UpstreamError;

/// Connections tried for one request: the pooled one, then at most two new ones.
const MAX_ATTEMPTS: usize = 3;

/// The upstream's response head, where it came from, and the connection it holds.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) response: Response<Incoming>,
    /// The peer's address (the access log's target).
    pub(crate) remote: SocketAddr,
    /// The HTTP/1.1 connection, back to the pool once the body is read; `None` for HTTP/2,
    /// upgrades and a body already complete (its connection is back already).
    pub(crate) lease: Option<Lease>,
}

/// A connection to send on.
enum Conn<B> {
    H1(Box<H1Conn<B>>),
    H2(http2::SendRequest<OutBody<B>>, SocketAddr),
}

/// A body-less request's head, kept to send it again after a keep-alive race: the target
/// and the fields written into a per-thread buffer reused from request to request. Cloning
/// the `Uri` and the `HeaderMap` instead would cost a few allocations per request (a header
/// map's tables, and each parsed custom name's bytes shared on first clone), for a copy that
/// is almost never used.
struct Head {
    method: Method,
    /// The target, then each field as `name_len: u16, value_len: u32, sensitive: u8, name,
    /// value`.
    bytes: Vec<u8>,
}

/// Buffers kept per thread: one per request in flight, up to this many.
const SPARE_HEADS: usize = 64;

thread_local! {
    static HEAD_BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Head {
    fn copy<B>(req: &Request<B>) -> Self {
        let mut bytes = HEAD_BUFFERS
            .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        bytes.clear();
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        bytes.extend_from_slice(&(target.len() as u32).to_le_bytes());
        bytes.extend_from_slice(target.as_bytes());
        for (name, value) in req.headers() {
            let (name, sensitive) = (name.as_str().as_bytes(), value.is_sensitive());
            let value = value.as_bytes();
            // Limits far above what hyper accepts in a head.
            let (Ok(name_len), Ok(value_len)) =
                (u16::try_from(name.len()), u32::try_from(value.len()))
            else {
                continue;
            };
            bytes.extend_from_slice(&name_len.to_le_bytes());
            bytes.extend_from_slice(&value_len.to_le_bytes());
            bytes.push(u8::from(sensitive));
            bytes.extend_from_slice(name);
            bytes.extend_from_slice(value);
        }
        Self {
            method: req.method().clone(),
            bytes,
        }
    }

    /// The request again, with no body; `None` if the copy cannot be read back (it always
    /// can: it was written from a valid head).
    fn to_request<B>(&self, version: http::Version) -> Option<Request<OutBody<B>>> {
        let mut rest = self.bytes.as_slice();
        let mut take = |n: usize| {
            let (taken, left) = rest.split_at_checked(n)?;
            rest = left;
            Some(taken)
        };
        let target_len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let target = Bytes::copy_from_slice(take(target_len)?);
        let mut req = Request::new(OutBody::Empty);
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = Uri::from_maybe_shared(target).ok()?;
        *req.version_mut() = version;
        let headers = req.headers_mut();
        while let Some(lens) = take(7) {
            let name_len = usize::from(u16::from_le_bytes([lens[0], lens[1]]));
            let value_len = u32::from_le_bytes([lens[2], lens[3], lens[4], lens[5]]) as usize;
            let name = http::HeaderName::from_bytes(take(name_len)?).ok()?;
            let mut value = http::HeaderValue::from_bytes(take(value_len)?).ok()?;
            value.set_sensitive(lens[6] == 1);
            headers.append(name, value);
        }
        Some(req)
    }
}

impl Drop for Head {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        let _ = HEAD_BUFFERS.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < SPARE_HEADS {
                    spare.push(bytes);
                }
            }
        });
    }
}

fn unreachable(e: ConnectError) -> UpstreamError {
    UpstreamError::Unreachable(e.0)
}

/// `err` and its causes, for the log line of the `502`.
pub(crate) fn error_chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn protocol(err: &hyper::Error) -> UpstreamError {
    UpstreamError::Protocol(error_chain(err))
}

/// RFC 9110 §9.2.2: sending these twice has the effect of sending them once.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// The service closed the connection before answering: the end of the stream or a reset
/// where a response head should have been.
fn is_keep_alive_race(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() || err.is_canceled() {
        return true;
    }
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
            return matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe);
        }
        source = e.source();
    }
    false
}

/// The request target as HTTP/1.1 sends it (`/path?query`) or HTTP/2 needs it (with scheme
/// and authority); moves the parts, allocates nothing.
fn set_form(uri: &mut Uri, absolute: Option<(&http::uri::Scheme, &http::uri::Authority)>) {
    if uri.scheme().is_some() == absolute.is_some() {
        return;
    }
    let mut parts = std::mem::take(uri).into_parts();
    match absolute {
        Some((scheme, authority)) => {
            parts.scheme = Some(scheme.clone());
            parts.authority = Some(authority.clone());
        }
        None => {
            parts.scheme = None;
            parts.authority = None;
        }
    }
    if let Ok(built) = Uri::from_parts(parts) {
        *uri = built;
    }
}

impl<B> Upstream<B>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    /// Sends a plain request (not an upgrade) and waits for the response head.
    pub(crate) async fn send(&self, req: Request<B>) -> Result<Sent, UpstreamError> {
        let version = req.version();
        let mut req = req.map(OutBody::caller);
        let body_less = req.body().is_end_stream() || req.body().size_hint().exact() == Some(0);
        let mut may_race = is_idempotent(req.method()) && body_less;
        let mut fresh = false;
        for _ in 0..MAX_ATTEMPTS {
            let pooled = if fresh { None } else { self.checkout().await };
            let reused = pooled.is_some();
            let conn = match pooled {
                Some(conn) => conn,
                None => self.open().await?,
            };
            match conn {
                Conn::H1(mut conn) => {
                    set_form(req.uri_mut(), None);
                    if !req.headers().contains_key(HOST) {
                        req.headers_mut().insert(HOST, self.host.clone());
                    }
                    let copy = (reused && may_race).then(|| Head::copy(&req));
                    match conn.sender.try_send_request(req).await {
                        Ok(response) => {
                            let remote = conn.remote;
                            let lease = Lease::new(conn);
                            // Nothing to read (`204`, `HEAD`, empty): the connection is free.
                            let lease = if response.body().is_end_stream() {
                                lease.release();
                                None
                            } else {
                                Some(lease)
                            };
                            return Ok(Sent {
                                response,
                                remote,
                                lease,
                            });
                        }
                        Err(mut e) => {
                            if let Some(unsent) = e.take_message() {
                                req = unsent;
                                fresh = true;
                                continue;
                            }
                            let err = e.into_error();
                            match copy.filter(|_| is_keep_alive_race(&err)) {
                                Some(head) => {
                                    req = head.to_request(version).ok_or_else(|| protocol(&err))?;
                                    may_race = false;
                                    fresh = true;
                                }
                                None => return Err(protocol(&err)),
                            }
                        }
                    }
                }
                Conn::H2(mut sender, remote) => {
                    set_form(req.uri_mut(), Some((&self.scheme, &self.authority)));
                    match sender.try_send_request(req).await {
                        Ok(response) => {
                            return Ok(Sent {
                                response,
                                remote,
                                lease: None,
                            })
                        }
                        Err(mut e) => match e.take_message() {
                            Some(unsent) => {
                                req = unsent;
                                fresh = true;
                            }
                            None => return Err(protocol(&e.into_error())),
                        },
                    }
                }
            }
        }
        Err(UpstreamError::Protocol(format!(
            "the request was not sent after {MAX_ATTEMPTS} connections closed before it could be"
        )))
    }

    /// Sends a WebSocket upgrade request on a new HTTP/1.1 connection of its own, which
    /// becomes the tunnel after a `101` and is never pooled.
    pub(crate) async fn send_upgrade(&self, req: Request<B>) -> Result<Sent, UpstreamError> {
        let connected = self
            .connector
            .connect(Alpn::Http1)
            .await
            .map_err(unreachable)?;
        let remote = connected.remote;
        let (mut sender, conn) = http1::handshake(TokioIo::new(connected.io))
            .await
            .map_err(|e| UpstreamError::Unreachable(error_chain(&e)))?;
        tokio::spawn(conn.with_upgrades());
        let mut req = req.map(OutBody::caller);
        set_form(req.uri_mut(), None);
        if !req.headers().contains_key(HOST) {
            req.headers_mut().insert(HOST, self.host.clone());
        }
        let response = sender.send_request(req).await.map_err(|e| protocol(&e))?;
        Ok(Sent {
            response,
            remote,
            lease: None,
        })
    }

    /// A pooled connection ready for a request, if this thread has one.
    async fn checkout(&self) -> Option<Conn<B>> {
        if self.alpn != Alpn::Http1 {
            let h2 = pool::with::<B, _>(&self.pool, |p| match &p.h2 {
                Some(c) if !c.sender.is_closed() => Some((c.sender.clone(), c.remote)),
                Some(_) => {
                    p.h2 = None;
                    None
                }
                None => None,
            })
            .flatten();
            if let Some((sender, remote)) = h2 {
                return Some(Conn::H2(sender, remote));
            }
        }
        while let Some(mut conn) = pool::checkout_h1::<B>(&self.pool) {
            // Ready once its driver has finished the previous exchange; an error means the
            // service closed it meanwhile.
            if conn.sender.ready().await.is_ok() {
                return Some(Conn::H1(conn));
            }
        }
        None
    }

    /// A new connection. With `--upstream-protocol http2` the thread's requests wait for one
    /// attempt rather than each opening a connection.
    async fn open(&self) -> Result<Conn<B>, UpstreamError> {
        let mut _guard = None;
        if self.alpn == Alpn::H2 {
            let wait = pool::with::<B, _>(&self.pool, |p| match &p.h2_connecting {
                Some(attempt) if !attempt.is_done() => Some(Arc::clone(attempt)),
                _ => {
                    let attempt = Arc::new(Connecting::default());
                    p.h2_connecting = Some(Arc::clone(&attempt));
                    _guard = Some(ConnectingGuard(attempt));
                    None
                }
            })
            .flatten();
            if let Some(attempt) = wait {
                attempt.wait().await;
                if let Some(conn) = self.checkout().await {
                    return Ok(conn);
                }
            }
        }
        let connected = self
            .connector
            .connect(self.alpn)
            .await
            .map_err(unreachable)?;
        let remote = connected.remote;
        let io = TokioIo::new(connected.io);
        if connected.h2 {
            let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(io)
                .await
                .map_err(|e| UpstreamError::Unreachable(error_chain(&e)))?;
            tokio::spawn(conn);
            let kept = sender.clone();
            pool::with::<B, _>(&self.pool, |p| {
                p.h2 = Some(H2Conn {
                    sender: kept,
                    remote,
                });
            });
            return Ok(Conn::H2(sender, remote));
        }
        let (sender, conn) = http1::handshake(io)
            .await
            .map_err(|e| UpstreamError::Unreachable(error_chain(&e)))?;
        let (conn_box, state) = H1Conn::new(sender, remote, &self.pool);
        tokio::spawn(pool::drive_h1(conn, state, Arc::clone(&self.pool)));
        Ok(Conn::H1(conn_box))
    }
}

#[cfg(test)]
mod tests;
