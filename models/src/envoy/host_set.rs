//! An upstream cluster's hosts as Envoy's load balancers see them: grouped by priority, then by
//! locality, each with its healthy and degraded subsets.
//!
//! Follows `source/common/upstream/upstream_impl.cc` (`HostSetImpl`, `PrioritySetImpl`) and the
//! EDS `ClusterLoadAssignment` it is built from. Hosts are named by their index in the cluster
//! (a `u32`), so every list here is a plain vector of indices, rebuilt on host-set changes and
//! only read on the request path.
//!
//! Every proxy of a locality gets the same assignment for a service, so its layout
//! ([`HostTable`]) is built once and shared: a proxy's own state is only what differs — the
//! levels holding an ejected host, and what it keeps per host it has sent to.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use rustc_hash::FxHashMap;

use super::load_balancer::BalancedLevels;
use super::priority_load::LevelCounts;

/// Identifies an endpoint (a pod, or a gateway replica) across the whole simulated mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(pub u32);

/// An endpoint's health as EDS reports it (`envoy.config.core.v3.HealthStatus`, folded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EdsHealth {
    /// Serving.
    #[default]
    Healthy,
    /// Serving, but to be used only once healthy hosts run short.
    Degraded,
    /// Known but not serving: counted in the total, never picked outside panic.
    Unhealthy,
    /// Draining or otherwise excluded: left out of the totals altogether.
    Excluded,
}

/// One endpoint of a locality (`LbEndpoint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LbEndpoint {
    /// Which endpoint.
    pub endpoint: EndpointId,
    /// Its load-balancing weight (Istio: 1).
    pub weight: u32,
    /// Its EDS health.
    pub health: EdsHealth,
}

/// The endpoints of one locality at one priority (`LocalityLbEndpoints`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocalityEndpoints {
    /// Opaque name of the locality (its index in the mesh's locality table).
    pub locality: u32,
    /// Priority level, 0 the most preferred.
    pub priority: u32,
    /// The locality's weight (`load_balancing_weight`), used by locality-weighted balancing.
    pub weight: u32,
    /// Its endpoints.
    pub endpoints: Vec<LbEndpoint>,
}

/// What EDS tells one proxy about one cluster (`ClusterLoadAssignment`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LoadAssignment {
    /// Locality groups, in the order the control plane sent them.
    pub localities: Vec<LocalityEndpoints>,
}

/// A host of the cluster: where it sits in the priority set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Host {
    /// Which endpoint.
    pub endpoint: EndpointId,
    /// Its priority level.
    pub priority: u32,
    /// Index of its locality within its priority level.
    pub locality_slot: u32,
    /// Its load-balancing weight.
    pub weight: u32,
    /// Its EDS health.
    pub health: EdsHealth,
}

impl LoadAssignment {
    /// The cluster's hosts in assignment order, and for each priority level the weight of each of
    /// its localities (in order of first appearance).
    pub fn flatten(&self) -> (Vec<Host>, Vec<Vec<(u32, u32)>>) {
        let levels = self.localities.iter().map(|l| l.priority as usize + 1).max().unwrap_or(1);
        let mut localities: Vec<Vec<(u32, u32)>> = vec![Vec::new(); levels];
        let mut hosts = Vec::new();
        for group in &self.localities {
            let level = &mut localities[group.priority as usize];
            let slot = match level.iter().position(|&(l, _)| l == group.locality) {
                Some(slot) => slot,
                None => {
                    level.push((group.locality, group.weight));
                    level.len() - 1
                }
            };
            hosts.extend(group.endpoints.iter().map(|e| Host {
                endpoint: e.endpoint,
                priority: group.priority,
                locality_slot: slot as u32,
                weight: e.weight,
                health: e.health,
            }));
        }
        (hosts, localities)
    }
}

/// The hosts of one locality within a level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalityHosts {
    /// Configured locality weight.
    pub weight: u32,
    /// Non-excluded hosts.
    pub hosts: Vec<u32>,
    /// Healthy hosts.
    pub healthy: Vec<u32>,
    /// Degraded hosts.
    pub degraded: Vec<u32>,
}

/// One priority level (`HostSetImpl`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSet {
    /// Non-excluded hosts.
    pub hosts: Vec<u32>,
    /// Healthy hosts: EDS-healthy and not ejected.
    pub healthy: Vec<u32>,
    /// Degraded hosts: EDS-degraded and not ejected.
    pub degraded: Vec<u32>,
    /// Per-locality views, in locality-slot order.
    pub localities: Vec<LocalityHosts>,
}

impl HostSet {
    /// Rebuilds level `priority` from the cluster's hosts; `is_ejected(host)` is the outlier
    /// state the load balancers were last told about.
    pub fn build(
        priority: u32,
        hosts: &[Host],
        locality_weights: &[(u32, u32)],
        is_ejected: impl Fn(u32) -> bool,
    ) -> Self {
        let mut set = HostSet {
            localities: locality_weights
                .iter()
                .map(|&(_, weight)| LocalityHosts { weight, ..LocalityHosts::default() })
                .collect(),
            ..HostSet::default()
        };
        for (index, host) in hosts.iter().enumerate().filter(|(_, h)| h.priority == priority) {
            let index = index as u32;
            if host.health == EdsHealth::Excluded {
                continue;
            }
            let locality = &mut set.localities[host.locality_slot as usize];
            set.hosts.push(index);
            locality.hosts.push(index);
            match (host.health, is_ejected(index)) {
                (_, true) | (EdsHealth::Unhealthy, _) => {}
                (EdsHealth::Healthy, false) => {
                    set.healthy.push(index);
                    locality.healthy.push(index);
                }
                (EdsHealth::Degraded, false) => {
                    set.degraded.push(index);
                    locality.degraded.push(index);
                }
                (EdsHealth::Excluded, false) => unreachable!("excluded hosts were skipped"),
            }
        }
        set
    }

    /// The counts the priority load is computed from.
    pub fn counts(&self) -> LevelCounts {
        LevelCounts {
            hosts: self.hosts.len() as u32,
            healthy: self.healthy.len() as u32,
            degraded: self.degraded.len() as u32,
        }
    }
}

/// An assignment laid out for the load balancers, immutable and shared by every cluster that
/// receives it: the hosts, each level's locality weights, where each endpoint sits, and each
/// level as it is with no host ejected.
#[derive(Debug)]
pub struct HostTable {
    hosts: Vec<Host>,
    locality_weights: Vec<Vec<(u32, u32)>>,
    index_of: FxHashMap<EndpointId, u32>,
    unejected_levels: Vec<Rc<HostSet>>,
    uniform_weights: bool,
    /// The levels as the load balancers over this table with no host out of rotation see them,
    /// one per settings while a balancer holds them (weak: they hold the table).
    unejected_balanced: RefCell<Vec<Weak<BalancedLevels>>>,
}

impl HostTable {
    /// Lays out `assignment` (see [`LoadAssignment::flatten`]).
    pub fn new(assignment: &LoadAssignment) -> Rc<Self> {
        let (hosts, mut locality_weights) = assignment.flatten();
        locality_weights.resize(locality_weights.len().max(1), Vec::new());
        let index_of = hosts.iter().enumerate().map(|(i, h)| (h.endpoint, i as u32)).collect();
        let unejected_levels = (0..locality_weights.len())
            .map(|p| Rc::new(HostSet::build(p as u32, &hosts, &locality_weights[p], |_| false)))
            .collect();
        let uniform_weights = hosts.windows(2).all(|pair| pair[0].weight == pair[1].weight);
        Rc::new(HostTable {
            hosts,
            locality_weights,
            index_of,
            unejected_levels,
            uniform_weights,
            unejected_balanced: RefCell::default(),
        })
    }

    /// The hosts in assignment order; a host's index is its name in the cluster.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Per priority level (at least one), the `(locality, weight)` of each of its localities.
    pub fn locality_weights(&self) -> &[Vec<(u32, u32)>] {
        &self.locality_weights
    }

    /// Number of priority levels (at least one).
    pub fn level_count(&self) -> usize {
        self.locality_weights.len()
    }

    /// The index of `endpoint`'s host, if the assignment has it.
    #[inline]
    pub fn index_of(&self, endpoint: EndpointId) -> Option<u32> {
        self.index_of.get(&endpoint).copied()
    }

    /// Level `level` with no host ejected.
    pub fn unejected_level(&self, level: usize) -> &Rc<HostSet> {
        &self.unejected_levels[level]
    }

    /// Where the load balancers over this table find the levels they share while none of its
    /// hosts is out of rotation ([`BalancedLevels::unejected`]).
    pub(super) fn unejected_balanced(&self) -> &RefCell<Vec<Weak<BalancedLevels>>> {
        &self.unejected_balanced
    }

    /// Whether every host has the same weight (Istio's case): then no source needs a weighted
    /// schedule.
    pub fn uniform_weights(&self) -> bool {
        self.uniform_weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(ids: &[u32]) -> Vec<LbEndpoint> {
        ids.iter().map(|&id| LbEndpoint { endpoint: EndpointId(id), weight: 1, health: EdsHealth::Healthy }).collect()
    }

    #[test]
    fn levels_and_localities_follow_the_assignment() {
        let assignment = LoadAssignment {
            localities: vec![
                LocalityEndpoints { locality: 7, priority: 0, weight: 2, endpoints: endpoints(&[10, 11]) },
                LocalityEndpoints { locality: 9, priority: 1, weight: 3, endpoints: endpoints(&[20]) },
                LocalityEndpoints { locality: 8, priority: 0, weight: 1, endpoints: endpoints(&[12]) },
            ],
        };
        let (hosts, weights) = assignment.flatten();
        assert_eq!(weights, vec![vec![(7, 2), (8, 1)], vec![(9, 3)]]);
        let p0 = HostSet::build(0, &hosts, &weights[0], |h| h == 1);
        assert_eq!(p0.hosts, vec![0, 1, 3]);
        assert_eq!(p0.healthy, vec![0, 3]);
        assert_eq!(p0.localities[0].healthy, vec![0]);
        assert_eq!(p0.localities[1].hosts, vec![3]);
        assert_eq!(p0.counts(), LevelCounts { hosts: 3, healthy: 2, degraded: 0 });
        let p1 = HostSet::build(1, &hosts, &weights[1], |_| false);
        assert_eq!(p1.healthy, vec![2]);
    }

    #[test]
    fn eds_health_decides_membership() {
        let mut eps = endpoints(&[1, 2, 3, 4]);
        eps[1].health = EdsHealth::Degraded;
        eps[2].health = EdsHealth::Unhealthy;
        eps[3].health = EdsHealth::Excluded;
        let assignment = LoadAssignment {
            localities: vec![LocalityEndpoints { locality: 0, priority: 0, weight: 4, endpoints: eps }],
        };
        let (hosts, weights) = assignment.flatten();
        let set = HostSet::build(0, &hosts, &weights[0], |_| false);
        assert_eq!(set.counts(), LevelCounts { hosts: 3, healthy: 1, degraded: 1 });
    }
}
