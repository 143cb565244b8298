//! The seed races of the plan system, beyond the scenario files' own
//! expectations: deeper bounds, and the sampling explorers over many seeds.
//! (The unbounded proof of #63's fix is the scenario file's own expectation,
//! by the dpor explorer.)

use racecheck::explore::{Explorer, Limits, Verdict, explore};
use racecheck::scenario::{Scenario, load};
use std::path::Path;

fn scenario(name: &str) -> Scenario {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/plan").join(format!("{name}.toml"))).unwrap()
}

fn variant_of(s: &Scenario, label: &str) -> racecheck::systems::Variant {
    s.expectations.iter().find(|e| e.label() == label).unwrap().variant.clone()
}

#[test]
fn stale_checkpoint_fixed_is_proved_at_bound_3() {
    let s = scenario("stale-checkpoint-overwrite");
    let report =
        explore(&s.model, &variant_of(&s, "fields-only"), &Explorer::Exhaustive { bound: Some(3) }, &Limits::default());
    assert!(matches!(report.verdict, Verdict::Proved { bound: Some(3) }), "{:?}", report.verdict.name());
    eprintln!("#63 fields-only, bound 3: {} executions in {:?}", report.executions, report.elapsed);
}

/// Schedules to the first failure for one sampling explorer over 20 seeds.
fn schedules_to_failure(s: &Scenario, label: &str, explorer: impl Fn(u64) -> Explorer, invariant: &str) -> Vec<usize> {
    let variant = variant_of(s, label);
    (1..=20)
        .map(|seed| {
            let report = explore(&s.model, &variant, &explorer(seed), &Limits::default());
            match &report.verdict {
                Verdict::Violation(f) => assert_eq!(f.violation.invariant, invariant),
                other => panic!("seed {seed}: {} not found within 1000 schedules ({})", label, other.name()),
            }
            report.executions
        })
        .collect()
}

#[test]
fn sampling_finds_both_buggy_seed_variants_on_20_seeds() {
    let cases = [
        ("stale-checkpoint-overwrite", "whole-plan", "no-lost-job-update"),
        ("dropped-reconcile-trigger", "drop", "every-trigger-seen"),
    ];
    for (name, label, invariant) in cases {
        let s = scenario(name);
        let random = schedules_to_failure(&s, label, |seed| Explorer::Random { schedules: 1000, seed }, invariant);
        for depth in [2, 3] {
            let pct = schedules_to_failure(&s, label, |seed| Explorer::Pct { depth, schedules: 1000, seed }, invariant);
            eprintln!("{name} {label}: pct depth {depth} schedules to failure {pct:?}");
        }
        eprintln!("{name} {label}: random schedules to failure {random:?}");
    }
}

#[test]
fn a_pct_counterexample_round_trips_through_its_printed_schedule() {
    let s = scenario("stale-checkpoint-overwrite");
    let variant = variant_of(&s, "whole-plan");
    let report = explore(&s.model, &variant, &Explorer::Pct { depth: 3, schedules: 1000, seed: 7 }, &Limits::default());
    let Verdict::Violation(failure) = report.verdict else { panic!("pct found nothing") };
    // The schedule as printed with the violation, parsed back.
    let parsed: racecheck::explore::StepSchedule = failure.schedule.to_string().parse().unwrap();
    assert_eq!(parsed, failure.schedule);
    let trace = |o: &racecheck::execution::Outcome| {
        o.events.iter().map(|e| format!("{} {} {:?}", e.task, e.func, e.effect)).collect::<Vec<_>>()
    };
    let first = racecheck::explore::replay(&s.model, &variant, &parsed).unwrap();
    let second = racecheck::explore::replay(&s.model, &variant, &parsed).unwrap();
    assert_eq!(first.violation, Some(failure.violation.clone()));
    assert_eq!(trace(&first), trace(&second));
}

#[test]
fn stress_runs_real_threads_on_a_real_directory() {
    // Smoke test only: the hit rate of real threads is not reliable.
    let s = scenario("stale-checkpoint-overwrite");
    let report = explore(&s.model, &variant_of(&s, "fields-only"), &Explorer::Stress { runs: 50 }, &Limits::default());
    assert!(matches!(report.verdict, Verdict::NotFound), "fields-only must never fail: {:?}", report.verdict.name());
    assert_eq!(report.executions, 50);
}
