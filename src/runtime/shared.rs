//! State shared between tasks, with the scheduling points each semantics needs.
//!
//! Under event-loop semantics the loop already excludes every other task, so
//! the value sits behind a plain `std` mutex and costs the explorer nothing.
//! Under threads semantics every access is a platform operation, a point
//! where the explorer may preempt. On a controlled loop every access also
//! reports to the turn's footprint.

use super::{AccessKind, Cx, Footprint, Resource, Runtime, Semantics};
use crate::history::Effect;
use crate::platform::Platform;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

enum Cell<P: Platform, T: Send + 'static> {
    Loop(std::sync::Mutex<T>),
    Threads(P::Mutex<T>),
}

/// A cell's number in a controlled execution, and where it reports accesses.
struct Probe {
    footprint: std::sync::Arc<Footprint>,
    cell: usize,
}

impl Probe {
    fn new<P: Platform>(rt: &Runtime<P>) -> Option<Probe> {
        rt.footprint().map(|f| Probe { footprint: f.clone(), cell: f.new_cell() })
    }

    fn touch(probe: &Option<Probe>, kind: AccessKind) {
        if let Some(p) = probe {
            p.footprint.touch(Resource::Cell(p.cell), kind);
        }
    }
}

/// A value shared between tasks; each access is atomic.
pub struct Shared<P: Platform, T: Send + 'static> {
    cell: Cell<P, T>,
    probe: Option<Probe>,
}

impl<P: Platform, T: Send + 'static> Shared<P, T> {
    pub fn new(rt: &Runtime<P>, value: T) -> Self {
        Shared { cell: Self::cell(rt.semantics(), value), probe: Probe::new(rt) }
    }

    /// A cell whose owner reports finer-grained accesses itself (the memory
    /// disk reports each file).
    pub fn unprobed(rt: &Runtime<P>, value: T) -> Self {
        Shared { cell: Self::cell(rt.semantics(), value), probe: None }
    }

    fn cell(semantics: Semantics, value: T) -> Cell<P, T> {
        match semantics {
            Semantics::EventLoop => Cell::Loop(std::sync::Mutex::new(value)),
            Semantics::Threads => Cell::Threads(P::mutex(value)),
        }
    }

    fn access<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        match &self.cell {
            Cell::Loop(m) => f(&mut m.lock().unwrap_or_else(|e| e.into_inner())),
            Cell::Threads(m) => f(&mut P::lock(m)),
        }
    }

    /// Runs `f` on the value as one atomic step.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        Probe::touch(&self.probe, AccessKind::Write);
        self.access(f)
    }

    /// Reads the value as one atomic step.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        Probe::touch(&self.probe, AccessKind::Read);
        self.access(|v| f(v))
    }

    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.read(T::clone)
    }

    pub fn set(&self, value: T) {
        self.with(|v| *v = value)
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
    Loop(AtomicBool),
    Threads(P::AtomicBool),
}

impl<P: Platform> Flag<P> {
    pub fn new(rt: &Runtime<P>, name: &'static str, value: bool) -> Self {
        let cell = match rt.semantics() {
            Semantics::EventLoop => FlagCell::Loop(AtomicBool::new(value)),
            Semantics::Threads => FlagCell::Threads(P::atomic_bool(value)),
        };
        Flag { name, cell, probe: Probe::new(rt) }
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
        Probe::touch(&self.probe, AccessKind::Write);
        let old = match &self.cell {
            FlagCell::Loop(a) => a.swap(value, SeqCst),
            FlagCell::Threads(a) => P::swap(a, value),
        };
        self.record(cx, if value { "set" } else { "clear" }, old);
        old
    }

    pub fn load(&self, cx: &Cx<'_, P>) -> bool {
        Probe::touch(&self.probe, AccessKind::Read);
        let value = self.peek();
        self.record(cx, "read", value);
        value
    }

    /// A plain store, written as a swap so loom sees a read-modify-write.
    pub fn store(&self, cx: &Cx<'_, P>, value: bool) {
        self.swap(cx, value);
    }

    /// The value, read outside any task (final state, after every task ended).
    pub fn peek(&self) -> bool {
        match &self.cell {
            FlagCell::Loop(a) => a.load(SeqCst),
            FlagCell::Threads(a) => P::load(a),
        }
    }
}
