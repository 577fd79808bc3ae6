//! Waiting for something another thread or process does, without sleeping a fixed time: a
//! poll every [`EVERY`], bounded both in time and in the number of tries (a slow condition
//! cannot turn into a stuck CI job, and a fast clock cannot turn it into a busy loop).

use std::future::Future;
use std::time::{Duration, Instant};

/// The pause between two tries.
pub const EVERY: Duration = Duration::from_millis(20);

/// How many tries fit into `limit` (at least one).
fn tries(limit: Duration) -> u128 {
    limit.as_millis() / EVERY.as_millis() + 1
}

/// Polls `f` until it returns `Some`, for at most `limit`; `None` when it never did.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    for _ in 0..tries(limit) {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(EVERY);
    }
    None
}

/// [`eventually`] for async tests: the runtime keeps serving while it waits.
pub async fn eventually_async<T, F>(limit: Duration, mut f: impl FnMut() -> F) -> Option<T>
where
    F: Future<Output = Option<T>>,
{
    let end = Instant::now() + limit;
    for _ in 0..tries(limit) {
        let remaining = end.saturating_duration_since(Instant::now());
        if let Ok(Some(v)) = tokio::time::timeout(remaining.max(EVERY), f()).await {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        tokio::time::sleep(EVERY).await;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_after_the_limit() {
        let started = Instant::now();
        let mut calls = 0;
        assert_eq!(
            eventually(Duration::from_millis(100), || {
                calls += 1;
                None::<()>
            }),
            None
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!((1..=6).contains(&calls), "{calls}");
    }

    #[test]
    fn returns_the_first_value() {
        let mut n = 0;
        assert_eq!(
            eventually(Duration::from_secs(5), || {
                n += 1;
                (n == 3).then_some(n)
            }),
            Some(3)
        );
    }
}
