//! `trellis run`'s connection flags as users run them: the real binary on loopback in front of
//! HTTP/1.1-only, h2c-only and TLS services.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use trellis_e2e::net::*;
use trellis_e2e::{stderr, trellis};

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

/// `trellis run` without auth in front of `upstream`, with `extra` flags; its listen address.
fn start(upstream: &str, extra: &[&str]) -> (Running, SocketAddr) {
    let (addr, admin) = (free_addr().to_string(), free_addr());
    let admin_s = admin.to_string();
    let mut args = vec![
        "run",
        "--listen",
        &addr,
        "--admin",
        &admin_s,
        "--upstream",
        upstream,
        "--service-arn",
        SERVICE_ARN,
        "--service-auth-type",
        "NONE",
        "--access-log",
        "off",
    ];
    args.extend_from_slice(extra);
    let mut proc = Running::start(&args);
    proc.wait_ready(admin);
    (proc, addr.parse().unwrap())
}

/// GET `target` over HTTP/2 with prior knowledge (h2c); returns the status and the body.
fn h2c_get(addr: SocketAddr, target: &str) -> (u16, String) {
    use http_body_util::{BodyExt, Empty};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let req = http::Request::get(format!("http://{addr}{target}"))
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let res = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
            .await
            .unwrap()
            .unwrap();
        let status = res.status().as_u16();
        let body = tokio::time::timeout(Duration::from_secs(10), res.into_body().collect())
            .await
            .unwrap()
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

/// A service speaking only HTTP/2 with prior knowledge (h2c), as gRPC servers often do; it
/// answers every request `200` with `version=<its HTTP version>`.
fn spawn_h2c_only() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|req: http::Request<_>| async move {
                        let _: &hyper::body::Incoming = req.body();
                        let text = format!("version={:?}", req.version());
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(text)),
                        ))
                    });
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
        });
    });
    addr
}

/// A self-signed certificate for `localhost`: its PEM and a TLS server config using it.
fn self_signed() -> (String, Arc<rustls::ServerConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    (certified.cert.pem(), Arc::new(config))
}

/// An HTTPS service answering each request `200 tls echo` and closing.
fn spawn_tls_echo(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    // A proxy that does not trust the certificate aborts the handshake here.
                    if tls.read_exact(&mut byte).is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntls echo",
                );
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    addr
}

#[test]
fn an_http2_caller_in_front_of_an_http1_only_service_gets_200() {
    let upstream = format!("http://{}", Upstream::echo().addr);
    let (_proxy, addr) = start(&upstream, &[]);
    let (status, body) = h2c_get(addr, "/h2/to/h1");
    assert_eq!(status, 200, "{body}");
    // The echo returns the request head it received: HTTP/1.1, with the caller's authority.
    assert!(body.starts_with("GET /h2/to/h1 HTTP/1.1\r\n"), "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains(&format!("host: {addr}\r\n")),
        "{body}"
    );
}

#[test]
fn upstream_protocol_http2_reaches_an_h2c_only_service() {
    let upstream = format!("http://{}", spawn_h2c_only());
    let (_proxy, addr) = start(&upstream, &["--upstream-protocol", "http2"]);
    let answer = get(addr, "/grpc.Service/Call");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, "version=HTTP/2.0");
    let (status, body) = h2c_get(addr, "/grpc.Service/Call");
    assert_eq!((status, body.as_str()), (200, "version=HTTP/2.0"));
    // The default, HTTP/1.1, cannot talk to it: the flag is what makes it work.
    let (_proxy, addr) = start(&upstream, &[]);
    assert_eq!(get(addr, "/grpc.Service/Call").status, 502);
}

#[test]
fn upstream_ca_trusts_only_the_given_bundle() {
    let (pem, config) = self_signed();
    let up = spawn_tls_echo(config);
    let upstream = format!("https://localhost:{}", up.port());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let ca_s = ca.display().to_string();
    let (_proxy, addr) = start(&upstream, &["--upstream-ca", &ca_s]);
    let answer = get(addr, "/over/tls");
    assert_eq!((answer.status, answer.body.as_str()), (200, "tls echo"));

    // Another CA: the service's certificate is not trusted.
    let (other_pem, _) = self_signed();
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_pem).unwrap();
    let other_s = other.display().to_string();
    let (other_proxy, addr) = start(&upstream, &["--upstream-ca", &other_s]);
    let answer = get(addr, "/over/tls");
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(
        answer
            .body
            .starts_with("BadGateway: the service could not be reached"),
        "{}",
        answer.body
    );
    // The failed handshake is a connection error, in the log line the request id names.
    let logged = eventually(Duration::from_secs(5), || {
        other_proxy
            .stderr()
            .contains("answered 502: upstream unreachable")
            .then_some(())
    });
    assert!(logged.is_some(), "{}", other_proxy.stderr());

    // The default (the bundled Mozilla roots) does not trust a self-signed service either.
    let (_proxy, addr) = start(&upstream, &[]);
    assert_eq!(get(addr, "/over/tls").status, 502);
}

#[test]
fn an_unreadable_upstream_ca_stops_the_start_naming_the_flag_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let missing_s = missing.display().to_string();
    let out = trellis(
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "off",
            "--service-arn",
            SERVICE_ARN,
            "--upstream",
            "https://localhost:8443",
            "--upstream-ca",
            &missing_s,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "`--upstream-ca`: cannot load CA certificates from `{missing_s}`"
        )),
        "{err}"
    );
}
