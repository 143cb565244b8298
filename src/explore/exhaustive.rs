//! `exhaustive`: loom explores every interleaving, optionally bounded by the
//! number of preemptions.

use super::{Failure, Limits, Replay, Verdict, panic_message, quiet, verdict_for_panic};
use crate::execution::{DiskKind, Model, execute};
use crate::history::History;
use crate::platform::Loom;
use crate::systems::Variant;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Loom runs at most five threads, main included.
pub const MAX_EXHAUSTIVE_ACTORS: usize = 4;

/// Branch points one execution may have before loom gives up on it.
const MAX_BRANCHES: usize = 100_000;

#[derive(Default)]
struct Search {
    executions: usize,
    history: History,
    failure: Option<Failure>,
}

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
    let mut total = 0;
    for step in deepening(bound) {
        let remaining = limits.max_time.saturating_sub(start.elapsed());
        let (verdict, executions) = run_bound(model, variant, step, &Limits { max_time: remaining });
        total += executions;
        match verdict {
            Verdict::Proved { .. } => continue,
            Verdict::Incomplete { reason } if remaining < limits.max_time && reason.starts_with("time limit") => {
                let reason = format!("time limit of {:?} reached after {total} executions", limits.max_time);
                return (Verdict::Incomplete { reason }, total);
            }
            other => return (other, total),
        }
    }
    (Verdict::Proved { bound }, total)
}

/// A loom search as racecheck runs one: the given bound and time limit, and
/// nothing taken from `LOOM_*` environment variables.
pub fn loom_builder(bound: Option<usize>, max_time: std::time::Duration) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = bound;
    builder.max_branches = MAX_BRANCHES;
    builder.max_duration = Some(max_time);
    // Loom looks at the clock only every `checkpoint_interval` executions
    // (20,000 by default: seconds past the limit); look after each one.
    builder.checkpoint_interval = 1;
    builder.max_permutations = None;
    builder.checkpoint_file = None;
    builder.log = false;
    builder.location = false;
    builder
}

/// One loom search with preemption bound `bound`.
fn run_bound(model: &Model, variant: &Variant, bound: Option<usize>, limits: &Limits) -> (Verdict, usize) {
    let actors = model.actor_count();
    if actors > MAX_EXHAUSTIVE_ACTORS {
        let reason = format!(
            "exhaustive exploration takes at most {MAX_EXHAUSTIVE_ACTORS} actors (loom runs 5 threads, main included); \
             this scenario has {actors}: use the pct or random explorer"
        );
        return (Verdict::Incomplete { reason }, 0);
    }
    let search = Arc::new(Mutex::new(Search::default()));
    let builder = loom_builder(bound, limits.max_time);
    let start = Instant::now();
    let (m, v, s) = (model.clone(), variant.clone(), search.clone());
    let result = quiet::quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            builder.check(move || {
                let history = History::new();
                let execution = {
                    let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
                    s.executions += 1;
                    s.history = history.clone();
                    s.executions
                };
                let outcome = execute::<Loom>(&m, &v, &DiskKind::Memory, &history);
                if let Some(violation) = outcome.violation {
                    let replay = Replay::Exhaustive { bound, execution };
                    let failure = Failure::new(violation, outcome.events, outcome.final_state, replay);
                    s.lock().unwrap_or_else(|e| e.into_inner()).failure = Some(failure);
                    std::panic::panic_any(Found);
                }
            })
        }))
    });
    let mut search = search.lock().unwrap_or_else(|e| e.into_inner());
    let executions = search.executions;
    let verdict = match result {
        Ok(()) if start.elapsed() >= limits.max_time => Verdict::Incomplete {
            reason: format!("time limit of {:?} reached after {executions} executions", limits.max_time),
        },
        Ok(()) => Verdict::Proved { bound },
        Err(payload) => match search.failure.take() {
            Some(failure) => Verdict::Violation(Box::new(failure)),
            None => {
                let events = search.history.events();
                verdict_for_panic(panic_message(&*payload), events, Replay::Exhaustive { bound, execution: executions })
            }
        },
    };
    (verdict, executions)
}

/// Every distinct end loom reaches with preemption bound `bound` (see [`super::outcomes`]).
pub(super) fn outcomes(
    model: &Model,
    variant: &Variant,
    bound: Option<usize>,
    limits: &Limits,
) -> Result<(BTreeSet<String>, usize), String> {
    let seen: Arc<Mutex<(BTreeSet<String>, usize)>> = Arc::default();
    let builder = loom_builder(bound, limits.max_time);
    let start = Instant::now();
    let (m, v, s) = (model.clone(), variant.clone(), seen.clone());
    let result = quiet::quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            builder.check(move || {
                let history = History::new();
                let outcome = execute::<Loom>(&m, &v, &DiskKind::Memory, &history);
                let key = super::outcome_key(&m, &history, &outcome);
                let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
                s.0.insert(key);
                s.1 += 1;
            })
        }))
    });
    if let Err(payload) = result {
        return Err(panic_message(&*payload));
    }
    if start.elapsed() >= limits.max_time {
        return Err(format!("time limit of {:?} reached", limits.max_time));
    }
    Ok(std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner())))
}
