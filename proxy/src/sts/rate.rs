//! A token bucket over STS calls: a flood of new tokens that pass the local checks (each one
//! a fresh signature over nothing useful) must not turn the proxy into an STS amplifier, nor
//! spend the account's STS quota. Past it, callers with new tokens get `503` until the bucket
//! refills; cached tokens are unaffected.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Sustained STS calls per second.
pub const STS_CALLS_PER_SECOND: f64 = 25.0;
/// Calls allowed at once after a quiet period.
pub const STS_CALL_BURST: f64 = 50.0;

/// See the module docs.
#[derive(Debug)]
pub struct RateLimit {
    state: Mutex<(f64, Instant)>,
    per_second: f64,
    burst: f64,
}

impl RateLimit {
    /// A full bucket of `burst`, refilled at `per_second`.
    pub fn new(per_second: f64, burst: f64, now: Instant) -> Self {
        Self {
            state: Mutex::new((burst, now)),
            per_second,
            burst,
        }
    }

    /// Takes one call from the bucket at `now`; `false` when it is empty.
    pub fn try_acquire(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sts_calls_past_the_burst_are_refused_until_the_bucket_refills() {
        let t = Instant::now();
        let limit = RateLimit::new(2.0, 3.0, t);
        assert!((0..3).all(|_| limit.try_acquire(t)));
        assert!(!limit.try_acquire(t));
        assert!(limit.try_acquire(t + Duration::from_millis(500)));
        assert!(!limit.try_acquire(t + Duration::from_millis(500)));
        assert!((0..3).all(|_| limit.try_acquire(t + Duration::from_secs(60))));
        assert!(!limit.try_acquire(t + Duration::from_secs(60)));
    }
}
