//! The runs system's reachable conditions: the race windows its scenarios
//! are about, as monitors that say when an execution reaches one. A proof
//! whose scenario names a condition no execution reached is `vacuous`.
//! Conditions stay out of the state fingerprints (`execution::Monitors`), so
//! their `state_hash` is empty.

use super::workflows::RunRow;
use crate::history::{Effect, Event};
use crate::runtime::StateHasher;
use crate::systems::ConditionSpec;
use crate::systems::monitor::Monitor;
use std::collections::BTreeMap;

pub const CONDITIONS: &[ConditionSpec] = &[
    ConditionSpec {
        name: "resume-cas-lost",
        about: "a resumeWorkflowRun UPDATE matched no row because another resumer had claimed the run since this one found it resumable: the window #1830's compare-and-swap closes",
    },
    ConditionSpec {
        name: "cancel-found-it-finished",
        about: "a cancel whose status check passed found, at its UPDATE, the run already completed or cancelled",
    },
    ConditionSpec {
        name: "finish-found-it-cancelled",
        about: "an executor's guarded terminal write (complete, fail, pause) found the run cancelled after its skip read: the window af4e8b48's guard closes",
    },
    ConditionSpec {
        name: "path-lock-found-a-holder",
        about: "an executor's path lock found an older active run on its worktree",
    },
    ConditionSpec {
        name: "conversation-lock-contended",
        about: "a dispatch waited for a conversation lock another dispatch held",
    },
    ConditionSpec {
        name: "restart-during-run",
        about: "the server restarted while an executor was running a row (between its start and its end): the window of #1216",
    },
    ConditionSpec {
        name: "orphan-reclaimed",
        about: "resumeWorkflowRun claimed a row that said running (a stale orphan)",
    },
];

/// The monitor of condition `name`, if it is one.
pub fn condition(name: &str) -> Option<Box<dyn Monitor>> {
    Some(match name {
        "resume-cas-lost" => Box::new(NoteSeen {
            kind: "zero-rows",
            when: |d| d["sql"].as_str().is_some_and(|q| q.contains("resumable")) && d["status"] == "running",
        }),
        "cancel-found-it-finished" => Box::new(NoteSeen { kind: "cancel-result", when: |d| d["changed"] == false }),
        "finish-found-it-cancelled" => Box::new(NoteSeen {
            kind: "zero-rows",
            when: |d| {
                d["sql"].as_str().is_some_and(|q| q.ends_with("AND status='running'")) && d["status"] == "cancelled"
            },
        }),
        "path-lock-found-a-holder" => Box::new(Seen(|e| {
            e.func == "getActiveWorkflowRunByPath" && matches!(&e.effect, Effect::Read { value: Some(_), .. })
        })),
        "conversation-lock-contended" => {
            Box::new(Seen(|e| matches!(&e.effect, Effect::LockWait { res } if res.starts_with("conversationLock:"))))
        }
        "orphan-reclaimed" => Box::new(OrphanReclaimed::default()),
        "restart-during-run" => Box::new(RestartDuringRun::default()),
        _ => return None,
    })
}

/// Reached at the first event `.0` accepts; keeps no state.
#[derive(Clone)]
struct Seen(fn(&Event) -> bool);

impl Monitor for Seen {
    fn observe(&mut self, e: &Event) -> Option<String> {
        (self.0)(e).then(|| format!("step {} {} ({})", e.step, e.task, e.func))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Reached at the first note of `kind` whose data `when` accepts.
#[derive(Clone)]
struct NoteSeen {
    kind: &'static str,
    when: fn(&serde_json::Value) -> bool,
}

impl Monitor for NoteSeen {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let data = e.note(self.kind)?;
        (self.when)(data).then(|| format!("step {} {} ({})", e.step, e.task, e.func))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

/// The row a read returned, if any (by id or by query).
fn row_read(e: &Event) -> Option<&RunRow> {
    match &e.effect {
        Effect::Read { value: Some(v), .. } => v.value::<RunRow>(),
        _ => None,
    }
}

fn row_written(e: &Event) -> Option<&RunRow> {
    match &e.effect {
        Effect::Wrote { value, .. } => value.value::<RunRow>(),
        _ => None,
    }
}

/// Each run's last status seen (read or written).
#[derive(Clone, Default)]
struct OrphanReclaimed {
    status: BTreeMap<String, &'static str>,
}

impl Monitor for OrphanReclaimed {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Some(row) = row_written(e) {
            let before = self.status.insert(row.id.clone(), row.status);
            if e.func == "resumeWorkflowRun" && before == Some("running") {
                return Some(format!("step {} {} reclaimed run {}", e.step, e.task, row.id));
            }
        } else if let Some(row) = row_read(e) {
            self.status.insert(row.id.clone(), row.status);
        }
        None
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Executors running now, by task.
#[derive(Clone, Default)]
struct RestartDuringRun {
    running: BTreeMap<String, String>,
}

impl Monitor for RestartDuringRun {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Some(d) = e.note("executor-start") {
            let run = d.get("run").and_then(|r| r.as_str()).unwrap_or_default();
            self.running.insert(e.task.to_string(), run.to_string());
        } else if e.note("executor-end").is_some() {
            self.running.remove(&*e.task);
        } else if e.note("server-restart").is_some() {
            let (task, run) = self.running.iter().next()?;
            return Some(format!("step {} the server restarted while {task} was executing {run}", e.step));
        }
        None
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}
