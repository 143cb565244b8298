//! `packages/core/src/orchestrator/orchestrator-agent.ts`:
//! `dispatchOrchestratorWorkflow`, where a chat message (or the web Resume
//! button, through `dispatchToOrchestrator`) resumes a conversation's run or
//! starts a fresh one, and the per-conversation lock both run under; and
//! `orchestrator.ts`'s `dispatchBackgroundWorkflow`, where a web dispatch of
//! a non-interactive workflow starts its fresh run.

use super::executor::{Ends, Start, execute_workflow, hydrate_resumable_run};
use super::workflows::Thrown;
use super::{Archon, Outcome, Reply};
use crate::platform::Platform;
use crate::runtime::{Cx, fingerprint};
use std::sync::Arc;

/// Where a fresh run goes when nothing is resumed.
pub struct Fresh<'a> {
    pub id: &'a str,
    /// The conversation's cwd (its worktree).
    pub cwd: &'a str,
    pub ends: Ends,
}

/// Where the message came from (`platform.getPlatformType()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformType {
    /// The web UI: its chat, and the Resume button.
    Web,
    /// Slack, Telegram, Discord, GitHub.
    Chat,
}

/// `dispatchOrchestratorWorkflow(...)` for `workflow` in `conversation`.
pub fn dispatch_orchestrator_workflow<P: Platform>(
    archon: &Arc<Archon<P>>,
    cx: &mut Cx<'_, P>,
    workflow: &str,
    conversation: &str,
    fresh: Fresh<'_>,
    from: PlatformType,
) -> Reply {
    let db = &archon.db;
    // `await db.updateConversation(...)` and the isolation lookup touch no
    // modeled state: they merge into this query's await.
    let candidate = db.find_resumable_run_by_parent_conversation(cx, workflow, conversation);
    let mut cwd = fresh.cwd.to_string();
    let resumable = candidate.filter(|c| c.working_path.is_some());
    if resumable.is_none() && from == PlatformType::Web && !archon.interactive {
        return dispatch_background_workflow(archon, cx, workflow, conversation, fresh);
    }
    if let Some(candidate) = resumable
        && let Some(path) = candidate.working_path.clone()
    {
        match hydrate_resumable_run(db, cx, &candidate) {
            Ok(Some(prepared)) => {
                let ends = archon.ends_of(&prepared.run.id);
                let executed =
                    execute_workflow(archon, cx, Start::PreCreated(prepared.run, prepared.skipped_layers), ends);
                return Reply::executed(executed, Outcome::Resumed);
            }
            // Since #1830: another resumer owns the worktree; do not fall
            // through to a fresh run.
            Err(Thrown::NotResumable { id, status }) => {
                return Reply::new(
                    Outcome::NotResumable,
                    format!("⚠️ run {id} is already being resumed (status: {status}). No action taken"),
                );
            }
            Err(Thrown::NotFound(id)) => return Reply::new(Outcome::NotFound, format!("run {id} not found")),
            Err(e) => return Reply::new(Outcome::Error, e.to_string()),
            // Nothing completed to skip: a fresh run in the same worktree.
            Ok(None) => cwd = path,
        }
    }
    let start = Start::Fresh {
        id: fresh.id.to_string(),
        workflow: workflow.to_string(),
        conversation: conversation.to_string(),
        path: cwd,
    };
    Reply::executed(execute_workflow(archon, cx, start, fresh.ends), Outcome::FreshRun)
}

/// `dispatchBackgroundWorkflow(ctx, workflow)`: a hidden worker conversation
/// whose isolation is a worktree of its own (since 9c931419a, #716; before,
/// the conversation's cwd: `worker_worktree`), the run's row inserted now
/// (`pending`, so the UI can show it), then `executeWorkflow` on that row,
/// fire-and-forget. It returns once the row exists, and the conversation
/// lock goes with it while the run goes on.
fn dispatch_background_workflow<P: Platform>(
    archon: &Arc<Archon<P>>,
    cx: &mut Cx<'_, P>,
    workflow: &str,
    conversation: &str,
    fresh: Fresh<'_>,
) -> Reply {
    // The worker conversation, its isolation and the dispatch messages touch
    // no modeled row: they merge into the insert's await.
    let cwd = if archon.worker_worktree_own { format!("/wt/worker-{}", fresh.id) } else { fresh.cwd.to_string() };
    let row = archon.db.create_workflow_run(cx, fresh.id, workflow, conversation, &cwd);
    let id = row.id.clone();
    let (mc, ends) = (archon.clone(), fresh.ends);
    let captured = fingerprint(&(&*id, format!("{ends:?}")));
    cx.spawn(
        "executeWorkflow",
        &captured,
        Box::new(move |cx| {
            execute_workflow(&mc, cx, Start::Dispatched(row), ends);
        }),
    );
    Reply::new(Outcome::Dispatched, format!("dispatched run {id} to a background worker in {cwd}"))
}

/// `lockManager.acquireLock(conversationId, () => handleMessage(...))`: a
/// chat message, or the web Resume route's `dispatchToOrchestrator`,
/// handled under `ConversationLockManager`'s lock for its conversation
/// (keyed by conversation, not by run: it serializes only the server's
/// dispatches for the same conversation; the CLI and other processes take
/// no part in it).
pub fn handle_message<P: Platform>(
    archon: &Arc<Archon<P>>,
    cx: &mut Cx<'_, P>,
    workflow: &str,
    conversation: &str,
    fresh: Fresh<'_>,
    from: PlatformType,
) -> Reply {
    let dispatch = |cx: &mut Cx<'_, P>| dispatch_orchestrator_workflow(archon, cx, workflow, conversation, fresh, from);
    match archon.conversation_locks.get(conversation) {
        Some(lock) => lock.with_lock(cx, dispatch),
        None => dispatch(cx),
    }
}
