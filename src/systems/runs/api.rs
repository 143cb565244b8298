//! `packages/server/src/routes/api.ts`: the web UI's Resume and Cancel
//! buttons on a workflow run.

use super::executor::Ends;
use super::orchestrator_agent::{Fresh, PlatformType, handle_message};
use super::workflows::RESUMABLE;
use super::{Archon, Outcome, Reply};
use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::Cx;
use serde_json::json;
use std::sync::Arc;

/// `POST /api/workflows/runs/:id/resume`: validate the status (outside any
/// lock), then `dispatchToOrchestrator(parentConversation, '/workflow run
/// <name>')`, which runs `handleMessage` under the conversation lock a chat
/// message of the same conversation takes.
pub fn resume_route<P: Platform>(
    archon: &Arc<Archon<P>>,
    cx: &mut Cx<'_, P>,
    id: &str,
    fresh_id: &str,
    fresh_ends: Ends,
) -> Reply {
    let Some(run) = archon.db.get_workflow_run(cx, id) else {
        return Reply::new(Outcome::NotFound, format!("404: workflow run {id} not found"));
    };
    if !RESUMABLE.contains(&run.status) {
        return Reply::new(Outcome::NotResumable, format!("400: cannot resume a run with status {}", run.status));
    }
    // The run's parent conversation must be a web one (the route reads it
    // with getConversationById; merged into the read above). A run the CLI
    // started has a CLI conversation (`cli-…` here).
    if run.parent_conversation_id.starts_with("cli-") {
        return Reply::new(
            Outcome::Rejected,
            format!("400: the run's parent conversation is not a web conversation; use `archon workflow resume {id}`"),
        );
    }
    let cwd = run.working_path.clone().unwrap_or_default();
    let fresh = Fresh { id: fresh_id, cwd: &cwd, ends: fresh_ends };
    handle_message(archon, cx, &run.workflow_name, &run.parent_conversation_id, fresh, PlatformType::Web)
}

/// `POST /api/workflows/runs/:id/cancel`: a status check (TOCTOU), then
/// `cancelWorkflowRun`. Before #1830 the route always answered "Cancelled";
/// since, it says "nothing to cancel" when `{ cancelled: false }`.
pub fn cancel_route<P: Platform>(archon: &Archon<P>, cx: &mut Cx<'_, P>, id: &str) -> Reply {
    let Some(run) = archon.db.get_workflow_run(cx, id) else {
        return Reply::new(Outcome::NotFound, format!("404: workflow run {id} not found"));
    };
    if !["running", "pending", "paused"].contains(&run.status) {
        return Reply::new(Outcome::Rejected, format!("400: cannot cancel a run with status {}", run.status));
    }
    let result = archon.db.cancel_workflow_run(cx, id);
    let reported = result.cancelled.unwrap_or(true);
    cx.record(
        "cancelWorkflowRun",
        Effect::Note {
            kind: "cancel-result",
            data: json!({ "run": id, "reported": reported, "changed": result.changed }),
        },
    );
    if reported {
        Reply::new(Outcome::Cancelled, format!("Cancelled workflow run {id}"))
    } else {
        Reply::new(Outcome::NothingToCancel, format!("run {id} already finished — nothing to cancel"))
    }
}
