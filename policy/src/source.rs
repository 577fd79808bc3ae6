//! What a compiled statement keeps of its text, so that an explanation can quote the element
//! that failed as the user wrote it, with its position. Never read while evaluating.

use crate::json::{LineIndex, Member, Value};

/// A 1-based line and column (in characters), relative to the text the policy was checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl Position {
    fn at(index: &LineIndex<'_>, offset: usize) -> Position {
        let (line, column) = index.position(offset);
        Position { line, column }
    }
}

/// One element as written: its name (`Principal`, `NotResource`, …), its value in compact JSON
/// and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementSource {
    pub name: Box<str>,
    pub value: Box<str>,
    pub position: Position,
}

impl ElementSource {
    pub(crate) fn of(member: &Member, text: &str, index: &LineIndex<'_>) -> ElementSource {
        ElementSource {
            name: member.key.as_str().into(),
            value: compact(text, &member.value).into(),
            position: Position::at(index, member.key_span.start),
        }
    }
}

/// A statement as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct StatementSource {
    pub(crate) position: Position,
    /// `None` for an identity policy's statement (the caller is implied).
    pub(crate) principal: Option<ElementSource>,
    pub(crate) action: Option<ElementSource>,
    pub(crate) resource: Option<ElementSource>,
}

impl StatementSource {
    pub(crate) fn of(
        value: &Value,
        members: &[Member],
        text: &str,
        index: &LineIndex<'_>,
    ) -> StatementSource {
        let element = |names: [&str; 2]| {
            members
                .iter()
                .find(|m| names.contains(&m.key.as_str()))
                .map(|m| ElementSource::of(m, text, index))
        };
        StatementSource {
            position: Position::at(index, value.span.start),
            principal: element(["Principal", "NotPrincipal"]),
            action: element(["Action", "NotAction"]),
            resource: element(["Resource", "NotResource"]),
        }
    }
}

/// One condition as written: `"operator": {"key": values}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ConditionSource {
    pub(crate) operator: Box<str>,
    pub(crate) key: Box<str>,
    /// Each policy value as text (numbers and booleans as written).
    pub(crate) values: Box<[Box<str>]>,
    pub(crate) position: Position,
}

impl ConditionSource {
    pub(crate) fn of(
        operator: &str,
        entry: &Member,
        values: Box<[Box<str>]>,
        index: &LineIndex<'_>,
    ) -> ConditionSource {
        ConditionSource {
            operator: operator.into(),
            key: entry.key.as_str().into(),
            values,
            position: Position::at(index, entry.key_span.start),
        }
    }
}

/// The value's text with the whitespace between tokens removed (strings kept as written), so a
/// multi-line list quotes on one line.
fn compact(text: &str, value: &Value) -> String {
    let raw = text.get(value.span.start..value.span.end).unwrap_or("");
    let mut out = String::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
            if c == ',' || c == ':' {
                out.push(' ');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_line_element_is_quoted_on_one_line_with_strings_kept() {
        let text = "{\"Resource\": [\n   \"a b\",\n   \"c:\\\"d\"\n]}";
        let value = crate::json::parse(text).expect("valid JSON");
        let members = value.as_object().expect("object");
        let index = LineIndex::new(text);
        let source = ElementSource::of(&members[0], text, &index);
        assert_eq!(&*source.name, "Resource");
        assert_eq!(&*source.value, "[\"a b\", \"c:\\\"d\"]");
        assert_eq!(source.position, Position { line: 1, column: 2 });
    }
}
