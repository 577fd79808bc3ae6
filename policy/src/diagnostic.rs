//! Diagnostics: what `policy check` prints and what a failed parse returns.
//!
//! Positions are computed once, when the diagnostic is made, so a `Diagnostic` can be printed
//! without the text it came from.

mod line_index;

pub use line_index::LineIndex;
pub(crate) use line_index::BOM;
use std::fmt;

/// A byte range `start..end` into the policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// Errors make a policy unusable (AWS would reject it); warnings flag what AWS accepts but
/// that is surely a mistake or can never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding with its position (1-based line, 1-based column in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub line: u32,
    pub column: u32,
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn new(
        index: &LineIndex<'_>,
        severity: Severity,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = index.position(span.start);
        Diagnostic {
            severity,
            line,
            column,
            span,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.line,
            self.column,
            self.severity.as_str(),
            self.message
        )
    }
}
