//! `trellis run --decision-log` and `trellis policy replay` as users run them: the real binary
//! on loopback, a real upstream, requests signed by aws-sigv4.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use trellis_e2e::net::*;
use trellis_e2e::sts::{token, StsDouble, CHECKOUT_ROLE};
use trellis_e2e::{stderr, stdout, trellis};
use trellis_test_support::signing::{sign_request, Mode as SigningMode, Signing};

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
const CHECKOUT: (&str, &str) = (
    "AKIAEXAMPLECHECKOUT1",
    "checkout/EXAMPLE/secret/key/do/not/use/0001",
);
const COOKIE: &str = "session=do-not-log-this-cookie";
const AUDIENCE: &str = "svc-0123456789abcdef0";

/// The example service policy plus a statement deciding on a query value and a header.
fn service_policy(extra: &str) -> String {
    let text = std::fs::read_to_string(
        trellis_e2e::workspace_root().join("deploy/examples/service-policy.json"),
    )
    .unwrap();
    let reports = format!(
        r#"{{"Sid": "AllowCsvReportsForBlue", "Effect": "Allow", "Principal": "*",
        "Action": "vpc-lattice-svcs:Invoke", "Resource": "{SERVICE_ARN}/reports/*",
        "Condition": {{"ForAnyValue:StringEquals": {{"vpc-lattice-svcs:RequestQueryString/format": "csv"}},
        "StringEquals": {{"vpc-lattice-svcs:RequestHeader/x-team": "blue"}}}}}}{extra}"#
    );
    let at = text.rfind(']').unwrap();
    let head = text[..at].trim_end();
    format!("{head},\n{reports}\n{}", &text[at..])
}

/// The proxy of [`record`], still running: SIGHUP and later requests reach it.
struct Recorded {
    proc: Running,
    addr: SocketAddr,
    admin: SocketAddr,
    log: PathBuf,
    access_log: PathBuf,
    _sts: StsDouble,
}

/// `target` presigned (SigV4 in the query) by `key`: the path and query to send.
fn presigned(addr: SocketAddr, target: &str, key: (&str, &str)) -> String {
    let host = addr.to_string();
    let signing = Signing {
        mode: SigningMode::Presigned,
        ..Signing::header(key)
    };
    let req = sign_request(
        "GET",
        &format!("http://{host}{target}"),
        &[("host", host.as_str())],
        &signing,
    );
    req.uri().path_and_query().unwrap().to_string()
}

/// The headers of a SigV4A (`AWS4-ECDSA-P256-SHA256`) GET for the region set `us-west-2`.
fn sign_v4a(addr: SocketAddr, target: &str, key: (&str, &str)) -> Vec<(String, String)> {
    let host = addr.to_string();
    let signing = Signing {
        region_set: Some("us-west-2"),
        ..Signing::header(key)
    };
    sign_request(
        "GET",
        &format!("http://{host}{target}"),
        &[("host", host.as_str())],
        &signing,
    )
    .headers()
    .iter()
    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
    .collect()
}

/// The requests [`record`] sends, and the lines they leave.
const RECORDED: usize = 10;

/// Runs the proxy with the example files, identity tokens and `--decision-log`, sends the
/// request kinds of the end-to-end suites — SigV4 in the header and in the query, SigV4A,
/// identity token, anonymous; allowed and denied — and returns it once every decision is in
/// the log.
fn record(dir: &Path) -> Recorded {
    copy_example("network-policy.json", &dir.join("network-policy.json"));
    // The example callers, and the organization of their account for identity-token callers
    // (whose session is not in the file).
    let mut principals: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            trellis_e2e::workspace_root().join("deploy/examples/principals.json"),
        )
        .unwrap(),
    )
    .unwrap();
    principals["accounts"] = serde_json::json!([{"id": "111122223333", "org_id": "o-a1b2c3d4e5"}]);
    principals["roles"] = serde_json::json!([{
        "arn": "arn:aws:iam::111122223333:role/checkout", "tags": {"team": "payments"},
        "policies": [{"Version": "2012-10-17", "Statement": [{"Sid": "InvokeOrders",
            "Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke",
            "Resource": format!("{SERVICE_ARN}/orders/*")}]}]
    }]);
    std::fs::write(dir.join("principals.json"), principals.to_string()).unwrap();
    std::fs::write(dir.join("service-policy.json"), service_policy("")).unwrap();
    let log = dir.join("decisions.jsonl");
    let access_log = dir.join("access.log");
    let sts = StsDouble::start(&[CHECKOUT_ROLE]);
    let upstream = format!("http://{}", Upstream::echo().addr);
    let (addr, admin) = (free_addr(), free_addr());
    let f = |n: &str| dir.join(n).display().to_string();
    let (addr_s, admin_s, log_s, access_s, sts_s) = (
        addr.to_string(),
        admin.to_string(),
        log.display().to_string(),
        access_log.display().to_string(),
        format!("http://{}", sts.addr),
    );
    let (service, network, principals) = (
        f("service-policy.json"),
        f("network-policy.json"),
        f("principals.json"),
    );
    let mut proc = Running::start(&[
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
        "--sts-audience",
        AUDIENCE,
        "--sts-endpoint",
        &sts_s,
        "--access-log",
        &access_s,
        "--decision-log",
        &log_s,
    ]);
    proc.wait_ready(admin);
    let signed = |target: &str, extra: &[(&str, &str)]| {
        let mut headers = sign(addr, "GET", target, CHECKOUT, SystemTime::now());
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let answer = request(addr, "GET", target, &headers).unwrap();
        (answer.status, answer.body)
    };
    // Signed allowed and denied (explicit deny), anonymous allowed and denied (implicit),
    // query and header conditions met and not met.
    assert_eq!(signed("/orders/7", &[("cookie", COOKIE)]).0, 200);
    assert_eq!(signed("/admin/users", &[]).0, 403);
    assert_eq!(get(addr, "/public/index.html").status, 200);
    assert_eq!(get(addr, "/orders/7").status, 403);
    let csv = signed("/reports/q1?format=csv", &[("x-team", "blue")]);
    assert_eq!(csv.0, 200, "{}", csv.1);
    assert_eq!(
        signed("/reports/q1?format=pdf", &[("x-team", "blue")]).0,
        403
    );
    // Signed in the query: allowed and denied.
    let unsigned = [(
        "x-amz-content-sha256".to_owned(),
        "UNSIGNED-PAYLOAD".to_owned(),
    )];
    let url = presigned(addr, "/orders/8?page=2", CHECKOUT);
    let answer = request(addr, "GET", &url, &unsigned).unwrap();
    assert_eq!(answer.status, 200, "{url}: {answer:?}");
    let url = presigned(addr, "/admin/users", CHECKOUT);
    let answer = request(addr, "GET", &url, &unsigned).unwrap();
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(
        answer.header("x-amzn-errortype"),
        Some("AccessDeniedException")
    );
    // SigV4A.
    let headers = sign_v4a(addr, "/orders/11", CHECKOUT);
    assert!(headers
        .iter()
        .any(|(_, v)| v.starts_with("AWS4-ECDSA-P256-SHA256")));
    let answer = request(addr, "GET", "/orders/11", &headers).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    // An identity token of the checkout role, verified by the STS double.
    let bearer = format!("Bearer {}", token(&CHECKOUT_ROLE, AUDIENCE));
    let answer = request(
        addr,
        "GET",
        "/orders/9",
        &[("authorization".into(), bearer)],
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}\n{}", proc.stderr());
    let lines = eventually(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (text.lines().count() == RECORDED).then_some(())
    });
    assert!(lines.is_some(), "{}", proc.stderr());
    Recorded {
        proc,
        addr,
        admin,
        log,
        access_log,
        _sts: sts,
    }
}

fn replay(dir: &Path, log: &Path, service: &str, extra: &[&str]) -> std::process::Output {
    let f = |n: &str| dir.join(n).display().to_string();
    let log = log.display().to_string();
    let mut args = vec![
        "policy",
        "replay",
        "--decision-log",
        &log,
        "--service-policy",
        service,
        "--network-policy",
    ];
    let (network, principals) = (f("network-policy.json"), f("principals.json"));
    args.extend_from_slice(&[network.as_str(), "--principals", principals.as_str()]);
    args.extend_from_slice(extra);
    trellis(&args, "")
}

#[test]
fn replaying_a_decision_log_with_the_enforced_files_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = record(dir.path());
    let service = dir.path().join("service-policy.json").display().to_string();
    let out = replay(dir.path(), &recorded.log, &service, &["--fail-on-change"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stdout(&out).lines().next(),
        Some(format!("{RECORDED} requests, 0 changed: 0 allow→deny, 0 deny→allow").as_str())
    );
    // Every kind is in the log: header- and query-signed, SigV4A, identity token, anonymous.
    let text = std::fs::read_to_string(&recorded.log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let arn = |l: &serde_json::Value| l["principal"]["arn"].as_str().map(str::to_owned);
    let token_caller = "arn:aws:sts::111122223333:assumed-role/checkout/checkout-pod-1";
    assert!(
        lines
            .iter()
            .any(|l| arn(l).as_deref() == Some(token_caller)),
        "{text}"
    );
    assert_eq!(lines.iter().filter(|l| l["principal"].is_null()).count(), 2);
    assert!(lines
        .iter()
        .any(|l| l["path"] == "/orders/11" && l["decision"] == "Allow"));
    let presigned = lines.iter().find(|l| l["path"] == "/orders/8").unwrap();
    assert_eq!(presigned["query"], "page=2", "{presigned}");
}

#[test]
fn a_candidate_that_adds_one_deny_flips_exactly_the_requests_it_matches() {
    let dir = tempfile::tempdir().unwrap();
    let log = record(dir.path()).log;
    let candidate = dir.path().join("candidate.json");
    let deny = format!(
        r#",{{"Sid": "DenyCsvReports", "Effect": "Deny", "Principal": "*",
        "Action": "vpc-lattice-svcs:Invoke", "Resource": "{SERVICE_ARN}/reports/*",
        "Condition": {{"ForAnyValue:StringEquals": {{"vpc-lattice-svcs:RequestQueryString/format": "csv"}}}}}}"#
    );
    std::fs::write(&candidate, service_policy(&deny)).unwrap();
    let candidate = candidate.display().to_string();
    let out = replay(dir.path(), &log, &candidate, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["requests"], RECORDED);
    assert_eq!(report["changed"], 1);
    assert_eq!(report["allowToDeny"], 1);
    assert_eq!(report["denyToAllow"], 0);
    let group = &report["groups"][0];
    assert_eq!(group["change"], "allow→deny");
    assert_eq!(group["path"], "/reports/q1");
    assert_eq!(
        group["principal"],
        "arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1"
    );
    assert_eq!(group["statement"], "service#5(DenyCsvReports)");
    assert_eq!(group["examples"][0]["query"], "format=csv");
    // The same change under the CI gate.
    let gated = replay(dir.path(), &log, &candidate, &["--fail-on-change"]);
    assert_eq!(gated.status.code(), Some(1), "{}", stderr(&gated));
    assert!(stdout(&gated).starts_with(&format!(
        "{RECORDED} requests, 1 changed: 1 allow→deny, 0 deny→allow"
    )));
}

#[test]
fn no_log_holds_a_key_signature_token_or_cookie_of_the_callers() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = record(dir.path());
    let bearer = token(&CHECKOUT_ROLE, AUDIENCE);
    let token_body = bearer.trim_start_matches("k8s-aws-v1.");
    let secrets = [
        CHECKOUT.1,
        "Signature=",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "AWS4-HMAC-SHA256",
        "AWS4-ECDSA-P256-SHA256",
        COOKIE,
        CHECKOUT_ROLE.secret,
        CHECKOUT_ROLE.access_key,
        CHECKOUT_ROLE.session_token.unwrap(),
        // The start of every token of this caller (the base64 of the presigned URL's head).
        &token_body[..40],
    ];
    let decisions = std::fs::read_to_string(&recorded.log).unwrap();
    let access = eventually(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&recorded.access_log).unwrap_or_default();
        (text.lines().count() == RECORDED).then_some(text)
    })
    .expect("an access-log line per request");
    let stderr = recorded.proc.stderr();
    for (name, text) in [
        ("decision log", &decisions),
        ("access log", &access),
        ("stderr", &stderr),
    ] {
        for secret in secrets {
            assert!(!text.contains(secret), "`{secret}` in the {name}: {text}");
        }
    }
    // The key id names the example key in the start-up warning only.
    assert!(!decisions.contains(CHECKOUT.0) && !access.contains(CHECKOUT.0));
    let first: serde_json::Value = serde_json::from_str(decisions.lines().next().unwrap()).unwrap();
    assert_eq!(first["v"], 1);
    assert_eq!(first["principal"]["tags"][0][0], "team");
    assert_eq!(first["decision"], "Allow");
}

#[test]
fn a_corrupt_decision_log_line_is_reported_by_number_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let log = record(dir.path()).log;
    let mut text = std::fs::read_to_string(&log).unwrap();
    let truncated = text.lines().next().unwrap()[..40].to_owned();
    text.push_str("not json\n");
    text.push_str(&truncated);
    text.push('\n');
    std::fs::write(&log, text).unwrap();
    let service = dir.path().join("service-policy.json").display().to_string();
    let out = replay(dir.path(), &log, &service, &[]);
    assert_eq!(out.status.code(), Some(1));
    let name = log.display().to_string();
    for line in [RECORDED + 1, RECORDED + 2] {
        assert!(
            stderr(&out).contains(&format!("{name}:{line}: error:")),
            "{}",
            stderr(&out)
        );
    }
    assert!(
        stdout(&out).starts_with(&format!("{RECORDED} requests, 0 changed")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn sighup_reopens_the_decision_log_after_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = record(dir.path());
    let rotated = dir.path().join("decisions.jsonl.1");
    std::fs::rename(&recorded.log, &rotated).unwrap();
    recorded.proc.signal("HUP");
    let reopened = eventually(Duration::from_secs(10), || {
        recorded
            .proc
            .stderr()
            .contains(&format!("log reopened: {}", recorded.log.display()))
            .then_some(())
    });
    assert!(reopened.is_some(), "{}", recorded.proc.stderr());
    assert_eq!(get(recorded.addr, "/public/after-rotation").status, 200);
    let moved = eventually(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&recorded.log).unwrap_or_default();
        text.contains("/public/after-rotation").then_some(text)
    })
    .expect("the next decision in a new file at the path");
    assert_eq!(moved.lines().count(), 1, "{moved}");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert_eq!(old.lines().count(), RECORDED, "{old}");
    assert_eq!(
        metric(recorded.admin, "trellis_decision_log_dropped_total"),
        0
    );
}

#[test]
fn decision_lines_the_writer_cannot_write_are_dropped_and_counted_never_blocking_requests() {
    // Writes to /dev/full fail: the writer stops, and each later line is dropped and counted.
    let full = Path::new("/dev/full");
    assert!(full.exists(), "a Linux /dev/full");
    let (addr, admin) = (free_addr(), free_addr());
    let (addr_s, admin_s) = (addr.to_string(), admin.to_string());
    let upstream = format!("http://{}", Upstream::echo().addr);
    let policy = dir_with_public_policy();
    let policy_s = policy
        .path()
        .join("service-policy.json")
        .display()
        .to_string();
    let mut proc = Running::start(&[
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
        &policy_s,
        "--access-log",
        "off",
        "--decision-log",
        "/dev/full",
    ]);
    proc.wait_ready(admin);
    let series = "trellis_decision_log_dropped_total";
    let dropped = eventually(Duration::from_secs(10), || {
        assert_eq!(get(addr, "/public/item").status, 200);
        (metric(admin, series) >= 3).then_some(())
    });
    assert!(dropped.is_some(), "{}", get(admin, "/metrics").body);
    let before = metric(admin, series);
    for _ in 0..5 {
        assert_eq!(get(addr, "/public/item").status, 200);
    }
    let counted = eventually(Duration::from_secs(5), || {
        (metric(admin, series) == before + 5).then_some(())
    });
    assert!(
        counted.is_some(),
        "{} != {before} + 5",
        metric(admin, series)
    );
}

fn dir_with_public_policy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("service-policy.json"), service_policy("")).unwrap();
    dir
}
