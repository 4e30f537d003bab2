//! Values folded into fixed-width time windows (requests per second, error rate per window).

use crate::time::{SimDuration, SimTime};

/// One accumulator per window of simulated time. Memory grows with the simulated duration
/// divided by the window width, never with the number of samples.
#[derive(Clone, Debug)]
pub struct TimeSeries<T> {
    width: SimDuration,
    windows: Vec<T>,
}

impl<T: Default> TimeSeries<T> {
    /// An empty series with windows of `width` (which must not be zero).
    pub fn new(width: SimDuration) -> Self {
        assert!(width > SimDuration::ZERO, "a time series needs a window wider than zero");
        TimeSeries { width, windows: Vec::new() }
    }

    /// The accumulator of the window holding instant `at`, created (with all windows before it)
    /// on first use.
    #[inline]
    pub fn at_mut(&mut self, at: SimTime) -> &mut T {
        let index = (at.as_nanos() / self.width.as_nanos()) as usize;
        if index >= self.windows.len() {
            self.grow_to(index);
        }
        &mut self.windows[index]
    }

    /// Creates every window up to and including window `index` (once per window: out of the
    /// way of the look-up above, which a run makes several times per request).
    #[cold]
    #[inline(never)]
    fn grow_to(&mut self, index: usize) {
        self.windows.resize_with(index + 1, T::default);
    }

    /// Makes the series cover every window up to and including the one holding `end`, so that
    /// quiet windows at the end of a run still appear.
    pub fn extend_to(&mut self, end: SimTime) {
        self.at_mut(end);
    }

    /// The window width.
    pub fn width(&self) -> SimDuration {
        self.width
    }

    /// Each window's start time and accumulator, in time order.
    pub fn iter(&self) -> impl Iterator<Item = (SimTime, &T)> {
        let width = self.width.as_nanos();
        self.windows.iter().enumerate().map(move |(i, w)| (SimTime::from_nanos(i as u64 * width), w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_their_window_and_gaps_are_filled() {
        let mut series: TimeSeries<u32> = TimeSeries::new(SimDuration::from_secs(1));
        let at = |ms| SimTime::ZERO + SimDuration::from_millis(ms);
        *series.at_mut(at(0)) += 1;
        *series.at_mut(at(999)) += 1;
        *series.at_mut(at(1000)) += 5;
        *series.at_mut(at(3500)) += 7;
        series.extend_to(at(4000));
        let got: Vec<(f64, u32)> = series.iter().map(|(t, &v)| (t.as_secs_f64(), v)).collect();
        assert_eq!(got, vec![(0.0, 2), (1.0, 5), (2.0, 0), (3.0, 7), (4.0, 0)]);
    }
}
