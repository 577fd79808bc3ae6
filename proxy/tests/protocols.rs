//! Protocols through the proxy: HTTP/2 (h2c and TLS with ALPN), upgrades, gRPC trailers and
//! large streamed bodies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::support;

use std::sync::Arc;

use http::{Request, StatusCode, Version};
use http_body_util::BodyExt;
use hyper_util::rt::TokioExecutor;
use sha2::Digest;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trellis::upstream::UpstreamProtocol;

#[tokio::test]
async fn h2c_callers_are_served_and_forwarded_over_http2() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.protocol = Some(UpstreamProtocol::Http2);
    let proxy = TestProxy::start(opts).await;
    let res = within(
        10,
        h2c_client().request(Request::get(proxy.url("/x/../h2")).body(full("")).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    assert!(res.headers().contains_key("x-amzn-requestid"));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let e = echoed(&body);
    assert_eq!(e.path(), "/h2");
    assert_eq!(e.version(), "HTTP/2.0");
    // Over HTTP/2 the service reads one host, `:authority`, which names the upstream (the
    // pool's key): no `host` beside it for the service to choose instead.
    assert_eq!(e.header("host"), None);
}

#[tokio::test]
async fn tls_listener_negotiates_h2_with_alpn() {
    let up = Upstream::echo().addr;
    let (cert, key) = self_signed();
    let mut opts = ProxyOptions::new(up);
    opts.server.tls = Some(trellis::tls::server_config(vec![cert.clone()], key).unwrap());
    let proxy = TestProxy::start(opts).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_all_versions()
        .build();
    let client: hyper_util::client::legacy::Client<_, TestBody> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
    let url = format!("https://localhost:{}/tls/./path", proxy.addr.port());
    let res = within(
        10,
        client.request(Request::get(url).body(full("")).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.version(), Version::HTTP_2, "ALPN must pick h2");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let e = echoed(&body);
    assert_eq!(e.path(), "/tls/path");
    assert_eq!(e.header("x-forwarded-proto").unwrap(), "https");
}

#[tokio::test]
async fn upgrade_requests_are_tunnelled_both_ways() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    within(10, async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
    })
    .await;
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(head.contains("x-amzn-requestid: "), "{head}");
    for msg in [&b"hello"[..], b"second frame", &[0u8, 255, 1, 2]] {
        stream.write_all(msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        within(10, stream.read_exact(&mut back)).await.unwrap();
        assert_eq!(back, msg);
    }
}

#[tokio::test]
async fn idle_tunnels_are_closed() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.tunnel_idle_timeout = std::time::Duration::from_millis(300);
    let proxy = TestProxy::start(opts).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within(5, stream.read_exact(&mut byte)).await.unwrap();
        head.push(byte[0]);
    }
    stream.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    within(5, stream.read_exact(&mut back)).await.unwrap();
    assert_eq!(&back, b"ping");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    within(5, stream.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
}

#[tokio::test]
async fn grpc_trailers_pass_through() {
    let up = Upstream::echo().addr;
    let mut opts = ProxyOptions::new(up);
    opts.protocol = Some(UpstreamProtocol::Http2);
    let proxy = TestProxy::start(opts).await;
    let req = Request::post(proxy.url("/grpc"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(full(&b"\0\0\0\0\x03abc"[..]))
        .unwrap();
    let res = within(10, h2c_client().request(req)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let collected = within(10, res.into_body().collect()).await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers must arrive");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "all-good");
    assert_eq!(&collected.to_bytes()[..], b"\0\0\0\0\x03abc");
}

async fn stream_64_mib(client: Client, url: String) {
    const TOTAL: usize = 64 * 1024 * 1024;
    let (body, sent_digest) = generated_body(TOTAL, 64 * 1024);
    let res = within(120, client.request(Request::post(url).body(body).unwrap()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let mut hasher = sha2::Sha256::new();
    let mut received = 0usize;
    within(120, async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                received += data.len();
                hasher.update(&data);
            }
        }
    })
    .await;
    assert_eq!(received, TOTAL);
    let got: [u8; 32] = hasher.finalize().into();
    assert_eq!(got, sent_digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_body_streams_intact_both_ways_http1() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    stream_64_mib(h1_client(), proxy.url("/echo-body")).await;
    let log = proxy.log.wait_for(1).await;
    assert!(log[0]["bytesReceived"].as_u64().unwrap() > 64 * 1024 * 1024);
    assert!(log[0]["bytesSent"].as_u64().unwrap() > 64 * 1024 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_body_streams_intact_both_ways_h2c() {
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    stream_64_mib(h2c_client(), proxy.url("/echo-body")).await;
}

#[tokio::test]
async fn bodies_stream_without_buffering() {
    // The first chunk comes back through the proxy while the request body is still open:
    // neither direction waits for the whole body.
    let up = Upstream::echo().addr;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
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
    tx.send(bytes::Bytes::from_static(b"first-chunk"))
        .await
        .unwrap();
    let res = within(
        10,
        h1_client().request(Request::post(proxy.url("/echo-body")).body(body).unwrap()),
    )
    .await
    .unwrap();
    let mut body = res.into_body();
    let first = within(10, body.frame())
        .await
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(&first[..], b"first-chunk");
    tx.send(bytes::Bytes::from_static(b"second")).await.unwrap();
    drop(tx);
    let rest = within(10, body.collect()).await.unwrap().to_bytes();
    assert_eq!(&rest[..], b"second");
}

/// A TLS echo upstream (ALPN `h2`, `http/1.1`) and proxy options trusting only its
/// certificate through a CA file; the directory holds the file.
async fn tls_upstream_trusted_by_a_ca_file() -> (ProxyOptions, tempfile::TempDir) {
    let (cert, key, pem) = self_signed_with_pem();
    let up = Upstream::start(Behaviour {
        tls: Some(trellis::tls::server_config(vec![cert], key).unwrap()),
        ..Behaviour::default()
    })
    .addr;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let mut opts = ProxyOptions::new(up);
    opts.upstream = format!("https://localhost:{}", up.port());
    opts.roots = trellis::upstream::UpstreamRoots::CaFile(ca);
    (opts, dir)
}

#[tokio::test]
async fn https_upstream_is_verified_against_a_ca_file_and_grpc_uses_h2() {
    let (opts, _dir) = tls_upstream_trusted_by_a_ca_file().await;
    let proxy = TestProxy::start(opts.clone()).await;
    let (status, _, body) = get(&h1_client(), &proxy.url("/over/tls")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echoed(&body).version(), "HTTP/1.1");
    assert_eq!(echoed(&body).path(), "/over/tls");

    // gRPC needs `--upstream-protocol http2`: ALPN `h2`, whatever the caller spoke.
    let mut opts = opts;
    opts.protocol = Some(UpstreamProtocol::Http2);
    let proxy = TestProxy::start(opts).await;
    let req = Request::post(proxy.url("/grpc"))
        .header("content-type", "application/grpc+proto")
        .body(full(&b"\0\0\0\0\x01z"[..]))
        .unwrap();
    // An HTTP/1.1 gRPC-web style caller still reaches the service over h2 (ALPN).
    let res = within(10, h1_client().request(req)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-upstream-version"], "HTTP/2.0");
    let collected = within(10, res.into_body().collect()).await.unwrap();
    assert_eq!(&collected.to_bytes()[..], b"\0\0\0\0\x01z");
}

#[tokio::test]
async fn auto_lets_alpn_choose_for_an_https_upstream() {
    let (mut opts, _dir) = tls_upstream_trusted_by_a_ca_file().await;
    opts.protocol = Some(UpstreamProtocol::Auto);
    let proxy = TestProxy::start(opts).await;
    // The service offers `h2`, so even an HTTP/1.1 caller is forwarded over HTTP/2.
    let (status, _, body) = get(&h1_client(), &proxy.url("/alpn")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echoed(&body).version(), "HTTP/2.0");
    // A WebSocket upgrade still takes an HTTP/1.1 connection (ALPN `http/1.1` only).
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within(5, stream.read_exact(&mut byte)).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"over tls").await.unwrap();
    let mut back = [0u8; 8];
    within(5, stream.read_exact(&mut back)).await.unwrap();
    assert_eq!(&back, b"over tls");
}

#[tokio::test]
async fn https_upstream_with_an_untrusted_certificate_is_502() {
    let (cert, key) = self_signed();
    let up = Upstream::start(Behaviour {
        tls: Some(trellis::tls::server_config(vec![cert], key).unwrap()),
        ..Behaviour::default()
    })
    .addr;
    let mut opts = ProxyOptions::new(up);
    opts.upstream = format!("https://localhost:{}", up.port());
    let proxy = TestProxy::start(opts).await;
    let (status, _, body) = get(&h1_client(), &proxy.url("/")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    // Callers see a fixed line; the failed TLS handshake is a connection error in the log.
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.starts_with("BadGateway: the service could not be reached"),
        "{body}"
    );
    let log = proxy.log.wait_for(1).await;
    assert_eq!(log[0]["failureReason"], "TargetConnectionError");
}
