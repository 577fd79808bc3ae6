//! The open-loop schedule: request `i` is due at `start + i / rate`, whatever happened to
//! earlier requests.
//!
//! A pacer releases one permit per due request, at its due time. Connection
//! tasks that are free take a permit, then the next ticket number, in the order they became
//! free: this is a FIFO queue of scheduled requests served by the connection pool, so a
//! request that finds every connection busy waits, and that wait is part of its latency,
//! which is always measured from its due time (coordinated omission corrected).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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

    /// Releases the permit of each request at its due time, then one per `takers` so that
    /// every task waiting in [`Schedule::take`] sees the end. On Linux this is a task woken by
    /// a timerfd in the runtime's own event loop: precise to microseconds (the runtime's timer
    /// rounds to milliseconds) without a second thread to wake on every request.
    pub async fn pace(self: Arc<Self>, takers: usize) -> std::io::Result<()> {
        let result = self.release_all().await;
        match &result {
            Ok(()) => self.permits.add_permits(takers),
            // Takers must not wait for permits that will never come.
            Err(_) => self.permits.close(),
        }
        result
    }

    /// Permits for every request due by now; returns how many are released in all.
    fn release_due(&self, released: u64) -> u64 {
        let elapsed = Instant::now()
            .saturating_duration_since(self.start)
            .as_nanos() as f64;
        let due = ((elapsed / self.interval_ns).floor() as u64 + 1).min(self.total);
        if due > released {
            self.permits.add_permits((due - released) as usize);
            return due;
        }
        released
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    async fn release_all(&self) -> std::io::Result<()> {
        use rustix::time::{
            clock_gettime, timerfd_create, timerfd_settime, ClockId, Itimerspec, TimerfdClockId,
            TimerfdFlags, TimerfdTimerFlags, Timespec,
        };
        use tokio::io::unix::AsyncFd;
        use tokio::io::Interest;

        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: `register_with_interest` needs the descriptor to stay open and unreplaced
        // while registered. The `OwnedFd` is moved into the `AsyncFd`, which owns it until it
        // deregisters and closes it on drop; nothing else ever sees the descriptor.
        #[expect(
            unsafe_code,
            reason = "tokio's AsyncFd registration is unsafe for I/O safety; the safe ways to pace at \
                      microseconds add a wake-up thread per request or an unmaintained crate"
        )]
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
        // `Instant` is CLOCK_MONOTONIC on Linux: one reading of both anchors the conversion.
        let (anchor, mono) = (Instant::now(), clock_gettime(ClockId::Monotonic));
        let mono_ns = mono.tv_sec as i128 * 1_000_000_000 + mono.tv_nsec as i128;
        let mut released = 0;
        loop {
            released = self.release_due(released);
            if released >= self.total {
                return Ok(());
            }
            let next = self.due(released);
            let at = mono_ns + next.saturating_duration_since(anchor).as_nanos() as i128
                - anchor.saturating_duration_since(next).as_nanos() as i128;
            let at = at.max(1);
            let spec = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    tv_sec: (at / 1_000_000_000) as _,
                    tv_nsec: (at % 1_000_000_000) as _,
                },
            };
            timerfd_settime(fd.get_ref(), TimerfdTimerFlags::ABSTIME, &spec)?;
            loop {
                let mut guard = fd.readable().await?;
                let mut expirations = [0u8; 8];
                match guard.try_io(|fd| {
                    rustix::io::read(fd.get_ref(), &mut expirations).map_err(std::io::Error::from)
                }) {
                    Ok(read) => {
                        read?;
                        break;
                    }
                    Err(_would_block) => continue,
                }
            }
        }
    }

    /// Elsewhere: a pacing thread (a thread sleep is precise to tens of microseconds).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    async fn release_all(self: &Arc<Self>) -> std::io::Result<()> {
        let s = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("trellis-load-pacer".into())
            .spawn(move || {
                let mut released = 0;
                loop {
                    released = s.release_due(released);
                    if released >= s.total {
                        return;
                    }
                    let next = s.due(released);
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                }
            })?;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(std::io::Error::other)?
            .map_err(|_| std::io::Error::other("the pacing thread panicked"))
    }
}
