//! One task per connection: it connects, drives the hyper connection and its request loop in
//! the same task (no extra task, no channel), and records into its own [`Recorder`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::record::{Failure, Recorder};
use super::requests::{Body, Requests};
use super::schedule::Schedule;

/// A send later than this after its due time is "late".
const LATE: Duration = Duration::from_millis(1);

/// Pause after a failed connect in closed loop, so a refused port is not hammered.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// Open or closed loop.
#[derive(Debug, Clone)]
pub enum Pace {
    /// Requests taken from a schedule.
    Open(Arc<Schedule>),
    /// As fast as responses come back, until `end`; responses completing in
    /// `[measure_from, end]` are recorded.
    Closed {
        /// Start of the measured period.
        measure_from: Instant,
        /// End of the run.
        end: Instant,
    },
}

/// What every connection task shares (read-only, apart from the progress counter).
#[derive(Debug)]
pub struct Shared {
    /// Where to connect.
    pub addr: SocketAddr,
    /// h2c prior knowledge.
    pub http2: bool,
    /// In-flight requests per connection.
    pub streams: usize,
    /// Per-request (and per-connect) timeout.
    pub timeout: Duration,
    /// What to send.
    pub requests: Arc<Requests>,
    /// Open or closed.
    pub pace: Pace,
    /// Responses so far, for the progress bar.
    pub progress: AtomicU64,
    /// Closed loop: the sequence number of the next request, shared so that the paths and
    /// keys are cycled in send order whatever their latencies.
    pub next: AtomicU64,
}

enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Sender {
    async fn ready(&mut self) -> bool {
        match self {
            Sender::H1(s) => s.ready().await.is_ok(),
            Sender::H2(s) => s.ready().await.is_ok(),
        }
    }

    async fn send(
        &mut self,
        req: http::Request<Body>,
    ) -> hyper::Result<http::Response<hyper::body::Incoming>> {
        match self {
            Sender::H1(s) => s.send_request(req).await,
            Sender::H2(s) => s.send_request(req).await,
        }
    }
}

/// How a request loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The run is over.
    Done,
    /// The connection is unusable: connect again.
    Reconnect,
}

/// Runs one connection until the run ends; returns what it recorded.
///
/// The streams of an HTTP/2 connection share one recorder: they run in this one task, so its
/// lock is never contended, and a histogram per stream would cost hundreds of kilobytes each.
pub async fn connection(shared: Arc<Shared>, rec: Recorder) -> Recorder {
    let cell = Mutex::new(rec);
    let rec = &cell;
    loop {
        if let Pace::Closed { end, .. } = shared.pace {
            if Instant::now() >= end {
                break;
            }
        }
        let stream =
            match tokio::time::timeout(shared.timeout, TcpStream::connect(shared.addr)).await {
                Ok(Ok(s)) => s,
                _ => {
                    if connect_failed(&shared, rec).await == End::Done {
                        break;
                    }
                    continue;
                }
            };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stream);
        let end = if shared.http2 {
            let Ok((sender, conn)) = http2::handshake(TokioExecutor::new(), io).await else {
                if connect_failed(&shared, rec).await == End::Done {
                    break;
                }
                continue;
            };
            let workers = (0..shared.streams)
                .map(|_| {
                    let mut sender = Sender::H2(sender.clone());
                    let shared = &shared;
                    async move { requests(shared, &mut sender, rec).await }
                })
                .collect::<Vec<_>>();
            drop(sender);
            let (_, ends) = tokio::join!(conn, futures_util::future::join_all(workers));
            if ends.contains(&End::Done) {
                End::Done
            } else {
                End::Reconnect
            }
        } else {
            let Ok((sender, conn)) = http1::handshake(io).await else {
                if connect_failed(&shared, rec).await == End::Done {
                    break;
                }
                continue;
            };
            let mut sender = Sender::H1(sender);
            let work = async {
                let end = requests(&shared, &mut sender, rec).await;
                drop(sender);
                end
            };
            let (_, end) = tokio::join!(conn, work);
            end
        };
        if end == End::Done {
            break;
        }
    }
    cell.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// The recorder, whatever a panicking holder left behind (counts stay meaningful).
fn lock(rec: &Mutex<Recorder>) -> MutexGuard<'_, Recorder> {
    rec.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a failed connect. Open loop: it costs the next scheduled request (the server
/// being down fails every request due meanwhile). Closed loop: counted, then a short pause.
async fn connect_failed(shared: &Shared, rec: &Mutex<Recorder>) -> End {
    match &shared.pace {
        Pace::Open(schedule) => match schedule.take().await {
            Some(t) => {
                if t.measured {
                    lock(rec).failure(Failure::Connect);
                }
                End::Reconnect
            }
            None => End::Done,
        },
        Pace::Closed { measure_from, end } => {
            let now = Instant::now();
            if now >= *measure_from && now < *end {
                lock(rec).failure(Failure::Connect);
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
            End::Reconnect
        }
    }
}

/// The request loop of one in-flight slot on a connection.
async fn requests(shared: &Shared, sender: &mut Sender, rec: &Mutex<Recorder>) -> End {
    loop {
        if !sender.ready().await {
            return End::Reconnect;
        }
        let (index, due, measured_ticket) = match &shared.pace {
            Pace::Open(schedule) => match schedule.take().await {
                Some(t) => (t.index, Some(t.due), t.measured),
                None => return End::Done,
            },
            Pace::Closed { end, .. } => {
                if Instant::now() >= *end {
                    return End::Done;
                }
                (shared.next.fetch_add(1, Ordering::Relaxed), None, false)
            }
        };
        let Ok(req) = shared.requests.request(index) else {
            lock(rec).failure(Failure::Io);
            return End::Done;
        };
        let sent = Instant::now();
        let origin = due.unwrap_or(sent);
        let (deadline, run_end) = match &shared.pace {
            Pace::Open(_) => (sent + shared.timeout, None),
            Pace::Closed { end, .. } => ((sent + shared.timeout).min(*end), Some(*end)),
        };
        let exchange = async {
            let resp = sender.send(req).await?;
            let status = resp.status().as_u16();
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                frame?;
            }
            Ok::<u16, hyper::Error>(status)
        };
        let result = tokio::time::timeout_at(deadline.into(), exchange).await;
        let done = Instant::now();
        let measured = match &shared.pace {
            Pace::Open(_) => measured_ticket,
            Pace::Closed { measure_from, end } => done >= *measure_from && done <= *end,
        };
        if measured && due.is_some_and(|d| sent > d + LATE) {
            lock(rec).late += 1;
        }
        match result {
            Ok(Ok(status)) => {
                shared.progress.fetch_add(1, Ordering::Relaxed);
                if measured {
                    lock(rec).response(status, done - origin);
                }
            }
            Ok(Err(_)) => {
                if measured {
                    lock(rec).failure(Failure::Io);
                }
                return End::Reconnect;
            }
            Err(_) => {
                if run_end == Some(deadline) {
                    // Cut off by the end of a closed-loop run, not by the server.
                    return End::Done;
                }
                if measured {
                    lock(rec).failure(Failure::Timeout);
                }
                if !shared.http2 {
                    return End::Reconnect;
                }
            }
        }
    }
}
