//! How a cluster's traffic is split across priority levels, and panic mode.
//!
//! Follows `source/extensions/load_balancing_policies/common/load_balancer_impl.cc`
//! (`recalculatePerPriorityState`, `distributeLoad`, `recalculatePerPriorityPanic`,
//! `recalculateLoadInTotalPanic`, `isHostSetInPanic`, `choosePriority`) and spec §3. Everything
//! is in integer percents, as in Envoy: a priority's health is ⌊OF × healthy / hosts⌋ capped at
//! 100 with the overprovisioning factor OF = 140, so a priority keeps all its traffic until fewer
//! than 71.4 % of its hosts are healthy.

use smallvec::{SmallVec, smallvec};

/// Envoy's default overprovisioning factor (percent); Istio never changes it.
pub const DEFAULT_OVERPROVISIONING_FACTOR: u32 = 140;

/// Host counts of one priority level as its load balancer sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelCounts {
    /// Hosts in the level, excluded ones left out.
    pub hosts: u32,
    /// Of which healthy (not ejected, not failing health checks).
    pub healthy: u32,
    /// Of which degraded.
    pub degraded: u32,
}

/// Which of a level's hosts a request drawn to it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Its healthy hosts.
    Healthy,
    /// Its degraded hosts (only once healthy load is exhausted).
    Degraded,
}

/// One value per priority level, held inline for the few levels Istio makes (local zone,
/// region, failover region, the rest), since every pick reads them.
pub type PerLevel<T> = SmallVec<[T; 4]>;

/// The per-priority split of traffic and panic state, recomputed on every host-set change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityLoad {
    /// Percent of requests sent to each level's healthy hosts.
    pub healthy: PerLevel<u32>,
    /// Percent of requests sent to each level's degraded hosts.
    pub degraded: PerLevel<u32>,
    /// Whether each level is in panic (picks among all its hosts, ejected ones included).
    pub panic: PerLevel<bool>,
}

/// ⌊OF × count / hosts⌋ capped at 100 (0 for an empty level).
fn availability(count: u32, hosts: u32, overprovisioning_factor: u32) -> u32 {
    if hosts == 0 {
        0
    } else {
        (u64::from(overprovisioning_factor) * u64::from(count) / u64::from(hosts)).min(100) as u32
    }
}

/// `distributeLoad`: gives each level, in order, min(remaining, ⌊availability × 100 / NTA⌋).
/// Returns the first level with availability and the load left over.
fn distribute(
    loads: &mut [u32],
    availabilities: &[u32],
    mut remaining: u32,
    normalized_total: u32,
) -> (Option<usize>, u32) {
    let mut first_available = None;
    for (level, (&available, load)) in availabilities.iter().zip(loads.iter_mut()).enumerate() {
        if first_available.is_none() && available > 0 {
            first_available = Some(level);
        }
        *load = remaining.min(available * 100 / normalized_total);
        remaining -= *load;
    }
    (first_available, remaining)
}

impl PriorityLoad {
    /// The split for levels with these counts, `panic_threshold` percent (Envoy's
    /// `healthy_panic_threshold`, 50 by default, 0 under Istio's outlier detection).
    pub fn compute(levels: &[LevelCounts], overprovisioning_factor: u32, panic_threshold: u32) -> Self {
        let n = levels.len().max(1);
        let health: PerLevel<u32> =
            levels.iter().map(|l| availability(l.healthy, l.hosts, overprovisioning_factor)).collect();
        let degraded: PerLevel<u32> =
            levels.iter().map(|l| availability(l.degraded, l.hosts, overprovisioning_factor)).collect();
        let normalized_total = health.iter().chain(&degraded).sum::<u32>().min(100);
        let mut load = PriorityLoad { healthy: smallvec![0; n], degraded: smallvec![0; n], panic: smallvec![false; n] };
        let panic_threshold = panic_threshold.min(100);
        if normalized_total == 0 && panic_threshold == 0 {
            // Nothing is available and panic is off: all load nominally to P0, which has no
            // healthy host, so requests fail with "no healthy upstream".
            load.healthy[0] = 100;
            return load;
        }
        if normalized_total > 0 {
            let (first_healthy, remaining) = distribute(&mut load.healthy, &health, 100, normalized_total);
            let (first_degraded, remaining) = distribute(&mut load.degraded, &degraded, remaining, normalized_total);
            if remaining > 0 {
                match (first_healthy, first_degraded) {
                    (Some(level), _) => load.healthy[level] += remaining,
                    (None, Some(level)) => load.degraded[level] += remaining,
                    (None, None) => unreachable!("a positive total has an available level"),
                }
            }
        }
        if normalized_total < 100 {
            for (panic, level) in load.panic.iter_mut().zip(levels) {
                // Raw percentages here: no overprovisioning.
                let usable = if level.hosts == 0 {
                    0.0
                } else {
                    100.0 * f64::from(level.healthy + level.degraded) / f64::from(level.hosts)
                };
                *panic = usable < f64::from(panic_threshold);
            }
        }
        if load.panic.iter().all(|&p| p) {
            load.split_by_host_counts(levels);
        }
        load
    }

    /// The load a retry sees once the levels marked in `excluded` were tried, under the
    /// `previous_priorities` retry priority (`adjustForAttemptedPriorities`): the remaining
    /// levels' health, each ⌊OF × healthy / hosts⌋ capped at 100, shares 100 % out in order, the
    /// rounding remainder to the first level with health; panic flags stay as they are. `None`
    /// when no level outside `excluded` has any health: the retry uses the original load.
    pub fn excluding(&self, levels: &[LevelCounts], overprovisioning_factor: u32, excluded: &[bool]) -> Option<Self> {
        let kept = |level: usize, count: u32, hosts: u32| {
            if excluded.get(level).copied().unwrap_or(false) {
                0
            } else {
                availability(count, hosts, overprovisioning_factor)
            }
        };
        let health: Vec<u32> = levels.iter().enumerate().map(|(p, l)| kept(p, l.healthy, l.hosts)).collect();
        let degraded: Vec<u32> = levels.iter().enumerate().map(|(p, l)| kept(p, l.degraded, l.hosts)).collect();
        let total = health.iter().chain(&degraded).sum::<u32>().min(100);
        if total == 0 {
            return None;
        }
        let mut load =
            PriorityLoad { healthy: smallvec![0; levels.len()], degraded: smallvec![0; levels.len()], ..self.clone() };
        let (first_healthy, remaining) = distribute(&mut load.healthy, &health, 100, total);
        let (first_degraded, remaining) = distribute(&mut load.degraded, &degraded, remaining, total);
        match (first_healthy, first_degraded) {
            (Some(level), _) => load.healthy[level] += remaining,
            (None, Some(level)) => load.degraded[level] += remaining,
            (None, None) => unreachable!("a positive total has an available level"),
        }
        Some(load)
    }

    /// `recalculateLoadInTotalPanic`: every level panics, so the load follows host counts.
    fn split_by_host_counts(&mut self, levels: &[LevelCounts]) {
        let total: u32 = levels.iter().map(|l| l.hosts).sum();
        self.degraded.iter_mut().for_each(|d| *d = 0);
        if total == 0 {
            self.healthy.iter_mut().for_each(|h| *h = 0);
            self.healthy[0] = 100;
            return;
        }
        let mut remaining = 100;
        for (load, level) in self.healthy.iter_mut().zip(levels) {
            *load = 100 * level.hosts / total;
            remaining -= *load;
        }
        let first_non_empty = levels.iter().position(|l| l.hosts > 0).expect("total is positive");
        self.healthy[first_non_empty] += remaining;
    }

    /// `choosePriority`: the level and host availability a request goes to, from one random
    /// number (drawn afresh for every request and every retry).
    #[inline]
    pub fn choose(&self, random: u64) -> (usize, Availability) {
        let draw = (random % 100 + 1) as u32;
        let mut cumulative = 0;
        for (level, &load) in self.healthy.iter().enumerate() {
            cumulative += load;
            if draw <= cumulative {
                return (level, Availability::Healthy);
            }
        }
        for (level, &load) in self.degraded.iter().enumerate() {
            cumulative += load;
            if draw <= cumulative {
                return (level, Availability::Degraded);
            }
        }
        unreachable!("priority loads add up to 100")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn level(hosts: u32, healthy: u32) -> LevelCounts {
        LevelCounts { hosts, healthy, degraded: 0 }
    }

    fn healthy_load(levels: &[LevelCounts]) -> Vec<u32> {
        PriorityLoad::compute(levels, DEFAULT_OVERPROVISIONING_FACTOR, 0).healthy.to_vec()
    }

    #[test]
    fn one_of_three_ejected_spills_seven_percent() {
        // spec §3: P0 with 1 of 3 hosts ejected → 93 % / 7 %.
        assert_eq!(healthy_load(&[level(3, 2), level(3, 3)]), vec![93, 7]);
    }

    #[test]
    fn spilling_starts_below_71_4_percent_healthy() {
        // ⌊140 × 5/7⌋ = 100: 71.43 % healthy keeps everything; 70 % does not.
        assert_eq!(healthy_load(&[level(7, 5), level(1, 1)]), vec![100, 0]);
        assert_eq!(healthy_load(&[level(10, 7), level(1, 1)]), vec![98, 2]);
        assert_eq!(healthy_load(&[level(1000, 715), level(1, 1)]), vec![100, 0]);
        assert_eq!(healthy_load(&[level(1000, 714), level(1, 1)]), vec![99, 1]);
    }

    #[test]
    fn envoy_sandbox_splits_are_exact_algorithm_outputs() {
        // Envoy's locality-load-balancing sandbox: local P0 with 1 of 2 healthy → 70/30; with
        // 1 of 5 healthy → 28/72 (the 72 split 36/36 over two remote localities is the locality
        // scheduler's work, tested there); P0 all down → 0/100 (50/50 over two localities).
        assert_eq!(healthy_load(&[level(2, 1), level(2, 2)]), vec![70, 30]);
        assert_eq!(healthy_load(&[level(5, 1), level(2, 2)]), vec![28, 72]);
        assert_eq!(healthy_load(&[level(5, 0), level(2, 2)]), vec![0, 100]);
    }

    #[test]
    fn a_retry_that_tried_the_local_priority_goes_to_the_next() {
        // previous_priorities.cc: P0 healthy takes everything, but once tried it is left out
        // and P1 (3 of 3) gets 100 %; with P1 at 1 of 3 healthy (health 46) the retry still
        // sends all of its load there, the remaining levels being normalised to 100.
        let original = PriorityLoad::compute(&[level(3, 3), level(3, 3)], DEFAULT_OVERPROVISIONING_FACTOR, 0);
        assert_eq!(original.healthy[..], [100, 0]);
        let of = DEFAULT_OVERPROVISIONING_FACTOR;
        let retry = original.excluding(&[level(3, 3), level(3, 3)], of, &[true, false]).unwrap();
        assert_eq!(retry.healthy[..], [0, 100]);
        let retry = original.excluding(&[level(3, 3), level(3, 1), level(2, 2)], of, &[true]).unwrap();
        assert_eq!(retry.healthy[..], [0, 46, 54]);
        // Nothing left: the original load.
        assert_eq!(original.excluding(&[level(3, 3), level(3, 0)], of, &[true, false]), None);
    }

    #[test]
    fn rounding_remainder_goes_to_the_first_available_level() {
        // Health 20 / 20 / 20: NTA 60, each ⌊20 × 100 / 60⌋ = 33, remainder 1 to P0.
        let levels = [level(7, 1), level(7, 1), level(7, 1)];
        assert_eq!(healthy_load(&levels), vec![34, 33, 33]);
        // Envoy's own example (comment in recalculatePerPriorityState): health 10/20/10 and
        // degraded 20/10/0 → healthy loads 16/28/14 and degraded 28/14/0.
        let levels = [
            LevelCounts { hosts: 14, healthy: 1, degraded: 2 },
            LevelCounts { hosts: 14, healthy: 2, degraded: 1 },
            LevelCounts { hosts: 14, healthy: 1, degraded: 0 },
        ];
        let load = PriorityLoad::compute(&levels, DEFAULT_OVERPROVISIONING_FACTOR, 0);
        assert_eq!(load.healthy[..], [16, 28, 14]);
        assert_eq!(load.degraded[..], [28, 14, 0]);
        assert_eq!(load.choose(99), (1, Availability::Degraded));
    }

    #[test]
    fn everything_ejected_without_panic_is_no_healthy_upstream_in_p0() {
        let load = PriorityLoad::compute(&[level(2, 0), level(3, 0)], DEFAULT_OVERPROVISIONING_FACTOR, 0);
        assert_eq!(load.healthy[..], [100, 0]);
        assert_eq!(load.panic[..], [false, false]);
    }

    #[test]
    fn panic_per_level_and_all_panic_split_by_host_counts() {
        // Threshold 30: P0 at 1/4 healthy (25 %) panics, P1 at 4/10 does not; NTA 35 + 56 = 91.
        let load = PriorityLoad::compute(&[level(4, 1), level(10, 4)], DEFAULT_OVERPROVISIONING_FACTOR, 30);
        assert_eq!(load.panic[..], [true, false]);
        assert_eq!(load.healthy[..], [39, 61]);
        // Everything below threshold: split by host counts (2 and 3 hosts → 40/60).
        let load = PriorityLoad::compute(&[level(2, 0), level(3, 1)], DEFAULT_OVERPROVISIONING_FACTOR, 50);
        assert_eq!(load.panic[..], [true, true]);
        assert_eq!(load.healthy[..], [40, 60]);
        // Full normalized availability: no level panics, whatever its own health.
        let load = PriorityLoad::compute(&[level(10, 1), level(1, 1)], DEFAULT_OVERPROVISIONING_FACTOR, 50);
        assert_eq!(load.panic[..], [false, false]);
    }

    #[test]
    fn the_priority_draw_follows_cumulative_loads() {
        let load = PriorityLoad::compute(&[level(3, 2), level(3, 3)], DEFAULT_OVERPROVISIONING_FACTOR, 0);
        let chosen: Vec<usize> = (0..100u64).map(|r| load.choose(r).0).collect();
        assert_eq!(chosen.iter().filter(|&&p| p == 0).count(), 93);
        assert_eq!(load.choose(92).0, 0);
        assert_eq!(load.choose(93).0, 1);
    }

    proptest! {
        #[test]
        fn loads_always_sum_to_100(
            counts in prop::collection::vec((0u32..20, 0u32..20, 0u32..20), 1..6),
            threshold in 0u32..=100,
        ) {
            let levels: Vec<LevelCounts> = counts
                .iter()
                .map(|&(hosts, healthy, degraded)| {
                    let healthy = healthy.min(hosts);
                    LevelCounts { hosts, healthy, degraded: degraded.min(hosts - healthy) }
                })
                .collect();
            let load = PriorityLoad::compute(&levels, DEFAULT_OVERPROVISIONING_FACTOR, threshold);
            prop_assert_eq!(load.healthy.iter().chain(&load.degraded).sum::<u32>(), 100);
            // A level outside panic never gets load it has no available host for.
            for (p, level) in levels.iter().enumerate() {
                if !load.panic[p] && level.healthy == 0 && level.degraded == 0 && load.healthy[p] > 0 {
                    // Only the "no healthy upstream" corner: nothing is available anywhere.
                    prop_assert!(levels.iter().all(|l| l.healthy == 0 && l.degraded == 0));
                }
            }
        }
    }
}
