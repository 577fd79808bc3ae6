//! What is remembered about tokens, by the SHA-256 of their text: verified identities until
//! their token's 15 minutes end (bounded, the least recently used of a full set evicted),
//! tokens STS rejected for [`NEGATIVE_TTL`], and the STS calls in flight, so concurrent
//! requests with one new token share one call.
//!
//! Every request with a token looks it up, so [`TokenCache::lookup`] takes no lock and
//! allocates nothing: both tables are [`ClockTable`]s. Only what follows a miss — joining or
//! starting the STS call, recording its answer — takes a mutex, once per STS call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::OnceCell;

use super::clock::ClockTable;
pub use super::clock::Digest;
use super::Verdict;

/// How long a token STS rejected is refused without asking again.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(10);

/// One STS call that concurrent requests with the same token wait on.
pub type Flight = Arc<OnceCell<Verdict>>;

/// What the cache knows about a token.
#[derive(Debug)]
pub enum Lookup<V> {
    /// Verified, and not yet at the end of its 15 minutes.
    Verified(Arc<V>),
    /// STS rejected it less than [`NEGATIVE_TTL`] ago.
    Rejected,
    /// Nothing: ask STS (or wait for the call already asked).
    Unknown,
}

/// The token cache; see the module docs.
#[derive(Debug)]
pub struct TokenCache<V> {
    /// Verified identities, until their token's 15 minutes end (wall clock).
    verified: ClockTable<Arc<V>, SystemTime>,
    /// Tokens STS rejected, until [`NEGATIVE_TTL`] after (monotonic clock); as many as
    /// verified ones, so junk tokens cannot grow it without limit.
    rejected: ClockTable<(), Instant>,
    in_flight: Mutex<HashMap<Digest, Flight>>,
}

impl<V> TokenCache<V> {
    /// A cache of at most `capacity` verified tokens (and as many rejected ones).
    pub fn new(capacity: usize) -> Self {
        Self {
            verified: ClockTable::new(capacity),
            rejected: ClockTable::new(capacity),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Flight>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// What is known about `digest` at `now` (wall clock for token expiry, `instant` for the
    /// negative cache). Takes no lock.
    pub fn lookup(&self, digest: &Digest, now: SystemTime, instant: Instant) -> Lookup<V> {
        if let Some(value) = self.verified.get(digest, |expires_at| now <= *expires_at) {
            return Lookup::Verified(value);
        }
        if self
            .rejected
            .get(digest, |until| instant < *until)
            .is_some()
        {
            return Lookup::Rejected;
        }
        Lookup::Unknown
    }

    /// The in-flight call for `digest`, created if there is none.
    pub fn flight(&self, digest: &Digest) -> Flight {
        Arc::clone(self.in_flight().entry(*digest).or_default())
    }

    /// Records what STS answered for `digest` and ends its flight. Every request that waited
    /// on the flight calls this; the first records the answer, before the flight ends, so a
    /// request arriving in between finds the answer instead of starting a second call.
    pub fn settle(&self, digest: &Digest, flight: &Flight, outcome: Settled<V>, instant: Instant) {
        let mut in_flight = self.in_flight();
        if !in_flight
            .get(digest)
            .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            return;
        }
        match outcome {
            Settled::Verified(value, expires_at) => {
                let now = SystemTime::now();
                self.verified
                    .insert(*digest, value, expires_at, |at| now > *at);
            }
            Settled::Rejected => {
                self.rejected
                    .insert(*digest, (), instant + NEGATIVE_TTL, |until| {
                        instant >= *until
                    });
            }
            Settled::Unavailable => {}
        }
        in_flight.remove(digest);
    }

    /// Number of verified tokens held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.verified.len()
    }
}

/// How an STS call ended, for [`TokenCache::settle`].
#[derive(Debug)]
pub enum Settled<V> {
    /// Verified until this time.
    Verified(Arc<V>, SystemTime),
    /// Rejected by STS: remembered for [`NEGATIVE_TTL`].
    Rejected,
    /// STS did not answer: nothing is remembered.
    Unavailable,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Digest = [7; 32];

    fn flight_and_settle(cache: &TokenCache<u32>, outcome: Settled<u32>, instant: Instant) {
        let f = cache.flight(&T);
        cache.settle(&T, &f, outcome, instant);
    }

    #[test]
    fn a_verified_token_is_served_from_the_cache_until_its_15_minutes_end() {
        let cache = TokenCache::new(4);
        let now = SystemTime::now();
        let i = Instant::now();
        flight_and_settle(
            &cache,
            Settled::Verified(Arc::new(1), now + Duration::from_secs(60)),
            i,
        );
        assert!(matches!(cache.lookup(&T, now, i), Lookup::Verified(v) if *v == 1));
        let later = now + Duration::from_secs(61);
        assert!(matches!(cache.lookup(&T, later, i), Lookup::Unknown));
    }

    #[test]
    fn a_rejected_token_is_refused_for_10_seconds_then_asked_again() {
        let cache = TokenCache::<u32>::new(4);
        let i = Instant::now();
        flight_and_settle(&cache, Settled::Rejected, i);
        let now = SystemTime::now();
        assert!(matches!(
            cache.lookup(&T, now, i + Duration::from_secs(9)),
            Lookup::Rejected
        ));
        assert!(matches!(
            cache.lookup(&T, now, i + NEGATIVE_TTL),
            Lookup::Unknown
        ));
    }

    #[test]
    fn an_unavailable_sts_leaves_nothing_remembered() {
        let cache = TokenCache::<u32>::new(4);
        let i = Instant::now();
        flight_and_settle(&cache, Settled::Unavailable, i);
        assert!(matches!(
            cache.lookup(&T, SystemTime::now(), i),
            Lookup::Unknown
        ));
    }

    #[test]
    fn concurrent_requests_with_one_token_share_one_flight_until_it_settles() {
        let cache = TokenCache::<u32>::new(4);
        let a = cache.flight(&T);
        let b = cache.flight(&T);
        assert!(Arc::ptr_eq(&a, &b));
        cache.settle(&T, &a, Settled::Unavailable, Instant::now());
        assert!(!Arc::ptr_eq(&a, &cache.flight(&T)));
    }

    #[test]
    fn the_verified_cache_is_bounded() {
        let cache = TokenCache::<u32>::new(3);
        let (now, i) = (SystemTime::now(), Instant::now());
        for n in 0..10u8 {
            let d = [n; 32];
            let f = cache.flight(&d);
            let until = now + Duration::from_secs(60);
            cache.settle(&d, &f, Settled::Verified(Arc::new(u32::from(n)), until), i);
        }
        assert_eq!(cache.len(), 3);
        assert!(matches!(cache.lookup(&[9; 32], now, i), Lookup::Verified(v) if *v == 9));
    }

    #[test]
    fn only_the_first_request_of_a_flight_records_its_answer() {
        let cache = TokenCache::<u32>::new(4);
        let (now, i) = (SystemTime::now(), Instant::now());
        let f = cache.flight(&T);
        let until = now + Duration::from_secs(60);
        cache.settle(&T, &f, Settled::Verified(Arc::new(1), until), i);
        cache.settle(&T, &f, Settled::Verified(Arc::new(2), until), i);
        assert!(matches!(cache.lookup(&T, now, i), Lookup::Verified(v) if *v == 1));
    }

    #[test]
    fn the_negative_cache_is_bounded() {
        let cache = TokenCache::<u32>::new(2);
        let i = Instant::now();
        for n in 0..5u8 {
            let d = [n; 32];
            let f = cache.flight(&d);
            cache.settle(&d, &f, Settled::Rejected, i);
        }
        assert_eq!(cache.rejected.len(), 2);
    }
}
