//! What the shadow policies decided for one request, kept beside the enforced decision in the
//! [`Outcome`](super::Outcome): written by `Authorize`, read by `Audit` for the metric and the
//! access log. Up to [`INLINE_MATCHES`](super::INLINE_MATCHES) matched statements are kept inline, so recording a shadow
//! decision allocates nothing in the common case; the text is written off the request path.

use trellis_policy::Matched;

use super::MatchedStatements;
#[cfg(test)]
use super::INLINE_MATCHES as INLINE;

/// What the shadow policies decided for one request; written once by `Authorize`, read by
/// `Audit` for the metric and the access log.
#[derive(Debug, Clone)]
pub struct ShadowRecord {
    allowed: bool,
    counter: Option<prometheus::IntCounter>,
    matched: MatchedStatements,
}

impl ShadowRecord {
    /// The record of a shadow decision: whether it allows, the counter of the statement it
    /// ends on (resolved when the snapshot was built) and the statements that matched.
    pub fn new(
        allowed: bool,
        counter: Option<prometheus::IntCounter>,
        matches: &[Matched],
    ) -> Self {
        Self {
            allowed,
            counter,
            matched: matches.iter().cloned().collect(),
        }
    }

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
        super::matched_list(&self.matched)
    }

    /// The statements the shadow policies matched, in order.
    pub fn matched(&self) -> &[Matched] {
        &self.matched
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use trellis_policy::{Effect, Layer, Matched};

    use super::{ShadowRecord, INLINE};

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
            matched: m.iter().cloned().collect(),
        }
        .matched_text()
    }

    #[test]
    fn shadow_matched_statements_are_kept_inline_up_to_the_limit_and_all_listed_beyond_it() {
        let record = |n| ShadowRecord::new(true, None, &matched(n));
        assert!(!record(INLINE).matched.spilled());
        assert!(record(INLINE + 1).matched.spilled());
        assert_eq!(text(&matched(0)), "");
        assert_eq!(text(&matched(3)), "service#0(S0),service#1,service#2(S2)");
        for n in [INLINE, INLINE + 3] {
            let listed = matched(n);
            assert_eq!(text(&listed), super::super::matched_list(&listed));
        }
    }
}
