//! The plan system's reachable conditions: the race windows its scenarios
//! are about, as monitors that say when an execution reaches one. A proof
//! whose scenario names a condition no execution reached is `vacuous`.
//! Conditions stay out of the state fingerprints (`execution::Monitors`), so
//! their `state_hash` is empty.

use super::files::{ENDED, JOBS_FILE, JobState, PLAN_FILE, PlanSpec};
use crate::history::{Effect, Event};
use crate::runtime::StateHasher;
use crate::systems::ConditionSpec;
use crate::systems::monitor::Monitor;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const CONDITIONS: &[ConditionSpec] = &[
    ConditionSpec {
        name: "stale-snapshot-write",
        about: "a caller wrote plan-level fields (savePlan or updatePlanFields), or threw holding planMutex, after another task changed or removed plan.json since the caller's unlocked loadPlan: the window of #63",
    },
    ConditionSpec {
        name: "missed-completion",
        about: "a task read jobs.json saying a job completed, failed or stopped while the plan.json it had read still said running: the gap #71's reconcile safety net closes",
    },
    ConditionSpec {
        name: "state-mutex-contended",
        about: "a read-modify-write of jobs.json (addJob, updateJob) waited for stateMutex while another held it: two writers of jobs.json at once, the window of 6f3b0e5",
    },
    ConditionSpec {
        name: "approve-resets-a-job",
        about: "mc_plan_approve's retry or accept wrote a failed, conflict or needs_rebase job of plan.json as ready_to_merge: the write 84e5a7f moved onto the snapshot approve saves",
    },
    ConditionSpec {
        name: "relaunch-window-read",
        about: "another task read plan.json after mc_plan_approve's relaunch saved the plan running and before relaunchJobForCorrection wrote the job running: a running plan with its job still failed",
    },
    ConditionSpec {
        name: "tmux-error-seen",
        about: "isPaneRunning ran while the tmux server did not answer (tmux_outage): the window of #12, where an error can pass for a dead pane",
    },
    ConditionSpec {
        name: "report-beside-an-earlier-entry",
        about: "an agent wrote a report while jobs.json held an entry of an earlier launch of the same job beside its running one: the window of fb82904",
    },
    ConditionSpec {
        name: "trigger-during-pass",
        about: "reconcile() was called while a pass of the same Orchestrator was in flight: the window of #15",
    },
];

/// The monitor of condition `name`, if it is one.
pub fn condition(name: &str) -> Option<Box<dyn Monitor>> {
    Some(match name {
        "stale-snapshot-write" => Box::new(StaleSnapshotWrite::default()),
        "trigger-during-pass" => Box::new(TriggerDuringPass),
        "missed-completion" => Box::new(MissedCompletion::default()),
        "state-mutex-contended" => Box::new(StateMutexContended),
        "approve-resets-a-job" => Box::new(ApproveResetsAJob::default()),
        "relaunch-window-read" => Box::new(RelaunchWindowRead::default()),
        "tmux-error-seen" => Box::new(TmuxErrorSeen),
        "report-beside-an-earlier-entry" => Box::new(ReportBesideAnEarlierEntry::default()),
        _ => return None,
    })
}

/// Each task's last `plan.json` snapshot: the jobs it says are running.
#[derive(Clone, Default)]
struct MissedCompletion {
    running: BTreeMap<String, BTreeSet<String>>,
}

impl Monitor for MissedCompletion {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let Effect::Read { res, value: Some(value) } = &e.effect else { return None };
        if &**res == PLAN_FILE {
            let running = value.with(|p: &PlanSpec| {
                p.jobs.iter().filter(|j| j.status == "running").map(|j| j.name.to_string()).collect()
            })?;
            self.running.insert(e.task.to_string(), running);
        } else if &**res == JOBS_FILE {
            let running = self.running.get(&*e.task)?;
            let ended = value.with(|s: &JobState| {
                s.jobs
                    .iter()
                    .find(|j| running.contains(j.name.as_str()) && ENDED.contains(&j.status.as_str()))
                    .map(|j| j.name.clone())
            })??;
            return Some(format!("step {} {} read {ended} ended in jobs.json, running in plan.json", e.step, e.task));
        }
        None
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

#[derive(Clone)]
struct StateMutexContended;

impl Monitor for StateMutexContended {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let Effect::LockWait { res } = &e.effect else { return None };
        (&**res == "stateMutex").then(|| format!("step {} {} waited for stateMutex", e.step, e.task))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Each plan job's status on disk (as last read or written), to see
/// approve move one from a failure to `ready_to_merge`.
#[derive(Clone, Default)]
struct ApproveResetsAJob {
    disk: BTreeMap<String, String>,
}

impl Monitor for ApproveResetsAJob {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let (value, wrote) = super::invariants::plan_seen(e)?;
        let now = value.with(super::invariants::statuses)?;
        let before = std::mem::replace(&mut self.disk, now);
        if !wrote {
            return None;
        }
        let reset = self.disk.iter().find(|(name, status)| {
            *status == "ready_to_merge"
                && before.get(*name).is_some_and(|b| ["failed", "conflict", "needs_rebase"].contains(&b.as_str()))
        })?;
        e.op.starts_with("approve")
            .then(|| format!("step {} {} ({} in {}) wrote {}=ready_to_merge", e.step, e.task, e.func, e.op, reset.0))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

/// The relaunch in flight: the approving task and its job, from the
/// approve's `savePlan` (plan running, job failed) to its job's write.
#[derive(Clone, Default)]
struct RelaunchWindowRead {
    open: Option<(String, String)>,
}

impl Monitor for RelaunchWindowRead {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let (value, wrote) = super::invariants::plan_seen(e)?;
        let relaunching = e.op.contains("relaunch ");
        if wrote && relaunching {
            let plan = value.value::<PlanSpec>()?;
            let job = e.op.rsplit_once("relaunch ")?.1.trim_end_matches(')');
            let failed = plan.job(job).is_some_and(|j| j.status == "failed");
            self.open = (plan.status == "running" && failed).then(|| (e.task.to_string(), job.to_string()));
            return None;
        }
        let (task, job) = self.open.as_ref()?;
        (!wrote && *e.task != **task).then(|| {
            format!("step {} {} ({} in {}) read plan.json while {task} relaunched {job}", e.step, e.task, e.func, e.op)
        })
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

/// `jobs.json` as last seen: (id, name, status).
#[derive(Clone, Default)]
struct ReportBesideAnEarlierEntry {
    jobs: Vec<(String, String, String)>,
}

impl Monitor for ReportBesideAnEarlierEntry {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Some(jobs) = super::invariants::jobs_seen(e) {
            self.jobs = jobs;
            return None;
        }
        let (_, name) = super::invariants::report_written(e)?;
        let of_job = |running: bool| self.jobs.iter().any(|(_, n, s)| *n == name && (s == "running") == running);
        (of_job(true) && of_job(false)).then(|| {
            format!("step {} {} reported on {name}, which has an earlier entry beside its running one", e.step, e.task)
        })
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

#[derive(Clone)]
struct TmuxErrorSeen;

impl Monitor for TmuxErrorSeen {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let job = e.note("tmux-error")?.get("job")?.as_str()?.to_string();
        Some(format!("step {} {} checked {job}'s pane while tmux did not answer", e.step, e.task))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

#[derive(Clone)]
struct TriggerDuringPass;

impl Monitor for TriggerDuringPass {
    fn observe(&mut self, e: &Event) -> Option<String> {
        // On an event loop the trigger says whether a pass was in flight;
        // under threads, `isReconciling` read or swapped while set says it.
        let during = match (e.note("reconcile-trigger"), e.note("flag")) {
            (Some(d), _) => d["duringPass"] == true,
            (_, Some(d)) => d["flag"] == "isReconciling" && d["op"] != "clear" && d["value"] == true,
            _ => false,
        };
        during.then(|| format!("step {} {} ({})", e.step, e.task, e.op))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Tasks holding `planMutex`, and each task's unlocked snapshot: whether
/// `plan.json` is still what it read. Reached when a task writes plan-level
/// fields (`savePlan`, `updatePlanFields`), or throws holding the lock, with
/// a snapshot another task has outdated.
#[derive(Clone, Default)]
struct StaleSnapshotWrite {
    holding: BTreeSet<Arc<str>>,
    current: BTreeMap<Arc<str>, bool>,
}

impl StaleSnapshotWrite {
    fn outdated(&self, task: &str) -> bool {
        self.current.get(task) == Some(&false)
    }

    fn others_outdated(&mut self, writer: &str) {
        for (t, current) in self.current.iter_mut() {
            if &**t != writer {
                *current = false;
            }
        }
    }
}

impl Monitor for StaleSnapshotWrite {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let task = &*e.task;
        let reached = || Some(format!("step {} {} ({} in {}) from an outdated snapshot", e.step, task, e.func, e.op));
        match &e.effect {
            Effect::Locked { res } if &**res == "planMutex" => {
                self.holding.insert(e.task.clone());
            }
            Effect::Unlocked { res } if &**res == "planMutex" => {
                self.holding.remove(task);
            }
            Effect::Read { res, .. } if &**res == PLAN_FILE && e.func == "loadPlan" && !self.holding.contains(task) => {
                self.current.insert(e.task.clone(), true);
            }
            Effect::Wrote { res, .. } if &**res == PLAN_FILE && ["savePlan", "updatePlanFields"].contains(&e.func) => {
                if self.outdated(task) {
                    return reached();
                }
                self.others_outdated(task);
            }
            Effect::Wrote { res, .. } | Effect::Removed { res } if &**res == PLAN_FILE => self.others_outdated(task),
            Effect::Threw { .. } if self.holding.contains(task) && self.outdated(task) => return reached(),
            _ => {}
        }
        None
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}
