//! Choosing a locality inside a priority level when locality-weighted balancing is on.
//!
//! Follows `source/extensions/load_balancing_policies/common/locality_wrr.cc`: each locality's
//! effective weight is its configured weight × min(1, OF × eligible / hosts), so a locality
//! losing hosts sheds traffic only once fewer than 1/1.4 of them are left, and an EDF schedule over
//! the effective weights picks the locality. The schedule is rebuilt from scratch on every
//! host-set change of the level (an EDS update, an ejection, an uneject), on each worker; from
//! Envoy 1.30 it starts at a random pick count.

use smallvec::SmallVec;

use super::edf::EdfScheduler;

/// Weight × min(1, OF/100 × eligible / hosts); 0 for a locality without hosts.
pub fn effective_locality_weight(
    weight: u32,
    eligible_hosts: usize,
    hosts: usize,
    overprovisioning_factor: u32,
) -> f64 {
    if hosts == 0 {
        return 0.0;
    }
    let availability = eligible_hosts as f64 / hosts as f64;
    f64::from(weight) * (f64::from(overprovisioning_factor) / 100.0 * availability).min(1.0)
}

/// The locality schedule of one priority level on one worker.
#[derive(Clone, Debug, Default)]
pub enum LocalityScheduler {
    /// No locality is eligible (every level's degraded hosts under Istio): a large mesh has
    /// thousands of these.
    #[default]
    Empty,
    /// One eligible locality, which every pick of an EDF schedule returns: held without the
    /// schedule, as most of a large mesh's levels are.
    Single(u32),
    /// Two or more eligible localities, picked by EDF over their effective weights.
    Weighted(Box<WeightedLocalities>),
}

/// The EDF schedule of two or more eligible localities.
#[derive(Clone, Debug)]
pub struct WeightedLocalities {
    edf: EdfScheduler,
    weights: Vec<f64>,
}

impl LocalityScheduler {
    /// A schedule over localities with these effective weights; `start_picks` is the random
    /// starting point (Envoy ≥ 1.30) or `None` to start from the beginning (earlier releases).
    pub fn new(effective_weights: &[f64], start_picks: Option<u32>) -> Self {
        let entries: SmallVec<[(u32, f64); 4]> =
            effective_weights.iter().enumerate().filter(|(_, w)| **w > 0.0).map(|(i, &w)| (i as u32, w)).collect();
        match entries.as_slice() {
            [] => LocalityScheduler::Empty,
            &[(only, _)] => LocalityScheduler::Single(only),
            _ => {
                let edf = match start_picks {
                    Some(picks) => EdfScheduler::with_picks(&entries, picks),
                    None => {
                        let mut edf = EdfScheduler::new();
                        entries.iter().for_each(|&(i, w)| edf.add(i, w));
                        edf
                    }
                };
                LocalityScheduler::Weighted(Box::new(WeightedLocalities { edf, weights: effective_weights.to_vec() }))
            }
        }
    }

    /// The locality every pick of a schedule with these effective weights returns, if the
    /// schedule is fixed (`Some(None)`: none is eligible); `None` for a weighted schedule. What
    /// [`new`](Self::new) would make, without making it.
    pub fn fixed_choice(effective_weights: &[f64]) -> Option<Option<u32>> {
        let mut eligible = effective_weights.iter().enumerate().filter(|(_, w)| **w > 0.0);
        match (eligible.next(), eligible.next()) {
            (None, _) => Some(None),
            (Some((only, _)), None) => Some(Some(only as u32)),
            _ => None,
        }
    }

    /// The next locality, or `None` when every effective weight is zero.
    #[inline]
    pub fn choose(&mut self) -> Option<usize> {
        match self {
            LocalityScheduler::Empty => None,
            LocalityScheduler::Single(only) => Some(*only as usize),
            LocalityScheduler::Weighted(schedule) => {
                let WeightedLocalities { edf, weights } = &mut **schedule;
                edf.pick_and_add(|i| weights[i as usize]).map(|i| i as usize)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::priority_load::DEFAULT_OVERPROVISIONING_FACTOR;

    /// Share (%) of picks going to locality X (weight 1) against Y (weight 2, all healthy), with X
    /// `healthy` of 100 hosts healthy.
    fn x_share(healthy: usize) -> f64 {
        let of = DEFAULT_OVERPROVISIONING_FACTOR;
        let weights = vec![effective_locality_weight(1, healthy, 100, of), effective_locality_weight(2, 100, 100, of)];
        let mut scheduler = LocalityScheduler::new(&weights, Some(12345));
        let n = 100_000;
        let x = (0..n).filter(|_| scheduler.choose() == Some(0)).count();
        100.0 * x as f64 / n as f64
    }

    #[test]
    fn envoy_locality_weight_table() {
        // Envoy docs, "Locality weighted load balancing": X weight 1, Y weight 2; X's share at
        // X availability 100/70/69/50/25/0 % is 33/33/32/26/15/0 %. The docs' arithmetic takes
        // 1.4 × availability in whole percents (69 % → 96 %); the code (`effectiveLocalityWeight`)
        // keeps the fraction (96.6 %), so 69 % gives 32.6 %, not 32.4 %. Both are asserted: every
        // entry within half a point of the table, and the exact shares of the code's formula.
        for (healthy, table, exact) in [
            (100, 33.0, 100.0 / 3.0),
            (70, 33.0, 98.0 / 2.98),
            (69, 32.0, 96.6 / 2.966),
            (50, 26.0, 70.0 / 2.7),
            (25, 15.0, 35.0 / 2.35),
            (0, 0.0, 0.0),
        ] {
            let share = x_share(healthy);
            assert!((share - table).abs() < 0.6, "X {healthy}% healthy: {share}% against the table's {table}%");
            assert!((share - exact).abs() < 0.01, "X {healthy}% healthy: {share}% against {exact}%");
        }
    }

    #[test]
    fn random_start_changes_the_first_picks_but_not_the_shares() {
        let weights = vec![1.0, 1.0, 1.0, 1.0];
        let first = |picks| {
            let mut s = LocalityScheduler::new(&weights, picks);
            s.choose().unwrap()
        };
        // Before 1.30 every rebuild starts with the first locality.
        assert_eq!(first(None), 0);
        let starts: std::collections::BTreeSet<usize> = (0..8).map(|p| first(Some(p))).collect();
        assert_eq!(starts.len(), 4);
        assert!(LocalityScheduler::new(&[0.0, 0.0], None).choose().is_none());
    }

    #[test]
    fn one_eligible_locality_takes_every_pick_whatever_the_start() {
        // Held without a schedule; an EDF schedule over it would return it every time too.
        for start in [None, Some(0), Some(12345)] {
            let mut scheduler = LocalityScheduler::new(&[0.0, 0.7, 0.0], start);
            assert!((0..10).all(|_| scheduler.choose() == Some(1)));
        }
    }

    #[test]
    fn a_fixed_choice_is_what_the_schedule_would_pick() {
        for weights in [&[][..], &[0.0, 0.0], &[0.0, 0.7, 0.0], &[0.5], &[0.3, 0.7], &[0.0, 0.2, 0.2]] {
            let mut scheduler = LocalityScheduler::new(weights, Some(7));
            match LocalityScheduler::fixed_choice(weights) {
                Some(choice) => {
                    assert!((0..5).all(|_| scheduler.choose() == choice.map(|l| l as usize)), "{weights:?}")
                }
                None => assert!(matches!(scheduler, LocalityScheduler::Weighted(_)), "{weights:?}"),
            }
        }
    }

    #[test]
    fn sandbox_split_of_the_remaining_load_over_two_localities() {
        // Envoy sandbox: the 72 % spilled to a level of two equal localities splits 36/36.
        let mut scheduler = LocalityScheduler::new(&[1.0, 1.0], Some(7));
        let picks: Vec<usize> = (0..72).map(|_| scheduler.choose().unwrap()).collect();
        assert_eq!(picks.iter().filter(|&&l| l == 0).count(), 36);
    }
}
