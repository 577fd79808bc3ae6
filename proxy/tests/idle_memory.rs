//! Heap held by idle keep-alive connections: the whole in-process stack (server connection,
//! every layer, the pooled upstream client) serves one request on each of many connections,
//! which then stay open and idle. The clients are blocking std sockets on a thread of their
//! own, which allocate nothing, so every live block counted is the proxy's.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::sidecar_support::{policy_dir, settings, snapshot_config};
use super::support::{NETWORK_ARN, SERVICE_ARN};
use trellis::access_log::AccessLog;
use trellis::admin::Readiness;
use trellis::auth::{Auth, Mode};
use trellis::metrics::Metrics;
use trellis::server::{serve, ServerConfig};
use trellis::snapshot::SnapshotHandle;
use trellis::stack::{Stack, StackConfig};
use trellis::upstream::UpstreamConfig;

/// Heap one idle connection holds, averaged over the connections measured.
#[derive(Debug, Clone, Copy)]
pub struct IdleCost {
    pub bytes: f64,
    pub blocks: f64,
}

/// An upstream answering every request on a connection with the same `200`.
async fn upstream(listener: TcpListener) {
    loop {
        let (mut stream, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(8192);
            let mut chunk = [0u8; 4096];
            loop {
                buf.clear();
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The sidecar's stack as `trellis run` serves it (access log off), on a current-thread
/// runtime of its own thread; returns its address.
fn start_proxy() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let upstream_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let upstream_addr = upstream_listener.local_addr().unwrap();
            tokio::spawn(upstream(upstream_listener));
            let dir = policy_dir();
            let metrics = Arc::new(Metrics::new("test").unwrap());
            let handle = SnapshotHandle::load_initial(
                snapshot_config(dir.path()),
                Arc::clone(&metrics),
                Readiness::new(),
            )
            .unwrap();
            let auth = Auth::new(handle.shared(), settings(Mode::Enforce));
            let config = StackConfig {
                service_arn: SERVICE_ARN.to_owned(),
                service_network_arn: Some(NETWORK_ARN.to_owned()),
                mode: Mode::Enforce,
                header_limits: Default::default(),
                path_rules: Default::default(),
                header_rules: Default::default(),
                upstream: UpstreamConfig::new(format!("http://{upstream_addr}").parse().unwrap()),
            };
            let stack = Stack::new(
                &config,
                Arc::clone(&metrics),
                AccessLog::off(metrics.access_log_dropped().clone()),
            )
            .unwrap();
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            serve(
                listener,
                ServerConfig::default(),
                stack.service(&auth),
                std::future::pending(),
            )
            .await;
            drop((handle, dir));
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// A connection that has been answered one anonymous request and is now idle.
fn answered_connection(proxy: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET /public/index.html HTTP/1.1\r\nhost: {proxy}\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    // The upstream's answer is `ok` with `content-length: 2`: the message ends in `\r\n\r\nok`.
    while !answer.ends_with(b"\r\n\r\nok") {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&chunk[..n]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    stream
}

/// Waits until the live heap stops changing (the proxy's tasks have gone idle).
fn settled() -> dhat::HeapStats {
    let mut last = dhat::HeapStats::get();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(20));
        let now = dhat::HeapStats::get();
        if now.curr_bytes == last.curr_bytes && now.curr_blocks == last.curr_blocks {
            return now;
        }
        last = now;
    }
    last
}

/// Live heap per idle connection, over `connections` connections opened after a warm-up.
pub fn measure(connections: usize) -> IdleCost {
    let proxy = start_proxy();
    // Warm-up: the upstream pool's connection and every lazily built table exist before the
    // baseline is read.
    for _ in 0..8 {
        drop(answered_connection(proxy));
    }
    let before = settled();
    let open: Vec<TcpStream> = (0..connections)
        .map(|_| answered_connection(proxy))
        .collect();
    let after = settled();
    drop(open);
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let per = |a: usize, b: usize| (a as f64 - b as f64) / connections as f64;
    IdleCost {
        bytes: per(after.curr_bytes, before.curr_bytes),
        blocks: per(after.curr_blocks, before.curr_blocks),
    }
}
