//! `trellis policy eval`: decide CONTRACT §5 request contexts against one policy or the Lattice
//! layers, and `--check` runs the `expect`ations users keep next to their policies.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use trellis_policy::eval_request::EvalRequest;
use trellis_policy::{
    decide, decide_single, json, CompiledPolicy, Decision, Effect, Layer, LayerPolicy, Layers,
    Matched, PolicyKind, Principal, Reason,
};

use super::output::text_line;
use super::{EXIT_INVALID, EXIT_OK};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("policies").required(true).multiple(true)))]
pub(crate) struct EvalArgs {
    /// One policy that alone decides (any matching statement counts).
    #[arg(long, value_name = "FILE", group = "policies",
          conflicts_with_all = ["service_policy", "network_policy", "identity_policy"])]
    policy: Option<PathBuf>,
    /// The service's auth policy (layer `service`, auth type AWS_IAM).
    #[arg(long, value_name = "FILE", group = "policies")]
    service_policy: Option<PathBuf>,
    /// The service network's auth policy (layer `network`, auth type AWS_IAM).
    #[arg(long, value_name = "FILE", group = "policies")]
    network_policy: Option<PathBuf>,
    /// An identity-based policy of the caller (layer `identity`; repeat for several).
    #[arg(long, value_name = "FILE", group = "policies")]
    identity_policy: Vec<PathBuf>,
    /// Read requests from this file (one JSON object, a JSON array of objects, or one object
    /// per line) instead of standard input (one object per line).
    #[arg(long, value_name = "FILE")]
    request: Option<PathBuf>,
    /// Compare each decision with the request's `expect` and print PASS/FAIL lines and a summary.
    #[arg(long)]
    check: bool,
}

/// The policies of one run, compiled once.
enum Policies {
    Single(CompiledPolicy),
    Layered {
        network: Option<CompiledPolicy>,
        service: Option<CompiledPolicy>,
        identity: Option<Vec<CompiledPolicy>>,
    },
}

/// A layer given on the command line is `AWS_IAM` with that policy; one not given is skipped.
fn layer(policy: &Option<CompiledPolicy>) -> LayerPolicy<'_> {
    match policy {
        Some(p) => LayerPolicy::Policies(std::slice::from_ref(p)),
        None => LayerPolicy::Off,
    }
}

impl Policies {
    fn decide(&self, request: &EvalRequest, matches: &mut Vec<Matched>) -> Decision {
        let req = request.request();
        match self {
            Policies::Single(policy) => decide_single(policy, &req, &request.context, matches),
            Policies::Layered {
                network,
                service,
                identity,
            } => {
                let identity = match (identity, &req.principal) {
                    (Some(policies), Principal::Caller { .. }) => LayerPolicy::Policies(policies),
                    _ => LayerPolicy::Off,
                };
                let layers = Layers {
                    network: layer(network),
                    service: layer(service),
                    identity,
                };
                decide(&layers, &req, &request.context, matches)
            }
        }
    }
}

pub(crate) fn run(
    args: &EvalArgs,
    stdin: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let policies = match load_policies(args, err) {
        Some(policies) => policies,
        None => return EXIT_INVALID,
    };
    let mut session = Session {
        policies: &policies,
        check: args.check,
        matches: Vec::new(),
        passed: 0,
        failed: 0,
        bad_lines: 0,
    };
    match &args.request {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => {
                for (label, item) in request_items(&text) {
                    session.handle(&label, item, out);
                }
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "{}: error: cannot read the request file: {e}; check the path",
                    path.display()
                );
                return EXIT_INVALID;
            }
        },
        None => {
            let mut line = String::new();
            let mut number = 0usize;
            loop {
                line.clear();
                match stdin.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        let _ = writeln!(err, "error: cannot read standard input: {e}");
                        return EXIT_INVALID;
                    }
                }
                number += 1;
                if line.trim().is_empty() {
                    continue;
                }
                let item = json::parse(&line)
                    .map_err(|d| format!("invalid JSON at column {}: {}", d.column, d.message));
                session.handle(&format!("line {number}"), item, out);
                let _ = out.flush();
            }
        }
    }
    session.finish(out)
}

/// The requests of a `--request` file: one JSON object, an array of them, or JSON lines.
fn request_items(text: &str) -> Vec<(String, Result<json::Value, String>)> {
    if let Ok(value) = json::parse(text) {
        return match value.kind {
            json::Kind::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| (format!("request {}", i + 1), Ok(item)))
                .collect(),
            _ => vec![("request 1".to_owned(), Ok(value))],
        };
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let item = json::parse(line)
                .map_err(|d| format!("invalid JSON at column {}: {}", d.column, d.message));
            (format!("line {}", i + 1), item)
        })
        .collect()
}

struct Session<'p> {
    policies: &'p Policies,
    check: bool,
    matches: Vec<Matched>,
    passed: usize,
    failed: usize,
    bad_lines: usize,
}

impl Session<'_> {
    fn handle(&mut self, label: &str, item: Result<json::Value, String>, out: &mut dyn Write) {
        let request = item.and_then(|value| EvalRequest::from_value(&value));
        let request = match request {
            Ok(request) => request,
            Err(message) => {
                self.bad_lines += 1;
                if self.check {
                    self.failed += 1;
                    let _ = writeln!(out, "FAIL {label}: {message}");
                } else {
                    let line = serde_json::json!({ "error": format!("{label}: {message}") });
                    let _ = writeln!(out, "{line}");
                }
                return;
            }
        };
        let decision = self.policies.decide(&request, &mut self.matches);
        if self.check {
            self.report_check(label, &request, &decision, out);
        } else {
            let single = matches!(self.policies, Policies::Single(_));
            let line = DecisionLine::new(&decision, &self.matches, single);
            let _ = serde_json::to_writer(&mut *out, &line);
            let _ = writeln!(out);
        }
    }

    fn report_check(
        &mut self,
        label: &str,
        request: &EvalRequest,
        decision: &Decision,
        out: &mut dyn Write,
    ) {
        let name = request.name.as_deref().unwrap_or(label);
        let got = effect_name(decision.effect);
        let single = matches!(self.policies, Policies::Single(_));
        let detail = format!(
            "{}, {}",
            reason_name(decision.reason),
            reported_layer(decision, single).unwrap_or("no layer")
        );
        match request.expect {
            Some(expected) if expected == decision.effect => {
                self.passed += 1;
                let _ = writeln!(out, "PASS {name}: expected {got}, got {got} ({detail})");
            }
            Some(expected) => {
                self.failed += 1;
                let _ = writeln!(
                    out,
                    "FAIL {name}: expected {}, got {got} ({detail})",
                    effect_name(expected)
                );
            }
            None => {
                self.failed += 1;
                let _ = writeln!(
                    out,
                    "FAIL {name}: no `expect` in the request; add \"expect\": \"Allow\" or \"Deny\" (got {got}, {detail})"
                );
            }
        }
    }

    fn finish(self, out: &mut dyn Write) -> i32 {
        if self.check {
            let _ = writeln!(out, "{} passed, {} failed", self.passed, self.failed);
            if self.failed > 0 {
                return EXIT_INVALID;
            }
        }
        if self.bad_lines > 0 {
            EXIT_INVALID
        } else {
            EXIT_OK
        }
    }
}

fn load_policies(args: &EvalArgs, err: &mut dyn Write) -> Option<Policies> {
    let mut failed = false;
    let mut load = |path: &Path, kind: Option<PolicyKind>| -> Option<CompiledPolicy> {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                let _ = writeln!(
                    err,
                    "{name}: error: cannot read the policy file: {e}; check the path"
                );
                failed = true;
                return None;
            }
        };
        let checked = trellis_policy::check(&text, kind);
        for diagnostic in &checked.diagnostics {
            let _ = writeln!(err, "{}", text_line(&name, diagnostic));
        }
        let compiled = checked.compile();
        if compiled.is_none() {
            failed = true;
        }
        compiled
    };
    let policies = match &args.policy {
        Some(path) => load(path, None).map(Policies::Single),
        None => {
            let network = args
                .network_policy
                .as_deref()
                .map(|p| load(p, Some(PolicyKind::Auth)));
            let service = args
                .service_policy
                .as_deref()
                .map(|p| load(p, Some(PolicyKind::Auth)));
            let identity: Vec<Option<CompiledPolicy>> = args
                .identity_policy
                .iter()
                .map(|p| load(p, Some(PolicyKind::Identity)))
                .collect();
            Some(Policies::Layered {
                network: network.flatten(),
                service: service.flatten(),
                identity: if args.identity_policy.is_empty() {
                    None
                } else {
                    Some(identity.into_iter().flatten().collect())
                },
            })
        }
    };
    if failed {
        None
    } else {
        policies
    }
}

#[derive(Debug, Serialize)]
struct DecisionLine<'a> {
    decision: &'static str,
    reason: &'static str,
    layer: Option<&'static str>,
    statements: Vec<StatementLine<'a>>,
}

#[derive(Debug, Serialize)]
struct StatementLine<'a> {
    layer: &'static str,
    index: u32,
    sid: Option<&'a str>,
    effect: &'static str,
}

impl<'a> DecisionLine<'a> {
    fn new(decision: &Decision, matches: &'a [Matched], single: bool) -> Self {
        DecisionLine {
            decision: effect_name(decision.effect),
            reason: reason_name(decision.reason),
            layer: reported_layer(decision, single),
            statements: matches
                .iter()
                .map(|m| StatementLine {
                    layer: layer_name(m.layer),
                    index: m.index,
                    sid: m.sid.as_deref(),
                    effect: effect_name(m.effect),
                })
                .collect(),
        }
    }
}

/// The layer a decision names: none in `--policy` mode, where one policy alone decides.
fn reported_layer(decision: &Decision, single: bool) -> Option<&'static str> {
    if single {
        None
    } else {
        decision.layer.map(layer_name)
    }
}

fn effect_name(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "Allow",
        Effect::Deny => "Deny",
    }
}

fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::Allowed => "Allowed",
        Reason::ExplicitDeny => "ExplicitDeny",
        Reason::ImplicitDeny => "ImplicitDeny",
    }
}

fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Network => "network",
        Layer::Service => "service",
        Layer::Identity => "identity",
        Layer::Policy => "policy",
    }
}
