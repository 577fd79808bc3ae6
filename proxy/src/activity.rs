//! What keeps a connection from being idle, for idle timeouts: for an HTTP connection, a
//! request in flight ([`InFlight`]); for an upgraded tunnel, bytes moving ([`Activity`]).
//!
//! Bytes cannot measure an HTTP connection's idleness: HTTP/2 PINGs (the server's own, every
//! half idle timeout, and any the client sends) are bytes, so a connection that only answers
//! PINGs would stay open forever and a few thousand of them would fill the listener.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Milliseconds since the connection started at its last byte, shared with the I/O wrapper.
#[derive(Debug, Clone)]
pub(crate) struct Activity {
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Time left before the connection has been idle for `timeout`.
    pub(crate) fn remaining(&self, timeout: Duration) -> Duration {
        let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        (last + timeout).saturating_duration_since(Instant::now())
    }
}

pin_project_lite::pin_project! {
    /// A stream that records activity on every successful read or write.
    #[derive(Debug)]
    pub(crate) struct ActivityIo<T> {
        #[pin]
        inner: T,
        activity: Activity,
    }
}

impl<T> ActivityIo<T> {
    pub(crate) fn new(inner: T, activity: Activity) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead> AsyncRead for ActivityIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let res = this.inner.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        res
    }
}

impl<T: AsyncWrite> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let res = this.inner.poll_write(cx, data);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let res = this.inner.poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// Requests in flight on one connection, and since when it has had none.
#[derive(Debug)]
pub(crate) struct InFlight {
    start: Instant,
    count: AtomicUsize,
    /// Milliseconds since `start` at which the count last fell to zero (0: since the start).
    idle_since_ms: AtomicU64,
}

impl InFlight {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            count: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    /// Counts a request from its arrival until the guard is dropped (with the response body
    /// once it has been sent, or with the request if it is abandoned).
    pub(crate) fn begin(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(Arc::clone(self))
    }

    /// Time left before the connection has had no request in flight for `timeout`; `timeout`
    /// itself while a request is in flight (check again then).
    pub(crate) fn idle_remaining(&self, timeout: Duration) -> Duration {
        if self.count.load(Ordering::Acquire) > 0 {
            return timeout;
        }
        let since = self.start + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        (since + timeout).saturating_duration_since(Instant::now())
    }
}

/// One request in flight; see [`InFlight::begin`].
#[derive(Debug)]
pub(crate) struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let state = &self.0;
        // The time is written before the count falls, so whoever reads a zero count reads
        // this time or a later one, never the end of an earlier idle stretch.
        let ms = u64::try_from(state.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        state.idle_since_ms.fetch_max(ms, Ordering::AcqRel);
        state.count.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project_lite::pin_project! {
    /// A response future holding its request's [`InFlightGuard`], handed on to the body.
    #[derive(Debug)]
    pub(crate) struct InFlightFuture<F> {
        #[pin]
        inner: F,
        guard: Option<InFlightGuard>,
    }
}

impl<F> InFlightFuture<F> {
    pub(crate) fn new(inner: F, guard: InFlightGuard) -> Self {
        Self {
            inner,
            guard: Some(guard),
        }
    }
}

impl<F, B, E> std::future::Future for InFlightFuture<F>
where
    F: std::future::Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<InFlightBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = std::task::ready!(this.inner.poll(cx));
        let guard = this.guard.take();
        Poll::Ready(res.map(|r| r.map(|inner| InFlightBody { inner, guard })))
    }
}

pin_project_lite::pin_project! {
    /// A response body holding its request's [`InFlightGuard`] until it is dropped.
    #[derive(Debug)]
    pub(crate) struct InFlightBody<B> {
        #[pin]
        inner: B,
        guard: Option<InFlightGuard>,
    }
}

impl<B: Body> Body for InFlightBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
