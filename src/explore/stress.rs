//! `stress`: real threads on a real directory. A smoke test only: whether a
//! race shows depends on the OS scheduler (hit rates vary wildly between runs).

use super::{Failure, Limits, Replay, Verdict, panic_message, verdict_for_panic};
use crate::execution::{DiskKind, Model, execute};
use crate::history::{History, OutOfTime};
use crate::platform::Std;
use crate::storage::Scratch;
use crate::systems::Variant;
use std::time::Instant;

pub(super) fn run(model: &Model, variant: &Variant, runs: usize, limits: &Limits) -> (Verdict, usize) {
    let start = Instant::now();
    // The hook that keeps an execution stopped at the deadline quiet.
    super::quiet::install();
    let scratch = match Scratch::new() {
        Ok(scratch) => scratch,
        Err(e) => return (Verdict::Incomplete { reason: format!("cannot create a scratch directory: {e}") }, 0),
    };
    // Cut after `done` runs, by the time or the execution limit.
    let cut = |done: usize| {
        let reason = format!("{} ({done} of {runs} runs)", limits.cut_reason(done, None));
        (Verdict::Incomplete { reason }, done)
    };
    for run in 1..=runs {
        if start.elapsed() > limits.max_time || !limits.executions_left(run - 1) {
            return cut(run - 1);
        }
        limits.tick(None);
        let dir = match scratch.run_dir() {
            Ok(dir) => dir,
            Err(e) => {
                return (Verdict::Incomplete { reason: format!("cannot create a temporary directory: {e}") }, run - 1);
            }
        };
        let history = History::until(limits.deadline_from(start));
        let disk = DiskKind::Directory(dir.path().to_path_buf());
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute::<Std>(model, variant, &disk, &history)));
        match result {
            Err(payload) if payload.is::<OutOfTime>() => return cut(run - 1),
            Ok(outcome) => {
                if let Some(violation) = outcome.violation {
                    let failure = Failure::new(violation, outcome.events, outcome.final_state, Replay::Stress { run });
                    return (Verdict::Violation(Box::new(failure)), run);
                }
            }
            Err(payload) => {
                return (verdict_for_panic(panic_message(&*payload), history.events(), Replay::Stress { run }), run);
            }
        }
    }
    (Verdict::NotFound, runs)
}

/// How often a violation shows on real threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HitRate {
    pub runs: usize,
    pub hits: usize,
}

/// Runs `model` `runs` times on real threads and a real directory, counting
/// the runs that violate an invariant (a run that panics counts as a hit).
pub fn hit_rate(model: &Model, variant: &Variant, runs: usize) -> std::io::Result<HitRate> {
    let mut hits = 0;
    let scratch = Scratch::new()?;
    for _ in 0..runs {
        let dir = scratch.run_dir()?;
        let disk = DiskKind::Directory(dir.path().to_path_buf());
        let history = History::new();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute::<Std>(model, variant, &disk, &history)));
        if result.map_or(true, |outcome| outcome.violation.is_some()) {
            hits += 1;
        }
    }
    Ok(HitRate { runs, hits })
}
