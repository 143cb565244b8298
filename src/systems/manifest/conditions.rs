//! The manifest system's reachable conditions: the race windows its
//! scenarios are about, as monitors that say when an execution reaches one.
//! A proof whose scenario names a condition no execution reached is
//! `vacuous`.
//! Conditions stay out of the state fingerprints (`execution::Monitors`), so
//! their `state_hash` is empty.

use super::Setup;
use super::bundle::{MANIFEST_FILE, parse};
use crate::history::{Effect, Event};
use crate::runtime::StateHasher;
use crate::systems::ConditionSpec;
use crate::systems::monitor::Monitor;
use std::collections::BTreeSet;

pub const CONDITIONS: &[ConditionSpec] = &[
    ConditionSpec {
        name: "patch-on-outdated-cache",
        about: "the service computed a new version (a patch, claim, release or heartbeat) from a cached manifest while manifest.json on disk held another: the window #375's disk check guards",
    },
    ConditionSpec {
        name: "timer-fires-during-patch",
        about: "a watcher timer fired while a service write was between computing its version and its result",
    },
    ConditionSpec {
        name: "timers-overlap",
        about: "a file's change armed a debounce timer while another file's reload was still pending: the window of #408",
    },
    ConditionSpec {
        name: "claim-finds-task-finished",
        about: "a claimTask was at work on a task that manifest.json holds as done or failed: the window of issue #413",
    },
    ConditionSpec {
        name: "heartbeat-before-patch",
        about: "a heartbeat finished after the scenario started and before a manifestPatch finished: the lead's if_match is older than the heartbeat",
    },
    ConditionSpec {
        name: "external-write-after-heartbeat",
        about: "an external write of manifest.json landed after a heartbeat and before the next watcher timer fired: the window #375's heartbeat opened",
    },
];

/// The monitor of condition `name`, if it is one.
pub fn condition(name: &str, setup: &Setup) -> Option<Box<dyn Monitor>> {
    Some(match name {
        "patch-on-outdated-cache" => Box::new(PatchOnOutdatedCache { disk: Some(setup.initial().disk.etag.clone()) }),
        "timer-fires-during-patch" => Box::new(TimerFiresDuringPatch::default()),
        "timers-overlap" => Box::new(TimersOverlap::default()),
        "claim-finds-task-finished" => Box::new(ClaimFindsTaskFinished::default()),
        "heartbeat-before-patch" => Box::new(HeartbeatBeforePatch::default()),
        "external-write-after-heartbeat" => Box::new(ExternalWriteAfterHeartbeat::default()),
        _ => return None,
    })
}

fn at(e: &Event) -> String {
    format!("step {} {} ({})", e.step, e.task, e.op)
}

/// `manifest.json`'s etag on disk (`None`: not a manifest, or gone).
#[derive(Clone)]
struct PatchOnOutdatedCache {
    disk: Option<String>,
}

impl Monitor for PatchOnOutdatedCache {
    fn observe(&mut self, e: &Event) -> Option<String> {
        match &e.effect {
            Effect::Wrote { res, value, .. } if &**res == MANIFEST_FILE => self.disk = parse(value).map(|m| m.etag),
            Effect::Removed { res } if &**res == MANIFEST_FILE => self.disk = None,
            _ => {
                let data = e.note("patch-computed")?;
                let base = data.get("baseEtag").and_then(|v| v.as_str());
                if base != self.disk.as_deref() {
                    return Some(at(e));
                }
            }
        }
        None
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// The tasks between `patch-computed` and their `patch-result`.
#[derive(Clone, Default)]
struct TimerFiresDuringPatch {
    writing: BTreeSet<String>,
}

impl Monitor for TimerFiresDuringPatch {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if e.note("patch-computed").is_some() {
            self.writing.insert(e.task.to_string());
        } else if e.note("patch-result").is_some() {
            self.writing.remove(&*e.task);
        } else if e.note("watcher-fired").is_some() && !self.writing.is_empty() {
            return Some(at(e));
        }
        None
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// The files whose reload timer is armed.
#[derive(Clone, Default)]
struct TimersOverlap {
    armed: BTreeSet<String>,
}

impl Monitor for TimersOverlap {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let file = |d: &serde_json::Value| d.get("file").and_then(|f| f.as_str()).unwrap_or_default().to_string();
        if let Some(d) = e.note("timer-armed") {
            let file = file(d);
            let other = self.armed.iter().any(|f| *f != file) || !d["cleared"].is_null();
            self.armed.insert(file);
            if other {
                return Some(at(e));
            }
        } else if let Some(d) = e.note("watcher-fired") {
            self.armed.remove(&file(d));
        }
        None
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Whether a heartbeat ran since the last watcher timer fired.
#[derive(Clone, Default)]
struct ExternalWriteAfterHeartbeat {
    heartbeat: bool,
}

impl Monitor for ExternalWriteAfterHeartbeat {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if e.note("patch-result").is_some() && (e.func == "heartbeat" || e.func == "agentHeartbeat") {
            self.heartbeat = true;
        } else if e.note("watcher-fired").is_some() {
            self.heartbeat = false;
        } else if self.heartbeat
            && e.func == "externalWrite"
            && matches!(&e.effect, Effect::Wrote { res, .. } if &**res == MANIFEST_FILE)
        {
            return Some(at(e));
        }
        None
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// A claim at work on a task that manifest.json (as last read or written)
/// holds as done or failed.
#[derive(Clone, Default)]
struct ClaimFindsTaskFinished {
    finished: BTreeSet<String>,
}

impl Monitor for ClaimFindsTaskFinished {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Effect::Read { res, value: Some(value) } | Effect::Wrote { res, value, .. } = &e.effect
            && &**res == MANIFEST_FILE
            && let Some(m) = parse(value)
        {
            let finished = m.tasks.iter().filter(|t| ["done", "failed"].contains(&t.status.as_str()));
            self.finished = finished.map(|t| t.id.clone()).collect();
        }
        let task = e.op.strip_prefix("claim_task(")?.split([',', ')']).next()?;
        self.finished
            .contains(task)
            .then(|| format!("step {} {} was claiming {task}, which manifest.json holds as finished", e.step, e.task))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Whether a heartbeat has finished.
#[derive(Clone, Default)]
struct HeartbeatBeforePatch {
    beat: bool,
}

impl Monitor for HeartbeatBeforePatch {
    fn observe(&mut self, e: &Event) -> Option<String> {
        e.note("patch-result")?;
        if e.op.starts_with("heartbeat") {
            self.beat = true;
            return None;
        }
        (self.beat && e.op.starts_with("manifest_patch"))
            .then(|| format!("step {} {}'s patch finished after a heartbeat", e.step, e.task))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}
