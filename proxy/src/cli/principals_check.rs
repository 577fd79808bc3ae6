//! `trellis principals check FILE`: validate a principals file and summarize it — principals,
//! keys, expiry, identity policies — without ever printing a secret.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::principals::{PrincipalStore, SecretOrigin};

use super::output::{plural, tally, text_line};
use super::{EXIT_INVALID, EXIT_OK};

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The principals file (JSON, CONTRACT §4).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Validate everything but do not read the secrets named by `secret_access_key_file` and
    /// `secret_access_key_env` (for CI and laptops, where they are not mounted or set).
    #[arg(long)]
    no_secrets: bool,
}

pub(crate) fn run(args: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let name = args.file.display().to_string();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) => {
            let _ = writeln!(
                err,
                "{name}: error: cannot read the file: {e}; check the path"
            );
            return EXIT_INVALID;
        }
    };
    let env = |var: &str| std::env::var(var).ok();
    let now = SystemTime::now();
    let loaded = if args.no_secrets {
        PrincipalStore::load_unresolved(&args.file, &text, now)
    } else {
        PrincipalStore::load(&args.file, &text, &env, now)
    };
    match loaded {
        Err(diagnostics) => {
            for d in &diagnostics {
                let _ = writeln!(err, "{}", text_line(&name, d));
            }
            let (errors, warnings) = tally(&diagnostics);
            let _ = writeln!(
                out,
                "{name}: {}, {}",
                plural(errors, "error"),
                plural(warnings, "warning")
            );
            EXIT_INVALID
        }
        Ok((store, warnings)) => {
            for d in &warnings {
                let _ = writeln!(err, "{}", text_line(&name, d));
            }
            summarize(&name, &store, now, args.no_secrets, out);
            EXIT_OK
        }
    }
}

fn summarize(
    name: &str,
    store: &PrincipalStore,
    now: SystemTime,
    no_secrets: bool,
    out: &mut dyn Write,
) {
    let keys: usize = store.principals().iter().map(|p| p.keys.len()).sum();
    // `roles` are records after the keyed principals (see `PrincipalStore`).
    let keyed = store.principals().len() - store.role_count();
    let accounts: Vec<_> = store.accounts().collect();
    let mut token_sections = String::new();
    if store.role_count() > 0 || !accounts.is_empty() {
        token_sections = format!(
            ", {} and {} for STS identity tokens",
            plural(store.role_count(), "role"),
            plural(accounts.len(), "account")
        );
    }
    let _ = writeln!(
        out,
        "{name}: {}, {}{token_sections}",
        plural(keyed, "principal"),
        plural(keys, "key")
    );
    if let Some(sha256) = store.content_sha256() {
        let _ = writeln!(
            out,
            "  sha256 {sha256} (content without secrets, as /policy publishes it)"
        );
    }
    for (i, p) in store.principals().iter().enumerate() {
        if i < keyed {
            let _ = writeln!(out, "  {} ({})", p.caller_arn, p.principal_type.as_str());
        } else {
            let _ = writeln!(
                out,
                "  role {} (sessions with STS identity tokens)",
                p.principal_arn
            );
        }
        if p.caller_arn != p.principal_arn {
            let _ = writeln!(out, "    aws:PrincipalArn  {}", p.principal_arn);
        }
        if let Some(org) = &p.org_id {
            let _ = writeln!(out, "    organization      {org}");
        }
        if !p.tags.is_empty() {
            let tags: Vec<String> = p
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect();
            let _ = writeln!(out, "    tags              {}", tags.join(", "));
        }
        let statements: usize = p.policies.iter().map(|c| c.statement_count()).sum();
        let _ = writeln!(
            out,
            "    identity policies {} ({})",
            p.policies.len(),
            plural(statements, "statement")
        );
        for key in &p.keys {
            let unread = if no_secrets { " (not read)" } else { "" };
            let origin = match &key.secret_origin {
                SecretOrigin::Inline => "secret inline".to_owned(),
                SecretOrigin::File(f) => format!("secret from file {f}{unread}"),
                SecretOrigin::Env(v) => format!("secret from ${v}{unread}"),
            };
            let token = if key.has_session_token {
                ", session token required"
            } else {
                ""
            };
            let expiry = match key.expires_at {
                None => "never expires".to_owned(),
                Some(at) => {
                    let when = time::OffsetDateTime::from(at)
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_else(|_| "an unprintable time".to_owned());
                    if at <= now {
                        format!("EXPIRED at {when}")
                    } else {
                        format!("expires {when}")
                    }
                }
            };
            let _ = writeln!(
                out,
                "    key {}  {origin}{token}, {expiry}",
                key.access_key_id
            );
        }
    }
    let mut accounts = accounts;
    accounts.sort_by_key(|(id, _)| *id);
    for (id, org) in accounts {
        let _ = writeln!(
            out,
            "  account {id}  organization {}, {}",
            org.org_id.as_deref().unwrap_or("-"),
            plural(org.org_paths.len(), "organization path")
        );
    }
}
