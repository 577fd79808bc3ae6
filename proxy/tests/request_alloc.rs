//! Heap blocks per request through the whole in-process stack (server connection, every
//! layer, the pooled upstream client, metrics and the access-log writer), with warm
//! connections and buffers: a signed allowed request, a signed denied one and an anonymous
//! one. The client and the upstream are byte loops on loopback that allocate nothing once
//! warm, so every block counted is the proxy's.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::sidecar_support::{policy_dir, settings, signed, snapshot_config, CHECKOUT};
use super::support::{NETWORK_ARN, SERVICE_ARN};
use trellis::access_log::spawn_with_writer;
use trellis::admin::Readiness;
use trellis::auth::{Auth, Mode};
use trellis::metrics::Metrics;
use trellis::server::{serve, ServerConfig};
use trellis::snapshot::SnapshotHandle;
use trellis::stack::{Stack, StackConfig};
use trellis::upstream::UpstreamConfig;

/// Requests per kind measured, after as many to warm up.
pub const REQUESTS: u64 = 64;

/// Reads one HTTP/1.1 message (head, then `content-length` bytes) into `buf`; returns the
/// status code for a response.
async fn read_message(stream: &mut TcpStream, buf: &mut Vec<u8>) -> u16 {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let len = content_length(&buf[..head_end]);
            if buf.len() >= head_end + 4 + len {
                assert_eq!(buf.len(), head_end + 4 + len, "one message at a time");
                return status_code(buf);
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "peer closed mid-message: {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &[u8]) -> usize {
    head.split(|&b| b == b'\n')
        .find_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            line[..colon]
                .eq_ignore_ascii_case(b"content-length")
                .then(|| {
                    std::str::from_utf8(&line[colon + 1..])
                        .ok()?
                        .trim()
                        .parse()
                        .ok()
                })
                .flatten()
        })
        .unwrap_or(0)
}

fn status_code(message: &[u8]) -> u16 {
    message
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|rest| std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok())
        .unwrap_or(0)
}

/// An upstream answering every request on a connection with the same `200`, from a buffer
/// reused across requests.
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

/// `req`'s head as HTTP/1.1 bytes.
fn raw(req: &http::Request<super::support::TestBody>) -> Vec<u8> {
    let mut out = format!(
        "{} {} HTTP/1.1\r\n",
        req.method(),
        req.uri().path_and_query().unwrap()
    )
    .into_bytes();
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Heap blocks per request of `request`, sent `REQUESTS` times on one warm connection.
async fn blocks_per_request(proxy: SocketAddr, request: &[u8], status: u16) -> f64 {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(16 * 1024);
    let round = async |stream: &mut TcpStream, buf: &mut Vec<u8>| {
        for _ in 0..REQUESTS {
            stream.write_all(request).await.unwrap();
            let got = read_message(stream, buf).await;
            assert_eq!(got, status, "{}", String::from_utf8_lossy(buf));
        }
    };
    round(&mut stream, &mut buf).await;
    let before = dhat::HeapStats::get().total_blocks;
    round(&mut stream, &mut buf).await;
    let blocks = dhat::HeapStats::get().total_blocks - before;
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let per_request = blocks as f64 / REQUESTS as f64;
    per_request
}

/// Allocations per request: (signed allowed, signed denied, anonymous).
pub fn measure() -> (f64, f64, f64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
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
        // The access log on, into a sink: every line is still formatted.
        let (log, _writer) = spawn_with_writer(
            Box::new(tokio::io::sink()),
            1024,
            metrics.access_log_dropped().clone(),
        );
        let config = StackConfig {
            service_arn: SERVICE_ARN.to_owned(),
            service_network_arn: Some(NETWORK_ARN.to_owned()),
            mode: Mode::Enforce,
            header_limits: Default::default(),
            path_rules: Default::default(),
            header_rules: Default::default(),
            upstream: UpstreamConfig::new(format!("http://{upstream_addr}").parse().unwrap()),
        };
        let stack = Stack::new(&config, Arc::clone(&metrics), log).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = listener.local_addr().unwrap();
        tokio::spawn(serve(
            listener,
            ServerConfig::default(),
            stack.service(&auth),
            std::future::pending(),
        ));

        let url = |path: &str| format!("http://{proxy}{path}");
        let allowed = raw(&signed("GET", &url("/orders/7"), CHECKOUT));
        let denied = raw(&signed("GET", &url("/admin/users"), CHECKOUT));
        let anonymous =
            format!("GET /public/index.html HTTP/1.1\r\nhost: {proxy}\r\n\r\n").into_bytes();
        let result = (
            blocks_per_request(proxy, &allowed, 200).await,
            blocks_per_request(proxy, &denied, 403).await,
            blocks_per_request(proxy, &anonymous, 200).await,
        );
        // No line was dropped: each request's line was formatted, and counted here.
        assert_eq!(metrics.access_log_dropped().get(), 0);
        drop(handle);
        result
    })
}
