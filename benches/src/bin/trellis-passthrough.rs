//! `trellis-passthrough`: the bare hyper pass-through of the side-by-side comparison.
//!
//! The threads and allocator are the `trellis` binary's: one worker thread per CPU the process
//! may run on (so one when pinned to a core), each a current-thread tokio runtime accepting on
//! its own descriptor of the one listening socket and forwarding over its own pools, and
//! mimalloc. Any difference between the two is then Trellis's own work.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use trellis_benches::passthrough::{serve, Passthrough};

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
    // The URL is checked before binding; each worker builds its own pools from it below.
    if let Err(e) = Passthrough::new(&args.upstream) {
        eprintln!("trellis-passthrough: {e}");
        return std::process::ExitCode::from(2);
    }
    let listener = match std::net::TcpListener::bind(args.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "trellis-passthrough: cannot listen on `{}`: {e}; pick a free address",
                args.listen
            );
            return std::process::ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().unwrap_or(args.listen);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let (ended, any_ended) = std::sync::mpsc::channel::<String>();
    for k in 0..workers {
        let (own, pass) = match (listener.try_clone(), Passthrough::new(&args.upstream)) {
            (Ok(own), Ok(pass)) => (own, pass),
            (Err(e), _) => {
                eprintln!("trellis-passthrough: cannot share the listener: {e}");
                return std::process::ExitCode::from(1);
            }
            (_, Err(e)) => {
                eprintln!("trellis-passthrough: {e}");
                return std::process::ExitCode::from(2);
            }
        };
        let ended = ended.clone();
        let thread = std::thread::Builder::new()
            .name(format!("passthrough-worker-{k}"))
            .spawn(move || {
                let served = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|runtime| {
                        runtime.block_on(async move {
                            serve(tokio::net::TcpListener::from_std(own)?, pass).await;
                            Ok(())
                        })
                    });
                let why = match served {
                    Err(e) => format!("worker {k} failed: {e}"),
                    Ok(()) => format!("worker {k} stopped"),
                };
                let _ = ended.send(why);
            });
        match thread {
            Ok(_) => {}
            Err(e) => {
                eprintln!("trellis-passthrough: cannot start a worker thread: {e}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
    // The workers serve forever: one that returns (or panics, dropping its sender) failed.
    drop(ended);
    match any_ended.recv() {
        Ok(why) => eprintln!("trellis-passthrough: {why}"),
        Err(_) => eprintln!("trellis-passthrough: a worker panicked"),
    }
    std::process::ExitCode::from(1)
}
