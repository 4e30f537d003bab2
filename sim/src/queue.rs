//! The pending-event list: a radix heap on 128-bit keys `(time << 64) | sequence`.
//!
//! A discrete-event simulation only ever pops its smallest key and only pushes keys at or after
//! the one it last popped (nothing is scheduled in the past). A radix heap exploits exactly that
//! monotonicity: bucket `i` holds the keys whose highest bit differing from the last popped key
//! is bit `i - 1`, so a push is one XOR and one `leading_zeros`, and each entry moves down at most
//! a few buckets over its life, in cache-friendly sequential sweeps. Keys are unique (the
//! sequence number breaks ties), so equal times come out first-in first-out and a run is
//! deterministic. See Ahuja, Mehlhorn, Orlin and Tarjan, "Faster algorithms for the shortest path
//! problem" (1990), for the structure.
//!
//! The one non-monotone case, a push below the last key while the queue has already moved its
//! reference to a future event (an outside caller scheduling between `run_until` calls), is
//! handled by re-basing the whole queue: correct, and O(pending) only on that rare path.

/// Number of buckets: bucket 0 holds keys equal to `last`, bucket `i` those whose highest bit
/// differing from `last` is bit `i - 1`.
const BUCKETS: usize = 129;

/// An entry waiting in the queue.
struct Entry<E> {
    key: u128,
    event: E,
}

/// A monotone priority queue of events keyed by `(time, sequence)`.
pub(crate) struct EventQueue<E> {
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit `i` set iff bucket `i + 1` is non-empty (bucket 0 is checked directly).
    occupied: u128,
    /// The reference key: the last key moved to bucket 0; every queued key is ≥ it.
    last: u128,
    len: usize,
    /// An empty vector kept for its capacity, swapped in while a bucket is redistributed.
    spare: Vec<Entry<E>>,
}

/// Which bucket `key` belongs in relative to the reference key `last` (`key ≥ last`).
#[inline]
fn bucket_of(key: u128, last: u128) -> usize {
    (u128::BITS - (key ^ last).leading_zeros()) as usize
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> Self {
        EventQueue {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: 0,
            last: 0,
            len: 0,
            spare: Vec::new(),
        }
    }

    /// Number of queued entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues `event` under `key`.
    #[inline]
    pub(crate) fn push(&mut self, key: u128, event: E) {
        if key < self.last {
            self.rebase(key);
        }
        self.insert(Entry { key, event });
        self.len += 1;
    }

    /// The smallest key, without removing it.
    #[inline]
    pub(crate) fn peek_key(&mut self) -> Option<u128> {
        if self.len == 0 {
            return None;
        }
        self.bring_min_to_front();
        Some(self.last)
    }

    /// Removes and returns the entry with the smallest key.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(u128, E)> {
        if self.len == 0 {
            return None;
        }
        self.bring_min_to_front();
        let entry = self.buckets[0].pop().expect("bucket 0 holds the minimum");
        self.len -= 1;
        Some((entry.key, entry.event))
    }

    #[inline]
    fn insert(&mut self, entry: Entry<E>) {
        let bucket = bucket_of(entry.key, self.last);
        if bucket > 0 {
            self.occupied |= 1 << (bucket - 1);
        }
        self.buckets[bucket].push(entry);
    }

    /// Makes bucket 0 hold the minimum: redistributes the first non-empty bucket around its
    /// smallest key. Every entry of bucket `i` lands in a bucket below `i`.
    #[inline]
    fn bring_min_to_front(&mut self) {
        if !self.buckets[0].is_empty() {
            return;
        }
        let bucket = self.occupied.trailing_zeros() as usize + 1;
        self.occupied &= !(1 << (bucket - 1));
        let mut moving = std::mem::replace(&mut self.buckets[bucket], std::mem::take(&mut self.spare));
        self.last = moving.iter().map(|e| e.key).min().expect("occupied bucket is non-empty");
        for entry in moving.drain(..) {
            self.insert(entry);
        }
        self.spare = moving;
    }

    /// Lowers the reference key to `key`, re-filing every entry (the rare non-monotone push).
    #[cold]
    fn rebase(&mut self, key: u128) {
        let mut all = Vec::with_capacity(self.len);
        for bucket in &mut self.buckets {
            all.append(bucket);
        }
        self.occupied = 0;
        self.last = key;
        for entry in all {
            self.insert(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a sorted model: any interleaving of monotone pushes, peeks, pops and
        /// occasional below-reference pushes pops keys in exactly sorted order.
        #[test]
        fn pops_in_key_order(ops in prop::collection::vec((0u8..4, 0u64..1_000_000), 1..400)) {
            let mut queue = EventQueue::new();
            let mut model: Vec<u128> = Vec::new();
            let mut popped_floor: u128 = 0;
            let mut seq: u64 = 0;
            for (op, value) in ops {
                match op {
                    0 | 1 => {
                        // Schedule at or after the last popped time, like a model does.
                        let time = (popped_floor >> 64) as u64 + value;
                        seq += 1;
                        let key = (u128::from(time) << 64) | u128::from(seq);
                        queue.push(key, key);
                        model.push(key);
                    }
                    2 => {
                        model.sort_unstable_by(|a, b| b.cmp(a));
                        prop_assert_eq!(queue.peek_key(), model.last().copied());
                    }
                    _ => {
                        model.sort_unstable_by(|a, b| b.cmp(a));
                        let expected = model.pop();
                        let got = queue.pop().map(|(k, e)| { assert_eq!(k, e); k });
                        prop_assert_eq!(got, expected);
                        if let Some(k) = got { popped_floor = k; }
                    }
                }
                prop_assert_eq!(queue.len(), model.len());
            }
            model.sort_unstable();
            for expected in model {
                prop_assert_eq!(queue.pop().map(|(k, _)| k), Some(expected));
            }
            prop_assert!(queue.pop().is_none());
        }
    }
}
