//! `packages/core/src/orchestrator/orchestrator-agent.ts`:
//! `dispatchOrchestratorWorkflow`, where a chat message (or the web Resume
//! button, through `dispatchToOrchestrator`) resumes a conversation's run or
//! starts a fresh one, and the per-conversation lock both run under.

use super::executor::{Ends, Start, execute_workflow, hydrate_resumable_run};
use super::workflows::Thrown;
use super::{Archon, Outcome, Reply};
use crate::platform::Platform;
use crate::runtime::Cx;

/// Where a fresh run goes when nothing is resumed.
pub struct Fresh<'a> {
    pub id: &'a str,
    /// The conversation's cwd (its worktree).
    pub cwd: &'a str,
    pub ends: Ends,
}

/// `dispatchOrchestratorWorkflow(...)` for `workflow` in `conversation`.
pub fn dispatch_orchestrator_workflow<P: Platform>(
    archon: &Archon<P>,
    cx: &mut Cx<'_, P>,
    workflow: &str,
    conversation: &str,
    fresh: Fresh<'_>,
) -> Reply {
    let db = &archon.db;
    // `await db.updateConversation(...)` and the isolation lookup touch no
    // modeled state: they merge into this query's await.
    let candidate = db.find_resumable_run_by_parent_conversation(cx, workflow, conversation);
    let mut cwd = fresh.cwd.to_string();
    if let Some(candidate) = candidate
        && let Some(path) = candidate.working_path.clone()
    {
        match hydrate_resumable_run(db, cx, &candidate) {
            Ok(Some(prepared)) => {
                let ends = archon.ends_of(&prepared.run.id);
                let executed = execute_workflow(archon, cx, Start::PreCreated(prepared.run), ends);
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

/// `lockManager.acquireLock(conversationId, () => handleMessage(...))`: a
/// chat message, or the web Resume route's `dispatchToOrchestrator`,
/// handled under `ConversationLockManager`'s lock for its conversation
/// (keyed by conversation, not by run: it serializes only the server's
/// dispatches for the same conversation; the CLI and other processes take
/// no part in it).
pub fn handle_message<P: Platform>(
    archon: &Archon<P>,
    cx: &mut Cx<'_, P>,
    workflow: &str,
    conversation: &str,
    fresh: Fresh<'_>,
) -> Reply {
    match archon.conversation_locks.get(conversation) {
        Some(lock) => {
            lock.with_lock(cx, |cx| dispatch_orchestrator_workflow(archon, cx, workflow, conversation, fresh))
        }
        None => dispatch_orchestrator_workflow(archon, cx, workflow, conversation, fresh),
    }
}
