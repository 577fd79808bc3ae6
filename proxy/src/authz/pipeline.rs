//! The sidecar's layers ending in [`Decided`] instead of `Forward`, and the [`Verdict`]: what
//! the proxy in front must change so its upstream gets what the sidecar would have forwarded.

use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use tower::ServiceBuilder;
use tower_service::Service;

use super::view::{FrontDoor, RequestView};
use crate::auth::Auth;
use crate::body::ProxyBody;
use crate::error::ProxyError;
use crate::layers::audit::{Audit, AuditContext, AuditLayer, Metered};
use crate::layers::authenticate::{Authenticate, AuthenticateLayer};
use crate::layers::authorize::{Authorize, AuthorizeLayer};
use crate::layers::identity_headers::IdentityHeaders;
use crate::layers::normalize::Normalize;
use crate::layers::request_id::SetRequestId;
use crate::layers::respond::Respond;
use crate::normalize::NormalizedPath;
use crate::stack::Stack;

/// The request body inside the pipeline: none (the authorizer never reads one).
pub type CheckBody = Metered<Empty<Bytes>>;

/// The whole check pipeline.
pub type CheckService =
    Audit<SetRequestId<Respond<Normalize<Authenticate<Authorize<IdentityHeaders<Decided>>>>>>>;

/// What the sidecar would have sent upstream, handed out in the response's extensions.
#[derive(Debug, Clone)]
struct Forwarded {
    headers: HeaderMap,
    /// The forwarded path and query, when it differs from the one sent.
    target: Option<String>,
}

/// The innermost service: instead of forwarding, records the request as it would have left.
#[derive(Debug, Clone, Copy, Default)]
pub struct Decided;

impl<B> Service<Request<B>> for Decided {
    type Response = Response<ProxyBody>;
    type Error = ProxyError;
    type Future = Ready<Result<Response<ProxyBody>, ProxyError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (parts, _) = req.into_parts();
        let sent = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let target = parts
            .extensions
            .get::<NormalizedPath>()
            .map(NormalizedPath::path_and_query)
            .filter(|forwarded| *forwarded != sent)
            .map(str::to_owned);
        let mut res = Response::new(ProxyBody::empty());
        res.extensions_mut().insert(Forwarded {
            headers: parts.headers,
            target,
        });
        ready(Ok(res))
    }
}

/// The answer to a check.
#[derive(Debug)]
pub enum Verdict {
    /// Forward the request after these changes.
    Allow {
        /// Headers to set (replacing any of the same name).
        set: Vec<(HeaderName, HeaderValue)>,
        /// Headers to remove.
        remove: Vec<HeaderName>,
        /// The path and query to forward, when it differs from the one sent.
        target: Option<String>,
    },
    /// Answer the caller with this instead.
    Deny {
        /// `403`, `400`, `431`, ….
        status: StatusCode,
        /// `content-type`, `x-amzn-errortype`, `x-amzn-requestid`.
        headers: HeaderMap,
        /// The one-line body of CONTRACT §3.
        body: Bytes,
    },
}

/// The changes that turn `original` into `forwarded`: every value that differs is set, every
/// name that is gone is removed. Takes `forwarded` so the values to set move out of it: each
/// name is looked up once in each map, and nothing is cloned but the names to remove.
pub fn difference(
    original: &HeaderMap,
    forwarded: HeaderMap,
) -> (Vec<(HeaderName, HeaderValue)>, Vec<HeaderName>) {
    let remove = original
        .keys()
        .filter(|name| !forwarded.contains_key(*name))
        .cloned()
        .collect();
    let mut set = Vec::new();
    // `into_iter` yields a name with its first value, then `None` with each further one.
    let mut group: Option<Group<'_>> = None;
    for (name, value) in forwarded {
        match name {
            Some(name) => {
                if let Some(done) = group.take() {
                    done.finish(&mut set);
                }
                let mut sent = original.get_all(&name).into_iter();
                let same = sent.next() == Some(&value);
                group = Some(Group {
                    name,
                    first: value,
                    sent,
                    same,
                });
            }
            None => {
                if let Some(g) = group.as_mut() {
                    g.same &= g.sent.next() == Some(&value);
                }
            }
        }
    }
    if let Some(done) = group {
        done.finish(&mut set);
    }
    (set, remove)
}

/// One name's values in the forwarded map, compared as they come with the original's.
struct Group<'a> {
    name: HeaderName,
    first: HeaderValue,
    sent: http::header::ValueIter<'a, HeaderValue>,
    same: bool,
}

impl Group<'_> {
    fn finish(mut self, set: &mut Vec<(HeaderName, HeaderValue)>) {
        // Every name the layers write holds one value.
        if !self.same || self.sent.next().is_some() {
            set.push((self.name, self.first));
        }
    }
}

/// The sidecar's layers for one front door, built once.
#[derive(Debug, Clone)]
pub struct Pipeline {
    service: CheckService,
}

impl Pipeline {
    /// The layers of `stack` (same normalization, header rules, target header, metrics and
    /// access log), deciding with `auth`, logging `door` as the `authorizer`.
    pub fn new(stack: &Stack, auth: &Auth, door: FrontDoor) -> Self {
        let shared = stack.audit_context();
        let audit = Arc::new(AuditContext {
            metrics: Arc::clone(&shared.metrics),
            requests: shared.requests.clone(),
            log: shared.log.clone(),
            service_arn: Arc::clone(&shared.service_arn),
            service_network_arn: shared.service_network_arn.clone(),
            mode: shared.mode,
            decision_log: shared.decision_log.clone(),
            authorizer: door.as_str(),
        });
        let service = ServiceBuilder::new()
            .layer(AuditLayer::new(audit))
            .layer(crate::layers::request_id::RequestIdLayer)
            .layer(crate::layers::respond::RespondLayer)
            .layer(stack.normalize_layer())
            .layer(AuthenticateLayer::new(
                Arc::clone(auth.snapshot()),
                Arc::clone(auth.settings()),
            ))
            .layer(AuthorizeLayer::new(Arc::clone(auth.settings())))
            .layer(stack.identity_headers_layer())
            .service(Decided);
        Self { service }
    }

    /// Decides `view` exactly as the sidecar would decide the same request.
    pub async fn check(&self, view: RequestView) -> Verdict {
        let (req, original) = match view.into_request() {
            Ok(r) => r,
            Err(e) => return Verdict::refused(&e),
        };
        let mut service = self.service.clone();
        let Ok(res) = service.call(req).await;
        let (mut parts, body) = res.into_parts();
        // Read to the end: the access-log line is written when the answer's body ends (a
        // body of the proxy's own cannot fail).
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        };
        match parts.extensions.remove::<Forwarded>() {
            Some(fwd) if parts.status == StatusCode::OK => {
                let (set, remove) = difference(&original, fwd.headers);
                Verdict::Allow {
                    set,
                    remove,
                    target: fwd.target,
                }
            }
            _ => Verdict::Deny {
                status: parts.status,
                headers: parts.headers,
                body,
            },
        }
    }
}

impl Verdict {
    /// The `400` for a request the proxy described in a way no request could be.
    pub fn refused(e: &super::view::ViewError) -> Verdict {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Verdict::Deny {
            status: StatusCode::BAD_REQUEST,
            headers,
            body: Bytes::from(format!("BadRequest: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_sets_changed_values_and_removes_gone_names() {
        let mut before = HeaderMap::new();
        before.insert("authorization", HeaderValue::from_static("AWS4 x"));
        before.insert(
            "x-amzn-lattice-identity",
            HeaderValue::from_static("spoofed"),
        );
        before.insert("accept", HeaderValue::from_static("*/*"));
        let mut after = HeaderMap::new();
        after.insert(
            "x-amzn-lattice-identity",
            HeaderValue::from_static("Principal=a"),
        );
        after.insert("accept", HeaderValue::from_static("*/*"));
        let (set, remove) = difference(&before, after);
        assert_eq!(
            set,
            vec![(
                HeaderName::from_static("x-amzn-lattice-identity"),
                HeaderValue::from_static("Principal=a")
            )]
        );
        assert_eq!(remove, vec![HeaderName::from_static("authorization")]);
    }

    #[test]
    fn a_name_with_several_values_is_set_unless_every_value_is_unchanged() {
        let mut before = HeaderMap::new();
        before.append("accept", HeaderValue::from_static("a"));
        before.append("accept", HeaderValue::from_static("b"));
        before.insert("x-one", HeaderValue::from_static("1"));
        let (set, remove) = difference(&before, before.clone());
        assert!(set.is_empty() && remove.is_empty());

        let mut fewer = before.clone();
        fewer.insert("accept", HeaderValue::from_static("a"));
        let (set, remove) = difference(&before, fewer);
        assert_eq!(
            set,
            vec![(
                HeaderName::from_static("accept"),
                HeaderValue::from_static("a")
            )]
        );
        assert!(remove.is_empty());

        let mut more = before.clone();
        more.append("accept", HeaderValue::from_static("c"));
        more.append("x-one", HeaderValue::from_static("2"));
        let (set, _) = difference(&before, more);
        assert_eq!(
            set,
            vec![
                (
                    HeaderName::from_static("accept"),
                    HeaderValue::from_static("a")
                ),
                (
                    HeaderName::from_static("x-one"),
                    HeaderValue::from_static("1")
                ),
            ]
        );
    }
}
