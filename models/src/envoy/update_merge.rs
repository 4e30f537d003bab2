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

/// The mergers of every priority level of one cluster. Until a health update reaches them they
/// all agree, as only EDS updates (delivered to every level at once) have: they are then held as
/// one time, and most clusters of a large mesh never hold more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LevelMergers {
    /// Every level's merger is `UpdateMerger::new` fed only membership updates, the last at
    /// `last_delivered`.
    Alike { levels: u32, last_delivered: Option<SimTime> },
    /// Each level's own merger, from the first health update on.
    Apart(Vec<UpdateMerger>),
}

impl LevelMergers {
    /// The mergers of `levels` levels, before any update.
    pub fn new(levels: usize) -> Self {
        LevelMergers::Alike { levels: levels as u32, last_delivered: None }
    }

    /// How many levels there are.
    pub fn levels(&self) -> usize {
        match self {
            LevelMergers::Alike { levels, .. } => *levels as usize,
            LevelMergers::Apart(mergers) => mergers.len(),
        }
    }

    /// An EDS update at `now`, now with `levels` levels (new ones merging with `window`): every
    /// level delivers it at once and drops its pending merge.
    pub fn on_membership_update(&mut self, now: SimTime, levels: usize, window: SimDuration) {
        match self {
            LevelMergers::Alike { levels: count, last_delivered } => {
                *count = levels as u32;
                *last_delivered = Some(now);
            }
            LevelMergers::Apart(mergers) => {
                mergers.resize(levels, UpdateMerger::new(window));
                for merger in mergers {
                    merger.on_update(now, true);
                }
            }
        }
    }

    /// Each level's merger, with `window`, made its own if the levels were still alike.
    pub fn apart(&mut self, window: SimDuration) -> &mut [UpdateMerger] {
        if let LevelMergers::Alike { levels, last_delivered } = *self {
            let alike = UpdateMerger { last_delivered, ..UpdateMerger::new(window) };
            *self = LevelMergers::Apart(vec![alike; levels as usize]);
        }
        match self {
            LevelMergers::Apart(mergers) => mergers,
            LevelMergers::Alike { .. } => unreachable!("made apart above"),
        }
    }

    /// Each level's merger, while they are apart (alike, none has anything pending or counted).
    pub fn each(&self) -> &[UpdateMerger] {
        match self {
            LevelMergers::Alike { .. } => &[],
            LevelMergers::Apart(mergers) => mergers,
        }
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
    fn levels_held_as_one_part_as_the_mergers_each_level_would_have_kept() {
        let window = SimDuration::from_secs(1);
        let mut alike = LevelMergers::new(2);
        let mut each = vec![UpdateMerger::new(window); 2];
        // Membership updates only, one of them adding a level: still held as one.
        for (at, levels) in [(100, 2), (700, 3)] {
            alike.on_membership_update(ms(at), levels, window);
            each.resize(levels, UpdateMerger::new(window));
            for merger in &mut each {
                merger.on_update(ms(at), true);
            }
        }
        assert_eq!(alike, LevelMergers::Alike { levels: 3, last_delivered: Some(ms(700)) });
        assert_eq!(alike.levels(), 3);
        assert!(alike.each().is_empty());
        // The first health update parts them, each as its own merger would be.
        assert_eq!(alike.apart(window), each.as_slice());
        assert_eq!(alike.apart(window)[1].on_update(ms(1_500), false), Delivery::At(ms(2_500)));
        assert_eq!(each[1].on_update(ms(1_500), false), Delivery::At(ms(2_500)));
        alike.on_membership_update(ms(1_600), 2, window);
        each.truncate(2);
        for merger in &mut each {
            merger.on_update(ms(1_600), true);
        }
        assert_eq!(alike.each(), each.as_slice());
        assert_eq!(alike.each()[1].cancelled, 1);
    }

    #[test]
    fn a_zero_window_never_merges() {
        let mut merger = UpdateMerger::new(SimDuration::ZERO);
        assert_eq!(merger.on_update(ms(1), false), Delivery::Now);
        assert_eq!(merger.on_update(ms(2), false), Delivery::Now);
    }
}
