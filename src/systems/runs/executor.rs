//! `packages/workflows/src/executor.ts` (`executeWorkflow`,
//! `hydrateResumableRun`) and the status checks of `dag-executor.ts`.
//!
//! The executor runs in its caller's task, as the origin awaits it. Its
//! awaits: the path lock, the nodes' streaming once per DAG layer (its
//! first message's status check and heartbeat; an approval node's pause in
//! the last layer), a status poll after every layer, which leaves the
//! layers on a run no longer running but still goes on to
//! `skipIfStatusChanged` and the guarded final write, then the final
//! `getWorkflowRun` read and the `finally` backstop. Notes `executor-start`
//! / `executor-end` bracket the time it does the run's work in its working
//! path.

use super::Archon;
use super::workflows::{Db, Result, Row, RunRow};
use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::Cx;
use serde_json::json;

/// What the origin hands `executeWorkflow` for a resumed run.
pub struct Prepared {
    pub run: Row,
    pub prior_completed_nodes: u64,
    /// Leading layers all of whose nodes completed before: skipped.
    pub skipped_layers: usize,
}

/// `hydrateResumableRun(deps, candidate)`: load the completed nodes, and if
/// there is anything to resume, claim the run with `resumeWorkflowRun`.
/// `Ok(None)`: nothing to resume, no write made.
pub fn hydrate_resumable_run<P: Platform>(
    db: &Db<P>,
    cx: &mut Cx<'_, P>,
    candidate: &RunRow,
) -> Result<Option<Prepared>> {
    let (prior, whole_layers) = db.get_completed_dag_node_outputs(cx, &candidate.id);
    // An interactive loop waiting on approval resumes with no completed
    // node: `metadata.approval.type === 'interactive_loop'` (other approval
    // gates, or a `loop_user_input` alone, do not count).
    let interactive = candidate.metadata.pointer("/approval/type").and_then(|t| t.as_str()) == Some("interactive_loop");
    if prior == 0 && !interactive {
        return Ok(None);
    }
    let run = db.resume_workflow_run(cx, &candidate.id)?;
    Ok(Some(Prepared { run, prior_completed_nodes: prior, skipped_layers: whole_layers as usize }))
}

/// How an executor keeps other runs out of its working path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathLock {
    /// Before 1bf8af87 (#196): no check.
    None,
    /// 71f8591e (#871): any running row on the path, asked before the
    /// executor's own row is inserted; a start that finds one returns.
    CheckBeforeInsert,
    /// 33d31c44f (#1212): asked after the row exists, older (started_at,
    /// id) wins; a loser cancels its own row.
    OlderWins,
}

/// How an executor starts.
pub enum Start {
    /// `preCreatedRun` with `priorCompletedNodes`: a resumed row (or the
    /// row as a live executor has it), already running, and how many
    /// leading layers its completed nodes fill (their nodes are skipped).
    PreCreated(Row, usize),
    /// `preCreatedRun` alone: the pending row `dispatchBackgroundWorkflow`
    /// inserted; not a resume, so the executor sets it running.
    Dispatched(Row),
    /// No `preCreatedRun`: `createWorkflowRun` inserts a new row.
    Fresh { id: String, workflow: String, conversation: String, path: String },
}

/// What the DAG's nodes end with, which decides the executor's final write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ends {
    Completed,
    Failed,
    Paused,
}

impl Ends {
    pub const NAMES: &'static [&'static str] = &["completed", "failed", "paused"];

    pub fn parse(s: &str) -> Ends {
        match s {
            "failed" => Ends::Failed,
            "paused" => Ends::Paused,
            _ => Ends::Completed,
        }
    }
}

/// The end of one `executeWorkflow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Executed {
    /// The executor ran; `how` it ended (completed, stopped at a poll...).
    Ran { run: String, how: String },
    /// The path lock found an older active run and cancelled this one.
    PathLocked { run: String, holder: String },
}

/// What `executeWorkflow`'s `finally` does once the DAG is left (#1563).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backstop {
    /// Before `5593498c` (#1563): no `finally`; a run the executor left
    /// `running` stays so.
    None,
    /// `5593498c`: read the status and `failWorkflowRun` if it says
    /// `running`. Status only: no owner check, so it fails whichever
    /// executor's run it finds running.
    StatusOnly,
}

/// `executeWorkflow(...)` for one workflow of the deployment's DAG layers.
pub fn execute_workflow<P: Platform>(archon: &Archon<P>, cx: &mut Cx<'_, P>, start: Start, ends: Ends) -> Executed {
    let db = &archon.db;
    if archon.path_lock == PathLock::CheckBeforeInsert {
        // 71f8591e (#871): the check comes first, the insert after it, so
        // two starts can both find the path free.
        let (id, path, own) = match &start {
            Start::PreCreated(row, _) | Start::Dispatched(row) => {
                (row.id.clone(), row.working_path.clone().unwrap_or_default(), Some(&*row.id))
            }
            Start::Fresh { id, path, .. } => (id.clone(), path.clone(), None),
        };
        if let Some(holder) = db.get_running_workflow_run_by_path(cx, &path, own) {
            return Executed::PathLocked { run: id, holder: holder.id.clone() };
        }
    }
    let (row, fresh, skipped) = match start {
        Start::PreCreated(row, skipped) => (row, false, skipped),
        Start::Dispatched(row) => (row, true, 0),
        Start::Fresh { id, workflow, conversation, path } => {
            (db.create_workflow_run(cx, &id, &workflow, &conversation, &path), true, 0)
        }
    };
    let id = row.id.clone();
    let path = row.working_path.clone().unwrap_or_default();
    // Path lock (#1212, mutates_checkout): yield to an older active run on
    // the same worktree. It excludes this row's own id, so two holders of
    // the same row both pass it. Its return is before the `try`: no backstop.
    if archon.path_lock == PathLock::OlderWins
        && !path.is_empty()
        && let Some(holder) = db.get_active_workflow_run_by_path(cx, &path, &row)
    {
        db.update_workflow_run_status(cx, &id, "cancelled");
        return Executed::PathLocked { run: id, holder: holder.id.clone() };
    }
    if fresh {
        db.update_workflow_run_status(cx, &id, "running");
    }
    let (workflow, conversation) = (&row.workflow_name, &row.parent_conversation_id);
    let note = |cx: &Cx<'_, P>, kind: &'static str, how: Option<&str>| {
        let data = json!({ "run": id, "path": path, "workflow": workflow, "conversation": conversation, "how": how });
        cx.record("executeWorkflow", Effect::Note { kind, data });
    };
    note(cx, "executor-start", None);
    let how = execute_dag_workflow(db, cx, &id, archon.layers, skipped, ends);
    // The executor's work ends here; what follows only reads, or fails a
    // row it finds running, which may by then be another executor's.
    note(cx, "executor-end", Some(&how));
    // L743: `finalStatus = await getWorkflowRun(id)`, on every exit.
    db.get_workflow_run(cx, &id);
    if archon.backstop == Backstop::StatusOnly && db.get_workflow_run_status(cx, &id) == Some("running") {
        // `.catch(log)`: a row no longer running makes it throw, quietly.
        if let Err(e) = db.fail_workflow_run(cx, &id, "Workflow exited without finalizing — see logs") {
            cx.record("executeWorkflow", Effect::Threw { error: e.to_string() });
        }
    }
    Executed::Ran { run: id, how }
}

/// `executeDagWorkflow`: the layers (the first `skipped` of a resumed run
/// only log their nodes as skipped), the poll after each, the final
/// `skipIfStatusChanged` read and the guarded final write. Returns how it
/// ended.
fn execute_dag_workflow<P: Platform>(
    db: &Db<P>,
    cx: &mut Cx<'_, P>,
    id: &str,
    layers: usize,
    skipped: usize,
    ends: Ends,
) -> String {
    // A failed node makes the final write `failWorkflowRun` (`anyFailed`,
    // or `!anyCompleted`).
    let mut node_failed = ends == Ends::Failed;
    let mut stopped = String::new();
    for layer in 0..layers {
        // The layer's nodes stream: a status check and a heartbeat on the
        // first message. On a run no longer running or paused the stream
        // aborts without the heartbeat and its node fails ('Cancelled by
        // user'); the other nodes of the layer go on. A node streaming
        // longer repeats the check every 10 s and the heartbeat every 60 s.
        if layer < skipped {
            // A node a prior attempt completed: `await logNodeSkip(...)`
            // (a log file), and its output is reused. No stream: no status
            // check, no heartbeat.
            cx.await_point();
            cx.record(
                "executeDagWorkflow",
                Effect::Note { kind: "node-skipped", data: json!({ "run": id, "layer": layer + 1 }) },
            );
        } else if !db.stream_node_messages(cx, id) {
            node_failed = true;
        }
        if ends == Ends::Paused && layer + 1 == layers {
            // The approval node (here in the last layer) pauses the run in
            // the middle of its layer and completes: the poll below sees
            // `paused` (dag-executor.ts, approval and interactive-loop nodes).
            if let Err(e) = db.pause_workflow_run(cx, id) {
                cx.record("executeWorkflow", Effect::Threw { error: e.to_string() });
                node_failed = true;
            }
        }
        // After every layer, the last included: unless still running, leave
        // the layers. A `break`, not a return: the skip read and the final
        // write below still come, and a run resumed meanwhile is running
        // again by then.
        let status = db.get_workflow_run_status(cx, id);
        if status != Some("running") {
            stopped = format!("stopped after layer {} (status {}); ", layer + 1, status.unwrap_or("gone"));
            break;
        }
    }
    // skipIfStatusChanged: a cancel or pause that landed meanwhile wins.
    let status = db.get_workflow_run_status(cx, id);
    if status != Some("running") {
        return format!("{stopped}skipped its final write (status {})", status.unwrap_or("gone"));
    }
    let result = match node_failed {
        true => db.fail_workflow_run(cx, id, "a node failed"),
        false => db.complete_workflow_run(cx, id),
    };
    match result {
        Ok(r) => format!("{stopped}{}", r.status),
        Err(e) => {
            cx.record("executeWorkflow", Effect::Threw { error: e.to_string() });
            format!("threw: {e}")
        }
    }
}
