//! The `trellis` command line. One file per subcommand under `cli/`; each returns its exit code
//! (0 success, 1 invalid input, 2 usage error — CONTRACT §1) instead of exiting, so the logic
//! stays testable and `main` stays a few lines.

mod authz;
mod demo;
mod eval_caller;
mod healthcheck;
mod json_stream;
mod output;
mod policy_check;
mod policy_eval;
mod policy_explain;
mod policy_replay;
mod principals_check;
mod run;

pub(crate) use output::text_line as diagnostic_line;

use std::ffi::OsString;
use std::io::Write;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: invalid input (a bad policy, file or flag value).
pub const EXIT_INVALID: i32 = 1;
/// Exit code: usage error (unknown flag, missing argument).
pub const EXIT_USAGE: i32 = 2;

/// Sidecar authorization proxy with Amazon VPC Lattice semantics: SigV4 authentication and
/// IAM auth policies in front of a local service.
#[derive(Debug, Parser)]
#[command(name = "trellis", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sidecar proxy.
    Run(Box<crate::config::RunArgs>),
    /// Answer Envoy/Istio ext_authz (gRPC and HTTP) and nginx auth_request with the
    /// sidecar's decisions.
    #[command(
        mut_arg("listen", |a| a.hide(true)),
        mut_arg("upstream", |a| a.hide(true)),
        mut_arg("upstream_protocol", |a| a.hide(true)),
        mut_arg("upstream_ca", |a| a.hide(true)),
        mut_arg("tls_cert", |a| a.hide(true)),
        mut_arg("tls_key", |a| a.hide(true))
    )]
    Authz(Box<authz::AuthzArgs>),
    /// Start a built-in echo service behind the proxy with example policies and principals,
    /// and print curl commands to try.
    Demo(demo::DemoArgs),
    /// Probe the admin endpoint (for images without a shell); exit 0 on 200.
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Validate and evaluate IAM auth and identity policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Validate the callers' keys, identities and identity policies.
    #[command(subcommand)]
    Principals(PrincipalsCommand),
}

#[derive(Debug, Subcommand)]
enum PrincipalsCommand {
    /// Validate a principals file and summarize it (never prints a secret).
    Check(principals_check::CheckArgs),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate policy files: `FILE:LINE:COL: error|warning: message` per problem.
    Check(policy_check::CheckArgs),
    /// Decide request contexts against policies, one JSON decision per request.
    Eval(policy_eval::EvalArgs),
    /// Explain why one request context is allowed or denied: every layer and every statement
    /// with the first element that did not match, then the decision.
    Explain(policy_explain::ExplainArgs),
    /// Decide the requests of a decision log again with candidate policies and report what
    /// would change.
    Replay(policy_replay::ReplayArgs),
}

/// Parses `args` (program name first) and runs the subcommand; returns the exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let parsed = Cli::command()
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            // `--help` and `--version` are answers, not errors.
            let code = if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            };
            let _ = err.print();
            if let Some(var) = env_var_behind(&err, &args) {
                eprintln!("note: the value comes from the environment variable `{var}`");
            }
            return code;
        }
    };
    // The serving commands write from several threads (reload diagnostics, the access log):
    // they must not hold the stdout/stderr locks for their whole run.
    let command = match cli.command {
        Command::Run(args) => {
            let mut err = std::io::stderr();
            return match crate::config::Config::from_args(*args) {
                Ok(config) => run::run(&config, &mut err),
                Err(e) => {
                    match env_var_of(&matches, "run", e.flag) {
                        Some(var) => {
                            let _ = writeln!(err, "trellis run: {}", e.with_env_var(&var));
                        }
                        None => {
                            let _ = writeln!(err, "trellis run: {e}");
                        }
                    }
                    EXIT_INVALID
                }
            };
        }
        Command::Demo(args) => return demo::run(&args, &mut std::io::stderr()),
        Command::Authz(args) => return authz::run(*args, &mut std::io::stderr()),
        other => other,
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let code = match command {
        Command::Run(_) | Command::Demo(_) | Command::Authz(_) => EXIT_USAGE,
        Command::Healthcheck(args) => healthcheck::run(&args, &mut out, &mut err),
        Command::Policy(PolicyCommand::Check(args)) => policy_check::run(&args, &mut out, &mut err),
        Command::Policy(PolicyCommand::Eval(args)) => {
            let stdin = std::io::stdin();
            policy_eval::run(&args, &mut stdin.lock(), &mut out, &mut err)
        }
        Command::Policy(PolicyCommand::Explain(args)) => {
            let stdin = std::io::stdin();
            policy_explain::run(&args, &mut stdin.lock(), &mut out, &mut err)
        }
        Command::Policy(PolicyCommand::Replay(args)) => {
            policy_replay::run(&args, &mut out, &mut err)
        }
        Command::Principals(PrincipalsCommand::Check(args)) => {
            principals_check::run(&args, &mut out, &mut err)
        }
    };
    let _ = out.flush();
    code
}

/// The `TRELLIS_*` variable that gave `flag` (without dashes) of `subcommand` its value, when
/// the value came from the environment rather than the command line.
fn env_var_of(matches: &ArgMatches, subcommand: &str, flag: &str) -> Option<String> {
    let id = flag.replace('-', "_");
    let sub = matches.subcommand_matches(subcommand)?;
    if !sub.ids().any(|i| i.as_str() == id) || sub.value_source(&id)? != ValueSource::EnvVariable {
        return None;
    }
    let command = Cli::command();
    let arg = command
        .find_subcommand(subcommand)?
        .get_arguments()
        .find(|a| a.get_id().as_str() == id)?;
    arg.get_env().map(|v| v.to_string_lossy().into_owned())
}

/// For a value clap refused (`invalid value 'x' for '--mode <MODE>'`): the environment
/// variable it came from, when the flag is not on the command line but its variable is set.
fn env_var_behind(err: &clap::Error, args: &[OsString]) -> Option<String> {
    if err.kind() != ErrorKind::InvalidValue {
        return None;
    }
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?;
    let flag = format!("--{long}");
    let on_command_line = args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
    });
    if on_command_line {
        return None;
    }
    let command = Cli::command();
    let var = command
        .get_subcommands()
        .flat_map(clap::Command::get_arguments)
        .filter(|a| a.get_long() == Some(long))
        .find_map(clap::Arg::get_env)?;
    std::env::var_os(var).map(|_| var.to_string_lossy().into_owned())
}
