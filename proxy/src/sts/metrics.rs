//! `trellis_sts_tokens_total{result}` and `trellis_sts_request_duration_seconds`, registered
//! in the proxy's registry with every label value created up front, and resolved to handles
//! once so a request only increments.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

/// What became of one request's identity token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenResult {
    /// Verified earlier, still within its 15 minutes.
    CacheHit,
    /// STS confirmed it now.
    Verified,
    /// STS refused it (now or within the last 10 s).
    Rejected,
    /// Older than 15 minutes.
    Expired,
    /// Refused by the local checks; STS was not asked.
    Malformed,
    /// STS could not answer, or the STS call rate limit was reached.
    Unavailable,
}

impl TokenResult {
    /// Every value, in label order.
    pub const ALL: [Self; 6] = [
        Self::CacheHit,
        Self::Verified,
        Self::Rejected,
        Self::Expired,
        Self::Malformed,
        Self::Unavailable,
    ];

    /// The `result` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::CacheHit => "cache_hit",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Malformed => "malformed",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Seconds buckets of an STS call: a regional endpoint answers in milliseconds, the timeout
/// is 3 s.
const STS_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The handles.
#[derive(Debug, Clone)]
pub struct StsMetrics {
    tokens: Vec<IntCounter>,
    duration: Histogram,
}

impl StsMetrics {
    /// Registers both metrics in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let tokens_vec = IntCounterVec::new(
            Opts::new(
                "trellis_sts_tokens_total",
                "Requests with an STS identity token, by what became of the token.",
            ),
            &["result"],
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "trellis_sts_request_duration_seconds",
                "Duration of GetCallerIdentity calls to STS.",
            )
            .buckets(STS_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(tokens_vec.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        let tokens = TokenResult::ALL
            .iter()
            .map(|r| tokens_vec.get_metric_with_label_values(&[r.label()]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { tokens, duration })
    }

    /// Counts one request's token.
    pub fn count(&self, result: TokenResult) {
        if let Some(c) = self.tokens.get(result as usize) {
            c.inc();
        }
    }

    /// Records one STS call's duration.
    pub fn observe(&self, seconds: f64) {
        self.duration.observe(seconds);
    }
}
