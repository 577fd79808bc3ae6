//! The data plane's threads: `--workers N` OS threads named `trellis-worker-K`, each running a
//! current-thread runtime that serves its share of the connections from accept to the last
//! byte. A request never leaves the thread that accepted its connection: no work stealing, no
//! wake-up crossing threads, and each worker's upstream pool and metric shard are its own.
//!
//! Every worker accepts on its own descriptor of one listening socket (a `dup`, see
//! [`listener`]): the kernel hands each new connection to exactly one `accept`, and a worker
//! busy with requests is not there to take it, so an idle worker does. One socket (not one
//! `SO_REUSEPORT` socket per worker) keeps a port held by another process an "address in use"
//! error at start, where `SO_REUSEPORT` would let a second process of the same user bind it
//! too and silently take a share of the traffic.
//!
//! The control plane (signals, reloads, the admin endpoints, the log writers) stays on the
//! thread that called [`run`]. A worker that panics or whose runtime fails is reported there,
//! every other worker is told to stop and drain, and [`run`] returns the failure so the
//! process exits non-zero: a sidecar serving on fewer threads than it was told, unnoticed,
//! would be a silent partial outage.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::{mpsc, watch};

use crate::server::ShutdownReport;

/// A worker's whole life, started on its thread with the signal that tells it to stop
/// accepting and drain; it returns what it drained.
pub type Job = Box<
    dyn FnOnce(StopSignal) -> Pin<Box<dyn Future<Output = std::io::Result<ShutdownReport>>>> + Send,
>;

/// Resolves (for every clone) once the workers must stop accepting.
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// A future that resolves when the stop is given (or the giver is gone).
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// One listening socket as one descriptor per worker (`dup`s made up front), so the socket
/// closes, and new callers are refused, as soon as the last worker stops accepting: no
/// descriptor outlives the accept loops.
#[derive(Debug)]
pub struct SharedListener {
    descriptors: std::sync::Mutex<Vec<Option<std::net::TcpListener>>>,
}

impl SharedListener {
    /// `listener` for `workers` workers (at least one).
    pub fn new(listener: std::net::TcpListener, workers: usize) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let mut descriptors = Vec::with_capacity(workers.max(1));
        for _ in 1..workers.max(1) {
            descriptors.push(Some(listener.try_clone()?));
        }
        descriptors.push(Some(listener));
        Ok(Self {
            descriptors: std::sync::Mutex::new(descriptors),
        })
    }

    /// Worker `index`'s descriptor, registered with the calling thread's runtime; once only.
    pub fn take(&self, index: usize) -> std::io::Result<tokio::net::TcpListener> {
        let own = self
            .descriptors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(index)
            .and_then(Option::take)
            .ok_or_else(|| {
                std::io::Error::other(format!("no listening descriptor for worker {index}"))
            })?;
        tokio::net::TcpListener::from_std(own)
    }
}

/// A worker thread did not finish its drain.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct WorkerFailed(Vec<String>);

/// How one worker's thread ended: `None` if it unwound (a panic).
type Exit = (usize, Option<std::io::Result<ShutdownReport>>);

/// Sends the thread's result when it ends, also when it ends by a panic.
struct ExitNotice {
    index: usize,
    result: Option<std::io::Result<ShutdownReport>>,
    tx: mpsc::UnboundedSender<Exit>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        let _ = self.tx.send((self.index, self.result.take()));
    }
}

fn thread_name(index: usize) -> String {
    format!("trellis-worker-{index}")
}

/// Starts one thread per job, gives the stop when `shutdown` resolves, and waits for every
/// worker to drain; the reports are summed. A worker that fails (or stops before `shutdown`)
/// stops all of them and makes the result an error.
pub async fn run(
    jobs: Vec<Job>,
    shutdown: impl Future<Output = ()>,
) -> Result<ShutdownReport, WorkerFailed> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (exit_tx, mut exit_rx) = mpsc::unbounded_channel::<Exit>();
    let mut failures = Vec::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let stop = StopSignal(stop_rx.clone());
        let tx = exit_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(thread_name(index))
            .spawn(move || {
                // Declared first, dropped last: the runtime (and every connection task in it)
                // is gone before the main thread hears the worker ended.
                let mut notice = ExitNotice {
                    index,
                    result: None,
                    tx,
                };
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                notice.result = Some(match runtime {
                    Ok(runtime) => runtime.block_on(job(stop)),
                    Err(e) => Err(e),
                });
            });
        if let Err(e) = spawned {
            failures.push(format!("cannot start {}: {e}", thread_name(index)));
            let _ = stop_tx.send(true);
            break;
        }
    }
    drop(exit_tx);
    let mut report = ShutdownReport { drained: 0, cut: 0 };
    let mut stopping = !failures.is_empty();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let exit = tokio::select! {
            () = &mut shutdown, if !stopping => {
                stopping = true;
                let _ = stop_tx.send(true);
                continue;
            }
            exit = exit_rx.recv() => exit,
        };
        let Some((index, result)) = exit else {
            break;
        };
        let failure = match result {
            Some(Ok(r)) => {
                report.drained += r.drained;
                report.cut += r.cut;
                (!stopping).then(|| format!("{} stopped serving", thread_name(index)))
            }
            Some(Err(e)) => Some(format!("{} failed: {e}", thread_name(index))),
            None => Some(format!("{} panicked", thread_name(index))),
        };
        if let Some(failure) = failure {
            eprintln!("trellis: {failure}; stopping every worker");
            failures.push(failure);
            stopping = true;
            let _ = stop_tx.send(true);
        }
    }
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(WorkerFailed(failures))
    }
}
