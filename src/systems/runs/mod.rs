//! Archon: workflow runs and who resumes, cancels and executes them (PR #1830).
//!
//! State: the `remote_agent_workflow_runs` rows (each SQL statement one
//! atomic [`Table`](crate::storage::Table) step), the node events a resume
//! reads, a logical clock scenarios advance, and the per-conversation lock
//! of the chat path. Callers (web Resume and Cancel, chat re-dispatch, the
//! CLI) run the executor in their own task.
//! Variants: `resume_guard` (#1830's compare-and-swap, and its review finding
//! C1), `cancel_guard` (#1830's terminal guard, and its first commit that
//! returned nothing), `backstop` (#1563's `finally` in `executeWorkflow`).
//!
//! What a scenario may say about the system (its `[setup]` fields,
//! operations, knobs, invariants and reachable conditions) is `SPEC` in `spec.rs`, which
//! `racecheck explain --system runs` prints.

mod api;
mod cli;
mod conditions;
mod executor;
mod invariants;
mod ops;
mod orchestrator_agent;
mod setup;
mod spec;
mod workflows;

pub use executor::Ends;
use ops::outcomes_of;
pub use ops::{Op, Outcome, Reply};
use setup::parse_row;
pub use setup::{RowSetup, Setup};
use spec::SPEC;
pub use workflows::{DAY, HOUR, MINUTE, ORPHAN_RESUME_STALE_DAYS, RunRow, STATUSES};

use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::{Cx, FifoMutex, Runtime, Shared};
use crate::storage::{Contents, Disk, Table};
use crate::systems::args::{Fields, PathSeg, check_unique};
use crate::systems::{
    ArgSpec, Args, FieldError, FieldSpec, InvariantSpec, KnobSpec, ModelSystem, OpSpec, SystemSpec, Variant, World,
};
use executor::{Backstop, Executed, PathLock, Start};
use orchestrator_agent::{Fresh, PlatformType};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use workflows::{Db, stamp};

/// How `resumeWorkflowRun` guards its UPDATE (#1830).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeGuard {
    /// `WHERE id = $1`: every caller wins.
    Unguarded,
    /// The CAS with the day placeholder unbound (review C1): stale orphans never match.
    CasUnboundDay,
    /// `WHERE id = $1 AND <resumable>`: the first caller wins.
    Cas,
}

/// How `cancelWorkflowRun` guards its UPDATE (#1830).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelGuard {
    /// `WHERE id = $1`, returns nothing.
    Unguarded,
    /// Terminal guard, still returning nothing (#1830's first commit, review I1).
    GuardVoid,
    /// Terminal guard, returns `{ cancelled: rowCount > 0 }`.
    TerminalGuard,
}

/// The registered runs system.
pub struct RunsSystem;

impl ModelSystem for RunsSystem {
    type Setup = Setup;
    type Op = Op;
    type World<P: Platform> = RunsWorld<P>;

    fn spec(&self) -> &'static SystemSpec {
        &SPEC
    }

    fn parse_setup(&self, setup: &Value) -> Result<Setup, FieldError> {
        let f = Fields::new(setup, Vec::new(), &SPEC.setup_keys(""))?;
        let clock_start = f.unsigned("clock_days")?.unwrap_or(100) * DAY;
        let rows = f.tables("rows", |v, path| parse_row(v, path, clock_start))?;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        check_unique("rows", "id", "a run id not used before", &ids)?;
        let layers = match f.unsigned("layers")? {
            Some(0) => return Err(FieldError::new(&f.path_to("layers"), "a positive integer", "0")),
            Some(n) => n as usize,
            None => 2,
        };
        for (i, row) in rows.iter().enumerate() {
            // A run that pauses or fails has a node left to do it: the
            // approval node is in the last layer, and so is a failing one.
            let most = if row.ends == Ends::Completed { layers } else { layers - 1 };
            if row.completed_layers as usize > most {
                let path = [PathSeg::Key("rows".into()), PathSeg::Index(i), PathSeg::Key("completed_layers".into())];
                let expected = match row.ends {
                    Ends::Paused => format!("fewer than layers ({layers}): the approval node of the last layer pauses"),
                    Ends::Failed => format!("fewer than layers ({layers}): a node of the last layer fails"),
                    Ends::Completed => format!("at most layers ({layers})"),
                };
                return Err(FieldError::new(&path, expected, row.completed_layers.to_string()));
            }
        }
        let same_second = f.boolean("same_second")?.unwrap_or(false);
        let interactive = f.boolean("interactive")?.unwrap_or(false);
        Ok(Setup { rows, clock_start, layers, same_second, interactive })
    }

    /// A fresh run's row: `web_resume` and `chat_redispatch` may start
    /// one, `cli_run` does without `--resume`.
    fn creates(&self, actor: &str, op: &str, args: &Args) -> Vec<(&'static str, String)> {
        let fresh = match op {
            "web_resume" | "chat_redispatch" => true,
            "cli_run" => args.get("resume") == Some(&Value::Bool(false)),
            _ => false,
        };
        match args.get("new_run") {
            _ if !fresh => Vec::new(),
            Some(Value::String(id)) => vec![("new_run", id.clone())],
            Some(_) => Vec::new(),
            None => vec![("new_run", format!("{actor}:new"))],
        }
    }

    fn parse_op(&self, setup: &Setup, created: &[String], name: &str, args: &Args) -> Result<Op, FieldError> {
        let f = SPEC.op_args(name, args)?;
        let ids: Vec<&str> = setup.rows.iter().map(|r| r.id.as_str()).collect();
        let targets: Vec<&str> = ids.iter().copied().chain(created.iter().map(String::as_str)).collect();
        let run = || f.required_name_in("run", "a run id of [setup] rows or a `new_run` of an operation", &targets);
        let expect = || f.choice("expect", outcomes_of(name));
        let new_run = || -> Result<Option<String>, FieldError> {
            match f.string("new_run")? {
                Some(id) if ids.contains(&id.as_str()) || id.is_empty() => Err(FieldError::new(
                    &f.path_to("new_run"),
                    "a new run id, not one of [setup] rows",
                    format!("{id:?}"),
                )),
                other => Ok(other),
            }
        };
        let ends =
            || -> Result<Ends, FieldError> { Ok(Ends::parse(&f.choice("ends", Ends::NAMES)?.unwrap_or_default())) };
        let path = || f.required_name_in("path", "a working_path of [setup] rows", &setup.paths());
        let workflow = |path: &str| -> Result<String, FieldError> {
            Ok(f.name_in("workflow", "a workflow of [setup] rows", &setup.workflows())?.unwrap_or_else(|| {
                setup
                    .rows
                    .iter()
                    .find(|r| r.working_path == path)
                    .map(|r| r.workflow.clone())
                    .unwrap_or_else(|| "fix-issue".into())
            }))
        };
        Ok(match name {
            "web_resume" => Op::WebResume { run: run()?, new_run: new_run()?, ends: ends()?, expect: expect()? },
            "chat_redispatch" => {
                let run = run()?;
                let row = setup.rows.iter().find(|r| r.id == run).expect("a checked run id");
                Op::ChatRedispatch {
                    workflow: row.workflow.clone(),
                    conversation: row.conversation.clone(),
                    cwd: row.working_path.clone(),
                    run,
                    new_run: new_run()?,
                    ends: ends()?,
                    from: match f.choice("platform", &["chat", "web"])?.as_deref() {
                        Some("web") => PlatformType::Web,
                        _ => PlatformType::Chat,
                    },
                    expect: expect()?,
                }
            }
            "cli_resume" => Op::CliResume { run: run()?, expect: expect()? },
            "cli_run" => {
                let path = path()?;
                Op::CliRun {
                    workflow: workflow(&path)?,
                    path,
                    resume: f.boolean("resume")?.unwrap_or(true),
                    no_worktree: f.boolean("no_worktree")?.unwrap_or(false),
                    new_run: new_run()?,
                    ends: ends()?,
                    expect: expect()?,
                }
            }
            "web_cancel" => Op::WebCancel { run: run()?, expect: expect()? },
            "find_resumable_run" => {
                let path = path()?;
                Op::FindResumableRun { workflow: workflow(&path)?, path, expect: expect()? }
            }
            "hydrate_resumable_run" => Op::HydrateResumableRun { run: run()?, expect: expect()? },
            "resume_run" => Op::ResumeRun { run: run()?, expect: expect()? },
            "cancel_run" => Op::CancelRun { run: run()?, expect: expect()? },
            "complete_run" => Op::CompleteRun { run: run()?, expect: expect()? },
            "fail_run" => Op::FailRun { run: run()?, expect: expect()? },
            "pause_run" => Op::PauseRun { run: run()?, expect: expect()? },
            "heartbeat" => Op::Heartbeat { run: run()? },
            "execute_workflow" => Op::ExecuteWorkflow { run: run()?, expect: expect()? },
            "server_restart" => Op::ServerRestart,
            "advance_clock" => {
                let mut seconds = 0;
                for (unit, secs) in [("days", DAY), ("hours", HOUR), ("minutes", MINUTE)] {
                    seconds += f.unsigned(unit)?.unwrap_or(0) * secs;
                }
                if seconds == 0 {
                    return Err(FieldError::new(
                        &f.path_to("hours"),
                        "a positive `days`, `hours` or `minutes`",
                        "no time",
                    ));
                }
                Op::AdvanceClock { seconds }
            }
            _ => unreachable!("every op of SPEC is parsed"),
        })
    }

    /// The table is the runs' state; they keep no files.
    fn initial_files(&self, _: &Setup) -> Vec<(String, Contents)> {
        Vec::new()
    }

    fn build<P: Platform>(
        &self,
        rt: &Arc<Runtime<P>>,
        _disk: Arc<dyn Disk>,
        setup: &Setup,
        variant: &Variant,
    ) -> RunsWorld<P> {
        let db = Db {
            runs: Table::new(rt, setup.initial_rows().into_iter().map(|r| (r.id.clone(), r))),
            clock: Shared::new(rt, setup.clock_start),
            same_second: setup.same_second,
            completed_nodes: setup
                .rows
                .iter()
                .map(|r| (r.id.clone(), (r.completed_nodes, r.completed_layers)))
                .collect(),
            resume_guard: match variant.choice("resume_guard") {
                "unguarded" => ResumeGuard::Unguarded,
                "cas-unbound-day" => ResumeGuard::CasUnboundDay,
                _ => ResumeGuard::Cas,
            },
            complete_guarded: variant.choice("complete_guard") != "unguarded",
            resume_refreshes_started_at: variant.choice("resume_started_at") != "kept",
            cancel_guard: match variant.choice("cancel_guard") {
                "unguarded" => CancelGuard::Unguarded,
                "guard-void" => CancelGuard::GuardVoid,
                _ => CancelGuard::TerminalGuard,
            },
        };
        let mut conversation_locks = BTreeMap::new();
        for r in &setup.rows {
            conversation_locks
                .entry(r.conversation.clone())
                .or_insert_with(|| FifoMutex::new(rt, &format!("conversationLock:{}", r.conversation)));
        }
        let archon = Archon {
            db,
            layers: setup.layers,
            interactive: setup.interactive,
            ends: setup.rows.iter().map(|r| (r.id.clone(), r.ends)).collect(),
            conversation_locks,
            backstop: match variant.choice("backstop") {
                "none" => Backstop::None,
                _ => Backstop::StatusOnly,
            },
            startup_sweep: variant.choice("startup_sweep") == "fail-orphans",
            worker_worktree_own: variant.choice("worker_worktree") == "own",
            path_lock: match variant.choice("path_lock") {
                "none" => PathLock::None,
                "check-before-insert" => PathLock::CheckBeforeInsert,
                _ => PathLock::OlderWins,
            },
        };
        RunsWorld { archon: Arc::new(archon) }
    }

    fn monitor(&self, invariant: &str, setup: &Setup) -> Box<dyn crate::systems::Monitor> {
        conditions::condition(invariant).unwrap_or_else(|| invariants::monitor(invariant, setup))
    }
}

/// One Archon deployment: the database, the workflows' shape, the
/// conversation locks of the server process.
pub struct Archon<P: Platform> {
    pub db: Db<P>,
    pub layers: usize,
    /// The workflow's `interactive:` flag (web dispatches run in the foreground).
    pub interactive: bool,
    /// How each existing run's remaining nodes end.
    pub ends: BTreeMap<String, Ends>,
    pub conversation_locks: BTreeMap<String, FifoMutex<P>>,
    pub backstop: Backstop,
    /// Server startup fails every running row (before 882fc58f).
    pub startup_sweep: bool,
    /// A background worker gets a worktree of its own (9c931419a, #716);
    /// before, it ran in its conversation's.
    pub worker_worktree_own: bool,
    pub path_lock: PathLock,
}

impl<P: Platform> Archon<P> {
    pub fn ends_of(&self, run: &str) -> Ends {
        self.ends.get(run).copied().unwrap_or(Ends::Completed)
    }
}

/// One execution's Archon.
pub struct RunsWorld<P: Platform> {
    archon: Arc<Archon<P>>,
}

fn record_outcome<P: Platform>(cx: &Cx<'_, P>, reply: &Reply, expect: &Option<String>) {
    let data = json!({ "outcome": reply.outcome.name(), "expected": expect, "message": reply.message });
    cx.record("reply", Effect::Note { kind: "outcome", data });
}

impl<P: Platform> World<P> for RunsWorld<P> {
    type Op = Op;

    fn run(&self, cx: &mut Cx<'_, P>, op: &Op) {
        let a = &*self.archon;
        let db = &a.db;
        let fresh_id =
            |new_run: &Option<String>, cx: &Cx<'_, P>| new_run.clone().unwrap_or_else(|| format!("{}:new", cx.task()));
        let (reply, expect) = match op {
            Op::WebResume { run, new_run, ends, expect } => {
                let id = fresh_id(new_run, cx);
                let reply = api::resume_route(&self.archon, cx, run, &id, *ends);
                (reply, expect)
            }
            Op::ChatRedispatch { workflow, conversation, cwd, new_run, ends, from, expect, .. } => {
                let id = fresh_id(new_run, cx);
                let fresh = Fresh { id: &id, cwd, ends: *ends };
                (orchestrator_agent::handle_message(&self.archon, cx, workflow, conversation, fresh, *from), expect)
            }
            Op::CliResume { run, expect } => (cli::workflow_resume_command(a, cx, run), expect),
            Op::CliRun { path, workflow, resume, no_worktree, new_run, ends, expect } => {
                let id = fresh_id(new_run, cx);
                let fresh = cli::FreshRun { id: &id, no_worktree: *no_worktree, ends: *ends };
                (cli::workflow_run_command(a, cx, path, workflow, *resume, fresh), expect)
            }
            Op::WebCancel { run, expect } => (api::cancel_route(a, cx, run), expect),
            Op::FindResumableRun { path, workflow, expect } => {
                let reply = match db.find_resumable_run(cx, workflow, path) {
                    Some(r) => Reply::new(Outcome::Found, format!("found run {} ({})", r.id, r.status)),
                    None => Reply::new(Outcome::NoneFound, "no resumable run".into()),
                };
                (reply, expect)
            }
            Op::HydrateResumableRun { run, expect } => {
                let reply = match db.get_workflow_run(cx, run) {
                    None => Reply::new(Outcome::NotFound, format!("run {run} not found")),
                    Some(candidate) => match executor::hydrate_resumable_run(db, cx, &candidate) {
                        Ok(Some(p)) => Reply::new(
                            Outcome::Resumed,
                            format!("claimed run {} ({} nodes to skip)", p.run.id, p.prior_completed_nodes),
                        ),
                        Ok(None) => Reply::new(Outcome::NothingToResume, "nothing to resume".into()),
                        Err(e) => thrown_reply(e),
                    },
                };
                (reply, expect)
            }
            Op::ResumeRun { run, expect } => {
                let reply = match db.resume_workflow_run(cx, run) {
                    Ok(r) => Reply::new(Outcome::Resumed, format!("run {} is {}", r.id, r.status)),
                    Err(e) => thrown_reply(e),
                };
                (reply, expect)
            }
            Op::CancelRun { run, expect } => {
                let result = db.cancel_workflow_run(cx, run);
                if let Some(reported) = result.cancelled {
                    let data = json!({ "run": run, "reported": reported, "changed": result.changed });
                    cx.record("cancelWorkflowRun", Effect::Note { kind: "cancel-result", data });
                }
                let reply = if result.changed {
                    Reply::new(Outcome::Cancelled, format!("run {run} cancelled"))
                } else {
                    Reply::new(Outcome::NothingToCancel, format!("run {run}: nothing to cancel"))
                };
                (reply, expect)
            }
            Op::CompleteRun { run, expect } => {
                (finished(db.complete_workflow_run(cx, run), Outcome::Completed, cx), expect)
            }
            Op::FailRun { run, expect } => {
                (finished(db.fail_workflow_run(cx, run, "failed by the scenario"), Outcome::Failed, cx), expect)
            }
            Op::PauseRun { run, expect } => (finished(db.pause_workflow_run(cx, run), Outcome::Paused, cx), expect),
            Op::Heartbeat { run } => {
                db.update_workflow_activity(cx, run);
                return;
            }
            Op::ExecuteWorkflow { run, expect } => {
                let reply = match db.get_workflow_run(cx, run) {
                    None => Reply::new(Outcome::NotFound, format!("run {run} not found")),
                    Some(row) => {
                        let executed = executor::execute_workflow(a, cx, Start::PreCreated(row, 0), a.ends_of(run));
                        Reply::executed(executed, Outcome::Executed)
                    }
                };
                (reply, expect)
            }
            Op::ServerRestart => {
                cx.record("startup", crate::history::Effect::Note { kind: "server-restart", data: json!({}) });
                if a.startup_sweep {
                    db.fail_orphaned_runs(cx);
                }
                return;
            }
            Op::AdvanceClock { seconds } => {
                let (from, to) = db.clock.with(|t| {
                    let from = *t;
                    *t += seconds;
                    (from, *t)
                });
                let data = json!({ "from": stamp(from), "to": stamp(to) });
                cx.record("clock", Effect::Note { kind: "clock", data });
                return;
            }
        };
        record_outcome(cx, &reply, expect);
    }

    fn final_state(&self) -> Value {
        let db = &self.archon.db;
        let runs: serde_json::Map<String, Value> =
            db.runs.all().into_iter().map(|(id, r)| (id, serde_json::to_value(&*r).unwrap_or(Value::Null))).collect();
        json!({ "clock": stamp(db.clock.get()), "runs": runs })
    }
}

fn thrown_reply(e: workflows::Thrown) -> Reply {
    match e {
        workflows::Thrown::NotFound(_) => Reply::new(Outcome::NotFound, e.to_string()),
        workflows::Thrown::NotResumable { .. } => Reply::new(Outcome::NotResumable, e.to_string()),
        workflows::Thrown::Other(_) => Reply::new(Outcome::Error, e.to_string()),
    }
}

/// A guarded finish: its outcome, or the error it threw.
fn finished<P: Platform>(result: workflows::Result<workflows::Row>, ok: Outcome, cx: &Cx<'_, P>) -> Reply {
    match result {
        Ok(r) => Reply::new(ok, format!("run {} is {}", r.id, r.status)),
        Err(e) => {
            cx.record("catch", Effect::Threw { error: e.to_string() });
            Reply::new(Outcome::Error, e.to_string())
        }
    }
}
