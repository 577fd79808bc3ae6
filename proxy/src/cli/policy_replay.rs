//! `trellis policy replay` (CONTRACT §11): what candidate policies would change on the traffic
//! a decision log recorded — the count of flipped decisions, grouped by principal, path and the
//! statement that made the difference, with example requests. See
//! [`crate::replay`] for how one request is decided again.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use trellis_policy::{CompiledPolicy, PolicyKind};

use super::{EXIT_INVALID, EXIT_OK};
use crate::decision_log::RecordedRequest;
use crate::replay::{Candidates, Replayed, Replayer};

/// Examples kept per group.
const EXAMPLES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// The decision log written by `trellis run --decision-log` (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    decision_log: PathBuf,
    /// Candidate service auth policy; without it the service layer keeps its recorded result.
    #[arg(long, value_name = "FILE")]
    service_policy: Option<PathBuf>,
    /// Candidate service-network auth policy; without it the network layer keeps its recorded
    /// result.
    #[arg(long, value_name = "FILE")]
    network_policy: Option<PathBuf>,
    /// Candidate principals file: callers' identity policies, tags and organization; without
    /// it the identity layer keeps its recorded result.
    #[arg(long, value_name = "FILE")]
    principals: Option<PathBuf>,
    /// `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Exit 1 when any decision flips (a CI gate for policy changes).
    #[arg(long)]
    fail_on_change: bool,
}

/// Which way a decision flipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
enum Change {
    #[serde(rename = "allow→deny")]
    AllowToDeny,
    #[serde(rename = "deny→allow")]
    DenyToAllow,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::AllowToDeny => "allow→deny",
            Change::DenyToAllow => "deny→allow",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Example {
    line: u64,
    time: u64,
    method: String,
    path: String,
    query: Option<String>,
    reason: &'static str,
    layer: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct Group {
    change: Change,
    principal: String,
    path: String,
    statement: String,
    count: u64,
    examples: Vec<Example>,
}

/// The totals and groups of one replay.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    requests: u64,
    changed: u64,
    allow_to_deny: u64,
    deny_to_allow: u64,
    corrupt_lines: u64,
    groups: Vec<Group>,
}

type GroupKey = (Change, String, String, String);

/// Runs the command; returns the exit code.
pub(crate) fn run(args: &ReplayArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some(candidates) = load_candidates(args, err) else {
        return EXIT_INVALID;
    };
    let name = args.decision_log.display().to_string();
    let (input, size): (Box<dyn BufRead>, Option<u64>) = if args.decision_log == Path::new("-") {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        match std::fs::File::open(&args.decision_log) {
            Ok(f) => {
                let size = f.metadata().ok().map(|m| m.len());
                (
                    Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
                    size,
                )
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "{name}: error: cannot read the decision log: {e}; check the path (written by `trellis run --decision-log`)"
                );
                return EXIT_INVALID;
            }
        }
    };
    let progress = progress_bar(size);
    let report = match replay_lines(input, &candidates, &name, err, &progress) {
        Ok(report) => report,
        Err(e) => {
            progress.finish_and_clear();
            let _ = writeln!(err, "{name}: error: cannot read the decision log: {e}");
            return EXIT_INVALID;
        }
    };
    progress.finish_and_clear();
    let written = match args.format {
        Format::Text => write_text(&report, out),
        Format::Json => serde_json::to_writer(&mut *out, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
    };
    if written.is_err() {
        return EXIT_INVALID;
    }
    if report.corrupt_lines > 0 || (args.fail_on_change && report.changed > 0) {
        EXIT_INVALID
    } else {
        EXIT_OK
    }
}

/// A bar over the file's bytes on a terminal; hidden otherwise (and for standard input).
fn progress_bar(size: Option<u64>) -> indicatif::ProgressBar {
    match size {
        Some(size) if std::io::stderr().is_terminal() => {
            let bar = indicatif::ProgressBar::new(size);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
            ) {
                bar.set_style(style);
            }
            bar
        }
        _ => indicatif::ProgressBar::hidden(),
    }
}

fn load_candidates(args: &ReplayArgs, err: &mut dyn Write) -> Option<Candidates> {
    let mut failed = false;
    let mut load = |path: &Path| -> Option<CompiledPolicy> {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                let _ = writeln!(
                    err,
                    "{name}: error: cannot read the policy file: {e}; check the path"
                );
                failed = true;
                return None;
            }
        };
        let checked = trellis_policy::check(&text, Some(PolicyKind::Auth));
        for d in &checked.diagnostics {
            let _ = writeln!(err, "{}", super::diagnostic_line(&name, d));
        }
        let compiled = checked.compile();
        failed |= compiled.is_none();
        compiled
    };
    let network = args.network_policy.as_deref().and_then(&mut load);
    let service = args.service_policy.as_deref().and_then(&mut load);
    let principals = match &args.principals {
        Some(path) => match super::policy_eval::load_principals(path, err) {
            Some(store) => Some(store),
            None => return None,
        },
        None => None,
    };
    (!failed).then_some(Candidates {
        network,
        service,
        principals,
    })
}

/// Decides every line of `input` again and gathers the report; a corrupt line is reported
/// on `err` by number and skipped.
fn replay_lines(
    mut input: Box<dyn BufRead>,
    candidates: &Candidates,
    name: &str,
    err: &mut dyn Write,
    progress: &indicatif::ProgressBar,
) -> std::io::Result<Report> {
    let mut replayer = Replayer::new(candidates);
    let mut report = Report::default();
    let mut groups: HashMap<GroupKey, Group> = HashMap::new();
    let mut line = String::new();
    let mut number = 0u64;
    let mut unreported = 0u64;
    loop {
        line.clear();
        let read = input.read_line(&mut line)?;
        if read == 0 {
            break;
        }
        number += 1;
        unreported += read as u64;
        if number.is_multiple_of(4096) {
            progress.inc(std::mem::take(&mut unreported));
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let record = match RecordedRequest::parse(text) {
            Ok(record) => record,
            Err(e) => {
                report.corrupt_lines += 1;
                let _ = writeln!(err, "{name}:{number}: error: {e}; the line is skipped");
                continue;
            }
        };
        let replayed = match replayer.replay(&record) {
            Ok(replayed) => replayed,
            Err(e) => {
                report.corrupt_lines += 1;
                let _ = writeln!(err, "{name}:{number}: error: {e}; the line is skipped");
                continue;
            }
        };
        report.requests += 1;
        if replayed.changed() {
            count_change(&mut report, &mut groups, &record, &replayed, number);
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (a.change, &a.principal, &a.path).cmp(&(b.change, &b.principal, &b.path)))
            .then_with(|| a.statement.cmp(&b.statement))
    });
    report.groups = groups;
    Ok(report)
}

fn count_change(
    report: &mut Report,
    groups: &mut HashMap<GroupKey, Group>,
    record: &RecordedRequest<'_>,
    replayed: &Replayed,
    number: u64,
) {
    report.changed += 1;
    let change = if replayed.allowed_before {
        report.allow_to_deny += 1;
        Change::AllowToDeny
    } else {
        report.deny_to_allow += 1;
        Change::DenyToAllow
    };
    let principal = record
        .principal
        .as_ref()
        .map_or_else(|| "anonymous".to_owned(), |p| p.arn.to_string());
    let statement = replayed.difference.clone().unwrap_or_default();
    let key = (change, principal, record.path.to_string(), statement);
    let group = groups
        .entry(key)
        .or_insert_with_key(|(change, p, path, s)| Group {
            change: *change,
            principal: p.clone(),
            path: path.clone(),
            statement: s.clone(),
            count: 0,
            examples: Vec::new(),
        });
    group.count += 1;
    if group.examples.len() < EXAMPLES {
        group.examples.push(Example {
            line: number,
            time: record.time,
            method: record.method.to_string(),
            path: record.path.to_string(),
            query: record.query.as_deref().map(str::to_owned),
            reason: replayed.reason.as_str(),
            layer: replayed.layer.map(trellis_policy::Layer::as_str),
        });
    }
}

fn write_text(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} requests, {} changed: {} allow→deny, {} deny→allow",
        report.requests, report.changed, report.allow_to_deny, report.deny_to_allow
    )?;
    if report.corrupt_lines > 0 {
        writeln!(out, "{} corrupt lines skipped", report.corrupt_lines)?;
    }
    for g in &report.groups {
        writeln!(
            out,
            "\n{} ×{}  principal {}  path {}  by {}",
            g.change.as_str(),
            g.count,
            g.principal,
            g.path,
            g.statement
        )?;
        for e in &g.examples {
            let time = crate::layers::authorize::iso8601(
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(e.time),
            );
            let query = e
                .query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            writeln!(
                out,
                "  line {}: {} {}{} at {} → {}{}",
                e.line,
                e.method,
                e.path,
                query,
                time,
                e.reason,
                e.layer.map(|l| format!(" ({l})")).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}
