//! Metrics and access-log lines after real requests, and the auth slot's plumbing: what an
//! `Authenticate`/`Authorize` layer inserts and returns, and how it reaches the caller, the
//! upstream, the metrics and the log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use support::*;
use trellis::body::ProxyBody;
use trellis::caller_identity::{CallerIdentity, IdentityFields};
use trellis::error::{Authn, Denied, PolicyLayer, ProxyError};
use trellis::metrics::{AuthnResult, Decision, Metrics};
use trellis::normalize::NormalizedPath;
use trellis::outcome::{AuthnRecord, CallerLog, DecisionRecord, MatchedStatements, Outcome};

/// `service#0(AllowAll)`.
fn allow_all() -> MatchedStatements {
    [trellis_policy::Matched {
        layer: trellis_policy::Layer::Service,
        index: 0,
        sid: Some("AllowAll".into()),
        effect: trellis_policy::Effect::Allow,
    }]
    .into_iter()
    .collect()
}

const CALLER: &str = "arn:aws:sts::111122223333:assumed-role/checkout/task-1";

/// A stand-in for the real auth layers, driven by the `x-test-auth` header.
#[derive(Debug, Clone)]
struct FakeAuthLayer {
    allow: prometheus::IntCounter,
    deny: prometheus::IntCounter,
}

impl FakeAuthLayer {
    fn new(metrics: &Arc<Metrics>) -> Self {
        let mut c = metrics
            .statement_counters(&[
                (PolicyLayer::Service, "AllowAll", Decision::Allow),
                (PolicyLayer::Service, "none", Decision::Deny),
            ])
            .unwrap();
        let deny = c.pop().unwrap();
        let allow = c.pop().unwrap();
        Self { allow, deny }
    }
}

impl<S> tower_layer::Layer<S> for FakeAuthLayer {
    type Service = FakeAuth<S>;
    fn layer(&self, inner: S) -> FakeAuth<S> {
        FakeAuth {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct FakeAuth<S> {
    inner: S,
    layer: FakeAuthLayer,
}

type BoxFut = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, ProxyError>> + Send>>;

fn signed_caller() -> AuthnRecord {
    AuthnRecord {
        result: AuthnResult::Signed,
        caller: Some(CallerLog {
            principal: CALLER.into(),
            org_id: Some("o-a1b2c3d4e5".into()),
            tags_json: Some("{\"team\":\"payments\"}".into()),
        }),
    }
}

impl<S, B> tower_service::Service<Request<B>> for FakeAuth<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ProxyBody>, Error = ProxyError>,
    S::Future: Send + 'static,
{
    type Response = Response<ProxyBody>;
    type Error = ProxyError;
    type Future = BoxFut;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> BoxFut {
        let outcome = req.extensions().get::<Outcome>().cloned().unwrap();
        let path = req
            .extensions()
            .get::<NormalizedPath>()
            .unwrap()
            .path()
            .to_owned();
        outcome.add_auth_duration(Duration::from_micros(3));
        let mode = req
            .headers()
            .get("x-test-auth")
            .map(|v| v.to_str().unwrap().to_owned());
        match mode.as_deref() {
            Some("bad-sig") => Box::pin(std::future::ready(Err(ProxyError::Authn(Authn {
                error_type: "InvalidSignatureException",
                message:
                    "The request signature we calculated does not match the signature you provided."
                        .into(),
                metric_label: "bad_signature",
            })))),
            Some("deny") => {
                outcome.set_authn(signed_caller());
                outcome.set_decision(DecisionRecord {
                    allowed: false,
                    denied_layer: Some(PolicyLayer::Service),
                    matched: MatchedStatements::new(),
                    counters: [self.layer.deny.clone()].into_iter().collect(),
                });
                let message = format!("User: {CALLER} is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {SERVICE_ARN}{path} because no service-based policy allows the vpc-lattice-svcs:Invoke action");
                Box::pin(std::future::ready(Err(ProxyError::Denied(Denied {
                    message,
                    layer: PolicyLayer::Service,
                }))))
            }
            Some("anon") => {
                outcome.set_authn(AuthnRecord {
                    result: AuthnResult::Anonymous,
                    caller: None,
                });
                outcome.set_decision(DecisionRecord {
                    allowed: true,
                    denied_layer: None,
                    matched: allow_all(),
                    counters: [self.layer.allow.clone()].into_iter().collect(),
                });
                Box::pin(self.inner.call(req))
            }
            _ => {
                let identity = CallerIdentity::new(&IdentityFields {
                    principal: CALLER,
                    org_id: "o-a1b2c3d4e5",
                    session_name: "task-1",
                    tags: &[("team", "payments")],
                })
                .unwrap();
                outcome.set_identity(identity);
                outcome.set_authn(signed_caller());
                outcome.set_decision(DecisionRecord {
                    allowed: true,
                    denied_layer: None,
                    matched: allow_all(),
                    counters: [self.layer.allow.clone()].into_iter().collect(),
                });
                Box::pin(self.inner.call(req))
            }
        }
    }
}

async fn scrape(proxy: &TestProxy) -> String {
    let (status, _, body) = get(&h1_client(), &format!("http://{}/metrics", proxy.admin)).await;
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(body.to_vec()).unwrap()
}

fn auth_req(proxy: &TestProxy, path: &str, mode: &str) -> Request<TestBody> {
    Request::get(proxy.url(path))
        .header("x-test-auth", mode)
        .header("user-agent", "test-agent/1")
        .body(full(""))
        .unwrap()
}

#[tokio::test]
async fn signed_callers_get_identity_headers_and_everything_is_counted_and_logged() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start_with(ProxyOptions::new(up), FakeAuthLayer::new).await;
    let client = h1_client();

    let (status, headers, body) = send(&client, auth_req(&proxy, "/orders/./7", "signed")).await;
    assert_eq!(status, StatusCode::OK);
    let e = echoed(&body);
    assert_eq!(
        e.header("x-amzn-lattice-identity").unwrap(),
        format!(
            "Principal={CALLER}; PrincipalOrgID=o-a1b2c3d4e5; SessionName=task-1; Type=AWS_IAM"
        )
    );
    assert_eq!(
        e.header("x-amzn-lattice-identity-tags").unwrap(),
        format!("principal={CALLER};principalorgid=o-a1b2c3d4e5;principal-team=payments")
    );

    let (status, denied_headers, body) = send(&client, auth_req(&proxy, "/admin", "deny")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(denied_headers["x-amzn-errortype"], "AccessDeniedException");
    assert_eq!(
        String::from_utf8(body.to_vec()).unwrap(),
        format!("AccessDeniedException: User: {CALLER} is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {SERVICE_ARN}/admin because no service-based policy allows the vpc-lattice-svcs:Invoke action")
    );

    let (status, bad_headers, body) = send(&client, auth_req(&proxy, "/x", "bad-sig")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(bad_headers["x-amzn-errortype"], "InvalidSignatureException");
    assert!(String::from_utf8(body.to_vec())
        .unwrap()
        .starts_with("InvalidSignatureException: The request signature"));

    let (status, _, body) = send(&client, auth_req(&proxy, "/anon", "anon")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!echoed(&body).has("x-amzn-lattice-identity"));

    let (status, _, _) = send(&client, auth_req(&proxy, "/a%2Fb", "signed")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let log = proxy.log.wait_for(5).await;
    let metrics = scrape(&proxy).await;
    for (line, value) in [
        ("trellis_requests_total{outcome=\"allowed\"}", 2),
        ("trellis_requests_total{outcome=\"denied\"}", 1),
        ("trellis_requests_total{outcome=\"authn_failed\"}", 1),
        ("trellis_requests_total{outcome=\"bad_request\"}", 1),
        ("trellis_requests_total{outcome=\"upstream_error\"}", 0),
        ("trellis_authn_total{result=\"signed\"}", 2),
        ("trellis_authn_total{result=\"anonymous\"}", 1),
        ("trellis_authn_total{result=\"bad_signature\"}", 1),
        ("trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"AllowAll\"}", 2),
        ("trellis_authz_decisions_total{decision=\"deny\",layer=\"service\",statement=\"none\"}", 1),
        ("trellis_request_duration_seconds_count{outcome=\"allowed\"}", 2),
        // The malformed request never reached the auth layers.
        ("trellis_auth_duration_seconds_count", 4),
        ("trellis_access_log_dropped_total", 0),
    ] {
        assert!(metrics.contains(&format!("{line} {value}\n")), "missing `{line} {value}` in\n{metrics}");
    }

    let by_path = |p: &str| {
        log.iter()
            .find(|l| l["requestPath"] == p)
            .unwrap_or_else(|| panic!("no line for {p}: {log:?}"))
            .clone()
    };
    let ok = by_path("/orders/7");
    assert_eq!(
        ok["requestId"],
        headers["x-amzn-requestid"].to_str().unwrap()
    );
    assert_eq!(ok["requestMethod"], "GET");
    assert_eq!(ok["protocol"], "HTTP/1.1");
    assert_eq!(ok["hostHeader"], proxy.addr.to_string());
    assert_eq!(ok["userAgent"], "test-agent/1");
    assert!(ok["sourceIpPort"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(ok["targetIpPort"], up.to_string());
    assert_eq!(ok["responseCode"], 200);
    assert!(ok["bytesSent"].as_u64().unwrap() > body_len_floor());
    assert!(ok["bytesReceived"].as_u64().unwrap() > 0);
    assert_eq!(ok["serviceArn"], SERVICE_ARN);
    assert_eq!(ok["serviceNetworkArn"], NETWORK_ARN);
    assert_eq!(ok["callerPrincipal"], CALLER);
    assert_eq!(ok["resolvedUser"], CALLER);
    assert_eq!(ok["callerPrincipalOrgID"], "o-a1b2c3d4e5");
    assert_eq!(ok["callerPrincipalTags"], "{\"team\":\"payments\"}");
    assert_eq!(ok["authDeniedReason"], "-");
    assert_eq!(ok["failureReason"], "-");
    assert_eq!(ok["authnResult"], "signed");
    assert_eq!(ok["matchedStatements"], "service#0(AllowAll)");
    assert_eq!(ok["mode"], "enforce");
    assert!(ok["startTime"].as_str().unwrap().ends_with('Z'));

    let denied = by_path("/admin");
    assert_eq!(denied["responseCode"], 403);
    assert_eq!(
        denied["requestId"],
        denied_headers["x-amzn-requestid"].to_str().unwrap()
    );
    assert_eq!(denied["authDeniedReason"], "Service");
    assert_eq!(denied["failureReason"], "ClientAccessDenied");
    assert_eq!(denied["targetIpPort"], "-");
    assert_eq!(denied["requestToTargetDuration"], 0);
    assert_eq!(denied["resolvedUser"], CALLER);

    let bad = by_path("/x");
    assert_eq!(bad["authnResult"], "bad_signature");
    assert_eq!(bad["resolvedUser"], "-");
    assert_eq!(bad["callerPrincipal"], "-");
    assert_eq!(bad["failureReason"], "ClientAccessDenied");

    let anon = by_path("/anon");
    assert_eq!(anon["resolvedUser"], "Anonymous");
    assert_eq!(anon["callerPrincipal"], "-");

    let malformed = by_path("/a%2Fb");
    assert_eq!(malformed["responseCode"], 400);
    assert_eq!(malformed["failureReason"], "ClientProtocolError");
    assert_eq!(malformed["authnResult"], "-");
}

fn body_len_floor() -> u64 {
    100
}

#[tokio::test]
async fn without_auth_requests_are_allowed_and_logged_with_dashes() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let (status, _, _) = get(&h1_client(), &proxy.url("/plain")).await;
    assert_eq!(status, StatusCode::OK);
    let log = proxy.log.wait_for(1).await;
    assert_eq!(log[0]["authnResult"], "-");
    assert_eq!(log[0]["resolvedUser"], "-");
    assert_eq!(log[0]["matchedStatements"], "-");
    let metrics = scrape(&proxy).await;
    assert!(metrics.contains("trellis_requests_total{outcome=\"allowed\"} 1\n"));
    assert!(metrics.contains("trellis_auth_duration_seconds_count 0\n"));
    assert!(metrics.contains("trellis_build_info{version=\"test\"} 1\n"));
}

#[tokio::test]
async fn a_full_log_queue_drops_and_counts() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.log_capacity = 1;
    let proxy = TestProxy::start(opts).await;
    // Many concurrent requests finishing together overflow a one-slot queue.
    let client = h1_client();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let client = client.clone();
        let url = proxy.url(&format!("/burst/{i}"));
        tasks.push(tokio::spawn(async move { get(&client, &url).await.0 }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dropped = proxy.metrics.access_log_dropped().get();
    let written = proxy.log.lines().len() as u64;
    assert_eq!(written + dropped, 64, "every line is written or counted");
    let metrics = scrape(&proxy).await;
    assert!(metrics.contains(&format!("trellis_access_log_dropped_total {dropped}\n")));
}

#[tokio::test]
async fn a_stalled_log_writer_drops_and_counts_every_further_line() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.log_capacity = 1;
    opts.log_stalled = true;
    let proxy = TestProxy::start(opts).await;
    let client = h1_client();
    for i in 0..20 {
        // Requests are still answered while the log is stuck.
        assert_eq!(
            get(&client, &proxy.url(&format!("/stuck/{i}"))).await.0,
            StatusCode::OK
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // One line is stuck in the writer, one waits in the queue, the rest are counted.
    let dropped = proxy.metrics.access_log_dropped().get();
    assert!((17..=19).contains(&dropped), "dropped {dropped}");
    let metrics = scrape(&proxy).await;
    assert!(metrics.contains(&format!("trellis_access_log_dropped_total {dropped}\n")));
}

#[tokio::test]
async fn admin_health_readiness_and_policy() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let client = h1_client();
    let base = format!("http://{}", proxy.admin);
    assert_eq!(
        get(&client, &format!("{base}/healthz")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&client, &format!("{base}/readyz")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    proxy.ready.set(true);
    assert_eq!(
        get(&client, &format!("{base}/readyz")).await.0,
        StatusCode::OK
    );
    let (status, _, body) = get(&client, &format!("{base}/policy")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"files": []})
    );
    assert_eq!(
        get(&client, &format!("{base}/nope")).await.0,
        StatusCode::NOT_FOUND
    );
}

/// Sends one request on `conn` and reads its answer's status line, within `limit`; `None`
/// when nothing came back in time.
async fn healthz_on(conn: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: admin\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(limit, conn.read(&mut buf))
        .await
        .ok()?
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn admin_connections_beyond_the_cap_wait_until_one_closes() {
    use trellis::admin::MAX_ADMIN_CONNECTIONS;
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    // Up to the cap, every connection is served: all but one sit idle, the last one asks.
    let mut held = Vec::new();
    for _ in 0..MAX_ADMIN_CONNECTIONS - 1 {
        held.push(tokio::net::TcpStream::connect(proxy.admin).await.unwrap());
    }
    let mut last = tokio::net::TcpStream::connect(proxy.admin).await.unwrap();
    assert_eq!(
        healthz_on(&mut last, Duration::from_secs(2))
            .await
            .as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    // One more: it connects (the backlog holds it) but is not served while the cap is reached
    // (checked well within the 5 s in which idle connections would be closed).
    let mut extra = tokio::net::TcpStream::connect(proxy.admin).await.unwrap();
    assert_eq!(
        healthz_on(&mut extra, Duration::from_millis(500)).await,
        None,
        "a connection beyond the cap of {MAX_ADMIN_CONNECTIONS} was served"
    );
    // A slot frees up: the waiting connection is accepted and its request answered.
    drop(held.pop());
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::io::AsyncReadExt::read(&mut extra, &mut buf),
    )
    .await
    .expect("the waiting connection was not served after a slot freed up")
    .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}
