//! istiod's push debounce: endpoint events are collected until things go quiet, then pushed.
//!
//! Follows `pilot/pkg/xds/discovery.go` (`debounce`), spec §8: a push happens once no event has
//! arrived for `debounce_after` (PILOT_DEBOUNCE_AFTER, 100 ms), or once `debounce_max`
//! (PILOT_DEBOUNCE_MAX, 10 s) has passed since the first event of the burst, whichever is first.

use sim::{SimDuration, SimTime};

/// The debounce state of the control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Debouncer {
    after: SimDuration,
    max: SimDuration,
    /// First and latest event of the burst being collected.
    burst: Option<(SimTime, SimTime)>,
}

impl Debouncer {
    /// A debouncer with istiod's quiet time and cap.
    pub fn new(after: SimDuration, max: SimDuration) -> Self {
        Debouncer { after, max, burst: None }
    }

    /// An endpoint event at `now`; returns when to check next if this starts a burst.
    pub fn on_event(&mut self, now: SimTime) -> Option<SimTime> {
        match &mut self.burst {
            Some((_, latest)) => {
                *latest = now;
                None
            }
            None => {
                self.burst = Some((now, now));
                Some(now + self.after)
            }
        }
    }

    /// The check scheduled earlier fires at `now`: `Ok(())` to push now (the burst ends), or
    /// `Err(t)` to check again at `t`.
    pub fn on_check(&mut self, now: SimTime) -> Result<(), SimTime> {
        let (first, latest) = self.burst.expect("a check is only scheduled during a burst");
        let quiet = now.checked_since(latest).unwrap_or(SimDuration::ZERO);
        if quiet >= self.after || now.checked_since(first).is_some_and(|d| d >= self.max) {
            self.burst = None;
            return Ok(());
        }
        Err((latest + self.after).min(first + self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    #[test]
    fn pushes_after_a_quiet_spell_or_at_the_cap() {
        let mut d = Debouncer::new(SimDuration::from_millis(100), SimDuration::from_secs(10));
        assert_eq!(d.on_event(ms(0)), Some(ms(100)));
        assert_eq!(d.on_event(ms(50)), None);
        assert_eq!(d.on_check(ms(100)), Err(ms(150)));
        assert_eq!(d.on_check(ms(150)), Ok(()));
        // A steady stream of events every 50 ms is pushed at the 10 s cap.
        assert_eq!(d.on_event(ms(1_000)), Some(ms(1_100)));
        let mut check = ms(1_100);
        let mut t = 1_000;
        loop {
            while t + 50 <= (check.as_nanos() / 1_000_000) {
                t += 50;
                d.on_event(ms(t));
            }
            match d.on_check(check) {
                Ok(()) => break,
                Err(next) => check = next,
            }
        }
        assert_eq!(check, ms(11_000));
    }
}
