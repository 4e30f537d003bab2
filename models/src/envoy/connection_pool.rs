//! One worker's HTTP/1.1 connections to one upstream host, and the requests waiting for one.
//!
//! Follows `source/common/conn_pool/conn_pool_base.cc` and `source/common/http/http1/conn_pool.cc`
//! (sidecar-to-sidecar traffic stays HTTP/1.1 unless h2 upgrade is configured, spec §7, so one
//! request per connection at a time). Each worker has its own pool per host. A request takes an
//! idle ready connection if there is one (`attachStreamToClient`); otherwise it waits as a
//! pending stream, and the pool opens connections while it has fewer connecting than waiting
//! (`tryCreateNewConnections`), as the cluster's `max_connections` allows — a pool with no
//! connection at all may always open one. A connection that comes up serves the first waiting
//! stream, whichever opened it (`onUpstreamReady`); one that fails to connect fails every
//! stream waiting in the pool at once (`purgePendingStreams`). A connection that has carried
//! `max_requests_per_connection` requests closes when its request ends; otherwise it serves the
//! next waiting stream or goes idle. Draining (an outlier ejection, `drainAllConnPoolsWorker`)
//! closes idle connections, and connecting ones if nothing waits, and closes busy ones when their
//! request ends, so the host's next requests pay new handshakes.

use smallvec::SmallVec;

use super::per_host::Packable;

/// The router's handle of a stream waiting in a pool (opaque to the pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingStream(pub u32, pub u32);

/// What became of a connection when its request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    /// It closed (failed, spent, or draining).
    Closed,
    /// It now carries this waiting stream, having carried `carried` requests before.
    Reused(PendingStream, u32),
    /// It waits, idle, for the next request.
    Idle,
}

/// The pooled connections of one worker of a client proxy to one host. A pool rarely holds more
/// than two connections or waiting streams, so they live inline in one buffer, in 48 bytes
/// without an allocation; a large cluster keeps the pools left with one idle connection (hundreds
/// of thousands in a large mesh) packed as one number ([`Packable`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPool {
    /// Three runs, one after the other: the idle ready connections, each as the requests it has
    /// carried (the most recently idled last); the ids of the connections being established;
    /// the streams waiting for a connection, oldest first, two numbers each.
    slots: SmallVec<[u32; 6]>,
    /// Length of the idle run.
    idle: u32,
    /// Length of the connecting run.
    connecting: u32,
    /// Connections carrying a request.
    busy: u32,
    /// Of the busy connections, how many close when their request ends (drained).
    draining: u32,
}

impl HostPool {
    /// Where the connecting run starts and the waiting run starts.
    fn runs(&self) -> (usize, usize) {
        let idle = self.idle as usize;
        (idle, idle + self.connecting as usize)
    }

    /// How many streams wait.
    fn waiting_len(&self) -> usize {
        (self.slots.len() - self.runs().1) / 2
    }

    /// A connection that has carried `carried` requests goes idle, the most recent.
    fn push_idle(&mut self, carried: u32) {
        // Usually nothing is connecting or waiting: the idle run is the whole buffer.
        if self.idle as usize == self.slots.len() {
            self.slots.push(carried);
        } else {
            self.slots.insert(self.idle as usize, carried);
        }
        self.idle += 1;
    }

    /// Takes connection `id` out of the connecting run; `false` if it is not there.
    fn stop_connecting(&mut self, id: u32) -> bool {
        let (start, end) = self.runs();
        match self.slots[start..end].iter().position(|&c| c == id) {
            Some(i) => {
                self.slots.remove(start + i);
                self.connecting -= 1;
                true
            }
            None => false,
        }
    }

    /// Every waiting stream, in waiting order, no longer waiting.
    fn take_all_waiting(&mut self) -> Vec<PendingStream> {
        let start = self.runs().1;
        let streams = self.slots[start..].chunks_exact(2).map(|pair| PendingStream(pair[0], pair[1])).collect();
        self.slots.truncate(start);
        streams
    }

    /// An idle ready connection for a new request: the requests it carried so far. The
    /// connection is busy from now on.
    pub fn take_idle(&mut self) -> Option<u32> {
        let last = self.idle.checked_sub(1)?;
        let carried = if self.idle as usize == self.slots.len() {
            self.slots.pop().expect("the idle run is not empty")
        } else {
            self.slots.remove(last as usize)
        };
        self.idle = last;
        self.busy += 1;
        Some(carried)
    }

    /// Gives back a connection just taken (`take_idle`, `connected`, `release`) when the
    /// request could not use it (over `max_requests`): it is idle again.
    pub fn put_back(&mut self, carried: u32) {
        self.busy = self.busy.checked_sub(1).expect("put back a connection that was not busy");
        self.push_idle(carried);
    }

    /// A stream starts waiting for a connection.
    pub fn wait(&mut self, stream: PendingStream) {
        self.slots.extend([stream.0, stream.1]);
    }

    /// A waiting stream gives up (its timeout, or the call ended); `false` if it was not waiting.
    pub fn stop_waiting(&mut self, stream: PendingStream) -> bool {
        let start = self.runs().1;
        match self.slots[start..].chunks_exact(2).position(|pair| pair == [stream.0, stream.1]) {
            Some(i) => {
                let at = start + 2 * i;
                self.slots.drain(at..at + 2);
                true
            }
            None => false,
        }
    }

    /// How many more connections the waiting streams call for.
    pub fn connections_wanted(&self) -> usize {
        self.waiting_len().saturating_sub(self.connecting as usize)
    }

    /// Whether the pool has no connection at all, ready or not: it may then open one whatever
    /// the cluster's `max_connections` says.
    pub fn is_unconnected(&self) -> bool {
        self.idle == 0 && self.busy == 0 && self.connecting == 0
    }

    /// Connection `id` is being established.
    pub fn start_connecting(&mut self, id: u32) {
        self.slots.insert(self.runs().1, id);
        self.connecting += 1;
    }

    /// Connection `id` came up. `None`: the pool no longer knows it (closed by a drain);
    /// `Some(Some(stream))`: it now carries the first waiting stream; `Some(None)`: it is idle.
    pub fn connected(&mut self, id: u32) -> Option<Option<PendingStream>> {
        if !self.stop_connecting(id) {
            return None;
        }
        Some(match self.take_oldest_waiting() {
            Some(stream) => {
                self.busy += 1;
                Some(stream)
            }
            None => {
                self.push_idle(0);
                None
            }
        })
    }

    /// The oldest waiting stream, no longer waiting.
    fn take_oldest_waiting(&mut self) -> Option<PendingStream> {
        let start = self.runs().1;
        let stream = match self.slots.get(start..start + 2)? {
            &[index, generation] => PendingStream(index, generation),
            _ => unreachable!("a waiting stream takes two numbers"),
        };
        self.slots.drain(start..start + 2);
        Some(stream)
    }

    /// Connection `id` failed to connect: every waiting stream fails with it (in waiting order).
    /// `None`: the pool no longer knows the connection.
    pub fn connect_failed(&mut self, id: u32) -> Option<Vec<PendingStream>> {
        self.stop_connecting(id).then(|| self.take_all_waiting())
    }

    /// A request ended on a busy connection that has now carried `carried` requests. The
    /// connection closes if it `failed`, reached `max_requests_per_connection` (`None`:
    /// unlimited) or is draining; otherwise it takes the next waiting stream or goes idle.
    pub fn release(&mut self, carried: u32, max_requests_per_connection: Option<u32>, failed: bool) -> Released {
        self.busy = self.busy.checked_sub(1).expect("released a connection that was not busy");
        let draining = self.draining > 0;
        if draining {
            self.draining -= 1;
        }
        if failed || draining || max_requests_per_connection.is_some_and(|max| carried >= max) {
            return Released::Closed;
        }
        match self.take_oldest_waiting() {
            Some(stream) => {
                self.busy += 1;
                Released::Reused(stream, carried)
            }
            None => {
                self.push_idle(carried);
                Released::Idle
            }
        }
    }

    /// Drains the pool (`drainConnections(DrainExistingConnections)`): idle connections close
    /// now, connecting ones too when no stream waits for them, busy ones when their request
    /// ends. Returns how many closed now.
    pub fn drain(&mut self) -> u32 {
        let mut closed = self.idle;
        let (_, waiting) = self.runs();
        let end = if waiting == self.slots.len() {
            closed += self.connecting;
            self.connecting = 0;
            waiting
        } else {
            self.idle as usize
        };
        self.slots.drain(..end);
        self.idle = 0;
        self.draining = self.busy;
        closed
    }

    /// The host left the cluster: idle and connecting connections close now (returned: how many),
    /// busy ones when their request ends, and the waiting streams are handed back.
    pub fn close(&mut self) -> (u32, Vec<PendingStream>) {
        let closed = self.idle + self.connecting;
        let waiting = self.take_all_waiting();
        self.slots.clear();
        (self.idle, self.connecting) = (0, 0);
        self.draining = self.busy;
        (closed, waiting)
    }
}

impl Packable for HostPool {
    /// A pool holding one idle connection and nothing else packs as the requests that
    /// connection has carried.
    fn pack(&self) -> Option<u32> {
        match self.slots.as_slice() {
            &[carried] if self.idle == 1 && self.busy == 0 && self.draining == 0 => Some(carried),
            _ => None,
        }
    }

    fn unpack(carried: u32) -> Self {
        let mut pool = HostPool::default();
        pool.push_idle(carried);
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections open or opening, busy or idle.
    fn open(pool: &HostPool) -> u32 {
        pool.idle + pool.busy + pool.connecting
    }

    const A: PendingStream = PendingStream(1, 1);
    const B: PendingStream = PendingStream(2, 1);
    const C: PendingStream = PendingStream(3, 1);

    #[test]
    fn a_connection_serves_the_oldest_waiting_stream_then_the_next() {
        let mut pool = HostPool::default();
        assert_eq!(pool.take_idle(), None);
        pool.wait(A);
        pool.wait(B);
        assert_eq!(pool.connections_wanted(), 2);
        pool.start_connecting(10);
        assert_eq!(pool.connections_wanted(), 1);
        // Connection 10 comes up and serves A; when A ends it serves B without a new handshake.
        assert_eq!(pool.connected(10), Some(Some(A)));
        assert_eq!(pool.release(1, None, false), Released::Reused(B, 1));
        assert_eq!(pool.release(2, None, false), Released::Idle);
        assert_eq!(pool.take_idle(), Some(2));
        // A spent connection (max_requests_per_connection 3) closes.
        assert_eq!(pool.release(3, Some(3), false), Released::Closed);
        assert_eq!(open(&pool), 0);
    }

    #[test]
    fn a_failed_connect_fails_every_waiting_stream_at_once() {
        let mut pool = HostPool::default();
        for (stream, id) in [(A, 1), (B, 2), (C, 3)] {
            pool.wait(stream);
            pool.start_connecting(id);
        }
        assert!(pool.stop_waiting(B));
        // The first connection to time out fails A and C, whose own connections are still
        // trying; those then come up to nothing and go idle.
        assert_eq!(pool.connect_failed(1), Some(vec![A, C]));
        assert_eq!(pool.connected(2), Some(None));
        assert_eq!(pool.connect_failed(3), Some(vec![]));
        assert_eq!(pool.connect_failed(1), None, "already gone");
        assert_eq!(open(&pool), 1);
    }

    #[test]
    fn draining_closes_idle_now_and_busy_at_their_end() {
        let mut pool = HostPool::default();
        pool.wait(A);
        pool.start_connecting(1);
        pool.connected(1);
        pool.start_connecting(2);
        pool.connected(2);
        pool.take_idle();
        assert!(!pool.is_unconnected());
        assert_eq!(pool.drain(), 0, "nothing idle, nothing connecting");
        assert_eq!(pool.release(1, None, false), Released::Closed);
        assert_eq!(pool.release(1, None, false), Released::Closed);
        assert!(pool.is_unconnected());
        // After the drain, new connections are normal again.
        pool.wait(B);
        pool.start_connecting(3);
        pool.connected(3);
        assert_eq!(pool.release(1, None, false), Released::Idle);
        assert_eq!(pool.drain(), 1);
    }

    /// The pool as three separate lists, as Envoy keeps them: what the packed buffer must
    /// behave like.
    #[derive(Default)]
    struct Lists {
        idle: Vec<u32>,
        busy: u32,
        draining: u32,
        connecting: Vec<u32>,
        waiting: Vec<PendingStream>,
    }

    impl Lists {
        fn release(&mut self, carried: u32, max: Option<u32>, failed: bool) -> Released {
            self.busy -= 1;
            let draining = self.draining > 0;
            self.draining -= u32::from(draining);
            if failed || draining || max.is_some_and(|m| carried >= m) {
                return Released::Closed;
            }
            if self.waiting.is_empty() {
                self.idle.push(carried);
                Released::Idle
            } else {
                self.busy += 1;
                Released::Reused(self.waiting.remove(0), carried)
            }
        }

        fn stop_connecting(&mut self, id: u32) -> bool {
            let found = self.connecting.iter().position(|&c| c == id);
            found.map(|i| self.connecting.remove(i)).is_some()
        }
    }

    proptest::proptest! {
        #[test]
        fn the_packed_pool_behaves_as_three_lists(ops in proptest::collection::vec((0u8..10, 0u32..6), 1..200)) {
            let (mut pool, mut lists) = (HostPool::default(), Lists::default());
            let mut next = 1;
            for (op, n) in ops {
                match op {
                    0 => {
                        let expected = lists.idle.pop();
                        lists.busy += u32::from(expected.is_some());
                        proptest::prop_assert_eq!(pool.take_idle(), expected);
                    }
                    1 if lists.busy > 0 => {
                        lists.busy -= 1;
                        lists.idle.push(n);
                        pool.put_back(n);
                    }
                    2 => {
                        let stream = PendingStream(next, n);
                        next += 1;
                        lists.waiting.push(stream);
                        pool.wait(stream);
                    }
                    3 => {
                        let stream = lists.waiting.get(n as usize).copied().unwrap_or(PendingStream(0, 0));
                        let expected = lists.waiting.iter().position(|&w| w == stream).map(|i| lists.waiting.remove(i));
                        proptest::prop_assert_eq!(pool.stop_waiting(stream), expected.is_some());
                    }
                    4 => {
                        lists.connecting.push(next);
                        pool.start_connecting(next);
                        next += 1;
                    }
                    5 => {
                        let id = lists.connecting.get(n as usize).copied().unwrap_or(next + 1000);
                        let expected = lists.stop_connecting(id).then(|| {
                            if lists.waiting.is_empty() {
                                lists.idle.push(0);
                                None
                            } else {
                                lists.busy += 1;
                                Some(lists.waiting.remove(0))
                            }
                        });
                        proptest::prop_assert_eq!(pool.connected(id), expected);
                    }
                    6 => {
                        let id = lists.connecting.get(n as usize).copied().unwrap_or(next + 1000);
                        let expected = lists.stop_connecting(id).then(|| std::mem::take(&mut lists.waiting));
                        proptest::prop_assert_eq!(pool.connect_failed(id), expected);
                    }
                    7 if lists.busy > 0 => {
                        let (max, failed) = ([None, Some(1), Some(3)][n as usize % 3], n == 5);
                        proptest::prop_assert_eq!(pool.release(n, max, failed), lists.release(n, max, failed));
                    }
                    8 => {
                        let mut closed = lists.idle.len() as u32;
                        lists.idle.clear();
                        if lists.waiting.is_empty() {
                            closed += lists.connecting.len() as u32;
                            lists.connecting.clear();
                        }
                        lists.draining = lists.busy;
                        proptest::prop_assert_eq!(pool.drain(), closed);
                    }
                    9 => {
                        let closed = (lists.idle.len() + lists.connecting.len()) as u32;
                        lists.idle.clear();
                        lists.connecting.clear();
                        lists.draining = lists.busy;
                        proptest::prop_assert_eq!(pool.close(), (closed, std::mem::take(&mut lists.waiting)));
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(pool.connections_wanted(), lists.waiting.len().saturating_sub(lists.connecting.len()));
                let unconnected = lists.idle.is_empty() && lists.busy == 0 && lists.connecting.is_empty();
                proptest::prop_assert_eq!(pool.is_unconnected(), unconnected);
                proptest::prop_assert_eq!(open(&pool), lists.idle.len() as u32 + lists.busy + lists.connecting.len() as u32);
            }
        }
    }
}
