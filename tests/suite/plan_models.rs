//! The plan system's model against the origin's control flow, one
//! behaviour at a time: small scenarios run in one order, their final
//! state compared with what the origin's code leaves.

use racecheck::explore::{Explorer, Limits, outcomes};
use racecheck::scenario::parse;
use racecheck::systems::Variant;
use std::path::Path;

/// The one end of a scenario with one actor: its final state as text.
fn only_end(toml: &str) -> String {
    let s = parse(Path::new("plan_models.toml"), toml).unwrap_or_else(|e| panic!("{e}"));
    let variant: &Variant = &s.expectations[0].variant;
    let (ends, _) = outcomes(&s.model, variant, &Explorer::Stateful, &Limits::default()).unwrap();
    assert_eq!(ends.len(), 1, "one actor, one end: {ends:#?}");
    ends.into_iter().next().unwrap()
}

fn scenario(setup: &str, ops: &str) -> String {
    format!(
        "title = \"t\"\norigin = \"t\"\nsystem = \"plan\"\nsemantics = \"event-loop\"\n\n[setup]\n{setup}\n\n\
         [[actor]]\nname = \"r\"\ndo = [{ops}]\n\n[check]\ninvariants = [\"no-lost-job-update\"]\n\n[[expect]]\nvariant = {{}}\nverdict = \"proved\"\n"
    )
}

#[test]
fn one_reconcile_pass_takes_a_completed_job_to_merged() {
    // `_doReconcile` step 6 sets the local `job.status = 'ready_to_merge'`
    // after its write, so steps 7 and 8 merge the job in the same pass.
    let end = only_end(&scenario(r#"jobs = [{ name = "A", status = "completed" }]"#, r#"{ op = "reconcile" }"#));
    eprintln!("{end}");
    assert!(end.contains("merged"), "{end}");
}

#[test]
fn resume_on_an_instance_whose_reconciler_runs_starts_no_pass() {
    // `startReconciler()` returns at once when `isRunning` (the interval is
    // set): `resumePlan` on such an instance reconciles nothing itself.
    let setup = r#"jobs = [{ name = "A", status = "completed" }]
orchestrators = [{ name = "main", reconciler = true }]"#;
    let end = only_end(&scenario(setup, r#"{ op = "resume_plan" }"#));
    assert!(end.contains(r#""name":"A","prompt":"do A","status":"completed""#), "{end}");
    assert!(!end.contains("merged"), "{end}");
}

#[test]
fn clear_checkpoint_forgets_the_in_memory_checkpoint_on_every_path() {
    // `this.checkpoint = null` runs before the first await, whatever the
    // plan on disk says: here it is not paused, and the origin still
    // clears the instance's checkpoint.
    let setup = r#"jobs = [{ name = "A", status = "running" }]
orchestrators = [{ name = "main", checkpoint = "on_error", reconciler = false }]"#;
    let end = only_end(&scenario(setup, r#"{ op = "clear_checkpoint" }"#));
    assert!(end.contains(r#""orchestrators":{"main":{"activePlanId":"plan-1","checkpoint":null,"#), "{end}");
}

#[test]
fn approve_writes_the_plan_running_and_a_retried_job_ready_to_merge() {
    // mc_plan_approve mutates its snapshot (the retried job ready_to_merge,
    // the plan running, no checkpoint) and writes it with one savePlan; the
    // new instance's resumePlan then finds a running plan and reconciles.
    let setup = r#"status = "paused"
checkpoint = "on_error"
jobs = [{ name = "A", status = "failed", state = "failed" }]
orchestrators = [{ name = "old", active = true, checkpoint = "on_error", reconciler = false }, { name = "new", active = false }]"#;
    let end = only_end(&scenario(setup, r#"{ op = "approve", orchestrator = "new", retry = "A" }"#));
    assert!(end.contains(r#""status":"merged""#) && end.contains(r#""status":"completed""#), "{end}");
    // Accepting with no touch-set failure to accept leaves A failed.
    let end = only_end(&scenario(setup, r#"{ op = "approve", orchestrator = "new" }"#));
    assert!(end.contains(r#""name":"A","prompt":"do A","status":"failed""#), "{end}");
    assert!(end.contains(r#""checkpoint":null"#), "{end}");
}

#[test]
fn approve_refuses_a_plan_neither_pending_nor_paused_at_a_checkpoint() {
    let setup = r#"status = "paused"
jobs = [{ name = "A", status = "running" }]
orchestrators = [{ name = "main", reconciler = false }]"#;
    let end = only_end(&scenario(setup, r#"{ op = "approve" }"#));
    // Nothing written: the plan stays paused.
    assert!(end.contains(r#""mode":"autopilot","name":"scenario plan","status":"paused""#), "{end}");
}

#[test]
fn a_cancel_that_stops_every_job_leaves_none_stuck() {
    // no-job-stuck-running judges jobs.json once plan.json is gone: a cancel
    // alone stops A, so the invariant holds (and fails only for an orphan:
    // scenarios/plan/cancel-orphans-a-launching-job.toml).
    let text = scenario(r#"jobs = [{ name = "A", status = "running" }]"#, r#"{ op = "cancel_plan" }"#)
        .replace(r#"invariants = ["no-lost-job-update"]"#, r#"invariants = ["no-job-stuck-running"]"#);
    let end = only_end(&text);
    assert!(
        end.starts_with("broken=[]") && !end.contains("plan.json") && end.contains(r#""status":"stopped""#),
        "{end}"
    );
}

#[test]
fn approve_relaunches_a_touch_set_failure_and_only_that() {
    // A reconcile pass fails A for its touch set and pauses the plan; the
    // relaunch saves the plan running, replaces A's jobs.json entry with a
    // running one (the completed entry is removed), writes A running in
    // plan.json, and the new instance resumes.
    let setup = r#"jobs = [{ name = "A", status = "completed", state = "completed", touch_set_violation = true }]
orchestrators = [{ name = "old", active = true }, { name = "approved", active = false }]"#;
    let ops =
        r#"{ op = "reconcile", orchestrator = "old" }, { op = "approve", orchestrator = "approved", relaunch = "A" }"#;
    let end = only_end(&scenario(setup, ops));
    let plan = &end[end.find("plan.json").expect("plan.json at the end")..];
    assert!(plan.contains(r#""name":"A","prompt":"do A","status":"running""#), "{end}");
    assert!(plan.contains(r#""checkpoint":null"#), "{end}");
    let jobs = &end[end.find("jobs.json").expect("jobs.json at the end")..end.find("plan.json").unwrap()];
    assert!(jobs.contains(r#""prompt":"correct A""#) && !jobs.contains(r#""id":"job-A""#), "{end}");
    // A relaunch of a job whose checkpoint is not a touch-set failure is
    // refused: the plan stays paused, A failed.
    let conflict = r#"status = "paused"
checkpoint = "on_error"
jobs = [{ name = "A", status = "failed", state = "failed" }]
orchestrators = [{ name = "old", active = true, checkpoint = "on_error", reconciler = false }, { name = "approved", active = false }]"#;
    let end = only_end(&scenario(conflict, r#"{ op = "approve", orchestrator = "approved", relaunch = "A" }"#));
    assert!(end.contains(r#""status":"paused""#) && end.contains(r#""prompt":"do A","status":"failed""#), "{end}");
}

#[test]
fn approve_takes_retry_or_relaunch_not_both() {
    let setup = r#"jobs = [{ name = "A", status = "failed" }]"#;
    let both = r#"{ op = "approve", retry = "A", relaunch = "A" }"#;
    let Err(e) = parse(Path::new("plan_models.toml"), &scenario(setup, both)) else { panic!("both accepted") };
    assert_eq!(e.expected, "either `retry` or `relaunch`");
    assert_eq!((e.line, e.column), (11, 49), "{e}");
}

#[test]
fn other_files_written_after_a_cancel_do_not_resurrect_the_plan() {
    // plan-not-resurrected judges plan.json writes only: an agent's report
    // (reports/<id>.json) written after the cancel removed plan.json is no
    // resurrection. (A mutant that took every write for a plan.json write
    // survived the scenarios.)
    let text = scenario(
        r#"jobs = [{ name = "A", status = "running" }]"#,
        r#"{ op = "cancel_plan" }, { op = "agent_report", job = "A", status = "completed" }"#,
    )
    .replace(r#"invariants = ["no-lost-job-update"]"#, r#"invariants = ["plan-not-resurrected"]"#);
    let end = only_end(&text);
    assert!(end.starts_with("broken=[]") && end.contains("reports/"), "{end}");
}

#[test]
fn load_plan_awaits_exists_then_text_where_the_plan_can_vanish() {
    use racecheck::explore::{StepSchedule, replay};
    use racecheck::history::Effect;
    // With a cancel in the scenario, loadPlan is two awaits: a pass that saw
    // plan.json exist and then finds it gone (clearPlan in between) throws,
    // as Bun's file.text() does (ENOENT), and its catch logs it.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/plan/cancel-orphans-a-launching-job.toml");
    let s = racecheck::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let schedule: StepSchedule = "interval*3, user*10, interval*2".parse().unwrap();
    let outcome = replay(&s.model, &s.expectations[0].variant, &schedule).unwrap();
    let threw =
        |e: &racecheck::history::Event| matches!(&e.effect, Effect::Threw { error } if error.contains("ENOENT"));
    let thrown: Vec<_> = outcome.events.iter().filter(|e| threw(e)).collect();
    assert_eq!(thrown.len(), 1, "{:#?}", outcome.events);
    assert_eq!(&*thrown[0].task, "interval");
    // Without one, the two awaits are one read: no `exists` step at all.
    let exists = |events: &[racecheck::history::Event]| {
        events.iter().filter(|e| matches!(&e.effect, Effect::Note { kind: "exists", .. })).count()
    };
    assert!(exists(&outcome.events) >= 2, "{:#?}", outcome.events);
    let plain = scenario(r#"jobs = [{ name = "A", status = "completed" }]"#, r#"{ op = "reconcile" }"#);
    let s = parse(Path::new("plan_models.toml"), &plain).unwrap();
    // The whole execution: the error of a too-long schedule says how many steps it took.
    let variant = &s.expectations[0].variant;
    let Err(e) = replay(&s.model, variant, &"r*1000".parse().unwrap()) else { panic!("1000 steps fit") };
    let steps = e.rsplit_once("did r*").map(|(_, n)| n.trim()).unwrap_or_else(|| panic!("{e}"));
    let outcome = replay(&s.model, variant, &format!("r*{steps}").parse().unwrap()).unwrap();
    assert!(outcome.events.iter().any(|e| e.func == "loadPlan"), "{:#?}", outcome.events);
    assert_eq!(exists(&outcome.events), 0, "{:#?}", outcome.events);
}

#[test]
fn a_killed_session_leaves_no_exit_status_so_the_monitor_reads_completed() {
    // captureExitStatus (tmux.ts at 2869e81) finds no status once killSession
    // removed the session, and the monitor fails a job only on a non-zero
    // status: a poll between mc_kill's killSession and its
    // updateJob(stopped) marks the job completed, never failed with 137.
    let text = "title = \"t\"\norigin = \"t\"\nsystem = \"plan\"\nsemantics = \"event-loop\"\n\n[setup]\n\
                jobs = [{ name = \"A\", status = \"running\" }]\n\n[[actor]]\nname = \"user\"\ndo = [{ op = \"kill_job\", \
                job = \"A\" }]\n\n[[actor]]\nname = \"monitor\"\ndo = [{ op = \"monitor_poll\" }]\n\n[check]\ninvariants = \
                [\"no-lost-job-update\"]\n\n[[expect]]\nvariant = {}\nverdict = \"proved\"\n";
    let s = parse(Path::new("plan_models.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    let (ends, _) = outcomes(&s.model, &s.expectations[0].variant, &Explorer::Stateful, &Limits::default()).unwrap();
    assert!(ends.iter().all(|e| !e.contains("137")), "a killed pane read as exit 137: {ends:#?}");
    let window =
        ends.iter().filter(|e| e.contains(r#""completedAt""#) && e.contains(r#""status":"completed""#)).count();
    assert!(window > 0, "no poll fell between killSession and updateJob(stopped): {ends:#?}");
}

#[test]
fn launch_replaces_old_entries_only_since_fb82904() {
    // launchJob's bookkeeping: since fb82904 it removes the job's entries
    // that are not running (an unlocked loadJobState, then removeReport and
    // removeJob each) before addJob; before, addJob alone, and the earlier
    // launch's entry stays beside the new one.
    let entries = |report_match: &str| {
        let text =
            scenario(r#"jobs = [{ name = "A", status = "queued", state = "stopped" }]"#, r#"{ op = "reconcile" }"#)
                .replace("variant = {}", &format!("variant = {{ report_match = \"{report_match}\" }}"));
        let end = only_end(&text);
        let jobs = end.split(r#""jobs.json":"#).nth(1).expect("jobs.json in the end").split(r#""plan.json""#).next();
        let jobs = jobs.expect("jobs.json's entries");
        // The origin's ids are randomUUID()s: the launch's entry never takes
        // the setup entry's id, whatever the clock reads when it launches.
        let ids: Vec<&str> = jobs.split(r#""id":""#).skip(1).filter_map(|rest| rest.split('"').next()).collect();
        let distinct: std::collections::BTreeSet<&&str> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "two entries share an id: {ids:?}");
        jobs.matches(r#""name":"A""#).count()
    };
    assert_eq!(entries("running-first"), 1, "fb82904 leaves one entry for A");
    assert_eq!(entries("first"), 2, "before fb82904 the old entry stays");
}

#[test]
fn unlocked_job_state_writers_share_atomic_writes_temp_file() {
    // Before 6f3b0e5 addJob and updateJob write jobs.json with no lock, and
    // atomicWrite's temp file is `jobs.json.tmp` for every writer: when the
    // monitor's write and a launch's overlap, the first rename publishes the
    // temp file there and the second finds none (ENOENT), so launchJob's
    // catch fails the job. Under stateMutex the writes cannot overlap.
    let ends_with_enoent = |lock: &str| {
        let path = Path::new("scenarios/plan/unlocked-job-state-loses-a-launch.toml");
        let s = racecheck::scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        let e = s.expectations.iter().find(|e| e.label().contains(lock)).expect("the variant's expectation");
        let (ends, _) = outcomes(&s.model, &e.variant, &Explorer::Stateful, &Limits::default()).unwrap();
        ends.into_iter().filter(|end| end.contains("ENOENT")).collect::<Vec<_>>()
    };
    let overlapped = ends_with_enoent("unlocked");
    assert!(!overlapped.is_empty(), "no overlap of the two writers made a rename throw");
    assert!(ends_with_enoent("state-mutex").is_empty());
    // When the monitor's rename publishes the launch's temp file (C's entry
    // in, A still running), the monitor's A=completed is lost: the
    // invariant says so, though no write reverted what was on disk.
    let published_the_launchs = |end: &String| {
        let jobs = end.split(r#""jobs.json":"#).nth(1).and_then(|j| j.split(r#""plan.json""#).next()).unwrap();
        jobs.contains(r#""name":"C""#) && !jobs.contains(r#""status":"completed""#)
    };
    let lost: Vec<&String> = overlapped.iter().filter(|end| published_the_launchs(end)).collect();
    assert!(!lost.is_empty(), "{overlapped:#?}");
    for end in lost {
        assert!(end.starts_with(r#"broken=["no-lost-job-state-update"]"#), "{end}");
    }
}
