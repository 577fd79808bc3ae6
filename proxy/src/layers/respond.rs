//! The only place a [`ProxyError`] becomes an HTTP answer, and where the failure is recorded in
//! the [`Outcome`] so metrics and the access log agree with what the caller saw.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ProxyBody;
use crate::error::ProxyError;
use crate::layers::body_digest::Hex;
use crate::metrics::{AuthnResult, RequestOutcome};
use crate::outcome::{AuthnRecord, DecisionRecord, Failure, Outcome};

/// `x-amzn-errortype`, on `403` answers.
pub static X_AMZN_ERRORTYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// The contract's answer to `err` (CONTRACT §3 "Answers"): a one-line `text/plain` body;
/// `403`s carry `x-amzn-errortype` and read `<ErrorType>: <message>`. `x-amzn-requestid` is
/// added by `SetRequestId`, which wraps this layer.
pub fn respond(err: &ProxyError) -> Response<ProxyBody> {
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
        ProxyError::Denied(d) => (
            StatusCode::FORBIDDEN,
            Some("AccessDeniedException"),
            format!("AccessDeniedException: {}", d.message),
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
        ProxyError::Upstream(e @ crate::error::UpstreamError::Timeout(_)) => {
            (StatusCode::GATEWAY_TIMEOUT, None, format!("GatewayTimeout: {e}"))
        }
        ProxyError::Upstream(e) => (StatusCode::BAD_GATEWAY, None, format!("BadGateway: {e}")),
        // The detail may name internals; the caller gets a fixed line, the log the reason.
        ProxyError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "InternalError: the proxy failed to handle the request; retry, and report it if it persists".to_owned(),
        ),
    };
    let mut res = Response::new(ProxyBody::full(body));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, TEXT_PLAIN);
    if let Some(t) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        res.headers_mut().insert(X_AMZN_ERRORTYPE.clone(), t);
    }
    res
}

/// The outcome label and `failureReason` of an error.
pub fn classify(err: &ProxyError) -> Failure {
    let (outcome, reason) = match err {
        ProxyError::BadRequest(_) | ProxyError::HeadersTooLarge { .. } => {
            (RequestOutcome::BadRequest, "ClientProtocolError")
        }
        ProxyError::BodyDigest(_) => (RequestOutcome::BadRequest, "ClientProtocolError"),
        ProxyError::Authn(_) => (RequestOutcome::AuthnFailed, "ClientAccessDenied"),
        ProxyError::Denied(_) => (RequestOutcome::Denied, "ClientAccessDenied"),
        ProxyError::Upstream(e) => (RequestOutcome::UpstreamError, e.failure_reason()),
        ProxyError::Internal(_) => (RequestOutcome::UpstreamError, "InternalError"),
    };
    Failure { outcome, reason }
}

/// Records `err` in the outcome: the failure, and for auth errors the authn result or the
/// denial when the auth layer did not record them itself (first write wins).
pub fn record(outcome: &Outcome, err: &ProxyError) {
    outcome.set_failure(classify(err));
    match err {
        ProxyError::Authn(a) => outcome.set_authn(AuthnRecord {
            result: AuthnResult::from_label(a.metric_label),
            caller: None,
        }),
        ProxyError::Denied(d) => outcome.set_decision(DecisionRecord {
            allowed: false,
            denied_layer: Some(d.layer),
            matched: Arc::from(""),
            counters: Vec::new(),
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
        ResponseFuture {
            inner: self.inner.call(req),
            outcome,
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
                Poll::Ready(Ok(respond(&err)))
            }
        }
    }
}

#[cfg(test)]
mod tests;
