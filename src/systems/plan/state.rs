//! `src/lib/plan-state.ts` and `src/lib/job-state.ts`: the primitives that
//! read and write `plan.json`, `jobs.json` and report files.
//!
//! Each origin `await` is an await of the model; consecutive awaits with no
//! shared access between them are merged (see `runtime`), e.g. `loadPlan`'s
//! `getDataDir` / `exists` / `text` are one read, and `validateGhAuth` merges
//! into the write that follows it.

use super::files::{
    AgentReport, CheckpointContext, JOBS_FILE, Job, JobState, PLAN_FILE, PlanSpec, plan_contents, report_file,
    timestamp,
};
use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::{Cx, FifoMutex, Ticket};
use crate::storage::Files;
use crate::storage::{Contents, List};
use serde_json::json;

/// An exception thrown by the modeled code.
#[derive(Clone, Debug, PartialEq)]
pub struct Thrown(pub String);

impl From<std::io::Error> for Thrown {
    fn from(e: std::io::Error) -> Self {
        Thrown(format!("I/O error: {e}"))
    }
}

crate::state_hash_fields!(Thrown { 0 });

pub type Result<T> = std::result::Result<T, Thrown>;

/// Records a caught exception, like the origin's `.catch(() => {})`.
pub fn caught<P: Platform>(result: Result<()>, cx: &Cx<'_, P>) {
    if let Err(Thrown(error)) = result {
        cx.record("catch", Effect::Threw { error });
    }
}

/// Changes `updatePlanJob` merges into a job.
#[derive(Clone, Debug, Default)]
pub struct JobUpdate {
    pub status: &'static str,
    pub error: Option<String>,
    pub branch: Option<String>,
    pub merged_at: Option<String>,
    /// `error: undefined`: the spread leaves no error behind.
    pub clear_error: bool,
    /// Model only: the job's status in the snapshot the caller decided on
    /// (`None`: an event, not a snapshot, decided). `no-lost-job-update`
    /// checks that the job still has it on disk when the update lands.
    pub decided_on: Option<String>,
}

crate::state_hash_fields!(JobUpdate { status, error, branch, merged_at, clear_error, decided_on });

impl JobUpdate {
    pub fn status(status: &'static str) -> Self {
        JobUpdate { status, ..Default::default() }
    }
    pub fn with_error(mut self, error: &str) -> Self {
        self.error = Some(error.to_string());
        self
    }
    /// The update of a job the caller's snapshot says is `status`.
    pub fn deciding_on(mut self, status: &str) -> Self {
        self.decided_on = Some(status.to_string());
        self
    }
}

/// The fields `updatePlanFields` may set (`None`: leave as is).
#[derive(Clone, Debug, Default)]
pub struct FieldsUpdate {
    pub status: Option<&'static str>,
    pub checkpoint: Option<Option<String>>,
    pub checkpoint_context: Option<Option<CheckpointContext>>,
    pub completed_at: Option<String>,
    pub pr_url: Option<String>,
}

impl FieldsUpdate {
    pub fn apply(&self, plan: &mut PlanSpec) {
        if let Some(s) = self.status {
            plan.status = s.into();
        }
        if let Some(c) = &self.checkpoint {
            plan.checkpoint = c.clone();
        }
        if let Some(c) = &self.checkpoint_context {
            plan.checkpoint_context = c.clone();
        }
        if let Some(c) = &self.completed_at {
            plan.completed_at = Some(c.clone());
        }
        if let Some(u) = &self.pr_url {
            plan.pr_url = Some(u.clone());
        }
    }
}

/// plan-state.ts: `plan.json` behind the in-process `planMutex`.
pub struct PlanStore<P: Platform> {
    pub files: Files,
    pub plan_mutex: FifoMutex<P>,
    /// `loadPlan` awaits `exists()` and then `text()`; merged into one read
    /// where plan.json cannot appear or vanish in between (see
    /// `Setup::plan_may_vanish`).
    pub exists_then_text: bool,
}

impl<P: Platform> PlanStore<P> {
    /// `loadPlan()`: no lock; returns a snapshot. `await file.exists()`,
    /// then `await file.text()`: a plan removed in between makes `text()`
    /// throw, which loadPlan rethrows.
    pub fn load_plan(&self, cx: &mut Cx<'_, P>) -> Result<Option<PlanSpec>> {
        if self.exists_then_text && !self.files.exists(cx, "loadPlan", PLAN_FILE)? {
            return Ok(None);
        }
        let (step, contents) = self.files.read(cx, "loadPlan", PLAN_FILE)?;
        let Some(contents) = contents else {
            if self.exists_then_text {
                return Err(Thrown(format!("Failed to load plan state from {PLAN_FILE}: ENOENT")));
            }
            return Ok(None);
        };
        let mut plan: PlanSpec = contents.parse().map_err(|e| Thrown(format!("plan.json: {e}")))?;
        plan.read_at = Some(step);
        Ok(Some(plan))
    }

    fn write_plan(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        mut plan: PlanSpec,
        targets: &[String],
        decided_on: Option<&str>,
    ) -> Result<usize> {
        let meta = json!({ "targets": targets, "basis": plan.read_at, "decidedOn": decided_on });
        plan.gh_authenticated = Some(true); // `await validateGhAuth()`, merged into the write's await
        Ok(self.files.write(cx, func, PLAN_FILE, plan_contents(plan), meta)?)
    }

    /// `savePlan(plan)`: writes the caller's whole object, `jobs[]` included.
    pub fn save_plan(&self, cx: &mut Cx<'_, P>, plan: &PlanSpec) -> Result<()> {
        self.plan_mutex.with_lock(cx, |cx| {
            if let Some(existing) = self.load_plan(cx)?
                && existing.id != plan.id
            {
                return Err(Thrown("active plan already exists".into()));
            }
            self.write_plan(cx, "savePlan", plan.clone(), &plan.touched_jobs, None)?;
            Ok(())
        })
    }

    /// `updatePlanJob(planId, jobName, updates)`, after its caller queued
    /// on `planMutex` (`ticket`): a read-modify-write of one job.
    pub fn update_plan_job_queued(
        &self,
        cx: &mut Cx<'_, P>,
        ticket: Ticket,
        plan_id: &str,
        job: &str,
        update: &JobUpdate,
    ) -> Result<()> {
        self.plan_mutex.with_ticket(cx, ticket, |cx| {
            let mut plan = self.load_plan(cx)?.ok_or_else(|| Thrown("No active plan".into()))?;
            if plan.id != plan_id {
                return Err(Thrown(format!("Plan ID mismatch: {} != {plan_id}", plan.id)));
            }
            let spec = plan.job_mut(job).ok_or_else(|| Thrown(format!("Job {job} not found in plan")))?;
            spec.status = update.status.into();
            if update.error.is_some() || update.clear_error {
                spec.error = update.error.clone();
            }
            if update.branch.is_some() {
                spec.branch = update.branch.clone();
            }
            if update.merged_at.is_some() {
                spec.merged_at = update.merged_at.clone();
            }
            let step = self.write_plan(cx, "updatePlanJob", plan, &[job.to_string()], update.decided_on.as_deref())?;
            cx.record(
                "updatePlanJob",
                Effect::Note { kind: "job-update", data: json!({ "job": job, "status": update.status, "step": step }) },
            );
            Ok(())
        })
    }

    pub fn update_plan_job(&self, cx: &mut Cx<'_, P>, plan_id: &str, job: &str, update: &JobUpdate) -> Result<()> {
        // A call: the ticket dies with it.
        cx.call(|cx| {
            let ticket = self.plan_mutex.enqueue(cx);
            self.update_plan_job_queued(cx, ticket, plan_id, job, update)
        })
    }

    /// `updatePlanFields(planId, updates)` (the #71 fix): a fresh read inside
    /// the lock, plan-level fields only.
    pub fn update_plan_fields(&self, cx: &mut Cx<'_, P>, plan_id: &str, update: &FieldsUpdate) -> Result<()> {
        self.plan_mutex.with_lock(cx, |cx| {
            let mut plan = self.load_plan(cx)?.ok_or_else(|| Thrown("No active plan exists".into()))?;
            if plan.id != plan_id {
                return Err(Thrown(format!("Plan ID mismatch: {} != {plan_id}", plan.id)));
            }
            update.apply(&mut plan);
            self.write_plan(cx, "updatePlanFields", plan, &[], None)?;
            Ok(())
        })
    }

    /// `clearPlan()`: `existsSync` + `unlinkSync` inside the lock.
    pub fn clear_plan(&self, cx: &mut Cx<'_, P>) -> Result<()> {
        self.plan_mutex.with_lock(cx, |cx| {
            self.files.remove_sync(cx, "clearPlan", PLAN_FILE)?;
            Ok(())
        })
    }
}

/// job-state.ts: `jobs.json` behind `stateMutex`, and the report files.
pub struct JobStore<P: Platform> {
    pub files: Files,
    pub state_mutex: FifoMutex<P>,
    /// Each read-modify-write runs under `stateMutex` (6f3b0e5) or with no
    /// lock (before it).
    pub locked: bool,
}

impl<P: Platform> JobStore<P> {
    /// `loadJobState()`: no lock.
    pub fn load_job_state(&self, cx: &mut Cx<'_, P>) -> Result<JobState> {
        let (_, contents) = self.files.read(cx, "loadJobState", JOBS_FILE)?;
        match contents {
            None => Ok(JobState { version: 2, jobs: List::default(), updated_at: timestamp(0) }),
            Some(c) => c.parse().map_err(|e| Thrown(format!("jobs.json: {e}"))),
        }
    }

    /// `getRunningJobs()`: every `running` entry, of any plan.
    pub fn get_running_jobs(&self, cx: &mut Cx<'_, P>) -> Result<Vec<Job>> {
        Ok(self.load_job_state(cx)?.jobs.iter().filter(|j| j.status == "running").cloned().collect())
    }

    /// A read-modify-write of `jobs.json`, under `stateMutex` since
    /// 6f3b0e5; `f` changes the state and names the entries (by id) it
    /// meant to change, for the write's `targets`.
    fn modify(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        f: impl FnOnce(&mut JobState, usize) -> Result<Vec<String>>,
    ) -> Result<()> {
        let read_modify_write = |cx: &mut Cx<'_, P>| {
            let mut state = self.load_job_state(cx)?;
            let targets = f(&mut state, cx.now())?;
            state.updated_at = timestamp(cx.now());
            let meta = json!({ "targets": targets });
            if self.locked {
                self.files.write(cx, func, JOBS_FILE, Contents::of(state), meta)?;
            } else {
                // Unlocked writers can overlap in atomicWrite's shared temp file.
                self.files.write_through_shared_tmp(cx, func, JOBS_FILE, Contents::of(state), meta)?;
            }
            Ok(())
        };
        if self.locked { self.state_mutex.with_lock(cx, read_modify_write) } else { cx.call(read_modify_write) }
    }

    /// `updateJob(id, {status, completedAt})`: throws, writing nothing, when
    /// the entry is gone (a relaunch removed it meanwhile).
    pub fn update_job(&self, cx: &mut Cx<'_, P>, id: &str, status: &str, exit_code: Option<i64>) -> Result<()> {
        self.modify(cx, "updateJob", |state, now| {
            let job = state.jobs.iter_mut().find(|j| j.id == id);
            let job = job.ok_or_else(|| Thrown(format!("Job with id {id} not found")))?;
            job.status = status.to_string().into();
            if status != "running" {
                job.completed_at = Some(timestamp(now));
            }
            if exit_code.is_some() {
                job.exit_code = exit_code;
            }
            Ok(vec![id.to_string()])
        })
    }

    /// launchJob's and relaunchJobForCorrection's bookkeeping. Since
    /// fb82904: an unlocked `loadJobState`, then for each same-name entry
    /// not running `removeReport` and `removeJob` (each awaited, each
    /// `.catch(() => {})`), then `addJob`: between the removals and the add
    /// `jobs.json` has no entry for the job. Before fb82904 (`remove_stale`
    /// false): `addJob` alone, and old entries pile up.
    pub fn replace_stale_and_add_job(&self, cx: &mut Cx<'_, P>, job: Job, remove_stale: bool) -> Result<()> {
        if remove_stale {
            let state = self.load_job_state(cx)?;
            let stale: Vec<String> = state
                .jobs
                .iter()
                .filter(|j| j.name == job.name && j.status != "running")
                .map(|j| j.id.to_string())
                .collect();
            for id in stale {
                cx.await_point(); // removeReport: await getReportsDir(), import('fs'); then unlinkSync
                let _ = self.files.remove_sync(cx, "removeReport", &report_file(&id));
                let _ = self.remove_job(cx, &id);
            }
        }
        self.add_job(cx, job)
    }

    /// `removeJob(id)`: locked; throws, writing nothing, when the entry is gone.
    fn remove_job(&self, cx: &mut Cx<'_, P>, id: &str) -> Result<()> {
        self.modify(cx, "removeJob", |state, _| {
            let before = state.jobs.len();
            state.jobs.retain(|j| j.id != id);
            if state.jobs.len() == before {
                return Err(Thrown(format!("Job with id {id} not found")));
            }
            Ok(vec![id.to_string()])
        })
    }

    /// `addJob(job)`: locked; appends the entry.
    fn add_job(&self, cx: &mut Cx<'_, P>, job: Job) -> Result<()> {
        self.modify(cx, "addJob", |state, _| {
            let targets = vec![job.id.to_string()];
            state.jobs.push(job);
            Ok(targets)
        })
    }

    /// `readReport(jobId)`.
    pub fn read_report(&self, cx: &mut Cx<'_, P>, job_id: &str) -> Result<Option<AgentReport>> {
        let (_, contents) = self.files.read(cx, "readReport", &report_file(job_id))?;
        match contents {
            None => Ok(None),
            Some(c) => c.parse().map(Some).map_err(|e| Thrown(format!("report: {e}"))),
        }
    }

    /// `writeReport(report)`: tmp + rename, no lock (another process).
    pub fn write_report(&self, cx: &mut Cx<'_, P>, report: &AgentReport) -> Result<()> {
        self.files.write(cx, "writeReport", &report_file(&report.job_id), Contents::of(report.clone()), json!({}))?;
        Ok(())
    }
}
