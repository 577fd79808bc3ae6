//! The thread reloads run on: one of its own, at the lowest CPU priority.
//!
//! A sidecar usually has one core or less, so the tokio worker serving requests and a reload
//! compiling a large policy compete for the same CPU. Measured with a 1,000-statement policy
//! replaced every second under 2k requests/s on one core, a reload at normal priority tripled
//! the p99 latency for the requests arriving while it compiled. At nice 19 the scheduler lets a
//! woken worker preempt the reload at once; the reload only takes time nobody else wants, so
//! it finishes a few milliseconds later and requests do not wait for it. The priority cannot be
//! raised again without privileges, which is why the thread is dedicated and never returned to
//! a pool.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::ReloadCause;

/// The nice value reloads run at: the lowest priority a thread can ask for.
#[cfg(target_os = "linux")]
const RELOAD_NICE: i32 = 19;

type Job = (ReloadCause, oneshot::Sender<()>);

/// Hands reloads to the reload thread, one at a time.
#[derive(Debug)]
pub(super) struct Reloader {
    jobs: Option<std_mpsc::Sender<Job>>,
}

impl Reloader {
    /// Starts the thread. If it cannot be started, reloads run on tokio's blocking pool at
    /// normal priority instead: slower requests during a reload, but never a lost reload.
    pub(super) fn start<F>(reload: Arc<F>) -> Self
    where
        F: Fn(ReloadCause) + Send + Sync + 'static,
    {
        let (tx, rx) = std_mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("trellis-reload".into())
            .spawn(move || {
                lower_priority();
                while let Ok((cause, done)) = rx.recv() {
                    // A panicking reload must not stop later reloads.
                    let _ = catch_unwind(AssertUnwindSafe(|| reload(cause)));
                    let _ = done.send(());
                }
            });
        Self {
            jobs: spawned.is_ok().then_some(tx),
        }
    }

    /// Runs one reload and waits for it to end.
    pub(super) async fn run<F>(&self, cause: ReloadCause, fallback: &Arc<F>)
    where
        F: Fn(ReloadCause) + Send + Sync + 'static,
    {
        if let Some(jobs) = &self.jobs {
            let (done, finished) = oneshot::channel();
            if jobs.send((cause, done)).is_ok() {
                let _ = finished.await;
                return;
            }
        }
        let reload = Arc::clone(fallback);
        let _ = tokio::task::spawn_blocking(move || reload(cause)).await;
    }
}

/// Lowers the calling thread's priority (Linux applies a nice value per thread). Best effort:
/// a reload at normal priority is still correct.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), RELOAD_NICE);
    }
}

/// The calling thread's nice value, for tests.
#[cfg(all(test, target_os = "linux"))]
pub(super) fn current_nice() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(i32::MIN)
}
