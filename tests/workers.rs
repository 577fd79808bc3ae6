//! `--workers`: the data plane on several threads, through the real binary on loopback. Every
//! worker serves connections, the metrics add up across them, a drain waits for requests in
//! flight on every worker, and the flag is validated.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use trellis_e2e::net::*;
use trellis_e2e::{stderr, trellis, trellis_env};

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
const CHECKOUT: (&str, &str) = (
    "AKIAEXAMPLECHECKOUT1",
    "checkout/EXAMPLE/secret/key/do/not/use/0001",
);

/// `trellis run --workers N` with the example policies (or none, with `auth` false).
fn start(
    dir: &Path,
    upstream: SocketAddr,
    auth: bool,
    extra: &[&str],
) -> (Running, SocketAddr, SocketAddr) {
    let (addr, admin) = (free_addr(), free_addr());
    let (addr_s, admin_s, up) = (
        addr.to_string(),
        admin.to_string(),
        format!("http://{upstream}"),
    );
    let file = |n: &str| {
        copy_example(n, &dir.join(n));
        dir.join(n).display().to_string()
    };
    let (service, network, principals) = (
        file("service-policy.json"),
        file("network-policy.json"),
        file("principals.json"),
    );
    let mut args = vec![
        "run",
        "--listen",
        &addr_s,
        "--admin",
        &admin_s,
        "--upstream",
        &up,
        "--service-arn",
        SERVICE_ARN,
        "--access-log",
        "off",
        "--reload-poll",
        "0",
    ];
    if auth {
        args.extend_from_slice(&[
            "--service-policy",
            &service,
            "--network-policy",
            &network,
            "--principals",
            &principals,
        ]);
    } else {
        args.extend_from_slice(&["--service-auth-type", "NONE"]);
    }
    args.extend_from_slice(extra);
    let mut proc = Running::start(&args);
    proc.wait_ready(admin);
    (proc, addr, admin)
}

fn accepted(admin: SocketAddr, worker: usize) -> u64 {
    metric(
        admin,
        &format!("trellis_worker_connections_total{{worker=\"{worker}\"}}"),
    )
}

#[test]
fn two_workers_both_serve_and_the_scraped_totals_are_the_requests_sent() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::echo();
    let (proc, addr, admin) = start(dir.path(), upstream.addr, true, &["--workers", "2"]);
    assert!(proc.stderr().contains("2 workers"), "{}", proc.stderr());
    // Four callers, a new connection per request, until both workers have accepted some
    // (the kernel gives each connection to whichever worker is waiting in `accept`).
    let stop = Arc::new(AtomicBool::new(false));
    let (signed, anonymous) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let callers: Vec<_> = (0..4)
        .map(|i| {
            let (stop, signed, anonymous) = (
                Arc::clone(&stop),
                Arc::clone(&signed),
                Arc::clone(&anonymous),
            );
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let a = if i % 2 == 0 {
                        signed.fetch_add(1, Ordering::Relaxed);
                        signed_get(addr, "/orders/7", CHECKOUT)
                    } else {
                        anonymous.fetch_add(1, Ordering::Relaxed);
                        get(addr, "/public/index.html")
                    };
                    if a.status != 200 {
                        failures.push(a);
                    }
                }
                failures
            })
        })
        .collect();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20)
        && !(accepted(admin, 0) >= 5 && accepted(admin, 1) >= 5)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<Answer> = callers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    let (signed, anonymous) = (
        signed.load(Ordering::Relaxed) as u64,
        anonymous.load(Ordering::Relaxed) as u64,
    );
    let (first, second) = (accepted(admin, 0), accepted(admin, 1));
    assert!(
        first >= 5 && second >= 5,
        "one worker served (almost) everything: {first} and {second} connections"
    );
    assert_eq!(first + second, signed + anonymous);
    // Each worker counts into its own shard; the scrape sums them.
    let sent = signed + anonymous;
    let counted = eventually(Duration::from_secs(5), || {
        (metric(admin, "trellis_requests_total{outcome=\"allowed\"}") == sent).then_some(())
    });
    assert!(
        counted.is_some(),
        "{} allowed counted, {sent} sent",
        metric(admin, "trellis_requests_total{outcome=\"allowed\"}")
    );
    assert_eq!(
        metric(
            admin,
            "trellis_request_duration_seconds_count{outcome=\"allowed\"}"
        ),
        sent
    );
    assert_eq!(
        metric(admin, "trellis_authn_total{result=\"signed\"}"),
        signed
    );
    assert_eq!(
        metric(admin, "trellis_authn_total{result=\"anonymous\"}"),
        anonymous
    );
    assert_eq!(metric(admin, "trellis_auth_duration_seconds_count"), sent);
    assert_eq!(upstream.arrivals(), sent);
}

#[test]
fn a_drain_waits_for_requests_in_flight_on_every_worker() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::echo();
    let (mut proc, addr, admin) = start(
        dir.path(),
        upstream.addr,
        false,
        &["--workers", "2", "--drain-timeout", "20s"],
    );
    // Slow requests, one connection each, until both workers hold some in flight.
    let mut in_flight = Vec::new();
    while in_flight.len() < 64 && !(accepted(admin, 0) > 0 && accepted(admin, 1) > 0) {
        in_flight.push(std::thread::spawn(move || get(addr, "/slow/3000")));
        std::thread::sleep(Duration::from_millis(5));
    }
    let launched = in_flight.len() as u64;
    assert!(
        accepted(admin, 0) > 0 && accepted(admin, 1) > 0,
        "{launched} connections all went to one worker"
    );
    let arrived = eventually(Duration::from_secs(10), || {
        (upstream.arrivals() == launched).then_some(())
    });
    assert!(
        arrived.is_some(),
        "{} of {launched} arrived",
        upstream.arrivals()
    );
    proc.signal("TERM");
    // Every worker stops accepting and the socket closes at once: new callers are refused
    // (and retry elsewhere) while the requests in flight finish.
    let mut probes_connected = 0_u64;
    let refused = eventually(Duration::from_secs(2), || {
        let refused = std::net::TcpStream::connect(addr).is_err();
        probes_connected += u64::from(!refused);
        refused.then_some(())
    });
    assert!(
        refused.is_some(),
        "the listener stayed open during the drain"
    );
    assert!(in_flight.iter().any(|r| !r.is_finished()));
    for request in in_flight {
        assert_eq!(request.join().unwrap().status, 200);
    }
    assert!(
        proc.wait(Duration::from_secs(20)).success(),
        "{}",
        proc.stderr()
    );
    // A probe that connected before the socket closed may have been accepted, and is drained
    // with the rest: between `launched` and `launched + probes_connected` connections.
    let stderr = proc.stderr();
    let drained = (launched..=launched + probes_connected)
        .any(|n| stderr.contains(&format!("shut down: {n} connections drained, 0 cut")));
    assert!(
        drained,
        "{launched} launched, {probes_connected} probes connected: {stderr}"
    );
}

#[test]
fn workers_must_be_a_positive_number_of_threads() {
    for bad in ["0", "two", "-1", "100000"] {
        let flag = format!("--workers={bad}");
        let out = trellis(&["run", "--service-arn", SERVICE_ARN, &flag], "");
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(
            stderr(&out).contains(&format!("`--workers`: `{bad}` is not a number of threads")),
            "{}",
            stderr(&out)
        );
    }
    let out = trellis_env(
        &["run", "--service-arn", SERVICE_ARN],
        &[("TRELLIS_WORKERS", "0")],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`TRELLIS_WORKERS` (the environment variable of `--workers`)"),
        "{}",
        stderr(&out)
    );
    let out = trellis(
        &[
            "authz",
            "--service-arn",
            SERVICE_ARN,
            "--service-auth-type",
            "NONE",
            "--workers",
            "0",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`--workers`: `0` is not a number of threads"),
        "{}",
        stderr(&out)
    );
}
