//! The only place a [`ProxyError`] becomes an HTTP answer, and where the failure is recorded in
//! the [`Outcome`] so metrics and the access log agree with what the caller saw.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ProxyBody;
use crate::error::{Hex, ProxyError};
use crate::layers::request_id::X_AMZN_REQUESTID;
use crate::metrics::AuthnResult;
pub use crate::outcome::classify;
use crate::outcome::{AuthnRecord, DecisionCounters, DecisionRecord, MatchedStatements, Outcome};

/// `x-amzn-errortype`, on `403` answers.
pub static X_AMZN_ERRORTYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// The contract's answer to `err` (CONTRACT §3 "Answers"): a one-line `text/plain` body;
/// `403`s carry `x-amzn-errortype` and read `<ErrorType>: <message>`. `x-amzn-requestid` is
/// added by `SetRequestId`, which wraps this layer.
pub fn respond(err: &ProxyError) -> Response<ProxyBody> {
    respond_to(err, None)
}

/// [`respond`], with the request id in the body of the proxy's own failures (`502`, `504`,
/// `500`). Their detail (addresses, OS errors, flag names) is for operators, not callers: the
/// body is a fixed line, and the detail goes to the log under the same id ([`log_failure`]).
pub fn respond_to(err: &ProxyError, request_id: Option<&str>) -> Response<ProxyBody> {
    let quote = |what: &str| match request_id {
        Some(id) => format!("{what}, and give its operators the request id {id} if it persists"),
        None => format!("{what}, and tell its operators if it persists"),
    };
    let (status, error_type, body) = match err {
        ProxyError::BadRequest(e) => (StatusCode::BAD_REQUEST, None, format!("BadRequest: {e}")),
        ProxyError::HeadersTooLarge { .. } => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            None,
            format!("RequestHeaderFieldsTooLarge: {err}"),
        ),
        ProxyError::Authn(a) => (
            StatusCode::FORBIDDEN,
            Some(a.error_type),
            format!("{}: {}", a.error_type, a.message),
        ),
        ProxyError::AuthnUnavailable(a) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Some(a.error_type),
            format!("{}: {}", a.error_type, a.message),
        ),
        // The one failure that is routine (a policy said no): written without `fmt`, into a
        // buffer of the exact size, whose `Bytes` then needs no block of its own.
        ProxyError::Denied(d) => (
            StatusCode::FORBIDDEN,
            Some("AccessDeniedException"),
            concat_exact(&["AccessDeniedException: ", &d.message]),
        ),
        ProxyError::BodyDigest(m) => (
            StatusCode::BAD_REQUEST,
            Some("XAmzContentSHA256Mismatch"),
            format!(
                "XAmzContentSHA256Mismatch: {m} ClientComputedContentSHA256: {}, ComputedContentSHA256: {}. Sign the SHA-256 of the exact body you send, or sign x-amz-content-sha256: UNSIGNED-PAYLOAD as VPC Lattice expects.",
                Hex(&m.signed),
                Hex(&m.computed)
            ),
        ),
        // The detail names internals; the caller gets a fixed line, the log the reason.
        ProxyError::Upstream(crate::error::UpstreamError::Timeout(_)) => (
            StatusCode::GATEWAY_TIMEOUT,
            None,
            format!(
                "GatewayTimeout: the service did not answer in time; {}",
                quote("retry later")
            ),
        ),
        ProxyError::Upstream(_) => (
            StatusCode::BAD_GATEWAY,
            None,
            format!(
                "BadGateway: the service could not be reached or did not answer properly; {}",
                quote("retry later")
            ),
        ),
        ProxyError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            format!(
                "InternalError: the proxy failed to handle the request; {}",
                quote("retry")
            ),
        ),
    };
    let mut res = Response::new(ProxyBody::full(body));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, TEXT_PLAIN);
    if let Some(t) = error_type {
        // AWS's exception names: constants of visible ASCII.
        res.headers_mut()
            .insert(X_AMZN_ERRORTYPE.clone(), HeaderValue::from_static(t));
    }
    res
}

/// `parts` joined, in a `String` allocated once at its final length.
fn concat_exact(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// Logs the detail of the proxy's own failures (`502`, `504`, `500`), which callers are not
/// shown: one line on standard error with the request id the caller was given.
pub fn log_failure(err: &ProxyError, request_id: Option<&str>) {
    let status = match err {
        ProxyError::Upstream(crate::error::UpstreamError::Timeout(_)) => 504,
        ProxyError::Upstream(_) => 502,
        ProxyError::Internal(_) => 500,
        _ => return,
    };
    failure_log::report(format!(
        "trellis: request {}: answered {status}: {err}",
        request_id.unwrap_or("-")
    ));
}

/// Records `err` in the outcome: the failure, and for auth errors the authn result or the
/// denial when the auth layer did not record them itself (first write wins).
pub fn record(outcome: &Outcome, err: &ProxyError) {
    outcome.set_failure(classify(err));
    match err {
        ProxyError::Authn(a) | ProxyError::AuthnUnavailable(a) => outcome.set_authn(AuthnRecord {
            result: AuthnResult::from_label(a.metric_label),
            caller: None,
        }),
        ProxyError::Denied(d) => outcome.set_decision(DecisionRecord {
            allowed: false,
            denied_layer: Some(d.layer),
            matched: MatchedStatements::new(),
            counters: DecisionCounters::new(),
        }),
        _ => {}
    }
}

/// Adds [`Respond`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RespondLayer;

impl<S> Layer<S> for RespondLayer {
    type Service = Respond<S>;
    fn layer(&self, inner: S) -> Respond<S> {
        Respond { inner }
    }
}

/// Turns the inner service's `ProxyError`s into answers.
#[derive(Debug, Clone)]
pub struct Respond<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Respond<S>
where
    S: Service<Request<B>, Response = Response<ProxyBody>, Error = ProxyError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Our services are always ready; an error here is still answered at call time.
        let _ = std::task::ready!(self.inner.poll_ready(cx));
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let outcome = req.extensions().get::<Outcome>().cloned();
        // Set by `SetRequestId` outside; a shared-bytes clone, no allocation.
        let request_id = req.headers().get(&X_AMZN_REQUESTID).cloned();
        ResponseFuture {
            inner: self.inner.call(req),
            outcome,
            request_id,
        }
    }
}

pin_project_lite::pin_project! {
    /// Maps the error to its answer.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        outcome: Option<Outcome>,
        request_id: Option<HeaderValue>,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ProxyBody>, ProxyError>>,
{
    type Output = Result<Response<ProxyBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match std::task::ready!(this.inner.poll(cx)) {
            Ok(res) => Poll::Ready(Ok(res)),
            Err(err) => {
                if let Some(outcome) = this.outcome.as_ref() {
                    record(outcome, &err);
                }
                let id = this.request_id.as_ref().and_then(|v| v.to_str().ok());
                log_failure(&err, id);
                Poll::Ready(Ok(respond_to(&err, id)))
            }
        }
    }
}

mod failure_log;

#[cfg(test)]
mod tests;
