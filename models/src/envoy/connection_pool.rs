//! One client proxy's HTTP/1.1 connections to one upstream host.
//!
//! Follows the HTTP/1.1 pool (`source/common/http/http1/conn_pool.cc`, `conn_pool_base.cc`) as
//! far as failover timing needs it: a request reuses an idle connection if there is one, else a
//! new connection is opened (paying TCP and mTLS handshakes) if the cluster's max_connections
//! allows, else it waits for a connection to free up. A connection that has carried
//! `max_requests_per_connection` requests is closed when its last request ends, so with the value
//! 1 (the seed document's DestinationRule) every request pays a new handshake. Sidecar-to-sidecar
//! traffic stays HTTP/1.1 unless h2 upgrade is configured (spec §7), so one request per
//! connection at a time.

/// How a request gets a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionGrant {
    /// An idle pooled connection that has already carried `carried` requests: no handshake.
    Reused {
        /// Requests the connection carried before this one.
        carried: u32,
    },
    /// A new connection must be opened first: handshakes, and a connect timeout if the host
    /// does not answer.
    Open,
}

/// The pooled connections of one client proxy to one host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPool {
    /// Idle connections, each with the requests it has carried; the most recently idled on top.
    idle: Vec<u32>,
    busy: u32,
}

impl HostPool {
    /// A request wants a connection; `may_open` says whether max_connections allows a new one.
    /// `None`: it must wait as pending.
    pub fn acquire(&mut self, may_open: bool) -> Option<ConnectionGrant> {
        if let Some(carried) = self.idle.pop() {
            self.busy += 1;
            Some(ConnectionGrant::Reused { carried })
        } else if may_open {
            self.busy += 1;
            Some(ConnectionGrant::Open)
        } else {
            None
        }
    }

    /// A request ended on a busy connection that has now carried `carried` requests. The
    /// connection closes if it `failed` or reached `max_requests_per_connection` (`None`:
    /// unlimited), else it goes back to the pool. Returns whether it closed.
    pub fn release(&mut self, carried: u32, max_requests_per_connection: Option<u32>, failed: bool) -> bool {
        self.busy = self.busy.checked_sub(1).expect("released a connection that was not busy");
        let spent = failed || max_requests_per_connection.is_some_and(|max| carried >= max);
        if !spent {
            self.idle.push(carried);
        }
        spent
    }

    /// Drops every idle connection (the host left the endpoint set, or an ejection drained its
    /// pool). Returns how many closed.
    pub fn close_idle(&mut self) -> u32 {
        let closed = self.idle.len() as u32;
        self.idle.clear();
        closed
    }

    /// Connections open to the host, busy or idle.
    pub fn open(&self) -> u32 {
        self.idle.len() as u32 + self.busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_connections_are_reused_until_spent() {
        let mut pool = HostPool::default();
        assert_eq!(pool.acquire(true), Some(ConnectionGrant::Open));
        assert!(!pool.release(1, Some(2), false));
        assert_eq!(pool.acquire(false), Some(ConnectionGrant::Reused { carried: 1 }));
        assert_eq!(pool.acquire(false), None, "no idle connection and no room for a new one");
        assert!(pool.release(2, Some(2), false), "the second request spends a 2-request connection");
        assert_eq!(pool.open(), 0);
        pool.acquire(true);
        assert!(pool.release(1, None, true), "a failed connection closes");
    }

    #[test]
    fn one_request_per_connection_always_opens() {
        let mut pool = HostPool::default();
        for _ in 0..3 {
            assert_eq!(pool.acquire(true), Some(ConnectionGrant::Open));
            assert!(pool.release(1, Some(1), false));
        }
        pool.acquire(true);
        pool.release(1, None, false);
        assert_eq!(pool.close_idle(), 1);
    }
}
