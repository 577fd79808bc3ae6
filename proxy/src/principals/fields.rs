//! Reading a spanned JSON object field by field: every unknown, duplicate, missing or
//! mistyped field becomes a diagnostic at its position, and reading goes on so the user sees
//! every problem of the file at once.

use trellis_policy::json::{Kind, LineIndex, Member, Value};
use trellis_policy::{Diagnostic, Severity, Span};

/// Collects the diagnostics of one file.
#[derive(Debug)]
pub(crate) struct Diagnostics<'t> {
    index: LineIndex<'t>,
    pub(crate) list: Vec<Diagnostic>,
}

impl<'t> Diagnostics<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Diagnostics {
            index: LineIndex::new(text),
            list: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(Severity::Error, span, message.into());
    }

    pub(crate) fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.push(Severity::Warning, span, message.into());
    }

    /// `line:column` of a position, for messages that point at a second place.
    pub(crate) fn position(&self, span: Span) -> String {
        let (line, column) = self.index.position(span.start);
        format!("{line}:{column}")
    }

    fn push(&mut self, severity: Severity, span: Span, message: String) {
        let (line, column) = self.index.position(span.start);
        self.list.push(Diagnostic {
            severity,
            line,
            column,
            span,
            message,
        });
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }
}

/// The members of one JSON object, checked against the fields it may have.
#[derive(Debug)]
pub(crate) struct Fields<'v> {
    members: Vec<&'v Member>,
}

impl<'v> Fields<'v> {
    /// Checks that `value` is an object whose keys are all in `allowed`, each at most once.
    /// `what` names the object in messages (`a principal`, `a key`).
    pub(crate) fn read(
        value: &'v Value,
        what: &str,
        allowed: &[&str],
        diags: &mut Diagnostics<'_>,
    ) -> Option<Fields<'v>> {
        let Kind::Object(members) = &value.kind else {
            diags.error(value.span, format!("{what} must be a JSON object"));
            return None;
        };
        let mut seen: Vec<&'v Member> = Vec::with_capacity(members.len());
        for member in members {
            if !allowed.contains(&member.key.as_str()) {
                diags.error(
                    member.key_span,
                    format!(
                        "unknown field `{}` in {what}: the fields are {}",
                        member.key,
                        allowed
                            .iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            }
            if let Some(first) = seen.iter().find(|m| m.key == member.key) {
                let first_at = diags.position(first.key_span);
                diags.error(
                    member.key_span,
                    format!(
                        "duplicate field `{}` in {what} (first at {first_at}): keep one",
                        member.key
                    ),
                );
                continue;
            }
            seen.push(member);
        }
        Some(Fields { members: seen })
    }

    /// The value of `key`, treating an explicit `null` as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'v Value> {
        self.members
            .iter()
            .find(|m| m.key == key)
            .map(|m| &m.value)
            .filter(|v| !matches!(v.kind, Kind::Null))
    }

    /// A string field; wrong types are reported and read as absent.
    pub(crate) fn string(&self, key: &str, diags: &mut Diagnostics<'_>) -> Option<(&'v str, Span)> {
        let value = self.get(key)?;
        match &value.kind {
            Kind::String(s) => Some((s.as_str(), value.span)),
            _ => {
                diags.error(value.span, format!("`{key}` must be a string"));
                None
            }
        }
    }

    /// A required string field.
    pub(crate) fn required_string(
        &self,
        key: &str,
        what: &str,
        at: Span,
        diags: &mut Diagnostics<'_>,
    ) -> Option<(&'v str, Span)> {
        if self.get(key).is_none() {
            diags.error(at, format!("{what} has no `{key}`: add it"));
            return None;
        }
        self.string(key, diags)
    }

    /// An array field (absent → empty).
    pub(crate) fn array(&self, key: &str, diags: &mut Diagnostics<'_>) -> &'v [Value] {
        match self.get(key) {
            None => &[],
            Some(Value {
                kind: Kind::Array(items),
                ..
            }) => items,
            Some(other) => {
                diags.error(other.span, format!("`{key}` must be a JSON array"));
                &[]
            }
        }
    }
}
