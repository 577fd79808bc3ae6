//! One HTTP/1.1 keep-alive request through the whole data plane on loopback, against the same
//! request sent straight to the upstream: the difference is the proxy's per-request cost.
//! With the real auth layers over the example policies of `deploy/examples`, an anonymous and
//! a signed (SigV4, aws-sigv4) request add authentication and the layered decision.
//! `cargo bench -p trellis --bench roundtrip -- --warm-up-time 1 --measurement-time 3`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "benchmark setup: a broken fixture is a bug best reported by a panic"
)]

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
use trellis::auth::Mode;
use trellis::auth::{Auth, AuthSettings, IdentityPolicies};
use trellis::layers::normalize::HeaderLimits;
use trellis::proxy::{Proxy, ProxyConfig};
use trellis::server::ServerConfig;
use trellis::snapshot::{AuthType, SnapshotConfig, SnapshotHandle};
use trellis::stack::StackConfig;
use trellis::upstream::UpstreamConfig;
use trellis_sigv4::test_util::{sign_request, Signing};
use trellis_sigv4::VerifierConfig;

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

/// Headers of a SigV4-signed GET of `url` by the example checkout role (valid for the
/// verifier's 5-minute skew window, longer than a bench run).
fn signed_headers(url: &str) -> Vec<(String, String)> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().as_str().to_owned();
    let key = (
        "AKIAEXAMPLECHECKOUT1",
        "checkout/EXAMPLE/secret/key/do/not/use/0001",
    );
    sign_request(
        "GET",
        url,
        &[("host", host.as_str())],
        &Signing::header(key),
    )
    .headers()
    .iter()
    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
    .collect()
}

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
    proxy_with(up, access_log, false).await
}

fn examples() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples"))
}

async fn proxy_with(up: SocketAddr, access_log: AccessLogTarget, auth: bool) -> SocketAddr {
    let config = ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin: None,
        stack: StackConfig {
            service_arn: SERVICE_ARN.to_owned(),
            service_network_arn: None,
            mode: Mode::Enforce,
            header_limits: HeaderLimits::default(),
            path_rules: trellis::normalize::PathRules::default(),
            header_rules: Default::default(),
            upstream: UpstreamConfig::new(format!("http://{up}").parse().unwrap()),
        },
        server: ServerConfig::default(),
        access_log,
        access_log_queue: 65536,
        decision_log: None,
        version: "bench".to_owned(),
        workers: 1,
    };
    let proxy = Proxy::bind(config).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    if auth {
        let snapshot = SnapshotConfig {
            network_auth: AuthType::AwsIam,
            network_policy: Some(examples().join("network-policy.json")),
            service_auth: AuthType::AwsIam,
            service_policy: Some(examples().join("service-policy.json")),
            principals: Some(examples().join("principals.json")),
        };
        let handle = SnapshotHandle::load_initial(
            snapshot,
            Arc::clone(proxy.metrics()),
            proxy.readiness().clone(),
        )
        .unwrap();
        let settings = AuthSettings {
            verifier: VerifierConfig::new("us-west-2"),
            service_arn: SERVICE_ARN.into(),
            service_network_arn: None,
            source_vpc: None,
            source_vpc_owner: None,
            identity_policies: IdentityPolicies::Enforce,
            mode: Mode::Enforce,
            xff: Default::default(),
            sts: None,
            enabled: true,
        };
        let auth = Auth::new(handle.shared(), settings);
        tokio::spawn(async move {
            proxy
                .run(&auth, handle.files_source(), std::future::pending())
                .await
        });
        return addr;
    }
    tokio::spawn(async move {
        proxy
            .run_with_auth(
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
    let (direct, via_proxy, via_proxy_logged, via_auth) = rt.block_on(async {
        let up = upstream().await;
        let p = proxy(up, AccessLogTarget::Off).await;
        let logged = proxy(up, AccessLogTarget::File(log_dir.path().join("access.log"))).await;
        let auth = proxy_with(up, AccessLogTarget::Off, true).await;
        (up, p, logged, auth)
    });
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    for (name, path, signed) in [
        ("proxy_auth_anonymous", "/public/index.html", false),
        ("proxy_auth_signed", "/orders/7?x=1", true),
    ] {
        let url = format!("http://{via_auth}{path}");
        let headers = if signed {
            signed_headers(&url)
        } else {
            Vec::new()
        };
        let uri: http::Uri = url.parse().unwrap();
        c.bench_function(&format!("roundtrip_h1/{name}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut req = Request::get(uri.clone());
                    for (k, v) in &headers {
                        req = req.header(k, v);
                    }
                    let res = client
                        .request(req.body(Empty::new()).unwrap())
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200);
                    res.into_body().collect().await.unwrap()
                })
            })
        });
    }
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
