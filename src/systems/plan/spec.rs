//! What a scenario may say about the plan system: its `[setup]` fields, operations,
//! knobs, invariants and reachable conditions, in one place. `racecheck explain
//! --system plan`, `racecheck new plan` and the loader's messages are built from it.

use super::*;

pub(super) const JOB: ArgSpec = ArgSpec { name: "job", kind: "job", required: true, about: "a job named in [setup]" };
pub(super) const ORCH: ArgSpec = ArgSpec {
    name: "orchestrator",
    kind: "orchestrator",
    required: false,
    about: "an Orchestrator instance of [setup] (default: the first)",
};

pub(super) static SPEC: SystemSpec = SystemSpec {
    name: "plan",
    origin: "opencode-mission-control (src/lib/orchestrator.ts, plan-state.ts, job-state.ts, monitor.ts)",
    about: "a plan of jobs in plan.json, their processes in jobs.json, and the orchestrator that reconciles them",
    setup: &[
        FieldSpec { name: "plan", kind: "boolean", about: "whether plan.json exists (default true)" },
        FieldSpec { name: "mode", kind: "autopilot | supervisor", about: "the plan's mode (default autopilot)" },
        FieldSpec { name: "status", kind: "a plan status", about: "the plan's status (default running)" },
        FieldSpec {
            name: "checkpoint",
            kind: "pre_merge | on_error | pre_pr",
            about: "the plan's checkpoint (default none)",
        },
        FieldSpec {
            name: "max_parallel", kind: "integer ≥ 1", about: "jobs the reconciler runs at once (default 3)"
        },
        FieldSpec { name: "jobs", kind: "array of tables", about: "the plan's jobs, in plan.jobs order" },
        FieldSpec { name: "jobs[].name", kind: "string", about: "the job's name (required, unique)" },
        FieldSpec { name: "jobs[].status", kind: "a job status", about: "its status in plan.json (default running)" },
        FieldSpec {
            name: "jobs[].depends_on",
            kind: "array of job names",
            about: "jobs that must be merged before it launches",
        },
        FieldSpec {
            name: "jobs[].merge_order",
            kind: "integer",
            about: "its place in the merge order (default: its index)",
        },
        FieldSpec {
            name: "jobs[].state",
            kind: "a jobs.json status, or none",
            about: "its entry in jobs.json (default running for a running job, else none)",
        },
        FieldSpec {
            name: "jobs[].previous",
            kind: "a jobs.json status",
            about: "an entry of an earlier launch of the job, listed before its own (id <name>-old; default none)",
        },
        FieldSpec { name: "jobs[].pane", kind: "alive | exited", about: "its tmux pane (default alive)" },
        FieldSpec {
            name: "jobs[].exit_code",
            kind: "integer",
            about: "the status an exited pane keeps (under `remain-on-exit`; default none: read as completed)",
        },
        FieldSpec {
            name: "jobs[].report",
            kind: "a report status",
            about: "the report file the agent left (default none)",
        },
        FieldSpec {
            name: "jobs[].merge",
            kind: "clean | conflict | test-failure",
            about: "how its merge goes (default clean)",
        },
        FieldSpec {
            name: "jobs[].touch_set_violation",
            kind: "boolean",
            about: "its changes leave its touch set (default false)",
        },
        FieldSpec {
            name: "orchestrators",
            kind: "array of tables",
            about: "Orchestrator instances in the process (default one, `main`, active)",
        },
        FieldSpec { name: "orchestrators[].name", kind: "string", about: "the instance's name (required)" },
        FieldSpec {
            name: "orchestrators[].active",
            kind: "boolean",
            about: "it holds the plan as active (default true)",
        },
        FieldSpec {
            name: "orchestrators[].reconciler",
            kind: "boolean",
            about: "its reconcile interval is set (default: active and the plan running)",
        },
        FieldSpec {
            name: "orchestrators[].subscribed",
            kind: "boolean",
            about: "it listens to monitor events (default: active)",
        },
        FieldSpec {
            name: "orchestrators[].checkpoint",
            kind: "a checkpoint",
            about: "its in-memory checkpoint (default none)",
        },
    ],
    ops: &[
        OpSpec {
            name: "handle_job_failed",
            origin: "Orchestrator.handleJobFailed",
            about: "the monitor emits 'failed' for a job: fire-and-forget updatePlanJob(failed) and an unlocked loadPlan() feeding setCheckpoint(on_error)",
            args: &[JOB],
        },
        OpSpec {
            name: "handle_job_complete",
            origin: "Orchestrator.handleJobComplete",
            about: "the monitor emits 'complete' for a job: fire-and-forget updatePlanJob(completed), then reconcile()",
            args: &[JOB],
        },
        OpSpec {
            name: "monitor_poll",
            origin: "JobMonitor.poll",
            about: "one poll over jobs.json's running jobs: dead panes and agent reports become updateJob + emit",
            args: &[],
        },
        OpSpec {
            name: "agent_report",
            origin: "mc_report",
            about: "the job's agent writes reports/<jobId>.json from its own process",
            args: &[
                JOB,
                ArgSpec {
                    name: "status",
                    kind: "report status",
                    required: true,
                    about: "completed, needs_review, blocked, working or progress",
                },
            ],
        },
        OpSpec {
            name: "pane_exits",
            origin: "tmux pane-died",
            about: "the job's tmux pane exits",
            args: &[
                JOB,
                ArgSpec {
                    name: "exit_code",
                    kind: "integer",
                    required: false,
                    about: "the status the dead pane keeps, as under `remain-on-exit` in the user's tmux config (non-zero: the monitor fails the job); default none, as MC leaves it: the monitor takes the job for completed",
                },
            ],
        },
        OpSpec {
            name: "tmux_outage",
            origin: "the tmux server stops answering",
            about: "every tmux command fails (display-message exits non-zero) until tmux_recovers; the panes live on",
            args: &[],
        },
        OpSpec {
            name: "tmux_recovers",
            origin: "the tmux server answers again",
            about: "tmux commands work again",
            args: &[],
        },
        OpSpec {
            name: "set_checkpoint",
            origin: "Orchestrator.setCheckpoint",
            about: "load the plan (unlocked) and pause it at a checkpoint",
            args: &[
                ArgSpec {
                    name: "checkpoint",
                    kind: "checkpoint",
                    required: true,
                    about: "pre_merge, on_error or pre_pr",
                },
                ORCH,
            ],
        },
        OpSpec {
            name: "clear_checkpoint",
            origin: "Orchestrator.clearCheckpoint",
            about: "unpause a paused plan and restart the reconciler (at 2869e81 only the tests call it; mc_plan_approve writes the plan itself)",
            args: &[ORCH],
        },
        OpSpec {
            name: "resume_plan",
            origin: "Orchestrator.resumePlan",
            about: "unpause, fail jobs whose panes died, subscribe and start the reconciler",
            args: &[ORCH],
        },
        OpSpec {
            name: "reconcile",
            origin: "Orchestrator.reconcile",
            about: "trigger a reconcile pass (as handleJobComplete and startReconciler do)",
            args: &[ORCH],
        },
        OpSpec {
            name: "interval_tick",
            origin: "setInterval(reconcile, 5000)",
            about: "the reconcile interval fires, if it is still set",
            args: &[ORCH],
        },
        OpSpec {
            name: "kill_job",
            origin: "mc_kill (tools/kill.ts)",
            about: "getJobByName (unlocked), then killSession and updateJob(stopped): no event is emitted, so the plan job is left to the reconcile safety net",
            args: &[JOB],
        },
        OpSpec {
            name: "cancel_plan",
            origin: "mc_plan_cancel → Orchestrator.cancelPlan",
            about: "a fresh Orchestrator stops the plan's jobs and clears plan.json",
            args: &[],
        },
        OpSpec {
            name: "approve",
            origin: "mc_plan_approve",
            about: "unlocked loadPlan; a paused plan with a checkpoint is accepted (a touch-set failure's job becomes ready_to_merge) or, with `retry`, that job is retried, or, with `relaunch`, that touch-set failure is relaunched with a correction prompt; a pending plan gets its integration branch; the snapshot is set running with no checkpoint and written whole with savePlan, then resumePlan() on `orchestrator`, which stands for the new Orchestrator the origin creates (name one no other actor uses)",
            args: &[
                ORCH,
                ArgSpec {
                    name: "retry",
                    kind: "job",
                    required: false,
                    about: "retry this failed, conflict or needs_rebase job (mc_plan_approve's `retry`)",
                },
                ArgSpec {
                    name: "relaunch",
                    kind: "job",
                    required: false,
                    about: "relaunch this job, failed by a touch-set check, with a correction prompt: the plan is saved running, then relaunchJobForCorrection (kill the session, start a new agent, replace its jobs.json entry, write the plan job running) and resumePlan() (mc_plan_approve's `relaunch`; not with `retry`)",
                },
            ],
        },
    ],
    knobs: &[
        KnobSpec {
            name: "checkpoint_write",
            about: "how setCheckpoint, clearCheckpoint, resumePlan and _doReconcile write plan fields (#63, fixed by #71)",
            choices: &[
                ("whole-plan", "savePlan(snapshot): writes the caller's whole object, jobs[] included"),
                ("fields-only", "updatePlanFields(id, fields): re-reads inside planMutex, touches plan fields only"),
            ],
            default: "fields-only",
        },
        KnobSpec {
            name: "reconcile_guard",
            about: "what reconcile() does when a pass is already in flight (#15)",
            choices: &[
                ("drop", "if (isReconciling) return: the trigger is lost"),
                ("rerun", "set reconcilePending; the running pass loops (the #15 fix, correct on an event loop)"),
                (
                    "rerun-preemptive",
                    "announce pending with a swap, then try to own the pass; the owner drains with swaps (correct under threads)",
                ),
            ],
            default: "rerun",
        },
        KnobSpec {
            name: "complete_order",
            about: "how handleJobComplete orders its plan.json update and its reconcile() (2e474b5, in #41)",
            choices: &[
                (
                    "concurrent",
                    "before 2e474b5: updatePlanJob(completed) and reconcile() started together; the pass may read plan.json first (handleJobFailed stays the later setCheckpoint form: 2e474b5^'s autopilot failure wrote the plan failed with savePlan, which no knob models)",
                ),
                ("sequential", "2e474b5: await updatePlanJob(completed), then reconcile()"),
            ],
            default: "sequential",
        },
        KnobSpec {
            name: "approve_job_write",
            about: "how mc_plan_approve's retry and accept set the job to ready_to_merge before their savePlan (84e5a7f)",
            choices: &[
                (
                    "update-plan-job",
                    "before 84e5a7f (2e474b5 retry, 54c4aca accept): updatePlanJob, then savePlan of the older snapshot",
                ),
                ("snapshot", "84e5a7f: the job is set on the snapshot that savePlan writes"),
            ],
            default: "snapshot",
        },
        KnobSpec {
            name: "approved_for_merge",
            about: "whether an Orchestrator remembers the jobs approved at a pre_merge checkpoint (b571242, #38, for issue #3)",
            choices: &[
                (
                    "absent",
                    "before b571242: every reconcile pass checkpoints pre_merge again for a ready supervisor job",
                ),
                (
                    "clear-checkpoint",
                    "b571242: clearCheckpoint adds the ready jobs to this instance's approvedForMerge, which step 7 skips (mc_plan_approve resumes on a new instance, which has none)",
                ),
            ],
            default: "clear-checkpoint",
        },
        KnobSpec {
            name: "pr_guard",
            about: "what _doReconcile's all-merged branch checks before it creates the PR (fb82904)",
            choices: &[
                ("none", "before fb82904: if (allMerged), so a pass that finds creating_pr creates the PR again"),
                (
                    "status",
                    "fb82904: also status not creating_pr, completed or failed (a check on a loadPlan, then an await before the write)",
                ),
            ],
            default: "status",
        },
        KnobSpec {
            name: "tmux_error",
            about: "what a failing tmux command means to the monitor's poll and resumePlan (c8ce065, #12)",
            choices: &[
                (
                    "dead-pane",
                    "before c8ce065: isPaneRunning returns false, so the poll completes the job (no exit status) and resumePlan fails it",
                ),
                (
                    "skipped",
                    "c8ce065: isPaneRunning throws; the poll skips the job this cycle, resumePlan skips pane checks while isTmuxHealthy is false",
                ),
            ],
            default: "skipped",
        },
        KnobSpec {
            name: "report_match",
            about: "which jobs.json entry mc_report writes its report for, and what a launch does with the job's old entries (fb82904)",
            choices: &[
                (
                    "first",
                    "before fb82904: the first entry with the job's name or worktree, an earlier launch's included; launchJob only adds its entry, the old ones stay",
                ),
                (
                    "running-first",
                    "fb82904: a running entry first, then any with the name or worktree; launchJob removes the job's entries not running (and their reports) one by one, then adds its own",
                ),
            ],
            default: "running-first",
        },
        KnobSpec {
            name: "job_state_lock",
            about: "whether addJob and updateJob read-modify-write jobs.json under stateMutex (6f3b0e5)",
            choices: &[
                ("unlocked", "before 6f3b0e5: loadJobState, change, saveJobState, with no lock"),
                ("state-mutex", "6f3b0e5: stateMutex.withLock around each read-modify-write"),
            ],
            default: "state-mutex",
        },
        KnobSpec {
            name: "safety_net",
            about: "whether _doReconcile cross-checks jobs.json for plan jobs stuck running (#71)",
            choices: &[
                ("off", "no cross-check"),
                (
                    "completed-failed",
                    "c054731 (#71): completed/failed jobs.json entries repair plan jobs stuck running; a stopped one does not",
                ),
                ("on", "2869e81: completed/failed/stopped jobs.json entries repair plan jobs stuck running"),
            ],
            default: "on",
        },
    ],
    invariants: &[
        InvariantSpec {
            name: "no-lost-job-update",
            about: "a write to plan.json changes a job's status only if the writer meant to (no stale snapshot reverts a committed job update)",
        },
        InvariantSpec {
            name: "no-stale-job-decision",
            about: "an updatePlanJob its caller decided on a snapshot (a reconcile step, a launch, approve) lands only while the job still has the status that snapshot showed, or already has the one it writes: no stale decision overwrites a job update (no-lost-job-update exempts the job a write names)",
        },
        InvariantSpec {
            name: "completion-processed",
            about: "at the end, no plan job is left completed while the plan runs: some reconcile pass saw every completion (and moved it on to ready_to_merge)",
        },
        InvariantSpec {
            name: "no-lost-job-state-update",
            about: "a write to jobs.json changes or drops an entry only if the writer meant to (no stale read-modify-write loses another's update), and a rename of the shared jobs.json.tmp does not publish another writer's file in place of the entries it meant to set (before 6f3b0e5)",
        },
        InvariantSpec {
            name: "checkpoint-implies-paused",
            about: "plan.json never holds a checkpoint while its status is not paused",
        },
        InvariantSpec {
            name: "every-trigger-seen",
            about: "every reconcile() trigger is followed by a reconcile pass, of the same orchestrator, that starts after it",
        },
        InvariantSpec {
            name: "no-job-stuck-running",
            about: "at the end, no job that jobs.json says ended (completed, failed, stopped) is still running in plan.json, and none is running in jobs.json once plan.json is gone",
        },
        InvariantSpec {
            name: "pre-merge-approval-kept",
            about: "once a pre_merge checkpoint is cleared (approved), plan.json is not paused at pre_merge again while a job that was ready_to_merge then is still ready_to_merge (issue #3's loop)",
        },
        InvariantSpec {
            name: "one-pr-per-plan",
            about: "createPR runs at most once for a plan (a second call pushes and opens a second pull request)",
        },
        InvariantSpec {
            name: "no-live-job-ended",
            about: "at the end, every jobs.json entry the execution marked completed or failed has a pane that exited or an agent report that it was done (no job is ended while it still runs, #12)",
        },
        InvariantSpec {
            name: "report-reaches-its-job",
            about: "an agent's report is written for the job's running entry in jobs.json whenever there is one (the monitor looks for reports/<running id>.json)",
        },
        InvariantSpec {
            name: "plan-not-resurrected",
            about: "once plan.json is removed (cancel), nothing writes it back",
        },
        InvariantSpec {
            name: "no-job-status-regression",
            about: "a job that reached ready_to_merge, merging or merged in plan.json never goes back to completed, running or an earlier status (it would be validated and merged again)",
        },
        InvariantSpec {
            name: "stopped-job-not-merged",
            about: "a job whose jobs.json entry was stopped (mc_kill, a cancel) never becomes merged in plan.json: what the user stopped is not merged (jobs by name: approving the stopped job again counts too)",
        },
    ],
    conditions: conditions::CONDITIONS,
    example: (
        "plan/stale-checkpoint-overwrite.toml",
        include_str!("../../../scenarios/plan/stale-checkpoint-overwrite.toml"),
    ),
};
