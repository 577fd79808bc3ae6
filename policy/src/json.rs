//! A strict RFC 8259 JSON parser that keeps a byte span on every value and key.
//!
//! Why not serde_json: policies need positions for every node, and a duplicate key must be
//! *kept* (serde silently keeps the last one, which would turn `{"Effect":"Deny",
//! "Effect":"Allow"}` into an Allow). The grammar is small enough to write out.

mod parser;

pub use crate::diagnostic::LineIndex;

use crate::diagnostic::{Diagnostic, Severity, Span};

/// A JSON value and where it is in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub span: Span,
}

/// The JSON types. Numbers keep their literal text, so nothing is lost to `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<Member>),
}

/// One `"key": value` pair of an object, in text order (duplicates included).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_span: Span,
    pub value: Value,
}

impl Value {
    /// The JSON type's name, for messages ("expected a string, found an array").
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[Member]> {
        match &self.kind {
            Kind::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The first member named `key` (validators report duplicates separately).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?
            .iter()
            .find(|m| m.key == key)
            .map(|m| &m.value)
    }
}

/// Parses `text` as one JSON value (surrounding whitespace allowed).
///
/// Strict RFC 8259. A duplicate key in one object is NOT a parse error here: the parser keeps
/// every member in order, so validators can report duplicates with positions.
pub fn parse(text: &str) -> Result<Value, Diagnostic> {
    parser::document(text).map_err(|(offset, message)| {
        let index = LineIndex::new(text);
        let end = (offset + 1).min(text.len()).max(offset);
        Diagnostic::new(&index, Severity::Error, Span::new(offset, end), message)
    })
}

#[cfg(test)]
mod tests;
