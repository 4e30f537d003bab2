//! Weighted destinations of a route (`weighted_clusters`): a VirtualService splitting traffic
//! between subsets, e.g. reviews v1/v2/v3.
//!
//! Follows `source/common/router/config_impl.cc` (`WeightedClusterEntry`, `pickClusterIndex`):
//! each request draws `random % total weight` and takes the destination whose cumulative range
//! holds it: an independent draw per request, the one true coin toss in the request path.

/// Picks the index of a destination by weight from one random number; `None` if all weights
/// are zero.
#[inline]
pub fn pick_weighted(weights: &[u32], random: u64) -> Option<usize> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return None;
    }
    let selected = random % total;
    let mut end = 0;
    weights.iter().position(|&w| {
        end += u64::from(w);
        selected < end
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_ranges_decide() {
        let weights = [1, 1, 1];
        let picks: Vec<usize> = (0..6).map(|r| pick_weighted(&weights, r).unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(pick_weighted(&[90, 10], 89), Some(0));
        assert_eq!(pick_weighted(&[90, 10], 90), Some(1));
        assert_eq!(pick_weighted(&[0, 5], 3), Some(1));
        assert_eq!(pick_weighted(&[0, 0], 3), None);
    }
}
