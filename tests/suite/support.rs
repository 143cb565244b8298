//! What the test files' small model systems share.

use racecheck::systems::{OpSpec, SystemSpec};

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
