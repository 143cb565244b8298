//! A controlled event loop: an explorer, not the platform, decides which task
//! takes the loop at each await, and learns what each turn touched.
//!
//! A *turn* is a task's code between taking the loop and letting it go (an
//! await, a wait on a FIFO mutex, the task's end). Under event-loop semantics
//! a turn is atomic, so an execution is the sequence of turns, and two turns
//! of different tasks that touch no common resource (or only read it) can be
//! swapped without changing anything either of them, or anyone else, sees.
//! The explorer ([`TurnControl`]) uses each turn's [`Footprint`] to run one
//! execution per class of such swaps (see `explore::dpor`).
//!
//! Every way a turn reaches shared state reports here: [`Shared`](super::Shared)
//! cells and [`Flag`](super::Flag)s by cell, the memory disk by path, history
//! events by resource (so invariants over the history only ever compare
//! events the explorer keeps in order), and the logical clock `Cx::now`.

use crate::platform::Platform;
use std::sync::{Arc, Mutex};

/// A task of a controlled execution (its thread), numbered in start order.
pub type TaskId = usize;

/// How a turn used a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKind {
    Read,
    Write,
    /// An increment no turn branches on: increments commute with each other
    /// (the history's clock, advanced by every event).
    Add,
}

/// Something tasks share.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// A [`Shared`](super::Shared) cell or [`Flag`](super::Flag), numbered in creation order.
    Cell(usize),
    /// A file, a lock, the notes of the history, the clock.
    Named(Arc<str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub resource: Resource,
    pub kind: AccessKind,
}

impl Access {
    /// Two accesses whose order can change what someone sees.
    pub fn conflicts(&self, other: &Access) -> bool {
        use AccessKind::*;
        self.resource == other.resource && !matches!((self.kind, other.kind), (Read, Read) | (Add, Add))
    }
}

/// One turn: which task ran and what it touched, started and woke.
#[derive(Clone, Debug, Default)]
pub struct Turn {
    pub task: TaskId,
    pub accesses: Vec<Access>,
    /// Tasks this turn started (they wait for the loop from now on).
    pub started: Vec<TaskId>,
    /// Tasks this turn woke from a FIFO mutex wait.
    pub woke: Vec<TaskId>,
}

impl Turn {
    pub fn conflicts(&self, other: &Turn) -> bool {
        self.accesses.iter().any(|a| other.accesses.iter().any(|b| a.conflicts(b)))
    }

    fn touch(&mut self, resource: Resource, kind: AccessKind) {
        match self.accesses.iter_mut().find(|a| a.resource == resource) {
            Some(a) if a.kind == kind => {}
            Some(a) => a.kind = AccessKind::Write,
            None => self.accesses.push(Access { resource, kind }),
        }
    }
}

/// The explorer's side of a controlled loop.
pub trait TurnControl: Send + Sync {
    /// `ended` is the turn that just ended (`None` before the first one);
    /// `waiting` are the tasks waiting for the loop, in start order. Returns
    /// the task that takes the loop next, or `None` if none waits.
    fn next(&self, ended: Option<Turn>, waiting: &[TaskId]) -> Option<TaskId>;
}

/// What a turn touches, recorded outside the model (a std mutex, never a
/// platform one: recording is not part of the program).
#[derive(Default)]
pub struct Footprint {
    turn: Mutex<Turn>,
    cells: Mutex<usize>,
    /// The first turn has begun: no more cells.
    begun: std::sync::atomic::AtomicBool,
}

impl Footprint {
    pub fn touch(&self, resource: Resource, kind: AccessKind) {
        self.turn.lock().unwrap_or_else(|e| e.into_inner()).touch(resource, kind);
    }

    pub fn touch_named(&self, name: &str, kind: AccessKind) {
        self.touch(Resource::Named(name.into()), kind);
    }

    /// A new cell's number. Cells are made with the world, before the first
    /// turn: a cell made during a turn would be numbered by the order of
    /// turns, and two executions that differ only in the order of
    /// independent turns would name it differently.
    pub fn new_cell(&self) -> usize {
        assert!(
            !self.begun.load(std::sync::atomic::Ordering::SeqCst),
            "a Shared or Flag was created during a turn; create shared state when the world is built"
        );
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        *cells += 1;
        *cells
    }

    fn take(&self, next: TaskId) -> Turn {
        let mut turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *turn, Turn { task: next, ..Turn::default() })
    }

    fn with_turn<R>(&self, f: impl FnOnce(&mut Turn) -> R) -> R {
        f(&mut self.turn.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// How a task lets the loop go.
pub(super) enum Leave {
    /// At an await: it waits for the loop again at once.
    Await,
    /// On a FIFO mutex: it waits for the loop once woken through `key`.
    Park { key: usize },
    /// It ended.
    Exit,
}

struct State {
    holder: Option<TaskId>,
    waiting: Vec<TaskId>,
    parked: Vec<(usize, TaskId)>,
    started: TaskId,
}

/// The loop of a controlled execution.
pub(super) struct Turns<P: Platform> {
    control: Arc<dyn TurnControl>,
    footprint: Arc<Footprint>,
    state: P::Mutex<State>,
    changed: P::Condvar,
}

impl<P: Platform> Turns<P> {
    pub fn new(control: Arc<dyn TurnControl>) -> Self {
        let state = State { holder: None, waiting: Vec::new(), parked: Vec::new(), started: 0 };
        Turns { control, footprint: Arc::default(), state: P::mutex(state), changed: P::condvar() }
    }

    pub fn footprint(&self) -> &Arc<Footprint> {
        &self.footprint
    }

    /// A new task, waiting for the loop (called by the task that starts it).
    pub fn register(&self) -> TaskId {
        let mut state = P::lock(&self.state);
        let id = state.started;
        state.started += 1;
        state.waiting.push(id);
        self.footprint.with_turn(|t| t.started.push(id));
        id
    }

    /// Hands the loop to the first task the explorer picks.
    pub fn begin(&self) {
        self.footprint.begun.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut state = P::lock(&self.state);
        let first = self.control.next(None, &state.waiting);
        if let Some(task) = first {
            self.footprint.take(task);
        }
        state.holder = first;
        P::notify_all(&self.changed);
    }

    pub fn wait_turn(&self, me: TaskId) {
        let mut state = P::lock(&self.state);
        while state.holder != Some(me) {
            state = P::wait(&self.changed, state);
        }
    }

    /// Ends `me`'s turn, lets the explorer pick the next task, and (unless
    /// `me` exited) waits until `me` holds the loop again.
    pub fn leave(&self, me: TaskId, how: Leave) {
        let mut state = P::lock(&self.state);
        debug_assert_eq!(state.holder, Some(me), "only the holder lets the loop go");
        match how {
            Leave::Await => {}
            Leave::Park { key } => {
                state.waiting.retain(|&t| t != me);
                state.parked.push((key, me));
            }
            Leave::Exit => state.waiting.retain(|&t| t != me),
        }
        let ended = self.footprint.take(0);
        let next = self.control.next(Some(ended), &state.waiting);
        if let Some(task) = next {
            self.footprint.with_turn(|t| t.task = task);
        }
        state.holder = next;
        P::notify_all(&self.changed);
        if matches!(how, Leave::Exit) {
            return;
        }
        while state.holder != Some(me) {
            state = P::wait(&self.changed, state);
        }
    }

    /// Wakes the task parked on `key`, if one is: it waits for the loop again.
    pub fn wake(&self, key: usize) {
        let mut state = P::lock(&self.state);
        if let Some(pos) = state.parked.iter().position(|&(k, _)| k == key) {
            let (_, task) = state.parked.remove(pos);
            let at = state.waiting.partition_point(|&t| t < task);
            state.waiting.insert(at, task);
            self.footprint.with_turn(|t| t.woke.push(task));
        }
    }
}
