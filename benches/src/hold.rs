//! The classic hold model (Vaucher and Duval, 1975): `pending` events are outstanding; handling
//! one schedules one new event at now + Exp(mean 1 ms). It measures the event list alone, at a
//! steady queue size, which is what dominates a large discrete-event simulation.
//!
//! Four implementations that do exactly the same work, random draws included: the `sim`
//! engine; the baseline, a bare loop over `std::collections::BinaryHeap`; the `priority-queue`
//! crate's `PriorityQueue` as the event list (the package meshsim was first specified with: an
//! indexed heap that can change or remove any item by key); and nexosim, a Rust discrete-event
//! framework, with the hold model as one of its models scheduling events on itself.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nexosim::model::{BuildContext, Context, ProtoModel, schedulable};
use nexosim::simulation::{Mailbox, SimInit};
use nexosim::time::MonotonicTime;
use serde::{Deserialize, Serialize};

use rand_distr::{Distribution, Exp};
use sim::{Model, RandomStreams, Scheduler, SimDuration, Simulation, StreamRng};

/// Mean delay between an event and the one it schedules.
const MEAN_HOLD_SECONDS: f64 = 1e-3;

/// Draws hold times in nanoseconds.
struct HoldTimes {
    exp: Exp<f64>,
    rng: StreamRng,
}

impl HoldTimes {
    fn new(seed: u64) -> Self {
        HoldTimes {
            exp: Exp::new(1.0 / MEAN_HOLD_SECONDS).expect("positive rate"),
            rng: RandomStreams::new(seed).stream("hold"),
        }
    }

    #[inline]
    fn next(&mut self) -> SimDuration {
        SimDuration::from_secs_f64(self.exp.sample(&mut self.rng))
    }
}

struct HoldModel {
    hold: HoldTimes,
}

impl Model for HoldModel {
    type Event = ();

    #[inline]
    fn handle(&mut self, _: (), s: &mut Scheduler<()>) {
        let delay = self.hold.next();
        s.schedule_in(delay, ());
    }
}

/// Runs `events` events of the hold model on the `sim` engine with `pending` outstanding;
/// returns the final clock in nanoseconds (so the work cannot be optimised away, and so the two
/// implementations can be checked against each other).
pub fn run_engine(pending: usize, events: u64, seed: u64) -> u64 {
    let mut hold = HoldTimes::new(seed);
    let first: Vec<SimDuration> = (0..pending).map(|_| hold.next()).collect();
    let mut simulation = Simulation::new(HoldModel { hold });
    for delay in first {
        simulation.scheduler().schedule_in(delay, ());
    }
    for _ in 0..events {
        simulation.step();
    }
    simulation.now().as_nanos()
}

/// The same model on a bare `BinaryHeap` of `(time, sequence)`: the baseline.
pub fn run_binary_heap(pending: usize, events: u64, seed: u64) -> u64 {
    let mut hold = HoldTimes::new(seed);
    let mut heap = BinaryHeap::with_capacity(pending + 1);
    let mut sequence = 0u64;
    for _ in 0..pending {
        sequence += 1;
        heap.push(Reverse((hold.next().as_nanos(), sequence)));
    }
    let mut now = 0;
    for _ in 0..events {
        let Reverse((time, _)) = heap.pop().expect("the hold model never runs dry");
        now = time;
        sequence += 1;
        heap.push(Reverse((now + hold.next().as_nanos(), sequence)));
    }
    now
}

/// The same model with the `priority-queue` crate as the event list: each event an item keyed
/// by its sequence number, its priority the reversed `(time, sequence)`.
pub fn run_priority_queue(pending: usize, events: u64, seed: u64) -> u64 {
    let mut hold = HoldTimes::new(seed);
    let mut queue = priority_queue::PriorityQueue::with_capacity(pending + 1);
    let mut sequence = 0u64;
    for _ in 0..pending {
        sequence += 1;
        queue.push(sequence, Reverse((hold.next().as_nanos(), sequence)));
    }
    let mut now = 0;
    for _ in 0..events {
        let (_, Reverse((time, _))) = queue.pop().expect("the hold model never runs dry");
        now = time;
        sequence += 1;
        queue.push(sequence, Reverse((now + hold.next().as_nanos(), sequence)));
    }
    now
}

/// The hold model as a nexosim model: its state is empty; the draws and the count of handled
/// events live in its environment (nexosim's place for what a model does not serialize).
#[derive(Serialize, Deserialize)]
struct NexosimHold {
    pending: usize,
}

/// What the nexosim hold model draws from and reports to its driver.
struct NexosimHoldEnv {
    hold: HoldTimes,
    handled: Arc<AtomicU64>,
}

#[nexosim::model::Model(type Env = NexosimHoldEnv)]
impl NexosimHold {
    /// Schedules the first `pending` events, drawn in the order the other implementations draw them.
    #[nexosim(init)]
    async fn init(&mut self, cx: &Context<Self>, env: &mut NexosimHoldEnv) {
        for _ in 0..self.pending {
            let delay = env.hold.next();
            schedule_hold(cx, delay);
        }
    }

    /// One event: schedules the next one.
    #[nexosim(schedulable)]
    async fn fire(&mut self, _: (), cx: &Context<Self>, env: &mut NexosimHoldEnv) {
        env.handled.fetch_add(1, Ordering::Relaxed);
        let delay = env.hold.next();
        schedule_hold(cx, delay);
    }
}

/// Builds the nexosim hold model with its environment.
struct NexosimHoldProto {
    pending: usize,
    env: NexosimHoldEnv,
}

impl ProtoModel for NexosimHoldProto {
    type Model = NexosimHold;

    fn build(self, _: &mut BuildContext<Self>) -> (NexosimHold, NexosimHoldEnv) {
        (NexosimHold { pending: self.pending }, self.env)
    }
}

/// Schedules the nexosim model's next event `delay` from now. nexosim refuses a deadline that is
/// not in the future, so a zero draw (below a nanosecond: about one in a million) waits 1 ns.
fn schedule_hold(cx: &Context<NexosimHold>, delay: SimDuration) {
    let delay = Duration::from_nanos(delay.as_nanos().max(1));
    cx.schedule_event(delay, schedulable!(NexosimHold::fire), ()).expect("a hold is in the future");
}

/// The same model on nexosim 1.0, on one thread (as the others run): the driver steps the
/// simulation until `events` events have been handled. Events due at one instant are handled in
/// one step, so the last step may handle one more, due at the same time: the clock agrees.
pub fn run_nexosim(pending: usize, events: u64, seed: u64) -> u64 {
    let handled = Arc::new(AtomicU64::new(0));
    let env = NexosimHoldEnv { hold: HoldTimes::new(seed), handled: Arc::clone(&handled) };
    let mailbox = Mailbox::new();
    let mut simulation = SimInit::with_num_threads(1)
        .add_model(NexosimHoldProto { pending, env }, mailbox, "hold")
        .init(MonotonicTime::EPOCH)
        .expect("the hold model initialises");
    while handled.load(Ordering::Relaxed) < events {
        simulation.step().expect("the hold model never runs dry");
    }
    simulation.time().duration_since(MonotonicTime::EPOCH).as_nanos() as u64
}

/// Events per second of `run` and of `baseline`: the median of `rounds` timed runs each, the two
/// alternating so that a noisy neighbour on a shared machine slows both alike (after one warm-up
/// run of each).
pub fn paired_events_per_second(
    run: HoldRun,
    baseline: HoldRun,
    pending: usize,
    events: u64,
    rounds: usize,
) -> (f64, f64) {
    let time = |f: HoldRun, seed| {
        let start = std::time::Instant::now();
        std::hint::black_box(f(pending, events, seed));
        events as f64 / start.elapsed().as_secs_f64()
    };
    time(run, 0);
    time(baseline, 0);
    let (mut a, mut b): (Vec<f64>, Vec<f64>) =
        (1..=rounds as u64).map(|seed| (time(run, seed), time(baseline, seed))).unzip();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut a), median(&mut b))
}

/// A hold-model implementation: `(pending, events, seed) -> final clock`.
pub type HoldRun = fn(usize, u64, u64) -> u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_and_baseline_do_the_same_work() {
        for pending in [1, 10, 1000] {
            assert_eq!(run_engine(pending, 20_000, 5), run_binary_heap(pending, 20_000, 5));
            assert_eq!(run_priority_queue(pending, 20_000, 5), run_binary_heap(pending, 20_000, 5));
            assert_eq!(run_nexosim(pending, 20_000, 5), run_binary_heap(pending, 20_000, 5));
        }
    }
}
