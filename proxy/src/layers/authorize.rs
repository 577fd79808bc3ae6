//! Authorization: the Lattice layered decision (network, service, identity) for
//! `vpc-lattice-svcs:Invoke` on `<service ARN><normalized path>`, with the snapshot the
//! `Authenticate` layer loaded for this request.
//!
//! The decision is synchronous and borrows everything; the resource string and the matched
//! statement list are thread-local buffers reused across requests.

mod context;
mod query_groups;
mod shadow;

use std::cell::RefCell;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use futures_util::future::{ready, Either, Ready};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use trellis_policy::{decide, LayerPolicy, Layers, Matched, Principal, Reason};

pub use self::context::{iso8601, RequestContext};
use crate::auth::{AuthSettings, AuthenticatedCaller, IdentityPolicies, Mode};
use crate::body::ProxyBody;
use crate::connection::ConnectionInfo;
use crate::error::{BadRequest, Denied, PolicyLayer, ProxyError};
use crate::normalize::{query_key_in_two_cases, NormalizedPath};
use crate::outcome::{DecisionRecord, Outcome};
use crate::request_head::{check_read_headers, HeaderError};

/// The action every HTTP request is authorized for.
pub const INVOKE: &str = "vpc-lattice-svcs:Invoke";

thread_local! {
    static SCRATCH: RefCell<(String, Vec<Matched>)> = const { RefCell::new((String::new(), Vec::new())) };
}

/// Adds [`Authorize`].
#[derive(Debug, Clone)]
pub struct AuthorizeLayer {
    settings: Arc<AuthSettings>,
}

impl AuthorizeLayer {
    /// A layer deciding with `settings`.
    pub fn new(settings: Arc<AuthSettings>) -> Self {
        Self { settings }
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;
    fn layer(&self, inner: S) -> Authorize<S> {
        Authorize {
            inner,
            settings: Arc::clone(&self.settings),
        }
    }
}

/// Decides the request; see the module docs.
#[derive(Debug, Clone)]
pub struct Authorize<S> {
    inner: S,
    settings: Arc<AuthSettings>,
}

/// The `AccessDeniedException` message (after `AccessDeniedException: `), CONTRACT §3.
///
/// Written with `push_str` into a buffer of the final size: one heap block per denial.
pub fn denied_message(user: &str, resource: &str, layer: PolicyLayer, explicit: bool) -> String {
    let layer = layer.as_str();
    let head = [
        "User: ",
        user,
        " is not authorized to perform: ",
        INVOKE,
        " on resource: ",
        resource,
    ];
    let tail = if explicit {
        [
            " with an explicit deny in a ",
            layer,
            "-based policy",
            "",
            "",
        ]
    } else {
        [
            " because no ",
            layer,
            "-based policy allows the ",
            INVOKE,
            " action",
        ]
    };
    let mut s = String::with_capacity(head.iter().chain(&tail).map(|p| p.len()).sum());
    for p in head.iter().chain(&tail) {
        s.push_str(p);
    }
    s
}

/// Decides `req` (already authenticated) and records the decision in its outcome; `Err` is the
/// denial to answer (never in audit mode).
pub fn authorize<B>(
    req: &Request<B>,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<(), ProxyError> {
    let ext = req.extensions();
    let outcome = ext.get::<Outcome>();
    let (Some(caller), Some(path)) = (
        outcome.and_then(Outcome::caller),
        ext.get::<NormalizedPath>(),
    ) else {
        return Err(ProxyError::Internal(
            "authorize ran without an authenticated caller or a normalized path".to_owned(),
        ));
    };
    let snapshot = &caller.snapshot;
    // Here, not in `Normalize`: which headers are read depends on the policies, and this is
    // the snapshot the decision below uses (a reload after an earlier load could add one).
    check_read_headers(req.headers(), snapshot.read_headers()).map_err(BadRequest::Header)?;
    if let Some((a, b)) = path
        .query()
        .and_then(|q| query_key_in_two_cases(q, snapshot.read_query_keys()))
    {
        return Err(BadRequest::Header(HeaderError::QueryKeyInTwoCases(a, b)).into());
    }
    let principal = match &caller.token {
        Some(token) => Some(&token.record),
        None => caller
            .principal
            .and_then(|h| snapshot.principals().principals().get(h)),
    };
    let identity = match (principal, settings.identity_policies) {
        (Some(p), IdentityPolicies::Enforce) => LayerPolicy::Policies(&p.policies),
        _ => LayerPolicy::Off,
    };
    let layers = Layers {
        network: snapshot.network().layer(),
        service: snapshot.service().layer(),
        identity,
    };
    let context = RequestContext::new(
        settings,
        ext.get::<ConnectionInfo>(),
        req.method().as_str(),
        path,
        req.headers(),
        principal,
        now,
    )
    .with_caller(outcome.and_then(Outcome::identity));
    SCRATCH.with_borrow_mut(|(resource, matches)| {
        resource.clear();
        resource.push_str(&settings.service_arn);
        resource.push_str(path.path());
        let request = trellis_policy::Request {
            principal: principal.map_or(Principal::Anonymous, |p| p.as_principal()),
            action: INVOKE,
            resource,
        };
        let decision = decide(&layers, &request, &context, matches);
        if let Some(log) = ext.get::<crate::decision_log::DecisionLog>() {
            log_decision(
                log, req, settings, caller, &layers, decision, matches, &context,
            );
        }
        let denied = decision
            .layer
            .filter(|_| decision.reason != Reason::Allowed)
            .map(|l| (l, decision.reason == Reason::ExplicitDeny));
        if let Some(outcome) = outcome {
            outcome.set_decision(DecisionRecord {
                allowed: denied.is_none(),
                denied_layer: denied.map(|(l, _)| l),
                matched: matches.iter().cloned().collect(),
                counters: snapshot.decision_counters(caller.principal, matches, denied),
            });
            // After the enforced decision is recorded: the scratch list is reused.
            if let Some(record) = shadow::decide_shadow(
                snapshot,
                &layers,
                &request,
                &context,
                matches,
                caller.principal,
                denied.is_none(),
            ) {
                outcome.set_shadow(record);
            }
        }
        match (denied, settings.mode) {
            (Some((layer, explicit)), Mode::Enforce) => {
                let user = principal.map_or("anonymous", |p| p.caller_arn.as_str());
                Err(ProxyError::Denied(Denied {
                    message: denied_message(user, resource, layer, explicit),
                    layer,
                }))
            }
            _ => Ok(()),
        }
    })
}

/// Hands the decision to the decision log (`--decision-log`): references and clones only, the
/// writer task formats.
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is one fact of the decision the log records; a struct would only repeat them"
)]
fn log_decision<B>(
    log: &crate::decision_log::DecisionLog,
    req: &Request<B>,
    settings: &AuthSettings,
    caller: &AuthenticatedCaller,
    layers: &Layers<'_>,
    decision: trellis_policy::Decision,
    matches: &[Matched],
    context: &RequestContext<'_>,
) {
    use crate::decision_log::{CallerRef, DecisionEntry};
    let caller_ref = match (&caller.token, caller.principal) {
        (Some(token), _) => Some(CallerRef::Token(Arc::clone(token))),
        (None, Some(handle)) => Some(CallerRef::Listed(Arc::clone(&caller.snapshot), handle)),
        (None, None) => None,
    };
    let on = |l: &LayerPolicy<'_>| matches!(l, LayerPolicy::Policies(_));
    log.submit(DecisionEntry {
        time: context.now,
        // `decide` skips the identity layer exactly when it is `Off` here (anonymous callers
        // have no principal record, hence `Off`).
        evaluated: [
            on(&layers.network),
            on(&layers.service),
            on(&layers.identity),
        ],
        caller: caller_ref,
        identity: context.caller.cloned(),
        method: req.method().clone(),
        path: context.path.clone(),
        headers: req.headers().clone(),
        conn: context.conn.cloned(),
        service_arn: Arc::clone(&settings.service_arn),
        service_network_arn: settings.service_network_arn.clone(),
        source_vpc: settings.source_vpc.clone(),
        source_vpc_owner: settings.source_vpc_owner.clone(),
        xff: settings.xff,
        decision,
        matched: matches.to_vec(),
    });
}

impl<S, B> Service<Request<B>> for Authorize<S>
where
    S: Service<Request<B>, Response = Response<ProxyBody>, Error = ProxyError>,
{
    type Response = Response<ProxyBody>;
    type Error = ProxyError;
    type Future = Either<Ready<Result<Response<ProxyBody>, ProxyError>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if !self.settings.enabled {
            return Either::Right(self.inner.call(req));
        }
        let start = Instant::now();
        let result = authorize(&req, &self.settings, SystemTime::now());
        if let Some(o) = req.extensions().get::<Outcome>() {
            o.add_auth_duration(start.elapsed());
        }
        match result {
            Ok(()) => Either::Right(self.inner.call(req)),
            Err(e) => Either::Left(ready(Err(e))),
        }
    }
}

#[cfg(test)]
mod tests;
