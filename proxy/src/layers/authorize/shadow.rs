//! The shadow decision of one request: the whole layered decision again, with each shadow
//! file in place of the layer it shadows (the other layers as enforced), recorded beside the
//! enforced decision and never changing the answer.
//!
//! It runs on the request path, so it allocates nothing: it reuses the thread's resource and
//! match buffers of [`super::authorize`] (after the enforced decision is recorded), its counter
//! handle was resolved when the snapshot was built, and up to [`INLINE`] matched statements
//! are kept inline in the record (more only in a policy where that many statements match one
//! request). The matched-statement text is written by the access-log writer, off the path.

use trellis_policy::{decide, Decision, Effect, Layers, Matched, Reason};

use super::policy_layer;
use crate::error::PolicyLayer;
use crate::snapshot::{Shadow, Snapshot};

/// Matched statements kept without allocating.
pub const INLINE: usize = 8;

/// The matched statements of a shadow decision.
#[derive(Debug, Clone)]
enum MatchedStatements {
    Inline {
        items: [Option<Matched>; INLINE],
        len: usize,
    },
    Spilled(Vec<Matched>),
}

impl MatchedStatements {
    fn of(matches: &[Matched]) -> Self {
        if matches.len() > INLINE {
            return Self::Spilled(matches.to_vec());
        }
        let mut items: [Option<Matched>; INLINE] = Default::default();
        for (slot, m) in items.iter_mut().zip(matches) {
            *slot = Some(m.clone());
        }
        Self::Inline {
            items,
            len: matches.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Matched> {
        let (inline, spilled) = match self {
            Self::Inline { items, len } => (&items[..*len], &[][..]),
            Self::Spilled(v) => (&[][..], v.as_slice()),
        };
        inline.iter().flatten().chain(spilled)
    }
}

/// What the shadow policies decided for one request; written once by `Authorize`, read by
/// `Audit` for the metric and the access log.
#[derive(Debug, Clone)]
pub struct ShadowRecord {
    allowed: bool,
    counter: Option<prometheus::IntCounter>,
    matched: MatchedStatements,
}

impl ShadowRecord {
    /// Whether the shadow policies allow the request.
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// `shadowDecision`: `allow` or `deny`.
    pub fn decision_label(&self) -> &'static str {
        if self.allowed {
            "allow"
        } else {
            "deny"
        }
    }

    /// Counts the request in `trellis_shadow_decisions_total`.
    pub fn count(&self) {
        if let Some(c) = &self.counter {
            c.inc();
        }
    }

    /// `shadowMatchedStatements`, spelled as `matchedStatements`; empty when none matched.
    pub fn matched_text(&self) -> String {
        let listed: Vec<Matched> = self.matched.iter().cloned().collect();
        super::matched_list(&listed)
    }
}

/// The statement a shadow decision ends on, with its layer: for a deny, the denying layer and
/// its first matching `Deny` statement (`None`: an implicit deny, `statement="none"`); for an
/// allow, the first matching `Allow` statement of a shadowed layer, else of any layer — the
/// rollout is about the shadowed layers, so their statement is the one worth charting. `None`
/// only for an allow without any statement, which a checked layer cannot give.
fn decider<'m>(
    decision: &Decision,
    matches: &'m [Matched],
    shadow: &Shadow,
) -> Option<(PolicyLayer, Option<&'m Matched>)> {
    match decision
        .layer
        .filter(|_| decision.reason != Reason::Allowed)
    {
        Some(layer) => {
            let statement = (decision.reason == Reason::ExplicitDeny)
                .then(|| {
                    matches
                        .iter()
                        .find(|m| m.layer == layer && m.effect == Effect::Deny)
                })
                .flatten();
            Some((policy_layer(layer), statement))
        }
        None => {
            let allows = || matches.iter().filter(|m| m.effect == Effect::Allow);
            let statement = allows()
                .find(|m| shadow.shadows(policy_layer(m.layer)))
                .or_else(|| allows().next())?;
            Some((policy_layer(statement.layer), Some(statement)))
        }
    }
}

/// Decides the request against the shadow set of `snapshot` (`None` without one); `layers`
/// are the enforced layers (the identity layer is taken from them), `matches` the thread's
/// scratch list.
pub fn decide_shadow(
    snapshot: &Snapshot,
    layers: &Layers<'_>,
    request: &trellis_policy::Request<'_>,
    context: &dyn trellis_policy::Context,
    matches: &mut Vec<Matched>,
    principal: Option<usize>,
    enforced_allowed: bool,
) -> Option<ShadowRecord> {
    let shadow = snapshot.shadow()?;
    let shadow_layers = Layers {
        network: shadow.network(snapshot),
        service: shadow.service(snapshot),
        identity: layers.identity,
    };
    let decision = decide(&shadow_layers, request, context, matches);
    let counter = decider(&decision, matches, shadow).and_then(|(layer, statement)| {
        shadow
            .counter(layer, statement, principal, enforced_allowed)
            .cloned()
    });
    Some(ShadowRecord {
        allowed: decision.reason == Reason::Allowed,
        counter,
        matched: MatchedStatements::of(matches),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use trellis_policy::{Effect, Layer, Matched};

    use super::{MatchedStatements, ShadowRecord, INLINE};

    fn matched(n: usize) -> Vec<Matched> {
        (0..n)
            .map(|i| Matched {
                layer: Layer::Service,
                index: u32::try_from(i).unwrap(),
                sid: (i % 2 == 0).then(|| Arc::from(format!("S{i}"))),
                effect: Effect::Allow,
            })
            .collect()
    }

    fn text(m: &[Matched]) -> String {
        ShadowRecord {
            allowed: true,
            counter: None,
            matched: MatchedStatements::of(m),
        }
        .matched_text()
    }

    #[test]
    fn shadow_matched_statements_are_kept_inline_up_to_the_limit_and_all_listed_beyond_it() {
        assert!(matches!(
            MatchedStatements::of(&matched(INLINE)),
            MatchedStatements::Inline { len: INLINE, .. }
        ));
        assert!(matches!(
            MatchedStatements::of(&matched(INLINE + 1)),
            MatchedStatements::Spilled(_)
        ));
        assert_eq!(text(&matched(0)), "");
        assert_eq!(text(&matched(3)), "service#0(S0),service#1,service#2(S2)");
        for n in [INLINE, INLINE + 3] {
            let listed = matched(n);
            assert_eq!(text(&listed), super::super::matched_list(&listed));
        }
    }
}
