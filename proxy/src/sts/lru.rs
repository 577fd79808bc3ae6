//! A bounded least-recently-used map over a slab: lookups, touches, inserts and evictions are
//! O(1) and allocate nothing once the slab has grown to its bound.

use std::collections::HashMap;
use std::hash::Hash;

const NONE: usize = usize::MAX;

#[derive(Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    prev: usize,
    next: usize,
}

/// At most `capacity` entries; inserting one more evicts the least recently used.
#[derive(Debug)]
pub struct Lru<K, V> {
    index: HashMap<K, usize>,
    nodes: Vec<Node<K, V>>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
    capacity: usize,
}

impl<K: Hash + Eq + Copy, V> Lru<K, V> {
    /// An empty map holding at most `capacity` (at least 1) entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            index: HashMap::new(),
            nodes: Vec::new(),
            head: NONE,
            tail: NONE,
            capacity: capacity.max(1),
        }
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The value of `key`, made the most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let i = *self.index.get(key)?;
        self.unlink(i);
        self.push_front(i);
        Some(&self.nodes[i].value)
    }

    /// Inserts or replaces `key`; returns the evicted entry's key, if one was.
    pub fn insert(&mut self, key: K, value: V) -> Option<K> {
        if let Some(&i) = self.index.get(&key) {
            self.nodes[i].value = value;
            self.unlink(i);
            self.push_front(i);
            return None;
        }
        if self.nodes.len() < self.capacity {
            let i = self.nodes.len();
            self.nodes.push(Node {
                key,
                value,
                prev: NONE,
                next: NONE,
            });
            self.index.insert(key, i);
            self.push_front(i);
            return None;
        }
        // Full: reuse the least recently used slot.
        let i = self.tail;
        self.unlink(i);
        let old = std::mem::replace(
            &mut self.nodes[i],
            Node {
                key,
                value,
                prev: NONE,
                next: NONE,
            },
        );
        let evicted = self.index.get(&old.key) == Some(&i);
        if evicted {
            self.index.remove(&old.key);
        }
        self.index.insert(key, i);
        self.push_front(i);
        evicted.then_some(old.key)
    }

    /// Forgets `key` (its slot becomes the next one reused).
    pub fn remove(&mut self, key: &K) {
        let Some(i) = self.index.remove(key) else {
            return;
        };
        self.unlink(i);
        // Park the slot at the tail so the next insert into a full map reuses it; its key is
        // no longer indexed, so a stale node is never found.
        self.push_back(i);
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
        if prev == NONE {
            if self.head == i {
                self.head = next;
            }
        } else {
            self.nodes[prev].next = next;
        }
        if next == NONE {
            if self.tail == i {
                self.tail = prev;
            }
        } else {
            self.nodes[next].prev = prev;
        }
        self.nodes[i].prev = NONE;
        self.nodes[i].next = NONE;
    }

    fn push_front(&mut self, i: usize) {
        self.nodes[i].next = self.head;
        if self.head != NONE {
            self.nodes[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NONE {
            self.tail = i;
        }
    }

    fn push_back(&mut self, i: usize) {
        self.nodes[i].prev = self.tail;
        if self.tail != NONE {
            self.nodes[self.tail].next = i;
        }
        self.tail = i;
        if self.head == NONE {
            self.head = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_is_evicted_first() {
        let mut lru = Lru::new(2);
        assert_eq!(lru.insert(1, "a"), None);
        assert_eq!(lru.insert(2, "b"), None);
        assert_eq!(lru.get(&1), Some(&"a"));
        assert_eq!(lru.insert(3, "c"), Some(2));
        assert_eq!(lru.get(&2), None);
        assert_eq!(lru.get(&1), Some(&"a"));
        assert_eq!(lru.get(&3), Some(&"c"));
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn a_removed_entry_is_gone_and_its_slot_is_reused_first() {
        let mut lru = Lru::new(2);
        lru.insert(1, 10);
        lru.insert(2, 20);
        lru.remove(&2);
        assert_eq!(lru.get(&2), None);
        assert_eq!(lru.insert(3, 30), None);
        assert_eq!(lru.get(&1), Some(&10));
        assert_eq!(lru.get(&3), Some(&30));
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn reusing_a_parked_slot_never_unindexes_a_live_entry_of_the_same_key() {
        let mut lru = Lru::new(3);
        lru.insert(1, 1);
        lru.remove(&1);
        lru.insert(1, 2);
        lru.insert(2, 2);
        lru.insert(3, 3);
        assert_eq!(lru.get(&1), Some(&2));
    }

    #[test]
    fn replacing_a_key_keeps_one_entry() {
        let mut lru = Lru::new(2);
        lru.insert(1, 1);
        lru.insert(1, 2);
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.get(&1), Some(&2));
    }
}
