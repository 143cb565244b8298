//! `packages/core/src/db/workflows.ts`: the `remote_agent_workflow_runs` rows
//! and every statement the callers and the executor issue against them.
//!
//! Each `await pool.query(...)` is one [`Cx::await_point`] followed by one
//! atomic [`Table`] statement, recorded as an event: a `Read` for a SELECT, a
//! `Wrote` for an UPDATE or INSERT that matched, a `zero-rows` note for one
//! that did not. Timestamps come from the scenario's logical clock.

use super::{CancelGuard, ResumeGuard};
use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::{Cx, Shared};
use crate::storage::Table;
use crate::storage::{Contents, FileShape};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;

pub const STATUSES: &[&str] = &["pending", "running", "paused", "failed", "completed", "cancelled"];
/// `RESUMABLE_WORKFLOW_STATUSES`.
pub const RESUMABLE: &[&str] = &["failed", "paused"];

/// Seconds of the logical clock.
pub const MINUTE: u64 = 60;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;
/// `ORPHAN_RESUME_STALE_DAYS`: a `running` row idle this long is an orphan.
pub const ORPHAN_RESUME_STALE_DAYS: u64 = 1;
/// `getActiveWorkflowRunByPath` counts a `pending` row younger than this.
pub const PENDING_ACTIVE_FOR: u64 = 5 * MINUTE;

/// `d3 01:00:05`: a clock value as traces show it.
pub fn stamp(t: u64) -> String {
    let mut out = String::with_capacity(12);
    push_stamp(&mut out, t);
    out
}

/// Appends [`stamp`]`(t)` to `out`, digit by digit: every row write
/// describes its change with stamps, and `format!`'s padding machinery was
/// a tenth of an execution of the runs system.
fn push_stamp(out: &mut String, t: u64) {
    let two = |out: &mut String, n: u64| {
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    out.push('d');
    out.push_str(&(t / DAY).to_string());
    out.push(' ');
    two(out, t % DAY / HOUR);
    out.push(':');
    two(out, t % HOUR / MINUTE);
    out.push(':');
    two(out, t % MINUTE);
}

fn stamp_opt<S: serde::Serializer>(t: &Option<u64>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&stamp(*t)),
        None => s.serialize_none(),
    }
}

/// A row as a statement returned it: a snapshot, shared with the table and
/// the history until someone updates the row.
pub type Row = std::sync::Arc<RunRow>;

/// One row of `remote_agent_workflow_runs` (the columns the races touch).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRow {
    pub id: String,
    pub workflow_name: String,
    pub parent_conversation_id: String,
    pub status: &'static str,
    pub working_path: Option<String>,
    #[serde(serialize_with = "stamp_opt")]
    pub started_at: Option<u64>,
    #[serde(serialize_with = "stamp_opt")]
    pub completed_at: Option<u64>,
    #[serde(serialize_with = "stamp_opt")]
    pub last_activity_at: Option<u64>,
    pub metadata: Value,
}

crate::state_hash_fields!(RunRow {
    id,
    workflow_name,
    parent_conversation_id,
    status,
    working_path,
    started_at,
    completed_at,
    last_activity_at,
    metadata,
});

/// A row as the history keeps it: the row itself, rendered as compact JSON
/// for reports.
impl FileShape for RunRow {
    fn render(&self) -> String {
        self.to_json()
    }
}

impl RunRow {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a run row serializes")
    }

    /// `resumableStatusClause`: failed/paused, or a `running` orphan idle
    /// for more than ORPHAN_RESUME_STALE_DAYS (or never active).
    pub fn is_resumable(&self, now: u64) -> bool {
        RESUMABLE.contains(&self.status) || (self.status == "running" && self.is_stale_orphan(now))
    }

    fn is_stale_orphan(&self, now: u64) -> bool {
        match self.last_activity_at {
            None => true,
            Some(t) => t < now.saturating_sub(ORPHAN_RESUME_STALE_DAYS * DAY),
        }
    }

    /// Review finding C1 of #1830: the day placeholder was left unbound, so on
    /// SQLite `last_activity_at < datetime('now', '-' || NULL || ' days')` is
    /// NULL and only the `IS NULL` half of the orphan clause still matches.
    fn is_resumable_unbound_day(&self) -> bool {
        RESUMABLE.contains(&self.status) || (self.status == "running" && self.last_activity_at.is_none())
    }

    /// Older-wins order of the path lock: `(started_at, id)`.
    fn age_key(&self) -> (Option<u64>, &str) {
        (self.started_at, self.id.as_str())
    }
}

/// An exception thrown by the modeled code.
#[derive(Clone, Debug, PartialEq)]
pub enum Thrown {
    /// `Error('Workflow run not found')`.
    NotFound(String),
    /// `WorkflowNotResumableError(id, status)` (since #1830).
    NotResumable { id: String, status: &'static str },
    /// Any other error, with its message.
    Other(String),
}

impl fmt::Display for Thrown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Thrown::NotFound(id) => write!(f, "Workflow run not found (id: {id})"),
            Thrown::NotResumable { id, status } => {
                write!(f, "Workflow run is not resumable (id: {id}, status: {status})")
            }
            Thrown::Other(m) => f.write_str(m),
        }
    }
}

pub type Result<T> = std::result::Result<T, Thrown>;

/// What `cancelWorkflowRun` did and what it told its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelResult {
    /// Its UPDATE matched the row (rowCount > 0).
    pub changed: bool,
    /// `{ cancelled }` since #1830; `None` when it returns nothing.
    pub cancelled: Option<bool>,
}

/// The database: the runs table, the node events it keeps per run, and the
/// logical clock its `now()` reads.
pub struct Db<P: Platform> {
    pub runs: Table<P, RunRow>,
    /// `now()` in seconds. Scenarios move it with `advance_clock`.
    pub clock: Shared<P, u64>,
    /// Every stamp between two clock advances is the same second (SQLite's
    /// `datetime('now')`); otherwise each stamp is one second later.
    pub same_second: bool,
    /// `getCompletedDagNodeOutputs`: completed nodes per run, and how many
    /// leading layers they fill, from `[setup]`.
    pub completed_nodes: BTreeMap<String, (u64, u64)>,
    pub resume_guard: ResumeGuard,
    pub cancel_guard: CancelGuard,
    /// `completeWorkflowRun` / `failWorkflowRun` / `pauseWorkflowRun` guarded
    /// `AND status='running'` (`af4e8b48`), or `WHERE id` alone before it.
    pub complete_guarded: bool,
    /// `resumeWorkflowRun` sets `started_at = now()` (`33d31c44f`, #1212), so
    /// a resumed run is younger than any holder; before, it kept its age.
    pub resume_refreshes_started_at: bool,
}

fn res(id: &str) -> std::sync::Arc<str> {
    let mut res = String::with_capacity(4 + id.len());
    res.push_str("run:");
    res.push_str(id);
    res.into()
}

impl<P: Platform> Db<P> {
    /// The clock, for WHERE clauses.
    pub fn now(&self) -> u64 {
        self.clock.get()
    }

    /// `now()` written into a row: distinct per statement unless `same_second`.
    fn stamp(&self) -> u64 {
        let tick = !self.same_second;
        self.clock.with(|t| {
            if tick {
                *t += 1;
            }
            *t
        })
    }

    fn read(cx: &Cx<'_, P>, func: &'static str, id: &str, row: Option<&Row>) -> usize {
        cx.record(func, Effect::Read { res: res(id), value: row.map(|r| Contents::shared(r.clone())) })
    }

    fn wrote(cx: &Cx<'_, P>, func: &'static str, row: &Row, sql: &str, change: String) -> usize {
        let meta = json!({ "sql": sql, "rows": 1, "change": change });
        cx.record(func, Effect::Wrote { res: res(&row.id), value: Contents::shared(row.clone()), meta })
    }

    fn zero_rows(cx: &Cx<'_, P>, func: &'static str, id: &str, sql: &str, found: Option<&RunRow>) -> usize {
        let data = json!({
            "res": format!("run:{id}"),
            "sql": sql,
            "rows": 0,
            "status": found.map(|r| r.status),
        });
        cx.record(func, Effect::Note { kind: "zero-rows", data })
    }

    /// `UPDATE ... WHERE id = $1 AND <guard>`, recorded: the row after if it
    /// matched, else the status of the row it did not match (`None`: no row).
    fn update(
        &self,
        cx: &Cx<'_, P>,
        func: &'static str,
        id: &str,
        sql: &str,
        guard: impl Fn(&RunRow) -> bool,
        set: impl FnOnce(&mut RunRow),
    ) -> std::result::Result<Row, Option<&'static str>> {
        let mut before: Option<Stamped> = None;
        let (rows, after) = self.runs.update_where(id, guard, |r| {
            before = Some(Stamped::of(r));
            set(r)
        });
        match (rows, after, before) {
            (1, Some(after), Some(before)) => {
                let change = describe_change(&before, &after);
                Self::wrote(cx, func, &after, sql, change);
                Ok(after)
            }
            (_, found, _) => {
                Self::zero_rows(cx, func, id, sql, found.as_deref());
                Err(found.map(|r| r.status))
            }
        }
    }

    /// `getWorkflowRun(id)`: `SELECT * WHERE id = $1`.
    pub fn get_workflow_run(&self, cx: &mut Cx<'_, P>, id: &str) -> Option<Row> {
        cx.await_point();
        let row = self.runs.select(id);
        Self::read(cx, "getWorkflowRun", id, row.as_ref());
        row
    }

    /// `getWorkflowRunStatus(id)`: the executor's status poll.
    pub fn get_workflow_run_status(&self, cx: &mut Cx<'_, P>, id: &str) -> Option<&'static str> {
        cx.await_point();
        let row = self.runs.select(id);
        Self::read(cx, "getWorkflowRunStatus", id, row.as_ref());
        row.map(|r| r.status)
    }

    /// Records a multi-row SELECT: which rows it returned.
    fn read_many(cx: &Cx<'_, P>, func: &'static str, query: String, found: Option<&Row>) {
        cx.record(func, Effect::Read { res: query.into(), value: found.map(|r| Contents::shared(r.clone())) });
    }

    /// `findResumableRun(workflowName, workingPath)`: the resumable clause,
    /// `ORDER BY started_at DESC LIMIT 1`.
    pub fn find_resumable_run(&self, cx: &mut Cx<'_, P>, workflow: &str, path: &str) -> Option<Row> {
        cx.await_point();
        let now = self.now();
        let found = self.newest_where(|r| {
            r.workflow_name == workflow && r.working_path.as_deref() == Some(path) && r.is_resumable(now)
        });
        let query = format!("runs where workflow_name={workflow} and working_path={path} and resumable");
        Self::read_many(cx, "findResumableRun", query, found.as_ref());
        found
    }

    /// `findResumableRunByParentConversation(workflowName, conversationId)`:
    /// failed or paused runs of the conversation, newest first.
    pub fn find_resumable_run_by_parent_conversation(
        &self,
        cx: &mut Cx<'_, P>,
        workflow: &str,
        conversation: &str,
    ) -> Option<Row> {
        cx.await_point();
        let found = self.newest_where(|r| {
            r.workflow_name == workflow && r.parent_conversation_id == conversation && RESUMABLE.contains(&r.status)
        });
        let query = format!(
            "runs where workflow_name={workflow} and parent_conversation_id={conversation} and status in (failed, paused)"
        );
        Self::read_many(cx, "findResumableRunByParentConversation", query, found.as_ref());
        found
    }

    /// `getCompletedDagNodeOutputs(runId)`: the node events a resume skips:
    /// how many nodes, and how many leading layers they fill.
    pub fn get_completed_dag_node_outputs(&self, cx: &mut Cx<'_, P>, id: &str) -> (u64, u64) {
        cx.await_point();
        let (nodes, layers) = self.completed_nodes.get(id).copied().unwrap_or((0, 0));
        let value = format!("{nodes} completed nodes, {layers} whole layers");
        cx.record(
            "getCompletedDagNodeOutputs",
            Effect::Read { res: format!("events:{id}").into(), value: Some(value.into()) },
        );
        (nodes, layers)
    }

    /// `resumeWorkflowRun(id)`, per variant: flip the row to running, then
    /// return it. The CAS loser probes the status to tell "not found" from
    /// "not resumable".
    pub fn resume_workflow_run(&self, cx: &mut Cx<'_, P>, id: &str) -> Result<Row> {
        cx.await_point();
        let now = self.stamp();
        let refresh = self.resume_refreshes_started_at;
        let resume = |r: &mut RunRow| {
            r.status = "running";
            r.completed_at = None;
            if refresh {
                r.started_at = Some(now);
            }
            r.last_activity_at = Some(now);
        };
        let func = "resumeWorkflowRun";
        let result = match self.resume_guard {
            ResumeGuard::Unguarded => {
                self.update(cx, func, id, "UPDATE SET status='running' WHERE id=$1", |_| true, resume)
            }
            ResumeGuard::Cas => self.update(
                cx,
                func,
                id,
                "UPDATE SET status='running' WHERE id=$1 AND <resumable: failed/paused or running idle > 1 day>",
                |r| r.is_resumable(now),
                resume,
            ),
            ResumeGuard::CasUnboundDay => self.update(
                cx,
                func,
                id,
                "UPDATE SET status='running' WHERE id=$1 AND <resumable, day placeholder unbound>",
                |r| r.is_resumable_unbound_day(),
                resume,
            ),
        };
        match result {
            Ok(_) => {
                // The pre-#1830 code (and its successor) re-reads the row to return it.
                cx.await_point();
                let row = self.runs.select(id);
                Self::read(cx, func, id, row.as_ref());
                row.ok_or_else(|| Thrown::NotFound(id.to_string()))
            }
            Err(_) if self.resume_guard == ResumeGuard::Unguarded => Err(Thrown::NotFound(id.to_string())),
            Err(_) => {
                // CAS miss: an informational probe of the current status.
                cx.await_point();
                let row = self.runs.select(id);
                Self::read(cx, func, id, row.as_ref());
                match row {
                    None => Err(Thrown::NotFound(id.to_string())),
                    Some(r) => Err(Thrown::NotResumable { id: id.to_string(), status: r.status }),
                }
            }
        }
    }

    /// `cancelWorkflowRun(id)`, per variant.
    pub fn cancel_workflow_run(&self, cx: &mut Cx<'_, P>, id: &str) -> CancelResult {
        cx.await_point();
        let now = self.stamp();
        let cancel = |r: &mut RunRow| {
            r.status = "cancelled";
            r.completed_at = Some(now);
        };
        let not_terminal = |r: &RunRow| r.status != "completed" && r.status != "cancelled";
        let func = "cancelWorkflowRun";
        let (changed, cancelled) = match self.cancel_guard {
            CancelGuard::Unguarded => {
                let r = self.update(cx, func, id, "UPDATE SET status='cancelled' WHERE id=$1", |_| true, cancel);
                (r.is_ok(), None)
            }
            CancelGuard::GuardVoid => {
                let sql = "UPDATE SET status='cancelled' WHERE id=$1 AND status NOT IN ('completed','cancelled')";
                (self.update(cx, func, id, sql, not_terminal, cancel).is_ok(), None)
            }
            CancelGuard::TerminalGuard => {
                let sql = "UPDATE SET status='cancelled' WHERE id=$1 AND status NOT IN ('completed','cancelled')";
                let changed = self.update(cx, func, id, sql, not_terminal, cancel).is_ok();
                (changed, Some(changed))
            }
        };
        CancelResult { changed, cancelled }
    }

    /// A status change guarded `AND status = 'running'` (since `af4e8b48`);
    /// it throws when no row matched.
    fn finish_running(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        id: &str,
        status: &'static str,
        error: Option<&str>,
    ) -> Result<Row> {
        cx.await_point();
        let now = self.stamp();
        // pauseWorkflowRun came guarded (d2bfd7a9b, #888, a day after
        // af4e8b48): no version of it overwrites a status.
        let guarded = self.complete_guarded || status == "paused";
        let sql = if guarded {
            format!("UPDATE SET status='{status}' WHERE id=$1 AND status='running'")
        } else {
            format!("UPDATE SET status='{status}' WHERE id=$1")
        };
        let terminal = status != "paused";
        self.update(
            cx,
            func,
            id,
            &sql,
            |r| !guarded || r.status == "running",
            |r| {
                r.status = status;
                if terminal {
                    r.completed_at = Some(now);
                }
                if let (Some(e), Value::Object(m)) = (error, &mut r.metadata) {
                    m.insert("error".into(), Value::String(e.to_string()));
                }
            },
        )
        .map_err(|found| match found {
            None => Thrown::NotFound(id.to_string()),
            Some(status) => Thrown::Other(format!("{func}: run {id} is {status}, not running (0 rows)")),
        })
    }

    /// `completeWorkflowRun(id)`.
    pub fn complete_workflow_run(&self, cx: &mut Cx<'_, P>, id: &str) -> Result<Row> {
        self.finish_running(cx, "completeWorkflowRun", id, "completed", None)
    }

    /// `failWorkflowRun(id, error)`.
    pub fn fail_workflow_run(&self, cx: &mut Cx<'_, P>, id: &str, error: &str) -> Result<Row> {
        self.finish_running(cx, "failWorkflowRun", id, "failed", Some(error))
    }

    /// `pauseWorkflowRun(id)` (an approval gate).
    pub fn pause_workflow_run(&self, cx: &mut Cx<'_, P>, id: &str) -> Result<Row> {
        self.finish_running(cx, "pauseWorkflowRun", id, "paused", None)
    }

    /// `updateWorkflowActivity(id)`: the heartbeat that keeps a live run out
    /// of the orphan clause.
    pub fn update_workflow_activity(&self, cx: &mut Cx<'_, P>, id: &str) -> bool {
        cx.await_point();
        self.set_activity(cx, id)
    }

    /// The heartbeat's write, after its await.
    fn set_activity(&self, cx: &Cx<'_, P>, id: &str) -> bool {
        let now = self.stamp();
        let sql = "UPDATE SET last_activity_at=now() WHERE id=$1";
        self.update(cx, "updateWorkflowActivity", id, sql, |_| true, |r| r.last_activity_at = Some(now)).is_ok()
    }

    /// A node's first streamed message in `executeNodeInternal`
    /// (`dag-executor.ts`, both commits): the throttled cancel check
    /// (`getWorkflowRunStatus`; the stream aborts unless the run is running
    /// or paused), then, if it goes on, the throttled heartbeat
    /// (`updateWorkflowActivity`). Both fire on a node's first message: their
    /// throttle maps start at 0. Returns whether the stream went on.
    ///
    /// Two awaits in the origin, one turn here. A write landing between them
    /// either leaves the status running or paused (a resume's CAS, which
    /// reads `last_activity_at`): then "write, check, heartbeat" gives the
    /// same verdict and row; or it moves the status elsewhere (a cancel, a
    /// final write, the sweep), reading no activity: then "check,
    /// heartbeat, write" gives the same row. Only the stamps' order differs.
    /// One await fewer per layer keeps every runs proof the size it was.
    pub fn stream_node_messages(&self, cx: &mut Cx<'_, P>, id: &str) -> bool {
        cx.await_point();
        let row = self.runs.select(id);
        Self::read(cx, "getWorkflowRunStatus", id, row.as_ref());
        if !matches!(row.map(|r| r.status), Some("running" | "paused")) {
            return false; // `nodeAbortController.abort()`: no heartbeat
        }
        self.set_activity(cx, id)
    }

    /// `updateWorkflowRun(id, { status })`: a plain `WHERE id = $1`; a
    /// completed, failed or cancelled status also stamps `completed_at`
    /// (its callers here pass no approval metadata, the one exception).
    pub fn update_workflow_run_status(&self, cx: &mut Cx<'_, P>, id: &str, status: &'static str) -> bool {
        cx.await_point();
        let ends = matches!(status, "completed" | "failed" | "cancelled");
        let now = if ends { Some(self.stamp()) } else { None };
        let sql = match ends {
            true => format!("UPDATE SET status='{status}', completed_at=now() WHERE id=$1"),
            false => format!("UPDATE SET status='{status}' WHERE id=$1"),
        };
        let set = |r: &mut RunRow| {
            r.status = status;
            if now.is_some() {
                r.completed_at = now;
            }
        };
        self.update(cx, "updateWorkflowRun", id, &sql, |_| true, set).is_ok()
    }

    /// `createWorkflowRun(...)`: INSERT, status `pending`.
    pub fn create_workflow_run(
        &self,
        cx: &mut Cx<'_, P>,
        id: &str,
        workflow: &str,
        conversation: &str,
        path: &str,
    ) -> Row {
        cx.await_point();
        let now = self.stamp();
        let row = Row::new(RunRow {
            id: id.to_string(),
            workflow_name: workflow.to_string(),
            parent_conversation_id: conversation.to_string(),
            status: "pending",
            working_path: Some(path.to_string()),
            started_at: Some(now),
            completed_at: None,
            last_activity_at: Some(now),
            metadata: json!({}),
        });
        self.runs.insert(id, row.clone());
        Self::wrote(cx, "createWorkflowRun", &row, "INSERT status='pending'", "inserted".into());
        row
    }

    /// `getActiveWorkflowRunByPath(cwd, { id, startedAt })`: another run on
    /// the path that is running or paused (or pending for under 5 minutes)
    /// and older than `me` by `(started_at, id)`.
    pub fn get_active_workflow_run_by_path(&self, cx: &mut Cx<'_, P>, path: &str, me: &RunRow) -> Option<Row> {
        cx.await_point();
        let now = self.now();
        let found = self.oldest_where(|r| {
            let active = r.status == "running"
                || r.status == "paused"
                || (r.status == "pending" && r.started_at.is_some_and(|t| t + PENDING_ACTIVE_FOR > now));
            r.working_path.as_deref() == Some(path) && r.id != me.id && active && r.age_key() < me.age_key()
        });
        let query = format!("runs where working_path={path} and active and id!={} and older", me.id);
        Self::read_many(cx, "getActiveWorkflowRunByPath", query, found.as_ref());
        found
    }

    /// `getActiveWorkflowRunByPath(cwd)` as 71f8591e (#871) had it, asked
    /// before the caller's own row exists: any `running` row on the path
    /// but `own` (a pre-created row's id).
    pub fn get_running_workflow_run_by_path(&self, cx: &mut Cx<'_, P>, path: &str, own: Option<&str>) -> Option<Row> {
        cx.await_point();
        let found = self
            .oldest_where(|r| r.working_path.as_deref() == Some(path) && r.status == "running" && Some(&*r.id) != own);
        let query = format!("runs where working_path={path} and running");
        Self::read_many(cx, "getActiveWorkflowRunByPath", query, found.as_ref());
        found
    }

    /// The newest row (by started_at, then id) that `filter` accepts.
    fn newest_where(&self, filter: impl Fn(&RunRow) -> bool) -> Option<Row> {
        self.runs.select_where(filter).into_iter().map(|(_, r)| r).max_by(|a, b| a.age_key().cmp(&b.age_key()))
    }

    /// The oldest row (by started_at, then id) that `filter` accepts.
    fn oldest_where(&self, filter: impl Fn(&RunRow) -> bool) -> Option<Row> {
        self.runs.select_where(filter).into_iter().map(|(_, r)| r).min_by(|a, b| a.age_key().cmp(&b.age_key()))
    }

    /// `failOrphanedRuns()` (server startup): every `running` row → failed.
    /// One statement in the origin; here one guarded update per row with no
    /// await between them, which is atomic under event-loop semantics.
    pub fn fail_orphaned_runs(&self, cx: &mut Cx<'_, P>) -> usize {
        cx.await_point();
        let now = self.stamp();
        let running: Vec<String> =
            self.runs.select_where(|r| r.status == "running").into_iter().map(|(id, _)| id).collect();
        let mut count = 0;
        for id in running {
            let sql = "UPDATE SET status='failed' WHERE status='running'";
            let failed = self.update(
                cx,
                "failOrphanedRuns",
                &id,
                sql,
                |r| r.status == "running",
                |r| {
                    r.status = "failed";
                    r.completed_at = Some(now);
                },
            );
            count += usize::from(failed.is_ok());
        }
        if count == 0 {
            cx.record(
                "failOrphanedRuns",
                Effect::Note {
                    kind: "zero-rows",
                    data: json!({ "sql": "UPDATE SET status='failed' WHERE status='running'", "rows": 0 }),
                },
            );
        }
        count
    }
}

/// What [`describe_change`] compares of a row before an update.
struct Stamped {
    status: &'static str,
    completed_at: Option<u64>,
    last_activity_at: Option<u64>,
}

impl Stamped {
    fn of(row: &RunRow) -> Self {
        Stamped { status: row.status, completed_at: row.completed_at, last_activity_at: row.last_activity_at }
    }
}

/// `status failed→running, last_activity_at d1 00:00:00→d2 01:00:01`.
fn describe_change(before: &Stamped, after: &RunRow) -> String {
    let mut out = String::with_capacity(96);
    out.push_str("status ");
    out.push_str(before.status);
    if before.status != after.status {
        out.push('→');
        out.push_str(after.status);
    } else {
        out.push_str(" (unchanged)");
    }
    let mut change = |column: &str, from: Option<u64>, to: Option<u64>| {
        if from != to {
            out.push_str(", ");
            out.push_str(column);
            out.push(' ');
            for (k, t) in [from, to].into_iter().enumerate() {
                if k == 1 {
                    out.push('→');
                }
                match t {
                    Some(t) => push_stamp(&mut out, t),
                    None => out.push_str("NULL"),
                }
            }
        }
    };
    change("completed_at", before.completed_at, after.completed_at);
    change("last_activity_at", before.last_activity_at, after.last_activity_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &'static str, completed_at: Option<u64>, last_activity_at: Option<u64>) -> RunRow {
        RunRow {
            id: "r1".into(),
            workflow_name: "w".into(),
            parent_conversation_id: "c".into(),
            status,
            working_path: None,
            started_at: Some(0),
            completed_at,
            last_activity_at,
            metadata: Value::Null,
        }
    }

    #[test]
    fn stamps_and_changes_read_as_traces_show_them() {
        assert_eq!(stamp(0), "d0 00:00:00");
        assert_eq!(stamp(3 * DAY + HOUR + 5), "d3 01:00:05");
        assert_eq!(stamp(12 * DAY + 23 * HOUR + 59 * MINUTE + 59), "d12 23:59:59");
        let (before, after) = (row("failed", None, Some(0)), row("running", None, Some(2 * DAY + HOUR + 1)));
        assert_eq!(
            describe_change(&Stamped::of(&before), &after),
            "status failed→running, last_activity_at d0 00:00:00→d2 01:00:01"
        );
        let (before, after) = (row("running", None, Some(7)), row("running", Some(9), None));
        assert_eq!(
            describe_change(&Stamped::of(&before), &after),
            "status running (unchanged), completed_at NULL→d0 00:00:09, last_activity_at d0 00:00:07→NULL"
        );
    }
}
