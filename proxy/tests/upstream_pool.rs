//! The upstream connection pool through the whole stack: connections reused across caller
//! requests, and the keep-alive race answered by a retry only where a retry is safe.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::{Method, Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::*;

/// A raw HTTP/1.1 upstream answering `ok`; with `close_on_second`, each connection answers
/// one request and closes unanswered when the next one arrives (a keep-alive close racing
/// the request). Returns its address and the count of connections accepted.
async fn upstream(close_on_second: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                for answered in 0.. {
                    buf.clear();
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    if close_on_second && answered == 1 {
                        return;
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn caller_requests_share_one_upstream_connection() {
    let (up, accepted) = upstream(false).await;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let client = h1_client();
    for _ in 0..10 {
        let (status, _, body) = get(&client, &proxy.url("/orders")).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    let log = proxy.log.wait_for(10).await;
    assert!(
        log.iter().all(|l| l["targetIpPort"] == up.to_string()),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_keep_alive_race_retries_a_get_but_answers_a_post_with_502() {
    let (up, accepted) = upstream(true).await;
    let proxy = TestProxy::start(ProxyOptions::new(up)).await;
    let client = h1_client();
    for _ in 0..3 {
        let (status, _, body) = get(&client, &proxy.url("/orders")).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    }
    // The second and third met a closing connection and went again on a new one.
    assert_eq!(accepted.load(Ordering::SeqCst), 3);

    let post = Request::builder()
        .method(Method::POST)
        .uri(proxy.url("/orders"))
        .body(full("{\"item\":1}"))
        .unwrap();
    let (status, headers, body) = send(&client, post).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let id = headers["x-amzn-requestid"].to_str().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("BadGateway: the service could not be reached or did not answer properly; retry later, and give its operators the request id {id} if it persists")
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "the POST was not sent again"
    );
    let log = proxy.log.wait_for(4).await;
    assert_eq!(log[3]["failureReason"], "TargetProtocolError");
}
