//! The load generator's upstream: the shared loopback upstream (HTTP/1.1 and h2c) answering
//! `ok`, configured to delay, stall or answer 404 per path, and to admit only requests that
//! Trellis's own SigV4 verifier (or, for identity tokens, [`sts::verify_token`]) accepts.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "each test binary uses only part of these shared helpers; a panic is a failed test"
)]

pub mod sts;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use trellis_sigv4::{
    verify, Authenticated, RequestParts, StaticCredentials, StoredKey, VerifierConfig,
};
use trellis_test_support::upstream::{self, Reply};

/// How the upstream answers.
#[derive(Debug, Default, Clone)]
pub struct Behaviour {
    /// Every answer waits this long (only those for targets starting with `delay_prefix`,
    /// when set).
    pub delay: Duration,
    pub delay_prefix: Option<String>,
    /// When the n-th request (0-based) arrives, the whole server stalls this long.
    pub stall: Option<(u64, Duration)>,
    /// Answer 404 for targets starting with this.
    pub not_found_prefix: Option<String>,
    /// Verify SigV4 with these `(access key id, secret)`; 200 when signed by one of them,
    /// 403 otherwise.
    pub verify_keys: Vec<(String, String)>,
    /// The verifier's region.
    pub region: String,
    /// Instead of SigV4, verify STS identity tokens for this audience (and `region`) with
    /// `verify_keys`: 200 for a valid token, 403 otherwise.
    pub sts_audience: Option<String>,
}

/// What the upstream saw, at the time of asking.
#[derive(Debug, Default)]
pub struct Seen {
    pub requests: u64,
    pub verified: u64,
    pub rejected: u64,
    /// `(access key id, target)` of verified requests.
    pub signed: HashSet<(String, String)>,
    /// Every verified STS token (the `Authorization` value).
    pub tokens: HashSet<String>,
    /// Arrival times, earliest first.
    pub arrivals: Vec<Instant>,
}

/// A running upstream; it stops with the test process.
#[derive(Debug)]
pub struct Upstream(upstream::Upstream);

impl Upstream {
    pub fn url(&self, path: &str) -> String {
        self.0.url(path)
    }

    pub fn seen(&self) -> Seen {
        let received = self.0.received();
        let admitted = || {
            received
                .iter()
                .filter(|r| matches!(r.admitted, Some(Ok(_))))
        };
        let mut arrivals: Vec<Instant> = received.iter().map(|r| r.arrived).collect();
        arrivals.sort();
        Seen {
            requests: self.0.arrivals(),
            verified: admitted().count() as u64,
            rejected: received
                .iter()
                .filter(|r| matches!(r.admitted, Some(Err(()))))
                .count() as u64,
            signed: admitted()
                .map(|r| {
                    let caller = r.admitted.clone().and_then(Result::ok).unwrap();
                    (caller, r.target.clone())
                })
                .collect(),
            tokens: admitted()
                .filter_map(|r| r.headers.get(http::header::AUTHORIZATION))
                .map(|v| v.to_str().unwrap().to_owned())
                .collect(),
            arrivals,
        }
    }
}

pub fn upstream(b: Behaviour) -> Upstream {
    let check = admission(&b);
    Upstream(upstream::Upstream::start(upstream::Behaviour {
        reply: Reply::Ok,
        delay: b.delay,
        delay_prefix: b.delay_prefix,
        stall: b.stall,
        not_found_prefix: b.not_found_prefix,
        check,
        ..upstream::Behaviour::default()
    }))
}

/// The admission check `b` asks for: the caller is the access key id.
fn admission(b: &Behaviour) -> Option<upstream::Check> {
    if let Some(audience) = b.sts_audience.clone() {
        let (keys, region) = (b.verify_keys.clone(), b.region.clone());
        return Some(Arc::new(move |head: &http::request::Parts| {
            let authorization = head
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let secret_of = |id: &str| keys.iter().find(|(k, _)| k == id).map(|(_, s)| s.clone());
            sts::verify_token(authorization, &region, &audience, secret_of)
                .map(|t| t.access_key_id)
                .map_err(|_| ())
        }));
    }
    if b.verify_keys.is_empty() {
        return None;
    }
    let store: StaticCredentials = b
        .verify_keys
        .iter()
        .enumerate()
        .map(|(i, (id, secret))| StoredKey::new(id.clone(), secret.clone(), None, None, i))
        .collect();
    let config = VerifierConfig::new(b.region.clone());
    Some(Arc::new(move |head: &http::request::Parts| {
        let target = head.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let parts = RequestParts {
            method: head.method.as_str(),
            target,
            headers: &head.headers,
            authority: head.uri.authority().map(|a| a.as_str()),
        };
        match verify(&config, &parts, SystemTime::now(), &store) {
            Ok(Authenticated::Signed { key, .. }) => Ok(key.access_key_id().to_owned()),
            _ => Err(()),
        }
    }))
}
