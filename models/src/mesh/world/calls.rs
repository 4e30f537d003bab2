//! Calls and attempts: a proxy's route, host picks, connections, timeouts and retries.

use super::*;

impl World {
    pub(super) fn start_call(
        &mut self,
        proxy: usize,
        service: usize,
        parent: Parent,
        key: DrawKey,
        s: &mut Scheduler<Event>,
    ) {
        let route = &self.routes[service];
        let destination = match route.weights.len() {
            1 => 0,
            _ => {
                let draw = self.streams.routing.bits([key.request, service as u64, u64::from(key.attempt)]);
                pick_weighted(&route.weights, draw).expect("weights checked at build")
            }
        };
        let upstream = self.proxies[proxy].routes[service][destination];
        let timeout = route.timeout;
        let call = Call {
            proxy,
            upstream,
            parent,
            key,
            retries: 0,
            tried: [EndpointId(u32::MAX); 8],
            tried_count: 0,
            attempt: None,
            route_timeout: None,
            retry_in_flight: false,
        };
        let (index, serial) = self.calls.insert(call);
        if let Some(timeout) = timeout {
            let handle = s.schedule_in(timeout, Event::RouteTimeout(index, serial));
            self.calls.get_mut(index, serial).expect("just inserted").route_timeout = Some(handle);
        }
        self.start_attempt(index, serial, s);
    }

    /// The service a call goes to.
    pub(super) fn service_of(&self, call: &Call) -> usize {
        self.proxies[call.proxy].upstreams[call.upstream].service
    }

    pub(super) fn start_attempt(&mut self, index: u32, serial: u32, s: &mut Scheduler<Event>) {
        let now = s.now();
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let call = call.clone();
        let policy = &self.routes[self.service_of(&call)].retry;
        let (selection, per_try) = (policy.host_selection(), policy.per_try_timeout);
        let proxy_zone = self.proxies[call.proxy].zone;
        let workers = self.config.istio.proxy_concurrency.max(1) as u64;
        let worker = (self.streams.balancing.next_u64() % workers) as usize;
        let upstream = &mut self.proxies[call.proxy].upstreams[call.upstream];
        let (breaker, limits) = upstream.cluster.breaker();
        if !breaker.request_admitted(limits) {
            return self.end_call(index, serial, 503, 0, s);
        }
        let tried = &call.tried[..call.tried_count];
        let Some(pick) = upstream.cluster.choose_host(worker, tried, selection, &mut self.streams.balancing) else {
            return self.after_try(index, serial, TryOutcome::NoHealthyUpstream, 503, 0, s);
        };
        let pod = pick.endpoint.0 as usize;
        let (breaker, limits) = upstream.cluster.breaker();
        let may_open = breaker.connection_admitted(limits);
        let pending_ok = breaker.pending_admitted(limits);
        let grant = upstream.cluster.pool(pick).expect("just picked").acquire(may_open);
        let Some(grant) = grant else {
            if !pending_ok {
                return self.end_call(index, serial, 503, 0, s);
            }
            upstream.cluster.breaker().0.track_pending(true);
            upstream.pending.push_back((index, serial));
            return;
        };
        upstream.cluster.request_started(pick);
        upstream.cluster.breaker().0.track_request(true);
        if grant == ConnectionGrant::Open {
            upstream.cluster.breaker().0.track_connection(true);
        }
        let connect_timeout = upstream.cluster.settings().connect_timeout;
        // Only the first fault's pods are marked, when it starts.
        if self.pods[pod].faulted {
            self.metrics.last_attempt_to_faulted = Some(now);
        }
        let generation = s.events_handled() as u32;
        let carried = match grant {
            ConnectionGrant::Reused { carried } => carried + 1,
            ConnectionGrant::Open => 1,
        };
        let per_try_timeout = per_try.map(|t| s.schedule_in(t, Event::TryTimeout(index, generation)));
        let call = self.calls.get_mut(index, serial).expect("checked above");
        if call.tried_count < call.tried.len() {
            call.tried[call.tried_count] = pick.endpoint;
            call.tried_count += 1;
        }
        call.attempt = Some(Attempt { pick, pod, carried, generation, per_try_timeout });
        let (proxy, upstream) = (call.proxy, call.upstream);
        let pod_zone = self.topology.pods[pod].zone;
        let request_bytes = self.config.app.services[self.topology.pods[pod].service].request_bytes;
        let send_at = if grant == ConnectionGrant::Open {
            // The SYN is dropped (security group, lost, dead zone) or no one is home → connect
            // timeout; a deleted or refusing pod → RST after a round trip.
            let blocked = self.topology.is_blocked(self.proxies[proxy].cluster, self.topology.pods[pod].cluster);
            let syn_arrives =
                !blocked && matches!(self.transmit(proxy_zone, pod_zone, HANDSHAKE_BYTES, now), Delivery::At(_));
            let one_way = self.topology.typical_latency(proxy_zone, pod_zone).unwrap_or(SimDuration::ZERO);
            let round_trip = one_way + one_way;
            if !syn_arrives || self.pods[pod].down {
                s.schedule_in(connect_timeout, Event::ConnectFailed(index, generation, true));
                return;
            }
            if !self.pods[pod].exists || self.pods[pod].behaviour == Behaviour::Refuse {
                s.schedule_in(round_trip, Event::ConnectFailed(index, generation, false));
                return;
            }
            let handshakes = u64::from(self.config.network.handshake_round_trips);
            let connected = now + SimDuration::from_nanos(round_trip.as_nanos().saturating_mul(handshakes));
            if self.proxies[proxy].upstreams[upstream].cluster.reports_connect_success() {
                s.schedule_at(connected, Event::Connected(index, generation));
            }
            connected
        } else {
            self.connect_succeeded(proxy, upstream, pick, s);
            now
        };
        match self.transmit(proxy_zone, pod_zone, request_bytes, send_at) {
            Delivery::At(arrival) => {
                s.schedule_at(arrival, Event::RequestArrives(index, generation));
            }
            Delivery::Dropped => {
                s.schedule_at(send_at + RETRANSMISSION_TIMEOUT, Event::Reset(index, generation));
            }
            Delivery::Vanishes => {}
        }
    }

    /// An attempt of `proxy`'s `upstream` cluster got its connection, new or pooled: Envoy's
    /// router reports `LocalOriginConnectSuccess` (`UpstreamRequest::onPoolReady`), which in
    /// split mode resets the host's consecutive local-origin failures.
    pub(super) fn connect_succeeded(&mut self, proxy: usize, upstream: usize, pick: Pick, s: &mut Scheduler<Event>) {
        let cluster = &mut self.proxies[proxy].upstreams[upstream].cluster;
        if cluster.reports_connect_success() {
            cluster.record(pick, HostResult::ConnectSuccess, s.now(), &mut self.streams.outlier);
        }
    }

    /// The call's current attempt if `generation` is still it.
    pub(super) fn current_attempt(&mut self, index: u32, generation: u32) -> Option<(u32, Attempt)> {
        let serial = match self.calls.entries.get(index as usize)? {
            Some((serial, call)) if call.attempt.is_some_and(|a| a.generation == generation) => *serial,
            _ => return None,
        };
        let attempt = self.calls.get_mut(index, serial)?.attempt?;
        Some((serial, attempt))
    }

    /// Ends the current attempt: releases its connection and counts, charges its result.
    pub(super) fn close_attempt(
        &mut self,
        index: u32,
        serial: u32,
        result: Option<HostResult>,
        connection_failed: bool,
        s: &mut Scheduler<Event>,
    ) {
        let now = s.now();
        self.release_retry(index, serial);
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let Some(attempt) = call.attempt.take() else { return };
        let (proxy, upstream_index) = (call.proxy, call.upstream);
        if let Some(handle) = attempt.per_try_timeout {
            s.cancel(handle);
        }
        let upstream = &mut self.proxies[proxy].upstreams[upstream_index];
        upstream.cluster.request_finished(attempt.pick);
        upstream.cluster.breaker().0.track_request(false);
        let max_per_connection = upstream.cluster.settings().max_requests_per_connection;
        let closed = upstream
            .cluster
            .pool(attempt.pick)
            .map(|pool| pool.release(attempt.carried, max_per_connection, connection_failed))
            .unwrap_or(true);
        if closed {
            upstream.cluster.breaker().0.track_connection(false);
        }
        if let Some(result) = result
            && let Some(detection) = upstream.cluster.record(attempt.pick, result, now, &mut self.streams.outlier)
            && detection.outcome == EjectionOutcome::Ejected
        {
            self.metrics.ejection(now);
        }
        self.rearm(proxy, upstream_index, s);
        // A freed connection or slot lets a waiting call go.
        if let Some((waiting, waiting_serial)) = self.proxies[proxy].upstreams[upstream_index].pending.pop_front() {
            self.proxies[proxy].upstreams[upstream_index].cluster.breaker().0.track_pending(false);
            self.start_attempt(waiting, waiting_serial, s);
        }
    }

    /// After a try ended with `outcome`: retry after a backoff, or end the call.
    pub(super) fn after_try(
        &mut self,
        index: u32,
        serial: u32,
        outcome: TryOutcome,
        status: u16,
        markers: u32,
        s: &mut Scheduler<Event>,
    ) {
        // The try that just ended, if it was a retry, no longer counts against max_retries.
        self.release_retry(index, serial);
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let (retries, proxy, upstream) = (call.retries, call.proxy, call.upstream);
        let service = self.proxies[proxy].upstreams[upstream].service;
        let policy = &self.routes[service].retry;
        let (breaker, limits) = self.proxies[proxy].upstreams[upstream].cluster.breaker();
        // A retry over the cluster's max_retries is simply not made (`upstream_rq_retry_overflow`).
        if policy.should_retry(outcome, retries) && breaker.retry_admitted(limits) {
            breaker.track_retry(true);
            let backoff = policy.backoff(retries + 1, &mut self.streams.retries);
            let call = self.calls.get_mut(index, serial).expect("checked");
            call.retries += 1;
            call.retry_in_flight = true;
            s.schedule_in(backoff, Event::AttemptStarts(index, serial));
        } else {
            self.end_call(index, serial, status, markers, s);
        }
    }

    /// Frees the call's max_retries slot, if it holds one.
    pub(super) fn release_retry(&mut self, index: u32, serial: u32) {
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        if std::mem::take(&mut call.retry_in_flight) {
            let (proxy, upstream) = (call.proxy, call.upstream);
            self.proxies[proxy].upstreams[upstream].cluster.breaker().0.track_retry(false);
        }
    }

    pub(super) fn end_call(&mut self, index: u32, serial: u32, status: u16, markers: u32, s: &mut Scheduler<Event>) {
        self.release_retry(index, serial);
        let Some(call) = self.calls.remove(index, serial) else { return };
        if let Some(handle) = call.route_timeout {
            s.cancel(handle);
        }
        match call.parent {
            Parent::User(request, user_serial) => self.finish_user(request, user_serial, status, markers, s),
            Parent::Job(job, job_serial) => self.call_done(job, job_serial, status, markers, s),
        }
    }
}
