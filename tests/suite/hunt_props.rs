//! Generated scenarios (src/hunt): per knob, the fixed choice holds on every
//! generated scenario of its scope; each buggy choice is found, shrunk to a
//! small scenario, and written as a file `racecheck check` accepts.
//!
//! Every search is seeded, so each test sees the same scenarios every run.

use racecheck::explore::Limits;
use racecheck::hunt::{
    self, HuntConfig, Outcome, Probe, SCOPES, Sampling, Scope, Search, as_property, minimize, probe, search,
};
use racecheck::scenario::{self, Document, check_expectation, parse_document};
use std::collections::BTreeMap;

/// Cases and schedules of the fixed-variant properties (each well under 20 s).
const CASES: u32 = 96;
const SCHEDULES: usize = 300;
const SEED: u64 = 11;

fn scope(system: &str, knob: &str, fixed: &str) -> &'static Scope {
    SCOPES.iter().find(|s| s.system == system && s.knob == knob && s.fixed == fixed).expect("a scope")
}

/// The fixed choice holds on `CASES` generated scenarios of its scope.
fn fixed_holds(system: &str, knob: &str, fixed: &str) {
    let scope = scope(system, knob, fixed);
    let choices = scope.fixed_choices();
    let sampling = Sampling { schedules: SCHEDULES, seed: SEED, depth: 3 };
    let result =
        search(&scope.vocabulary(), move |d| as_property(d, &choices, sampling), CASES, SEED, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", scope.label()));
    match result {
        Search::Held { cases } => assert_eq!(cases, CASES as usize),
        Search::Failed(s) => panic!(
            "{}: the fixed choice violates an invariant of its scope (a finding: save it under scenarios/):\n{}",
            scope.label(),
            s.minimal.to_toml().unwrap_or_default()
        ),
    }
}

#[test]
fn plan_fields_only_never_loses_a_job_update() {
    fixed_holds("plan", "checkpoint_write", "fields-only");
}

#[test]
fn plan_rerun_sees_every_trigger_on_an_event_loop() {
    fixed_holds("plan", "reconcile_guard", "rerun");
}

#[test]
fn plan_rerun_preemptive_sees_every_trigger_under_threads() {
    fixed_holds("plan", "reconcile_guard", "rerun-preemptive");
}

#[test]
fn runs_cas_keeps_one_owner() {
    fixed_holds("runs", "resume_guard", "cas");
}

#[test]
fn runs_terminal_guard_keeps_terminal_rows_final() {
    fixed_holds("runs", "cancel_guard", "terminal-guard");
}

#[test]
fn runs_guarded_completion_never_overwrites_a_cancel() {
    fixed_holds("runs", "complete_guard", "running");
}

#[test]
fn manifest_generation_check_never_overwrites_silently() {
    fixed_holds("manifest", "persist_check", "generation");
}

#[test]
fn manifest_reload_inside_mutex_never_regresses_the_cache() {
    fixed_holds("manifest", "watcher_reload", "inside-mutex");
}

#[test]
fn manifest_per_file_timers_let_the_cache_catch_up() {
    fixed_holds("manifest", "debounce_timer", "per-file");
}

/// Hunts `system` under `variant`; the violation must be found, shrunk to
/// at most `max_actors` actors, and 1-minimal: no actor or operation can go.
fn found(system: &str, variant: &str, max_actors: usize) -> hunt::Finding {
    let config = HuntConfig { seed: SEED, ..HuntConfig::new(system, variant) };
    let result = hunt::hunt(&config).unwrap_or_else(|e| panic!("{system} {variant}: {e}"));
    let Outcome::Found(finding) = result.outcome else {
        panic!("{system} {variant}: no violation in {} cases", config.cases)
    };
    let (a0, o0) = finding.first_size;
    let (a1, o1) = finding.proptest_size;
    let (a2, o2) = finding.size;
    assert!(a1 <= a0 && o1 <= o0 && a2 <= a1 && o2 <= o1, "{finding:?}");
    assert!(a2 <= max_actors, "{system} {variant}: {a2} actors left:\n{}", text(&finding.document));
    // 1-minimal: as a property document again, nothing more can be removed.
    let choices = hunt::parse_variant(racecheck::systems::find(system).unwrap().spec(), variant).unwrap();
    let sampling = Sampling { schedules: config.schedules, seed: config.seed, depth: 3 };
    let property = as_property(body(&finding.document), &choices, sampling);
    let fails = |d: &Document| matches!(probe(d, &Limits::default()), Probe::Violates { .. });
    assert!(fails(&property), "the shrunk scenario shows no violation:\n{}", text(&property));
    let (_, removals) = minimize(property, fails);
    assert_eq!(removals, 0, "{system} {variant}: the shrunk scenario is not minimal");
    *finding
}

/// `doc` without title, story, explore and expectations.
fn body(doc: &Document) -> Document {
    Document { story: Vec::new(), explore: None, expects: Vec::new(), ..doc.clone() }
}

fn text(doc: &Document) -> String {
    doc.to_toml().unwrap_or_else(|e| e.to_string())
}

/// Writes `finding`, loads the file as `racecheck check` does, and checks
/// every expectation: the buggy one and the fixed counterpart.
fn written_file_checks(finding: &hunt::Finding) {
    let dir = tempfile::tempdir().unwrap();
    let path = hunt::write(finding, None, dir.path()).unwrap();
    let stem = path.file_stem().unwrap().to_str().unwrap();
    assert!(stem.starts_with("hunted-") && path.parent().unwrap().ends_with(&finding.document.system), "{path:?}");
    let s = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.expectations.len(), 2, "a buggy and a fixed expectation");
    for e in &s.expectations {
        let check = check_expectation(&s, e, &s.explore, &Limits::default());
        assert!(check.holds, "{}: {} got {:?}", s.name, e.label(), check.report.verdict.name());
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(parse_document(&path, &text).unwrap(), finding.document);
    assert!(s.story.starts_with("Found by `racecheck hunt --system"), "{}", s.story);
}

#[test]
fn hunt_finds_and_shrinks_the_stale_checkpoint_write() {
    let f = found("plan", "checkpoint_write=whole-plan", 2);
    assert_eq!(f.invariant, "no-lost-job-update");
    written_file_checks(&f);
}

#[test]
fn hunt_finds_the_dropped_reconcile_trigger() {
    let f = found("plan", "reconcile_guard=drop", 2);
    assert_eq!(f.invariant, "every-trigger-seen");
    written_file_checks(&f);
}

#[test]
fn hunt_finds_the_dirty_flag_port_to_threads() {
    let f = found("plan", "reconcile_guard=rerun", 2);
    assert_eq!(f.invariant, "every-trigger-seen");
    assert_eq!(f.document.semantics.as_deref(), Some("threads"));
    written_file_checks(&f);
}

#[test]
fn hunt_finds_the_double_resume() {
    let f = found("runs", "resume_guard=unguarded", 2);
    assert_eq!(f.invariant, "single-owner");
    written_file_checks(&f);
}

#[test]
fn hunt_finds_both_cancel_bugs() {
    let f = found("runs", "cancel_guard=unguarded", 2);
    assert_eq!(f.invariant, "terminal-is-final");
    written_file_checks(&f);
    let f = found("runs", "cancel_guard=guard-void", 2);
    assert_eq!(f.invariant, "cancel-is-truthful");
    written_file_checks(&f);
}

#[test]
fn hunt_finds_the_manifest_clobber() {
    let f = found("manifest", "persist_check=etag-only", 2);
    assert!(["no-silent-overwrite", "generation-monotonic"].contains(&f.invariant.as_str()));
    written_file_checks(&f);
}

#[test]
fn hunt_finds_the_unlocked_reload() {
    let f = found("manifest", "watcher_reload=outside-mutex", 2);
    assert_eq!(f.invariant, "cache-never-regresses");
    written_file_checks(&f);
}

#[test]
fn hunt_finds_the_shared_debounce_timer() {
    let f = found("manifest", "debounce_timer=shared", 2);
    assert_eq!(f.invariant, "cache-catches-up");
    written_file_checks(&f);
}

#[test]
fn the_same_seed_finds_the_same_scenario() {
    let config = HuntConfig { cases: 16, ..HuntConfig::new("plan", "checkpoint_write=whole-plan") };
    let a = hunt::hunt(&config).unwrap();
    let b = hunt::hunt(&config).unwrap();
    match (a.outcome, b.outcome) {
        (Outcome::Found(a), Outcome::Found(b)) => assert_eq!(a.document, b.document),
        _ => panic!("both hunts find the race"),
    }
}

#[test]
fn a_variant_without_a_scope_searches_the_whole_system() {
    let spec = racecheck::systems::find("plan").unwrap().spec();
    let choices = hunt::parse_variant(spec, "safety_net=off").unwrap();
    let plan = hunt::plan("plan", &choices).unwrap();
    assert!(plan.scopes.is_empty());
    assert_eq!(plan.vocabulary.ops.len(), spec.ops.len());
    assert_eq!(plan.counterpart, BTreeMap::from([("safety_net".to_string(), "on".to_string())]));
    // A fixed choice picks its scope too; a buggy one wins over a fixed one.
    let plan = hunt::plan("plan", &hunt::parse_variant(spec, "reconcile_guard=rerun").unwrap()).unwrap();
    assert_eq!(plan.scopes.len(), 1);
    assert_eq!(plan.scopes[0].fixed, "rerun-preemptive");
    assert!(hunt::parse_variant(spec, "checkpoint_write=stale").unwrap_err().contains("valid: whole-plan"));
    assert!(hunt::plan("plans", &BTreeMap::new()).unwrap_err().contains("valid: plan"));
}

#[test]
fn the_command_writes_a_file_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("found.toml");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_racecheck"))
        .args(["hunt", "--system", "plan", "--variant", "checkpoint_write=whole-plan", "--cases", "16"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("wrote"), "{stdout}");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_racecheck")).arg("check").arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    // The same finding again leaves the file as it is; a file that holds
    // anything else is never overwritten (it was, silently).
    let hunt_into = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_racecheck"))
            .args(["hunt", "--system", "plan", "--variant", "checkpoint_write=whole-plan", "--cases", "16"])
            .arg("--out")
            .arg(path)
            .output()
            .unwrap()
    };
    let written = std::fs::read(&out).unwrap();
    assert_eq!(hunt_into(&out).status.code(), Some(0));
    assert_eq!(std::fs::read(&out).unwrap(), written);
    let other = dir.path().join("mine.toml");
    std::fs::write(&other, "# my notes\n").unwrap();
    let refused = hunt_into(&other);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds something else"));
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "# my notes\n");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_racecheck"))
        .args(["hunt", "--system", "plan", "--variant", "checkpoint_write=stale"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
