//! An M/M/1 queue: Poisson arrivals, exponential service, one server, first come first served.
//!
//! The smallest complete use of the engine, and a check on it: the mean time a customer waits
//! before service has a closed form, Wq = ρ / (μ − λ), which the simulated estimate must bracket.
//!
//!     cargo run --release -p sim --example mm1 -- [--seed N] [--replications R] [--customers C]

use std::collections::VecDeque;
use std::time::Instant;

use rand_distr::{Distribution, Exp};
use sim::stats::{ConfidenceInterval, Histogram, RunningStats};
use sim::{Model, RandomStreams, Scheduler, SimDuration, SimTime, Simulation, StreamRng};

/// The queue's parameters and how long to watch it.
#[derive(Clone, Copy)]
struct Setup {
    /// Arrivals per second.
    arrival_rate: f64,
    /// Services per second when busy.
    service_rate: f64,
    /// Customers whose wait is discarded while the queue fills from empty.
    warm_up: u64,
    /// Customers whose wait is measured.
    measured: u64,
}

impl Setup {
    /// Mean wait before service in steady state, in seconds.
    fn theoretical_wait(&self) -> f64 {
        let utilisation = self.arrival_rate / self.service_rate;
        utilisation / (self.service_rate - self.arrival_rate)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Event {
    Arrival,
    Departure,
}

struct Queue {
    setup: Setup,
    interarrival: Exp<f64>,
    service: Exp<f64>,
    arrivals_rng: StreamRng,
    service_rng: StreamRng,
    /// Arrival times of the customers waiting (not the one in service).
    waiting: VecDeque<SimTime>,
    busy: bool,
    started: u64,
    waits: RunningStats,
    wait_histogram: Histogram,
    /// Every event handled, when tracing (for the determinism test).
    trace: Option<Vec<(SimTime, Event)>>,
}

impl Queue {
    fn new(setup: Setup, streams: RandomStreams) -> Self {
        Queue {
            setup,
            interarrival: Exp::new(setup.arrival_rate).expect("positive rate"),
            service: Exp::new(setup.service_rate).expect("positive rate"),
            arrivals_rng: streams.stream("arrivals"),
            service_rng: streams.stream("service"),
            waiting: VecDeque::new(),
            busy: false,
            started: 0,
            waits: RunningStats::default(),
            wait_histogram: Histogram::default(),
            trace: None,
        }
    }

    fn start_service(&mut self, arrived: SimTime, s: &mut Scheduler<Event>) {
        self.busy = true;
        self.started += 1;
        if self.started > self.setup.warm_up {
            let wait = s.now() - arrived;
            self.waits.push(wait.as_secs_f64());
            self.wait_histogram.record(wait.as_nanos());
            if self.started == self.setup.warm_up + self.setup.measured {
                s.stop();
            }
        }
        let service = SimDuration::from_secs_f64(self.service.sample(&mut self.service_rng));
        s.schedule_in(service, Event::Departure);
    }
}

impl Model for Queue {
    type Event = Event;

    fn handle(&mut self, event: Event, s: &mut Scheduler<Event>) {
        if let Some(trace) = &mut self.trace {
            trace.push((s.now(), event));
        }
        match event {
            Event::Arrival => {
                let gap = SimDuration::from_secs_f64(self.interarrival.sample(&mut self.arrivals_rng));
                s.schedule_in(gap, Event::Arrival);
                if self.busy {
                    self.waiting.push_back(s.now());
                } else {
                    self.start_service(s.now(), s);
                }
            }
            Event::Departure => match self.waiting.pop_front() {
                Some(arrived) => self.start_service(arrived, s),
                None => self.busy = false,
            },
        }
    }
}

/// Runs one replication to its last measured customer.
fn replicate(setup: Setup, streams: RandomStreams, trace: bool) -> Queue {
    let mut queue = Queue::new(setup, streams);
    queue.trace = trace.then(Vec::new);
    let mut simulation = Simulation::new(queue);
    simulation.scheduler().schedule_at(SimTime::ZERO, Event::Arrival);
    simulation.run();
    simulation.into_model()
}

/// Mean wait of each replication, folded into one estimate.
fn estimate(setup: Setup, seed: u64, replications: u64) -> (RunningStats, Histogram) {
    let streams = RandomStreams::new(seed);
    let mut means = RunningStats::default();
    let mut waits = Histogram::default();
    for r in 0..replications {
        let queue = replicate(setup, streams.replication(r), false);
        means.push(queue.waits.mean());
        waits.merge(&queue.wait_histogram);
    }
    (means, waits)
}

fn main() {
    let mut seed = 1;
    let mut replications = 30;
    let mut customers = 200_000;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--seed", Some(v)) => seed = v,
            ("--replications", Some(v)) if v >= 2 => replications = v,
            ("--customers", Some(v)) if v > 0 => customers = v,
            _ => {
                eprintln!("usage: mm1 [--seed N] [--replications R (≥ 2)] [--customers C (> 0)]");
                std::process::exit(2);
            }
        }
    }
    let setup = Setup { arrival_rate: 800.0, service_rate: 1000.0, warm_up: customers / 10, measured: customers };
    let wall = Instant::now();
    let (means, waits) = estimate(setup, seed, replications);
    let elapsed = wall.elapsed().as_secs_f64();
    let interval = ConfidenceInterval::student_t(&means, 0.95).expect("at least two replications");
    let ms = |seconds: f64| seconds * 1e3;
    let quantile_ms = |q| waits.quantile(q).map_or(f64::NAN, |ns| ns as f64 / 1e6);
    println!(
        "M/M/1 queue: λ = {} /s, μ = {} /s, ρ = {}",
        setup.arrival_rate,
        setup.service_rate,
        setup.arrival_rate / setup.service_rate
    );
    println!("{replications} replications × {customers} customers (after {} warm-up), seed {seed}", setup.warm_up);
    println!("mean wait, theory:    {:.4} ms", ms(setup.theoretical_wait()));
    println!(
        "mean wait, simulated: {:.4} ms ± {:.4} ms (95% CI [{:.4}, {:.4}])  {}",
        ms(interval.mean),
        ms(interval.half_width),
        ms(interval.low()),
        ms(interval.high()),
        if interval.contains(setup.theoretical_wait()) {
            "theory inside the interval"
        } else {
            "theory OUTSIDE the interval"
        }
    );
    println!("wait p50 {:.3} ms, p99 {:.3} ms", quantile_ms(0.5), quantile_ms(0.99));
    println!("{:.2} s wall", elapsed);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETUP: Setup = Setup { arrival_rate: 800.0, service_rate: 1000.0, warm_up: 5_000, measured: 50_000 };

    #[test]
    fn mean_wait_matches_queueing_theory_within_the_confidence_interval() {
        let (means, waits) = estimate(SETUP, 7, 30);
        let interval = ConfidenceInterval::student_t(&means, 0.95).unwrap();
        let theory = SETUP.theoretical_wait();
        assert!(interval.contains(theory), "theory {theory} s outside {interval:?}");
        // The interval is tight enough to mean something: within 10 % of the answer.
        assert!(interval.half_width < 0.1 * theory, "interval too wide: {interval:?}");
        // P(wait = 0) = 1 − ρ: the median wait is positive but the 15th percentile is zero.
        assert_eq!(waits.quantile(0.15), Some(0));
        assert!(waits.quantile(0.5).unwrap() > 0);
    }

    #[test]
    fn the_same_seed_gives_the_same_event_trace() {
        let setup = Setup { measured: 2_000, ..SETUP };
        let streams = RandomStreams::new(99);
        let first = replicate(setup, streams, true).trace.unwrap();
        let second = replicate(setup, streams, true).trace.unwrap();
        assert!(first.len() > 4_000);
        assert_eq!(first, second);
        let other = replicate(setup, RandomStreams::new(100), true).trace.unwrap();
        assert_ne!(first[..100], other[..100]);
    }
}
