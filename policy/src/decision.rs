//! Results, and Lattice's combination of network, service and identity policies.

use crate::compile::CompiledPolicy;
use crate::context::Context;
use crate::request::{Principal, Request};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// Which policy a statement or a decision belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Network,
    Service,
    Identity,
    /// `policy eval --policy FILE`: one policy alone decides.
    Policy,
}

impl Layer {
    /// The word used in answers and `policy eval` output (`network`, `service`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Network => "network",
            Layer::Service => "service",
            Layer::Identity => "identity",
            Layer::Policy => "policy",
        }
    }
}

/// A statement that matched the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub layer: Layer,
    /// Position of the statement in its policy (0-based).
    pub index: u32,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Allowed => "Allowed",
            Reason::ExplicitDeny => "ExplicitDeny",
            Reason::ImplicitDeny => "ImplicitDeny",
        }
    }

    pub fn effect(self) -> Effect {
        match self {
            Reason::Allowed => Effect::Allow,
            _ => Effect::Deny,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    pub effect: Effect,
    pub reason: Reason,
    /// The layer that denied; `None` when allowed (and, for [`decide_single`], when nothing
    /// matched).
    pub layer: Option<Layer>,
}

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
