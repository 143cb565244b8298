//! One stateful search across threads and processes, on timely dataflow
//! (`racecheck check --hosts FILE --process I --workers N`).
//!
//! Every worker (a thread of some process) owns the states whose place (a
//! hash of the shared state: see [`place`]) falls to it (`place % workers`,
//! the exchange timely routes by) and keeps the set of those it has
//! explored. A state reaches
//! its owner as the path of turns that leads to it from the start; the
//! owner drops it if seen and otherwise replays the path (tasks are
//! coroutines: a state cannot be sent, only the way to it) and explores
//! from it depth-first while the states it meets are its own, sending
//! every other worker's on as a path. Timely's progress tracking says when
//! no state is left anywhere: the search is done.
//!
//! The reduction is state caching, symmetry and sleep sets. Caching and
//! symmetry are functions of the state, and sleep sets combined with
//! caching as Godefroid's thesis (§5.3) does it cut transitions, never
//! states: a state keeps the tasks asleep on every visit so far, a visit
//! on which some of them are awake runs those, and a state's sleep set
//! travels with its path. The states explored are every reachable state,
//! the same set for any number of workers and processes. (The
//! shared-memory search's guarded reads depend on which path reaches a
//! state first, so they are left out here; its distinct states are fewer
//! and vary a little.) Each process receives every finding (ends, violations, counts),
//! so each reports the same verdict. A violation's counterexample is one
//! worker's, found again by one worker's search as `--workers` does; a
//! process lost, or a limit reached, ends the search `incomplete`.

mod net;

pub use net::Cluster;

use super::{Ended, Searched};
use crate::execution::{Controlled, Kept, Model};
use crate::explore::{DEADLOCK, Limits, Sleeper, asleep_after, panic_message, quiet};
use crate::history::History;
use crate::runtime::{Access, AccessKind, Fingerprint, Resource, StateParts, Symmetry, TaskId, Turn};
use crate::systems::Variant;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::dataflow::ProbeHandle;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::vec::{Broadcast, Filter};
use timely::dataflow::operators::{ConnectLoop, Feedback, Inspect, Operator, Probe};

/// What flows between workers.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Message {
    /// A state for its owner: the tasks run, turn by turn, from the start,
    /// the fingerprint they lead to, its place (see [`place`]) and the
    /// tasks asleep there.
    Visit { path: Vec<u32>, fingerprint: u128, place: u64, asleep: Vec<WireSleeper> },
    /// What a worker found, for every worker of every process.
    Finding(Finding),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Finding {
    /// A worker's work since it last counted.
    Counted { states: u64, executions: u64, sent: u64 },
    /// An end (enumerations only), as `outcome_key` writes it.
    End(String),
    /// The path to a state where an invariant broke.
    Violated(Vec<u32>),
    /// The path to a turn that panicked or a state that deadlocked, or a
    /// model found not deterministic.
    Broken { path: Vec<u32>, message: String },
    /// Symmetric actors, one of whose tasks read its name.
    Asymmetric(Vec<String>),
    /// A `[check] reachable` condition some execution reached.
    Reached(String),
    /// A worker reached a limit.
    Cut(String),
}

/// A task asleep at a state, as it travels: its number along the path to
/// the state, who it is there (its identity, for a visit by another path),
/// and what its turn from there touches.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct WireSleeper {
    task: u32,
    identity: u128,
    accesses: Vec<(WireResource, bool)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum WireResource {
    Cell(u64),
    Named(String),
    Lock(String),
}

impl WireSleeper {
    fn of((task, turn): &Sleeper, identity: Fingerprint) -> WireSleeper {
        let accesses = turn
            .accesses
            .iter()
            .map(|a| {
                let resource = match &a.resource {
                    Resource::Cell(c) => WireResource::Cell(*c as u64),
                    Resource::Named(n) => WireResource::Named(n.to_string()),
                    Resource::Lock(l) => WireResource::Lock(l.to_string()),
                };
                (resource, a.kind == AccessKind::Write)
            })
            .collect();
        WireSleeper { task: *task as u32, identity: identity.0, accesses }
    }

    /// The sleeper again: its turn holds what conflicts compare (the
    /// resources and whether each was written), not the locks held.
    fn sleeper(&self) -> Sleeper {
        let accesses = self
            .accesses
            .iter()
            .map(|(r, write)| Access {
                resource: match r {
                    WireResource::Cell(c) => Resource::Cell(*c as usize),
                    WireResource::Named(n) => Resource::Named(n.as_str().into()),
                    WireResource::Lock(l) => Resource::Lock(l.as_str().into()),
                },
                kind: if *write { AccessKind::Write } else { AccessKind::Read },
                locks: Vec::new(),
            })
            .collect();
        let task = self.task as TaskId;
        (task, Arc::new(Turn { task, accesses, ..Turn::default() }))
    }
}

/// The sleep set a state's successors start from: the tasks asleep at it,
/// and those already run from it on this visit (in the order run), with
/// their turns.
struct Asleep {
    at: Vec<Sleeper>,
    ran: Vec<Sleeper>,
}

/// Work a worker has yet to do.
enum Work {
    /// A state for its owner, with the path to it and the tasks asleep
    /// there: replay, explore the tasks awake (`wake`: on a visit after the
    /// first, only those asleep on every earlier visit and awake now).
    Visit { path: Vec<TaskId>, fingerprint: Fingerprint, asleep: Vec<Sleeper>, wake: Option<Vec<Fingerprint>> },
    /// From an explored state (the path to it, its fingerprint, what a
    /// replay does not rebuild, its sleep set), one more task to run.
    Branch { path: Vec<TaskId>, fingerprint: Fingerprint, kept: Rc<Kept>, task: TaskId, asleep: Rc<RefCell<Asleep>> },
}

/// What every worker of a process needs to start.
struct Setup {
    model: Model,
    variant: Variant,
    parts: StateParts,
    symmetry: Symmetry,
    limits: Limits,
    stop_at_violation: bool,
    enumerate: bool,
    start: Instant,
    root: Fingerprint,
    root_place: u64,
    /// Workers in all processes.
    total: usize,
    /// Processes.
    processes: usize,
    /// Executions run and states kept by this process's workers, for the
    /// limits (each process takes its share of them).
    executions: std::sync::atomic::AtomicUsize,
    states: std::sync::atomic::AtomicUsize,
}

/// How long a worker explores before it lets timely move what it sent.
const SLICE: Duration = Duration::from_millis(20);

/// How long past the time limit a process waits for the others before it
/// takes them for lost.
const GRACE: Duration = Duration::from_secs(10);

/// One worker's depth-first search over the states it owns.
struct Expander {
    model: Model,
    variant: Variant,
    parts: StateParts,
    symmetry: Symmetry,
    me: usize,
    peers: usize,
    /// The states this worker owns and has explored with no task asleep on
    /// every visit so far: no later visit can wake one (62% of #63's).
    seen: FxHashSet<Fingerprint>,
    /// Those with tasks asleep on every visit so far (by identity).
    asleep: FxHashMap<Fingerprint, Box<[Fingerprint]>>,
    work: Vec<Work>,
    stop_at_violation: bool,
    enumerate: bool,
    start: Instant,
    limits: Limits,
    /// This process's share of `--max-executions` and `--max-states`.
    max_executions: Option<usize>,
    max_states: Option<usize>,
    /// What this process's workers count against those.
    setup: Arc<Setup>,
    /// Not yet counted in a `Finding::Counted`.
    counted: (u64, u64, u64),
    told: BTreeSet<String>,
    stopped: bool,
    out: Vec<Message>,
}

impl Expander {
    fn new(setup: &Arc<Setup>, me: usize, peers: usize) -> Expander {
        let share = |max: Option<usize>| max.map(|m| m.div_ceil(setup.processes).max(1));
        Expander {
            model: setup.model.clone(),
            variant: setup.variant.clone(),
            parts: setup.parts,
            symmetry: setup.symmetry.clone(),
            me,
            peers,
            seen: FxHashSet::default(),
            asleep: FxHashMap::default(),
            work: Vec::new(),
            stop_at_violation: setup.stop_at_violation,
            enumerate: setup.enumerate,
            start: setup.start,
            limits: setup.limits.clone(),
            max_executions: share(setup.limits.max_executions),
            max_states: share(setup.limits.max_states),
            setup: setup.clone(),
            counted: (0, 0, 0),
            told: BTreeSet::new(),
            stopped: false,
            out: Vec::new(),
        }
    }

    fn owner(&self, place: u64) -> usize {
        owner(place, self.peers)
    }

    /// A state sent here: explored unless seen with no task asleep then
    /// that is awake now (or the search is over here).
    fn receive(&mut self, path: Vec<u32>, fingerprint: u128, asleep: Vec<WireSleeper>) {
        let fingerprint = Fingerprint(fingerprint);
        if self.stopped {
            return;
        }
        let identities: Vec<Fingerprint> = asleep.iter().map(|s| Fingerprint(s.identity)).collect();
        let Some(wake) = self.arrive(fingerprint, &identities) else { return };
        let path = path.into_iter().map(|t| t as TaskId).collect();
        let asleep = asleep.iter().map(WireSleeper::sleeper).collect();
        self.work.push(Work::Visit { path, fingerprint, asleep, wake });
    }

    /// A visit to a state this worker owns, with these tasks asleep:
    /// `None` if there is nothing to explore; `Some(None)` for a new state
    /// (every task awake is explored); `Some(Some(wake))` for a state seen
    /// before where these tasks, asleep on every visit so far, are awake
    /// now (Godefroid's sleep sets with caching).
    fn arrive(&mut self, fingerprint: Fingerprint, asleep: &[Fingerprint]) -> Option<Option<Vec<Fingerprint>>> {
        if self.seen.contains(&fingerprint) {
            return None;
        }
        let Some(stored) = self.asleep.get_mut(&fingerprint) else {
            if asleep.is_empty() {
                self.seen.insert(fingerprint);
            } else {
                self.asleep.insert(fingerprint, asleep.into());
            }
            self.kept_one();
            return Some(None);
        };
        let wake: Vec<Fingerprint> = stored.iter().copied().filter(|t| !asleep.contains(t)).collect();
        if wake.is_empty() {
            return None;
        }
        let still: Vec<Fingerprint> = stored.iter().copied().filter(|t| asleep.contains(t)).collect();
        if still.is_empty() {
            self.asleep.remove(&fingerprint);
            self.seen.insert(fingerprint);
        } else {
            *stored = still.into();
        }
        Some(Some(wake))
    }

    /// One more state kept.
    fn kept_one(&mut self) {
        self.counted.0 += 1;
        self.setup.states.fetch_add(1, Ordering::Relaxed);
    }

    fn find(&mut self, finding: Finding) {
        self.out.push(Message::Finding(finding));
    }

    /// Works until `until` or until nothing is left; then counts.
    fn run(&mut self, until: Instant) {
        while !self.stopped && Instant::now() < until {
            let Some(work) = self.work.pop() else { break };
            if let Some(why) = self.out_of_room() {
                self.find(Finding::Cut(why));
                self.stop();
                break;
            }
            self.setup.executions.fetch_add(1, Ordering::Relaxed);
            self.counted.1 += 1;
            self.limits.tick(None);
            self.execute(work);
        }
        if self.stopped {
            self.work.clear();
        }
        let reached = self.model.reached.names();
        for name in reached.difference(&self.told).cloned().collect::<Vec<_>>() {
            self.told.insert(name.clone());
            self.find(Finding::Reached(name));
        }
        let (states, executions, sent) = std::mem::take(&mut self.counted);
        if (states, executions, sent) != (0, 0, 0) {
            self.find(Finding::Counted { states, executions, sent });
        }
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.work.clear();
    }

    fn out_of_room(&self) -> Option<String> {
        if self.start.elapsed() >= self.limits.max_time {
            return Some(format!("{} reached", self.limits.time_limit()));
        }
        let (executions, states) =
            (self.setup.executions.load(Ordering::Relaxed), self.setup.states.load(Ordering::Relaxed));
        if let Some(max) = self.max_executions.filter(|&m| executions >= m) {
            return Some(format!("a process's share of the execution limit ({max}) reached"));
        }
        if let Some(max) = self.max_states.filter(|&m| states >= m) {
            return Some(format!("a process's share of the state limit ({max}) reached"));
        }
        None
    }

    fn broken(&mut self, path: &[TaskId], message: String) {
        self.find(Finding::Broken { path: wire(path), message });
        self.stop();
    }

    /// One execution: to the state `work` starts from, then on while the
    /// states met are this worker's and new.
    fn execute(&mut self, work: Work) {
        let history = History::new();
        let mut exec = Controlled::start(&self.model, &self.variant, &history);
        let (mut path, fingerprint, next, visit) = match work {
            Work::Visit { path, fingerprint, asleep, wake } => (path, fingerprint, None, Some((asleep, wake))),
            Work::Branch { path, fingerprint, kept, task, asleep } => {
                exec.replay();
                for &t in &path {
                    if let Err(panic) = exec.run_turn(t) {
                        return self
                            .broken(&path, format!("the model is not deterministic: {}", panic_message(&*panic)));
                    }
                }
                exec.resume(&kept);
                (path, fingerprint, Some((task, asleep)), None)
            }
        };
        if next.is_none() {
            for (k, &task) in path.iter().enumerate() {
                if !exec.waiting().contains(&task) {
                    return self.broken(
                        &path,
                        format!(
                            "the model is not deterministic: replaying a path another worker sent, task {task} did not \
                         wait for the loop at turn {k}"
                        ),
                    );
                }
                if let Err(panic) = exec.run_turn(task) {
                    return self.broken(&path[..=k], panic_message(&*panic));
                }
            }
        }
        let (now, identities) = exec.fingerprint(&self.parts, &self.symmetry);
        if now != fingerprint {
            return self.broken(&path, format!(
                "the model is not deterministic: replaying {} turns led to state {now:?}, earlier to {fingerprint:?}; \
                 a task keeps state the runtime does not see (a static, a thread-local, a step number it branches on)",
                path.len()
            ));
        }
        let (mut next, mut asleep) = match (next, visit) {
            (Some(next), _) => next,
            (None, Some((at, wake))) => match self.expand(exec, &path, fingerprint, &identities, at, wake) {
                Some((exec_back, task, asleep)) => {
                    exec = exec_back;
                    (task, asleep)
                }
                None => return,
            },
            (None, None) => unreachable!("a branch has its task, a visit its sleep set"),
        };
        loop {
            let turn = match exec.run_turn(next) {
                Ok(turn) => Arc::new(turn),
                Err(panic) => {
                    path.push(next);
                    return self.broken(&path, panic_message(&*panic));
                }
            };
            path.push(next);
            // The tasks asleep after this turn: those asleep before it, or
            // run from the same state before it, whose turn commutes with it.
            let at = {
                let mut before = asleep.borrow_mut();
                let at = asleep_after(before.at.iter().chain(&before.ran), &turn);
                before.ran.push((next, turn));
                at
            };
            let (fingerprint, identities) = exec.fingerprint(&self.parts, &self.symmetry);
            let place = place(&exec, fingerprint, &self.symmetry);
            if self.owner(place) != self.me {
                self.counted.2 += 1;
                let asleep = at.iter().map(|s| WireSleeper::of(s, identities[s.0])).collect();
                self.out.push(Message::Visit { path: wire(&path), fingerprint: fingerprint.0, place, asleep });
                return;
            }
            let asleep_ids: Vec<Fingerprint> = at.iter().map(|(t, _)| identities[*t]).collect();
            let Some(wake) = self.arrive(fingerprint, &asleep_ids) else { return };
            match self.expand(exec, &path, fingerprint, &identities, at, wake) {
                Some((exec_back, task, now_asleep)) => {
                    exec = exec_back;
                    (next, asleep) = (task, now_asleep);
                }
                None => return,
            }
        }
    }

    /// At a state to explore: judges it if it is new (`wake` is `None`),
    /// and queues every task to run from it but the first, which it returns
    /// to run now with the state's sleep set (`None`: nothing to run).
    fn expand(
        &mut self,
        exec: Controlled,
        path: &[TaskId],
        fingerprint: Fingerprint,
        identities: &[Fingerprint],
        at: Vec<Sleeper>,
        wake: Option<Vec<Fingerprint>>,
    ) -> Option<(Controlled, TaskId, Rc<RefCell<Asleep>>)> {
        let (exec, todo): (Controlled, Vec<TaskId>) = match &wake {
            // Seen before: its judgement and its end were made then.
            Some(wake) => {
                let todo = exec.waiting().into_iter().filter(|t| wake.contains(&identities[*t])).collect();
                (exec, todo)
            }
            None => {
                let exec = self.judge(exec, path)?;
                let todo = exec.waiting().into_iter().filter(|t| at.iter().all(|(s, _)| s != t)).collect();
                (exec, todo)
            }
        };
        let (&first, rest) = todo.split_first()?;
        let asleep = Rc::new(RefCell::new(Asleep { at, ran: Vec::new() }));
        if !rest.is_empty() {
            let kept = Rc::new(exec.kept());
            for &task in rest.iter().rev() {
                let (path, kept, asleep) = (path.to_vec(), kept.clone(), asleep.clone());
                self.work.push(Work::Branch { path, fingerprint, kept, task, asleep });
            }
        }
        Some((exec, first, asleep))
    }

    /// Judges a state new to the search: its symmetry, its invariants, and
    /// whether it is an end. The execution back if tasks are to run from it.
    fn judge(&mut self, exec: Controlled, path: &[TaskId]) -> Option<Controlled> {
        if let Some(actors) = super::named_actors(&exec, &self.symmetry) {
            self.find(Finding::Asymmetric(actors));
            self.stop();
            return None;
        }
        if exec.violation().is_some() && self.stop_at_violation {
            self.find(Finding::Violated(wire(path)));
            self.stop();
            return None;
        }
        if !exec.waiting().is_empty() {
            return Some(exec);
        }
        if exec.deadlocked() {
            self.broken(path, DEADLOCK.to_string());
            return None;
        }
        let outcome = exec.outcome();
        if outcome.violation.is_some() && self.stop_at_violation {
            self.find(Finding::Violated(wire(path)));
            self.stop();
        } else if self.enumerate {
            self.find(Finding::End(crate::explore::outcome_key(&outcome)));
        }
        None
    }
}

/// The worker that owns a state of this place: the one timely's exchange
/// routes it to.
fn owner(place: u64, peers: usize) -> usize {
    (place % peers as u64) as usize
}

/// What decides a state's owner: a hash of the data its tasks share
/// (`Shared` cells and files), not of where each task is or what it has
/// observed, nor of the runtime's flags and locks' queues. A turn that
/// writes no data (it only reads, takes or lets go of a lock, or sets a
/// flag) leaves the place as it was, so the state it leads to stays with
/// the worker that reached it, which goes on from it without sending a
/// path to replay. Any function of the state would be sound. Under a
/// symmetry the shared state is not canonical (the fingerprint is, over
/// the tasks' permutations), so there a state's place is its fingerprint.
fn place(exec: &Controlled, fingerprint: Fingerprint, symmetry: &Symmetry) -> u64 {
    if !symmetry.classes.is_empty() {
        return fingerprint.0 as u64;
    }
    exec.persisted_fingerprint().0 as u64
}

fn wire(path: &[TaskId]) -> Vec<u32> {
    path.iter().map(|&t| t as u32).collect()
}

/// One worker's part: builds the dataflow, runs it to the end, returns
/// every finding of every worker.
fn work_on(worker: &mut timely::worker::Worker, setup: &Arc<Setup>) -> Result<Vec<Finding>, String> {
    let (me, peers) = (worker.index(), worker.peers());
    let findings: Rc<RefCell<Vec<Finding>>> = Rc::default();
    let probe = ProbeHandle::new();
    let collected = findings.clone();
    worker.dataflow::<u64, _, _>(|scope| {
        let (handle, cycle) = scope.feedback::<Vec<Message>>(1);
        let route_message = |m: &Message| match m {
            Message::Visit { place, .. } => *place,
            Message::Finding(_) => 0,
        };
        let activator_scope = scope;
        let out = cycle.unary(Exchange::new(route_message), "explore", move |initial, info| {
            let activator = activator_scope.activator_for(info.address);
            let mut expander = Expander::new(setup, me, peers);
            let mut held = None;
            if owner(setup.root_place, peers) == me {
                expander.receive(Vec::new(), setup.root.0, Vec::new());
                held = Some(initial);
            }
            move |input, output| {
                input.for_each(|cap, data: &mut Vec<Message>| {
                    for message in data.drain(..) {
                        if let Message::Visit { path, fingerprint, asleep, .. } = message {
                            expander.receive(path, fingerprint, asleep);
                        }
                    }
                    if let Some(cap) = cap.retain_least(0)
                        && held
                            .as_ref()
                            .is_none_or(|h: &timely::dataflow::operators::Capability<u64>| cap.time() < h.time())
                    {
                        held = Some(cap);
                    }
                });
                if let Some(cap) = held.as_ref() {
                    expander.run(Instant::now() + SLICE);
                    let mut session = output.session(cap);
                    for message in expander.out.drain(..) {
                        session.give(message);
                    }
                }
                if expander.work.is_empty() {
                    held = None;
                } else {
                    activator.activate();
                }
            }
        });
        out.clone().filter(|m| matches!(m, Message::Visit { .. })).connect_loop(handle);
        out.filter(|m| matches!(m, Message::Finding(_)))
            .broadcast()
            .inspect(move |m| {
                if let Message::Finding(f) = m {
                    collected.borrow_mut().push(f.clone());
                }
            })
            .probe_with(&probe);
    });
    let give_up = setup.limits.max_time.saturating_add(GRACE);
    while !probe.done() {
        worker.step_or_park(Some(Duration::from_millis(10)));
        if setup.start.elapsed() > give_up {
            for dataflow in worker.installed_dataflows() {
                worker.drop_dataflow(dataflow);
            }
            return Err(format!(
                "the other processes did not finish within {:?} of the time limit: taken as lost",
                GRACE
            ));
        }
    }
    Ok(findings.take())
}

/// What one search on the cluster found, every process's findings together.
struct Gathered {
    states: usize,
    executions: usize,
    /// States sent from one worker to another.
    sent: usize,
    ends: BTreeSet<String>,
    violated: Option<Vec<u32>>,
    broken: Option<(Vec<u32>, String)>,
    asymmetric: Option<Vec<String>>,
    cut: Option<String>,
}

impl Gathered {
    fn of(findings: Vec<Finding>, model: &Model) -> Gathered {
        let mut g = Gathered {
            states: 0,
            executions: 0,
            sent: 0,
            ends: BTreeSet::new(),
            violated: None,
            broken: None,
            asymmetric: None,
            cut: None,
        };
        // The shortest path first, then the smallest: the same pick in every process.
        let first = |old: Option<Vec<u32>>, new: Vec<u32>| match old {
            Some(old) if (old.len(), &old) <= (new.len(), &new) => Some(old),
            _ => Some(new),
        };
        for finding in findings {
            match finding {
                Finding::Counted { states, executions, sent } => {
                    g.states += states as usize;
                    g.executions += executions as usize;
                    g.sent += sent as usize;
                }
                Finding::End(key) => {
                    g.ends.insert(key);
                }
                Finding::Violated(path) => g.violated = first(g.violated.take(), path),
                Finding::Broken { path, message } => {
                    let keep = g.broken.as_ref().is_some_and(|(old, _)| (old.len(), old) <= (path.len(), &path));
                    if !keep {
                        g.broken = Some((path, message));
                    }
                }
                Finding::Asymmetric(mut actors) => {
                    actors.sort();
                    if g.asymmetric.as_ref().is_none_or(|old| actors < *old) {
                        g.asymmetric = Some(actors);
                    }
                }
                Finding::Reached(name) => model.reached.insert(&name),
                Finding::Cut(why) => {
                    if g.cut.as_ref().is_none_or(|old| why < *old) {
                        g.cut = Some(why);
                    }
                }
            }
        }
        g
    }
}

/// Cluster searches this process has started: the processes check in
/// their handshake that they are at the same one.
static SEARCHES: AtomicU64 = AtomicU64::new(0);

/// Runs one search's workers in this process, connected to the other
/// processes; every finding of every worker, or why the search was lost.
fn run_workers(cluster: &Cluster, setup: &Arc<Setup>, sent: &Arc<AtomicU64>) -> Result<Vec<Finding>, String> {
    let threads = setup.limits.workers.max(1);
    let hooks = timely::communication::Hooks::default();
    let (builders, comms): (Vec<AllocatorBuilder>, Option<Box<dyn std::any::Any>>) = if cluster.networked() {
        let search = SEARCHES.fetch_add(1, Ordering::Relaxed);
        let digest = crate::runtime::Fingerprint(setup.root.0)
            .then(&format!("{}/{}/{search}/{threads}", setup.model.name, setup.variant))
            .0;
        let deadline = setup.limits.deadline_from(setup.start);
        let sockets = net::connect(cluster, digest, deadline, sent)?;
        let local = ProcessBuilder::new_typed_vector(threads, hooks.refill.clone(), None);
        let (tcp, guard) = initialize_networking_from_sockets(local, sockets, cluster.process(), threads, hooks)
            .map_err(|e| format!("process {}: {e}", cluster.process()))?;
        (tcp.into_iter().map(AllocatorBuilder::Tcp).collect(), Some(Box::new(guard)))
    } else {
        let (builders, _) = timely::CommunicationConfig::Process(threads).try_build()?;
        (builders, None)
    };
    let setup = setup.clone();
    let run = move |worker: &mut timely::worker::Worker| {
        quiet::quietly(|| {
            let caught = |f: &mut dyn FnMut() -> Result<Vec<Finding>, String>| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_message(&*p)))
            };
            let ran = caught(&mut || work_on(worker, &setup));
            // A worker that stopped early (a panic, a process given up on)
            // leaves its dataflow unfinished: dropped, or timely waits on
            // it. Dropping it may panic in turn on a broken connection.
            let dropped = caught(&mut || {
                for dataflow in worker.installed_dataflows() {
                    worker.drop_dataflow(dataflow);
                }
                Ok(Vec::new())
            });
            ran.and_then(|findings| dropped.map(|_| findings))
        })
    };
    let guards = timely::execute::execute_from(builders, Box::new(()), timely::WorkerConfig::default(), run)?;
    let results: Vec<Result<Result<Vec<Finding>, String>, String>> = guards
        .join()
        .into_iter()
        .map(|r| r.map_err(|_| "a worker stopped on a broken connection".to_string()))
        .collect();
    let mut first = None;
    let mut lost = None;
    for result in results {
        match result {
            Ok(Ok(findings)) => {
                first.get_or_insert(findings);
            }
            Ok(Err(why)) | Err(why) => {
                lost.get_or_insert(why);
            }
        }
    }
    // A process lost shows first in the communication threads, as the
    // connection to it breaks: their words say what happened.
    let broken = quiet::connection_errors();
    let lost = lost.map(|why| match broken.first() {
        Some(connection) => format!("{connection} ({why})"),
        None => why,
    });
    match (lost, comms) {
        (None, comms) => {
            // The connections close once every process is done; a process
            // lost at that moment leaves a communication thread panicked.
            let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| quiet::quietly(|| drop(comms))));
            match closed {
                Ok(()) => Ok(first.unwrap_or_default()),
                Err(_) => Err("a process was lost as the search ended".to_string()),
            }
        }
        (Some(why), comms) => {
            // Its threads may wait on a process that is gone: left behind.
            std::mem::forget(comms);
            Err(why)
        }
    }
}

/// What a cluster search found, as the shared-memory search reports it,
/// with its ends (enumerations).
pub(super) struct Clustered {
    pub searched: Searched,
    pub ends: BTreeSet<String>,
    /// Bytes this process sent to the others.
    pub bytes: u64,
}

/// Searches `model` on `cluster` with `limits.workers` workers in each
/// process; stops at the first violation when `stop_at_violation`; keeps
/// every end when `enumerate`.
pub(super) fn search(
    model: &Model,
    variant: &Variant,
    parts: &StateParts,
    limits: &Limits,
    cluster: &Cluster,
    stop_at_violation: bool,
    enumerate: bool,
) -> Clustered {
    let start = Instant::now();
    let model = if enumerate { model.keeping_final_states() } else { model.clone() };
    let names = |s: &Symmetry| {
        let actors = model.compiled.actors();
        s.classes.iter().map(|c| c.iter().map(|&a| actors[a].0.clone()).collect()).collect::<Vec<Vec<String>>>()
    };
    let mut symmetry = model.symmetry();
    let mut asymmetric: Option<Vec<String>> = None;
    let (mut executions, mut sent_states) = (0, 0);
    let sent = Arc::new(AtomicU64::new(0));
    loop {
        let (root, root_place) = {
            let history = History::new();
            let exec = Controlled::start(&model, variant, &history);
            let root = exec.fingerprint(parts, &symmetry).0;
            (root, place(&exec, root, &symmetry))
        };
        let setup = Arc::new(Setup {
            model: model.clone(),
            variant: variant.clone(),
            parts: *parts,
            symmetry: symmetry.clone(),
            limits: limits.clone(),
            stop_at_violation,
            enumerate,
            start,
            root,
            root_place,
            total: limits.workers.max(1) * cluster.processes(),
            processes: cluster.processes(),
            executions: Default::default(),
            states: Default::default(),
        });
        let found = run_workers(cluster, &setup, &sent).map(|f| Gathered::of(f, &model));
        let mut searched = Searched {
            executions: 0,
            states: 0,
            symmetry: Ok(Vec::new()),
            unguarded: None,
            guards: Default::default(),
            ended: None,
            handed: 0,
        };
        let g = match found {
            Ok(g) => g,
            Err(why) => {
                searched.executions = executions;
                searched.ended = Some((Ended::Incomplete(format!("the search lost a process: {why}")), executions));
                return Clustered { searched, ends: BTreeSet::new(), bytes: sent.load(Ordering::Relaxed) };
            }
        };
        executions += g.executions;
        sent_states += g.sent;
        if let Some(named) = g.asymmetric {
            asymmetric = Some(named);
            symmetry = Symmetry::default();
            continue;
        }
        searched.executions = executions;
        searched.states = g.states;
        searched.handed = sent_states;
        searched.symmetry = match &asymmetric {
            Some(named) => Err(format!("{} read its name, so the actors are not interchangeable", named.join(", "))),
            None => Ok(names(&symmetry)),
        };
        let replayed = |path: &[u32]| {
            let history = History::new();
            let mut exec = Controlled::start(&model, variant, &history);
            for &task in path {
                if exec.run_turn(task as TaskId).is_err() {
                    break;
                }
            }
            (exec, history)
        };
        searched.ended = if let Some(path) = g.violated {
            let (exec, _) = replayed(&path);
            let outcome = exec.outcome();
            match outcome.violation {
                Some(_) => Some((Ended::Violated(outcome), executions)),
                None => Some((
                    Ended::Broken(
                        "the model is not deterministic: a path that broke an invariant on one worker did not when \
                         replayed"
                            .into(),
                        History::new(),
                    ),
                    executions,
                )),
            }
        } else if let Some((path, message)) = g.broken {
            let (_, history) = replayed(&path);
            Some((Ended::Broken(message, history), executions))
        } else {
            g.cut.map(|why| {
                let workers = setup.total;
                let why = format!(
                    "{why} after {executions} executions and {} distinct states, on {workers} workers",
                    g.states
                );
                (Ended::Incomplete(why), executions)
            })
        };
        return Clustered { searched, ends: g.ends, bytes: sent.load(Ordering::Relaxed) };
    }
}
