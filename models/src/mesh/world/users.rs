//! Users: open-loop arrivals and closed-loop users entering at the gateway, and their answers.

use super::*;

impl World {
    pub(super) fn start_user_request(&mut self, user: Option<u32>, s: &mut Scheduler<Event>) {
        let now = s.now();
        self.metrics.sent += 1;
        let (request, serial) = self.users.insert(UserRequest { started: now, user, give_up: None });
        if let Some(timeout) = self.config.workload.user_timeout {
            let handle = s.schedule_in(timeout, Event::UserGivesUp(request, serial));
            self.users.get_mut(request, serial).expect("just inserted").give_up = Some(handle);
        }
        // The load balancer in front of the gateway spreads users over the replicas that are up.
        let live = |w: &World, p: &usize| !w.down_zones[w.proxies[*p].zone()];
        let up = self.entry_proxies.iter().filter(|p| live(self, p)).count();
        if up == 0 {
            self.finish_user(request, serial, 503, 0, s);
            return;
        }
        // The request's number in the run keys every draw made for it.
        let key = DrawKey { request: self.metrics.sent, attempt: 0 };
        let k = if up == 1 { 0 } else { (self.streams.routing.bits([key.request, u64::MAX, 0]) % up as u64) as usize };
        let proxy = *self.entry_proxies.iter().filter(|p| live(self, p)).nth(k).expect("k < up");
        let entry = self.entry_service;
        self.start_call(proxy, entry, Parent::User(request, serial), key, s);
    }

    pub(super) fn finish_user(
        &mut self,
        request: u32,
        serial: u32,
        status: u16,
        markers: u32,
        s: &mut Scheduler<Event>,
    ) {
        let Some(user) = self.users.remove(request, serial) else { return };
        if let Some(handle) = user.give_up {
            s.cancel(handle);
        }
        let now = s.now();
        self.metrics.answered(now, now - user.started, status, markers);
        if let (Some(u), Arrivals::Users { think_time, limit, .. }) = (user.user, &self.config.workload.arrivals)
            && limit.is_none_or(|l| self.closed_loop_sent < l)
        {
            s.schedule_in(*think_time, Event::UserSends(u));
        }
    }

    /// The user's own timeout fired: the user counts the request as failed and moves on; the
    /// mesh goes on with it, and its answer, when it comes, reaches no one.
    pub(super) fn user_gives_up(&mut self, request: u32, serial: u32, s: &mut Scheduler<Event>) {
        if let Some(user) = self.users.get_mut(request, serial) {
            user.give_up = None;
            self.finish_user(request, serial, USER_GAVE_UP, 0, s);
        }
    }

    /// The open-loop rate in force at `t` (per second) and when it next changes.
    pub(super) fn rate_at(&self, t: SimTime) -> (f64, Option<SimTime>) {
        match &self.config.workload.arrivals {
            Arrivals::Poisson { rate } | Arrivals::Constant { rate } => (*rate, None),
            Arrivals::Steps { steps } => {
                let rate = steps.iter().rev().find(|(from, _)| SimTime::ZERO + *from <= t).map_or(0.0, |&(_, r)| r);
                let next = steps.iter().map(|&(from, _)| SimTime::ZERO + from).filter(|&b| b > t).min();
                (rate, next)
            }
            Arrivals::Users { .. } => (0.0, None),
        }
    }

    /// Schedules the next open-loop arrival after `from`. A draw that would cross a change of
    /// rate restarts at the change, which is exact for a piecewise-constant Poisson process.
    pub(super) fn schedule_arrival(&mut self, mut from: SimTime, s: &mut Scheduler<Event>) {
        loop {
            let (rate, change) = self.rate_at(from);
            if rate > 0.0 {
                let gap = match self.config.workload.arrivals {
                    Arrivals::Constant { .. } => 1.0 / rate,
                    _ => -(1.0 - self.streams.arrivals.random::<f64>()).ln() / rate,
                };
                // A rate so low that the next arrival lies past the end of simulated time: none.
                let Some(at) = from.checked_add(SimDuration::from_secs_f64(gap)) else { return };
                match change {
                    Some(boundary) if at > boundary => from = boundary,
                    _ => {
                        s.schedule_at(at, Event::Arrival);
                        return;
                    }
                }
            } else {
                match change {
                    Some(boundary) => from = boundary,
                    None => return,
                }
            }
        }
    }
}
