//! `trellis-load`: an HTTP load generator for Trellis and the upstreams it is compared with.
//!
//! It is built to cost its host little, because during comparisons it shares a core with the
//! server: one current-thread runtime by default, one task per connection driving both the
//! hyper connection and its request loop, requests built (and signed) before the run, and
//! per-connection recorders merged at the end.
//!
//! Closed loop: each connection sends its next request when the previous response has ended;
//! latency runs from the send, and responses that end inside the measured period count.
//!
//! Open loop: request `i` is due at `start + i / rate` ([`schedule`]). A pacer woken by a
//! timerfd releases one permit per due request; a connection that is free (an HTTP/1.1
//! connection carries one request at a time) takes the next permit and with it the next
//! ticket, so the pool serves a FIFO queue of due requests. When every connection is busy,
//! due requests wait, and that wait is part of their latency, which always runs from the due
//! time to the end of the response: a stalled server shows in every request scheduled during
//! the stall, not just in the few that were in flight (coordinated omission corrected). A
//! request sent more than 1 ms after its due time is counted as late.

pub mod args;
pub mod client;
pub mod cpu;
pub mod error;
pub mod plot;
pub mod progress;
pub mod record;
pub mod report;
pub mod requests;
pub mod schedule;
pub mod sign;
pub mod sts_token;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

pub use args::{Cli, Config, SignMode};
pub use error::LoadError;
pub use report::Report;

use client::{Pace, Shared};
use record::Recorder;
use requests::Requests;
use schedule::Schedule;

/// Runs the load described by `config` and summarises it.
pub fn run(config: &Config) -> Result<Report, LoadError> {
    let addr = resolve(&config.target.connect)?;
    let (requests, resigner) = Requests::build(config)?;
    let runtime = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .enable_all()
            .build()
    }
    .map_err(LoadError::Runtime)?;
    let cpu_before = cpu::process_cpu();
    let (rec, responses) = runtime.block_on(drive(config, addr, requests))?;
    drop(resigner);
    let mut report = Report::new(config, &rec);
    if let (Some(before), Some(after)) = (cpu_before, cpu::process_cpu()) {
        if responses > 0 {
            report.generator_cpu_us_per_request =
                Some((after - before).as_secs_f64() * 1e6 / responses as f64);
        }
    }
    Ok(report)
}

/// The whole program: parses `args` (program name first), runs, prints the summary on stdout
/// and writes the requested result files.
pub fn main_with<I, T>(args: I) -> Result<(), LoadError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let (config, cli) = Config::from_args(args)?;
    let report = run(&config)?;
    print!("{}", report.summary());
    write(cli.json.as_deref(), &report.to_json())?;
    write(cli.markdown.as_deref(), &report.to_markdown())?;
    write(cli.plot.as_deref(), &plot::svg(&report))?;
    if report.requests == 0 {
        return Err(LoadError::NoResponse {
            url: report.url,
            connect: report.errors.connect,
            io: report.errors.io,
            timeout: report.errors.timeout,
        });
    }
    Ok(())
}

fn write(path: Option<&std::path::Path>, text: &str) -> Result<(), LoadError> {
    let Some(path) = path else { return Ok(()) };
    std::fs::write(path, text).map_err(|source| LoadError::Write {
        path: path.to_owned(),
        source,
    })
}

fn resolve(connect: &str) -> Result<SocketAddr, LoadError> {
    let fail = |source| LoadError::Resolve {
        host: connect.to_owned(),
        source,
    };
    connect
        .to_socket_addrs()
        .map_err(fail)?
        .next()
        .ok_or_else(|| fail(std::io::Error::other("no address")))
}

fn new_recorder() -> Result<Recorder, LoadError> {
    Recorder::new().map_err(|e| LoadError::Runtime(std::io::Error::other(e.to_string())))
}

async fn drive(
    config: &Config,
    addr: SocketAddr,
    requests: Arc<Requests>,
) -> Result<(Recorder, u64), LoadError> {
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let end = measure_from + config.duration;
    let workers = config.connections * config.streams;
    let (pace, pacer) = match config.rate {
        Some(rate) => {
            let schedule = Arc::new(Schedule::new(start, rate, config.warmup, config.duration));
            let pacer = tokio::spawn(Arc::clone(&schedule).pace(workers));
            (Pace::Open(schedule), Some(pacer))
        }
        None => (Pace::Closed { measure_from, end }, None),
    };
    let shared = Arc::new(Shared {
        addr,
        http2: config.http2,
        streams: config.streams,
        timeout: config.timeout,
        requests,
        pace,
        progress: AtomicU64::new(0),
        next: AtomicU64::new(0),
    });
    let mut tasks = Vec::with_capacity(config.connections);
    for _ in 0..config.connections {
        let rec = new_recorder()?;
        tasks.push(tokio::spawn(client::connection(Arc::clone(&shared), rec)));
    }
    let progress = config.progress.then(|| {
        let shared = Arc::clone(&shared);
        let total = config.warmup + config.duration;
        tokio::spawn(progress::show(shared, start, total))
    });
    let mut merged = new_recorder()?;
    for t in tasks {
        if let Ok(rec) = t.await {
            merged.merge(&rec);
        }
    }
    if let Some(p) = progress {
        p.abort();
        let _ = p.await;
    }
    if let Some(p) = pacer {
        p.await
            .map_err(|e| LoadError::Runtime(std::io::Error::other(e)))?
            .map_err(LoadError::Runtime)?;
    }
    Ok((
        merged,
        shared.progress.load(std::sync::atomic::Ordering::Relaxed),
    ))
}
