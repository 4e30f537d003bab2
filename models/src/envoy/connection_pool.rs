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
/// than two connections or waiting streams, so they live inline: a proxy keeps a pool for every
/// host it has connections to (hundreds of thousands in a large mesh), without an allocation
/// each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPool {
    /// Idle ready connections, each with the requests it has carried; the most recently idled
    /// on top.
    idle: SmallVec<[u32; 2]>,
    /// Connections carrying a request.
    busy: u32,
    /// Of the busy connections, how many close when their request ends (drained).
    draining: u32,
    /// Connections being established, by their caller-given id.
    connecting: SmallVec<[u32; 2]>,
    /// Streams waiting for a connection, oldest first.
    waiting: SmallVec<[PendingStream; 1]>,
}

impl HostPool {
    /// An idle ready connection for a new request: the requests it carried so far. The
    /// connection is busy from now on.
    pub fn take_idle(&mut self) -> Option<u32> {
        let carried = self.idle.pop()?;
        self.busy += 1;
        Some(carried)
    }

    /// Gives back a connection just taken (`take_idle`, `connected`, `release`) when the
    /// request could not use it (over `max_requests`): it is idle again.
    pub fn put_back(&mut self, carried: u32) {
        self.busy = self.busy.checked_sub(1).expect("put back a connection that was not busy");
        self.idle.push(carried);
    }

    /// A stream starts waiting for a connection.
    pub fn wait(&mut self, stream: PendingStream) {
        self.waiting.push(stream);
    }

    /// A waiting stream gives up (its timeout, or the call ended); `false` if it was not waiting.
    pub fn stop_waiting(&mut self, stream: PendingStream) -> bool {
        match self.waiting.iter().position(|&s| s == stream) {
            Some(i) => {
                self.waiting.remove(i);
                true
            }
            None => false,
        }
    }

    /// How many more connections the waiting streams call for.
    pub fn connections_wanted(&self) -> usize {
        self.waiting.len().saturating_sub(self.connecting.len())
    }

    /// Whether the pool has no connection at all, ready or not: it may then open one whatever
    /// the cluster's `max_connections` says.
    pub fn is_unconnected(&self) -> bool {
        self.idle.is_empty() && self.busy == 0 && self.connecting.is_empty()
    }

    /// Connection `id` is being established.
    pub fn start_connecting(&mut self, id: u32) {
        self.connecting.push(id);
    }

    /// Connection `id` came up. `None`: the pool no longer knows it (closed by a drain);
    /// `Some(Some(stream))`: it now carries the first waiting stream; `Some(None)`: it is idle.
    pub fn connected(&mut self, id: u32) -> Option<Option<PendingStream>> {
        let i = self.connecting.iter().position(|&c| c == id)?;
        self.connecting.swap_remove(i);
        Some(match self.take_oldest_waiting() {
            Some(stream) => {
                self.busy += 1;
                Some(stream)
            }
            None => {
                self.idle.push(0);
                None
            }
        })
    }

    /// The oldest waiting stream, no longer waiting.
    fn take_oldest_waiting(&mut self) -> Option<PendingStream> {
        (!self.waiting.is_empty()).then(|| self.waiting.remove(0))
    }

    /// Connection `id` failed to connect: every waiting stream fails with it (in waiting order).
    /// `None`: the pool no longer knows the connection.
    pub fn connect_failed(&mut self, id: u32) -> Option<Vec<PendingStream>> {
        let i = self.connecting.iter().position(|&c| c == id)?;
        self.connecting.swap_remove(i);
        Some(self.waiting.drain(..).collect())
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
                self.idle.push(carried);
                Released::Idle
            }
        }
    }

    /// Drains the pool (`drainConnections(DrainExistingConnections)`): idle connections close
    /// now, connecting ones too when no stream waits for them, busy ones when their request
    /// ends. Returns how many closed now.
    pub fn drain(&mut self) -> u32 {
        let mut closed = self.idle.len() as u32;
        self.idle.clear();
        if self.waiting.is_empty() {
            closed += self.connecting.len() as u32;
            self.connecting.clear();
        }
        self.draining = self.busy;
        closed
    }

    /// The host left the cluster: idle and connecting connections close now (returned: how many),
    /// busy ones when their request ends, and the waiting streams are handed back.
    pub fn close(&mut self) -> (u32, Vec<PendingStream>) {
        let closed = (self.idle.len() + self.connecting.len()) as u32;
        self.idle.clear();
        self.connecting.clear();
        self.draining = self.busy;
        (closed, self.waiting.drain(..).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections open or opening, busy or idle.
    fn open(pool: &HostPool) -> u32 {
        pool.idle.len() as u32 + pool.busy + pool.connecting.len() as u32
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
}
