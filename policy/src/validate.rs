//! Validation: every error AWS would reject and every warning for what can never match,
//! collected in one pass, while building the compiled statements.

mod condition;
mod element;
mod lattice_resource;
mod service_lint;
mod statement;
mod text;
mod values;

use crate::diagnostic::{Diagnostic, Severity, Span};
use crate::json::{Kind, LineIndex, Member, Value};
use crate::statement::Statement;
use crate::PolicyKind;

/// The policy language version, which decides whether `${…}` is a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V2012,
    V2008,
    Absent,
}

pub(crate) struct Validator<'t> {
    text: &'t str,
    index: std::cell::OnceCell<LineIndex<'t>>,
    kind: PolicyKind,
    version: Version,
    /// What the current statement's actions can reach, for its `Resource` warnings.
    targets: lattice_resource::Targets,
    /// `policy check --service-arn`: the service whose requests the policy decides; adds the
    /// warnings of [`service_lint`].
    service: Option<&'t str>,
    diagnostics: Vec<Diagnostic>,
}

/// What validation produced.
pub(crate) struct Outcome {
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) statements: Vec<Statement>,
}

/// `kind: None` infers it from the statements.
pub(crate) fn infer_kind(value: &Value) -> PolicyKind {
    let has_principal = |s: &Value| {
        s.as_object().is_some_and(|m| {
            m.iter()
                .any(|m| m.key == "Principal" || m.key == "NotPrincipal")
        })
    };
    let any = match value.get("Statement").map(|s| &s.kind) {
        Some(Kind::Array(items)) => items.iter().any(has_principal),
        Some(Kind::Object(_)) => value.get("Statement").is_some_and(has_principal),
        _ => false,
    };
    if any {
        PolicyKind::Auth
    } else {
        PolicyKind::Identity
    }
}

pub(crate) fn validate(
    value: &Value,
    text: &str,
    kind: PolicyKind,
    service: Option<&str>,
) -> Outcome {
    let mut v = Validator {
        text,
        index: std::cell::OnceCell::new(),
        kind,
        version: Version::Absent,
        targets: lattice_resource::Targets::BOTH,
        service,
        diagnostics: Vec::new(),
    };
    let statements = v.document(value);
    v.text_rules(value.span);
    let mut diagnostics = v.diagnostics;
    diagnostics.sort_by_key(|d| (d.span.start, d.severity == Severity::Warning));
    Outcome {
        diagnostics,
        statements,
    }
}

impl Validator<'_> {
    /// Built on the first diagnostic: a clean policy never needs line positions.
    pub(crate) fn index(&self) -> &LineIndex<'_> {
        self.index.get_or_init(|| LineIndex::new(self.text))
    }

    pub(crate) fn error(&mut self, span: Span, message: impl Into<String>) {
        let d = Diagnostic::new(self.index(), Severity::Error, span, message);
        self.diagnostics.push(d);
    }

    pub(crate) fn warning(&mut self, span: Span, message: impl Into<String>) {
        let d = Diagnostic::new(self.index(), Severity::Warning, span, message);
        self.diagnostics.push(d);
    }

    /// Errors for keys repeated in one object (IAM rejects them; a JSON library would keep
    /// only the last and change the policy's meaning).
    pub(crate) fn duplicates(&mut self, members: &[Member], what: impl Fn() -> String) {
        for (i, m) in members.iter().enumerate() {
            if members[..i].iter().any(|p| p.key == m.key) {
                let what = what();
                self.error(
                    m.key_span,
                    format!(
                        "duplicate key `{}` in {what}: IAM rejects a key given twice in one object; keep one and merge the values",
                        m.key
                    ),
                );
            }
        }
    }

    /// The span of `value`'s decoded bytes `start..end` (exact when the literal has no escapes,
    /// else the whole string).
    pub(crate) fn inner_span(&self, value: &Value, start: usize, end: usize) -> Span {
        let decoded_len = value.as_str().map_or(0, str::len);
        if value.span.end - value.span.start == decoded_len + 2 {
            Span::new(value.span.start + 1 + start, value.span.start + 1 + end)
        } else {
            value.span
        }
    }

    fn document(&mut self, value: &Value) -> Vec<Statement> {
        let Some(members) = value.as_object() else {
            self.error(
                value.span,
                format!(
                    "a policy must be a JSON object with `Version` and `Statement`, found {}",
                    value.type_name()
                ),
            );
            return Vec::new();
        };
        self.duplicates(members, || "the policy".into());
        let mut statement = None;
        let mut version = None;
        for m in members {
            match m.key.as_str() {
                "Version" => version = Some(m),
                "Id" => {
                    if m.value.as_str().is_none() {
                        self.error(
                            m.value.span,
                            format!("`Id` must be a string, found {}", m.value.type_name()),
                        );
                    }
                    if self.kind == PolicyKind::Identity {
                        self.warning(m.key_span, "`Id` is for resource (auth) policies; an identity policy should not have one: remove it");
                    }
                }
                "Statement" => statement = Some(m),
                other => {
                    let hint = element::suggest(other, &["Version", "Id", "Statement"]);
                    self.error(
                        m.key_span,
                        format!("unknown policy element `{other}`: a policy has only `Version`, `Id` and `Statement`{hint}"),
                    );
                }
            }
        }
        match version {
            None => self.warning(
                Span::new(value.span.start, value.span.start + 1),
                "missing `Version`: add `\"Version\": \"2012-10-17\"` (without it, policy variables are plain text)",
            ),
            Some(m) => match m.value.as_str() {
                Some("2012-10-17") => self.version = Version::V2012,
                Some("2008-10-17") => self.version = Version::V2008,
                _ => self.error(
                    m.value.span,
                    "`Version` must be `\"2012-10-17\"` (or the legacy `\"2008-10-17\"`)",
                ),
            },
        }
        let Some(statement) = statement else {
            self.error(
                Span::new(value.span.start, value.span.start + 1),
                "missing `Statement`: add `\"Statement\": [ … ]` with at least one statement",
            );
            return Vec::new();
        };
        let items: Vec<&Value> = match &statement.value.kind {
            Kind::Object(_) => vec![&statement.value],
            Kind::Array(items) => {
                if items.is_empty() {
                    self.warning(
                        statement.value.span,
                        "empty `Statement` array: the policy allows nothing; add a statement",
                    );
                }
                items.iter().collect()
            }
            _ => {
                self.error(
                    statement.value.span,
                    format!(
                        "`Statement` must be an object or an array of objects, found {}",
                        statement.value.type_name()
                    ),
                );
                return Vec::new();
            }
        };
        let mut sids = crate::hash::FxHashMap::default();
        items
            .into_iter()
            .filter_map(|s| self.statement(s, &mut sids))
            .collect()
    }
}

#[cfg(test)]
mod tests;
