//! One proxy cluster's connection pools: one per host and worker, as Envoy keeps them
//! (`ClusterManagerImpl::ThreadLocalClusterManagerImpl`, a pool map per host on each worker).
//!
//! A small cluster (a few dozen host and worker pairs) keeps every pool in a vector indexed by
//! host and worker, made on its first use: a look-up is an index. A large one keeps only the
//! pools it uses in a hash map, and drops those that are empty again (every connection closed,
//! no stream waiting: reviews' one-request connections, say) each time the map doubles, so it
//! holds about the hosts it has connections to, not every host of a 1,000-pod deployment.

use rustc_hash::FxHashMap;

use super::connection_pool::HostPool;

/// The most (host, worker) pairs a cluster keeps in a vector; above, a hash map.
const DENSE_PAIRS_MAX: usize = 64;
/// The fewest pools a hash map holds before it looks for empty ones to drop.
const MIN_PRUNE_AT: usize = 8;

/// Which pool of a large cluster: a host and a worker, ordered host first.
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

/// Where the pools live.
#[derive(Clone, Debug)]
enum Layout {
    /// Host `h`'s pool on worker `w` at `h * workers + w`; empty until the first pool is used.
    Dense(Vec<HostPool>),
    /// The pools in use; when `pools` reaches `prune_at`, empty ones are dropped.
    Sparse { pools: FxHashMap<PoolKey, HostPool>, prune_at: usize },
}

/// The connection pools of one cluster on one proxy, by host and worker.
#[derive(Clone, Debug)]
pub struct PoolMap {
    hosts: usize,
    workers: usize,
    layout: Layout,
}

impl PoolMap {
    /// No pools yet, for `hosts` hosts and `workers` workers.
    pub fn new(hosts: usize, workers: usize) -> Self {
        let workers = workers.max(1);
        let layout = if hosts * workers <= DENSE_PAIRS_MAX {
            Layout::Dense(Vec::new())
        } else {
            Layout::Sparse { pools: FxHashMap::default(), prune_at: MIN_PRUNE_AT }
        };
        PoolMap { hosts, workers, layout }
    }

    /// The workers that have pools.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Worker `worker`'s pool to `host`, made empty on first use.
    #[inline]
    pub fn pool(&mut self, host: u32, worker: usize) -> &mut HostPool {
        let worker = if worker < self.workers { worker } else { worker % self.workers };
        match &mut self.layout {
            Layout::Dense(pools) => {
                if pools.is_empty() {
                    pools.resize(self.hosts * self.workers, HostPool::default());
                }
                &mut pools[host as usize * self.workers + worker]
            }
            Layout::Sparse { pools, prune_at } => {
                let key = PoolKey::new(host, worker);
                if pools.len() >= *prune_at && !pools.contains_key(&key) {
                    pools.retain(|_, pool| *pool != HostPool::default());
                    *prune_at = (2 * pools.len()).max(MIN_PRUNE_AT);
                }
                pools.entry(key).or_default()
            }
        }
    }

    /// Worker `worker`'s pool to `host`, if it has one.
    pub fn existing(&mut self, host: u32, worker: usize) -> Option<&mut HostPool> {
        match &mut self.layout {
            Layout::Dense(pools) => pools.get_mut(host as usize * self.workers + worker),
            Layout::Sparse { pools, .. } => pools.get_mut(&PoolKey::new(host, worker)),
        }
    }

    /// Empties the map for a new layout of `hosts` hosts, returning every pool that was not
    /// empty as `(host, worker, pool)`, by host then worker.
    pub fn take_for(&mut self, hosts: usize) -> Vec<(u32, usize, HostPool)> {
        let old = std::mem::replace(self, PoolMap::new(hosts, self.workers));
        let workers = old.workers;
        let mut in_use: Vec<(u32, usize, HostPool)> = match old.layout {
            Layout::Dense(pools) => pools
                .into_iter()
                .enumerate()
                .map(|(slot, pool)| ((slot / workers) as u32, slot % workers, pool))
                .filter(|(_, _, pool)| *pool != HostPool::default())
                .collect(),
            Layout::Sparse { pools, .. } => pools
                .into_iter()
                .filter(|(_, pool)| *pool != HostPool::default())
                .map(|(key, pool)| (key.host(), key.worker(), pool))
                .collect(),
        };
        in_use.sort_unstable_by_key(|&(host, worker, _)| (host, worker));
        in_use
    }

    /// Pools held, empty ones not yet dropped included.
    pub fn held(&self) -> usize {
        match &self.layout {
            Layout::Dense(pools) => pools.len(),
            Layout::Sparse { pools, .. } => pools.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::connection_pool::{PendingStream, Released};

    /// Uses `host`'s pool on `worker` for one request on a one-request connection.
    fn one_request(map: &mut PoolMap, host: u32, worker: usize) {
        let pool = map.pool(host, worker);
        pool.wait(PendingStream(host, 0));
        pool.start_connecting(host);
        pool.connected(host);
        assert_eq!(pool.release(1, Some(1), false), Released::Closed);
    }

    #[test]
    fn a_large_cluster_drops_pools_emptied_by_one_request_connections() {
        // A proxy that has sent once to each of 200 hosts keeps pools only for a few of them.
        let mut map = PoolMap::new(200, 2);
        for host in 0..200 {
            one_request(&mut map, host, (host % 2) as usize);
        }
        assert!(map.held() <= 2 * MIN_PRUNE_AT, "{} pools kept", map.held());
        // A dropped pool is a new empty one when next used.
        assert_eq!(map.pool(0, 0).take_idle(), None);
    }

    #[test]
    fn pools_in_use_come_back_by_host_then_worker_in_either_layout() {
        for hosts in [4, 100] {
            let mut map = PoolMap::new(hosts, 2);
            for (host, worker) in [(3, 1), (1, 0), (3, 0), (2, 1)] {
                let pool = map.pool(host, worker);
                pool.wait(PendingStream(host, worker as u32));
            }
            one_request(&mut map, 0, 0);
            let taken: Vec<(u32, usize)> = map.take_for(hosts).iter().map(|&(h, w, _)| (h, w)).collect();
            assert_eq!(taken, [(1, 0), (2, 1), (3, 0), (3, 1)], "{hosts} hosts");
            assert_eq!(map.held(), 0);
        }
    }

    #[test]
    fn a_worker_beyond_the_proxys_folds_onto_one_of_them() {
        let mut map = PoolMap::new(4, 2);
        map.pool(1, 3).wait(PendingStream(7, 0));
        assert_eq!(map.existing(1, 1).map(|pool| pool.connections_wanted()), Some(1));
    }
}
