//! Signed body digests (CONTRACT §3): when a verified signature covers an
//! `x-amz-content-sha256` that is a hex SHA-256, the body is checked against it on its way to the
//! upstream. The signature covers the header, not the body, so without the check a captured
//! request could be replayed with another body.
//!
//! The body still streams: each frame is hashed as it passes (no copy, nothing buffered but one
//! frame) and only the end of the body is held back until the digest is known.
//! - A data frame after which the caller's body reports its end (`Content-Length` reached,
//!   HTTP/2 `END_STREAM`) is hashed and checked before it is released.
//! - Otherwise (chunked, or an `END_STREAM` that comes alone or with trailers) each non-empty data
//!   frame is held until the next one arrives, so the last one is still held at the end.
//!
//! On a mismatch the held frame is never released and the body fails, so hyper aborts the
//! upstream request (HTTP/1.1: the connection closes before the message is complete; HTTP/2:
//! `RST_STREAM`): the service never receives the complete body. The [`Verdict`] tells `Forward`,
//! which sees only a failed upstream request, to answer `400 XAmzContentSHA256Mismatch` rather
//! than `502`. A body known to be empty (or of length 0) is checked before anything is sent,
//! because its message is complete as soon as its head is.
//!
//! `UNSIGNED-PAYLOAD`, anonymous requests and services with both auth types `NONE` carry no
//! [`SignedBodyDigest`]; their bodies pass through untouched, at the cost of one branch per
//! frame. The `STREAMING-*` values (`aws-chunked` signing) never reach this point: the verifier
//! refuses them, because their chunk signatures cannot be checked here.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};

use crate::error::ProxyError;
pub use crate::error::{DigestMismatch, Hex};
use crate::outcome::{classify, Outcome};

/// The SHA-256 of the body that a verified signature covers; put in the request extensions by
/// `Authenticate` for a signed `x-amz-content-sha256` hex digest, read by `Forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedBodyDigest(pub [u8; 32]);

/// Where a checked body leaves a mismatch for `Forward`, which learns of the failure only as a
/// failed upstream request (over HTTP/2 the body's own error does not even reach it).
#[derive(Debug, Clone)]
pub struct Verdict(Arc<OnceLock<DigestMismatch>>);

impl Verdict {
    /// The mismatch, once the checked body has found one.
    pub fn mismatch(&self) -> Option<DigestMismatch> {
        self.0.get().copied()
    }
}

/// Where the checked body stands.
#[derive(Debug)]
enum State {
    /// Frames are still arriving.
    Streaming,
    /// The digest matched: release the held frame, then the trailers, then end.
    Verified,
    /// The digest did not match: every poll fails.
    Failed(DigestMismatch),
}

/// The running check of one body.
#[derive(Debug)]
struct Check {
    signed: [u8; 32],
    hasher: Sha256,
    /// The latest non-empty data frame, released once a later one or the verified end arrives.
    held: Option<Bytes>,
    /// Trailers that ended the body, released after the held frame.
    trailers: Option<HeaderMap>,
    state: State,
    verdict: Arc<OnceLock<DigestMismatch>>,
    /// Also told of a mismatch, for the case where the upstream answered before the body ended
    /// (its answer has gone to the caller; the record still shows the failure).
    outcome: Option<Outcome>,
}

impl Check {
    /// The body has ended: compare the digests and settle the state.
    fn finish(&mut self) {
        let computed: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        if computed == self.signed {
            self.state = State::Verified;
            return;
        }
        let mismatch = DigestMismatch {
            signed: self.signed,
            computed,
        };
        self.held = None;
        self.trailers = None;
        self.state = State::Failed(mismatch);
        let _ = self.verdict.set(mismatch);
        if let Some(o) = &self.outcome {
            o.set_failure(classify(&ProxyError::BodyDigest(mismatch)));
        }
    }
}

/// The error of a checked body: the caller's body failed, or the digest did not match.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

pin_project_lite::pin_project! {
    /// The request body towards the upstream: the caller's body, checked against its signed
    /// digest when it has one (see the module docs), else passed through.
    #[derive(Debug)]
    pub struct DigestChecked<B> {
        #[pin]
        inner: B,
        check: Option<Box<Check>>,
    }
}

impl<B> DigestChecked<B>
where
    B: Body<Data = Bytes>,
{
    /// Passes `inner` through unchecked.
    pub fn unchecked(inner: B) -> Self {
        Self { inner, check: None }
    }

    /// Checks `inner` against `signed` as it streams. A body already known to be empty is
    /// checked here, so a mismatch is refused before any of the request is sent.
    pub fn checked(
        inner: B,
        signed: [u8; 32],
        outcome: Option<&Outcome>,
    ) -> Result<(Self, Verdict), DigestMismatch> {
        let verdict = Arc::new(OnceLock::new());
        if inner.is_end_stream() || inner.size_hint().exact() == Some(0) {
            let computed: [u8; 32] = Sha256::digest(b"").into();
            if computed != signed {
                return Err(DigestMismatch { signed, computed });
            }
            return Ok((Self::unchecked(inner), Verdict(verdict)));
        }
        let check = Check {
            signed,
            hasher: Sha256::new(),
            held: None,
            trailers: None,
            state: State::Streaming,
            verdict: Arc::clone(&verdict),
            outcome: outcome.cloned(),
        };
        Ok((
            Self {
                inner,
                check: Some(Box::new(check)),
            },
            Verdict(verdict),
        ))
    }
}

/// Wraps the body of `req` for the upstream: checked when `Authenticate` left a
/// [`SignedBodyDigest`], else passed through. `Err` when the body is known to be empty and the
/// signed digest is not the empty string's; the [`Verdict`] reports a mismatch found later.
pub fn check_request<B>(
    req: Request<B>,
    outcome: Option<&Outcome>,
) -> Result<(Request<DigestChecked<B>>, Option<Verdict>), DigestMismatch>
where
    B: Body<Data = Bytes>,
{
    let Some(SignedBodyDigest(signed)) = req.extensions().get::<SignedBodyDigest>().copied() else {
        return Ok((req.map(DigestChecked::unchecked), None));
    };
    let (parts, body) = req.into_parts();
    let (body, verdict) = DigestChecked::checked(body, signed, outcome)?;
    Ok((Request::from_parts(parts, body), Some(verdict)))
}

impl<B> Body for DigestChecked<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let mut this = self.project();
        let Some(check) = this.check.as_deref_mut() else {
            return this.inner.poll_frame(cx).map_err(Into::into);
        };
        loop {
            match &check.state {
                State::Streaming => {}
                State::Verified => {
                    let frame = match check.held.take() {
                        Some(data) => Some(Frame::data(data)),
                        None => check.trailers.take().map(Frame::trailers),
                    };
                    return Poll::Ready(frame.map(Ok));
                }
                State::Failed(m) => return Poll::Ready(Some(Err(Box::new(*m)))),
            }
            match std::task::ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        // An empty frame carries nothing to forward; releasing the held frame
                        // for it would hand over the whole body before the end is known.
                        if data.is_empty() {
                            continue;
                        }
                        check.hasher.update(&data);
                        let previous = check.held.replace(data);
                        if this.inner.is_end_stream() {
                            check.finish();
                            if matches!(check.state, State::Failed(_)) {
                                continue;
                            }
                        }
                        if let Some(previous) = previous {
                            return Poll::Ready(Some(Ok(Frame::data(previous))));
                        }
                    }
                    Err(frame) => {
                        // Trailers end the body.
                        check.trailers = frame.into_trailers().ok();
                        check.finish();
                    }
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => check.finish(),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self.check.as_deref() {
            None => self.inner.is_end_stream(),
            Some(c) => {
                matches!(c.state, State::Verified) && c.held.is_none() && c.trailers.is_none()
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let Some(held) = self.check.as_deref().and_then(|c| c.held.as_ref()) else {
            return inner;
        };
        let held = held.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(held));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(held));
        }
        hint
    }
}

#[cfg(test)]
mod tests;
