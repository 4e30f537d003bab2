//! The pending-event list: a radix heap on event times, sixteen-way, in front of which the
//! earliest events wait fully sorted.
//!
//! A discrete-event simulation only ever takes its earliest event and almost only schedules at or
//! after the time it last took. A radix heap exploits that monotonicity (Ahuja, Mehlhorn, Orlin
//! and Tarjan, "Faster algorithms for the shortest path problem", 1990). Times are read as 16
//! hexadecimal digits; an event lives in the bucket named by the highest digit where its time
//! differs from the reference time, and its own value of that digit. Each bucket is a range of
//! times and the buckets are ordered, so the earliest events are in the lowest non-empty bucket,
//! found with a 256-bit occupancy map. A push is an XOR, a `leading_zeros` and a vector push.
//!
//! The lowest bucket, once taken, is sorted into the *near* list when it is small (or when it
//! holds a single time), and events scheduled before its latest event join that list in
//! order: in a model with a few dozen events pending (a mesh of calls, say) most events are then
//! taken from the sorted list without ever being filed again. A large bucket is instead re-filed
//! around its earliest time, each event dropping at least one digit, as in the textbook heap, so
//! an event moves at most once per hexadecimal digit of its distance from the present.
//!
//! Equal times come out first-in first-out (by sequence), so a run is deterministic. Every
//! bucket holds its events in sequence order: a push appends the newest sequence, and re-filing
//! moves a bucket's events, in order, into buckets that were empty (all lower than the lowest
//! non-empty one). So a bucket is sorted by time alone, with a stable sort that keeps that
//! order among equal times, which is cheaper than comparing (time, sequence) pairs. An event
//! pushed before everything else (an outside caller scheduling between `run_until` calls) simply
//! joins the near list, which is sorted whatever it holds.

const DIGIT_BITS: u32 = 4;
const DIGIT_VALUES: usize = 1 << DIGIT_BITS;
const DIGITS: usize = u64::BITS as usize / DIGIT_BITS as usize;
const BUCKETS: usize = DIGITS * DIGIT_VALUES;
const OCCUPANCY_WORDS: usize = BUCKETS / 64;
/// The most events a bucket may hold to be sorted into the near list rather than re-filed.
const NEAR_BUCKET_MAX: usize = 32;
/// The largest spare vector handed on to a bucket being emptied.
const SPARE_HANDED_ON_MAX: usize = 256;

/// An event waiting in the queue, with its position in scheduling order.
struct Entry<E> {
    time: u64,
    sequence: u64,
    event: E,
}

/// A monotone priority queue of events ordered by `(time, sequence)`.
pub(crate) struct EventQueue<E> {
    /// The earliest events, every one before `near_limit`, latest `(time, sequence)` first: the
    /// next event is taken from the end.
    near: Vec<Entry<E>>,
    /// Every event before it is in `near`; every event in a bucket is at or after it.
    near_limit: u64,
    /// Bucket `digit * 16 + value` holds times whose highest hexadecimal digit differing from
    /// `reference` is `digit`, where their digit is `value`.
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit `b` of the map is set iff bucket `b` is non-empty.
    occupied: [u64; OCCUPANCY_WORDS],
    /// Before `near_limit` and before every time in a bucket.
    reference: u64,
    len: usize,
    /// An empty vector kept for its capacity, swapped in while a bucket is taken.
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
            near: Vec::new(),
            near_limit: 1,
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
        let entry = Entry { time, sequence, event };
        if time < self.near_limit {
            // Its sequence is the newest: it comes out after every event due at or before it.
            let at = self.near.partition_point(|e| e.time > time);
            self.near.insert(at, entry);
        } else {
            self.file(entry);
        }
        self.len += 1;
    }

    /// The `(time, sequence)` of the earliest event, without removing it.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<(u64, u64)> {
        if self.len == 0 {
            return None;
        }
        self.fill_near();
        self.near.last().map(|e| (e.time, e.sequence))
    }

    /// Removes the earliest event if it is due at or before `limit`: `(time, sequence, event)`.
    #[inline]
    pub(crate) fn pop_through(&mut self, limit: u64) -> Option<(u64, u64, E)> {
        if self.len == 0 {
            return None;
        }
        self.fill_near();
        if self.near.last().is_none_or(|e| e.time > limit) {
            return None;
        }
        let entry = self.near.pop().expect("the earliest event was brought forward");
        self.len -= 1;
        Some((entry.time, entry.sequence, entry.event))
    }

    /// Files an entry in its bucket (its time is after the reference).
    #[inline]
    fn file(&mut self, entry: Entry<E>) {
        let bucket = bucket_of(entry.time, self.reference);
        self.occupied[bucket / 64] |= 1 << (bucket % 64);
        self.buckets[bucket].push(entry);
    }

    /// Makes `near` non-empty (the queue is not): takes the lowest non-empty bucket and either
    /// sorts it into `near` or re-files it around its earliest time, whose events then form
    /// `near`. The earliest time becomes the reference either way, which leaves every other
    /// bucket's events where they belong.
    #[inline]
    fn fill_near(&mut self) {
        if !self.near.is_empty() {
            return;
        }
        let word = self.occupied.iter().position(|&w| w != 0).expect("a non-empty queue has an occupied bucket");
        let bucket = word * 64 + self.occupied[word].trailing_zeros() as usize;
        self.occupied[word] &= !(1 << (bucket % 64));
        // A large spare stays the spare rather than becoming a bucket's, where it would sit idle.
        let replacement =
            if self.spare.capacity() > SPARE_HANDED_ON_MAX { Vec::new() } else { std::mem::take(&mut self.spare) };
        let mut taken = std::mem::replace(&mut self.buckets[bucket], replacement);
        debug_assert!(taken.windows(2).all(|w| w[0].sequence < w[1].sequence), "a bucket is in sequence order");
        let (earliest, latest) = taken.iter().fold((u64::MAX, 0), |(lo, hi), e| (lo.min(e.time), hi.max(e.time)));
        if taken.len() <= NEAR_BUCKET_MAX || bucket < DIGIT_VALUES {
            // Events due after the latest are filed (relative to the new reference) rather than
            // inserted: a bucket of a high digit spans milliseconds, and a near list covering all
            // of it would take most new events by insertion into its middle.
            self.near_limit = latest.saturating_add(1);
            self.reference = earliest;
            // Latest (time, sequence) first: reversed, equal times are latest sequence first,
            // which a stable sort by time keeps.
            taken.reverse();
            if earliest != latest {
                taken.sort_by_key(|e| std::cmp::Reverse(e.time));
            }
            std::mem::swap(&mut self.near, &mut taken);
        } else {
            self.near_limit = earliest + 1;
            self.reference = earliest;
            for entry in taken.drain(..) {
                if entry.time == earliest {
                    self.near.push(entry);
                } else {
                    self.file(entry);
                }
            }
            // They came in sequence order; the latest goes first.
            self.near.reverse();
        }
        self.spare = taken;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Slots for events held by the buckets and the spare.
    fn room(queue: &EventQueue<u64>) -> usize {
        queue.buckets.iter().map(Vec::capacity).sum::<usize>() + queue.spare.capacity()
    }

    #[test]
    fn a_large_spare_is_not_handed_on_to_every_bucket_it_empties() {
        // Timers spread over a second, re-armed as they fire (a large mesh's outlier sweeps):
        // each large bucket taken used to leave the previous one's room behind in its place.
        let mut queue = EventQueue::new();
        let (timers, period) = (5_000u64, 1_000_000_000u64);
        let mut sequence = 0;
        for i in 0..timers {
            sequence += 1;
            queue.push(1 + i * (period / timers) + i % 7, sequence, i);
        }
        for _ in 0..3 * timers {
            let (time, _, timer) = queue.pop_through(u64::MAX).expect("timers re-arm");
            sequence += 1;
            queue.push(time + period, sequence, timer);
        }
        assert_eq!(queue.len(), timers as usize);
        assert!(room(&queue) < 4 * timers as usize, "room for {} events", room(&queue));
    }

    proptest! {
        /// Against a sorted model: any interleaving of pushes (many at equal times, a few before
        /// the last time taken), peeks and pops, with enough pending to fill large buckets, pops
        /// in (time, sequence) order.
        #[test]
        fn pops_in_time_then_sequence_order(ops in prop::collection::vec((0u8..4, 0u64..3, 0u64..1_000_000), 1..1500)) {
            let mut queue = EventQueue::new();
            let mut model: Vec<(u64, u64)> = Vec::new();
            let mut last_popped_time: u64 = 0;
            let mut sequence = 0;
            for (op, coarse, fine) in ops {
                match op {
                    0 | 1 => {
                        // At or after the last popped time, like a model; often exactly equal;
                        // rarely before it, like a caller scheduling between runs.
                        let time = match fine % 50 {
                            0 => last_popped_time.saturating_sub(fine % 1000),
                            _ => last_popped_time + [0, fine % 4, fine][coarse as usize],
                        };
                        sequence += 1;
                        queue.push(time, sequence, (time, sequence));
                        model.push((time, sequence));
                    }
                    2 => {
                        model.sort_unstable_by(|a, b| b.cmp(a));
                        prop_assert_eq!(queue.peek(), model.last().copied());
                    }
                    _ => {
                        // Sometimes only what is due by a limit, which may leave the earliest.
                        let limit = if coarse == 0 { last_popped_time + fine % 1000 } else { u64::MAX };
                        model.sort_unstable_by(|a, b| b.cmp(a));
                        let expected = match model.last() {
                            Some(&(t, _)) if t <= limit => model.pop(),
                            _ => None,
                        };
                        let got = queue.pop_through(limit).map(|(t, s, e)| { assert_eq!((t, s), e); (t, s) });
                        prop_assert_eq!(got, expected);
                        if let Some((t, _)) = got { last_popped_time = t; }
                    }
                }
                prop_assert_eq!(queue.len(), model.len());
            }
            model.sort_unstable();
            for expected in model {
                prop_assert_eq!(queue.pop_through(u64::MAX).map(|(t, s, _)| (t, s)), Some(expected));
            }
            prop_assert!(queue.pop_through(u64::MAX).is_none());
        }
    }
}
