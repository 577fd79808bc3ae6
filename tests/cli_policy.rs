//! `trellis policy check` and `trellis policy eval` through the real binary (CONTRACT §1, §5).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic: a panic is a failed test

use std::path::PathBuf;

use serde_json::Value;
use trellis_e2e::{stderr, stdout, trellis};

const SVC: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn s(path: &std::path::Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn allow_checkout_policy() -> String {
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Sid": "AllowCheckout",
      "Effect": "Allow",
      "Principal": {{"AWS": "arn:aws:iam::111122223333:role/checkout"}},
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "{SVC}/orders/*"
    }},
    {{
      "Effect": "Deny",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "{SVC}/orders/secret"
    }}
  ]
}}
"#
    )
}

fn request(principal: &str, path: &str) -> String {
    serde_json::json!({
        "principal": principal,
        "action": "vpc-lattice-svcs:Invoke",
        "resource": format!("{SVC}{path}"),
    })
    .to_string()
}

#[test]
fn check_accepts_a_valid_policy_silently() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "ok.json", &allow_checkout_policy());
    let out = trellis(&["policy", "check", s(&policy)], "");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("checked 1 file: 0 errors, 0 warnings"));
}

#[test]
fn check_reports_every_error_with_file_line_and_column_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "allow",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "*"
    },
    {
      "Effect": "Deny",
      "Effect": "Allow",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "*"
    }
  ]
}
"#;
    let policy = write(&dir, "bad.json", text);
    let out = trellis(&["policy", "check", s(&policy)], "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = stdout(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    let effect = format!("{}:5:17: error:", s(&policy));
    assert!(
        lines.iter().any(|l| l.starts_with(&effect)),
        "no error at the bad Effect value in:\n{stdout}"
    );
    let duplicate = format!("{}:12:7: error:", s(&policy));
    assert!(
        lines.iter().any(|l| l.starts_with(&duplicate)),
        "no error at the duplicate Effect key in:\n{stdout}"
    );
}

#[test]
fn check_warns_about_an_action_that_cannot_match_but_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let text = allow_checkout_policy().replace(
        "\"Action\": \"vpc-lattice-svcs:Invoke\",\n      \"Resource\": \"arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/orders/*\"",
        "\"Action\": \"vpc-lattice:InvokeService\",\n      \"Resource\": \"arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/orders/*\"",
    );
    assert!(text.contains("vpc-lattice:InvokeService"));
    let policy = write(&dir, "typo.json", &text);
    let out = trellis(&["policy", "check", s(&policy)], "");
    assert_eq!(out.status.code(), Some(0));
    let warning = format!("{}:8:17: warning:", s(&policy));
    assert!(stdout(&out).starts_with(&warning), "{}", stdout(&out));
    assert!(stdout(&out).contains("vpc-lattice:InvokeService"));
}

#[test]
fn check_json_format_lists_files_and_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir, "good.json", &allow_checkout_policy());
    let bad = write(&dir, "bad.json", "{\"Statement\": []");
    let out = trellis(
        &["policy", "check", "--format", "json", s(&good), s(&bad)],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(report["files"][0]["file"], s(&good));
    assert_eq!(report["files"][0]["kind"], "auth");
    assert_eq!(report["files"][0]["statements"], 2);
    assert_eq!(report["files"][0]["diagnostics"], serde_json::json!([]));
    assert_eq!(report["files"][1]["diagnostics"][0]["severity"], "error");
    assert_eq!(report["files"][1]["diagnostics"][0]["line"], 1);
    assert!(report["errors"].as_u64().unwrap() >= 1);
}

#[test]
fn check_names_a_missing_file() {
    let out = trellis(&["policy", "check", "/nonexistent/policy.json"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("/nonexistent/policy.json: error: cannot read the file"));
}

#[test]
fn check_without_files_is_a_usage_error() {
    let out = trellis(&["policy", "check"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_kind_identity_rejects_a_principal() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.json", &allow_checkout_policy());
    let out = trellis(&["policy", "check", "--kind", "identity", s(&policy)], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(": error: "), "{}", stdout(&out));
}

#[test]
fn eval_prints_one_decision_per_line_and_answers_bad_lines_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.json", &allow_checkout_policy());
    let input = [
        request(
            "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
            "/orders/7",
        ),
        "{not json".to_owned(),
        request(
            "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
            "/orders/secret",
        ),
        request("anonymous", "/orders/7"),
    ]
    .join("\n");
    let out = trellis(&["policy", "eval", "--policy", s(&policy)], &input);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad line makes the exit code 1"
    );
    let stdout = stdout(&out);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        serde_json::json!({"decision": "Allow", "reason": "Allowed", "layer": null,
            "statements": [{"layer": "policy", "index": 0, "sid": "AllowCheckout", "effect": "Allow"}]})
    );
    assert!(lines[1]["error"].as_str().unwrap().starts_with("line 2: "));
    assert_eq!(lines[2]["decision"], "Deny");
    assert_eq!(lines[2]["reason"], "ExplicitDeny");
    assert_eq!(lines[2]["statements"].as_array().unwrap().len(), 2);
    assert_eq!(lines[3]["reason"], "ImplicitDeny");
    assert_eq!(lines[3]["statements"], serde_json::json!([]));
}

#[test]
fn eval_layers_report_the_deciding_layer() {
    let dir = tempfile::tempdir().unwrap();
    let service = write(&dir, "service.json", &allow_checkout_policy());
    let identity = write(
        &dir,
        "identity.json",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"vpc-lattice-svcs:Invoke","Resource":"{SVC}/*"}}}}"#
        ),
    );
    let caller = "arn:aws:sts::111122223333:assumed-role/checkout/task-1";
    let input = [request(caller, "/orders/7"), request(caller, "/admin")].join("\n");
    let with_identity = trellis(
        &[
            "policy",
            "eval",
            "--service-policy",
            s(&service),
            "--identity-policy",
            s(&identity),
        ],
        &input,
    );
    assert_eq!(
        with_identity.status.code(),
        Some(0),
        "{}",
        stderr(&with_identity)
    );
    let lines: Vec<Value> = stdout(&with_identity)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["decision"], "Allow");
    assert_eq!(lines[0]["layer"], Value::Null);
    assert_eq!(lines[1]["reason"], "ImplicitDeny");
    assert_eq!(lines[1]["layer"], "service");

    let empty_identity = write(
        &dir,
        "other.json",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"vpc-lattice-svcs:Invoke","Resource":"{SVC}/public/*"}}}}"#
        ),
    );
    let out = trellis(
        &[
            "policy",
            "eval",
            "--service-policy",
            s(&service),
            "--identity-policy",
            s(&empty_identity),
        ],
        &request(caller, "/orders/7"),
    );
    let line: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["reason"], "ImplicitDeny");
    assert_eq!(line["layer"], "identity");
}

#[test]
fn eval_without_a_policy_flag_is_a_usage_error() {
    let out = trellis(&["policy", "eval"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn eval_with_an_invalid_policy_prints_diagnostics_and_no_decision() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "bad.json", r#"{"Statement": {"Effect": "Maybe"}}"#);
    let out = trellis(
        &["policy", "eval", "--policy", s(&policy)],
        &request("anonymous", "/"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains(&format!("{}:1:", s(&policy))));
    assert!(stderr(&out).contains(": error: "));
}

#[test]
fn eval_check_prints_pass_and_fail_lines_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.json", &allow_checkout_policy());
    let caller = "arn:aws:sts::111122223333:assumed-role/checkout/task-1";
    let mut pass: Value = serde_json::from_str(&request(caller, "/orders/7")).unwrap();
    pass["name"] = "checkout reads orders".into();
    pass["expect"] = "Allow".into();
    let mut fail: Value = serde_json::from_str(&request("anonymous", "/orders/7")).unwrap();
    fail["name"] = "anonymous reads orders".into();
    fail["expect"] = "Allow".into();
    let tests = write(
        &dir,
        "tests.json",
        &Value::Array(vec![pass, fail]).to_string(),
    );
    let out = trellis(
        &[
            "policy",
            "eval",
            "--policy",
            s(&policy),
            "--check",
            "--request",
            s(&tests),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "PASS checkout reads orders: expected Allow, got Allow (Allowed, no layer)\n\
         FAIL anonymous reads orders: expected Allow, got Deny (ImplicitDeny, no layer)\n\
         1 passed, 1 failed\n"
    );
}

#[test]
fn version_flag_prints_the_version() {
    let out = trellis(&["--version"], "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out).trim(),
        format!("trellis {}", env!("CARGO_PKG_VERSION"))
    );
}
