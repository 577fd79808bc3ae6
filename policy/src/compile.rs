//! A compiled policy: statements with their matchers, plus an index that keeps evaluation
//! cost independent of statements that cannot match.

mod index;
mod keys;

use crate::context::Context;
use crate::decision::{Effect, Layer, Matched, Reason};
use crate::key::Key;
use crate::request::Request;
use crate::statement::Statement;
use crate::PolicyKind;
use index::Index;
use std::sync::Arc;

/// A validated, compiled policy. Cheap to clone (one `Arc`), `Send + Sync`.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    kind: PolicyKind,
    statements: Arc<[Statement]>,
    index: Index,
}

/// What `statements()` reports about each statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementInfo<'a> {
    pub index: usize,
    pub sid: Option<&'a str>,
    pub effect: Effect,
}

impl CompiledPolicy {
    pub(crate) fn new(kind: PolicyKind, statements: Arc<[Statement]>) -> CompiledPolicy {
        let index = Index::build(&statements);
        CompiledPolicy {
            inner: Arc::new(Inner {
                kind,
                statements,
                index,
            }),
        }
    }

    pub fn kind(&self) -> PolicyKind {
        self.inner.kind
    }

    /// The compiled statements in policy order, for [`crate::explain`].
    pub(crate) fn compiled_statements(&self) -> &[Statement] {
        &self.inner.statements
    }

    pub fn statement_count(&self) -> usize {
        self.inner.statements.len()
    }

    pub fn statements(&self) -> impl Iterator<Item = StatementInfo<'_>> {
        self.inner
            .statements
            .iter()
            .enumerate()
            .map(|(index, s)| StatementInfo {
                index,
                sid: s.sid.as_deref(),
                effect: s.effect,
            })
    }

    /// Every condition key the policy reads, each once in order of first use: the keys of its
    /// conditions and of the policy variables in its actions, resources and condition values.
    /// For callers that must know a policy's inputs without evaluating it; not for the hot path.
    pub fn keys_read(&self) -> Vec<Key<'_>> {
        let mut out = Vec::new();
        for s in self.inner.statements.iter() {
            keys::statement_keys(s, &mut out);
        }
        out
    }

    /// Every matching statement is pushed to `matches` (with `layer`, in statement order), then
    /// deny > allow > implicit deny. Never fails, never allocates (beyond `matches` growing,
    /// which a reused Vec does not).
    pub fn evaluate(
        &self,
        request: &Request<'_>,
        context: &dyn Context,
        layer: Layer,
        matches: &mut Vec<Matched>,
    ) -> Effect {
        self.evaluate_reason(request, context, layer, matches)
            .effect()
    }

    /// As [`CompiledPolicy::evaluate`], telling an explicit deny from an implicit one.
    pub fn evaluate_reason(
        &self,
        request: &Request<'_>,
        context: &dyn Context,
        layer: Layer,
        matches: &mut Vec<Matched>,
    ) -> Reason {
        let start = matches.len();
        let statements = &self.inner.statements;
        self.inner.index.candidates(request, &mut |i, hint| {
            let Some(statement) = statements.get(i as usize) else {
                return;
            };
            if hint.repeated && matches[start..].iter().any(|m| m.index == i) {
                return;
            }
            let matched = (hint.principal_known || statement.principal.matches(&request.principal))
                && (hint.action_known || statement.action.matches(request.action, true, context))
                && statement.matches_rest(request, context);
            if matched {
                matches.push(Matched {
                    layer,
                    index: i,
                    sid: statement.sid.clone(),
                    effect: statement.effect,
                });
            }
        });
        let found = &mut matches[start..];
        found.sort_unstable_by_key(|m| m.index);
        if found.iter().any(|m| m.effect == Effect::Deny) {
            Reason::ExplicitDeny
        } else if found.is_empty() {
            Reason::ImplicitDeny
        } else {
            Reason::Allowed
        }
    }
}

#[cfg(test)]
mod tests;
