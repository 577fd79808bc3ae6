//! A compiled statement and the test "does it match this request".

use crate::condition::Condition;
use crate::context::Context;
use crate::decision::Effect;
use crate::pattern::Matcher;
use crate::principal::PrincipalRule;
use crate::request::Request;
use crate::source::StatementSource;
use std::sync::Arc;

/// `Action`/`NotAction` or `Resource`/`NotResource`: a list of patterns, ORed, maybe negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListRule {
    pub(crate) negated: bool,
    pub(crate) items: Vec<Matcher>,
}

impl ListRule {
    #[inline]
    pub(crate) fn matches(&self, value: &str, fold: bool, ctx: &dyn Context) -> bool {
        self.items.iter().any(|m| m.matches(value, fold, ctx)) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    pub(crate) sid: Option<Arc<str>>,
    pub(crate) effect: Effect,
    pub(crate) principal: PrincipalRule,
    /// Patterns lower-cased; matched case-insensitively.
    pub(crate) action: ListRule,
    pub(crate) resource: ListRule,
    /// ANDed; an empty list is "no condition".
    pub(crate) conditions: Vec<Condition>,
    /// The text, for explanations; never read while evaluating.
    pub(crate) source: Arc<StatementSource>,
}

impl Statement {
    /// Principal, action, resource and every condition: the plain definition of a match, which
    /// the index-driven evaluation is tested against.
    #[cfg(test)]
    pub(crate) fn matches(&self, request: &Request<'_>, ctx: &dyn Context) -> bool {
        self.principal.matches(&request.principal)
            && self.action.matches(request.action, true, ctx)
            && self.matches_rest(request, ctx)
    }

    /// Resource and conditions: what the index cannot establish.
    #[inline]
    pub(crate) fn matches_rest(&self, request: &Request<'_>, ctx: &dyn Context) -> bool {
        self.resource.matches(request.resource, false, ctx)
            && self.conditions.iter().all(|c| c.holds(ctx))
    }
}
