//! An actor's operations on the runs system (`Op`, as a scenario names them)
//! and what each can end with (`Outcome`, and the `Reply` a caller gets).

use super::*;

/// Every outcome an operation can end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Resumed,
    FreshRun,
    Dispatched,
    Executed,
    PathLocked,
    NotResumable,
    NotFound,
    NoResumableRun,
    NothingToResume,
    Cancelled,
    NothingToCancel,
    Rejected,
    Completed,
    Failed,
    Paused,
    Found,
    NoneFound,
    Error,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Resumed => "resumed",
            Outcome::FreshRun => "fresh-run",
            Outcome::Dispatched => "dispatched",
            Outcome::Executed => "executed",
            Outcome::PathLocked => "path-locked",
            Outcome::NotResumable => "not-resumable",
            Outcome::NotFound => "not-found",
            Outcome::NoResumableRun => "no-resumable-run",
            Outcome::NothingToResume => "nothing-to-resume",
            Outcome::Cancelled => "cancelled",
            Outcome::NothingToCancel => "nothing-to-cancel",
            Outcome::Rejected => "rejected",
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Paused => "paused",
            Outcome::Found => "found",
            Outcome::NoneFound => "none",
            Outcome::Error => "error",
        }
    }
}

/// How an operation ended, and what it told its user.
#[derive(Debug)]
pub struct Reply {
    pub outcome: Outcome,
    pub message: String,
}

crate::state_hash_debug!(Reply);

impl Reply {
    pub fn new(outcome: Outcome, message: String) -> Self {
        Reply { outcome, message }
    }

    /// An executor's end, as `ran` when it ran.
    pub fn executed(executed: Executed, ran: Outcome) -> Self {
        match executed {
            Executed::Ran { run, how } => Reply::new(ran, format!("executor of run {run}: {how}")),
            Executed::PathLocked { run, holder } => Reply::new(
                Outcome::PathLocked,
                format!("run {run} cancelled itself: the older run {holder} is active on the same path"),
            ),
        }
    }
}

/// The outcomes `expect` may name for each operation.
pub(super) fn outcomes_of(op: &str) -> &'static [&'static str] {
    match op {
        "web_resume" => {
            &["resumed", "fresh-run", "dispatched", "path-locked", "not-resumable", "rejected", "not-found", "error"]
        }
        "chat_redispatch" => {
            &["resumed", "fresh-run", "dispatched", "path-locked", "not-resumable", "not-found", "error"]
        }
        "cli_resume" => {
            &["resumed", "path-locked", "not-resumable", "not-found", "no-resumable-run", "nothing-to-resume", "error"]
        }
        "cli_run" => &[
            "resumed",
            "fresh-run",
            "path-locked",
            "not-resumable",
            "not-found",
            "no-resumable-run",
            "nothing-to-resume",
            "error",
        ],
        "web_cancel" => &["cancelled", "nothing-to-cancel", "rejected", "not-found"],
        "find_resumable_run" => &["found", "none"],
        "hydrate_resumable_run" => &["resumed", "nothing-to-resume", "not-resumable", "not-found"],
        "resume_run" => &["resumed", "not-resumable", "not-found"],
        "cancel_run" => &["cancelled", "nothing-to-cancel"],
        "complete_run" => &["completed", "error"],
        "fail_run" => &["failed", "error"],
        "pause_run" => &["paused", "error"],
        "execute_workflow" => &["executed", "path-locked", "not-found"],
        _ => &[],
    }
}

/// One operation of an actor.
#[derive(Clone, Debug)]
pub enum Op {
    WebResume {
        run: String,
        new_run: Option<String>,
        ends: Ends,
        expect: Option<String>,
    },
    /// The conversation, its workflow and worktree are the run's, from `[setup]`.
    ChatRedispatch {
        run: String,
        workflow: String,
        conversation: String,
        cwd: String,
        new_run: Option<String>,
        ends: Ends,
        from: PlatformType,
        expect: Option<String>,
    },
    CliResume {
        run: String,
        expect: Option<String>,
    },
    CliRun {
        path: String,
        workflow: String,
        resume: bool,
        /// `--no-worktree`: a fresh run works in `path`, not in a worktree of its own.
        no_worktree: bool,
        new_run: Option<String>,
        ends: Ends,
        expect: Option<String>,
    },
    WebCancel {
        run: String,
        expect: Option<String>,
    },
    FindResumableRun {
        path: String,
        workflow: String,
        expect: Option<String>,
    },
    HydrateResumableRun {
        run: String,
        expect: Option<String>,
    },
    ResumeRun {
        run: String,
        expect: Option<String>,
    },
    CancelRun {
        run: String,
        expect: Option<String>,
    },
    CompleteRun {
        run: String,
        expect: Option<String>,
    },
    FailRun {
        run: String,
        expect: Option<String>,
    },
    PauseRun {
        run: String,
        expect: Option<String>,
    },
    Heartbeat {
        run: String,
    },
    ExecuteWorkflow {
        run: String,
        expect: Option<String>,
    },
    ServerRestart,
    AdvanceClock {
        seconds: u64,
    },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::WebResume { run, .. } => write!(f, "web_resume({run})"),
            Op::ChatRedispatch { run, .. } => write!(f, "chat_redispatch({run})"),
            Op::CliResume { run, .. } => write!(f, "cli_resume({run})"),
            Op::CliRun { path, workflow, resume, .. } => {
                write!(f, "cli_run({workflow}{} in {path})", if *resume { " --resume" } else { "" })
            }
            Op::WebCancel { run, .. } => write!(f, "web_cancel({run})"),
            Op::FindResumableRun { path, workflow, .. } => write!(f, "find_resumable_run({workflow} in {path})"),
            Op::HydrateResumableRun { run, .. } => write!(f, "hydrate_resumable_run({run})"),
            Op::ResumeRun { run, .. } => write!(f, "resume_run({run})"),
            Op::CancelRun { run, .. } => write!(f, "cancel_run({run})"),
            Op::CompleteRun { run, .. } => write!(f, "complete_run({run})"),
            Op::FailRun { run, .. } => write!(f, "fail_run({run})"),
            Op::PauseRun { run, .. } => write!(f, "pause_run({run})"),
            Op::Heartbeat { run } => write!(f, "heartbeat({run})"),
            Op::ExecuteWorkflow { run, .. } => write!(f, "execute_workflow({run})"),
            Op::ServerRestart => write!(f, "server_restart"),
            Op::AdvanceClock { seconds } => {
                let (d, h, m) = (seconds / DAY, seconds % DAY / HOUR, seconds % HOUR / MINUTE);
                let mut parts = Vec::new();
                for (n, unit) in [(d, "d"), (h, "h"), (m, "m")] {
                    if n > 0 {
                        parts.push(format!("{n}{unit}"));
                    }
                }
                write!(f, "advance_clock(+{})", parts.join(""))
            }
        }
    }
}
