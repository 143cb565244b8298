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
//! operations, knobs, invariants and reachable conditions) is `SPEC` in `spec.rs`,
//! which `racecheck explain --system plan` prints.

mod conditions;
mod files;
mod invariants;
mod orchestrator;
mod setup;
mod spec;
mod state;

pub use files::{JobSpec, JobState, PlanSpec};
pub(crate) use setup::static_str;
pub use setup::{JobSetup, OrchestratorSetup, PLAN_ID, Setup};
use setup::{check_dependencies, parse_job};
use spec::SPEC;

use crate::platform::Platform;
use crate::runtime::{Cx, FifoMutex, Flag, Runtime, Shared};
use crate::storage::{Contents, Disk, Files, Text};
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
            id: format!("{job}-0").into(),
            name: job.to_string().into(),
            worktree_path: Text::default(),
            branch: Text::default(),
            tmux_target: Text::default(),
            placement: Text::default(),
            status: Text::default(),
            prompt: Text::default(),
            mode: Text::default(),
            created_at: Text::default(),
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
