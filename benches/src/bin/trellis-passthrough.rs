//! `trellis-passthrough`: the bare hyper pass-through of the side-by-side comparison.
//!
//! The runtime and allocator are the `trellis` binary's: a multi-threaded tokio runtime with
//! its default worker count (one per CPU the process may run on, so one when pinned to a
//! core) and mimalloc. Any difference between the two is then Trellis's own work.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use trellis_benches::passthrough::{bind, serve, Passthrough};

/// Forward every request to one upstream with nothing in between (no auth, no metrics, no
/// log); prints `listening on ADDR` once bound.
#[derive(Debug, Parser)]
#[command(name = "trellis-passthrough")]
struct Args {
    /// Where callers connect (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The upstream, `http://HOST:PORT`.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    upstream: String,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let pass = match Passthrough::new(&args.upstream) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("trellis-passthrough: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trellis-passthrough: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let (listener, addr) = match bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "trellis-passthrough: cannot listen on `{}`: {e}; pick a free address",
                    args.listen
                );
                return std::process::ExitCode::from(1);
            }
        };
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
        serve(listener, pass).await;
        std::process::ExitCode::SUCCESS
    })
}
