//! The simulation loop: a clock, the pending events, and the model they are handed to.
//!
//! The engine owns time and the event list; a [`Model`] owns all state of the simulated world and
//! reacts to one event at a time through a [`Scheduler`] handle, on which it schedules, cancels
//! and stops. Events are a plain type chosen by the model (usually an enum), stored inline in the
//! queue: no boxing, no dynamic dispatch, no allocation per event once the queue has grown.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroU64;

use crate::queue::EventQueue;
use crate::time::{SimDuration, SimTime};

/// A simulated system: everything that changes when an event happens.
pub trait Model {
    /// What can happen in this system. Small `Copy` enums keep the queue fast.
    type Event;

    /// Reacts to `event` at `scheduler.now()`, scheduling what follows from it.
    fn handle(&mut self, event: Self::Event, scheduler: &mut Scheduler<Self::Event>);
}

/// Identifies a scheduled event so that it can be cancelled (a timeout that a response beat).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventHandle {
    time: SimTime,
    /// Never zero (sequences start at 1), so that an `Option<EventHandle>` is no larger.
    sequence: NonZeroU64,
}

impl EventHandle {
    /// When the event is (or was) due.
    pub fn time(self) -> SimTime {
        self.time
    }
}

/// Why a run loop returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// No event is pending.
    Exhausted,
    /// The next event is after the requested end time; the clock now reads that end time.
    ReachedTime,
    /// The model called [`Scheduler::stop`].
    StoppedByModel,
    /// The caller's stop condition said so.
    ConditionMet,
}

/// Hashes event sequence numbers, which are unique and dense: one multiply spreads them.
#[derive(Default)]
struct SequenceHasher(u64);

impl Hasher for SequenceHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _bytes: &[u8]) {
        unreachable!("only sequence numbers (u64) are hashed")
    }
    fn write_u64(&mut self, sequence: u64) {
        self.0 = sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The model's handle on the engine while it handles an event: the clock, scheduling,
/// cancellation and the request to stop.
pub struct Scheduler<E> {
    now: SimTime,
    queue: EventQueue<E>,
    next_sequence: u64,
    /// `(time, sequence)` of the last event taken out of the queue (handled or dropped as
    /// cancelled); events at or before it can no longer be cancelled.
    removed_through: (SimTime, u64),
    /// Sequence numbers of cancelled events still in the queue, skipped when they come out.
    cancelled: HashSet<u64, BuildHasherDefault<SequenceHasher>>,
    stop_requested: bool,
    events_handled: u64,
}

impl<E> Scheduler<E> {
    fn new() -> Self {
        Scheduler {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            next_sequence: 1,
            removed_through: (SimTime::ZERO, 0),
            cancelled: HashSet::default(),
            stop_requested: false,
            events_handled: 0,
        }
    }

    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at`. Events at the same time are handled in the order scheduled.
    ///
    /// # Panics
    /// If `at` is before [`now`](Self::now): scheduling into the past is a bug in the model.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> EventHandle {
        assert!(at >= self.now, "event scheduled in the past: {at} while the clock reads {}", self.now);
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.queue.push(at.as_nanos(), sequence, event);
        EventHandle { time: at, sequence: NonZeroU64::new(sequence).expect("sequences start at 1") }
    }

    /// Schedules `event` after `delay` from now.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventHandle {
        self.schedule_at(self.now + delay, event)
    }

    /// Cancels a scheduled event. Returns `false` if it was already handled or cancelled.
    pub fn cancel(&mut self, handle: EventHandle) -> bool {
        let sequence = handle.sequence.get();
        (handle.time, sequence) > self.removed_through && self.cancelled.insert(sequence)
    }

    /// Asks the run loop to return once the current event is handled.
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// Number of events waiting (cancelled ones excluded).
    pub fn pending(&self) -> usize {
        self.queue.len() - self.cancelled.len()
    }

    /// Number of events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.events_handled
    }

    /// Time of the next live event, dropping cancelled ones found at the front.
    #[inline]
    fn next_time(&mut self) -> Option<SimTime> {
        loop {
            let (time, sequence) = self.queue.peek()?;
            let time = SimTime::from_nanos(time);
            if self.cancelled.is_empty() || !self.cancelled.remove(&sequence) {
                return Some(time);
            }
            self.queue.pop_through(u64::MAX);
            self.removed_through = (time, sequence);
        }
    }

    /// Takes the next live event if it is due at or before `end`, and advances the clock to it.
    #[inline]
    fn take_next_through(&mut self, end: SimTime) -> Option<E> {
        loop {
            let (time, sequence, event) = self.queue.pop_through(end.as_nanos())?;
            let time = SimTime::from_nanos(time);
            self.removed_through = (time, sequence);
            if !self.cancelled.is_empty() && self.cancelled.remove(&sequence) {
                continue;
            }
            self.now = time;
            self.events_handled += 1;
            return Some(event);
        }
    }
}

/// A model together with its clock and pending events.
pub struct Simulation<M: Model> {
    model: M,
    scheduler: Scheduler<M::Event>,
}

impl<M: Model> Simulation<M> {
    /// A simulation of `model` at time zero with nothing scheduled yet.
    pub fn new(model: M) -> Self {
        Simulation { model, scheduler: Scheduler::new() }
    }

    /// A simulation of the model `build` makes, which may schedule its first events, or the
    /// error that kept it from being built.
    pub fn try_new_with<E>(build: impl FnOnce(&mut Scheduler<M::Event>) -> Result<M, E>) -> Result<Self, E> {
        let mut scheduler = Scheduler::new();
        let model = build(&mut scheduler)?;
        Ok(Simulation { model, scheduler })
    }

    /// The simulated system, for reading results.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The simulated system, for changes between runs (injecting a fault by hand, say).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Gives the simulated system back, ending the simulation.
    pub fn into_model(self) -> M {
        self.model
    }

    /// The scheduler, for seeding initial events before (or between) runs.
    pub fn scheduler(&mut self) -> &mut Scheduler<M::Event> {
        &mut self.scheduler
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.scheduler.now
    }

    /// When the next event is due, without handling it (`None` if nothing is pending): lets a
    /// caller stop before an event past its horizon rather than after it.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.scheduler.next_time()
    }

    /// Handles the next event. Returns its time, or `None` if nothing is pending.
    #[inline]
    pub fn step(&mut self) -> Option<SimTime> {
        let event = self.scheduler.take_next_through(SimTime::from_nanos(u64::MAX))?;
        self.model.handle(event, &mut self.scheduler);
        Some(self.scheduler.now)
    }

    /// Handles events until none is pending or the model stops the run.
    pub fn run(&mut self) -> StopReason {
        self.run_while(|_, _| true)
    }

    /// Handles every event due at or before `end`, then sets the clock to `end`
    /// (unless the model stopped the run first, which leaves the clock at that event).
    pub fn run_until(&mut self, end: SimTime) -> StopReason {
        self.scheduler.stop_requested = false;
        while let Some(event) = self.scheduler.take_next_through(end) {
            self.model.handle(event, &mut self.scheduler);
            if self.scheduler.stop_requested {
                return StopReason::StoppedByModel;
            }
        }
        self.scheduler.now = self.scheduler.now.max(end);
        if self.scheduler.pending() == 0 { StopReason::Exhausted } else { StopReason::ReachedTime }
    }

    /// Handles events while `keep_going(model, now)` holds; it is asked after every event.
    pub fn run_while(&mut self, mut keep_going: impl FnMut(&M, SimTime) -> bool) -> StopReason {
        self.scheduler.stop_requested = false;
        while self.step().is_some() {
            if self.scheduler.stop_requested {
                return StopReason::StoppedByModel;
            }
            if !keep_going(&self.model, self.scheduler.now) {
                return StopReason::ConditionMet;
            }
        }
        StopReason::Exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it was handed and, for some events, schedules or cancels others.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<(SimTime, u32)>,
        to_cancel: Option<EventHandle>,
    }

    #[derive(Clone, Copy)]
    enum Ev {
        Mark(u32),
        /// Schedules `Mark(id)` and remembers its handle for a later `CancelRemembered`.
        ScheduleLater(u32, u64),
        CancelRemembered,
        Stop,
    }

    impl Model for Recorder {
        type Event = Ev;
        fn handle(&mut self, event: Ev, s: &mut Scheduler<Ev>) {
            match event {
                Ev::Mark(id) => self.seen.push((s.now(), id)),
                Ev::ScheduleLater(id, ms) => {
                    self.to_cancel = Some(s.schedule_in(SimDuration::from_millis(ms), Ev::Mark(id)));
                }
                Ev::CancelRemembered => {
                    let handle = self.to_cancel.take().unwrap();
                    self.seen.push((s.now(), if s.cancel(handle) { 1 } else { 0 }));
                }
                Ev::Stop => s.stop(),
            }
        }
    }

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    #[test]
    fn the_next_event_can_be_seen_before_it_is_handled() {
        let mut sim = Simulation::new(Recorder::default());
        assert_eq!(sim.next_event_time(), None);
        sim.scheduler().schedule_at(ms(7), Ev::Mark(1));
        assert_eq!(sim.next_event_time(), Some(ms(7)));
        assert!(sim.model().seen.is_empty(), "looking handles nothing");
        assert_eq!(sim.step(), Some(ms(7)));
        assert_eq!(sim.next_event_time(), None);
    }

    #[test]
    fn equal_times_are_handled_first_in_first_out() {
        let mut sim = Simulation::new(Recorder::default());
        for id in 0..100 {
            sim.scheduler().schedule_at(ms(5), Ev::Mark(id));
        }
        sim.scheduler().schedule_at(ms(1), Ev::Mark(1000));
        assert_eq!(sim.run(), StopReason::Exhausted);
        let ids: Vec<u32> = sim.model().seen.iter().map(|&(_, id)| id).collect();
        let expected: Vec<u32> = std::iter::once(1000).chain(0..100).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn cancelled_events_never_happen_and_late_cancels_report_false() {
        let mut sim = Simulation::new(Recorder::default());
        sim.scheduler().schedule_at(ms(1), Ev::ScheduleLater(7, 10)); // Mark(7) at 11ms
        sim.scheduler().schedule_at(ms(5), Ev::CancelRemembered); // cancels it: records 1
        sim.scheduler().schedule_at(ms(20), Ev::ScheduleLater(8, 1)); // Mark(8) at 21ms
        sim.scheduler().schedule_at(ms(30), Ev::CancelRemembered); // too late: records 0
        assert_eq!(sim.run(), StopReason::Exhausted);
        assert_eq!(sim.model().seen, vec![(ms(5), 1), (ms(21), 8), (ms(30), 0)]);
        assert_eq!(sim.scheduler().events_handled(), 5);
    }

    #[test]
    fn run_until_stops_at_the_end_time_and_later_schedules_still_order() {
        let mut sim = Simulation::new(Recorder::default());
        sim.scheduler().schedule_at(ms(10), Ev::Mark(1));
        sim.scheduler().schedule_at(ms(30), Ev::Mark(3));
        assert_eq!(sim.run_until(ms(20)), StopReason::ReachedTime);
        assert_eq!(sim.now(), ms(20));
        // Scheduled from outside, earlier than the event the queue has already looked at.
        sim.scheduler().schedule_at(ms(25), Ev::Mark(2));
        assert_eq!(sim.run_until(ms(100)), StopReason::Exhausted);
        assert_eq!(sim.model().seen, vec![(ms(10), 1), (ms(25), 2), (ms(30), 3)]);
        assert_eq!(sim.now(), ms(100));
    }

    #[test]
    fn the_model_and_the_caller_can_stop_a_run() {
        let mut sim = Simulation::new(Recorder::default());
        for id in 0..10 {
            sim.scheduler().schedule_at(ms(u64::from(id)), Ev::Mark(id));
        }
        sim.scheduler().schedule_at(ms(3), Ev::Stop);
        assert_eq!(sim.run(), StopReason::StoppedByModel);
        assert_eq!(sim.model().seen.len(), 4);
        assert_eq!(sim.run_while(|m, _| m.seen.len() < 6), StopReason::ConditionMet);
        assert_eq!(sim.model().seen.len(), 6);
        assert_eq!(sim.scheduler().pending(), 4);
    }

    #[test]
    #[should_panic(expected = "scheduled in the past")]
    fn scheduling_into_the_past_is_refused() {
        let mut sim = Simulation::new(Recorder::default());
        sim.scheduler().schedule_at(ms(10), Ev::Mark(1));
        sim.run();
        sim.scheduler().schedule_at(ms(5), Ev::Mark(2));
    }
}
