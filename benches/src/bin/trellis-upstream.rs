//! `trellis-upstream`: the loopback service (or `auth_request` authorizer) of the side-by-side
//! comparison; prints `listening on ADDR` once bound.
//!
//! A current-thread runtime: it shares its core with the load generator, and one thread
//! answering fixed responses needs no more.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::net::SocketAddr;

use clap::{Parser, ValueEnum};
use trellis_benches::loopback_service::{serve, Mode};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    /// `200` with a short fixed body (`/status/NNN`: that status; `/echo`: the body back).
    Upstream,
    /// `204` to everything.
    Authorizer,
}

/// A fast loopback upstream or trivial authorizer.
#[derive(Debug, Parser)]
#[command(name = "trellis-upstream")]
struct Args {
    /// Where to listen (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// What to answer.
    #[arg(long, value_enum, default_value = "upstream")]
    mode: ModeArg,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mode = match args.mode {
        ModeArg::Upstream => Mode::Upstream,
        ModeArg::Authorizer => Mode::Authorizer,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trellis-upstream: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "trellis-upstream: cannot listen on `{}`: {e}; pick a free address",
                    args.listen
                );
                return std::process::ExitCode::from(1);
            }
        };
        let addr = listener.local_addr().unwrap_or(args.listen);
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
        serve(listener, mode).await;
        std::process::ExitCode::SUCCESS
    })
}
