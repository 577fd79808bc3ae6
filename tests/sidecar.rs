//! `trellis run`, `trellis healthcheck` and `trellis demo` as users run them: the real binary
//! on loopback, a real upstream, requests signed by aws-sigv4.

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
use trellis_e2e::{stderr, stdout, trellis, trellis_env};

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
const CHECKOUT: (&str, &str) = (
    "AKIAEXAMPLECHECKOUT1",
    "checkout/EXAMPLE/secret/key/do/not/use/0001",
);
const CHECKOUT_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1";
const NEWCOMER: (&str, &str) = ("AKIAEXAMPLENEWCOMER1", "newcomer/EXAMPLE/secret/0009");

/// The example policies and principals in `dir`.
fn example_dir(dir: &Path) {
    copy_example("service-policy.json", &dir.join("service-policy.json"));
    copy_example("network-policy.json", &dir.join("network-policy.json"));
    copy_example("principals.json", &dir.join("principals.json"));
}

struct Sidecar {
    proc: Running,
    addr: SocketAddr,
    admin: SocketAddr,
}

fn start(dir: &Path, extra: &[&str]) -> Sidecar {
    let upstream = Upstream::echo().addr;
    let addr = free_addr();
    let admin = free_addr();
    let files = |n: &str| dir.join(n).display().to_string();
    let (service, network, principals) = (
        files("service-policy.json"),
        files("network-policy.json"),
        files("principals.json"),
    );
    let upstream = format!("http://{upstream}");
    let (addr_s, admin_s) = (addr.to_string(), admin.to_string());
    let mut args = vec![
        "run",
        "--listen",
        &addr_s,
        "--admin",
        &admin_s,
        "--upstream",
        &upstream,
        "--service-arn",
        SERVICE_ARN,
        "--service-policy",
        &service,
        "--network-policy",
        &network,
        "--principals",
        &principals,
    ];
    if !extra.contains(&"--access-log") {
        args.extend_from_slice(&["--access-log", "stdout"]);
    }
    args.extend_from_slice(extra);
    let mut proc = Running::start(&args);
    proc.wait_ready(admin);
    Sidecar { proc, addr, admin }
}

fn reloads(admin: SocketAddr, file: &Path, result: &str) -> u64 {
    metric(
        admin,
        &format!(
            "trellis_policy_reloads_total{{file=\"{}\",result=\"{result}\"}}",
            file.display()
        ),
    )
}

#[test]
fn run_refuses_to_start_when_the_first_load_fails() {
    let dir = tempfile::tempdir().unwrap();
    example_dir(dir.path());
    let service = dir.path().join("service-policy.json");
    std::fs::write(
        &service,
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": 7\n}\n",
    )
    .unwrap();
    let admin = free_addr().to_string();
    let out = trellis(
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            &admin,
            "--service-arn",
            SERVICE_ARN,
            "--service-policy",
            &service.display().to_string(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.lines().any(|l| l.starts_with(&format!("{}:3:", service.display())) && l.contains(": error: ")),
        "{err}"
    );
    assert!(err.contains("cannot start"), "{err}");
}

#[test]
fn run_validates_flags_with_the_flag_in_the_message() {
    let out = trellis(
        &[
            "run",
            "--service-arn",
            "arn:aws:vpc-lattice:us-west-2:1:service/x",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`--service-arn`: `arn:aws:vpc-lattice:us-west-2:1:service/x` must look like arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID"),
        "{}",
        stderr(&out)
    );
    let out = trellis(
        &[
            "run",
            "--service-arn",
            SERVICE_ARN,
            "--drain-timeout",
            "soon",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`--drain-timeout`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(trellis(&["run"], "").status.code(), Some(2));
    assert_eq!(
        trellis(&["run", "--service-arn", SERVICE_ARN, "--nope"], "")
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn run_serves_decides_reloads_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    example_dir(dir.path());
    let mut s = start(dir.path(), &["--reload-poll", "0"]);

    let ok = signed_get(s.addr, "/orders/7", CHECKOUT);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(
        ok.body.contains(&format!(
            "x-amzn-lattice-identity: Principal={CHECKOUT_SESSION}; "
        )),
        "{}",
        ok.body
    );
    let denied = signed_get(s.addr, "/admin/users", CHECKOUT);
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.header("x-amzn-errortype"),
        Some("AccessDeniedException")
    );
    assert_eq!(
        denied.body,
        format!("AccessDeniedException: User: {CHECKOUT_SESSION} is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {SERVICE_ARN}/admin/users with an explicit deny in a service-based policy")
    );
    assert_eq!(
        signed_get(s.addr, "/orders/7", NEWCOMER).header("x-amzn-errortype"),
        Some("UnrecognizedClientException")
    );

    // A bad service policy is rejected: counted, logged with its position, the old one stays.
    let service = dir.path().join("service-policy.json");
    let good = std::fs::read_to_string(&service).unwrap();
    std::fs::write(
        &service,
        "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\"}]}",
    )
    .unwrap();
    let counted = eventually(Duration::from_secs(5), || {
        (reloads(s.admin, &service, "error") == 1).then_some(())
    });
    assert!(counted.is_some(), "stderr:\n{}", s.proc.stderr());
    assert!(
        s.proc
            .stderr()
            .contains(&format!("{}:1:", service.display())),
        "{}",
        s.proc.stderr()
    );
    assert_eq!(signed_get(s.addr, "/admin/users", CHECKOUT).status, 403);
    assert_eq!(signed_get(s.addr, "/orders/7", CHECKOUT).status, 200);

    // Good again, without the admin deny; and a new principal: both take effect together.
    let relaxed = good.replace("\"Effect\": \"Deny\"", "\"Effect\": \"Allow\"");
    std::fs::write(&service, relaxed).unwrap();
    let principals = dir.path().join("principals.json");
    let mut p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&principals).unwrap()).unwrap();
    p["principals"][0]["keys"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "access_key_id": NEWCOMER.0, "secret_access_key": NEWCOMER.1
        }));
    std::fs::write(&principals, serde_json::to_string_pretty(&p).unwrap()).unwrap();
    let swapped = eventually(Duration::from_secs(5), || {
        (signed_get(s.addr, "/admin/users", CHECKOUT).status == 200
            && signed_get(s.addr, "/orders/7", NEWCOMER).status == 200)
            .then_some(())
    });
    assert!(swapped.is_some(), "stderr:\n{}", s.proc.stderr());
    assert!(reloads(s.admin, &principals, "ok") >= 2);

    // SIGHUP forces a reload even without a change.
    let before = reloads(s.admin, &service, "ok");
    s.proc.signal("HUP");
    assert!(eventually(Duration::from_secs(5), || (reloads(
        s.admin, &service, "ok"
    ) > before)
        .then_some(()))
    .is_some());

    assert!(metric(s.admin, "trellis_requests_total{outcome=\"denied\"}") >= 2);
    assert!(metric(s.admin, "trellis_authn_total{result=\"unknown_key\"}") >= 1);
    assert!(metric(s.admin, "trellis_requests_total{outcome=\"allowed\"}") >= 4);
    let policy: serde_json::Value = serde_json::from_str(&get(s.admin, "/policy").body).unwrap();
    assert_eq!(policy["files"].as_array().unwrap().len(), 3);

    s.proc.signal("TERM");
    assert!(s.proc.wait(Duration::from_secs(10)).success());
    assert!(s.proc.stderr().contains("shut down"), "{}", s.proc.stderr());
    let log: Vec<serde_json::Value> = s
        .proc
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log[0]["requestPath"], "/orders/7");
    assert_eq!(log[0]["authnResult"], "signed");
    assert_eq!(log[1]["authDeniedReason"], "Service");
    assert_eq!(log[2]["authnResult"], "unknown_key");
}

/// The `/policy` entry of `file`.
fn policy_entry(admin: SocketAddr, file: &Path) -> serde_json::Value {
    let policy: serde_json::Value = serde_json::from_str(&get(admin, "/policy").body).unwrap();
    policy["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == file.display().to_string())
        .cloned()
        .unwrap_or_else(|| panic!("{} is not in /policy: {policy}", file.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn policy_publishes_the_principals_file_without_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    example_dir(dir.path());
    let s = start(dir.path(), &["--reload-poll", "0"]);
    let principals = dir.path().join("principals.json");
    let service = dir.path().join("service-policy.json");

    // A policy file holds no secret: its entry is the SHA-256 of its bytes.
    let policy = policy_entry(s.admin, &service);
    assert_eq!(policy["sha256_of"], "bytes");
    assert_eq!(
        policy["sha256"],
        sha256_hex(&std::fs::read(&service).unwrap())
    );

    // The principals file's is not, and `principals check` prints the same value.
    let before = policy_entry(s.admin, &principals);
    let sha = before["sha256"].as_str().unwrap().to_owned();
    assert_eq!(before["sha256_of"], "content without secrets");
    assert_eq!(sha.len(), 64);
    let text = std::fs::read_to_string(&principals).unwrap();
    assert_ne!(sha, sha256_hex(text.as_bytes()));
    let check = trellis(
        &["principals", "check", &principals.display().to_string()],
        "",
    );
    assert!(
        stdout(&check).contains(&format!(
            "  sha256 {sha} (content without secrets, as /policy publishes it)\n"
        )),
        "{}",
        stdout(&check)
    );

    // Rotating a secret in place: the new secret signs, the published hash stays, the load
    // time moves on (how an operator sees every pod picked the rotation up).
    let rotated = ("AKIAEXAMPLECHECKOUT1", "checkout/EXAMPLE/rotated/key/0002");
    assert!(text.contains(CHECKOUT.1));
    std::fs::write(&principals, text.replace(CHECKOUT.1, rotated.1)).unwrap();
    let picked_up = eventually(Duration::from_secs(5), || {
        (signed_get(s.addr, "/orders/7", rotated).status == 200).then_some(())
    });
    assert!(picked_up.is_some(), "stderr:\n{}", s.proc.stderr());
    let after = policy_entry(s.admin, &principals);
    assert_eq!(after["sha256"], sha);
    assert_ne!(after["loaded_at"], before["loaded_at"]);

    // Any other change shows.
    let renamed = text
        .replace(CHECKOUT.1, rotated.1)
        .replace("\"payments\"", "\"billing\"");
    std::fs::write(&principals, renamed).unwrap();
    let changed = eventually(Duration::from_secs(5), || {
        let now = policy_entry(s.admin, &principals);
        (now["sha256"] != sha).then_some(now)
    });
    assert!(changed.is_some(), "stderr:\n{}", s.proc.stderr());
}

#[test]
fn a_kubelet_style_symlink_swap_is_picked_up_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v1 = d.join("..2026_11_23_v1");
    std::fs::create_dir(&v1).unwrap();
    example_dir(&v1);
    std::os::unix::fs::symlink("..2026_11_23_v1", d.join("..data")).unwrap();
    for f in [
        "service-policy.json",
        "network-policy.json",
        "principals.json",
    ] {
        std::os::unix::fs::symlink(format!("..data/{f}"), d.join(f)).unwrap();
    }
    let s = start(d, &["--reload-poll", "0"]);
    assert_eq!(signed_get(s.addr, "/admin/users", CHECKOUT).status, 403);

    let v2 = d.join("..2026_11_23_v2");
    std::fs::create_dir(&v2).unwrap();
    example_dir(&v2);
    let relaxed = std::fs::read_to_string(v2.join("service-policy.json"))
        .unwrap()
        .replace("\"Effect\": \"Deny\"", "\"Effect\": \"Allow\"");
    std::fs::write(v2.join("service-policy.json"), relaxed).unwrap();
    std::os::unix::fs::symlink("..2026_11_23_v2", d.join("..data_tmp")).unwrap();
    let swapped_at = Instant::now();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    let seen = eventually(Duration::from_secs(3), || {
        (signed_get(s.addr, "/admin/users", CHECKOUT).status == 200).then(|| swapped_at.elapsed())
    });
    let took = seen.unwrap_or_else(|| panic!("not reloaded; stderr:\n{}", s.proc.stderr()));
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // An invalid policy swapped in the same way is rejected and counted; the last good one
    // (v2, which allows /admin/users) keeps deciding.
    let v3 = d.join("..2026_11_23_v3");
    std::fs::create_dir(&v3).unwrap();
    example_dir(&v3);
    std::fs::write(
        v3.join("service-policy.json"),
        "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\",\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("..2026_11_23_v3", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    std::fs::remove_dir_all(&v2).unwrap();
    let service = d.join("service-policy.json");
    let rejected = eventually(Duration::from_secs(3), || {
        (reloads(s.admin, &service, "error") >= 1).then_some(())
    });
    assert!(rejected.is_some(), "stderr:\n{}", s.proc.stderr());
    assert_eq!(signed_get(s.addr, "/admin/users", CHECKOUT).status, 200);
    assert_eq!(signed_get(s.addr, "/orders/7", CHECKOUT).status, 200);
}

#[test]
fn reloads_under_concurrent_load_on_several_workers_fail_no_request() {
    let dir = tempfile::tempdir().unwrap();
    example_dir(dir.path());
    // On several worker threads: each decides against the one snapshot cell the reloads swap.
    let s = start(
        dir.path(),
        &[
            "--reload-poll",
            "0",
            "--access-log",
            "off",
            "--workers",
            "3",
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (stop, sent, addr) = (Arc::clone(&stop), Arc::clone(&sent), s.addr);
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let a = if i % 2 == 0 {
                        signed_get(addr, "/orders/7", CHECKOUT)
                    } else {
                        get(addr, "/public/index.html")
                    };
                    if a.status != 200 {
                        failures.push(a);
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();
    let service = dir.path().join("service-policy.json");
    let principals = dir.path().join("principals.json");
    let good = std::fs::read_to_string(&service).unwrap();
    let people = std::fs::read_to_string(&principals).unwrap();
    for round in 0..8 {
        // Alternate the text (both versions allow the requests above), and rewrite the
        // principals in place, as editors and config tools do.
        let text = if round % 2 == 0 {
            good.replace("orders-service", "orders-service-v2")
        } else {
            good.clone()
        };
        std::fs::write(&service, text).unwrap();
        std::fs::write(&principals, format!("{people}\n")).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<Answer> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(sent.load(Ordering::Relaxed) > 100);
    assert!(
        reloads(s.admin, &service, "ok") >= 4,
        "stderr:\n{}",
        s.proc.stderr()
    );
    assert_eq!(reloads(s.admin, &service, "error"), 0);
}

#[test]
fn healthcheck_answers_for_a_running_proxy_and_a_closed_port() {
    let dir = tempfile::tempdir().unwrap();
    example_dir(dir.path());
    let s = start(dir.path(), &[]);
    let admin = s.admin.to_string();
    let out = trellis(&["healthcheck", "--admin", &admin], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = trellis(&["healthcheck", "--admin", &admin, "--path", "/nope"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("answered 404"), "{}", stderr(&out));
    let closed = free_addr().to_string();
    let out = trellis(&["healthcheck", "--admin", &closed, "--timeout", "1s"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
}

#[test]
fn the_readme_quickstart_demo_allows_denies_and_serves_anonymous_callers() {
    let addr = free_addr();
    let admin = free_addr();
    let (addr_s, admin_s) = (addr.to_string(), admin.to_string());
    let mut demo = Running::start(&[
        "demo",
        "--listen",
        &addr_s,
        "--admin",
        &admin_s,
        "--access-log",
        "off",
    ]);
    demo.wait_ready(admin);
    let printed = eventually(Duration::from_secs(5), || {
        let out = demo.stdout();
        out.contains("Ctrl-C").then_some(out)
    })
    .unwrap();
    assert!(printed.contains(&format!(
        "curl --aws-sigv4 'aws:amz:us-west-2:vpc-lattice-svcs' --user '{}:{}' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' http://{addr}/orders/7",
        CHECKOUT.0, CHECKOUT.1
    )), "{printed}");
    assert!(
        printed.contains(&format!("curl http://{addr}/public/index.html")),
        "{printed}"
    );

    let ok = signed_get(addr, "/orders/7", CHECKOUT);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(
        ok.body.contains(&format!(
            "\"x-amzn-lattice-identity\": \"Principal={CHECKOUT_SESSION}; "
        )),
        "{}",
        ok.body
    );
    let denied = signed_get(addr, "/admin/users", CHECKOUT);
    assert_eq!(denied.status, 403);
    assert!(
        denied
            .body
            .ends_with("with an explicit deny in a service-based policy"),
        "{}",
        denied.body
    );
    assert!(
        printed.contains(&denied.body),
        "the printed expectation matches:\n{printed}"
    );
    let anonymous = get(addr, "/public/index.html");
    assert_eq!(anonymous.status, 200);
    assert!(!anonymous.body.contains("x-amzn-lattice-identity"));
    // An HTTP/2 caller is served too (forwarded over HTTP/1.1, the default upstream protocol).
    let (status, body) = h2c_get(addr, "/public/index.html");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"service\": \"demo echo upstream\""),
        "{body}"
    );

    // The image's HEALTHCHECK: 0 while the demo serves, 1 with the reason once it is gone.
    let out = trellis(&["healthcheck", "--admin", &admin_s], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    demo.signal("INT");
    assert!(demo.wait(Duration::from_secs(10)).success());
    let out = trellis(&["healthcheck", "--admin", &admin_s, "--timeout", "1s"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
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
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

/// GET `target` over TLS (trusting only `cert`), HTTP/1.1; returns the raw answer.
fn tls_get(
    addr: SocketAddr,
    cert: rustls_pki_types::CertificateDer<'static>,
    target: &str,
) -> String {
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET {target} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    // Read the head and `content-length` bytes of body; the peer's close is not awaited.
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return text,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn tls_flags_serve_https_and_secure_transport_is_true() {
    let dir = tempfile::tempdir().unwrap();
    example_dir(dir.path());
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, certified.cert.pem()).unwrap();
    std::fs::write(&key_pem, certified.signing_key.serialize_pem()).unwrap();
    // Public reads only over TLS.
    let service = dir.path().join("service-policy.json");
    let text = std::fs::read_to_string(&service).unwrap().replace(
        "\"vpc-lattice-svcs:RequestMethod\": [\"GET\", \"HEAD\"] }",
        "\"vpc-lattice-svcs:RequestMethod\": [\"GET\", \"HEAD\"], \"aws:SecureTransport\": \"true\" }",
    );
    assert!(text.contains("SecureTransport"));
    std::fs::write(&service, text).unwrap();
    let (c, k) = (
        cert_pem.display().to_string(),
        key_pem.display().to_string(),
    );
    let s = start(dir.path(), &["--tls-cert", &c, "--tls-key", &k]);
    let answer = tls_get(s.addr, certified.cert.der().clone(), "/public/index.html");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("x-forwarded-proto: https"), "{answer}");
}

/// Sends `head` as is (an HTTP/1.1 request without a body) and returns the status and body.
fn raw_head(addr: SocketAddr, head: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn run_reads_the_host_and_headers_once_and_takes_the_header_flags() {
    let dir = tempfile::tempdir().unwrap();
    example_dir(dir.path());
    let service = dir.path().join("service-policy.json");
    let mut policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&service).unwrap()).unwrap();
    policy["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Sid": "NoAdminHost", "Effect": "Deny", "Principal": "*",
            "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
            "Condition": {"StringLike": {"vpc-lattice-svcs:RequestHeader/host": "admin.*"}}
        }));
    std::fs::write(&service, policy.to_string()).unwrap();
    let s = start(
        dir.path(),
        &["--headers-with-underscores", "reject", "--xff", "append"],
    );
    let (status, body) = raw_head(
        s.addr,
        "GET http://admin.example.com/public/x HTTP/1.1\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(status, 403, "{body}");
    let (status, body) = raw_head(
        s.addr,
        "GET http://public.example.com/public/x HTTP/1.1\r\nx-forwarded-for: 203.0.113.9\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("host: public.example.com\r\n"), "{body}");
    assert!(
        body.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1\r\n"),
        "{body}"
    );
    let (status, body) = raw_head(
        s.addr,
        "GET /public/x HTTP/1.1\r\nhost: svc\r\nx_amzn_lattice_identity: Principal=evil\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("contains `_`"), "{body}");
}

#[test]
fn errors_from_trellis_variables_name_the_variable_the_user_set() {
    let env = |extra: (&'static str, &'static str)| [("TRELLIS_SERVICE_ARN", SERVICE_ARN), extra];
    let out = trellis_env(&["run"], &env(("TRELLIS_LISTEN", "nowhere")), "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "trellis run: `TRELLIS_LISTEN` (the environment variable of `--listen`): `nowhere` is not an address"
        ),
        "{}",
        stderr(&out)
    );
    // The same value on the command line is named by its flag.
    let out = trellis_env(
        &["run", "--listen", "nowhere"],
        &[("TRELLIS_SERVICE_ARN", SERVICE_ARN)],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("trellis run: `--listen`: "),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("TRELLIS_LISTEN"));
    // A value outside a fixed choice is a usage error; a note names the variable.
    let out = trellis_env(&["run"], &env(("TRELLIS_MODE", "enforcing")), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the value comes from the environment variable `TRELLIS_MODE`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn listen_and_admin_accept_host_names_as_healthcheck_does() {
    let (addr, admin) = (free_addr(), free_addr());
    let listen = format!("localhost:{}", addr.port());
    let admin_name = format!("localhost:{}", admin.port());
    let mut proc = Running::start(&[
        "run",
        "--listen",
        &listen,
        "--admin",
        &admin_name,
        "--service-arn",
        SERVICE_ARN,
        "--service-auth-type",
        "NONE",
        "--upstream",
        &format!("http://{}", Upstream::echo().addr),
    ]);
    proc.wait_ready(admin);
    assert_eq!(get(addr, "/orders").status, 200);
    // `--path` without its leading slash is the path with it.
    let out = trellis(
        &["healthcheck", "--admin", &admin_name, "--path", "readyz"],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("http://{admin_name}/readyz: 200 OK\n")
    );
}

#[test]
fn an_unreachable_upstream_shows_callers_a_fixed_line_and_logs_the_detail() {
    let (addr, admin, dead) = (free_addr(), free_addr(), free_addr());
    let mut proc = Running::start(&[
        "run",
        "--listen",
        &addr.to_string(),
        "--admin",
        &admin.to_string(),
        "--service-arn",
        SERVICE_ARN,
        "--service-auth-type",
        "NONE",
        "--upstream",
        &format!("http://{dead}"),
    ]);
    proc.wait_ready(admin);
    let answer = get(addr, "/orders");
    assert_eq!(answer.status, 502);
    let id = answer.header("x-amzn-requestid").unwrap().to_owned();
    assert_eq!(
        answer.body,
        format!("BadGateway: the service could not be reached or did not answer properly; retry later, and give its operators the request id {id} if it persists")
    );
    let logged = eventually(Duration::from_secs(5), || {
        proc.stderr()
            .lines()
            .find(|l| l.starts_with(&format!("trellis: request {id}: answered 502: ")))
            .map(str::to_owned)
    });
    let line = logged.unwrap_or_else(|| panic!("no log line; stderr:\n{}", proc.stderr()));
    assert!(line.contains("upstream unreachable"), "{line}");
}
