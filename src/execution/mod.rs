//! One execution: the scenario's actors as tasks on a platform, each running
//! its operations against a freshly built system, judged by the invariants'
//! monitors event by event and at the end.
//!
//! Two ways to run one: [`execute`] lets the platform (loom, shuttle, real
//! threads) schedule the tasks and judges the history afterwards;
//! [`Controlled`] lets an explorer hand out every turn of an event loop,
//! judges each turn's events as they happen and gives the fingerprint of
//! the state between turns.

mod controlled;

pub use controlled::{Controlled, Kept};

use crate::history::{Event, History};
use crate::platform::Platform;
use crate::runtime::{Runtime, Semantics, StateHasher, Symmetry, TaskBody, fingerprint};
use crate::storage::{Disk, MemoryDisk};
use crate::systems::{Backend, Compiled, DynSystem, DynWorld, FinalState, Monitor, Variant};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// A scenario ready to run: system, parsed body, semantics, invariants.
#[derive(Clone)]
pub struct Model {
    /// `<system>/<file stem>`, e.g. `plan/stale-checkpoint-overwrite`.
    pub name: String,
    pub system: &'static dyn DynSystem,
    pub compiled: Arc<dyn Compiled>,
    pub semantics: Semantics,
    pub invariants: Vec<String>,
    /// Conditions of the system some execution must reach (`[check]
    /// reachable`), or a proof is vacuous.
    pub reachable: Vec<String>,
    /// The conditions the executions of the current search reached.
    pub reached: Reached,
    /// Keep every execution's final state in its outcome (enumerations
    /// compare them). Otherwise only a violating execution's is built.
    pub keep_final_states: bool,
}

/// The reachable conditions some execution of one search reached: shared
/// by every execution of the search (a search starts with a fresh one).
#[derive(Clone, Default)]
pub struct Reached(Arc<Mutex<BTreeSet<String>>>);

impl Reached {
    pub(crate) fn insert(&self, condition: &str) {
        let mut reached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !reached.contains(condition) {
            reached.insert(condition.to_string());
        }
    }

    pub fn names(&self) -> BTreeSet<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Model {
    /// A model of `compiled` that judges no invariant and looks for no
    /// condition (a scenario file adds them; tests of the explorers build
    /// models of small systems of their own).
    pub fn new(name: &str, system: &'static dyn DynSystem, compiled: Arc<dyn Compiled>, semantics: Semantics) -> Model {
        Model {
            name: name.to_string(),
            system,
            compiled,
            semantics,
            invariants: Vec::new(),
            reachable: Vec::new(),
            reached: Reached::default(),
            keep_final_states: false,
        }
    }

    /// The model, keeping every execution's final state.
    pub fn keeping_final_states(&self) -> Model {
        Model { keep_final_states: true, ..self.clone() }
    }

    /// The model for a new search: nothing reached yet.
    pub fn for_search(&self) -> Model {
        Model { reached: Reached::default(), ..self.clone() }
    }

    /// The `reachable` conditions no execution of this search reached.
    pub fn unreached(&self) -> Vec<String> {
        let reached = self.reached.names();
        self.reachable.iter().filter(|c| !reached.contains(*c)).cloned().collect()
    }

    pub fn actor_count(&self) -> usize {
        self.compiled.actors().len()
    }

    /// The actors that run the same operations on the same data, grouped
    /// (two or more to a class): candidates for symmetry reduction.
    pub fn symmetry(&self) -> Symmetry {
        let mut classes: Vec<(&str, Vec<usize>)> = Vec::new();
        for a in 0..self.actor_count() {
            let signature = self.compiled.signature(a);
            match classes.iter_mut().find(|(s, _)| *s == signature) {
                Some((_, actors)) => actors.push(a),
                None => classes.push((signature, vec![a])),
            }
        }
        Symmetry { classes: classes.into_iter().map(|(_, a)| a).filter(|a| a.len() > 1).collect() }
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub invariant: String,
    pub message: String,
    /// The step whose event broke it (`None`: judged at the end).
    pub step: Option<usize>,
}

/// What one execution did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The history: in full from a run of `execute`; from a controlled
    /// execution (stateful, dpor) only when it broke an invariant, the one
    /// case its explorer shows them (copying every end's history was a
    /// twentieth of an enumeration's time).
    pub events: Vec<Event>,
    /// The persisted state at the end: built when the execution broke an
    /// invariant or the model keeps final states.
    pub final_state: Option<Value>,
    /// The first invariant broken (in step order; at one step, in the
    /// scenario's order; end-of-execution checks last).
    pub violation: Option<Violation>,
    /// Every invariant the execution broke, in the scenario's order.
    pub broken: Vec<String>,
}

/// The scenario's invariants and reachable conditions as monitors of one
/// execution.
#[derive(Clone, Default)]
pub struct Monitors {
    entries: Vec<Watch>,
    first: Option<Violation>,
    reached: Reached,
}

struct Watch {
    invariant: String,
    monitor: Box<dyn Monitor>,
    /// Broken (an invariant) or reached (a condition): it sees no more.
    broken: bool,
    condition: bool,
}

impl Clone for Watch {
    fn clone(&self) -> Self {
        Watch {
            invariant: self.invariant.clone(),
            monitor: self.monitor.boxed_clone(),
            broken: self.broken,
            condition: self.condition,
        }
    }
}

impl Monitors {
    pub fn new(model: &Model) -> Monitors {
        let watch = |name: &String, condition| Watch {
            invariant: name.clone(),
            monitor: model.compiled.monitor(name),
            broken: false,
            condition,
        };
        let invariants = model.invariants.iter().map(|i| watch(i, false));
        let entries = invariants.chain(model.reachable.iter().map(|c| watch(c, true))).collect();
        Monitors { entries, first: None, reached: model.reached.clone() }
    }

    fn judge(&mut self, step: Option<usize>, mut verdict: impl FnMut(&mut dyn Monitor) -> Option<String>) {
        // A condition is reached by an event, never by the end of an
        // execution (a monitor for a name no system knows says so at the end).
        let at_end = step.is_none();
        for w in self.entries.iter_mut().filter(|w| !(w.broken || (at_end && w.condition))) {
            if let Some(message) = verdict(&mut *w.monitor) {
                w.broken = true;
                if w.condition {
                    self.reached.insert(&w.invariant);
                } else {
                    self.first.get_or_insert(Violation { invariant: w.invariant.clone(), message, step });
                }
            }
        }
    }

    /// Shows every monitor that still holds one more event.
    pub fn observe(&mut self, event: &Event) {
        self.judge(Some(event.step), |m| m.observe(event));
    }

    /// Judges the end of an execution that ran to completion.
    pub fn at_end(&mut self, events: &[Event], final_state: &FinalState) {
        self.judge(None, |m| m.at_end(events, final_state));
    }

    /// The first violation seen so far.
    pub fn violation(&self) -> Option<&Violation> {
        self.first.as_ref()
    }

    pub fn broken(&self) -> Vec<String> {
        self.entries.iter().filter(|w| w.broken && !w.condition).map(|w| w.invariant.clone()).collect()
    }

    /// The monitors' states (what their verdicts on the rest depend on).
    ///
    /// The reachable conditions stay out: a verdict never depends on them,
    /// and in #63 their state made a quarter more states. The price is on
    /// the safe side: a condition reachable only along a path the cache
    /// pruned is reported unreached (`vacuous`, a failure to look into),
    /// never a proof that did not happen.
    pub fn state_hash(&self, h: &mut StateHasher) {
        for w in self.entries.iter().filter(|w| !w.condition) {
            h.u64(w.broken as u64);
            if !w.broken {
                w.monitor.state_hash(h);
            }
        }
    }

    /// The outcome; the final state is built if `keep` or an invariant broke.
    fn outcome(self, events: Vec<Event>, final_state: FinalState, keep: bool) -> Outcome {
        let broken = self.broken();
        let final_state = (keep || self.first.is_some()).then(|| final_state.into_value());
        Outcome { events, final_state, violation: self.first, broken }
    }
}

/// Where an execution keeps its files.
pub enum DiskKind {
    /// In the model: every access an atomic step.
    Memory,
    /// A real directory (the `stress` explorer).
    Directory(std::path::PathBuf),
}

/// Starts every actor of `model` on `rt`: each runs its operations in
/// order, with an await between two (the next call arrives later).
fn start_actors<P: Backend>(
    model: &Model,
    world: &Arc<dyn DynWorld<P>>,
    rt: &Arc<Runtime<P>>,
) -> Vec<Option<P::JoinHandle>> {
    let actors = model.compiled.actors();
    actors
        .iter()
        .enumerate()
        .map(|(a, (name, _))| {
            let world = world.clone();
            let first = if world.op_count(a) > 0 { world.op_label(a, 0) } else { "".into() };
            rt.start(
                name.as_str().into(),
                fingerprint(model.compiled.signature(a)),
                first,
                Box::new(move |cx| {
                    for op in 0..world.op_count(a) {
                        if op > 0 {
                            cx.await_point();
                        }
                        cx.set_op(world.op_label(a, op));
                        // An operation is a call: what it observed dies with it.
                        cx.call(|cx| world.run(cx, a, op));
                    }
                }),
            )
        })
        .collect()
}

/// The operation label of the work a system does once every task finished.
const QUIESCENCE_OP: &str = "at quiescence";

/// What the world still does once every task has finished, as a task's
/// name and body (`None`: the execution is over).
fn quiescence<P: Platform>(world: &Arc<dyn DynWorld<P>>) -> Option<(Arc<str>, TaskBody<P>)> {
    let name = world.pending_at_quiescence()?;
    let world = world.clone();
    Some((name.into(), Box::new(move |cx: &mut crate::runtime::Cx<'_, P>| world.quiesce(cx))))
}

/// Runs every actor to completion and judges the invariants, recording
/// into `history` (which the caller keeps, to show a partial trace if the
/// execution panics or deadlocks). Must be called inside the backend's model
/// (loom / shuttle), if any.
pub fn execute<P: Backend>(model: &Model, variant: &Variant, disk: &DiskKind, history: &History) -> Outcome {
    let rt = Runtime::<P>::new(model.semantics, history.clone());
    let disk: Arc<dyn Disk> = match disk {
        DiskKind::Memory => Arc::new(MemoryDisk::new(&rt)),
        DiskKind::Directory(root) => Arc::new(crate::storage::DirectoryDisk::new(root.clone())),
    };
    let world: Arc<dyn DynWorld<P>> = P::world(&*model.compiled, &rt, disk, variant).into();
    for handle in start_actors(model, &world, &rt).into_iter().flatten() {
        if let Err(panic) = P::join(handle) {
            std::panic::resume_unwind(panic);
        }
    }
    if let Err(panic) = rt.join_spawned() {
        std::panic::resume_unwind(panic);
    }
    while let Some((task, body)) = quiescence(&world) {
        if let Err(panic) = rt.run_here(task, QUIESCENCE_OP.into(), body) {
            std::panic::resume_unwind(panic);
        }
    }
    let build = || world.final_state();
    let final_state = FinalState::new(&build);
    let events = history.events();
    let mut monitors = Monitors::new(model);
    for e in &events {
        monitors.observe(e);
    }
    monitors.at_end(&events, &final_state);
    monitors.outcome(events, final_state, model.keep_final_states)
}
