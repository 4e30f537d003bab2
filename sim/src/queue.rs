//! The pending-event list: a radix heap on event times, sixteen-way, with a first-in first-out
//! bucket for the events due at the current reference time.
//!
//! A discrete-event simulation only ever takes its earliest event and only schedules at or after
//! the time it last took (nothing is scheduled in the past). A radix heap exploits exactly that
//! monotonicity (Ahuja, Mehlhorn, Orlin and Tarjan, "Faster algorithms for the shortest path
//! problem", 1990). Times are read as 16 hexadecimal digits; an event lives in the bucket named by
//! the highest digit where its time differs from the reference time, and its own value of that
//! digit. Every time in a lower bucket is earlier than every time in a higher one, so the earliest
//! event is in the lowest non-empty bucket, found with a 256-bit occupancy map. Taking it
//! re-files that one bucket around its earliest time, each event dropping at least one digit,
//! so an event moves at most once per hexadecimal digit of its distance from the present.
//! A push is an XOR, a `leading_zeros` and a vector push.
//!
//! Events due exactly at the reference time wait in their own bucket, in scheduling order, so
//! equal times come out first-in first-out and a run is deterministic.
//!
//! The one non-monotone case, a push before the reference time after the queue has looked ahead
//! (an outside caller scheduling between `run_until` calls), re-files the whole queue around the
//! new time: correct, and O(pending) only on that rare path.

use std::collections::VecDeque;

const DIGIT_BITS: u32 = 4;
const DIGIT_VALUES: usize = 1 << DIGIT_BITS;
const DIGITS: usize = u64::BITS as usize / DIGIT_BITS as usize;
const BUCKETS: usize = DIGITS * DIGIT_VALUES;
const OCCUPANCY_WORDS: usize = BUCKETS / 64;

/// An event waiting in the queue, with its position in scheduling order.
struct Entry<E> {
    time: u64,
    sequence: u64,
    event: E,
}

/// A monotone priority queue of events ordered by `(time, sequence)`.
pub(crate) struct EventQueue<E> {
    /// Events due at `reference`, in sequence order.
    due_now: VecDeque<Entry<E>>,
    /// Later events; bucket `digit * 16 + value` holds times whose highest hexadecimal digit
    /// differing from `reference` is `digit`, where their digit is `value`.
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit `b` of the map is set iff bucket `b` is non-empty.
    occupied: [u64; OCCUPANCY_WORDS],
    /// Every queued time is at or after it.
    reference: u64,
    len: usize,
    /// An empty vector kept for its capacity, swapped in while a bucket is re-filed.
    spare: Vec<Entry<E>>,
}

/// The bucket of `time` relative to `reference` (`time > reference`).
#[inline]
fn bucket_of(time: u64, reference: u64) -> usize {
    let digit = (u64::BITS - 1 - (time ^ reference).leading_zeros()) / DIGIT_BITS;
    let value = (time >> (digit * DIGIT_BITS)) as usize & (DIGIT_VALUES - 1);
    digit as usize * DIGIT_VALUES + value
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> Self {
        EventQueue {
            due_now: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: [0; OCCUPANCY_WORDS],
            reference: 0,
            len: 0,
            spare: Vec::new(),
        }
    }

    /// Number of queued events.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues `event` at `time`; `sequence` must exceed every sequence queued before.
    #[inline]
    pub(crate) fn push(&mut self, time: u64, sequence: u64, event: E) {
        if time < self.reference {
            self.rebase(time);
        }
        self.file(Entry { time, sequence, event });
        self.len += 1;
    }

    /// The `(time, sequence)` of the earliest event, without removing it.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<(u64, u64)> {
        if self.len == 0 {
            return None;
        }
        self.bring_earliest_forward();
        self.due_now.front().map(|e| (e.time, e.sequence))
    }

    /// Removes the earliest event: `(time, sequence, event)`.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(u64, u64, E)> {
        if self.len == 0 {
            return None;
        }
        self.bring_earliest_forward();
        let entry = self.due_now.pop_front().expect("the earliest event was brought forward");
        self.len -= 1;
        Some((entry.time, entry.sequence, entry.event))
    }

    /// Files an entry: at the back of `due_now` if due at the reference time (its sequence is the
    /// newest), else in its bucket.
    #[inline]
    fn file(&mut self, entry: Entry<E>) {
        if entry.time == self.reference {
            self.due_now.push_back(entry);
            return;
        }
        let bucket = bucket_of(entry.time, self.reference);
        self.occupied[bucket / 64] |= 1 << (bucket % 64);
        self.buckets[bucket].push(entry);
    }

    /// Makes `due_now` non-empty: re-files the lowest non-empty bucket around its earliest time.
    #[inline]
    fn bring_earliest_forward(&mut self) {
        if !self.due_now.is_empty() {
            return;
        }
        let word = self.occupied.iter().position(|&w| w != 0).expect("a non-empty queue has an occupied bucket");
        let bucket = word * 64 + self.occupied[word].trailing_zeros() as usize;
        self.occupied[word] &= !(1 << (bucket % 64));
        let mut moving = std::mem::replace(&mut self.buckets[bucket], std::mem::take(&mut self.spare));
        self.reference = moving.iter().map(|e| e.time).min().expect("an occupied bucket is non-empty");
        for entry in moving.drain(..) {
            self.file(entry);
        }
        self.spare = moving;
        // Entries arrive from a bucket in no particular order; equal times go out in sequence order.
        if self.due_now.len() > 1 {
            self.due_now.make_contiguous().sort_unstable_by_key(|e| e.sequence);
        }
    }

    /// Lowers the reference time to `time`, re-filing every entry (the rare non-monotone push).
    #[cold]
    fn rebase(&mut self, time: u64) {
        let mut all: Vec<Entry<E>> = self.due_now.drain(..).collect();
        for bucket in &mut self.buckets {
            all.append(bucket);
        }
        self.occupied = [0; OCCUPANCY_WORDS];
        self.reference = time;
        for entry in all {
            self.file(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a sorted model: any interleaving of monotone pushes (many at equal times),
        /// peeks, pops and occasional pushes before the reference pops in (time, sequence) order.
        #[test]
        fn pops_in_time_then_sequence_order(ops in prop::collection::vec((0u8..4, 0u64..3, 0u64..1_000_000), 1..400)) {
            let mut queue = EventQueue::new();
            let mut model: Vec<(u64, u64)> = Vec::new();
            let mut last_popped_time = 0;
            let mut sequence = 0;
            for (op, coarse, fine) in ops {
                match op {
                    0 | 1 => {
                        // At or after the last popped time, like a model; often exactly equal.
                        let time = last_popped_time + [0, fine % 4, fine][coarse as usize];
                        sequence += 1;
                        queue.push(time, sequence, (time, sequence));
                        model.push((time, sequence));
                    }
                    2 => {
                        model.sort_unstable_by(|a, b| b.cmp(a));
                        prop_assert_eq!(queue.peek(), model.last().copied());
                    }
                    _ => {
                        model.sort_unstable_by(|a, b| b.cmp(a));
                        let expected = model.pop();
                        let got = queue.pop().map(|(t, s, e)| { assert_eq!((t, s), e); (t, s) });
                        prop_assert_eq!(got, expected);
                        if let Some((t, _)) = got { last_popped_time = t; }
                    }
                }
                prop_assert_eq!(queue.len(), model.len());
            }
            model.sort_unstable();
            for expected in model {
                prop_assert_eq!(queue.pop().map(|(t, s, _)| (t, s)), Some(expected));
            }
            prop_assert!(queue.pop().is_none());
        }
    }
}
