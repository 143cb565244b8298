//! `pct` and `random`: shuttle samples schedules from a seed. The scheduler
//! is wrapped to stop at the first failure (shuttle's own failure files and
//! hook keep the first run's settings for the whole process); the failure is
//! replayed from its history (`steer`), not from shuttle's decisions.

use super::{Failure, Limits, Replay, Verdict, panic_message, quiet, verdict_for_panic};
use crate::execution::{DiskKind, Model, execute};
use crate::history::History;
use crate::platform::Shuttle;
use crate::systems::Variant;
use shuttle::scheduler::{PctScheduler, RandomScheduler, Schedule, Scheduler, Task, TaskId};
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Default)]
struct Recording {
    stop: bool,
    executions: usize,
    history: History,
    failure: Option<Failure>,
}

/// Wraps a scheduler to stop the runner after the first failure, at the
/// execution limit, or at the time limit (in the middle of an execution:
/// shuttle looks at the clock only between executions, and one execution of
/// a large setup can run for minutes).
struct Recorder<S> {
    /// The most executions to start (`Limits::max_executions`).
    max_executions: Option<usize>,
    deadline: Instant,
    /// Scheduling decisions so far (the clock is read every
    /// `DECISIONS_PER_CLOCK_CHECK`: a read costs a tenth of a decision).
    decisions: usize,
    /// Shuttle's random scheduler prints a "failing seed" to stderr when
    /// dropped before its last iteration; unless it ran them all (a stop at
    /// a failure, at the execution or the time limit) it is leaked instead.
    inner: ManuallyDrop<S>,
    /// The inner scheduler said it had no execution left.
    inner_done: bool,
    rec: Arc<Mutex<Recording>>,
}

impl<S> Drop for Recorder<S> {
    fn drop(&mut self) {
        if self.inner_done {
            // SAFETY: `inner` is never used again.
            unsafe { ManuallyDrop::drop(&mut self.inner) }
        }
    }
}

impl<S: Scheduler> Scheduler for Recorder<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        let rec = self.rec.lock().unwrap_or_else(|e| e.into_inner());
        if rec.stop || self.max_executions.is_some_and(|max| rec.executions >= max) {
            return None;
        }
        let next = self.inner.new_execution();
        self.inner_done = next.is_none();
        next
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        self.decisions += 1;
        if self.decisions.is_multiple_of(DECISIONS_PER_CLOCK_CHECK) && Instant::now() >= self.deadline {
            // No task: shuttle stops this execution quietly (a panic would
            // make it print one), and no other starts.
            self.rec.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
            return None;
        }
        self.inner.next_task(runnable, current, is_yielding)
    }

    // Shuttle asks a scheduler for a number only for `shuttle::rand`, which
    // no model draws from (the platform offers no randomness: a model is
    // deterministic), so no search calls this; cargo-mutants' `0` and `1`
    // for it are equivalent. Passed through all the same.
    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

const DECISIONS_PER_CLOCK_CHECK: usize = 64;

/// Shuttle as racecheck runs it: no failure files, quiet, model-sized stacks, a time limit.
pub(super) fn config(limits: &Limits) -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.max_time = Some(limits.max_time);
    config.silence_warnings = true;
    config.stack_size = crate::platform::MODEL_STACK;
    config
}

fn search(
    model: &Model,
    variant: &Variant,
    scheduler: impl Scheduler + 'static,
    seed: u64,
    schedules: usize,
    limits: &Limits,
) -> (Verdict, usize) {
    let rec = Arc::new(Mutex::new(Recording::default()));
    let start = Instant::now();
    let deadline = limits.deadline_from(start);
    let recorder = Recorder {
        max_executions: limits.max_executions,
        deadline,
        decisions: 0,
        inner: ManuallyDrop::new(scheduler),
        inner_done: false,
        rec: rec.clone(),
    };
    let (m, v, r, progress) = (model.clone(), variant.clone(), rec.clone(), limits.clone());
    let result = quiet::quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shuttle::Runner::new(recorder, config(limits)).run(move || {
                let history = History::new();
                {
                    let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
                    r.executions += 1;
                    r.history = history.clone();
                    progress.tick(None);
                }
                let outcome = execute::<Shuttle>(&m, &v, &DiskKind::Memory, &history);
                if let Some(violation) = outcome.violation {
                    let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
                    let replay = Replay::Sampled { seed, execution: r.executions };
                    let failure = Failure::new(violation, outcome.events, outcome.final_state, replay);
                    r.failure = Some(failure);
                    r.stop = true;
                }
            });
        }))
    });
    let mut rec = rec.lock().unwrap_or_else(|e| e.into_inner());
    let executions = rec.executions;
    let verdict = match (result, rec.failure.take()) {
        (_, Some(failure)) => Verdict::Violation(Box::new(failure)),
        (Ok(()), None) if executions < schedules => Verdict::Incomplete {
            reason: format!("{} ({executions} of {schedules} schedules)", limits.cut_reason(executions, None)),
        },
        // Every schedule ran, but the last one ended past the limit (shuttle
        // checks the time only before an execution). Kept on the safe side,
        // though nothing was cut: cargo-mutants' `false`, `==` and `>=` here
        // survive, as no test can make one execution outlast a limit
        // without a clock.
        (Ok(()), None) if start.elapsed() > limits.max_time => {
            Verdict::Incomplete { reason: format!("{} reached", limits.time_limit()) }
        }
        (Ok(()), None) => Verdict::NotFound,
        (Err(payload), None) => {
            let replay = Replay::Sampled { seed, execution: executions };
            verdict_for_panic(panic_message(&*payload), rec.history.events(), replay)
        }
    };
    (verdict, executions)
}

pub(super) fn run_pct(
    model: &Model,
    variant: &Variant,
    depth: usize,
    schedules: usize,
    seed: u64,
    limits: &Limits,
) -> (Verdict, usize) {
    search(model, variant, PctScheduler::new_from_seed(seed, depth, schedules), seed, schedules, limits)
}

pub(super) fn run_random(
    model: &Model,
    variant: &Variant,
    schedules: usize,
    seed: u64,
    limits: &Limits,
) -> (Verdict, usize) {
    search(model, variant, RandomScheduler::new_from_seed(seed, schedules), seed, schedules, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A scheduler with `left` executions that notes when it is dropped.
    struct Counted {
        left: usize,
        dropped: Arc<AtomicBool>,
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    impl Scheduler for Counted {
        fn new_execution(&mut self) -> Option<Schedule> {
            self.left = self.left.checked_sub(1)?;
            Some(Schedule::new(0))
        }
        fn next_task(&mut self, runnable: &[&Task], _: Option<TaskId>, _: bool) -> Option<TaskId> {
            runnable.first().map(|t| t.id())
        }
        fn next_u64(&mut self) -> u64 {
            0
        }
    }

    /// Whether a recorder's inner scheduler is dropped with it, after it
    /// ran `runs` of its 2 executions.
    fn dropped_after(runs: usize) -> bool {
        let dropped = Arc::new(AtomicBool::new(false));
        let inner = Counted { left: 2, dropped: dropped.clone() };
        let rec = Arc::new(Mutex::new(Recording::default()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        let inner = ManuallyDrop::new(inner);
        let mut recorder = Recorder { max_executions: None, deadline, decisions: 0, inner, inner_done: false, rec };
        for _ in 0..runs {
            recorder.new_execution();
        }
        drop(recorder);
        dropped.load(Ordering::SeqCst)
    }

    #[test]
    fn the_inner_scheduler_is_dropped_only_once_it_ran_out() {
        assert!(dropped_after(3), "it said it had no execution left: dropped (freed)");
        assert!(!dropped_after(1), "stopped early: leaked, or shuttle's scheduler prints a failing seed");
    }
}
