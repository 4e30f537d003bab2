//! What the world tells about itself after (or during) a run: Envoy's counters per proxy and
//! cluster, and the event log with its names resolved.

use super::*;
use crate::envoy::stats::{ClusterEvent, ClusterStats};
use crate::mesh::event_log::NamedRow;

impl World {
    /// Envoy's counters of every upstream cluster of every proxy that sent anything through it:
    /// `(proxy, cluster, counters)`, clusters named as Istio names them
    /// (`outbound|9080|v1|reviews.default.svc.cluster.local`).
    pub fn cluster_stats(&self) -> Vec<(String, String, ClusterStats)> {
        let mut rows = Vec::new();
        for upstream in &self.upstreams {
            let stats = upstream.cluster.stats();
            if stats.is_unused() {
                continue;
            }
            rows.push((self.proxy_name(upstream.proxy()), self.cluster_name(upstream), stats));
        }
        rows
    }

    /// Moves what an upstream cluster did into the event log.
    pub(super) fn log_cluster_events(&mut self, upstream: UpstreamId, now: SimTime) {
        let proxy = self.upstreams[upstream.index()].proxy();
        for event in self.upstreams[upstream.index()].cluster.take_events() {
            let (name, host, detail) = match event {
                ClusterEvent::Ejected(host, kind) => ("ejected", Some(host), kind.name().to_string()),
                ClusterEvent::EjectionRefused(host, kind) => {
                    ("ejection_refused", Some(host), format!("{}: over max_ejection_percent", kind.name()))
                }
                ClusterEvent::Returned(host) => ("returned", Some(host), String::new()),
                ClusterEvent::UpdateDelayed(level, until) => {
                    ("update_merged", None, format!("priority {level} until {:.3} s", until.as_secs_f64()))
                }
                ClusterEvent::MergedUpdateApplied(level) => {
                    ("merged_update_applied", None, format!("priority {level}"))
                }
                ClusterEvent::PriorityLoad(loads) => {
                    let loads: Vec<String> = loads.iter().map(|l| format!("{l}%")).collect();
                    ("priority_load", None, loads.join(" / "))
                }
                ClusterEvent::PanicEntered(level) => ("panic_entered", None, format!("priority {level}")),
                ClusterEvent::PanicLeft(level) => ("panic_left", None, format!("priority {level}")),
            };
            self.log.push(now, Some(proxy), Some(upstream.index()), host, name, detail);
        }
    }

    /// The event log with names resolved, and how many events the cap left out.
    pub fn event_rows(&self) -> (Vec<NamedRow>, u64) {
        let rows = self
            .log
            .rows()
            .iter()
            .map(|row| {
                let proxy = row.proxy.map(|p| self.proxy_name(p as usize)).unwrap_or_default();
                let cluster = row.upstream.map(|u| self.cluster_name(&self.upstreams[u as usize])).unwrap_or_default();
                let (pod, zone) = match row.host {
                    Some(EndpointId(p)) => {
                        let zone = self.topology.pods[p as usize].zone();
                        (self.pod_name(p as usize), self.topology.zones[zone].name.clone())
                    }
                    None => (String::new(), String::new()),
                };
                NamedRow {
                    time_s: row.time.as_secs_f64(),
                    proxy,
                    cluster,
                    pod,
                    zone,
                    event: row.event,
                    detail: row.detail.to_string(),
                    count: row.count,
                }
            })
            .collect();
        (rows, self.log.left_out())
    }

    /// A proxy's name: its pod's (`productpage-v1-ack-hangzhou-0`), or its gateway replica's
    /// (`ingressgateway-ack-hangzhou-0`).
    fn proxy_name(&self, proxy: usize) -> String {
        match self.proxies[proxy].of {
            ProxyOf::Pod(pod) => self.pod_name(pod as usize),
            ProxyOf::Gateway { index, replica } => {
                let gateway = &self.topology.gateways[index as usize];
                format!("{}-{}-{replica}", gateway.gateway, self.topology.clusters[gateway.cluster].0)
            }
        }
    }

    /// A pod's name: `reviews-v1-ack-hangzhou-0` (service, version, cluster, ordinal).
    pub(super) fn pod_name(&self, pod: usize) -> String {
        let pod = &self.topology.pods[pod];
        let service = &self.config.app.services[pod.service()];
        let cluster = &self.topology.clusters[pod.cluster()].0;
        format!("{}-{}-{cluster}-{}", service.name, service.versions[pod.version()].name, pod.ordinal)
    }

    /// An upstream cluster's name as Istio writes it (the model has no ports, so every service
    /// gets Bookinfo's 9080).
    fn cluster_name(&self, upstream: &ProxyUpstream) -> String {
        let service = &self.config.app.services[upstream.service()].name;
        format!("outbound|9080|{}|{service}.default.svc.cluster.local", upstream.subset.as_deref().unwrap_or(""))
    }
}
