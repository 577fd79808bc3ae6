//! A connection whose small HTTP/2 frames leave in one write.
//!
//! h2 keeps a DATA payload of 256 bytes or more out of its write buffer when the transport
//! can write vectored, and flushes it before it buffers the next frame. A gRPC answer of a few
//! hundred bytes then leaves in two writes: HEADERS + DATA, then the trailers. Each write on
//! loopback wakes the peer (Envoy) once more and costs a syscall on both sides. Reporting the
//! transport as not vectored raises h2's copy threshold to 1 KiB, so such an answer is copied
//! into the buffer with its trailers and leaves in one write.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// `I` as a transport without vectored writes (see the module docs).
#[derive(Debug)]
pub(super) struct GatheredWrites<I>(pub(super) I);

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for GatheredWrites<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for GatheredWrites<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}
