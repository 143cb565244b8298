//! State shared between tasks, with the scheduling points each semantics needs.
//!
//! Under event-loop semantics the loop already excludes every other task, so
//! the value sits behind a plain `std` mutex and costs the explorer nothing.
//! Under threads semantics every access is a platform operation, a point
//! where the explorer may preempt. On a controlled loop every cell is also
//! registered for fingerprints, and every access reports to the turn's
//! footprint and, when the task may act on what it found, to its chain.

use super::{CellKind, CellValue, Cx, Fingerprint, Loop, Runtime, Semantics, StateHash, fingerprint};
use crate::history::Effect;
use crate::platform::Platform;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

enum Cell<P: Platform, T: Send + 'static> {
    Loop(Arc<std::sync::Mutex<T>>),
    Threads(P::Mutex<T>),
}

impl<T: StateHash + Send> CellValue for std::sync::Mutex<T> {
    fn fingerprint(&self) -> Fingerprint {
        fingerprint(&*self.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl CellValue for AtomicBool {
    fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.load(SeqCst))
    }
}

/// A cell's number on a controlled loop, where accesses are reported.
struct Probe {
    lp: Arc<Loop>,
    cell: usize,
    /// Accesses are reported here (otherwise the owner reports them, finer).
    reports: bool,
}

impl Probe {
    fn new<P: Platform>(rt: &Runtime<P>, kind: CellKind, value: Arc<dyn CellValue>, reports: bool) -> Option<Probe> {
        rt.controlled_loop().map(|lp| Probe { lp: lp.clone(), cell: lp.new_cell(kind, value), reports })
    }

    /// An access: `observes` if the task may act on the value it found,
    /// `writes` if it changed it.
    fn access(probe: &Option<Probe>, observes: bool, writes: bool) {
        match probe {
            Some(p) if p.reports => p.lp.access_cell(p.cell, observes, writes),
            Some(p) if writes => p.lp.invalidate(p.cell),
            _ => {}
        }
    }
}

/// A value shared between tasks; each access is atomic.
pub struct Shared<P: Platform, T: Send + 'static> {
    cell: Cell<P, T>,
    probe: Option<Probe>,
}

impl<P: Platform, T: StateHash + Send + 'static> Shared<P, T> {
    pub fn new(rt: &Runtime<P>, value: T) -> Self {
        Self::build(rt, value, CellKind::Shared, true)
    }

    /// The cell's number on a controlled loop.
    pub(crate) fn cell_number(&self) -> Option<usize> {
        self.probe.as_ref().map(|p| p.cell)
    }

    /// A cell of the runtime's own (a lock's queue), reported as any other.
    pub(crate) fn of_kind(rt: &Runtime<P>, value: T, kind: CellKind) -> Self {
        Self::build(rt, value, kind, true)
    }

    /// A cell whose owner reports finer-grained accesses itself (the memory
    /// disk reports each file). It is still part of every fingerprint.
    pub fn reported_by_owner(rt: &Runtime<P>, value: T, kind: CellKind) -> Self {
        Self::build(rt, value, kind, false)
    }

    fn build(rt: &Runtime<P>, value: T, kind: CellKind, reports: bool) -> Self {
        match rt.semantics() {
            Semantics::EventLoop => {
                let cell = Arc::new(std::sync::Mutex::new(value));
                let probe = Probe::new(rt, kind, cell.clone(), reports);
                Shared { cell: Cell::Loop(cell), probe }
            }
            Semantics::Threads => Shared { cell: Cell::Threads(P::mutex(value)), probe: None },
        }
    }
}

impl<P: Platform, T: Send + 'static> Shared<P, T> {
    fn access<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        match &self.cell {
            Cell::Loop(m) => f(&mut m.lock().unwrap_or_else(|e| e.into_inner())),
            Cell::Threads(m) => f(&mut P::lock(m)),
        }
    }

    /// Runs `f` on the value as one atomic step (a read-modify-write: what
    /// `f` returns may depend on the value it found).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        Probe::access(&self.probe, true, true);
        self.access(f)
    }

    /// Runs `f` on the value as one atomic step, where the task learns
    /// only what `f` returns: its chain gets `f`'s result, not the whole
    /// value (a lock's queue tells a waiter whether its turn came, not who
    /// else waits). `f` must hand nothing else out of the value.
    pub fn apply<R: StateHash>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        Probe::access(&self.probe, false, true);
        let result = self.access(f);
        if let Some(p) = &self.probe {
            p.lp.observe(&("applied", p.cell as u64, &result));
        }
        result
    }

    /// Reads a fact about the value that no other task can change while
    /// this one may run (a lock handed to it stays its own until it lets it
    /// go): no access to report, nothing learned that the task's state does
    /// not already say.
    pub(crate) fn settled<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.access(|v| f(v))
    }

    /// Reads the value as one atomic step.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        Probe::access(&self.probe, true, false);
        self.access(|v| f(v))
    }

    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.read(T::clone)
    }

    /// Overwrites the value without looking at it.
    pub fn set(&self, value: T) {
        Probe::access(&self.probe, false, true);
        self.access(|v| *v = value)
    }

    /// Threads semantics: blocks on `cv` until `ready` holds. The notifier
    /// must change the value through [`Shared::with`] before notifying.
    pub(super) fn wait_until(&self, cv: &P::Condvar, mut ready: impl FnMut(&mut T) -> bool) {
        let Cell::Threads(m) = &self.cell else {
            unreachable!("event-loop tasks wait on the loop");
        };
        let mut guard = P::lock(m);
        while !ready(&mut guard) {
            guard = P::wait(cv, guard);
        }
    }

    /// Replaces the value, returning the previous one.
    pub fn replace(&self, value: T) -> T {
        self.with(|v| std::mem::replace(v, value))
    }
}

/// A named boolean flag. Under threads semantics it is a platform atomic and
/// every access is a step of the history (a preemption between two flag
/// accesses is what a threads race hinges on, and replay must see it).
pub struct Flag<P: Platform> {
    name: &'static str,
    cell: FlagCell<P>,
    probe: Option<Probe>,
}

enum FlagCell<P: Platform> {
    Loop(Arc<AtomicBool>),
    Threads(P::AtomicBool),
}

impl<P: Platform> Flag<P> {
    pub fn new(rt: &Runtime<P>, name: &'static str, value: bool) -> Self {
        match rt.semantics() {
            Semantics::EventLoop => {
                let cell = Arc::new(AtomicBool::new(value));
                let probe = Probe::new(rt, CellKind::Flag, cell.clone(), true);
                Flag { name, cell: FlagCell::Loop(cell), probe }
            }
            Semantics::Threads => Flag { name, cell: FlagCell::Threads(P::atomic_bool(value)), probe: None },
        }
    }

    fn record(&self, cx: &Cx<'_, P>, op: &str, value: bool) {
        if let FlagCell::Threads(_) = self.cell {
            cx.record(
                "flag",
                Effect::Note { kind: "flag", data: json!({ "flag": self.name, "op": op, "value": value }) },
            );
        }
    }

    /// Atomically sets the flag and returns what it was.
    pub fn swap(&self, cx: &Cx<'_, P>, value: bool) -> bool {
        Probe::access(&self.probe, true, true);
        self.exchange(cx, value)
    }

    fn exchange(&self, cx: &Cx<'_, P>, value: bool) -> bool {
        let old = match &self.cell {
            FlagCell::Loop(a) => a.swap(value, SeqCst),
            FlagCell::Threads(a) => P::swap(a, value),
        };
        self.record(cx, if value { "set" } else { "clear" }, old);
        old
    }

    pub fn load(&self, cx: &Cx<'_, P>) -> bool {
        Probe::access(&self.probe, true, false);
        let value = self.peek();
        self.record(cx, "read", value);
        value
    }

    /// A plain store (the task does not look at the old value), written as
    /// a swap so loom sees a read-modify-write.
    pub fn store(&self, cx: &Cx<'_, P>, value: bool) {
        Probe::access(&self.probe, false, true);
        self.exchange(cx, value);
    }

    /// The value, read outside any task (final state, after every task ended).
    pub fn peek(&self) -> bool {
        match &self.cell {
            FlagCell::Loop(a) => a.load(SeqCst),
            FlagCell::Threads(a) => P::load(a),
        }
    }
}
