//! The open-loop schedule: request `i` is due at `start + i / rate`, whatever happened to
//! earlier requests.
//!
//! A pacing thread releases one permit per due request, at its due time (a thread sleep is
//! precise to tens of microseconds, where the async timer rounds to milliseconds). Connection
//! tasks that are free take a permit, then the next ticket number, in the order they became
//! free: this is a FIFO queue of scheduled requests served by the connection pool, so a
//! request that finds every connection busy waits, and that wait is part of its latency,
//! which is always measured from its due time (coordinated omission corrected).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Tickets of one open-loop run.
#[derive(Debug)]
pub struct Schedule {
    start: Instant,
    interval_ns: f64,
    total: u64,
    measured_from: u64,
    next: AtomicU64,
    permits: Semaphore,
}

/// One scheduled request.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    /// Its sequence number (selects which request is sent).
    pub index: u64,
    /// When it is due.
    pub due: Instant,
    /// Whether it is scheduled in the measured period (not the warm-up).
    pub measured: bool,
}

impl Schedule {
    /// `rate` requests per second from `start`: the first `warmup` of them discarded, then
    /// `duration` measured.
    pub fn new(start: Instant, rate: f64, warmup: Duration, duration: Duration) -> Schedule {
        let interval_ns = 1e9 / rate;
        let measured_from = (warmup.as_secs_f64() * rate).ceil() as u64;
        let total = ((warmup + duration).as_secs_f64() * rate).ceil() as u64;
        Schedule {
            start,
            interval_ns,
            total,
            measured_from,
            next: AtomicU64::new(0),
            permits: Semaphore::new(0),
        }
    }

    /// When request `index` is due.
    pub fn due(&self, index: u64) -> Instant {
        self.start + Duration::from_nanos((index as f64 * self.interval_ns) as u64)
    }

    /// Requests scheduled in the measured period.
    pub fn measured(&self) -> u64 {
        self.total - self.measured_from
    }

    /// Waits until a request is due and not yet taken; `None` once the schedule is over.
    pub async fn take(&self) -> Option<Ticket> {
        self.permits.acquire().await.ok()?.forget();
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        (index < self.total).then(|| Ticket {
            index,
            due: self.due(index),
            measured: index >= self.measured_from,
        })
    }

    /// Starts the pacing thread. When the last request is released it also releases one
    /// permit per `takers`, so that every task waiting in [`Schedule::take`] sees the end.
    pub fn pace(self: &Arc<Self>, takers: usize) -> std::io::Result<JoinHandle<()>> {
        let s = Arc::clone(self);
        std::thread::Builder::new()
            .name("trellis-load-pacer".into())
            .spawn(move || {
                let mut released = 0u64;
                while released < s.total {
                    let now = Instant::now();
                    let elapsed = now.saturating_duration_since(s.start).as_nanos() as f64;
                    let due = ((elapsed / s.interval_ns).floor() as u64 + 1).min(s.total);
                    if due > released {
                        s.permits.add_permits((due - released) as usize);
                        released = due;
                    }
                    if released < s.total {
                        let next = s.due(released);
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        }
                    }
                }
                s.permits.add_permits(takers);
            })
    }
}
