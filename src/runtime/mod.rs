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
//!
//! On a *controlled* runtime ([`Runtime::controlled`]) an explorer hands out
//! the loop turn by turn: tasks run as coroutines ([`Runner`]), every access
//! to shared state is reported ([`Loop`]), and the state between two turns
//! has a fingerprint (see `turns`).

mod fifo;
mod fingerprint;
mod shared;
mod turns;

pub use fifo::{FifoMutex, Ticket};
pub use fingerprint::{Fingerprint, StateHash, StateHasher, fingerprint};
pub use shared::{Flag, Shared};
pub use turns::{
    Access, AccessKind, CellKind, CellValue, Executor, Leave, LockId, Loop, Renamer, Resource, StateParts, Symmetry,
    TaskId, Turn,
};

use turns::{Lineage, Yielder};

use crate::history::{Effect, History};
use crate::platform::{Panic, Platform};
use std::collections::BTreeMap;
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

/// A task registered on a controlled loop whose coroutine is not made yet.
struct Fresh<P: Platform> {
    id: TaskId,
    task: Arc<str>,
    op: Arc<str>,
    body: TaskBody<P>,
}

/// Per-execution state shared by every task.
pub struct Runtime<P: Platform> {
    semantics: Semantics,
    event_loop: P::Mutex<()>,
    history: History,
    /// Threads of spawned tasks, joined at quiescence.
    spawned: Mutex<Vec<P::JoinHandle>>,
    /// Set when an explorer hands out the loop (event-loop semantics).
    controlled: Option<Arc<Loop>>,
    /// Tasks started on the controlled loop since the executor last looked.
    fresh: Mutex<Vec<Fresh<P>>>,
    /// Tasks that got a thread of their own (or would have, on a
    /// controlled loop): what loom's thread limit counts, main aside.
    threads: std::sync::atomic::AtomicUsize,
    /// `Date.now()`'s logical clock (see [`Cx::now`]).
    clock: std::sync::atomic::AtomicUsize,
}

impl<P: Platform> Runtime<P> {
    pub fn new(semantics: Semantics, history: History) -> Arc<Self> {
        Self::build(semantics, history, None)
    }

    /// An event loop whose turns an explorer hands out, one task at a time,
    /// through [`Runtime::executor`].
    pub fn controlled(history: History) -> Arc<Self> {
        Self::build(Semantics::EventLoop, history, Some(Arc::default()))
    }

    fn build(semantics: Semantics, history: History, controlled: Option<Arc<Loop>>) -> Arc<Self> {
        Arc::new(Self {
            semantics,
            event_loop: P::mutex(()),
            history,
            spawned: Mutex::new(Vec::new()),
            controlled,
            fresh: Mutex::new(Vec::new()),
            threads: std::sync::atomic::AtomicUsize::new(0),
            clock: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// How many tasks got (or, on a controlled loop, would have got) a
    /// thread of their own so far: actors, and fire-and-forget tasks but
    /// the last of a finishing task, which goes on on its thread.
    pub fn threads(&self) -> usize {
        self.threads.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn count_thread(&self) {
        self.threads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The controlled loop's bookkeeping, if an explorer hands out the loop.
    pub fn controlled_loop(&self) -> Option<&Arc<Loop>> {
        self.controlled.as_ref()
    }

    pub fn semantics(&self) -> Semantics {
        self.semantics
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Starts an actor, which `does` what its fingerprint says (its
    /// operations). On a controlled loop it waits for the explorer to hand
    /// it the loop (`None`); otherwise it runs on its own thread and takes
    /// the loop itself.
    pub fn start(
        self: &Arc<Self>,
        task: Arc<str>,
        does: Fingerprint,
        op: Arc<str>,
        body: TaskBody<P>,
    ) -> Option<P::JoinHandle> {
        self.count_thread();
        if let Some(lp) = &self.controlled {
            let id = lp.register_actor(task.clone(), does);
            self.fresh.lock().unwrap_or_else(|e| e.into_inner()).push(Fresh { id, task, op, body });
            return None;
        }
        Some(self.start_thread(task, op, body))
    }

    /// Runs `body` as the task `task` on this thread (taking the loop under
    /// event-loop semantics), then the tasks it spawned: for work that
    /// starts once every other task has finished, with no thread of its own.
    pub fn run_here(self: &Arc<Self>, task: Arc<str>, op: Arc<str>, body: TaskBody<P>) -> Result<(), Panic> {
        let mut cx = Cx::enter(self, task, op);
        body(&mut cx);
        cx.finish();
        self.join_spawned()
    }

    fn start_thread(self: &Arc<Self>, task: Arc<str>, op: Arc<str>, body: TaskBody<P>) -> P::JoinHandle {
        let rt = Arc::clone(self);
        P::spawn(&task.clone(), move || {
            let mut cx = Cx::enter(&rt, task, op);
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

    /// The executor of a controlled runtime's tasks.
    pub fn executor(self: &Arc<Self>) -> Runner<P> {
        let lp = self.controlled.clone().expect("an executor runs a controlled runtime");
        Runner { rt: self.clone(), executor: Executor::new(lp) }
    }

    /// The fingerprint of the state between two turns of a controlled
    /// runtime: shared state, live tasks and (if `parts.clock`) the clock;
    /// see [`Loop::fingerprint`].
    pub fn fingerprint(
        &self,
        parts: &StateParts,
        symmetry: &Symmetry,
        h: &mut StateHasher,
    ) -> (Vec<Fingerprint>, Option<Arc<Renamer>>) {
        let lp = self.controlled.as_ref().expect("a controlled runtime");
        let canonical = lp.fingerprint(parts, symmetry, h);
        if parts.clock {
            h.u64(self.clock.load(std::sync::atomic::Ordering::SeqCst) as u64);
        }
        canonical
    }
}

/// Runs the turns of a controlled runtime's tasks (see [`Executor`]).
pub struct Runner<P: Platform> {
    rt: Arc<Runtime<P>>,
    executor: Executor,
}

impl<P: Platform> Runner<P> {
    /// Runs one turn of `task`, a waiting task; a model panic is returned.
    pub fn run_turn(&mut self, task: TaskId) -> Result<Turn, Panic> {
        self.make_coroutines();
        self.executor.run_turn(task)
    }

    /// Gives every task started since the last turn its coroutine.
    fn make_coroutines(&mut self) {
        let fresh = std::mem::take(&mut *self.rt.fresh.lock().unwrap_or_else(|e| e.into_inner()));
        for Fresh { id, task, op, body } in fresh {
            let rt = self.rt.clone();
            let coroutine = turns::TaskCoroutine::with_stack(turns::stack(), move |yielder: &Yielder, ()| {
                let mut cx = Cx::controlled(&rt, id, yielder, task, op);
                body(&mut cx);
                cx.finish();
            });
            self.executor.add(id, coroutine);
        }
    }
}

/// A task spawned but not started yet (it starts at its caller's next await).
struct Pending<P: Platform> {
    task: Arc<str>,
    body: TaskBody<P>,
    /// On a controlled loop: where it comes from.
    lineage: Option<Lineage>,
}

/// A running task's view of the runtime: the loop it holds, its name, the
/// operation it performs, and the tasks it has spawned but not yet started.
pub struct Cx<'rt, P: Platform> {
    rt: &'rt Arc<Runtime<P>>,
    turn: Option<P::Guard<'rt, ()>>,
    /// On a controlled loop: this task's number and how it lets the loop go.
    controlled: Option<(TaskId, &'rt Yielder)>,
    task: Arc<str>,
    op: Arc<str>,
    pending: Vec<Pending<P>>,
    /// How many tasks of each name this task has spawned: the second is
    /// `name(2)`, so that no two tasks share a name (a schedule names tasks).
    spawned: BTreeMap<String, usize>,
}

impl<'rt, P: Platform> Cx<'rt, P> {
    /// Enters the runtime as `task` on a thread, taking the loop under
    /// event-loop semantics.
    fn enter(rt: &'rt Arc<Runtime<P>>, task: Arc<str>, op: Arc<str>) -> Self {
        let turn = (rt.semantics == Semantics::EventLoop).then(|| P::lock(&rt.event_loop));
        Cx { rt, turn, controlled: None, task, op, pending: Vec::new(), spawned: BTreeMap::new() }
    }

    /// Enters a controlled runtime as task `id`, in its coroutine (the
    /// executor resumed it: it holds the loop).
    fn controlled(rt: &'rt Arc<Runtime<P>>, id: TaskId, yielder: &'rt Yielder, task: Arc<str>, op: Arc<str>) -> Self {
        Cx { rt, turn: None, controlled: Some((id, yielder)), task, op, pending: Vec::new(), spawned: BTreeMap::new() }
    }

    fn controlled_loop(&self) -> Option<&'rt Arc<Loop>> {
        self.rt.controlled.as_ref()
    }

    pub fn semantics(&self) -> Semantics {
        self.rt.semantics
    }

    /// This task's name. A task that acts on it is no longer like the
    /// other actors of its symmetry class: reading it voids the class.
    pub fn task(&self) -> &Arc<str> {
        if let (Some((id, _)), Some(lp)) = (self.controlled, self.controlled_loop()) {
            lp.name_read(id);
        }
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
    /// label for reports: a model must not branch on it, see [`Cx::next_step`].)
    pub fn record(&self, func: &'static str, effect: Effect) -> usize {
        if let Some(lp) = self.controlled_loop() {
            touch_event(lp, &effect);
        }
        self.rt.history.push(self.task.clone(), self.op.clone(), func, effect)
    }

    /// `Date.now()` for timestamps and unique names: a logical clock that
    /// moves on at every reading, so two readings never agree and each is
    /// later than the last. It counts readings, not steps: two orders of
    /// the same turns read it as often, and end with the same clock, where
    /// a count of steps (a lock taken at once or after a wait) would tell
    /// them apart for ever. A model compares it with nothing; a system that
    /// reasons about elapsed time keeps its own clock.
    pub fn now(&self) -> usize {
        let now = self.rt.clock.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(lp) = self.controlled_loop() {
            lp.touch_named(CLOCK, AccessKind::Write);
            lp.observe(&("clock", now as u64));
        }
        now
    }

    /// The step number the next recorded event will have: a label for
    /// reports and messages, which a model must not branch on (it is not
    /// part of any state).
    pub fn next_step(&self) -> usize {
        self.rt.history.events_len() + 1
    }

    /// An `await`: other tasks may run here.
    pub fn await_point(&mut self) {
        self.start_pending();
        if let Some((_, yielder)) = self.controlled {
            yielder.suspend(Leave::Await);
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
            if let Some((_, yielder)) = self.controlled {
                yielder.suspend(Leave::Park { key: cv_key::<P>(cv) });
                continue;
            }
            let turn = self.turn.take().expect("event-loop task holds the loop");
            self.turn = Some(P::wait(cv, turn));
        }
    }

    /// Calls `f`, a function whose locals die when it returns: afterwards
    /// the task's local state is what it was before the call plus what `f`
    /// returned (and the tasks `f` spawned). The state-caching search then
    /// forgets what `f` observed, so two paths on which `f` saw different
    /// things but returned the same are one state.
    ///
    /// `f` must change nothing of the caller's but through its result:
    /// no `&mut` to the caller's variables, no interior mutability. (A model
    /// that breaks this is caught by the determinism check of
    /// `explore::stateful`, as a task that keeps state the runtime does not
    /// see.)
    pub fn call<R: StateHash>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let Some((id, lp)) = self.controlled.map(|(id, _)| id).zip(self.controlled_loop()) else { return f(self) };
        lp.enter_call(id);
        let result = f(self);
        lp.returned(id, || {
            let pending: Vec<Fingerprint> =
                self.pending.iter().filter_map(|p| p.lineage.map(|l| l.fingerprint())).collect();
            fingerprint(&(fingerprint(&result), pending))
        });
        result
    }

    /// This task now holds the FIFO mutex whose queue is cell `lock`
    /// (`held`), or that mutex was released.
    pub(crate) fn hold_lock(&self, lock: Option<usize>, held: bool) {
        if let (Some(lock), Some(lp)) = (lock, self.controlled_loop()) {
            lp.hold(lock, held);
        }
    }

    /// Wakes the task waiting on `cv` in [`Cx::wait_on_loop`] (or on a
    /// threads-semantics wait).
    pub(crate) fn notify_one(&self, cv: &P::Condvar) {
        match self.controlled_loop() {
            Some(lp) => lp.wake(cv_key::<P>(cv)),
            None => P::notify_one(cv),
        }
    }

    /// Fire-and-forget: `body` runs as a new task named `<this task>/<name>`.
    /// The caller must already have done the body's synchronous prefix.
    ///
    /// `captured` is every value `body` takes from the caller's locals (what
    /// the closure moves in, besides handles to the world): the new task's
    /// local state starts from it, not from all its caller has observed, so
    /// two callers that observed different things but handed the task the
    /// same values start the same task. A value left out is state the
    /// runtime does not see (caught like one, by `explore::stateful`'s
    /// determinism check).
    pub fn spawn(&mut self, name: &str, captured: &(impl StateHash + ?Sized), body: TaskBody<P>) {
        let count = self.spawned.entry(name.to_string()).or_default();
        *count += 1;
        let task: Arc<str> = match *count {
            1 => format!("{}/{}", self.task, name).into(),
            n => format!("{}/{}({n})", self.task, name).into(),
        };
        self.record("spawn", Effect::Spawned { task: task.clone() });
        let captured = || fingerprint(captured);
        let lineage =
            self.controlled.and_then(|(id, _)| Some(self.controlled_loop()?.child(id, &task, name, captured)));
        self.pending.push(Pending { task, body, lineage });
    }

    fn start_pending(&mut self) {
        for Pending { task, body, lineage } in self.pending.drain(..) {
            match (self.rt.controlled.as_ref(), lineage) {
                (Some(lp), Some(lineage)) => {
                    self.rt.count_thread();
                    let id = lp.register_child(task.clone(), lineage);
                    let fresh = Fresh { id, task, op: self.op.clone(), body };
                    self.rt.fresh.lock().unwrap_or_else(|e| e.into_inner()).push(fresh);
                }
                _ => {
                    self.rt.count_thread();
                    let handle = self.rt.start_thread(task, self.op.clone(), body);
                    self.rt.spawned.lock().unwrap_or_else(|e| e.into_inner()).push(handle);
                }
            }
        }
    }

    /// Ends the task: the last spawned task continues on this thread.
    pub fn finish(mut self) {
        while let Some(Pending { task, body, lineage }) = self.pending.pop() {
            self.start_pending();
            P::name_current_task(&task);
            if let (Some((id, _)), Some(lp), Some(lineage)) = (self.controlled, self.controlled_loop(), lineage) {
                lp.become_child(id, task.clone(), lineage);
            }
            self.task = task;
            self.spawned.clear(); // the names it spawns are under its own now
            body(&mut self);
        }
    }
}

/// `Date.now()`'s clock, which every reading advances ([`Cx::now`]).
const CLOCK: &str = "clock";

/// Identifies a condition variable by address (it lives as long as its waiter).
fn cv_key<P: Platform>(cv: &P::Condvar) -> usize {
    cv as *const P::Condvar as usize
}

/// What recording `effect` touches: the resource it is about, so that the
/// explorer keeps every two events an invariant may compare in order. Notes
/// (triggers, passes, job updates, errors) are compared with one another.
fn touch_event(footprint: &Loop, effect: &Effect) {
    match effect {
        Effect::Read { res, .. } => footprint.touch(Resource::Named(res.clone()), AccessKind::Read),
        Effect::Wrote { res, .. } | Effect::Removed { res } => {
            footprint.touch(Resource::Named(res.clone()), AccessKind::Write)
        }
        Effect::LockWait { res } | Effect::Unlocked { res } => {
            footprint.touch(Resource::Lock(res.clone()), AccessKind::Write)
        }
        // Taking a lock: free, in `enqueue`, whose access to the queue
        // carries the conflicts; handed over, it conflicts with nothing (see
        // `FifoMutex::acquire`).
        Effect::Locked { .. } => {}
        Effect::Note { .. } | Effect::Threw { .. } => footprint.touch_named("notes", AccessKind::Write),
        Effect::Spawned { .. } => {}
    }
}
