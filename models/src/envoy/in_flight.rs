//! Requests in flight per host of one cluster on one proxy (Envoy's per-host `rq_active`,
//! shared by the workers), which least-request picks compare.
//!
//! A small cluster keeps a count for every host, indexed by host, made on its first request.
//! A large one keeps only the hosts with a request in flight, as (host, count) pairs sorted by
//! host: a proxy has a few requests in flight at a time, and a sidecar of a large mesh mostly
//! none, so this is one small vector (none at all while nothing is in flight) where a count per
//! host would be a table the size of the destination's deployment.

/// The most hosts a cluster keeps a count for each of; above, only those in flight.
const DENSE_HOSTS_MAX: u32 = 64;

/// Where the counts live.
#[derive(Clone, Debug)]
enum Counts {
    /// Host `h`'s count at `h`; empty until the first request.
    Dense(Vec<u32>),
    /// (host, requests in flight), sorted by host; every count above zero.
    Sparse(Vec<(u32, u32)>),
}

/// Requests in flight per host, and in all.
#[derive(Clone, Debug)]
pub struct InFlight {
    hosts: u32,
    counts: Counts,
    total: u32,
}

impl InFlight {
    /// No request in flight to any of `hosts` hosts.
    pub fn new(hosts: usize) -> Self {
        let hosts = u32::try_from(hosts).expect("the scenario limits keep hosts far below 2^32");
        let counts = if hosts <= DENSE_HOSTS_MAX { Counts::Dense(Vec::new()) } else { Counts::Sparse(Vec::new()) };
        InFlight { hosts, counts, total: 0 }
    }

    /// Requests in flight to `host`.
    #[inline]
    pub fn of(&self, host: u32) -> u32 {
        if self.total == 0 {
            return 0;
        }
        match &self.counts {
            Counts::Dense(counts) => counts[host as usize],
            Counts::Sparse(pairs) => pairs.binary_search_by_key(&host, |&(h, _)| h).map_or(0, |at| pairs[at].1),
        }
    }

    /// A request to `host` started.
    pub fn started(&mut self, host: u32) {
        match &mut self.counts {
            Counts::Dense(counts) => {
                if counts.is_empty() {
                    counts.resize(self.hosts as usize, 0);
                }
                counts[host as usize] += 1;
            }
            Counts::Sparse(pairs) => match pairs.binary_search_by_key(&host, |&(h, _)| h) {
                Ok(at) => pairs[at].1 += 1,
                Err(at) => pairs.insert(at, (host, 1)),
            },
        }
        self.total += 1;
    }

    /// A request to `host` finished (nothing if none was in flight: its host left meanwhile).
    pub fn finished(&mut self, host: u32) {
        match &mut self.counts {
            Counts::Dense(counts) => match counts.get_mut(host as usize) {
                Some(count) if *count > 0 => *count -= 1,
                _ => return,
            },
            Counts::Sparse(pairs) => {
                let Ok(at) = pairs.binary_search_by_key(&host, |&(h, _)| h) else { return };
                pairs[at].1 -= 1;
                if pairs[at].1 == 0 {
                    pairs.remove(at);
                    if pairs.is_empty() {
                        // A proxy idle between requests holds no memory for them.
                        *pairs = Vec::new();
                    }
                }
            }
        }
        self.total -= 1;
    }

    /// Follows a change of the endpoint set to `hosts` hosts: `new_index_of(old)` names where a
    /// host now sits, or `None` if it left; the requests in flight to hosts that left are
    /// forgotten.
    pub fn remap(&mut self, hosts: usize, new_index_of: impl Fn(u32) -> Option<u32>) {
        let in_flight: Vec<(u32, u32)> = match &self.counts {
            Counts::Dense(counts) => {
                counts.iter().enumerate().filter(|&(_, &n)| n > 0).map(|(h, &n)| (h as u32, n)).collect()
            }
            Counts::Sparse(pairs) => pairs.clone(),
        };
        *self = InFlight::new(hosts);
        for (host, count) in in_flight {
            if let Some(kept) = new_index_of(host) {
                for _ in 0..count {
                    self.started(kept);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_starts_and_finishes_host_by_host() {
        for hosts in [901, 64] {
            let mut in_flight = InFlight::new(hosts);
            let far = hosts as u32 - 1;
            for host in [7, 2, 7, far] {
                in_flight.started(host);
            }
            assert_eq!((in_flight.of(7), in_flight.of(2), in_flight.of(far), in_flight.of(3)), (2, 1, 1, 0));
            assert_eq!(in_flight.total, 4);
            in_flight.finished(7);
            in_flight.finished(2);
            in_flight.finished(2);
            let after = (in_flight.of(7), in_flight.of(2), in_flight.total);
            assert_eq!(after, (1, 0, 2), "{hosts} hosts: a finish with none in flight is ignored");
            in_flight.finished(7);
            in_flight.finished(far);
            assert_eq!(in_flight.total, 0);
        }
        let mut large = InFlight::new(901);
        large.started(5);
        large.finished(5);
        assert!(matches!(&large.counts, Counts::Sparse(pairs) if pairs.capacity() == 0), "nothing held when idle");
    }

    #[test]
    fn an_update_moves_counts_with_their_hosts_and_forgets_hosts_that_left() {
        // From a small cluster to a large one and back: reversed, and host 2 leaves.
        let reversed = |old: u32| [Some(3), Some(2), None, Some(0)].get(old as usize).copied().flatten();
        let mut in_flight = InFlight::new(4);
        for host in [0, 1, 1, 2, 3, 3, 3] {
            in_flight.started(host);
        }
        in_flight.remap(100, reversed);
        assert_eq!((in_flight.of(0), in_flight.of(1), in_flight.of(2), in_flight.of(3)), (3, 0, 2, 1));
        assert_eq!(in_flight.total, 6);
        in_flight.started(1);
        assert!(matches!(&in_flight.counts, Counts::Sparse(pairs) if pairs == &[(0, 3), (1, 1), (2, 2), (3, 1)]));
        in_flight.remap(4, reversed);
        assert_eq!((in_flight.of(0), in_flight.of(1), in_flight.of(2), in_flight.of(3)), (1, 0, 1, 3));
        assert_eq!(in_flight.total, 5);
    }
}
