//! Every shipped violation replays deterministically from its step schedule:
//! twice the identical trace, the same as the one the search found.

use racecheck::explore::{Limits, Verdict, replay};
use racecheck::report;
use racecheck::scenario::{self, Expected, check_expectation};
use std::path::PathBuf;

fn trace(events: &[racecheck::history::Event]) -> Vec<String> {
    events.iter().map(|e| format!("{} {} {} {:?}", e.step, e.task, e.func, e.effect)).collect()
}

#[test]
fn every_shipped_violation_replays_to_the_identical_trace() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut replayed = 0;
    for file in scenario::discover(&[root]).unwrap() {
        let s = scenario::load(&file).unwrap();
        for e in s.expectations.iter().filter(|e| matches!(e.expected, Expected::Violation { .. })) {
            let check = check_expectation(&s, e, &s.explore, &Limits::default());
            let Verdict::Violation(failure) = &check.report.verdict else {
                panic!("{} {}: expected a violation, got {}", s.name, e.label(), check.report.verdict.name())
            };
            let first = replay(&s.model, &e.variant, &failure.schedule)
                .unwrap_or_else(|err| panic!("{} {}: {err}", s.name, e.label()));
            let second = replay(&s.model, &e.variant, &failure.schedule).unwrap();
            assert_eq!(trace(&first.events), trace(&second.events), "{} {}: two replays differ", s.name, e.label());
            assert_eq!(
                trace(&first.events),
                trace(&failure.events),
                "{} {}: replay differs from the search",
                s.name,
                e.label()
            );
            assert_eq!(first.violation.as_ref(), Some(&failure.violation));
            // Its diagram is one Mermaid accepts, one lane per actor at most.
            let diagram = report::mermaid(failure);
            report::check_mermaid(&diagram).unwrap_or_else(|err| panic!("{} {}: {err}\n{diagram}", s.name, e.label()));
            // One lane per actor at most, and one for what the system does
            // once they are done (its quiescence task).
            let actors: Vec<String> = s.model.compiled.actors().iter().map(|(name, _)| name.clone()).collect();
            let own: Vec<&str> = diagram
                .lines()
                .filter_map(|l| l.trim().strip_prefix("participant ")?.split_once(" as ").map(|(_, name)| name))
                .filter(|name| !actors.iter().any(|a| a == name))
                .collect();
            let lanes = diagram.matches("    participant ").count();
            assert!(lanes <= actors.len() + 1 && own.len() <= 1, "{} {}: {lanes} lanes\n{diagram}", s.name, e.label());
            let rows = report::timeline(failure, "").lines().count().saturating_sub(5);
            eprintln!(
                "{:<55} {:<28} rows {:>3}  preemptions {} (found with {})",
                s.name,
                e.label(),
                rows,
                failure.preemptions,
                failure.preemptions_found
            );
            replayed += 1;
        }
    }
    assert!(replayed >= 20, "only {replayed} violations replayed");
}

#[test]
fn a_sampled_counterexample_is_shrunk_and_still_replays() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/runs/double-resume-web-cli.toml");
    let s = scenario::load(&file).unwrap();
    let e = s.expectations.iter().find(|e| e.label() == "unguarded").unwrap();
    let explorer = racecheck::explore::Explorer::Random { schedules: 1000, seed: 3 };
    let report = racecheck::explore::explore(&s.model, &e.variant, &explorer, &Limits::default());
    let Verdict::Violation(failure) = report.verdict else { panic!("random found nothing") };
    assert!(
        failure.preemptions < failure.preemptions_found,
        "{} !< {}",
        failure.preemptions,
        failure.preemptions_found
    );
    let replayed = replay(&s.model, &e.variant, &failure.schedule).unwrap();
    assert_eq!(replayed.violation.map(|v| v.invariant), Some("single-owner".to_string()));
    eprintln!(
        "double-resume-web-cli random seed 3: {} preemptions, shrunk from {}",
        failure.preemptions, failure.preemptions_found
    );
}

/// The grammar check fails on what Mermaid rejects.
#[test]
fn the_mermaid_check_rejects_what_mermaid_does() {
    let good = "sequenceDiagram\n    participant A0 as monitor\n    rect rgb(255, 215, 215)\n        Note over A0: 4. reads\n    end\n";
    assert_eq!(report::check_mermaid(good), Ok(()));
    let bad = [
        ("flowchart\n", "sequenceDiagram"),
        ("sequenceDiagram\n    Note over A0: x\n", "line 2"),
        ("sequenceDiagram\n    participant A0 as m\n    Note over A0: a; b\n", "line 3"),
        ("sequenceDiagram\n    participant A0 as m\n    Note over A0: issue #63\n", "line 3"),
        ("sequenceDiagram\n    participant A0 as m\n    rect rgb(1, 2, 3)\n", "never closed"),
        ("sequenceDiagram\n    participant A0 as m\n    end\n", "line 3"),
        ("sequenceDiagram\n    participant A0 as m\n    A0->>A1: x\n", "line 3"),
    ];
    for (text, says) in bad {
        let err = report::check_mermaid(text).expect_err(text);
        assert!(err.contains(says), "{text:?}: {err}");
    }
}
