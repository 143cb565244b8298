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
//! operations, knobs, invariants and reachable conditions) is `SPEC` below, which
//! `racecheck explain --system runs` prints.

mod api;
mod cli;
mod conditions;
mod executor;
mod invariants;
mod orchestrator_agent;
mod workflows;

pub use executor::Ends;
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

const RUN: ArgSpec = ArgSpec {
    name: "run",
    kind: "run",
    required: true,
    about: "a run id of [setup] rows, or of a run an operation of the scenario creates (its `new_run`)",
};
const EXPECT: ArgSpec = ArgSpec {
    name: "expect",
    kind: "outcome",
    required: false,
    about: "how the operation must end in every interleaving (checked by `outcome-as-expected`)",
};
const NEW_RUN: ArgSpec = ArgSpec {
    name: "new_run",
    kind: "string",
    required: false,
    about: "id of the row a fresh run inserts (default `<actor>:new`); other operations may name it as their `run`",
};
const ENDS: ArgSpec = ArgSpec {
    name: "ends",
    kind: "completed | failed | paused",
    required: false,
    about: "how a fresh run's nodes end (default completed; failed: a node fails; paused: an approval node pauses the run in its last layer)",
};
const PATH: ArgSpec = ArgSpec {
    name: "path",
    kind: "working path",
    required: true,
    about: "a working_path of [setup] rows (the CLI's cwd)",
};
const WORKFLOW: ArgSpec = ArgSpec {
    name: "workflow",
    kind: "workflow",
    required: false,
    about: "a workflow of [setup] rows (default: the one of the first row on `path`)",
};

static SPEC: SystemSpec = SystemSpec {
    name: "runs",
    origin: "Archon (packages/core/src/db/workflows.ts, packages/workflows/src/executor.ts, orchestrator-agent.ts, server routes, CLI)",
    about: "workflow run rows in SQL, the callers that resume and cancel them, and the executor that runs them in a worktree",
    setup: &[
        FieldSpec {
            name: "clock_days",
            kind: "integer",
            about: "the day the clock starts at (rows are placed before it; default 100)",
        },
        FieldSpec {
            name: "layers",
            kind: "integer ≥ 1",
            about: "DAG layers of every workflow; a status poll runs after each (default 2)",
        },
        FieldSpec {
            name: "interactive",
            kind: "boolean",
            about: "the workflow's `interactive:` flag; default false: a web dispatch (the Resume button, a web chat message) that finds no resumable run sends its fresh run to a background worker in a worktree of its own (dispatchBackgroundWorkflow) and lets the conversation lock go; true: it runs in the foreground, in the conversation's worktree",
        },
        FieldSpec {
            name: "same_second",
            kind: "boolean",
            about: "true: every stamp between two clock advances is the same second (SQLite's datetime('now')); default false: one second apart",
        },
        FieldSpec { name: "rows", kind: "array of tables", about: "the remote_agent_workflow_runs rows" },
        FieldSpec { name: "rows[].id", kind: "string", about: "the run id (required, unique)" },
        FieldSpec {
            name: "rows[].status",
            kind: "pending | running | paused | failed | completed | cancelled",
            about: "the row's status (required)",
        },
        FieldSpec { name: "rows[].workflow", kind: "string", about: "workflow_name (default fix-issue)" },
        FieldSpec {
            name: "rows[].conversation",
            kind: "string",
            about: "parent_conversation_id (default conv-1): a web conversation, or a CLI one if it starts with `cli-` (the web Resume button refuses those)",
        },
        FieldSpec { name: "rows[].working_path", kind: "string", about: "the worktree (default /wt/<id>)" },
        FieldSpec {
            name: "rows[].last_activity_days_ago",
            kind: "integer",
            about: "last_activity_at, days before the clock (the three are summed)",
        },
        FieldSpec {
            name: "rows[].last_activity_hours_ago",
            kind: "integer",
            about: "last_activity_at, hours before the clock",
        },
        FieldSpec {
            name: "rows[].last_activity_minutes_ago",
            kind: "integer",
            about: "last_activity_at, minutes before the clock",
        },
        FieldSpec { name: "rows[].never_active", kind: "boolean", about: "last_activity_at is NULL" },
        FieldSpec {
            name: "rows[].started_days_ago",
            kind: "integer",
            about: "started_at, days before the clock (default: the last activity)",
        },
        FieldSpec { name: "rows[].started_hours_ago", kind: "integer", about: "started_at, hours before the clock" },
        FieldSpec {
            name: "rows[].started_minutes_ago",
            kind: "integer",
            about: "started_at, minutes before the clock",
        },
        FieldSpec {
            name: "rows[].completed_nodes",
            kind: "integer",
            about: "what getCompletedDagNodeOutputs finds (default 1)",
        },
        FieldSpec {
            name: "rows[].completed_layers",
            kind: "integer",
            about: "DAG layers whose every node the earlier attempt completed (default 0): a resume skips their nodes (an awaited skip log each: no status check, no heartbeat), the poll after each layer still runs; at most completed_nodes and layers, below layers when ends = paused or failed",
        },
        FieldSpec {
            name: "rows[].metadata",
            kind: "table",
            about: "the row's metadata; `approval = { type = \"interactive_loop\" }` makes a run with no completed node resumable (hydrateResumableRun), no other key does",
        },
        FieldSpec {
            name: "rows[].ends",
            kind: "completed | failed | paused",
            about: "how its executor's remaining nodes end (default completed; failed: a node fails; paused: an approval node pauses the run in its last layer)",
        },
    ],
    ops: &[
        OpSpec {
            name: "web_resume",
            origin: "POST /api/workflows/runs/:id/resume → dispatchOrchestratorWorkflow",
            about: "the web Resume button: check the status (and that the run's parent conversation is a web one, not `cli-…`), then dispatch to the orchestrator under the run's parent conversation lock (the chat path's lock); resume and execute, or, with no resumable run, start fresh (a background worker unless the workflow is `interactive`)",
            args: &[RUN, NEW_RUN, ENDS, EXPECT],
        },
        OpSpec {
            name: "chat_redispatch",
            origin: "handleMessage → dispatchOrchestratorWorkflow",
            about: "a chat message re-runs the run's workflow in its conversation, under that conversation's lock; resume and execute, or start fresh (from the web chat, in a background worker unless the workflow is `interactive`)",
            args: &[
                RUN,
                NEW_RUN,
                ENDS,
                ArgSpec {
                    name: "platform",
                    kind: "chat | web",
                    required: false,
                    about: "where the message comes from (default chat: Slack, Telegram, Discord, GitHub; web: the web UI's chat)",
                },
                EXPECT,
            ],
        },
        OpSpec {
            name: "cli_resume",
            origin: "archon workflow resume <id> (workflowResumeCommand)",
            about: "check the run is failed or paused, then findResumableRun in its path, hydrate (the resume write) and execute; no lock",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "cli_run",
            origin: "archon workflow run <name> [--resume] (workflowRunCommand)",
            about: "in `path`: with resume, findResumableRun (stale orphans included), hydrate and execute; without, a fresh run, in a worktree of its own unless `no_worktree`",
            args: &[
                PATH,
                WORKFLOW,
                ArgSpec { name: "resume", kind: "boolean", required: false, about: "--resume (default true)" },
                ArgSpec {
                    name: "no_worktree",
                    kind: "boolean",
                    required: false,
                    about: "--no-worktree (or a --branch whose worktree is `path`): a fresh run works in `path`; default false: it gets a new worktree, /wt/cli-<new_run>",
                },
                NEW_RUN,
                ENDS,
                EXPECT,
            ],
        },
        OpSpec {
            name: "web_cancel",
            origin: "POST /api/workflows/runs/:id/cancel",
            about: "check the run is running, pending or paused, then cancelWorkflowRun and answer the user",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "find_resumable_run",
            origin: "findResumableRun",
            about: "the newest failed/paused run, or running run idle for over a day, of a workflow in a path",
            args: &[PATH, WORKFLOW, EXPECT],
        },
        OpSpec {
            name: "hydrate_resumable_run",
            origin: "hydrateResumableRun",
            about: "read the run's completed nodes; if any (or an interactive loop waits), resumeWorkflowRun; no executor",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "resume_run",
            origin: "resumeWorkflowRun",
            about: "flip the row to running (per `resume_guard`) and re-read it; a CAS loser probes for not-found vs not-resumable",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "cancel_run",
            origin: "cancelWorkflowRun",
            about: "set the row cancelled (per `cancel_guard`)",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "complete_run",
            origin: "completeWorkflowRun",
            about: "running → completed, guarded AND status='running'; throws on 0 rows",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "fail_run",
            origin: "failWorkflowRun",
            about: "running → failed, guarded AND status='running'; throws on 0 rows",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "pause_run",
            origin: "pauseWorkflowRun",
            about: "running → paused (an approval gate), guarded AND status='running'; throws on 0 rows",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "heartbeat",
            origin: "updateWorkflowActivity",
            about: "last_activity_at = now() WHERE id, as a live executor does while nodes stream",
            args: &[RUN],
        },
        OpSpec {
            name: "execute_workflow",
            origin: "executeWorkflow(preCreatedRun)",
            about: "an executor for the row as it is (e.g. the live executor of a running run): path lock, layers (each streams: a status check, then a heartbeat unless the run is no longer running or paused) with a status poll after each, final write",
            args: &[RUN, EXPECT],
        },
        OpSpec {
            name: "server_restart",
            origin: "server startup (packages/server/src/index.ts)",
            about: "the server restarts; before 882fc58f its startup ran failOrphanedRuns, which fails every running row, whoever is executing it (see startup_sweep)",
            args: &[],
        },
        OpSpec {
            name: "advance_clock",
            origin: "time passing",
            about: "move the logical clock forward (now() and every staleness check read it)",
            args: &[
                ArgSpec { name: "days", kind: "integer", required: false, about: "days to add" },
                ArgSpec { name: "hours", kind: "integer", required: false, about: "hours to add" },
                ArgSpec { name: "minutes", kind: "integer", required: false, about: "minutes to add" },
            ],
        },
    ],
    knobs: &[
        KnobSpec {
            name: "resume_guard",
            about: "how resumeWorkflowRun's UPDATE is guarded (#1830)",
            choices: &[
                ("unguarded", "WHERE id=$1: two concurrent resumers both flip the row and both execute"),
                (
                    "cas-unbound-day",
                    "the CAS as first pushed: its day placeholder was unbound, so a stale running orphan never matches (review C1, SQLite)",
                ),
                (
                    "cas",
                    "WHERE id=$1 AND <resumable> (failed/paused, or running idle > 1 day), refreshing last_activity_at: the first resumer wins",
                ),
            ],
            default: "cas",
        },
        KnobSpec {
            name: "cancel_guard",
            about: "how cancelWorkflowRun's UPDATE is guarded and what it returns (#1830)",
            choices: &[
                (
                    "unguarded",
                    "WHERE id=$1: overwrites completed and re-stamps completed_at; the route always says Cancelled",
                ),
                (
                    "guard-void",
                    "status NOT IN (completed, cancelled), but returns nothing: the route still says Cancelled (review I1)",
                ),
                ("terminal-guard", "status NOT IN (completed, cancelled), returns { cancelled: rowCount > 0 }"),
            ],
            default: "terminal-guard",
        },
        KnobSpec {
            name: "complete_guard",
            about: "how the executor's terminal writes (completeWorkflowRun, failWorkflowRun) are guarded (af4e8b48, merged in #813); pauseWorkflowRun came guarded (d2bfd7a9b, #888) under either choice",
            choices: &[
                (
                    "unguarded",
                    "before af4e8b48: WHERE id=$1, so a completion overwrites a cancel that landed after the skip read",
                ),
                ("running", "af4e8b48: WHERE id=$1 AND status='running', throwing on 0 rows"),
            ],
            default: "running",
        },
        KnobSpec {
            name: "path_lock",
            about: "how executeWorkflow keeps two runs out of one worktree (#196, #871, #1212)",
            choices: &[
                (
                    "none",
                    "before 1bf8af87 (#196, for #192): executeWorkflow starts with no check for another active run",
                ),
                (
                    "check-before-insert",
                    "71f8591e (#871): getActiveWorkflowRunByPath(cwd) before createWorkflowRun; a running row on the path rejects the start, but two starts can both check before either inserts (#196 did the same per conversation)",
                ),
                (
                    "older-wins",
                    "33d31c44f (#1212): asked after the run's row exists, excluding it; the older (started_at, id) wins and the younger cancels its own row",
                ),
            ],
            default: "older-wins",
        },
        KnobSpec {
            name: "resume_started_at",
            about: "what resumeWorkflowRun does to started_at, which the path lock's older-wins order reads (33d31c44f, #1212)",
            choices: &[
                (
                    "kept",
                    "before 33d31c44f: the resumed row keeps its original started_at, so it counts as older than a run that holds the worktree now",
                ),
                ("refreshed", "33d31c44f: started_at = now(), so a resumed run yields to the current holder"),
            ],
            default: "refreshed",
        },
        KnobSpec {
            name: "backstop",
            about: "what executeWorkflow's `finally` does after the DAG (#1563, commit 5593498c)",
            choices: &[
                ("none", "before 5593498c: no `finally`; a run left running stays running"),
                (
                    "status-only",
                    "5593498c: read the status and failWorkflowRun if running, with no owner check (both #1830 commits)",
                ),
            ],
            default: "status-only",
        },
        KnobSpec {
            name: "worker_worktree",
            about: "where dispatchBackgroundWorkflow runs the worker a web message starts (9c931419a, #716)",
            choices: &[
                (
                    "conversation-cwd",
                    "before 9c931419a: the worker's row and executeWorkflow take the conversation's cwd, and the dispatch lets the conversation lock go while the worker runs there",
                ),
                ("own", "9c931419a: each worker resolves a worktree of its own (/wt/worker-<id>)"),
            ],
            default: "own",
        },
        KnobSpec {
            name: "startup_sweep",
            about: "what server startup does to running rows (882fc58f, #1231, fixes #1216)",
            choices: &[
                (
                    "fail-orphans",
                    "before 882fc58f: failOrphanedRuns() fails every running row, runs executing in another process included",
                ),
                ("none", "882fc58f: startup leaves running rows alone (a user abandons or cancels a stuck one)"),
            ],
            default: "none",
        },
    ],
    invariants: &[
        InvariantSpec {
            name: "single-owner",
            about: "at most one executor runs a given run, or a given working_path, at a time",
        },
        InvariantSpec {
            name: "terminal-is-final",
            about: "a completed or cancelled run never changes status or completed_at again",
        },
        InvariantSpec {
            name: "cancel-is-truthful",
            about: "a cancel reports 'cancelled' to the user only if its UPDATE changed the row",
        },
        InvariantSpec {
            name: "one-run-per-conversation",
            about: "no two executors work at the same time on runs of one workflow for one parent conversation, in one worktree or two (a resume that finds its run taken starts no second run beside it)",
        },
        InvariantSpec { name: "outcome-as-expected", about: "every operation with an `expect` argument ends that way" },
    ],
    conditions: conditions::CONDITIONS,
    example: ("runs/double-resume-web-cli.toml", include_str!("../../../scenarios/runs/double-resume-web-cli.toml")),
};

/// Every outcome an operation can end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Resumed,
    FreshRun,
    Dispatched,
    Executed,
    PathLocked,
    NotResumable,
    NotFound,
    NoResumableRun,
    NothingToResume,
    Cancelled,
    NothingToCancel,
    Rejected,
    Completed,
    Failed,
    Paused,
    Found,
    NoneFound,
    Error,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Resumed => "resumed",
            Outcome::FreshRun => "fresh-run",
            Outcome::Dispatched => "dispatched",
            Outcome::Executed => "executed",
            Outcome::PathLocked => "path-locked",
            Outcome::NotResumable => "not-resumable",
            Outcome::NotFound => "not-found",
            Outcome::NoResumableRun => "no-resumable-run",
            Outcome::NothingToResume => "nothing-to-resume",
            Outcome::Cancelled => "cancelled",
            Outcome::NothingToCancel => "nothing-to-cancel",
            Outcome::Rejected => "rejected",
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Paused => "paused",
            Outcome::Found => "found",
            Outcome::NoneFound => "none",
            Outcome::Error => "error",
        }
    }
}

/// How an operation ended, and what it told its user.
#[derive(Debug)]
pub struct Reply {
    pub outcome: Outcome,
    pub message: String,
}

crate::state_hash_debug!(Reply);

impl Reply {
    pub fn new(outcome: Outcome, message: String) -> Self {
        Reply { outcome, message }
    }

    /// An executor's end, as `ran` when it ran.
    pub fn executed(executed: Executed, ran: Outcome) -> Self {
        match executed {
            Executed::Ran { run, how } => Reply::new(ran, format!("executor of run {run}: {how}")),
            Executed::PathLocked { run, holder } => Reply::new(
                Outcome::PathLocked,
                format!("run {run} cancelled itself: the older run {holder} is active on the same path"),
            ),
        }
    }
}

/// The outcomes `expect` may name for each operation.
fn outcomes_of(op: &str) -> &'static [&'static str] {
    match op {
        "web_resume" => {
            &["resumed", "fresh-run", "dispatched", "path-locked", "not-resumable", "rejected", "not-found", "error"]
        }
        "chat_redispatch" => {
            &["resumed", "fresh-run", "dispatched", "path-locked", "not-resumable", "not-found", "error"]
        }
        "cli_resume" => {
            &["resumed", "path-locked", "not-resumable", "not-found", "no-resumable-run", "nothing-to-resume", "error"]
        }
        "cli_run" => &[
            "resumed",
            "fresh-run",
            "path-locked",
            "not-resumable",
            "not-found",
            "no-resumable-run",
            "nothing-to-resume",
            "error",
        ],
        "web_cancel" => &["cancelled", "nothing-to-cancel", "rejected", "not-found"],
        "find_resumable_run" => &["found", "none"],
        "hydrate_resumable_run" => &["resumed", "nothing-to-resume", "not-resumable", "not-found"],
        "resume_run" => &["resumed", "not-resumable", "not-found"],
        "cancel_run" => &["cancelled", "nothing-to-cancel"],
        "complete_run" => &["completed", "error"],
        "fail_run" => &["failed", "error"],
        "pause_run" => &["paused", "error"],
        "execute_workflow" => &["executed", "path-locked", "not-found"],
        _ => &[],
    }
}

/// A row of `[setup]`.
#[derive(Clone, Debug)]
pub struct RowSetup {
    pub id: String,
    pub status: &'static str,
    pub workflow: String,
    pub conversation: String,
    pub working_path: String,
    /// Seconds before the start; `None`: `last_activity_at IS NULL`.
    pub last_activity_ago: Option<u64>,
    pub started_ago: u64,
    pub completed_nodes: u64,
    /// Leading DAG layers all of whose nodes are among `completed_nodes`.
    pub completed_layers: u64,
    pub metadata: Value,
    pub ends: Ends,
}

/// The runs system's `[setup]`.
#[derive(Clone, Debug)]
pub struct Setup {
    pub rows: Vec<RowSetup>,
    /// The clock at the start, in seconds.
    pub clock_start: u64,
    /// DAG layers of every workflow (status polls run between them).
    pub layers: usize,
    pub same_second: bool,
    /// The workflow's `interactive:` flag.
    pub interactive: bool,
}

impl Setup {
    /// The rows as they are when the scenario starts.
    pub fn initial_rows(&self) -> Vec<RunRow> {
        self.rows
            .iter()
            .map(|r| {
                let last = r.last_activity_ago.map(|a| self.clock_start - a);
                let terminal = ["completed", "cancelled", "failed"].contains(&r.status);
                RunRow {
                    id: r.id.clone(),
                    workflow_name: r.workflow.clone(),
                    parent_conversation_id: r.conversation.clone(),
                    status: r.status,
                    working_path: Some(r.working_path.clone()),
                    started_at: Some(self.clock_start - r.started_ago),
                    completed_at: terminal.then(|| last.unwrap_or(self.clock_start - r.started_ago)),
                    last_activity_at: last,
                    metadata: r.metadata.clone(),
                }
            })
            .collect()
    }

    /// The rows' working paths, each once, in order.
    fn paths(&self) -> Vec<&str> {
        distinct(self.rows.iter().map(|r| r.working_path.as_str()))
    }

    /// The rows' workflows, each once, in order.
    fn workflows(&self) -> Vec<&str> {
        distinct(self.rows.iter().map(|r| r.workflow.as_str()))
    }
}

/// `values` without repeats, in first-seen order.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen
}

/// `<prefix>_days_ago` + `<prefix>_hours_ago` + `<prefix>_minutes_ago`, in seconds.
fn ago(f: &Fields<'_>, prefix: &str) -> Result<Option<u64>, FieldError> {
    let mut total = None;
    for (unit, secs) in [("days", DAY), ("hours", HOUR), ("minutes", MINUTE)] {
        if let Some(n) = f.unsigned(&format!("{prefix}_{unit}_ago"))? {
            total = Some(total.unwrap_or(0) + n * secs);
        }
    }
    Ok(total)
}

fn parse_row(v: &Value, path: Vec<PathSeg>, clock_start: u64) -> Result<RowSetup, FieldError> {
    let f = Fields::new(v, path, &SPEC.setup_keys("rows[]"))?;
    let id = f.required_string("id")?;
    if id.is_empty() {
        return Err(FieldError::new(&f.path_to("id"), "a non-empty run id", "\"\""));
    }
    let status = f.required_choice("status", STATUSES)?;
    let status = STATUSES.iter().copied().find(|s| *s == status).expect("a checked status");
    let never_active = f.boolean("never_active")?.unwrap_or(false);
    let activity = ago(&f, "last_activity")?;
    if never_active && activity.is_some() {
        return Err(FieldError::new(&f.path_to("never_active"), "either never_active or last_activity_*_ago", "both"));
    }
    let last_activity_ago = if never_active { None } else { Some(activity.unwrap_or(0)) };
    let started_ago = ago(&f, "started")?.or(last_activity_ago).unwrap_or(0);
    for (key, secs) in [("last_activity", last_activity_ago.unwrap_or(0)), ("started", started_ago)] {
        if secs > clock_start {
            return Err(FieldError::new(
                &f.path_to(&format!("{key}_days_ago")),
                format!("a time after the clock's day 0 (the clock starts at day {})", clock_start / DAY),
                format!("{:.1} days ago", secs as f64 / DAY as f64),
            ));
        }
    }
    let metadata = match f.get("metadata") {
        None => json!({}),
        Some(m @ Value::Object(_)) => m.clone(),
        Some(other) => {
            return Err(FieldError::new(&f.path_to("metadata"), "a table", crate::systems::args::describe(other)));
        }
    };
    let completed_nodes = f.unsigned("completed_nodes")?.unwrap_or(1);
    let completed_layers = f.unsigned("completed_layers")?.unwrap_or(0);
    if completed_layers > completed_nodes {
        return Err(FieldError::new(
            &f.path_to("completed_layers"),
            format!("at most completed_nodes ({completed_nodes}): a completed layer has a completed node"),
            completed_layers.to_string(),
        ));
    }
    Ok(RowSetup {
        working_path: f.string("working_path")?.unwrap_or_else(|| format!("/wt/{id}")),
        workflow: f.string("workflow")?.unwrap_or_else(|| "fix-issue".into()),
        conversation: f.string("conversation")?.unwrap_or_else(|| "conv-1".into()),
        completed_nodes,
        completed_layers,
        ends: Ends::parse(&f.choice("ends", Ends::NAMES)?.unwrap_or_default()),
        id,
        status,
        last_activity_ago,
        started_ago,
        metadata,
    })
}

/// One operation of an actor.
#[derive(Clone, Debug)]
pub enum Op {
    WebResume {
        run: String,
        new_run: Option<String>,
        ends: Ends,
        expect: Option<String>,
    },
    /// The conversation, its workflow and worktree are the run's, from `[setup]`.
    ChatRedispatch {
        run: String,
        workflow: String,
        conversation: String,
        cwd: String,
        new_run: Option<String>,
        ends: Ends,
        from: PlatformType,
        expect: Option<String>,
    },
    CliResume {
        run: String,
        expect: Option<String>,
    },
    CliRun {
        path: String,
        workflow: String,
        resume: bool,
        /// `--no-worktree`: a fresh run works in `path`, not in a worktree of its own.
        no_worktree: bool,
        new_run: Option<String>,
        ends: Ends,
        expect: Option<String>,
    },
    WebCancel {
        run: String,
        expect: Option<String>,
    },
    FindResumableRun {
        path: String,
        workflow: String,
        expect: Option<String>,
    },
    HydrateResumableRun {
        run: String,
        expect: Option<String>,
    },
    ResumeRun {
        run: String,
        expect: Option<String>,
    },
    CancelRun {
        run: String,
        expect: Option<String>,
    },
    CompleteRun {
        run: String,
        expect: Option<String>,
    },
    FailRun {
        run: String,
        expect: Option<String>,
    },
    PauseRun {
        run: String,
        expect: Option<String>,
    },
    Heartbeat {
        run: String,
    },
    ExecuteWorkflow {
        run: String,
        expect: Option<String>,
    },
    ServerRestart,
    AdvanceClock {
        seconds: u64,
    },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::WebResume { run, .. } => write!(f, "web_resume({run})"),
            Op::ChatRedispatch { run, .. } => write!(f, "chat_redispatch({run})"),
            Op::CliResume { run, .. } => write!(f, "cli_resume({run})"),
            Op::CliRun { path, workflow, resume, .. } => {
                write!(f, "cli_run({workflow}{} in {path})", if *resume { " --resume" } else { "" })
            }
            Op::WebCancel { run, .. } => write!(f, "web_cancel({run})"),
            Op::FindResumableRun { path, workflow, .. } => write!(f, "find_resumable_run({workflow} in {path})"),
            Op::HydrateResumableRun { run, .. } => write!(f, "hydrate_resumable_run({run})"),
            Op::ResumeRun { run, .. } => write!(f, "resume_run({run})"),
            Op::CancelRun { run, .. } => write!(f, "cancel_run({run})"),
            Op::CompleteRun { run, .. } => write!(f, "complete_run({run})"),
            Op::FailRun { run, .. } => write!(f, "fail_run({run})"),
            Op::PauseRun { run, .. } => write!(f, "pause_run({run})"),
            Op::Heartbeat { run } => write!(f, "heartbeat({run})"),
            Op::ExecuteWorkflow { run, .. } => write!(f, "execute_workflow({run})"),
            Op::ServerRestart => write!(f, "server_restart"),
            Op::AdvanceClock { seconds } => {
                let (d, h, m) = (seconds / DAY, seconds % DAY / HOUR, seconds % HOUR / MINUTE);
                let mut parts = Vec::new();
                for (n, unit) in [(d, "d"), (h, "h"), (m, "m")] {
                    if n > 0 {
                        parts.push(format!("{n}{unit}"));
                    }
                }
                write!(f, "advance_clock(+{})", parts.join(""))
            }
        }
    }
}

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
