//! Prometheus metrics of CONTRACT §8 in an owned `Registry`.
//!
//! Every label combination known at start-up is resolved once into a handle: a per-request
//! `with_label_values` takes a lock and hashes. Per-statement handles are resolved when a policy
//! snapshot is compiled, through [`Metrics::statement_counters`].
//!
//! The per-request counters and histograms live in one [`RequestMetrics`] shard per worker
//! thread (see `shards`), so no worker writes a cache line another worker writes; the
//! exposition sums the shards at scrape time.

mod shards;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::error::PolicyLayer;

pub use self::shards::RequestMetrics;
use self::shards::ShardedRequests;

/// Most distinct `statement` label values per layer; the rest are counted as `other`.
pub const MAX_STATEMENT_LABELS: usize = 256;

/// `trellis_requests_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestOutcome {
    /// Forwarded after an allow (or with no auth layer).
    Allowed,
    /// Denied by policy.
    Denied,
    /// Failed authentication.
    AuthnFailed,
    /// Malformed request (including oversized headers).
    BadRequest,
    /// The upstream failed, or the proxy itself did.
    UpstreamError,
}

impl RequestOutcome {
    /// Every value, in label order.
    pub const ALL: [Self; 5] = [
        Self::Allowed,
        Self::Denied,
        Self::AuthnFailed,
        Self::BadRequest,
        Self::UpstreamError,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::AuthnFailed => "authn_failed",
            Self::BadRequest => "bad_request",
            Self::UpstreamError => "upstream_error",
        }
    }
}

/// `trellis_authn_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthnResult {
    /// A valid signature.
    Signed,
    /// No signature at all.
    Anonymous,
    /// The signature does not match.
    BadSignature,
    /// Outside the clock skew or past the presigned expiry, or an expired key.
    Expired,
    /// The access key id is not known.
    UnknownKey,
    /// The signature could not be parsed.
    Malformed,
    /// A required signed element is missing.
    Incomplete,
    /// The credential scope names another region or service.
    WrongScope,
    /// An STS identity token, verified (now or from the cache).
    Token,
    /// An identity token refused by the local checks (STS not asked).
    TokenMalformed,
    /// An identity token older than its 15 minutes.
    TokenExpired,
    /// An identity token STS refused (wrong audience, bad signature, unknown key).
    TokenRejected,
    /// An identity token not verified because STS did not answer (`503`).
    TokenUnavailable,
}

impl AuthnResult {
    /// Every value, in label order.
    pub const ALL: [Self; 13] = [
        Self::Signed,
        Self::Anonymous,
        Self::BadSignature,
        Self::Expired,
        Self::UnknownKey,
        Self::Malformed,
        Self::Incomplete,
        Self::WrongScope,
        Self::Token,
        Self::TokenMalformed,
        Self::TokenExpired,
        Self::TokenRejected,
        Self::TokenUnavailable,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Signed => "signed",
            Self::Anonymous => "anonymous",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::UnknownKey => "unknown_key",
            Self::Malformed => "malformed",
            Self::Incomplete => "incomplete",
            Self::WrongScope => "wrong_scope",
            Self::Token => "token",
            Self::TokenMalformed => "token_malformed",
            Self::TokenExpired => "token_expired",
            Self::TokenRejected => "token_rejected",
            Self::TokenUnavailable => "token_unavailable",
        }
    }

    /// The value for a label (e.g. `ProxyError::Authn::metric_label`); unknown labels are
    /// `malformed`, so a typo cannot create a new series.
    pub fn from_label(label: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|r| r.label() == label)
            .unwrap_or(Self::Malformed)
    }
}

/// The `decision` label of `trellis_authz_decisions_total`. A statement only ever decides its
/// own effect (an `Allow` statement allows, a `Deny` statement or the implicit `none` denies),
/// so only that series is created for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// `decision="allow"`.
    Allow,
    /// `decision="deny"`.
    Deny,
}

impl Decision {
    /// What a statement with `effect` decides.
    pub fn of(effect: trellis_policy::Effect) -> Self {
        match effect {
            trellis_policy::Effect::Allow => Self::Allow,
            trellis_policy::Effect::Deny => Self::Deny,
        }
    }

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// The `trellis_authz_decisions_total` series of the snapshot in force.
#[derive(Debug, Default)]
struct StatementSeries {
    series: HashSet<(Decision, &'static str, String)>,
}

/// Failure to create, register or encode metrics.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The prometheus library refused a metric.
    #[error("metrics registry error: {0}")]
    Prometheus(#[from] prometheus::Error),
}

/// All metrics with their resolved handles.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    shards: Vec<RequestMetrics>,
    authz: IntCounterVec,
    statement_series: Mutex<StatementSeries>,
    reloads: IntCounterVec,
    last_reload_success: IntGaugeVec,
    policy_info: IntGaugeVec,
    /// The `sha256` label of each file's `trellis_policy_info` series.
    policy_versions: Mutex<HashMap<String, String>>,
    mode: IntGaugeVec,
    statements: IntGaugeVec,
    access_log_dropped: IntCounter,
    decision_log_dropped: IntCounter,
    example_keys: IntGauge,
    tls_not_after: IntGauge,
    tls_reloads: IntCounterVec,
    tls_last_reload_success: IntGauge,
}

impl Metrics {
    /// Registers every metric with one request-metrics shard; `version` fills
    /// `trellis_build_info{version}`.
    pub fn new(version: &str) -> Result<Self, MetricsError> {
        Self::with_workers(version, 1)
    }

    /// Registers every metric with one request-metrics shard per worker thread (at least one).
    pub fn with_workers(version: &str, workers: usize) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let sharded = ShardedRequests::new(workers.max(1))?;
        let worker_connections = IntCounterVec::new(
            Opts::new(
                "trellis_worker_connections_total",
                "Caller connections accepted, by worker thread.",
            ),
            &["worker"],
        )?;
        let authz = IntCounterVec::new(
            Opts::new(
                "trellis_authz_decisions_total",
                "Authorization decisions by layer and deciding statement.",
            ),
            &["decision", "layer", "statement"],
        )?;
        let reloads = IntCounterVec::new(
            Opts::new(
                "trellis_policy_reloads_total",
                "Policy and principals file loads.",
            ),
            &["file", "result"],
        )?;
        let statements = IntGaugeVec::new(
            Opts::new(
                "trellis_policy_statements",
                "Statements in force per layer.",
            ),
            &["layer"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("trellis_build_info", "Build information; always 1."),
            &["version"],
        )?;
        let last_reload_success = IntGaugeVec::new(
            Opts::new(
                "trellis_policy_last_reload_success",
                "1 if the latest load of the file succeeded, 0 while it is rejected.",
            ),
            &["file"],
        )?;
        let policy_info = IntGaugeVec::new(
            Opts::new(
                "trellis_policy_info",
                "The version of each file in force (SHA-256 as /policy shows it); always 1.",
            ),
            &["file", "sha256"],
        )?;
        let mode = IntGaugeVec::new(
            Opts::new("trellis_mode", "1 for the running --mode, 0 for the other."),
            &["mode"],
        )?;
        let example_keys = IntGauge::new(
            "trellis_principals_example_keys",
            "Keys in force whose access key id contains EXAMPLE (public documentation keys).",
        )?;
        let tls_not_after = IntGauge::new(
            "trellis_tls_cert_not_after_seconds",
            "notAfter of the listener's leaf certificate in force, unix seconds.",
        )?;
        let tls_reloads = IntCounterVec::new(
            Opts::new(
                "trellis_tls_cert_reloads_total",
                "Reloads of the listener's certificate and key.",
            ),
            &["result"],
        )?;
        let tls_last_reload_success = IntGauge::new(
            "trellis_tls_cert_last_reload_success",
            "1 if the latest load of the certificate and key succeeded, 0 while rejected.",
        )?;
        let access_log_dropped = IntCounter::new(
            "trellis_access_log_dropped_total",
            "Access-log lines dropped because the writer fell behind.",
        )?;
        let shards = sharded.shards(&worker_connections)?;
        registry.register(Box::new(sharded))?;
        registry.register(Box::new(worker_connections))?;
        registry.register(Box::new(authz.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(statements.clone()))?;
        registry.register(Box::new(build_info.clone()))?;
        registry.register(Box::new(access_log_dropped.clone()))?;
        let decision_log_dropped = IntCounter::new(
            "trellis_decision_log_dropped_total",
            "Decision-log lines dropped because the writer fell behind or a write failed.",
        )?;
        registry.register(Box::new(decision_log_dropped.clone()))?;
        registry.register(Box::new(last_reload_success.clone()))?;
        registry.register(Box::new(policy_info.clone()))?;
        registry.register(Box::new(mode.clone()))?;
        registry.register(Box::new(example_keys.clone()))?;
        // `process_*` (RSS, CPU seconds, open fds, start time): what dashboards chart next to
        // the request metrics. Read from /proc at scrape time, never on the request path.
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        build_info.get_metric_with_label_values(&[version])?.set(1);
        Ok(Self {
            registry,
            shards,
            authz,
            statement_series: Mutex::default(),
            reloads,
            last_reload_success,
            policy_info,
            policy_versions: Mutex::default(),
            mode,
            statements,
            access_log_dropped,
            decision_log_dropped,
            example_keys,
            tls_not_after,
            tls_reloads,
            tls_last_reload_success,
        })
    }

    /// The registry, to add process metrics or to encode.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Result<String, MetricsError> {
        Ok(TextEncoder::new().encode_to_string(&self.registry.gather())?)
    }

    /// The request metrics of worker `index` (of [`Metrics::with_workers`]); an index past
    /// the last worker gets the last shard.
    pub fn shard(&self, index: usize) -> &RequestMetrics {
        let last = self.shards.len() - 1;
        &self.shards[index.min(last)]
    }

    /// How many request-metrics shards (workers) there are.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// `trellis_access_log_dropped_total`.
    pub fn access_log_dropped(&self) -> &IntCounter {
        &self.access_log_dropped
    }

    /// `trellis_decision_log_dropped_total`.
    pub fn decision_log_dropped(&self) -> &IntCounter {
        &self.decision_log_dropped
    }

    /// Resolves the `trellis_authz_decisions_total` handles of the snapshot about to be put in
    /// force: one per `(layer, statement, decision)` in input order. `statement` is the Sid, a
    /// content hash (`#h:…`) or `none`. Series of statements no longer listed are removed, so
    /// edited policies leave no stale series behind and the label budget is spent only on
    /// statements in force.
    ///
    /// At most [`MAX_STATEMENT_LABELS`] distinct statement values per layer; later ones share
    /// the `other` series. Called at compile time, never per request.
    pub fn statement_counters(
        &self,
        statements: &[(PolicyLayer, &str, Decision)],
    ) -> Result<Vec<IntCounter>, MetricsError> {
        let mut state = self
            .statement_series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut labels: HashMap<&'static str, HashSet<&str>> = HashMap::new();
        let mut series = HashSet::with_capacity(statements.len());
        let mut out = Vec::with_capacity(statements.len());
        for &(layer, statement, decision) in statements {
            let layer_labels = labels.entry(layer.as_str()).or_default();
            let label =
                if layer_labels.contains(statement) || layer_labels.len() < MAX_STATEMENT_LABELS {
                    layer_labels.insert(statement);
                    statement
                } else {
                    "other"
                };
            out.push(self.authz.get_metric_with_label_values(&[
                decision.label(),
                layer.as_str(),
                label,
            ])?);
            series.insert((decision, layer.as_str(), label.to_owned()));
        }
        for (decision, layer, label) in state.series.difference(&series) {
            let _ = self
                .authz
                .remove_label_values(&[decision.label(), layer, label]);
        }
        state.series = series;
        Ok(out)
    }

    /// Counts one load of `file` (`result` = `ok` or `error`) and sets
    /// `trellis_policy_last_reload_success{file}`; called by the reload task.
    pub fn policy_reload(&self, file: &str, ok: bool) -> Result<(), MetricsError> {
        let result = if ok { "ok" } else { "error" };
        self.reloads
            .get_metric_with_label_values(&[file, result])?
            .inc();
        self.last_reload_success
            .get_metric_with_label_values(&[file])?
            .set(i64::from(ok));
        Ok(())
    }

    /// Sets `trellis_policy_last_reload_success{file}` alone: the file was read and is valid,
    /// but the reload did not happen because another file is not.
    pub fn set_last_reload_success(&self, file: &str, ok: bool) {
        if let Ok(g) = self
            .last_reload_success
            .get_metric_with_label_values(&[file])
        {
            g.set(i64::from(ok));
        }
    }

    /// Sets `trellis_policy_info{file,sha256}` to the versions in force: one series per file,
    /// the previous version's series removed.
    pub fn set_policy_versions<'a>(
        &self,
        versions: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), MetricsError> {
        let mut known = self
            .policy_versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut now = HashMap::new();
        for (file, sha256) in versions {
            self.policy_info
                .get_metric_with_label_values(&[file, sha256])?
                .set(1);
            now.insert(file.to_owned(), sha256.to_owned());
        }
        for (file, sha256) in known.iter() {
            if now.get(file) != Some(sha256) {
                let _ = self.policy_info.remove_label_values(&[file, sha256]);
            }
        }
        *known = now;
        Ok(())
    }

    /// Sets `trellis_mode{mode}`: 1 for `running` (`enforce` or `audit`), 0 for the other.
    pub fn set_mode(&self, running: &str) -> Result<(), MetricsError> {
        for mode in ["enforce", "audit"] {
            self.mode
                .get_metric_with_label_values(&[mode])?
                .set(i64::from(mode == running));
        }
        Ok(())
    }

    /// `trellis_principals_example_keys`.
    pub fn set_example_keys(&self, count: usize) {
        self.example_keys
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Registers the `trellis_tls_cert_*` metrics (only when serving TLS) with the notAfter of
    /// the pair loaded at start.
    pub fn enable_tls(&self, not_after: i64) -> Result<(), MetricsError> {
        self.registry
            .register(Box::new(self.tls_not_after.clone()))?;
        self.registry.register(Box::new(self.tls_reloads.clone()))?;
        self.registry
            .register(Box::new(self.tls_last_reload_success.clone()))?;
        for result in ["ok", "error"] {
            self.tls_reloads.get_metric_with_label_values(&[result])?;
        }
        self.tls_not_after.set(not_after);
        self.tls_last_reload_success.set(1);
        Ok(())
    }

    /// Counts one reload of the certificate and key; `not_after` is the pair in force after it.
    pub fn tls_reload(&self, ok: bool, not_after: i64) -> Result<(), MetricsError> {
        let result = if ok { "ok" } else { "error" };
        self.tls_reloads
            .get_metric_with_label_values(&[result])?
            .inc();
        self.tls_last_reload_success.set(i64::from(ok));
        self.tls_not_after.set(not_after);
        Ok(())
    }

    /// Sets `trellis_policy_statements{layer}` after a snapshot is swapped in.
    pub fn set_policy_statements(
        &self,
        layer: PolicyLayer,
        count: usize,
    ) -> Result<(), MetricsError> {
        let gauge: IntGauge = self
            .statements
            .get_metric_with_label_values(&[layer.as_str()])?;
        gauge.set(i64::try_from(count).unwrap_or(i64::MAX));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
