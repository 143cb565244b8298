//! `pct` and `random`: shuttle samples schedules from a seed. The failing
//! schedule is taken by wrapping the scheduler (shuttle's own failure files
//! and hook keep the first run's settings for the whole process).

use super::{Failure, Limits, Replay, Verdict, panic_message, quiet, verdict_for_panic};
use crate::execution::{DiskKind, Model, Outcome, execute};
use crate::history::History;
use crate::platform::Shuttle;
use crate::systems::Variant;
use shuttle::scheduler::{PctScheduler, RandomScheduler, ReplayScheduler, Schedule, Scheduler, Task, TaskId};
use std::fmt;
use std::mem::ManuallyDrop;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The scheduling decisions of one shuttle execution: which task ran at each
/// step (`None`: a random value was drawn), from the scheduler's seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShuttleSchedule {
    pub seed: u64,
    pub steps: Vec<Option<usize>>,
}

impl ShuttleSchedule {
    fn to_shuttle(&self) -> Schedule {
        let mut schedule = Schedule::new(self.seed);
        for step in &self.steps {
            match step {
                Some(task) => schedule.push_task(TaskId::from(*task)),
                None => schedule.push_random(),
            }
        }
        schedule
    }
}

impl fmt::Display for ShuttleSchedule {
    /// `s<seed>:<task>.<task>.r.<task>`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<String> = self.steps.iter().map(|s| s.map_or("r".to_string(), |t| t.to_string())).collect();
        write!(f, "s{}:{}", self.seed, steps.join("."))
    }
}

impl FromStr for ShuttleSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected a schedule like `s7:0.1.r.2`, found {s:?}");
        let (seed, steps) = s.strip_prefix('s').and_then(|rest| rest.split_once(':')).ok_or_else(bad)?;
        let seed = seed.parse().map_err(|_| bad())?;
        let steps = steps
            .split('.')
            .filter(|p| !p.is_empty())
            .map(|p| if p == "r" { Ok(None) } else { p.parse().map(Some).map_err(|_| bad()) })
            .collect::<Result<_, _>>()?;
        Ok(ShuttleSchedule { seed, steps })
    }
}

#[derive(Default)]
struct Recording {
    current: Option<ShuttleSchedule>,
    stop: bool,
    executions: usize,
    history: History,
    failure: Option<Failure>,
}

/// Wraps a scheduler to record each execution's decisions and to stop the
/// runner after the first failure.
struct Recorder<S> {
    /// Shuttle's random scheduler prints its seed to stderr when dropped
    /// before its last iteration; after an early stop it is leaked instead.
    inner: ManuallyDrop<S>,
    rec: Arc<Mutex<Recording>>,
}

impl<S> Drop for Recorder<S> {
    fn drop(&mut self) {
        if !self.rec.lock().unwrap_or_else(|e| e.into_inner()).stop {
            // SAFETY: `inner` is never used again.
            unsafe { ManuallyDrop::drop(&mut self.inner) }
        }
    }
}

impl<S: Scheduler> Scheduler for Recorder<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        let mut rec = self.rec.lock().unwrap_or_else(|e| e.into_inner());
        if rec.stop {
            // The failing execution has now ended: its schedule is complete.
            let complete = rec.current.take();
            if let (Some(schedule), Some(failure)) = (complete, rec.failure.as_mut()) {
                failure.replay = Replay::Shuttle(schedule);
            }
            return None;
        }
        let schedule = self.inner.new_execution()?;
        rec.current = Some(ShuttleSchedule { seed: schedule.seed, steps: Vec::new() });
        Some(schedule)
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let next = self.inner.next_task(runnable, current, is_yielding);
        if let (Some(task), Some(schedule)) =
            (next, self.rec.lock().unwrap_or_else(|e| e.into_inner()).current.as_mut())
        {
            schedule.steps.push(Some(usize::from(task)));
        }
        next
    }

    fn next_u64(&mut self) -> u64 {
        if let Some(schedule) = self.rec.lock().unwrap_or_else(|e| e.into_inner()).current.as_mut() {
            schedule.steps.push(None);
        }
        self.inner.next_u64()
    }
}

fn config(limits: &Limits) -> shuttle::Config {
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
    schedules: usize,
    limits: &Limits,
) -> (Verdict, usize) {
    let rec = Arc::new(Mutex::new(Recording::default()));
    let recorder = Recorder { inner: ManuallyDrop::new(scheduler), rec: rec.clone() };
    let (m, v, r) = (model.clone(), variant.clone(), rec.clone());
    let start = Instant::now();
    let result = quiet::quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shuttle::Runner::new(recorder, config(limits)).run(move || {
                let history = History::new();
                {
                    let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
                    r.executions += 1;
                    r.history = history.clone();
                }
                let outcome = execute::<Shuttle>(&m, &v, &DiskKind::Memory, &history);
                if let Some(violation) = outcome.violation {
                    let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
                    let schedule = r.current.clone().unwrap_or(ShuttleSchedule { seed: 0, steps: Vec::new() });
                    let failure = Failure {
                        violation,
                        events: outcome.events,
                        final_state: outcome.final_state,
                        replay: Replay::Shuttle(schedule),
                    };
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
            reason: format!("time limit of {:?} reached after {executions} of {schedules} schedules", limits.max_time),
        },
        (Ok(()), None) if start.elapsed() > limits.max_time => {
            Verdict::Incomplete { reason: format!("time limit of {:?} reached", limits.max_time) }
        }
        (Ok(()), None) => Verdict::NotFound,
        (Err(payload), None) => {
            let replay = Replay::Shuttle(rec.current.clone().unwrap_or(ShuttleSchedule { seed: 0, steps: Vec::new() }));
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
    search(model, variant, PctScheduler::new_from_seed(seed, depth, schedules), schedules, limits)
}

pub(super) fn run_random(
    model: &Model,
    variant: &Variant,
    schedules: usize,
    seed: u64,
    limits: &Limits,
) -> (Verdict, usize) {
    search(model, variant, RandomScheduler::new_from_seed(seed, schedules), schedules, limits)
}

/// Runs exactly one execution following `schedule`.
pub(super) fn replay(model: &Model, variant: &Variant, schedule: &ShuttleSchedule) -> Result<Outcome, String> {
    let out: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let (m, v, o) = (model.clone(), variant.clone(), out.clone());
    let scheduler = ReplayScheduler::new_from_schedule(schedule.to_shuttle());
    let result = quiet::quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shuttle::Runner::new(scheduler, config(&Limits::default())).run(move || {
                let outcome = execute::<Shuttle>(&m, &v, &DiskKind::Memory, &History::new());
                *o.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
            });
        }))
    });
    if let Err(payload) = result {
        return Err(format!("the schedule does not fit this scenario: {}", panic_message(&*payload)));
    }
    out.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| "the replay ran no execution".to_string())
}
