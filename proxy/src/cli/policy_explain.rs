//! `trellis policy explain`: why one request context is decided as it is (CONTRACT §11). The
//! policies and the request are read as `policy eval` reads them; the explanation comes from
//! the engine's own matchers (`trellis_policy::explain`).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use trellis_policy::explain::{
    explain, explain_single, ElementKind, Explanation, Failure, StatementExplanation,
};
use trellis_policy::{json, Layer};

use super::output::{text_line, Format};
use super::policy_eval::{load_policies, load_principals, with_request, PolicyFlags, Selected};
use super::{EXIT_INVALID, EXIT_OK};

#[derive(Debug, clap::Args)]
pub(crate) struct ExplainArgs {
    #[command(flatten)]
    policies: PolicyFlags,
    /// The request context, one JSON object as `policy eval` reads it (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    request: PathBuf,
    /// Output format: text for people, one JSON document for tools.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub(crate) fn run(
    args: &ExplainArgs,
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
    let stdin_name = Path::new("-");
    let name = if args.request == stdin_name {
        "standard input".to_owned()
    } else {
        args.request.display().to_string()
    };
    let text = if args.request == stdin_name {
        let mut text = String::new();
        stdin.read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(&args.request)
    };
    let text = match text {
        Ok(text) => text,
        Err(e) => {
            let _ = writeln!(
                err,
                "{name}: error: cannot read the request: {e}; check the path"
            );
            return EXIT_INVALID;
        }
    };
    let value = match json::parse(&text) {
        Ok(value) => value,
        Err(diagnostic) => {
            let _ = writeln!(err, "{}", text_line(&name, &diagnostic));
            return EXIT_INVALID;
        }
    };
    let files = Files::of(&args.policies);
    let explained =
        with_request(
            &value,
            principals.as_ref(),
            |_, req, context, caller| match policies.select(req, caller) {
                Selected::Single(policy) => explain_single(policy, req, context),
                Selected::Layers(layers) => explain(&layers, req, context),
            },
        );
    let explanation = match explained {
        Ok(explanation) => explanation,
        Err(message) => {
            let _ = writeln!(err, "{name}: error: {message}");
            return EXIT_INVALID;
        }
    };
    match args.format {
        Format::Text => write_text(&explanation, &files, out),
        Format::Json => {
            let _ = serde_json::to_writer_pretty(&mut *out, &Report::new(&explanation, &files));
            let _ = writeln!(out);
        }
    }
    EXIT_OK
}

/// The file each policy came from, to give positions as `FILE:LINE:COL`.
struct Files {
    policy: String,
    network: String,
    service: String,
    identity: Vec<String>,
}

impl Files {
    fn of(flags: &PolicyFlags) -> Files {
        let name = |p: &Option<PathBuf>| p.as_deref().map(|p| p.display().to_string());
        // With `--principals`, a caller's identity policies are in the principals file.
        let identity = match &flags.principals {
            Some(p) => vec![p.display().to_string()],
            None => flags
                .identity_policy
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        Files {
            policy: name(&flags.policy).unwrap_or_default(),
            network: name(&flags.network_policy).unwrap_or_default(),
            service: name(&flags.service_policy).unwrap_or_default(),
            identity,
        }
    }

    fn name(&self, layer: Layer, policy: usize) -> &str {
        match layer {
            Layer::Policy => &self.policy,
            Layer::Network => &self.network,
            Layer::Service => &self.service,
            Layer::Identity => self
                .identity
                .get(policy)
                .or(self.identity.first())
                .map_or("", String::as_str),
        }
    }
}

fn write_text(e: &Explanation, files: &Files, out: &mut dyn Write) {
    for layer in &e.layers {
        let _ = writeln!(
            out,
            "{} layer: {}",
            layer.layer.as_str(),
            layer_verdict(layer.reason)
        );
        if layer.policies.iter().all(|p| p.statements.is_empty()) {
            let _ = writeln!(out, "  no policy statement: nothing allows");
        }
        for (i, policy) in layer.policies.iter().enumerate() {
            let file = files.name(layer.layer, i);
            for s in &policy.statements {
                write_statement(s, file, out);
            }
        }
    }
    let d = &e.decision;
    let _ = match d.layer {
        Some(layer) if layer != Layer::Policy => writeln!(
            out,
            "decision: {} ({}, layer {})",
            d.effect.as_str(),
            d.reason.as_str(),
            layer.as_str()
        ),
        _ => writeln!(
            out,
            "decision: {} ({})",
            d.effect.as_str(),
            d.reason.as_str()
        ),
    };
}

fn layer_verdict(reason: trellis_policy::Reason) -> &'static str {
    match reason {
        trellis_policy::Reason::Allowed => "Allowed (an Allow statement matches, no Deny does)",
        trellis_policy::Reason::ExplicitDeny => "ExplicitDeny (a Deny statement matches)",
        trellis_policy::Reason::ImplicitDeny => "ImplicitDeny (no Allow statement matches)",
    }
}

fn write_statement(s: &StatementExplanation, file: &str, out: &mut dyn Write) {
    let sid = s
        .sid
        .as_deref()
        .map(|sid| format!(" `{sid}`"))
        .unwrap_or_default();
    let verdict = if s.is_match() {
        "matches"
    } else {
        "does not match"
    };
    let _ = writeln!(
        out,
        "  {file}:{}:{}: statement {}{sid} ({}) {verdict}",
        s.position.line,
        s.position.column,
        s.index,
        s.effect.as_str()
    );
    if !s.matched.is_empty() {
        let names: Vec<&str> = s.matched.iter().map(|k| k.as_str()).collect();
        let _ = writeln!(out, "    matched: {}", names.join(", "));
    }
    match &s.failed {
        None => {}
        Some(Failure::Element {
            kind,
            element,
            request,
        }) => {
            let what = match kind {
                ElementKind::Principal => "the caller is",
                ElementKind::Action => "the action is",
                _ => "the resource is",
            };
            let _ = writeln!(
                out,
                "    failed: {file}:{}:{}: {} {}: {what} {request}",
                element.position.line, element.position.column, element.name, element.value
            );
        }
        Some(Failure::Condition {
            operator,
            key,
            values,
            position,
            request,
            ..
        }) => {
            let got = match request {
                None => "the request has no value".to_owned(),
                Some(values) => format!("the request has {}", quoted_list(values)),
            };
            let _ = writeln!(
                out,
                "    failed: {file}:{}:{}: condition {operator} {key} {}: {got}",
                position.line,
                position.column,
                quoted_list(values)
            );
        }
    }
}

fn quoted_list<S: AsRef<str>>(values: &[S]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| serde_json::Value::from(v.as_ref()).to_string())
        .collect();
    format!("[{}]", items.join(", "))
}

/// `--format json`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    decision: &'static str,
    reason: &'static str,
    layer: Option<&'static str>,
    layers: Vec<LayerReport<'a>>,
}

#[derive(Debug, Serialize)]
struct LayerReport<'a> {
    layer: &'static str,
    reason: &'static str,
    policies: Vec<PolicyReport<'a>>,
}

#[derive(Debug, Serialize)]
struct PolicyReport<'a> {
    file: &'a str,
    statements: Vec<StatementReport<'a>>,
}

#[derive(Debug, Serialize)]
struct StatementReport<'a> {
    index: u32,
    sid: Option<&'a str>,
    effect: &'static str,
    line: u32,
    column: u32,
    #[serde(rename = "match")]
    is_match: bool,
    matched: Vec<&'static str>,
    failed: Option<FailureReport<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum FailureReport<'a> {
    Element {
        element: &'static str,
        name: &'a str,
        value: &'a str,
        line: u32,
        column: u32,
        request: &'a str,
    },
    Condition {
        element: &'static str,
        operator: &'a str,
        key: &'a str,
        values: Vec<&'a str>,
        line: u32,
        column: u32,
        request: Option<&'a [String]>,
    },
}

impl<'a> Report<'a> {
    fn new(e: &'a Explanation, files: &'a Files) -> Report<'a> {
        let d = &e.decision;
        Report {
            decision: d.effect.as_str(),
            reason: d.reason.as_str(),
            layer: d.layer.filter(|l| *l != Layer::Policy).map(Layer::as_str),
            layers: e
                .layers
                .iter()
                .map(|l| LayerReport {
                    layer: l.layer.as_str(),
                    reason: l.reason.as_str(),
                    policies: l
                        .policies
                        .iter()
                        .enumerate()
                        .map(|(i, p)| PolicyReport {
                            file: files.name(l.layer, i),
                            statements: p.statements.iter().map(StatementReport::new).collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl<'a> StatementReport<'a> {
    fn new(s: &'a StatementExplanation) -> StatementReport<'a> {
        StatementReport {
            index: s.index,
            sid: s.sid.as_deref(),
            effect: s.effect.as_str(),
            line: s.position.line,
            column: s.position.column,
            is_match: s.is_match(),
            matched: s.matched.iter().map(|k| k.as_str()).collect(),
            failed: s.failed.as_ref().map(|f| match f {
                Failure::Element {
                    kind,
                    element,
                    request,
                } => FailureReport::Element {
                    element: kind.as_str(),
                    name: &element.name,
                    value: &element.value,
                    line: element.position.line,
                    column: element.position.column,
                    request,
                },
                Failure::Condition {
                    operator,
                    key,
                    values,
                    position,
                    request,
                    ..
                } => FailureReport::Condition {
                    element: ElementKind::Condition.as_str(),
                    operator,
                    key,
                    values: values.iter().map(|v| &**v).collect(),
                    line: position.line,
                    column: position.column,
                    request: request.as_deref(),
                },
            }),
        }
    }
}
