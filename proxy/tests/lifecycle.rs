//! The assembled data plane: bind, serve, shut down in order with the log flushed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use support::*;
use trellis::access_log::AccessLogTarget;
use trellis::admin::LoadedFile;
use trellis::auth::Mode;
use trellis::layers::normalize::HeaderLimits;
use trellis::proxy::{Proxy, ProxyConfig};
use trellis::server::ServerConfig;
use trellis::stack::StackConfig;
use trellis::upstream::UpstreamConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_serves_then_drains_and_flushes_the_log_file() {
    let up = Upstream::echo().addr;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("access.log");
    let config = ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin: Some("127.0.0.1:0".parse().unwrap()),
        stack: StackConfig {
            service_arn: SERVICE_ARN.to_owned(),
            service_network_arn: None,
            mode: Mode::Audit,
            header_limits: HeaderLimits::default(),
            path_rules: trellis::normalize::PathRules::default(),
            header_rules: Default::default(),
            upstream: UpstreamConfig::new(format!("http://{up}").parse().unwrap()),
        },
        server: ServerConfig {
            drain_timeout: Duration::from_secs(5),
            ..ServerConfig::default()
        },
        access_log: AccessLogTarget::File(log_path.clone()),
        access_log_queue: 1024,
        decision_log: None,
        version: "9.9.9".to_owned(),
        workers: 2,
    };
    let proxy = Proxy::bind(config).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    let admin = proxy.admin_addr().unwrap();
    proxy.readiness().set(true);
    let files: trellis::admin::FilesSource = Arc::new(|| {
        vec![LoadedFile {
            path: "/etc/trellis/service-policy.json".into(),
            sha256: "ab".repeat(32),
            sha256_of: trellis::admin::Hashed::Bytes,
            statements: 3,
            loaded_at: std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }]
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        proxy
            .run_with_auth(&tower_layer::Identity::new(), files, async move {
                let _ = stopped.await;
            })
            .await
    });
    let client = h1_client();
    for i in 0..3 {
        let (status, _, body) = get(&client, &format!("http://{addr}/life/{i}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(echoed(&body).path(), format!("/life/{i}"));
    }
    let (_, _, body) = get(&client, &format!("http://{admin}/policy")).await;
    let policy: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        policy["files"][0]["path"],
        "/etc/trellis/service-policy.json"
    );
    assert_eq!(policy["files"][0]["statements"], 3);
    assert_eq!(policy["files"][0]["loaded_at"], "2023-11-14T22:13:20Z");
    assert_eq!(
        get(&client, &format!("http://{admin}/readyz")).await.0,
        StatusCode::OK
    );
    let (_, _, metrics) = get(&client, &format!("http://{admin}/metrics")).await;
    assert!(String::from_utf8_lossy(&metrics).contains("trellis_build_info{version=\"9.9.9\"} 1"));
    drop(client);

    stop.send(()).unwrap();
    let report = within(10, run).await.unwrap().unwrap();
    assert_eq!(report.cut, 0);
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines
        .iter()
        .all(|l| l["mode"] == "audit" && l["serviceNetworkArn"] == "-"));
    assert!(tokio::net::TcpStream::connect(admin).await.is_err());
}

mod worker_threads {
    use std::time::Duration;

    use trellis::server::ShutdownReport;
    use trellis::workers::{run, Job, StopSignal};

    /// A worker that serves until the stop and reports `drained`, on its named thread.
    fn draining(drained: usize) -> Job {
        Box::new(move |stop: StopSignal| {
            Box::pin(async move {
                stop.wait().await;
                let name = std::thread::current().name().map(str::to_owned);
                assert!(name.is_some_and(|n| n.starts_with("trellis-worker-")));
                Ok(ShutdownReport { drained, cut: 1 })
            })
        })
    }

    async fn finished(
        run: impl std::future::Future<Output = Result<ShutdownReport, trellis::workers::WorkerFailed>>,
    ) -> Result<ShutdownReport, String> {
        tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("the workers did not finish")
            .map_err(|e| e.to_string())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_stop_reaches_every_worker_and_their_drains_are_summed() {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            finished(run(
                vec![draining(2), draining(3), draining(4)],
                async move {
                    let _ = stopped.await;
                },
            ))
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!running.is_finished());
        stop.send(()).unwrap();
        assert_eq!(
            running.await.unwrap(),
            Ok(ShutdownReport { drained: 9, cut: 3 })
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_worker_that_panics_stops_the_others_and_fails_the_run() {
        let panicking: Job = Box::new(|_stop: StopSignal| {
            Box::pin(async move { panic!("a bug in the request path") })
        });
        let err = finished(run(
            vec![draining(1), panicking, draining(1)],
            std::future::pending(),
        ))
        .await
        .unwrap_err();
        assert_eq!(err, "trellis-worker-1 panicked");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_worker_that_fails_or_stops_before_the_shutdown_fails_the_run() {
        let failing: Job = Box::new(|_stop: StopSignal| {
            Box::pin(async move { Err(std::io::Error::other("no more descriptors")) })
        });
        let quitting: Job = Box::new(|_stop: StopSignal| {
            Box::pin(async move { Ok(ShutdownReport { drained: 0, cut: 0 }) })
        });
        let err = finished(run(vec![failing], std::future::pending()))
            .await
            .unwrap_err();
        assert_eq!(err, "trellis-worker-0 failed: no more descriptors");
        let err = finished(run(vec![draining(0), quitting], std::future::pending()))
            .await
            .unwrap_err();
        assert_eq!(err, "trellis-worker-1 stopped serving");
    }
}
