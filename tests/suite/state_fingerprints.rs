//! What the stateful explorer's proofs stand on, each shown necessary by
//! breaking it on purpose:
//! - every kind of state is in a fingerprint: leaving one out merges states
//!   that differ in it, and the search misses ends (or its determinism
//!   check stops it);
//! - a model whose task keeps state outside the runtime is caught;
//! - a symmetry that does not hold changes what the search finds.

use crate::support::test_spec;

use racecheck::execution::Model;
use racecheck::explore::{Explorer, Limits, Reduction, Verdict, explore, outcomes, stateful_outcomes};
use racecheck::platform::Platform;
use racecheck::runtime::{Cx, Runtime, Semantics, StateParts, Symmetry};
use racecheck::scenario;
use racecheck::storage::{Contents, Disk, Files};
use racecheck::systems::{
    Args, DynSystem, FieldError, ModelSystem, Monitor, OpSpec, SystemSpec, Variant, World, disk_state,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn limit() -> Limits {
    Limits::time(Duration::from_secs(60))
}

fn shipped(file: &str, variant: &str) -> (Model, Variant) {
    let s = scenario::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file)).unwrap();
    let e = s.expectations.iter().find(|e| e.label() == variant).unwrap_or_else(|| panic!("{file}: no {variant}"));
    // Without the reachable conditions: their monitors would tell apart
    // states that the part left out is meant to.
    (Model { reachable: Vec::new(), ..s.model.clone() }, e.variant.clone())
}

/// For each kind of state, a shipped case whose ends change without it.
/// (The clock: no shipped case, since it counts readings; see
/// `tests/suite/task_chains.rs`.)
#[test]
fn every_kind_of_state_is_needed_in_a_fingerprint() {
    let all = StateParts::ALL;
    let cases = [
        ("shared values", StateParts { shared: false, ..all }, "runs/path-lock-fresh-vs-resume.toml", "cas"),
        ("flags", StateParts { flags: false, ..all }, "plan/cancel-races-failure.toml", "fields-only"),
        ("files", StateParts { files: false, ..all }, "plan/cancel-races-failure.toml", "whole-plan"),
        (
            "task-local state",
            StateParts { task_local: false, ..all },
            "plan/approve-races-completion.toml",
            "whole-plan",
        ),
        ("monitors", StateParts { monitors: false, ..all }, "plan/approve-races-completion.toml", "whole-plan"),
    ];
    for (what, parts, file, variant) in cases {
        let (model, variant) = shipped(file, variant);
        let (truth, _) = outcomes(&model, &variant, &Explorer::Dpor, &limit()).unwrap();
        let (full, _, _) = stateful_outcomes(&model, &variant, Reduction::default(), &limit()).unwrap();
        assert_eq!(full, truth, "{file}: the full fingerprint reaches dpor's ends");
        // Without the determinism check, the search goes on and misses ends.
        let blind = Reduction { parts, check_revisits: false, ..Reduction::default() };
        let (missing, _, _) = stateful_outcomes(&model, &variant, blind, &limit()).unwrap();
        assert!(missing.len() < truth.len(), "{file}: leaving {what} out changes nothing ({} ends)", missing.len());
        assert!(missing.is_subset(&truth), "{file}: leaving {what} out invents ends");
        // With it, the search either stops or still misses them: never a silent success.
        let checked = Reduction { parts, ..Reduction::default() };
        if let Ok((ends, _, _)) = stateful_outcomes(&model, &variant, checked, &limit()) {
            assert_ne!(ends, truth, "{file}: leaving {what} out and checking revisits still finds every end");
        }
        eprintln!("{what:<18} left out: {} of {} ends of {file} {variant}", missing.len(), truth.len());
    }
}

/// The determinism check catches what a missing part of the state does.
#[test]
fn the_determinism_check_catches_a_missing_task_chain() {
    let (model, variant) = shipped("plan/approve-races-completion.toml", "fields-only");
    let parts = StateParts { task_local: false, ..StateParts::ALL };
    let err = stateful_outcomes(&model, &variant, Reduction { parts, ..Reduction::default() }, &limit()).unwrap_err();
    assert!(err.contains("not deterministic"), "{err}");
}

// A model whose tasks keep a number the runtime does not see: each takes
// a number from a static counter when it marks, and writes it when it
// reports. Reset with the world, two orders of marking end in states the
// runtime cannot tell apart, from which the reports write different
// numbers; never reset, the counter differs from one execution to the next.

static TAKEN: AtomicUsize = AtomicUsize::new(0);
static RESET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

struct Hidden;

static HIDDEN_SPEC: SystemSpec = test_spec(
    "hidden",
    "tasks that keep a number outside the runtime",
    &[OpSpec { name: "mark_and_report", origin: "-", about: "take a number, write it", args: &[] }],
);

#[derive(Debug)]
struct MarkAndReport;

impl std::fmt::Display for MarkAndReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mark_and_report")
    }
}

struct HiddenWorld {
    files: Files,
    disk: Arc<dyn Disk>,
}

impl<P: Platform> World<P> for HiddenWorld {
    type Op = MarkAndReport;

    fn run(&self, cx: &mut Cx<'_, P>, _: &MarkAndReport) {
        // A blind write: the task learns nothing the runtime sees.
        self.files.write(cx, "mark", "marks", "marked", json!({})).unwrap();
        let mine = TAKEN.fetch_add(1, Ordering::SeqCst);
        let name = format!("report-{}", cx.task());
        self.files.write(cx, "report", &name, mine.to_string(), json!({})).unwrap();
    }

    fn final_state(&self) -> Value {
        disk_state(self.disk.as_ref())
    }
}

impl ModelSystem for Hidden {
    type Setup = ();
    type Op = MarkAndReport;
    type World<P: Platform> = HiddenWorld;

    fn spec(&self) -> &'static SystemSpec {
        &HIDDEN_SPEC
    }
    fn parse_setup(&self, _: &Value) -> Result<(), FieldError> {
        Ok(())
    }
    fn parse_op(&self, _: &(), _: &[String], _: &str, _: &Args) -> Result<MarkAndReport, FieldError> {
        Ok(MarkAndReport)
    }
    fn initial_files(&self, _: &()) -> Vec<(String, Contents)> {
        Vec::new()
    }
    fn build<P: Platform>(&self, _: &Arc<Runtime<P>>, disk: Arc<dyn Disk>, _: &(), _: &Variant) -> HiddenWorld {
        if RESET.load(Ordering::SeqCst) {
            TAKEN.store(0, Ordering::SeqCst);
        }
        HiddenWorld { files: Files::new(disk.clone()), disk }
    }
    fn monitor(&self, invariant: &str, _: &()) -> Box<dyn Monitor> {
        Box::new(racecheck::systems::monitor::Unknown(invariant.to_string()))
    }
}

static HIDDEN: Hidden = Hidden;

fn hidden_model() -> Model {
    let actors: Vec<(String, Vec<(String, Args)>)> =
        ["a", "b"].iter().map(|n| (n.to_string(), vec![("mark_and_report".to_string(), Args::new())])).collect();
    let system: &'static dyn DynSystem = &HIDDEN;
    let compiled = system.compile(&json!({}), &actors).unwrap_or_else(|_| panic!("the hidden model compiles"));
    Model::new("hidden/test", system, compiled, Semantics::EventLoop)
}

/// The tests of the hidden model share its static: one at a time.
static HIDDEN_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn tasks_keeping_state_outside_the_runtime_are_caught() {
    let _one = HIDDEN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let model = hidden_model();
    let variant = Variant::default();
    // A counter kept across executions: a replay does not come back to the
    // state it left.
    RESET.store(false, Ordering::SeqCst);
    let err = stateful_outcomes(&model, &variant, Reduction::default(), &limit()).unwrap_err();
    assert!(err.contains("not deterministic") && err.contains("keeps state the runtime does not see"), "{err}");
    let report = explore(&model, &variant, &Explorer::Stateful, &limit());
    let Verdict::Incomplete { reason } = &report.verdict else { panic!("got {}", report.verdict.name()) };
    assert!(reason.contains("not deterministic"), "{reason}");
    // A number taken anew in each execution: two states the runtime cannot
    // tell apart lead different ways, seen where the search reaches one of
    // them again (with sleep sets, the search may reach it along a path on
    // which it goes on instead, and not look).
    RESET.store(true, Ordering::SeqCst);
    let (by_loom, _) = outcomes(&model, &variant, &Explorer::Exhaustive { bound: None }, &limit()).unwrap();
    assert_eq!(by_loom.len(), 2, "both orders of taking numbers end differently");
    let no_sleep = Reduction { sleep_sets: false, ..Reduction::default() };
    let err = stateful_outcomes(&model, &variant, no_sleep.clone(), &limit()).unwrap_err();
    assert!(err.contains("not deterministic"), "{err}");
    // Without the check, the search would have gone on.
    let blind = Reduction { check_revisits: false, ..no_sleep };
    assert!(stateful_outcomes(&model, &variant, blind, &limit()).is_ok());
}

/// Actors taken as interchangeable when they are not (each writes a file
/// named after itself): by default a task reading its name voids the
/// class; trusted anyway, the determinism check compares the canonical
/// successors of a state reached twice, and catches it.
#[test]
fn a_symmetry_that_does_not_hold_is_caught() {
    let _one = HIDDEN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    RESET.store(true, Ordering::SeqCst);
    let model = hidden_model();
    let variant = Variant::default();
    let report = explore(&model, &variant, &Explorer::Stateful, &limit());
    assert!(report.symmetry.as_ref().is_err_and(|why| why.contains("read its name")), "{:?}", report.symmetry);
    let forced = Reduction {
        given_symmetry: Some(Symmetry { classes: vec![vec![0, 1]] }),
        name_guard: false,
        sleep_sets: false,
        ..Reduction::default()
    };
    let err = stateful_outcomes(&model, &variant, forced.clone(), &limit()).unwrap_err();
    assert!(err.contains("not deterministic"), "{err}");
    let blind = Reduction { check_revisits: false, ..forced };
    assert!(stateful_outcomes(&model, &variant, blind, &limit()).is_ok(), "without the check it goes on");
}
