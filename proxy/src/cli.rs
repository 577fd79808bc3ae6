//! The `trellis` command line: one file per subcommand under `cli/`.

use clap::Parser;

/// Sidecar authorization proxy with Amazon VPC Lattice semantics.
#[derive(Debug, Parser)]
#[command(name = "trellis", version, about)]
pub struct Cli {}

/// Parses the arguments and runs the chosen subcommand; the return value is the exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(_) => 0,
        Err(err) => {
            let _ = err.print();
            if err.use_stderr() {
                2
            } else {
                0
            }
        }
    }
}
