//! What "the fixed variant holds" means, knob by knob: each [`Scope`] names the
//! operations, setup features and invariants its fix covers, what it leaves
//! out and which scenario file shows why. A contributor who finds a fixed
//! choice violated outside its scope adds the reason here.

use super::*;

/// The operations, setup features and invariants one knob's fix covers.
pub struct Scope {
    pub system: &'static str,
    pub knob: &'static str,
    /// The choices the fix replaced.
    pub buggy: &'static [&'static str],
    pub fixed: &'static str,
    pub semantics: Semantics,
    pub ops: &'static [&'static str],
    pub invariants: &'static [&'static str],
    pub features: Features,
    /// Other knobs held at a choice (unless the hunt sets them): a later
    /// fix whose window the statement leaves out (`about` says which).
    pub holding: &'static [(&'static str, &'static str)],
    /// What the fix covers and what the scope leaves out, and why.
    pub about: &'static str,
}

impl Scope {
    pub fn vocabulary(&self) -> Vocabulary {
        Vocabulary {
            system: self.system,
            semantics: self.semantics,
            ops: self.ops.to_vec(),
            invariants: self.invariants.to_vec(),
            features: self.features,
        }
    }

    /// `checkpoint_write=whole-plan→fields-only (event-loop)`.
    pub fn label(&self) -> String {
        format!("{} {}={}→{} ({})", self.system, self.knob, self.buggy.join("|"), self.fixed, self.semantics.name())
    }

    /// The fixed variant's choices, with the knobs the scope holds.
    pub fn fixed_choices(&self) -> BTreeMap<String, String> {
        let mut choices: BTreeMap<String, String> =
            self.holding.iter().map(|(k, c)| (k.to_string(), c.to_string())).collect();
        choices.insert(self.knob.to_string(), self.fixed.to_string());
        choices
    }
}

pub(super) const NONE: Features = Features {
    orchestrators: false,
    paused_plan: false,
    same_second: false,
    approval_pause: false,
    same_generation: false,
    self_write_window: false,
    unwatched: false,
};

/// Every plan operation but approve.
const PLAN_OPS: &[&str] = &[
    "handle_job_failed",
    "handle_job_complete",
    "monitor_poll",
    "agent_report",
    "pane_exits",
    "set_checkpoint",
    "clear_checkpoint",
    "resume_plan",
    "reconcile",
    "interval_tick",
    "cancel_plan",
];
/// The plan operations that trigger, run or pause reconcile passes.
const PLAN_RECONCILE: &[&str] = &[
    "interval_tick",
    "reconcile",
    "handle_job_complete",
    "handle_job_failed",
    "monitor_poll",
    "agent_report",
    "pane_exits",
    "set_checkpoint",
    "clear_checkpoint",
    "resume_plan",
];
/// The runs callers that resume, start and execute runs; complete_run,
/// fail_run and pause_run stand for a live executor's final write.
const RUNS_RESUME: &[&str] = &[
    "web_resume",
    "chat_redispatch",
    "cli_resume",
    "cli_run",
    "find_resumable_run",
    "hydrate_resumable_run",
    "resume_run",
    "execute_workflow",
    "complete_run",
    "fail_run",
    "pause_run",
    "heartbeat",
];
const PLAN_FEATURES: Features = Features { orchestrators: true, paused_plan: true, ..NONE };

/// Every knob's scope.
pub const SCOPES: &[Scope] = &[
    Scope {
        system: "plan",
        knob: "checkpoint_write",
        buggy: &["whole-plan"],
        fixed: "fields-only",
        semantics: Semantics::EventLoop,
        ops: PLAN_OPS,
        invariants: &["no-lost-job-update", "plan-not-resurrected"],
        features: PLAN_FEATURES,
        holding: &[],
        about: "#71: plan-field writes re-read inside planMutex (and throw once the plan is cleared), so no \
                stale snapshot reverts a job update or brings a cancelled plan back. Left out: approve \
                (mc_plan_approve still saves the whole object: approve-races-completion) and \
                checkpoint-implies-paused (the reconcile tail un-pauses: reconcile-tail-unpauses-checkpoint)",
    },
    Scope {
        system: "plan",
        knob: "reconcile_guard",
        buggy: &["drop"],
        fixed: "rerun",
        semantics: Semantics::EventLoop,
        ops: PLAN_RECONCILE,
        invariants: &["every-trigger-seen"],
        features: PLAN_FEATURES,
        holding: &[],
        about: "#15: a trigger during a pass sets reconcilePending and the pass reruns, on an event loop. \
                Left out: cancel_plan and approve (a pass that throws ends its loop)",
    },
    Scope {
        system: "plan",
        knob: "reconcile_guard",
        buggy: &["rerun", "drop"],
        fixed: "rerun-preemptive",
        semantics: Semantics::Threads,
        ops: PLAN_RECONCILE,
        invariants: &["every-trigger-seen"],
        features: PLAN_FEATURES,
        holding: &[],
        about: "#15 ported to preemptive threads: announce pending with a swap, then try to own the pass \
                (reconcile-rerun-under-threads). Left out: cancel_plan and approve (a pass that throws ends \
                its loop)",
    },
    Scope {
        system: "runs",
        knob: "resume_guard",
        buggy: &["unguarded"],
        fixed: "cas",
        semantics: Semantics::EventLoop,
        ops: RUNS_RESUME,
        invariants: &["single-owner"],
        features: NONE,
        holding: &[("backstop", "none")],
        about: "#1830: the resume UPDATE is a compare-and-swap on a resumable status, so one resumer wins. \
                Left out: same_second stamps (path-lock-same-second), server_restart \
                (server-restart-orphans-live-cli-run), cancels (cancel-frees-worktree-before-executor-stops) \
                advance_clock (the model's executor heartbeats once per layer, so a day passing mid-layer \
                makes a live run a stale orphan), #1563's finally backstop, held at `none`: it fails \
                whichever executor's run it finds running (backstop-fails-the-next-resumers-run), and rows \
                whose nodes end at an approval node: it pauses the run mid-layer, a resume takes it before \
                the executor's poll, and both run (resume-at-an-approval-gate-before-its-executor-stops)",
    },
    Scope {
        system: "runs",
        knob: "cancel_guard",
        buggy: &["unguarded", "guard-void"],
        fixed: "terminal-guard",
        semantics: Semantics::EventLoop,
        ops: &[
            "web_cancel",
            "cancel_run",
            "execute_workflow",
            "complete_run",
            "fail_run",
            "pause_run",
            "heartbeat",
            "web_resume",
            "chat_redispatch",
            "cli_resume",
            "cli_run",
            "hydrate_resumable_run",
            "resume_run",
        ],
        invariants: &["terminal-is-final", "cancel-is-truthful"],
        features: Features { approval_pause: true, ..NONE },
        holding: &[("path_lock", "none")],
        about: "#1830: cancelWorkflowRun skips completed and cancelled rows and says whether it changed one. \
                Left out: server_restart (a second executor of one run: server-restart-orphans-live-cli-run), \
                and the #1212 path lock, held at `none`: its loser cancels its own row with an unguarded \
                updateWorkflowRun, which overwrites a completed row and re-stamps a cancelled one's \
                completed_at (path-lock-self-cancel-overwrites-completion)",
    },
    Scope {
        system: "runs",
        knob: "complete_guard",
        buggy: &["unguarded"],
        fixed: "running",
        semantics: Semantics::EventLoop,
        ops: &["execute_workflow", "web_cancel", "cancel_run", "complete_run", "fail_run", "pause_run", "heartbeat"],
        invariants: &["terminal-is-final"],
        features: Features { approval_pause: true, ..NONE },
        holding: &[("path_lock", "none")],
        about: "af4e8b48: the executor's terminal writes match only a running row, so they never overwrite a \
                cancel. Left out: resumers (a resumed run is running again, legitimately), server_restart, and \
                the #1212 path lock, held at `none`: its self-cancel is unguarded \
                (path-lock-self-cancel-overwrites-completion)",
    },
    Scope {
        system: "manifest",
        knob: "persist_check",
        buggy: &["etag-only"],
        fixed: "generation",
        semantics: Semantics::EventLoop,
        ops: &[
            "manifest_patch",
            "claim_task",
            "release_task",
            "heartbeat",
            "watcher_fire",
            "load_into_runtime",
            "advance_clock",
        ],
        invariants: &["no-silent-overwrite", "generation-monotonic"],
        features: Features { self_write_window: true, ..NONE },
        holding: &[],
        about: "#375/#382: persistManifest re-reads the disk generation before the write and before the rename. \
                Covers external writes that landed before the service acts. Left out: external writes \
                concurrent with a persist (rename-window-clobber) and writes that keep the generation \
                (same-generation-write-slips-through)",
    },
    Scope {
        system: "manifest",
        knob: "watcher_reload",
        buggy: &["outside-mutex"],
        fixed: "inside-mutex",
        semantics: Semantics::EventLoop,
        ops: &[
            "manifest_patch",
            "claim_task",
            "release_task",
            "heartbeat",
            "external_write",
            "watcher_fire",
            "advance_clock",
            "load_into_runtime",
        ],
        invariants: &["cache-never-regresses"],
        features: Features { self_write_window: true, same_generation: true, ..NONE },
        holding: &[],
        about: "#375: the watcher's reload runs inside the run mutex, so it never splits a persist and what \
                subscribers see never goes back",
    },
    Scope {
        system: "manifest",
        knob: "debounce_timer",
        buggy: &["shared"],
        fixed: "per-file",
        semantics: Semantics::EventLoop,
        ops: &["external_write", "watcher_fire", "advance_clock", "load_into_runtime"],
        invariants: &["cache-catches-up"],
        features: NONE,
        holding: &[],
        about: "#408: one debounce timer per file, so a change to one file never clears the other's reload. \
                Left out: the service's own writes and an open self-write window, which hide an external \
                change for good (self-write-window-hides-external-change), and unwatched writes",
    },
];
