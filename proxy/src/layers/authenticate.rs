//! Authentication: the request's SigV4/SigV4A signature checked against the principals of the
//! snapshot in force, on the request exactly as it arrived.
//!
//! A signed caller gets its precomputed [`crate::caller_identity::CallerIdentity`] (only
//! `HeaderValue` clones) and an [`AuthenticatedCaller`], both recorded in the request's
//! [`Outcome`]; an unsigned one is anonymous; a
//! request carrying signature material that fails is rejected, never treated as anonymous.
//! A signature over a hex `x-amz-content-sha256` leaves a [`SignedBodyDigest`], against which
//! `Forward` checks the body.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use futures_util::future::{ready, Either, Ready};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::body_digest::SignedBodyDigest;
use crate::auth::{AuthSettings, AuthenticatedCaller};
use crate::body::ProxyBody;
use crate::error::{Authn, ProxyError};
use crate::metrics::AuthnResult;
use crate::outcome::{AuthnRecord, Outcome};
use crate::snapshot::Snapshot;
use crate::sts::{self, TokenCheck};
use trellis_sigv4::{self as sigv4, AuthError, Authenticated, RequestParts};

/// Adds [`Authenticate`].
#[derive(Debug, Clone)]
pub struct AuthenticateLayer {
    snapshot: Arc<ArcSwap<Snapshot>>,
    settings: Arc<AuthSettings>,
}

impl AuthenticateLayer {
    /// Authenticates against the principals of `snapshot`'s current value.
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>, settings: Arc<AuthSettings>) -> Self {
        Self { snapshot, settings }
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;
    fn layer(&self, inner: S) -> Authenticate<S> {
        Authenticate {
            inner,
            layer: self.clone(),
        }
    }
}

/// Verifies the caller; see the module docs.
#[derive(Debug, Clone)]
pub struct Authenticate<S> {
    inner: S,
    layer: AuthenticateLayer,
}

/// The `ProxyError` for a verifier failure: AWS's error type and wording, the metric label.
pub fn authn_error(e: &AuthError) -> ProxyError {
    ProxyError::Authn(Authn {
        error_type: e.kind.error_type(),
        message: e.message().to_owned(),
        metric_label: e.reason.metric_label(),
    })
}

/// Authenticates `req` against `snapshot` at `now`; on success the caller facts are in the
/// request extensions and the outcome.
pub fn authenticate<B>(
    req: &mut Request<B>,
    snapshot: Arc<Snapshot>,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<(), ProxyError> {
    let outcome = Outcome::of(req);
    let record = |result: AuthnResult, caller| outcome.set_authn(AuthnRecord { result, caller });
    let verified = {
        let parts = RequestParts {
            method: req.method().as_str(),
            target: req.uri().path_and_query().map_or("/", |pq| pq.as_str()),
            headers: req.headers(),
            authority: req.uri().authority().map(|a| a.as_str()),
        };
        match sigv4::verify(&settings.verifier, &parts, now, snapshot.principals()) {
            Ok(Authenticated::Anonymous) => Ok(None),
            Ok(Authenticated::Signed {
                key,
                payload_sha256,
                ..
            }) => Ok(Some((key.principal(), payload_sha256))),
            Err(e) => Err(e),
        }
    };
    match verified {
        Ok(None) => {
            record(AuthnResult::Anonymous, None);
            outcome.set_caller(AuthenticatedCaller {
                snapshot,
                principal: None,
                token: None,
            });
            Ok(())
        }
        Ok(Some((handle, payload_sha256))) => {
            let Some(view) = snapshot.caller(handle) else {
                return Err(ProxyError::Internal(format!(
                    "principal handle {handle} has no caller view"
                )));
            };
            record(AuthnResult::Signed, Some(view.log.clone()));
            if let Some(digest) = payload_sha256 {
                req.extensions_mut().insert(SignedBodyDigest(digest));
            }
            outcome.set_identity(view.identity.clone());
            outcome.set_caller(AuthenticatedCaller {
                snapshot,
                principal: Some(handle),
                token: None,
            });
            Ok(())
        }
        Err(e) => {
            record(AuthnResult::from_label(e.reason.metric_label()), None);
            Err(authn_error(&e))
        }
    }
}

/// Puts a verified identity-token caller into the request, as [`authenticate`] does for a
/// signed one: its identity headers, the snapshot it is mapped onto, the log fields.
pub fn admit_token_caller<B>(
    req: &mut Request<B>,
    snapshot: Arc<Snapshot>,
    caller: Arc<crate::sts::TokenCaller>,
) {
    let outcome = Outcome::of(req);
    outcome.set_authn(AuthnRecord {
        result: AuthnResult::Token,
        caller: Some(caller.view.log.clone()),
    });
    outcome.set_identity(caller.view.identity.clone());
    outcome.set_caller(AuthenticatedCaller {
        snapshot,
        principal: caller.role,
        token: Some(caller),
    });
}

/// The future of a request whose identity token needs STS (boxed: only on a cache miss).
type TokenFuture = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, ProxyError>> + Send>>;

impl<S, B> Service<Request<B>> for Authenticate<S>
where
    S: Service<Request<B>, Response = Response<ProxyBody>, Error = ProxyError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<ProxyBody>;
    type Error = ProxyError;
    type Future =
        Either<Either<Ready<Result<Response<ProxyBody>, ProxyError>>, S::Future>, TokenFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if !self.layer.settings.enabled {
            return Either::Left(Either::Right(self.inner.call(req)));
        }
        let start = Instant::now();
        let snapshot = self.layer.snapshot.load_full();
        let now = SystemTime::now();
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let settings = &self.layer.settings;
        let result = match sts::check(settings.sts.as_ref(), req.headers(), target, &snapshot, now)
        {
            TokenCheck::NotToken => authenticate(&mut req, snapshot, settings, now),
            TokenCheck::Ready(r) => r.map(|caller| admit_token_caller(&mut req, snapshot, caller)),
            TokenCheck::Pending(verified) => {
                if let Some(o) = req.extensions().get::<Outcome>() {
                    o.add_auth_duration(start.elapsed());
                }
                // The ready service goes into the future; a clone takes its place.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                return Either::Right(Box::pin(async move {
                    let caller = verified.await?;
                    admit_token_caller(&mut req, snapshot, caller);
                    inner.call(req).await
                }));
            }
        };
        if let Some(o) = req.extensions().get::<Outcome>() {
            o.add_auth_duration(start.elapsed());
        }
        match result {
            Ok(()) => Either::Left(Either::Right(self.inner.call(req))),
            Err(e) => Either::Left(Either::Left(ready(Err(e)))),
        }
    }
}
