//! A reachable condition must not be reached where its window is absent:
//! one actor alone, no race. (A condition reached too easily would make
//! every proof look non-vacuous.) Each case is a scenario whose one
//! expectation is a proof; the named condition must stay unreached.

use racecheck::explore::{Explorer, Limits, Verdict, explore};
use racecheck::scenario::parse;
use std::path::Path;

fn unreached(system: &str, setup: &str, ops: &str, invariant: &str, condition: &str) {
    let text = format!(
        "title = \"t\"\norigin = \"t\"\nsystem = \"{system}\"\n\n[setup]\n{setup}\n\n[[actor]]\nname = \"alone\"\n\
         do = [{ops}]\n\n[check]\ninvariants = [\"{invariant}\"]\nreachable = [\"{condition}\"]\n\n\
         [[expect]]\nvariant = {{}}\nverdict = \"proved\"\n"
    );
    let s = parse(Path::new("conditions.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let e = &s.expectations[0];
    let report = explore(&s.model, &e.variant, &Explorer::Stateful, &Limits::default());
    match &report.verdict {
        Verdict::Vacuous { unreached } => assert_eq!(unreached, &[condition.to_string()]),
        other => panic!("{condition} with no race: {other:?}"),
    }
}

const RUNNING: &str = r#"rows = [{ id = "X", status = "running", working_path = "/wt/X" }]"#;
const FAILED: &str = r#"rows = [{ id = "X", status = "failed", working_path = "/wt/X", completed_nodes = 2 }]"#;

#[test]
fn runs_conditions_need_their_race() {
    let cancel = r#"{ op = "web_cancel", run = "X" }"#;
    unreached("runs", RUNNING, cancel, "terminal-is-final", "cancel-found-it-finished");
    let execute = r#"{ op = "execute_workflow", run = "X" }"#;
    unreached("runs", RUNNING, execute, "terminal-is-final", "finish-found-it-cancelled");
    unreached("runs", RUNNING, execute, "single-owner", "path-lock-found-a-holder");
    let resume = r#"{ op = "cli_resume", run = "X" }"#;
    unreached("runs", FAILED, resume, "single-owner", "resume-cas-lost");
    unreached("runs", FAILED, resume, "single-owner", "orphan-reclaimed");
    // A refused UPDATE that is not the race: a resume CAS on a completed
    // run, a guarded completion of a completed run.
    let completed = r#"rows = [{ id = "X", status = "completed", working_path = "/wt/X" }]"#;
    let resume_run = r#"{ op = "resume_run", run = "X" }"#;
    unreached("runs", completed, resume_run, "single-owner", "resume-cas-lost");
    let complete_run = r#"{ op = "complete_run", run = "X" }"#;
    unreached("runs", completed, complete_run, "terminal-is-final", "finish-found-it-cancelled");
    // A restart with no executor at work.
    unreached("runs", RUNNING, r#"{ op = "server_restart" }"#, "single-owner", "restart-during-run");
    let chat = r#"{ op = "chat_redispatch", run = "X" }"#;
    unreached("runs", FAILED, chat, "single-owner", "conversation-lock-contended");
}

fn running_a() -> &'static str {
    r#"jobs = [{ name = "A", status = "running" }]"#
}

#[test]
fn plan_conditions_need_their_race() {
    let jobs =
        r#"jobs = [{ name = "A", status = "running", state = "completed" }, { name = "B", status = "running" }]"#;
    let complete = r#"{ op = "handle_job_complete", job = "A" }"#;
    unreached("plan", jobs, complete, "no-lost-job-update", "stale-snapshot-write");
    unreached("plan", jobs, complete, "no-lost-job-update", "trigger-during-pass");
    let synced = r#"jobs = [{ name = "A", status = "running" }]"#;
    unreached("plan", synced, r#"{ op = "interval_tick" }"#, "no-lost-job-update", "missed-completion");
    // One poll writing jobs.json twice (two exited panes), one after the other.
    let exited = r#"jobs = [{ name = "A", status = "running", pane = "exited" }, { name = "B", status = "running", pane = "exited" }]"#;
    unreached("plan", exited, r#"{ op = "monitor_poll" }"#, "no-lost-job-state-update", "state-mutex-contended");
    // A report on a job with one entry in jobs.json.
    let agent = r#"{ op = "agent_report", job = "A", status = "completed" }"#;
    unreached("plan", running_a(), agent, "report-reaches-its-job", "report-beside-an-earlier-entry");
    // A poll while tmux answers: no tmux error is seen.
    let running = r#"jobs = [{ name = "A", status = "running" }]"#;
    unreached("plan", running, r#"{ op = "monitor_poll" }"#, "no-live-job-ended", "tmux-error-seen");
    // A touch-set failure relaunched by the one actor that set it: nobody
    // else reads plan.json in the relaunch's window.
    let touchset = r#"jobs = [{ name = "A", status = "completed", state = "completed", touch_set_violation = true }]
orchestrators = [{ name = "old", active = true }, { name = "approved", active = false }]"#;
    let relaunch =
        r#"{ op = "reconcile", orchestrator = "old" }, { op = "approve", orchestrator = "approved", relaunch = "A" }"#;
    unreached("plan", touchset, relaunch, "no-stale-job-decision", "relaunch-window-read");
    // Approve without retry after a merge conflict resumes the plan and
    // resets no job (accept resets only a touch-set failure).
    let paused = "status = \"paused\"\ncheckpoint = \"on_error\"\njobs = [{ name = \"B\", status = \"failed\" }]";
    unreached("plan", paused, r#"{ op = "approve" }"#, "no-lost-job-update", "approve-resets-a-job");
}

#[test]
fn manifest_conditions_need_their_race() {
    let patch = r#"{ op = "manifest_patch" }"#;
    unreached("manifest", "generation = 4", patch, "no-silent-overwrite", "patch-on-outdated-cache");
    unreached("manifest", "generation = 4", patch, "no-silent-overwrite", "timer-fires-during-patch");
    let pull = r#"{ op = "external_write" }, { op = "watcher_fire" }"#;
    unreached("manifest", "generation = 4", pull, "cache-catches-up", "timers-overlap");
    unreached("manifest", "generation = 4", pull, "cache-catches-up", "external-write-after-heartbeat");
    // A patch with no heartbeat before it.
    let lead = r#"{ op = "manifest_patch", if_match = "initial" }"#;
    unreached("manifest", "generation = 4", lead, "no-spurious-conflict", "heartbeat-before-patch");
    // A claim of an open task.
    let claim = r#"{ op = "claim_task", task = "t1" }"#;
    unreached("manifest", "generation = 4", claim, "terminal-task-stays-done", "claim-finds-task-finished");
}
