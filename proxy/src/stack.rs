//! The request path, in one place: [`Stack::service`] lists every layer, outermost first —
//! `Audit → SetRequestId → Respond → Normalize → Authenticate → Authorize → IdentityHeaders →
//! Forward`. With both auth types `NONE` (`AuthSettings::enabled` false) the two auth layers
//! pass requests through untouched.
//!
//! What the auth layers find: the `x-amzn-requestid` request header (always set), `Host`
//! holding the request's one authority, no hop-by-hop header and no dropped underscore
//! header ([`crate::request_head::settle`], run by `Normalize`), and in the
//! request extensions [`crate::connection::ConnectionInfo`] (caller address, TLS),
//! [`crate::normalize::NormalizedPath`] (the path for the resource and `RequestPath`, the forwarded
//! query and its decoded pairs) and [`crate::outcome::Outcome`]. What they leave:
//! - `Authenticate`: `Outcome::set_caller` (the snapshot and the caller in it, for `Authorize`)
//!   and `Outcome::set_authn` with the result and the caller's log fields; for a signed caller
//!   also `Outcome::set_identity`, its [`crate::caller_identity::CallerIdentity`] (precomputed
//!   headers; `IdentityHeaders` forwards them); on failure
//!   it returns `Err(ProxyError::Authn { error_type, message, metric_label })`.
//! - `Authorize`: `Outcome::set_decision` (allowed, denying layer, matched statements and the
//!   statement counters resolved by `Metrics::statement_counters` when the snapshot was
//!   compiled) and `Outcome::add_auth_duration`; on a denial in `enforce` mode it returns
//!   `Err(ProxyError::Denied { message, layer })`, in `audit` mode it forwards.
//!
//! `Respond` turns the error into the answer and records it in the `Outcome` (filling the
//! authn result or denial if the layer did not); `Audit` counts and logs from the `Outcome`
//! when the response body ends.

use std::sync::Arc;

use http::HeaderValue;
use hyper::body::Incoming;
use tower::ServiceBuilder;

use crate::access_log::AccessLog;
use crate::auth::{Auth, Mode};
use crate::layers::audit::{Audit, AuditContext, AuditLayer, Metered};
use crate::layers::authenticate::{Authenticate, AuthenticateLayer};
use crate::layers::authorize::{Authorize, AuthorizeLayer};
use crate::layers::body_digest::DigestChecked;
use crate::layers::forward::Forward;
use crate::layers::identity_headers::{target_header, IdentityHeaders, IdentityHeadersLayer};
use crate::layers::normalize::{HeaderLimits, Normalize, NormalizeLayer};
use crate::layers::request_id::{RequestIdLayer, SetRequestId};
use crate::layers::respond::{Respond, RespondLayer};
use crate::metrics::Metrics;
use crate::normalize::PathRules;
use crate::request_head::HeaderRules;
use crate::upstream::{Upstream, UpstreamConfig, UpstreamSetupError};

/// The request body type inside the stack (the caller's body, metered by `Audit`).
pub type RequestBody = Metered<Incoming>;

/// What the auth layers wrap: identity headers, then the upstream.
pub type AuthInner = IdentityHeaders<Forward<RequestBody>>;

/// The whole stack; what the server serves.
pub type ProxyService = Audit<SetRequestId<Respond<Normalize<Authenticate<Authorize<AuthInner>>>>>>;

/// The stack with another auth layer `A` (tests of the plumbing).
#[cfg(feature = "test-util")]
pub type ProxyServiceWith<A> =
    Audit<SetRequestId<Respond<Normalize<<A as tower_layer::Layer<AuthInner>>::Service>>>>;

/// `Authenticate → Authorize` as one layer, for [`Stack::service_with_auth`] in tests that
/// start the real auth layers next to fakes.
#[cfg(feature = "test-util")]
pub type AuthLayers = tower_layer::Stack<AuthorizeLayer, AuthenticateLayer>;

/// The real auth layers over `auth`, as [`Stack::service`] places them.
#[cfg(feature = "test-util")]
pub fn auth_layers(auth: &Auth) -> AuthLayers {
    tower_layer::Stack::new(
        AuthorizeLayer::new(Arc::clone(auth.settings())),
        AuthenticateLayer::new(Arc::clone(auth.snapshot()), Arc::clone(auth.settings())),
    )
}

/// What the stack needs to know.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// `--service-arn`.
    pub service_arn: String,
    /// `--service-network-arn`.
    pub service_network_arn: Option<String>,
    /// `--mode` (logged; the `Authorize` layer acts on it).
    pub mode: Mode,
    /// Header limits answered with `431`.
    pub header_limits: HeaderLimits,
    /// How request paths are read (`--allow-path-semicolons`).
    pub path_rules: PathRules,
    /// `--headers-with-underscores`, `--xff`.
    pub header_rules: HeaderRules,
    /// The upstream.
    pub upstream: UpstreamConfig,
}

/// The stack cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// An ARN holds a character not allowed in a header.
    #[error("`{0}` cannot be sent in `x-amzn-lattice-target`; check `--service-arn` and `--service-network-arn`")]
    Arn(String),
    /// The upstream cannot be set up.
    #[error(transparent)]
    Upstream(#[from] UpstreamSetupError),
}

/// The shared parts of every connection's stack, built once per worker (see
/// [`Stack::worker`]).
#[derive(Debug, Clone)]
pub struct Stack {
    audit: Arc<AuditContext>,
    upstream: Arc<Upstream<DigestChecked<RequestBody>>>,
    upstream_config: UpstreamConfig,
    target: HeaderValue,
    limits: HeaderLimits,
    path_rules: PathRules,
    header_rules: HeaderRules,
}

impl Stack {
    /// Builds the upstream pools and the audit context.
    pub fn new(
        config: &StackConfig,
        metrics: Arc<Metrics>,
        log: AccessLog,
    ) -> Result<Self, StackError> {
        let target = target_header(&config.service_arn, config.service_network_arn.as_deref())
            .ok_or_else(|| StackError::Arn(config.service_arn.clone()))?;
        Ok(Self {
            audit: Arc::new(AuditContext {
                requests: metrics.shard(0).clone(),
                metrics,
                log,
                service_arn: config.service_arn.as_str().into(),
                service_network_arn: config.service_network_arn.as_deref().map(Arc::from),
                mode: config.mode.as_str(),
                decision_log: None,
                authorizer: "-",
            }),
            upstream: Arc::new(Upstream::new(&config.upstream)?),
            upstream_config: config.upstream.clone(),
            target,
            limits: config.header_limits,
            path_rules: config.path_rules,
            header_rules: config.header_rules,
        })
    }

    /// Records every decision into `log` (`--decision-log`); call before serving.
    pub fn set_decision_log(&mut self, log: crate::decision_log::DecisionLog) {
        if let Some(audit) = Arc::get_mut(&mut self.audit) {
            audit.decision_log = Some(log);
        }
    }

    /// This stack for worker `index`: its own upstream pool, so no pooled connection is ever
    /// shared by two workers' threads, and its own shard of the request metrics
    /// ([`Metrics::shard`]). Everything else (log queues, limits, rules) is shared.
    pub fn worker(&self, index: usize) -> Result<Self, StackError> {
        let shared = &self.audit;
        Ok(Self {
            audit: Arc::new(AuditContext {
                metrics: Arc::clone(&shared.metrics),
                requests: shared.metrics.shard(index).clone(),
                log: shared.log.clone(),
                service_arn: Arc::clone(&shared.service_arn),
                service_network_arn: shared.service_network_arn.clone(),
                mode: shared.mode,
                decision_log: shared.decision_log.clone(),
                authorizer: shared.authorizer,
            }),
            upstream: Arc::new(Upstream::new(&self.upstream_config)?),
            ..self.clone()
        })
    }

    /// The metrics every request is counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.audit.metrics
    }

    /// The request path, outermost first.
    pub fn service(&self, auth: &Auth) -> ProxyService {
        ServiceBuilder::new()
            // Metrics and the access log from one `Outcome` record; runs on every path.
            .layer(AuditLayer::new(Arc::clone(&self.audit)))
            // `x-amzn-requestid` in and out.
            .layer(RequestIdLayer)
            // The only place a `ProxyError` becomes an HTTP answer.
            .layer(RespondLayer)
            // One reading of the request head; one normalized path for policy and upstream.
            .layer(self.normalize_layer())
            // SigV4/SigV4A → caller (or anonymous), against the snapshot loaded once.
            .layer(AuthenticateLayer::new(
                Arc::clone(auth.snapshot()),
                Arc::clone(auth.settings()),
            ))
            // The layered decision: network, service and identity policies.
            .layer(AuthorizeLayer::new(Arc::clone(auth.settings())))
            // Spoofable `x-amzn-*` headers stripped, the caller's identity headers added.
            .layer(self.identity_headers_layer())
            // The pooled upstream client.
            .service(self.forward())
    }

    /// [`Stack::service`] with `auth` in place of `Authenticate → Authorize`, for tests of
    /// the plumbing (`tower_layer::Identity` for none).
    #[cfg(feature = "test-util")]
    pub fn service_with_auth<A>(&self, auth: &A) -> ProxyServiceWith<A>
    where
        A: tower_layer::Layer<AuthInner>,
    {
        ServiceBuilder::new()
            .layer(AuditLayer::new(Arc::clone(&self.audit)))
            .layer(RequestIdLayer)
            .layer(RespondLayer)
            .layer(self.normalize_layer())
            .layer(auth)
            .layer(self.identity_headers_layer())
            .service(self.forward())
    }

    /// What every access-log line and metric of this stack shares (`trellis authz` builds its
    /// check pipelines from it).
    pub fn audit_context(&self) -> &Arc<AuditContext> {
        &self.audit
    }

    /// `Normalize` with this stack's limits, path and header rules.
    pub fn normalize_layer(&self) -> NormalizeLayer {
        NormalizeLayer::new(self.limits)
            .with_path_rules(self.path_rules)
            .with_header_rules(self.header_rules)
    }

    /// `IdentityHeaders` with this stack's target header and `--xff`.
    pub fn identity_headers_layer(&self) -> IdentityHeadersLayer {
        IdentityHeadersLayer::new(self.target.clone(), self.header_rules.xff)
    }

    fn forward(&self) -> Forward<RequestBody> {
        Forward::new(Arc::clone(&self.upstream))
    }
}
