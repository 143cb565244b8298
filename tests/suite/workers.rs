//! One stateful search on several workers (`--workers N`): a limit still
//! makes it `incomplete`, and it proves the seed race's fix over the states
//! one worker does. (`explorers_agree` compares one and four workers on
//! every shipped expectation: ends, verdicts, counterexamples.)

use crate::support::event_loop_scenarios;
use racecheck::explore::{Explorer, Limits, Replay, Verdict, explore};
use racecheck::scenario::Scenario;
use std::time::Duration;

const BACKSTOP: Duration = Duration::from_secs(600);

fn on(workers: usize) -> Limits {
    Limits { workers, ..Limits::time(BACKSTOP) }
}

fn seed_race_fix() -> (Scenario, usize) {
    let s = event_loop_scenarios().into_iter().find(|s| s.name == "plan/stale-checkpoint-overwrite").unwrap();
    let at = s.expectations.iter().position(|e| e.label() == "fields-only").unwrap();
    (s, at)
}

#[test]
fn limits_make_a_search_on_several_workers_incomplete() {
    let (s, at) = seed_race_fix();
    let variant = &s.expectations[at].variant;
    let cases = [
        (Limits { workers: 4, ..Limits::time(Duration::ZERO) }, "time limit"),
        (Limits { workers: 4, max_executions: Some(50), ..Limits::time(BACKSTOP) }, "execution limit of 50"),
        (Limits { workers: 4, max_states: Some(500), ..Limits::time(BACKSTOP) }, "state limit of 500"),
    ];
    for (limits, why) in cases {
        let report = explore(&s.model, variant, &Explorer::Stateful, &limits);
        match &report.verdict {
            Verdict::Incomplete { reason } => assert!(reason.starts_with(why), "{why}: {reason}"),
            other => panic!("{why}: a search cut short on 4 workers is {:?}", other.name()),
        }
        if limits.max_executions.is_some() {
            // Reserved one at a time across the workers: never one too many.
            assert_eq!(report.executions, 50);
        }
    }
}

#[test]
fn four_workers_prove_the_seed_races_fix_over_the_same_states() {
    let (s, at) = seed_race_fix();
    let variant = &s.expectations[at].variant;
    let one = explore(&s.model, variant, &Explorer::Stateful, &on(1));
    let four = explore(&s.model, variant, &Explorer::Stateful, &on(4));
    assert_eq!((one.verdict.name(), four.verdict.name()), ("proved", "proved"));
    let (a, b) = (one.states.unwrap(), four.states.unwrap());
    assert!(a.abs_diff(b) * 100 <= a, "{a} states on one worker, {b} on four");
}

/// A violation's replay names the execution that found it: on one worker
/// the last one run (the search stops there); on four, the same one, found
/// again by one worker after the four (whose executions the report adds).
#[test]
fn a_violation_names_the_execution_that_found_it() {
    let mut named = 0;
    for s in event_loop_scenarios() {
        for e in s.expectations.iter().filter(|e| e.expected != racecheck::scenario::Expected::Proved) {
            let case = format!("{} {}", s.name, e.label());
            let one = explore(&s.model, &e.variant, &Explorer::Stateful, &on(1));
            let four = explore(&s.model, &e.variant, &Explorer::Stateful, &on(4));
            let replay = |r: &racecheck::explore::Report| match &r.verdict {
                Verdict::Violation(f) => Some(f.replay.clone()),
                _ => None,
            };
            let Some(Replay::Stateful { execution }) = replay(&one) else { continue };
            assert_eq!(execution, one.executions, "{case}: the violating execution is the last one run");
            assert_eq!(replay(&four), Some(Replay::Stateful { execution }), "{case}");
            assert!(four.executions > execution, "{case}: {} executions on four workers", four.executions);
            named += usize::from(execution > 1);
        }
    }
    assert!(named >= 5, "only {named} violations were found after the first execution");
}

/// If the one worker that finds the workers' violation again runs out of
/// room, the workers' violation stands (it is real), and its replay says
/// its number came from several workers and cannot be replayed by number.
#[test]
fn a_violation_one_worker_cannot_find_again_in_time_stands_as_the_workers_found_it() {
    let s = event_loop_scenarios().into_iter().find(|s| s.name == "plan/stale-checkpoint-overwrite").unwrap();
    let e = s.expectations.iter().find(|e| e.label() == "whole-plan").unwrap();
    // The workers' first execution shows the race; none is left for one
    // worker to find it again.
    let limits = Limits { workers: 4, max_executions: Some(1), ..Limits::time(BACKSTOP) };
    let report = explore(&s.model, &e.variant, &Explorer::Stateful, &limits);
    let Verdict::Violation(f) = &report.verdict else { panic!("{:?}", report.verdict.name()) };
    assert_eq!(f.violation.invariant, "no-lost-job-update");
    assert_eq!(f.replay, Replay::StatefulWorkers { workers: 4, execution: 1 });
    assert!(racecheck::report::found_by(f).contains("of 4 workers (not reproducible by number)"));
    assert_eq!(report.executions, 1);
    // One worker with the same limit finds it itself, by number.
    let one = explore(&s.model, &e.variant, &Explorer::Stateful, &Limits { workers: 1, ..limits });
    let Verdict::Violation(f) = &one.verdict else { panic!("{:?}", one.verdict.name()) };
    assert_eq!(f.replay, Replay::Stateful { execution: 1 });
}
