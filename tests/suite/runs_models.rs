//! The runs system beyond the scenario files' own expectations (which
//! tests/scenarios.rs checks): shuttle's samplers on the buggy variants,
//! threads semantics, and the errors a bad scenario gets.

use racecheck::execution::Model;
use racecheck::explore::{Explorer, Limits, Verdict, explore};
use racecheck::runtime::Semantics;
use racecheck::scenario::{Expected, Scenario, load};
use racecheck::systems::args::PathSeg;
use racecheck::systems::{CompileError, FieldError, Variant, find};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

fn scenario(stem: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/runs").join(format!("{stem}.toml"));
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn show(v: &Verdict) -> String {
    match v {
        Verdict::Violation(f) => {
            let mut s = format!("violation of {}: {}\n", f.violation.invariant, f.violation.message);
            for e in &f.events {
                s += &format!("   {:>3} {:<14} {:<30} {:<28} {:?}\n", e.step, e.task, e.op, e.func, e.effect);
            }
            s
        }
        other => format!("{other:?}"),
    }
}

/// Shuttle's samplers find every violation the scenario expects.
fn check_samplers(stem: &str) {
    let s = scenario(stem);
    for x in &s.expectations {
        let Expected::Violation { invariant } = &x.expected else { continue };
        let variant = &x.variant;
        for explorer in
            [Explorer::Pct { depth: 3, schedules: 2000, seed: 1 }, Explorer::Random { schedules: 2000, seed: 1 }]
        {
            let r = explore(&s.model, variant, &explorer, &Limits::default());
            eprintln!(
                "{} [{variant}] {}: {} in {} executions, {:.2?}",
                s.name,
                explorer.describe(),
                r.verdict.name(),
                r.executions,
                r.elapsed
            );
            if std::env::var_os("RUNS_TRACE").is_some() {
                eprintln!("{}", show(&r.verdict));
            }
            let Verdict::Violation(f) = &r.verdict else {
                panic!("{} [{variant}] {}: {}", s.name, explorer.describe(), show(&r.verdict))
            };
            assert_eq!(&f.violation.invariant, invariant);
        }
    }
}

macro_rules! scenario_tests {
    ($($test:ident => $stem:literal,)*) => {$(
        #[test]
        fn $test() {
            check_samplers($stem);
        }
    )*};
}

scenario_tests! {
    double_resume_web_cli => "double-resume-web-cli",
    double_resume_web_chat => "double-resume-web-chat",
    cancel_races_completion => "cancel-races-completion",
    stale_orphan_after_a_day => "stale-orphan-after-a-day",
    stale_orphan_double_claim => "stale-orphan-double-claim",
    chat_redispatch_one_conversation => "chat-redispatch-one-conversation",
    path_lock_fresh_vs_resume => "path-lock-fresh-vs-resume",
    path_lock_same_second => "path-lock-same-second",
    server_restart_orphans_live_cli_run => "server-restart-orphans-live-cli-run",
}

// ---------------------------------------------------------------------------
// Under preemptive threads: the CAS is one atomic statement, so it holds
// there too, and the conversation lock still serializes its chat messages.

#[test]
fn under_threads() {
    let cases = [
        ("double-resume-web-cli", "unguarded", "violation"),
        ("double-resume-web-cli", "cas", "proved"),
        ("chat-redispatch-one-conversation", "unguarded", "proved"),
    ];
    for (stem, choice, expected) in cases {
        let model = Model { semantics: Semantics::Threads, ..scenario(stem).model };
        let variant =
            Variant::complete(model.system.spec(), &BTreeMap::from([("resume_guard".to_string(), choice.to_string())]));
        let explorer = Explorer::Exhaustive { bound: Some(3) };
        let r = explore(&model, &variant, &explorer, &Limits::default());
        eprintln!(
            "runs/{stem} threads [{variant}] {}: {} in {} executions, {:.2?}",
            explorer.describe(),
            r.verdict.name(),
            r.executions,
            r.elapsed
        );
        assert_eq!(r.verdict.name(), expected, "{stem}: {}", show(&r.verdict));
    }
}

// ---------------------------------------------------------------------------
// What a scenario author sees for a bad file.

fn setup_x() -> Value {
    json!({ "rows": [{ "id": "X", "status": "failed", "working_path": "/wt/feature" }] })
}

fn compile(setup: Value, ops: &[Value]) -> Result<(), CompileError> {
    let actors = vec![(
        "a".to_string(),
        ops.iter().map(|op| (op["op"].as_str().unwrap().to_string(), op.as_object().unwrap().clone())).collect(),
    )];
    find("runs").unwrap().compile(&setup, &actors).map(|_| ())
}

fn op_error(ops: &[Value]) -> FieldError {
    match compile(setup_x(), ops) {
        Err(CompileError::Op { actor: 0, error, .. }) => error,
        other => panic!("expected an op error, got {other:?}"),
    }
}

fn setup_error(setup: Value) -> FieldError {
    match compile(setup, &[]) {
        Err(CompileError::Setup(error)) => error,
        other => panic!("expected a setup error, got {other:?}"),
    }
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_string())
}

#[test]
fn an_operation_may_target_a_run_another_creates() {
    // The fresh run of a CLI run without --resume, named by `new_run`.
    let fresh = json!({ "op": "cli_run", "path": "/wt/feature", "resume": false, "new_run": "R" });
    compile(setup_x(), &[fresh.clone(), json!({ "op": "web_cancel", "run": "R" })]).unwrap();
    // A CLI run with --resume creates nothing: its `new_run` names no target.
    let resuming = json!({ "op": "cli_run", "path": "/wt/feature", "new_run": "R" });
    let err = compile(setup_x(), &[resuming, json!({ "op": "web_cancel", "run": "R" })]).unwrap_err();
    let CompileError::Op { actor: 0, op: 1, error: e } = err else { panic!("{err:?}") };
    assert_eq!((e.path, e.valid), (vec![key("run")], vec!["X".to_string()]));
    // Two operations creating one name: the second is the error.
    let err = compile(setup_x(), &[fresh.clone(), fresh]).unwrap_err();
    let CompileError::Op { actor: 0, op: 1, error: e } = err else { panic!("{err:?}") };
    assert_eq!(e.path, vec![key("new_run")]);
    assert_eq!(e.found, "\"R\", which an earlier operation creates");
    // So are two default names of one actor.
    let default = json!({ "op": "chat_redispatch", "run": "X" });
    let err = compile(setup_x(), &[default.clone(), default]).unwrap_err();
    let CompileError::Op { actor: 0, op: 1, error: e } = err else { panic!("{err:?}") };
    assert_eq!(e.found, "\"a:new\", which an earlier operation creates");
}

#[test]
fn unknown_op_lists_the_operations() {
    let e = op_error(&[json!({ "op": "resume_wrokflow", "run": "X" })]);
    assert_eq!(e.path, vec![key("op")]);
    assert_eq!(e.expected, "an operation of the runs system");
    assert_eq!(e.found, "\"resume_wrokflow\"");
    let spec = find("runs").unwrap().spec();
    assert_eq!(e.valid, spec.ops.iter().map(|o| o.name.to_string()).collect::<Vec<_>>());
    assert!(e.valid.contains(&"resume_run".to_string()));
}

#[test]
fn unknown_run_id_lists_the_setup_rows() {
    let setup = json!({ "rows": [{ "id": "X", "status": "failed" }, { "id": "Y", "status": "paused" }] });
    let err = compile(setup, &[json!({ "op": "web_resume", "run": "Z" })]).unwrap_err();
    let CompileError::Op { actor: 0, op: 0, error: e } = err else { panic!("{err:?}") };
    assert_eq!(e.path, vec![key("run")]);
    assert_eq!(e.expected, "a run id of [setup] rows or a `new_run` of an operation");
    assert_eq!(e.found, "\"Z\"");
    // web_resume may start a fresh run itself, named `<actor>:new` by default.
    assert_eq!(e.valid, ["X", "Y", "a:new"]);
    // The second op of an actor is located as such.
    let err =
        compile(setup_x(), &[json!({ "op": "cli_resume", "run": "X" }), json!({ "op": "cancel_run", "run": "x" })])
            .unwrap_err();
    assert!(matches!(err, CompileError::Op { actor: 0, op: 1, .. }), "{err:?}");
}

#[test]
fn missing_run_arg() {
    let e = op_error(&[json!({ "op": "cancel_run" })]);
    assert_eq!(e.path, vec![key("run")]);
    assert_eq!(e.expected, "a `run` field");
    assert_eq!(e.found, "none");
}

#[test]
fn bad_status_lists_the_statuses() {
    let e = setup_error(json!({ "rows": [{ "id": "X", "status": "canceled" }] }));
    assert_eq!(e.path, vec![key("rows"), PathSeg::Index(0), key("status")]);
    assert_eq!(e.expected, "one of the `status` values");
    assert_eq!(e.found, "\"canceled\"");
    assert_eq!(e.valid, ["pending", "running", "paused", "failed", "completed", "cancelled"]);
    let e = setup_error(json!({ "rows": [{ "id": "X" }] }));
    assert_eq!(e.path, vec![key("rows"), PathSeg::Index(0), key("status")]);
    assert_eq!((e.expected.as_str(), e.found.as_str()), ("a `status` field", "none"));
    assert_eq!(e.valid.len(), 6);
}

#[test]
fn unknown_row_field_lists_the_fields() {
    let e = setup_error(json!({ "rows": [{ "id": "X", "status": "failed" }, { "id": "Y", "stauts": "failed" }] }));
    assert_eq!(e.path, vec![key("rows"), PathSeg::Index(1), key("stauts")]);
    assert_eq!(e.expected, "a known field");
    assert!(e.valid.contains(&"status".to_string()) && e.valid.contains(&"last_activity_days_ago".to_string()));
}

#[test]
fn duplicate_ids_and_bad_numbers() {
    let e = setup_error(json!({ "rows": [{ "id": "X", "status": "failed" }, { "id": "X", "status": "paused" }] }));
    assert_eq!(e.path, vec![key("rows"), PathSeg::Index(1), key("id")]);
    assert_eq!(e.found, "\"X\" again");
    let e = setup_error(json!({ "rows": [{ "id": "X", "status": "running", "last_activity_hours_ago": -2 }] }));
    assert_eq!(e.path, vec![key("rows"), PathSeg::Index(0), key("last_activity_hours_ago")]);
    assert_eq!((e.expected.as_str(), e.found.as_str()), ("a non-negative integer", "-2"));
    let e = setup_error(json!({ "layers": 0 }));
    assert_eq!(e.path, vec![key("layers")]);
    let e = setup_error(
        json!({ "rows": [{ "id": "X", "status": "running", "never_active": true, "last_activity_days_ago": 2 }] }),
    );
    assert_eq!(e.path, vec![key("rows"), PathSeg::Index(0), key("never_active")]);
}

#[test]
fn bad_expect_lists_the_operation_outcomes() {
    let e = op_error(&[json!({ "op": "web_cancel", "run": "X", "expect": "resumed" })]);
    assert_eq!(e.path, vec![key("expect")]);
    assert_eq!(e.found, "\"resumed\"");
    assert_eq!(e.valid, ["cancelled", "nothing-to-cancel", "rejected", "not-found"]);
}

#[test]
fn paths_workflows_and_new_ids_are_checked() {
    let e = op_error(&[json!({ "op": "cli_run", "path": "/wt/other" })]);
    assert_eq!((e.path.clone(), e.valid.clone()), (vec![key("path")], vec!["/wt/feature".to_string()]));
    let e = op_error(&[json!({ "op": "cli_run", "path": "/wt/feature", "workflow": "nope" })]);
    assert_eq!((e.path.clone(), e.valid.clone()), (vec![key("workflow")], vec!["fix-issue".to_string()]));
    let e = op_error(&[json!({ "op": "cli_run", "path": "/wt/feature", "resume": false, "new_run": "X" })]);
    assert_eq!(e.path, vec![key("new_run")]);
    let e = op_error(&[json!({ "op": "advance_clock" })]);
    assert_eq!(e.found, "no time");
    let e = op_error(&[json!({ "op": "heartbeat", "run": "X", "expect": "completed" })]);
    assert_eq!(e.path, vec![key("expect")]);
    assert_eq!(e.expected, "a known field");
}

#[test]
fn spec_is_complete() {
    let spec = find("runs").unwrap().spec();
    for knob in spec.knobs {
        assert!(knob.choices.iter().any(|(c, _)| *c == knob.default), "{}", knob.name);
        assert!(knob.choices.iter().all(|(_, about)| !about.is_empty()));
    }
    assert_eq!(spec.knob("resume_guard").unwrap().default, "cas");
    assert_eq!(spec.knob("cancel_guard").unwrap().default, "terminal-guard");
    for name in ["single-owner", "terminal-is-final", "cancel-is-truthful", "outcome-as-expected"] {
        assert!(spec.invariant(name).is_some(), "{name}");
    }
    for op in ["find_resumable_run", "resume_run", "cancel_run", "complete_run", "fail_run", "pause_run", "heartbeat"] {
        assert!(spec.op(op).is_some(), "{op}");
    }
    // Every scenario file compiles and names invariants of the system.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/runs");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let s = load(&entry.unwrap().path()).unwrap_or_else(|e| panic!("{e}"));
        for inv in &s.model.invariants {
            assert!(spec.invariant(inv).is_some(), "{}: {inv}", s.name);
        }
        count += 1;
    }
    assert!(count >= 9);
}

#[test]
fn only_an_interactive_loop_makes_a_run_with_no_completed_node_resumable() {
    // hydrateResumableRun: no completed node, and metadata.approval.type is
    // 'interactive_loop' → resumed; another gate or loop_user_input alone →
    // nothing to resume. One actor, so `outcome-as-expected` is proved iff
    // the outcome is the one named.
    for (metadata, outcome) in [
        (r#"{ approval = { type = "interactive_loop" } }"#, "resumed"),
        (r#"{ approval = { type = "approval" } }"#, "nothing-to-resume"),
        (r#"{ loop_user_input = "yes" }"#, "nothing-to-resume"),
        ("{}", "nothing-to-resume"),
    ] {
        let text = format!(
            "title = \"t\"\norigin = \"t\"\nsystem = \"runs\"\n\n[setup]\nrows = [{{ id = \"X\", status = \"paused\", completed_nodes = 0, \
             metadata = {metadata} }}]\n\n[[actor]]\nname = \"a\"\ndo = [{{ op = \"hydrate_resumable_run\", run = \"X\", \
             expect = \"{outcome}\" }}]\n\n[check]\ninvariants = [\"outcome-as-expected\"]\n\n\
             [[expect]]\nvariant = {{}}\nverdict = \"violation\"\ninvariant = \"outcome-as-expected\"\n"
        );
        let s = racecheck::scenario::parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
        let report = explore(&s.model, &s.expectations[0].variant, &Explorer::Stateful, &Limits::default());
        assert!(matches!(report.verdict, Verdict::Proved { .. }), "{metadata}: {}", show(&report.verdict));
    }
}

#[test]
fn a_node_stream_heartbeats_only_a_run_still_running_or_paused() {
    // executeNodeInternal's first message: the cancel check comes before the
    // heartbeat, and a run no longer running or paused aborts the stream,
    // so a cancelled run's last_activity_at stays as it was. A paused run
    // streams on (an approval node in the same layer paused it) and gets
    // its heartbeat. The model before this check heartbeat every layer.
    // The row was never active, so a heartbeat shows as last_activity_at.
    for (status, heartbeats) in [("cancelled", false), ("failed", false), ("paused", true), ("running", true)] {
        let text = format!(
            "title = \"t\"\norigin = \"t\"\nsystem = \"runs\"\n\n[setup]\nlayers = 1\nrows = [{{ id = \"X\", status = \"{status}\", \
             working_path = \"/w\", never_active = true }}]\n\n[[actor]]\nname = \"executor\"\ndo = [{{ op = \"execute_workflow\", run = \"X\" }}]\n\n\
             [check]\ninvariants = [\"terminal-is-final\"]\n\n[[expect]]\nvariant = {{}}\nverdict = \"proved\"\n"
        );
        let s = racecheck::scenario::parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
        let model = &s.model;
        let (ends, _) =
            racecheck::explore::outcomes(model, &s.expectations[0].variant, &Explorer::Dpor, &Limits::default())
                .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(ends.len(), 1, "{status}: one actor, one end: {ends:?}");
        let end = ends.iter().next().expect("one end");
        assert_eq!(!end.contains("\"last_activity_at\":null"), heartbeats, "{status}: {end}");
    }
}

#[test]
fn a_web_dispatch_with_nothing_to_resume_goes_to_a_background_worker_unless_interactive() {
    // dispatchOrchestratorWorkflow with no resumable run: a web message of a
    // non-interactive workflow goes to dispatchBackgroundWorkflow; a chat
    // platform's, or an interactive workflow's, runs in the foreground.
    for (platform, interactive, outcome) in [
        ("web", false, "dispatched"),
        ("web", true, "fresh-run"),
        ("chat", false, "fresh-run"),
        ("chat", true, "fresh-run"),
    ] {
        let text = format!(
            "title = \"t\"\norigin = \"t\"\nsystem = \"runs\"\n\n[setup]\ninteractive = {interactive}\nrows = [{{ id = \"X\", \
             status = \"completed\" }}]\n\n[[actor]]\nname = \"a\"\ndo = [{{ op = \"chat_redispatch\", run = \"X\", \
             platform = \"{platform}\", expect = \"{outcome}\" }}]\n\n[check]\ninvariants = [\"outcome-as-expected\"]\n\n\
             [[expect]]\nvariant = {{}}\nverdict = \"violation\"\ninvariant = \"outcome-as-expected\"\n"
        );
        let s = racecheck::scenario::parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
        let report = explore(&s.model, &s.expectations[0].variant, &Explorer::Stateful, &Limits::default());
        let case = format!("{platform}, interactive = {interactive}");
        assert!(matches!(report.verdict, Verdict::Proved { .. }), "{case}: {}", show(&report.verdict));
    }
}

#[test]
fn an_aborted_stream_fails_its_node_so_the_executor_fails_the_run_it_finds_running_again() {
    // executeNodeInternal: a stream aborted on a run no longer running or
    // paused ends its node `failed`, so executeDagWorkflow's final write is
    // failWorkflowRun. Here X is failed under its live executor, which then
    // aborts its stream; a resumer claims X before the executor's layer-end
    // poll, which reads running again: the executor goes on to
    // skipIfStatusChanged (running) and fails X, the resumer's run. With
    // every node ending completed, only such an executor writes "a node
    // failed" (fail_run and the backstop write other errors).
    let text = "title = \"t\"\norigin = \"t\"\nsystem = \"runs\"\n\n[setup]\nlayers = 1\nrows = [{ id = \"X\", status = \
                \"running\", completed_nodes = 2 }]\n\n[[actor]]\nname = \"executor\"\ndo = [{ op = \"execute_workflow\", \
                run = \"X\" }]\n\n[[actor]]\nname = \"other\"\ndo = [{ op = \"fail_run\", run = \"X\" }, { op = \
                \"cli_resume\", run = \"X\" }]\n\n[check]\ninvariants = [\"terminal-is-final\"]\n\n[[expect]]\nvariant = \
                { backstop = \"none\" }\nverdict = \"proved\"\n";
    let s = racecheck::scenario::parse(Path::new("x.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    let (ends, _) =
        racecheck::explore::outcomes(&s.model, &s.expectations[0].variant, &Explorer::Dpor, &Limits::default())
            .unwrap_or_else(|e| panic!("{e}"));
    let failed_by_a_node = ends.iter().filter(|end| end.contains("a node failed")).count();
    assert!(failed_by_a_node > 0, "no end where the executor failed the resumed run: {ends:#?}");
}

#[test]
fn a_path_lock_loser_cancels_its_row_with_a_completed_at() {
    // The path lock's loser (a --no-worktree run in X's checkout) calls
    // updateWorkflowRun(id, { status:
    // 'cancelled' }), which stamps completed_at for completed, failed and
    // cancelled (workflows.ts at 8d6be1cf).
    let text = "title = \"t\"\norigin = \"t\"\nsystem = \"runs\"\n\n[setup]\nrows = [{ id = \"X\", status = \"running\", \
                working_path = \"/w\" }]\n\n[[actor]]\nname = \"cli\"\ndo = [{ op = \"cli_run\", path = \"/w\", resume = \
                false, no_worktree = true, new_run = \"N\", expect = \"path-locked\" }]\n\n[check]\ninvariants = [\"outcome-as-expected\"]\n\n\
                [[expect]]\nvariant = {}\nverdict = \"proved\"\n";
    let s = racecheck::scenario::parse(Path::new("x.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    let (ends, _) =
        racecheck::explore::outcomes(&s.model, &s.expectations[0].variant, &Explorer::Dpor, &Limits::default())
            .unwrap_or_else(|e| panic!("{e}"));
    let end = ends.iter().next().expect("an end");
    let n: Value = serde_json::from_str(end.split_once("state=").expect("a state").1).expect("JSON");
    let n = &n["runs"]["N"];
    assert_eq!(n["status"], "cancelled", "{end}");
    assert!(n["completed_at"].is_string(), "the loser's row has no completed_at: {end}");
}

#[test]
fn the_web_resume_button_refuses_a_run_the_cli_started() {
    // api.ts at 8d6be1cf: a run whose parent conversation is not a web one
    // gets a 400 ("use `archon workflow resume`"), before any dispatch.
    for (conversation, outcome) in [("cli-X", "rejected"), ("conv-1", "resumed")] {
        let text = format!(
            "title = \"t\"\norigin = \"t\"\nsystem = \"runs\"\n\n[setup]\nrows = [{{ id = \"X\", status = \"failed\", \
             conversation = \"{conversation}\" }}]\n\n[[actor]]\nname = \"web\"\ndo = [{{ op = \"web_resume\", run = \"X\", \
             expect = \"{outcome}\" }}]\n\n[check]\ninvariants = [\"outcome-as-expected\"]\n\n[[expect]]\nvariant = {{}}\n\
             verdict = \"proved\"\n"
        );
        let s = racecheck::scenario::parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
        let report = explore(&s.model, &s.expectations[0].variant, &Explorer::Stateful, &Limits::default());
        assert!(matches!(report.verdict, Verdict::Proved { .. }), "{conversation}: {}", show(&report.verdict));
    }
}

#[test]
fn a_fresh_cli_run_gets_a_worktree_of_its_own_unless_no_worktree() {
    // workflowRunCommand: isolation by default for a run without --resume
    // (provider.create makes a new worktree); --no-worktree runs in the
    // checkout. Beside a live run in /w, only the latter meets the path lock.
    for (no_worktree, outcome) in [(false, "fresh-run"), (true, "path-locked")] {
        let text = format!(
            "title = \"t\"\norigin = \"t\"\nsystem = \"runs\"\n\n[setup]\nrows = [{{ id = \"X\", status = \"running\", \
             working_path = \"/w\" }}]\n\n[[actor]]\nname = \"cli\"\ndo = [{{ op = \"cli_run\", path = \"/w\", resume = false, \
             no_worktree = {no_worktree}, new_run = \"N\", expect = \"{outcome}\" }}]\n\n[check]\ninvariants = \
             [\"outcome-as-expected\"]\n\n[[expect]]\nvariant = {{}}\nverdict = \"proved\"\n"
        );
        let s = racecheck::scenario::parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
        let report = explore(&s.model, &s.expectations[0].variant, &Explorer::Stateful, &Limits::default());
        assert!(
            matches!(report.verdict, Verdict::Proved { .. }),
            "no_worktree {no_worktree}: {}",
            show(&report.verdict)
        );
    }
}

#[test]
fn a_resume_skips_the_layers_its_completed_nodes_fill() {
    // dag-executor.ts at 8d6be1cf: a node in priorCompletedNodes only awaits
    // logNodeSkip and reuses its output: no stream, so no status check and no
    // heartbeat. The poll after each layer still runs.
    let events = |completed_layers: u64| {
        let text = format!(
            "title = \"t\"\norigin = \"t\"\nsystem = \"runs\"\n\n[setup]\nlayers = 2\nrows = [{{ id = \"X\", status = \"failed\", \
             working_path = \"/w\", completed_nodes = 2, completed_layers = {completed_layers} }}]\n\n[[actor]]\nname = \"r\"\n\
             do = [{{ op = \"cli_resume\", run = \"X\" }}]\n\n[check]\ninvariants = [\"single-owner\"]\n\n[[expect]]\n\
             variant = {{}}\nverdict = \"proved\"\n"
        );
        let s = racecheck::scenario::parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
        let variant = &s.expectations[0].variant;
        // One actor: the error of a too-long schedule says how many steps it took.
        let Err(e) = racecheck::explore::replay(&s.model, variant, &"r*1000".parse().unwrap()) else { panic!() };
        let steps = e.rsplit_once("did r*").map(|(_, n)| n.trim()).unwrap_or_else(|| panic!("{e}"));
        let outcome = racecheck::explore::replay(&s.model, variant, &format!("r*{steps}").parse().unwrap()).unwrap();
        let count = |func: &str| outcome.events.iter().filter(|e| e.func == func).count();
        (
            count("updateWorkflowActivity"),
            count("getWorkflowRunStatus"),
            outcome.events.iter().filter(|e| e.note("node-skipped").is_some()).count(),
        )
    };
    // Each streamed layer: a check and a heartbeat; every layer: a poll;
    // then skipIfStatusChanged and the backstop's read.
    assert_eq!(events(0), (2, 2 + 2 + 2, 0));
    assert_eq!(events(1), (1, 1 + 2 + 2, 1));
    assert_eq!(events(2), (0, 2 + 2, 2));
}

#[test]
fn completed_layers_fit_the_completed_nodes_and_the_dag() {
    let row = |extra: &str| {
        json!({"layers": 2, "rows": [serde_json::from_str::<Value>(&format!(
        "{{\"id\": \"X\", \"status\": \"failed\", \"completed_nodes\": 2{extra}}}")).unwrap()]})
    };
    let path = vec![key("rows"), PathSeg::Index(0), key("completed_layers")];
    let e = setup_error(row(", \"completed_layers\": 3"));
    assert_eq!(e.path, path);
    assert!(e.expected.contains("at most completed_nodes (2)"), "{e:?}");
    let mut too_many = row(", \"completed_layers\": 2");
    too_many["layers"] = json!(1);
    let e = setup_error(too_many);
    assert_eq!((e.path.clone(), e.expected.as_str()), (path.clone(), "at most layers (1)"));
    for ends in ["paused", "failed"] {
        let e = setup_error(row(&format!(", \"completed_layers\": 2, \"ends\": \"{ends}\"")));
        assert_eq!(e.path, path);
        assert!(e.expected.starts_with("fewer than layers (2)"), "{e:?}");
    }
    assert!(compile(row(", \"completed_layers\": 2"), &[json!({"op": "cli_resume", "run": "X"})]).is_ok());
}
