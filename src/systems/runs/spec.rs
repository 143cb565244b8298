//! What a scenario may say about the runs system: its `[setup]` fields, operations,
//! knobs, invariants and reachable conditions, in one place. `racecheck explain
//! --system runs`, `racecheck new runs` and the loader's messages are built from it.

use super::*;

pub(super) const RUN: ArgSpec = ArgSpec {
    name: "run",
    kind: "run",
    required: true,
    about: "a run id of [setup] rows, or of a run an operation of the scenario creates (its `new_run`)",
};
pub(super) const EXPECT: ArgSpec = ArgSpec {
    name: "expect",
    kind: "outcome",
    required: false,
    about: "how the operation must end in every interleaving (checked by `outcome-as-expected`)",
};
pub(super) const NEW_RUN: ArgSpec = ArgSpec {
    name: "new_run",
    kind: "string",
    required: false,
    about: "id of the row a fresh run inserts (default `<actor>:new`); other operations may name it as their `run`",
};
pub(super) const ENDS: ArgSpec = ArgSpec {
    name: "ends",
    kind: "completed | failed | paused",
    required: false,
    about: "how a fresh run's nodes end (default completed; failed: a node fails; paused: an approval node pauses the run in its last layer)",
};
pub(super) const PATH: ArgSpec = ArgSpec {
    name: "path",
    kind: "working path",
    required: true,
    about: "a working_path of [setup] rows (the CLI's cwd)",
};
pub(super) const WORKFLOW: ArgSpec = ArgSpec {
    name: "workflow",
    kind: "workflow",
    required: false,
    about: "a workflow of [setup] rows (default: the one of the first row on `path`)",
};

pub(super) static SPEC: SystemSpec = SystemSpec {
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
