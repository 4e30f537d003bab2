//! What one proxy's cluster keeps per host, or per host and worker: its connection pools (one
//! per host on each worker, as Envoy's `ThreadLocalClusterManagerImpl` keeps them) and its
//! requests in flight per host.
//!
//! A small cluster (a few dozen host and worker pairs) keeps every value in a vector indexed by
//! host and worker, made on its first use: a look-up is an index. A large one keeps only the
//! values it uses in a hash map, and drops those back at their default (a pool whose every
//! connection closed with no stream waiting, as reviews' one-request connections leave it; a host
//! with no request in flight) each time the map doubles, so it holds about the hosts in use, not
//! every host of a 1,000-pod deployment.

use rustc_hash::FxHashMap;

/// The most (host, worker) pairs a cluster keeps in a vector; above, a hash map.
const DENSE_PAIRS_MAX: usize = 64;
/// The fewest values a hash map holds before it looks for default ones to drop.
const MIN_PRUNE_AT: usize = 8;

/// Which value of a large cluster: a host and a worker, ordered host first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PoolKey(u64);

impl PoolKey {
    fn new(host: u32, worker: usize) -> Self {
        PoolKey(u64::from(host) << 32 | worker as u64)
    }

    fn host(self) -> u32 {
        (self.0 >> 32) as u32
    }

    fn worker(self) -> usize {
        self.0 as u32 as usize
    }
}

/// Where the values live.
#[derive(Clone, Debug)]
enum Layout<T> {
    /// Host `h`'s value on worker `w` at `h * workers + w`; empty until the first is used.
    Dense(Vec<T>),
    /// The values in use; when `values` reaches `prune_at`, default ones are dropped.
    Sparse { values: FxHashMap<PoolKey, T>, prune_at: usize },
}

/// A value per host and worker of one cluster on one proxy; absent is the default.
#[derive(Clone, Debug)]
pub struct PerHost<T> {
    hosts: usize,
    workers: usize,
    layout: Layout<T>,
}

impl<T: Clone + Default + PartialEq> PerHost<T> {
    /// Every value at its default, for `hosts` hosts and `workers` workers.
    pub fn new(hosts: usize, workers: usize) -> Self {
        let workers = workers.max(1);
        let layout = if hosts * workers <= DENSE_PAIRS_MAX {
            Layout::Dense(Vec::new())
        } else {
            Layout::Sparse { values: FxHashMap::default(), prune_at: MIN_PRUNE_AT }
        };
        PerHost { hosts, workers, layout }
    }

    /// The workers that have values.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Where worker `worker`'s value for `host` sits in a vector; a worker beyond the proxy's
    /// folds onto one of them, in every look-up alike.
    #[inline]
    fn slot(&self, host: u32, worker: usize) -> (usize, usize) {
        let worker = if worker < self.workers { worker } else { worker % self.workers };
        (host as usize * self.workers + worker, worker)
    }

    /// Worker `worker`'s value for `host`, made the default on first use.
    #[inline]
    pub fn entry(&mut self, host: u32, worker: usize) -> &mut T {
        let (slot, worker) = self.slot(host, worker);
        if matches!(&self.layout, Layout::Dense(values) if !values.is_empty()) {
            let Layout::Dense(values) = &mut self.layout else { unreachable!("just matched") };
            return &mut values[slot];
        }
        self.first_entry(host, worker)
    }

    /// `entry` past the look-up of a vector already made (`worker` folded): makes it, or goes
    /// through the map.
    #[inline(never)]
    fn first_entry(&mut self, host: u32, worker: usize) -> &mut T {
        match &mut self.layout {
            Layout::Dense(values) => {
                if values.is_empty() {
                    values.resize(self.hosts * self.workers, T::default());
                }
                &mut values[host as usize * self.workers + worker]
            }
            Layout::Sparse { values, prune_at } => {
                let key = PoolKey::new(host, worker);
                if values.len() >= *prune_at && !values.contains_key(&key) {
                    values.retain(|_, value| *value != T::default());
                    *prune_at = (2 * values.len()).max(MIN_PRUNE_AT);
                }
                values.entry(key).or_default()
            }
        }
    }

    /// Worker `worker`'s value for `host`, if it was ever used.
    #[inline]
    pub fn existing(&mut self, host: u32, worker: usize) -> Option<&mut T> {
        let (slot, worker) = self.slot(host, worker);
        match &mut self.layout {
            Layout::Dense(values) => values.get_mut(slot),
            Layout::Sparse { values, .. } => values.get_mut(&PoolKey::new(host, worker)),
        }
    }

    /// Worker `worker`'s value for `host`, if it was ever used.
    #[inline]
    pub fn get(&self, host: u32, worker: usize) -> Option<&T> {
        let (slot, worker) = self.slot(host, worker);
        match &self.layout {
            Layout::Dense(values) => values.get(slot),
            Layout::Sparse { values, .. } => values.get(&PoolKey::new(host, worker)),
        }
    }

    /// Empties the map for a new layout of `hosts` hosts, returning every value that was not
    /// the default as `(host, worker, value)`, by host then worker.
    pub fn take_for(&mut self, hosts: usize) -> Vec<(u32, usize, T)> {
        let old = std::mem::replace(self, PerHost::new(hosts, self.workers));
        let workers = old.workers;
        let mut in_use: Vec<(u32, usize, T)> = match old.layout {
            Layout::Dense(values) => values
                .into_iter()
                .enumerate()
                .map(|(slot, value)| ((slot / workers) as u32, slot % workers, value))
                .filter(|(_, _, value)| *value != T::default())
                .collect(),
            Layout::Sparse { values, .. } => values
                .into_iter()
                .filter(|(_, value)| *value != T::default())
                .map(|(key, value)| (key.host(), key.worker(), value))
                .collect(),
        };
        in_use.sort_unstable_by_key(|&(host, worker, _)| (host, worker));
        in_use
    }

    /// Values held, default ones not yet dropped included.
    #[cfg(test)]
    fn held(&self) -> usize {
        match &self.layout {
            Layout::Dense(values) => values.len(),
            Layout::Sparse { values, .. } => values.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::connection_pool::{HostPool, PendingStream, Released};

    /// Uses `host`'s pool on `worker` for one request on a one-request connection.
    fn one_request(map: &mut PerHost<HostPool>, host: u32, worker: usize) {
        let pool = map.entry(host, worker);
        pool.wait(PendingStream(host, 0));
        pool.start_connecting(host);
        pool.connected(host);
        assert_eq!(pool.release(1, Some(1), false), Released::Closed);
    }

    #[test]
    fn a_large_cluster_drops_pools_emptied_by_one_request_connections() {
        // A proxy that has sent once to each of 200 hosts keeps pools only for a few of them.
        let mut map: PerHost<HostPool> = PerHost::new(200, 2);
        for host in 0..200 {
            one_request(&mut map, host, (host % 2) as usize);
        }
        assert!(map.held() <= 2 * MIN_PRUNE_AT, "{} pools kept", map.held());
        // A dropped pool is a new empty one when next used.
        assert_eq!(map.entry(0, 0).take_idle(), None);
    }

    #[test]
    fn pools_in_use_come_back_by_host_then_worker_in_either_layout() {
        for hosts in [4, 100] {
            let mut map: PerHost<HostPool> = PerHost::new(hosts, 2);
            for (host, worker) in [(3, 1), (1, 0), (3, 0), (2, 1)] {
                let pool = map.entry(host, worker);
                pool.wait(PendingStream(host, worker as u32));
            }
            one_request(&mut map, 0, 0);
            let taken: Vec<(u32, usize)> = map.take_for(hosts).iter().map(|&(h, w, _)| (h, w)).collect();
            assert_eq!(taken, [(1, 0), (2, 1), (3, 0), (3, 1)], "{hosts} hosts");
            assert_eq!(map.held(), 0);
        }
    }

    #[test]
    fn counts_back_at_zero_count_as_absent() {
        for hosts in [4, 100] {
            let mut counts: PerHost<u32> = PerHost::new(hosts, 1);
            *counts.entry(2, 0) += 1;
            assert_eq!(counts.get(2, 0), Some(&1));
            *counts.entry(2, 0) -= 1;
            assert!(counts.take_for(hosts).is_empty(), "{hosts} hosts");
        }
    }

    #[test]
    fn a_worker_beyond_the_proxys_folds_onto_one_of_them() {
        let mut map: PerHost<HostPool> = PerHost::new(4, 2);
        map.entry(1, 3).wait(PendingStream(7, 0));
        assert_eq!(map.existing(1, 1).map(|pool| pool.connections_wanted()), Some(1));
        // Every look-up folds alike: worker 3 never reaches host 2's pools.
        assert_eq!(map.get(1, 3).map(|pool| pool.connections_wanted()), Some(1));
        assert_eq!(map.existing(1, 3).map(|pool| pool.connections_wanted()), Some(1));
        assert_eq!(map.get(2, 1).map(|pool| pool.connections_wanted()), Some(0));
    }
}
