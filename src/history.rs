//! The record of one execution: every visible effect, in the order it happened.
//!
//! The log sits behind a plain `std::sync::Mutex`, never a platform mutex:
//! recording is not part of the modeled program, and a modeled log would
//! multiply the search space (measured 15× on a prototype). Under loom and
//! shuttle only one model thread runs at a time, so the log order is the
//! execution order.

use crate::storage::Contents;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What an event did to shared state.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A read of a resource (file, row); `value` is what it held (`None`: absent).
    Read {
        res: Arc<str>,
        value: Option<Contents>,
    },
    /// A committed write; `meta` is system-defined (e.g. the write's basis snapshot).
    Wrote {
        res: Arc<str>,
        value: Contents,
        meta: serde_json::Value,
    },
    /// A resource was deleted.
    Removed {
        res: Arc<str>,
    },
    /// A lock was requested while held by another task.
    LockWait {
        res: Arc<str>,
    },
    /// A lock was taken (directly, or handed over by the previous holder).
    Locked {
        res: Arc<str>,
    },
    Unlocked {
        res: Arc<str>,
    },
    /// A fire-and-forget task was started.
    Spawned {
        task: Arc<str>,
    },
    /// A system-specific fact the invariants judge (trigger raised, pass started...).
    Note {
        kind: &'static str,
        data: serde_json::Value,
    },
    /// An operation threw; the task continues like a `.catch(() => {})` would.
    Threw {
        error: String,
    },
}

/// One visible step of an execution.
#[derive(Clone, Debug)]
pub struct Event {
    /// Position in the execution, from 1 ("step 6" in reports).
    pub step: usize,
    /// The task that did it: an actor, or a task it spawned (`monitor/F1`).
    pub task: Arc<str>,
    /// The operation in progress (`handle_job_failed(A)`), with the origin's
    /// function that performed the effect (`savePlan`).
    pub op: Arc<str>,
    pub func: &'static str,
    pub effect: Effect,
}

impl Event {
    /// The `Note` data of this event if it is a note of `kind`.
    pub fn note(&self, kind: &str) -> Option<&serde_json::Value> {
        match &self.effect {
            Effect::Note { kind: k, data } if *k == kind => Some(data),
            _ => None,
        }
    }
}

/// Shared, append-only log of one execution.
#[derive(Clone, Default)]
pub struct History {
    log: Arc<Mutex<Vec<Event>>>,
    /// When the search that runs this execution must stop: a single
    /// execution of a large setup (a reconcile pass over 20,000 jobs) can
    /// run for minutes, and explorers that look at the clock only between
    /// executions would overrun their time limit by as much.
    deadline: Option<Instant>,
}

/// The panic payload of an execution stopped at its search's deadline
/// (see [`History::until`]): a cut, not a model panic.
#[derive(Debug)]
pub struct OutOfTime;

/// How many events go by between two looks at the clock.
const EVENTS_PER_CLOCK_CHECK: usize = 64;

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    /// A history that stops its execution (a panic with [`OutOfTime`]) at
    /// the first event it records after `deadline`, within
    /// `EVENTS_PER_CLOCK_CHECK` events.
    pub fn until(deadline: Instant) -> Self {
        History { deadline: Some(deadline), ..Self::default() }
    }

    /// Appends an event and returns its step number.
    pub fn push(&self, task: Arc<str>, op: Arc<str>, func: &'static str, effect: Effect) -> usize {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let step = log.len() + 1;
        log.push(Event { step, task, op, func, effect });
        if step.is_multiple_of(EVENTS_PER_CLOCK_CHECK) && self.deadline.is_some_and(|d| Instant::now() >= d) {
            drop(log);
            std::panic::panic_any(OutOfTime);
        }
        step
    }

    /// How many events were recorded so far.
    pub fn events_len(&self) -> usize {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Runs `f` on the events from index `from` on (without copying them).
    pub fn with_events_from<R>(&self, from: usize, f: impl FnOnce(&[Event]) -> R) -> R {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        f(&log[from.min(log.len())..])
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<Event> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn push(h: &History) -> usize {
        h.push("t".into(), "op".into(), "f", Effect::Threw { error: String::new() })
    }

    /// Past its deadline a history stops the execution at the next clock
    /// check, with the payload explorers take for a cut; before it, and
    /// without one, it records on.
    #[test]
    fn a_history_past_its_deadline_stops_within_a_clock_check() {
        let plain = History::new();
        let ahead = History::until(Instant::now() + Duration::from_secs(3600));
        for _ in 0..3 * EVENTS_PER_CLOCK_CHECK {
            push(&plain);
            push(&ahead);
        }
        let past = History::until(Instant::now());
        for step in 1..EVENTS_PER_CLOCK_CHECK {
            assert_eq!(push(&past), step);
        }
        let stopped = std::panic::catch_unwind(|| push(&past)).expect_err("the deadline passed");
        assert!(stopped.is::<OutOfTime>());
        assert_eq!(past.events_len(), EVENTS_PER_CLOCK_CHECK, "the event is kept");
    }
}
