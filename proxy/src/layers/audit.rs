//! The outermost layer: creates the request's [`Outcome`], and when the response body ends (or
//! is dropped early) turns it into the metrics and the access-log line. It runs on every path,
//! including failures, because every answer flows back through it.

mod body;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use http::header::{HOST, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response, Version};
use tower_layer::Layer;
use tower_service::Service;

pub use self::body::{Metered, Observed};
use crate::access_log::{AccessLog, AccessRecord};
use crate::connection::ConnectionInfo;
use crate::layers::request_id::X_AMZN_REQUESTID;
use crate::metrics::{Metrics, RequestMetrics};
use crate::outcome::Outcome;

/// What every record of this listener shares.
#[derive(Debug)]
pub struct AuditContext {
    /// Metric handles.
    pub metrics: Arc<Metrics>,
    /// The request counters and histograms of the worker serving this listener.
    pub requests: RequestMetrics,
    /// The access-log queue.
    pub log: AccessLog,
    /// `serviceArn`.
    pub service_arn: Arc<str>,
    /// `serviceNetworkArn`.
    pub service_network_arn: Option<Arc<str>>,
    /// `mode`: `enforce` or `audit`.
    pub mode: &'static str,
    /// `--decision-log`: handed to `Authorize` through the request's extensions.
    pub decision_log: Option<crate::decision_log::DecisionLog>,
    /// `authorizer`: `-` for the sidecar; the front door of `trellis authz`, which never sees
    /// the body.
    pub authorizer: &'static str,
}

/// Adds [`Audit`].
#[derive(Debug, Clone)]
pub struct AuditLayer {
    ctx: Arc<AuditContext>,
}

impl AuditLayer {
    /// A layer recording into `ctx`.
    pub fn new(ctx: Arc<AuditContext>) -> Self {
        Self { ctx }
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;
    fn layer(&self, inner: S) -> Audit<S> {
        Audit {
            inner,
            ctx: Arc::clone(&self.ctx),
        }
    }
}

/// Records metrics and the access log of every request.
#[derive(Debug, Clone)]
pub struct Audit<S> {
    inner: S,
    ctx: Arc<AuditContext>,
}

/// Approximate wire size of a header block: `name: value\r\n` per field.
pub fn headers_size(headers: &HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64)
        .sum()
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// The request facts captured before the request is handed on.
#[derive(Debug)]
pub(crate) struct Pending {
    ctx: Arc<AuditContext>,
    outcome: Outcome,
    start: Instant,
    /// Only the access log reads these; with the log off they are never captured.
    log: Option<LogFacts>,
    request_id: Option<HeaderValue>,
    status: u16,
    head_bytes_sent: u64,
}

/// The request facts only the access-log line needs.
#[derive(Debug)]
struct LogFacts {
    start_time: SystemTime,
    method: Method,
    raw_path: http::Uri,
    protocol: &'static str,
    host: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    source: Option<std::net::SocketAddr>,
}

impl LogFacts {
    fn capture(parts: &http::request::Parts) -> Self {
        let host = parts.headers.get(HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        Self {
            start_time: SystemTime::now(),
            method: parts.method.clone(),
            raw_path: parts.uri.clone(),
            protocol: protocol(parts.version),
            host,
            user_agent: parts.headers.get(USER_AGENT).cloned(),
            source: parts.extensions.get::<ConnectionInfo>().map(|c| c.remote),
        }
    }
}

impl Pending {
    /// Emits metrics and the log line; `body_bytes` were sent, `completed` is false when the
    /// body was dropped before its end (the caller went away).
    pub(crate) fn finish(self, body_bytes: u64, completed: bool) {
        let end = Instant::now();
        let o = &self.outcome;
        if !completed {
            o.set_failure(crate::outcome::Failure {
                outcome: o.request_outcome(),
                reason: "ClientConnectionClosed",
            });
        }
        let label = o.request_outcome();
        let m = &self.ctx.requests;
        m.requests(label).inc();
        m.request_duration(label)
            .observe(end.duration_since(self.start).as_secs_f64());
        let authn = o.authn();
        if let Some(a) = authn {
            m.authn(a.result).inc();
        }
        if let Some(d) = o.auth_duration() {
            m.auth_duration().observe(d.as_secs_f64());
        }
        let decision = o.decision();
        if let Some(d) = decision {
            for c in &d.counters {
                c.inc();
            }
        }
        if let Some(s) = o.shadow() {
            s.count();
        }
        let Some(facts) = self.log else {
            return;
        };
        let ms = |a: Instant, b: Instant| {
            u64::try_from(b.saturating_duration_since(a).as_millis()).unwrap_or(u64::MAX)
        };
        let target = o.target();
        let record = AccessRecord {
            start_time: facts.start_time,
            request_id: self.request_id,
            method: facts.method,
            path: o
                .path()
                .map_or_else(|| facts.raw_path.path().into(), Clone::clone),
            protocol: facts.protocol,
            host: facts.host,
            user_agent: facts.user_agent,
            source: facts.source,
            target,
            response_code: self.status,
            duration_ms: ms(self.start, end),
            request_to_target_ms: match (target, o.request_body_end()) {
                (Some(_), Some(t)) => ms(self.start, t),
                (Some(_), None) => o.response_head().map_or(0, |t| ms(self.start, t)),
                _ => 0,
            },
            response_from_target_ms: o.response_head().map_or(0, |t| ms(t, end)),
            bytes_received: o.bytes_received(),
            bytes_sent: self.head_bytes_sent + body_bytes,
            service_arn: Arc::clone(&self.ctx.service_arn),
            service_network_arn: self.ctx.service_network_arn.clone(),
            authn: authn.map(|a| a.result),
            caller: authn.and_then(|a| a.caller.clone()),
            denied_layer: decision.and_then(|d| d.denied_layer),
            failure_reason: o.failure().map(|f| f.reason),
            matched_statements: decision.map(|d| d.matched.clone()),
            mode: self.ctx.mode,
            authorizer: self.ctx.authorizer,
            shadow: o.shadow().cloned(),
        };
        self.ctx.log.submit(record);
    }
}

impl<S, B, RB> Service<Request<B>> for Audit<S>
where
    S: Service<Request<Metered<B>>, Response = Response<RB>>,
    RB: http_body::Body,
{
    type Response = Response<Observed<RB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let outcome = Outcome::new();
        let (mut parts, body) = req.into_parts();
        // Request line + headers + blank line, approximately as sent.
        outcome.add_bytes_received(
            headers_size(&parts.headers)
                + (parts.method.as_str().len()
                    + parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
                    + 13) as u64,
        );
        let pending = Pending {
            ctx: Arc::clone(&self.ctx),
            outcome: outcome.clone(),
            start: Instant::now(),
            log: self.ctx.log.enabled().then(|| LogFacts::capture(&parts)),
            request_id: None,
            status: 0,
            head_bytes_sent: 0,
        };
        parts.extensions.insert(outcome.clone());
        if let Some(log) = &self.ctx.decision_log {
            parts.extensions.insert(log.clone());
        }
        let req = Request::from_parts(parts, Metered::new(body, outcome));
        ResponseFuture {
            inner: self.inner.call(req),
            pending: Some(pending),
        }
    }
}

pin_project_lite::pin_project! {
    /// Wraps the response body so the record is finished when it ends.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    RB: http_body::Body,
{
    type Output = Result<Response<Observed<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = std::task::ready!(this.inner.poll(cx));
        let Some(mut pending) = this.pending.take() else {
            // Polled after completion: nothing left to record.
            return Poll::Ready(res.map(|r| r.map(|b| Observed::new(b, None))));
        };
        match res {
            Ok(res) => {
                pending.status = res.status().as_u16();
                pending.request_id = res.headers().get(&X_AMZN_REQUESTID).cloned();
                pending.head_bytes_sent = headers_size(res.headers()) + 17;
                Poll::Ready(Ok(res.map(|b| Observed::new(b, Some(pending)))))
            }
            Err(e) => {
                pending.status = 500;
                pending.outcome.set_failure(crate::outcome::Failure {
                    outcome: crate::metrics::RequestOutcome::UpstreamError,
                    reason: "InternalError",
                });
                pending.finish(0, true);
                Poll::Ready(Err(e))
            }
        }
    }
}
