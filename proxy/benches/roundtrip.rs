//! One HTTP/1.1 keep-alive request through the whole data plane on loopback, against the same
//! request sent straight to the upstream: the difference is the proxy's per-request cost.
//! `cargo bench -p trellis --bench roundtrip -- --warm-up-time 1 --measurement-time 3`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use trellis::access_log::AccessLogTarget;
use trellis::layers::normalize::HeaderLimits;
use trellis::proxy::{Proxy, ProxyConfig};
use trellis::server::ServerConfig;
use trellis::stack::{Mode, StackConfig};
use trellis::upstream::UpstreamConfig;

async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn proxy(up: SocketAddr, access_log: AccessLogTarget) -> SocketAddr {
    let config = ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin: None,
        stack: StackConfig {
            service_arn: "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"
                .to_owned(),
            service_network_arn: None,
            mode: Mode::Enforce,
            header_limits: HeaderLimits::default(),
            upstream: UpstreamConfig::new(format!("http://{up}").parse().unwrap()),
        },
        server: ServerConfig::default(),
        access_log,
        access_log_queue: 65536,
        version: "bench".to_owned(),
    };
    let proxy = Proxy::bind(config).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    tokio::spawn(async move {
        proxy
            .run(
                &tower_layer::Identity::new(),
                Arc::new(Vec::new),
                std::future::pending(),
            )
            .await
    });
    addr
}

fn roundtrip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let log_dir = tempfile::tempdir().unwrap();
    let (direct, via_proxy, via_proxy_logged) = rt.block_on(async {
        let up = upstream().await;
        let p = proxy(up, AccessLogTarget::Off).await;
        let logged = proxy(up, AccessLogTarget::File(log_dir.path().join("access.log"))).await;
        (up, p, logged)
    });
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    for (name, addr) in [
        ("direct", direct),
        ("proxy", via_proxy),
        ("proxy_access_log_file", via_proxy_logged),
    ] {
        let uri: http::Uri = format!("http://{addr}/orders/7?x=1").parse().unwrap();
        c.bench_function(&format!("roundtrip_h1/{name}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let req = Request::get(uri.clone()).body(Empty::new()).unwrap();
                    let res = client.request(req).await.unwrap();
                    res.into_body().collect().await.unwrap()
                })
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = roundtrip
}
criterion_main!(benches);
