//! A deliberately naive reference evaluator for the IAM policy language (iam.md §2–§9).
//!
//! It works straight on `serde_json::Value` policies and a plain request, re-derives every rule
//! from the spec on every call (no compilation, no indexing, recursive-backtracking wildcards),
//! and shares no code with `trellis-policy`. It is slow on purpose: being obviously correct is
//! its only job, so the optimized engine can be checked against it.
//!
//! Only policies that pass validation are given to it; it does not validate.

#![allow(
    dead_code,
    reason = "each test binary uses only part of these shared helpers"
)]

mod condition;
mod glob;
mod principal;
mod values;

use serde_json::Value;
use std::collections::BTreeMap;

pub use principal::Caller;

/// One context value: a single-valued key or a multivalued key (a list, possibly of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtxVal {
    One(String),
    Many(Vec<String>),
}

/// A request as CONTRACT §5 describes it, with the principal-derived keys filled in.
#[derive(Debug, Clone)]
pub struct NaiveRequest {
    pub caller: Caller,
    pub action: String,
    pub resource: String,
    /// Lower-cased key name → value.
    pub context: BTreeMap<String, CtxVal>,
}

impl NaiveRequest {
    /// Builds a request from the `principal` text (`anonymous`, an account id or an ARN), the
    /// action, the resource and the context; derives `aws:PrincipalArn`, `aws:PrincipalAccount`
    /// and `aws:PrincipalType` unless the context already gives them.
    pub fn new(
        principal: &str,
        action: &str,
        resource: &str,
        context: Vec<(String, CtxVal)>,
    ) -> Result<NaiveRequest, String> {
        let caller = Caller::derive(principal)?;
        let mut map = BTreeMap::new();
        for (k, v) in context {
            map.insert(k.to_ascii_lowercase(), v);
        }
        let mut derived = vec![("aws:principaltype", caller.principal_type().to_string())];
        if let Caller::Signed {
            principal_arn,
            account,
            ..
        } = &caller
        {
            derived.push(("aws:principalarn", principal_arn.clone()));
            derived.push(("aws:principalaccount", account.clone()));
        }
        for (k, v) in derived {
            map.entry(k.to_string()).or_insert(CtxVal::One(v));
        }
        Ok(NaiveRequest {
            caller,
            action: action.to_string(),
            resource: resource.to_string(),
            context: map,
        })
    }

    /// The value of a context key, looked up case-insensitively.
    pub fn get(&self, key: &str) -> Option<&CtxVal> {
        self.context.get(&key.to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

/// A decision in the vocabulary of CONTRACT §5 (`layer` is `None` for `null`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Effect,
    pub reason: Reason,
    pub layer: Option<&'static str>,
}

/// The statements of a policy, whether `Statement` is one object or a list.
pub fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

/// Whether variables are substituted: only under Version 2012-10-17 (iam.md §1, §7).
fn variables_enabled(policy: &Value) -> bool {
    policy.get("Version").and_then(Value::as_str) == Some("2012-10-17")
}

/// A list element (`"x"` ≡ `["x"]`) as its string members.
fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
        other => scalar_text(other).into_iter().collect(),
    }
}

/// Strings as themselves, JSON numbers and booleans as their text (iam.md §1).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether one statement applies to the request (iam.md §9.1 step 1).
pub fn statement_matches(stmt: &Value, req: &NaiveRequest, vars: bool) -> bool {
    let principal_ok = if let Some(p) = stmt.get("Principal") {
        principal::matches(p, &req.caller)
    } else if let Some(p) = stmt.get("NotPrincipal") {
        !principal::spared(p, &req.caller)
    } else {
        true
    };
    let action_ok = if let Some(a) = stmt.get("Action") {
        string_list(a)
            .iter()
            .any(|p| glob::action_matches(p, &req.action))
    } else if let Some(a) = stmt.get("NotAction") {
        !string_list(a)
            .iter()
            .any(|p| glob::action_matches(p, &req.action))
    } else {
        false
    };
    let resource_hit = |entries: &Value| {
        string_list(entries).iter().any(|p| {
            glob::expand(p, req, vars, true)
                .is_some_and(|pattern| glob::matches(&pattern, &req.resource))
        })
    };
    let resource_ok = if let Some(r) = stmt.get("Resource") {
        resource_hit(r)
    } else if let Some(r) = stmt.get("NotResource") {
        !resource_hit(r)
    } else {
        true
    };
    let condition_ok = match stmt.get("Condition") {
        Some(Value::Object(ops)) => ops
            .iter()
            .all(|(op, keys)| condition::block_matches(op, keys, req, vars)),
        _ => true,
    };
    principal_ok && action_ok && resource_ok && condition_ok
}

/// Indexes of the matching statements, with their effects.
pub fn matching(policy: &Value, req: &NaiveRequest) -> Vec<(usize, Effect)> {
    let vars = variables_enabled(policy);
    statements(policy)
        .into_iter()
        .enumerate()
        .filter(|(_, s)| statement_matches(s, req, vars))
        .map(|(i, s)| {
            let effect = if s.get("Effect").and_then(Value::as_str) == Some("Deny") {
                Effect::Deny
            } else {
                Effect::Allow
            };
            (i, effect)
        })
        .collect()
}

/// What one set of policies says: `Some(Deny)` on any matching Deny, else `Some(Allow)` on any
/// matching Allow, else `None` (implicit deny).
fn verdict(policies: &[Value], req: &NaiveRequest) -> Option<Effect> {
    let all: Vec<Effect> = policies
        .iter()
        .flat_map(|p| matching(p, req))
        .map(|(_, e)| e)
        .collect();
    if all.contains(&Effect::Deny) {
        Some(Effect::Deny)
    } else if all.contains(&Effect::Allow) {
        Some(Effect::Allow)
    } else {
        None
    }
}

/// `policy eval --policy`: the one policy decides (iam.md §9.1); the layer is always `null`.
pub fn decide_single(policy: &Value, req: &NaiveRequest) -> Outcome {
    let (decision, reason) = match verdict(std::slice::from_ref(policy), req) {
        Some(Effect::Deny) => (Effect::Deny, Reason::ExplicitDeny),
        Some(Effect::Allow) => (Effect::Allow, Reason::Allowed),
        None => (Effect::Deny, Reason::ImplicitDeny),
    };
    Outcome {
        decision,
        reason,
        layer: None,
    }
}

/// One Lattice level: auth type NONE (skipped) or AWS_IAM with its policies (possibly none).
#[derive(Debug, Clone, Copy)]
pub enum NaiveLayer<'a> {
    Off,
    Policies(&'a [Value]),
}

/// Lattice layering (iam.md §9.3, CONTRACT §3, §5): an explicit deny in any layer wins,
/// reported at the first such layer in the order network, service, identity; otherwise every
/// layer that is not off must allow, and the first that does not is reported. The identity
/// layer applies to signed callers only.
pub fn decide_layers(
    network: NaiveLayer<'_>,
    service: NaiveLayer<'_>,
    identity: NaiveLayer<'_>,
    req: &NaiveRequest,
) -> Outcome {
    let identity = if req.caller.is_anonymous() {
        NaiveLayer::Off
    } else {
        identity
    };
    let layers = [
        ("network", network),
        ("service", service),
        ("identity", identity),
    ];
    let verdicts: Vec<(&'static str, Option<Effect>)> = layers
        .iter()
        .filter_map(|(name, layer)| match layer {
            NaiveLayer::Off => None,
            NaiveLayer::Policies(ps) => Some((*name, verdict(ps, req))),
        })
        .collect();
    if let Some((name, _)) = verdicts.iter().find(|(_, v)| *v == Some(Effect::Deny)) {
        return Outcome {
            decision: Effect::Deny,
            reason: Reason::ExplicitDeny,
            layer: Some(name),
        };
    }
    if let Some((name, _)) = verdicts.iter().find(|(_, v)| v.is_none()) {
        return Outcome {
            decision: Effect::Deny,
            reason: Reason::ImplicitDeny,
            layer: Some(name),
        };
    }
    Outcome {
        decision: Effect::Allow,
        reason: Reason::Allowed,
        layer: None,
    }
}
