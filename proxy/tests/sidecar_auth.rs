//! The real `Authenticate` and `Authorize` layers in the whole stack, against a real upstream,
//! with requests signed by aws-sigv4 and the example policies of `deploy/examples`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::sidecar_support;
use crate::support;

use std::time::SystemTime;

use http::{Request, StatusCode};
use sidecar_support::*;
use support::*;
use trellis::auth::Mode;
use trellis::snapshot::SnapshotHandle;

async fn start(mode: Mode) -> (TestProxy, SnapshotHandle, tempfile::TempDir) {
    let up = Upstream::echo().addr;
    let dir = policy_dir();
    let mut handle = None;
    let proxy = TestProxy::start_with(
        ProxyOptions::new(up),
        make_auth(snapshot_config(dir.path()), settings(mode), &mut handle),
    )
    .await;
    (proxy, handle.unwrap(), dir)
}

fn text(body: &bytes::Bytes) -> String {
    String::from_utf8(body.to_vec()).unwrap()
}

fn deny_body(user: &str, path: &str, tail: &str) -> String {
    format!("AccessDeniedException: User: {user} is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {SERVICE_ARN}{path} {tail}")
}

#[tokio::test]
async fn a_signed_caller_allowed_by_every_layer_reaches_the_service_with_its_identity() {
    let (proxy, _h, _d) = start(Mode::Enforce).await;
    let mut req = signed("GET", &proxy.url("/orders/7?x=1"), CHECKOUT);
    req.headers_mut().insert(
        "x-amzn-lattice-identity",
        "Principal=spoofed".parse().unwrap(),
    );
    req.headers_mut()
        .insert("x-amzn-source-vpc", "vpc-spoofed".parse().unwrap());
    let (status, headers, body) = send(&h1_client(), req).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert!(headers.contains_key("x-amzn-requestid"));
    let e = echoed(&body);
    assert_eq!(e.path(), "/orders/7?x=1");
    assert_eq!(
        e.header("x-amzn-lattice-identity").unwrap(),
        format!("Principal={CHECKOUT_SESSION}; PrincipalOrgID=o-a1b2c3d4e5; SessionName=checkout-task-1; Type=AWS_IAM")
    );
    assert_eq!(
        e.header("x-amzn-lattice-identity-tags").unwrap(),
        format!("principal={CHECKOUT_SESSION};principalorgid=o-a1b2c3d4e5;principal-team=payments")
    );
    assert_eq!(
        e.header("x-amzn-lattice-target").unwrap(),
        format!("ServiceArn={SERVICE_ARN}; ServiceNetworkArn={NETWORK_ARN}")
    );
    assert!(!e.has("authorization"));
    assert!(!e.has("x-amzn-source-vpc"));
    assert_eq!(e.header("x-forwarded-for").unwrap(), "127.0.0.1");

    let lines = proxy.log.wait_for(1).await;
    assert_eq!(lines[0]["authnResult"], "signed");
    assert_eq!(lines[0]["callerPrincipal"], CHECKOUT_SESSION);
    assert_eq!(lines[0]["callerPrincipalOrgID"], "o-a1b2c3d4e5");
    assert_eq!(
        lines[0]["matchedStatements"],
        "network#0(AllowOrgMembers),service#1(AllowCheckoutToOrders),identity#0(InvokeOrdersService)"
    );
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(sample(&m, "trellis_requests_total{outcome=\"allowed\"}"), 1);
    assert_eq!(sample(&m, "trellis_authn_total{result=\"signed\"}"), 1);
    assert_eq!(
        sample(
            &m,
            "trellis_authz_decisions_total{decision=\"allow\",layer=\"service\",statement=\"AllowCheckoutToOrders\"}"
        ),
        1
    );
    assert_eq!(sample(&m, "trellis_auth_duration_seconds_count"), 1);
}

#[tokio::test]
async fn an_explicit_deny_in_the_service_policy_is_answered_like_lattice() {
    let (proxy, _h, _d) = start(Mode::Enforce).await;
    let req = signed("GET", &proxy.url("/admin/users"), CHECKOUT);
    let (status, headers, body) = send(&h1_client(), req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["x-amzn-errortype"], "AccessDeniedException");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert!(headers.contains_key("x-amzn-requestid"));
    assert_eq!(
        text(&body).trim_end(),
        deny_body(
            CHECKOUT_SESSION,
            "/admin/users",
            "with an explicit deny in a service-based policy"
        )
    );
    let lines = proxy.log.wait_for(1).await;
    assert_eq!(lines[0]["authDeniedReason"], "Service");
    assert_eq!(lines[0]["failureReason"], "ClientAccessDenied");
    assert_eq!(lines[0]["responseCode"], 403);
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(sample(&m, "trellis_requests_total{outcome=\"denied\"}"), 1);
    assert_eq!(
        sample(
            &m,
            "trellis_authz_decisions_total{decision=\"deny\",layer=\"service\",statement=\"DenyAdminOutsidePlatform\"}"
        ),
        1
    );
}

#[tokio::test]
async fn each_layer_reports_its_own_implicit_deny() {
    let (proxy, _h, _d) = start(Mode::Enforce).await;
    let client = h1_client();
    // Anonymous outside /public: the network policy only lets org members in.
    let (status, _, body) = get(&client, &proxy.url("/orders/7")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        text(&body).trim_end(),
        deny_body(
            "anonymous",
            "/orders/7",
            "because no network-based policy allows the vpc-lattice-svcs:Invoke action"
        )
    );
    // Checkout is in the org but the service policy does not cover /inventory.
    let (status, _, body) = send(&client, signed("GET", &proxy.url("/inventory"), CHECKOUT)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        text(&body).trim_end(),
        deny_body(
            CHECKOUT_SESSION,
            "/inventory",
            "because no service-based policy allows the vpc-lattice-svcs:Invoke action"
        )
    );
    // A platform user without identity policies: both auth policies allow, identity does not.
    let (status, _, body) = send(&client, signed("GET", &proxy.url("/inventory"), NOPOL)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        text(&body).trim_end(),
        deny_body(
            "arn:aws:iam::111122223333:user/no-policy",
            "/inventory",
            "because no identity-based policy allows the vpc-lattice-svcs:Invoke action"
        )
    );
    // The platform user with an identity policy passes even /admin.
    let (status, _, body) = send(&client, signed("GET", &proxy.url("/admin/users"), OPS)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(
        sample(
            &m,
            "trellis_authz_decisions_total{decision=\"deny\",layer=\"identity\",statement=\"none\"}"
        ),
        1
    );
    let lines = proxy.log.wait_for(4).await;
    assert_eq!(lines[0]["authDeniedReason"], "Network");
    assert_eq!(lines[0]["resolvedUser"], "Anonymous");
    assert_eq!(lines[2]["authDeniedReason"], "Identity");
}

#[tokio::test]
async fn anonymous_callers_are_allowed_where_policies_say_and_get_no_identity() {
    let (proxy, _h, _d) = start(Mode::Enforce).await;
    let mut req = Request::get(proxy.url("/public/index.html"))
        .body(full(""))
        .unwrap();
    req.headers_mut().insert(
        "x-amzn-lattice-identity-tags",
        "principal=spoofed".parse().unwrap(),
    );
    let (status, _, body) = send(&h1_client(), req).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let e = echoed(&body);
    assert!(!e.has("x-amzn-lattice-identity"));
    assert!(!e.has("x-amzn-lattice-identity-tags"));
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(sample(&m, "trellis_authn_total{result=\"anonymous\"}"), 1);
}

#[tokio::test]
async fn authentication_failures_carry_aws_error_types_and_never_fall_back_to_anonymous() {
    let (proxy, _h, _d) = start(Mode::Enforce).await;
    let client = h1_client();
    let url = proxy.url("/public/index.html");
    let cases: Vec<(Request<TestBody>, &str, &str, &str)> = vec![
        (
            signed("GET", &url, (CHECKOUT.0, "wrong-secret")),
            "InvalidSignatureException",
            "The request signature we calculated does not match",
            "bad_signature",
        ),
        (
            signed("GET", &url, ("AKIAUNKNOWNKEY000001", "x")),
            "UnrecognizedClientException",
            "The security token included in the request is invalid",
            "unknown_key",
        ),
        (
            signed_at("GET", &url, CHECKOUT, minutes_ago(30), &[]),
            "InvalidSignatureException",
            "Signature expired",
            "expired",
        ),
        (
            signed("GET", &url, EXPIRED),
            "ExpiredTokenException",
            "The security token included in the request is expired",
            "expired",
        ),
        (
            signed_in("us-east-1", "GET", &url, CHECKOUT, SystemTime::now(), &[]),
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'us-east-1'.",
            "wrong_scope",
        ),
        (
            Request::get(&url)
                .header("authorization", "AWS4-HMAC-SHA256 Credential=nonsense")
                .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
                .body(full(""))
                .unwrap(),
            "IncompleteSignatureException",
            "",
            "incomplete",
        ),
    ];
    let mut expired_seen = 0;
    for (req, error_type, message, label) in cases {
        let (status, headers, body) = send(&client, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{label}");
        assert_eq!(headers["x-amzn-errortype"], error_type, "{label}");
        let body = text(&body);
        assert!(
            body.starts_with(&format!("{error_type}: {message}")),
            "{label}: {body}"
        );
        assert!(!body.contains("AWS4-HMAC-SHA256\n"), "{body}");
        if label == "expired" {
            expired_seen += 1;
        }
        let m = proxy.metrics.encode().unwrap();
        assert_eq!(
            sample(&m, &format!("trellis_authn_total{{result=\"{label}\"}}")),
            if label == "expired" { expired_seen } else { 1 },
            "{label}"
        );
    }
    // A signature without a signed x-amz-content-sha256 is incomplete, not anonymous.
    let mut req = signed("GET", &url, CHECKOUT);
    req.headers_mut().remove("x-amz-content-sha256");
    let (status, headers, body) = send(&client, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["x-amzn-errortype"], "IncompleteSignatureException");
    assert!(text(&body).starts_with("IncompleteSignatureException: "));
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(
        sample(&m, "trellis_requests_total{outcome=\"authn_failed\"}"),
        7
    );
    assert_eq!(sample(&m, "trellis_authn_total{result=\"anonymous\"}"), 0);
}

#[tokio::test]
async fn the_normalized_path_is_the_resource_and_the_forwarded_path() {
    let (proxy, _h, _d) = start(Mode::Enforce).await;
    let client = h1_client();
    // Climbing out of /public does not inherit its allow.
    for raw in [
        "/public/../orders/7",
        "/public/%2e%2E/orders/7",
        "/public/./../orders//7",
    ] {
        let (status, _, body) = get(&client, &proxy.url(raw)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{raw}");
        assert_eq!(
            text(&body).trim_end(),
            deny_body(
                "anonymous",
                "/orders/7",
                "because no network-based policy allows the vpc-lattice-svcs:Invoke action"
            ),
            "{raw}"
        );
    }
    let (status, _, body) = get(&client, &proxy.url("/public/a/./b/../%69ndex.html")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echoed(&body).path(), "/public/a/index.html");
    let (status, headers, _) = get(&client, &proxy.url("/public/a%2Fb")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(headers.contains_key("x-amzn-requestid"));
    // A signed request is verified against the target as sent, then decided on the
    // normalized path.
    let (status, _, body) = send(&client, signed("GET", &proxy.url("/orders/./7"), CHECKOUT)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert_eq!(echoed(&body).path(), "/orders/7");
}

#[tokio::test]
async fn audit_mode_decides_logs_and_counts_denials_but_forwards_them() {
    let (proxy, _h, _d) = start(Mode::Audit).await;
    let (status, _, body) = send(
        &h1_client(),
        signed("GET", &proxy.url("/admin/users"), CHECKOUT),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echoed(&body).path(), "/admin/users");
    let lines = proxy.log.wait_for(1).await;
    assert_eq!(lines[0]["authDeniedReason"], "Service");
    assert_eq!(lines[0]["responseCode"], 200);
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(sample(&m, "trellis_requests_total{outcome=\"denied\"}"), 1);
    assert_eq!(sample(&m, "trellis_requests_total{outcome=\"allowed\"}"), 0);
}

#[tokio::test]
async fn conditions_see_headers_query_values_port_and_source() {
    let up = Upstream::echo().addr;
    let dir = policy_dir();
    std::fs::write(
        dir.path().join("service.json"),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Cond","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{SERVICE_ARN}/public/*",
            "Condition":{{"StringEquals":{{"vpc-lattice-svcs:RequestHeader/x-team":"a, b","vpc-lattice-svcs:RequestMethod":"GET",
              "vpc-lattice-svcs:ServiceNetworkArn":"{NETWORK_ARN}","vpc-lattice-svcs:SourceVpc":"vpc-0abc","aws:SecureTransport":"false",
              "vpc-lattice-svcs:RequestPath":"/public/x"}},
              "ForAnyValue:StringEquals":{{"vpc-lattice-svcs:RequestQueryString/tag":"b c"}},
              "IpAddress":{{"aws:SourceIp":"127.0.0.0/8"}},
              "NumericGreaterThan":{{"vpc-lattice-svcs:Port":"0","aws:EpochTime":"1700000000"}},
              "DateGreaterThan":{{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}}}}]}}"#
        ),
    )
    .unwrap();
    let mut handle = None;
    let proxy = TestProxy::start_with(
        ProxyOptions::new(up),
        make_auth(
            snapshot_config(dir.path()),
            settings(Mode::Enforce),
            &mut handle,
        ),
    )
    .await;
    let client = h1_client();
    let req = |query: &str, teams: &[&str]| {
        let mut b = Request::get(proxy.url(&format!("/public/x?{query}")));
        for t in teams {
            b = b.header("x-team", *t);
        }
        b.body(full("")).unwrap()
    };
    let (status, _, body) = send(&client, req("tag=a&tag=b%20c", &["a, b"])).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let (status, _, _) = send(&client, req("tag=a", &["a, b"])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The header the policy reads on two lines is refused, not joined.
    let (status, _, body) = send(&client, req("tag=a&tag=b%20c", &["a", "b"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    let (status, _, _) = send(&client, req("tag=b%20c", &["a"])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn http2_callers_are_verified_against_their_authority() {
    let up = Upstream::echo().addr;
    let dir = policy_dir();
    let mut handle = None;
    let mut opts = ProxyOptions::new(up);
    opts.protocol = Some(trellis::upstream::UpstreamProtocol::Http2);
    let proxy = TestProxy::start_with(
        opts,
        make_auth(
            snapshot_config(dir.path()),
            settings(Mode::Enforce),
            &mut handle,
        ),
    )
    .await;
    let mut req = signed("GET", &proxy.url("/orders/7"), CHECKOUT);
    // HTTP/2 carries the host in `:authority`; no `host` header is sent.
    req.headers_mut().remove("host");
    let (status, _, body) = send(&h2c_client(), req).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let e = echoed(&body);
    assert_eq!(e.version(), "HTTP/2.0");
    assert!(e.has("x-amzn-lattice-identity"));
}

#[tokio::test]
async fn presigned_urls_authenticate_and_a_tampered_query_fails() {
    let (proxy, _h, _d) = start(Mode::Enforce).await;
    let (status, _, body) = send(
        &h1_client(),
        presigned(&proxy.url("/orders/7?x=1"), CHECKOUT),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    assert!(echoed(&body).has("x-amzn-lattice-identity"));
    // Tampering with the signed query fails; it is not retried as anonymous.
    let req = presigned(&proxy.url("/orders/7?x=1"), CHECKOUT);
    let tampered = req.uri().to_string().replace("x=1", "x=2");
    let (status, headers, _) = send(
        &h1_client(),
        Request::get(tampered)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .body(full(""))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["x-amzn-errortype"], "InvalidSignatureException");
}

async fn start_with_settings(
    config: trellis::snapshot::SnapshotConfig,
    s: trellis::auth::AuthSettings,
) -> (TestProxy, SnapshotHandle) {
    let up = Upstream::echo().addr;
    let mut handle = None;
    let proxy =
        TestProxy::start_with(ProxyOptions::new(up), make_auth(config, s, &mut handle)).await;
    (proxy, handle.unwrap())
}

#[tokio::test]
async fn with_both_levels_none_nothing_is_verified_and_no_identity_is_added() {
    use trellis::snapshot::AuthType;
    let dir = policy_dir();
    let mut config = snapshot_config(dir.path());
    config.network_auth = AuthType::None;
    config.service_auth = AuthType::None;
    let mut s = settings(Mode::Enforce);
    s.enabled = config.auth_enabled();
    let (proxy, _h) = start_with_settings(config, s).await;
    let (status, _, body) = send(
        &h1_client(),
        signed("GET", &proxy.url("/admin/users"), (CHECKOUT.0, "wrong")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!echoed(&body).has("x-amzn-lattice-identity"));
}

#[tokio::test]
async fn service_none_skips_the_service_policy_and_identity_ignore_skips_identity() {
    use trellis::auth::IdentityPolicies;
    use trellis::snapshot::AuthType;
    let dir = policy_dir();
    let mut config = snapshot_config(dir.path());
    config.service_auth = AuthType::None;
    let mut s = settings(Mode::Enforce);
    s.identity_policies = IdentityPolicies::Ignore;
    let (proxy, _h) = start_with_settings(config, s).await;
    // The service's explicit deny of /admin is inactive; the network policy lets org members in.
    let (status, _, body) = send(
        &h1_client(),
        signed("GET", &proxy.url("/admin/users"), CHECKOUT),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    // No identity policy needed under `ignore`.
    let (status, _, body) = send(&h1_client(), signed("GET", &proxy.url("/x"), NOPOL)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    // Still signed: the caller's identity is forwarded.
    assert!(echoed(&body).has("x-amzn-lattice-identity"));
}

#[tokio::test]
async fn explicit_denies_in_the_network_and_identity_layers_name_their_layer() {
    let dir = policy_dir();
    let deny = |resource: &str, principal: bool| {
        let p = if principal { r#""Principal":"*","# } else { "" };
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Deny","Effect":"Deny",{p}"Action":"vpc-lattice-svcs:Invoke","Resource":"{SERVICE_ARN}{resource}"}},{{"Sid":"All","Effect":"Allow",{p}"Action":"*","Resource":"*"}}]}}"#
        )
    };
    std::fs::write(dir.path().join("network.json"), deny("/net/*", true)).unwrap();
    let mut people: serde_json::Value = serde_json::from_str(&principals_text()).unwrap();
    people["principals"][0]["policies"] =
        serde_json::json!([serde_json::from_str::<serde_json::Value>(&deny(
            "/orders/secret",
            false
        ))
        .unwrap()]);
    std::fs::write(dir.path().join("principals.json"), people.to_string()).unwrap();
    let (proxy, _h) =
        start_with_settings(snapshot_config(dir.path()), settings(Mode::Enforce)).await;
    let client = h1_client();
    let (status, _, body) = send(&client, signed("GET", &proxy.url("/net/a"), CHECKOUT)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        text(&body).trim_end(),
        deny_body(
            CHECKOUT_SESSION,
            "/net/a",
            "with an explicit deny in a network-based policy"
        )
    );
    let (status, _, body) = send(
        &client,
        signed("GET", &proxy.url("/orders/secret"), CHECKOUT),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        text(&body).trim_end(),
        deny_body(
            CHECKOUT_SESSION,
            "/orders/secret",
            "with an explicit deny in a identity-based policy"
        )
    );
    let lines = proxy.log.wait_for(2).await;
    assert_eq!(lines[0]["authDeniedReason"], "Network");
    assert_eq!(lines[1]["authDeniedReason"], "Identity");
}
