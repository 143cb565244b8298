//! Tasks on a [`Platform`]: how the origin's async control flow runs in a model.
//!
//! The origins are Node.js programs. Under [`Semantics::EventLoop`] every task
//! holds one platform mutex, *the loop*, while it runs synchronous code and
//! lets it go only at an await ([`Cx::await_point`]): code between two awaits
//! is atomic, as in Node. Under [`Semantics::Threads`] the same code is a
//! line-by-line port to preemptive threads: awaits are no scheduling points,
//! every shared access is ([`Shared`], [`Flag`], [`FifoMutex`]).
//!
//! Two consecutive awaits with no shared access between them are one
//! scheduling point: any interleaving the pair allows, one of them allows.
//! The models rely on this to keep the search small, e.g. `savePlan`'s
//! `await validateGhAuth()` merges into the write's await that follows it.
//!
//! A fire-and-forget call ([`Cx::spawn`]) runs its synchronous prefix in the
//! caller (the models do that part before calling `spawn`, e.g. queueing on a
//! FIFO mutex) and its continuation as a new task. The task's thread is
//! created at the caller's next await or when the caller finishes; the last
//! task a finishing caller spawned runs on the caller's own thread, which
//! keeps executions within loom's five threads.

mod fifo;
mod shared;
mod turns;

pub use fifo::{FifoMutex, Ticket};
pub use shared::{Flag, Shared};
pub use turns::{Access, AccessKind, Footprint, Resource, TaskId, Turn, TurnControl};

use turns::{Leave, Turns};

use crate::history::{Effect, History};
use crate::platform::{Panic, Platform};
use std::sync::{Arc, Mutex};

/// How the modeled code is scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Semantics {
    /// Node.js: one task runs at a time, switching only at awaits.
    EventLoop,
    /// Preemptive threads: any shared access may be interleaved.
    Threads,
}

impl Semantics {
    pub fn name(self) -> &'static str {
        match self {
            Semantics::EventLoop => "event-loop",
            Semantics::Threads => "threads",
        }
    }
}

/// The body of a spawned task.
pub type TaskBody<P> = Box<dyn for<'a> FnOnce(&mut Cx<'a, P>) + Send>;

/// Per-execution state shared by every task.
pub struct Runtime<P: Platform> {
    semantics: Semantics,
    event_loop: P::Mutex<()>,
    history: History,
    /// Threads of spawned tasks, joined at quiescence.
    spawned: Mutex<Vec<P::JoinHandle>>,
    /// Set when an explorer picks who takes the loop (event-loop semantics).
    turns: Option<Turns<P>>,
}

impl<P: Platform> Runtime<P> {
    pub fn new(semantics: Semantics, history: History) -> Arc<Self> {
        Arc::new(Self { semantics, event_loop: P::mutex(()), history, spawned: Mutex::new(Vec::new()), turns: None })
    }

    /// An event loop whose turns `control` hands out, one task at a time.
    pub fn controlled(history: History, control: Arc<dyn TurnControl>) -> Arc<Self> {
        Arc::new(Self {
            semantics: Semantics::EventLoop,
            event_loop: P::mutex(()),
            history,
            spawned: Mutex::new(Vec::new()),
            turns: Some(Turns::new(control)),
        })
    }

    /// Where turns report what they touch, on a controlled loop.
    pub fn footprint(&self) -> Option<&Arc<Footprint>> {
        self.turns.as_ref().map(Turns::footprint)
    }

    /// Hands the loop to the first task, on a controlled loop (after the
    /// actors are started; otherwise they race for the loop themselves).
    pub fn begin(&self) {
        if let Some(turns) = &self.turns {
            turns.begin();
        }
    }

    pub fn semantics(&self) -> Semantics {
        self.semantics
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Starts a task on its own thread; it takes the loop before running.
    pub fn start(self: &Arc<Self>, task: Arc<str>, op: Arc<str>, body: TaskBody<P>) -> P::JoinHandle {
        let rt = Arc::clone(self);
        let id = self.turns.as_ref().map_or(0, Turns::register);
        P::spawn(&task.clone(), move || {
            let mut cx = Cx::enter(&rt, id, task, op);
            body(&mut cx);
            cx.finish();
        })
    }

    /// Joins every spawned task, including tasks spawned while joining.
    pub fn join_spawned(&self) -> Result<(), Panic> {
        loop {
            let next = self.spawned.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match next {
                Some(handle) => P::join(handle)?,
                None => return Ok(()),
            }
        }
    }
}

/// A running task's view of the runtime: the loop it holds, its name, the
/// operation it performs, and the tasks it has spawned but not yet started.
pub struct Cx<'rt, P: Platform> {
    rt: &'rt Arc<Runtime<P>>,
    /// This task's number on a controlled loop.
    id: TaskId,
    turn: Option<P::Guard<'rt, ()>>,
    task: Arc<str>,
    op: Arc<str>,
    pending: Vec<(Arc<str>, TaskBody<P>)>,
}

impl<'rt, P: Platform> Cx<'rt, P> {
    /// Enters the runtime as `task`, taking the loop under event-loop semantics.
    fn enter(rt: &'rt Arc<Runtime<P>>, id: TaskId, task: Arc<str>, op: Arc<str>) -> Self {
        if let Some(turns) = &rt.turns {
            turns.wait_turn(id);
            return Cx { rt, id, turn: None, task, op, pending: Vec::new() };
        }
        let turn = (rt.semantics == Semantics::EventLoop).then(|| P::lock(&rt.event_loop));
        Cx { rt, id, turn, task, op, pending: Vec::new() }
    }

    pub fn semantics(&self) -> Semantics {
        self.rt.semantics
    }

    pub fn task(&self) -> &Arc<str> {
        &self.task
    }

    /// Names the operation now in progress (used by every event it records).
    pub fn set_op(&mut self, op: impl Into<Arc<str>>) {
        self.op = op.into();
    }

    pub fn op(&self) -> &Arc<str> {
        &self.op
    }

    /// Records a visible effect and returns its step number. (The step is a
    /// label for reports: a model must not branch on it, see [`Cx::now`].)
    pub fn record(&self, func: &'static str, effect: Effect) -> usize {
        if let Some(footprint) = self.rt.footprint() {
            touch_event(footprint, &effect);
        }
        self.rt.history.push(self.task.clone(), self.op.clone(), func, effect)
    }

    /// A logical clock for timestamps: the number of steps so far.
    pub fn now(&self) -> usize {
        if let Some(footprint) = self.rt.footprint() {
            footprint.touch_named(CLOCK, AccessKind::Read);
        }
        self.rt.history.events_len()
    }

    /// An `await`: other tasks may run here.
    pub fn await_point(&mut self) {
        self.start_pending();
        if let Some(turns) = &self.rt.turns {
            turns.leave(self.id, Leave::Await);
        } else if self.turn.is_some() {
            self.turn = None;
            self.turn = Some(P::lock(&self.rt.event_loop));
        }
    }

    /// Waits on `cv` until `ready()` holds, letting the loop go meanwhile.
    /// Only for event-loop semantics; `ready` is checked with the loop held.
    pub(crate) fn wait_on_loop(&mut self, cv: &P::Condvar, mut ready: impl FnMut() -> bool) {
        self.start_pending();
        while !ready() {
            if let Some(turns) = &self.rt.turns {
                turns.leave(self.id, Leave::Park { key: cv_key::<P>(cv) });
                continue;
            }
            let turn = self.turn.take().expect("event-loop task holds the loop");
            self.turn = Some(P::wait(cv, turn));
        }
    }

    /// Wakes the task waiting on `cv` in [`Cx::wait_on_loop`] (or on a
    /// threads-semantics wait).
    pub(crate) fn notify_one(&self, cv: &P::Condvar) {
        match &self.rt.turns {
            Some(turns) => turns.wake(cv_key::<P>(cv)),
            None => P::notify_one(cv),
        }
    }

    /// Fire-and-forget: `body` runs as a new task named `<this task>/<name>`.
    /// The caller must already have done the body's synchronous prefix.
    pub fn spawn(&mut self, name: &str, body: TaskBody<P>) {
        let task: Arc<str> = format!("{}/{}", self.task, name).into();
        self.record("spawn", Effect::Spawned { task: task.clone() });
        self.pending.push((task, body));
    }

    fn start_pending(&mut self) {
        for (task, body) in self.pending.drain(..) {
            let handle = self.rt.start(task, self.op.clone(), body);
            self.rt.spawned.lock().unwrap_or_else(|e| e.into_inner()).push(handle);
        }
    }

    /// Ends the task: the last spawned task continues on this thread.
    pub fn finish(mut self) {
        while let Some((task, body)) = self.pending.pop() {
            self.start_pending();
            P::name_current_task(&task);
            self.task = task;
            body(&mut self);
        }
        if let Some(turns) = &self.rt.turns {
            turns.leave(self.id, Leave::Exit);
        }
    }
}

/// The history's clock: every event advances it, [`Cx::now`] reads it.
const CLOCK: &str = "clock";

/// Identifies a condition variable by address (it lives as long as its waiter).
fn cv_key<P: Platform>(cv: &P::Condvar) -> usize {
    cv as *const P::Condvar as usize
}

/// What recording `effect` touches: the resource it is about, so that the
/// explorer keeps every two events an invariant may compare in order. Notes
/// (triggers, passes, job updates, errors) are compared with one another.
fn touch_event(footprint: &Footprint, effect: &Effect) {
    footprint.touch_named(CLOCK, AccessKind::Add);
    match effect {
        Effect::Read { res, .. } => footprint.touch(Resource::Named(res.clone()), AccessKind::Read),
        Effect::Wrote { res, .. } | Effect::Removed { res } => {
            footprint.touch(Resource::Named(res.clone()), AccessKind::Write)
        }
        Effect::LockWait { res } | Effect::Locked { res } | Effect::Unlocked { res } => {
            footprint.touch(Resource::Named(format!("lock {res}").into()), AccessKind::Write)
        }
        Effect::Note { .. } | Effect::Threw { .. } => footprint.touch_named("notes", AccessKind::Write),
        Effect::Spawned { .. } => {}
    }
}
