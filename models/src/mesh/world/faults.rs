//! Faults: what starting and ending each kind of fault does to the world.

use super::*;

impl World {
    pub(super) fn target_pods(&self, target: &FaultTarget) -> Vec<usize> {
        let cluster_of = |name: &str| self.topology.clusters.iter().position(|(c, _)| c == name);
        let matches_deployment = |p: usize, cluster: &str, service: &str, version: &str| {
            let pod = &self.topology.pods[p];
            let svc = &self.config.app.services[pod.service()];
            Some(pod.cluster()) == cluster_of(cluster)
                && svc.name == service
                && svc.versions[pod.version()].name == version
        };
        (0..self.topology.pods.len())
            .filter(|&p| match target {
                FaultTarget::Deployment { cluster, service, version } => {
                    matches_deployment(p, cluster, service, version)
                }
                FaultTarget::Pod { cluster, service, version, index } => {
                    matches_deployment(p, cluster, service, version) && self.topology.pods[p].ordinal == *index
                }
                FaultTarget::Zone(z) => self.topology.zones[self.topology.pods[p].zone()].name == *z,
                FaultTarget::Region(r) => {
                    self.topology.regions[self.topology.zones[self.topology.pods[p].zone()].region] == *r
                }
                FaultTarget::Backbone(..) | FaultTarget::ControlPlane | FaultTarget::SecurityGroupRule { .. } => false,
            })
            .collect()
    }

    pub(super) fn target_zones(&self, target: &FaultTarget) -> Vec<usize> {
        (0..self.topology.zones.len())
            .filter(|&z| match target {
                FaultTarget::Zone(name) => self.topology.zones[z].name == *name,
                FaultTarget::Region(r) => self.topology.regions[self.topology.zones[z].region] == *r,
                _ => false,
            })
            .collect()
    }

    pub(super) fn region_index(&self, name: &str) -> usize {
        self.topology.regions.iter().position(|r| r == name).expect("checked at build")
    }

    pub(super) fn fault(&mut self, index: usize, starting: bool, s: &mut Scheduler<Event>) {
        let fault = self.config.faults[index].clone();
        let event = if starting { "fault_started" } else { "fault_ended" };
        self.log.push(s.now(), None, None, None, event, format!("faults[{index}]: {fault}"));
        if !starting && self.first_fault == Some(index) {
            self.fault_ended = Some(s.now());
        }
        if starting && self.fault_started.is_none() {
            self.fault_started = Some(s.now());
            self.first_fault = Some(index);
            for p in self.target_pods(&fault.target) {
                self.pods[p].faulted = true;
            }
        }
        let pods = self.target_pods(&fault.target);
        match &fault.kind {
            FaultKind::Respond(status) => self.set_behaviour(&pods, starting, Behaviour::Respond(*status), s),
            FaultKind::Refuse => self.set_behaviour(&pods, starting, Behaviour::Refuse, s),
            FaultKind::Hang => self.set_behaviour(&pods, starting, Behaviour::Hang, s),
            FaultKind::Slow(extra) => self.set_behaviour(&pods, starting, Behaviour::Slow(*extra), s),
            FaultKind::FailFraction(f, status) => {
                self.set_behaviour(&pods, starting, Behaviour::FailFraction(*f, *status), s)
            }
            FaultKind::ScaleTo(n) => {
                for &p in &pods {
                    let keep = self.topology.pods[p].ordinal < *n;
                    self.pods[p].exists = !starting || keep;
                    self.pod_changed(p, s);
                }
            }
            FaultKind::Outage => {
                for z in self.target_zones(&fault.target) {
                    self.down_zones[z] = starting;
                }
                for &p in &pods {
                    self.pods[p].down = starting;
                }
                if let FaultTarget::Region(r) = &fault.target {
                    let links = self.topology.links_of_region(self.region_index(r));
                    self.set_links(&links, starting, |link| link.cut = true);
                }
                s.schedule_in(SimDuration::ZERO, Event::IstiodSync);
            }
            FaultKind::Cut | FaultKind::Degrade { .. } => {
                let FaultTarget::Backbone(a, b) = &fault.target else { return };
                let links = self.topology.links_between(self.region_index(a), self.region_index(b));
                let kind = fault.kind.clone();
                self.set_links(&links, starting, move |link| match &kind {
                    FaultKind::Cut => link.cut = true,
                    FaultKind::Degrade { latency, loss, bandwidth_bps } => {
                        if let Some((min, max)) = latency {
                            link.min_latency = *min;
                            link.max_latency = *max;
                        }
                        if let Some(loss) = loss {
                            link.loss = *loss;
                        }
                        if let Some(bps) = bandwidth_bps {
                            link.bandwidth_bps = *bps;
                        }
                    }
                    _ => {}
                });
                if !starting {
                    // Reconnected: istiod resyncs and pushes what it missed.
                    s.schedule_in(SimDuration::ZERO, Event::IstiodSync);
                    self.push(s);
                }
            }
            FaultKind::RuleRemoved => {
                let FaultTarget::SecurityGroupRule { from, to } = &fault.target else { return };
                let (from, to) = (self.topology.cluster_index(from), self.topology.cluster_index(to));
                if let (Some(from), Some(to)) = (from, to) {
                    self.topology.set_blocked(from, to, starting);
                }
            }
            FaultKind::Unreachable => {
                self.control_plane_cut = starting;
                if !starting {
                    s.schedule_in(SimDuration::ZERO, Event::IstiodSync);
                    self.push(s);
                }
            }
        }
    }

    pub(super) fn set_links(
        &mut self,
        links: &[usize],
        starting: bool,
        apply: impl Fn(&mut crate::mesh::network::BackboneLink),
    ) {
        for &l in links {
            if starting {
                self.saved_links[l].get_or_insert_with(|| self.topology.links[l].clone());
                apply(&mut self.topology.links[l]);
            } else if let Some(saved) = self.saved_links[l].take() {
                let link = &mut self.topology.links[l];
                link.min_latency = saved.min_latency;
                link.max_latency = saved.max_latency;
                link.loss = saved.loss;
                link.bandwidth_bps = saved.bandwidth_bps;
                link.cut = saved.cut;
            }
        }
    }

    pub(super) fn set_behaviour(
        &mut self,
        pods: &[usize],
        starting: bool,
        behaviour: Behaviour,
        s: &mut Scheduler<Event>,
    ) {
        let probe_fails = matches!(behaviour, Behaviour::Refuse | Behaviour::Hang);
        let cp = &self.config.control_plane;
        let unready_after =
            SimDuration::from_nanos(cp.readiness_period.as_nanos() * u64::from(cp.readiness_failure_threshold));
        for &p in pods {
            let state = &mut self.pods[p];
            state.behaviour = if starting { behaviour } else { Behaviour::Normal };
            if let Some(handle) = state.unready_timer.take() {
                s.cancel(handle);
            }
            if starting && probe_fails {
                state.unready_timer = Some(s.schedule_in(unready_after, Event::PodUnready(p as u32)));
            } else if !starting && !state.ready {
                state.ready = true;
                self.pod_changed(p, s);
            }
        }
    }
}
