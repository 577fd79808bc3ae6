//! `trellis run --decision-log` and `trellis policy replay` as users run them: the real binary
//! on loopback, a real upstream, requests signed by aws-sigv4.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a panic is a failed test

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use trellis_e2e::net::*;
use trellis_e2e::{stderr, stdout, trellis};

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
const CHECKOUT: (&str, &str) = (
    "AKIAEXAMPLECHECKOUT1",
    "checkout/EXAMPLE/secret/key/do/not/use/0001",
);
const COOKIE: &str = "session=do-not-log-this-cookie";

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

/// Runs the proxy with the example files and `--decision-log`, sends the request kinds of the
/// end-to-end suites, and returns the log once every decision is in it.
fn record(dir: &Path) -> PathBuf {
    copy_example("network-policy.json", &dir.join("network-policy.json"));
    copy_example("principals.json", &dir.join("principals.json"));
    std::fs::write(dir.join("service-policy.json"), service_policy("")).unwrap();
    let log = dir.join("decisions.jsonl");
    let upstream = format!("http://{}", Upstream::echo().addr);
    let (addr, admin) = (free_addr(), free_addr());
    let f = |n: &str| dir.join(n).display().to_string();
    let (addr_s, admin_s, log_s) = (
        addr.to_string(),
        admin.to_string(),
        log.display().to_string(),
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
        "--access-log",
        "off",
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
    let lines = eventually(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (text.lines().count() == 6).then_some(())
    });
    assert!(lines.is_some(), "{}", proc.stderr());
    log
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
    let log = record(dir.path());
    let service = dir.path().join("service-policy.json").display().to_string();
    let out = replay(dir.path(), &log, &service, &["--fail-on-change"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stdout(&out).lines().next(),
        Some("6 requests, 0 changed: 0 allow→deny, 0 deny→allow")
    );
}

#[test]
fn a_candidate_that_adds_one_deny_flips_exactly_the_requests_it_matches() {
    let dir = tempfile::tempdir().unwrap();
    let log = record(dir.path());
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
    assert_eq!(report["requests"], 6);
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
    assert!(stdout(&gated).starts_with("6 requests, 1 changed: 1 allow→deny, 0 deny→allow"));
}

#[test]
fn the_decision_log_holds_no_key_signature_or_cookie_of_the_callers() {
    let dir = tempfile::tempdir().unwrap();
    let log = record(dir.path());
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        CHECKOUT.0,
        CHECKOUT.1,
        "Signature=",
        "AWS4-HMAC-SHA256",
        COOKIE,
    ] {
        assert!(!text.contains(secret), "`{secret}` in {text}");
    }
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["v"], 1);
    assert_eq!(first["principal"]["tags"][0][0], "team");
    assert_eq!(first["decision"], "Allow");
}

#[test]
fn a_corrupt_decision_log_line_is_reported_by_number_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let log = record(dir.path());
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
    assert!(
        stderr(&out).contains(&format!("{name}:7: error:")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(&format!("{name}:8: error:")),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).starts_with("6 requests, 0 changed"),
        "{}",
        stdout(&out)
    );
}
