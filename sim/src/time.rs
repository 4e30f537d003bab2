//! Simulated time: integer nanoseconds, so runs never drift or disagree through float rounding.
//!
//! Durations read and print the way people write them in scenario files: `250ms`, `1.5s`, `2m`,
//! `1h`, `10us`, `100ns`. Parsing is exact decimal arithmetic; a value finer than a nanosecond or
//! too large for 64 bits of nanoseconds is an error, never a silent rounding.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_MIN: u64 = 60 * NANOS_PER_SEC;
const NANOS_PER_HOUR: u64 = 60 * NANOS_PER_MIN;

/// An instant on the simulation clock, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The instant a run starts.
    pub const ZERO: SimTime = SimTime(0);
    /// The last representable instant, about 584 years in; useful as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimTime(nanos)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start, for reports and plots (never for arithmetic on time).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Time elapsed since `earlier`, or `None` if `earlier` is later than `self`.
    pub fn checked_since(self, earlier: SimTime) -> Option<SimDuration> {
        self.0.checked_sub(earlier.0).map(SimDuration)
    }

    /// `self + delay`, or `None` past [`SimTime::MAX`].
    pub fn checked_add(self, delay: SimDuration) -> Option<SimTime> {
        self.0.checked_add(delay.0).map(SimTime)
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimDuration(nanos)
    }

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        SimDuration(micros * NANOS_PER_MICRO)
    }

    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis * NANOS_PER_MILLI)
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        SimDuration(secs * NANOS_PER_SEC)
    }

    /// The duration closest to `secs` seconds, for sampled delays (exponential service times,
    /// jitter). Negative and NaN inputs give zero; huge ones saturate.
    pub fn from_secs_f64(secs: f64) -> Self {
        // `as` saturates and maps NaN and negatives to 0, which is what a sampled delay needs;
        // adding a half before truncating rounds to the nearest nanosecond.
        SimDuration((secs * NANOS_PER_SEC as f64 + 0.5) as u64)
    }

    /// Length in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Length in seconds, for reports and plots.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// `self × factor`, or `None` on overflow.
    pub fn checked_mul(self, factor: u64) -> Option<SimDuration> {
        self.0.checked_mul(factor).map(SimDuration)
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Panics on overflow past [`SimTime::MAX`]; use [`SimTime::checked_add`] where that can happen.
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.checked_add(rhs.0).expect("simulated time overflowed u64 nanoseconds"))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    /// The time from `rhs` to `self`. Panics if `rhs` is later; use [`SimTime::checked_since`].
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.checked_since(rhs).expect("subtracted a later SimTime from an earlier one")
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_add(rhs.0).expect("duration overflowed u64 nanoseconds"))
    }
}

/// Why a duration string could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseDurationError {
    input: String,
    reason: &'static str,
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration {:?}: {}; write a number and a unit (ns, us, ms, s, m, h), e.g. 250ms, 1.5s, 2m",
            self.input, self.reason
        )
    }
}

impl std::error::Error for ParseDurationError {}

impl FromStr for SimDuration {
    type Err = ParseDurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason| ParseDurationError { input: input.to_owned(), reason };
        let text = input.trim();
        let unit_start =
            text.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| error("the unit is missing"))?;
        let (number, unit) = text.split_at(unit_start);
        let unit_nanos = match unit.trim_start() {
            "ns" => 1,
            "us" | "µs" => NANOS_PER_MICRO,
            "ms" => NANOS_PER_MILLI,
            "s" => NANOS_PER_SEC,
            "m" | "min" => NANOS_PER_MIN,
            "h" => NANOS_PER_HOUR,
            _ => return Err(error("unknown unit")),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(error("the number is missing"));
        }
        if fraction.contains('.') || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("the number is malformed"));
        }
        let whole: u128 =
            if whole.is_empty() { 0 } else { whole.parse().map_err(|_| error("the number is too large"))? };
        // Exact decimal: fraction digits × unit must land on a whole nanosecond.
        let mut fraction_nanos: u128 = 0;
        let mut scale: u128 = 1;
        for digit in fraction.bytes() {
            scale = scale.checked_mul(10).ok_or_else(|| error("too many decimals"))?;
            fraction_nanos = fraction_nanos * 10 + u128::from(digit - b'0');
        }
        let fraction_total = fraction_nanos * u128::from(unit_nanos);
        if !fraction_total.is_multiple_of(scale) {
            return Err(error("it is finer than a nanosecond"));
        }
        let nanos = whole
            .checked_mul(u128::from(unit_nanos))
            .and_then(|n| n.checked_add(fraction_total / scale))
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| error("it is too long (over 584 years)"))?;
        Ok(SimDuration(nanos))
    }
}

impl fmt::Display for SimDuration {
    /// Prints the form a person would write: whole hours or minutes when exact, else the largest
    /// of s, ms, us, ns with the decimals needed to be exact (`90s`, `1.5s`, `250ms`, `2m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(NANOS_PER_HOUR, "h"), (NANOS_PER_MIN, "m")] {
            if n.is_multiple_of(unit) {
                return write!(f, "{}{name}", n / unit);
            }
        }
        let (unit, name) = [(NANOS_PER_SEC, "s"), (NANOS_PER_MILLI, "ms"), (NANOS_PER_MICRO, "us")]
            .into_iter()
            .find(|&(unit, _)| n >= unit)
            .unwrap_or((1, "ns"));
        let whole = n / unit;
        let rest = n % unit;
        if rest == 0 {
            return write!(f, "{whole}{name}");
        }
        let digits = unit.ilog10() as usize;
        let decimals = format!("{rest:0digits$}");
        write!(f, "{whole}.{}{name}", decimals.trim_end_matches('0'))
    }
}

impl fmt::Display for SimTime {
    /// An instant prints as its offset from the start of the run, e.g. `t=1.5s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> SimDuration {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_units_people_write() {
        assert_eq!(parse("250ms"), SimDuration::from_millis(250));
        assert_eq!(parse("1.5s"), SimDuration::from_millis(1500));
        assert_eq!(parse("2m"), SimDuration::from_secs(120));
        assert_eq!(parse("1h"), SimDuration::from_secs(3600));
        assert_eq!(parse("10us"), SimDuration::from_micros(10));
        assert_eq!(parse("100ns"), SimDuration::from_nanos(100));
        assert_eq!(parse(" 0.25 s "), SimDuration::from_millis(250));
        assert_eq!(parse(".5ms"), SimDuration::from_micros(500));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["", "10", "ms", "1.5.0s", "1x", "-5s", "1.5ns", "1e3ms", "99999999999h", "1,5s"] {
            let err = bad.parse::<SimDuration>().unwrap_err();
            assert!(err.to_string().contains("e.g. 250ms"), "{bad}: {err}");
        }
    }

    #[test]
    fn prints_as_people_write() {
        assert_eq!(parse("250ms").to_string(), "250ms");
        assert_eq!(parse("1500ms").to_string(), "1.5s");
        assert_eq!(parse("120s").to_string(), "2m");
        assert_eq!(parse("90s").to_string(), "90s");
        assert_eq!(parse("3600s").to_string(), "1h");
        assert_eq!(parse("1.000001s").to_string(), "1.000001s");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
        assert_eq!(SimTime::from_nanos(1_500_000_000).to_string(), "t=1.5s");
    }

    proptest! {
        #[test]
        fn printing_then_parsing_is_exact(nanos in 0u64..u64::MAX) {
            let d = SimDuration::from_nanos(nanos);
            prop_assert_eq!(d.to_string().parse::<SimDuration>().unwrap(), d);
        }
    }
}
