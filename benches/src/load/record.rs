//! What each connection task records, privately (no sharing, no locks on the hot path), merged
//! once at the end.

use std::time::Duration;

use hdrhistogram::Histogram;

/// The largest latency recorded exactly; longer ones are recorded as this.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// Why a request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The TCP connection (or the HTTP/2 handshake) failed.
    Connect,
    /// The exchange failed on an established connection.
    Io,
    /// No complete response within `--timeout`.
    Timeout,
}

/// Counts and latencies of the measured period.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Latency in nanoseconds, 3 significant digits.
    pub latency: Histogram<u64>,
    /// Responses by status code (index = code).
    pub status: Box<[u64; 1000]>,
    /// Failed connects.
    pub connect: u64,
    /// Failed exchanges.
    pub io: u64,
    /// Timed-out requests.
    pub timeout: u64,
    /// Open loop: sends more than 1 ms after their scheduled time.
    pub late: u64,
}

impl Recorder {
    /// An empty recorder: 1 ns to 1 h at 3 significant digits.
    pub fn new() -> Result<Recorder, hdrhistogram::CreationError> {
        Ok(Recorder {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)?,
            status: Box::new([0; 1000]),
            connect: 0,
            io: 0,
            timeout: 0,
            late: 0,
        })
    }

    /// A response with `status` after `latency`.
    #[inline]
    pub fn response(&mut self, status: u16, latency: Duration) {
        self.latency
            .saturating_record((latency.as_nanos() as u64).clamp(1, MAX_LATENCY_NS));
        if let Some(c) = self.status.get_mut(usize::from(status)) {
            *c += 1;
        }
    }

    /// A request that got no response.
    #[inline]
    pub fn failure(&mut self, failure: Failure) {
        match failure {
            Failure::Connect => self.connect += 1,
            Failure::Io => self.io += 1,
            Failure::Timeout => self.timeout += 1,
        }
    }

    /// Adds another recorder's counts to this one.
    pub fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides: addition cannot fail.
        let _ = self.latency.add(&other.latency);
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        self.connect += other.connect;
        self.io += other.io;
        self.timeout += other.timeout;
        self.late += other.late;
    }

    /// Responses of any status.
    pub fn responses(&self) -> u64 {
        self.latency.len()
    }
}
