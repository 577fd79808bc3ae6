//! How diagnostics reach the user: `FILE:LINE:COL: error|warning: message` in text, or as
//! JSON objects. Shared by every subcommand that reads a user's file.

use serde::Serialize;
use trellis_policy::{Diagnostic, Severity};

/// Output format of the checking subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// `FILE:LINE:COL: severity: message`, one per line.
    Text,
    /// One JSON document.
    Json,
}

/// One diagnostic as machine output.
#[derive(Debug, Serialize)]
pub(crate) struct JsonDiagnostic<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) severity: &'static str,
    pub(crate) message: &'a str,
}

impl<'a> JsonDiagnostic<'a> {
    pub(crate) fn new(file: &'a str, diagnostic: &'a Diagnostic) -> Self {
        JsonDiagnostic {
            file,
            line: diagnostic.line,
            column: diagnostic.column,
            severity: diagnostic.severity.as_str(),
            message: &diagnostic.message,
        }
    }
}

/// `FILE:LINE:COL: severity: message`.
pub(crate) fn text_line(file: &str, diagnostic: &Diagnostic) -> String {
    format!("{file}:{diagnostic}")
}

/// Counts errors and warnings.
pub(crate) fn tally(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, diagnostics.len() - errors)
}

/// `1 error`, `2 warnings`.
pub(crate) fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
