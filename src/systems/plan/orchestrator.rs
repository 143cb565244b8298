//! `src/lib/orchestrator.ts` (the `Orchestrator` class), `JobMonitor.poll`
//! (`src/lib/monitor.ts`), `mc_report`, `mc_plan_approve` and
//! `mc_plan_cancel`, over the stores of `state.rs`.
//!
//! Several `Orchestrator` instances may exist (approve and cancel create new
//! ones); each has its own in-memory fields and monitor subscription.

use super::files::{CheckpointContext, Job, PlanSpec, timestamp};
use super::state::{FieldsUpdate, JobStore, JobUpdate, PlanStore, Result, Thrown, caught};
use super::{CheckpointWrite, ReconcileGuard};
use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::{Cx, Flag, Semantics, Shared, StateHash, StateHasher, fingerprint};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// A job's tmux pane.
#[derive(Clone, Debug, PartialEq)]
pub struct Pane {
    pub alive: bool,
    /// The status `captureExitStatus` reads from a dead pane: only one that
    /// exited under `remain-on-exit` keeps one. A killed session (mc_kill,
    /// mc_plan_cancel, a relaunch, launchJob's catch) leaves none, and
    /// neither does a pane that exits without `remain-on-exit`, which MC
    /// never sets: the monitor then takes the job for completed.
    pub exit_code: Option<i64>,
}

crate::state_hash_fields!(Pane { alive, exit_code });

impl Pane {
    pub const ALIVE: Pane = Pane { alive: true, exit_code: None };
    /// `killSession`: the session and its pane are gone, with no status.
    pub const KILLED: Pane = Pane { alive: false, exit_code: None };
}

/// What the merge train's trial merge and test run give for a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    Clean,
    Conflict,
    TestFailure,
}

/// What a plan-fields write keeps of its caller's snapshot: all of it
/// (`savePlan`, before #71) or which plan it is (`updatePlanFields`: "only
/// `plan.id` of the snapshot is used"). A task that holds a snapshot only
/// for such a write holds no more than this: two tasks that read different
/// snapshots of one plan are then, under the fix, the same task.
pub enum Snapshot {
    Whole(Box<PlanSpec>),
    Id(String),
}

impl Snapshot {
    fn id(&self) -> &str {
        match self {
            Snapshot::Whole(plan) => &plan.id,
            Snapshot::Id(id) => id,
        }
    }
}

impl StateHash for Snapshot {
    fn state_hash(&self, h: &mut StateHasher) {
        match self {
            Snapshot::Whole(plan) => plan.state_hash(h),
            Snapshot::Id(id) => id.state_hash(h),
        }
    }
}

/// The `jobs.json` entry of an agent just started for `name` in its
/// worktree's tmux session (launchJob's and relaunchJobForCorrection's
/// `addJob`). The origin's id is a `randomUUID()`, never equal to another;
/// here it is unique by the clock, and `launch` keeps it apart from the
/// setup's entries (`<name>-0`, `<name>-old`), which a launch at clock 0
/// would otherwise share.
fn running_entry<P: Platform>(cx: &Cx<'_, P>, plan: &PlanSpec, name: &str, branch: &str, prompt: String) -> Job {
    Job {
        id: format!("{name}-launch{}", cx.now()).into(),
        name: name.to_string().into(),
        worktree_path: format!("/worktrees/{name}").into(),
        branch: branch.to_string().into(),
        tmux_target: format!("mc:{name}").into(),
        placement: "session".into(),
        status: "running".into(),
        prompt: prompt.into(),
        mode: plan.mode.clone(),
        created_at: timestamp(cx.now()).into(),
        completed_at: None,
        exit_code: None,
        plan_id: Some(plan.id.to_string()),
    }
}

/// What `mc_plan_approve` names besides the plan: a job to retry after a
/// manual fix, or one to relaunch with a correction prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApproveTarget {
    Retry(String),
    Relaunch(String),
}

impl ApproveTarget {
    pub fn job(&self) -> &str {
        match self {
            ApproveTarget::Retry(job) | ApproveTarget::Relaunch(job) => job,
        }
    }
}

/// The code choices this execution runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub checkpoint_write: CheckpointWrite,
    /// The safety net also repairs jobs.json entries `stopped` (2869e81).
    pub safety_net_stopped: bool,
    /// handleJobComplete awaits updatePlanJob before reconcile() (2e474b5).
    pub complete_then_reconcile: bool,
    /// mc_plan_approve's retry and accept set the job on the snapshot they
    /// save (84e5a7f), not with updatePlanJob before the save.
    pub approve_on_snapshot: bool,
    /// clearCheckpoint remembers the jobs approved at `pre_merge`, and step 7
    /// does not checkpoint them again (b571242, #38).
    pub approved_for_merge: bool,
    /// The all-merged branch skips a plan already `creating_pr`, `completed`
    /// or `failed` (fb82904).
    pub pr_guard: bool,
    /// A failing tmux command is an error the caller skips (c8ce065), not a
    /// dead pane with no exit status.
    pub tmux_error_skipped: bool,
    /// mc_report prefers a running entry of the job, and launchJob removes
    /// the job's old entries before adding its own (fb82904).
    pub report_running_first: bool,
    pub reconcile_guard: ReconcileGuard,
    pub safety_net: bool,
    pub max_parallel: usize,
    pub merge: BTreeMap<String, MergeOutcome>,
    pub touch_set_violation: BTreeSet<String>,
}

/// One `Orchestrator` instance's in-memory fields.
pub struct Orchestrator<P: Platform> {
    pub name: String,
    pub checkpoint: Shared<P, Option<String>>,
    pub active_plan_id: Shared<P, Option<String>>,
    /// `isRunning`: the reconcile interval is set.
    pub reconciler_running: Flag<P>,
    pub subscribed: Flag<P>,
    pub is_reconciling: Flag<P>,
    pub reconcile_pending: Flag<P>,
    pub approved_for_merge: Shared<P, BTreeSet<String>>,
    /// The in-memory `MergeTrain` queue.
    pub merge_queue: Shared<P, VecDeque<String>>,
}

impl<P: Platform> Orchestrator<P> {
    /// `stopReconciler()`: clears the interval; an in-flight pass goes on.
    fn stop_reconciler(&self, cx: &Cx<'_, P>) {
        self.reconciler_running.store(cx, false);
    }
    fn unsubscribe(&self, cx: &Cx<'_, P>) {
        self.subscribed.store(cx, false);
    }
}

/// The mission-control process: stores, panes, orchestrator instances.
pub struct MissionControl<P: Platform> {
    pub plans: PlanStore<P>,
    pub jobs: JobStore<P>,
    pub orchestrators: Vec<Orchestrator<P>>,
    pub panes: Shared<P, BTreeMap<String, Pane>>,
    /// The tmux server does not answer (a transient outage): every tmux
    /// command fails until it is back.
    pub tmux_unreachable: Flag<P>,
    pub config: Config,
}

type Mc<P> = Arc<MissionControl<P>>;

const TERMINAL_PLAN: &[&str] = &["completed", "failed", "canceled"];

/// Index of an orchestrator instance.
pub type Instance = usize;

/// What `isPaneRunning` (with `captureExitStatus`) tells about a job's pane.
enum PaneSeen {
    Alive,
    /// Dead, with its exit status (`None`: tmux gave none).
    Dead(Option<i64>),
    /// tmux failed and the caller skips the job (c8ce065).
    Unknown,
}

impl<P: Platform> MissionControl<P> {
    fn note(cx: &Cx<'_, P>, func: &'static str, kind: &'static str, data: serde_json::Value) {
        cx.record(func, Effect::Note { kind, data });
    }

    /// What a plan-fields write will use of a snapshot, per variant.
    pub fn snapshot(&self, plan: PlanSpec) -> Snapshot {
        match self.config.checkpoint_write {
            CheckpointWrite::WholePlan => Snapshot::Whole(Box::new(plan)),
            CheckpointWrite::FieldsOnly => Snapshot::Id(plan.id.into()),
        }
    }

    /// Writes plan-level fields the way the variant does: the whole snapshot
    /// (`savePlan`, before #71) or the fields only (`updatePlanFields`).
    fn write_plan_fields(&self, cx: &mut Cx<'_, P>, snapshot: Snapshot, update: FieldsUpdate) -> Result<()> {
        match snapshot {
            Snapshot::Whole(mut plan) => {
                update.apply(&mut plan);
                self.plans.save_plan(cx, &plan)
            }
            Snapshot::Id(id) => self.plans.update_plan_fields(cx, &id, &update),
        }
    }

    /// `emit(kind, job)`: calls every subscribed instance's listener, synchronously.
    pub fn emit(self: &Mc<P>, cx: &mut Cx<'_, P>, kind: &str, job: &Job) {
        for o in 0..self.orchestrators.len() {
            if self.orchestrators[o].subscribed.load(cx) {
                match kind {
                    "failed" => self.handle_job_failed(cx, o, job),
                    _ => self.handle_job_complete(cx, o, job),
                }
            }
        }
    }

    fn is_active_plan(&self, o: Instance, job: &Job) -> bool {
        let active = self.orchestrators[o].active_plan_id.get();
        job.plan_id.is_some() && active.is_some() && job.plan_id == active
    }

    /// `handleJobFailed`: fire-and-forget `updatePlanJob(failed)` (F1) and an
    /// unlocked `loadPlan()` whose snapshot feeds `setCheckpoint` (F2).
    pub fn handle_job_failed(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance, job: &Job) {
        if !self.is_active_plan(o, job) {
            return;
        }
        let plan_id = job.plan_id.clone().unwrap_or_default();
        let name = job.name.clone();
        // F1 runs synchronously up to its first await: it queues on planMutex now.
        let update = JobUpdate::status("failed").with_error("job monitor reported failure");
        self.spawn_update_plan_job(cx, &plan_id, &name, update);
        let mc = self.clone();
        let captured = fingerprint(&(&plan_id, &name, o as u64));
        cx.spawn(
            "setCheckpoint",
            &captured,
            Box::new(move |cx| {
                let result = (|| {
                    // `loadPlan().then(plan => …)`: the task keeps what
                    // setCheckpoint will use of the snapshot.
                    let loaded: Result<Option<Snapshot>> =
                        cx.call(|cx| Ok(mc.plans.load_plan(cx)?.map(|p| mc.snapshot(p))));
                    let Some(snapshot) = loaded? else { return Ok(()) };
                    if snapshot.id() != plan_id {
                        return Ok(());
                    }
                    let context = CheckpointContext { job_name: name.into(), failure_kind: "job_failed".into() };
                    mc.set_checkpoint(cx, o, "on_error", snapshot, Some(context))
                })();
                caught(result, cx);
                // .finally(): without a checkpoint, stop and unsubscribe.
                let orch = &mc.orchestrators[o];
                if orch.checkpoint.get().is_none() {
                    orch.stop_reconciler(cx);
                    orch.unsubscribe(cx);
                }
            }),
        );
    }

    /// `updatePlanJob(planId, job, update).catch(() => {})`, not awaited:
    /// it queues on `planMutex` now (its synchronous prefix) and goes on as
    /// a task of its own.
    fn spawn_update_plan_job(self: &Mc<P>, cx: &mut Cx<'_, P>, plan_id: &str, name: &str, update: JobUpdate) {
        let ticket = self.plans.plan_mutex.enqueue(cx);
        let (mc, id, n) = (self.clone(), plan_id.to_string(), name.to_string());
        let captured = fingerprint(&(&ticket, &id, &n, &update));
        cx.spawn(
            "updatePlanJob",
            &captured,
            Box::new(move |cx| caught(mc.plans.update_plan_job_queued(cx, ticket, &id, &n, &update), cx)),
        );
    }

    /// `handleJobComplete`: `(async () => { await updatePlanJob(completed);
    /// await this.reconcile(); })()` since 2e474b5 (#41); before it,
    /// `updatePlanJob(completed).catch()` and `this.reconcile().catch()`,
    /// started together. (The model starts the second as a task of its own,
    /// so `reconcile()`'s guard runs at that task's first turn rather than in
    /// the handler: other tasks may run in between.)
    pub fn handle_job_complete(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance, job: &Job) {
        if !self.is_active_plan(o, job) {
            return;
        }
        let plan_id = job.plan_id.clone().unwrap_or_default();
        let name = job.name.clone();
        if !self.config.complete_then_reconcile {
            self.spawn_update_plan_job(cx, &plan_id, &name, JobUpdate::status("completed"));
            let mc = self.clone();
            cx.spawn("reconcile", &fingerprint(&(o as u64)), Box::new(move |cx| mc.reconcile(cx, o)));
            return;
        }
        let ticket = self.plans.plan_mutex.enqueue(cx);
        let mc = self.clone();
        let captured = fingerprint(&(&ticket, &plan_id, &name, o as u64));
        cx.spawn(
            "handleJobComplete",
            &captured,
            Box::new(move |cx| {
                let result =
                    mc.plans.update_plan_job_queued(cx, ticket, &plan_id, &name, &JobUpdate::status("completed"));
                match result {
                    Ok(()) => mc.reconcile(cx, o),
                    Err(e) => caught(Err(e), cx),
                }
            }),
        );
    }

    /// `setCheckpoint(type, plan, context)`.
    pub fn set_checkpoint(
        self: &Mc<P>,
        cx: &mut Cx<'_, P>,
        o: Instance,
        kind: &str,
        plan: Snapshot,
        context: Option<CheckpointContext>,
    ) -> Result<()> {
        let orch = &self.orchestrators[o];
        orch.checkpoint.set(Some(kind.to_string()));
        let update = FieldsUpdate {
            status: Some("paused"),
            checkpoint: Some(Some(kind.to_string())),
            checkpoint_context: Some(context),
            ..Default::default()
        };
        self.write_plan_fields(cx, plan, update)?;
        orch.stop_reconciler(cx);
        Ok(())
    }

    /// `clearCheckpoint()`: the in-memory checkpoint is cleared before the
    /// first await, on every path (and `pre_merge` is read from memory), so
    /// while the plan loads and its fields are written this instance
    /// already acts as if no checkpoint were set.
    pub fn clear_checkpoint(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance) -> Result<()> {
        let orch = &self.orchestrators[o];
        let was_pre_merge = orch.checkpoint.get().as_deref() == Some("pre_merge");
        orch.checkpoint.set(None);
        let Some(plan) = self.plans.load_plan(cx)? else { return Ok(()) };
        if plan.status != "paused" {
            return Ok(());
        }
        if was_pre_merge && self.config.approved_for_merge {
            let ready: Vec<String> =
                plan.jobs.iter().filter(|j| j.status == "ready_to_merge").map(|j| j.name.to_string()).collect();
            orch.approved_for_merge.with(|a| a.extend(ready));
        }
        let update = FieldsUpdate {
            status: Some("running"),
            checkpoint: Some(None),
            checkpoint_context: Some(None),
            ..Default::default()
        };
        self.write_plan_fields(cx, self.snapshot(plan), update)?;
        if !orch.reconciler_running.load(cx) {
            self.start_reconciler(cx, o);
        }
        Ok(())
    }

    /// `startReconciler()`: unless the interval is already set, set it and
    /// reconcile once now.
    fn start_reconciler(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance) {
        if self.orchestrators[o].reconciler_running.load(cx) {
            return;
        }
        self.orchestrators[o].reconciler_running.store(cx, true);
        self.reconcile(cx, o);
    }

    /// The interval timer firing: reconciles if the interval is still set.
    pub fn interval_tick(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance) {
        if self.orchestrators[o].reconciler_running.load(cx) {
            self.reconcile(cx, o);
        }
    }

    /// `reconcile()`: the guard around `_doReconcile`, per variant.
    pub fn reconcile(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance) {
        let orch = &self.orchestrators[o];
        // Whether a pass is in flight, for the `trigger-during-pass` condition
        // (on an event loop, where reading the flag is no scheduling point;
        // under threads the flag's own notes say it).
        let during_pass = (cx.semantics() == Semantics::EventLoop).then(|| orch.is_reconciling.peek());
        let data = json!({ "orchestrator": orch.name, "duringPass": during_pass });
        Self::note(cx, "reconcile", "reconcile-trigger", data);
        match self.config.reconcile_guard {
            ReconcileGuard::Drop => {
                if orch.is_reconciling.load(cx) {
                    return; // before #15: the trigger is silently dropped
                }
                orch.is_reconciling.store(cx, true);
                caught(self.do_reconcile(cx, o), cx);
                orch.is_reconciling.store(cx, false);
            }
            ReconcileGuard::Rerun => {
                if orch.is_reconciling.load(cx) {
                    orch.reconcile_pending.store(cx, true);
                    return;
                }
                orch.is_reconciling.store(cx, true);
                loop {
                    orch.reconcile_pending.store(cx, false);
                    if let Err(e) = self.do_reconcile(cx, o) {
                        caught(Err(e), cx);
                        break;
                    }
                    if !orch.reconcile_pending.load(cx) {
                        break;
                    }
                }
                orch.is_reconciling.store(cx, false);
            }
            ReconcileGuard::RerunPreemptive => {
                // Announce first, then try to own the pass; the owner drains
                // announcements and re-checks after letting go.
                orch.reconcile_pending.swap(cx, true);
                loop {
                    if orch.is_reconciling.swap(cx, true) {
                        return;
                    }
                    while orch.reconcile_pending.swap(cx, false) {
                        if let Err(e) = self.do_reconcile(cx, o) {
                            caught(Err(e), cx);
                        }
                    }
                    orch.is_reconciling.swap(cx, false);
                    if !orch.reconcile_pending.load(cx) {
                        return;
                    }
                }
            }
        }
    }

    /// `_doReconcile()`, step by step (origin-systems.md §1.10).
    fn do_reconcile(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance) -> Result<()> {
        cx.call(|cx| self.do_reconcile_pass(cx, o))
    }

    fn do_reconcile_pass(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance) -> Result<()> {
        let orch = &self.orchestrators[o];
        Self::note(cx, "_doReconcile", "reconcile-pass", json!({ "orchestrator": orch.name }));
        // 1-2. Load; stop when gone or terminal; skip while paused.
        let Some(mut plan) = self.plans.load_plan(cx)? else {
            orch.stop_reconciler(cx);
            orch.unsubscribe(cx);
            return Ok(());
        };
        if TERMINAL_PLAN.contains(&plan.status.as_str()) {
            orch.stop_reconciler(cx);
            orch.unsubscribe(cx);
            return Ok(());
        }
        if plan.status == "paused" || orch.checkpoint.get().is_some() {
            return Ok(());
        }
        // 3. Activate; a pending plan runs (locally).
        orch.active_plan_id.set(Some(plan.id.to_string()));
        if plan.status == "pending" {
            plan.status = "running".into();
        }
        // 4. Running jobs of this plan, then the safety net against jobs.json.
        let running: Vec<Job> =
            self.jobs.get_running_jobs(cx)?.into_iter().filter(|j| j.plan_id.as_deref() == Some(&plan.id)).collect();
        let mut running_count = running.len();
        if self.config.safety_net {
            let job_state = self.jobs.load_job_state(cx)?;
            let running_names: BTreeSet<&str> = running.iter().map(|j| j.name.as_str()).collect();
            for i in 0..plan.jobs.len() {
                let name = plan.jobs[i].name.clone();
                if plan.jobs[i].status != "running" || running_names.contains(name.as_str()) {
                    continue;
                }
                let Some(state_job) =
                    job_state.jobs.iter().find(|j| j.name == name && j.plan_id.as_deref() == Some(&plan.id))
                else {
                    continue;
                };
                if state_job.status == "completed" {
                    let update = JobUpdate::status("completed").deciding_on("running");
                    self.plans.update_plan_job(cx, &plan.id, &name, &update)?;
                    plan.jobs[i].status = "completed".into();
                } else if state_job.status == "failed"
                    || (self.config.safety_net_stopped && state_job.status == "stopped")
                {
                    let update = JobUpdate::status("failed")
                        .with_error("recovered from missed completion event")
                        .deciding_on("running");
                    self.plans.update_plan_job(cx, &plan.id, &name, &update)?;
                    plan.jobs[i].status = "failed".into();
                }
            }
        }
        // 5. Launch queued jobs whose dependencies are merged (snapshot).
        let mut order: Vec<usize> = (0..plan.jobs.len()).collect();
        order.sort_by_key(|&i| plan.jobs[i].merge_order.unwrap_or(i as i64));
        for &i in &order {
            let job = plan.jobs[i].clone();
            if job.status != "queued" && job.status != "waiting_deps" {
                continue;
            }
            let deps_merged = job.depends_on.iter().all(|d| plan.job(d).is_some_and(|j| j.status == "merged"));
            if !deps_merged {
                if job.status != "waiting_deps" {
                    let update = JobUpdate::status("waiting_deps").deciding_on(&job.status);
                    self.plans.update_plan_job(cx, &plan.id, &job.name, &update)?;
                    plan.jobs[i].status = "waiting_deps".into();
                }
                continue;
            }
            if running_count >= self.config.max_parallel {
                continue;
            }
            self.launch_job(cx, &plan, &job.name)?;
            running_count += 1;
            plan.jobs[i].status = "running".into();
        }
        // 6. Completed jobs: touch-set check, then ready_to_merge. Each write
        // is also made to the pass's snapshot (the origin's `job.status = …`
        // on the same objects), so step 7 sees it in this pass.
        for &i in &order {
            let job = plan.jobs[i].clone();
            if job.status != "completed" {
                continue;
            }
            if self.config.touch_set_violation.contains(job.name.as_str()) {
                // Only a job with a touch set is validated, and only one that
                // breaks it is modeled with one.
                cx.await_point(); // await validateTouchSet(branch, integrationBranch, touchSet)
                self.plans.update_plan_job(
                    cx,
                    &plan.id,
                    &job.name,
                    &JobUpdate::status("failed").with_error("touch set violation").deciding_on("completed"),
                )?;
                plan.jobs[i].status = "failed".into();
                let context = CheckpointContext { job_name: job.name.to_string(), failure_kind: "touchset".into() };
                return self.set_checkpoint(cx, o, "on_error", self.snapshot(plan), Some(context));
            }
            let update = JobUpdate::status("ready_to_merge").deciding_on("completed");
            self.plans.update_plan_job(cx, &plan.id, &job.name, &update)?;
            plan.jobs[i].status = "ready_to_merge".into();
        }
        // 7. Ready jobs whose predecessors are merged join the merge train.
        for &i in &order {
            let job = plan.jobs[i].clone();
            if job.status != "ready_to_merge" {
                continue;
            }
            let my_order = job.merge_order.unwrap_or(i as i64);
            let earlier_merged = plan
                .jobs
                .iter()
                .enumerate()
                .all(|(k, j)| j.merge_order.unwrap_or(k as i64) >= my_order || j.status == "merged");
            if !earlier_merged {
                continue;
            }
            cx.await_point(); // await checkMergeability(): a trial merge
            if self.config.merge.get(job.name.as_str()) == Some(&MergeOutcome::Conflict) {
                let update = JobUpdate::status("needs_rebase").deciding_on("ready_to_merge");
                self.plans.update_plan_job(cx, &plan.id, &job.name, &update)?;
                plan.jobs[i].status = "needs_rebase".into();
                let context =
                    CheckpointContext { job_name: job.name.to_string(), failure_kind: "merge_conflict".into() };
                return self.set_checkpoint(cx, o, "on_error", self.snapshot(plan), Some(context));
            }
            let approved =
                self.config.approved_for_merge && orch.approved_for_merge.with(|a| a.contains(job.name.as_str()));
            if plan.mode == "supervisor" && !approved {
                return self.set_checkpoint(cx, o, "pre_merge", self.snapshot(plan), None);
            }
            orch.merge_queue.with(|q| q.push_back(job.name.to_string()));
            let update = JobUpdate::status("merging").deciding_on("ready_to_merge");
            self.plans.update_plan_job(cx, &plan.id, &job.name, &update)?;
            plan.jobs[i].status = "merging".into();
            orch.approved_for_merge.with(|a| a.remove(job.name.as_str()));
        }
        // 8. The merge train merges one job (a long await), tests included.
        if let Some(name) = orch.merge_queue.with(|q| q.pop_front()) {
            plan.status = "merging".into();
            cx.await_point(); // await mergeTrain.processNext()
            let failure = match self.config.merge.get(&name).copied().unwrap_or(MergeOutcome::Clean) {
                MergeOutcome::Clean => {
                    let merged_at = Some(timestamp(cx.now()));
                    let update =
                        JobUpdate { status: "merged", merged_at, ..JobUpdate::default() }.deciding_on("merging");
                    self.plans.update_plan_job(cx, &plan.id, &name, &update)?;
                    // `byName.get(name).status = 'merged'`.
                    if let Some(j) = plan.jobs.iter_mut().find(|j| j.name == name) {
                        j.status = "merged".into();
                    }
                    None
                }
                MergeOutcome::Conflict => Some(("conflict", "merge_conflict")),
                MergeOutcome::TestFailure => Some(("failed", "test_failure")),
            };
            if let Some((status, kind)) = failure {
                self.plans.update_plan_job(cx, &plan.id, &name, &JobUpdate::status(status).deciding_on("merging"))?;
                let context = CheckpointContext { job_name: name, failure_kind: kind.into() };
                return self.set_checkpoint(cx, o, "on_error", self.snapshot(plan), Some(context));
            }
        }
        // 9. Nothing left to merge: back to running.
        if plan.status == "merging" && orch.merge_queue.with(|q| q.is_empty()) {
            plan.status = "running".into();
        }
        // 10-11. The final plan-status write, from a fresh read.
        let Some(latest) = self.plans.load_plan(cx)? else { return Ok(()) };
        let all_merged = !latest.jobs.is_empty() && latest.jobs.iter().all(|j| j.status == "merged");
        let guarded = self.config.pr_guard && ["creating_pr", "completed", "failed"].contains(&latest.status.as_str());
        if all_merged && !guarded {
            if plan.mode == "supervisor" {
                return self.set_checkpoint(cx, o, "pre_pr", self.snapshot(latest), None);
            }
            self.write_plan_fields(
                cx,
                self.snapshot(latest.clone()),
                FieldsUpdate { status: Some("creating_pr"), ..Default::default() },
            )?;
            cx.await_point(); // await createPR(): git push, gh pr create
            Self::note(cx, "createPR", "pr-created", json!({ "orchestrator": orch.name, "plan": latest.id }));
            let done = FieldsUpdate {
                status: Some("completed"),
                pr_url: Some(format!("https://example.invalid/{}/pull/1", latest.id)),
                completed_at: Some(timestamp(cx.now())),
                ..Default::default()
            };
            self.write_plan_fields(cx, self.snapshot(latest), done)?;
            orch.stop_reconciler(cx);
            orch.unsubscribe(cx);
        } else if latest.status != plan.status {
            let status = super::static_str(super::files::PLAN_STATUSES, &plan.status);
            let completed_at = (plan.status == "failed").then(|| timestamp(cx.now()));
            let update = FieldsUpdate { status, completed_at, ..Default::default() };
            self.write_plan_fields(cx, self.snapshot(latest), update)?;
        }
        Ok(())
    }

    /// `launchJob(job)`: mark the job running, then (in a `try`) load the
    /// plan for the start point, create the worktree and the tmux session
    /// (the agent starts there), register the job in `jobs.json`, and write
    /// the plan job running once more with its session. The `catch` kills
    /// the session and marks the plan job failed; if that write throws too
    /// (no plan any more), the error leaves launchJob.
    fn launch_job(self: &Mc<P>, cx: &mut Cx<'_, P>, plan: &PlanSpec, name: &str) -> Result<()> {
        let branch = format!("mc/{name}");
        let update = JobUpdate { status: "running", branch: Some(branch.clone()), ..Default::default() };
        let update = match plan.job(name) {
            Some(job) => update.deciding_on(&job.status),
            None => update,
        };
        self.plans.update_plan_job(cx, &plan.id, name, &update)?;
        // What the `try` did, returned (a call's task keeps only its result):
        // whether the session was created, and how it ended.
        let (session, launched) = cx.call(|cx| -> (bool, Result<()>) {
            // The start point: the integration branch or the base commit.
            if let Err(e) = self.plans.load_plan(cx) {
                return (false, Err(e));
            }
            cx.await_point(); // createWorktree, prompt and launcher files, createSession
            self.panes.with(|p| p.insert(name.to_string(), Pane::ALIVE));
            let job = running_entry(cx, plan, name, &branch, format!("do {name}"));
            if let Err(e) = self.jobs.replace_stale_and_add_job(cx, job, self.config.report_running_first) {
                return (true, Err(e));
            }
            // `updatePlanJob(planId, name, {status: 'running', branch, worktreePath, tmuxTarget})`:
            // decided when the launch began, whatever the job did since.
            let update = JobUpdate { branch: Some(branch.clone()), ..JobUpdate::status("running") };
            (true, self.plans.update_plan_job(cx, &plan.id, name, &update.deciding_on("running")))
        });
        let Err(Thrown(error)) = launched else { return Ok(()) };
        cx.record("launchJob", Effect::Threw { error: error.clone() });
        cx.await_point(); // await killSession(tmuxSessionName); removeWorktree
        if session {
            self.panes.with(|p| p.insert(name.to_string(), Pane::KILLED));
        }
        self.plans.update_plan_job(cx, &plan.id, name, &JobUpdate::status("failed").with_error(&error))
    }

    /// `resumePlan()`: unpause, check panes of running jobs, subscribe, start.
    pub fn resume_plan(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance) -> Result<()> {
        let orch = &self.orchestrators[o];
        let Some(plan) = self.plans.load_plan(cx)? else { return Ok(()) };
        if plan.status != "running" && plan.status != "paused" {
            return Ok(());
        }
        if plan.status == "paused" {
            let update = FieldsUpdate {
                status: Some("running"),
                checkpoint: Some(None),
                checkpoint_context: Some(None),
                ..Default::default()
            };
            self.write_plan_fields(cx, self.snapshot(plan.clone()), update)?;
        }
        orch.checkpoint.set(None);
        orch.active_plan_id.set(Some(plan.id.to_string()));
        orch.merge_queue.with(|q| q.clear()); // a new MergeTrain
        let running: Vec<Job> =
            self.jobs.get_running_jobs(cx)?.into_iter().filter(|j| j.plan_id.as_deref() == Some(&plan.id)).collect();
        let mut dead = false;
        // c8ce065: `if (!(await isTmuxHealthy()))` skips every pane check.
        let healthy = !self.config.tmux_error_skipped || {
            cx.await_point();
            !self.tmux_unreachable.load(cx)
        };
        for job in running.into_iter().filter(|_| healthy) {
            cx.await_point(); // await isPaneRunning(tmuxTarget)
            if !matches!(self.pane_seen(cx, &job.name), PaneSeen::Dead(_)) {
                continue; // alive, or (c8ce065) a tmux error the per-job catch skips
            }
            self.jobs.update_job(cx, &job.id, "failed", None)?;
            self.plans.update_plan_job(
                cx,
                &plan.id,
                &job.name,
                &JobUpdate::status("failed").with_error("tmux pane is not running"),
            )?;
            dead = true;
        }
        if dead {
            let update =
                FieldsUpdate { status: Some("failed"), completed_at: Some(timestamp(cx.now())), ..Default::default() };
            let snapshot = match self.config.checkpoint_write {
                CheckpointWrite::WholePlan => {
                    self.plans.load_plan(cx)?.ok_or_else(|| Thrown("No active plan".into()))?
                }
                CheckpointWrite::FieldsOnly => plan,
            };
            return self.write_plan_fields(cx, self.snapshot(snapshot), update);
        }
        orch.subscribed.store(cx, true);
        self.start_reconciler(cx, o);
        Ok(())
    }

    /// `mc_kill`: `getJobByName` (unlocked), then `killSession` and
    /// `updateJob(stopped)`. Nothing is emitted: the plan job is left
    /// `running` for the reconcile safety net to find.
    pub fn kill_job(self: &Mc<P>, cx: &mut Cx<'_, P>, name: &str) -> Result<()> {
        let state = self.jobs.load_job_state(cx)?;
        let job =
            state.jobs.iter().find(|j| j.name == name).ok_or_else(|| Thrown(format!("Job \"{name}\" not found")))?;
        if job.status == "stopped" {
            return Ok(());
        }
        cx.await_point(); // await killSession(tmuxTarget)
        self.panes.with(|p| p.insert(job.name.to_string(), Pane::KILLED));
        self.jobs.update_job(cx, &job.id, "stopped", None)
    }

    /// `mc_plan_cancel`: a fresh `Orchestrator` kills the plan's jobs, deletes
    /// the integration branch and clears the plan. Other instances keep their
    /// interval and subscription.
    pub fn cancel_plan(self: &Mc<P>, cx: &mut Cx<'_, P>) -> Result<()> {
        let Some(plan) = self.plans.load_plan(cx)? else { return Ok(()) };
        let running: Vec<Job> =
            self.jobs.get_running_jobs(cx)?.into_iter().filter(|j| j.plan_id.as_deref() == Some(&plan.id)).collect();
        for job in running {
            cx.await_point(); // await killSession(tmuxTarget)
            self.panes.with(|p| p.insert(job.name.to_string(), Pane::KILLED));
            self.jobs.update_job(cx, &job.id, "stopped", None)?;
        }
        cx.await_point(); // await deleteIntegrationBranch()
        self.plans.clear_plan(cx)
    }

    /// `mc_plan_approve` (`tools/plan-approve.ts`): an unlocked snapshot,
    /// mutated and written whole with `savePlan` (unchanged by #71), then
    /// `resumePlan()` on the instance the origin creates for it. The
    /// snapshot is set running with no checkpoint before the write, so the
    /// new instance's `resumePlan` finds nothing to unpause.
    pub fn approve(self: &Mc<P>, cx: &mut Cx<'_, P>, o: Instance, target: Option<&ApproveTarget>) -> Result<()> {
        let Some(mut plan) = self.plans.load_plan(cx)? else { return Err(Thrown("No active plan".into())) };
        if let Some(name) = target.map(ApproveTarget::job) {
            let retryable =
                plan.job(name).is_some_and(|j| ["failed", "conflict", "needs_rebase"].contains(&j.status.as_str()));
            if !retryable {
                return Err(Thrown(format!("job {name} is not failed, conflict or needs_rebase")));
            }
        }
        let retry = match target {
            Some(ApproveTarget::Retry(name)) => Some(name.as_str()),
            _ => None,
        };
        if plan.status == "paused" && plan.checkpoint.is_some() {
            cx.await_point(); // await loadConfig()
            let context = plan.checkpoint_context.clone();
            let touchset =
                |name: &str| context.as_ref().is_some_and(|c| c.failure_kind == "touchset" && c.job_name == name);
            if let Some(ApproveTarget::Relaunch(name)) = target {
                if !touchset(name) {
                    return Err(Thrown(format!("job {name} did not fail a touch-set check: use retry")));
                }
                plan.status = "running".into();
                plan.checkpoint = None;
                plan.checkpoint_context = None;
                self.plans.save_plan(cx, &plan)?;
                self.relaunch_job_for_correction(cx, name)?;
                return self.resume_plan(cx, o);
            }
            let ready = match retry {
                Some(name) => {
                    if touchset(name) {
                        cx.await_point(); // await validateTouchSet()
                        if self.config.touch_set_violation.contains(name) {
                            return Err(Thrown(format!("job {name} still violates its touch set")));
                        }
                    }
                    Some(name.to_string())
                }
                // Accept: a touch-set failure's job is taken as it is.
                None => context
                    .as_ref()
                    .filter(|c| touchset(&c.job_name) && plan.job(&c.job_name).is_some_and(|j| j.status == "failed"))
                    .map(|c| c.job_name.clone()),
            };
            if let Some(name) = ready {
                if self.config.approve_on_snapshot {
                    if let Some(job) = plan.job_mut(&name) {
                        job.status = "ready_to_merge".into();
                        job.error = None;
                        plan.touched_jobs.push(name);
                    }
                } else {
                    // Before 84e5a7f: a fresh write under planMutex, which
                    // the savePlan of the older snapshot below then reverts.
                    let update = JobUpdate { clear_error: true, ..JobUpdate::status("ready_to_merge") };
                    self.plans.update_plan_job(cx, &plan.id, &name, &update)?;
                }
            }
        } else if plan.status == "pending" {
            cx.await_point(); // await loadConfig()
            cx.await_point(); // await createIntegrationBranch(): git worktree and hooks
        } else {
            return Err(Thrown(format!("plan is {}, not pending or paused", plan.status)));
        }
        plan.status = "running".into();
        plan.checkpoint = None;
        plan.checkpoint_context = None;
        self.plans.save_plan(cx, &plan)?;
        self.resume_plan(cx, o)
    }

    /// `relaunchJobForCorrection(name)`: an unlocked `loadPlan`, the old
    /// session killed, a new agent started in the job's worktree with a
    /// correction prompt, its `jobs.json` entry replaced (stale entries of
    /// the name removed, then `addJob`), and the plan job written `running`
    /// again with its error cleared: decided on the snapshot, whatever the
    /// job did since. The `catch` kills the new session and throws on.
    fn relaunch_job_for_correction(self: &Mc<P>, cx: &mut Cx<'_, P>, name: &str) -> Result<()> {
        let plan = self.plans.load_plan(cx)?.ok_or_else(|| Thrown("No active plan".into()))?;
        let job = plan.job(name).ok_or_else(|| Thrown(format!("Job \"{name}\" not found in plan")))?;
        let Some(branch) = job.branch.clone() else {
            return Err(Thrown(format!("Job \"{name}\" has no worktree or branch — cannot relaunch")));
        };
        let decided_on = job.status.clone();
        cx.await_point(); // await killSession(mc-<name>): the old pane goes
        self.panes.with(|p| p.insert(name.to_string(), Pane::KILLED));
        let relaunched = cx.call(|cx| -> Result<()> {
            cx.await_point(); // prompt and launcher files, createSession, setPaneDiedHook
            self.panes.with(|p| p.insert(name.to_string(), Pane::ALIVE));
            let entry = running_entry(cx, &plan, name, &branch, format!("correct {name}"));
            self.jobs.replace_stale_and_add_job(cx, entry, self.config.report_running_first)?;
            let update = JobUpdate { clear_error: true, ..JobUpdate::status("running") };
            self.plans.update_plan_job(cx, &plan.id, name, &update.deciding_on(&decided_on))
        });
        let Err(Thrown(error)) = relaunched else { return Ok(()) };
        cx.await_point(); // await killSession(mc-<name>)
        self.panes.with(|p| p.insert(name.to_string(), Pane::KILLED));
        Err(Thrown(format!("Failed to relaunch job \"{name}\" for correction: {error}")))
    }

    /// `isPaneRunning(tmuxTarget)`, after its await. Before c8ce065 a tmux
    /// error read as a dead pane (and `captureExitStatus` then found no
    /// status); since, it throws and the caller skips the job.
    fn pane_seen(&self, cx: &Cx<'_, P>, name: &str) -> PaneSeen {
        if self.tmux_unreachable.load(cx) {
            Self::note(cx, "isPaneRunning", "tmux-error", json!({ "job": name }));
            return if self.config.tmux_error_skipped { PaneSeen::Unknown } else { PaneSeen::Dead(None) };
        }
        match self.panes.with(|p| p.get(name).cloned()) {
            Some(Pane { alive: false, exit_code }) => PaneSeen::Dead(exit_code),
            _ => PaneSeen::Alive,
        }
    }

    /// `JobMonitor.poll()`: one pass over the running jobs of `jobs.json`.
    pub fn monitor_poll(self: &Mc<P>, cx: &mut Cx<'_, P>) -> Result<()> {
        let jobs = self.jobs.get_running_jobs(cx)?;
        for job in jobs {
            // Each job in its own `try`: an error (updateJob on an entry
            // removed meanwhile) skips that job's emit, and the poll goes on.
            let checked = self.check_job(cx, job);
            caught(checked, cx);
        }
        Ok(())
    }

    /// One job of `JobMonitor.poll()`'s loop (the body of its `try`).
    fn check_job(self: &Mc<P>, cx: &mut Cx<'_, P>, job: Job) -> Result<()> {
        cx.await_point(); // await isPaneRunning(tmuxTarget)
        let exit = match self.pane_seen(cx, &job.name) {
            PaneSeen::Unknown => return Ok(()), // "skipping this poll cycle"
            PaneSeen::Alive => None,
            PaneSeen::Dead(code) => Some(code),
        };
        if let Some(code) = exit {
            // await captureExitStatus() merges into updateJob's await;
            // no status (undefined) is not a failure.
            if let Some(code) = code.filter(|c| *c != 0) {
                self.jobs.update_job(cx, &job.id, "failed", Some(code))?;
                self.emit(cx, "failed", &Job { status: "failed".into(), ..job });
            } else {
                self.jobs.update_job(cx, &job.id, "completed", code)?;
                self.emit(cx, "complete", &Job { status: "completed".into(), ..job });
            }
            return Ok(());
        }
        // checkAgentReport swallows its own errors (a report it cannot read
        // is no report).
        let report = self.jobs.read_report(cx, &job.id).unwrap_or(None);
        if let Some(report) = report
            && (report.status == "completed" || report.status == "needs_review")
        {
            self.jobs.update_job(cx, &job.id, "completed", None)?;
            self.emit(cx, "complete", &Job { status: "completed".into(), ..job });
        }
        Ok(())
    }

    /// `mc_report(status)`, from the agent's own process: finds its job in
    /// `jobs.json` without a lock and writes its report file.
    pub fn agent_report(self: &Mc<P>, cx: &mut Cx<'_, P>, name: &str, status: &str) -> Result<()> {
        let state = self.jobs.load_job_state(cx)?;
        let running = state.jobs.iter().find(|j| j.name == name && j.status == "running");
        let job = running
            .filter(|_| self.config.report_running_first)
            .or_else(|| state.jobs.iter().find(|j| j.name == name))
            .ok_or_else(|| Thrown(format!("no job named {name}")))?;
        let report = super::files::AgentReport {
            job_id: job.id.to_string(),
            job_name: name.to_string(),
            status: status.to_string(),
            message: format!("{name} reports {status}"),
            timestamp: timestamp(cx.now()),
        };
        self.jobs.write_report(cx, &report)
    }
}
