//! STS identity tokens: IAM-role callers (EKS Pod Identity/IRSA, ECS task roles, IAM Roles
//! Anywhere) whose rotating secrets can never be in a principals file prove who they are with
//! the token `aws eks get-token --cluster-name <audience>` prints, which this proxy sends to
//! STS (CONTRACT §4b). A peer of SigV4 inside `Authenticate`: the same
//! [`crate::caller_identity::CallerIdentity`] comes out, so nothing after it knows which
//! identity source it was.
//!
//! [`check`] is the one call `Authenticate` makes. A request without such a token is not
//! touched. A cached token is answered synchronously, allocating nothing; a token refused by
//! the local checks ([`token`]) never reaches STS; only a new, well-formed token costs an STS
//! call, shared by every concurrent request with that token and rate-limited.

mod cache;
mod client;
mod clock;
mod identity;
mod metrics;
mod rate;
pub mod token;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Uri};
use sha2::{Digest as _, Sha256};

use crate::error::{Authn, ProxyError};
use crate::snapshot::Snapshot;

use self::cache::{Lookup, Settled, TokenCache};
pub use self::client::{ClientSetupError, StsAnswer, StsClient, StsIdentity, STS_TIMEOUT};
pub use self::identity::TokenCaller;
pub use self::metrics::{StsMetrics, TokenResult};
use self::rate::{RateLimit, STS_CALLS_PER_SECOND, STS_CALL_BURST};
use self::token::{TokenErrorKind, TOKEN_PREFIX};

/// `--sts-cache` default.
pub const DEFAULT_CACHE_ENTRIES: usize = 10_000;

/// `--sts-audience`, `--sts-endpoint`, `--sts-cache`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsConfig {
    /// The `x-k8s-aws-id` callers sign and we send to STS.
    pub audience: String,
    /// Where STS is asked instead of the token's host (a VPC endpoint, a local STS in tests).
    pub endpoint: Option<Uri>,
    /// Verified tokens kept.
    pub cache_entries: usize,
}

/// Why a well-formed token did not verify; cloned to every request waiting on the call.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// STS refused it.
    Rejected(Arc<str>),
    /// STS could not answer.
    Unavailable(Arc<str>),
}

/// What one STS call came to, shared by the requests that waited on it.
pub type Verdict = Result<Arc<Verified>, Refusal>;

/// A token STS confirmed: who it is, and that identity mapped onto the latest snapshot it was
/// used with (re-mapped after a reload, so `roles`/`accounts` edits apply to cached tokens).
#[derive(Debug)]
pub struct Verified {
    identity: StsIdentity,
    mapped: ArcSwapOption<Mapped>,
}

#[derive(Debug)]
struct Mapped {
    /// Weak, so the address cannot be reused by a later snapshot while this is held.
    snapshot: Weak<Snapshot>,
    caller: Arc<TokenCaller>,
}

impl Verified {
    fn caller_for(&self, snapshot: &Arc<Snapshot>) -> Result<Arc<TokenCaller>, String> {
        if let Some(m) = self.mapped.load().as_ref() {
            if std::ptr::eq(m.snapshot.as_ptr(), Arc::as_ptr(snapshot)) {
                return Ok(Arc::clone(&m.caller));
            }
        }
        let caller = Arc::new(identity::map(&self.identity, snapshot.principals())?);
        self.mapped.store(Some(Arc::new(Mapped {
            snapshot: Arc::downgrade(snapshot),
            caller: Arc::clone(&caller),
        })));
        Ok(caller)
    }
}

/// The future of a token that needs STS.
pub type PendingCaller = Pin<Box<dyn Future<Output = Result<Arc<TokenCaller>, ProxyError>> + Send>>;

/// What `Authenticate` does with a request.
#[expect(
    missing_debug_implementations,
    reason = "holds the pending STS future, which has no Debug"
)]
pub enum TokenCheck {
    /// No identity token: SigV4 or anonymous, as before.
    NotToken,
    /// Decided now: a cached caller, or a refusal.
    Ready(Result<Arc<TokenCaller>, ProxyError>),
    /// Decided once STS answers.
    Pending(PendingCaller),
}

/// Verifies identity tokens; see the module docs.
#[derive(Debug)]
pub struct TokenVerifier {
    max_skew: Duration,
    cache: TokenCache<Verified>,
    client: StsClient,
    limit: RateLimit,
    metrics: StsMetrics,
}

impl TokenVerifier {
    /// A verifier for `config`; `max_skew` is `--max-clock-skew`.
    pub fn new(
        config: &StsConfig,
        max_skew: Duration,
        metrics: StsMetrics,
    ) -> Result<Self, ClientSetupError> {
        let audience = HeaderValue::from_str(&config.audience).map_err(|_| {
            ClientSetupError::Tls(rustls::Error::General(
                "the audience is not a header value".to_owned(),
            ))
        })?;
        Ok(Self {
            max_skew,
            cache: TokenCache::new(config.cache_entries),
            client: StsClient::new(config.endpoint.as_ref(), audience)?,
            limit: RateLimit::new(STS_CALLS_PER_SECOND, STS_CALL_BURST, Instant::now()),
            metrics,
        })
    }

    fn verify(
        self: &Arc<Self>,
        token: &str,
        snapshot: &Arc<Snapshot>,
        now: SystemTime,
    ) -> TokenCheck {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        match self.cache.lookup(&digest, now, Instant::now()) {
            Lookup::Verified(v) => {
                self.metrics.count(TokenResult::CacheHit);
                return TokenCheck::Ready(v.caller_for(snapshot).map_err(|e| rejected(&e)));
            }
            Lookup::Rejected => {
                self.metrics.count(TokenResult::Rejected);
                return TokenCheck::Ready(Err(rejected("refused by STS less than 10 s ago")));
            }
            Lookup::Unknown => {}
        }
        let parsed = match token::parse(token, now, self.max_skew) {
            Ok(p) => p,
            Err(e) => {
                let (result, error_type, label) = match e.kind {
                    TokenErrorKind::Malformed => (
                        TokenResult::Malformed,
                        "IncompleteSignatureException",
                        "token_malformed",
                    ),
                    TokenErrorKind::Expired => (
                        TokenResult::Expired,
                        "ExpiredTokenException",
                        "token_expired",
                    ),
                };
                self.metrics.count(result);
                return TokenCheck::Ready(Err(ProxyError::Authn(Authn {
                    error_type,
                    message: e.message.into_owned(),
                    metric_label: label,
                })));
            }
        };
        let this = Arc::clone(self);
        let snapshot = Arc::clone(snapshot);
        TokenCheck::Pending(Box::pin(async move {
            let flight = this.cache.flight(&digest);
            let verdict = flight.get_or_init(|| this.ask_sts(&parsed)).await.clone();
            let instant = Instant::now();
            match verdict {
                Ok(verified) => {
                    this.cache.settle(
                        &digest,
                        &flight,
                        Settled::Verified(Arc::clone(&verified), parsed.expires_at),
                        instant,
                    );
                    this.metrics.count(TokenResult::Verified);
                    verified.caller_for(&snapshot).map_err(|e| rejected(&e))
                }
                Err(Refusal::Rejected(reason)) => {
                    this.cache
                        .settle(&digest, &flight, Settled::Rejected, instant);
                    this.metrics.count(TokenResult::Rejected);
                    Err(rejected(&reason))
                }
                Err(Refusal::Unavailable(reason)) => {
                    this.cache
                        .settle(&digest, &flight, Settled::Unavailable, instant);
                    this.metrics.count(TokenResult::Unavailable);
                    Err(unavailable(&reason))
                }
            }
        }))
    }

    async fn ask_sts(&self, parsed: &token::ParsedToken) -> Verdict {
        if !self.limit.try_acquire(Instant::now()) {
            return Err(Refusal::Unavailable(Arc::from(
                "the STS call rate limit is reached",
            )));
        }
        let start = Instant::now();
        let answer = self.client.get_caller_identity(parsed).await;
        self.metrics.observe(start.elapsed().as_secs_f64());
        match answer {
            StsAnswer::Identity(identity) => Ok(Arc::new(Verified {
                identity,
                mapped: ArcSwapOption::empty(),
            })),
            StsAnswer::Rejected(reason) => {
                eprintln!("trellis: identity token refused by STS: {reason}");
                Err(Refusal::Rejected(Arc::from(reason)))
            }
            StsAnswer::Unavailable(reason) => {
                eprintln!("trellis: identity token not verified, STS unavailable: {reason}");
                Err(Refusal::Unavailable(Arc::from(reason)))
            }
        }
    }
}

/// `403 UnrecognizedClientException`, with AWS's wording; the reason was logged when STS
/// gave it, and is not the caller's to read.
fn rejected(_reason: &str) -> ProxyError {
    ProxyError::Authn(Authn {
        error_type: "UnrecognizedClientException",
        message: "The security token included in the request is invalid.".to_owned(),
        metric_label: "token_rejected",
    })
}

/// `503 ServiceUnavailableException`: fail closed; the reason was logged by the STS call.
fn unavailable(_reason: &str) -> ProxyError {
    ProxyError::AuthnUnavailable(Authn {
        error_type: "ServiceUnavailableException",
        message: "The identity token could not be verified with AWS STS now; retry with backoff."
            .to_owned(),
        metric_label: "token_unavailable",
    })
}

/// The identity token of `headers`, if the request carries one: `Authorization: Bearer
/// k8s-aws-v1.…`. Other bearer tokens are not ours (the request stays anonymous, as before).
/// The scheme and its separator, as `identity_token` requires them.
const BEARER: &[u8] = b"bearer ";

fn bearer_token(headers: &HeaderMap) -> Option<Result<&str, ProxyError>> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let first = values.next()?;
    let token = identity_token(first);
    let more = values.next().is_some();
    match (token, more) {
        (None, false) => None,
        (Some(t), false) => Some(Ok(t)),
        (_, true) if headers.get_all(AUTHORIZATION).iter().any(|v| identity_token(v).is_some()) => {
            Some(Err(malformed(
                "The request carries more than one Authorization header; send the identity token once.",
            )))
        }
        (_, true) => None,
    }
}

fn identity_token(value: &HeaderValue) -> Option<&str> {
    // The scheme first: a SigV4 `Authorization` (every signed request) is not scanned whole.
    let scheme = value.as_bytes().get(..BEARER.len())?;
    if !scheme.eq_ignore_ascii_case(BEARER) {
        return None;
    }
    let text = value.to_str().ok()?;
    let (scheme, rest) = text.split_once(' ')?;
    let token = rest.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with(TOKEN_PREFIX)).then_some(token)
}

fn malformed(message: &str) -> ProxyError {
    ProxyError::Authn(Authn {
        error_type: "IncompleteSignatureException",
        message: message.to_owned(),
        metric_label: "token_malformed",
    })
}

/// Whether the query carries presigned SigV4 material (a second credential).
fn has_presigned_query(target: &str) -> bool {
    let Some((_, query)) = target.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or("");
        ["x-amz-algorithm", "x-amz-credential", "x-amz-signature"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
    })
}

/// The one call `Authenticate` makes: whether the request carries an identity token and, if
/// so, who the caller is now, or once STS answers.
pub fn check(
    verifier: Option<&Arc<TokenVerifier>>,
    headers: &HeaderMap,
    target: &str,
    snapshot: &Arc<Snapshot>,
    now: SystemTime,
) -> TokenCheck {
    let token = match bearer_token(headers) {
        None => return TokenCheck::NotToken,
        Some(Err(e)) => return TokenCheck::Ready(Err(e)),
        Some(Ok(t)) => t,
    };
    let Some(verifier) = verifier else {
        return TokenCheck::Ready(Err(ProxyError::Authn(Authn {
            error_type: "IncompleteSignatureException",
            message: "Identity tokens (k8s-aws-v1.) are not accepted by this service: it runs without --sts-audience. Sign the request with SigV4.".to_owned(),
            metric_label: "incomplete",
        })));
    };
    if has_presigned_query(target) {
        return TokenCheck::Ready(Err(malformed(
            "The request carries both an identity token and a presigned SigV4 query; send one credential.",
        )));
    }
    verifier.verify(token, snapshot, now)
}

#[cfg(test)]
mod tests;
