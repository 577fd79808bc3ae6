//! Lattice's combination of its levels: the service network's auth policy, the service's auth
//! policy and the caller's identity policies, each evaluated by [`CompiledPolicy`], combined
//! with deny > allow > implicit deny across levels. Also the one-policy decision of
//! `policy eval --policy`.

use crate::compile::CompiledPolicy;
use crate::context::Context;
use crate::decision::{Decision, Effect, Layer, Matched, Reason};
use crate::request::{Principal, Request};

/// How one Lattice level is configured.
#[derive(Debug, Clone, Copy)]
pub enum LayerPolicy<'p> {
    /// Auth type NONE (or, for identity: anonymous caller / identity policies ignored): skipped.
    Off,
    /// Auth type AWS_IAM with these policies. An empty slice means "AWS_IAM but no policy":
    /// nothing allows, so the layer denies implicitly.
    Policies(&'p [CompiledPolicy]),
}

#[derive(Debug, Clone, Copy)]
pub struct Layers<'p> {
    pub network: LayerPolicy<'p>,
    pub service: LayerPolicy<'p>,
    pub identity: LayerPolicy<'p>,
}

fn evaluate_layer(
    policy: &LayerPolicy<'_>,
    layer: Layer,
    request: &Request<'_>,
    context: &dyn Context,
    matches: &mut Vec<Matched>,
) -> Option<Reason> {
    let LayerPolicy::Policies(policies) = policy else {
        return None;
    };
    let mut reason = Reason::ImplicitDeny;
    for policy in policies.iter() {
        match policy.evaluate_reason(request, context, layer, matches) {
            Reason::ExplicitDeny => reason = Reason::ExplicitDeny,
            Reason::Allowed if reason == Reason::ImplicitDeny => reason = Reason::Allowed,
            _ => {}
        }
    }
    Some(reason)
}

/// Lattice: explicit deny in any layer wins (reported layer = first with a deny, in the order
/// network, service, identity); else every layer that is not Off must allow; the first layer
/// (network, service, identity) without an allow is reported as ImplicitDeny.
/// `matches` is cleared first, then gets every matching statement of every evaluated layer.
///
/// The identity layer never applies to an anonymous caller (it has no identity policies),
/// whatever `layers.identity` says.
pub fn decide(
    layers: &Layers<'_>,
    request: &Request<'_>,
    context: &dyn Context,
    matches: &mut Vec<Matched>,
) -> Decision {
    matches.clear();
    let identity = match request.principal {
        Principal::Anonymous => LayerPolicy::Off,
        Principal::Caller { .. } => layers.identity,
    };
    let results = [
        (
            Layer::Network,
            evaluate_layer(&layers.network, Layer::Network, request, context, matches),
        ),
        (
            Layer::Service,
            evaluate_layer(&layers.service, Layer::Service, request, context, matches),
        ),
        (
            Layer::Identity,
            evaluate_layer(&identity, Layer::Identity, request, context, matches),
        ),
    ];
    for (layer, reason) in results {
        if reason == Some(Reason::ExplicitDeny) {
            return deny(Reason::ExplicitDeny, layer);
        }
    }
    for (layer, reason) in results {
        if reason == Some(Reason::ImplicitDeny) {
            return deny(Reason::ImplicitDeny, layer);
        }
    }
    Decision {
        effect: Effect::Allow,
        reason: Reason::Allowed,
        layer: None,
    }
}

fn deny(reason: Reason, layer: Layer) -> Decision {
    Decision {
        effect: Effect::Deny,
        reason,
        layer: Some(layer),
    }
}

/// `policy eval --policy FILE`: one policy alone decides. `layer` is `Some(Layer::Policy)` when
/// a statement decided (Allowed or ExplicitDeny) and `None` for an implicit deny.
/// `matches` is cleared first.
pub fn decide_single(
    policy: &CompiledPolicy,
    request: &Request<'_>,
    context: &dyn Context,
    matches: &mut Vec<Matched>,
) -> Decision {
    matches.clear();
    let reason = policy.evaluate_reason(request, context, Layer::Policy, matches);
    Decision {
        effect: reason.effect(),
        reason,
        layer: (reason != Reason::ImplicitDeny).then_some(Layer::Policy),
    }
}

#[cfg(test)]
mod tests;
