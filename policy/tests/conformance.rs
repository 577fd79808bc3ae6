//! The policy conformance corpus runner.
//!
//! Every file in `tests/cases/*.json` is a JSON array of cases. Each case has a `name` (unique
//! in its file) and a `rule`: the documented rule it checks, citing `iam.md`/`lattice.md`/
//! CONTRACT and the AWS page behind it. Expected answers come from those documents, never from
//! running an implementation. A case is one of three shapes:
//!
//! * **Single policy** — `policy`: one policy document, evaluated as `policy eval --policy`
//!   (`decide_single`; the kind is inferred, or given by `"kind": "auth" | "identity"`).
//! * **Layered** — `layers`: `{"network": L, "service": L, "identity": [policy, ...]}`, where an
//!   `L` is a policy document (auth type `AWS_IAM` with that policy), the string `"AWS_IAM"`
//!   (auth type `AWS_IAM` with no policy: denies), or `"NONE"` / absent (the level is skipped).
//!   `"network_auth": "NONE"` / `"service_auth": "NONE"` next to a policy attach it inactive.
//!   `identity` absent: identity policies are not enforced; `[]`: enforced but there are none.
//!   The identity layer never applies to `"principal": "anonymous"` (CONTRACT §5).
//! * **Validation** — `policy_text`: the policy as text (so duplicate keys and positions are
//!   exact), optional `kind`, and `diagnostics`: a list of `{"severity": "error"|"warning",
//!   "line": N, "column": N or [N, ...] (optional; any listed column is accepted),
//!   "message": "substring" (optional)}`, each of which must be among `policy check`'s
//!   diagnostics. `"exact_errors": true` also requires that there be no other error (with an
//!   empty `diagnostics`, that the policy is accepted). Every validation case also checks the
//!   promises of policy-api.md: diagnostics in text order, `LINE:COL: severity: message`
//!   display, messages starting in lower case.
//!
//! Evaluation cases carry `requests`: CONTRACT §5 request objects (`principal`, `action`,
//! `resource`, `context`) with two shorthands — `action` defaults to `vpc-lattice-svcs:Invoke`
//! and `"path": "/x"` stands for `"resource": SERVICE_ARN + "/x"` — plus
//! `"expect": {"decision": "Allow"|"Deny", "reason": "Allowed"|"ExplicitDeny"|"ImplicitDeny",
//! "layer": "network"|"service"|"identity"|null}` and, optionally, `"statements"`: the
//! statements that must match — `[index, ...]` for a single policy, `[{"layer": "service",
//! "index": 0}, ...]` for layers (only for allowed requests, where every layer is evaluated). In context, a string is a
//! single-valued key and an array a multivalued one.
//!
//! Each request runs through the real engine and through the naive evaluator of
//! `tests/naive`; every failure of either is collected and all are reported at once.

// A test binary: an unreadable or malformed corpus aborts the run, which is what panics are for here.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a panic is a failed test"
)]

use crate::harness;
use crate::naive;

use harness::{Answer, EngineLayer, LayerMatches};
use naive::NaiveLayer;
use serde_json::Value;
use std::path::Path;
use trellis_policy::{check, PolicyKind, Severity};

fn load_cases() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable case file");
        let file = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let parsed: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: not valid JSON: {e}"));
        let Value::Array(list) = parsed else {
            panic!("{file}: the top level must be an array of cases");
        };
        for case in list {
            cases.push((file.clone(), case));
        }
    }
    cases
}

fn expected(r: &Value) -> Result<Answer, String> {
    let e = r.get("expect").ok_or("request without `expect`")?;
    let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Answer {
        decision: text("decision").ok_or("`expect` without `decision`")?,
        reason: text("reason").ok_or("`expect` without `reason`")?,
        layer: text("layer"),
    })
}

fn kind_of(case: &Value) -> Option<PolicyKind> {
    match case.get("kind").and_then(Value::as_str) {
        Some("auth") => Some(PolicyKind::Auth),
        Some("identity") => Some(PolicyKind::Identity),
        _ => None,
    }
}

/// Collects the failures of one evaluation case (single or layered).
fn run_eval(case: &Value, failures: &mut Vec<String>) -> Result<(), String> {
    let requests = case
        .get("requests")
        .and_then(Value::as_array)
        .ok_or("case without `requests`")?;
    for (i, r) in requests.iter().enumerate() {
        let want = expected(r)?;
        let req = harness::contract_request(r);
        let want_statements = r.get("statements").map(statement_list);
        let (engine, naive_got): (Got, Got) = if let Some(policy) = case.get("policy") {
            let single = |(a, s): (Answer, Vec<usize>)| {
                let s = s.into_iter().map(|i| ("policy".to_string(), i)).collect();
                (a, s)
            };
            let naive_got = harness::naive_single(policy, &req).map(single);
            let engine = harness::compile(policy, kind_of(case))
                .and_then(|compiled| harness::engine_single(&compiled, &req))
                .map(single);
            (engine, naive_got)
        } else {
            let layers = case
                .get("layers")
                .ok_or("case without `policy` or `layers`")?;
            (
                run_engine_layers(layers, &req),
                run_naive_layers(layers, &req),
            )
        };
        // Which statements match is fully determined in single-policy mode, and in layered
        // mode when every layer had to be evaluated (the request is allowed).
        let comparable = case.get("policy").is_some() || want.reason == "Allowed";
        if let (Ok((ea, e)), Ok((na, n))) = (&engine, &naive_got) {
            if comparable && ea == na && e != n {
                failures.push(format!(
                    "request #{i}: engine matched statements {e:?}, naive matched {n:?}"
                ));
            }
        }
        for (who, got) in [("engine", engine), ("naive", naive_got)] {
            match got {
                Err(e) => failures.push(format!("{who} request #{i}: {e}")),
                Ok((answer, stmts)) => {
                    if answer != want {
                        failures.push(format!("{who} request #{i}: expected {want}, got {answer}"));
                    }
                    if let Some(w) = &want_statements {
                        if w != &stmts {
                            failures.push(format!(
                                "{who} request #{i}: expected matching statements {w:?}, got {stmts:?}"
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// `"statements"`: indexes (single policy) or `{"layer", "index"}` objects (layered), sorted.
fn statement_list(v: &Value) -> LayerMatches {
    let mut list: LayerMatches = v
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item {
                    Value::Number(n) => Some(("policy".to_string(), n.as_u64()? as usize)),
                    Value::Object(o) => Some((
                        o.get("layer")?.as_str()?.to_string(),
                        o.get("index")?.as_u64()? as usize,
                    )),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    list.sort();
    list
}

/// An answer and the matching statements as (layer, index); the layer is `policy` in
/// single-policy mode.
type Got = Result<(Answer, LayerMatches), String>;

fn layer_auth_off(layers: &Value, name: &str) -> bool {
    layers.get(format!("{name}_auth")).and_then(Value::as_str) == Some("NONE")
}

fn run_engine_layers(layers: &Value, req: &Value) -> Got {
    let auth = |name: &str| -> Result<EngineLayer, String> {
        if layer_auth_off(layers, name) {
            return Ok(EngineLayer::Off);
        }
        match layers.get(name) {
            None | Some(Value::Null) => Ok(EngineLayer::Off),
            Some(Value::String(s)) if s == "NONE" => Ok(EngineLayer::Off),
            Some(Value::String(s)) if s == "AWS_IAM" => Ok(EngineLayer::Policies(Vec::new())),
            Some(p) => Ok(EngineLayer::Policies(vec![harness::compile(
                p,
                Some(PolicyKind::Auth),
            )?])),
        }
    };
    let identity = match layers.get("identity") {
        None | Some(Value::Null) => EngineLayer::Off,
        Some(Value::Array(ps)) => EngineLayer::Policies(
            ps.iter()
                .map(|p| harness::compile(p, Some(PolicyKind::Identity)))
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => return Err("`identity` must be a list of policies".into()),
    };
    harness::engine_layers(&auth("network")?, &auth("service")?, &identity, req)
}

fn run_naive_layers(layers: &Value, req: &Value) -> Got {
    let auth = |name: &str| -> NaiveLayer<'_> {
        if layer_auth_off(layers, name) {
            return NaiveLayer::Off;
        }
        match layers.get(name) {
            None | Some(Value::Null) => NaiveLayer::Off,
            Some(Value::String(s)) if s == "NONE" => NaiveLayer::Off,
            Some(Value::String(_)) => NaiveLayer::Policies(&[]),
            Some(p) => NaiveLayer::Policies(std::slice::from_ref(p)),
        }
    };
    let identity = match layers.get("identity") {
        Some(Value::Array(ps)) => NaiveLayer::Policies(ps),
        _ => NaiveLayer::Off,
    };
    harness::naive_layers(auth("network"), auth("service"), identity, req)
}

/// Collects the failures of one validation case.
fn run_validation(case: &Value, text: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let checked = check(text, kind_of(case));
    let got: Vec<String> = checked.diagnostics.iter().map(|d| d.to_string()).collect();
    let wanted = case
        .get("diagnostics")
        .and_then(Value::as_array)
        .ok_or("validation case without `diagnostics`")?;
    let mut expected_errors = 0;
    for w in wanted {
        let severity = w
            .get("severity")
            .and_then(Value::as_str)
            .ok_or("no severity")?;
        let line = w.get("line").and_then(Value::as_u64).ok_or("no line")?;
        let columns: Option<Vec<u64>> = match w.get("column") {
            None => None,
            Some(Value::Array(cs)) => Some(cs.iter().filter_map(Value::as_u64).collect()),
            Some(c) => Some(c.as_u64().into_iter().collect()),
        };
        let message = w.get("message").and_then(Value::as_str);
        if severity == "error" {
            expected_errors += 1;
        }
        let found = checked.diagnostics.iter().any(|d| {
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            sev == severity
                && u64::from(d.line) == line
                && columns
                    .as_ref()
                    .is_none_or(|cs| cs.contains(&u64::from(d.column)))
                && message.is_none_or(|m| d.message.to_lowercase().contains(&m.to_lowercase()))
        });
        if !found {
            failures.push(format!(
                "engine: expected {severity} at line {line}{}{}, got {got:?}",
                columns
                    .map(|c| format!(" column {c:?}"))
                    .unwrap_or_default(),
                message
                    .map(|m| format!(" containing `{m}`"))
                    .unwrap_or_default(),
            ));
        }
    }
    let errors = checked
        .diagnostics
        .iter()
        .filter(|d| matches!(d.severity, Severity::Error))
        .count();
    if case.get("exact_errors").and_then(Value::as_bool) == Some(true) && errors != expected_errors
    {
        failures.push(format!(
            "engine: expected exactly {expected_errors} error(s), got {errors}: {got:?}"
        ));
    }
    if checked.has_errors() != (errors > 0) || checked.compile().is_some() == checked.has_errors() {
        failures.push("engine: has_errors()/compile() disagree with the diagnostics".into());
    }
    diagnostics_follow_the_api(&checked.diagnostics, failures);
    Ok(())
}

/// policy-api.md: diagnostics come all at once in text order; each displays as
/// `LINE:COL: error|warning: message`, and its message starts in lower case.
fn diagnostics_follow_the_api(diags: &[trellis_policy::Diagnostic], failures: &mut Vec<String>) {
    let positions: Vec<(u32, u32)> = diags.iter().map(|d| (d.line, d.column)).collect();
    if positions.windows(2).any(|w| w[0] > w[1]) {
        failures.push(format!(
            "engine: diagnostics are not in text order: {positions:?}"
        ));
    }
    for d in diags {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let want = format!("{}:{}: {severity}: {}", d.line, d.column, d.message);
        if d.to_string() != want {
            failures.push(format!("engine: displays `{d}`, expected `{want}`"));
        }
        if d.message.chars().next().is_some_and(char::is_uppercase) {
            failures.push(format!(
                "engine: message `{}` starts in upper case",
                d.message
            ));
        }
    }
}

#[test]
fn corpus() {
    let cases = load_cases();
    let mut all_failures = Vec::new();
    let mut names = std::collections::HashSet::new();
    let mut requests = 0;
    for (file, case) in &cases {
        let name = case
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>");
        let rule = case.get("rule").and_then(Value::as_str).unwrap_or("");
        let mut failures = Vec::new();
        if rule.is_empty() {
            failures.push("case without `rule`".to_string());
        }
        if !names.insert(format!("{file}/{name}")) {
            failures.push("duplicate case name".to_string());
        }
        let outcome = match case.get("policy_text").and_then(Value::as_str) {
            Some(text) => run_validation(case, text, &mut failures),
            None => {
                requests += case
                    .get("requests")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                run_eval(case, &mut failures)
            }
        };
        if let Err(e) = outcome {
            failures.push(format!("malformed case: {e}"));
        }
        for f in failures {
            all_failures.push(format!("{file} :: {name}\n    rule: {rule}\n    {f}"));
        }
    }
    assert!(
        cases.len() >= 150,
        "the corpus has only {} cases",
        cases.len()
    );
    assert!(
        all_failures.is_empty(),
        "{} failure(s) in {} cases ({} requests):\n\n{}\n",
        all_failures.len(),
        cases.len(),
        requests,
        all_failures.join("\n\n")
    );
}
