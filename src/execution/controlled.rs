//! An execution whose event loop an explorer hands out, turn by turn.
//!
//! The explorer asks who waits for the loop, runs one turn of a task it
//! picks, and may ask between two turns for the state's fingerprint. The
//! monitors see each turn's events as soon as it ends, so an execution can
//! stop at the turn that breaks an invariant; one that stops early is
//! dropped, its tasks unwound.

use super::{Model, Monitors, Outcome, Violation, start_actors};
use crate::history::History;
use crate::platform::{Panic, Std};
use crate::runtime::{Fingerprint, Runner, Runtime, StateHasher, StateParts, Symmetry, TaskId, Turn, fingerprint};
use crate::storage::{Disk, MemoryDisk};
use crate::systems::{Backend, DynWorld, FinalState, Variant};
use std::sync::Arc;

/// What a replay does not rebuild of a state (it runs no monitor and
/// hashes nothing tasks observe): kept by the explorer for each state it
/// may branch from.
#[derive(Clone)]
pub struct Kept {
    monitors: Monitors,
    chains: Vec<(Fingerprint, Vec<Fingerprint>)>,
}

/// One controlled execution of an event-loop model, on the memory disk.
pub struct Controlled {
    rt: Arc<Runtime<Std>>,
    runner: Runner<Std>,
    world: Arc<dyn DynWorld<Std>>,
    history: History,
    monitors: Monitors,
    /// Events the monitors have seen (or skipped, while replaying).
    judged: usize,
    /// Turns are a replay: no footprints, no monitors, no chains.
    replaying: bool,
    keep_final_state: bool,
}

impl Controlled {
    /// Builds the world and registers the actors; no turn has run yet.
    pub fn start(model: &Model, variant: &Variant, history: &History) -> Controlled {
        let rt = Runtime::<Std>::controlled(history.clone());
        let disk: Arc<dyn Disk> = Arc::new(MemoryDisk::new(&rt));
        let world: Arc<dyn DynWorld<Std>> = Std::world(&*model.compiled, &rt, disk, variant).into();
        let started = start_actors(model, &world, &rt);
        debug_assert!(started.iter().all(Option::is_none), "a controlled runtime runs no threads");
        let runner = rt.executor();
        let monitors = Monitors::new(model);
        let keep_final_state = model.keep_final_states;
        let controlled = Controlled {
            rt,
            runner,
            world,
            history: history.clone(),
            monitors,
            judged: 0,
            replaying: false,
            keep_final_state,
        };
        controlled.start_quiescence();
        controlled
    }

    /// No fingerprint will be asked for: tasks keep no chains (cheaper
    /// turns, for an explorer that keeps no states).
    pub fn unfingerprinted(self) -> Controlled {
        self.lp().unfingerprinted();
        self
    }

    /// The tasks waiting for the loop, in start order.
    pub fn waiting(&self) -> Vec<TaskId> {
        self.lp().waiting()
    }

    /// The tasks holding a FIFO mutex (each acquired it and has not released it).
    pub fn lock_holders(&self) -> Vec<TaskId> {
        self.lp().lock_holders()
    }

    /// Every task is blocked on a FIFO mutex while none waits for the loop.
    pub fn deadlocked(&self) -> bool {
        self.lp().none_waiting() && !self.lp().idle()
    }

    pub fn task_name(&self, task: TaskId) -> Arc<str> {
        self.lp().task_name(task)
    }

    fn lp(&self) -> &crate::runtime::Loop {
        self.rt.controlled_loop().expect("a controlled runtime")
    }

    /// Runs one turn of `task`, a waiting task, and shows its events to the
    /// monitors. A panic in the model is returned.
    pub fn run_turn(&mut self, task: TaskId) -> Result<Turn, Panic> {
        let turn = self.runner.run_turn(task)?;
        self.start_quiescence();
        if self.replaying {
            return Ok(turn);
        }
        let monitors = &mut self.monitors;
        let judged = &mut self.judged;
        self.history.with_events_from(*judged, |events| {
            for e in events {
                monitors.observe(e);
            }
            *judged += events.len();
        });
        Ok(turn)
    }

    /// Once no task waits for the loop or a lock, what the world still does
    /// on its own (due timers) starts as one more task: the execution ends
    /// when there is nothing left.
    fn start_quiescence(&self) {
        if self.lp().idle()
            && let Some((task, body)) = super::quiescence(&self.world)
        {
            let does = fingerprint(&*task);
            self.rt.start(task, does, super::QUIESCENCE_OP.into(), body);
        }
    }

    /// The turns run from now on replay turns the explorer has run before,
    /// to a state it kept the monitors of: no footprints (the turns it
    /// returns are empty), no monitors.
    pub fn replay(&mut self) {
        self.replaying = true;
        self.lp().replaying(true);
    }

    /// Back from a replay, in the state whose monitors and tasks' chains
    /// were `kept`.
    pub fn resume(&mut self, kept: &Kept) {
        self.replaying = false;
        self.lp().replaying(false);
        self.lp().restore_chains(&kept.chains);
        self.monitors = kept.monitors.clone();
        self.judged = self.history.events_len();
    }

    /// What a replay does not rebuild, as it is now (to resume a replay
    /// here later).
    pub fn kept(&self) -> Kept {
        Kept { monitors: self.monitors.clone(), chains: self.lp().chains() }
    }

    /// Tasks that would have had a thread of their own under loom so far
    /// (see [`Runtime::threads`]).
    pub fn threads(&self) -> usize {
        self.rt.threads()
    }

    /// The first invariant broken so far.
    pub fn violation(&self) -> Option<&Violation> {
        self.monitors.violation()
    }

    /// The state between two turns: shared state, live tasks, the clock and
    /// the monitors' states (`parts` leaves some out, in tests only); with
    /// each task's identity in it, by number. Under a `symmetry` both are
    /// canonical: the same for every permutation of a class's actors.
    pub fn fingerprint(&self, parts: &StateParts, symmetry: &Symmetry) -> (Fingerprint, Vec<Fingerprint>) {
        assert!(self.lp().is_fingerprinted(), "a fingerprint of an unfingerprinted execution");
        let mut h = StateHasher::new();
        let (identities, renamer) = self.rt.fingerprint(parts, symmetry, &mut h);
        if parts.monitors {
            h.rename_tasks(renamer);
            self.monitors.state_hash(&mut h);
        }
        (h.finish(), identities)
    }

    /// The fingerprint of what the tasks persist: files and tables (no
    /// cell held in memory, task, clock or monitor).
    pub fn persisted_fingerprint(&self) -> Fingerprint {
        self.lp().persisted_fingerprint()
    }

    /// The actors one of whose tasks read its own name (see [`Symmetry`]).
    pub fn named(&self) -> std::collections::BTreeSet<TaskId> {
        self.lp().named()
    }

    /// What the execution did: run to its end (no task waits), it is also
    /// judged at the end; cut short or deadlocked, it is what happened so far
    /// (the events only if it broke an invariant: see [`Outcome::events`]).
    pub fn outcome(mut self) -> Outcome {
        let world = self.world.clone();
        let build = || world.final_state();
        let final_state = FinalState::new(&build);
        if self.lp().idle() {
            let monitors = &mut self.monitors;
            self.history.with_events_from(0, |events| monitors.at_end(events, &final_state));
        }
        let events = if self.monitors.violation().is_some() { self.history.events() } else { Vec::new() };
        // The monitors go with the execution; its tasks are unwound with `runner`.
        let monitors = std::mem::take(&mut self.monitors);
        monitors.outcome(events, final_state, self.keep_final_state)
    }
}
