//! Mean and variance in one pass (Welford), mergeable (Chan, Golub and LeVeque).

/// Count, mean, variance, minimum and maximum of a stream of values, in constant memory and
/// without the cancellation error of summing squares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunningStats {
    count: u64,
    mean: f64,
    /// Sum of squared deviations from the running mean.
    m2: f64,
    min: f64,
    max: f64,
}

impl Default for RunningStats {
    fn default() -> Self {
        RunningStats { count: 0, mean: 0.0, m2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl RunningStats {
    /// Folds in one value.
    #[inline]
    pub fn push(&mut self, value: f64) {
        self.count += 1;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Folds in every value another accumulator has seen, as if pushed here.
    pub fn merge(&mut self, other: &RunningStats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let total = self.count + other.count;
        let delta = other.mean - self.mean;
        self.m2 += other.m2 + delta * delta * (self.count as f64 * other.count as f64 / total as f64);
        self.mean += delta * other.count as f64 / total as f64;
        self.count = total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of values seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Their mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.mean }
    }

    /// Their unbiased sample variance (NaN with fewer than two values).
    pub fn sample_variance(&self) -> f64 {
        if self.count < 2 { f64::NAN } else { self.m2 / (self.count - 1) as f64 }
    }

    /// Their sample standard deviation (NaN with fewer than two values).
    pub fn sample_std_dev(&self) -> f64 {
        self.sample_variance().sqrt()
    }

    /// Smallest value seen (NaN when empty).
    pub fn min(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.min }
    }

    /// Largest value seen (NaN when empty).
    pub fn max(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.max }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_pass(values: &[f64]) -> (f64, f64) {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
        (mean, var)
    }

    #[test]
    fn matches_the_two_pass_formulas_even_with_a_large_offset() {
        // A large common offset is where the naive sum-of-squares formula loses all precision.
        let values: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i % 17) * 0.5).collect();
        let mut stats = RunningStats::default();
        values.iter().for_each(|&v| stats.push(v));
        let (mean, var) = two_pass(&values);
        assert!((stats.mean() - mean).abs() < 1e-6);
        assert!((stats.sample_variance() - var).abs() / var < 1e-7, "{} vs {var}", stats.sample_variance());
        assert_eq!(stats.min(), 1e9);
        assert_eq!(stats.max(), 1e9 + 8.0);
    }

    #[test]
    fn merging_equals_pushing_everything_into_one() {
        let values: Vec<f64> = (0..500).map(|i| f64::from(i).sin() * 100.0).collect();
        let (left, right) = values.split_at(123);
        let (mut a, mut b, mut all) = (RunningStats::default(), RunningStats::default(), RunningStats::default());
        left.iter().for_each(|&v| a.push(v));
        right.iter().for_each(|&v| b.push(v));
        values.iter().for_each(|&v| all.push(v));
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert!((a.mean() - all.mean()).abs() < 1e-9);
        assert!((a.sample_variance() - all.sample_variance()).abs() < 1e-6);
        assert!(RunningStats::default().mean().is_nan());
    }
}
