//! Schedules keyed by task names and visible steps, and a shuttle scheduler
//! that steers an execution along one.
//!
//! A [`StepSchedule`] is the history of an execution cut into segments:
//! `monitor*3, monitor/setCheckpoint*2, report-B*4` means the task `monitor`
//! took the next 3 visible steps, then `monitor/setCheckpoint` 2, and so on.
//! It names no thread index or scheduler decision, so it survives changes to
//! the code that do not change what the tasks visibly do, and it replays a
//! failure found by any explorer (loom, shuttle or real threads) the same way.

use super::{panic_message, quiet};
use crate::execution::{DiskKind, Model, Outcome, execute};
use crate::history::{Effect, Event, History};
use crate::platform::Shuttle;
use crate::systems::Variant;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs of visible steps by one task each.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StepSchedule {
    pub segments: Vec<(String, usize)>,
}

impl StepSchedule {
    /// The schedule an execution followed.
    pub fn of(events: &[Event]) -> StepSchedule {
        let mut segments: Vec<(String, usize)> = Vec::new();
        for e in events {
            match segments.last_mut() {
                Some((task, n)) if **task == *e.task => *n += 1,
                _ => segments.push((e.task.to_string(), 1)),
            }
        }
        StepSchedule { segments }
    }

    /// The task expected to take step `done + 1`, if any.
    fn expected(&self, done: usize) -> Option<&str> {
        let mut total = 0;
        for (task, n) in &self.segments {
            total += n;
            if done < total {
                return Some(task);
            }
        }
        None
    }

    /// Switches away from a task that is not finished and did not block on
    /// a lock: the preemptions this schedule needs.
    pub fn preemptions(&self, events: &[Event]) -> usize {
        let mut step = 0;
        let mut count = 0;
        for (i, (task, n)) in self.segments.iter().enumerate() {
            step += n;
            let blocked = events.get(step - 1).is_some_and(|e| matches!(e.effect, Effect::LockWait { .. }));
            let resumes = self.segments[i + 1..].iter().any(|(t, _)| t == task);
            if resumes && !blocked {
                count += 1;
            }
        }
        count
    }
}

impl fmt::Display for StepSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.segments.iter().map(|(t, n)| format!("{t}*{n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

impl FromStr for StepSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let segments = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|part| {
                let (task, n) = part
                    .rsplit_once('*')
                    .ok_or_else(|| format!("expected `task*steps` (like `monitor*3`) in a schedule, found {part:?}"))?;
                let n: usize =
                    n.parse().map_err(|_| format!("expected a number of steps after `*`, found {n:?} in {part:?}"))?;
                if task.is_empty() || n == 0 {
                    return Err(format!("expected a task name and a positive step count, found {part:?}"));
                }
                Ok((task.to_string(), n))
            })
            .collect::<Result<Vec<_>, String>>()?;
        if segments.is_empty() {
            return Err("expected a schedule like `monitor*3, report-B*2`, found nothing".into());
        }
        Ok(StepSchedule { segments })
    }
}

/// Shuttle's name for the thread that runs the model closure.
const MAIN_THREAD: &str = "main-thread";

/// A task's current name: renamed by the runtime, else as spawned.
fn name_of(task: &Task) -> Option<String> {
    crate::platform::shuttle_names::get(usize::from(task.id())).or_else(|| task.name())
}

/// Prefers the task the schedule expects next; otherwise keeps the current
/// task running (it must reach an await for the expected one to get on).
struct Steering {
    schedule: StepSchedule,
    history: History,
    started: bool,
    /// When the replay must give up (one long execution counts against
    /// `--max-time` too).
    deadline: Option<Instant>,
}

/// The panic that stops a steered execution at its deadline.
const DEADLINE: &str = "racecheck: the replay's time is up";

impl Scheduler for Steering {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            return None;
        }
        self.started = true;
        Some(Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, _is_yielding: bool) -> Option<TaskId> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            std::panic::panic_any(DEADLINE);
        }
        if let Some(expected) = self.schedule.expected(self.history.events_len())
            && let Some(task) = runnable.iter().find(|t| name_of(t).as_deref() == Some(expected))
        {
            return Some(task.id());
        }
        // The main thread first: it starts the actors (the expected one may
        // not exist yet) and is otherwise blocked joining them.
        if let Some(main) = runnable.iter().find(|t| t.name().as_deref() == Some(MAIN_THREAD)) {
            return Some(main.id());
        }
        match current {
            Some(c) if runnable.iter().any(|t| t.id() == c) => Some(c),
            _ => runnable.first().map(|t| t.id()),
        }
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// Runs one execution steered by `schedule` (the result may depart from it).
pub fn steer(model: &Model, variant: &Variant, schedule: &StepSchedule) -> Result<Outcome, String> {
    steer_until(model, variant, schedule, None)
}

fn steer_until(
    model: &Model,
    variant: &Variant,
    schedule: &StepSchedule,
    deadline: Option<Instant>,
) -> Result<Outcome, String> {
    let out: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let history = History::new();
    let scheduler = Steering { schedule: schedule.clone(), history: history.clone(), started: false, deadline };
    let (m, v, o) = (model.clone(), variant.clone(), out.clone());
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.silence_warnings = true;
    config.stack_size = crate::platform::MODEL_STACK;
    let result = quiet::quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shuttle::Runner::new(scheduler, config).run(move || {
                crate::platform::shuttle_names::clear();
                let outcome = execute::<Shuttle>(&m, &v, &DiskKind::Memory, &history);
                *o.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
            });
        }))
    });
    if let Err(payload) = result {
        let message = panic_message(&*payload);
        if message == DEADLINE {
            return Err("the time limit was reached before the replay ended".to_string());
        }
        return Err(format!("the execution panicked: {message}"));
    }
    out.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| "the replay ran no execution".to_string())
}

/// Replays `schedule` exactly: an error names the first step that departs.
/// The outcome is the execution up to the schedule's last step (where a
/// counterexample ends: at the step that broke its invariant), judged there.
pub fn replay(model: &Model, variant: &Variant, schedule: &StepSchedule) -> Result<Outcome, String> {
    replay_within(model, variant, schedule, None)
}

/// [`replay`], given up (an error) once `max_time` has passed.
pub fn replay_within(
    model: &Model,
    variant: &Variant,
    schedule: &StepSchedule,
    max_time: Option<Duration>,
) -> Result<Outcome, String> {
    let deadline = max_time.and_then(|t| Instant::now().checked_add(t));
    let mut outcome = steer_until(model, variant, schedule, deadline)?;
    let length: usize = schedule.segments.iter().map(|(_, n)| n).sum();
    let actual = StepSchedule::of(&outcome.events[..length.min(outcome.events.len())]);
    if actual != *schedule {
        let mut step = 0;
        for (i, want) in schedule.segments.iter().enumerate() {
            match actual.segments.get(i) {
                Some(got) if got == want => step += want.1,
                got => {
                    let got = got.map_or("the end of the execution".to_string(), |(t, n)| format!("{t}*{n}"));
                    return Err(format!(
                        "the schedule does not fit this scenario and variant any more: after step {step} it expects {}*{}, the execution did {got}",
                        want.0, want.1
                    ));
                }
            }
        }
    }
    if outcome.events.len() > length {
        // What broke after the schedule's end is not part of it.
        outcome.events.truncate(length);
        outcome.violation = outcome.violation.filter(|v| v.step.is_some_and(|s| s <= length));
    }
    Ok(outcome)
}

/// Removes context switches from a failing schedule while the same
/// invariant still fails; returns the smallest failing execution found
/// (`None`: none with fewer switches).
pub fn shrink(model: &Model, variant: &Variant, invariant: &str, events: Vec<Event>) -> Option<Outcome> {
    const MAX_TRIES: usize = 200;
    let mut best = events;
    let mut smaller = None;
    let mut tries = 0;
    'improve: while tries < MAX_TRIES {
        let schedule = StepSchedule::of(&best);
        let current = schedule.preemptions(&best);
        if current == 0 {
            break;
        }
        for i in 0..schedule.segments.len() {
            let task = &schedule.segments[i].0;
            // The task's next segment, pulled forward: it runs on instead of switching.
            let Some(j) = (i + 1..schedule.segments.len()).find(|&j| &schedule.segments[j].0 == task) else { continue };
            let mut candidate = schedule.segments.clone();
            let (_, extra) = candidate.remove(j);
            candidate[i].1 += extra;
            tries += 1;
            let Ok(outcome) = steer(model, variant, &StepSchedule { segments: candidate }) else { continue };
            if outcome.violation.as_ref().is_none_or(|v| v.invariant != invariant) {
                continue;
            }
            if StepSchedule::of(&outcome.events).preemptions(&outcome.events) < current {
                best = outcome.events.clone();
                smaller = Some(outcome);
                continue 'improve;
            }
            if tries >= MAX_TRIES {
                break 'improve;
            }
        }
        break;
    }
    smaller
}
