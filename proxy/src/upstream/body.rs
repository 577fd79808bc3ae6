//! The bodies around an upstream exchange: the request body as sent ([`OutBody`]: the
//! caller's, or none for a retried empty request) and the [`Lease`] a response body holds on
//! its connection until it has been read to its end.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

pin_project_lite::pin_project! {
    /// The body of a request towards the upstream.
    #[project = OutBodyProj]
    #[derive(Debug)]
    pub enum OutBody<B> {
        /// The caller's body, streamed.
        Caller { #[pin] body: B },
        /// No body: an empty request sent again after its connection closed under it.
        Empty,
    }
}

impl<B> OutBody<B> {
    pub(crate) fn caller(body: B) -> Self {
        Self::Caller { body }
    }
}

impl<B> Body for OutBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project() {
            OutBodyProj::Caller { body } => body.poll_frame(cx),
            OutBodyProj::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Caller { body } => body.is_end_stream(),
            Self::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Caller { body } => body.size_hint(),
            Self::Empty => SizeHint::with_exact(0),
        }
    }
}

/// A connection going back to its pool once the response body has been read to its end;
/// the body type is erased so the response body need not name the request's.
pub(crate) trait Release: Send {
    /// Puts the connection back on the current thread's free list (or closes it).
    fn release(self: Box<Self>);
}

/// A pooled HTTP/1.1 connection lent to one response: back to the pool when the body has
/// been read to its end ([`Lease::release`]), closed if the body is dropped before.
pub struct Lease(Box<dyn Release>);

impl Lease {
    pub(crate) fn new(conn: Box<dyn Release>) -> Self {
        Self(conn)
    }

    /// The response is complete: the connection may carry the next request.
    pub fn release(self) {
        self.0.release();
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lease")
    }
}
