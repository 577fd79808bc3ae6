//! `x-amzn-requestid` in and out: the caller's value (truncated to 512 bytes) or a new UUID v4,
//! sent to the upstream (and so visible to every inner layer in the request headers) and set
//! on every response.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use http::{HeaderMap, HeaderValue, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

pub use crate::request_head::names::X_AMZN_REQUESTID;

/// Longest request id kept from a caller, in bytes (Lattice's limit).
pub const MAX_REQUEST_ID_BYTES: usize = 512;

/// The caller's id truncated to [`MAX_REQUEST_ID_BYTES`] (at a character boundary when the
/// value is UTF-8), or `None` when absent or empty.
pub fn from_caller(headers: &HeaderMap) -> Option<HeaderValue> {
    let value = headers.get(&X_AMZN_REQUESTID)?;
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    if bytes.len() <= MAX_REQUEST_ID_BYTES {
        return Some(value.clone());
    }
    let mut end = MAX_REQUEST_ID_BYTES;
    if let Ok(text) = std::str::from_utf8(bytes) {
        while !text.is_char_boundary(end) {
            end -= 1;
        }
    }
    HeaderValue::from_bytes(&bytes[..end]).ok()
}

/// Length of a generated id (a hyphenated UUID).
const ID_LEN: usize = uuid::fmt::Hyphenated::LENGTH;

/// Generated ids carved out of one buffer before another is allocated.
const IDS_PER_SLAB: usize = 64;

thread_local! {
    /// This thread's buffer of generated ids. The ids of one slab share its allocation, freed
    /// when the last of them is dropped; their clones (upstream request, response, log) are
    /// reference counts.
    static SLAB: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A new UUID v4 id: two heap blocks per 64 ids (a slab) rather than one or two each.
pub fn generate() -> HeaderValue {
    let mut text = [0u8; ID_LEN];
    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    let id = SLAB.with_borrow_mut(|slab| {
        if slab.capacity() - slab.len() < ID_LEN {
            *slab = BytesMut::with_capacity(ID_LEN * IDS_PER_SLAB);
        }
        slab.extend_from_slice(&text);
        slab.split().freeze()
    });
    HeaderValue::from_maybe_shared(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Adds [`SetRequestId`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = SetRequestId<S>;
    fn layer(&self, inner: S) -> SetRequestId<S> {
        SetRequestId { inner }
    }
}

/// Assigns the request id and stamps it on the response.
#[derive(Debug, Clone)]
pub struct SetRequestId<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for SetRequestId<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = from_caller(req.headers()).unwrap_or_else(generate);
        // Inner layers read the id from this header; it is not also put in the extensions,
        // where each insert costs an allocation and a hash-map insert per request.
        req.headers_mut()
            .insert(X_AMZN_REQUESTID.clone(), id.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            id: Some(id),
        }
    }
}

pin_project_lite::pin_project! {
    /// Sets the id on the response.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = Result<Response<RB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            res.headers_mut().insert(X_AMZN_REQUESTID.clone(), id);
        }
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_with(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(X_AMZN_REQUESTID.clone(), HeaderValue::from_str(id).unwrap());
        h
    }

    #[test]
    fn caller_id_is_kept_when_short() {
        assert_eq!(from_caller(&headers_with("abc")).unwrap(), "abc");
    }

    #[test]
    fn long_caller_id_is_truncated_to_512_bytes() {
        let long = "x".repeat(600);
        assert_eq!(from_caller(&headers_with(&long)).unwrap().len(), 512);
    }

    #[test]
    fn truncation_respects_utf8_boundaries() {
        let mut h = HeaderMap::new();
        // 511 ASCII bytes then a 2-byte character straddling the limit.
        let mut bytes = vec![b'a'; 511];
        bytes.extend_from_slice("é".as_bytes());
        h.insert(
            X_AMZN_REQUESTID.clone(),
            HeaderValue::from_bytes(&bytes).unwrap(),
        );
        assert_eq!(from_caller(&h).unwrap().len(), 511);
    }

    #[test]
    fn empty_or_missing_id_gets_a_uuid() {
        assert!(from_caller(&HeaderMap::new()).is_none());
        let id = generate();
        let text = id.to_str().unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(text.as_bytes()[14], b'4');
        assert_ne!(generate(), id);
    }

    #[test]
    fn ids_from_several_slabs_stay_intact_after_earlier_ones_are_dropped() {
        let mut kept: Vec<(HeaderValue, String)> = Vec::new();
        for i in 0..IDS_PER_SLAB * 3 + 5 {
            let id = generate();
            let text = id.to_str().unwrap().to_owned();
            assert_eq!(text.len(), ID_LEN);
            assert!(uuid::Uuid::parse_str(&text).is_ok(), "{text}");
            // Keep every third id; the others (and their slabs' shares) are dropped.
            if i % 3 == 0 {
                kept.push((id, text));
            }
        }
        let mut distinct: Vec<&str> = kept.iter().map(|(_, t)| t.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), kept.len());
        for (id, text) in &kept {
            assert_eq!(id.to_str().unwrap(), text);
        }
    }
}
