//! Assembles the per-request tower stack:
//! `Audit → SetRequestId → Respond → Normalize → [auth] → IdentityHeaders → Forward`.
//!
//! The auth slot is a type parameter: any `Layer<AuthInner>` whose service answers
//! `Result<Response<ProxyBody>, ProxyError>`. Tests of the plumbing pass [`NoAuth`];
//! `trellis run` passes [`crate::layers::auth::auth_layers`] (`Authenticate` outside
//! `Authorize`, over the snapshot cell), which pass requests through untouched when both
//! auth types are `NONE`.
//!
//! What an auth layer finds: the `x-amzn-requestid` request header (always set), `Host`
//! holding the request's one authority, no hop-by-hop header and no dropped underscore
//! header ([`crate::request_head::settle`], run by `Normalize`), and in the
//! request extensions [`crate::layers::ConnectionInfo`] (caller address, TLS),
//! [`crate::normalize::NormalizedPath`] (the path for the resource and `RequestPath`, the forwarded
//! query and its decoded pairs) and [`crate::outcome::Outcome`]. What it leaves:
//! - `Authenticate`: for a signed caller, a [`crate::caller_identity::CallerIdentity`] (its
//!   precomputed headers; `IdentityHeaders` forwards them) and `Outcome::set_authn` with the
//!   result and the caller's log fields; for an anonymous caller only `set_authn`; on failure
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
use tower_layer::Layer;

use crate::access_log::AccessLog;
use crate::layers::audit::{Audit, AuditContext, AuditLayer, Metered};
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

/// The service the auth slot wraps.
pub type AuthInner = IdentityHeaders<Forward<RequestBody>>;

/// The whole stack for an auth layer `A`; what the server serves.
pub type ProxyService<A> =
    Audit<SetRequestId<Respond<Normalize<<A as Layer<AuthInner>>::Service>>>>;

/// The pass-through auth slot (no authentication, no authorization).
pub type NoAuth = tower_layer::Identity;

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Denied requests are answered `403`.
    #[default]
    Enforce,
    /// Denied requests are logged and counted, then forwarded.
    Audit,
}

impl Mode {
    /// The access-log spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Audit => "audit",
        }
    }
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

/// The shared parts of every connection's stack, built once.
#[derive(Debug, Clone)]
pub struct Stack {
    audit: Arc<AuditContext>,
    upstream: Arc<Upstream<DigestChecked<RequestBody>>>,
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
                metrics,
                log,
                service_arn: config.service_arn.as_str().into(),
                service_network_arn: config.service_network_arn.as_deref().map(Arc::from),
                mode: config.mode.as_str(),
                decision_log: None,
            }),
            upstream: Arc::new(Upstream::new(&config.upstream)?),
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

    /// The metrics every request is counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.audit.metrics
    }

    /// The full service with `auth` in the auth slot.
    pub fn service<A>(&self, auth: &A) -> ProxyService<A>
    where
        A: Layer<AuthInner>,
    {
        let inner = IdentityHeadersLayer::new(self.target.clone(), self.header_rules.xff)
            .layer(Forward::new(Arc::clone(&self.upstream)));
        let authed = auth.layer(inner);
        let normalize = NormalizeLayer::new(self.limits)
            .with_path_rules(self.path_rules)
            .with_header_rules(self.header_rules);
        AuditLayer::new(Arc::clone(&self.audit))
            .layer(RequestIdLayer.layer(RespondLayer.layer(normalize.layer(authed))))
    }
}
