//! What is remembered about tokens, by the SHA-256 of their text: verified identities until
//! their token's 15 minutes end (bounded, least recently used evicted), tokens STS rejected
//! for [`NEGATIVE_TTL`], and the STS calls in flight, so concurrent requests with one new
//! token share one call.
//!
//! One mutex guards the three maps; it is held for a hash lookup and a list splice, never
//! across an `.await` or an allocation on a hit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::OnceCell;

use super::lru::Lru;
use super::Verdict;

/// How long a token STS rejected is refused without asking again.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(10);

/// SHA-256 of a token's text.
pub type Digest = [u8; 32];

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

#[derive(Debug)]
struct Entry<V> {
    value: Arc<V>,
    expires_at: SystemTime,
}

#[derive(Debug)]
struct State<V> {
    verified: Lru<Digest, Entry<V>>,
    rejected: HashMap<Digest, Instant>,
    in_flight: HashMap<Digest, Flight>,
}

/// The token cache; see the module docs.
#[derive(Debug)]
pub struct TokenCache<V> {
    state: Mutex<State<V>>,
    /// Bound of the negative map, so junk tokens cannot grow it without limit.
    max_rejected: usize,
}

impl<V> TokenCache<V> {
    /// A cache of at most `capacity` verified tokens (and as many rejected ones).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                verified: Lru::new(capacity),
                rejected: HashMap::new(),
                in_flight: HashMap::new(),
            }),
            max_rejected: capacity.max(1),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is known about `digest` at `now` (wall clock for token expiry, `instant` for the
    /// negative cache).
    pub fn lookup(&self, digest: &Digest, now: SystemTime, instant: Instant) -> Lookup<V> {
        let mut state = self.state();
        if let Some(entry) = state.verified.get(digest) {
            if now <= entry.expires_at {
                return Lookup::Verified(Arc::clone(&entry.value));
            }
            state.verified.remove(digest);
            return Lookup::Unknown;
        }
        match state.rejected.get(digest) {
            Some(&until) if instant < until => Lookup::Rejected,
            Some(_) => {
                state.rejected.remove(digest);
                Lookup::Unknown
            }
            None => Lookup::Unknown,
        }
    }

    /// The in-flight call for `digest`, created if there is none; `true` when this caller
    /// created it.
    pub fn flight(&self, digest: &Digest) -> Flight {
        Arc::clone(self.state().in_flight.entry(*digest).or_default())
    }

    /// Records what STS answered for `digest` and ends its flight.
    pub fn settle(&self, digest: &Digest, flight: &Flight, outcome: Settled<V>, instant: Instant) {
        let mut state = self.state();
        if state
            .in_flight
            .get(digest)
            .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            state.in_flight.remove(digest);
        }
        match outcome {
            Settled::Verified(value, expires_at) => {
                state.verified.insert(*digest, Entry { value, expires_at });
            }
            Settled::Rejected => {
                if state.rejected.len() >= self.max_rejected {
                    state.rejected.retain(|_, until| *until > instant);
                }
                if state.rejected.len() < self.max_rejected {
                    state.rejected.insert(*digest, instant + NEGATIVE_TTL);
                }
            }
            Settled::Unavailable => {}
        }
    }

    /// Number of verified tokens held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.state().verified.len()
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
        assert_eq!(cache.len(), 0);
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
    fn the_negative_cache_is_bounded() {
        let cache = TokenCache::<u32>::new(2);
        let i = Instant::now();
        for n in 0..5u8 {
            let d = [n; 32];
            let f = cache.flight(&d);
            cache.settle(&d, &f, Settled::Rejected, i);
        }
        assert_eq!(cache.state().rejected.len(), 2);
    }
}
