//! `exhaustive`: loom explores every interleaving, optionally bounded by the
//! number of preemptions.

use super::{Enumeration, Failure, Limits, Replay, Verdict, panic_message, quiet, verdict_for_panic};
use crate::execution::{DiskKind, Model, Outcome, execute};
use crate::history::{History, OutOfTime};
use crate::platform::Loom;
use crate::systems::Variant;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Loom runs at most five threads, main included.
pub const LOOM_THREADS: usize = 5;

/// So at most four actors (each a thread), main aside.
pub const MAX_EXHAUSTIVE_ACTORS: usize = LOOM_THREADS - 1;

/// The largest preemption bound: loom counts preemptions in a `u8`, and a
/// deepening search runs one round per bound up to it.
pub const MAX_BOUND: usize = u8::MAX as usize;

/// Threads an execution of `model` under `variant` starts besides main
/// (actors and fire-and-forget tasks; the last task a finishing task starts
/// goes on on its thread), counted on one execution along the explorer's
/// first choices: more than loom holds is refused before loom asserts.
/// `None`: the execution had not ended by `deadline` (a large setup).
pub fn threads_needed(model: &Model, variant: &Variant, deadline: Option<Instant>) -> Option<usize> {
    let history = deadline.map_or_else(History::new, History::until);
    let mut execution = crate::execution::Controlled::start(model, variant, &history).unfingerprinted();
    let out_of_time = quiet::quietly(|| {
        while let Some(&task) = execution.waiting().first() {
            if let Err(panic) = execution.run_turn(task) {
                return panic.is::<OutOfTime>();
            }
        }
        false
    });
    (!out_of_time).then(|| execution.threads())
}

/// Why loom cannot run a model that needs `threads` threads besides main.
pub fn too_many_threads(model: &Model, threads: usize) -> String {
    let actors = model.actor_count();
    let instead = match model.semantics {
        crate::runtime::Semantics::EventLoop => "use the stateful explorer, which holds any number of tasks",
        crate::runtime::Semantics::Threads => "use the pct or random explorer",
    };
    let tasks = threads.saturating_sub(actors);
    format!(
        "loom runs at most {LOOM_THREADS} threads, main included, and an execution of this scenario starts {} \
         ({actors} actors and {tasks} fire-and-forget task{}): {instead}",
        threads + 1,
        if tasks == 1 { "" } else { "s" }
    )
}

/// Branch points one execution may have before loom gives up on it.
const MAX_BRANCHES: usize = 100_000;

/// The payload that stops loom at the first violation.
struct Found;

/// Bounds to search, smallest first, so the first failure found has the
/// fewest preemptions; an unbounded search first tries bounds 0 to 3.
fn deepening(bound: Option<usize>) -> Vec<Option<usize>> {
    match bound {
        Some(b) => (0..=b).map(Some).collect(),
        None => (0..=3).map(Some).chain([None]).collect(),
    }
}

pub(super) fn run(model: &Model, variant: &Variant, bound: Option<usize>, limits: &Limits) -> (Verdict, usize) {
    let start = Instant::now();
    // Counted once for every round, within the search's time.
    let Some(threads) = threads_needed(model, variant, Some(limits.deadline_from(start))) else {
        return (Verdict::Incomplete { reason: limits.cut_reason(0, None) }, 0);
    };
    if threads + 1 > LOOM_THREADS {
        return (Verdict::Incomplete { reason: too_many_threads(model, threads) }, 0);
    }
    let mut total = 0;
    for step in deepening(bound) {
        let remaining = limits.max_time.saturating_sub(start.elapsed());
        let (verdict, executions, cut) = run_bound(model, variant, step, &limits.remaining(remaining, total));
        total += executions;
        if cut {
            // Named against the whole search's limits, whichever round it cut.
            return (Verdict::Incomplete { reason: limits.cut_reason(total, None) }, total);
        }
        match verdict {
            Verdict::Proved { .. } => continue,
            other => return (other, total),
        }
    }
    (Verdict::Proved { bound }, total)
}

/// A loom search as racecheck runs one: the given bound and time limit, and
/// nothing taken from `LOOM_*` environment variables.
pub fn loom_builder(bound: Option<usize>, limits: &Limits) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = bound;
    builder.max_branches = MAX_BRANCHES;
    builder.max_duration = Some(limits.max_time);
    // Loom looks at the clock only every `checkpoint_interval` executions
    // (20,000 by default: seconds past the limit); look after each one.
    builder.checkpoint_interval = 1;
    // Loom stops before its execution number `max_permutations`, counting
    // from 1: room for exactly `max_executions` (a limit too large to say
    // so is no limit).
    builder.max_permutations = limits.max_executions.and_then(|max| max.checked_add(1));
    builder.checkpoint_file = None;
    builder.log = false;
    builder.location = false;
    builder
}

/// How a loom search ended.
struct Searched {
    executions: usize,
    /// The history of the last execution started.
    history: History,
    /// Loom's panic (a deadlock, too many threads, or the stop after a
    /// visit asked for it), if it ended with one.
    panic: Option<String>,
    /// A limit stopped loom, maybe before it had run every execution
    /// (loom does not say whether one was left when it reached the
    /// execution limit, nor when it ran past the time limit: either is
    /// taken as a cut).
    cut: bool,
}

/// Runs loom's executions with preemption bound `bound`, handing each
/// outcome to `visit`, which returns `true` to stop the search there.
fn search(
    model: &Model,
    variant: &Variant,
    bound: Option<usize>,
    limits: &Limits,
    visit: impl Fn(usize, &History, Outcome) -> bool + Send + Sync + 'static,
) -> Searched {
    let last = Arc::new(Mutex::new((0usize, History::new())));
    let builder = loom_builder(bound, limits);
    let start = Instant::now();
    let deadline = limits.deadline_from(start);
    let (m, v, l, progress) = (model.clone(), variant.clone(), last.clone(), limits.clone());
    let result = quiet::quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            builder.check(move || {
                let history = History::until(deadline);
                let execution = {
                    let mut l = l.lock().unwrap_or_else(|e| e.into_inner());
                    l.0 += 1;
                    l.1 = history.clone();
                    l.0
                };
                progress.tick(None);
                let outcome = execute::<Loom>(&m, &v, &DiskKind::Memory, &history);
                if visit(execution, &history, outcome) {
                    std::panic::panic_any(Found);
                }
            })
        }))
    });
    let (executions, history) = last.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // An execution stopped at the deadline is a cut, not a model panic.
    let panic = result.err().filter(|p| !p.is::<OutOfTime>());
    let cut = panic.is_none() && (start.elapsed() >= limits.max_time || !limits.executions_left(executions));
    Searched { executions, history, panic: panic.map(|p| panic_message(&*p)), cut }
}

/// One loom search with preemption bound `bound` (of a model that fits in
/// loom's threads): its verdict, its executions, and whether a limit cut it.
fn run_bound(model: &Model, variant: &Variant, bound: Option<usize>, limits: &Limits) -> (Verdict, usize, bool) {
    let failure: Arc<Mutex<Option<Failure>>> = Arc::default();
    let found = failure.clone();
    let searched = search(model, variant, bound, limits, move |execution, _, outcome| {
        let Some(violation) = outcome.violation else { return false };
        let replay = Replay::Exhaustive { bound, execution };
        *found.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Failure::new(violation, outcome.events, outcome.final_state, replay));
        true
    });
    let executions = searched.executions;
    let verdict = match (failure.lock().unwrap_or_else(|e| e.into_inner()).take(), searched.panic) {
        (Some(failure), _) => Verdict::Violation(Box::new(failure)),
        (None, Some(message)) => {
            verdict_for_panic(message, searched.history.events(), Replay::Exhaustive { bound, execution: executions })
        }
        (None, None) if searched.cut => Verdict::Incomplete { reason: limits.cut_reason(executions, None) },
        (None, None) => Verdict::Proved { bound },
    };
    let cut = matches!(verdict, Verdict::Incomplete { .. }) && searched.cut;
    (verdict, executions, cut)
}

/// Every distinct end loom reaches with preemption bound `bound` (see [`super::outcomes`]).
pub(super) fn outcomes(model: &Model, variant: &Variant, bound: Option<usize>, limits: &Limits) -> Enumeration {
    let seen: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let s = seen.clone();
    let searched = search(&model.keeping_final_states(), variant, bound, limits, move |_, _, outcome| {
        s.lock().unwrap_or_else(|e| e.into_inner()).insert(super::outcome_key(&outcome));
        false
    });
    let cut = match (searched.panic, searched.cut) {
        (Some(message), _) => Some(message),
        (None, true) => Some(limits.cut_reason(searched.executions, None)),
        (None, false) => None,
    };
    let ends = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    Enumeration { ends, executions: searched.executions, states: None, cut, handed: 0 }
}
