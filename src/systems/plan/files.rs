//! The persisted shapes of opencode-mission-control, serialized like the
//! origin's files: `plan.json` (`PlanSpec`), `jobs.json` (`JobState`) and
//! `reports/<jobId>.json` (`AgentReport`).

use crate::storage::{Contents, FileShape, List, Text};
use serde::{Deserialize, Serialize};

pub const PLAN_FILE: &str = "plan.json";
pub const JOBS_FILE: &str = "jobs.json";

/// The statuses of a `jobs.json` entry whose process ended.
pub const ENDED: &[&str] = &["completed", "failed", "stopped"];

pub fn report_file(job_id: &str) -> String {
    format!("reports/{job_id}.json")
}

pub const PLAN_STATUSES: &[&str] =
    &["pending", "running", "paused", "merging", "creating_pr", "completed", "failed", "canceled"];
pub const JOB_STATUSES: &[&str] = &[
    "queued",
    "waiting_deps",
    "running",
    "completed",
    "failed",
    "ready_to_merge",
    "merging",
    "merged",
    "conflict",
    "needs_rebase",
    "stopped",
    "canceled",
];
/// Statuses of a `jobs.json` entry.
pub const STATE_JOB_STATUSES: &[&str] = &["running", "completed", "failed", "stopped"];
pub const CHECKPOINTS: &[&str] = &["pre_merge", "on_error", "pre_pr"];
pub const MODES: &[&str] = &["autopilot", "copilot", "supervisor"];
pub const REPORT_STATUSES: &[&str] = &["working", "blocked", "needs_review", "completed", "progress"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointContext {
    pub job_name: String,
    pub failure_kind: String,
}

/// `plan.json`: the single active plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSpec {
    pub id: Text,
    pub name: Text,
    pub mode: Text,
    pub status: Text,
    pub jobs: List<JobSpec>,
    pub integration_branch: Text,
    pub base_commit: Text,
    pub created_at: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    #[serde(default)]
    pub checkpoint: Option<String>,
    #[serde(default)]
    pub checkpoint_context: Option<CheckpointContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gh_authenticated: Option<bool>,
    /// Model only: the step whose read produced this snapshot.
    #[serde(skip)]
    pub read_at: Option<usize>,
    /// Model only: jobs whose status the holder of this snapshot changed on purpose.
    #[serde(skip)]
    pub touched_jobs: Vec<String>,
}

impl PlanSpec {
    pub fn job(&self, name: &str) -> Option<&JobSpec> {
        self.jobs.iter().find(|j| j.name == name)
    }
    pub fn job_mut(&mut self, name: &str) -> Option<&mut JobSpec> {
        self.jobs.iter_mut().find(|j| j.name == name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    pub id: Text,
    pub name: Text,
    pub prompt: Text,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    pub status: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_order: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `jobs.json`: every launched job, plan jobs linked by name + planId.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    pub version: u32,
    pub jobs: List<Job>,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: Text,
    pub name: Text,
    pub worktree_path: Text,
    pub branch: Text,
    pub tmux_target: Text,
    pub placement: Text,
    pub status: Text,
    pub prompt: Text,
    pub mode: Text,
    pub created_at: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
}

/// `reports/<jobId>.json`, written by `mc_report` from the agent's process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentReport {
    pub job_id: String,
    pub job_name: String,
    pub status: String,
    pub message: String,
    pub timestamp: String,
}

// What a file holds, as a task that reads it learns it: every field its
// JSON has. `read_at` and `touched_jobs` are the model's notes on a
// snapshot, which `savePlan` drops (`plan_contents`) and JSON would too.
crate::state_hash_fields!(CheckpointContext { job_name, failure_kind });
crate::state_hash_fields!(PlanSpec {
    id, name, mode, status, jobs, integration_branch, base_commit, created_at, completed_at, pr_url, checkpoint,
    checkpoint_context, gh_authenticated,
} skip { read_at, touched_jobs });
crate::state_hash_fields!(JobSpec { id, name, prompt, depends_on, status, branch, merge_order, merged_at, error });
crate::state_hash_fields!(JobState { version, jobs, updated_at });
crate::state_hash_fields!(Job {
    id,
    name,
    worktree_path,
    branch,
    tmux_target,
    placement,
    status,
    prompt,
    mode,
    created_at,
    completed_at,
    exit_code,
    plan_id,
});
crate::state_hash_fields!(AgentReport { job_id, job_name, status, message, timestamp });

/// Pretty JSON like `JSON.stringify(x, null, 2)`.
impl FileShape for PlanSpec {}
impl FileShape for JobState {}
impl FileShape for AgentReport {}

/// `plan.json` as `savePlan` writes `plan`: what it holds on disk, without
/// the model's own notes on the snapshot (`read_at`, `touched_jobs`), which
/// JSON would drop too.
pub fn plan_contents(mut on_disk: PlanSpec) -> Contents {
    on_disk.read_at = None;
    on_disk.touched_jobs.clear();
    Contents::of(on_disk)
}

/// A logical timestamp (the step count), so executions stay deterministic.
pub fn timestamp(step: usize) -> String {
    format!("t+{step}")
}
