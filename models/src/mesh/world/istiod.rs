//! istiod: watching clusters, debouncing endpoint changes, pushing them to every proxy.

use super::*;

impl World {
    /// Whether istiod can watch and push to `cluster`: it is up, not cut off, the cluster's
    /// region has a zone that is up, and the backbone to it carries traffic.
    pub(super) fn istiod_reaches(&self, cluster: usize) -> bool {
        if self.control_plane_cut || self.down_zones[self.control_plane_zone] {
            return false;
        }
        let region = self.topology.clusters[cluster].1;
        self.topology.zones.iter().enumerate().any(|(z, zone)| {
            zone.region == region
                && !self.down_zones[z]
                && self.topology.typical_latency(self.control_plane_zone, z).is_some()
        })
    }

    /// A pod changed: istiod hears of it after the watch delay (if it can reach its cluster).
    pub(super) fn pod_changed(&mut self, pod: usize, s: &mut Scheduler<Event>) {
        let cluster = self.topology.pods[pod].cluster();
        if !self.istiod_reaches(cluster) {
            return;
        }
        let region = self.topology.clusters[cluster].1;
        let zone = self.topology.zones.iter().position(|z| z.region == region).expect("regions have zones");
        let delay = self.config.control_plane.watch_delay
            + self.topology.typical_latency(zone, self.control_plane_zone).unwrap_or(SimDuration::ZERO);
        // A sync reads every pod as it is when it runs, so of the syncs due at one later
        // instant (a deployment scaled down: every pod at once) the first sees all they would.
        let due = s.now() + delay;
        if delay > SimDuration::ZERO && !self.istiod_syncs_due.insert(due) {
            return;
        }
        s.schedule_at(due, Event::IstiodSync);
    }

    pub(super) fn istiod_sync(&mut self, s: &mut Scheduler<Event>) {
        self.istiod_syncs_due.remove(&s.now());
        let current = self.current_endpoints();
        let mut view = self.istiod_view.clone();
        for (service, pods) in view.iter_mut().enumerate() {
            // Keep what istiod cached for clusters it cannot reach; refresh the rest.
            pods.retain(|&p| !self.istiod_reaches(self.topology.pods[p].cluster()));
            pods.extend(
                current[service].iter().copied().filter(|&p| self.istiod_reaches(self.topology.pods[p].cluster())),
            );
            pods.sort_unstable();
        }
        if view != self.istiod_view {
            self.istiod_view = view;
            if let Some(check) = self.debouncer.on_event(s.now()) {
                s.schedule_at(check, Event::DebounceCheck);
            }
        }
    }

    pub(super) fn debounce_check(&mut self, s: &mut Scheduler<Event>) {
        match self.debouncer.on_check(s.now()) {
            Err(next) => {
                s.schedule_at(next, Event::DebounceCheck);
            }
            Ok(()) => self.push(s),
        }
    }

    pub(super) fn push(&mut self, s: &mut Scheduler<Event>) {
        let push = self.pushes.len() as u32;
        self.pushes.push(Rc::new(self.istiod_view.clone()));
        self.log.push(s.now(), None, None, None, "istiod_push_sent", format!("push {push}"));
        for proxy in 0..self.proxies.len() {
            let zone = self.proxies[proxy].zone();
            if !self.istiod_reaches(self.proxies[proxy].cluster()) {
                continue;
            }
            if let Some(latency) = self.topology.typical_latency(self.control_plane_zone, zone) {
                s.schedule_in(PUSH_PROCESSING + latency, Event::EdsArrives(proxy as u32, push));
            }
        }
    }

    pub(super) fn eds_arrives(&mut self, proxy: usize, push: usize, s: &mut Scheduler<Event>) {
        self.log.push(s.now(), Some(proxy), None, None, "eds_applied", format!("push {push}"));
        let locality = self.proxies[proxy].locality.clone();
        for upstream in self.proxies[proxy].upstream_ids() {
            let (service, subset) = {
                let u = &self.upstreams[upstream.index()];
                (u.service(), u.subset.clone())
            };
            let Translation { table, .. } = self
                .translation(&locality, service, subset.as_ref(), Some(push as u32))
                .expect("the same translation succeeded at build time");
            let cluster = &mut self.upstreams[upstream.index()].cluster;
            let orphaned = cluster.update_assignment(table, s.now(), &mut self.streams.outlier);
            self.fail_orphaned(orphaned, upstream, s);
            self.rearm(upstream, s);
        }
    }
}
