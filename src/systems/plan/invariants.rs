//! The plan system's invariants, as online monitors over the history (and,
//! for `no-job-stuck-running`, the final state).

use super::Setup;
use super::files::{AgentReport, ENDED, JOBS_FILE, JobState, PLAN_FILE, PlanSpec, report_file};
use crate::history::{Effect, Event};
use crate::runtime::{StateHash, StateHasher};
use crate::storage::Contents;
use crate::systems::monitor::{FinalState, Monitor, Unknown};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub fn monitor(invariant: &str, setup: &Setup) -> Box<dyn Monitor> {
    match invariant {
        "no-lost-job-update" => Box::new(NoLostUpdate::plan_jobs(setup, Check::Reverts)),
        "no-stale-job-decision" => Box::new(NoLostUpdate::plan_jobs(setup, Check::Decisions)),
        "no-lost-job-state-update" => Box::new(NoLostUpdate::job_state(setup)),
        "completion-processed" => Box::new(CompletionProcessed),
        "checkpoint-implies-paused" => Box::new(CheckpointImpliesPaused),
        "every-trigger-seen" => Box::new(EveryTriggerSeen::default()),
        "no-job-stuck-running" => Box::new(NoJobStuckRunning),
        "plan-not-resurrected" => Box::new(PlanNotResurrected::default()),
        "pre-merge-approval-kept" => Box::new(PreMergeApprovalKept::default()),
        "one-pr-per-plan" => Box::new(OnePrPerPlan::default()),
        "no-live-job-ended" => Box::new(NoLiveJobEnded::new(setup)),
        "report-reaches-its-job" => Box::new(ReportReachesItsJob::default()),
        "no-job-status-regression" => Box::new(NoJobStatusRegression::new(setup)),
        "stopped-job-not-merged" => Box::new(StoppedJobNotMerged::default()),
        other => Box::new(Unknown(other.to_string())),
    }
}

/// A `plan.json` write: what it wrote, and its meta.
fn plan_write(e: &Event) -> Option<(&Contents, &Value)> {
    match &e.effect {
        Effect::Wrote { res, value, meta } if &**res == PLAN_FILE => Some((value, meta)),
        _ => None,
    }
}

/// `plan.json` as a read or a write shows it, and whether it was written.
/// Every write is seen, so the last one seen is what is on disk; a monitor
/// that needs the state before a write keeps what it last saw.
pub(super) fn plan_seen(e: &Event) -> Option<(&Contents, bool)> {
    match &e.effect {
        Effect::Read { res, value: Some(value) } if &**res == PLAN_FILE => Some((value, false)),
        Effect::Wrote { res, value, .. } if &**res == PLAN_FILE => Some((value, true)),
        _ => None,
    }
}

/// `jobs.json`'s entries as a read or a write shows them: (id, name, status).
pub(super) fn jobs_seen(e: &Event) -> Option<Vec<(String, String, String)>> {
    let value = match &e.effect {
        Effect::Read { res, value: Some(value) } | Effect::Wrote { res, value, .. } if &**res == JOBS_FILE => value,
        _ => return None,
    };
    value.with(|s: &JobState| {
        s.jobs.iter().map(|j| (j.id.to_string(), j.name.to_string(), j.status.to_string())).collect()
    })
}

/// An agent report written: (job id, job name).
pub(super) fn report_written(e: &Event) -> Option<(String, String)> {
    let Effect::Wrote { res, value, .. } = &e.effect else { return None };
    if !res.starts_with("reports/") {
        return None;
    }
    value.with(|r: &AgentReport| (r.job_id.clone(), r.job_name.clone()))
}

fn is_plan_removal(e: &Event) -> bool {
    matches!(&e.effect, Effect::Removed { res } if &**res == PLAN_FILE)
}

fn who(e: &Event) -> String {
    format!("{} ({} in {})", e.task, e.func, e.op)
}

fn basis(meta: &Value) -> String {
    match meta.get("basis").and_then(Value::as_u64) {
        Some(step) => format!(" from the snapshot read at step {step}"),
        None => String::new(),
    }
}

/// Entries' statuses, by name or id.
type Statuses = BTreeMap<String, String>;

/// Each job's status in a plan, by name.
pub(super) fn statuses(plan: &PlanSpec) -> Statuses {
    plan.jobs.iter().map(|j| (j.name.to_string(), j.status.to_string())).collect()
}

/// Each `jobs.json` entry's status, by id.
fn entry_statuses(state: &JobState) -> Statuses {
    state.jobs.iter().map(|j| (j.id.to_string(), j.status.to_string())).collect()
}

/// Who set an entry: the step, and the event's task, function and operation.
type SetBy = (usize, Arc<str>, &'static str, Arc<str>);

/// Each entry's (name or id, status), viewed in place in a file's value, in
/// the file's order; with an index by name where a plan is too large for a
/// linear search per lookup (a scenario may set up 100,000 jobs: every
/// write compares each entry, which must not take quadratic time).
#[derive(Default)]
struct Pairs<'a> {
    order: Vec<(&'a str, &'a str)>,
    /// Each name's position in `order` (empty: search `order`).
    index: FxHashMap<&'a str, usize>,
}

/// Above this many entries the pairs are grouped and looked up through the
/// index (below, a map per write would cost more than the searches).
const LINEAR_PAIRS: usize = 16;

impl<'a> Pairs<'a> {
    /// The status these pairs give `name`.
    fn status_of(&self, name: &str) -> Option<&'a str> {
        if self.index.is_empty() {
            return self.order.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
        }
        self.index.get(name).map(|&i| self.order[i].1)
    }
}

/// `entries` with one pair per name, where the name first appears, with the
/// last status it has (as a map collected from them keeps it): `jobs.json`
/// may hold two entries with one id (a relaunch at the same clock reading
/// as its setup entry).
fn last_per_name<'a>(entries: impl ExactSizeIterator<Item = (&'a str, &'a str)>) -> Pairs<'a> {
    let indexed = entries.len() > LINEAR_PAIRS;
    let mut pairs = Pairs { order: Vec::with_capacity(entries.len()), index: FxHashMap::default() };
    for (name, status) in entries {
        let at =
            if indexed { pairs.index.get(name).copied() } else { pairs.order.iter().position(|(n, _)| *n == name) };
        match at {
            Some(at) => pairs.order[at].1 = status,
            None => {
                if indexed {
                    pairs.index.insert(name, pairs.order.len());
                }
                pairs.order.push((name, status));
            }
        }
    }
    pairs
}

/// `plan.json`'s jobs: (name, status).
fn plan_pairs(c: &Contents) -> Option<Pairs<'_>> {
    c.value::<PlanSpec>().map(|p| last_per_name(p.jobs.iter().map(|j| (j.name.as_str(), j.status.as_str()))))
}

/// `jobs.json`'s entries: (id, status).
fn job_state_pairs(c: &Contents) -> Option<Pairs<'_>> {
    c.value::<JobState>().map(|s| last_per_name(s.jobs.iter().map(|j| (j.id.as_str(), j.status.as_str()))))
}

/// Writes to a file of entries (`plan.json`'s jobs by name, `jobs.json`'s
/// entries by id), judged against what is on disk when each lands.
///
/// The monitor keeps the contents written (shared, not copied) and views
/// their entries' statuses in place: building a map of them on every write
/// was a tenth of an execution of #63.
#[derive(Clone)]
struct NoLostUpdate {
    file: &'static str,
    check: Check,
    /// The contents as a value of the file's shape (`None`: not a file of entries).
    value: fn(&Contents) -> Option<Contents>,
    /// Each entry's status in such a value.
    pairs: for<'a> fn(&'a Contents) -> Option<Pairs<'a>>,
    /// What is on disk, as a value (`None`: the file is gone).
    disk: Option<Contents>,
    /// Note: who last set each entry's status: the step, and the event's task,
    /// function and operation (put in words only for a message).
    last_set: BTreeMap<String, SetBy>,
    /// What each writer put in the shared temp file (`<file>.tmp`) and has
    /// not renamed yet, with the step (MC's atomicWrite before 6f3b0e5).
    own_tmp: BTreeMap<Arc<str>, (usize, Contents)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Check {
    /// A write changes or drops an entry's status only if the writer meant
    /// to (the write's `targets`): no stale read-modify-write reverts an
    /// update another writer committed.
    Reverts,
    /// A targeted write whose caller decided on a snapshot (`decidedOn`)
    /// finds the entry as that snapshot showed it (or already as it writes
    /// it): no stale decision overwrites an update its caller never saw.
    Decisions,
}

impl NoLostUpdate {
    /// `plan.json`'s jobs (`no-lost-job-update`, `no-stale-job-decision`).
    fn plan_jobs(setup: &Setup, check: Check) -> Self {
        let disk = setup.initial_plan().map(Contents::of);
        let (value, pairs) = (Contents::as_value::<PlanSpec>, plan_pairs);
        NoLostUpdate { file: PLAN_FILE, check, value, pairs, disk, last_set: BTreeMap::new(), own_tmp: BTreeMap::new() }
    }

    /// `jobs.json`'s entries (`no-lost-job-state-update`).
    fn job_state(setup: &Setup) -> Self {
        let disk = Some(Contents::of(setup.initial_job_state()));
        let (value, pairs) = (Contents::as_value::<JobState>, job_state_pairs);
        let (last_set, own_tmp) = (BTreeMap::new(), BTreeMap::new());
        NoLostUpdate { file: JOBS_FILE, check: Check::Reverts, value, pairs, disk, last_set, own_tmp }
    }

    /// What is on disk, entry by entry (none when the file is gone).
    fn on_disk(&self) -> Pairs<'_> {
        self.disk.as_ref().and_then(|d| (self.pairs)(d)).unwrap_or_default()
    }

    fn committed(&self, name: &str, status: &str) -> String {
        match self.last_set.get(name) {
            Some((step, task, func, op)) => format!("{task} ({func} in {op}) committed {name}={status} at step {step}"),
            None => format!("{name} was {status} since the start"),
        }
    }

    /// The first entry the write reverts, in words.
    fn reverted(&self, e: &Event, meta: &Value, new: &Pairs, targets: &[&str]) -> Option<String> {
        let (name, before) = self
            .on_disk()
            .order
            .into_iter()
            .find(|(name, before)| new.status_of(name) != Some(before) && !targets.contains(name))?;
        let wrote = match new.status_of(name) {
            Some(status) => format!("wrote {name}={status}"),
            None => format!("wrote {} without {name}", self.file),
        };
        Some(format!(
            "{}; step {} {} {wrote}{}, reverting it",
            self.committed(name, before),
            e.step,
            who(e),
            basis(meta)
        ))
    }

    /// A rename of the shared temp file that published what another writer
    /// put there (`own` is what this one wrote), in words, if it lost an
    /// entry this writer meant to set.
    fn lost_in_tmp(&self, e: &Event, new: &Pairs, targets: &[&str], own: Option<(usize, Contents)>) -> Option<String> {
        let (step, own) = own?;
        let own = (self.value)(&own)?;
        let own = (self.pairs)(&own)?;
        let target = targets.iter().find(|t| own.status_of(t) != new.status_of(t))?;
        let meant = own.status_of(target).unwrap_or("(removed)");
        Some(format!(
            "step {} {} renamed {file}.tmp, which it wrote at step {step} and another writer has replaced since: it \
             published that writer's {file}, and its own {target}={meant} never reached {file}",
            e.step,
            who(e),
            file = self.file
        ))
    }

    /// The targeted entry the write overwrites on a stale decision, in words.
    fn overwritten(&self, e: &Event, meta: &Value, new: &Pairs, targets: &[&str]) -> Option<String> {
        let (Some(decided), [target]) = (meta.get("decidedOn").and_then(Value::as_str), targets) else { return None };
        let before = self.on_disk().status_of(target)?;
        let now = new.status_of(target);
        if before == decided || now == Some(before) {
            return None;
        }
        Some(format!(
            "{}; step {} {} wrote {target}={}, decided on its caller's snapshot in which {target} was {decided}, \
             overwriting it",
            self.committed(target, before),
            e.step,
            who(e),
            now.unwrap_or("(none)")
        ))
    }
}

impl Monitor for NoLostUpdate {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let (contents, meta) = match &e.effect {
            Effect::Removed { res } if &**res == self.file => {
                self.disk = None;
                return None;
            }
            Effect::Wrote { res, value, meta } if &**res == self.file => (value, meta),
            Effect::Wrote { res, value, .. } if res.strip_suffix(".tmp") == Some(self.file) => {
                self.own_tmp.insert(e.task.clone(), (e.step, value.clone()));
                return None;
            }
            _ => return None,
        };
        let own = self.own_tmp.remove(&e.task);
        let written = (self.value)(contents)?;
        let new = (self.pairs)(&written)?;
        let targets: Vec<&str> = meta
            .get("targets")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let broken = match self.check {
            Check::Reverts => {
                self.lost_in_tmp(e, &new, &targets, own).or_else(|| self.reverted(e, meta, &new, &targets))
            }
            Check::Decisions => self.overwritten(e, meta, &new, &targets),
        };
        if broken.is_some() {
            return broken;
        }
        for t in targets {
            let set_by = (e.step, e.task.clone(), e.func, e.op.clone());
            // Most writes set an entry set before: no new key to allocate.
            match self.last_set.get_mut(t) {
                Some(entry) => *entry = set_by,
                None => {
                    self.last_set.insert(t.to_string(), set_by);
                }
            }
        }
        self.disk = Some(written);
        None
    }

    fn state_hash(&self, h: &mut StateHasher) {
        // What is on disk, by the contents' own fingerprint (made once per
        // write, not per state). Only the statuses matter to later verdicts,
        // but the file as a whole is in the state already (it is on the
        // memory disk), so hashing all of it parts no two states the
        // statuses alone would join, and it costs nothing.
        self.disk.as_ref().map(Contents::fingerprint).state_hash(h);
        h.u64(self.own_tmp.len() as u64);
        for (task, (_, contents)) in &self.own_tmp {
            h.task(task);
            contents.state_hash(h);
        }
    }
}

/// A job ends in `jobs.json` (completed or failed) only on evidence: its
/// pane exited, or its agent reported it done. Judged at the end, for the
/// entries an execution ended: one whose pane is still alive and whose
/// agent never reported was ended on a misreading (a tmux error read as a
/// dead pane, #12).
#[derive(Clone)]
struct NoLiveJobEnded {
    /// Each entry's status in `jobs.json`, by id.
    disk: Statuses,
    /// Entries a write ended: id → (name, step, who).
    ended: BTreeMap<String, (String, usize, String)>,
}

impl NoLiveJobEnded {
    fn new(setup: &Setup) -> Self {
        NoLiveJobEnded { disk: entry_statuses(&setup.initial_job_state()), ended: BTreeMap::new() }
    }
}

impl Monitor for NoLiveJobEnded {
    fn observe(&mut self, e: &Event) -> Option<String> {
        // A read shows what is on disk, so only a write ends an entry.
        let jobs = jobs_seen(e)?;
        for (id, name, status) in &jobs {
            if ["completed", "failed"].contains(&status.as_str()) && self.disk.get(id) != Some(status) {
                self.ended.insert(id.clone(), (name.clone(), e.step, who(e)));
            }
        }
        self.disk = jobs.into_iter().map(|(id, _, status)| (id, status)).collect();
        None
    }

    fn at_end(&mut self, _: &[Event], final_state: &FinalState) -> Option<String> {
        let state = final_state.get();
        let files = state.get("files")?;
        for (id, (name, step, by)) in &self.ended {
            let status = self.disk.get(id).map(String::as_str).unwrap_or_default();
            if !["completed", "failed"].contains(&status) {
                continue;
            }
            let pane_alive = state.pointer(&format!("/panes/{name}/alive")).and_then(Value::as_bool).unwrap_or(true);
            let reported = files
                .get(report_file(id))
                .and_then(|r| r.get("status"))
                .and_then(Value::as_str)
                .is_some_and(|s| s == "completed" || s == "needs_review");
            if pane_alive && !reported {
                return Some(format!(
                    "step {step} {by} marked {name} {status} in jobs.json, yet at the end its tmux pane is alive \
                     and its agent never reported done: the job was ended while it still runs"
                ));
            }
        }
        None
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.disk.state_hash(h);
        let ended: Vec<&String> = self.ended.keys().collect();
        ended.state_hash(h);
    }
}

/// fb82904: the monitor reads `reports/<id>.json` for each running entry, so
/// a report written under another entry's id (an earlier launch of the same
/// job) never reaches it.
#[derive(Clone, Default)]
struct ReportReachesItsJob {
    /// `jobs.json`'s entries as last read or written: (id, name, status).
    jobs: Vec<(String, String, String)>,
}

impl Monitor for ReportReachesItsJob {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Some(jobs) = jobs_seen(e) {
            self.jobs = jobs;
            return None;
        }
        let (id, name) = report_written(e)?;
        let (running, ..) = self.jobs.iter().find(|(_, n, status)| *n == name && status == "running")?;
        (*running != id).then(|| {
            format!(
                "step {} {} wrote its report under {id}, an earlier entry of {name}, while {name}'s running entry is \
                 {running}: the monitor reads reports/{running}.json and never sees it",
                e.step,
                who(e)
            )
        })
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.jobs.state_hash(h);
    }
}

/// The first `createPR` of the plan: where and by whom.
#[derive(Clone, Default)]
struct OnePrPerPlan {
    first: Option<(usize, String)>,
}

impl Monitor for OnePrPerPlan {
    fn observe(&mut self, e: &Event) -> Option<String> {
        e.note("pr-created")?;
        match &self.first {
            Some((step, by)) => {
                Some(format!("step {step} {by} created the plan's PR; step {} {} created it again", e.step, who(e)))
            }
            None => {
                self.first = Some((e.step, who(e)));
                None
            }
        }
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.first.is_some().state_hash(h);
    }
}

/// Issue #3: approving a `pre_merge` checkpoint must let the approved jobs
/// move on, not pause the plan at `pre_merge` again before they merge.
#[derive(Clone, Default)]
struct PreMergeApprovalKept {
    /// plan.json's checkpoint as last read or written.
    checkpoint: Option<String>,
    /// The jobs ready to merge when a `pre_merge` checkpoint was cleared,
    /// with the step and who cleared it; a job leaves once it moves on.
    approved: BTreeMap<String, (usize, String)>,
}

impl Monitor for PreMergeApprovalKept {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let (value, wrote) = plan_seen(e)?;
        let (checkpoint, jobs) = value.with(|p: &PlanSpec| (p.checkpoint.clone(), statuses(p)))?;
        let before = std::mem::replace(&mut self.checkpoint, checkpoint.clone());
        if !wrote {
            return None;
        }
        let ready = |name: &str| jobs.get(name).is_some_and(|s| s == "ready_to_merge");
        if before.as_deref() == Some("pre_merge") && checkpoint.is_none() {
            for name in jobs.keys().filter(|name| ready(name)) {
                self.approved.insert(name.clone(), (e.step, who(e)));
            }
            return None;
        }
        if checkpoint.as_deref() == Some("pre_merge")
            && before.as_deref() != Some("pre_merge")
            && let Some((name, (step, by))) = self.approved.iter().find(|(name, _)| ready(name))
        {
            return Some(format!(
                "step {step} {by} cleared the pre_merge checkpoint with {name} ready_to_merge; step {} {} paused the \
                 plan at pre_merge again with {name} still ready_to_merge: the approval was forgotten",
                e.step,
                who(e)
            ));
        }
        self.approved.retain(|name, _| ready(name));
        None
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.checkpoint.state_hash(h);
        let approved: Vec<&String> = self.approved.keys().collect();
        approved.state_hash(h);
    }
}

/// At the end no plan job is still `completed` while the plan is running:
/// a reconcile pass read every completion (and made it `ready_to_merge`).
#[derive(Clone)]
struct CompletionProcessed;

impl Monitor for CompletionProcessed {
    fn observe(&mut self, _: &Event) -> Option<String> {
        None
    }

    fn at_end(&mut self, events: &[Event], final_state: &FinalState) -> Option<String> {
        let plan = final_state.get().get("files")?.get(PLAN_FILE)?;
        let plan: PlanSpec = serde_json::from_value(plan.clone()).ok()?;
        let job = plan.jobs.iter().find(|j| j.status == "completed").filter(|_| plan.status == "running")?;
        let completed = events
            .iter()
            .rev()
            .find_map(|e| {
                let (contents, meta) = plan_write(e)?;
                let targets = meta.get("targets")?.as_array()?;
                let completes = targets.iter().any(|t| t == job.name.as_str())
                    && contents.with(|p: &PlanSpec| p.job(&job.name).is_some_and(|j| j.status == "completed"))?;
                completes.then(|| format!(" (step {} {} wrote it)", e.step, who(e)))
            })
            .unwrap_or_default();
        // The last pass, and the last time its task read plan.json.
        let last_read = events
            .iter()
            .rev()
            .find(|e| e.note("reconcile-pass").is_some())
            .and_then(|pass| {
                events.iter().rev().find(|e| {
                    e.task == pass.task && matches!(&e.effect, Effect::Read { res, .. } if &**res == PLAN_FILE)
                })
            })
            .map(|e| format!("; the last pass read plan.json at step {} ({})", e.step, e.task))
            .unwrap_or_default();
        Some(format!(
            "at the end {} is completed{completed} while the plan runs: no reconcile pass saw it{last_read}",
            job.name
        ))
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// `plan.json` never holds a checkpoint while its status is not paused.
#[derive(Clone)]
struct CheckpointImpliesPaused;

impl Monitor for CheckpointImpliesPaused {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let (contents, meta) = plan_write(e)?;
        let (status, checkpoint) = contents.with(|p: &PlanSpec| (p.status.clone(), p.checkpoint.clone()))?;
        let checkpoint = checkpoint?;
        (status != "paused").then(|| {
            format!("step {} {} wrote status={status} while checkpoint={checkpoint}{}", e.step, who(e), basis(meta))
        })
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Statuses on the way to a merge, in order; a job past `completed` that
/// comes back to one of the earlier ones regresses. (`needs_rebase`,
/// `conflict` and `failed` are where a merge legitimately ends.)
const MERGE_PATH: &[&str] = &["queued", "waiting_deps", "running", "completed", "ready_to_merge", "merging", "merged"];

fn merge_rank(status: &str) -> Option<usize> {
    MERGE_PATH.iter().position(|s| *s == status)
}

/// Each job's status in `plan.json`; a write that takes a job from
/// ready_to_merge or beyond back along the merge path breaks it.
#[derive(Clone)]
struct NoJobStatusRegression {
    disk: BTreeMap<String, String>,
}

impl NoJobStatusRegression {
    fn new(setup: &Setup) -> Self {
        NoJobStatusRegression { disk: setup.initial_plan().map(|p| statuses(&p)).unwrap_or_default() }
    }
}

impl Monitor for NoJobStatusRegression {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let (contents, meta) = plan_write(e)?;
        let new = contents.with(|p: &PlanSpec| statuses(p))?;
        let ready = merge_rank("ready_to_merge");
        for (name, status) in &new {
            let Some(before) = self.disk.get(name) else { continue };
            if let (Some(b), Some(a)) = (merge_rank(before), merge_rank(status))
                && Some(b) >= ready
                && a < b
            {
                return Some(format!(
                    "step {} {} wrote {name}={status}{} over {name}={before}: the job goes back, and a later pass would validate and merge it again",
                    e.step,
                    who(e),
                    basis(meta)
                ));
            }
        }
        self.disk = new;
        None
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.disk.state_hash(h);
    }
}

/// Jobs whose `jobs.json` entry a write made `stopped` (mc_kill, a
/// cancel): none may reach `merged` in `plan.json` afterwards. Jobs are
/// told apart by name, so a user's own later `approve` (retry or relaunch)
/// of the stopped job counts as it too: a scenario checking this invariant
/// approves no stopped job.
#[derive(Clone, Default)]
struct StoppedJobNotMerged {
    /// Name → (step, who) of the write that stopped it (notes).
    stopped: BTreeMap<String, (usize, String)>,
}

impl Monitor for StoppedJobNotMerged {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Effect::Wrote { res, .. } = &e.effect
            && &**res == JOBS_FILE
        {
            for (_, name, status) in jobs_seen(e).unwrap_or_default() {
                if status == "stopped" {
                    self.stopped.entry(name).or_insert_with(|| (e.step, who(e)));
                }
            }
            return None;
        }
        let (contents, meta) = plan_write(e)?;
        let merged = contents.with(|p: &PlanSpec| {
            p.jobs.iter().filter(|j| j.status == "merged").map(|j| j.name.to_string()).collect::<Vec<_>>()
        })?;
        let name = merged.iter().find(|n| self.stopped.contains_key(*n))?;
        let (step, by) = &self.stopped[name];
        Some(format!(
            "{by} stopped {name} at step {step}; step {} {} wrote {name}=merged{}: the stopped job's branch is merged",
            e.step,
            who(e),
            basis(meta)
        ))
    }

    fn state_hash(&self, h: &mut StateHasher) {
        let stopped: BTreeSet<&String> = self.stopped.keys().collect();
        stopped.state_hash(h);
    }
}

/// A trigger no pass has followed yet (note).
#[derive(Clone)]
struct Unseen {
    step: usize,
    task: String,
    op: String,
    in_flight: String,
}

/// Every `reconcile()` trigger is followed by a pass of the same orchestrator.
#[derive(Clone, Default)]
struct EveryTriggerSeen {
    /// Orchestrators with a trigger no pass has started after.
    pending: BTreeSet<String>,
    /// Note: each pending orchestrator's first unseen trigger.
    unseen: BTreeMap<String, Unseen>,
    /// Note: each orchestrator's last pass, `(task, step)`.
    last_pass: BTreeMap<String, (String, usize)>,
}

fn orchestrator(d: &Value) -> String {
    d.get("orchestrator").and_then(Value::as_str).unwrap_or("").to_string()
}

impl Monitor for EveryTriggerSeen {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Some(trigger) = e.note("reconcile-trigger") {
            let name = orchestrator(trigger);
            if self.pending.insert(name.clone()) {
                let in_flight = self
                    .last_pass
                    .get(&name)
                    .map(|(task, step)| format!(" while the pass {task} started at step {step} was in flight"))
                    .unwrap_or_default();
                let unseen = Unseen { step: e.step, task: e.task.to_string(), op: e.op.to_string(), in_flight };
                self.unseen.insert(name, unseen);
            }
        }
        if let Some(pass) = e.note("reconcile-pass") {
            let name = orchestrator(pass);
            self.pending.remove(&name);
            self.unseen.remove(&name);
            self.last_pass.insert(name, (e.task.to_string(), e.step));
        }
        None
    }

    fn at_end(&mut self, _: &[Event], _: &FinalState) -> Option<String> {
        let (name, t) = self.unseen.iter().min_by_key(|(_, t)| t.step)?;
        Some(format!(
            "{} triggered reconcile at step {} ({}){}, and no reconcile pass of orchestrator {name} started after it",
            t.task, t.step, t.op, t.in_flight
        ))
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.pending.state_hash(h);
    }
}

/// At the end, no job that `jobs.json` says ended (completed, failed,
/// stopped) is running in `plan.json`; and once `plan.json` is gone (the
/// plan cancelled), no entry of `jobs.json` is still running (nothing would
/// ever stop it).
#[derive(Clone)]
struct NoJobStuckRunning;

impl Monitor for NoJobStuckRunning {
    fn observe(&mut self, _: &Event) -> Option<String> {
        None
    }

    fn at_end(&mut self, events: &[Event], final_state: &FinalState) -> Option<String> {
        let files = final_state.get().get("files")?;
        let jobs = files.get(JOBS_FILE)?.get("jobs")?.as_array()?;
        let Some(plan) = files.get(PLAN_FILE) else {
            let running = jobs.iter().find(|j| j.get("status").and_then(Value::as_str) == Some("running"))?;
            let name = running.get("name").and_then(Value::as_str).unwrap_or("?");
            let removed = events
                .iter()
                .rev()
                .find(|e| is_plan_removal(e))
                .map(|e| format!(" (removed at step {} by {})", e.step, who(e)))
                .unwrap_or_default();
            let added = events
                .iter()
                .rev()
                .find(|e| matches!(&e.effect, Effect::Wrote { res, .. } if &**res == JOBS_FILE))
                .map(|e| format!("; jobs.json was last written at step {} by {}", e.step, who(e)))
                .unwrap_or_default();
            return Some(format!(
                "at the end plan.json is gone{removed}, but jobs.json still has {name} running: nothing will stop it{added}"
            ));
        };
        let plan: PlanSpec = serde_json::from_value(plan.clone()).ok()?;
        for entry in jobs {
            let (Some(name), Some(status)) =
                (entry.get("name").and_then(Value::as_str), entry.get("status").and_then(Value::as_str))
            else {
                continue;
            };
            if !ENDED.contains(&status) || entry.get("planId").and_then(Value::as_str) != Some(&plan.id) {
                continue;
            }
            if plan.job(name).is_some_and(|j| j.status == "running") {
                let last = events
                    .iter()
                    .rev()
                    .find_map(|e| plan_write(e).map(|(_, meta)| (e, meta)))
                    .map(|(e, meta)| format!(", last written at step {} by {}{}", e.step, who(e), basis(meta)));
                return Some(format!(
                    "at the end jobs.json says {name} {status}, but plan.json still has {name}=running{}",
                    last.unwrap_or_default()
                ));
            }
        }
        None
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Once `plan.json` is removed (cancel), nothing writes it back.
#[derive(Clone, Default)]
struct PlanNotResurrected {
    /// Note: who removed it first, `(task, step)`; the state is whether it was.
    removed: Option<(String, usize)>,
}

impl Monitor for PlanNotResurrected {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if is_plan_removal(e) && self.removed.is_none() {
            self.removed = Some((e.task.to_string(), e.step));
        }
        let (task, step) = self.removed.as_ref()?;
        let (_, meta) = plan_write(e)?;
        Some(format!(
            "{task} removed plan.json at step {step}; step {} {} wrote it back{}",
            e.step,
            who(e),
            basis(meta)
        ))
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.removed.is_some().state_hash(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `jobs.json` with entries (id, status), in order.
    fn job_state(entries: &[(&str, &str)]) -> Contents {
        let job = |(id, status): &(&str, &str)| {
            json!({ "id": id, "name": "A", "worktreePath": "", "branch": "", "tmuxTarget": "", "placement": "",
                    "status": status, "prompt": "", "mode": "", "createdAt": "" })
        };
        let state = json!({ "version": 2, "jobs": entries.iter().map(job).collect::<Vec<_>>(), "updatedAt": "" });
        Contents::of(serde_json::from_value::<JobState>(state).expect("a jobs.json"))
    }

    fn write_of(contents: Contents) -> Event {
        let effect = Effect::Wrote { res: JOBS_FILE.into(), value: contents, meta: json!({ "targets": [] }) };
        Event { step: 2, task: "monitor".into(), op: "poll".into(), func: "saveJobState", effect }
    }

    #[test]
    fn an_id_held_twice_counts_with_its_last_status_as_a_map_of_them_would() {
        let disk = job_state(&[("A-0", "failed"), ("A-0", "running")]);
        assert_eq!(job_state_pairs(&disk).map(|p| p.order), Some(vec![("A-0", "running")]));
        let mut monitor = NoLostUpdate {
            file: JOBS_FILE,
            check: Check::Reverts,
            value: Contents::as_value::<JobState>,
            pairs: job_state_pairs,
            disk: Some(disk.clone()),
            last_set: BTreeMap::new(),
            own_tmp: BTreeMap::new(),
        };
        assert_eq!(monitor.observe(&write_of(disk)), None, "writing the same entries back reverts nothing");
        let reverted = monitor.observe(&write_of(job_state(&[("A-0", "running"), ("A-0", "failed")])));
        assert!(reverted.is_some_and(|m| m.contains("wrote A-0=failed")), "the last status changed without a target");
    }

    /// Past `LINEAR_PAIRS` the pairs are grouped through an index: the same
    /// order (where a name first appears), the same last status per name, the
    /// same lookups as the linear way gives.
    #[test]
    fn many_entries_are_grouped_as_a_linear_search_groups_them() {
        let names: Vec<String> = (0..200).map(|i| format!("J{}", (i * 37) % 90)).collect();
        let statuses: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
        let entries = || names.iter().zip(&statuses).map(|(n, s)| (n.as_str(), s.as_str()));
        let indexed = last_per_name(entries());
        assert!(!indexed.index.is_empty(), "200 entries go through the index");
        let mut linear: Vec<(&str, &str)> = Vec::new();
        for (name, status) in entries() {
            match linear.iter_mut().find(|(n, _)| *n == name) {
                Some(pair) => pair.1 = status,
                None => linear.push((name, status)),
            }
        }
        assert_eq!(indexed.order, linear);
        for (name, status) in &linear {
            assert_eq!(indexed.status_of(name), Some(*status), "{name}");
        }
        assert_eq!(indexed.status_of("J90"), None);
        assert_eq!(indexed.status_of(""), None);
    }
}
