//! `trellis policy check` and `trellis policy eval` through the real binary (CONTRACT §1, §5).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers may panic: a panic is a failed test"
)]

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
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "checked 1 file: 0 errors, 0 warnings\n");
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
    // Diagnostics on standard error, the summary on standard output.
    let stderr = stderr(&out);
    let lines: Vec<&str> = stderr.lines().collect();
    let effect = format!("{}:5:17: error:", s(&policy));
    assert!(
        lines.iter().any(|l| l.starts_with(&effect)),
        "no error at the bad Effect value in:\n{stderr}"
    );
    let duplicate = format!("{}:12:7: error:", s(&policy));
    assert!(
        lines.iter().any(|l| l.starts_with(&duplicate)),
        "no error at the duplicate Effect key in:\n{stderr}"
    );
    assert!(
        stdout(&out).starts_with("checked 1 file: 2 errors"),
        "{}",
        stdout(&out)
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
    assert!(stderr(&out).starts_with(&warning), "{}", stderr(&out));
    assert!(stderr(&out).contains("vpc-lattice:InvokeService"));
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
    assert!(stderr(&out).starts_with("/nonexistent/policy.json: error: cannot read the file"));
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
    assert!(stderr(&out).contains(": error: "), "{}", stderr(&out));
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
            "layers": ["policy"],
            "statements": [{"layer": "policy", "index": 0, "sid": "AllowCheckout", "effect": "Allow"}]})
    );
    let error = lines[1]["error"].as_str().unwrap();
    assert!(
        error.starts_with("line 2, column 2: invalid JSON: "),
        "{error}"
    );
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

#[test]
fn check_warns_about_resources_and_aws_keys_that_can_never_match() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Deny",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": ["/admin/*", "arn:aws:s3:::bucket/*", "arn:aws:vpc-latice:us-west-2:111122223333:service/svc-0123456789abcdef0/*"]
    },
    {
      "Effect": "Allow",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "arn:aws:vpc-lattice:*:*:service/*",
      "Condition": {"StringEquals": {"aws:PrincpalOrgID": "o-a1b2c3d4e5"}}
    }
  ]
}
"#;
    let policy = write(&dir, "holes.json", text);
    let out = trellis(&["policy", "check", s(&policy)], "");
    assert_eq!(out.status.code(), Some(0), "warnings only");
    let err = stderr(&out);
    let file = s(&policy);
    for (at, what) in [
        ("8:20", "`*/admin/*`"),
        ("8:32", "`s3` resource"),
        ("8:57", "write `vpc-lattice`"),
        ("15:38", "did you mean `aws:PrincipalOrgID`?"),
    ] {
        let prefix = format!("{file}:{at}: warning: ");
        assert!(
            err.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(what)),
            "no `{prefix}…{what}` in:\n{err}"
        );
    }
    assert_eq!(stdout(&out), "checked 1 file: 0 errors, 4 warnings\n");
}

#[test]
fn check_reads_standard_input_for_a_dash_and_accepts_a_byte_order_mark() {
    let text = format!("\u{FEFF}{}", allow_checkout_policy());
    let out = trellis(&["policy", "check", "-"], &text);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let broken = "\u{FEFF}{\"Version\": \"2012-10-17\", \"Statement\": 7}";
    let out = trellis(&["policy", "check", "-"], broken);
    assert_eq!(out.status.code(), Some(1));
    // The mark takes no column: the error is where an editor shows `7`.
    assert!(
        stderr(&out).starts_with("<stdin>:1:40: error: "),
        "{}",
        stderr(&out)
    );
}

/// The README's multi-line example, piped as written (no `tr -d '\n'`).
#[test]
fn eval_reads_objects_spread_over_lines_several_per_line_and_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.json", &allow_checkout_policy());
    let input = format!(
        r#"{{"principal": "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
       "action": "vpc-lattice-svcs:Invoke",
       "resource": "{SVC}/orders/7",
       "context": {{"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}}
{} {}
[{},
 {{"principal": "anonymous", "action": "vpc-lattice-svcs:Invoke",
   "resource": 7}}]
"#,
        request("anonymous", "/orders/7"),
        request("anonymous", "/"),
        request(
            "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
            "/orders/secret"
        ),
    );
    let out = trellis(&["policy", "eval", "--policy", s(&policy)], &input);
    assert_eq!(out.status.code(), Some(1), "the last request is invalid");
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decisions: Vec<&str> = lines
        .iter()
        .map(|l| l["decision"].as_str().unwrap_or("error"))
        .collect();
    assert_eq!(decisions, ["Allow", "Deny", "Deny", "Deny", "error"]);
    assert_eq!(lines[3]["reason"], "ExplicitDeny");
    let error = lines[4]["error"].as_str().unwrap();
    assert!(
        error.starts_with("line 7: `resource` must be a string"),
        "{error}"
    );

    // `--request -` is standard input too.
    let out = trellis(
        &["policy", "eval", "--policy", s(&policy), "--request", "-"],
        &input,
    );
    assert_eq!(stdout(&out).lines().count(), 5);
}

#[test]
fn eval_check_without_any_test_fails_and_shows_what_a_test_looks_like() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.json", &allow_checkout_policy());
    let out = trellis(
        &["policy", "eval", "--policy", s(&policy), "--check"],
        "\n\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "0 passed, 0 failed\n");
    let err = stderr(&out);
    assert!(err.contains("no test found in standard input"), "{err}");
    assert!(err.contains("\"expect\": \"Allow\""), "{err}");
}

/// `--principals` gives `eval` what `trellis run` knows about a signed caller: its session, its
/// identity policies (so the identity layer applies as in the proxy), tags and organization.
#[test]
fn eval_with_principals_decides_as_trellis_run_would() {
    let dir = tempfile::tempdir().unwrap();
    let service = write(
        &dir,
        "service.json",
        &format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "PaymentsTeam", "Effect": "Allow",
  "Principal": {{"AWS": "arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1"}},
  "Action": "vpc-lattice-svcs:Invoke", "Resource": "{SVC}/*",
  "Condition": {{"StringEquals": {{"aws:PrincipalTag/team": "payments", "aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}}}}]}}"#
        ),
    );
    let principals = dir.path().join("principals.json");
    std::fs::copy(
        trellis_e2e::workspace_root().join("deploy/examples/principals.json"),
        &principals,
    )
    .unwrap();
    // The role, not its session: `--principals` knows the session name, as the proxy does.
    let role = "arn:aws:iam::111122223333:role/checkout";
    let input = [
        request(role, "/orders/7"),
        request("anonymous", "/orders/7"),
        request("arn:aws:iam::111122223333:user/stranger", "/orders/7"),
    ]
    .join("\n");
    let out = trellis(
        &[
            "policy",
            "eval",
            "--service-policy",
            s(&service),
            "--principals",
            s(&principals),
        ],
        &input,
    );
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(lines[0]["decision"], "Allow", "{}", lines[0]);
    assert_eq!(
        lines[0]["layers"],
        serde_json::json!(["service", "identity"])
    );
    assert_eq!(lines[1]["layers"], serde_json::json!(["service"]));
    let error = lines[2]["error"].as_str().unwrap();
    assert!(error.contains("is not in the principals file"), "{error}");
    assert_eq!(out.status.code(), Some(1));

    // Without the file, tags and organization are unknown and no identity layer is asked.
    let out = trellis(
        &["policy", "eval", "--service-policy", s(&service)],
        &request(role, "/orders/7"),
    );
    let line: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["decision"], "Deny");
    assert_eq!(line["layers"], serde_json::json!(["service"]));

    // The caller's own identity policies decide too: they allow the orders service only.
    let other_service =
        "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0fedcba9876543210/orders/7";
    let mut elsewhere: Value = serde_json::from_str(&request(role, "/")).unwrap();
    elsewhere["resource"] = other_service.into();
    let permissive = write(
        &dir,
        "permissive.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}"#,
    );
    let out = trellis(
        &[
            "policy",
            "eval",
            "--service-policy",
            s(&permissive),
            "--principals",
            s(&principals),
        ],
        &elsewhere.to_string(),
    );
    let line: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["reason"], "ImplicitDeny", "{line}");
    assert_eq!(line["layer"], "identity");
}

/// A policy whose Allow needs a team tag: the statement a tagged caller is denied by.
fn team_policy() -> String {
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Sid": "AllowPayments",
      "Effect": "Allow",
      "Principal": {{"AWS": "arn:aws:iam::111122223333:role/checkout"}},
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "{SVC}/*",
      "Condition": {{"StringEquals": {{"aws:PrincipalTag/team": "payments"}}}}
    }},
    {{
      "Sid": "AllowBilling",
      "Effect": "Allow",
      "Principal": {{"AWS": "arn:aws:iam::111122223333:role/billing"}},
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "*"
    }}
  ]
}}
"#
    )
}

fn tagged_request(team: &str) -> String {
    serde_json::json!({
        "principal": "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
        "action": "vpc-lattice-svcs:Invoke",
        "resource": format!("{SVC}/orders"),
        "context": {"aws:PrincipalTag/team": team},
    })
    .to_string()
}

#[test]
fn explain_names_the_statement_and_the_element_that_denied() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "svc.json", &team_policy());
    let req = write(&dir, "req.json", &tagged_request("ops"));
    let out = trellis(
        &[
            "policy",
            "explain",
            "--service-policy",
            s(&policy),
            "--request",
            s(&req),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let p = s(&policy);
    let want = format!(
        "service layer: ImplicitDeny (no Allow statement matches)
  {p}:4:5: statement 0 `AllowPayments` (Allow) does not match
    matched: principal, action, resource
    failed: {p}:10:38: condition StringEquals aws:PrincipalTag/team [\"payments\"]: the request has [\"ops\"]
  {p}:12:5: statement 1 `AllowBilling` (Allow) does not match
    failed: {p}:15:7: Principal {{\"AWS\": \"arn:aws:iam::111122223333:role/billing\"}}: the caller is arn:aws:sts::111122223333:assumed-role/checkout/task-1
decision: Deny (ImplicitDeny, layer service)
"
    );
    assert_eq!(stdout(&out), want);
}

#[test]
fn explain_json_reads_standard_input_and_agrees_with_eval() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "svc.json", &team_policy());
    let input = tagged_request("payments");
    let out = trellis(
        &[
            "policy",
            "explain",
            "--policy",
            s(&policy),
            "--request",
            "-",
            "--format",
            "json",
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(report["decision"], "Allow");
    assert_eq!(report["reason"], "Allowed");
    let statements = &report["layers"][0]["policies"][0]["statements"];
    assert_eq!(statements[0]["match"], true);
    assert_eq!(
        statements[0]["matched"],
        serde_json::json!(["principal", "action", "resource", "condition"])
    );
    assert_eq!(statements[0]["failed"], Value::Null);
    assert_eq!(
        statements[1]["failed"],
        serde_json::json!({"element": "principal", "name": "Principal",
            "value": "{\"AWS\": \"arn:aws:iam::111122223333:role/billing\"}",
            "line": 15, "column": 7,
            "request": "arn:aws:sts::111122223333:assumed-role/checkout/task-1"})
    );
    let eval = trellis(&["policy", "eval", "--policy", s(&policy)], &input);
    let decided: Value = serde_json::from_str(stdout(&eval).trim()).expect("a decision line");
    assert_eq!(decided["decision"], report["decision"]);
    assert_eq!(decided["reason"], report["reason"]);
}

#[test]
fn explain_reports_an_absent_condition_key_and_a_bad_request_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "svc.json", &team_policy());
    let req = serde_json::json!({
        "principal": "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
        "action": "vpc-lattice-svcs:Invoke",
        "resource": format!("{SVC}/orders"),
    });
    let out = trellis(
        &[
            "policy",
            "explain",
            "--policy",
            s(&policy),
            "--request",
            "-",
        ],
        &req.to_string(),
    );
    assert!(
        stdout(&out).contains(
            "condition StringEquals aws:PrincipalTag/team [\"payments\"]: the request has no value"
        ),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).ends_with("decision: Deny (ImplicitDeny)\n"));
    let bad = write(&dir, "bad.json", r#"{"principal": "anonymous"}"#);
    let out = trellis(
        &[
            "policy",
            "explain",
            "--policy",
            s(&policy),
            "--request",
            s(&bad),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!("{}: error: ", s(&bad))),
        "{}",
        stderr(&out)
    );
}

/// A policy started from documentation and another service's: each statement can never apply
/// to `SVC`'s requests.
fn copied_policy() -> String {
    r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "FromTheDocs",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "arn:aws:vpc-lattice:region:account-id:service/service-id/admin/*"
    },
    {
      "Sid": "FromStaging",
      "Effect": "Allow",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "arn:aws:vpc-lattice:us-west-2:444455556666:service/svc-0123456789abcdef0/*"
    },
    {
      "Sid": "OrgOnly",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "*",
      "Condition": {
        "StringNotEquals": {"aws:PrincipalOrgID": "111122223333"},
        "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::account-id:role/*"}
      }
    }
  ]
}
"#
    .to_owned()
}

#[test]
fn check_with_service_arn_warns_about_statements_that_can_never_apply_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "copied.json", &copied_policy());
    let name = s(&policy);
    let out = trellis(&["policy", "check", "--service-arn", SVC, name], "");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "checked 1 file: 0 errors, 4 warnings\n",
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    let expected = [
        (
            "9:19: warning: `Resource` entry `arn:aws:vpc-lattice:region:account-id:service/service-id/admin/*` never matches",
            "account `account-id` must be the service owner's 12-digit account id",
        ),
        (
            "16:19: warning: no `Resource` entry matches this service, so the statement never applies to a request of",
            "its account is `444455556666`, this service's is `111122223333`",
        ),
        (
            "25:51: warning: `aws:PrincipalOrgID` value `111122223333` is no organization id",
            "so `StringNotEquals` excludes no request with it: that is an account id, not an organization: compare it with `aws:PrincipalAccount`",
        ),
        (
            "26:44: warning: `aws:PrincipalArn` value `arn:aws:iam::account-id:role/*` is no caller's ARN",
            "account `account-id` must be the caller's 12-digit account id",
        ),
    ];
    for (line, (head, advice)) in lines.iter().zip(expected) {
        assert!(line.starts_with(&format!("{name}:{head}")), "{line}");
        assert!(line.contains(advice), "{line}");
    }
    // Without the service only the placeholder, which matches no service at all, is found.
    let plain = trellis(&["policy", "check", name], "");
    assert_eq!(stdout(&plain), "checked 1 file: 0 errors, 1 warning\n");
    // The same in JSON.
    let json = trellis(
        &[
            "policy",
            "check",
            "--format",
            "json",
            "--service-arn",
            SVC,
            name,
        ],
        "",
    );
    let report: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["warnings"], 4);
    let d = &report["files"][0]["diagnostics"][1];
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(16), Some(19))
    );
    assert_eq!(d["severity"], "warning");
}

#[test]
fn check_with_service_arn_accepts_the_policy_of_that_service() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "ok.json", &allow_checkout_policy());
    let out = trellis(&["policy", "check", "--service-arn", SVC, s(&policy)], "");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "checked 1 file: 0 errors, 0 warnings\n");
}

#[test]
fn check_with_a_malformed_service_arn_names_the_flag_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "ok.json", &allow_checkout_policy());
    let placeholder = "arn:aws:vpc-lattice:region:account-id:service/service-id";
    let out = trellis(
        &["policy", "check", "--service-arn", placeholder, s(&policy)],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("--service-arn: `{placeholder}` must look like arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID")),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
}
