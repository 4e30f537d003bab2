//! Merging of host health updates before they reach the load balancers.
//!
//! Follows `ClusterManagerImpl::scheduleUpdate` and `applyUpdates` in
//! `source/common/upstream/cluster_manager_impl.cc` (spec addenda: `update_merge_window`, 1 s by
//! default, which Istio leaves alone). Per cluster and priority: an update that only changes
//! health (an ejection, an uneject) and arrives more than a window after the last delivered one
//! is delivered at once; one that arrives within the window waits for a timer armed for one window
//! from that moment, and everything that changed meanwhile is delivered together when it fires.
//! An update that adds or removes hosts (EDS) is never merged: it is delivered at once and
//! cancels the pending timer. So an uneject followed soon by a re-ejection reaches the load
//! balancers only when the window closes, and traffic keeps flowing to the broken host meanwhile.

use sim::{SimDuration, SimTime};

/// When an update reaches the load balancers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Now.
    Now,
    /// When the merge timer fires at this time (already armed or armed now).
    At(SimTime),
}

/// The merge state of one cluster priority level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateMerger {
    window: SimDuration,
    last_delivered: Option<SimTime>,
    pending_until: Option<SimTime>,
    /// Merged updates cancelled by an update delivered at once (`update_merge_cancelled`).
    pub cancelled: u64,
    /// Health updates delivered at once because the window had passed
    /// (`update_out_of_merge_window`).
    pub out_of_window: u64,
}

impl UpdateMerger {
    /// A merger with this window (zero delivers every update at once).
    pub fn new(window: SimDuration) -> Self {
        UpdateMerger { window, last_delivered: None, pending_until: None, cancelled: 0, out_of_window: 0 }
    }

    /// When a pending merged update is due, if any.
    pub fn pending_until(&self) -> Option<SimTime> {
        self.pending_until
    }

    /// An update happened at `now`; `adds_or_removes_hosts` marks EDS membership changes.
    pub fn on_update(&mut self, now: SimTime, adds_or_removes_hosts: bool) -> Delivery {
        if self.window == SimDuration::ZERO {
            self.last_delivered = Some(now);
            return Delivery::Now;
        }
        // Envoy compares whole milliseconds: `delta_ms > timeout`.
        let window_ms = self.window.as_nanos() / 1_000_000;
        let out_of_window = self.last_delivered.is_none_or(|last| (now - last).as_nanos() / 1_000_000 > window_ms);
        if out_of_window || adds_or_removes_hosts {
            self.out_of_window += u64::from(out_of_window && !adds_or_removes_hosts);
            self.cancelled += u64::from(self.pending_until.is_some());
            self.pending_until = None;
            self.last_delivered = Some(now);
            return Delivery::Now;
        }
        Delivery::At(*self.pending_until.get_or_insert(now + self.window))
    }

    /// The merge timer fired at `now`: the pending update is delivered.
    pub fn deliver_pending(&mut self, now: SimTime) {
        self.pending_until = None;
        self.last_delivered = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    #[test]
    fn updates_within_a_window_of_the_last_are_merged_until_it_closes() {
        let mut merger = UpdateMerger::new(SimDuration::from_secs(1));
        // First ever: at once.
        assert_eq!(merger.on_update(ms(5_000), false), Delivery::Now);
        // An uneject, then a re-ejection 300 ms later: the re-ejection waits a full window.
        assert_eq!(merger.on_update(ms(5_400), false), Delivery::At(ms(6_400)));
        assert_eq!(merger.on_update(ms(5_900), false), Delivery::At(ms(6_400)));
        merger.deliver_pending(ms(6_400));
        assert_eq!(merger.pending_until(), None);
        // Exactly one window later is still inside (Envoy needs strictly more).
        assert_eq!(merger.on_update(ms(7_400), false), Delivery::At(ms(8_400)));
        // A membership change is delivered at once and cancels the timer.
        assert_eq!(merger.on_update(ms(7_500), true), Delivery::Now);
        assert_eq!(merger.pending_until(), None);
        assert_eq!(merger.on_update(ms(8_501), false), Delivery::Now);
    }

    #[test]
    fn a_zero_window_never_merges() {
        let mut merger = UpdateMerger::new(SimDuration::ZERO);
        assert_eq!(merger.on_update(ms(1), false), Delivery::Now);
        assert_eq!(merger.on_update(ms(2), false), Delivery::Now);
    }
}
