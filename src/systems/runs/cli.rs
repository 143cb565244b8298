//! `packages/cli/src/commands/workflow.ts` (`workflowResumeCommand`,
//! `workflowRunCommand`) and the `resumeWorkflow` validation of
//! `packages/core/src/operations/workflow-operations.ts`. The CLI takes no
//! lock at all.

use super::executor::{Ends, Start, execute_workflow, hydrate_resumable_run};
use super::workflows::{RESUMABLE, Thrown};
use super::{Archon, Outcome, Reply};
use crate::platform::Platform;
use crate::runtime::Cx;

/// `archon workflow resume <id>`: validate, then `workflow run --resume`
/// in the run's working path.
pub fn workflow_resume_command<P: Platform>(archon: &Archon<P>, cx: &mut Cx<'_, P>, id: &str) -> Reply {
    // resumeWorkflow(runId): getWorkflowRun + status check.
    let Some(run) = archon.db.get_workflow_run(cx, id) else {
        return Reply::new(Outcome::NotFound, format!("Workflow run not found: {id}"));
    };
    if !RESUMABLE.contains(&run.status) {
        return Reply::new(
            Outcome::NotResumable,
            format!("Cannot resume run with status '{}'. Only failed or paused runs can be resumed.", run.status),
        );
    }
    let Some(path) = run.working_path.clone() else {
        return Reply::new(Outcome::Error, format!("Workflow run '{id}' has no working path recorded."));
    };
    let fresh = FreshRun { id: &format!("{id}-cli"), no_worktree: false, ends: Ends::Completed };
    workflow_run_command(archon, cx, &path, &run.workflow_name, true, fresh)
}

/// The run `archon workflow run` starts when it does not resume one.
pub struct FreshRun<'a> {
    pub id: &'a str,
    /// `--no-worktree` (or `--branch` naming the worktree at `cwd`): it works
    /// in `cwd`. Otherwise it gets a worktree of its own (isolation is the
    /// CLI's default for a run without `--resume`).
    pub no_worktree: bool,
    pub ends: Ends,
}

/// `archon workflow run <name> [--resume]` in `cwd`.
pub fn workflow_run_command<P: Platform>(
    archon: &Archon<P>,
    cx: &mut Cx<'_, P>,
    cwd: &str,
    workflow: &str,
    resume: bool,
    fresh: FreshRun<'_>,
) -> Reply {
    let db = &archon.db;
    if !resume {
        // provider.create(): the new worktree touches no modeled row.
        let path = if fresh.no_worktree { cwd.to_string() } else { format!("/wt/cli-{}", fresh.id) };
        let start = Start::Fresh {
            id: fresh.id.to_string(),
            workflow: workflow.to_string(),
            conversation: format!("cli-{}", fresh.id),
            path,
        };
        return Reply::executed(execute_workflow(archon, cx, start, fresh.ends), Outcome::FreshRun);
    }
    // Conversation, codebase and isolation lookups touch no modeled state.
    let Some(resumable) = db.find_resumable_run(cx, workflow, cwd) else {
        return Reply::new(
            Outcome::NoResumableRun,
            format!("No resumable run found for workflow '{workflow}' at path '{cwd}'."),
        );
    };
    match hydrate_resumable_run(db, cx, &resumable) {
        Ok(Some(prepared)) => {
            let ends = archon.ends_of(&prepared.run.id);
            Reply::executed(
                execute_workflow(archon, cx, Start::PreCreated(prepared.run, prepared.skipped_layers), ends),
                Outcome::Resumed,
            )
        }
        Ok(None) => Reply::new(
            Outcome::NothingToResume,
            format!(
                "Cannot resume: the prior run for '{workflow}' has no completed nodes and no interactive-loop state."
            ),
        ),
        Err(e @ Thrown::NotResumable { .. }) => {
            Reply::new(Outcome::NotResumable, format!("Cannot resume workflow '{workflow}': {e}"))
        }
        Err(e @ Thrown::NotFound(_)) => Reply::new(Outcome::NotFound, e.to_string()),
        Err(e) => Reply::new(Outcome::Error, e.to_string()),
    }
}
