//! How istiod arranges a service's endpoints for one client proxy: priorities for failover,
//! weights for `distribute`, per client locality.
//!
//! Follows `pilot/pkg/networking/core/loadbalancer/loadbalancer.go` (`GetLocalityLbSetting`,
//! `ApplyLocalityLoadBalancer`, `applyLocalityWeights`, `applyLocalityFailover`,
//! `applyFailoverPriorities`), `pilot/pkg/networking/util/util.go` (`LbPriority`,
//! `LocalityMatch`) and `cluster_traffic_policy.go` (`applyLocalityLoadBalancer`), with spec §5:
//! - a DestinationRule's `localityLbSetting` replaces the mesh's entirely; the mesh default is
//!   `{enabled: true}`;
//! - failover applies only when the cluster has outlier detection; then endpoints get priority 0
//!   (same region/zone/subzone), 1 (same zone), 2 (same region), 3 (other region), 4 (other
//!   region not named by a matching `failover` rule), renumbered without gaps;
//! - `failoverPriority` splits localities by how many leading labels match the client's;
//! - `distribute` (which never fails over) gives each locality matching a `to` key
//!   ⌈own count × weight / matching count⌉, and drops every locality that matches no key;
//! - locality-weighted picking is switched on only with `distribute`, or with failover and a
//!   `failover` or `failoverPriority` list.
//!
//! istiod walks a `distribute` rule's `to` map in Go's random map order, so overlapping
//! wildcard keys are ambiguous there; here keys are taken in the order written.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

use super::api::LocalityLbSetting;
use crate::envoy::host_set::{EdsHealth, EndpointId, LbEndpoint, LoadAssignment, LocalityEndpoints};

/// Where a workload runs: the `topology.kubernetes.io/region`, `.../zone` and
/// `topology.istio.io/subzone` of its node.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locality {
    /// Region, e.g. `cn-hangzhou`.
    pub region: String,
    /// Zone, e.g. `cn-hangzhou-h`.
    pub zone: String,
    /// Subzone (often empty).
    pub subzone: String,
}

impl Locality {
    /// A locality from its parts.
    pub fn new(region: &str, zone: &str, subzone: &str) -> Self {
        Locality { region: region.to_owned(), zone: zone.to_owned(), subzone: subzone.to_owned() }
    }

    /// Whether this locality matches a rule pattern `region[/zone[/subzone]]`, where `*` and an
    /// omitted part match anything (a region is never omitted) — `LocalityMatch`.
    pub fn matches(&self, pattern: &str) -> bool {
        let mut parts = pattern.splitn(3, '/');
        let region = parts.next().unwrap_or("");
        let zone = parts.next().unwrap_or("");
        let subzone = parts.next().unwrap_or("");
        (region == "*" || region == self.region)
            && (zone == "*" || zone.is_empty() || zone == self.zone)
            && (subzone == "*" || subzone.is_empty() || subzone == self.subzone)
    }
}

impl fmt::Display for Locality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.region, self.zone, self.subzone)
    }
}

/// `LbPriority`: 0 same subzone, 1 same zone, 2 same region, 3 elsewhere.
pub fn lb_priority(client: &Locality, endpoint: &Locality) -> u32 {
    match (client.region == endpoint.region, client.zone == endpoint.zone, client.subzone == endpoint.subzone) {
        (true, true, true) => 0,
        (true, true, false) => 1,
        (true, false, _) => 2,
        (false, _, _) => 3,
    }
}

/// Which locality setting applies (`GetLocalityLbSetting`, 1.30): the DestinationRule's if it
/// has one (none if it says `enabled: false`), else the mesh's (none if disabled there).
pub fn effective_setting<'a>(
    mesh: Option<&'a LocalityLbSetting>,
    destination_rule: Option<&'a LocalityLbSetting>,
) -> Option<&'a LocalityLbSetting> {
    match destination_rule {
        Some(setting) => (setting.enabled != Some(false)).then_some(setting),
        None => mesh.filter(|setting| setting.enabled != Some(false)),
    }
}

/// Whether the cluster gets `locality_weighted_lb_config` (`applyLocalityLoadBalancer`).
pub fn locality_weighted(setting: Option<&LocalityLbSetting>, failover_enabled: bool) -> bool {
    setting.is_some_and(|s| {
        !s.distribute.is_empty() || (failover_enabled && (!s.failover.is_empty() || !s.failover_priority.is_empty()))
    })
}

/// An endpoint of the service as istiod knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEndpoint {
    /// Which endpoint.
    pub endpoint: EndpointId,
    /// Where it runs (shared by the endpoints of a zone).
    pub locality: Rc<Locality>,
    /// Its pod's labels (for subsets and `failoverPriority`).
    pub labels: Labels,
    /// Its weight (1 for pods).
    pub weight: u32,
    /// Its health as sent in EDS.
    pub health: EdsHealth,
}

/// The client proxy the assignment is built for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    /// Where the proxy runs.
    pub locality: Locality,
    /// Its pod's labels (for `failoverPriority`).
    pub labels: BTreeMap<String, String>,
}

/// One proxy's view of a service's endpoints: the EDS assignment, and the locality each group's
/// `locality` index names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyAssignment {
    /// What EDS sends the proxy.
    pub assignment: LoadAssignment,
    /// Localities by index.
    pub localities: Vec<Locality>,
}

/// A pod's labels, one map shared by the pods of a deployment and every record of them.
pub type Labels = Rc<BTreeMap<String, String>>;

/// An endpoint with its pod labels, kept while arranging for `failoverPriority`.
type LabelledEndpoint = (LbEndpoint, Labels);

/// A locality group being arranged.
struct Group {
    locality: usize,
    priority: u32,
    weight: u32,
    endpoints: Vec<LabelledEndpoint>,
}

/// Builds the assignment `client` receives for `endpoints` under the locality `setting` in force
/// (already resolved with [`effective_setting`]); `failover_enabled` when the cluster has outlier
/// detection.
pub fn assign(
    client: &Client,
    endpoints: &[ServiceEndpoint],
    setting: Option<&LocalityLbSetting>,
    failover_enabled: bool,
) -> ProxyAssignment {
    // One group per locality, in a stable order (istiod sorts them for deterministic pushes);
    // a service of thousands of endpoints has a handful of localities, each copied once.
    let distinct: BTreeSet<&Locality> = endpoints.iter().map(|e| &*e.locality).collect();
    let localities: Vec<Locality> = distinct.into_iter().cloned().collect();
    let mut groups: Vec<Group> = (0..localities.len())
        .map(|locality| Group { locality, priority: 0, weight: 0, endpoints: Vec::new() })
        .collect();
    for e in endpoints {
        let group = &mut groups[localities.binary_search(&e.locality).expect("collected above")];
        group.weight += e.weight;
        group
            .endpoints
            .push((LbEndpoint { endpoint: e.endpoint, weight: e.weight, health: e.health }, e.labels.clone()));
    }
    if let Some(setting) = setting {
        if !setting.distribute.is_empty() {
            apply_distribute(client, &localities, &mut groups, setting);
        } else if failover_enabled {
            if !setting.failover_priority.is_empty() {
                groups = apply_failover_priority(client, groups, &setting.failover_priority);
                if !setting.failover.is_empty() {
                    apply_locality_failover(client, &localities, &mut groups, setting);
                }
            } else {
                apply_locality_failover(client, &localities, &mut groups, setting);
            }
        }
    }
    let assignment = LoadAssignment {
        localities: groups
            .into_iter()
            .map(|g| LocalityEndpoints {
                locality: g.locality as u32,
                priority: g.priority,
                weight: g.weight,
                endpoints: g.endpoints.into_iter().map(|(e, _)| e).collect(),
            })
            .collect(),
    };
    ProxyAssignment { assignment, localities }
}

/// `applyLocalityWeights`: the first rule whose `from` matches the client sets the weights.
fn apply_distribute(client: &Client, localities: &[Locality], groups: &mut [Group], setting: &LocalityLbSetting) {
    let Some(rule) = setting.distribute.iter().find(|d| client.locality.matches(&d.from)) else { return };
    let mut unmatched: Vec<bool> = vec![true; groups.len()];
    for (pattern, share) in &rule.to {
        let matching: Vec<usize> =
            (0..groups.len()).filter(|&i| unmatched[i] && localities[groups[i].locality].matches(pattern)).collect();
        let total: u32 = matching.iter().map(|&i| groups[i].weight).sum();
        for &i in &matching {
            unmatched[i] = false;
            let weight = f64::from(groups[i].weight * share) / f64::from(total);
            // A zero share leaves the weight as it was (istiod only writes positive weights).
            if weight > 0.0 {
                groups[i].weight = weight.ceil() as u32;
            }
        }
    }
    for (group, unmatched) in groups.iter_mut().zip(unmatched) {
        if unmatched {
            group.endpoints.clear();
        }
    }
}

/// `applyLocalityFailover`: priority from locality proximity and `failover` rules, on top of any
/// priority `failoverPriority` assigned (× 5), renumbered 0..N without gaps.
fn apply_locality_failover(
    client: &Client,
    localities: &[Locality],
    groups: &mut [Group],
    setting: &LocalityLbSetting,
) {
    for group in groups.iter_mut() {
        let endpoint_locality = &localities[group.locality];
        let mut priority = lb_priority(&client.locality, endpoint_locality);
        if priority == 3
            && let Some(rule) = setting.failover.iter().find(|f| f.from == client.locality.region)
            && endpoint_locality.region != rule.to
        {
            priority = 4;
        }
        group.priority = group.priority * 5 + priority;
    }
    compact_priorities(groups);
}

/// `applyFailoverPriorities`: splits each locality by how many of the listed labels match the
/// client's, in order (`key=value` compares with a fixed value), then renumbers.
fn apply_failover_priority(client: &Client, groups: Vec<Group>, labels: &[String]) -> Vec<Group> {
    if client.labels.is_empty() {
        return groups;
    }
    let rules: Vec<(&str, Option<&str>)> = labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (l.as_str(), None),
        })
        .collect();
    let lowest = rules.len() as u32;
    let priority_of = |endpoint_labels: &BTreeMap<String, String>| -> u32 {
        for (index, &(key, fixed)) in rules.iter().enumerate() {
            let wanted = fixed.unwrap_or_else(|| client.labels.get(key).map_or("", String::as_str));
            if wanted != endpoint_labels.get(key).map_or("", String::as_str) {
                return lowest - index as u32;
            }
        }
        0
    };
    let mut split = Vec::new();
    for group in groups {
        let mut by_priority: BTreeMap<u32, Vec<LabelledEndpoint>> = BTreeMap::new();
        for (endpoint, labels) in group.endpoints {
            by_priority.entry(priority_of(&labels)).or_default().push((endpoint, labels));
        }
        for (priority, endpoints) in by_priority {
            let weight = endpoints.iter().map(|(e, _)| e.weight).sum();
            split.push(Group { locality: group.locality, priority, weight, endpoints });
        }
    }
    compact_priorities(&mut split);
    split
}

/// Renumbers priorities to 0..N in order, without gaps.
fn compact_priorities(groups: &mut [Group]) {
    let mut used: Vec<u32> = groups.iter().map(|g| g.priority).collect();
    used.sort_unstable();
    used.dedup();
    for group in groups {
        group.priority = used.binary_search(&group.priority).expect("collected above") as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::istio::api::{Distribute, Failover};

    fn endpoint(id: u32, locality: &Locality, labels: &[(&str, &str)]) -> ServiceEndpoint {
        ServiceEndpoint {
            endpoint: EndpointId(id),
            locality: Rc::new(locality.clone()),
            labels: Rc::new(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            weight: 1,
            health: EdsHealth::Healthy,
        }
    }

    fn hz(zone: &str) -> Locality {
        Locality::new("cn-hangzhou", zone, "")
    }

    fn sh(zone: &str) -> Locality {
        Locality::new("cn-shanghai", zone, "")
    }

    fn client(locality: Locality) -> Client {
        Client { locality, labels: BTreeMap::new() }
    }

    /// (locality, priority, weight, endpoint count) per group.
    fn summary(p: &ProxyAssignment) -> Vec<(String, u32, u32, usize)> {
        p.assignment
            .localities
            .iter()
            .map(|g| (p.localities[g.locality as usize].to_string(), g.priority, g.weight, g.endpoints.len()))
            .collect()
    }

    #[test]
    fn patterns_match_like_istio() {
        let l = Locality::new("cn-hangzhou", "cn-hangzhou-h", "rack1");
        assert!(l.matches("cn-hangzhou"));
        assert!(l.matches("cn-hangzhou/*"));
        assert!(l.matches("cn-hangzhou/cn-hangzhou-h/*"));
        assert!(l.matches("*"));
        assert!(!l.matches("cn-shanghai/*"));
        assert!(!l.matches("cn-hangzhou/cn-hangzhou-i"));
    }

    #[test]
    fn a_destination_rule_setting_replaces_the_mesh_one() {
        let mesh = LocalityLbSetting { enabled: Some(true), ..LocalityLbSetting::default() };
        let off = LocalityLbSetting { enabled: Some(false), ..LocalityLbSetting::default() };
        let dr = LocalityLbSetting { failover: vec![Failover::default()], ..LocalityLbSetting::default() };
        assert_eq!(effective_setting(Some(&mesh), None), Some(&mesh));
        assert_eq!(effective_setting(Some(&mesh), Some(&dr)), Some(&dr));
        assert_eq!(effective_setting(Some(&mesh), Some(&off)), None);
        assert_eq!(effective_setting(Some(&off), None), None);
        assert_eq!(effective_setting(None, None), None);
    }

    #[test]
    fn default_failover_priorities_for_a_hangzhou_client() {
        let endpoints = [
            endpoint(1, &hz("h"), &[]),
            endpoint(2, &hz("i"), &[]),
            endpoint(3, &sh("b"), &[]),
            endpoint(4, &Locality::new("cn-beijing", "a", ""), &[]),
        ];
        let enabled = LocalityLbSetting::default();
        let p = assign(&client(hz("h")), &endpoints, Some(&enabled), true);
        // Same zone 0, same region 1 (LbPriority 2), other regions 2 (LbPriority 3).
        assert_eq!(
            summary(&p),
            vec![
                ("cn-beijing/a/".into(), 2, 1, 1),
                ("cn-hangzhou/h/".into(), 0, 1, 1),
                ("cn-hangzhou/i/".into(), 1, 1, 1),
                ("cn-shanghai/b/".into(), 2, 1, 1),
            ]
        );
        assert!(!locality_weighted(Some(&enabled), true));
        // With a failover rule hangzhou → shanghai, beijing drops below shanghai.
        let rule = LocalityLbSetting {
            failover: vec![Failover { from: "cn-hangzhou".into(), to: "cn-shanghai".into() }],
            ..LocalityLbSetting::default()
        };
        let p = assign(&client(hz("h")), &endpoints, Some(&rule), true);
        let priorities: Vec<u32> = p.assignment.localities.iter().map(|g| g.priority).collect();
        assert_eq!(priorities, vec![3, 0, 1, 2]);
        assert!(locality_weighted(Some(&rule), true));
        // Without outlier detection there is no failover: everything in P0.
        let p = assign(&client(hz("h")), &endpoints, Some(&rule), false);
        assert!(p.assignment.localities.iter().all(|g| g.priority == 0));
        assert!(!locality_weighted(Some(&rule), false));
    }

    #[test]
    fn the_seed_topology_puts_the_other_region_in_p1() {
        // Seed document: hangzhou and shanghai, one zone each; clients in hangzhou.
        let endpoints = [endpoint(1, &hz("k"), &[]), endpoint(2, &sh("b"), &[])];
        let rule = LocalityLbSetting {
            failover: vec![
                Failover { from: "cn-hangzhou".into(), to: "cn-shanghai".into() },
                Failover { from: "cn-shanghai".into(), to: "cn-hangzhou".into() },
            ],
            ..LocalityLbSetting::default()
        };
        let p = assign(&client(hz("k")), &endpoints, Some(&rule), true);
        assert_eq!(summary(&p), vec![("cn-hangzhou/k/".into(), 0, 1, 1), ("cn-shanghai/b/".into(), 1, 1, 1)]);
        // When hangzhou's endpoints leave EDS, shanghai becomes P0.
        let p = assign(&client(hz("k")), &endpoints[1..], Some(&rule), true);
        assert_eq!(summary(&p), vec![("cn-shanghai/b/".into(), 0, 1, 1)]);
    }

    #[test]
    fn distribute_rounds_up_and_drops_unlisted_localities() {
        // spec §5: {hz/*: 80, sh/*: 20} with hangzhou zones of 2 and 1 pods → 54 + 27 against 20.
        let endpoints = [
            endpoint(1, &hz("h"), &[]),
            endpoint(2, &hz("h"), &[]),
            endpoint(3, &hz("i"), &[]),
            endpoint(4, &sh("b"), &[]),
            endpoint(5, &Locality::new("cn-beijing", "a", ""), &[]),
        ];
        let setting = LocalityLbSetting {
            distribute: vec![Distribute {
                from: "cn-hangzhou/*".into(),
                to: vec![("cn-hangzhou/*".into(), 80), ("cn-shanghai/*".into(), 20)],
            }],
            ..LocalityLbSetting::default()
        };
        let p = assign(&client(hz("h")), &endpoints, Some(&setting), true);
        assert_eq!(
            summary(&p),
            vec![
                ("cn-beijing/a/".into(), 0, 1, 0),
                ("cn-hangzhou/h/".into(), 0, 54, 2),
                ("cn-hangzhou/i/".into(), 0, 27, 1),
                ("cn-shanghai/b/".into(), 0, 20, 1),
            ]
        );
        let hangzhou: f64 = 54.0 + 27.0;
        assert!((100.0 * hangzhou / (hangzhou + 20.0) - 80.2).abs() < 0.05);
        assert!(locality_weighted(Some(&setting), false));
        // A shanghai client matches no rule: weights stay the endpoint counts.
        let p = assign(&client(sh("b")), &endpoints, Some(&setting), true);
        assert!(p.assignment.localities.iter().all(|g| g.weight == g.endpoints.len() as u32));
    }

    #[test]
    fn failover_priority_splits_by_matching_labels() {
        let a = Locality::new("r", "z", "");
        let endpoints = [
            endpoint(1, &a, &[("net", "n1"), ("tier", "gold")]),
            endpoint(2, &a, &[("net", "n1"), ("tier", "silver")]),
            endpoint(3, &a, &[("net", "n2"), ("tier", "gold")]),
        ];
        let setting =
            LocalityLbSetting { failover_priority: vec!["net".into(), "tier".into()], ..LocalityLbSetting::default() };
        let me = Client {
            locality: a.clone(),
            labels: [("net".to_string(), "n1".to_string()), ("tier".to_string(), "gold".to_string())].into(),
        };
        let p = assign(&me, &endpoints, Some(&setting), true);
        let by_priority: Vec<(u32, Vec<u32>)> = p
            .assignment
            .localities
            .iter()
            .map(|g| (g.priority, g.endpoints.iter().map(|e| e.endpoint.0).collect()))
            .collect();
        // All match → 0; first matches, second not → 1; first differs → 2.
        assert_eq!(by_priority, vec![(0, vec![1]), (1, vec![2]), (2, vec![3])]);
        // A fixed value compares against the value, not the client's label.
        let fixed = LocalityLbSetting { failover_priority: vec!["net=n2".into()], ..LocalityLbSetting::default() };
        let p = assign(&me, &endpoints, Some(&fixed), true);
        let p0: Vec<u32> = p.assignment.localities[0].endpoints.iter().map(|e| e.endpoint.0).collect();
        assert_eq!((p.assignment.localities[0].priority, p0), (0, vec![3]));
    }
}
