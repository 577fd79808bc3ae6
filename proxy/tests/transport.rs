//! Connection-level rules through the real stack and listener: the upstream's protocol is
//! configured, not mirrored; only WebSocket upgrades are tunnelled, and tunnels are
//! connections (limit, drain); a connection with no request in flight is idle whatever bytes
//! flow.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::support;

use std::time::{Duration, Instant};

use http::{Request, StatusCode, Version};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trellis::upstream::UpstreamProtocol;

const WEBSOCKET: &[u8] =
    b"GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

/// Reads one response head (up to the blank line) from `stream`.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within(5, stream.read_exact(&mut byte)).await.unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads one response with a `content-length` body; returns the head and the body.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let head = read_head(stream).await;
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .expect("a content-length");
    let mut body = vec![0u8; len];
    within(5, stream.read_exact(&mut body)).await.unwrap();
    (head, String::from_utf8(body).unwrap())
}

/// Opens a WebSocket tunnel through the proxy and checks that it echoes.
async fn open_tunnel(proxy: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.write_all(WEBSOCKET).await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"frame").await.unwrap();
    let mut back = [0u8; 5];
    within(5, stream.read_exact(&mut back)).await.unwrap();
    assert_eq!(&back, b"frame");
    stream
}

#[tokio::test]
async fn an_http2_caller_in_front_of_an_http1_only_service_gets_200() {
    let up = Upstream::start(Behaviour {
        protocol: Protocol::Http1Only,
        ..Behaviour::default()
    })
    .addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let req = Request::post(proxy.url("/h2/to/h1"))
        .body(full("hello"))
        .unwrap();
    let res = within(10, h2c_client().request(req)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.version(), Version::HTTP_2);
    let body = within(10, res.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    let e = echoed(&body);
    assert_eq!(e.version(), "HTTP/1.1");
    assert_eq!(e.path(), "/h2/to/h1");
    assert_eq!(e.body, "hello");
    // The caller's `:authority` reaches the service as `Host`.
    assert_eq!(e.header("host").unwrap(), proxy.addr.to_string());
}

#[tokio::test]
async fn an_h2c_upgrade_is_served_as_a_plain_request() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /smuggle HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade, HTTP2-Settings\r\n\
              Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
        )
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let e = echoed(&bytes::Bytes::from(body));
    assert_eq!(e.path(), "/smuggle");
    assert!(!e.has("upgrade"), "{e:?}");
    assert!(!e.has("http2-settings"), "{e:?}");
    assert!(!e.has("connection"), "{e:?}");
    // The connection is still HTTP/1.1: the next request is answered on it.
    stream
        .write_all(b"GET /after HTTP/1.1\r\nHost: svc\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(echoed(&bytes::Bytes::from(body)).path(), "/after");
}

#[tokio::test]
async fn an_upgrade_offering_websocket_and_h2c_is_served_as_a_plain_request() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /either HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\n\
              Upgrade: websocket, h2c\r\n\r\n",
        )
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let e = echoed(&bytes::Bytes::from(body));
    assert!(!e.has("upgrade") && !e.has("connection"), "{e:?}");
}

#[tokio::test]
async fn a_websocket_upgrade_to_an_http2_upstream_is_served_as_a_plain_request() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.protocol = Some(UpstreamProtocol::Http2);
    let proxy = TestProxy::start(opts).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /chat HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let e = echoed(&bytes::Bytes::from(body));
    assert_eq!(e.version(), "HTTP/2.0");
    assert!(!e.has("upgrade") && !e.has("connection"), "{e:?}");
    assert_eq!(e.header("sec-websocket-version").unwrap(), "13");
}

#[tokio::test]
async fn a_tunnel_holds_its_connection_slot() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.server.max_connections = 1;
    let proxy = TestProxy::start(opts).await;
    let tunnel = open_tunnel(proxy.addr).await;
    // The tunnel is the one connection allowed: a second caller waits in the backlog.
    let mut second = TcpStream::connect(proxy.addr).await.unwrap();
    second
        .write_all(b"GET /second HTTP/1.1\r\nHost: svc\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(400), second.read(&mut buf)).await;
    assert!(
        waited.is_err(),
        "the second caller must wait while the tunnel is open"
    );
    drop(tunnel);
    let (head, _) = read_response(&mut second).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn tunnels_are_cut_at_the_drain_timeout() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.server.drain_timeout = Duration::from_millis(400);
    let mut proxy = TestProxy::start(opts).await;
    let mut tunnel = open_tunnel(proxy.addr).await;
    let started = Instant::now();
    let report = proxy.begin_shutdown();
    // Until the deadline the tunnel still carries bytes.
    tunnel.write_all(b"still").await.unwrap();
    let mut back = [0u8; 5];
    within(5, tunnel.read_exact(&mut back)).await.unwrap();
    assert_eq!(&back, b"still");
    let report = within(5, report).await.unwrap();
    assert_eq!(report.cut, 1, "{report:?}");
    let mut rest = Vec::new();
    within(5, tunnel.read_to_end(&mut rest)).await.ok();
    assert!(rest.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

/// An HTTP/2 connection whose client sends a PING every 50 ms (and answers the server's):
/// bytes flow all the time, but no request.
async fn pinging_h2_connection(
    addr: std::net::SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<TestBody>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(50))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(stream))
        .await
        .unwrap();
    (sender, tokio::spawn(conn))
}

#[tokio::test]
async fn an_http2_connection_that_only_exchanges_pings_is_closed_after_the_idle_timeout() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.server.idle_timeout = Duration::from_millis(400);
    let proxy = TestProxy::start(opts).await;
    let (mut sender, conn) = pinging_h2_connection(proxy.addr).await;
    let req = Request::get(proxy.url("/once")).body(full("")).unwrap();
    let res = within(5, sender.send_request(req)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    within(5, res.into_body().collect()).await.unwrap();
    let idle_from = Instant::now();
    // The server closes the connection (GOAWAY, then EOF), PINGs notwithstanding.
    within(5, conn).await.unwrap().ok();
    let waited = idle_from.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_request_in_flight_keeps_its_connection_open_past_the_idle_timeout() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.server.idle_timeout = Duration::from_millis(300);
    let proxy = TestProxy::start(opts).await;
    let (mut sender, conn) = pinging_h2_connection(proxy.addr).await;
    // The request body stays open for 900 ms, so the request is in flight throughout.
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| {
            (
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(hyper::body::Frame::data(b)),
                rx,
            )
        })
    });
    let body = http_body_util::StreamBody::new(stream).boxed();
    let req = Request::post(proxy.url("/echo-body")).body(body).unwrap();
    let res = within(5, sender.send_request(req)).await.unwrap();
    let mut body = res.into_body();
    for chunk in ["one", "two", "three"] {
        tx.send(bytes::Bytes::from_static(chunk.as_bytes()))
            .await
            .unwrap();
        let frame = within(5, body.frame()).await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), chunk.as_bytes());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(tx);
    within(5, body.collect()).await.unwrap();
    assert!(!conn.is_finished(), "closed while a request was in flight");
    // And the connection still takes requests.
    let req = Request::get(proxy.url("/next")).body(full("")).unwrap();
    let res = within(5, sender.send_request(req)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
