//! `trellis-load`: see `trellis_benches::load`.

use std::process::ExitCode;

use trellis_benches::load::{self, LoadError};

fn main() -> ExitCode {
    match load::main_with(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(LoadError::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trellis-load: {e}");
            ExitCode::FAILURE
        }
    }
}
