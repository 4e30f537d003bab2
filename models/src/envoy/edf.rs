//! Earliest-deadline-first scheduling: weighted round robin with floating-point weights.
//!
//! Follows `source/common/upstream/edf_scheduler.h`: each entry's next deadline is the
//! scheduler's current time + 1/weight; a pick takes the earliest deadline (ties in insertion
//! order), moves the clock to it and re-inserts the entry with its weight at that moment.
//! [`EdfScheduler::with_picks`] is Envoy's `createWithPicks`: the state the scheduler would have
//! after a given number of picks, computed directly, so that a rebuilt schedule starts at a
//! random point rather than always favouring the same entries.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug)]
struct Entry {
    deadline: f64,
    order: u64,
    item: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` pops the earliest deadline, then the earliest insertion.
    fn cmp(&self, other: &Self) -> Ordering {
        other.deadline.total_cmp(&self.deadline).then(other.order.cmp(&self.order))
    }
}

/// A weighted round-robin schedule over items named by index.
#[derive(Clone, Debug, Default)]
pub struct EdfScheduler {
    queue: BinaryHeap<Entry>,
    current_time: f64,
    next_order: u64,
}

impl EdfScheduler {
    /// An empty schedule.
    pub fn new() -> Self {
        EdfScheduler::default()
    }

    /// Adds `item` with `weight` (> 0), due one period 1/weight from now.
    pub fn add(&mut self, item: u32, weight: f64) {
        debug_assert!(weight > 0.0, "EDF weights are positive");
        self.queue.push(Entry { deadline: self.current_time + 1.0 / weight, order: self.next_order, item });
        self.next_order += 1;
    }

    /// Takes the item with the earliest deadline and re-adds it with `weight_of(item)` (its weight
    /// now, which for least-request depends on the requests in flight).
    #[inline]
    pub fn pick_and_add(&mut self, weight_of: impl Fn(u32) -> f64) -> Option<u32> {
        let entry = self.queue.pop()?;
        self.current_time = entry.deadline;
        self.add(entry.item, weight_of(entry.item));
        Some(entry.item)
    }

    /// `createWithPicks`: the schedule of `(item, weight)` entries as if `picks` picks had already
    /// been made with constant weights.
    pub fn with_picks(entries: &[(u32, f64)], picks: u32) -> Self {
        let picks = picks % 429_496_729; // Envoy bounds the emulated picks at u32::MAX / 10.
        if entries.is_empty() {
            return EdfScheduler::new();
        }
        // Envoy adds 1e-13 to every weight so that weights which are multiples of each other do
        // not produce deadlines that tie differently than real picks would.
        let augmented = |w: f64| w + 1e-13;
        let weight_sum: f64 = entries.iter().map(|&(_, w)| augmented(w)).sum();
        let mut queue = BinaryHeap::with_capacity(entries.len());
        let mut picks_so_far: u32 = 0;
        let mut max_pick_time: f64 = 0.0;
        for (order, &(item, weight)) in entries.iter().enumerate() {
            let weight = augmented(weight);
            let mut floor_picks = (weight * f64::from(picks) / weight_sum) as u32;
            if floor_picks > 0 && f64::from(floor_picks) / weight >= f64::from(picks) / weight_sum {
                floor_picks -= 1;
            }
            let pick_time = f64::from(floor_picks) / weight;
            queue.push(Entry { deadline: f64::from(floor_picks + 1) / weight, order: order as u64, item });
            max_pick_time = max_pick_time.max(pick_time);
            picks_so_far += floor_picks;
        }
        let mut scheduler = EdfScheduler { queue, current_time: max_pick_time, next_order: entries.len() as u64 };
        let weight_of = |item: u32| entries.iter().find(|&&(i, _)| i == item).map_or(0.0, |&(_, w)| w);
        while picks_so_far < picks {
            scheduler.pick_and_add(weight_of);
            picks_so_far += 1;
        }
        scheduler
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(scheduler: &mut EdfScheduler, weights: &[(u32, f64)], n: usize) -> Vec<u32> {
        (0..n).map(|_| scheduler.pick_and_add(|i| weights[i as usize].1).unwrap()).collect()
    }

    #[test]
    fn equal_weights_give_round_robin_in_insertion_order() {
        let weights = [(0, 1.0), (1, 1.0), (2, 1.0)];
        let mut scheduler = EdfScheduler::new();
        weights.iter().for_each(|&(i, w)| scheduler.add(i, w));
        assert_eq!(picks(&mut scheduler, &weights, 6), vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn picks_follow_the_weights_exactly_over_a_period() {
        let weights = [(0, 1.0), (1, 2.0), (2, 5.0)];
        let mut scheduler = EdfScheduler::new();
        weights.iter().for_each(|&(i, w)| scheduler.add(i, w));
        let chosen = picks(&mut scheduler, &weights, 800);
        for (item, weight) in weights {
            assert_eq!(chosen.iter().filter(|&&c| c == item).count(), 100 * weight as usize);
        }
    }

    #[test]
    fn starting_with_picks_equals_picking_from_an_empty_start() {
        // Envoy's EdfSchedulerTest: createWithPicks(P) continues exactly as P real picks would.
        let weights = [(0, 25.0), (1, 75.0), (2, 3.0), (3, 0.5)];
        for p in [0u32, 1, 7, 23, 100, 1001] {
            let mut fresh = EdfScheduler::new();
            weights.iter().for_each(|&(i, w)| fresh.add(i, w));
            let _ = picks(&mut fresh, &weights, p as usize);
            let mut emulated = EdfScheduler::with_picks(&weights, p);
            // Envoy's own test compares deadlines to 1e-5: the +1e-13 weight nudge may swap two
            // nearly simultaneous picks, never more. Counts over any window agree to within one.
            let (a, b) = (picks(&mut fresh, &weights, 1000), picks(&mut emulated, &weights, 1000));
            for window in [10, 100, 1000] {
                for (item, _) in weights {
                    let count = |v: &[u32]| v[..window].iter().filter(|&&i| i == item).count() as i64;
                    assert!((count(&a) - count(&b)).abs() <= 1, "after {p} picks, item {item}, window {window}");
                }
            }
        }
    }
}
