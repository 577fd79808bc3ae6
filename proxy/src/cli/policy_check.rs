//! `trellis policy check FILE...`: validate policies the way AWS would accept them, plus
//! warnings for what AWS accepts but can never match.
//!
//! As every checking subcommand: diagnostics on standard error, the summary (or the JSON
//! report) on standard output.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use trellis_policy::PolicyKind;

use super::output::{plural, tally, text_line, Format, JsonDiagnostic};
use super::{EXIT_INVALID, EXIT_OK};

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Policy files (JSON); `-` is standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Which element rules apply; by default a file with `Principal` is an auth policy, one
    /// without is an identity policy.
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// The service whose requests the policies decide
    /// (`arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID`, as for `trellis run`): also warn
    /// about statements that can never apply to it (a `Resource` of another service, account
    /// or region, a placeholder copied from documentation) and about `aws:PrincipalArn`,
    /// `aws:PrincipalAccount` and `aws:PrincipalOrgID` values no caller can have.
    #[arg(long, value_name = "ARN")]
    service_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum KindArg {
    /// A resource policy of a service or service network (has `Principal`).
    Auth,
    /// A caller's identity-based policy (no `Principal`).
    Identity,
}

impl From<KindArg> for PolicyKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Auth => PolicyKind::Auth,
            KindArg::Identity => PolicyKind::Identity,
        }
    }
}

pub(crate) fn kind_name(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Auth => "auth",
        PolicyKind::Identity => "identity",
    }
}

#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    files: Vec<JsonFile<'a>>,
    errors: usize,
    warnings: usize,
}

#[derive(Debug, Serialize)]
struct JsonFile<'a> {
    file: &'a str,
    kind: Option<&'static str>,
    statements: Option<usize>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

/// What checking one file found.
struct FileResult {
    name: String,
    kind: Option<PolicyKind>,
    statements: Option<usize>,
    diagnostics: Vec<trellis_policy::Diagnostic>,
    /// The file could not be read at all.
    unreadable: Option<String>,
}

pub(crate) fn run(args: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if let Some(arn) = &args.service_arn {
        if crate::config::LatticeArn::parse(arn, "service", "svc-").is_none() {
            let _ = writeln!(
                err,
                "trellis policy check: --service-arn: `{arn}` must look like arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID (the ARN `trellis run --service-arn` is given)"
            );
            return EXIT_INVALID;
        }
    }
    let service_arn = args.service_arn.as_deref();
    let results: Vec<FileResult> = args
        .files
        .iter()
        .map(|path| check_file(path, args.kind.map(PolicyKind::from), service_arn))
        .collect();
    let mut errors = 0;
    let mut warnings = 0;
    for result in &results {
        let (e, w) = tally(&result.diagnostics);
        errors += e + usize::from(result.unreadable.is_some());
        warnings += w;
    }
    match args.format {
        Format::Text => {
            for result in &results {
                if let Some(reason) = &result.unreadable {
                    let _ = writeln!(err, "{}: error: {reason}", result.name);
                }
                for diagnostic in &result.diagnostics {
                    let _ = writeln!(err, "{}", text_line(&result.name, diagnostic));
                }
            }
            let _ = writeln!(
                out,
                "checked {}: {}, {}",
                plural(results.len(), "file"),
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
        Format::Json => {
            let report = JsonReport {
                files: results.iter().map(json_file).collect(),
                errors,
                warnings,
            };
            let _ = serde_json::to_writer_pretty(&mut *out, &report);
            let _ = writeln!(out);
        }
    }
    if errors > 0 {
        EXIT_INVALID
    } else {
        EXIT_OK
    }
}

fn json_file(result: &FileResult) -> JsonFile<'_> {
    let mut diagnostics: Vec<JsonDiagnostic<'_>> = result
        .diagnostics
        .iter()
        .map(|d| JsonDiagnostic::new(&result.name, d))
        .collect();
    if let Some(reason) = &result.unreadable {
        diagnostics.insert(
            0,
            JsonDiagnostic {
                file: &result.name,
                line: 0,
                column: 0,
                severity: "error",
                message: reason,
            },
        );
    }
    JsonFile {
        file: &result.name,
        kind: result.kind.map(kind_name),
        statements: result.statements,
        diagnostics,
    }
}

/// The text of `path`; `-` is standard input (named `<stdin>` in diagnostics).
fn read(path: &std::path::Path) -> (String, std::io::Result<String>) {
    if path == std::path::Path::new("-") {
        let mut text = String::new();
        let read = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(|_| text);
        return ("<stdin>".to_owned(), read);
    }
    (path.display().to_string(), std::fs::read_to_string(path))
}

fn check_file(
    path: &std::path::Path,
    kind: Option<PolicyKind>,
    service_arn: Option<&str>,
) -> FileResult {
    let (name, text) = read(path);
    let text = match text {
        Ok(text) => text,
        Err(e) => {
            return FileResult {
                name,
                kind: None,
                statements: None,
                diagnostics: Vec::new(),
                unreadable: Some(format!("cannot read the file: {e}")),
            }
        }
    };
    let checked = match service_arn {
        Some(arn) => trellis_policy::check_for_service(&text, kind, arn),
        None => trellis_policy::check(&text, kind),
    };
    let statements = checked.compile().map(|p| p.statement_count());
    FileResult {
        name,
        kind: Some(checked.kind),
        statements,
        diagnostics: checked.diagnostics,
        unreadable: None,
    }
}
