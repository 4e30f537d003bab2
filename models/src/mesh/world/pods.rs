//! Pods: queueing for a slot, working, calling out through the sidecar, answering.

use super::*;

impl World {
    pub(super) fn request_arrives(&mut self, index: u32, generation: u32, s: &mut Scheduler<Event>) {
        let Some((serial, attempt)) = self.current_attempt(index, generation) else { return };
        let pod = attempt.pod();
        if self.pods[pod].down {
            return; // Lost: the call waits for a timeout.
        }
        if !self.pods[pod].exists || self.pods[pod].behaviour == Behaviour::Refuse {
            let back = self.answer_delay(pod, index, serial);
            s.schedule_in(back, Event::Reset(index, generation));
            return;
        }
        let call = self.calls.get_mut(index, serial).expect("current attempt's call");
        // Attempts along the way (a retried productpage calls reviews again): a new number.
        let key =
            DrawKey { request: call.key.request, attempt: call.key.attempt.wrapping_mul(8).wrapping_add(call.retries) };
        let (job, job_serial) = self.jobs.insert(Job {
            pod,
            caller: (index, serial, generation),
            key,
            next_call: 0,
            outstanding: 0,
            markers: 0,
            calls_ok: true,
        });
        let state = &mut self.pods[pod];
        if state.busy < self.topology.pods[pod].concurrency {
            state.busy += 1;
            self.begin_work(job, job_serial, s);
        } else {
            state.queue.get_or_insert_default().push_back((job, job_serial));
        }
    }

    /// One-way latency back from a pod to a call's proxy, for resets.
    pub(super) fn answer_delay(&self, pod: usize, index: u32, serial: u32) -> SimDuration {
        let proxy_zone = self.calls.entries[index as usize].as_ref().filter(|(s, _)| *s == serial).map(|(_, c)| c.zone);
        proxy_zone
            .and_then(|z| self.topology.typical_latency(self.topology.pods[pod].zone(), z))
            .unwrap_or(SimDuration::ZERO)
    }

    pub(super) fn begin_work(&mut self, job: u32, job_serial: u32, s: &mut Scheduler<Event>) {
        let record = self.jobs.get_mut(job, job_serial).expect("live job");
        let (pod, key) = (record.pod, record.key);
        let info = &self.topology.pods[pod];
        let mut draw = self.streams.service.rng([key.request, info.service() as u64, u64::from(key.attempt)]);
        let mut work = self.config.app.services[info.service()].versions[info.version()].service_time.sample(&mut draw);
        match self.pods[pod].behaviour {
            Behaviour::Hang => return, // Holds its slot and never answers.
            Behaviour::Slow(extra) => work = work + extra,
            _ => {}
        }
        s.schedule_in(work, Event::WorkDone(job, job_serial));
    }

    pub(super) fn work_done(&mut self, job: u32, job_serial: u32, s: &mut Scheduler<Event>) {
        let Some((pod, key)) = self.jobs.get_mut(job, job_serial).map(|j| (j.pod, j.key)) else { return };
        let service = self.topology.pods[pod].service() as u64;
        match self.pods[pod].behaviour {
            Behaviour::Respond(status) => return self.respond(job, job_serial, status, 0, s),
            Behaviour::FailFraction(fraction, status)
                if self.streams.failures.unit([key.request, service, u64::from(key.attempt)]) < fraction =>
            {
                return self.respond(job, job_serial, status, 0, s);
            }
            Behaviour::Hang => return,
            _ => {}
        }
        let info = &self.topology.pods[pod];
        let version = &self.config.app.services[info.service()].versions[info.version()];
        if version.calls.is_empty() {
            return self.respond(job, job_serial, 200, version.markers, s);
        }
        if version.parallel {
            let count = version.calls.len();
            self.jobs.get_mut(job, job_serial).expect("live").outstanding = count as u32;
            for _ in 0..count {
                self.next_child_call(job, job_serial, s);
            }
        } else {
            self.jobs.get_mut(job, job_serial).expect("live").outstanding = 1;
            self.next_child_call(job, job_serial, s);
        }
    }

    pub(super) fn next_child_call(&mut self, job: u32, job_serial: u32, s: &mut Scheduler<Event>) {
        let record = self.jobs.get_mut(job, job_serial).expect("live");
        let (pod, step, key) = (record.pod, record.next_call, record.key);
        record.next_call += 1;
        let info = &self.topology.pods[pod];
        let service = self.callees[info.service()][info.version()][step];
        let proxy = self.pod_proxy[pod].expect("pods that call have a sidecar");
        self.start_call(proxy, service, Parent::Job(job, job_serial), key, s);
    }

    pub(super) fn call_done(&mut self, job: u32, job_serial: u32, status: u16, markers: u32, s: &mut Scheduler<Event>) {
        let Some(record) = self.jobs.get_mut(job, job_serial) else { return };
        let pod = record.pod;
        let info = &self.topology.pods[pod];
        let version = &self.config.app.services[info.service()].versions[info.version()];
        let step = record.next_call - 1;
        let on_failure = version.calls[step.min(version.calls.len() - 1)].on_failure;
        record.outstanding -= 1;
        if status >= 500 {
            match on_failure {
                OnFailure::Fail(code) => return self.respond(job, job_serial, code, 0, s),
                OnFailure::Degrade => record.calls_ok = false,
            }
        } else {
            record.markers += markers;
        }
        if version.parallel {
            if record.outstanding > 0 {
                return;
            }
        } else if record.next_call < version.calls.len() {
            record.outstanding = 1;
            return self.next_child_call(job, job_serial, s);
        }
        let own = if record.calls_ok { version.markers } else { 0 };
        let total = record.markers + own;
        self.respond(job, job_serial, 200, total, s);
    }

    pub(super) fn respond(&mut self, job: u32, job_serial: u32, status: u16, markers: u32, s: &mut Scheduler<Event>) {
        let now = s.now();
        let Some(record) = self.jobs.remove(job, job_serial) else { return };
        let pod = record.pod;
        // Free the slot for the next queued request.
        if let Some((next, next_serial)) = self.pods[pod].queue.as_mut().and_then(|queue| queue.pop_front()) {
            self.begin_work(next, next_serial, s);
        } else {
            self.pods[pod].busy -= 1;
        }
        let info = &self.topology.pods[pod];
        let service = &self.config.app.services[info.service()];
        if status < 500 && self.pods[pod].faulted && self.fault_ended.is_some() {
            self.metrics.first_answer_after_fault.get_or_insert(now);
        }
        if self.share_service == Some(info.service()) && status < 500 {
            self.metrics.share(now, info.zone(), info.version());
        }
        let (index, serial, generation) = record.caller;
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let proxy_zone = call.zone;
        // What the answer says travels with the attempt it answers (read only by its Answer event).
        if let Some(attempt) = call.attempt.as_mut().filter(|a| a.generation == generation) {
            attempt.answer = Some((status, markers));
        }
        let response_bytes = service.response_bytes;
        let (from, to) = (info.zone(), proxy_zone);
        if self.pods[pod].down {
            return;
        }
        match self.transmit(from, to, response_bytes, now) {
            Delivery::At(arrival) => {
                s.schedule_at(arrival, Event::Answer(index, generation));
            }
            Delivery::Dropped => {
                s.schedule_in(RETRANSMISSION_TIMEOUT, Event::Reset(index, generation));
            }
            Delivery::Vanishes => {}
        }
    }
}
