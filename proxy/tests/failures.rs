//! Fault cases: upstream down or slow, stalled clients, idle connections, shutdown with a
//! request in flight.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::support;

use std::time::{Duration, Instant};

use http::StatusCode;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn upstream_down_is_502() {
    let proxy = TestProxy::start(ProxyOptions::new(dead_addr().await)).await;
    let (status, headers, body) = get(&h1_client(), &proxy.url("/x")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(headers.contains_key("x-amzn-requestid"));
    // Callers get a fixed line with the request id; the detail goes to the log.
    let id = headers["x-amzn-requestid"].to_str().unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.starts_with("BadGateway: the service could not be reached"),
        "{body}"
    );
    assert!(body.contains(&format!("request id {id}")), "{body}");
    assert!(
        !body.contains("os error") && !body.contains("--upstream"),
        "{body}"
    );
    let log = proxy.log.wait_for(1).await;
    assert_eq!(log[0]["failureReason"], "TargetConnectionError");
    assert_eq!(log[0]["responseCode"], 502);
    assert_eq!(log[0]["targetIpPort"], "-");
}

#[tokio::test]
async fn slow_upstream_is_504() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.response_timeout = Duration::from_millis(300);
    let proxy = TestProxy::start(opts).await;
    let started = Instant::now();
    let (status, headers, _) = get(&h1_client(), &proxy.url("/slow/3000")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(headers.contains_key("x-amzn-requestid"));
    assert!(started.elapsed() < Duration::from_secs(2));
    let log = proxy.log.wait_for(1).await;
    assert_eq!(log[0]["failureReason"], "TargetDataTimeout");
}

#[tokio::test]
async fn a_stalled_client_blocks_no_one_and_is_closed_after_the_header_timeout() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.server.header_read_timeout = Duration::from_millis(500);
    let proxy = TestProxy::start(opts).await;
    let mut stalled = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stalled
        .write_all(b"GET /half HTTP/1.1\r\nHost: a\r\nx-partial: ")
        .await
        .unwrap();
    let started = Instant::now();
    // Another client is served meanwhile.
    let (status, _, _) = get(&h1_client(), &proxy.url("/other")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(400));
    // The stalled connection is closed once its header time is up.
    let mut rest = Vec::new();
    within(5, stalled.read_to_end(&mut rest)).await.ok();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(!String::from_utf8_lossy(&rest).contains(" 200 "));
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.server.idle_timeout = Duration::from_millis(300);
    opts.server.header_read_timeout = Duration::from_secs(10);
    let proxy = TestProxy::start(opts).await;
    let mut conn = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    conn.write_all(b"GET /idle HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut all = Vec::new();
    within(5, conn.read_to_end(&mut all)).await.unwrap();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_completes_the_request_in_flight() {
    let up = Upstream::echo().addr;
    let mut proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let url = proxy.url("/slow/800");
    let addr = proxy.addr;
    let in_flight = tokio::spawn(async move { get(&h1_client(), &url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = proxy.begin_shutdown();
    let (status, _, body) = within(10, in_flight).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"slow done");
    let report = within(10, report).await.unwrap();
    assert_eq!(report.cut, 0);
    assert_eq!(report.drained, 1);
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_cuts_requests_past_the_drain_timeout() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.server.drain_timeout = Duration::from_millis(200);
    let mut proxy = TestProxy::start(opts).await;
    let url = proxy.url("/slow/5000");
    let in_flight = tokio::spawn(async move {
        h1_client()
            .request(http::Request::get(url).body(full("")).unwrap())
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = within(5, proxy.begin_shutdown()).await.unwrap();
    assert_eq!(report.cut, 1);
    assert!(within(5, in_flight).await.unwrap().is_err());
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_permit() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.server.max_connections = 1;
    let proxy = TestProxy::start(opts).await;
    let request = b"GET /limit HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut first = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    first.write_all(request).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = within(5, first.read(&mut buf)).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The first connection stays open (keep-alive) and holds the only permit.
    let mut second = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    second.write_all(request).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buf)).await;
    assert!(waited.is_err(), "the second connection must wait");
    drop(first);
    let n = within(5, second.read(&mut buf)).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn connections_closed_before_shutdown_are_not_counted_as_drained() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    for _ in 0..3 {
        let mut conn = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        conn.write_all(b"GET /done HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut all = Vec::new();
        within(5, conn.read_to_end(&mut all)).await.unwrap();
        assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    }
    // One idle keep-alive connection is still open at shutdown.
    let mut open = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    open.write_all(b"GET /open HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    within(5, open.read_exact(&mut head)).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // Let the server reap the closed connections' tasks.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = proxy.shutdown().await;
    assert_eq!(report.drained, 1, "{report:?}");
    assert_eq!(report.cut, 0);
}
