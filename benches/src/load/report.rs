//! The result of a run: the JSON document the comparison harness reads, a one-row markdown
//! table and the human summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::args::Config;
use super::record::Recorder;

/// Error counts by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errors {
    /// Failed connects.
    pub connect: u64,
    /// Failed exchanges on established connections.
    pub io: u64,
    /// Requests without a complete response within `--timeout`.
    pub timeout: u64,
}

/// Latency summary in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Smallest.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

/// One run's result (the JSON schema of `--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `--label`.
    pub label: String,
    /// The URL as given.
    pub url: String,
    /// `open` or `closed`.
    pub mode: String,
    /// Open loop: the scheduled rate.
    pub rate: Option<f64>,
    /// Connections.
    pub connections: usize,
    /// h2c.
    pub http2: bool,
    /// `none`, `pool` or `per-request`.
    pub sign: String,
    /// The measured period in seconds.
    pub duration_s: f64,
    /// Responses (any status) in the measured period.
    pub requests: u64,
    /// `requests / duration_s`.
    pub rps: f64,
    /// Responses by status code.
    pub status: BTreeMap<String, u64>,
    /// Responses whose status is not `--expect-status` (0 without it).
    pub unexpected_status: u64,
    /// Requests without a response.
    pub errors: Errors,
    /// Open loop: requests sent more than 1 ms after their due time.
    pub late: u64,
    /// Latency summary.
    pub latency_us: Latency,
    /// `(percentile, latency_us)` pairs, HdrHistogram style (denser towards 100).
    pub percentiles: Vec<(f64, f64)>,
    /// The generator's own CPU time (user + system, warm-up included) per response, in
    /// microseconds; `null` where `/proc` is unavailable. An addition to the agreed schema.
    #[serde(default)]
    pub generator_cpu_us_per_request: Option<f64>,
}

impl Report {
    /// Summarises a run's merged recorder.
    pub fn new(config: &Config, rec: &Recorder) -> Report {
        let h = &rec.latency;
        let us = |ns: u64| ns as f64 / 1000.0;
        let at = |p: f64| us(h.value_at_percentile(p));
        let status: BTreeMap<String, u64> = rec
            .status
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(code, &n)| (code.to_string(), n))
            .collect();
        let unexpected_status = config.expect_status.map_or(0, |want| {
            rec.status
                .iter()
                .enumerate()
                .filter(|(code, _)| *code != usize::from(want))
                .map(|(_, n)| n)
                .sum()
        });
        let requests = rec.responses();
        let duration_s = config.duration.as_secs_f64();
        let empty = requests == 0;
        Report {
            label: config.label.clone(),
            url: config.target.url.clone(),
            mode: if config.rate.is_some() {
                "open"
            } else {
                "closed"
            }
            .to_owned(),
            rate: config.rate,
            connections: config.connections,
            http2: config.http2,
            sign: config.sign.as_str().to_owned(),
            duration_s,
            requests,
            rps: requests as f64 / duration_s,
            status,
            unexpected_status,
            errors: Errors {
                connect: rec.connect,
                io: rec.io,
                timeout: rec.timeout,
            },
            late: rec.late,
            latency_us: Latency {
                min: if empty { 0.0 } else { us(h.min()) },
                mean: h.mean() / 1000.0,
                p50: at(50.0),
                p90: at(90.0),
                p99: at(99.0),
                p999: at(99.9),
                max: if empty { 0.0 } else { us(h.max()) },
            },
            percentiles: if empty {
                Vec::new()
            } else {
                percentile_ladder(requests)
            }
            .into_iter()
            .map(|p| (p, at(p)))
            .collect(),
            generator_cpu_us_per_request: None,
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and maps with string keys always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A markdown table: header, separator, one row.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from(
            "| label | mode | rate | conns | http | sign | requests | rps | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | non-2xx | errors | late |\n\
             |---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} |",
            self.label.replace('|', "\\|"),
            self.mode,
            self.rate.map_or("-".to_owned(), |r| format!("{r}")),
            self.connections,
            if self.http2 { "h2c" } else { "1.1" },
            self.sign,
            self.requests,
            self.rps,
            self.latency_us.p50,
            self.latency_us.p90,
            self.latency_us.p99,
            self.latency_us.p999,
            self.latency_us.max,
            self.non_2xx(),
            self.errors.connect + self.errors.io + self.errors.timeout,
            self.late,
        );
        s
    }

    /// Responses outside 200-299.
    pub fn non_2xx(&self) -> u64 {
        self.status
            .iter()
            .filter(|(code, _)| !code.starts_with('2'))
            .map(|(_, n)| n)
            .sum()
    }

    /// The human summary printed on stdout.
    pub fn summary(&self) -> String {
        let l = &self.latency_us;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} {} loop{}, {} connection(s), {}, sign {}, {:.1} s measured",
            self.url,
            self.mode,
            self.rate.map_or(String::new(), |r| format!(" at {r} rps")),
            self.connections,
            if self.http2 { "h2c" } else { "HTTP/1.1" },
            self.sign,
            self.duration_s,
        );
        let _ = writeln!(
            s,
            "  requests  {:>12}   rps {:>12.1}",
            self.requests, self.rps
        );
        let _ = writeln!(
            s,
            "  latency µs   min {:.1}  mean {:.1}  p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
            l.min, l.mean, l.p50, l.p90, l.p99, l.p999, l.max
        );
        let statuses: Vec<String> = self
            .status
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        let _ = writeln!(s, "  status    {}", statuses.join(", "));
        if let Some(cpu) = self.generator_cpu_us_per_request {
            let _ = writeln!(s, "  generator CPU  {cpu:.1} µs per request");
        }
        let _ = writeln!(
            s,
            "  errors    connect {}  io {}  timeout {}   late {}   unexpected status {}",
            self.errors.connect,
            self.errors.io,
            self.errors.timeout,
            self.late,
            self.unexpected_status
        );
        s
    }
}

/// Percentiles for the plot and the JSON: 0, then `100 * (1 - 2^(-k/4))` until the tail
/// holds less than one request, then 100.
fn percentile_ladder(count: u64) -> Vec<f64> {
    let mut out = vec![0.0];
    let mut k = 1;
    loop {
        let tail = 0.5f64.powf(k as f64 / 4.0);
        if tail * (count as f64) < 1.0 || k > 200 {
            break;
        }
        out.push(100.0 * (1.0 - tail));
        k += 1;
    }
    out.push(100.0);
    out
}
