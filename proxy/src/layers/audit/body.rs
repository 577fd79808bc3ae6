//! Body wrappers that count bytes and observe the end of each body.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

use super::Pending;
use crate::outcome::Outcome;

pin_project_lite::pin_project! {
    /// The request body: counts bytes received and marks its end in the [`Outcome`].
    #[derive(Debug)]
    pub struct Metered<B> {
        #[pin]
        inner: B,
        outcome: Outcome,
    }
}

impl<B> Metered<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, outcome: Outcome) -> Self {
        Self { inner, outcome }
    }
}

impl<B: Body> Body for Metered<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    this.outcome
                        .add_bytes_received(bytes::Buf::remaining(d) as u64);
                }
            }
            None => this.outcome.mark_request_body_end(),
            Some(Err(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.outcome.mark_request_body_end();
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Finishes the record exactly once: at the body's end, or when it is dropped before.
#[derive(Debug)]
struct Finisher {
    pending: Option<Pending>,
    bytes: u64,
}

impl Finisher {
    fn finish(&mut self, completed: bool) {
        if let Some(p) = self.pending.take() {
            p.finish(self.bytes, completed);
        }
    }
}

pin_project_lite::pin_project! {
    /// The response body: counts bytes sent and finishes the record at its end. A body hyper
    /// never polls (empty, `101`) counts as completed when dropped at its end; one dropped
    /// before its end means the caller went away.
    #[derive(Debug)]
    pub struct Observed<B>
    where
        B: Body,
    {
        #[pin]
        inner: B,
        finisher: Finisher,
    }

    impl<B> PinnedDrop for Observed<B>
    where
        B: Body,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let ended = this.inner.is_end_stream();
            this.finisher.finish(ended);
        }
    }
}

impl<B: Body> Observed<B> {
    pub(crate) fn new(inner: B, pending: Option<Pending>) -> Self {
        Self {
            inner,
            finisher: Finisher { pending, bytes: 0 },
        }
    }
}

impl<B: Body> Body for Observed<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let frame = std::task::ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    this.finisher.bytes += bytes::Buf::remaining(d) as u64;
                }
                if this.inner.is_end_stream() {
                    this.finisher.finish(true);
                }
            }
            None => this.finisher.finish(true),
            Some(Err(_)) => this.finisher.finish(false),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
