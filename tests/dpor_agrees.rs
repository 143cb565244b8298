//! `dpor` is sound where it can be checked against loom. Every shipped
//! event-loop expectation is enumerated by both explorers, which run every
//! execution rather than stopping at a violation:
//! - where loom finishes unbounded within a short budget, dpor reaches
//!   exactly the same distinct ends (final state plus invariants broken);
//! - everywhere, dpor reaches every end loom reaches with preemption bound 2.

use racecheck::explore::{Explorer, Limits, outcomes};
use racecheck::runtime::Semantics;
use racecheck::scenario;
use std::path::PathBuf;
use std::time::Duration;

#[test]
fn dpor_reaches_every_end_loom_reaches() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let limit = |secs| Limits { max_time: Duration::from_secs(secs) };
    let (mut equal, mut covered, mut ends) = (0, 0, 0);
    for file in scenario::discover(&[root]).unwrap() {
        let s = scenario::load(&file).unwrap();
        if s.model.semantics != Semantics::EventLoop {
            continue;
        }
        for e in &s.expectations {
            let case = format!("{} {}", s.name, e.label());
            let (by_dpor, dpor_runs) = outcomes(&s.model, &e.variant, &Explorer::Dpor, &limit(120))
                .unwrap_or_else(|err| panic!("{case}: dpor did not finish: {err}"));
            let unbounded = outcomes(&s.model, &e.variant, &Explorer::Exhaustive { bound: None }, &limit(1));
            let (by_loom, loom_runs, how) = match unbounded {
                Ok((ends, runs)) => (ends, runs, "unbounded"),
                Err(_) => {
                    let (ends, runs) =
                        outcomes(&s.model, &e.variant, &Explorer::Exhaustive { bound: Some(2) }, &limit(60))
                            .unwrap_or_else(|err| panic!("{case}: loom did not finish bound 2: {err}"));
                    (ends, runs, "bound 2")
                }
            };
            let missed: Vec<_> = by_loom.difference(&by_dpor).collect();
            assert!(missed.is_empty(), "{case}: dpor missed ends loom ({how}) reached: {missed:#?}");
            if how == "unbounded" {
                let extra: Vec<_> = by_dpor.difference(&by_loom).collect();
                assert!(extra.is_empty(), "{case}: dpor reached ends loom (unbounded) did not: {extra:#?}");
                equal += 1;
            } else {
                covered += 1;
            }
            ends += by_dpor.len();
            eprintln!(
                "{case:<75} dpor {:>3} ends in {dpor_runs:>6} executions; loom {how:<9} {:>3} ends in {loom_runs:>6}",
                by_dpor.len(),
                by_loom.len()
            );
        }
    }
    eprintln!("{equal} cases equal to loom unbounded, {covered} covering loom bound 2; {ends} distinct ends");
    assert!(equal >= 25, "only {equal} cases compared with loom unbounded");
    assert!(equal + covered >= 55, "only {} cases compared", equal + covered);
    assert!(ends > 2 * (equal + covered), "few cases have more than one end: the comparison shows little");
}
