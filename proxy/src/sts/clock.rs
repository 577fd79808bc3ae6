//! A bounded table of tokens whose lookups take no lock: every cached request looks a token up
//! here, and the hot path takes no locks.
//!
//! The table is set-associative, as a CPU cache is: a token's SHA-256 picks its set (a run of
//! at most [`WAYS`] slots), so no index has to be shared between readers and writers. A reader
//! scans the set's fingerprints (plain atomic loads, one cache line), loads the one matching
//! slot through `arc-swap` (lock-free) and compares the whole digest; on a hit it sets the
//! slot's reference bit. Writers (the STS answers, at most the STS call rate) are serialized by
//! a mutex that readers never touch, and pick a victim in the set by CLOCK: an empty or expired
//! slot first, else the first slot whose reference bit is clear, clearing bits on the way — an
//! approximation of least-recently-used within the set that needs no list to splice on a hit.
//!
//! The bound is exact: the sets together hold `capacity` slots.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;

/// SHA-256 of a token's text.
pub type Digest = [u8; 32];

/// Slots per set.
pub const WAYS: usize = 8;

struct Stored<T, D> {
    digest: Digest,
    value: T,
    deadline: D,
}

/// See the module docs. `T` is what a hit returns (cloned), `D` the deadline the caller's
/// `alive`/`expired` predicates judge.
pub struct ClockTable<T, D> {
    slots: Box<[ArcSwapOption<Stored<T, D>>]>,
    /// Non-zero digest bits of the stored token, 0 for an empty slot; read before the slot so
    /// a miss costs no `arc-swap` load. Only a hint: a hit is decided on the whole digest.
    fingerprints: Box<[AtomicU64]>,
    /// Set on a hit, cleared by the CLOCK hand.
    referenced: Box<[AtomicBool]>,
    sets: usize,
    /// Each set's CLOCK hand (an offset in the set). Writers only.
    hands: Mutex<Box<[usize]>>,
}

impl<T, D> fmt::Debug for ClockTable<T, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClockTable")
            .field("capacity", &self.slots.len())
            .field("sets", &self.sets)
            .finish_non_exhaustive()
    }
}

fn word(digest: &Digest, at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[at..at + 8]);
    u64::from_le_bytes(bytes)
}

fn fingerprint(digest: &Digest) -> u64 {
    word(digest, 8) | 1
}

impl<T: Clone, D> ClockTable<T, D> {
    /// A table of `capacity` (at least 1) slots.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let sets = capacity.div_ceil(WAYS);
        Self {
            slots: (0..capacity).map(|_| ArcSwapOption::empty()).collect(),
            fingerprints: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            referenced: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            sets,
            hands: Mutex::new(vec![0; sets].into_boxed_slice()),
        }
    }

    fn set_of(&self, digest: &Digest) -> usize {
        // Multiply-shift: the top bits of a uniform 64-bit word, scaled to the set count.
        let scaled = u128::from(word(digest, 0)) * self.sets as u128;
        usize::try_from(scaled >> 64).unwrap_or(0)
    }

    /// The slots of `set`: the capacity split as evenly as the sets allow.
    fn range(&self, set: usize) -> Range<usize> {
        let n = self.slots.len();
        set * n / self.sets..(set + 1) * n / self.sets
    }

    /// The value stored for `digest` if `alive` says its deadline has not passed; takes no
    /// lock and allocates nothing.
    pub fn get(&self, digest: &Digest, alive: impl Fn(&D) -> bool) -> Option<T> {
        let fp = fingerprint(digest);
        for i in self.range(self.set_of(digest)) {
            if self.fingerprints[i].load(Ordering::Relaxed) != fp {
                continue;
            }
            let guard = self.slots[i].load();
            let Some(stored) = guard.as_ref() else {
                continue;
            };
            if stored.digest != *digest {
                continue;
            }
            if !alive(&stored.deadline) {
                return None;
            }
            // Only write the shared bit when it changes, so a hot token does not bounce its
            // cache line between cores.
            if !self.referenced[i].load(Ordering::Relaxed) {
                self.referenced[i].store(true, Ordering::Relaxed);
            }
            return Some(stored.value.clone());
        }
        None
    }

    /// Stores `value` for `digest` until `deadline`, replacing its earlier value; in a full
    /// set, an entry `expired` says is over goes first, then the CLOCK victim. Returns the
    /// digest of a live entry evicted for it, if one was.
    pub fn insert(
        &self,
        digest: Digest,
        value: T,
        deadline: D,
        expired: impl Fn(&D) -> bool,
    ) -> Option<Digest> {
        let mut hands = self.hands.lock().unwrap_or_else(PoisonError::into_inner);
        let set = self.set_of(&digest);
        let range = self.range(set);
        let fp = fingerprint(&digest);
        let mut free = None;
        for i in range.clone() {
            match self.slots[i].load().as_ref() {
                Some(s) if s.digest == digest => {
                    self.place(i, digest, fp, value, deadline);
                    return None;
                }
                Some(s) if expired(&s.deadline) => free = free.or(Some(i)),
                Some(_) => {}
                None => free = free.or(Some(i)),
            }
        }
        if let Some(i) = free {
            self.place(i, digest, fp, value, deadline);
            return None;
        }
        let hand = &mut hands[set];
        let len = range.len();
        // Two turns at most: the first clears every reference bit it passes.
        let mut victim = range.start + *hand % len;
        for _ in 0..2 * len {
            victim = range.start + *hand % len;
            *hand = (*hand + 1) % len;
            if !self.referenced[victim].swap(false, Ordering::Relaxed) {
                break;
            }
        }
        let evicted = self.slots[victim].load().as_ref().map(|s| s.digest);
        self.place(victim, digest, fp, value, deadline);
        evicted
    }

    fn place(&self, i: usize, digest: Digest, fp: u64, value: T, deadline: D) {
        self.fingerprints[i].store(0, Ordering::Relaxed);
        self.slots[i].store(Some(Arc::new(Stored {
            digest,
            value,
            deadline,
        })));
        self.referenced[i].store(false, Ordering::Relaxed);
        self.fingerprints[i].store(fp, Ordering::Release);
    }

    /// Entries held, live or expired.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.load().is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest whose set in a table of `sets` sets is `set`, told apart by `n`.
    fn digest_in(table: &ClockTable<u32, u32>, set: usize, n: u8) -> Digest {
        (0..=u16::MAX)
            .map(|k| {
                let mut d = [n; 32];
                d[..2].copy_from_slice(&k.to_le_bytes());
                d[7] = k.to_le_bytes()[0];
                d
            })
            .find(|d| table.set_of(d) == set)
            .expect("a digest in the set")
    }

    fn alive(at: u32) -> impl Fn(&u32) -> bool {
        move |deadline| at <= *deadline
    }

    fn expired(at: u32) -> impl Fn(&u32) -> bool {
        move |deadline| at > *deadline
    }

    #[test]
    fn a_recently_used_entry_outlives_one_unused_since_it_was_stored() {
        let table = ClockTable::<u32, u32>::new(2);
        let (a, b, c) = ([1; 32], [2; 32], [3; 32]);
        assert_eq!(table.insert(a, 1, 100, expired(0)), None);
        assert_eq!(table.insert(b, 2, 100, expired(0)), None);
        assert_eq!(table.get(&a, alive(0)), Some(1));
        assert_eq!(table.insert(c, 3, 100, expired(0)), Some(b));
        assert_eq!(table.get(&b, alive(0)), None);
        assert_eq!(table.get(&a, alive(0)), Some(1));
        assert_eq!(table.get(&c, alive(0)), Some(3));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn an_expired_entry_makes_room_before_any_live_one_is_evicted() {
        let table = ClockTable::<u32, u32>::new(2);
        let (a, b, c) = ([1; 32], [2; 32], [3; 32]);
        table.insert(a, 1, 10, expired(0));
        table.insert(b, 2, 100, expired(0));
        assert_eq!(table.get(&a, alive(11)), None, "past its deadline");
        assert_eq!(table.insert(c, 3, 100, expired(11)), None);
        assert_eq!(table.get(&b, alive(11)), Some(2));
        assert_eq!(table.get(&c, alive(11)), Some(3));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn the_table_never_holds_more_than_its_capacity() {
        for capacity in [1, 2, 7, 8, 9, 100, 1000] {
            let table = ClockTable::<u32, u32>::new(capacity);
            for n in 0..3 * capacity as u32 {
                let mut d = [0u8; 32];
                d[..4].copy_from_slice(&n.to_le_bytes());
                d[4..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9).to_le_bytes());
                table.insert(d, n, 100, expired(0));
            }
            assert!(table.len() <= capacity, "{capacity}: {}", table.len());
            let sizes: Vec<usize> = (0..table.sets).map(|s| table.range(s).len()).collect();
            assert_eq!(sizes.iter().sum::<usize>(), capacity);
            assert!(sizes.iter().all(|&n| (1..=WAYS).contains(&n)), "{sizes:?}");
        }
    }

    #[test]
    fn replacing_a_token_keeps_one_entry() {
        let table = ClockTable::<u32, u32>::new(4);
        table.insert([1; 32], 1, 100, expired(0));
        table.insert([1; 32], 2, 100, expired(0));
        assert_eq!(table.len(), 1);
        assert_eq!(table.get(&[1; 32], alive(0)), Some(2));
    }

    #[test]
    fn a_token_of_another_set_is_never_evicted_by_a_full_set() {
        let table = ClockTable::<u32, u32>::new(16);
        assert_eq!(table.sets, 2);
        let other = digest_in(&table, 1, 200);
        table.insert(other, 7, 100, expired(0));
        for n in 0..20 {
            table.insert(digest_in(&table, 0, n), 0, 100, expired(0));
        }
        assert_eq!(table.get(&other, alive(0)), Some(7));
    }

    #[test]
    fn a_lookup_racing_inserts_and_evictions_never_returns_another_tokens_value() {
        let table = Arc::new(ClockTable::<u32, u32>::new(8));
        let digest = |n: u32| {
            let mut d = [0u8; 32];
            d[..4].copy_from_slice(&n.to_le_bytes());
            d
        };
        let writer = {
            let table = Arc::clone(&table);
            std::thread::spawn(move || {
                for n in 0..20_000u32 {
                    table.insert(digest(n % 64), n % 64, 100, expired(0));
                }
            })
        };
        for round in 0..20_000u32 {
            let n = round % 64;
            if let Some(v) = table.get(&digest(n), alive(0)) {
                assert_eq!(v, n);
            }
        }
        writer.join().unwrap();
        for n in 0..64 {
            if let Some(v) = table.get(&digest(n), alive(0)) {
                assert_eq!(v, n);
            }
        }
        assert!(table.len() <= 8);
    }
}
