//! Calls and attempts: a proxy's route, host picks, connections, timeouts and retries.

use super::*;

/// Why a stream waiting in a pool always belongs to its call's current attempt.
const WAITING_IS_CURRENT: &str = "a waiting stream's attempt is current: close_attempt takes it out of the queue";

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
        let upstream = self.route(proxy, service, destination);
        let timeout = route.timeout;
        let workers = self.config.istio.proxy_concurrency.max(1) as u64;
        let worker = (self.streams.balancing.next_u64() % workers) as usize;
        let call = Call {
            proxy,
            zone: self.proxies[proxy].zone(),
            upstream,
            worker,
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

    pub(super) fn start_attempt(&mut self, index: u32, serial: u32, s: &mut Scheduler<Event>) {
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let (proxy, upstream, worker) = (call.proxy, call.upstream, call.worker);
        let (tried, tried_count) = (call.tried, call.tried_count);
        let policy = &self.routes[self.upstreams[upstream.index()].service()].retry;
        let (selection, per_try) = (policy.host_selection(), policy.per_try_timeout);
        let cluster = &mut self.upstreams[upstream.index()].cluster;
        let Some(pick) = cluster.choose_host(worker, &tried[..tried_count], selection, &mut self.streams.balancing)
        else {
            return self.after_try(index, serial, TryOutcome::NoHealthyUpstream, 503, 0, s);
        };
        if let Some(carried) = cluster.pool(pick, worker).expect("just picked").take_idle() {
            // An idle connection: the request is attached at once.
            self.begin_attempt(index, serial, pick, per_try, s);
            return self.attach(index, serial, carried, false, s);
        }
        let (breaker, limits) = self.upstreams[upstream.index()].cluster.breaker();
        if !breaker.pending_admitted(limits) {
            // A local 503 (UO), neither charged nor retried.
            self.upstreams[upstream.index()].cluster.stats_mut().others_mut().upstream_rq_pending_overflow += 1;
            let detail = "max_pending_requests".to_string();
            self.log.push(s.now(), Some(proxy), Some(upstream.index()), None, "circuit_breaker_overflow", detail);
            return self.end_call(index, serial, 503, 0, s);
        }
        breaker.track_pending(true);
        let generation = self.begin_attempt(index, serial, pick, per_try, s);
        let cluster = &mut self.upstreams[upstream.index()].cluster;
        cluster.pool(pick, worker).expect("just picked").wait(PendingStream(index, generation));
        self.open_connections(proxy, upstream, worker, pick, s);
    }

    /// Records the call's new attempt on `pick` (waiting for a connection) and arms its
    /// per-try timeout; returns the attempt's generation.
    fn begin_attempt(
        &mut self,
        index: u32,
        serial: u32,
        pick: Pick,
        per_try: Option<SimDuration>,
        s: &mut Scheduler<Event>,
    ) -> u32 {
        let generation = s.events_handled() as u32;
        let per_try_timeout = per_try.map(|t| s.schedule_in(t, Event::TryTimeout(index, generation)));
        let call = self.calls.get_mut(index, serial).expect("a live call");
        if call.tried_count < call.tried.len() {
            call.tried[call.tried_count] = pick.endpoint;
            call.tried_count += 1;
        }
        let pod = pick.endpoint.0 as usize;
        call.attempt = Some(Attempt { pick, carried: 0, generation, per_try_timeout, answer: None });
        // Only the first fault's pods are marked, when it starts.
        if self.pods[pod].faulted {
            self.metrics.last_attempt_to_faulted = Some(s.now());
        }
        generation
    }

    /// The call's waiting attempt gets a ready connection that has carried `carried` requests
    /// (`attachStreamToClient`): over the cluster's `max_requests` it fails with a local 503 (UO)
    /// and the connection stays ready; otherwise the request counts as active on its host and
    /// goes out. `was_pending`: it waited in the pool (and counted as pending).
    fn attach(&mut self, index: u32, serial: u32, carried: u32, was_pending: bool, s: &mut Scheduler<Event>) {
        let now = s.now();
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let (proxy, proxy_zone, upstream, worker) = (call.proxy, call.zone, call.upstream, call.worker);
        let Some(attempt) = call.attempt.as_mut() else { return };
        attempt.carried = carried + 1;
        let (pick, pod, generation) = (attempt.pick, attempt.pod(), attempt.generation);
        let cluster = &mut self.upstreams[upstream.index()].cluster;
        let (breaker, limits) = cluster.breaker();
        if was_pending {
            breaker.track_pending(false);
        }
        if !breaker.request_admitted(limits) {
            cluster.stats_mut().others_mut().upstream_rq_pending_overflow += 1;
            if let Some(pool) = cluster.pool(pick, worker) {
                pool.put_back(carried);
            }
            let host = Some(pick.endpoint);
            self.log.push(
                now,
                Some(proxy),
                Some(upstream.index()),
                host,
                "circuit_breaker_overflow",
                "max_requests".into(),
            );
            let call = self.calls.get_mut(index, serial).expect("checked above");
            if let Some(handle) = call.attempt.take().and_then(|a| a.per_try_timeout) {
                s.cancel(handle);
            }
            return self.end_call(index, serial, 503, 0, s);
        }
        breaker.track_request(true);
        cluster.request_started(pick);
        self.connect_succeeded(upstream, pick, s);
        let pod_zone = self.topology.pods[pod].zone();
        let request_bytes = self.config.app.services[self.topology.pods[pod].service()].request_bytes;
        match self.transmit(proxy_zone, pod_zone, request_bytes, now) {
            Delivery::At(arrival) => {
                s.schedule_at(arrival, Event::RequestArrives(index, generation));
            }
            Delivery::Dropped => {
                s.schedule_at(now + RETRANSMISSION_TIMEOUT, Event::Reset(index, generation));
            }
            Delivery::Vanishes => {}
        }
    }

    /// Opens connections in worker `worker`'s pool to the host of `pick` while its waiting
    /// streams want more than are connecting, as `max_connections` allows (a pool with no
    /// connection may always open one). Each connection's fate is decided now: the SYN dropped (security
    /// group, loss, a dead zone) or no one home → connect timeout; a deleted or refusing pod →
    /// RST after a round trip; otherwise up after the handshakes.
    fn open_connections(
        &mut self,
        proxy: usize,
        upstream: UpstreamId,
        worker: usize,
        pick: Pick,
        s: &mut Scheduler<Event>,
    ) {
        let now = s.now();
        let pod = pick.endpoint.0 as usize;
        let (proxy_zone, pod_zone) = (self.proxies[proxy].zone(), self.topology.pods[pod].zone());
        let blocked = self.topology.is_blocked(self.proxies[proxy].cluster(), self.topology.pods[pod].cluster());
        loop {
            let cluster = &mut self.upstreams[upstream.index()].cluster;
            let (breaker, limits) = cluster.breaker();
            let may_open = breaker.connection_admitted(limits);
            let connect_timeout = cluster.settings().connect_timeout;
            let Some(pool) = cluster.pool(pick, worker) else { return };
            if pool.connections_wanted() == 0 || !(may_open || pool.is_unconnected()) {
                return;
            }
            let last = pool.connections_wanted() == 1;
            let (connection, serial) = self.connections.insert(Connecting { upstream, worker, pick });
            pool.start_connecting(connection);
            cluster.breaker().0.track_connection(true);
            cluster.stats_mut().count_connection();
            let syn_arrives =
                !blocked && matches!(self.transmit(proxy_zone, pod_zone, HANDSHAKE_BYTES, now), Delivery::At(_));
            let one_way = self.topology.typical_latency(proxy_zone, pod_zone).unwrap_or(SimDuration::ZERO);
            let round_trip = one_way + one_way;
            if !syn_arrives || self.pods[pod].down {
                s.schedule_in(connect_timeout, Event::ConnectionTimedOut(connection, serial));
            } else if !self.pods[pod].exists || self.pods[pod].behaviour == Behaviour::Refuse {
                s.schedule_in(round_trip, Event::ConnectionRefused(connection, serial));
            } else {
                let handshakes = u64::from(self.config.network.handshake_round_trips);
                let up = SimDuration::from_nanos(round_trip.as_nanos().saturating_mul(handshakes));
                s.schedule_in(up, Event::ConnectionUp(connection, serial));
            }
            if last {
                return;
            }
        }
    }

    /// A new connection came up: it serves the pool's oldest waiting stream, or waits idle.
    pub(super) fn connection_up(&mut self, index: u32, serial: u32, s: &mut Scheduler<Event>) {
        let Some(c) = self.connections.remove(index, serial) else { return };
        let cluster = &mut self.upstreams[c.upstream.index()].cluster;
        // Unknown to the pool: closed meanwhile (drained, or its host left).
        let Some(Some(stream)) = cluster.pool(c.pick, c.worker).and_then(|pool| pool.connected(index)) else {
            return;
        };
        let (call_serial, _) = self.current_attempt(stream.0, stream.1).expect(WAITING_IS_CURRENT);
        self.attach(stream.0, call_serial, 0, true, s);
    }

    /// A new connection failed: every stream waiting in its pool fails with it
    /// (`purgePendingStreams`), each charged to the host and retried as its route says.
    pub(super) fn connection_failed(&mut self, index: u32, serial: u32, timed_out: bool, s: &mut Scheduler<Event>) {
        let Some(c) = self.connections.remove(index, serial) else { return };
        let cluster = &mut self.upstreams[c.upstream.index()].cluster;
        let Some(purged) = cluster.pool(c.pick, c.worker).and_then(|pool| pool.connect_failed(index)) else {
            return;
        };
        cluster.breaker().0.track_connection(false);
        let stats = cluster.stats_mut().others_mut();
        stats.upstream_cx_connect_fail += 1;
        stats.upstream_cx_connect_timeout += u64::from(timed_out);
        let result = if timed_out { HostResult::Timeout } else { HostResult::ConnectFailed };
        for stream in purged {
            self.upstreams[c.upstream.index()].cluster.breaker().0.track_pending(false);
            if let Some((call_serial, _)) = self.current_attempt(stream.0, stream.1) {
                self.close_attempt(stream.0, call_serial, Some(result), true, s);
                self.after_try(stream.0, call_serial, TryOutcome::ConnectFailure, 503, 0, s);
            }
        }
    }

    /// Streams that waited for a connection to a host that left the cluster: they fail as the
    /// refused connect that would follow fails them, and are retried as their route says.
    pub(super) fn fail_orphaned(
        &mut self,
        streams: Vec<PendingStream>,
        upstream: UpstreamId,
        s: &mut Scheduler<Event>,
    ) {
        for stream in streams {
            self.upstreams[upstream.index()].cluster.breaker().0.track_pending(false);
            if let Some((call_serial, _)) = self.current_attempt(stream.0, stream.1) {
                self.close_attempt(stream.0, call_serial, Some(HostResult::ConnectFailed), true, s);
                self.after_try(stream.0, call_serial, TryOutcome::ConnectFailure, 503, 0, s);
            }
        }
    }

    /// An attempt through `upstream` got its connection, new or pooled: Envoy's
    /// router reports `LocalOriginConnectSuccess` (`UpstreamRequest::onPoolReady`), which in
    /// split mode resets the host's consecutive local-origin failures.
    fn connect_succeeded(&mut self, upstream: UpstreamId, pick: Pick, s: &mut Scheduler<Event>) {
        let cluster = &mut self.upstreams[upstream.index()].cluster;
        if cluster.reports_connect_success() {
            cluster.record(pick, HostResult::ConnectSuccess, s.now(), &mut self.streams.outlier);
            // A result that makes the next sweep matter arms it.
            self.rearm(upstream, s);
        }
    }

    /// The call's current attempt if `generation` is still it.
    pub(super) fn current_attempt(&self, index: u32, generation: u32) -> Option<(u32, Attempt)> {
        match self.calls.entries.get(index as usize)? {
            Some((serial, call)) => call.attempt.filter(|a| a.generation == generation).map(|a| (*serial, a)),
            None => None,
        }
    }

    /// Ends the current attempt: charges its result to the host, then gives up its place in
    /// the pool's queue, or releases its connection (which may serve a waiting stream next).
    pub(super) fn close_attempt(
        &mut self,
        index: u32,
        serial: u32,
        result: Option<HostResult>,
        connection_failed: bool,
        s: &mut Scheduler<Event>,
    ) {
        let now = s.now();
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let (retry_slot, attempt) = (call.take_retry_slot(), call.attempt.take());
        let (proxy, upstream, worker) = (call.proxy, call.upstream, call.worker);
        self.free_retry_slot(retry_slot);
        let Some(attempt) = attempt else { return };
        if let Some(handle) = attempt.per_try_timeout {
            s.cancel(handle);
        }
        let cluster = &mut self.upstreams[upstream.index()].cluster;
        // The router charges aborts as the status it answers with (`chargeUpstreamAbort`):
        // 503 for a failed connection or a reset, 504 for a timeout.
        match result {
            Some(HostResult::Http(status)) => cluster.stats_mut().count_response(status),
            Some(HostResult::ConnectFailed) => cluster.stats_mut().count_response(503),
            Some(HostResult::Timeout) => cluster.stats_mut().count_response(504),
            Some(HostResult::ConnectSuccess) | None => {}
        }
        // The router charges the host before the stream closes; an ejection drains the pools.
        if let Some(result) = result
            && let Some(detection) = cluster.record(attempt.pick, result, now, &mut self.streams.outlier)
            && detection.outcome == EjectionOutcome::Ejected
        {
            self.metrics.ejection(now);
        }
        let cluster = &mut self.upstreams[upstream.index()].cluster;
        if attempt.carried == 0 {
            let stream = PendingStream(index, attempt.generation);
            if cluster.pool(attempt.pick, worker).is_some_and(|pool| pool.stop_waiting(stream)) {
                cluster.breaker().0.track_pending(false);
            }
        } else {
            cluster.request_finished(attempt.pick);
            cluster.breaker().0.track_request(false);
            let max_per_connection = cluster.settings().max_requests_per_connection;
            // Whether streams still wait for a connection of their own once this one is released.
            let (released, still_wanted) =
                cluster.pool(attempt.pick, worker).map_or((Released::Closed, false), |pool| {
                    let released = pool.release(attempt.carried, max_per_connection, connection_failed);
                    (released, pool.connections_wanted() > 0)
                });
            match released {
                Released::Closed => {
                    cluster.breaker().0.track_connection(false);
                    if still_wanted {
                        self.open_connections(proxy, upstream, worker, attempt.pick, s);
                    }
                }
                Released::Reused(stream, carried) => {
                    let (call_serial, _) = self.current_attempt(stream.0, stream.1).expect(WAITING_IS_CURRENT);
                    self.attach(stream.0, call_serial, carried, true, s);
                }
                Released::Idle => {}
            }
        }
        self.rearm(upstream, s);
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
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        // The try that just ended, if it was a retry, no longer counts against max_retries.
        let retry_slot = call.take_retry_slot();
        let (retries, proxy, upstream) = (call.retries, call.proxy, call.upstream);
        self.free_retry_slot(retry_slot);
        let service = self.upstreams[upstream.index()].service();
        let policy = &self.routes[service].retry;
        let cluster = &mut self.upstreams[upstream.index()].cluster;
        // A retry whose outcome needs no further retry succeeded (`upstream_rq_retry_success`,
        // counted whatever the retries left, as `RetryStateImpl::shouldRetry` does).
        let retriable = policy.retriable(outcome);
        if retries > 0 && !retriable {
            cluster.stats_mut().others_mut().upstream_rq_retry_success += 1;
        }
        let wanted = retriable && retries < policy.num_retries;
        let (breaker, limits) = cluster.breaker();
        let admitted = breaker.retry_admitted(limits);
        if wanted && !admitted {
            // A retry over the cluster's max_retries is simply not made.
            cluster.stats_mut().others_mut().upstream_rq_retry_overflow += 1;
            let now = s.now();
            self.log.push(
                now,
                Some(proxy),
                Some(upstream.index()),
                None,
                "circuit_breaker_overflow",
                "max_retries".into(),
            );
        }
        if wanted && admitted {
            let (breaker, _) = cluster.breaker();
            breaker.track_retry(true);
            cluster.stats_mut().others_mut().upstream_rq_retry += 1;
            self.metrics.retries += 1;
            let backoff = policy.backoff(retries + 1, &mut self.streams.retries);
            let call = self.calls.get_mut(index, serial).expect("checked");
            call.retries += 1;
            call.retry_in_flight = true;
            s.schedule_in(backoff, Event::AttemptStarts(index, serial));
        } else {
            self.end_call(index, serial, status, markers, s);
        }
    }

    /// Gives a max_retries slot that [`Call::take_retry_slot`] took back to its cluster's breaker.
    fn free_retry_slot(&mut self, slot: Option<UpstreamId>) {
        if let Some(upstream) = slot {
            self.upstreams[upstream.index()].cluster.breaker().0.track_retry(false);
        }
    }

    pub(super) fn end_call(&mut self, index: u32, serial: u32, status: u16, markers: u32, s: &mut Scheduler<Event>) {
        let Some(mut call) = self.calls.remove(index, serial) else { return };
        let retry_slot = call.take_retry_slot();
        self.free_retry_slot(retry_slot);
        if let Some(handle) = call.route_timeout {
            s.cancel(handle);
        }
        match call.parent {
            Parent::User(request, user_serial) => self.finish_user(request, user_serial, status, markers, s),
            Parent::Job(job, job_serial) => self.call_done(job, job_serial, status, markers, s),
        }
    }
}
