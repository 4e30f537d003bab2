//! The network between workloads: latency by distance, and the inter-region backbone links of the
//! Cloud Enterprise Network, each direction a shared first-in first-out link of given bandwidth.
//!
//! Within a zone and between zones of one region a hop costs a fixed one-way latency. Between
//! regions a message crosses that pair's backbone connection: it waits behind the bytes already
//! queued in its direction, is serialized at the purchased bandwidth, then propagates for the
//! link's one-way latency (drawn per message between a minimum and a maximum). A message that
//! would wait longer than the link's buffer allows is dropped, as is a fraction `loss` of all
//! messages; the caller turns a drop into what Envoy would see (a reset, a failed connect). A
//! link can be cut (everything dropped) or degraded (latency, loss, bandwidth changed) by faults.

use rand::{Rng, RngExt};
use sim::{SimDuration, SimTime};

/// One direction of an inter-region connection.
#[derive(Clone, Debug, PartialEq)]
pub struct BackboneLink {
    /// Serialization rate in bits per second; 0 when no bandwidth was purchased.
    pub bandwidth_bps: u64,
    /// Shortest one-way propagation latency.
    pub min_latency: SimDuration,
    /// Longest one-way propagation latency (uniform between the two).
    pub max_latency: SimDuration,
    /// Fraction of messages lost.
    pub loss: f64,
    /// Longest a message may wait behind queued bytes before it is dropped.
    pub buffer: SimDuration,
    /// Whether the link is cut.
    pub cut: bool,
    /// When the bytes queued so far will have left.
    busy_until: SimTime,
    /// Bytes carried, for utilisation.
    carried_bytes: u64,
    /// Messages dropped (buffer full, loss, or cut).
    dropped: u64,
}

/// What became of a message sent on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transit {
    /// It arrives at this time.
    Arrives(SimTime),
    /// It was lost.
    Dropped,
}

impl BackboneLink {
    /// A link with this bandwidth and latency range, a given buffer, no loss.
    pub fn new(bandwidth_bps: u64, min_latency: SimDuration, max_latency: SimDuration, buffer: SimDuration) -> Self {
        BackboneLink {
            bandwidth_bps,
            min_latency,
            max_latency: max_latency.max(min_latency),
            loss: 0.0,
            buffer,
            cut: false,
            busy_until: SimTime::ZERO,
            carried_bytes: 0,
            dropped: 0,
        }
    }

    /// Sends `bytes` at `now`.
    pub fn send<R: Rng + ?Sized>(&mut self, now: SimTime, bytes: u64, rng: &mut R) -> Transit {
        if self.cut || self.bandwidth_bps == 0 {
            self.dropped += 1;
            return Transit::Dropped;
        }
        let start = self.busy_until.max(now);
        if start - now > self.buffer || (self.loss > 0.0 && rng.random::<f64>() < self.loss) {
            self.dropped += 1;
            return Transit::Dropped;
        }
        let serialization = SimDuration::from_nanos(bytes.saturating_mul(8_000_000_000) / self.bandwidth_bps);
        self.busy_until = start + serialization;
        self.carried_bytes += bytes;
        Transit::Arrives(self.busy_until + self.propagation(rng))
    }

    fn propagation<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        let spread = self.max_latency.as_nanos() - self.min_latency.as_nanos();
        let extra = if spread == 0 { 0 } else { rng.next_u64() % (spread + 1) };
        self.min_latency + SimDuration::from_nanos(extra)
    }

    /// A typical one-way latency, for round trips that carry no payload worth queueing
    /// (handshakes): the middle of the range.
    pub fn typical_latency(&self) -> SimDuration {
        SimDuration::from_nanos((self.min_latency.as_nanos() + self.max_latency.as_nanos()) / 2)
    }

    /// Whether anything gets through.
    pub fn is_up(&self) -> bool {
        !self.cut && self.bandwidth_bps > 0
    }

    /// Bytes carried so far.
    pub fn carried_bytes(&self) -> u64 {
        self.carried_bytes
    }

    /// Messages dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::RandomStreams;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    #[test]
    fn messages_serialize_first_in_first_out_then_propagate() {
        let mut rng = RandomStreams::new(1).stream("net");
        // 8 Mbit/s: 1,000 bytes take 1 ms; 10 ms one way.
        let mut link = BackboneLink::new(8_000_000, ms(10), ms(10), ms(100));
        let t0 = SimTime::ZERO;
        assert_eq!(link.send(t0, 1000, &mut rng), Transit::Arrives(t0 + ms(11)));
        // Sent at the same time, it waits behind the first.
        assert_eq!(link.send(t0, 1000, &mut rng), Transit::Arrives(t0 + ms(12)));
        // Later, on an idle link: no wait.
        assert_eq!(link.send(t0 + ms(50), 1000, &mut rng), Transit::Arrives(t0 + ms(61)));
        assert_eq!(link.carried_bytes(), 3000);
    }

    #[test]
    fn a_full_buffer_a_cut_or_no_bandwidth_drops() {
        let mut rng = RandomStreams::new(1).stream("net");
        // 1 kbit/s test bandwidth: 1,000 bytes take 8 s; a 100 ms buffer holds almost nothing.
        let mut link = BackboneLink::new(1_000, ms(10), ms(10), ms(100));
        assert!(matches!(link.send(SimTime::ZERO, 1000, &mut rng), Transit::Arrives(_)));
        assert_eq!(link.send(SimTime::ZERO, 1000, &mut rng), Transit::Dropped);
        link.cut = true;
        assert_eq!(link.send(SimTime::ZERO + ms(60_000), 10, &mut rng), Transit::Dropped);
        let mut none = BackboneLink::new(0, ms(10), ms(10), ms(100));
        assert_eq!(none.send(SimTime::ZERO, 10, &mut rng), Transit::Dropped);
        assert!(!none.is_up());
        assert_eq!(link.dropped(), 2);
    }

    #[test]
    fn loss_drops_its_fraction_and_latency_stays_in_range() {
        let mut rng = RandomStreams::new(2).stream("net");
        let mut link = BackboneLink::new(10_000_000_000, ms(10), ms(14), ms(100));
        link.loss = 0.1;
        let mut dropped = 0;
        for i in 0..10_000u64 {
            let now = SimTime::ZERO + ms(i);
            match link.send(now, 100, &mut rng) {
                Transit::Dropped => dropped += 1,
                Transit::Arrives(t) => assert!(t - now >= ms(10) && t - now <= ms(15)),
            }
        }
        assert!((850..1150).contains(&dropped), "{dropped}");
    }
}
