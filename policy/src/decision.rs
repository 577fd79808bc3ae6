//! What a decision says: its effect, its reason, the level that decided and the statements
//! that matched. How levels combine into one decision is `layered`.

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
