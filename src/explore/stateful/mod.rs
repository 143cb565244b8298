//! `stateful`: every reachable state of an event-loop model, each explored
//! once, with sleep sets.
//!
//! dpor runs one execution per order of the turns that conflict; siblings
//! that complete in any order multiply those orders, so its cost grows
//! factorially with the actors. Most of those orders end in the same state:
//! here each state between two turns is identified by its fingerprint (the
//! shared state, every live task's chain, the clock and the monitors'
//! states; see `runtime::turns`), and an execution that reaches a state
//! already explored stops there (TLC's fingerprint set, SPIN's state
//! hashing). The cost then grows with the number of distinct states.
//!
//! The search is a depth-first search over states, with stateless replay:
//! tasks are coroutines whose stacks cannot be copied, so each execution
//! replays the choices that lead to the state it branches from. Sleep sets
//! (Godefroid 1996) keep it from taking, from a state, a task whose turn
//! commutes with a turn already explored from an ancestor: that would only
//! reach states reached the other way. Sleep sets are combined with caching
//! the way Godefroid's thesis (§5.3) does it, which keeps every reachable
//! state reachable: a state is stored with the tasks that were asleep on
//! its first visit, and a later visit on which some of them are awake runs
//! those. Stateful DPOR (Yang et al. 2008) would cut more, but its summary
//! of explored subtrees is where such searches have gone wrong; sleep sets
//! need none.
//!
//! *Guarded reads* ([`guarded`]): a turn that only read what the locking
//! discipline keeps anyone else from writing before it is the only one run
//! from its state (a persistent set); the search checks the discipline as
//! it goes. In #63 such turns are `updatePlanJob`'s `loadPlan()` under
//! `planMutex`.
//!
//! *Workers.* One search runs on `Limits::workers` threads sharing the
//! states explored and handing branches to each other (see [`workers`]).
//! The ends reached and the verdict do not depend on their number. The
//! distinct states may, a little: which path reaches a state first decides
//! its sleep set, and so which successors a guarded read lets the search
//! skip; one worker's search is a fixed order, several workers' is not. A
//! violation (or a panic, a deadlock) several workers meet is found again
//! by one, so that the counterexample and its replay are one worker's.
//!
//! A fingerprint is only as good as the rule it rests on, that tasks keep
//! no state outside the runtime: [`determinism`] checks it on every state
//! reached twice.

use super::{
    DEADLOCK, Enumeration, Exchanged, Failure, Limits, Replay, Sleeper, Verdict, panic_message, quiet,
    verdict_for_panic,
};
use crate::execution::{Controlled, Kept, Model, Outcome};
use crate::history::History;
use crate::runtime::{Fingerprint, Semantics, StateParts, Symmetry, TaskId, Turn};
use crate::systems::Variant;
use determinism::CHECKED_TURNS;
use guarded::{Discipline, Guards};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use workers::{Pool, Sharded};

mod cluster;
mod determinism;
mod guarded;
mod workers;

pub use cluster::Cluster;

/// What the state-caching search may use to cut. Everything, except in
/// tests that switch a part off on purpose to show that the search then
/// gives wrong answers, or that compare a reduction with the search
/// without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reduction {
    /// What a state's fingerprint covers.
    pub parts: StateParts,
    pub sleep_sets: bool,
    /// Actors with the same operations are interchangeable (when none of
    /// their tasks reads its name; otherwise the search starts over without).
    pub symmetry: bool,
    /// Classes to take as interchangeable instead of those found, and
    /// whether a name read voids them (tests only: a symmetry that does not
    /// hold must show).
    pub given_symmetry: Option<Symmetry>,
    pub name_guard: bool,
    /// A lock holder's turn that only read what its lock guards is the only
    /// one run from its state.
    pub guarded_reads: bool,
    /// Writes are checked against the locks guarded reads relied on (only
    /// tests switch it off, to show what the reduction does without it).
    pub check_guards: bool,
    /// On a state reached again, check that its first turn leads where it
    /// led (the determinism check; only tests switch it off, to show what
    /// a reduction made wrong does without it).
    pub check_revisits: bool,
}

impl Default for Reduction {
    fn default() -> Self {
        Reduction {
            parts: StateParts::ALL,
            sleep_sets: true,
            symmetry: true,
            given_symmetry: None,
            name_guard: true,
            guarded_reads: true,
            check_guards: true,
            check_revisits: true,
        }
    }
}

/// A state on the current path.
struct Node {
    fingerprint: Fingerprint,
    /// Tasks waiting for the loop here (to check that a replay agrees).
    waiting: Vec<TaskId>,
    /// Each task's identity here, by number (canonical under a symmetry).
    identities: Vec<Fingerprint>,
    /// The task run from here in the execution in progress, and its turn.
    chosen: TaskId,
    ran: Option<Turn>,
    /// Tasks still to run from here.
    todo: Vec<TaskId>,
    /// Tasks already run from here, with their turns.
    done: Vec<Sleeper>,
    /// Tasks asleep here, with the turn each would run.
    sleep: Vec<Sleeper>,
    /// The monitors and tasks' chains here (a replay resumes them, instead
    /// of showing the monitors every event again and hashing every value
    /// each task read). Only where there is a branch left to take: a
    /// replay resumes only at such a node.
    kept: Option<Kept>,
}

/// A state explored (or being explored): 32 bytes, and 48 with its
/// fingerprint in the visited set (96 with a `Vec` and whole fingerprints).
struct Seen {
    /// Identities of the tasks asleep on every visit so far: the only ones
    /// not run from it.
    asleep: Box<[Fingerprint]>,
    /// The first task run from it and the state that turn led to.
    first: FirstTurn,
}

/// The first task run from a state and the state its turn led to, each by
/// the low 64 bits of its fingerprint (what the determinism check
/// compares: a false match is a one-in-2^64 chance); both zero: none yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FirstTurn {
    task: u64,
    led_to: u64,
}

impl FirstTurn {
    fn of(task: Fingerprint, led_to: Fingerprint) -> FirstTurn {
        FirstTurn { task: task.0 as u64, led_to: led_to.0 as u64 }
    }

    fn get(self) -> Option<FirstTurn> {
        (self != FirstTurn::default()).then_some(self)
    }
}

/// How one execution ended.
enum Ended {
    /// It reached a state explored before, or one whose every task is asleep.
    Pruned,
    /// Every task finished.
    End(Outcome),
    /// A task of a symmetric actor read its own name: the symmetry does not
    /// hold (the actors named).
    Asymmetric(Vec<String>),
    /// A write without the lock (or of something never written before)
    /// that guarded reads relied on (what was written, by whom).
    Unguarded(String),
    /// An invariant broke (the outcome so far).
    Violated(Outcome),
    /// The search cannot go on: a model panic, a deadlock (with the events
    /// so far), a model that is not deterministic.
    Broken(String, History),
    /// A limit was reached: time, executions or states.
    Cut,
    /// A search on a cluster stopped early (a limit, a process lost): why.
    Incomplete(String),
}

/// How a search ended.
struct Searched {
    executions: usize,
    states: usize,
    /// The classes of actors explored as interchangeable (by name), or why
    /// none were.
    symmetry: Result<Vec<Vec<String>>, String>,
    /// The writes that broke the locking discipline, if any did (the search
    /// started over after each).
    unguarded: Option<String>,
    /// For each resource written, the locks held at every write of it.
    guards: Guards,
    /// Why it stopped before it explored every state, at which execution
    /// (`None`: it explored them all).
    ended: Option<(Ended, usize)>,
    /// Branches one worker handed to another.
    handed: usize,
}

/// What the workers of one search share (see [`workers`]).
struct Shared<'a> {
    model: &'a Model,
    variant: &'a Variant,
    reduction: Reduction,
    /// The actors explored as interchangeable.
    symmetry: Symmetry,
    limits: &'a Limits,
    start: Instant,
    visited: Sharded<Seen>,
    /// Stop at the first violation (else: record every end).
    stop_at_violation: bool,
    discipline: Mutex<Discipline>,
    /// Executions started, by every worker.
    executions: AtomicUsize,
    /// Branches handed from one worker to another.
    handed: AtomicUsize,
    pool: Pool,
    /// What ended the search early, at which execution: the first worker
    /// to end it says.
    ended: Mutex<Option<(Ended, usize)>>,
    stopped: AtomicBool,
    /// Sees every end (or the violation that stopped the search).
    visit: &'a (dyn Fn(&Outcome) + Sync),
}

/// One worker: its depth-first search, a path of states from the start.
struct Worker<'s, 'a> {
    shared: &'s Shared<'a>,
    path: Vec<Node>,
}

impl Shared<'_> {
    /// The time is up, the states fill the memory allowed, or another
    /// worker ended the search.
    fn out_of_room(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
            || self.start.elapsed() >= self.limits.max_time
            || self.limits.max_states.is_some_and(|max| self.visited.len() >= max)
    }

    /// Ends the search (unless a worker already did): what ended it, at
    /// which execution.
    fn end(&self, ended: Ended, execution: usize) {
        workers::lock(&self.ended).get_or_insert((ended, execution));
        self.stopped.store(true, Ordering::Relaxed);
        self.pool.stop();
    }

    /// The first task run from `state` and where it led, if one was run.
    fn first(&self, state: &Fingerprint) -> Option<FirstTurn> {
        self.visited.with(state, |v| v.get(state).and_then(|seen| seen.first.get()))
    }
}

impl Worker<'_, '_> {
    /// Runs executions until the search is over; `root`: this worker starts
    /// the search, the others wait for a branch.
    fn work(mut self, root: bool) {
        let shared = self.shared;
        // A worker that panics (a bug here, not in the model: a model's
        // panics are caught by its turn) ends the search, so that the others
        // do not wait for it forever; the panic then reaches the caller.
        struct StopOnPanic<'p>(&'p Pool);
        impl Drop for StopOnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.stop();
                }
            }
        }
        let _stop = StopOnPanic(&shared.pool);
        if !root {
            match shared.pool.take() {
                Some(branch) => self.path = branch,
                None => return,
            }
        }
        loop {
            if shared.out_of_room() {
                return shared.end(Ended::Cut, shared.executions.load(Ordering::Relaxed));
            }
            let reserved = shared.executions.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                shared.limits.executions_left(n).then_some(n + 1)
            });
            let execution = match reserved {
                Ok(n) => n + 1,
                Err(n) => return shared.end(Ended::Cut, n),
            };
            shared.limits.tick(Some(shared.visited.len()));
            match self.execute() {
                Ended::Pruned => {}
                Ended::End(outcome) => (shared.visit)(&outcome),
                Ended::Violated(outcome) => {
                    (shared.visit)(&outcome);
                    return shared.end(Ended::Violated(outcome), execution);
                }
                other => return shared.end(other, execution),
            }
            while shared.pool.hungry() {
                let Some(branch) = self.split() else { break };
                shared.handed.fetch_add(1, Ordering::Relaxed);
                shared.pool.give(branch);
            }
            if !self.backtrack() {
                match shared.pool.take() {
                    Some(branch) => self.path = branch,
                    None => return,
                }
            }
        }
    }

    /// Hands over the branch at the shallowest state with one left (the
    /// one this worker would take last there): the path to that state,
    /// whose last node's choice is the branch. The turn being explored
    /// from there goes into the branch's sleep set, as a sibling explored
    /// before it would on one worker.
    fn split(&mut self) -> Option<Vec<Node>> {
        let k = self.path.iter().position(|n| !n.todo.is_empty())?;
        let mut branch: Vec<Node> = self.path[..k].iter().map(Node::replayed).collect();
        let node = &mut self.path[k];
        let task = node.todo.remove(0);
        let ran = node.ran.clone().expect("between executions every node on the path ran its turn");
        let mut done = node.done.clone();
        done.push((node.chosen, Arc::new(ran)));
        // A node whose last branch is handed over is never resumed here.
        let kept = if node.todo.is_empty() { node.kept.take() } else { node.kept.clone() };
        branch.push(Node { chosen: task, done, sleep: node.sleep.clone(), kept, ..node.replayed() });
        Some(branch)
    }

    /// The sleep set of the state after `node`'s turn `ran`.
    fn sleep_after(&self, node: &Node, ran: &Turn) -> Vec<Sleeper> {
        if !self.shared.reduction.sleep_sets {
            return Vec::new();
        }
        super::asleep_after(node.sleep.iter().chain(&node.done), ran)
    }

    /// Moves to the next branch to explore; `false` when there is none.
    fn backtrack(&mut self) -> bool {
        while let Some(node) = self.path.last_mut() {
            if let Some(next) = node.todo.pop() {
                let ran = node.ran.take().expect("the chosen task ran");
                node.done.push((node.chosen, Arc::new(ran)));
                node.chosen = next;
                return true;
            }
            self.path.pop();
        }
        false
    }

    /// Runs one execution: replays the path, then explores new states
    /// until one was seen before, every task is asleep, or the end.
    fn execute(&mut self) -> Ended {
        let shared = self.shared;
        let history = History::new();
        let mut exec = Controlled::start(shared.model, shared.variant, &history);
        let broken = |message: String| Ended::Broken(message, history.clone());
        // Replay the path (the last node's choice is the new branch): the
        // turns before it as a replay, the new one as it is.
        let Some(last) = self.path.len().checked_sub(1) else { return self.explore(exec, history) };
        exec.replay();
        for k in 0..=last {
            let waiting = exec.waiting();
            if waiting != self.path[k].waiting {
                return broken(format!(
                    "the model is not deterministic: at turn {k} tasks {waiting:?} waited for the loop, earlier {:?}",
                    self.path[k].waiting
                ));
            }
            if k == last {
                exec.resume(self.path[k].kept.as_ref().expect("a node with a branch left keeps its state"));
                // Where the new branch starts, the replay must be back in the
                // state it left (a model keeping a counter across executions is
                // not). The chains were put back, so this compares the shared
                // state, the clock and who is alive; a task's hidden state
                // shows at revisits and in the first execution run again.
                if shared.reduction.check_revisits {
                    let (now, _) = exec.fingerprint(&shared.reduction.parts, &shared.symmetry);
                    if now != self.path[k].fingerprint {
                        return broken(format!(
                            "the model is not deterministic: replaying the same {k} turns led to state {now:?}, \
                             earlier to {:?}; a task keeps state the runtime does not see (a static, a \
                             thread-local, a step number it branches on)",
                            self.path[k].fingerprint
                        ));
                    }
                }
            }
            match exec.run_turn(self.path[k].chosen) {
                Ok(turn) if k == last => {
                    if let Err(message) = self.note_writes(&turn, &exec) {
                        return Ended::Unguarded(message);
                    }
                    self.path[k].ran = Some(turn)
                }
                Ok(_) => {}
                Err(panic) => return broken(panic_message(&*panic)),
            }
        }
        self.explore(exec, history)
    }

    /// Explores new states from where `exec` is until one was seen before,
    /// every task is asleep, or the end.
    fn explore(&mut self, mut exec: Controlled, history: History) -> Ended {
        let shared = self.shared;
        let broken = |message: String| Ended::Broken(message, history.clone());
        loop {
            if shared.out_of_room() {
                return Ended::Cut;
            }
            if let Some(named) = self.asymmetric(&exec) {
                return Ended::Asymmetric(named);
            }
            if exec.violation().is_some() && shared.stop_at_violation {
                return Ended::Violated(exec.outcome());
            }
            let (fingerprint, identities) = exec.fingerprint(&shared.reduction.parts, &shared.symmetry);
            let waiting = exec.waiting();
            let sleep = match self.path.last() {
                Some(parent) => {
                    let ran = parent.ran.as_ref().expect("the parent's turn ran");
                    let sleep = self.sleep_after(parent, ran);
                    let first = FirstTurn::of(parent.identities[parent.chosen], fingerprint);
                    shared.visited.with(&parent.fingerprint, |visited| {
                        let seen = visited.get_mut(&parent.fingerprint).expect("every node is visited");
                        if seen.first.get().is_none() {
                            seen.first = first;
                        }
                    });
                    sleep
                }
                None => Vec::new(),
            };
            let asleep: Vec<Fingerprint> = sleep.iter().map(|(t, _)| identities[*t]).collect();
            // The tasks to run from here, or (`Err`) the state was explored
            // with every task awake now, and its first turn and where it led.
            let todo = shared.visited.with(&fingerprint, |visited| match visited.get_mut(&fingerprint) {
                Some(seen) => {
                    let wake: Vec<Fingerprint> = seen.asleep.iter().copied().filter(|t| !asleep.contains(t)).collect();
                    if wake.is_empty() {
                        return Err(seen.first.get());
                    }
                    seen.asleep = seen.asleep.iter().copied().filter(|t| asleep.contains(t)).collect();
                    Ok(waiting.iter().copied().filter(|&t| wake.contains(&identities[t])).collect::<Vec<TaskId>>())
                }
                None => {
                    let stored = waiting.iter().map(|&t| identities[t]).filter(|t| asleep.contains(t)).collect();
                    visited.insert(fingerprint, Seen { asleep: stored, first: FirstTurn::default() });
                    Ok(waiting.iter().copied().filter(|t| sleep.iter().all(|(s, _)| s != t)).collect())
                }
            });
            let todo = match todo {
                Ok(todo) => todo,
                Err(first) => {
                    let checked = shared.check_determinism(&mut exec, first, fingerprint, &identities, CHECKED_TURNS);
                    return match checked {
                        Ok(()) => Ended::Pruned,
                        Err(message) => broken(message),
                    };
                }
            };
            if waiting.is_empty() {
                if exec.deadlocked() {
                    return broken(DEADLOCK.to_string());
                }
                let outcome = exec.outcome();
                return if outcome.violation.is_some() && shared.stop_at_violation {
                    Ended::Violated(outcome)
                } else {
                    Ended::End(outcome)
                };
            }
            if todo.is_empty() {
                return Ended::Pruned;
            }
            // A lock holder (see the module docs), else the task that ran
            // last, if it may: fewest context switches first.
            let previous = self.path.last().map(|p| p.chosen);
            let mut todo = todo;
            let holders = if shared.reduction.guarded_reads { exec.lock_holders() } else { Vec::new() };
            let holder = todo.iter().position(|t| holders.contains(t));
            let at = holder.or_else(|| previous.and_then(|p| todo.iter().position(|&t| t == p))).unwrap_or(0);
            let chosen = todo.remove(at);
            todo.reverse(); // popped from the back: the rest in start order
            let kept = (!todo.is_empty()).then(|| exec.kept());
            let node =
                Node { fingerprint, waiting, identities, chosen, ran: None, todo, done: Vec::new(), sleep, kept };
            self.path.push(node);
            match exec.run_turn(chosen) {
                Ok(turn) => {
                    if let Err(message) = self.note_writes(&turn, &exec) {
                        return Ended::Unguarded(message);
                    }
                    let alone = shared.reduction.guarded_reads && self.guarded_read(&turn);
                    let node = self.path.last_mut().expect("just pushed");
                    if alone {
                        node.todo.clear();
                        node.kept = None;
                    }
                    node.ran = Some(turn);
                }
                Err(panic) => return broken(panic_message(&*panic)),
            }
        }
    }

    /// The symmetric actors some task of which read its own name, if any.
    fn asymmetric(&self, exec: &Controlled) -> Option<Vec<String>> {
        if !self.shared.reduction.name_guard {
            return None;
        }
        named_actors(exec, &self.shared.symmetry)
    }
}

/// The actors of `symmetry`'s classes some task of which read its own name
/// (then they are not interchangeable), if any.
fn named_actors(exec: &Controlled, symmetry: &Symmetry) -> Option<Vec<String>> {
    if symmetry.classes.is_empty() {
        return None;
    }
    let named = exec.named();
    let actors: Vec<String> = symmetry
        .classes
        .iter()
        .flatten()
        .filter(|a| named.contains(a))
        .map(|&a| exec.task_name(a).to_string())
        .collect();
    (!actors.is_empty()).then_some(actors)
}

impl Node {
    /// This node as a replay needs it on another worker's path: who waited
    /// and who ran (no branches left, no sleep set, nothing kept).
    fn replayed(&self) -> Node {
        Node {
            fingerprint: self.fingerprint,
            waiting: self.waiting.clone(),
            identities: self.identities.clone(),
            chosen: self.chosen,
            ran: None,
            todo: Vec::new(),
            done: Vec::new(),
            sleep: Vec::new(),
            kept: None,
        }
    }
}

/// Explores every state, handing each end (or the first violation) to
/// `visit`; stops at the first violation when `stop_at_violation`.
fn search(
    model: &Model,
    variant: &Variant,
    reduction: Reduction,
    limits: &Limits,
    stop_at_violation: bool,
    visit: &(dyn Fn(&Outcome) + Sync),
) -> Searched {
    let start = Instant::now();
    let symmetry = match (&reduction.given_symmetry, reduction.symmetry) {
        (Some(given), _) => given.clone(),
        (None, true) => model.symmetry(),
        (None, false) => Symmetry::default(),
    };
    let names = |s: &Symmetry| {
        let actors = model.compiled.actors();
        s.classes.iter().map(|c| c.iter().map(|&a| actors[a].0.clone()).collect()).collect::<Vec<Vec<String>>>()
    };
    // A reduction whose premise fails starts the search over: without the
    // symmetry, or knowing the write that broke the locking discipline (no
    // read of what it wrote is then taken as guarded by a lock it was not
    // made under). The reasons go in the report.
    let (mut guards, mut symmetry) = (Guards::new(), symmetry);
    let (mut executions, mut handed, mut unguarded, mut asymmetric) = (0, 0, Vec::new(), None);
    loop {
        let reduction = reduction.clone();
        let limits = limits.remaining(limits.max_time, executions);
        let shared = Shared {
            model,
            variant,
            reduction,
            symmetry: symmetry.clone(),
            limits: &limits,
            start,
            visited: Sharded::new(limits.workers),
            stop_at_violation,
            discipline: Mutex::new(Discipline::knowing(guards)),
            executions: AtomicUsize::new(0),
            handed: AtomicUsize::new(0),
            pool: Pool::new(limits.workers.max(1)),
            ended: Mutex::new(None),
            stopped: AtomicBool::new(false),
            visit,
        };
        let mut searched = search_with(shared);
        // Executions count from the start of the whole search, restarts
        // included: the one that ended it is named so too.
        searched.executions += executions;
        if let Some((_, at)) = searched.ended.as_mut() {
            *at += executions;
        }
        executions = searched.executions;
        searched.handed += handed;
        handed = searched.handed;
        guards = std::mem::take(&mut searched.guards);
        match searched.ended {
            Some((Ended::Unguarded(why), _)) => unguarded.push(why),
            Some((Ended::Asymmetric(named), _)) => {
                asymmetric = Some(named);
                symmetry = Symmetry::default();
            }
            _ => {
                searched.symmetry = match asymmetric {
                    Some(named) => {
                        Err(format!("{} read its name, so the actors are not interchangeable", named.join(", ")))
                    }
                    None => Ok(names(&symmetry)),
                };
                searched.unguarded = (!unguarded.is_empty()).then(|| unguarded.join("; "));
                return searched;
            }
        }
    }
}

/// One search, on `limits.workers` workers: the calling thread and as many
/// more as that takes.
fn search_with(shared: Shared) -> Searched {
    let workers = shared.limits.workers.max(1);
    std::thread::scope(|scope| {
        for _ in 1..workers {
            let worker = Worker { shared: &shared, path: Vec::new() };
            scope.spawn(|| quiet::quietly(|| worker.work(false)));
        }
        quiet::quietly(|| Worker { shared: &shared, path: Vec::new() }.work(true));
    });
    let executions = shared.executions.load(Ordering::Relaxed);
    let mut ended = workers::lock(&shared.ended).take();
    if ended.is_none() {
        ended = shared.run_first_again().err().map(|e| (Ended::Broken(e, History::new()), executions));
    }
    let states = shared.visited.len();
    let guards = shared.discipline.into_inner().unwrap_or_else(|e| e.into_inner()).into_guards();
    let handed = shared.handed.load(Ordering::Relaxed);
    Searched { executions, states, symmetry: Ok(Vec::new()), unguarded: None, guards, ended, handed }
}

fn refuse_threads(model: &Model) -> Option<String> {
    (model.semantics != Semantics::EventLoop).then(|| {
        "the stateful explorer explores the turns of an event loop; this scenario runs under threads semantics, \
         where every shared access is a scheduling point: use the exhaustive explorer"
            .to_string()
    })
}

/// What a search found and what it stands on.
pub(super) struct Found {
    pub verdict: Verdict,
    pub executions: usize,
    pub states: usize,
    /// See [`super::Report::symmetry`].
    pub symmetry: Result<Vec<Vec<String>>, String>,
    /// See [`super::Report::unguarded`].
    pub unguarded: Option<String>,
    /// See [`super::Report::exchanged`].
    pub exchanged: Option<Exchanged>,
}

/// The verdict of a search, with the executions and distinct states it took.
pub(super) fn run(model: &Model, variant: &Variant, limits: &Limits) -> Found {
    if let Some(reason) = refuse_threads(model) {
        let verdict = Verdict::Incomplete { reason };
        return Found { verdict, executions: 0, states: 0, symmetry: Ok(Vec::new()), unguarded: None, exchanged: None };
    }
    let start = Instant::now();
    let (mut searched, exchanged) = match &limits.cluster {
        Some(cluster) => {
            let clustered = cluster::search(model, variant, &StateParts::ALL, limits, cluster, true, false);
            let exchanged = Exchanged { states: clustered.searched.handed, bytes: clustered.bytes };
            (clustered.searched, Some(exchanged))
        }
        None => (search(model, variant, Reduction::default(), limits, true, &|_| {}), None),
    };
    let workers = limits.workers.max(1) * limits.cluster.as_ref().map_or(1, |c| c.processes());
    // Several workers' execution numbers are not reproducible (`Some`: how many).
    let mut numbered_by = None;
    // Which violation (or panic, or deadlock) several workers meet first
    // depends on timing. One worker, whose search runs in a fixed order,
    // finds it again, so that the counterexample and its replay do not
    // depend on the number of workers; only if it runs out of time does
    // the workers' own stand.
    let found_first = matches!(searched.ended, Some((Ended::Violated(_) | Ended::Broken(..), _)));
    if (workers > 1 || limits.cluster.is_some()) && found_first {
        let left = limits.max_time.saturating_sub(start.elapsed());
        let one = Limits { workers: 1, cluster: None, ..limits.remaining(left, searched.executions) };
        let again = search(model, variant, Reduction::default(), &one, true, &|_| {});
        let spent = searched.executions + again.executions;
        match again.ended {
            Some((Ended::Cut, _)) => numbered_by = Some(workers),
            None => {
                let reason = format!(
                    "the model is not deterministic: {workers} workers met a violation or a panic that one worker, \
                     searching every state, did not"
                );
                let verdict = Verdict::Incomplete { reason };
                let (states, symmetry, unguarded) = (again.states, again.symmetry, again.unguarded);
                return Found { verdict, executions: spent, states, symmetry, unguarded, exchanged };
            }
            Some(_) => searched = again,
        }
        searched.executions = spent;
    }
    let (executions, states) = (searched.executions, searched.states);
    let replay = |execution| match numbered_by {
        None => Replay::Stateful { execution },
        Some(workers) => Replay::StatefulWorkers { workers, execution },
    };
    let verdict = match searched.ended {
        None => Verdict::Proved { bound: None },
        Some((Ended::Violated(outcome), execution)) => {
            let violation = outcome.violation.expect("a violated end has a violation");
            let replay = replay(execution);
            Verdict::Violation(Box::new(Failure::new(violation, outcome.events, outcome.final_state, replay)))
        }
        Some((Ended::Broken(message, history), execution)) if !message.starts_with("the model is not") => {
            verdict_for_panic(message, history.events(), replay(execution))
        }
        Some((Ended::Broken(reason, _), _)) => Verdict::Incomplete { reason },
        Some((Ended::Cut, _)) => Verdict::Incomplete { reason: limits.cut_reason(executions, Some(states)) },
        Some((Ended::Incomplete(reason), _)) => Verdict::Incomplete { reason },
        Some((Ended::Pruned | Ended::End(_) | Ended::Asymmetric(_) | Ended::Unguarded(_), _)) => {
            unreachable!("the search goes on past these")
        }
    };
    Found { verdict, executions, states, symmetry: searched.symmetry, unguarded: searched.unguarded, exchanged }
}

/// Every distinct end (see [`super::outcomes`]), with executions and states.
pub(super) fn outcomes(model: &Model, variant: &Variant, reduction: Reduction, limits: &Limits) -> Enumeration {
    if let Some(reason) = refuse_threads(model) {
        return Enumeration { ends: BTreeSet::new(), executions: 0, states: Some(0), cut: Some(reason), handed: 0 };
    }
    let (searched, ends) = match &limits.cluster {
        Some(cluster) => {
            let clustered = cluster::search(model, variant, &reduction.parts, limits, cluster, false, true);
            (clustered.searched, clustered.ends)
        }
        None => {
            let ends = Mutex::new(BTreeSet::new());
            let searched = search(&model.keeping_final_states(), variant, reduction, limits, false, &|outcome| {
                workers::lock(&ends).insert(super::outcome_key(outcome));
            });
            (searched, ends.into_inner().unwrap_or_else(|e| e.into_inner()))
        }
    };
    let cut = match searched.ended {
        None => None,
        Some((Ended::Broken(message, _) | Ended::Incomplete(message), _)) => Some(message),
        Some(_) => Some(limits.cut_reason(searched.executions, Some(searched.states))),
    };
    Enumeration { ends, executions: searched.executions, states: Some(searched.states), cut, handed: searched.handed }
}
