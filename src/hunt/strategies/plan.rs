//! The plan system: a plan of 2–3 jobs (A, B, C) in archetypal states, and
//! the monitor, agents, user and reconciler acting on them.

use super::{Vocabulary, actors, document, one_of, table};
use crate::scenario::Document;
use crate::scenario::document::op;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NAMES: [&str; 3] = ["A", "B", "C"];

/// A job as the scenario starts: plan.json status, jobs.json entry, pane, report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// running, its process alive.
    Running,
    /// running in plan.json; the monitor already recorded completed in jobs.json.
    RecordedCompleted,
    /// running in plan.json; the monitor already recorded failed in jobs.json.
    RecordedFailed,
    /// running; its pane exited with this code, not yet polled.
    PaneExited(i64),
    /// running; its agent already reported completed.
    Reported,
    /// queued (waiting for its dependencies, if any).
    Queued,
    Completed,
    Failed,
    /// completed work, waiting for the merge train.
    ReadyToMerge,
    Merged,
}

const KINDS: &[JobKind] = &[
    JobKind::Running,
    JobKind::RecordedCompleted,
    JobKind::RecordedFailed,
    JobKind::PaneExited(0),
    JobKind::PaneExited(1),
    JobKind::Reported,
    JobKind::Queued,
    JobKind::Completed,
    JobKind::Failed,
    JobKind::ReadyToMerge,
    JobKind::Merged,
];

#[derive(Clone, Debug)]
pub struct JobSketch {
    pub kind: JobKind,
    /// Depends on the job before it (ignored for the first).
    pub depends_on_previous: bool,
}

#[derive(Clone, Debug)]
pub struct SetupSketch {
    pub jobs: Vec<JobSketch>,
    /// Paused at an on_error checkpoint (only with `Features::paused_plan`).
    pub paused: bool,
    pub supervisor: bool,
    /// A second, inactive Orchestrator instance (only with `Features::orchestrators`).
    pub second_orchestrator: bool,
}

/// An operation; jobs are indices into the setup's jobs.
#[derive(Clone, Debug)]
pub enum OpSketch {
    HandleJobFailed(usize),
    HandleJobComplete(usize),
    MonitorPoll,
    AgentReport(usize, &'static str),
    PaneExits(usize, i64),
    SetCheckpoint(&'static str, usize),
    ClearCheckpoint(usize),
    ResumePlan(usize),
    Reconcile(usize),
    IntervalTick(usize),
    CancelPlan,
    Approve(usize),
}

fn job() -> BoxedStrategy<usize> {
    (0..NAMES.len()).boxed()
}

fn orchestrator() -> BoxedStrategy<usize> {
    (0..2usize).boxed()
}

fn op_strategy(v: &Vocabulary) -> BoxedStrategy<OpSketch> {
    use OpSketch::*;
    let report = prop::sample::select(&["completed", "needs_review", "working"][..]);
    let checkpoint = prop::sample::select(&["on_error", "pre_merge", "pre_pr"][..]);
    one_of(
        v,
        vec![
            ("handle_job_failed", job().prop_map(HandleJobFailed).boxed()),
            ("handle_job_complete", job().prop_map(HandleJobComplete).boxed()),
            ("monitor_poll", Just(MonitorPoll).boxed()),
            ("agent_report", (job(), report).prop_map(|(j, s)| AgentReport(j, s)).boxed()),
            ("pane_exits", (job(), 0..2i64).prop_map(|(j, c)| PaneExits(j, c)).boxed()),
            ("set_checkpoint", (checkpoint, orchestrator()).prop_map(|(c, o)| SetCheckpoint(c, o)).boxed()),
            ("clear_checkpoint", orchestrator().prop_map(ClearCheckpoint).boxed()),
            ("resume_plan", orchestrator().prop_map(ResumePlan).boxed()),
            ("reconcile", orchestrator().prop_map(Reconcile).boxed()),
            ("interval_tick", orchestrator().prop_map(IntervalTick).boxed()),
            ("cancel_plan", Just(CancelPlan).boxed()),
            ("approve", orchestrator().prop_map(Approve).boxed()),
        ],
    )
}

fn setup_strategy() -> BoxedStrategy<SetupSketch> {
    let job = (prop::sample::select(KINDS), any::<bool>())
        .prop_map(|(kind, depends_on_previous)| JobSketch { kind, depends_on_previous });
    (vec(job, 2..=3), any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(|(jobs, paused, supervisor, second_orchestrator)| SetupSketch {
            jobs,
            paused,
            supervisor,
            second_orchestrator,
        })
        .boxed()
}

pub fn documents(v: &Vocabulary) -> BoxedStrategy<Document> {
    let v2 = v.clone();
    (actors(op_strategy(v)), setup_strategy()).prop_map(move |(actors, setup)| render(&v2, &setup, &actors)).boxed()
}

fn job_table(i: usize, job: &JobSketch) -> Map<String, Value> {
    let s = |x: &str| Some(json!(x));
    let (status, state, pane, exit_code, report) = match job.kind {
        JobKind::Running => ("running", None, None, None, None),
        JobKind::RecordedCompleted => ("running", s("completed"), None, None, None),
        JobKind::RecordedFailed => ("running", s("failed"), None, None, None),
        JobKind::PaneExited(code) => ("running", None, s("exited"), Some(json!(code)), None),
        JobKind::Reported => ("running", None, None, None, s("completed")),
        JobKind::Queued => ("queued", None, None, None, None),
        JobKind::Completed => ("completed", s("completed"), None, None, None),
        JobKind::Failed => ("failed", s("failed"), None, None, None),
        JobKind::ReadyToMerge => ("ready_to_merge", None, None, None, None),
        JobKind::Merged => ("merged", None, None, None, None),
    };
    let depends = (i > 0 && job.depends_on_previous).then(|| json!([NAMES[i - 1]]));
    table(vec![
        ("name", s(NAMES[i])),
        ("status", s(status)),
        ("state", state),
        ("pane", pane),
        ("exit_code", exit_code),
        ("report", report),
        ("depends_on", depends),
    ])
}

pub fn render(v: &Vocabulary, setup: &SetupSketch, actors: &[Vec<OpSketch>]) -> Document {
    let f = v.features;
    let paused = f.paused_plan && setup.paused;
    let second = f.orchestrators && setup.second_orchestrator;
    let mut s = Map::new();
    if paused {
        s.insert("status".into(), json!("paused"));
        s.insert("checkpoint".into(), json!("on_error"));
    }
    if f.paused_plan && setup.supervisor {
        s.insert("mode".into(), json!("supervisor"));
    }
    let jobs: Vec<Value> = setup.jobs.iter().enumerate().map(|(i, j)| Value::Object(job_table(i, j))).collect();
    let count = jobs.len();
    s.insert("jobs".into(), Value::Array(jobs));
    if second {
        s.insert("orchestrators".into(), json!([{ "name": "main" }, { "name": "other", "active": false }]));
    }
    let name = |j: usize| json!(NAMES[j % count]);
    let orch = |o: usize| if second && o % 2 == 1 { vec![("orchestrator", json!("other"))] } else { vec![] };
    let render_op = |o: &OpSketch| -> Map<String, Value> {
        match o {
            OpSketch::HandleJobFailed(j) => op("handle_job_failed", &[("job", name(*j))]),
            OpSketch::HandleJobComplete(j) => op("handle_job_complete", &[("job", name(*j))]),
            OpSketch::MonitorPoll => op("monitor_poll", &[]),
            OpSketch::AgentReport(j, st) => op("agent_report", &[("job", name(*j)), ("status", json!(st))]),
            OpSketch::PaneExits(j, c) => op("pane_exits", &[("job", name(*j)), ("exit_code", json!(c))]),
            OpSketch::SetCheckpoint(c, o) => {
                let mut args = vec![("checkpoint", json!(c))];
                args.extend(orch(*o));
                op("set_checkpoint", &args)
            }
            OpSketch::ClearCheckpoint(o) => op("clear_checkpoint", &orch(*o)),
            OpSketch::ResumePlan(o) => op("resume_plan", &orch(*o)),
            OpSketch::Reconcile(o) => op("reconcile", &orch(*o)),
            OpSketch::IntervalTick(o) => op("interval_tick", &orch(*o)),
            OpSketch::CancelPlan => op("cancel_plan", &[]),
            OpSketch::Approve(o) => op("approve", &orch(*o)),
        }
    };
    let actors = actors.iter().map(|ops| ops.iter().map(render_op).collect()).collect();
    document(v, s, actors)
}
