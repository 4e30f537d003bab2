//! What one proxy's cluster keeps per host and worker: its connection pools, one per host on
//! each worker, as Envoy's `ThreadLocalClusterManagerImpl` keeps them.
//!
//! A small cluster (a few dozen host and worker pairs) keeps every value in a vector indexed by
//! host and worker, made on its first use: a look-up is an index. A large one keeps only the
//! values it uses, as one cell per (host, worker) in a vector sorted by key: a value that packs
//! into the cell (a pool holding one idle connection and nothing else, as a large mesh leaves
//! most of its pools) is kept as that number, any other in a side list the cell points to. The
//! value last looked up is held unpacked until another is, so the several look-ups of one event
//! unpack it once. Values back at their default (a pool whose every connection closed with no
//! stream waiting, as reviews' one-request connections leave it) are dropped each time the
//! vector doubles. So a proxy keeps one cell per host and worker it has used, not a pool for
//! every host of a 1,000-pod deployment: 4 bytes (two 16-bit numbers) for clusters of up to
//! [`NARROW_PAIRS_MAX`] pairs, 8 bytes above.
//!
//! The vector, searched by halving, rather than a hash map: a proxy of a large mesh uses a few
//! dozen of its hosts, which a hash table keeps in buckets for up to twice as many (with their
//! control bytes), and a vector in one cell each (with room for at most as many again).

/// The most (host, worker) pairs a cluster keeps in a vector indexed by pair; above, the sorted
/// cells of the values in use.
const DENSE_PAIRS_MAX: usize = 64;
/// The most (host, worker) pairs a cluster keeps in 16-bit cells: every key fits, and so does
/// a place for every value that could spill (there are never more than pairs).
const NARROW_PAIRS_MAX: usize = (u16::MAX >> 1) as usize;
/// The fewest values a large cluster holds before it looks for default ones to drop.
const MIN_PRUNE_AT: u32 = 8;

/// A value that is, most of the time, one small number: a large cluster keeps it as that number.
pub trait Packable: Clone + Default + PartialEq {
    /// The value as one number, if it can be (numbers too large for a cell are kept spilled).
    fn pack(&self) -> Option<u32>;
    /// The value that `pack` gave `packed` for.
    fn unpack(packed: u32) -> Self;
}

/// The width of a large cluster's keys and cells. A cell at or above [`Word::SPILLED`] (but for
/// [`Word::AT_DEFAULT`]) holds a spilled value's place above it; below it, a packed value.
trait Word: Copy + Ord + Into<u32> {
    /// The first cell that points to a spilled value.
    const SPILLED: u32;
    /// A cell whose value is back at its default, dropped at the next prune.
    const AT_DEFAULT: u32;
    /// `value`, which the caller keeps within the width.
    fn narrowed(value: u32) -> Self;
}

impl Word for u16 {
    const SPILLED: u32 = 1 << 15;
    const AT_DEFAULT: u32 = u16::MAX as u32;
    fn narrowed(value: u32) -> Self {
        debug_assert!(value <= u32::from(u16::MAX));
        value as u16
    }
}

impl Word for u32 {
    const SPILLED: u32 = 1 << 31;
    const AT_DEFAULT: u32 = u32::MAX;
    fn narrowed(value: u32) -> Self {
        value
    }
}

/// The values of a large cluster that do not pack, each where its cell points: nothing
/// until the first (most of a large mesh's clusters never spill one).
#[derive(Clone, Debug, Default)]
struct Spilled<T>(Option<Box<SpilledList<T>>>);

/// The spilled values of one cluster.
#[derive(Clone, Debug, Default)]
struct SpilledList<T> {
    values: Vec<T>,
    /// Places in `values` no cell points to.
    free: Vec<u32>,
}

impl<T: Packable> Spilled<T> {
    /// The list, made on first use.
    fn list(&mut self) -> &mut SpilledList<T> {
        self.0.get_or_insert_default()
    }

    /// Values spilled now.
    #[cfg(test)]
    fn count(&self) -> usize {
        self.0.as_ref().map_or(0, |list| list.values.len() - list.free.len())
    }

    /// The value a cell stands for, taken out of the spilled list if it is there (its place
    /// stays the cell's until the value is put back).
    fn take<W: Word>(&mut self, cell: W) -> T {
        match cell.into() {
            cell if cell == W::AT_DEFAULT => T::default(),
            cell if cell >= W::SPILLED => std::mem::take(&mut self.list().values[(cell - W::SPILLED) as usize]),
            packed => T::unpack(packed),
        }
    }

    /// The value a cell stands for, left where it is.
    #[cfg(test)]
    fn peek<W: Word>(&self, cell: W) -> T {
        match cell.into() {
            cell if cell == W::AT_DEFAULT => T::default(),
            cell if cell >= W::SPILLED => {
                self.0.as_ref().expect("a spilled cell has its list").values[(cell - W::SPILLED) as usize].clone()
            }
            packed => T::unpack(packed),
        }
    }

    /// Puts `value`, taken out for `cell`, back: packed into the cell if it packs (or marked
    /// default), else into the spilled list.
    fn put_back<W: Word>(&mut self, cell: &mut W, value: T) {
        let current: u32 = (*cell).into();
        let spilled_at = (W::SPILLED..W::AT_DEFAULT).contains(&current).then(|| current - W::SPILLED);
        let packed = if value == T::default() { Some(W::AT_DEFAULT) } else { value.pack().filter(|&p| p < W::SPILLED) };
        match (packed, spilled_at) {
            (Some(packed), None) => *cell = W::narrowed(packed),
            (Some(packed), Some(place)) => {
                self.list().free.push(place);
                *cell = W::narrowed(packed);
            }
            (None, Some(place)) => self.list().values[place as usize] = value,
            (None, None) => {
                let list = self.list();
                let place = match list.free.pop() {
                    Some(place) => {
                        list.values[place as usize] = value;
                        place
                    }
                    None => {
                        list.values.push(value);
                        list.values.len() as u32 - 1
                    }
                };
                // No more values spill than there are pairs, which the width was chosen for.
                *cell = W::narrowed(W::SPILLED + place);
            }
        }
    }
}

/// The value last looked up in a large cluster, unpacked.
#[derive(Clone, Debug)]
struct Out<T> {
    key: u32,
    /// Where its cell sits in the vector, so that putting it back needs no search: by then the
    /// cluster may have been idle a while (as most of a large mesh's are), and a search would
    /// wait on lines long gone from the cache where a store does not.
    index: u32,
    value: T,
}

/// The values in use of a large cluster, in cells of width `W`.
#[derive(Clone, Debug)]
struct Sparse<T, W> {
    /// `(key, cell)` per (host, worker) in key order, the key `host * workers + worker`, the
    /// cell a packed value, a spilled one's place above [`Word::SPILLED`], or
    /// [`Word::AT_DEFAULT`]; stale for the value out. Nothing is added or dropped while a value
    /// is out, so its index stays its own.
    cells: Vec<(W, W)>,
    spilled: Spilled<T>,
    out: Option<Out<T>>,
    /// When `cells` reaches this many, the ones at their default are dropped.
    prune_at: u32,
}

impl<T: Packable, W: Word> Sparse<T, W> {
    /// No value in use yet.
    fn new() -> Self {
        Sparse { cells: Vec::new(), spilled: Spilled::default(), out: None, prune_at: MIN_PRUNE_AT }
    }

    /// Puts the value out back into its cell.
    fn put_out_back(&mut self) {
        if let Some(Out { index, value, .. }) = self.out.take() {
            self.spilled.put_back(&mut self.cells[index as usize].1, value);
        }
    }

    /// Where `key`'s cell is, or would be inserted.
    fn search(&self, key: u32) -> Result<usize, usize> {
        self.cells.binary_search_by_key(&key, |&(k, _)| k.into())
    }

    /// The value of `key`, if it was ever used, left where it is.
    #[cfg(test)]
    fn get(&self, key: u32) -> Option<T> {
        match &self.out {
            Some(out) if out.key == key => Some(out.value.clone()),
            _ => self.search(key).ok().map(|i| self.spilled.peek(self.cells[i].1)),
        }
    }

    /// The value of `key`, made the default on first use if `create`; it is out from now on.
    fn take_out(&mut self, key: u32, create: bool) -> Option<&mut T> {
        if self.out.as_ref().is_none_or(|out| out.key != key) {
            self.put_out_back();
            let index = match self.search(key) {
                Ok(index) => index,
                Err(index) if create => {
                    let at_default = W::narrowed(W::AT_DEFAULT);
                    let index = if self.cells.len() >= self.prune_at as usize {
                        self.cells.retain(|&(_, cell)| cell != at_default);
                        self.prune_at = (2 * self.cells.len() as u32).max(MIN_PRUNE_AT);
                        self.cells.partition_point(|&(k, _)| k.into() < key)
                    } else {
                        index
                    };
                    self.cells.insert(index, (W::narrowed(key), at_default));
                    index
                }
                Err(_) => return None,
            };
            self.out = Some(Out { key, index: index as u32, value: self.spilled.take(self.cells[index].1) });
        }
        self.out.as_mut().map(|out| &mut out.value)
    }

    /// Every value that was not the default, as `(key, value)`.
    fn into_values(mut self) -> Vec<(usize, T)> {
        self.put_out_back();
        let Sparse { cells, mut spilled, .. } = self;
        cells.into_iter().map(|(key, cell)| (key.into() as usize, spilled.take(cell))).collect()
    }
}

/// Where the values live.
#[derive(Clone, Debug)]
enum Layout<T> {
    /// Host `h`'s value on worker `w` at `h * workers + w`; empty until the first is used.
    Dense(Vec<T>),
    /// The values in use, packed where they can be, in 16-bit cells.
    Narrow(Sparse<T, u16>),
    /// The same, in 32-bit cells.
    Wide(Sparse<T, u32>),
}

/// A value per host and worker of one cluster on one proxy; absent is the default.
#[derive(Clone, Debug)]
pub struct PerHost<T> {
    hosts: u32,
    workers: u32,
    layout: Layout<T>,
}

impl<T: Packable> PerHost<T> {
    /// Every value at its default, for `hosts` hosts and `workers` workers.
    ///
    /// A (host, worker) pair is named by one `u32`: the scenario limits (50,000 pods, 64
    /// workers) keep every cluster far below that.
    pub fn new(hosts: usize, workers: usize) -> Self {
        let workers = workers.max(1);
        let pairs = hosts * workers;
        let layout = if pairs <= DENSE_PAIRS_MAX {
            Layout::Dense(Vec::new())
        } else if pairs <= NARROW_PAIRS_MAX {
            Layout::Narrow(Sparse::new())
        } else {
            Layout::Wide(Sparse::new())
        };
        // Fewer than 2^31 pairs: so are the hosts and the workers (at least one), and so is
        // every spilled value's place, which a 32-bit cell holds above 2^31.
        assert!(pairs < u32::SPILLED as usize, "{hosts} hosts on {workers} workers are past the model's limits");
        PerHost { hosts: hosts as u32, workers: workers as u32, layout }
    }

    /// The same in 32-bit cells, whatever its size (the tests' way to reach them).
    #[cfg(test)]
    fn wide(hosts: usize, workers: usize) -> Self {
        let map = PerHost::new(hosts, workers);
        assert!(!matches!(map.layout, Layout::Dense(_)), "{hosts} hosts are kept in a vector");
        PerHost { layout: Layout::Wide(Sparse::new()), ..map }
    }

    /// The workers that have values.
    pub fn workers(&self) -> usize {
        self.workers as usize
    }

    /// Where worker `worker`'s value for `host` sits in a vector, and its key among the cells; a
    /// worker beyond the proxy's folds onto one of them, in every look-up alike.
    #[inline]
    fn slot(&self, host: u32, worker: usize) -> usize {
        let workers = self.workers as usize;
        let worker = if worker < workers { worker } else { worker % workers };
        host as usize * workers + worker
    }

    /// Worker `worker`'s value for `host`, made the default on first use.
    #[inline]
    pub fn entry(&mut self, host: u32, worker: usize) -> &mut T {
        let slot = self.slot(host, worker);
        // The value at an index, or already out of the cells (the several look-ups of one
        // event): at hand here, without a call.
        let at_hand = match &self.layout {
            Layout::Dense(values) => !values.is_empty(),
            Layout::Narrow(Sparse { out, .. }) | Layout::Wide(Sparse { out, .. }) => {
                out.as_ref().is_some_and(|out| out.key == slot as u32)
            }
        };
        if at_hand {
            return match &mut self.layout {
                Layout::Dense(values) => &mut values[slot],
                Layout::Narrow(Sparse { out, .. }) | Layout::Wide(Sparse { out, .. }) => {
                    &mut out.as_mut().expect("just found").value
                }
            };
        }
        self.first_entry(slot)
    }

    /// `entry` past the values at hand: makes the vector, or goes through the cells.
    #[inline(never)]
    fn first_entry(&mut self, slot: usize) -> &mut T {
        match &mut self.layout {
            Layout::Dense(values) => {
                if values.is_empty() {
                    values.resize(self.hosts as usize * self.workers as usize, T::default());
                }
                &mut values[slot]
            }
            Layout::Narrow(sparse) => sparse.take_out(slot as u32, true).expect("made on first use"),
            Layout::Wide(sparse) => sparse.take_out(slot as u32, true).expect("made on first use"),
        }
    }

    /// Worker `worker`'s value for `host`, if it was ever used.
    #[inline]
    pub fn existing(&mut self, host: u32, worker: usize) -> Option<&mut T> {
        let slot = self.slot(host, worker);
        match &mut self.layout {
            Layout::Dense(values) => values.get_mut(slot),
            Layout::Narrow(sparse) => sparse.take_out(slot as u32, false),
            Layout::Wide(sparse) => sparse.take_out(slot as u32, false),
        }
    }

    /// Worker `worker`'s value for `host`, if it was ever used, left where it is (the tests'
    /// look at a value without taking it out).
    #[cfg(test)]
    pub fn get(&self, host: u32, worker: usize) -> Option<T> {
        let slot = self.slot(host, worker);
        match &self.layout {
            Layout::Dense(values) => values.get(slot).cloned(),
            Layout::Narrow(sparse) => sparse.get(slot as u32),
            Layout::Wide(sparse) => sparse.get(slot as u32),
        }
    }

    /// Empties the map for a new layout of `hosts` hosts, returning every value that was not
    /// the default as `(host, worker, value)`, by host then worker.
    pub fn take_for(&mut self, hosts: usize) -> Vec<(u32, usize, T)> {
        let old = std::mem::replace(self, PerHost::new(hosts, self.workers()));
        let workers = old.workers();
        let mut in_use: Vec<(usize, T)> = match old.layout {
            Layout::Dense(values) => values.into_iter().enumerate().collect(),
            Layout::Narrow(sparse) => sparse.into_values(),
            Layout::Wide(sparse) => sparse.into_values(),
        };
        in_use.retain(|(_, value)| *value != T::default());
        in_use.sort_unstable_by_key(|&(slot, _)| slot);
        in_use.into_iter().map(|(slot, value)| ((slot / workers) as u32, slot % workers, value)).collect()
    }

    /// Values held, default ones not yet dropped included, and how many of them are spilled
    /// (the value out counted where it was).
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        match &self.layout {
            Layout::Dense(values) => (values.len(), 0),
            Layout::Narrow(sparse) => (sparse.cells.len(), sparse.spilled.count()),
            Layout::Wide(sparse) => (sparse.cells.len(), sparse.spilled.count()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::connection_pool::{HostPool, PendingStream, Released};

    /// Uses `host`'s pool on `worker` for one request on a one-request connection.
    fn one_request(map: &mut PerHost<HostPool>, host: u32, worker: usize) {
        let pool = map.entry(host, worker);
        pool.wait(PendingStream(host, 0));
        pool.start_connecting(host);
        pool.connected(host);
        assert_eq!(pool.release(1, Some(1), false), Released::Closed);
    }

    #[test]
    fn a_large_cluster_drops_pools_emptied_by_one_request_connections() {
        // A proxy that has sent once to each of 200 hosts keeps pools only for a few of them.
        let mut map: PerHost<HostPool> = PerHost::new(200, 2);
        for host in 0..200 {
            one_request(&mut map, host, (host % 2) as usize);
        }
        assert!(map.held().0 <= 2 * MIN_PRUNE_AT as usize, "{:?} pools kept", map.held());
        // A dropped pool is a new empty one when next used.
        assert_eq!(map.entry(0, 0).take_idle(), None);
    }

    #[test]
    fn a_large_cluster_keeps_pools_left_with_one_idle_connection_packed() {
        let mut map: PerHost<HostPool> = PerHost::new(1001, 2);
        for host in 0..200 {
            let pool = map.entry(host, 1);
            pool.wait(PendingStream(host, 0));
            pool.start_connecting(host);
            assert_eq!(pool.connected(host), Some(Some(PendingStream(host, 0))));
            // Waiting, connecting and busy pools do not pack: once another pool is looked up,
            // this one spills while in that state.
            map.entry(1000, 0);
            assert_eq!(map.held().1, 1, "host {host}");
            assert_eq!(map.entry(host, 1).release(host + 1, None, false), Released::Idle);
        }
        map.entry(1000, 0);
        assert_eq!(map.held(), (201, 0), "every pool packed, none spilled");
        // Unpacked, a pool gives back its idle connection with the requests it carried.
        assert_eq!(map.entry(7, 1).take_idle(), Some(8));
        assert_eq!(map.get(7, 1).map(|pool| pool.is_unconnected()), Some(false), "busy");
    }

    /// One step on a pool with `busy` busy connections, as the router takes them: 0 a stream
    /// waits, 1 a connection starts, 2 it comes up, 3 it fails to, 4 a busy connection's
    /// request ends, 5 an idle connection is taken, 6 the pool drains. Returns the busy
    /// connections after it.
    fn step(pool: &mut HostPool, op: u8, n: u32, busy: u32) -> u32 {
        match op {
            0 => pool.wait(PendingStream(n, 0)),
            1 => pool.start_connecting(n),
            2 => return busy + u32::from(matches!(pool.connected(n), Some(Some(_)))),
            3 => drop(pool.connect_failed(n)),
            4 if busy > 0 => {
                let released = pool.release(n, [None, Some(2)][n as usize % 2], n == 3);
                return busy - u32::from(!matches!(released, Released::Reused(..)));
            }
            5 => return busy + u32::from(pool.take_idle().is_some()),
            6 => drop(pool.drain()),
            _ => {}
        }
        busy
    }

    proptest::proptest! {
        #[test]
        fn every_layout_keeps_what_a_map_of_pools_keeps(
            (hosts, wide) in proptest::sample::select(vec![(4usize, false), (100, false), (100, true)]),
            ops in proptest::collection::vec((0u32..6, 0usize..3, 0u8..7, 0u32..4), 1..300),
        ) {
            let mut map: PerHost<HostPool> = if wide { PerHost::wide(hosts, 2) } else { PerHost::new(hosts, 2) };
            let mut reference = std::collections::BTreeMap::new();
            let mut busy = std::collections::BTreeMap::new();
            for (host, worker, op, n) in ops {
                let (host, folded) = (host % hosts as u32, worker % 2);
                let before = busy.get(&(host, folded)).copied().unwrap_or(0);
                let after = step(map.entry(host, worker), op, n, before);
                let pool = reference.entry((host, folded)).or_insert_with(HostPool::default);
                proptest::prop_assert_eq!(step(pool, op, n, before), after);
                busy.insert((host, folded), after);
                proptest::prop_assert_eq!(map.get(host, worker).unwrap_or_default(), pool.clone());
            }
            let expected: Vec<(u32, usize, HostPool)> = reference
                .into_iter()
                .filter(|(_, pool)| *pool != HostPool::default())
                .map(|((host, worker), pool)| (host, worker, pool))
                .collect();
            proptest::prop_assert_eq!(map.take_for(hosts), expected);
        }
    }

    #[test]
    fn cells_are_16_bits_while_every_pair_and_spilled_place_fits() {
        assert!(matches!(PerHost::<HostPool>::new(16_383, 2).layout, Layout::Narrow(_)));
        assert!(matches!(PerHost::<HostPool>::new(16_384, 2).layout, Layout::Wide(_)));
        // A number too large for a 16-bit cell spills.
        for (mut map, spilled) in [(PerHost::<Number>::new(100, 2), 1), (PerHost::wide(100, 2), 0)] {
            map.entry(5, 0).0 = 1 << 15;
            map.entry(6, 0).0 = (1 << 15) - 1;
            map.entry(7, 0);
            assert_eq!(map.held(), (3, spilled));
            assert_eq!(map.get(5, 0), Some(Number(1 << 15)));
            assert_eq!(map.get(6, 0), Some(Number((1 << 15) - 1)));
        }
    }

    /// A value that packs as itself.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Number(u32);

    impl Packable for Number {
        fn pack(&self) -> Option<u32> {
            Some(self.0)
        }

        fn unpack(packed: u32) -> Self {
            Number(packed)
        }
    }

    #[test]
    fn pools_in_use_come_back_by_host_then_worker_in_every_layout() {
        for (hosts, wide) in [(4, false), (100, false), (100, true)] {
            let mut map: PerHost<HostPool> = if wide { PerHost::wide(hosts, 2) } else { PerHost::new(hosts, 2) };
            for (host, worker) in [(3, 1), (1, 0), (3, 0), (2, 1)] {
                map.entry(host, worker).wait(PendingStream(host, worker as u32));
            }
            one_request(&mut map, 0, 0);
            let taken: Vec<(u32, usize)> = map.take_for(hosts).iter().map(|&(h, w, _)| (h, w)).collect();
            assert_eq!(taken, [(1, 0), (2, 1), (3, 0), (3, 1)], "{hosts} hosts");
            assert_eq!(map.held(), (0, 0));
        }
    }

    #[test]
    fn a_worker_beyond_the_proxys_folds_onto_one_of_them() {
        let mut map: PerHost<HostPool> = PerHost::new(4, 2);
        map.entry(1, 3).wait(PendingStream(7, 0));
        assert_eq!(map.existing(1, 1).map(|pool| pool.connections_wanted()), Some(1));
        // Every look-up folds alike: worker 3 never reaches host 2's pools.
        assert_eq!(map.get(1, 3).map(|pool| pool.connections_wanted()), Some(1));
        assert_eq!(map.existing(1, 3).map(|pool| pool.connections_wanted()), Some(1));
        assert_eq!(map.get(2, 1).map(|pool| pool.connections_wanted()), Some(0));
    }
}
