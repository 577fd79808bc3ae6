//! The HTTP front door on `--http-listen`: Envoy's HTTP ext_authz service and nginx
//! `auth_request`.
//!
//! A request carrying `X-Original-URI` is an nginx subrequest: the method is
//! `X-Original-Method`, the target `X-Original-URI` (nginx's `$request_uri`, as sent), whatever
//! path the subrequest used. Otherwise it is Envoy's HTTP mode: the request's own method and
//! target with `--path-prefix` stripped.
//!
//! Both proxies put the caller's address last in `x-forwarded-for` (Envoy with
//! `use_remote_address`, nginx with `$proxy_add_x_forwarded_for`), and say the scheme and
//! port in `x-forwarded-proto` and `x-forwarded-port`.
//!
//! Allowed: `200`, the headers to set, and `x-envoy-auth-headers-to-remove` naming the headers
//! to remove. Neither proxy can have the auth service rewrite the path, so a request that the
//! sidecar would forward with another path (normalized, presign parameters removed) is
//! refused with `400` in Envoy's HTTP mode; for nginx the answer carries that path in
//! `x-trellis-forward-uri`, which the shipped server block forwards. Refused (nginx): `403`
//! whatever the reason — nginx turns any other status into a `500` — with the real status in
//! `x-trellis-status` and the body line in `x-trellis-answer`, for the server block to answer
//! with.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderName, CONTENT_LENGTH, HOST};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tower_service::Service;

use super::pipeline::{Pipeline, Verdict};
use super::view::{self, RequestView};
use crate::layers::ConnectionInfo;
use crate::request_head::names::{X_FORWARDED_PORT, X_FORWARDED_PROTO};

/// nginx: the original request target.
pub static X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
/// nginx: the original method.
pub static X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
/// Envoy: the headers to remove before forwarding.
pub static X_ENVOY_AUTH_HEADERS_TO_REMOVE: HeaderName =
    HeaderName::from_static("x-envoy-auth-headers-to-remove");
/// Envoy: the caller's address (`use_remote_address`).
pub static X_ENVOY_EXTERNAL_ADDRESS: HeaderName =
    HeaderName::from_static("x-envoy-external-address");
/// nginx: the path and query to forward.
pub static X_TRELLIS_FORWARD_URI: HeaderName = HeaderName::from_static("x-trellis-forward-uri");
/// nginx: the status of a refusal (the subrequest itself answers `403`).
pub static X_TRELLIS_STATUS: HeaderName = HeaderName::from_static("x-trellis-status");
/// nginx: the body line of a refusal.
pub static X_TRELLIS_ANSWER: HeaderName = HeaderName::from_static("x-trellis-answer");

/// The HTTP front door's service.
#[derive(Debug, Clone)]
pub struct HttpFront {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    envoy: Pipeline,
    nginx: Pipeline,
    path_prefix: String,
}

impl HttpFront {
    /// Answers with `envoy` and `nginx` (the same layers, logged under their front door);
    /// `path_prefix` is Envoy's `path_prefix`.
    pub fn new(envoy: Pipeline, nginx: Pipeline, path_prefix: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                envoy,
                nginx,
                path_prefix,
            }),
        }
    }
}

/// Which proxy asked, and what it asked about.
fn request_view<B>(
    req: Request<B>,
    path_prefix: &str,
) -> Result<(RequestView, bool), (StatusCode, String)> {
    let (parts, _) = req.into_parts();
    let mut headers = parts.headers;
    let nginx = headers.contains_key(&X_ORIGINAL_URI);
    let (method, target) = if nginx {
        let uri = headers.remove(&X_ORIGINAL_URI);
        let method = headers.remove(&X_ORIGINAL_METHOD);
        let (Some(uri), Some(method)) = (uri, method) else {
            return Err((
                StatusCode::BAD_REQUEST,
                "BadRequest: an nginx subrequest needs both X-Original-URI and X-Original-Method"
                    .into(),
            ));
        };
        let method = method.to_str().ok().and_then(|m| view::method(m).ok());
        let (Some(method), Ok(uri)) = (method, uri.to_str()) else {
            return Err((
                StatusCode::BAD_REQUEST,
                "BadRequest: X-Original-Method or X-Original-URI is not valid".into(),
            ));
        };
        (method, uri.to_owned())
    } else {
        let pq = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let Some(rest) = pq.strip_prefix(path_prefix) else {
            return Err((StatusCode::BAD_REQUEST, format!("BadRequest: the check path does not start with the path prefix `{path_prefix}`")));
        };
        let target = if rest.starts_with('/') {
            rest.to_owned()
        } else {
            format!("/{rest}")
        };
        (parts.method, target)
    };
    // The check request's own framing is not the original request's.
    headers.remove(CONTENT_LENGTH);
    let conn = parts.extensions.get::<ConnectionInfo>().cloned();
    let tcp_peer = conn.map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.remote);
    let forwarded = view::take_last_forwarded(&mut headers);
    // Envoy's HTTP client does not pass the caller's `x-forwarded-for` through as sent; with
    // `use_remote_address` it names the caller in `x-envoy-external-address`.
    let external = (!nginx)
        .then(|| {
            headers
                .get(&X_ENVOY_EXTERNAL_ADDRESS)?
                .to_str()
                .ok()?
                .parse()
                .ok()
        })
        .flatten();
    let remote = SocketAddr::new(external.or(forwarded).unwrap_or(tcp_peer.ip()), 0);
    let tls = headers
        .get(&X_FORWARDED_PROTO)
        .is_some_and(|p| p == "https");
    let port = headers
        .get(&X_FORWARDED_PORT)
        .and_then(|p| p.to_str().ok()?.parse().ok())
        .unwrap_or(if tls { 443 } else { 80 });
    // The sidecar writes these itself; the values the proxy sent are facts, not headers.
    headers.remove(&X_FORWARDED_PROTO);
    headers.remove(&X_FORWARDED_PORT);
    let host = headers.get(HOST).cloned();
    Ok((
        RequestView {
            method,
            target,
            host,
            headers,
            connection: view::connection(remote, port, tls),
        },
        nginx,
    ))
}

fn plain(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// The HTTP answer for `verdict`.
pub fn answer(verdict: Verdict, nginx: bool) -> Response<Full<Bytes>> {
    match verdict {
        Verdict::Allow {
            set,
            remove,
            target,
        } => {
            if target.is_some() && !nginx {
                return plain(StatusCode::BAD_REQUEST, "BadRequest: the request path is not in normal form or carries presign parameters, and Envoy's HTTP ext_authz mode cannot forward another path; send the normalized path, or use the gRPC mode".into());
            }
            let mut res = Response::new(Full::new(Bytes::new()));
            let h = res.headers_mut();
            for (name, value) in set {
                h.insert(name, value);
            }
            let names: Vec<&str> = remove.iter().map(HeaderName::as_str).collect();
            if let Ok(v) = HeaderValue::from_str(&names.join(",")) {
                if !names.is_empty() {
                    h.insert(X_ENVOY_AUTH_HEADERS_TO_REMOVE.clone(), v);
                }
            }
            if nginx {
                if let Some(t) = target.and_then(|t| HeaderValue::try_from(t).ok()) {
                    h.insert(X_TRELLIS_FORWARD_URI.clone(), t);
                }
            }
            res
        }
        Verdict::Deny {
            status,
            headers,
            body,
        } => {
            let mut res = Response::new(Full::new(body.clone()));
            *res.headers_mut() = headers;
            if nginx {
                *res.status_mut() = StatusCode::FORBIDDEN;
                res.headers_mut()
                    .insert(X_TRELLIS_STATUS.clone(), HeaderValue::from(status.as_u16()));
                if let Ok(v) = HeaderValue::from_maybe_shared(body) {
                    res.headers_mut().insert(X_TRELLIS_ANSWER.clone(), v);
                }
            } else {
                *res.status_mut() = status;
            }
            res
        }
    }
}

impl<B: Send + 'static> Service<Request<B>> for HttpFront {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            Ok(match request_view(req, &inner.path_prefix) {
                Ok((view, nginx)) => {
                    let pipeline = if nginx { &inner.nginx } else { &inner.envoy };
                    answer(pipeline.check(view).await, nginx)
                }
                Err((status, body)) => plain(status, body),
            })
        })
    }
}
