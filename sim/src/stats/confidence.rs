//! Student-t confidence intervals for a mean estimated from independent replications.
//!
//! The t quantile is computed here rather than pulled from a statistics crate: the well-known
//! one (statrs) brings a linear-algebra dependency tree for this one function. The CDF uses the
//! regularized incomplete beta function by Lentz's continued fraction (Numerical Recipes §6.4),
//! the quantile bisects it to 1e-12.

use super::RunningStats;

/// A two-sided interval around a mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConfidenceInterval {
    /// The sample mean.
    pub mean: f64,
    /// Half the interval's width: the mean is `mean ± half_width`.
    pub half_width: f64,
    /// The confidence level it was built for, e.g. 0.95.
    pub level: f64,
}

impl ConfidenceInterval {
    /// The Student-t interval for the mean of the values in `stats` (one value per independent
    /// replication) at confidence `level` (e.g. 0.95). None with fewer than two values.
    pub fn student_t(stats: &RunningStats, level: f64) -> Option<Self> {
        if stats.count() < 2 || !(0.0..1.0).contains(&level) {
            return None;
        }
        let n = stats.count() as f64;
        let t = student_t_quantile(0.5 + level / 2.0, n - 1.0);
        Some(ConfidenceInterval { mean: stats.mean(), half_width: t * stats.sample_std_dev() / n.sqrt(), level })
    }

    /// Lower end.
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    /// Upper end.
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }

    /// Whether `value` lies inside the interval.
    pub fn contains(&self, value: f64) -> bool {
        self.low() <= value && value <= self.high()
    }
}

/// The `p`-quantile of Student's t distribution with `dof` degrees of freedom (`0 < p < 1`).
pub fn student_t_quantile(p: f64, dof: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0 && dof > 0.0, "t quantile needs 0 < p < 1 and dof > 0");
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, dof);
    }
    let (mut low, mut high) = (0.0_f64, 1.0_f64);
    while student_t_cdf(high, dof) < p {
        high *= 2.0;
    }
    while high - low > 1e-12 * high.max(1.0) {
        let mid = 0.5 * (low + high);
        if student_t_cdf(mid, dof) < p {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

fn student_t_cdf(t: f64, dof: f64) -> f64 {
    let tail = 0.5 * regularized_incomplete_beta(dof / (dof + t * t), dof / 2.0, 0.5);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    d = 1.0 / if d.abs() < TINY { TINY } else { d };
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        for numerator in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + numerator * d;
            d = 1.0 / if d.abs() < TINY { TINY } else { d };
            c = 1.0 + numerator / c;
            if c.abs() < TINY {
                c = TINY;
            }
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let series =
        COEFFICIENTS[1..].iter().enumerate().fold(COEFFICIENTS[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::RandomStreams;
    use rand_distr::{Distribution, Exp, Normal};

    #[test]
    fn t_quantiles_match_published_tables() {
        // Two-sided 95 % and 99 % critical values (any statistics textbook's t table).
        for (p, dof, expected) in [
            (0.975, 1.0, 12.7062),
            (0.975, 2.0, 4.3027),
            (0.975, 9.0, 2.2622),
            (0.975, 29.0, 2.0452),
            (0.995, 9.0, 3.2498),
            (0.975, 1e6, 1.9600),
            (0.5, 5.0, 0.0),
            (0.025, 9.0, -2.2622),
        ] {
            let q = student_t_quantile(p, dof);
            assert!((q - expected).abs() < 1e-4, "t({p}, {dof}) = {q}, expected {expected}");
        }
    }

    /// Over many experiments of 10 replications each, a 95 % interval must contain the true mean
    /// about 95 % of the time: for normal data exactly so, and close for skewed exponential data.
    #[test]
    fn intervals_cover_the_true_mean_at_their_level() {
        let streams = RandomStreams::new(2024);
        let experiments = 4000;
        let coverage = |mut draw: Box<dyn FnMut() -> f64>, truth: f64| {
            let mut covered = 0;
            for _ in 0..experiments {
                let mut stats = RunningStats::default();
                (0..10).for_each(|_| stats.push(draw()));
                if ConfidenceInterval::student_t(&stats, 0.95).unwrap().contains(truth) {
                    covered += 1;
                }
            }
            f64::from(covered) / f64::from(experiments)
        };
        let (mut normal_rng, normal) = (streams.stream("normal"), Normal::new(3.0, 2.0).unwrap());
        let normal_coverage = coverage(Box::new(move || normal.sample(&mut normal_rng)), 3.0);
        // Binomial sd of the coverage estimate is sqrt(.95·.05/4000) ≈ 0.0034: allow ±3 sd.
        assert!((normal_coverage - 0.95).abs() < 0.011, "normal coverage {normal_coverage}");
        let (mut exp_rng, exp) = (streams.stream("exponential"), Exp::new(1.0).unwrap());
        let skewed_coverage = coverage(Box::new(move || exp.sample(&mut exp_rng)), 1.0);
        // With n = 10, skewness costs the t interval a few points of coverage, no more.
        assert!((0.87..0.96).contains(&skewed_coverage), "exponential coverage {skewed_coverage}");
        // A 50 % interval must not pass as a 95 % one.
        let mut rng = streams.stream("narrow");
        let mut narrow_covered = 0;
        for _ in 0..experiments {
            let mut stats = RunningStats::default();
            (0..10).for_each(|_| stats.push(normal.sample(&mut rng)));
            narrow_covered += u32::from(ConfidenceInterval::student_t(&stats, 0.5).unwrap().contains(3.0));
        }
        let narrow = f64::from(narrow_covered) / f64::from(experiments);
        assert!((narrow - 0.5).abs() < 0.03, "50% interval coverage {narrow}");
    }
}
