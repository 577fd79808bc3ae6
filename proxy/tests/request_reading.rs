//! One request, one reading: the path, the method and the query as the real stack reads them,
//! against a real upstream that records what it received and a service policy that denies on
//! the decoded forms.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::sidecar_support;
use crate::support;

use http::{HeaderMap, StatusCode};
use sidecar_support::*;
use support::*;
use trellis::auth::IdentityPolicies;
use trellis::auth::Mode;
use trellis::normalize::PathRules;
use trellis::snapshot::{AuthType, SnapshotConfig, SnapshotHandle};

/// Allows everyone everything except `projects/*:delete` and the query value `drop all`;
/// denies any request whose query the policy sees holding a presign credential.
fn service_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowAll",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*"
            },
            {
                "Sid": "DenyProjectDeletes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": format!("{SERVICE_ARN}/projects/*:delete")
            },
            {
                "Sid": "DenyDropAll",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
                "Condition": {
                    "ForAnyValue:StringEquals": {
                        "vpc-lattice-svcs:RequestQueryString/action": "drop all"
                    }
                }
            },
            {
                "Sid": "DenySeenCredential",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
                "Condition": {
                    "Null": { "vpc-lattice-svcs:RequestQueryString/x-amz-credential": "false" }
                }
            }
        ]
    })
    .to_string()
}

struct Setup {
    proxy: TestProxy,
    _handle: SnapshotHandle,
    _dir: tempfile::TempDir,
}

async fn start(path_rules: PathRules) -> Setup {
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
    let mut auth = settings(Mode::Enforce);
    auth.identity_policies = IdentityPolicies::Ignore;
    let mut opts = ProxyOptions::new(up);
    opts.path_rules = path_rules;
    let mut handle = None;
    let proxy = TestProxy::start_with(opts, make_auth(config, auth, &mut handle)).await;
    Setup {
        proxy,
        _handle: handle.unwrap(),
        _dir: dir,
    }
}

fn text(body: &bytes::Bytes) -> String {
    String::from_utf8(body.to_vec()).unwrap()
}

fn explicit_deny(path: &str) -> String {
    format!("AccessDeniedException: User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {SERVICE_ARN}{path} with an explicit deny in a service-based policy")
}

/// What the upstream received for an allowed `GET target`.
async fn forwarded(proxy: &TestProxy, target: &str) -> String {
    let (status, _, body) = get(&h1_client(), &proxy.url(target)).await;
    assert_eq!(status, StatusCode::OK, "{target}: {}", text(&body));
    echoed(&body).path().to_owned()
}

/// Asserts `GET target` is denied on `resource_path`.
async fn assert_denied(proxy: &TestProxy, target: &str, resource_path: &str) {
    let (status, headers, body) = get(&h1_client(), &proxy.url(target)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{target}: {}", text(&body));
    assert_eq!(headers["x-amzn-errortype"], "AccessDeniedException");
    assert_eq!(text(&body), explicit_deny(resource_path), "{target}");
}

/// The status line, the headers (lower-cased names) and the body of a raw answer.
fn parse_answer(answer: &str) -> (String, HeaderMap, String) {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().to_owned();
    let mut headers = HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':').unwrap();
        headers.append(
            http::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
            v.trim().parse().unwrap(),
        );
    }
    (status, headers, body.to_owned())
}

/// Sends `request_line` raw and asserts the proxy's own 400 with `message`.
async fn assert_bad_request(proxy: &TestProxy, request_line: &str, message: &str) {
    let answer = raw_request(
        proxy.addr,
        format!("{request_line} HTTP/1.1\r\nHost: svc\r\n\r\n").as_bytes(),
    )
    .await;
    let (status, headers, body) = parse_answer(&answer);
    assert_eq!(
        status, "HTTP/1.1 400 Bad Request",
        "{request_line}: {answer}"
    );
    assert!(headers.contains_key("x-amzn-requestid"), "{answer}");
    assert!(!headers.contains_key("x-amzn-errortype"), "{answer}");
    assert_eq!(
        headers["content-type"], "text/plain; charset=utf-8",
        "{answer}"
    );
    assert_eq!(
        body.trim_end(),
        format!("BadRequest: {message}"),
        "{request_line}"
    );
}

#[tokio::test]
async fn a_percent_encoded_colon_is_decoded_for_policy_and_upstream() {
    let s = start(PathRules::default()).await;
    for target in [
        "/projects/p1%3Adelete",
        "/projects/p1%3adelete",
        "/projects/%70%31%3A%64elete",
    ] {
        assert_denied(&s.proxy, target, "/projects/p1:delete").await;
    }
    assert_denied(&s.proxy, "/projects/p1:delete", "/projects/p1:delete").await;
    assert_eq!(
        forwarded(&s.proxy, "/projects/p1%3Aread").await,
        "/projects/p1:read"
    );
    assert_eq!(
        forwarded(
            &s.proxy,
            "/a%40b%2Bc%21d%24e%26f%27g%28h%29i%2Aj%2Ck%3Dl?q=%3A"
        )
        .await,
        "/a@b+c!d$e&f'g(h)i*j,k=l?q=%3A"
    );
    assert_eq!(
        forwarded(&s.proxy, "/caf%c3%a9%20x%3F").await,
        "/caf%C3%A9%20x%3F"
    );
}

#[tokio::test]
async fn a_double_percent_encoding_is_answered_400() {
    let s = start(PathRules::default()).await;
    let message = "request path is percent-encoded twice (`%25` followed by two hex digits); encode the path once";
    for target in [
        "/projects/p1%253Adelete",
        "/a%252F..%252Fadmin",
        "/a%25%34%31",
    ] {
        assert_bad_request(&s.proxy, &format!("GET {target}"), message).await;
    }
    assert_eq!(forwarded(&s.proxy, "/100%25").await, "/100%25");
}

#[tokio::test]
async fn a_semicolon_in_a_path_is_answered_400_unless_allowed() {
    let s = start(PathRules::default()).await;
    let message = "request path contains `;` (raw or `%3B`), which servlet containers read as a path parameter; send the path without it, or start the proxy with `--allow-path-semicolons`";
    for target in ["/public/..;/secret/x", "/a;v=1/b", "/a%3Bb", "/a%3bb"] {
        assert_bad_request(&s.proxy, &format!("GET {target}"), message).await;
    }
}

#[tokio::test]
async fn allowed_semicolons_reach_the_upstream_but_not_in_dot_segments() {
    let s = start(PathRules {
        allow_semicolons: true,
    })
    .await;
    assert_eq!(forwarded(&s.proxy, "/a;v=1/b").await, "/a;v=1/b");
    assert_eq!(forwarded(&s.proxy, "/a%3Bv=1/b").await, "/a;v=1/b");
    assert_eq!(forwarded(&s.proxy, "/a;v=1/../b").await, "/b");
    let message = "request path has a dot segment with a `;` parameter (`.;` or `..;`); send the path without it";
    for target in ["/public/..;/secret/x", "/public/.;x/y", "/a/%2e%2e%3B/b"] {
        assert_bad_request(&s.proxy, &format!("GET {target}"), message).await;
    }
}

#[tokio::test]
async fn a_method_with_a_lower_case_letter_is_answered_400() {
    let s = start(PathRules::default()).await;
    for method in ["get", "Get", "delete"] {
        let message = format!("request method `{method}` contains a lower-case letter; send the method in upper case, such as `GET`");
        assert_bad_request(&s.proxy, &format!("{method} /x"), &message).await;
    }
}

#[tokio::test]
async fn plus_in_a_query_cannot_dodge_a_deny_on_the_decoded_value() {
    let s = start(PathRules::default()).await;
    for target in [
        "/db?action=drop+all",
        "/db?action=drop%20all",
        "/db?Action=drop+all",
        "/db?x=1&action=drop+all",
        "/db?a%63tion=drop+all",
    ] {
        assert_denied(&s.proxy, target, "/db").await;
    }
    // A literal plus is `%2B`, and the query reaches the upstream byte for byte.
    for target in ["/db?action=drop%2Ball", "/db?action=drop+some&x=%2F+"] {
        assert_eq!(forwarded(&s.proxy, target).await, target);
    }
}

#[tokio::test]
async fn presigned_credentials_are_not_forwarded_and_not_seen_by_the_policy() {
    let s = start(PathRules::default()).await;
    let req = presigned(&s.proxy.url("/orders/7?x=1&y=%2F"), CHECKOUT);
    let sent = req.uri().query().unwrap().to_owned();
    assert!(sent.contains("X-Amz-Signature="), "{sent}");
    assert!(sent.contains("X-Amz-Credential="), "{sent}");
    let (status, _, body) = send(&h1_client(), req).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let e = echoed(&body);
    assert!(
        e.has("x-amzn-lattice-identity"),
        "the verifier read the original target"
    );
    let kept: Vec<&str> = sent
        .split('&')
        .filter(|item| !item.starts_with("X-Amz-"))
        .collect();
    assert_eq!(kept, ["x=1", "y=%2F"], "{sent}");
    assert_eq!(e.path(), "/orders/7?x=1&y=%2F");

    // Only authentication parameters: no query at all reaches the upstream.
    let req = presigned(&s.proxy.url("/orders/7"), CHECKOUT);
    let (status, _, body) = send(&h1_client(), req).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert_eq!(echoed(&body).path(), "/orders/7");

    // An anonymous caller's look-alike parameter (any case) is removed too.
    assert_eq!(
        forwarded(
            &s.proxy,
            "/p?x-amz-credential=leak&X%2DAmz%2DSignature=1&k=v"
        )
        .await,
        "/p?k=v"
    );
}
