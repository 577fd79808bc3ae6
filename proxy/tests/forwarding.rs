//! What the upstream receives: the normalized path, the header rules, the request id; and the
//! proxy's own answers for malformed requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::support;

use http::{Request, StatusCode};
use support::*;

#[tokio::test]
async fn forwarded_path_is_the_normalized_one_and_query_is_untouched() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let client = h1_client();
    let cases = [
        ("/a/./b/../c", "/a/c"),
        ("/public/%2e%2E/admin", "/admin"),
        ("/a/.%2e/b", "/b"),
        ("//a///b//", "/a/b/"),
        ("/%61dmin/x%3ay", "/admin/x:y"),
        ("/q?x=%2F&y=1+2&z", "/q?x=%2F&y=1+2&z"),
        ("/", "/"),
    ];
    for (sent, expected) in cases {
        let (status, _, body) = get(&client, &proxy.url(sent)).await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        assert_eq!(echoed(&body).path(), expected, "{sent}");
    }
}

#[tokio::test]
async fn bad_paths_are_answered_400_with_a_request_id() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    for target in [
        "/a%2Fb",
        "/a%2fb",
        "/a%5Cb",
        "/a%5cb",
        "/a%00b",
        "/..",
        "/a/../../b",
        "/%2e%2e/x",
    ] {
        let answer = raw_request(
            proxy.addr,
            format!("GET {target} HTTP/1.1\r\nHost: svc\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{target}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("x-amzn-requestid: "),
            "{target}: {answer}"
        );
        assert!(
            answer.contains("content-type: text/plain; charset=utf-8"),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn spoofable_and_hop_by_hop_headers_are_stripped_and_lattice_headers_added() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let req = Request::get(proxy.url("/h"))
        .header(
            "x-amzn-lattice-identity",
            "Principal=arn:aws:iam::999999999999:root",
        )
        .header("x-amzn-lattice-identity-tags", "principal=evil")
        .header("x-amzn-lattice-network", "SourceVpcArn=evil")
        .header("x-amzn-lattice-target", "ServiceArn=evil")
        .header("x-amzn-source-vpc", "vpc-evil")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=AKIA/x")
        .header("x-amz-security-token", "secret-token")
        .header("connection", "x-drop-me")
        .header("x-drop-me", "1")
        .header("keep-alive", "timeout=5")
        .header("x-forwarded-for", "192.0.2.7")
        .header("x-custom", "kept")
        .body(full(""))
        .unwrap();
    let (_, _, body) = send(&h1_client(), req).await;
    let e = echoed(&body);
    for h in [
        "x-amzn-lattice-identity",
        "x-amzn-lattice-identity-tags",
        "x-amzn-lattice-network",
        "x-amzn-source-vpc",
        "authorization",
        "x-amz-security-token",
        "x-drop-me",
        "keep-alive",
    ] {
        assert!(!e.has(h), "{h} must not reach the upstream");
    }
    assert_eq!(
        e.header("x-amzn-lattice-target").unwrap(),
        format!("ServiceArn={SERVICE_ARN}; ServiceNetworkArn={NETWORK_ARN}")
    );
    // `--xff replace` (the default): the caller's claim is not kept in front.
    assert_eq!(e.header("x-forwarded-for").unwrap(), "127.0.0.1");
    assert_eq!(
        e.header("x-forwarded-port").unwrap(),
        proxy.addr.port().to_string()
    );
    assert_eq!(e.header("x-forwarded-proto").unwrap(), "http");
    assert_eq!(e.header("x-custom").unwrap(), "kept");
    assert_eq!(e.header("host").unwrap(), proxy.addr.to_string());
}

#[tokio::test]
async fn caller_request_id_is_propagated_and_truncated() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let client = h1_client();
    let req = Request::get(proxy.url("/id"))
        .header("x-amzn-requestid", "my-id-42")
        .body(full(""))
        .unwrap();
    let (_, headers, body) = send(&client, req).await;
    assert_eq!(headers["x-amzn-requestid"], "my-id-42");
    assert_eq!(
        echoed(&body).header("x-amzn-requestid").unwrap(),
        "my-id-42"
    );

    let long = "r".repeat(700);
    let req = Request::get(proxy.url("/id"))
        .header("x-amzn-requestid", long.as_str())
        .body(full(""))
        .unwrap();
    let (_, headers, body) = send(&client, req).await;
    assert_eq!(headers["x-amzn-requestid"].len(), 512);
    assert_eq!(
        echoed(&body).header("x-amzn-requestid").unwrap(),
        "r".repeat(512)
    );
}

#[tokio::test]
async fn missing_request_id_is_generated_and_the_same_on_both_sides() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let client = h1_client();
    let (_, h1, body1) = get(&client, &proxy.url("/gen")).await;
    let (_, h2, _) = get(&client, &proxy.url("/gen")).await;
    let id = h1["x-amzn-requestid"].to_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    assert_eq!(echoed(&body1).header("x-amzn-requestid").unwrap(), id);
    assert_ne!(h2["x-amzn-requestid"], h1["x-amzn-requestid"]);
}

#[tokio::test]
async fn oversized_headers_are_answered_431() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let client = h1_client();
    // Over the 60 KiB total.
    let req = Request::get(proxy.url("/big"))
        .header("x-big", "v".repeat(62 * 1024))
        .body(full(""))
        .unwrap();
    let (status, headers, _) = send(&client, req).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert!(headers.contains_key("x-amzn-requestid"));
    // Over 100 fields.
    let mut req = Request::get(proxy.url("/many"));
    for i in 0..120 {
        req = req.header(format!("x-h{i}"), "1");
    }
    let (status, _, _) = send(&client, req.body(full("")).unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // Far over any limit: hyper's own hard limit still answers 431.
    let answer = raw_request(
        proxy.addr,
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nx-huge: {}\r\n\r\n",
            "v".repeat(300 * 1024)
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}
