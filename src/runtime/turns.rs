//! A controlled event loop: an explorer, not the platform, decides which task
//! takes the loop at each await, learns what each turn touched, and can ask
//! for the fingerprint of the state between two turns.
//!
//! A *turn* is a task's code between taking the loop and letting it go (an
//! await, a wait on a FIFO mutex, the task's end). Under event-loop semantics
//! a turn is atomic, so an execution is the sequence of turns, and two turns
//! of different tasks that touch no common resource (or only read it) can be
//! swapped without changing anything either of them, or anyone else, sees.
//!
//! Every way a turn reaches shared state reports here ([`Loop`]): cells and
//! flags by number, the memory disk by path, history events by resource (so
//! invariants only ever compare events the explorer keeps in order), and the
//! logical clock `Cx::now` (each reading moves it). Tasks run as coroutines
//! on the explorer's own thread ([`Executor`]): a turn is one `resume`, and
//! an execution cut short is dropped, its stacks unwound and kept for the
//! next one.
//!
//! # What a state is
//!
//! The fingerprint of a state ([`Loop::fingerprint`]) covers the shared
//! state (every cell, flag and file, by value), the clock, and every live
//! task. A task's local variables live on its coroutine's stack, out of
//! reach; but a model is deterministic, so they are a function of where the
//! task started and of what it has observed. Each task therefore carries a
//! *chain*: the fingerprint of the values its spawner handed it (what the
//! closure captured, `Cx::spawn`), of every value it read (the whole cell,
//! flag, file or clock it looked at, or what it learned from it:
//! `Shared::apply`), and of every turn it has taken. Two tasks with
//! equal chains run on identically. This holds only if tasks keep no state
//! outside the runtime; the state-caching search checks it on every state it
//! sees twice (`explore::stateful`).

use super::fingerprint::{Fingerprint, StateHash, StateHasher, fingerprint};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// A task of a controlled execution, numbered in start order.
pub type TaskId = usize;

/// How a turn used a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKind {
    Read,
    Write,
}

/// Something tasks share.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// A [`Shared`](super::Shared) cell or [`Flag`](super::Flag), numbered in creation order.
    Cell(usize),
    /// A file, the notes of the history, the clock.
    Named(Arc<str>),
    /// A FIFO mutex's queue, by the mutex's name.
    Lock(Arc<str>),
}

/// A FIFO mutex, by the number of the cell that holds its queue.
pub type LockId = usize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub resource: Resource,
    pub kind: AccessKind,
    /// The FIFO mutexes the task held at every access to the resource in
    /// this turn (what a write is guarded by, see `explore::stateful`).
    pub locks: Vec<LockId>,
}

impl Access {
    /// Another access of the same resource in the same turn: a turn that
    /// did two different things to it did something that conflicts with both,
    /// under the locks held at both.
    fn merge(&mut self, kind: AccessKind, locks: &[LockId]) {
        if self.kind != kind {
            self.kind = AccessKind::Write;
        }
        self.locks.retain(|l| locks.contains(l));
    }

    /// Two accesses whose order can change what someone sees.
    pub fn conflicts(&self, other: &Access) -> bool {
        use AccessKind::*;
        self.resource == other.resource && !matches!((self.kind, other.kind), (Read, Read))
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

    fn touch(&mut self, resource: Resource, kind: AccessKind, locks: Vec<LockId>) {
        match self.accesses.iter_mut().find(|a| a.resource == resource) {
            Some(a) => a.merge(kind, &locks),
            None => self.accesses.push(Access { resource, kind, locks }),
        }
    }

    /// [`Turn::touch`] of `Named(name)`, allocating only for a new name.
    fn touch_named(&mut self, name: &str, kind: AccessKind, locks: Vec<LockId>) {
        match self.accesses.iter_mut().find(|a| matches!(&a.resource, Resource::Named(n) if **n == *name)) {
            Some(a) => a.merge(kind, &locks),
            None => self.accesses.push(Access { resource: Resource::Named(name.into()), kind, locks }),
        }
    }
}

/// What a cell of the registry holds, for fingerprints.
pub trait CellValue: Send + Sync {
    fn fingerprint(&self) -> Fingerprint;
}

/// The kinds of shared state, each of which a fingerprint may leave out
/// (only tests do: to show that leaving one out gives wrong answers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// A [`Shared`](super::Shared) value.
    Shared,
    /// A [`Flag`](super::Flag).
    Flag,
    /// The memory disk's files.
    Files,
    /// A FIFO mutex's queue: who holds it, who waits, in what order.
    Queue,
    /// A database table's rows (`storage::Table`).
    Table,
}

/// Which parts of a state its fingerprint covers. Every part, except in
/// tests that leave one out on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateParts {
    pub shared: bool,
    pub flags: bool,
    pub files: bool,
    pub clock: bool,
    /// Each task's chain (what it observed); without it, only who is alive.
    pub task_local: bool,
    pub monitors: bool,
}

impl StateParts {
    pub const ALL: StateParts =
        StateParts { shared: true, flags: true, files: true, clock: true, task_local: true, monitors: true };

    fn covers(&self, kind: CellKind) -> bool {
        match kind {
            CellKind::Shared | CellKind::Queue | CellKind::Table => self.shared,
            CellKind::Flag => self.flags,
            CellKind::Files => self.files,
        }
    }
}

struct CellEntry {
    kind: CellKind,
    value: Arc<dyn CellValue>,
    /// The fingerprint of (the cell's number, its value), until the next
    /// write: what a state's fingerprint adds up and a reader observes.
    cached: Option<Fingerprint>,
}

impl CellEntry {
    /// Cell `number`'s value, with its number.
    fn placed(&mut self, number: usize) -> Fingerprint {
        *self.cached.get_or_insert_with(|| fingerprint(&(number as u64, self.value.fingerprint())))
    }
}

/// Where a task comes from: who it is, and what it started with.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lineage {
    /// Who the task is, the same in every execution: its parent's identity,
    /// the spawn's ordinal in the parent, its name.
    identity: Fingerprint,
    /// The same without actor names: the spawn ordinals and spawn names from
    /// its actor down (what a symmetric actor's task is, whichever actor).
    relative: Fingerprint,
    /// What the task's local state is a function of (see the module docs).
    chain: Fingerprint,
    /// The actor it descends from (its number).
    root: TaskId,
}

impl Lineage {
    /// What a caller holds of a task it spawned: no actor name in it.
    pub(super) fn fingerprint(&self) -> Fingerprint {
        fingerprint(&(self.relative, self.chain))
    }
}

/// A task as the loop knows it.
struct TaskSlot {
    name: Arc<str>,
    identity: Fingerprint,
    relative: Fingerprint,
    chain: Fingerprint,
    /// The chain at the start of each call it is in (innermost last).
    frames: Vec<Fingerprint>,
    root: TaskId,
    /// Tasks it has spawned so far.
    spawned: u64,
    alive: bool,
    parked: bool,
}

/// How a task lets the loop go (what its coroutine yields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leave {
    /// At an await: it waits for the loop again at once.
    Await,
    /// On a FIFO mutex: it waits for the loop once woken through `key`.
    Park { key: usize },
}

#[derive(Default)]
struct State {
    /// Footprints are not recorded (a replay: the explorer knows its turns).
    replaying: bool,
    /// Nobody will ask for a fingerprint: what tasks observe is not hashed
    /// into their chains (an explorer that keeps no states).
    unfingerprinted: bool,
    turn: Turn,
    current: Option<TaskId>,
    tasks: Vec<TaskSlot>,
    /// The actors' names, by number.
    actors: Vec<Arc<str>>,
    /// Actors one of whose tasks read its own name (`Cx::task`).
    named: BTreeSet<TaskId>,
    waiting: Vec<TaskId>,
    parked: Vec<(usize, TaskId)>,
    /// Which task holds each FIFO mutex that is held (by the task that
    /// acquired it, until it is released).
    held: Vec<(LockId, TaskId)>,
    cells: Vec<CellEntry>,
    begun: bool,
}

impl State {
    /// The locks the running task holds (no allocation when it holds none).
    fn locks(&self) -> Vec<LockId> {
        let Some(current) = self.current else { return Vec::new() };
        self.held.iter().filter(|(_, t)| *t == current).map(|(l, _)| *l).collect()
    }

    fn observe(&mut self, what: Fingerprint) {
        if let Some(t) = self.current.filter(|_| !self.unfingerprinted && !self.replaying) {
            let slot = &mut self.tasks[t];
            slot.chain = slot.chain.then(&what);
        }
    }
}

/// The controlled loop's bookkeeping for one execution, shared by the
/// runtime, the cells and the memory disk (a std mutex: recording is not
/// part of the modeled program, and only one task runs at a time).
#[derive(Default)]
pub struct Loop {
    state: Mutex<State>,
}

impl Loop {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a piece of shared state and returns its number. Shared
    /// state is made with the world, before the first turn: a cell made
    /// during a turn would be numbered by the order of turns, and two
    /// executions that differ only in the order of independent turns would
    /// name it differently.
    pub fn new_cell(&self, kind: CellKind, value: Arc<dyn CellValue>) -> usize {
        let mut s = self.state();
        assert!(
            !s.begun,
            "a Shared, Flag or disk was created during a turn; create shared state when the world is built"
        );
        s.cells.push(CellEntry { kind, value, cached: None });
        s.cells.len() - 1
    }

    /// The running turn used `resource` this way.
    pub fn touch(&self, resource: Resource, kind: AccessKind) {
        let mut s = self.state();
        if !s.replaying {
            let locks = s.locks();
            s.turn.touch(resource, kind, locks);
        }
    }

    pub fn touch_named(&self, name: &str, kind: AccessKind) {
        let mut s = self.state();
        if !s.replaying {
            let locks = s.locks();
            s.turn.touch_named(name, kind, locks);
        }
    }

    /// The running task now holds the FIFO mutex `lock` (`held`), or the
    /// mutex was released (by whichever task).
    pub fn hold(&self, lock: LockId, held: bool) {
        let mut s = self.state();
        s.held.retain(|(l, _)| *l != lock);
        if held && let Some(current) = s.current {
            s.held.push((lock, current));
        }
    }

    /// The tasks that hold a FIFO mutex.
    pub fn lock_holders(&self) -> Vec<TaskId> {
        self.state().held.iter().map(|(_, t)| *t).collect()
    }

    /// Turns run from now on are a replay of turns the explorer has seen:
    /// neither their footprints nor what their tasks observe are recorded
    /// (`false`: they are again). The explorer puts back the chains it
    /// kept for the state the replay reaches ([`Loop::restore_chains`]):
    /// hashing every file a replayed turn reads was most of a replay's cost.
    pub fn replaying(&self, on: bool) {
        self.state().replaying = on;
    }

    /// Every task's chain and the chains its unfinished calls started
    /// from, by number (to put back after a replay).
    pub fn chains(&self) -> Vec<(Fingerprint, Vec<Fingerprint>)> {
        self.state().tasks.iter().map(|t| (t.chain, t.frames.clone())).collect()
    }

    /// Puts back what [`Loop::chains`] gave in the state a replay has come
    /// back to (the same tasks, numbered the same).
    pub fn restore_chains(&self, chains: &[(Fingerprint, Vec<Fingerprint>)]) {
        let mut s = self.state();
        assert_eq!(s.tasks.len(), chains.len(), "a replay comes back to the same tasks");
        for (slot, (chain, frames)) in s.tasks.iter_mut().zip(chains) {
            slot.chain = *chain;
            slot.frames.clone_from(frames);
        }
    }

    /// The running turn accessed cell `cell`: `observes` when what it does
    /// next may depend on the value it found, `writes` when it changed it.
    pub fn access_cell(&self, cell: usize, observes: bool, writes: bool) {
        let mut s = self.state();
        let kind = if writes { AccessKind::Write } else { AccessKind::Read };
        if !s.replaying {
            let locks = s.locks();
            s.turn.touch(Resource::Cell(cell), kind, locks);
        }
        if observes && !s.unfingerprinted && !s.replaying {
            let placed = s.cells[cell].placed(cell);
            s.observe(placed);
        }
        if writes {
            s.cells[cell].cached = None;
        }
    }

    /// The running task learned `value` (a file's contents, the clock...).
    pub fn observe(&self, what: &(impl StateHash + ?Sized)) {
        let mut s = self.state();
        if !s.unfingerprinted && !s.replaying {
            s.observe(fingerprint(what));
        }
    }

    /// No fingerprint will be asked for in this execution: tasks' chains
    /// are not kept (observing costs a hash of what was observed).
    pub fn unfingerprinted(&self) {
        self.state().unfingerprinted = true;
    }

    pub fn is_fingerprinted(&self) -> bool {
        !self.state().unfingerprinted
    }

    /// A cell changed outside [`Loop::access_cell`] (the disk's files).
    pub fn invalidate(&self, cell: usize) {
        self.state().cells[cell].cached = None;
    }

    /// An actor, waiting for the loop. `does` is what it does (its
    /// operations): its initial local state, which has no name in it.
    pub(super) fn register_actor(&self, name: Arc<str>, does: Fingerprint) -> TaskId {
        let mut s = self.state();
        let id = s.tasks.len();
        assert_eq!(id, s.actors.len(), "actors are registered before any task is spawned");
        s.actors.push(name.clone());
        let identity = fingerprint(&("actor", id as u64, &*name));
        let lineage = Lineage { identity, relative: fingerprint("actor"), chain: does, root: id };
        Self::register(&mut s, name, lineage)
    }

    /// The lineage of the next task `parent` spawns, named `name` (`spawn`
    /// is the name the spawn gave it, without its parent's), handed the
    /// values `captured` hashes (its initial local state; hashed only in an
    /// execution that is fingerprinted, and not in a replay).
    pub(super) fn child(
        &self,
        parent: TaskId,
        name: &str,
        spawn: &str,
        captured: impl FnOnce() -> Fingerprint,
    ) -> Lineage {
        let mut s = self.state();
        let (unfingerprinted, replaying) = (s.unfingerprinted, s.replaying);
        let p = &mut s.tasks[parent];
        let ordinal = p.spawned;
        p.spawned += 1;
        if unfingerprinted {
            let none = Fingerprint::default();
            return Lineage { identity: none, relative: none, chain: none, root: p.root };
        }
        Lineage {
            identity: fingerprint(&(p.identity, ordinal, name)),
            relative: fingerprint(&(p.relative, ordinal, spawn)),
            // A replay's chains are put back after it (`restore_chains`).
            chain: if replaying {
                Fingerprint::default()
            } else {
                fingerprint(&("spawned", ordinal, spawn, captured()))
            },
            root: p.root,
        }
    }

    /// A spawned task, waiting for the loop from now on.
    pub(super) fn register_child(&self, name: Arc<str>, lineage: Lineage) -> TaskId {
        let mut s = self.state();
        Self::register(&mut s, name, lineage)
    }

    fn register(s: &mut State, name: Arc<str>, lineage: Lineage) -> TaskId {
        let id = s.tasks.len();
        let Lineage { identity, relative, chain, root } = lineage;
        let frames = Vec::new();
        s.tasks.push(TaskSlot {
            name,
            identity,
            relative,
            chain,
            frames,
            root,
            spawned: 0,
            alive: true,
            parked: false,
        });
        s.waiting.push(id);
        s.turn.started.push(id);
        id
    }

    /// `task` goes on as a task it spawned (the last one, at its end).
    pub(super) fn become_child(&self, task: TaskId, name: Arc<str>, lineage: Lineage) {
        let mut s = self.state();
        let slot = &mut s.tasks[task];
        slot.name = name;
        slot.identity = lineage.identity;
        slot.relative = lineage.relative;
        slot.chain = lineage.chain;
        slot.frames.clear();
        slot.spawned = 0;
    }

    /// `task` read its own name: it may now act on which actor it is.
    pub(super) fn name_read(&self, task: TaskId) {
        let mut s = self.state();
        let root = s.tasks[task].root;
        s.named.insert(root);
    }

    /// The actors one of whose tasks read its own name.
    pub fn named(&self) -> BTreeSet<TaskId> {
        self.state().named.clone()
    }

    /// The running task calls a function whose locals die when it returns
    /// (see `Cx::call`): its chain now is where it goes on from then.
    pub(super) fn enter_call(&self, task: TaskId) {
        let mut s = self.state();
        let slot = &mut s.tasks[task];
        slot.frames.push(slot.chain);
    }

    /// The running task returned from its innermost call: what it observed
    /// inside is dead, except what `returned` gives (not asked for in a
    /// replay, whose chains are put back afterwards).
    pub(super) fn returned(&self, task: TaskId, returned: impl FnOnce() -> Fingerprint) {
        let mut s = self.state();
        let keep = !s.replaying && !s.unfingerprinted;
        let slot = &mut s.tasks[task];
        let chain = slot.frames.pop().expect("a call returns once");
        if keep {
            slot.chain = chain.then(&("returned", returned(), slot.spawned));
        }
    }

    /// Wakes the task parked on `key`, if one is: it waits for the loop again.
    pub(super) fn wake(&self, key: usize) {
        let mut s = self.state();
        if let Some(pos) = s.parked.iter().position(|&(k, _)| k == key) {
            let (_, task) = s.parked.remove(pos);
            s.tasks[task].parked = false;
            let at = s.waiting.partition_point(|&t| t < task);
            s.waiting.insert(at, task);
            s.turn.woke.push(task);
        }
    }

    /// Starts `task`'s turn.
    fn begin_turn(&self, task: TaskId) {
        let mut s = self.state();
        s.begun = true;
        s.current = Some(task);
        s.turn = Turn { task, ..Turn::default() };
    }

    /// Ends `task`'s turn: it awaits, parks, or (`None`) ended.
    fn end_turn(&self, task: TaskId, how: Option<Leave>) -> Turn {
        let mut s = self.state();
        s.current = None;
        match how {
            Some(Leave::Await) => {}
            Some(Leave::Park { key }) => {
                s.waiting.retain(|&t| t != task);
                s.parked.push((key, task));
                s.tasks[task].parked = true;
            }
            None => {
                s.waiting.retain(|&t| t != task);
                s.tasks[task].alive = false;
            }
        }
        // The task moved on: its position is part of its local state (a
        // replay's chains are put back after it).
        if !s.unfingerprinted && !s.replaying {
            let slot = &mut s.tasks[task];
            slot.chain = slot.chain.then("turn");
        }
        std::mem::take(&mut s.turn)
    }

    pub fn waiting(&self) -> Vec<TaskId> {
        self.state().waiting.clone()
    }

    /// No task waits for the loop or for a FIFO mutex (asked after every
    /// turn: it copies nothing).
    pub fn idle(&self) -> bool {
        let state = self.state();
        state.waiting.is_empty() && state.parked.is_empty()
    }

    /// No task waits for the loop (it copies nothing).
    pub fn none_waiting(&self) -> bool {
        self.state().waiting.is_empty()
    }

    pub fn parked(&self) -> Vec<TaskId> {
        self.state().parked.iter().map(|&(_, t)| t).collect()
    }

    pub fn task_name(&self, task: TaskId) -> Arc<str> {
        self.state().tasks[task].name.clone()
    }

    /// The fingerprint of the shared state alone (cells, flags, files as
    /// `parts` covers them): no task, no clock.
    pub fn cells_fingerprint(&self, parts: &StateParts) -> Fingerprint {
        self.fingerprint_of(|kind| parts.covers(kind))
    }

    /// The fingerprint of what the tasks persist: files and tables, not
    /// what they hold in memory (cells, flags, locks' queues).
    pub fn persisted_fingerprint(&self) -> Fingerprint {
        self.fingerprint_of(|kind| matches!(kind, CellKind::Files | CellKind::Table))
    }

    fn fingerprint_of(&self, covers: impl Fn(CellKind) -> bool) -> Fingerprint {
        let mut s = self.state();
        let mut cells = Fingerprint::default();
        for (i, cell) in s.cells.iter_mut().enumerate() {
            if covers(cell.kind) {
                cells = cells.plus(cell.placed(i));
            }
        }
        cells
    }

    /// The fingerprint of the shared state and the live tasks (the clock
    /// and the monitors are added by the execution that owns them), and
    /// each task's identity in it (by number).
    ///
    /// Under a `symmetry`, the actors of each class are put in a canonical
    /// order first: by the fingerprint of what their tasks hold (which has
    /// no actor name in it), then by number. A task's identity is then its
    /// class, its actor's place in that order and its identity below its
    /// actor; the `Renamer` gives every actor's place for the monitors.
    pub fn fingerprint(
        &self,
        parts: &StateParts,
        symmetry: &Symmetry,
        h: &mut StateHasher,
    ) -> (Vec<Fingerprint>, Option<Arc<Renamer>>) {
        let cells = self.cells_fingerprint(parts);
        let s = self.state();
        let local = |slot: &TaskSlot| {
            let chain = if parts.task_local { slot.chain } else { Fingerprint::default() };
            (chain, slot.parked)
        };
        let mut identities: Vec<Fingerprint> = s.tasks.iter().map(|t| t.identity).collect();
        let mut renamer = None;
        if !symmetry.classes.is_empty() {
            let mut places = Vec::new();
            for (c, class) in symmetry.classes.iter().enumerate() {
                let mut order: Vec<(Fingerprint, TaskId)> = class
                    .iter()
                    .map(|&actor| {
                        let held = s
                            .tasks
                            .iter()
                            .filter(|t| t.alive && t.root == actor)
                            .fold(Fingerprint::default(), |sum, t| sum.plus(fingerprint(&(t.relative, local(t)))));
                        (held, actor)
                    })
                    .collect();
                order.sort();
                for (place, (_, actor)) in order.into_iter().enumerate() {
                    places.push((actor, c, place));
                }
            }
            for (t, slot) in s.tasks.iter().enumerate() {
                if let Some(&(_, c, place)) = places.iter().find(|(actor, _, _)| *actor == slot.root) {
                    identities[t] = fingerprint(&("symmetric", c as u64, place as u64, slot.relative));
                }
            }
            let names = places.iter().map(|&(actor, c, place)| (s.actors[actor].clone(), format!("#{c}.{place}")));
            renamer = Some(Arc::new(Renamer(names.collect())));
        }
        let mut tasks = Fingerprint::default();
        for (t, slot) in s.tasks.iter().enumerate().filter(|(_, t)| t.alive) {
            tasks = tasks.plus(fingerprint(&(identities[t], local(slot))));
        }
        h.u128(cells.0);
        h.u128(tasks.0);
        (identities, renamer)
    }
}

/// Actors that run the same operations on the same data (TLC's symmetry
/// sets): a state and any permutation of the actors of one class are one
/// state, so the search explores one representative of each. It holds only
/// if no task acts on which actor it is: a task that reads its own name
/// (`Cx::task`) voids the class (see `Loop::named`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Symmetry {
    /// Actor numbers, two or more per class.
    pub classes: Vec<Vec<TaskId>>,
}

/// Actor names to their place in a canonical order (`#class.place`), for
/// the task names monitors keep.
#[derive(Debug)]
pub struct Renamer(Vec<(Arc<str>, String)>);

impl Renamer {
    /// `name` with its actor replaced by the actor's place (`report-B/x` →
    /// `#0.1/x`), or as it is.
    pub fn rename<'a>(&self, name: &'a str) -> std::borrow::Cow<'a, str> {
        for (actor, place) in &self.0 {
            if let Some(rest) = name.strip_prefix(&**actor)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return format!("{place}{rest}").into();
            }
        }
        name.into()
    }
}

/// A task's coroutine: resumed for each turn, yields how it left the loop.
pub(super) type TaskCoroutine = corosensei::Coroutine<(), Leave, ()>;
pub(super) type Yielder = corosensei::Yielder<(), Leave>;

/// Stack size of a task's coroutine: only the pages a task touches are
/// committed, and serde needs more than loom's 32 KiB in a debug build.
const TASK_STACK: usize = 1 << 20;

thread_local! {
    /// Stacks of finished executions, reused (allocating one is an mmap).
    static STACKS: std::cell::RefCell<Vec<corosensei::stack::DefaultStack>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub(super) fn stack() -> corosensei::stack::DefaultStack {
    STACKS
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_else(|| corosensei::stack::DefaultStack::new(TASK_STACK).expect("a coroutine stack"))
}

/// Runs a controlled execution's tasks as coroutines, one turn at a time.
pub struct Executor {
    lp: Arc<Loop>,
    coroutines: Vec<Option<TaskCoroutine>>,
}

impl Executor {
    pub(super) fn new(lp: Arc<Loop>) -> Self {
        Executor { lp, coroutines: Vec::new() }
    }

    pub(super) fn add(&mut self, task: TaskId, coroutine: TaskCoroutine) {
        if self.coroutines.len() <= task {
            self.coroutines.resize_with(task + 1, || None);
        }
        self.coroutines[task] = Some(coroutine);
    }

    /// Runs one turn of `task` (which must be waiting). A panic in the
    /// model is returned, not propagated.
    pub(super) fn run_turn(&mut self, task: TaskId) -> Result<Turn, crate::platform::Panic> {
        self.lp.begin_turn(task);
        let coroutine = self.coroutines[task].as_mut().expect("a waiting task has a coroutine");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| coroutine.resume(())));
        match result {
            Ok(corosensei::CoroutineResult::Yield(leave)) => Ok(self.lp.end_turn(task, Some(leave))),
            Ok(corosensei::CoroutineResult::Return(())) => {
                let done = self.coroutines[task].take().expect("the coroutine just ran");
                STACKS.with(|s| s.borrow_mut().push(done.into_stack()));
                Ok(self.lp.end_turn(task, None))
            }
            Err(panic) => {
                // The coroutine unwound: its stack is free, but it is gone with it.
                self.coroutines[task] = None;
                Err(panic)
            }
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Unwinds every suspended task (dropping what its stack holds) and
        // keeps the stacks.
        for mut coroutine in self.coroutines.drain(..).flatten() {
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| coroutine.force_unwind()));
            if unwound.is_ok() {
                STACKS.with(|s| s.borrow_mut().push(coroutine.into_stack()));
            } else {
                std::mem::forget(coroutine);
            }
        }
    }
}
