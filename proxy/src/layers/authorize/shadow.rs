//! The shadow decision of one request: the whole layered decision again, with each shadow
//! file in place of the layer it shadows (the other layers as enforced), recorded beside the
//! enforced decision and never changing the answer.
//!
//! It runs on the request path, so it allocates nothing: it reuses the thread's resource and
//! match buffers of [`super::authorize`] (after the enforced decision is recorded), its counter
//! handle was resolved when the snapshot was built, and the record
//! ([`ShadowRecord`]) keeps a few matched statements inline. The matched-statement text is
//! written by the access-log writer, off the path.

use trellis_policy::{decide, Decision, Effect, Layers, Matched, Reason};

use crate::error::PolicyLayer;
use crate::outcome::ShadowRecord;
use crate::snapshot::{Shadow, Snapshot};

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
            Some((layer, statement))
        }
        None => {
            let allows = || matches.iter().filter(|m| m.effect == Effect::Allow);
            let statement = allows()
                .find(|m| shadow.shadows(m.layer))
                .or_else(|| allows().next())?;
            Some((statement.layer, Some(statement)))
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
    Some(ShadowRecord::new(
        decision.reason == Reason::Allowed,
        counter,
        matches,
    ))
}
