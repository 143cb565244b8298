//! Explorers: run many executions of a model and keep the first failure.
//!
//! | explorer     | backend          | a pass means                         |
//! |--------------|------------------|--------------------------------------|
//! | `stateful`   | our turns, states cached | **proved** (unbounded; event loop only) |
//! | `exhaustive` | loom             | **proved** (within the stated bound) |
//! | `dpor`       | our turns        | **proved** (unbounded; event loop only) |
//! | `pct`/`random` | shuttle, seeded | **not found** in N schedules        |
//! | `stress`     | real threads, real directory | smoke test only           |
//!
//! A search that hits a limit is `incomplete`, never green. Failures are
//! caught; panics inside a model are kept quiet while exploring.

mod dpor;
mod exhaustive;
mod quiet;
mod schedules;
mod stateful;
mod steer;
mod stress;

pub use exhaustive::{LOOM_THREADS, MAX_BOUND, MAX_EXHAUSTIVE_ACTORS, loom_builder, threads_needed, too_many_threads};
pub use quiet::quietly;
pub use stateful::{Cluster, Reduction};
pub use steer::{StepSchedule, replay, replay_within};
pub use stress::{HitRate, hit_rate};

use crate::execution::{Model, Outcome, Violation};
use crate::history::Event;
use crate::runtime::{TaskId, Turn};
use crate::systems::Variant;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How to search the interleavings of a model.
#[derive(Clone, Debug, PartialEq)]
pub enum Explorer {
    /// Loom, every interleaving with at most `bound` preemptions (`None`: all).
    Exhaustive { bound: Option<usize> },
    /// Every interleaving of event-loop turns, one per order of the turns
    /// that conflict (dynamic partial-order reduction); no bound.
    Dpor,
    /// Every reachable state of an event loop, each explored once (state
    /// caching with sleep sets); no bound.
    Stateful,
    /// Shuttle's PCT scheduler with bug depth `depth`.
    Pct { depth: usize, schedules: usize, seed: u64 },
    /// Shuttle's uniformly random scheduler.
    Random { schedules: usize, seed: u64 },
    /// Real threads on a real directory, `runs` times.
    Stress { runs: usize },
}

impl Explorer {
    pub fn name(&self) -> &'static str {
        match self {
            Explorer::Exhaustive { .. } => "exhaustive",
            Explorer::Dpor => "dpor",
            Explorer::Stateful => "stateful",
            Explorer::Pct { .. } => "pct",
            Explorer::Random { .. } => "random",
            Explorer::Stress { .. } => "stress",
        }
    }

    /// `exhaustive(bound=3)`, `pct(depth=3, schedules=1000, seed=7)`...
    pub fn describe(&self) -> String {
        match self {
            Explorer::Exhaustive { bound: Some(b) } => format!("exhaustive(bound={b})"),
            Explorer::Exhaustive { bound: None } => "exhaustive(unbounded)".into(),
            Explorer::Dpor => "dpor".into(),
            Explorer::Stateful => "stateful".into(),
            Explorer::Pct { depth, schedules, seed } => {
                format!("pct(depth={depth}, schedules={schedules}, seed={seed})")
            }
            Explorer::Random { schedules, seed } => format!("random(schedules={schedules}, seed={seed})"),
            Explorer::Stress { runs } => format!("stress(runs={runs})"),
        }
    }
}

/// Limits that turn a search into `incomplete` rather than letting it run on.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_time: Duration,
    /// The most executions a search may run: a cut that falls at the same
    /// place on every machine, however busy (a time limit does not).
    pub max_executions: Option<usize>,
    /// The most distinct states the stateful explorer may keep (its
    /// memory). The other explorers keep no states.
    pub max_states: Option<usize>,
    /// Where the search reports how far it has got, for a progress line.
    pub progress: Option<Arc<Progress>>,
    /// Threads one `stateful` search runs on (the other explorers run on
    /// one). The verdict and the counterexample do not depend on it; the
    /// distinct states may, by a few per thousand.
    pub workers: usize,
    /// The processes one `stateful` search runs on (`--hosts`), each with
    /// `workers` threads, on timely dataflow. `None`: the shared-memory
    /// search.
    pub cluster: Option<Arc<Cluster>>,
    /// What loading the scenario took of the user's time limit (`max_time`
    /// is what is left of it for the search): said when the limit cuts.
    pub loading: Duration,
}

/// How far a running search has got: executions so far and, for the
/// stateful explorer, distinct states. Read by another thread (the CLI's
/// progress line) while the search writes it.
#[derive(Debug, Default)]
pub struct Progress {
    executions: AtomicUsize,
    states: AtomicUsize,
}

impl Progress {
    /// Executions so far, and distinct states where the explorer keeps them.
    pub fn get(&self) -> (usize, Option<usize>) {
        let states = self.states.load(Ordering::Relaxed);
        (self.executions.load(Ordering::Relaxed), (states > 0).then_some(states))
    }

    /// A search starts: nothing counted yet.
    pub fn reset(&self) {
        self.executions.store(0, Ordering::Relaxed);
        self.states.store(0, Ordering::Relaxed);
    }
}

impl Limits {
    /// A time limit only.
    pub const fn time(max_time: Duration) -> Limits {
        Limits {
            max_time,
            max_executions: None,
            max_states: None,
            progress: None,
            workers: 1,
            cluster: None,
            loading: Duration::ZERO,
        }
    }

    /// The same limits for a part of a search that has `remaining` of its
    /// time, after `spent` of its executions.
    fn remaining(&self, remaining: Duration, spent: usize) -> Limits {
        let max_executions = self.max_executions.map(|max| max.saturating_sub(spent));
        Limits { max_time: remaining, max_executions, ..self.clone() }
    }

    /// Whether a search that has run `executions` may start another.
    fn executions_left(&self, executions: usize) -> bool {
        self.max_executions.is_none_or(|max| executions < max)
    }

    /// The search starts one more execution (having kept `states` so far,
    /// if it keeps them).
    fn tick(&self, states: Option<usize>) {
        if let Some(p) = &self.progress {
            p.executions.fetch_add(1, Ordering::Relaxed);
            if let Some(states) = states {
                p.states.store(states, Ordering::Relaxed);
            }
        }
    }

    /// When a search that started at `start` must stop (a limit too large
    /// for the clock, `--max-time` of 2^64 seconds, is no limit).
    pub fn deadline_from(&self, start: Instant) -> Instant {
        start.checked_add(self.max_time).unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600))
    }

    /// The time limit in words: the user's, with what loading took of it.
    pub fn time_limit(&self) -> String {
        match self.loading {
            Duration::ZERO => format!("time limit of {:?}", self.max_time),
            loading => {
                format!(
                    "time limit of {:?} ({loading:.1?} of it loading the scenario)",
                    self.max_time.saturating_add(loading)
                )
            }
        }
    }

    /// What cut a search short after `executions` (and `states`, for the
    /// stateful explorer).
    pub fn cut_reason(&self, executions: usize, states: Option<usize>) -> String {
        if let Some(max) = self.max_executions.filter(|max| executions >= *max) {
            return match states {
                Some(states) => format!("execution limit of {max} reached, with {states} distinct states"),
                None => format!("execution limit of {max} reached"),
            };
        }
        let time = self.time_limit();
        match states {
            Some(states) if let Some(max) = self.max_states.filter(|max| states >= *max) => {
                format!("state limit of {max} reached after {executions} executions and {states} distinct states")
            }
            Some(states) => format!("{time} reached after {executions} executions and {states} distinct states"),
            None => format!("{time} reached after {executions} executions"),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::time(Duration::from_secs(120))
    }
}

/// Where a failure was found (every failure replays from its [`StepSchedule`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Replay {
    /// Loom explores in a fixed order: the same bound finds the same execution.
    Exhaustive { bound: Option<usize>, execution: usize },
    /// The execution (1-based) of a `dpor` search, which runs in a fixed order.
    Reduced { execution: usize },
    /// The execution (1-based) of a `stateful` search on one worker, which
    /// runs in a fixed order.
    Stateful { execution: usize },
    /// An execution of a `stateful` search on several workers, whose order
    /// depends on timing (one worker ran out of time finding it again).
    StatefulWorkers { workers: usize, execution: usize },
    /// The shuttle execution (1-based) of a seeded search.
    Sampled { seed: u64, execution: usize },
    /// A run of real threads.
    Stress { run: usize },
    /// Replayed from a given step schedule.
    Given,
}

/// The first failing execution a search found.
#[derive(Clone, Debug)]
pub struct Failure {
    pub violation: Violation,
    pub events: Vec<Event>,
    /// The persisted state where the execution ended (`None`: it was not
    /// built, e.g. for a deadlock).
    pub final_state: Option<Value>,
    pub replay: Replay,
    /// The task-and-step schedule that replays it.
    pub schedule: StepSchedule,
    /// Switches away from an unfinished task between visible steps. For
    /// exhaustive searches the execution is one of the smallest loom bound
    /// (bounds are deepened 0, 1, 2, ...); others are shrunk.
    pub preemptions: usize,
    /// Preemptions before shrinking (sampled and stress failures).
    pub preemptions_found: usize,
}

impl Failure {
    pub fn new(violation: Violation, mut events: Vec<Event>, final_state: Option<Value>, replay: Replay) -> Failure {
        // The counterexample ends at the step that broke the invariant.
        if let Some(step) = violation.step {
            events.truncate(step);
        }
        let schedule = StepSchedule::of(&events);
        // Counted between visible steps for every explorer, so figures
        // compare; loom's own bound (which also counts switches at thread
        // starts and inside locks) is in `replay`.
        let preemptions = schedule.preemptions(&events);
        Failure { violation, events, final_state, replay, schedule, preemptions, preemptions_found: preemptions }
    }

    /// Shrinks a sampled or stress failure: fewer context switches, same invariant.
    fn minimize(self, model: &Model, variant: &Variant) -> Failure {
        if matches!(self.replay, Replay::Exhaustive { .. }) || self.preemptions == 0 {
            return self;
        }
        let found = self.preemptions;
        match steer::shrink(model, variant, &self.violation.invariant, self.events.clone()) {
            Some(Outcome { events, final_state, violation: Some(violation), .. }) => {
                let mut smaller = Failure::new(violation, events, final_state, self.replay.clone());
                smaller.preemptions_found = found;
                smaller
            }
            _ => self,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Verdict {
    Violation(Box<Failure>),
    /// Exhaustive search finished: no execution (within the bound) fails.
    Proved {
        bound: Option<usize>,
    },
    /// Sampling found nothing; this is not a proof.
    NotFound,
    /// A limit was hit before the search finished.
    Incomplete {
        reason: String,
    },
    /// The search found no violation but never reached these conditions
    /// of `[check] reachable`: it proves nothing about the race window.
    Vacuous {
        unreached: Vec<String>,
    },
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Violation(_) => "violation",
            Verdict::Proved { .. } => "proved",
            Verdict::NotFound => "not-found",
            Verdict::Incomplete { .. } => "incomplete",
            Verdict::Vacuous { .. } => "vacuous",
        }
    }
}

/// The result of one search.
#[derive(Clone, Debug)]
pub struct Report {
    pub explorer: Explorer,
    pub verdict: Verdict,
    /// Executions run (the failing one included).
    pub executions: usize,
    /// Distinct states explored (the `stateful` explorer): the coverage a
    /// proof stands on.
    pub states: Option<usize>,
    /// The classes of actors the `stateful` explorer took as interchangeable
    /// (by name), or why it took none.
    pub symmetry: Result<Vec<Vec<String>>, String>,
    /// The writes that broke the locking discipline the `stateful`
    /// explorer's guarded reads rest on, if any did (it started over after
    /// each, taking no read of what they wrote as guarded by a lock they
    /// were made without).
    pub unguarded: Option<String>,
    /// Threads the search ran on (`Limits::workers` for the `stateful`
    /// explorer, one for the others): with more than one, its executions
    /// and distinct states vary a little from run to run.
    pub workers: usize,
    /// Processes a `stateful` search ran on, each with `workers` threads,
    /// when it ran on timely dataflow (`--hosts`; no guarded reads there). `None`: the shared-memory search, or another explorer.
    pub processes: Option<usize>,
    /// What the workers of a search on timely dataflow sent each other.
    pub exchanged: Option<Exchanged>,
    pub elapsed: Duration,
}

/// What crossed between the workers of a search on timely dataflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchanged {
    /// States sent to the worker that owns them (every process's workers).
    pub states: usize,
    /// Bytes this process wrote to the others (0 on one process).
    pub bytes: u64,
}

/// Searches `model` under `variant` with `explorer`.
pub fn explore(model: &Model, variant: &Variant, explorer: &Explorer, limits: &Limits) -> Report {
    let start = Instant::now();
    let model = &model.for_search();
    let (mut states, mut symmetry, mut unguarded, mut exchanged) = (None, Ok(Vec::new()), None, None);
    let (verdict, executions) = match explorer {
        Explorer::Exhaustive { bound } => exhaustive::run(model, variant, *bound, limits),
        Explorer::Dpor => dpor::run(model, variant, limits),
        Explorer::Stateful => {
            let found = stateful::run(model, variant, limits);
            states = Some(found.states);
            symmetry = found.symmetry;
            unguarded = found.unguarded;
            exchanged = found.exchanged;
            (found.verdict, found.executions)
        }
        Explorer::Pct { depth, schedules, seed } => {
            schedules::run_pct(model, variant, *depth, *schedules, *seed, limits)
        }
        Explorer::Random { schedules, seed } => schedules::run_random(model, variant, *schedules, *seed, limits),
        Explorer::Stress { runs } => stress::run(model, variant, *runs, limits),
    };
    let unreached = model.unreached();
    let verdict = match verdict {
        Verdict::Violation(f) => Verdict::Violation(Box::new(f.minimize(model, variant))),
        Verdict::Proved { .. } | Verdict::NotFound if !unreached.is_empty() => Verdict::Vacuous { unreached },
        other => other,
    };
    let (workers, processes) = match explorer {
        Explorer::Stateful => (limits.workers.max(1), limits.cluster.as_ref().map(|c| c.processes())),
        _ => (1, None),
    };
    let elapsed = start.elapsed();
    Report {
        explorer: explorer.clone(),
        verdict,
        executions,
        states,
        symmetry,
        unguarded,
        workers,
        processes,
        exchanged,
        elapsed,
    }
}

/// Every distinct end an exhaustive search reached (each as its final state
/// and the invariants it broke), and what it took.
#[derive(Clone, Debug)]
pub struct Enumeration {
    pub ends: BTreeSet<String>,
    pub executions: usize,
    /// Distinct states (the `stateful` explorer).
    pub states: Option<usize>,
    /// Why the search stopped before it had explored everything (`None`:
    /// it did; the ends are all there are).
    pub cut: Option<String>,
    /// Branches one worker handed to another (the `stateful` explorer on
    /// several workers): a search on several workers that handed none
    /// was one worker's search.
    pub handed: usize,
}

/// Every execution (or state) of `model` under `variant` an exhaustive
/// `explorer` explores (`exhaustive`, `dpor` or `stateful`), none stopped
/// at a violation. Two sound exhaustive explorers reach the same ends: the
/// tests compare them.
pub fn enumerate(model: &Model, variant: &Variant, explorer: &Explorer, limits: &Limits) -> Enumeration {
    match explorer {
        Explorer::Exhaustive { bound } => exhaustive::outcomes(model, variant, *bound, limits),
        Explorer::Dpor => dpor::outcomes(model, variant, limits),
        Explorer::Stateful => stateful::outcomes(model, variant, Reduction::default(), limits),
        other => Enumeration {
            ends: BTreeSet::new(),
            executions: 0,
            states: None,
            cut: Some(format!("{} samples executions; only exhaustive explorers enumerate", other.name())),
            handed: 0,
        },
    }
}

/// [`enumerate`] with the `stateful` explorer and `reduction` (tests
/// switch parts of it off).
pub fn enumerate_stateful(model: &Model, variant: &Variant, reduction: Reduction, limits: &Limits) -> Enumeration {
    stateful::outcomes(model, variant, reduction, limits)
}

/// The ends of a complete [`enumerate`], with the executions it took.
pub fn outcomes(
    model: &Model,
    variant: &Variant,
    explorer: &Explorer,
    limits: &Limits,
) -> Result<(BTreeSet<String>, usize), String> {
    let e = enumerate(model, variant, explorer, limits);
    match e.cut {
        Some(why) => Err(why),
        None => Ok((e.ends, e.executions)),
    }
}

/// The ends of a complete [`enumerate_stateful`], with the executions and
/// distinct states it took.
pub fn stateful_outcomes(
    model: &Model,
    variant: &Variant,
    reduction: Reduction,
    limits: &Limits,
) -> Result<(BTreeSet<String>, usize, usize), String> {
    let e = enumerate_stateful(model, variant, reduction, limits);
    match e.cut {
        Some(why) => Err(why),
        None => Ok((e.ends, e.executions, e.states.unwrap_or(0))),
    }
}

/// One end of an execution, as [`outcomes`] lists it.
pub(crate) fn outcome_key(outcome: &Outcome) -> String {
    let state = outcome.final_state.as_ref().expect("enumerations keep final states");
    format!("broken={:?} state={state}", outcome.broken)
}

/// Sleep sets (Godefroid 1996): the tasks asleep after `ran`, from those
/// asleep or already run before it. A task stays asleep while the turns run
/// since commute with the turn it would run: running it now would only
/// reach, in another order, states reached already.
fn asleep_after<'a>(before: impl Iterator<Item = &'a Sleeper>, ran: &Turn) -> Vec<Sleeper> {
    before.filter(|(task, turn)| *task != ran.task && !turn.conflicts(ran)).cloned().collect()
}

/// A task that sleeps, with the turn it would run: shared, since a sleep
/// set is carried from state to state, turn by turn.
type Sleeper = (TaskId, std::sync::Arc<Turn>);

/// What a controlled execution in which every task is blocked reports (the
/// words [`verdict_for_panic`] recognizes as a deadlock).
pub(crate) const DEADLOCK: &str = "deadlock: every task waits on a FIFO mutex and none can take the loop";

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}

/// A model panic that is not a found violation: deadlocks are findings,
/// everything else means the search could not finish.
fn verdict_for_panic(message: String, events: Vec<Event>, replay: Replay) -> Verdict {
    if message.contains("deadlock") {
        let violation = Violation {
            invariant: "no-deadlock".into(),
            message: format!("every task is blocked: {message}"),
            step: None,
        };
        Verdict::Violation(Box::new(Failure::new(violation, events, None, replay)))
    } else if message.contains("exceeded maximum number of threads")
        || message.contains("MAX_THREADS")
        || message.contains("threads.len() < self.max()")
    {
        Verdict::Incomplete {
            reason: format!(
                "loom runs at most {LOOM_THREADS} threads, main included, and this execution started more: use the \
                 stateful explorer (event loop) or pct (threads)"
            ),
        }
    } else {
        Verdict::Incomplete { reason: format!("the model panicked: {message}") }
    }
}
