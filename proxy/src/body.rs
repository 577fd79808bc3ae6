//! The one response body type of the stack: the upstream's streamed body, or a small body the
//! proxy writes itself. An enum rather than a boxed trait object: no allocation per response.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::upstream::Lease;

pin_project_lite::pin_project! {
    /// A response body: streamed from the upstream or written by the proxy.
    #[project = ProxyBodyProj]
    #[derive(Debug)]
    pub enum ProxyBody {
        /// Streamed from the upstream, frame by frame (data and trailers); the connection goes
        /// back to the pool once the last frame is read.
        Upstream { #[pin] body: Incoming, lease: Option<Lease> },
        /// A complete body of the proxy's own answers.
        Full { data: Option<Bytes> },
    }
}

impl ProxyBody {
    /// A body of the proxy's own.
    pub fn full(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        Self::Full {
            data: (!data.is_empty()).then_some(data),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::Full { data: None }
    }

    /// The upstream's body, streamed; `lease` is its pooled connection, if any.
    pub fn upstream(body: Incoming, lease: Option<Lease>) -> Self {
        Self::Upstream { body, lease }
    }
}

/// The body was read to its end: its connection may carry the next request.
fn release(lease: &mut Option<Lease>) {
    if let Some(lease) = lease.take() {
        lease.release();
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.project() {
            ProxyBodyProj::Upstream { mut body, lease } => {
                let polled = body.as_mut().poll_frame(cx);
                match &polled {
                    Poll::Ready(None) => release(lease),
                    Poll::Ready(Some(Ok(_))) if body.is_end_stream() => release(lease),
                    // A broken body: the connection is not reused.
                    Poll::Ready(Some(Err(_))) => *lease = None,
                    Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
                }
                polled
            }
            ProxyBodyProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Upstream { body, .. } => body.is_end_stream(),
            Self::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Upstream { body, .. } => body.size_hint(),
            Self::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
