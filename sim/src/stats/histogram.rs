//! A log-bucketed histogram of non-negative integers (latencies in nanoseconds, byte counts).
//!
//! Values below 256 get a bucket each; above, every power of two is split into 128 equal
//! sub-buckets (the layout of HdrHistogram with 7 significant bits), so a bucket's width is at most
//! 1/128 of its lower edge and reporting its midpoint is within 0.4 % of any value inside it.
//! Indexing is a `leading_zeros` and two shifts, with no floating point. Memory is at most
//! 7,424 counters whatever the number of samples, and only the span of buckets between the
//! smallest and largest value seen is stored: latencies between 10 ms and 100 ms take about 430
//! counters, so a time series can afford a histogram per window.

const SUB_BUCKET_BITS: u32 = 7;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Values below this are counted exactly, one bucket per value.
const EXACT_BELOW: u64 = 2 * SUB_BUCKETS;

/// A streaming distribution with quantiles within 1 % relative error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Counts of buckets `first..first + counts.len()`.
    counts: Vec<u64>,
    first: usize,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

fn bucket_of(value: u64) -> usize {
    if value < EXACT_BELOW {
        return value as usize;
    }
    let shift = u64::BITS - 1 - value.leading_zeros() - SUB_BUCKET_BITS;
    let mantissa = value >> shift; // in [128, 256)
    (EXACT_BELOW + u64::from(shift - 1) * SUB_BUCKETS + (mantissa - SUB_BUCKETS)) as usize
}

/// The smallest and largest value of a bucket.
fn bucket_range(bucket: usize) -> (u64, u64) {
    let bucket = bucket as u64;
    if bucket < EXACT_BELOW {
        return (bucket, bucket);
    }
    let shift = (bucket - EXACT_BELOW) / SUB_BUCKETS + 1;
    let mantissa = (bucket - EXACT_BELOW) % SUB_BUCKETS + SUB_BUCKETS;
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    /// Counts one value.
    #[inline]
    pub fn record(&mut self, value: u64) {
        let bucket = bucket_of(value);
        match bucket.checked_sub(self.first).filter(|&i| i < self.counts.len()) {
            Some(index) => self.counts[index] += 1,
            None => {
                self.widen_to(bucket);
                self.counts[bucket - self.first] += 1;
            }
        }
        if self.total == 0 || value < self.min {
            self.min = value;
        }
        self.max = self.max.max(value);
        self.total += 1;
        self.sum += u128::from(value);
    }

    /// Makes the stored span include `bucket`.
    #[inline]
    fn widen_to(&mut self, bucket: usize) {
        if self.counts.is_empty() {
            self.first = bucket;
            self.counts.push(0);
        } else if bucket < self.first {
            let grow = self.first - bucket;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = bucket;
        } else if bucket >= self.first + self.counts.len() {
            self.counts.resize(bucket - self.first + 1, 0);
        }
    }

    /// Adds every value another histogram has counted.
    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        self.widen_to(other.first);
        self.widen_to(other.first + other.counts.len() - 1);
        let offset = other.first - self.first;
        for (mine, theirs) in self.counts[offset..].iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.min = if self.total == 0 { other.min } else { self.min.min(other.min) };
        self.max = self.max.max(other.max);
        self.total += other.total;
        self.sum += other.sum;
    }

    /// Number of values counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Exact mean of the values counted (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 { f64::NAN } else { self.sum as f64 / self.total as f64 }
    }

    /// Exact smallest value (None when empty).
    pub fn min(&self) -> Option<u64> {
        (self.total > 0).then_some(self.min)
    }

    /// Exact largest value (None when empty).
    pub fn max(&self) -> Option<u64> {
        (self.total > 0).then_some(self.max)
    }

    /// The `q`-quantile (`0 ≤ q ≤ 1`) by nearest rank: the value at rank ⌈q·n⌉ of the sorted
    /// samples, within 1 % relative error. None when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (offset, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bucket_range(self.first + offset);
                let midpoint = low + (high - low) / 2;
                return Some(midpoint.clamp(self.min, self.max));
            }
        }
        unreachable!("the counts add up to the total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::RandomStreams;
    use rand_distr::{Distribution, LogNormal};

    #[test]
    fn buckets_tile_the_integers_without_gaps() {
        let mut expected_low = 0;
        for bucket in 0..bucket_of(u64::MAX) + 1 {
            let (low, high) = bucket_range(bucket);
            assert_eq!(low, expected_low, "bucket {bucket}");
            assert_eq!(bucket_of(low), bucket);
            assert_eq!(bucket_of(high), bucket);
            assert!(high - low <= low / SUB_BUCKETS, "bucket {bucket} too wide");
            expected_low = high.wrapping_add(1);
        }
        assert_eq!(expected_low, 0, "the last bucket ends at u64::MAX");
    }

    #[test]
    fn quantiles_are_within_one_percent_of_the_exact_ones() {
        // Latency-like samples spanning five orders of magnitude (microseconds to seconds in ns).
        let mut rng = RandomStreams::new(11).stream("histogram-test");
        let dist = LogNormal::new(15.0, 2.0).unwrap();
        let mut samples: Vec<u64> = (0..200_000).map(|_| dist.sample(&mut rng) as u64).collect();
        let mut histogram = Histogram::default();
        samples.iter().for_each(|&v| histogram.record(v));
        samples.sort_unstable();
        for q in [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
            let rank = ((q * samples.len() as f64).ceil() as usize).max(1);
            let exact = samples[rank - 1] as f64;
            let estimate = histogram.quantile(q).unwrap() as f64;
            let error = (estimate - exact).abs() / exact.max(1.0);
            assert!(error <= 0.01, "q={q}: exact {exact}, estimate {estimate}, error {error}");
        }
        assert_eq!(histogram.min(), samples.first().copied());
        assert_eq!(histogram.max(), samples.last().copied());
        let mean = samples.iter().map(|&v| v as f64).sum::<f64>() / samples.len() as f64;
        assert!((histogram.mean() - mean).abs() / mean < 1e-12);
    }

    #[test]
    fn small_values_are_exact_and_merging_adds_up() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        (1..=100).for_each(|v| a.record(v));
        (101..=200).for_each(|v| b.record(v));
        a.merge(&b);
        assert_eq!(a.count(), 200);
        assert_eq!(a.quantile(0.5), Some(100));
        assert_eq!(a.quantile(0.99), Some(198));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
