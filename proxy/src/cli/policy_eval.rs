//! `trellis policy eval`: decide CONTRACT §5 request contexts against one policy or the Lattice
//! layers, and `--check` runs the `expect`ations users keep next to their policies.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use trellis_policy::eval_request::EvalRequest;
use trellis_policy::{
    decide, decide_single, json, CompiledPolicy, Context, Decision, Effect, Layer, LayerPolicy,
    Layers, Matched, PolicyKind, Principal, Reason, Request,
};

use super::eval_caller::{self, CallerContext, KnownCaller};
use super::json_stream::{Chunk, Item, Splitter};
use super::output::text_line;
use super::{EXIT_INVALID, EXIT_OK};
use crate::principals::PrincipalStore;

/// The policy flags of `policy eval`, shared by `policy explain`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("policies").required(true).multiple(true)))]
pub(crate) struct PolicyFlags {
    /// One policy that alone decides (any matching statement counts).
    #[arg(long, value_name = "FILE", group = "policies",
          conflicts_with_all = ["service_policy", "network_policy", "identity_policy"])]
    pub(crate) policy: Option<PathBuf>,
    /// The service's auth policy (layer `service`, auth type AWS_IAM).
    #[arg(long, value_name = "FILE", group = "policies")]
    pub(crate) service_policy: Option<PathBuf>,
    /// The service network's auth policy (layer `network`, auth type AWS_IAM).
    #[arg(long, value_name = "FILE", group = "policies")]
    pub(crate) network_policy: Option<PathBuf>,
    /// An identity-based policy of the caller (layer `identity`; repeat for several).
    #[arg(long, value_name = "FILE", group = "policies")]
    pub(crate) identity_policy: Vec<PathBuf>,
    /// The principals file of `trellis run`: a signed caller's identity policies (layer
    /// `identity`), tags, organization and session come from it, as the proxy would take them.
    #[arg(
        long,
        value_name = "FILE",
        group = "policies",
        conflicts_with = "identity_policy"
    )]
    pub(crate) principals: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct EvalArgs {
    #[command(flatten)]
    pub(crate) policies: PolicyFlags,
    /// Read requests from this file instead of standard input (`-`). Either holds a stream of
    /// JSON values: request objects (on one line or several) and arrays of them.
    #[arg(long, value_name = "FILE")]
    request: Option<PathBuf>,
    /// Compare each decision with the request's `expect` and print PASS/FAIL lines and a summary.
    #[arg(long)]
    check: bool,
}

/// The policies of one run, compiled once.
pub(crate) enum Policies {
    Single(CompiledPolicy),
    Layered {
        network: Option<CompiledPolicy>,
        service: Option<CompiledPolicy>,
        identity: Option<Vec<CompiledPolicy>>,
    },
}

/// What decides one request: one policy alone, or the Lattice layers.
pub(crate) enum Selected<'a> {
    Single(&'a CompiledPolicy),
    Layers(Layers<'a>),
}

/// The Lattice layers for one request. The identity layer applies to signed callers only;
/// with `--principals` a caller's policies are its own, as in `trellis run`.
fn layered<'a>(
    network: &'a Option<CompiledPolicy>,
    service: &'a Option<CompiledPolicy>,
    identity: &'a Option<Vec<CompiledPolicy>>,
    req: &Request<'_>,
    caller: Option<KnownCaller<'a>>,
) -> Layers<'a> {
    let identity = match (&req.principal, caller, identity) {
        (Principal::Anonymous, _, _) => LayerPolicy::Off,
        (_, Some(c), _) => LayerPolicy::Policies(&c.record.policies),
        (_, None, Some(policies)) => LayerPolicy::Policies(policies),
        (_, None, None) => LayerPolicy::Off,
    };
    Layers {
        network: layer(network),
        service: layer(service),
        identity,
    }
}

/// A layer given on the command line is `AWS_IAM` with that policy; one not given is skipped.
fn layer(policy: &Option<CompiledPolicy>) -> LayerPolicy<'_> {
    match policy {
        Some(p) => LayerPolicy::Policies(std::slice::from_ref(p)),
        None => LayerPolicy::Off,
    }
}

impl Policies {
    /// The one policy of `--policy`, or the layers for this request.
    pub(crate) fn select<'a>(
        &'a self,
        req: &Request<'_>,
        caller: Option<KnownCaller<'a>>,
    ) -> Selected<'a> {
        match self {
            Policies::Single(policy) => Selected::Single(policy),
            Policies::Layered {
                network,
                service,
                identity,
            } => Selected::Layers(layered(network, service, identity, req, caller)),
        }
    }

    /// Decides `req`; also returns the layers that took part, in evaluation order.
    fn decide(
        &self,
        req: &Request<'_>,
        context: &dyn Context,
        caller: Option<KnownCaller<'_>>,
        matches: &mut Vec<Matched>,
    ) -> (Decision, Vec<&'static str>) {
        match self {
            Policies::Single(policy) => (
                decide_single(policy, req, context, matches),
                vec![layer_name(Layer::Policy)],
            ),
            Policies::Layered {
                network,
                service,
                identity,
            } => {
                let layers = layered(network, service, identity, req, caller);
                let taking_part = [
                    (layers.network, Layer::Network),
                    (layers.service, Layer::Service),
                    (layers.identity, Layer::Identity),
                ]
                .into_iter()
                .filter(|(p, _)| !matches!(p, LayerPolicy::Off))
                .map(|(_, l)| layer_name(l))
                .collect();
                (decide(&layers, req, context, matches), taking_part)
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
    let Some(policies) = load_policies(&args.policies, err) else {
        return EXIT_INVALID;
    };
    let principals = match &args.policies.principals {
        Some(path) => match load_principals(path, err) {
            Some(store) => Some(store),
            None => return EXIT_INVALID,
        },
        None => None,
    };
    let from_file = args.request.as_deref().filter(|p| *p != Path::new("-"));
    let mut session = Session {
        policies: &policies,
        principals: principals.as_ref(),
        check: args.check,
        source: from_file.map_or_else(
            || "standard input".to_owned(),
            |p| format!("`{}`", p.display()),
        ),
        matches: Vec::new(),
        passed: 0,
        failed: 0,
        bad_lines: 0,
    };
    let mut splitter = Splitter::default();
    let mut chunks = Vec::new();
    match from_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => {
                splitter.push(&text, &mut chunks);
                splitter.finish(&mut chunks);
                session.handle_all(&mut chunks, out);
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
                splitter.push(&line, &mut chunks);
                session.handle_all(&mut chunks, out);
                let _ = out.flush();
            }
            splitter.finish(&mut chunks);
            session.handle_all(&mut chunks, out);
        }
    }
    session.finish(out, err)
}

struct Session<'p> {
    policies: &'p Policies,
    principals: Option<&'p PrincipalStore>,
    check: bool,
    /// Where the requests come from, for messages.
    source: String,
    matches: Vec<Matched>,
    passed: usize,
    failed: usize,
    bad_lines: usize,
}

impl Session<'_> {
    fn handle_all(&mut self, chunks: &mut Vec<Chunk>, out: &mut dyn Write) {
        for chunk in chunks.drain(..) {
            for item in chunk.items() {
                self.handle(item, out);
            }
        }
    }

    fn bad(&mut self, label: &str, message: &str, out: &mut dyn Write) {
        self.bad_lines += 1;
        if self.check {
            self.failed += 1;
            let _ = writeln!(out, "FAIL {label}: {message}");
        } else {
            let line = serde_json::json!({ "error": format!("{label}: {message}") });
            let _ = writeln!(out, "{line}");
        }
    }

    fn handle(&mut self, item: Item, out: &mut dyn Write) {
        let label = format!("line {}", item.line);
        let value = match item.value {
            Ok(value) => value,
            Err(message) => {
                let at = format!("line {}, column {}", item.line, item.column);
                return self.bad(&at, &message, out);
            }
        };
        let principals = self.principals;
        let policies = self.policies;
        let matches = &mut self.matches;
        let decided = with_request(&value, principals, |request, req, context, caller| {
            let (decision, layers) = policies.decide(req, context, caller, matches);
            (request.expect, request.name.clone(), decision, layers)
        });
        let (expect, name, decision, layers) = match decided {
            Ok(decided) => decided,
            Err(message) => return self.bad(&label, &message, out),
        };
        if self.check {
            self.report_check(&label, expect, name.as_deref(), &decision, out);
        } else {
            let single = matches!(self.policies, Policies::Single(_));
            let line = DecisionLine::new(&decision, &self.matches, single, layers);
            let _ = serde_json::to_writer(&mut *out, &line);
            let _ = writeln!(out);
        }
    }

    fn report_check(
        &mut self,
        label: &str,
        expect: Option<Effect>,
        name: Option<&str>,
        decision: &Decision,
        out: &mut dyn Write,
    ) {
        let name = name.unwrap_or(label);
        let got = effect_name(decision.effect);
        let single = matches!(self.policies, Policies::Single(_));
        let detail = format!(
            "{}, {}",
            reason_name(decision.reason),
            reported_layer(decision, single).unwrap_or("no layer")
        );
        match expect {
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

    fn finish(self, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        if self.check {
            let _ = writeln!(out, "{} passed, {} failed", self.passed, self.failed);
            if self.passed + self.failed == 0 {
                let _ = writeln!(
                    err,
                    "error: no test found in {}: `--check` needs requests, one JSON object each, such as {}",
                    self.source, EXAMPLE_TEST
                );
                return EXIT_INVALID;
            }
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

/// Reads a CONTRACT §5 request object and hands `f` the engine's request and context; with
/// `--principals` the caller's identity, tags, organization and session come from the file, as
/// `trellis run` takes them. `Err` says what is wrong with the request.
pub(crate) fn with_request<R>(
    value: &json::Value,
    principals: Option<&PrincipalStore>,
    f: impl FnOnce(&EvalRequest, &Request<'_>, &dyn Context, Option<KnownCaller<'_>>) -> R,
) -> Result<R, String> {
    let request = EvalRequest::from_value(value)?;
    let mut req = request.request();
    let caller = match (principals, &req.principal) {
        (Some(store), Principal::Caller { .. }) => {
            match eval_caller::find(store, &request.principal) {
                Some(caller) => Some(caller),
                None => {
                    return Err(format!(
                        "principal `{}` is not in the principals file: `trellis run` would refuse its requests (unknown access key); add it there, or evaluate without `--principals`",
                        request.principal
                    ));
                }
            }
        }
        _ => None,
    };
    let explicit: Vec<String> = value
        .get("context")
        .and_then(json::Value::as_object)
        .map(|members| members.iter().map(|m| m.key.to_ascii_lowercase()).collect())
        .unwrap_or_default();
    let with_caller;
    let context: &dyn Context = match caller {
        Some(caller) => {
            req.principal = caller.principal();
            with_caller = CallerContext {
                given: &request.context,
                explicit: &explicit,
                caller,
            };
            &with_caller
        }
        None => &request.context,
    };
    Ok(f(&request, &req, context, caller))
}

/// What a policy test looks like, for the message when there is none.
const EXAMPLE_TEST: &str = r#"{"name": "checkout reads orders", "principal": "arn:aws:sts::111122223333:assumed-role/checkout/task-1", "action": "vpc-lattice-svcs:Invoke", "resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/orders", "expect": "Allow"}"#;

pub(crate) fn load_principals(path: &Path, err: &mut dyn Write) -> Option<PrincipalStore> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            let _ = writeln!(
                err,
                "{name}: error: cannot read the principals file: {e}; check the path"
            );
            return None;
        }
    };
    // No secret is needed to decide, so none is read.
    match PrincipalStore::load_unresolved(path, &text, SystemTime::now()) {
        Ok((store, warnings)) => {
            for d in &warnings {
                let _ = writeln!(err, "{}", text_line(&name, d));
            }
            Some(store)
        }
        Err(diagnostics) => {
            for d in &diagnostics {
                let _ = writeln!(err, "{}", text_line(&name, d));
            }
            None
        }
    }
}

pub(crate) fn load_policies(args: &PolicyFlags, err: &mut dyn Write) -> Option<Policies> {
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
    /// The layers that took part (a layer not given, and the identity layer of an anonymous
    /// caller, are skipped), so a decision says what it was made of.
    layers: Vec<&'static str>,
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
    fn new(
        decision: &Decision,
        matches: &'a [Matched],
        single: bool,
        layers: Vec<&'static str>,
    ) -> Self {
        DecisionLine {
            decision: effect_name(decision.effect),
            reason: reason_name(decision.reason),
            layer: reported_layer(decision, single),
            layers,
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
