//! One reading of the host and the headers, through the whole stack with the real auth layers:
//! what a policy decides on is what the upstream receives, and a head two servers would read
//! differently is answered 400.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::sidecar_support;
use crate::support;

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sidecar_support::*;
use support::*;
use trellis::auth::Mode;
use trellis::request_head::{HeaderRules, Underscores, Xff};
use trellis::snapshot::{AuthType, SnapshotConfig};

/// `/open/*` for everyone; `/tenant/*` only with `x-tenant: public`; denied everywhere for a
/// host `admin.*` or `x-debug: true`.
fn service_policy() -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
  {{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{SERVICE_ARN}/open/*"}},
  {{"Sid":"Tenant","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{SERVICE_ARN}/tenant/*",
    "Condition":{{"StringEquals":{{"vpc-lattice-svcs:RequestHeader/x-tenant":"public"}}}}}},
  {{"Sid":"NoAdminHost","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{SERVICE_ARN}/*",
    "Condition":{{"StringLike":{{"vpc-lattice-svcs:RequestHeader/host":"admin.*"}}}}}},
  {{"Sid":"NoDebug","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{SERVICE_ARN}/*",
    "Condition":{{"StringEquals":{{"vpc-lattice-svcs:RequestHeader/x-debug":"true"}}}}}}]}}"#
    )
}

async fn start(rules: HeaderRules) -> (TestProxy, tempfile::TempDir) {
    let up = Upstream::echo().addr;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("service.json"), service_policy()).unwrap();
    std::fs::write(dir.path().join("principals.json"), principals_text()).unwrap();
    let config = SnapshotConfig {
        network_auth: AuthType::None,
        network_policy: None,
        service_auth: AuthType::AwsIam,
        service_policy: Some(dir.path().join("service.json")),
        principals: Some(dir.path().join("principals.json")),
    };
    let mut opts = ProxyOptions::new(up);
    opts.header_rules = rules;
    let mut handle = None;
    let proxy = TestProxy::start_with(
        opts,
        make_auth(config, settings(Mode::Enforce), &mut handle),
    )
    .await;
    (proxy, dir)
}

async fn start_default() -> (TestProxy, tempfile::TempDir) {
    start(HeaderRules::default()).await
}

/// Sends a raw HTTP/1.1 head; the status and the body.
async fn raw(addr: SocketAddr, head: &str) -> (u16, String) {
    let answer = raw_request(addr, head.as_bytes()).await;
    let status = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

fn echo(body: &str) -> Echoed {
    echoed(&Bytes::from(body.to_owned()))
}

/// One HTTP/2 request over a new h2c connection to `addr`, whatever authority `req` names.
async fn h2(addr: SocketAddr, req: Request<TestBody>) -> (StatusCode, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let res = within(10, sender.send_request(req)).await.unwrap();
    let status = res.status();
    let body = within(10, res.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    (status, body)
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn a_host_deny_applies_to_absolute_form_targets_and_the_upstream_gets_that_host() {
    let (proxy, _d) = start_default().await;
    let (status, body) = raw(
        proxy.addr,
        "GET http://admin.example.com/open/x HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("with an explicit deny in a service-based policy"),
        "{body}"
    );
    let (status, body) = raw(
        proxy.addr,
        "GET http://public.example.com/open/x HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let e = echo(&body);
    assert_eq!(e.header("host").unwrap(), "public.example.com");
    assert_eq!(e.path(), "/open/x");
}

#[tokio::test]
async fn a_host_deny_applies_to_http2_authorities_and_the_upstream_gets_that_host() {
    let (proxy, _d) = start_default().await;
    let get = |authority: &str| {
        Request::get(format!("http://{authority}/open/x"))
            .body(full(""))
            .unwrap()
    };
    let (status, body) = h2(proxy.addr, get("admin.example.com")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{}", text(&body));
    let (status, body) = h2(proxy.addr, get("public.example.com")).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let e = echoed(&body);
    assert_eq!(e.header("host").unwrap(), "public.example.com");
}

#[tokio::test]
async fn two_hosts_or_an_authority_other_than_host_are_answered_400() {
    let (proxy, _d) = start_default().await;
    for head in [
        "GET /open/x HTTP/1.1\r\nHost: public.example.com\r\nHost: admin.example.com\r\nConnection: close\r\n\r\n",
        "GET http://admin.example.com/open/x HTTP/1.1\r\nHost: public.example.com\r\nConnection: close\r\n\r\n",
        "GET /open/x HTTP/1.1\r\nHost: public.example.com, admin.example.com\r\nConnection: close\r\n\r\n",
        "GET /open/x HTTP/1.0\r\n\r\n",
    ] {
        let (status, body) = raw(proxy.addr, head).await;
        assert_eq!(status, 400, "{head}: {body}");
        assert!(body.starts_with("BadRequest: "), "{body}");
    }
    let (_, body) = raw(
        proxy.addr,
        "GET http://admin.example.com/open/x HTTP/1.1\r\nHost: public.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        body,
        "BadRequest: the request's authority `admin.example.com` differs from its `Host` header `public.example.com`; send one host (an origin-form target `/path` with `Host`, or the same host in both)"
    );
    let req = Request::get("http://admin.example.com/open/x")
        .header("host", "public.example.com")
        .body(full(""))
        .unwrap();
    let (status, body) = h2(proxy.addr, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
}

#[tokio::test]
async fn a_signed_http2_caller_is_verified_against_the_authority_forwarded_as_host() {
    let (proxy, _d) = start_default().await;
    let mut req = signed("GET", &proxy.url("/open/x"), CHECKOUT);
    // HTTP/2 carries the signed host in `:authority`; no `host` header is sent.
    req.headers_mut().remove("host");
    let (status, _, body) = send(&h2c_client(), req).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let e = echoed(&body);
    // Forwarded over HTTP/1.1 (the default `--upstream-protocol`), with the signed authority
    // as `Host`.
    assert_eq!(e.version(), "HTTP/1.1");
    assert_eq!(e.header("host").unwrap(), proxy.addr.to_string());
    assert!(e.has("x-amzn-lattice-identity"));
}

#[tokio::test]
async fn repeated_lines_of_a_header_a_policy_reads_are_answered_400() {
    let (proxy, _d) = start_default().await;
    let head = |lines: &str| {
        format!("GET /open/x HTTP/1.1\r\nHost: svc\r\n{lines}Connection: close\r\n\r\n")
    };
    let (status, body) = raw(proxy.addr, &head("x-debug: true\r\nx-debug: true\r\n")).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("header `x-debug` appears on more than one line and a policy reads it"),
        "{body}"
    );
    let (status, body) = raw(proxy.addr, &head("x-debug: true\r\n")).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = raw(proxy.addr, &head("x-other: 1\r\nx-other: 2\r\n")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echo(&body).header("x-other").unwrap(), "1,2");
}

#[tokio::test]
async fn a_header_named_in_connection_is_removed_before_the_policy_decides() {
    let (proxy, _d) = start_default().await;
    let (status, body) = raw(
        proxy.addr,
        "GET /tenant/x HTTP/1.1\r\nHost: svc\r\nx-tenant: public\r\nConnection: x-tenant, close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("because no service-based policy allows"),
        "{body}"
    );
    let (status, body) = raw(
        proxy.addr,
        "GET /tenant/x HTTP/1.1\r\nHost: svc\r\nx-tenant: public\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let e = echo(&body);
    assert_eq!(e.header("x-tenant").unwrap(), "public");
    assert!(!e.has("connection"));
}

#[tokio::test]
async fn connection_naming_the_host_an_x_amz_header_or_a_signed_header_is_answered_400() {
    let (proxy, _d) = start_default().await;
    for token in ["host", "authorization", "x-amz-date"] {
        let (status, body) = raw(
            proxy.addr,
            &format!("GET /open/x HTTP/1.1\r\nHost: svc\r\nConnection: {token}, close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 400, "{token}: {body}");
        assert!(
            body.contains(&format!("`Connection` names `{token}`")),
            "{body}"
        );
    }
    let mut req = signed_at(
        "GET",
        &proxy.url("/tenant/x"),
        CHECKOUT,
        std::time::SystemTime::now(),
        &[("x-tenant", "public")],
    );
    req.headers_mut()
        .insert("connection", "x-tenant".parse().unwrap());
    let (status, _, body) = send(&h1_client(), req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    assert!(
        text(&body).contains("a header the request signed"),
        "{}",
        text(&body)
    );
}

const SPOOFED: &str = "x_amzn_lattice_identity: Principal=arn:aws:iam::111122223333:role/admin; PrincipalOrgID=; SessionName=; Type=AWS_IAM\r\n";

fn underscore_head() -> String {
    format!(
        "GET /open/x HTTP/1.1\r\nHost: svc\r\n{SPOOFED}x_debug: true\r\nConnection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn underscore_headers_are_dropped_by_default() {
    let (proxy, _d) = start_default().await;
    let (status, body) = raw(proxy.addr, &underscore_head()).await;
    assert_eq!(status, 200, "{body}");
    let e = echo(&body);
    assert!(!e.has("x_amzn_lattice_identity"));
    assert!(!e.has("x_debug"));
    assert!(
        !e.has("x-amzn-lattice-identity"),
        "anonymous callers get no identity"
    );
}

#[tokio::test]
async fn underscore_headers_are_answered_400_under_reject() {
    let (proxy, _d) = start(HeaderRules {
        underscores: Underscores::Reject,
        ..HeaderRules::default()
    })
    .await;
    let (status, body) = raw(proxy.addr, &underscore_head()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("contains `_`"), "{body}");
}

#[tokio::test]
async fn underscore_headers_are_forwarded_under_allow_but_never_an_identity_spelling() {
    let (proxy, _d) = start(HeaderRules {
        underscores: Underscores::Allow,
        ..HeaderRules::default()
    })
    .await;
    let (status, body) = raw(proxy.addr, &underscore_head()).await;
    assert_eq!(status, 200, "{body}");
    let e = echo(&body);
    assert_eq!(e.header("x_debug").unwrap(), "true");
    assert!(!e.has("x_amzn_lattice_identity"));
    assert!(!e.has("x-amzn-lattice-identity"));
}

#[tokio::test]
async fn a_signed_underscore_header_is_answered_400_not_a_signature_failure() {
    let (proxy, _d) = start_default().await;
    let req = signed_at(
        "GET",
        &proxy.url("/open/x"),
        CHECKOUT,
        std::time::SystemTime::now(),
        &[("x_tenant", "public")],
    );
    let (status, headers, body) = send(&h1_client(), req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    assert!(!headers.contains_key("x-amzn-errortype"));
    assert!(
        text(&body).contains("signed header `x_tenant` contains `_`"),
        "{}",
        text(&body)
    );
}

#[tokio::test]
async fn xff_replace_forwards_the_peer_alone_and_append_keeps_the_callers_chain() {
    let head = "GET /open/x HTTP/1.1\r\nHost: svc\r\nX-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n";
    let (proxy, _d) = start_default().await;
    let (status, body) = raw(proxy.addr, head).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echo(&body).header("x-forwarded-for").unwrap(), "127.0.0.1");
    let (proxy, _d) = start(HeaderRules {
        xff: Xff::Append,
        ..HeaderRules::default()
    })
    .await;
    let (status, body) = raw(proxy.addr, head).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        echo(&body).header("x-forwarded-for").unwrap(),
        "203.0.113.9, 127.0.0.1"
    );
}
