//! Event counts (requests sent, 503s, ejections...).

/// A count of occurrences that can be merged across windows, workers or replications.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter(u64);

impl Counter {
    /// Counts one occurrence.
    #[inline]
    pub fn increment(&mut self) {
        self.0 += 1;
    }

    /// Counts `n` occurrences at once.
    #[inline]
    pub fn add(&mut self, n: u64) {
        self.0 += n;
    }

    /// The count so far.
    pub fn get(self) -> u64 {
        self.0
    }

    /// Adds another counter's occurrences to this one.
    pub fn merge(&mut self, other: Counter) {
        self.0 += other.0;
    }

    /// This count as a fraction of `total` (0 when `total` is 0).
    pub fn fraction_of(self, total: Counter) -> f64 {
        if total.0 == 0 { 0.0 } else { self.0 as f64 / total.0 as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_and_give_fractions() {
        let (mut errors, mut total) = (Counter::default(), Counter::default());
        errors.increment();
        total.add(3);
        let mut more = Counter::default();
        more.add(1);
        total.merge(more);
        assert_eq!(errors.get(), 1);
        assert_eq!(errors.fraction_of(total), 0.25);
        assert_eq!(errors.fraction_of(Counter::default()), 0.0);
    }
}
