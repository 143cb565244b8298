//! What the test files share: the spec of their small model systems, and
//! the shipped event-loop scenarios.

use racecheck::runtime::Semantics;
use racecheck::scenario::{self, Scenario};
use racecheck::systems::{OpSpec, SystemSpec};
use std::path::PathBuf;

/// Every shipped scenario that runs on an event loop (the explorers that
/// reduce by turns search only those).
pub fn event_loop_scenarios() -> Vec<Scenario> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = scenario::discover(&[root]).unwrap();
    let all: Vec<Scenario> = files.iter().map(|f| scenario::load(f).unwrap()).collect();
    all.into_iter().filter(|s| s.model.semantics == Semantics::EventLoop).collect()
}

/// The spec of a test's model system: its operations, and no setup,
/// knobs, invariants or conditions.
pub const fn test_spec(name: &'static str, about: &'static str, ops: &'static [OpSpec]) -> SystemSpec {
    SystemSpec {
        name,
        origin: "a test",
        about,
        ops,
        setup: &[],
        knobs: &[],
        invariants: &[],
        conditions: &[],
        example: ("", ""),
    }
}
