//! Why a request is decided as it is: every statement of every layer with the first element
//! that did not match, and the decision built from those answers.
//!
//! Each element is tested with the very matchers [`CompiledPolicy::evaluate`] uses
//! (`PrincipalRule::matches`, `ListRule::matches`, `Condition::holds`), in the order a reader
//! checks them: principal, action, resource, then each condition in policy order. Only the
//! index is skipped — it is a shortcut to the same answer, which the differential tests hold
//! the two paths to. Not for the hot path: an explanation allocates freely.

use crate::compile::CompiledPolicy;
use crate::condition::Condition;
use crate::context::{Context, Values};
use crate::decision::{Decision, Effect, Layer, Reason};
use crate::layered::{LayerPolicy, Layers};
use crate::request::{Principal, Request};
use crate::source::ElementSource;
pub use crate::source::Position;
use crate::statement::Statement;
use std::sync::Arc;

/// One statement and how it fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementExplanation {
    /// Position of the statement in its policy (0-based).
    pub index: u32,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
    /// Where the statement starts in the text it was checked in.
    pub position: Position,
    /// The elements that matched, in the order tested, up to the first that did not.
    pub matched: Vec<ElementKind>,
    /// `None` when the statement matched.
    pub failed: Option<Failure>,
}

impl StatementExplanation {
    pub fn is_match(&self) -> bool {
        self.failed.is_none()
    }
}

/// The kinds of element a statement is tested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementKind {
    Principal,
    Action,
    Resource,
    Condition,
}

impl ElementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ElementKind::Principal => "principal",
            ElementKind::Action => "action",
            ElementKind::Resource => "resource",
            ElementKind::Condition => "condition",
        }
    }
}

/// The first element that did not match, as written, and what the request had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `Principal`/`NotPrincipal`, `Action`/`NotAction` or `Resource`/`NotResource`;
    /// `request` is the caller's ARN or account (`anonymous` for none), the action or the
    /// resource.
    Element {
        kind: ElementKind,
        element: ElementSource,
        request: String,
    },
    /// A condition that does not hold. `request` is the key's values in the request, `None`
    /// when the key is absent.
    Condition {
        /// 0-based, among the statement's conditions in policy order (one per key).
        index: usize,
        operator: Box<str>,
        key: Box<str>,
        values: Box<[Box<str>]>,
        position: Position,
        request: Option<Vec<String>>,
    },
}

/// One policy of a layer, statement by statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyExplanation {
    pub statements: Vec<StatementExplanation>,
}

/// One layer that took part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerExplanation {
    pub layer: Layer,
    pub policies: Vec<PolicyExplanation>,
    /// The layer's own answer: a matching Deny, else a matching Allow, else nothing allows.
    pub reason: Reason,
}

/// Every layer that took part, and the decision they make together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub layers: Vec<LayerExplanation>,
    pub decision: Decision,
}

impl CompiledPolicy {
    /// Every statement, in policy order, with the first element that failed.
    pub fn explain(
        &self,
        request: &Request<'_>,
        context: &dyn Context,
    ) -> Vec<StatementExplanation> {
        self.compiled_statements()
            .iter()
            .enumerate()
            .map(|(i, s)| explain_statement(i, s, request, context))
            .collect()
    }
}

fn explain_statement(
    index: usize,
    statement: &Statement,
    request: &Request<'_>,
    context: &dyn Context,
) -> StatementExplanation {
    let source = &statement.source;
    let mut matched = Vec::new();
    let element =
        |kind: ElementKind, element: &Option<ElementSource>, request: String| Failure::Element {
            kind,
            element: element.clone().unwrap_or_else(|| ElementSource {
                name: kind.as_str().into(),
                value: "".into(),
                position: source.position,
            }),
            request,
        };
    let failed = 'test: {
        if !statement.principal.matches(&request.principal) {
            let who = principal_text(&request.principal);
            break 'test Some(element(ElementKind::Principal, &source.principal, who));
        }
        matched.push(ElementKind::Principal);
        if !statement.action.matches(request.action, true, context) {
            let action = request.action.to_owned();
            break 'test Some(element(ElementKind::Action, &source.action, action));
        }
        matched.push(ElementKind::Action);
        if !statement.resource.matches(request.resource, false, context) {
            let resource = request.resource.to_owned();
            break 'test Some(element(ElementKind::Resource, &source.resource, resource));
        }
        matched.push(ElementKind::Resource);
        let first = statement
            .conditions
            .iter()
            .enumerate()
            .find(|(_, c)| !c.holds(context));
        // `Condition` matched when at least one condition held before any failed.
        let held = first.map_or(statement.conditions.len(), |(i, _)| i);
        if held > 0 {
            matched.push(ElementKind::Condition);
        }
        first.map(|(i, c)| condition_failure(i, c, context))
    };
    StatementExplanation {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        sid: statement.sid.clone(),
        effect: statement.effect,
        position: source.position,
        matched,
        failed,
    }
}

fn principal_text(principal: &Principal<'_>) -> String {
    match principal {
        Principal::Anonymous => "anonymous".to_owned(),
        Principal::Caller { arn, .. } => (*arn).to_owned(),
    }
}

fn condition_failure(index: usize, condition: &Condition, context: &dyn Context) -> Failure {
    let source = &condition.source;
    let request = context
        .get(&condition.key.key())
        .map(|values| match values {
            Values::One(v) => vec![v.to_owned()],
            Values::Many(list) => (0..list.len()).map(|i| list.get(i).to_owned()).collect(),
        });
    Failure::Condition {
        index,
        operator: source.operator.clone(),
        key: source.key.clone(),
        values: source.values.clone(),
        position: source.position,
        request,
    }
}

/// What one layer says: the reasons of [`CompiledPolicy::evaluate_reason`], from explanations.
fn layer_reason(policies: &[PolicyExplanation]) -> Reason {
    let mut matching = policies
        .iter()
        .flat_map(|p| p.statements.iter())
        .filter(|s| s.is_match())
        .peekable();
    if matching.clone().any(|s| s.effect == Effect::Deny) {
        Reason::ExplicitDeny
    } else if matching.peek().is_some() {
        Reason::Allowed
    } else {
        Reason::ImplicitDeny
    }
}

/// As [`crate::decide`]: the identity layer is skipped for an anonymous caller; an explicit
/// deny in any layer wins (first in the order network, service, identity); else the first
/// layer without an allow denies implicitly.
pub fn explain(layers: &Layers<'_>, request: &Request<'_>, context: &dyn Context) -> Explanation {
    let identity = match request.principal {
        Principal::Anonymous => LayerPolicy::Off,
        Principal::Caller { .. } => layers.identity,
    };
    let mut taking_part = Vec::new();
    for (layer, policy) in [
        (Layer::Network, layers.network),
        (Layer::Service, layers.service),
        (Layer::Identity, identity),
    ] {
        let LayerPolicy::Policies(policies) = policy else {
            continue;
        };
        let policies: Vec<PolicyExplanation> = policies
            .iter()
            .map(|p| PolicyExplanation {
                statements: p.explain(request, context),
            })
            .collect();
        let reason = layer_reason(&policies);
        taking_part.push(LayerExplanation {
            layer,
            policies,
            reason,
        });
    }
    let first = |reason: Reason| {
        taking_part
            .iter()
            .find(|l| l.reason == reason)
            .map(|l| Decision {
                effect: Effect::Deny,
                reason,
                layer: Some(l.layer),
            })
    };
    let decision = first(Reason::ExplicitDeny)
        .or_else(|| first(Reason::ImplicitDeny))
        .unwrap_or(Decision {
            effect: Effect::Allow,
            reason: Reason::Allowed,
            layer: None,
        });
    Explanation {
        layers: taking_part,
        decision,
    }
}

/// As [`crate::decide_single`]: one policy alone decides; `layer` is `Policy` unless nothing
/// matched.
pub fn explain_single(
    policy: &CompiledPolicy,
    request: &Request<'_>,
    context: &dyn Context,
) -> Explanation {
    let policies = vec![PolicyExplanation {
        statements: policy.explain(request, context),
    }];
    let reason = layer_reason(&policies);
    Explanation {
        layers: vec![LayerExplanation {
            layer: Layer::Policy,
            policies,
            reason,
        }],
        decision: Decision {
            effect: reason.effect(),
            reason,
            layer: (reason != Reason::ImplicitDeny).then_some(Layer::Policy),
        },
    }
}

#[cfg(test)]
mod tests;
