use super::*;

type Body = http_body_util::Empty<bytes::Bytes>;

fn upstream(url: &str, protocol: UpstreamProtocol) -> Upstream<Body> {
    let mut config = UpstreamConfig::new(url.parse().unwrap());
    config.protocol = protocol;
    Upstream::new(&config).unwrap()
}

#[test]
fn requests_go_over_http1_unless_told_otherwise() {
    assert_eq!(UpstreamProtocol::default(), UpstreamProtocol::Http1);
    let config = UpstreamConfig::new("http://127.0.0.1:1".parse().unwrap());
    assert_eq!(config.protocol, UpstreamProtocol::Http1);
    let up = upstream("http://127.0.0.1:1", UpstreamProtocol::Http1);
    assert_eq!(up.version, Version::HTTP_11);
    assert!(up.upgrades);
}

#[test]
fn an_http2_upstream_gets_http2_and_no_upgrades() {
    for url in ["http://127.0.0.1:1", "https://localhost:1"] {
        let up = upstream(url, UpstreamProtocol::Http2);
        assert_eq!(up.version, Version::HTTP_2, "{url}");
        assert!(!up.upgrades, "{url}");
    }
}

#[test]
fn auto_lets_alpn_decide_and_keeps_upgrades_on_http1() {
    for url in ["http://127.0.0.1:1", "https://localhost:1"] {
        let up = upstream(url, UpstreamProtocol::Auto);
        // Sent as HTTP/1.1; hyper speaks HTTP/2 on a connection where ALPN chose `h2`.
        assert_eq!(up.version, Version::HTTP_11, "{url}");
        assert!(up.upgrades, "{url}");
    }
}

#[test]
fn a_ca_file_error_names_the_flag_and_the_file() {
    let mut config = UpstreamConfig::new("https://localhost:1".parse().unwrap());
    config.roots = UpstreamRoots::CaFile("/nonexistent/ca.pem".into());
    let err = Upstream::<Body>::new(&config).unwrap_err().to_string();
    assert!(err.starts_with("`--upstream-ca`: "), "{err}");
    assert!(err.contains("`/nonexistent/ca.pem`"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    config.roots = UpstreamRoots::CaFile(empty.clone());
    let err = Upstream::<Body>::new(&config).unwrap_err().to_string();
    assert!(err.contains(&format!("`{}`", empty.display())), "{err}");
    assert!(err.contains("no certificate"), "{err}");
}

mod pool {
    //! The pool against real servers on loopback: raw TCP where the test needs to control
    //! when the server closes, hyper where it needs HTTP/2 or TLS.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use http::{Method, Request, StatusCode};
    use http_body_util::{BodyExt, Full};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::super::{pool as thread_pool, Upstream, UpstreamConfig, UpstreamProtocol};
    use crate::error::UpstreamError;

    type Body = Full<Bytes>;

    /// What a raw server does on each connection.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Serve {
        /// Answers every request.
        KeepAlive,
        /// Answers the first request, then closes when the next arrives, unanswered.
        CloseOnSecond,
        /// Answers, then closes at once (no `Connection: close`).
        CloseAfterAnswer,
        /// Answers with a large body, written slowly enough to be dropped mid-way.
        Large,
    }

    /// Connections accepted and connections the client closed.
    #[derive(Default)]
    struct Counts {
        accepted: AtomicUsize,
        closed_by_client: AtomicUsize,
    }

    async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        true
    }

    async fn raw_server(serve: Serve) -> (std::net::SocketAddr, Arc<Counts>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let c = Arc::clone(&counts);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                c.accepted.fetch_add(1, Ordering::SeqCst);
                let c = Arc::clone(&c);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut answered = 0;
                    loop {
                        if !read_head(&mut stream, &mut buf).await {
                            c.closed_by_client.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        if serve == Serve::CloseOnSecond && answered == 1 {
                            return;
                        }
                        if serve == Serve::Large {
                            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n";
                            if stream.write_all(head).await.is_err() {
                                return;
                            }
                            for _ in 0..256 {
                                if stream.write_all(&[b'x'; 4096]).await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(Duration::from_millis(2)).await;
                            }
                        } else {
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                        answered += 1;
                        if serve == Serve::CloseAfterAnswer {
                            return;
                        }
                    }
                });
            }
        });
        (addr, counts)
    }

    fn upstream_at(url: String, protocol: UpstreamProtocol) -> Upstream<Body> {
        let mut config = UpstreamConfig::new(url.parse().unwrap());
        config.protocol = protocol;
        config.connect_timeout = Duration::from_secs(2);
        Upstream::new(&config).unwrap()
    }

    fn get(up: &Upstream<Body>, method: Method, body: &'static str) -> Request<Body> {
        let mut req = Request::new(Full::new(Bytes::from_static(body.as_bytes())));
        *req.method_mut() = method;
        *req.uri_mut() = up.uri_for("/x").unwrap();
        req
    }

    /// Sends and reads the whole body (so an HTTP/1.1 connection goes back to the pool).
    async fn exchange(up: &Upstream<Body>, req: Request<Body>) -> Result<Bytes, UpstreamError> {
        let sent = up.send(req).await?;
        assert_eq!(sent.response.status(), StatusCode::OK);
        let body = crate::body::ProxyBody::upstream(sent.response.into_body(), sent.lease);
        Ok(body.collect().await.unwrap().to_bytes())
    }

    async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..200 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{what} did not happen within 2 s");
    }

    #[tokio::test]
    async fn sequential_requests_reuse_one_connection() {
        let (addr, counts) = raw_server(Serve::KeepAlive).await;
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http1);
        for _ in 0..10 {
            let body = exchange(&up, get(&up, Method::GET, "")).await.unwrap();
            assert_eq!(body, "ok");
        }
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
        assert_eq!(thread_pool::idle_count::<Body>(&up.pool), 1);
    }

    #[tokio::test]
    async fn concurrent_requests_open_several_connections_then_reuse_them() {
        let (addr, counts) = raw_server(Serve::KeepAlive).await;
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http1);
        for _ in 0..3 {
            let round = (0..4).map(|_| exchange(&up, get(&up, Method::GET, "")));
            for body in futures_util::future::join_all(round).await {
                assert_eq!(body.unwrap(), "ok");
            }
        }
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 4);
        assert_eq!(thread_pool::idle_count::<Body>(&up.pool), 4);
    }

    #[tokio::test]
    async fn a_response_body_dropped_mid_way_does_not_return_its_connection() {
        let (addr, counts) = raw_server(Serve::Large).await;
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http1);
        for _ in 0..2 {
            let sent = up.send(get(&up, Method::GET, "")).await.unwrap();
            let mut body = crate::body::ProxyBody::upstream(sent.response.into_body(), sent.lease);
            let first = body.frame().await.unwrap().unwrap();
            assert!(first.is_data());
            drop(body);
        }
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
        assert_eq!(thread_pool::idle_count::<Body>(&up.pool), 0);
    }

    #[tokio::test]
    async fn an_idempotent_request_racing_a_keep_alive_close_is_sent_again() {
        let (addr, counts) = raw_server(Serve::CloseOnSecond).await;
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http1);
        for method in [Method::GET, Method::GET, Method::DELETE, Method::HEAD] {
            let sent = up.send(get(&up, method.clone(), "")).await;
            let sent = sent.unwrap_or_else(|e| panic!("{method}: {e}"));
            let body = crate::body::ProxyBody::upstream(sent.response.into_body(), sent.lease);
            body.collect().await.unwrap();
        }
        // Each request after the first met a closing connection and went on a new one.
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_request_with_a_body_is_not_sent_twice() {
        let (addr, counts) = raw_server(Serve::CloseOnSecond).await;
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http1);
        exchange(&up, get(&up, Method::GET, "")).await.unwrap();
        let err = exchange(&up, get(&up, Method::POST, "order"))
            .await
            .unwrap_err();
        assert!(matches!(err, UpstreamError::Protocol(_)), "{err:?}");
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
        // Nor a body-less POST: not idempotent.
        exchange(&up, get(&up, Method::GET, "")).await.unwrap();
        let err = exchange(&up, get(&up, Method::POST, "")).await.unwrap_err();
        assert!(matches!(err, UpstreamError::Protocol(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_service_closing_after_each_answer_still_answers_every_request() {
        let (addr, counts) = raw_server(Serve::CloseAfterAnswer).await;
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http1);
        for _ in 0..20 {
            assert_eq!(
                exchange(&up, get(&up, Method::GET, "")).await.unwrap(),
                "ok"
            );
        }
        assert!(counts.accepted.load(Ordering::SeqCst) >= 20);
    }

    #[tokio::test]
    async fn idle_connections_close_after_the_idle_timeout() {
        let (addr, counts) = raw_server(Serve::KeepAlive).await;
        let mut config = UpstreamConfig::new(format!("http://{addr}").parse().unwrap());
        config.pool_idle_timeout = Duration::from_millis(200);
        let up: Upstream<Body> = Upstream::new(&config).unwrap();
        let round = (0..2).map(|_| exchange(&up, get(&up, Method::GET, "")));
        futures_util::future::join_all(round).await;
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
        assert_eq!(counts.closed_by_client.load(Ordering::SeqCst), 0);
        eventually("the idle sockets closing", || {
            counts.closed_by_client.load(Ordering::SeqCst) == 2
        })
        .await;
        // The next request opens a new connection.
        exchange(&up, get(&up, Method::GET, "")).await.unwrap();
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn dropping_the_upstream_closes_its_idle_connections() {
        let (addr, counts) = raw_server(Serve::KeepAlive).await;
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http1);
        let round = (0..3).map(|_| exchange(&up, get(&up, Method::GET, "")));
        futures_util::future::join_all(round).await;
        assert_eq!(counts.closed_by_client.load(Ordering::SeqCst), 0);
        drop(up);
        eventually("the drain closing the idle sockets", || {
            counts.closed_by_client.load(Ordering::SeqCst) == 3
        })
        .await;
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http1);
        let err = exchange(&up, get(&up, Method::GET, "")).await.unwrap_err();
        assert!(matches!(err, UpstreamError::Unreachable(_)), "{err:?}");
    }

    /// A hyper server counting connections; HTTP/2 over TLS when `tls` is given (ALPN h2,
    /// http/1.1), else h2c.
    async fn h2_server(
        tls: Option<rustls::ServerConfig>,
    ) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = Arc::clone(&accepted);
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(Arc::new(t)));
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                a.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|req: Request<_>| async move {
                        // Slow enough for concurrent requests to overlap.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let text = format!("{:?}", req.version());
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from(text),
                        )))
                    });
                    let builder = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    let io = match acceptor {
                        Some(acceptor) => {
                            let tls = acceptor.accept(stream).await.unwrap();
                            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                            let io = hyper_util::rt::TokioIo::new(tls);
                            let _ = builder.serve_connection(io, service).await;
                            return;
                        }
                        None => hyper_util::rt::TokioIo::new(stream),
                    };
                    let _ = builder.serve_connection(io, service).await;
                });
            }
        });
        (addr, accepted)
    }

    async fn concurrent_versions(up: &Upstream<Body>, n: usize) -> Vec<Bytes> {
        let round = (0..n).map(|_| exchange(up, get(up, Method::GET, "")));
        futures_util::future::join_all(round)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect()
    }

    #[tokio::test]
    async fn http2_multiplexes_concurrent_requests_on_one_connection() {
        let (addr, accepted) = h2_server(None).await;
        let up = upstream_at(format!("http://{addr}"), UpstreamProtocol::Http2);
        for body in concurrent_versions(&up, 8).await {
            assert_eq!(body, "HTTP/2.0");
        }
        for body in concurrent_versions(&up, 8).await {
            assert_eq!(body, "HTTP/2.0");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_tls_upstream_under_auto_speaks_what_alpn_chose() {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = certified.cert.der().clone();
        let key =
            rustls_pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let (addr, accepted) = h2_server(Some(server)).await;
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, certified.cert.pem()).unwrap();
        let mut config = UpstreamConfig::new(
            format!("https://localhost:{}", addr.port())
                .parse()
                .unwrap(),
        );
        config.protocol = UpstreamProtocol::Auto;
        config.roots = super::super::UpstreamRoots::CaFile(ca);
        let up: Upstream<Body> = Upstream::new(&config).unwrap();
        assert_eq!(
            exchange(&up, get(&up, Method::GET, "")).await.unwrap(),
            "HTTP/2.0"
        );
        for body in concurrent_versions(&up, 4).await {
            assert_eq!(body, "HTTP/2.0");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}
