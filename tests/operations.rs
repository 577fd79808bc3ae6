//! `trellis run` under production operations, through the real binary on loopback: rolling
//! restarts (SIGTERM with a shutdown delay), SIGHUP (reload, access-log rotation), certificate
//! renewal, and the metrics alerts are written on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trellis_e2e::net::*;

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

/// One `trellis run` in front of `upstream`, without auth (the rollout is about connections).
struct Instance {
    proc: Running,
    addr: SocketAddr,
    admin: SocketAddr,
}

fn start_instance(upstream: SocketAddr, env: &[(&str, &str)], extra: &[&str]) -> Instance {
    let (addr, admin) = (free_addr(), free_addr());
    let (addr_s, admin_s, up) = (
        addr.to_string(),
        admin.to_string(),
        format!("http://{upstream}"),
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
        "--service-auth-type",
        "NONE",
        "--reload-poll",
        "0",
        "--drain-timeout",
        "5s",
    ];
    if !extra.contains(&"--access-log") {
        args.extend_from_slice(&["--access-log", "off"]);
    }
    args.extend_from_slice(extra);
    let mut proc = Running::start_with_env(&args, env);
    proc.wait_ready(admin);
    Instance { proc, addr, admin }
}

fn is_ready(admin: SocketAddr) -> bool {
    request(admin, "GET", "/readyz", &[]).is_ok_and(|a| a.status == 200)
}

/// What one rolling restart saw.
struct Rollout {
    sent: usize,
    failures: Vec<String>,
    /// From the first SIGTERM until the old instance's listener refused a connection.
    open_after_sigterm: Duration,
    /// `/readyz` of the old instance answered 503 while its listener still served.
    unready_while_serving: bool,
}

/// Two instances behind a client that, like an endpoints controller, sends each request to an
/// instance whose `/readyz` answered 200 at the last poll (every 100 ms). Each instance in turn
/// gets SIGTERM, and a replacement is started and awaited before the next one goes.
fn rolling_restart(delay: &str) -> Rollout {
    let upstream = Upstream::echo().addr;
    let env = [("TRELLIS_SHUTDOWN_DELAY", delay)];
    let first = vec![
        start_instance(upstream, &env, &[]),
        start_instance(upstream, &env, &[]),
    ];
    let endpoints: Arc<Mutex<Vec<(SocketAddr, SocketAddr)>>> = Arc::new(Mutex::new(
        first.iter().map(|i| (i.addr, i.admin)).collect(),
    ));
    let ready: Arc<Mutex<Vec<SocketAddr>>> =
        Arc::new(Mutex::new(first.iter().map(|i| i.addr).collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));

    let poller = {
        let (endpoints, ready, stop) = (
            Arc::clone(&endpoints),
            Arc::clone(&ready),
            Arc::clone(&stop),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let all = endpoints.lock().unwrap().clone();
                let now: Vec<SocketAddr> = all
                    .iter()
                    .filter(|(_, admin)| is_ready(*admin))
                    .map(|(addr, _)| *addr)
                    .collect();
                *ready.lock().unwrap() = now;
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (ready, stop, sent) = (Arc::clone(&ready), Arc::clone(&stop), Arc::clone(&sent));
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                let end = Instant::now() + Duration::from_secs(60);
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) && Instant::now() < end && n < 20_000 {
                    n += 1;
                    let pick = {
                        let r = ready.lock().unwrap();
                        (!r.is_empty()).then(|| r[(n + w) % r.len()])
                    };
                    let Some(addr) = pick else {
                        failures.push("no ready instance".to_owned());
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    match request(addr, "GET", &format!("/rollout/{w}/{n}"), &[]) {
                        Ok(a) if a.status == 200 => {}
                        Ok(a) => failures.push(format!("{addr}: {} {}", a.status, a.body)),
                        Err(e) => failures.push(format!("{addr}: {e}")),
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(3));
                }
                failures
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(500));
    let mut open_after_sigterm = Duration::ZERO;
    let mut unready_while_serving = false;
    let mut replacements = Vec::new();
    for (round, mut old) in first.into_iter().enumerate() {
        old.proc.signal("TERM");
        let signalled = Instant::now();
        if round == 0 {
            // How long the old listener keeps accepting, and what /readyz says meanwhile.
            let refused = eventually(Duration::from_secs(10), || {
                match request(old.addr, "GET", "/probe", &[]) {
                    Ok(a) => {
                        if a.status == 200
                            && request(old.admin, "GET", "/readyz", &[])
                                .is_ok_and(|r| r.status == 503)
                        {
                            unready_while_serving = true;
                        }
                        None
                    }
                    Err(_) => Some(signalled.elapsed()),
                }
            });
            open_after_sigterm = refused.expect("the old listener never closed");
        }
        let replacement = start_instance(upstream, &env, &[]);
        endpoints
            .lock()
            .unwrap()
            .push((replacement.addr, replacement.admin));
        let status = old.proc.wait(Duration::from_secs(20));
        assert!(status.success(), "{status}: {}", old.proc.stderr());
        replacements.push(replacement);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let failures = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    poller.join().unwrap();
    drop(replacements);
    Rollout {
        sent: sent.load(Ordering::Relaxed),
        failures,
        open_after_sigterm,
        unready_while_serving,
    }
}

#[test]
fn a_rolling_restart_behind_a_shutdown_delay_loses_no_request() {
    let r = rolling_restart("2s");
    assert!(
        r.failures.is_empty(),
        "{} failed: {:?}",
        r.failures.len(),
        r.failures
    );
    assert!(r.sent > 200, "only {} requests", r.sent);
    assert!(
        r.open_after_sigterm >= Duration::from_millis(1800),
        "the listener closed {:?} after SIGTERM",
        r.open_after_sigterm
    );
    assert!(r.unready_while_serving);
}

#[test]
fn without_a_shutdown_delay_the_listener_closes_at_sigterm() {
    // The same rollout with the default: the listener closes before any endpoints controller
    // can notice, so requests sent meanwhile are refused (how many depends on timing).
    let r = rolling_restart("0s");
    // Well under the 1.8 s the delayed rollout keeps serving; not zero, as the signal is
    // handled asynchronously (and `/readyz` may fail a moment before the listener closes).
    assert!(
        r.open_after_sigterm < Duration::from_millis(1000),
        "the listener stayed open {:?}",
        r.open_after_sigterm
    );
    eprintln!(
        "without a delay: {} of {} requests failed",
        r.failures.len(),
        r.sent
    );
}

#[test]
fn a_second_sigterm_skips_the_shutdown_delay() {
    let upstream = Upstream::echo().addr;
    let mut i = start_instance(upstream, &[], &["--shutdown-delay", "60s"]);
    i.proc.signal("TERM");
    let unready = eventually(Duration::from_secs(5), || {
        request(i.admin, "GET", "/readyz", &[])
            .ok()
            .filter(|a| a.status == 503)
    })
    .expect("/readyz answers 503 after SIGTERM");
    assert_eq!(unready.body, "not ready: shutting down\n");
    assert_eq!(get(i.addr, "/still-serving").status, 200);
    assert!(i.proc.exited().is_none());
    let asked = Instant::now();
    i.proc.signal("INT");
    assert!(i.proc.wait(Duration::from_secs(10)).success());
    assert!(asked.elapsed() < Duration::from_secs(10));
    assert!(
        i.proc.stderr().contains("skipping the shutdown delay"),
        "{}",
        i.proc.stderr()
    );
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn sighup_without_policy_files_reopens_the_access_log_instead_of_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let rotated = dir.path().join("access.log.1");
    let log_s = log.display().to_string();
    let upstream = Upstream::echo().addr;
    let mut i = start_instance(upstream, &[], &["--access-log", &log_s]);
    assert_eq!(get(i.addr, "/before").status, 200);
    assert!(eventually(Duration::from_secs(5), || (lines(&log) == 1).then_some(())).is_some());

    // logrotate: rename, then `postrotate kill -HUP`.
    std::fs::rename(&log, &rotated).unwrap();
    i.proc.signal("HUP");
    assert!(
        eventually(Duration::from_secs(5), || log.exists().then_some(())).is_some(),
        "{}",
        i.proc.stderr()
    );
    assert_eq!(get(i.addr, "/after").status, 200);
    assert!(eventually(Duration::from_secs(5), || (lines(&log) == 1).then_some(())).is_some());
    assert!(i.proc.exited().is_none(), "SIGHUP ended the process");
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    assert!(old.contains("\"requestPath\":\"/before\""), "{old}");
    assert!(new.contains("\"requestPath\":\"/after\""), "{new}");
    assert_eq!(lines(&rotated), 1);

    i.proc.signal("TERM");
    assert!(i.proc.wait(Duration::from_secs(10)).success());
}

fn copy_examples(dir: &Path) {
    for f in [
        "service-policy.json",
        "network-policy.json",
        "principals.json",
    ] {
        copy_example(f, &dir.join(f));
    }
}

fn policy_line(admin: SocketAddr, prefix: &str) -> Vec<String> {
    get(admin, "/metrics")
        .body
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_rejected_policy_stays_visible_until_fixed_and_example_keys_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let file = |n: &str| dir.path().join(n).display().to_string();
    let (service, network, principals) = (
        file("service-policy.json"),
        file("network-policy.json"),
        file("principals.json"),
    );
    let upstream = Upstream::echo().addr;
    let (addr, admin) = (free_addr(), free_addr());
    let (addr_s, admin_s, up) = (
        addr.to_string(),
        admin.to_string(),
        format!("http://{upstream}"),
    );
    let mut proc = Running::start(&[
        "run",
        "--listen",
        &addr_s,
        "--admin",
        &admin_s,
        "--upstream",
        &up,
        "--service-arn",
        SERVICE_ARN,
        "--service-policy",
        &service,
        "--network-policy",
        &network,
        "--principals",
        &principals,
        "--access-log",
        "off",
        "--mode",
        "audit",
    ]);
    proc.wait_ready(admin);

    // Public example keys: one line each, naming the principal and the key id.
    let warned = |stderr: &str| {
        stderr
            .lines()
            .filter(|l| l.contains("a public example key"))
            .count()
    };
    // Standard error is read on a thread of its own: wait for the lines, not for a race.
    let warned_times = |n: usize| {
        eventually(Duration::from_secs(5), || {
            let stderr = proc.stderr();
            (warned(&stderr) == n).then_some(stderr)
        })
    };
    let stderr = warned_times(2).unwrap_or_else(|| panic!("{}", proc.stderr()));
    assert!(stderr.contains("principal `arn:aws:iam::111122223333:user/ops-ana` has access key `AKIAEXAMPLEOPSANA001`"), "{stderr}");
    assert_eq!(metric(admin, "trellis_principals_example_keys"), 2);
    assert_eq!(metric(admin, "trellis_mode{mode=\"audit\"}"), 1);
    assert_eq!(metric(admin, "trellis_mode{mode=\"enforce\"}"), 0);

    let success = format!("trellis_policy_last_reload_success{{file=\"{service}\"}}");
    let info = format!("trellis_policy_info{{file=\"{service}\"");
    assert_eq!(metric(admin, &success), 1);
    let first = policy_line(admin, &info);
    assert_eq!(first.len(), 1, "{first:?}");
    let policy: serde_json::Value = serde_json::from_str(&get(admin, "/policy").body).unwrap();
    let sha = policy["files"][1]["sha256"].as_str().unwrap().to_owned();
    assert!(first[0].contains(&format!("sha256=\"{sha}\"")), "{first:?}");
    assert_eq!(policy["files"][2]["statements"], 2, "{policy}");

    let good = std::fs::read_to_string(&service).unwrap();
    std::fs::write(&service, "{\"Version\": \"2012-10-17\", \"Statement\": 7}").unwrap();
    assert!(
        eventually(Duration::from_secs(5), || (metric(admin, &success) == 0)
            .then_some(()))
        .is_some(),
        "{}",
        proc.stderr()
    );
    // Still 0 long after the failure, while the bad file is in place, and forced reloads
    // (SIGHUP) re-read and reject it again.
    proc.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(metric(admin, &success), 0);
    assert_eq!(
        policy_line(admin, &info),
        first,
        "the version in force is unchanged"
    );
    assert!(
        metric(
            admin,
            &format!("trellis_policy_reloads_total{{file=\"{service}\",result=\"error\"}}")
        ) >= 2
    );

    std::fs::write(&service, good.replace("orders-service", "orders-v2")).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || (metric(admin, &success) == 1)
            .then_some(()))
        .is_some(),
        "{}",
        proc.stderr()
    );
    let second = policy_line(admin, &info);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first);
    assert!(
        warned_times(4).is_some(),
        "warned again on reload: {}",
        proc.stderr()
    );
    proc.signal("TERM");
    assert!(proc.wait(Duration::from_secs(10)).success());
}

/// A certificate for `localhost` expiring at the start of `year`, as PEM (cert, key).
fn certificate(year: i32) -> (String, String, Vec<u8>) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_after = rcgen::date_time_ymd(year, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

/// Handshakes with `addr` trusting any of `roots`, sends one request, and returns the leaf
/// certificate the server presented and the answer's status line.
fn served_certificate(addr: SocketAddr, roots: &[&[u8]]) -> (Vec<u8>, String) {
    use std::io::{Read, Write};
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store
            .add(rustls_pki_types::CertificateDer::from(r.to_vec()))
            .unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET /tls HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    tls.read_exact(&mut head).unwrap();
    let leaf = tls.conn.peer_certificates().unwrap()[0].to_vec();
    (leaf, String::from_utf8_lossy(&head).into_owned())
}

#[test]
fn a_replaced_certificate_is_served_to_new_connections_and_its_expiry_exported() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let old = certificate(2031);
    std::fs::write(&cert_path, &old.0).unwrap();
    std::fs::write(&key_path, &old.1).unwrap();
    let (c, k) = (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    );
    let upstream = Upstream::echo().addr;
    let i = start_instance(upstream, &[], &["--tls-cert", &c, "--tls-key", &k]);
    let new = certificate(2032);
    let roots = [old.2.as_slice(), new.2.as_slice()];
    let (leaf, status) = served_certificate(i.addr, &roots);
    assert_eq!(leaf, old.2);
    assert_eq!(status, "HTTP/1.1 200");
    assert_eq!(
        metric(i.admin, "trellis_tls_cert_not_after_seconds"),
        1_924_992_000
    );

    // Renewal as a Secret volume update writes it: both files replaced.
    std::fs::write(&key_path, &new.1).unwrap();
    std::fs::write(&cert_path, &new.0).unwrap();
    let moved = eventually(Duration::from_secs(5), || {
        (metric(i.admin, "trellis_tls_cert_not_after_seconds") == 1_956_528_000).then_some(())
    });
    assert!(moved.is_some(), "{}", i.proc.stderr());
    assert_eq!(served_certificate(i.addr, &roots).0, new.2);
    assert!(metric(i.admin, "trellis_tls_cert_reloads_total{result=\"ok\"}") >= 1);
    assert_eq!(metric(i.admin, "trellis_tls_cert_last_reload_success"), 1);

    // A key that does not belong to the certificate: rejected, logged, counted; the renewed
    // pair keeps serving.
    std::fs::write(&key_path, certificate(2033).1).unwrap();
    let rejected = eventually(Duration::from_secs(5), || {
        (metric(i.admin, "trellis_tls_cert_last_reload_success") == 0).then_some(())
    });
    assert!(rejected.is_some(), "{}", i.proc.stderr());
    assert!(metric(i.admin, "trellis_tls_cert_reloads_total{result=\"error\"}") >= 1);
    assert!(
        i.proc.stderr().contains("TLS certificate reload rejected"),
        "{}",
        i.proc.stderr()
    );
    assert_eq!(served_certificate(i.addr, &roots).0, new.2);
    assert_eq!(
        metric(i.admin, "trellis_tls_cert_not_after_seconds"),
        1_956_528_000
    );
}

#[test]
fn a_shadow_policy_from_the_environment_is_decided_counted_and_reloaded_on_sighup_without_changing_answers(
) {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let service = dir.path().join("service-policy.json").display().to_string();
    let shadow_path = dir.path().join("shadow-service-policy.json");
    let shadow = shadow_path.display().to_string();
    // The candidate drops `AllowPublicReads`: public reads would be denied.
    let mut candidate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&service).unwrap()).unwrap();
    candidate["Statement"].as_array_mut().unwrap().remove(0);
    std::fs::write(&shadow_path, candidate.to_string()).unwrap();
    let log = dir.path().join("access.log");
    let log_s = log.display().to_string();
    let upstream = Upstream::echo().addr;
    let (addr, admin) = (free_addr(), free_addr());
    let (addr_s, admin_s, up) = (
        addr.to_string(),
        admin.to_string(),
        format!("http://{upstream}"),
    );
    let mut proc = Running::start_with_env(
        &[
            "run",
            "--listen",
            &addr_s,
            "--admin",
            &admin_s,
            "--upstream",
            &up,
            "--service-arn",
            SERVICE_ARN,
            "--service-policy",
            &service,
            "--access-log",
            &log_s,
            "--reload-poll",
            "0",
        ],
        &[("TRELLIS_SHADOW_SERVICE_POLICY", shadow.as_str())],
    );
    proc.wait_ready(admin);
    let i = Instance { proc, addr, admin };
    let series = |enforced: &str, shadow: &str, statement: &str| {
        format!("trellis_shadow_decisions_total{{enforced=\"{enforced}\",layer=\"service\",shadow=\"{shadow}\",statement=\"{statement}\"}}")
    };
    for _ in 0..3 {
        assert_eq!(get(i.addr, "/public/item").status, 200);
    }
    assert_eq!(get(i.addr, "/private/item").status, 403);
    let counted = eventually(Duration::from_secs(5), || {
        (metric(i.admin, &series("allow", "deny", "none")) == 3).then_some(())
    });
    assert!(counted.is_some(), "{}", get(i.admin, "/metrics").body);
    assert_eq!(metric(i.admin, &series("deny", "deny", "none")), 1);
    let policy = get(i.admin, "/policy").body;
    assert!(policy.contains("shadow-service-policy.json"), "{policy}");

    // The candidate now allows public reads under another Sid: picked up on SIGHUP.
    candidate["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Sid": "AllowReadsEverywhere", "Effect": "Allow", "Principal": "*",
            "Action": "vpc-lattice-svcs:Invoke", "Resource": format!("{SERVICE_ARN}/public/*")
        }));
    std::fs::write(&shadow_path, candidate.to_string()).unwrap();
    i.proc.signal("HUP");
    let reloaded = eventually(Duration::from_secs(10), || {
        assert_eq!(get(i.addr, "/public/item").status, 200);
        (metric(i.admin, &series("allow", "allow", "AllowReadsEverywhere")) >= 1).then_some(())
    });
    assert!(reloaded.is_some(), "{}", i.proc.stderr());
    let lines = eventually(Duration::from_secs(5), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .any(|l| l.contains("\"shadowDecision\":\"allow\""))
            .then_some(text)
    })
    .unwrap();
    assert!(lines.contains("\"shadowDecision\":\"deny\""), "{lines}");
}
