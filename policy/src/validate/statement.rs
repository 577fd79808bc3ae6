//! One statement: its elements, their combinations and the per-kind rules.

use super::element::suggest;
use super::lattice_resource::Targets;
use super::Validator;
use crate::decision::Effect;
use crate::diagnostic::Span;
use crate::hash::FxHashMap;
use crate::json::{Member, Value};
use crate::principal::PrincipalRule;
use crate::source::StatementSource;
use crate::statement::{ListRule, Statement};
use crate::PolicyKind;
use std::sync::Arc;

const ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Validator<'_> {
    /// Validates one statement; `None` if it has errors (the policy will not compile anyway).
    pub(super) fn statement<'v>(
        &mut self,
        value: &'v Value,
        sids: &mut FxHashMap<&'v str, Span>,
    ) -> Option<Statement> {
        let Some(members) = value.as_object() else {
            self.error(
                value.span,
                format!(
                    "each statement must be an object with `Effect`, `Action` and `Resource`, found {}",
                    value.type_name()
                ),
            );
            return None;
        };
        let errors_before = self.error_count();
        self.duplicates(members, || "a statement".into());
        let get = |name: &str| members.iter().find(|m| m.key == name);
        for m in members {
            if !ELEMENTS.contains(&m.key.as_str()) {
                let hint = suggest(&m.key, ELEMENTS);
                self.error(
                    m.key_span,
                    format!(
                        "unknown statement element `{}`: use `Sid`, `Effect`, `Principal`, `NotPrincipal`, `Action`, `NotAction`, `Resource`, `NotResource` or `Condition`{hint}",
                        m.key
                    ),
                );
            }
        }
        let stmt_at = Span::new(value.span.start, value.span.start + 1);

        let sid = get("Sid").and_then(|m| self.sid(m, sids));
        let effect = self.effect(get("Effect"), stmt_at);
        let principal = self.principal_rule(get("Principal"), get("NotPrincipal"), stmt_at, effect);
        let action = self.either(
            get("Action"),
            get("NotAction"),
            stmt_at,
            ("Action", "NotAction"),
            true,
        );
        self.targets = action.as_ref().map_or(Targets::BOTH, Targets::of_actions);
        let resource = self.either(
            get("Resource"),
            get("NotResource"),
            stmt_at,
            ("Resource", "NotResource"),
            false,
        );
        let conditions = match get("Condition") {
            Some(m) => self.conditions(&m.value, effect),
            None => Some(Vec::new()),
        };
        if self.error_count() > errors_before {
            return None;
        }
        Some(Statement {
            sid,
            effect: effect?,
            principal: principal?,
            action: action?,
            resource: resource?,
            conditions: conditions?,
            source: Arc::new(StatementSource::of(value, members, self.text, self.index())),
        })
    }

    fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    fn sid<'v>(&mut self, m: &'v Member, sids: &mut FxHashMap<&'v str, Span>) -> Option<Arc<str>> {
        let Some(sid) = m.value.as_str() else {
            self.error(
                m.value.span,
                format!("`Sid` must be a string, found {}", m.value.type_name()),
            );
            return None;
        };
        let identity = self.kind == PolicyKind::Identity;
        if identity && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            self.error(
                m.value.span,
                format!("`Sid` `{sid}` must be alphanumeric (`A-Z`, `a-z`, `0-9`) in an identity policy: remove the other characters"),
            );
        }
        if let Some(first) = sids.get(sid) {
            let (line, column) = self.index().position(first.start);
            let msg = format!("duplicate `Sid` `{sid}` (first at {line}:{column}): give each statement its own `Sid`");
            if identity {
                self.error(m.value.span, msg);
            } else {
                self.warning(m.value.span, msg);
            }
        } else {
            sids.insert(sid, m.value.span);
        }
        Some(sid.into())
    }

    fn effect(&mut self, m: Option<&Member>, at: Span) -> Option<Effect> {
        let Some(m) = m else {
            self.error(
                at,
                "missing `Effect`: add `\"Effect\": \"Allow\"` or `\"Effect\": \"Deny\"`",
            );
            return None;
        };
        match m.value.as_str() {
            Some("Allow") => Some(Effect::Allow),
            Some("Deny") => Some(Effect::Deny),
            Some(other) => {
                self.error(
                    m.value.span,
                    format!("`Effect` must be exactly `Allow` or `Deny` (case-sensitive), found `{other}`"),
                );
                None
            }
            None => {
                self.error(
                    m.value.span,
                    format!(
                        "`Effect` must be the string `Allow` or `Deny`, found {}",
                        m.value.type_name()
                    ),
                );
                None
            }
        }
    }

    fn principal_rule(
        &mut self,
        principal: Option<&Member>,
        not_principal: Option<&Member>,
        at: Span,
        effect: Option<Effect>,
    ) -> Option<PrincipalRule> {
        if self.kind == PolicyKind::Identity {
            for m in [principal, not_principal].into_iter().flatten() {
                self.error(
                    m.key_span,
                    format!("`{}` is not allowed in an identity policy (the caller is the principal): remove it, or check this file as an auth policy", m.key),
                );
            }
            return Some(PrincipalRule::Implied);
        }
        match (principal, not_principal) {
            (Some(_), Some(n)) => {
                self.error(
                    n.key_span,
                    "a statement may have `Principal` or `NotPrincipal`, not both: remove one",
                );
                None
            }
            (None, None) => {
                self.error(at, "missing `Principal`: an auth policy statement must say who it applies to, e.g. `\"Principal\": \"*\"` or `{\"AWS\": \"arn:aws:iam::111122223333:role/name\"}`");
                None
            }
            (Some(p), None) => self
                .principal(&p.value, "Principal")
                .map(PrincipalRule::Principal),
            (None, Some(n)) => {
                if effect == Some(Effect::Allow) {
                    self.warning(n.key_span, "`NotPrincipal` with `Allow` grants access to everyone not listed, anonymous callers included: use `Principal` with `Allow`, or `Deny`");
                }
                self.principal(&n.value, "NotPrincipal")
                    .map(PrincipalRule::NotPrincipal)
            }
        }
    }

    /// `Action`/`NotAction` or `Resource`/`NotResource`: exactly one of the pair.
    fn either(
        &mut self,
        plain: Option<&Member>,
        not: Option<&Member>,
        at: Span,
        (name, not_name): (&str, &str),
        action: bool,
    ) -> Option<ListRule> {
        match (plain, not) {
            (Some(_), Some(n)) => {
                self.error(
                    n.key_span,
                    format!("a statement may have `{name}` or `{not_name}`, not both: remove one"),
                );
                None
            }
            (None, None) => {
                let example = if action {
                    "`\"Action\": \"vpc-lattice-svcs:Invoke\"`"
                } else {
                    "`\"Resource\": \"arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID/*\"` or `\"*\"`"
                };
                self.error(at, format!("missing `{name}`: add {example}"));
                None
            }
            (Some(m), None) | (None, Some(m)) => {
                let negated = m.key == not_name;
                if action {
                    self.action(&m.value, &m.key, negated)
                } else {
                    self.resource(&m.value, &m.key, negated)
                }
            }
        }
    }
}
