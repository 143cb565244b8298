//! The origins' in-process FIFO mutex (`GitMutex`, `AsyncMutex`).
//!
//! `acquire()` takes a free lock synchronously, otherwise joins a queue;
//! `release()` hands the lock directly to the first waiter (no barging).
//! Acquisition is split in two because a fire-and-forget call queues
//! synchronously in its caller and waits later in its own task.

use super::{CellKind, Cx, Semantics, Shared, StateHash};
use crate::history::Effect;
use crate::platform::Platform;
use std::collections::VecDeque;
use std::sync::Arc;

/// A place in a FIFO mutex's queue (or the lock itself, if it was free).
#[must_use = "a ticket must be acquired, or the queue behind it stalls"]
pub struct Ticket {
    id: u64,
    /// The lock was free and taken synchronously.
    took: bool,
}

/// What a task holding a ticket knows of it (what a spawned task is handed).
impl StateHash for Ticket {
    fn state_hash(&self, h: &mut super::StateHasher) {
        self.id.state_hash(h);
        self.took.state_hash(h);
    }
}

struct State<P: Platform> {
    holder: Option<u64>,
    queue: VecDeque<(u64, Arc<P::Condvar>)>,
}

impl<P: Platform> State<P> {
    /// The smallest ticket not held or queued. Tickets are reused once
    /// released, so a ticket says who is ahead of whom, not how many took
    /// the lock before: two orders of the same critical sections leave the
    /// same lock, and the same tickets in their callers.
    fn free_ticket(&self) -> u64 {
        (0..).find(|t| self.holder != Some(*t) && self.queue.iter().all(|(q, _)| q != t)).expect("a free ticket")
    }
}

/// The queue by tickets: each waiter's condition variable is found from its
/// ticket (its address is not the same from one execution to the next).
impl<P: Platform> StateHash for State<P> {
    fn state_hash(&self, h: &mut super::StateHasher) {
        self.holder.state_hash(h);
        let tickets: Vec<u64> = self.queue.iter().map(|(t, _)| *t).collect();
        tickets.state_hash(h);
    }
}

/// A waiter's condition variable, if its ticket is still queued. The task
/// learns only whether it must wait: the queue moves on (a hand-off takes
/// the ticket out of it), so that is not in any later state but the task's
/// own, and a task that waited and was handed the lock must not look like
/// one that found it handed over before it asked (the determinism check
/// caught that when the woken check stopped being an access).
struct Waiter<C>(Option<Arc<C>>);

impl<C> StateHash for Waiter<C> {
    fn state_hash(&self, h: &mut super::StateHasher) {
        self.0.is_some().state_hash(h);
    }
}

pub struct FifoMutex<P: Platform> {
    name: Arc<str>,
    state: Shared<P, State<P>>,
}

impl<P: Platform> FifoMutex<P> {
    pub fn new(rt: &super::Runtime<P>, name: &str) -> Self {
        let state = State { holder: None, queue: VecDeque::new() };
        FifoMutex { name: name.into(), state: Shared::of_kind(rt, state, CellKind::Queue) }
    }

    /// The synchronous part of `acquire()`: take the lock if free, else queue.
    pub fn enqueue(&self, cx: &Cx<'_, P>) -> Ticket {
        // The caller learns its ticket and whether it took the lock, not
        // who else waits (that is the lock's state, in every fingerprint).
        let (ticket, took) = self.state.apply(|s| {
            let ticket = s.free_ticket();
            if s.holder.is_none() {
                s.holder = Some(ticket);
                (ticket, true)
            } else {
                s.queue.push_back((ticket, Arc::new(P::condvar())));
                (ticket, false)
            }
        });
        let res = self.name.clone();
        cx.record("acquire", if took { Effect::Locked { res } } else { Effect::LockWait { res } });
        Ticket { id: ticket, took }
    }

    /// Waits (an await) until the lock is handed to `ticket`.
    pub fn acquire(&self, cx: &mut Cx<'_, P>, ticket: Ticket) {
        if ticket.took {
            cx.hold_lock(self.state.cell_number(), true);
            return;
        }
        // Still queued: wait for the hand-off. (A task spawned with a ticket
        // may find the lock already handed to it when it first runs.)
        let queued =
            self.state.apply(|s| Waiter(s.queue.iter().find(|(t, _)| *t == ticket.id).map(|(_, cv)| cv.clone())));
        if let Waiter(Some(cv)) = queued {
            let ready = |s: &State<P>| s.holder == Some(ticket.id);
            match cx.semantics() {
                // The hand-off happens in `release`: a woken waiter finds the
                // lock its own, and nobody else can take it from it, so the
                // check is no access (taking a lock handed over conflicts with
                // nothing; `enqueue` and `release` carry the conflicts).
                Semantics::EventLoop => cx.wait_on_loop(&cv, || self.state.settled(ready)),
                Semantics::Threads => self.state.wait_until(&cv, |s| ready(s)),
            }
        }
        cx.record("acquire", Effect::Locked { res: self.name.clone() });
        cx.hold_lock(self.state.cell_number(), true);
    }

    /// `release()`: hand the lock to the first waiter, or free it.
    pub fn release(&self, cx: &Cx<'_, P>) {
        cx.hold_lock(self.state.cell_number(), false);
        cx.record("release", Effect::Unlocked { res: self.name.clone() });
        self.state.apply(|s| match s.queue.pop_front() {
            Some((next, cv)) => {
                s.holder = Some(next);
                cx.notify_one(&cv);
            }
            None => s.holder = None,
        });
    }

    /// `withLock(fn)`: acquire, run, always release.
    /// The ticket, too, dies with the call.
    pub fn with_lock<R: StateHash>(&self, cx: &mut Cx<'_, P>, f: impl FnOnce(&mut Cx<'_, P>) -> R) -> R {
        cx.call(|cx| {
            let ticket = self.enqueue(cx);
            self.with_ticket(cx, ticket, f)
        })
    }

    /// The rest of `withLock` after a caller queued synchronously. `fn` is a
    /// function: what it observed dies when it returns (see `Cx::call`).
    pub fn with_ticket<R: StateHash>(
        &self,
        cx: &mut Cx<'_, P>,
        ticket: Ticket,
        f: impl FnOnce(&mut Cx<'_, P>) -> R,
    ) -> R {
        cx.call(|cx| {
            self.acquire(cx, ticket);
            let result = f(cx);
            self.release(cx);
            result
        })
    }
}
