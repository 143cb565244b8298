//! A proof that never reached its race window proves nothing: every shipped
//! scenario that expects a proof names a condition it must reach, the
//! search reports `vacuous` when no execution reached it, and `vacuous` (like
//! a sampler's `not-found`) never satisfies a `proved` expectation.

use racecheck::explore::{Explorer, Limits, Verdict, explore};
use racecheck::scenario::{self, Expected, load, parse};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[test]
fn every_scenario_that_expects_a_proof_names_a_condition_and_reaches_it() {
    let mut proofs = 0;
    for file in scenario::discover(&[root()]).unwrap() {
        let s = load(&file).unwrap();
        let proving = s.expectations.iter().any(|e| matches!(e.expected, Expected::Proved | Expected::NotFound));
        if !proving {
            continue;
        }
        assert!(!s.model.reachable.is_empty(), "{}: a proof with no `[check] reachable` condition", s.name);
        for e in s.expectations.iter().filter(|e| matches!(e.expected, Expected::Proved)) {
            let report = explore(&s.model, &e.variant, &scenario::explorer_for(&s.explore), &Limits::default());
            assert!(matches!(report.verdict, Verdict::Proved { .. }), "{} {}: {:?}", s.name, e.label(), report.verdict);
            proofs += 1;
        }
    }
    assert!(proofs >= 25, "only {proofs} proofs");
}

/// `double-resume-web-chat` with another condition: the conversation lock
/// serializes the two resumes, so no resume ever loses the CAS.
fn web_chat_with(condition: &str) -> racecheck::scenario::Scenario {
    let path = root().join("runs/double-resume-web-chat.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "reachable = [\"conversation-lock-contended\"]",
        &format!("reachable = [\"conversation-lock-contended\", \"{condition}\"]"),
    );
    parse(&path, &text).unwrap()
}

#[test]
fn a_proof_that_never_reaches_its_window_is_vacuous_for_every_explorer() {
    let s = web_chat_with("resume-cas-lost");
    let e = s.expectations.iter().find(|e| e.label() == "cas").unwrap();
    for explorer in [
        Explorer::Stateful,
        Explorer::Dpor,
        Explorer::Exhaustive { bound: None },
        Explorer::Pct { depth: 3, schedules: 200, seed: 1 },
        Explorer::Random { schedules: 200, seed: 1 },
    ] {
        let report = explore(&s.model, &e.variant, &explorer, &Limits::default());
        match &report.verdict {
            Verdict::Vacuous { unreached } => assert_eq!(unreached, &["resume-cas-lost".to_string()]),
            other => panic!("{}: {other:?}", explorer.describe()),
        }
        assert!(!scenario::satisfies(&e.expected, &report.verdict), "a vacuous proof must not hold");
    }
    // Each condition is judged on its own: the one the scenario names is reached.
    let s = web_chat_with("path-lock-found-a-holder");
    let report = explore(&s.model, &e.variant, &Explorer::Stateful, &Limits::default());
    assert!(matches!(&report.verdict, Verdict::Vacuous { unreached } if unreached == &["path-lock-found-a-holder"]));
}

#[test]
fn a_samplers_not_found_never_satisfies_a_proof() {
    assert!(!scenario::satisfies(&Expected::Proved, &Verdict::NotFound));
    assert!(scenario::satisfies(&Expected::NotFound, &Verdict::NotFound));
    assert!(scenario::satisfies(&Expected::Proved, &Verdict::Proved { bound: None }));
    assert!(!scenario::satisfies(&Expected::Proved, &Verdict::Incomplete { reason: "time".into() }));
}

#[test]
fn a_condition_no_monitor_knows_is_never_reached() {
    // The loader accepts only the system's conditions; a monitor that is
    // missing for one of them must read as unreached, not as reached.
    let mut s = web_chat_with("path-lock-found-a-holder");
    s.model.reachable = vec!["no-such-condition".into()];
    let e = s.expectations.iter().find(|e| e.label() == "cas").unwrap();
    let report = explore(&s.model, &e.variant, &Explorer::Stateful, &Limits::default());
    assert!(matches!(&report.verdict, Verdict::Vacuous { unreached } if unreached == &["no-such-condition"]));
}
