//! The manifest system's scenarios (`scenarios/manifest/*.toml`) beyond
//! their own expectations (which tests/scenarios.rs checks): a violation's
//! message locates the race by step, the buggy variants are also found by
//! shuttle's pct and random schedulers, every scenario runs under threads
//! semantics, operations do what they should one at a time, and bad
//! arguments give precise field errors.

use racecheck::execution::Model;
use racecheck::explore::{Explorer, Limits, Report, Verdict, explore};
use racecheck::runtime::Semantics;
use racecheck::scenario::{Expected, Scenario, check_expectation, load};
use racecheck::systems::args::PathSeg;
use racecheck::systems::{Args, CompileError, FieldError, Variant, find};
use serde_json::{Value, json};
use std::path::PathBuf;

const SCENARIOS: &[&str] = &[
    "debounce-window-clobber",
    "heartbeats-make-the-leads-patch-conflict",
    "claim-reopens-a-finished-task",
    "self-write-window-clobber",
    "unlocked-reload-reverts-cache",
    "rename-window-clobber",
    "reload-outside-mutex-reverts-cache",
    "same-generation-write-slips-through",
    "foreign-claim-overwritten",
    "checkout-swaps-run-bundle",
    "shared-debounce-drops-manifest-reload",
    "shared-debounce-leaves-a-run-suspended",
    "self-write-window-hides-external-change",
    "self-write-window-hides-external-change-after-a-patch",
    "generation-goes-backwards",
    "conflict-refresh-lets-the-next-writer-rebase",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/manifest")
}

fn scenario(name: &str) -> Scenario {
    load(&dir().join(format!("{name}.toml"))).unwrap_or_else(|e| panic!("{e}"))
}

fn show(name: &str, variant: &Variant, r: &Report) {
    eprintln!(
        "{name} [{variant}] {}: {} after {} executions in {:.2}s",
        r.explorer.describe(),
        r.verdict.name(),
        r.executions,
        r.elapsed.as_secs_f64()
    );
    if let Verdict::Violation(f) = &r.verdict {
        eprintln!("    {}: {}", f.violation.invariant, f.violation.message);
        if std::env::var_os("MANIFEST_TRACE").is_some() {
            for e in &f.events {
                eprintln!("    {:>3} {:<14} {:<34} {:<22} {:?}", e.step, e.task, e.op, e.func, e.effect);
            }
        }
    }
    if let Verdict::Incomplete { reason } = &r.verdict {
        eprintln!("    {reason}");
    }
}

/// Each violation a scenario expects: under its own explorer the message
/// says at which step the race happened, and shuttle's random and PCT
/// schedulers find it too.
fn check(name: &str) {
    let s = scenario(name);
    for x in &s.expectations {
        let Expected::Violation { invariant } = &x.expected else { continue };
        let variant = &x.variant;
        let c = check_expectation(&s, x, &s.explore, &Limits::default());
        show(name, variant, &c.report);
        let Verdict::Violation(f) = &c.report.verdict else {
            panic!("{name} [{variant}]: expected violation, got {}", c.report.verdict.name())
        };
        assert_eq!(&f.violation.invariant, invariant, "{name} [{variant}]");
        assert!(f.violation.message.contains("step"), "{}", f.violation.message);
        for explorer in
            [Explorer::Random { schedules: 2000, seed: 1 }, Explorer::Pct { depth: 3, schedules: 2000, seed: 1 }]
        {
            let r = explore(&s.model, variant, &explorer, &Limits::default());
            show(name, variant, &r);
            match &r.verdict {
                Verdict::Violation(f) => assert_eq!(&f.violation.invariant, invariant),
                other => {
                    panic!("{name} [{variant}] {}: expected violation, got {}", explorer.describe(), other.name())
                }
            }
        }
    }
}

#[test]
fn every_scenario_file_is_tested() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_string))
        .collect();
    files.sort();
    let mut known: Vec<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(files, known);
}

#[test]
fn debounce_window_clobber() {
    check("debounce-window-clobber");
}

#[test]
fn self_write_window_clobber() {
    check("self-write-window-clobber");
}

#[test]
fn unlocked_reload_reverts_cache() {
    check("unlocked-reload-reverts-cache");
}

#[test]
fn rename_window_clobber() {
    check("rename-window-clobber");
}

#[test]
fn reload_outside_mutex_reverts_cache() {
    check("reload-outside-mutex-reverts-cache");
}

#[test]
fn same_generation_write_slips_through() {
    check("same-generation-write-slips-through");
}

#[test]
fn foreign_claim_overwritten() {
    check("foreign-claim-overwritten");
}

#[test]
fn checkout_swaps_run_bundle() {
    check("checkout-swaps-run-bundle");
}

#[test]
fn shared_debounce_drops_manifest_reload() {
    check("shared-debounce-drops-manifest-reload");
}

#[test]
fn shared_debounce_leaves_a_run_suspended() {
    check("shared-debounce-leaves-a-run-suspended");
}

#[test]
fn claim_reopens_a_finished_task() {
    check("claim-reopens-a-finished-task");
}

#[test]
fn heartbeats_make_the_leads_patch_conflict() {
    check("heartbeats-make-the-leads-patch-conflict");
}

#[test]
fn self_write_window_hides_external_change() {
    check("self-write-window-hides-external-change");
}

#[test]
fn self_write_window_hides_external_change_after_a_patch() {
    check("self-write-window-hides-external-change-after-a-patch");
}

#[test]
fn generation_goes_backwards() {
    check("generation-goes-backwards");
}

#[test]
fn conflict_refresh_lets_the_next_writer_rebase() {
    check("conflict-refresh-lets-the-next-writer-rebase");
}

/// Every scenario also runs under preemptive threads without the model
/// getting stuck (the verdicts may differ: awaits are no longer the only
/// scheduling points).
#[test]
fn scenarios_run_under_threads_semantics() {
    for name in SCENARIOS {
        let mut s = scenario(name);
        s.model.semantics = Semantics::Threads;
        for x in &s.expectations {
            let variant = &x.variant;
            let r = explore(&s.model, variant, &Explorer::Random { schedules: 300, seed: 7 }, &Limits::default());
            show(&format!("{name} (threads)"), variant, &r);
            if let Verdict::Violation(f) = &r.verdict {
                assert_ne!(f.violation.invariant, "no-deadlock", "{name}: {}", f.violation.message);
            }
            assert!(!matches!(r.verdict, Verdict::Incomplete { .. }), "{name} [{variant}]");
        }
    }
}

// ---- one actor, one execution: what each operation does ----

fn run_alone(setup: Value, ops: Vec<Value>, choices: &[(&str, &str)]) -> racecheck::execution::Outcome {
    let system = find("manifest").unwrap();
    let ops = ops.into_iter().map(|o| (o["op"].as_str().unwrap().to_string(), args(o))).collect();
    let compiled = system.compile(&setup, &[("lead".to_string(), ops)]).unwrap();
    let model = Model {
        name: "manifest/alone".into(),
        system,
        compiled,
        semantics: Semantics::EventLoop,
        invariants: vec!["no-silent-overwrite".into(), "cache-never-regresses".into()],
        reachable: Vec::new(),
        reached: Default::default(),
        keep_final_states: true,
    };
    let choices = choices.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let variant = Variant::complete(system.spec(), &choices);
    let history = racecheck::history::History::new();
    racecheck::execution::execute::<racecheck::platform::Std>(
        &model,
        &variant,
        &racecheck::execution::DiskKind::Memory,
        &history,
    )
}

fn results(outcome: &racecheck::execution::Outcome) -> Vec<String> {
    outcome
        .events
        .iter()
        .filter_map(|e| e.note("patch-result").or_else(|| e.note("load-result")))
        .map(|d| d["result"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn operations_in_sequence() {
    let setup = json!({"generation": 2, "cached": false, "tasks": [{"id": "t1"}, {"id": "t2", "status": "claimed",
        "assignee": "someone", "lease_until": 500}]});
    let outcome = run_alone(
        setup,
        vec![
            json!({"op": "load_into_runtime"}),
            json!({"op": "claim_task", "task": "t1"}),
            json!({"op": "claim_task", "task": "t2"}),
            json!({"op": "advance_clock", "ms": 600}),
            json!({"op": "claim_task", "task": "t2", "lease_ms": 100}),
            json!({"op": "release_task", "task": "t1"}),
            json!({"op": "heartbeat"}),
            json!({"op": "manifest_patch", "if_match": "initial"}),
            json!({"op": "manifest_patch", "if_match": "disk", "task": "t1", "status": "done"}),
        ],
        &[("heartbeat", "direct-patch")],
    );
    assert_eq!(
        results(&outcome),
        ["ok", "ok", "claim_conflict", "ok", "ok", "ok", "etag_conflict", "ok"],
        "{:#?}",
        outcome.events
    );
    assert!(outcome.violation.is_none());
    let disk = &outcome.final_state.as_ref().expect("kept")["files"]["manifest.json"];
    assert_eq!(disk["serverGeneration"], 7);
    assert_eq!(disk["tasks"][0]["status"], "done");
    assert_eq!(disk["tasks"][1]["assigneeSessionId"], "lead");
    assert_eq!(disk["tasks"][1]["claimLeaseUntil"], 700);
    assert_eq!(disk["agents"][0]["lastHeartbeatAt"], 600);
    assert_eq!(disk["history"].as_array().unwrap().len(), 6);
    assert_eq!(outcome.final_state.as_ref().expect("kept")["files"][".gen"], "7");
    assert_eq!(outcome.final_state.as_ref().expect("kept")["runtime"]["manifest"]["etag"], disk["etag"]);
}

#[test]
fn watcher_reloads_and_suppresses() {
    // An external write reloads when the timer fires outside the window...
    let outcome = run_alone(
        json!({"generation": 3}),
        vec![json!({"op": "external_write", "generation": "bumped"}), json!({"op": "watcher_fire"})],
        &[],
    );
    assert_eq!(outcome.final_state.as_ref().expect("kept")["runtime"]["manifest"]["serverGeneration"], 4);
    assert_eq!(outcome.final_state.as_ref().expect("kept")["runtime"]["now"], 50);
    // ...is skipped inside the self-write window of a heartbeat (before #382)...
    let outcome = run_alone(
        json!({"generation": 3}),
        vec![json!({"op": "heartbeat"}), json!({"op": "external_write"}), json!({"op": "watcher_fire"})],
        &[("heartbeat", "direct-patch")],
    );
    assert!(outcome.events.iter().any(|e| e.note("reload-suppressed").is_some()));
    assert_eq!(outcome.final_state.as_ref().expect("kept")["runtime"]["manifest"]["serverGeneration"], 4);
    // ...and reloads once the clock has left the window.
    let outcome = run_alone(
        json!({"generation": 3}),
        vec![
            json!({"op": "heartbeat"}),
            json!({"op": "advance_clock", "ms": 1000}),
            json!({"op": "external_write"}),
            json!({"op": "watcher_fire"}),
        ],
        &[("heartbeat", "direct-patch")],
    );
    assert_eq!(outcome.final_state.as_ref().expect("kept")["runtime"]["manifest"]["serverGeneration"], 5);
    // Another run's manifest suspends the run; post-fix mutators refuse.
    let outcome = run_alone(
        json!({}),
        vec![
            json!({"op": "external_write", "generation": "other-run"}),
            json!({"op": "watcher_fire"}),
            json!({"op": "heartbeat"}),
        ],
        &[],
    );
    assert_eq!(outcome.final_state.as_ref().expect("kept")["runtime"]["suspended"], true);
    assert_eq!(results(&outcome), ["validation_failed"]);
    // Since the fix (83dfd7a8) the reload also drops the cache; before it
    // (884b8a40 to 7886961b) it only set `suspended`.
    let foreign_reload = |persist_check| {
        let ops = vec![json!({"op": "external_write", "generation": "other-run"}), json!({"op": "watcher_fire"})];
        let outcome = run_alone(json!({"cached": true}), ops, &[("persist_check", persist_check)]);
        let runtime = outcome.final_state.expect("kept")["runtime"].clone();
        assert_eq!(runtime["suspended"], true, "{persist_check}");
        (runtime["manifest"].is_null(), runtime["planMd"].is_null())
    };
    assert_eq!(foreign_reload("generation"), (true, true));
    assert_eq!(foreign_reload("etag-only"), (false, false));
    // loadIntoRuntime on another run's bundle: since the fix it suspends the
    // run (its caller refuses); before, it throws.
    let foreign_load = |persist_check| {
        let ops = vec![json!({"op": "external_write", "generation": "other-run"}), json!({"op": "load_into_runtime"})];
        results(&run_alone(json!({"cached": false}), ops, &[("persist_check", persist_check)]))
    };
    assert_eq!(foreign_load("generation"), ["validation_failed"]);
    assert_eq!(foreign_load("etag-only"), ["threw"]);
    // A plan.md edit under a shared timer clears the pending manifest reload.
    let outcome = run_alone(
        json!({}),
        vec![
            json!({"op": "external_write"}),
            json!({"op": "external_write", "file": "plan", "watched": true}),
            json!({"op": "watcher_fire", "file": "manifest"}),
        ],
        &[("debounce_timer", "shared")],
    );
    assert_eq!(outcome.final_state.as_ref().expect("kept")["runtime"]["manifest"]["serverGeneration"], 1);
    // The plan's timer, still armed when the actor is done, fires at
    // quiescence: it reloads plan.md only.
    let fired: Vec<&str> = outcome
        .events
        .iter()
        .filter(|e| e.note("watcher-fired").is_some())
        .map(|e| (&*e.task, e.note("watcher-fired").unwrap()["file"].as_str().unwrap()))
        .map(|(task, file)| if task == "timers" { file } else { "by the actor" })
        .collect();
    assert_eq!(fired, ["plan"]);
    assert_eq!(outcome.final_state.as_ref().expect("kept")["runtime"]["timers"].as_array().unwrap().len(), 0);
}

// ---- parse errors ----

fn args(v: Value) -> Args {
    v.as_object().unwrap().clone()
}

fn compile_error(setup: Value, ops: Vec<Value>) -> CompileError {
    let system = find("manifest").unwrap();
    let ops = ops.into_iter().map(|o| (o["op"].as_str().unwrap().to_string(), args(o))).collect();
    match system.compile(&setup, &[("lead".to_string(), ops)]) {
        Err(e) => e,
        Ok(_) => panic!("expected an error"),
    }
}

fn op_error(setup: Value, op: Value) -> FieldError {
    match compile_error(setup, vec![json!({"op": "heartbeat"}), op]) {
        CompileError::Op { actor: 0, op: 1, error } => error,
        other => panic!("{other:?}"),
    }
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.into())
}

#[test]
fn unknown_op_lists_the_operations() {
    let e = op_error(json!({}), json!({"op": "manifest_pach"}));
    assert_eq!(e.path, vec![key("op")]);
    assert_eq!(e.found, "\"manifest_pach\"");
    assert!(e.expected.contains("operation of the manifest system"), "{}", e.expected);
    for op in ["manifest_patch", "claim_task", "external_write", "watcher_fire", "advance_clock"] {
        assert!(e.valid.contains(&op.to_string()), "{:?}", e.valid);
    }
}

#[test]
fn unknown_task_lists_the_setup_tasks() {
    let setup = json!({"tasks": [{"id": "t1"}, {"id": "t2"}]});
    let e = op_error(setup.clone(), json!({"op": "claim_task", "task": "t9"}));
    assert_eq!(e.path, vec![key("task")]);
    assert_eq!(e.found, "\"t9\"");
    assert_eq!(e.valid, vec!["t1", "t2"]);
    let e = op_error(setup.clone(), json!({"op": "external_write", "task": "t3", "status": "done"}));
    assert_eq!((e.path, e.valid), (vec![key("task")], vec!["t1".to_string(), "t2".to_string()]));
    // A missing task is located at `task` too, with the same list.
    let e = op_error(setup, json!({"op": "release_task"}));
    assert_eq!((e.path, e.found, e.valid.len()), (vec![key("task")], "none".to_string(), 2));
}

#[test]
fn bad_values_are_located() {
    let e = op_error(json!({}), json!({"op": "external_write", "generation": "newer"}));
    assert_eq!(e.path, vec![key("generation")]);
    assert_eq!(e.found, "\"newer\"");
    assert_eq!(e.valid, vec!["bumped", "same", "other-run", "own-run"]);

    let e = op_error(json!({}), json!({"op": "manifest_patch", "if_match": "latest"}));
    assert_eq!((e.path, e.valid), (vec![key("if_match")], vec!["cached".into(), "initial".into(), "disk".into()]));

    let e = op_error(json!({}), json!({"op": "advance_clock", "ms": -5}));
    assert_eq!((e.path, e.expected.as_str(), e.found.as_str()), (vec![key("ms")], "a non-negative integer", "-5"));

    let e = op_error(json!({}), json!({"op": "watcher_fire", "file": "index.json"}));
    assert_eq!((e.path, e.valid), (vec![key("file")], vec!["manifest".to_string(), "plan".to_string()]));

    let e = op_error(json!({}), json!({"op": "external_write", "file": "plan", "generation": "bumped"}));
    assert_eq!(e.path, vec![key("generation")]);

    let e = op_error(json!({}), json!({"op": "claim_task", "task": "t1", "lease": 5}));
    assert_eq!(e.path, vec![key("lease")]);
    assert!(e.valid.contains(&"lease_ms".to_string()), "{:?}", e.valid);
}

#[test]
fn setup_errors_are_located() {
    let setup_error = |setup: Value| match compile_error(setup, vec![json!({"op": "heartbeat"})]) {
        CompileError::Setup(e) => e,
        other => panic!("{other:?}"),
    };
    let e = setup_error(json!({"tasks": [{"id": "t1", "status": "finished"}]}));
    assert_eq!(e.path, vec![key("tasks"), PathSeg::Index(0), key("status")]);
    assert!(e.valid.contains(&"done".to_string()));

    let e = setup_error(json!({"tasks": [{"id": "t1"}, {"id": "t1"}]}));
    assert_eq!(e.path, vec![key("tasks"), PathSeg::Index(1), key("id")]);

    let e = setup_error(json!({"external_writes": [{"generation": "bumped", "task": "t7"}]}));
    assert_eq!(e.path, vec![key("external_writes"), PathSeg::Index(0), key("task")]);
    assert_eq!(e.valid, vec!["t1"]);

    let e = setup_error(json!({"generation": 0}));
    assert_eq!(e.path, vec![key("generation")]);

    let e = setup_error(json!({"generaton": 4}));
    assert_eq!(e.path, vec![key("generaton")]);
    assert!(e.valid.contains(&"generation".to_string()));
}

#[test]
fn explain_rows_cover_every_knob_and_invariant() {
    let spec = find("manifest").unwrap().spec();
    let knobs: Vec<(&str, &str)> = spec.knobs.iter().map(|k| (k.name, k.default)).collect();
    assert_eq!(
        knobs,
        vec![
            ("persist_check", "generation"),
            ("watcher_reload", "inside-mutex"),
            ("claim_check", "terminal"),
            ("debounce_timer", "per-file"),
            ("heartbeat", "liveness-file")
        ]
    );
    for k in spec.knobs {
        assert!(k.choices.iter().any(|(c, _)| *c == k.default));
        assert!(k.choices.iter().all(|(_, about)| !about.is_empty()));
    }
    let invariants: Vec<&str> = spec.invariants.iter().map(|i| i.name).collect();
    for i in [
        "no-silent-overwrite",
        "generation-monotonic",
        "cache-never-regresses",
        "terminal-task-stays-done",
        "cache-catches-up",
    ] {
        assert!(invariants.contains(&i));
    }
}

#[test]
fn a_heartbeat_since_382_leaves_manifest_json_and_the_watcher_alone() {
    // 83dfd7a8: the cached agent's lastHeartbeatAt and heartbeats.json; no
    // persistManifest (generation and etag unchanged), no self-write window,
    // so an external write right after it is reloaded.
    let outcome = run_alone(
        json!({"generation": 3}),
        vec![
            json!({"op": "advance_clock", "ms": 7}),
            json!({"op": "heartbeat"}),
            json!({"op": "external_write"}),
            json!({"op": "watcher_fire"}),
        ],
        &[],
    );
    let state = outcome.final_state.as_ref().expect("kept");
    assert_eq!(results(&outcome), ["ok"]);
    assert_eq!(state["files"]["heartbeats.json"], json!({"lead": 7}));
    assert!(outcome.events.iter().all(|e| e.note("reload-suppressed").is_none()));
    assert_eq!(state["runtime"]["manifest"]["serverGeneration"], 4, "the external write was reloaded");
    // Alone, it changes neither manifest.json nor the cache's version.
    let outcome = run_alone(json!({"generation": 3}), vec![json!({"op": "heartbeat"})], &[]);
    let state = outcome.final_state.as_ref().expect("kept");
    assert_eq!(state["files"]["manifest.json"]["serverGeneration"], 3);
    assert_eq!(state["runtime"]["manifest"]["serverGeneration"], 3);
    assert_eq!(state["runtime"]["manifest"]["etag"], state["files"]["manifest.json"]["etag"]);
}

/// No actor fires the watcher: the timers the two external writes armed
/// fire when every actor is done, and cache-catches-up is judged after
/// that. (Judged with the timers still armed, it held whatever they would
/// do.) One shared timer drops the manifest's reload; per-file timers
/// reload both. Every explorer runs the timers at the same point.
#[test]
fn timers_left_armed_fire_at_quiescence() {
    let text = r#"
title = "t"
origin = "t"
system = "manifest"
semantics = "event-loop"

[setup]
generation = 4
cached = true

[[actor]]
name = "git-checkout"
do = [{ op = "external_write", file = "manifest", generation = "bumped" }]

[[actor]]
name = "editor"
do = [{ op = "external_write", file = "plan" }]

[check]
invariants = ["cache-catches-up"]

[[expect]]
variant = { debounce_timer = "shared" }
verdict = "violation"
invariant = "cache-catches-up"

[[expect]]
variant = { debounce_timer = "per-file" }
verdict = "proved"
"#;
    let s = racecheck::scenario::parse(std::path::Path::new("quiescence.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    for explorer in [Explorer::Stateful, Explorer::Dpor, Explorer::Exhaustive { bound: None }] {
        for e in &s.expectations {
            let report = explore(&s.model, &e.variant, &explorer, &Limits::default());
            show("quiescence", &e.variant, &report);
            let holds = match (&e.expected, &report.verdict) {
                (Expected::Violation { invariant }, Verdict::Violation(f)) => &f.violation.invariant == invariant,
                (Expected::Proved, Verdict::Proved { .. }) => true,
                _ => false,
            };
            assert!(holds, "{} under {}: {}", e.variant, explorer.describe(), report.verdict.name());
            if let Verdict::Violation(f) = &report.verdict {
                assert!(f.events.iter().any(|ev| &*ev.task == "timers"), "the timers fired as their own task");
            }
        }
    }
}
