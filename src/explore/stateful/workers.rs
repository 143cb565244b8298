//! What the workers of one stateful search share: the states explored,
//! sharded by fingerprint, and the branches a busy worker hands to an idle
//! one.
//!
//! A worker runs the same depth-first search as one alone. When another
//! worker is idle, it splits its path at the shallowest state with a branch
//! left and hands that branch over (the largest piece of work it has, as
//! work-stealing DFS does); the taker replays the path to that state and
//! explores the branch as its own. A state reached by two workers is
//! explored by whichever inserts it first; the other stops there, as it
//! would at a state it explored itself (the state graph is acyclic, so the
//! first worker finishes that state's subtree, or the search ends
//! `incomplete`).

use super::Node;
use crate::runtime::Fingerprint;
use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// A map from a state's fingerprint, in shards each behind its own lock.
pub(super) struct Sharded<V> {
    shards: Box<[Mutex<HashMap<Fingerprint, V>>]>,
    len: AtomicUsize,
}

impl<V> Sharded<V> {
    /// One shard for one worker (no contention to spread), many for several.
    pub(super) fn new(workers: usize) -> Self {
        let shards = if workers <= 1 { 1 } else { 64 * workers.next_power_of_two() };
        Sharded { shards: (0..shards).map(|_| Mutex::default()).collect(), len: AtomicUsize::new(0) }
    }

    /// Entries so far.
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Runs `f` on the shard that holds `key`, under its lock.
    pub(super) fn with<R>(&self, key: &Fingerprint, f: impl FnOnce(&mut HashMap<Fingerprint, V>) -> R) -> R {
        let shard = if self.shards.len() == 1 {
            0
        } else {
            // The fingerprint is a digest already: its own low bits spread as
            // well as a hash of it would, and cost nothing.
            (key.0 as usize) & (self.shards.len() - 1)
        };
        let mut map = lock(&self.shards[shard]);
        let before = map.len();
        let result = f(&mut map);
        // Only on a change: a read-modify-write on every visit would pull
        // the counter's cache line from core to core for nothing.
        if map.len() != before {
            self.len.fetch_add(map.len() - before, Ordering::Relaxed);
        }
        result
    }
}

/// A lock whose holder panicked still guards consistent data here (every
/// update under these locks is a single map or vector operation).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The branches waiting for a worker, and who is idle.
pub(super) struct Pool {
    state: Mutex<Waiting>,
    wake: Condvar,
    /// Idle workers minus branches waiting: above zero, a busy worker
    /// should split its path (read without the lock, on every execution).
    hungry: AtomicIsize,
}

struct Waiting {
    branches: Vec<Vec<Node>>,
    idle: usize,
    workers: usize,
    /// Every worker is idle with nothing waiting, or the search was stopped.
    done: bool,
}

impl Pool {
    pub(super) fn new(workers: usize) -> Self {
        let waiting = Waiting { branches: Vec::new(), idle: 0, workers, done: false };
        Pool { state: Mutex::new(waiting), wake: Condvar::new(), hungry: AtomicIsize::new(0) }
    }

    pub(super) fn hungry(&self) -> bool {
        self.hungry.load(Ordering::Relaxed) > 0
    }

    fn count(&self, w: &Waiting) {
        self.hungry.store(w.idle as isize - w.branches.len() as isize, Ordering::Relaxed);
    }

    /// A path whose last node's choice is a branch to explore.
    pub(super) fn give(&self, branch: Vec<Node>) {
        let mut w = lock(&self.state);
        w.branches.push(branch);
        self.count(&w);
        self.wake.notify_one();
    }

    /// The next branch to explore; `None` when the search is over: every
    /// worker is idle with no branch waiting, or it was stopped.
    pub(super) fn take(&self) -> Option<Vec<Node>> {
        let mut w = lock(&self.state);
        w.idle += 1;
        loop {
            if w.done {
                self.count(&w);
                return None;
            }
            if let Some(branch) = w.branches.pop() {
                w.idle -= 1;
                self.count(&w);
                return Some(branch);
            }
            if w.idle == w.workers {
                w.done = true;
                self.count(&w);
                self.wake.notify_all();
                return None;
            }
            self.count(&w);
            w = self.wake.wait(w).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Ends the search now: every waiting worker returns.
    pub(super) fn stop(&self) {
        let mut w = lock(&self.state);
        w.done = true;
        w.branches.clear();
        self.count(&w);
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (a few seconds at most: a broken pool fails here, not hangs)
    /// until a worker is idle with nothing waiting for it.
    fn until_hungry(pool: &Pool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !pool.hungry() {
            assert!(std::time::Instant::now() < deadline, "no worker became idle");
            std::thread::yield_now();
        }
    }

    fn branch(n: u128) -> Vec<Node> {
        let node = Node {
            fingerprint: Fingerprint(n),
            waiting: vec![0],
            identities: vec![Fingerprint(0)],
            chosen: 0,
            ran: None,
            todo: Vec::new(),
            done: Vec::new(),
            sleep: Vec::new(),
            kept: None,
        };
        vec![node]
    }

    #[test]
    fn a_branch_given_reaches_an_idle_worker_and_the_pool_ends_when_all_are_idle() {
        let pool = Pool::new(2);
        assert!(!pool.hungry(), "nobody is idle yet");
        std::thread::scope(|scope| {
            let idle = scope.spawn(|| {
                let first = pool.take().map(|b| b[0].fingerprint);
                // The other worker is busy until it takes too: this waits.
                let second = pool.take().map(|b| b[0].fingerprint);
                (first, second)
            });
            until_hungry(&pool);
            pool.give(branch(7));
            // The other takes it and comes back idle; then this worker runs out
            // of work too: with nothing waiting and both idle, the search is
            // over for both.
            until_hungry(&pool);
            assert_eq!(pool.take().map(|b| b.len()), None);
            assert_eq!(idle.join().unwrap(), (Some(Fingerprint(7)), None));
        });
    }

    #[test]
    fn hungry_counts_the_idle_workers_against_the_branches_waiting() {
        let pool = Pool::new(3);
        pool.give(branch(1));
        assert!(!pool.hungry(), "a branch waits and nobody is idle");
        assert!(pool.take().is_some());
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| pool.take().map(|b| b[0].fingerprint));
            until_hungry(&pool);
            pool.give(branch(2));
            assert_eq!(waiter.join().unwrap(), Some(Fingerprint(2)));
        });
        assert!(!pool.hungry());
        // Stopped: every taker returns at once, a branch waiting or not.
        pool.give(branch(3));
        pool.stop();
        assert!(pool.take().is_none());
    }

    #[test]
    fn states_spread_over_the_shards_and_are_counted_once() {
        let sharded: Sharded<()> = Sharded::new(2);
        // Fingerprints are digests: spread like random numbers.
        let mut key = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834u128;
        for _ in 0..4096 {
            key = key.wrapping_mul(0x2545_F491_4F6C_DD1D_0000_0000_0000_0001).wrapping_add(1);
            sharded.with(&Fingerprint(key), |m| m.insert(Fingerprint(key), ()));
            sharded.with(&Fingerprint(key), |m| assert!(m.contains_key(&Fingerprint(key))));
        }
        assert_eq!(sharded.len(), 4096);
        let used = sharded.shards.iter().filter(|s| !lock(s).is_empty()).count();
        assert!(used * 4 >= sharded.shards.len() * 3, "{used} of {} shards used", sharded.shards.len());
    }
}
