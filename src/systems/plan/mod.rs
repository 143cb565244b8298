//! opencode-mission-control: the plan and its reconciler (seeds #63/#71 and #15).
//!
//! State: `plan.json`, `jobs.json`, report files, the in-process FIFO
//! `planMutex` / `stateMutex`, and one or more `Orchestrator` instances.
//! Variants: `checkpoint_write` (#63/#71), `reconcile_guard` (#15 and its
//! port to threads), `safety_net` (#71's reconcile cross-check), `job_state_lock`
//! (6f3b0e5: jobs.json under stateMutex), `complete_order` (2e474b5: a
//! completion lands before its reconcile pass).
//!
//! What a scenario may say about the system (its `[setup]` fields,
//! operations, knobs, invariants and reachable conditions) is `SPEC` below,
//! which `racecheck explain --system plan` prints.

mod conditions;
mod files;
mod invariants;
mod orchestrator;
mod state;

pub use files::{JobSpec, JobState, PlanSpec};

use crate::platform::Platform;
use crate::runtime::{Cx, FifoMutex, Flag, Runtime, Shared};
use crate::storage::{Contents, Disk, Files};
use crate::systems::args::{Fields, PathSeg, check_unique};
use crate::systems::{
    ArgSpec, Args, FieldError, FieldSpec, InvariantSpec, KnobSpec, ModelSystem, OpSpec, SystemSpec, Variant, World,
    disk_state,
};
use files::{CHECKPOINTS, JOB_STATUSES, MODES, PLAN_STATUSES, REPORT_STATUSES, STATE_JOB_STATUSES};
use orchestrator::{ApproveTarget, Config, MergeOutcome, MissionControl, Orchestrator, Pane};
use serde_json::Value;
use state::{JobStore, PlanStore, caught};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// How plan-level fields are written (#63, fixed by #71).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointWrite {
    /// `savePlan(snapshot)`: the caller's whole, possibly stale, object.
    WholePlan,
    /// `updatePlanFields(id, fields)`: a fresh read inside the lock.
    FieldsOnly,
}

/// What `reconcile()` does with a trigger while a pass is in flight (#15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileGuard {
    Drop,
    Rerun,
    RerunPreemptive,
}

/// The registered plan system.
pub struct PlanSystem;

const JOB: ArgSpec = ArgSpec { name: "job", kind: "job", required: true, about: "a job named in [setup]" };
const ORCH: ArgSpec = ArgSpec {
    name: "orchestrator",
    kind: "orchestrator",
    required: false,
    about: "an Orchestrator instance of [setup] (default: the first)",
};

static SPEC: SystemSpec = SystemSpec {
    name: "plan",
    origin: "opencode-mission-control (src/lib/orchestrator.ts, plan-state.ts, job-state.ts, monitor.ts)",
    about: "a plan of jobs in plan.json, their processes in jobs.json, and the orchestrator that reconciles them",
    setup: &[
        FieldSpec { name: "plan", kind: "boolean", about: "whether plan.json exists (default true)" },
        FieldSpec { name: "mode", kind: "autopilot | supervisor", about: "the plan's mode (default autopilot)" },
        FieldSpec { name: "status", kind: "a plan status", about: "the plan's status (default running)" },
        FieldSpec {
            name: "checkpoint",
            kind: "pre_merge | on_error | pre_pr",
            about: "the plan's checkpoint (default none)",
        },
        FieldSpec {
            name: "max_parallel", kind: "integer ≥ 1", about: "jobs the reconciler runs at once (default 3)"
        },
        FieldSpec { name: "jobs", kind: "array of tables", about: "the plan's jobs, in plan.jobs order" },
        FieldSpec { name: "jobs[].name", kind: "string", about: "the job's name (required, unique)" },
        FieldSpec { name: "jobs[].status", kind: "a job status", about: "its status in plan.json (default running)" },
        FieldSpec {
            name: "jobs[].depends_on",
            kind: "array of job names",
            about: "jobs that must be merged before it launches",
        },
        FieldSpec {
            name: "jobs[].merge_order",
            kind: "integer",
            about: "its place in the merge order (default: its index)",
        },
        FieldSpec {
            name: "jobs[].state",
            kind: "a jobs.json status, or none",
            about: "its entry in jobs.json (default running for a running job, else none)",
        },
        FieldSpec {
            name: "jobs[].previous",
            kind: "a jobs.json status",
            about: "an entry of an earlier launch of the job, listed before its own (id <name>-old; default none)",
        },
        FieldSpec { name: "jobs[].pane", kind: "alive | exited", about: "its tmux pane (default alive)" },
        FieldSpec {
            name: "jobs[].exit_code",
            kind: "integer",
            about: "the status an exited pane keeps (under `remain-on-exit`; default none: read as completed)",
        },
        FieldSpec {
            name: "jobs[].report",
            kind: "a report status",
            about: "the report file the agent left (default none)",
        },
        FieldSpec {
            name: "jobs[].merge",
            kind: "clean | conflict | test-failure",
            about: "how its merge goes (default clean)",
        },
        FieldSpec {
            name: "jobs[].touch_set_violation",
            kind: "boolean",
            about: "its changes leave its touch set (default false)",
        },
        FieldSpec {
            name: "orchestrators",
            kind: "array of tables",
            about: "Orchestrator instances in the process (default one, `main`, active)",
        },
        FieldSpec { name: "orchestrators[].name", kind: "string", about: "the instance's name (required)" },
        FieldSpec {
            name: "orchestrators[].active",
            kind: "boolean",
            about: "it holds the plan as active (default true)",
        },
        FieldSpec {
            name: "orchestrators[].reconciler",
            kind: "boolean",
            about: "its reconcile interval is set (default: active and the plan running)",
        },
        FieldSpec {
            name: "orchestrators[].subscribed",
            kind: "boolean",
            about: "it listens to monitor events (default: active)",
        },
        FieldSpec {
            name: "orchestrators[].checkpoint",
            kind: "a checkpoint",
            about: "its in-memory checkpoint (default none)",
        },
    ],
    ops: &[
        OpSpec {
            name: "handle_job_failed",
            origin: "Orchestrator.handleJobFailed",
            about: "the monitor emits 'failed' for a job: fire-and-forget updatePlanJob(failed) and an unlocked loadPlan() feeding setCheckpoint(on_error)",
            args: &[JOB],
        },
        OpSpec {
            name: "handle_job_complete",
            origin: "Orchestrator.handleJobComplete",
            about: "the monitor emits 'complete' for a job: fire-and-forget updatePlanJob(completed), then reconcile()",
            args: &[JOB],
        },
        OpSpec {
            name: "monitor_poll",
            origin: "JobMonitor.poll",
            about: "one poll over jobs.json's running jobs: dead panes and agent reports become updateJob + emit",
            args: &[],
        },
        OpSpec {
            name: "agent_report",
            origin: "mc_report",
            about: "the job's agent writes reports/<jobId>.json from its own process",
            args: &[
                JOB,
                ArgSpec {
                    name: "status",
                    kind: "report status",
                    required: true,
                    about: "completed, needs_review, blocked, working or progress",
                },
            ],
        },
        OpSpec {
            name: "pane_exits",
            origin: "tmux pane-died",
            about: "the job's tmux pane exits",
            args: &[
                JOB,
                ArgSpec {
                    name: "exit_code",
                    kind: "integer",
                    required: false,
                    about: "the status the dead pane keeps, as under `remain-on-exit` in the user's tmux config (non-zero: the monitor fails the job); default none, as MC leaves it: the monitor takes the job for completed",
                },
            ],
        },
        OpSpec {
            name: "tmux_outage",
            origin: "the tmux server stops answering",
            about: "every tmux command fails (display-message exits non-zero) until tmux_recovers; the panes live on",
            args: &[],
        },
        OpSpec {
            name: "tmux_recovers",
            origin: "the tmux server answers again",
            about: "tmux commands work again",
            args: &[],
        },
        OpSpec {
            name: "set_checkpoint",
            origin: "Orchestrator.setCheckpoint",
            about: "load the plan (unlocked) and pause it at a checkpoint",
            args: &[
                ArgSpec {
                    name: "checkpoint",
                    kind: "checkpoint",
                    required: true,
                    about: "pre_merge, on_error or pre_pr",
                },
                ORCH,
            ],
        },
        OpSpec {
            name: "clear_checkpoint",
            origin: "Orchestrator.clearCheckpoint",
            about: "unpause a paused plan and restart the reconciler (at 2869e81 only the tests call it; mc_plan_approve writes the plan itself)",
            args: &[ORCH],
        },
        OpSpec {
            name: "resume_plan",
            origin: "Orchestrator.resumePlan",
            about: "unpause, fail jobs whose panes died, subscribe and start the reconciler",
            args: &[ORCH],
        },
        OpSpec {
            name: "reconcile",
            origin: "Orchestrator.reconcile",
            about: "trigger a reconcile pass (as handleJobComplete and startReconciler do)",
            args: &[ORCH],
        },
        OpSpec {
            name: "interval_tick",
            origin: "setInterval(reconcile, 5000)",
            about: "the reconcile interval fires, if it is still set",
            args: &[ORCH],
        },
        OpSpec {
            name: "kill_job",
            origin: "mc_kill (tools/kill.ts)",
            about: "getJobByName (unlocked), then killSession and updateJob(stopped): no event is emitted, so the plan job is left to the reconcile safety net",
            args: &[JOB],
        },
        OpSpec {
            name: "cancel_plan",
            origin: "mc_plan_cancel → Orchestrator.cancelPlan",
            about: "a fresh Orchestrator stops the plan's jobs and clears plan.json",
            args: &[],
        },
        OpSpec {
            name: "approve",
            origin: "mc_plan_approve",
            about: "unlocked loadPlan; a paused plan with a checkpoint is accepted (a touch-set failure's job becomes ready_to_merge) or, with `retry`, that job is retried, or, with `relaunch`, that touch-set failure is relaunched with a correction prompt; a pending plan gets its integration branch; the snapshot is set running with no checkpoint and written whole with savePlan, then resumePlan() on `orchestrator`, which stands for the new Orchestrator the origin creates (name one no other actor uses)",
            args: &[
                ORCH,
                ArgSpec {
                    name: "retry",
                    kind: "job",
                    required: false,
                    about: "retry this failed, conflict or needs_rebase job (mc_plan_approve's `retry`)",
                },
                ArgSpec {
                    name: "relaunch",
                    kind: "job",
                    required: false,
                    about: "relaunch this job, failed by a touch-set check, with a correction prompt: the plan is saved running, then relaunchJobForCorrection (kill the session, start a new agent, replace its jobs.json entry, write the plan job running) and resumePlan() (mc_plan_approve's `relaunch`; not with `retry`)",
                },
            ],
        },
    ],
    knobs: &[
        KnobSpec {
            name: "checkpoint_write",
            about: "how setCheckpoint, clearCheckpoint, resumePlan and _doReconcile write plan fields (#63, fixed by #71)",
            choices: &[
                ("whole-plan", "savePlan(snapshot): writes the caller's whole object, jobs[] included"),
                ("fields-only", "updatePlanFields(id, fields): re-reads inside planMutex, touches plan fields only"),
            ],
            default: "fields-only",
        },
        KnobSpec {
            name: "reconcile_guard",
            about: "what reconcile() does when a pass is already in flight (#15)",
            choices: &[
                ("drop", "if (isReconciling) return: the trigger is lost"),
                ("rerun", "set reconcilePending; the running pass loops (the #15 fix, correct on an event loop)"),
                (
                    "rerun-preemptive",
                    "announce pending with a swap, then try to own the pass; the owner drains with swaps (correct under threads)",
                ),
            ],
            default: "rerun",
        },
        KnobSpec {
            name: "complete_order",
            about: "how handleJobComplete orders its plan.json update and its reconcile() (2e474b5, in #41)",
            choices: &[
                (
                    "concurrent",
                    "before 2e474b5: updatePlanJob(completed) and reconcile() started together; the pass may read plan.json first (handleJobFailed stays the later setCheckpoint form: 2e474b5^'s autopilot failure wrote the plan failed with savePlan, which no knob models)",
                ),
                ("sequential", "2e474b5: await updatePlanJob(completed), then reconcile()"),
            ],
            default: "sequential",
        },
        KnobSpec {
            name: "approve_job_write",
            about: "how mc_plan_approve's retry and accept set the job to ready_to_merge before their savePlan (84e5a7f)",
            choices: &[
                (
                    "update-plan-job",
                    "before 84e5a7f (2e474b5 retry, 54c4aca accept): updatePlanJob, then savePlan of the older snapshot",
                ),
                ("snapshot", "84e5a7f: the job is set on the snapshot that savePlan writes"),
            ],
            default: "snapshot",
        },
        KnobSpec {
            name: "approved_for_merge",
            about: "whether an Orchestrator remembers the jobs approved at a pre_merge checkpoint (b571242, #38, for issue #3)",
            choices: &[
                (
                    "absent",
                    "before b571242: every reconcile pass checkpoints pre_merge again for a ready supervisor job",
                ),
                (
                    "clear-checkpoint",
                    "b571242: clearCheckpoint adds the ready jobs to this instance's approvedForMerge, which step 7 skips (mc_plan_approve resumes on a new instance, which has none)",
                ),
            ],
            default: "clear-checkpoint",
        },
        KnobSpec {
            name: "pr_guard",
            about: "what _doReconcile's all-merged branch checks before it creates the PR (fb82904)",
            choices: &[
                ("none", "before fb82904: if (allMerged), so a pass that finds creating_pr creates the PR again"),
                (
                    "status",
                    "fb82904: also status not creating_pr, completed or failed (a check on a loadPlan, then an await before the write)",
                ),
            ],
            default: "status",
        },
        KnobSpec {
            name: "tmux_error",
            about: "what a failing tmux command means to the monitor's poll and resumePlan (c8ce065, #12)",
            choices: &[
                (
                    "dead-pane",
                    "before c8ce065: isPaneRunning returns false, so the poll completes the job (no exit status) and resumePlan fails it",
                ),
                (
                    "skipped",
                    "c8ce065: isPaneRunning throws; the poll skips the job this cycle, resumePlan skips pane checks while isTmuxHealthy is false",
                ),
            ],
            default: "skipped",
        },
        KnobSpec {
            name: "report_match",
            about: "which jobs.json entry mc_report writes its report for, and what a launch does with the job's old entries (fb82904)",
            choices: &[
                (
                    "first",
                    "before fb82904: the first entry with the job's name or worktree, an earlier launch's included; launchJob only adds its entry, the old ones stay",
                ),
                (
                    "running-first",
                    "fb82904: a running entry first, then any with the name or worktree; launchJob removes the job's entries not running (and their reports) one by one, then adds its own",
                ),
            ],
            default: "running-first",
        },
        KnobSpec {
            name: "job_state_lock",
            about: "whether addJob and updateJob read-modify-write jobs.json under stateMutex (6f3b0e5)",
            choices: &[
                ("unlocked", "before 6f3b0e5: loadJobState, change, saveJobState, with no lock"),
                ("state-mutex", "6f3b0e5: stateMutex.withLock around each read-modify-write"),
            ],
            default: "state-mutex",
        },
        KnobSpec {
            name: "safety_net",
            about: "whether _doReconcile cross-checks jobs.json for plan jobs stuck running (#71)",
            choices: &[
                ("off", "no cross-check"),
                (
                    "completed-failed",
                    "c054731 (#71): completed/failed jobs.json entries repair plan jobs stuck running; a stopped one does not",
                ),
                ("on", "2869e81: completed/failed/stopped jobs.json entries repair plan jobs stuck running"),
            ],
            default: "on",
        },
    ],
    invariants: &[
        InvariantSpec {
            name: "no-lost-job-update",
            about: "a write to plan.json changes a job's status only if the writer meant to (no stale snapshot reverts a committed job update)",
        },
        InvariantSpec {
            name: "no-stale-job-decision",
            about: "an updatePlanJob its caller decided on a snapshot (a reconcile step, a launch, approve) lands only while the job still has the status that snapshot showed, or already has the one it writes: no stale decision overwrites a job update (no-lost-job-update exempts the job a write names)",
        },
        InvariantSpec {
            name: "completion-processed",
            about: "at the end, no plan job is left completed while the plan runs: some reconcile pass saw every completion (and moved it on to ready_to_merge)",
        },
        InvariantSpec {
            name: "no-lost-job-state-update",
            about: "a write to jobs.json changes or drops an entry only if the writer meant to (no stale read-modify-write loses another's update), and a rename of the shared jobs.json.tmp does not publish another writer's file in place of the entries it meant to set (before 6f3b0e5)",
        },
        InvariantSpec {
            name: "checkpoint-implies-paused",
            about: "plan.json never holds a checkpoint while its status is not paused",
        },
        InvariantSpec {
            name: "every-trigger-seen",
            about: "every reconcile() trigger is followed by a reconcile pass, of the same orchestrator, that starts after it",
        },
        InvariantSpec {
            name: "no-job-stuck-running",
            about: "at the end, no job that jobs.json says ended (completed, failed, stopped) is still running in plan.json, and none is running in jobs.json once plan.json is gone",
        },
        InvariantSpec {
            name: "pre-merge-approval-kept",
            about: "once a pre_merge checkpoint is cleared (approved), plan.json is not paused at pre_merge again while a job that was ready_to_merge then is still ready_to_merge (issue #3's loop)",
        },
        InvariantSpec {
            name: "one-pr-per-plan",
            about: "createPR runs at most once for a plan (a second call pushes and opens a second pull request)",
        },
        InvariantSpec {
            name: "no-live-job-ended",
            about: "at the end, every jobs.json entry the execution marked completed or failed has a pane that exited or an agent report that it was done (no job is ended while it still runs, #12)",
        },
        InvariantSpec {
            name: "report-reaches-its-job",
            about: "an agent's report is written for the job's running entry in jobs.json whenever there is one (the monitor looks for reports/<running id>.json)",
        },
        InvariantSpec {
            name: "plan-not-resurrected",
            about: "once plan.json is removed (cancel), nothing writes it back",
        },
        InvariantSpec {
            name: "no-job-status-regression",
            about: "a job that reached ready_to_merge, merging or merged in plan.json never goes back to completed, running or an earlier status (it would be validated and merged again)",
        },
        InvariantSpec {
            name: "stopped-job-not-merged",
            about: "a job whose jobs.json entry was stopped (mc_kill, a cancel) never becomes merged in plan.json: what the user stopped is not merged (jobs by name: approving the stopped job again counts too)",
        },
    ],
    conditions: conditions::CONDITIONS,
    example: (
        "plan/stale-checkpoint-overwrite.toml",
        include_str!("../../../scenarios/plan/stale-checkpoint-overwrite.toml"),
    ),
};

/// A job of `[setup]`.
#[derive(Clone, Debug)]
pub struct JobSetup {
    pub name: String,
    pub status: String,
    pub depends_on: Vec<String>,
    pub merge_order: Option<i64>,
    /// Its `jobs.json` entry's status, if it has one.
    pub state: Option<String>,
    /// The status of an entry an earlier launch of the job left.
    pub previous: Option<String>,
    pub pane: Pane,
    pub report: Option<String>,
    pub merge: MergeOutcome,
    pub touch_set_violation: bool,
}

#[derive(Clone, Debug)]
pub struct OrchestratorSetup {
    pub name: String,
    pub active: bool,
    pub reconciler: bool,
    pub subscribed: bool,
    pub checkpoint: Option<String>,
}

/// The plan system's `[setup]`.
#[derive(Clone, Debug)]
pub struct Setup {
    pub plan_exists: bool,
    /// plan.json may appear or vanish while the scenario runs (it is absent
    /// at the start, or an operation removes it): `loadPlan`'s `exists()`
    /// and `text()` are then two awaits, else one (merging them is exact).
    pub plan_may_vanish: bool,
    pub mode: String,
    pub status: String,
    pub checkpoint: Option<String>,
    pub max_parallel: usize,
    pub jobs: Vec<JobSetup>,
    pub orchestrators: Vec<OrchestratorSetup>,
}

pub const PLAN_ID: &str = "plan-1";

impl Setup {
    /// `plan.json` as the scenario starts.
    pub fn initial_plan(&self) -> Option<PlanSpec> {
        self.plan_exists.then(|| PlanSpec {
            id: PLAN_ID.into(),
            name: "scenario plan".into(),
            mode: self.mode.clone(),
            status: self.status.clone(),
            jobs: self
                .jobs
                .iter()
                .map(|j| JobSpec {
                    id: format!("job-{}", j.name),
                    name: j.name.clone(),
                    prompt: format!("do {}", j.name),
                    depends_on: j.depends_on.clone(),
                    status: j.status.clone(),
                    branch: Some(format!("mc/{}", j.name)),
                    merge_order: j.merge_order,
                    merged_at: None,
                    error: None,
                })
                .collect(),
            integration_branch: "mc/integration".into(),
            base_commit: "0000000".into(),
            created_at: files::timestamp(0),
            completed_at: None,
            pr_url: None,
            checkpoint: self.checkpoint.clone(),
            checkpoint_context: None,
            gh_authenticated: None,
            read_at: None,
            touched_jobs: Vec::new(),
        })
    }

    pub fn initial_job_state(&self) -> JobState {
        let entries = self.jobs.iter().flat_map(|j| {
            let previous = j.previous.clone().map(|status| (j, "old", status));
            previous.into_iter().chain(j.state.clone().map(|status| (j, "0", status)))
        });
        let jobs = entries
            .map(|(j, launch, status)| files::Job {
                id: format!("{}-{launch}", j.name),
                name: j.name.clone(),
                worktree_path: format!("/worktrees/{}", j.name),
                branch: format!("mc/{}", j.name),
                tmux_target: format!("mc:{}", j.name),
                placement: "session".into(),
                status,
                prompt: format!("do {}", j.name),
                mode: self.mode.clone(),
                created_at: files::timestamp(0),
                completed_at: None,
                exit_code: None,
                plan_id: Some(PLAN_ID.into()),
            })
            .collect();
        JobState { version: 2, jobs, updated_at: files::timestamp(0) }
    }

    fn orchestrator(&self, name: &str) -> Option<usize> {
        self.orchestrators.iter().position(|o| o.name == name)
    }
}

/// `value` as a `&'static str` from `list` (statuses are a closed set).
pub(crate) fn static_str(list: &'static [&'static str], value: &str) -> Option<&'static str> {
    list.iter().copied().find(|s| *s == value)
}

fn parse_job(v: &Value, path: Vec<PathSeg>) -> Result<JobSetup, FieldError> {
    let f = Fields::new(v, path, &SPEC.setup_keys("jobs[]"))?;
    let status = f.choice("status", JOB_STATUSES)?.unwrap_or_else(|| "running".into());
    let default_state = (status == "running").then(|| "running".to_string());
    let state = match f.choice("state", &[STATE_JOB_STATUSES, &["none"]].concat())? {
        Some(s) if s == "none" => None,
        Some(s) => Some(s),
        None => default_state,
    };
    let pane = match f.choice("pane", &["alive", "exited"])?.as_deref() {
        Some("exited") => Pane { alive: false, exit_code: f.integer("exit_code")? },
        _ => Pane::ALIVE,
    };
    let merge = match f.choice("merge", &["clean", "conflict", "test-failure"])?.as_deref() {
        Some("conflict") => MergeOutcome::Conflict,
        Some("test-failure") => MergeOutcome::TestFailure,
        _ => MergeOutcome::Clean,
    };
    Ok(JobSetup {
        name: f.required_string("name")?,
        status,
        depends_on: f.strings("depends_on")?,
        merge_order: f.integer("merge_order")?,
        state,
        previous: f.choice("previous", STATE_JOB_STATUSES)?,
        pane,
        report: f.choice("report", REPORT_STATUSES)?,
        merge,
        touch_set_violation: f.boolean("touch_set_violation")?.unwrap_or(false),
    })
}

/// Unknown dependencies and dependency cycles, located at the `depends_on` entry.
fn check_dependencies(jobs: &[JobSetup]) -> Result<(), FieldError> {
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    check_unique("jobs", "name", "a job name not used before", &names)?;
    let index: std::collections::HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let dep_path = |i: usize, d: usize| {
        vec![PathSeg::Key("jobs".into()), PathSeg::Index(i), PathSeg::Key("depends_on".into()), PathSeg::Index(d)]
    };
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let mut to = Vec::with_capacity(job.depends_on.len());
        for (d, dep) in job.depends_on.iter().enumerate() {
            match index.get(dep.as_str()) {
                Some(&j) => to.push(j),
                None => {
                    return Err(FieldError::one_of(
                        &dep_path(i, d),
                        "a job defined in [setup]",
                        format!("{dep:?}"),
                        &names,
                    ));
                }
            }
        }
        edges.push(to);
    }
    // Depth-first search for a cycle, with a stack of its own (a chain of
    // 100,000 dependencies must not overflow the thread's); report the edge
    // that closes it.
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; jobs.len()];
    for root in 0..jobs.len() {
        if state[root] != NEW {
            continue;
        }
        // (job, the next of its edges to follow)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = OPEN;
        while let Some(&mut (i, ref mut d)) = stack.last_mut() {
            let Some(&j) = edges[i].get(*d) else {
                state[i] = DONE;
                stack.pop();
                continue;
            };
            let edge = *d;
            *d += 1;
            if state[j] == OPEN {
                let start = stack.iter().position(|&(s, _)| s == j).unwrap_or(0);
                let mut cycle: Vec<&str> = stack[start..].iter().map(|&(s, _)| names[s]).collect();
                cycle.push(names[j]);
                return Err(FieldError::new(
                    &dep_path(i, edge),
                    "dependencies without a cycle",
                    format!("the cycle {}", cycle.join(" → ")),
                ));
            }
            if state[j] == NEW {
                state[j] = OPEN;
                stack.push((j, 0));
            }
        }
    }
    Ok(())
}

/// One operation of an actor.
#[derive(Clone, Debug)]
pub enum Op {
    HandleJobFailed { job: String },
    HandleJobComplete { job: String },
    MonitorPoll,
    AgentReport { job: String, status: String },
    PaneExits { job: String, exit_code: Option<i64> },
    TmuxOutage,
    TmuxRecovers,
    SetCheckpoint { checkpoint: String, orchestrator: usize },
    ClearCheckpoint { orchestrator: usize },
    ResumePlan { orchestrator: usize },
    Reconcile { orchestrator: usize },
    IntervalTick { orchestrator: usize },
    KillJob { job: String },
    CancelPlan,
    Approve { orchestrator: usize, target: Option<ApproveTarget> },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::HandleJobFailed { job } => write!(f, "handle_job_failed({job})"),
            Op::HandleJobComplete { job } => write!(f, "handle_job_complete({job})"),
            Op::MonitorPoll => write!(f, "monitor_poll"),
            Op::AgentReport { job, status } => write!(f, "agent_report({job}, {status})"),
            Op::PaneExits { job, exit_code: Some(code) } => write!(f, "pane_exits({job}, {code})"),
            Op::PaneExits { job, exit_code: None } => write!(f, "pane_exits({job})"),
            Op::TmuxOutage => write!(f, "tmux_outage"),
            Op::TmuxRecovers => write!(f, "tmux_recovers"),
            Op::SetCheckpoint { checkpoint, orchestrator } => {
                write!(f, "set_checkpoint({checkpoint}, #{orchestrator})")
            }
            Op::ClearCheckpoint { orchestrator } => write!(f, "clear_checkpoint(#{orchestrator})"),
            Op::ResumePlan { orchestrator } => write!(f, "resume_plan(#{orchestrator})"),
            Op::Reconcile { orchestrator } => write!(f, "reconcile(#{orchestrator})"),
            Op::IntervalTick { orchestrator } => write!(f, "interval_tick(#{orchestrator})"),
            Op::KillJob { job } => write!(f, "kill_job({job})"),
            Op::CancelPlan => write!(f, "cancel_plan"),
            Op::Approve { orchestrator, target: None } => write!(f, "approve(#{orchestrator})"),
            Op::Approve { orchestrator, target: Some(ApproveTarget::Retry(job)) } => {
                write!(f, "approve(#{orchestrator}, retry {job})")
            }
            Op::Approve { orchestrator, target: Some(ApproveTarget::Relaunch(job)) } => {
                write!(f, "approve(#{orchestrator}, relaunch {job})")
            }
        }
    }
}

impl ModelSystem for PlanSystem {
    type Setup = Setup;
    type Op = Op;
    type World<P: Platform> = PlanWorld<P>;

    fn spec(&self) -> &'static SystemSpec {
        &SPEC
    }

    fn parse_setup(&self, setup: &Value) -> Result<Setup, FieldError> {
        let f = Fields::new(setup, Vec::new(), &SPEC.setup_keys(""))?;
        let jobs = f.tables("jobs", parse_job)?;
        check_dependencies(&jobs)?;
        let status = f.choice("status", PLAN_STATUSES)?.unwrap_or_else(|| "running".into());
        let checkpoint = f.choice("checkpoint", CHECKPOINTS)?;
        let max_parallel = f.positive("max_parallel", "a positive integer")?.map_or(3, |n| n as usize);
        let running = status == "running";
        let mut orchestrators = f.tables("orchestrators", |v, path| {
            let o = Fields::new(v, path, &SPEC.setup_keys("orchestrators[]"))?;
            let active = o.boolean("active")?.unwrap_or(true);
            Ok(OrchestratorSetup {
                name: o.required_string("name")?,
                active,
                reconciler: o.boolean("reconciler")?.unwrap_or(active && running),
                subscribed: o.boolean("subscribed")?.unwrap_or(active),
                checkpoint: o.choice("checkpoint", CHECKPOINTS)?,
            })
        })?;
        if orchestrators.is_empty() {
            orchestrators.push(OrchestratorSetup {
                name: "main".into(),
                active: true,
                reconciler: running,
                subscribed: true,
                checkpoint: checkpoint.clone(),
            });
        }
        Ok(Setup {
            plan_exists: f.boolean("plan")?.unwrap_or(true),
            plan_may_vanish: true,
            mode: f.choice("mode", MODES)?.unwrap_or_else(|| "autopilot".into()),
            status,
            checkpoint,
            max_parallel,
            jobs,
            orchestrators,
        })
    }

    fn parse_op(&self, setup: &Setup, _created: &[String], name: &str, args: &Args) -> Result<Op, FieldError> {
        let f = SPEC.op_args(name, args)?;
        let jobs: Vec<&str> = setup.jobs.iter().map(|j| j.name.as_str()).collect();
        let job = || f.required_name_in("job", "a job defined in [setup]", &jobs);
        let orchestrators: Vec<&str> = setup.orchestrators.iter().map(|o| o.name.as_str()).collect();
        let orchestrator = || -> Result<usize, FieldError> {
            Ok(match f.name_in("orchestrator", "an orchestrator of [setup]", &orchestrators)? {
                Some(o) => setup.orchestrator(&o).expect("a checked orchestrator"),
                None => 0,
            })
        };
        Ok(match name {
            "handle_job_failed" => Op::HandleJobFailed { job: job()? },
            "handle_job_complete" => Op::HandleJobComplete { job: job()? },
            "monitor_poll" => Op::MonitorPoll,
            "agent_report" => {
                let status = f.required_choice("status", REPORT_STATUSES)?;
                Op::AgentReport { job: job()?, status }
            }
            "pane_exits" => Op::PaneExits { job: job()?, exit_code: f.integer("exit_code")? },
            "tmux_outage" => Op::TmuxOutage,
            "tmux_recovers" => Op::TmuxRecovers,
            "set_checkpoint" => {
                let checkpoint = f.required_choice("checkpoint", CHECKPOINTS)?;
                Op::SetCheckpoint { checkpoint, orchestrator: orchestrator()? }
            }
            "clear_checkpoint" => Op::ClearCheckpoint { orchestrator: orchestrator()? },
            "resume_plan" => Op::ResumePlan { orchestrator: orchestrator()? },
            "reconcile" => Op::Reconcile { orchestrator: orchestrator()? },
            "interval_tick" => Op::IntervalTick { orchestrator: orchestrator()? },
            "kill_job" => Op::KillJob { job: job()? },
            "cancel_plan" => Op::CancelPlan,
            "approve" => {
                let retry = f.name_in("retry", "a job defined in [setup]", &jobs)?;
                let relaunch = f.name_in("relaunch", "a job defined in [setup]", &jobs)?;
                let target = match (retry, relaunch) {
                    (Some(_), Some(job)) => {
                        let found = format!("{job:?} beside a `retry`");
                        return Err(FieldError::new(&f.path_to("relaunch"), "either `retry` or `relaunch`", found));
                    }
                    (Some(job), None) => Some(ApproveTarget::Retry(job)),
                    (None, Some(job)) => Some(ApproveTarget::Relaunch(job)),
                    (None, None) => None,
                };
                Op::Approve { orchestrator: orchestrator()?, target }
            }
            _ => unreachable!("every op of SPEC is parsed"),
        })
    }

    /// Only `cancel_plan` removes plan.json (`clearPlan`).
    fn settle(&self, setup: &mut Setup, ops: &[&Op]) {
        setup.plan_may_vanish = !setup.plan_exists || ops.iter().any(|op| matches!(op, Op::CancelPlan));
    }

    fn initial_files(&self, setup: &Setup) -> Vec<(String, Contents)> {
        let mut files = Vec::new();
        if let Some(plan) = setup.initial_plan() {
            files.push((files::PLAN_FILE.to_string(), files::plan_contents(plan)));
        }
        files.push((files::JOBS_FILE.to_string(), Contents::of(setup.initial_job_state())));
        for job in &setup.jobs {
            if let Some(status) = &job.report {
                let report = files::AgentReport {
                    job_id: format!("{}-0", job.name),
                    job_name: job.name.clone(),
                    status: status.clone(),
                    message: String::new(),
                    timestamp: files::timestamp(0),
                };
                files.push((files::report_file(&report.job_id), Contents::of(report)));
            }
        }
        files
    }

    fn build<P: Platform>(
        &self,
        rt: &Arc<Runtime<P>>,
        disk: Arc<dyn Disk>,
        setup: &Setup,
        variant: &Variant,
    ) -> PlanWorld<P> {
        let config = Config {
            checkpoint_write: if variant.choice("checkpoint_write") == "whole-plan" {
                CheckpointWrite::WholePlan
            } else {
                CheckpointWrite::FieldsOnly
            },
            complete_then_reconcile: variant.choice("complete_order") != "concurrent",
            approve_on_snapshot: variant.choice("approve_job_write") != "update-plan-job",
            approved_for_merge: variant.choice("approved_for_merge") != "absent",
            pr_guard: variant.choice("pr_guard") != "none",
            tmux_error_skipped: variant.choice("tmux_error") != "dead-pane",
            report_running_first: variant.choice("report_match") != "first",
            reconcile_guard: match variant.choice("reconcile_guard") {
                "drop" => ReconcileGuard::Drop,
                "rerun-preemptive" => ReconcileGuard::RerunPreemptive,
                _ => ReconcileGuard::Rerun,
            },
            safety_net: variant.choice("safety_net") != "off",
            safety_net_stopped: variant.choice("safety_net") == "on",
            max_parallel: setup.max_parallel,
            merge: setup.jobs.iter().map(|j| (j.name.clone(), j.merge)).collect(),
            touch_set_violation: setup.jobs.iter().filter(|j| j.touch_set_violation).map(|j| j.name.clone()).collect(),
        };
        let orchestrators = setup
            .orchestrators
            .iter()
            .map(|o| Orchestrator {
                name: o.name.clone(),
                checkpoint: Shared::new(rt, o.checkpoint.clone()),
                active_plan_id: Shared::new(rt, o.active.then(|| PLAN_ID.to_string())),
                reconciler_running: Flag::new(rt, "isRunning", o.reconciler),
                subscribed: Flag::new(rt, "subscribed", o.subscribed),
                is_reconciling: Flag::new(rt, "isReconciling", false),
                reconcile_pending: Flag::new(rt, "reconcilePending", false),
                approved_for_merge: Shared::new(rt, BTreeSet::new()),
                merge_queue: Shared::new(rt, Default::default()),
            })
            .collect();
        let panes: BTreeMap<String, Pane> = setup.jobs.iter().map(|j| (j.name.clone(), j.pane.clone())).collect();
        let mc = MissionControl {
            plans: PlanStore {
                files: Files::new(disk.clone()),
                plan_mutex: FifoMutex::new(rt, "planMutex"),
                exists_then_text: setup.plan_may_vanish,
            },
            jobs: JobStore {
                files: Files::new(disk.clone()),
                state_mutex: FifoMutex::new(rt, "stateMutex"),
                locked: variant.choice("job_state_lock") != "unlocked",
            },
            orchestrators,
            panes: Shared::new(rt, panes),
            tmux_unreachable: Flag::new(rt, "tmuxUnreachable", false),
            config,
        };
        PlanWorld { mc: Arc::new(mc), disk }
    }

    fn monitor(&self, invariant: &str, setup: &Setup) -> Box<dyn crate::systems::Monitor> {
        conditions::condition(invariant).unwrap_or_else(|| invariants::monitor(invariant, setup))
    }
}

/// One execution's mission-control process.
pub struct PlanWorld<P: Platform> {
    mc: Arc<MissionControl<P>>,
    disk: Arc<dyn Disk>,
}

impl<P: Platform> World<P> for PlanWorld<P> {
    type Op = Op;

    fn run(&self, cx: &mut Cx<'_, P>, op: &Op) {
        let mc = &self.mc;
        let emitted = |job: &str| files::Job {
            id: format!("{job}-0"),
            name: job.to_string(),
            worktree_path: String::new(),
            branch: String::new(),
            tmux_target: String::new(),
            placement: String::new(),
            status: String::new(),
            prompt: String::new(),
            mode: String::new(),
            created_at: String::new(),
            completed_at: None,
            exit_code: None,
            plan_id: Some(PLAN_ID.into()),
        };
        match op {
            Op::HandleJobFailed { job } => mc.emit(cx, "failed", &emitted(job)),
            Op::HandleJobComplete { job } => mc.emit(cx, "complete", &emitted(job)),
            Op::MonitorPoll => caught(mc.monitor_poll(cx), cx),
            Op::AgentReport { job, status } => caught(mc.agent_report(cx, job, status), cx),
            Op::PaneExits { job, exit_code } => {
                mc.panes.with(|p| p.insert(job.clone(), Pane { alive: false, exit_code: *exit_code }));
            }
            // Recorded, so that a schedule can say when tmux went away.
            Op::TmuxOutage => {
                mc.tmux_unreachable.store(cx, true);
                cx.record("tmux", crate::history::Effect::Note { kind: "tmux-outage", data: serde_json::json!({}) });
            }
            Op::TmuxRecovers => {
                mc.tmux_unreachable.store(cx, false);
                cx.record("tmux", crate::history::Effect::Note { kind: "tmux-recovered", data: serde_json::json!({}) });
            }
            Op::SetCheckpoint { checkpoint, orchestrator } => {
                let result = mc.plans.load_plan(cx).and_then(|plan| match plan {
                    Some(plan) => mc.set_checkpoint(cx, *orchestrator, checkpoint, mc.snapshot(plan), None),
                    None => Ok(()),
                });
                caught(result, cx)
            }
            Op::ClearCheckpoint { orchestrator } => caught(mc.clear_checkpoint(cx, *orchestrator), cx),
            Op::ResumePlan { orchestrator } => caught(mc.resume_plan(cx, *orchestrator), cx),
            Op::Reconcile { orchestrator } => mc.reconcile(cx, *orchestrator),
            Op::IntervalTick { orchestrator } => mc.interval_tick(cx, *orchestrator),
            Op::KillJob { job } => caught(mc.kill_job(cx, job), cx),
            Op::CancelPlan => caught(mc.cancel_plan(cx), cx),
            Op::Approve { orchestrator, target } => caught(mc.approve(cx, *orchestrator, target.as_ref()), cx),
        }
    }

    fn final_state(&self) -> Value {
        // Every file of the plan system is JSON (plan.json, jobs.json, reports/*.json).
        let files = disk_state(self.disk.as_ref());
        let orchestrators: serde_json::Map<String, Value> = self
            .mc
            .orchestrators
            .iter()
            .map(|o| {
                let state = serde_json::json!({
                    "checkpoint": o.checkpoint.get(),
                    "activePlanId": o.active_plan_id.get(),
                    "reconcilerRunning": o.reconciler_running.peek(),
                    "subscribed": o.subscribed.peek(),
                });
                (o.name.clone(), state)
            })
            .collect();
        let panes: serde_json::Map<String, Value> = self
            .mc
            .panes
            .get()
            .iter()
            .map(|(name, p)| (name.clone(), serde_json::json!({ "alive": p.alive, "exitCode": p.exit_code })))
            .collect();
        serde_json::json!({ "files": files, "orchestrators": orchestrators, "panes": panes })
    }
}
