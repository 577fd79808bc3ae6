//! Runs CONTRACT §5 request objects through the real engine and through the naive evaluator,
//! and reports both in the same vocabulary (`decision`, `reason`, `layer`, matched statements).

#![allow(
    dead_code,
    reason = "each test binary uses only part of these shared helpers"
)]

use crate::naive::{self, CtxVal, NaiveLayer, NaiveRequest};
use serde_json::{json, Value};
use trellis_policy::eval_request::EvalRequest;
use trellis_policy::{
    check, decide, decide_single, CompiledPolicy, Decision, Effect, Layer, LayerPolicy, Layers,
    Matched, PolicyKind, Reason,
};

/// The service every corpus request talks to: a `path` in a request is appended to it.
pub const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

/// A decision as CONTRACT §5 prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub decision: String,
    pub reason: String,
    pub layer: Option<String>,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layer = self.layer.as_deref().unwrap_or("null");
        write!(f, "{}/{}/{}", self.decision, self.reason, layer)
    }
}

fn layer_name(layer: Layer) -> Option<String> {
    match layer {
        Layer::Network => Some("network".into()),
        Layer::Service => Some("service".into()),
        Layer::Identity => Some("identity".into()),
        // `policy eval --policy` prints `null` for the layer (CONTRACT §5).
        Layer::Policy => None,
    }
}

pub fn engine_answer(d: &Decision) -> Answer {
    Answer {
        decision: match d.effect {
            Effect::Allow => "Allow".into(),
            Effect::Deny => "Deny".into(),
        },
        reason: match d.reason {
            Reason::Allowed => "Allowed".into(),
            Reason::ExplicitDeny => "ExplicitDeny".into(),
            Reason::ImplicitDeny => "ImplicitDeny".into(),
        },
        layer: d.layer.and_then(layer_name),
    }
}

pub fn naive_answer(o: &naive::Outcome) -> Answer {
    Answer {
        decision: format!("{:?}", o.decision),
        reason: format!("{:?}", o.reason),
        layer: o.layer.map(str::to_string),
    }
}

/// Statement indexes of the engine's matches (single-policy mode), sorted.
pub fn matched_indexes(matches: &[Matched]) -> Vec<usize> {
    let mut v: Vec<usize> = matches.iter().map(|m| m.index as usize).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Parses, validates and compiles a policy; any error diagnostic is a failure.
pub fn compile(policy: &Value, kind: Option<PolicyKind>) -> Result<CompiledPolicy, String> {
    let text = serde_json::to_string_pretty(policy).map_err(|e| e.to_string())?;
    compile_text(&text, kind)
}

pub fn compile_text(text: &str, kind: Option<PolicyKind>) -> Result<CompiledPolicy, String> {
    let checked = check(text, kind);
    checked.compile().ok_or_else(|| {
        let diags: Vec<String> = checked.diagnostics.iter().map(|d| d.to_string()).collect();
        format!("policy rejected: {}", diags.join("; "))
    })
}

/// Fills the corpus shorthands in: `action` defaults to `vpc-lattice-svcs:Invoke`; a `path`
/// becomes `resource` = service ARN + path. Returns the CONTRACT §5 request object.
pub fn contract_request(r: &Value) -> Value {
    let action = r
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("vpc-lattice-svcs:Invoke");
    let resource = match (r.get("resource"), r.get("path")) {
        (Some(Value::String(res)), _) => res.clone(),
        (_, Some(Value::String(path))) => format!("{SERVICE_ARN}{path}"),
        _ => format!("{SERVICE_ARN}/"),
    };
    json!({
        "principal": r.get("principal").cloned().unwrap_or(json!("anonymous")),
        "action": action,
        "resource": resource,
        "context": r.get("context").cloned().unwrap_or(json!({})),
    })
}

/// The naive evaluator's view of a CONTRACT §5 request object.
pub fn naive_request(r: &Value) -> Result<NaiveRequest, String> {
    let text = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("request without `{k}`"))
    };
    let mut context = Vec::new();
    if let Some(Value::Object(map)) = r.get("context") {
        for (k, v) in map {
            let scalar = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let val = match v {
                Value::Array(items) => CtxVal::Many(items.iter().map(scalar).collect()),
                other => CtxVal::One(scalar(other)),
            };
            context.push((k.clone(), val));
        }
    }
    NaiveRequest::new(
        &text("principal")?,
        &text("action")?,
        &text("resource")?,
        context,
    )
}

fn engine_request(r: &Value) -> Result<EvalRequest, String> {
    EvalRequest::parse(&r.to_string()).map_err(|e| format!("engine rejected the request: {e}"))
}

/// `decide_single` on a CONTRACT §5 request object.
pub fn engine_single(policy: &CompiledPolicy, r: &Value) -> Result<(Answer, Vec<usize>), String> {
    let req = engine_request(r)?;
    let mut matches = Vec::new();
    let d = decide_single(policy, &req.request(), &req.context, &mut matches);
    Ok((engine_answer(&d), matched_indexes(&matches)))
}

/// One layer for the engine: off (auth type NONE, or not given) or AWS_IAM with its policies.
#[derive(Debug)]
pub enum EngineLayer {
    Off,
    Policies(Vec<CompiledPolicy>),
}

impl EngineLayer {
    fn as_layer(&self) -> LayerPolicy<'_> {
        match self {
            EngineLayer::Off => LayerPolicy::Off,
            EngineLayer::Policies(ps) => LayerPolicy::Policies(ps),
        }
    }
}

/// The matching statements of a layered decision as (layer, statement index), sorted.
pub type LayerMatches = Vec<(String, usize)>;

/// `decide` on a CONTRACT §5 request object. As `policy eval` and the proxy do, the identity
/// layer is off for an anonymous caller (CONTRACT §5: it applies to signed callers only).
pub fn engine_layers(
    network: &EngineLayer,
    service: &EngineLayer,
    identity: &EngineLayer,
    r: &Value,
) -> Result<(Answer, LayerMatches), String> {
    let req = engine_request(r)?;
    let anonymous = r.get("principal").and_then(Value::as_str) == Some("anonymous");
    let layers = Layers {
        network: network.as_layer(),
        service: service.as_layer(),
        identity: if anonymous {
            LayerPolicy::Off
        } else {
            identity.as_layer()
        },
    };
    let mut matches = Vec::new();
    let d = decide(&layers, &req.request(), &req.context, &mut matches);
    let mut found: LayerMatches = matches
        .iter()
        .map(|m| {
            let layer = layer_name(m.layer).unwrap_or_else(|| "policy".into());
            (layer, m.index as usize)
        })
        .collect();
    found.sort();
    Ok((engine_answer(&d), found))
}

/// The naive counterpart of [`engine_layers`]: the decision, and the matching statements of
/// every layer that applies.
pub fn naive_layers(
    network: NaiveLayer<'_>,
    service: NaiveLayer<'_>,
    identity: NaiveLayer<'_>,
    r: &Value,
) -> Result<(Answer, LayerMatches), String> {
    let req = naive_request(r)?;
    let answer = naive_answer(&naive::decide_layers(network, service, identity, &req));
    let identity = if req.caller.is_anonymous() {
        NaiveLayer::Off
    } else {
        identity
    };
    let mut found = LayerMatches::new();
    for (name, layer) in [
        ("network", network),
        ("service", service),
        ("identity", identity),
    ] {
        if let NaiveLayer::Policies(ps) = layer {
            for p in ps {
                for (i, _) in naive::matching(p, &req) {
                    found.push((name.to_string(), i));
                }
            }
        }
    }
    found.sort();
    Ok((answer, found))
}

/// The naive counterpart of [`engine_single`].
pub fn naive_single(policy: &Value, r: &Value) -> Result<(Answer, Vec<usize>), String> {
    let req = naive_request(r)?;
    let answer = naive_answer(&naive::decide_single(policy, &req));
    let idx = naive::matching(policy, &req)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    Ok((answer, idx))
}

/// The statements an explanation reports as matching, as (layer, statement index), sorted.
fn explained_matches(e: &trellis_policy::explain::Explanation) -> LayerMatches {
    let mut found: LayerMatches = e
        .layers
        .iter()
        .flat_map(|l| {
            l.policies.iter().flat_map(move |p| {
                p.statements.iter().filter(|s| s.is_match()).map(move |s| {
                    let layer = layer_name(l.layer).unwrap_or_else(|| "policy".into());
                    (layer, s.index as usize)
                })
            })
        })
        .collect();
    found.sort();
    found
}

/// [`engine_layers`] through `explain`: the decision and the matching statements it reports.
pub fn explained_layers(
    network: &EngineLayer,
    service: &EngineLayer,
    identity: &EngineLayer,
    r: &Value,
) -> Result<(Answer, LayerMatches), String> {
    let req = engine_request(r)?;
    let layers = Layers {
        network: network.as_layer(),
        service: service.as_layer(),
        identity: identity.as_layer(),
    };
    let e = trellis_policy::explain::explain(&layers, &req.request(), &req.context);
    Ok((engine_answer(&e.decision), explained_matches(&e)))
}

/// [`engine_single`] through `explain_single`.
pub fn explained_single(
    policy: &CompiledPolicy,
    r: &Value,
) -> Result<(Answer, Vec<usize>), String> {
    let req = engine_request(r)?;
    let e = trellis_policy::explain::explain_single(policy, &req.request(), &req.context);
    let found = explained_matches(&e).into_iter().map(|(_, i)| i).collect();
    Ok((engine_answer(&e.decision), found))
}
