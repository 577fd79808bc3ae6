//! The per-request `Outcome`: the single record from which `Audit` derives both the metrics and
//! the access-log line, so the two can never disagree.
//!
//! Inner layers consume the request, so `Outcome` is a shared handle (`Arc`) placed in the
//! request extensions by `Audit`; each fact is written once (`OnceLock`, no mutex) by the layer
//! that knows it and read by `Audit` when the response body ends.
//!
//! It also carries what `Authenticate` hands on to the inner layers (the caller and its
//! identity headers): each value inserted in the request extensions is a heap block of its own
//! (and the fourth grows the map), while a fact set here costs none.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use smallvec::SmallVec;
use trellis_policy::Matched;

use crate::auth::AuthenticatedCaller;
use crate::caller_identity::CallerIdentity;
use crate::error::{PolicyLayer, ProxyError};
use crate::metrics::{AuthnResult, RequestOutcome};
use crate::normalize::SharedPath;

mod shadow;

pub use self::shadow::ShadowRecord;
pub use crate::logged_facts::{CallerLog, DecisionCounters};

/// Matched statements kept without allocating: a decision seldom matches more.
pub const INLINE_MATCHES: usize = 8;

/// The statements a decision matched, in order. The statement ids are the compiled policy's
/// `Arc<str>`s, so recording them copies no text; the list is written out off the request
/// path, by the access-log writer.
pub type MatchedStatements = SmallVec<[Matched; INLINE_MATCHES]>;

/// The shared per-request record; clone it out of the request extensions to fill it.
#[derive(Debug, Clone, Default)]
pub struct Outcome(Arc<Facts>);

#[derive(Debug, Default)]
struct Facts {
    path: OnceLock<SharedPath>,
    authn: OnceLock<AuthnRecord>,
    decision: OnceLock<DecisionRecord>,
    shadow: OnceLock<ShadowRecord>,
    failure: OnceLock<Failure>,
    target: OnceLock<SocketAddr>,
    request_body_end: OnceLock<Instant>,
    response_head: OnceLock<Instant>,
    auth_nanos: AtomicU64,
    bytes_received: AtomicU64,
    caller: OnceLock<AuthenticatedCaller>,
    identity: OnceLock<CallerIdentity>,
}

/// What `Authenticate` found out about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRecord {
    /// The `trellis_authn_total{result}` value.
    pub result: AuthnResult,
    /// The caller for the log (`None` when the request failed authentication).
    pub caller: Option<CallerLog>,
}

/// What `Authorize` decided.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// Whether the request may pass (in `audit` mode a denied request is still forwarded).
    pub allowed: bool,
    /// The denying layer (`authDeniedReason`), `None` when allowed.
    pub denied_layer: Option<PolicyLayer>,
    /// `matchedStatements` (see [`matched_list`]); empty when none.
    pub matched: MatchedStatements,
    /// `trellis_authz_decisions_total` handles to increment once the request is done.
    pub counters: DecisionCounters,
}

/// How the request failed, set by `Respond` (own answers) or by `Forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The `trellis_requests_total{outcome}` value.
    pub outcome: RequestOutcome,
    /// The access-log `failureReason`.
    pub reason: &'static str,
}

/// The outcome label and `failureReason` of an error.
pub fn classify(err: &ProxyError) -> Failure {
    let (outcome, reason) = match err {
        ProxyError::BadRequest(_) | ProxyError::HeadersTooLarge { .. } => {
            (RequestOutcome::BadRequest, "ClientProtocolError")
        }
        ProxyError::BodyDigest(_) => (RequestOutcome::BadRequest, "ClientProtocolError"),
        ProxyError::Authn(_) => (RequestOutcome::AuthnFailed, "ClientAccessDenied"),
        ProxyError::AuthnUnavailable(_) => {
            (RequestOutcome::AuthnFailed, "AuthenticationUnavailable")
        }
        ProxyError::Denied(_) => (RequestOutcome::Denied, "ClientAccessDenied"),
        ProxyError::Upstream(e) => (RequestOutcome::UpstreamError, e.failure_reason()),
        ProxyError::Internal(_) => (RequestOutcome::UpstreamError, "InternalError"),
    };
    Failure { outcome, reason }
}

impl Outcome {
    /// A fresh record for one request.
    pub fn new() -> Self {
        Self::default()
    }

    /// The record in `req`'s extensions, placed there first if no `Audit` layer did.
    pub fn of<B>(req: &mut http::Request<B>) -> Self {
        if let Some(o) = req.extensions().get::<Self>() {
            return o.clone();
        }
        let o = Self::new();
        req.extensions_mut().insert(o.clone());
        o
    }

    /// Records the authenticated caller, for `Authorize` (first write wins).
    pub fn set_caller(&self, caller: AuthenticatedCaller) {
        let _ = self.0.caller.set(caller);
    }

    /// The authenticated caller (anonymous included), once `Authenticate` admitted it.
    pub fn caller(&self) -> Option<&AuthenticatedCaller> {
        self.0.caller.get()
    }

    /// Records a signed caller's identity headers, for `IdentityHeaders` and the policy's view
    /// of them (first write wins).
    pub fn set_identity(&self, identity: CallerIdentity) {
        let _ = self.0.identity.set(identity);
    }

    /// The caller's identity headers; `None` for anonymous callers.
    pub fn identity(&self) -> Option<&CallerIdentity> {
        self.0.identity.get()
    }

    /// Records the normalized path (`requestPath`), shared with the request's
    /// `NormalizedPath` and the access-log record.
    pub fn set_path(&self, path: SharedPath) {
        let _ = self.0.path.set(path);
    }

    /// The normalized path, if normalization succeeded.
    pub fn path(&self) -> Option<&SharedPath> {
        self.0.path.get()
    }

    /// Records the authentication result (first write wins).
    pub fn set_authn(&self, record: AuthnRecord) {
        let _ = self.0.authn.set(record);
    }

    /// The authentication result, if an `Authenticate` layer ran.
    pub fn authn(&self) -> Option<&AuthnRecord> {
        self.0.authn.get()
    }

    /// Records the authorization decision (first write wins).
    pub fn set_decision(&self, record: DecisionRecord) {
        let _ = self.0.decision.set(record);
    }

    /// The authorization decision, if an `Authorize` layer ran.
    pub fn decision(&self) -> Option<&DecisionRecord> {
        self.0.decision.get()
    }

    /// Records the shadow decision (first write wins).
    pub fn set_shadow(&self, record: ShadowRecord) {
        let _ = self.0.shadow.set(record);
    }

    /// The shadow decision, if shadow policies are configured and `Authorize` ran.
    pub fn shadow(&self) -> Option<&ShadowRecord> {
        self.0.shadow.get()
    }

    /// Records how the request failed (first write wins).
    pub fn set_failure(&self, failure: Failure) {
        let _ = self.0.failure.set(failure);
    }

    /// How the request failed, if it did.
    pub fn failure(&self) -> Option<Failure> {
        self.0.failure.get().copied()
    }

    /// Adds time spent authenticating and authorizing.
    pub fn add_auth_duration(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.0.auth_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Time spent authenticating and authorizing; `None` when no auth layer ran.
    pub fn auth_duration(&self) -> Option<Duration> {
        match self.0.auth_nanos.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// Records the upstream address the request went to (`targetIpPort`).
    pub fn set_target(&self, addr: SocketAddr) {
        let _ = self.0.target.set(addr);
    }

    /// The upstream address, if the request reached it.
    pub fn target(&self) -> Option<SocketAddr> {
        self.0.target.get().copied()
    }

    /// Marks the end of the request body (last byte towards the target).
    pub fn mark_request_body_end(&self) {
        let _ = self.0.request_body_end.set(Instant::now());
    }

    /// When the request body ended.
    pub fn request_body_end(&self) -> Option<Instant> {
        self.0.request_body_end.get().copied()
    }

    /// Marks the arrival of the upstream's response head.
    pub fn mark_response_head(&self) {
        let _ = self.0.response_head.set(Instant::now());
    }

    /// When the upstream's response head arrived.
    pub fn response_head(&self) -> Option<Instant> {
        self.0.response_head.get().copied()
    }

    /// Adds request bytes received from the caller.
    pub fn add_bytes_received(&self, n: u64) {
        self.0.bytes_received.fetch_add(n, Ordering::Relaxed);
    }

    /// Request bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.0.bytes_received.load(Ordering::Relaxed)
    }

    /// The `trellis_requests_total{outcome}` value: a failure wins, then a recorded denial
    /// (audit mode forwards those), else `allowed`.
    pub fn request_outcome(&self) -> RequestOutcome {
        if let Some(f) = self.failure() {
            return f.outcome;
        }
        match self.decision() {
            Some(d) if !d.allowed => RequestOutcome::Denied,
            _ => RequestOutcome::Allowed,
        }
    }
}

/// `service#0(AllowCheckout),identity#2`.
///
/// Built for every logged decision (by the log writer, off the request path), so it is
/// written with `push_str` and `itoa`: `write!` costs several times the decision itself.
pub fn matched_list(matched: &[Matched]) -> String {
    let mut s = String::with_capacity(matched.len() * 32);
    push_matched_list(&mut s, matched);
    s
}

/// Appends [`matched_list`]`(matched)` to `s`.
pub fn push_matched_list(s: &mut String, matched: &[Matched]) {
    for (i, m) in matched.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(m.layer.as_str());
        s.push('#');
        s.push_str(itoa::Buffer::new().format(m.index));
        if let Some(sid) = &m.sid {
            s.push('(');
            s.push_str(sid);
            s.push(')');
        }
    }
}
