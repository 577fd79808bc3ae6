//! The request metrics, one shard per worker thread.
//!
//! A counter shared by every worker is one cache line every core writes on every request:
//! each write takes the line away from the core that wrote last. Each worker counts into its
//! own [`RequestMetrics`] instead, and [`ShardedRequests`] sums the shards when `/metrics` is
//! scraped, so the exposition (names, help, labels, buckets and values) reads as if there were
//! one set of counters.

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

use super::{AuthnResult, RequestOutcome};

const REQUEST_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const AUTH_BUCKETS: &[f64] = &[
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
];

/// One worker's request metrics, every label combination resolved.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    requests: [IntCounter; 5],
    durations: [Histogram; 5],
    authn: [IntCounter; 13],
    auth_duration: Histogram,
    connections: IntCounter,
}

impl RequestMetrics {
    /// `trellis_requests_total{outcome}`.
    pub fn requests(&self, outcome: RequestOutcome) -> &IntCounter {
        &self.requests[outcome as usize]
    }

    /// `trellis_request_duration_seconds{outcome}`.
    pub fn request_duration(&self, outcome: RequestOutcome) -> &Histogram {
        &self.durations[outcome as usize]
    }

    /// `trellis_authn_total{result}`.
    pub fn authn(&self, result: AuthnResult) -> &IntCounter {
        &self.authn[result as usize]
    }

    /// `trellis_auth_duration_seconds`.
    pub fn auth_duration(&self) -> &Histogram {
        &self.auth_duration
    }

    /// `trellis_worker_connections_total{worker}` of this shard's worker.
    pub fn connections(&self) -> &IntCounter {
        &self.connections
    }
}

/// One shard's families, registered nowhere: [`ShardedRequests`] collects them.
#[derive(Debug, Clone)]
struct Families {
    requests: IntCounterVec,
    durations: HistogramVec,
    authn: IntCounterVec,
    auth_duration: Histogram,
}

impl Families {
    fn new() -> Result<Self, prometheus::Error> {
        Ok(Self {
            requests: IntCounterVec::new(
                Opts::new("trellis_requests_total", "Requests by outcome."),
                &["outcome"],
            )?,
            durations: HistogramVec::new(
                HistogramOpts::new(
                    "trellis_request_duration_seconds",
                    "Time from request head to the end of the response body, by outcome.",
                )
                .buckets(REQUEST_BUCKETS.to_vec()),
                &["outcome"],
            )?,
            authn: IntCounterVec::new(
                Opts::new("trellis_authn_total", "Authentication results."),
                &["result"],
            )?,
            auth_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "trellis_auth_duration_seconds",
                    "Time spent in authentication and authorization per request.",
                )
                .buckets(AUTH_BUCKETS.to_vec()),
            )?,
        })
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut out = self.requests.collect();
        out.extend(self.durations.collect());
        out.extend(self.authn.collect());
        out.extend(self.auth_duration.collect());
        out
    }

    /// Resolves every series of this shard (all exist from the start, at 0).
    fn resolve(&self, connections: IntCounter) -> Result<RequestMetrics, prometheus::Error> {
        Ok(RequestMetrics {
            requests: resolve(RequestOutcome::ALL, |o| {
                self.requests.get_metric_with_label_values(&[o.label()])
            })?,
            durations: resolve(RequestOutcome::ALL, |o| {
                self.durations.get_metric_with_label_values(&[o.label()])
            })?,
            authn: resolve(AuthnResult::ALL, |r| {
                self.authn.get_metric_with_label_values(&[r.label()])
            })?,
            auth_duration: self.auth_duration.clone(),
            connections,
        })
    }
}

fn resolve<const N: usize, T: Clone, K: Copy>(
    keys: [K; N],
    f: impl Fn(K) -> Result<T, prometheus::Error>,
) -> Result<[T; N], prometheus::Error> {
    let mut out = Vec::with_capacity(N);
    for k in keys {
        out.push(f(k)?);
    }
    out.try_into()
        .map_err(|_| prometheus::Error::Msg("label count mismatch".to_owned()))
}

/// Every worker's request families, registered as one collector that sums them.
#[derive(Debug)]
pub(super) struct ShardedRequests {
    shards: Vec<Families>,
}

impl ShardedRequests {
    /// `workers` shards (at least one).
    pub(super) fn new(workers: usize) -> Result<Self, prometheus::Error> {
        let shards = (0..workers.max(1))
            .map(|_| Families::new())
            .collect::<Result<_, _>>()?;
        Ok(Self { shards })
    }

    /// Each shard's resolved handles, in worker order; worker `K` counts its connections in
    /// `worker_connections{worker="K"}`.
    pub(super) fn shards(
        &self,
        worker_connections: &IntCounterVec,
    ) -> Result<Vec<RequestMetrics>, prometheus::Error> {
        self.shards
            .iter()
            .enumerate()
            .map(|(k, f)| {
                f.resolve(worker_connections.get_metric_with_label_values(&[&k.to_string()])?)
            })
            .collect()
    }
}

impl Collector for ShardedRequests {
    fn desc(&self) -> Vec<&Desc> {
        self.shards.first().map_or_else(Vec::new, |f| {
            let mut d = f.requests.desc();
            d.extend(f.durations.desc());
            d.extend(f.authn.desc());
            d.extend(f.auth_duration.desc());
            d
        })
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut shards = self.shards.iter();
        let Some(first) = shards.next() else {
            return Vec::new();
        };
        let mut merged = first.collect();
        for shard in shards {
            for (into, from) in merged.iter_mut().zip(shard.collect()) {
                add_family(into, &from);
            }
        }
        merged
    }
}

/// Adds `from`'s values into the series of `into` with the same labels.
fn add_family(into: &mut MetricFamily, from: &MetricFamily) {
    let kind = into.get_field_type();
    for metric in into.mut_metric() {
        let Some(other) = from
            .get_metric()
            .iter()
            .find(|m| m.get_label() == metric.get_label())
        else {
            continue;
        };
        match kind {
            MetricType::COUNTER => {
                let mut c = proto::Counter::default();
                c.set_value(metric.get_counter().get_value() + other.get_counter().get_value());
                metric.set_counter(c);
            }
            MetricType::HISTOGRAM => {
                let sum = add_histograms(metric.get_histogram(), other.get_histogram());
                metric.set_histogram(sum);
            }
            // The shards hold counters and histograms only.
            _ => {}
        }
    }
}

fn add_histograms(a: &proto::Histogram, b: &proto::Histogram) -> proto::Histogram {
    let mut h = proto::Histogram::default();
    h.set_sample_count(a.get_sample_count() + b.get_sample_count());
    h.set_sample_sum(a.get_sample_sum() + b.get_sample_sum());
    h.set_bucket(
        a.get_bucket()
            .iter()
            .zip(b.get_bucket())
            .map(|(x, y)| {
                let mut bucket = proto::Bucket::default();
                bucket.set_upper_bound(x.upper_bound());
                bucket.set_cumulative_count(x.cumulative_count() + y.cumulative_count());
                bucket
            })
            .collect(),
    );
    h
}
